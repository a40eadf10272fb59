/* bench_thread_churn — threads that live briefly and leave blocks behind,
 * as thread pools that grow and shrink or per-request threads do. It checks
 * the allocator's thread-exit path (flush, abandon) and that a later thread
 * can free or reuse what a dead one left, without memory growing.
 *
 *   bench_thread_churn WAVES THREADS ALLOCS KEEP SEED
 *   bench_thread_churn --smoke
 *
 * Each wave starts THREADS threads and joins them. Thread t of wave w first
 * frees the KEEP blocks left by thread t of wave w-1 (whose allocator state
 * died with it), then makes ALLOCS allocations of 16..2048 bytes, keeping a
 * rolling window of the last KEEP (older ones are freed at once), and exits
 * leaving that window to the next wave. The main thread frees the last
 * wave's blocks. ops counts mallocs and frees.
 *
 * mid_rss_kib is the resident set after half the waves and final_rss_kib
 * after the last wave, with the same number of live blocks: a growth between
 * the two means memory from dead threads is not being reused.
 */
#include <pthread.h>

#include "bench_common.h"

static const char usage[] = "bench_thread_churn WAVES THREADS ALLOCS KEEP SEED | --smoke";

#define MIN_SIZE 16
#define MAX_SIZE 2048

typedef struct {
    uint64_t **left; /* this thread's KEEP blocks, handed to the next wave */
    uint64_t seed;
    uint64_t ops;
} lineage;

static uint64_t allocs_per_thread, keep;

static void check_and_free(uint64_t *p)
{
    size_t size = (size_t)p[1];
    if (size < MIN_SIZE || size > MAX_SIZE || p[0] != bench_stamp(p, size))
        bench_fail("block %p left by a dead thread was corrupted", (void *)p);
    free(p);
}

static void *run_thread(void *arg)
{
    lineage *l = arg;
    uint64_t ops = 0;
    uint64_t **old = l->left; /* from the previous wave, may be NULL */
    if (old) {
        for (uint64_t i = 0; i < keep; i++)
            if (old[i]) {
                check_and_free(old[i]);
                ops++;
            }
        free(old);
        ops++;
    }
    uint64_t **win = calloc(keep, sizeof *win);
    BENCH_CHECK_ALLOC(win, keep * sizeof *win);
    ops++;
    uint64_t rng = l->seed;
    for (uint64_t i = 0; i < allocs_per_thread; i++) {
        uint64_t **slot = &win[i % keep];
        if (*slot) {
            check_and_free(*slot);
            ops++;
        }
        size_t size = (size_t)bench_range(&rng, MIN_SIZE, MAX_SIZE);
        uint64_t *p = malloc(size);
        BENCH_CHECK_ALLOC(p, size);
        p[0] = bench_stamp(p, size);
        p[1] = size;
        *slot = p;
        ops++;
    }
    l->left = win;
    l->ops += ops;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("thread_churn");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 6)
        bench_usage(usage);
    unsigned waves = smoke ? 20 : (unsigned)bench_arg(argc, argv, 1, 0, 1, 1u << 24, usage);
    unsigned nthreads = smoke ? 4 : (unsigned)bench_arg(argc, argv, 2, 0, 1, 1024, usage);
    allocs_per_thread = smoke ? 2000 : bench_arg(argc, argv, 3, 0, 1, UINT64_MAX / 4, usage);
    keep = smoke ? 200 : bench_arg(argc, argv, 4, 0, 1, 1u << 24, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 5, 0, 0, UINT64_MAX, usage);

    lineage *lin = calloc(nthreads, sizeof *lin);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(lin, nthreads * sizeof *lin);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);

    long mid_rss = -1;
    double t0 = bench_now();
    for (unsigned w = 0; w < waves; w++) {
        for (unsigned t = 0; t < nthreads; t++) {
            lin[t].seed = seed * 0x100000001B3ull + (uint64_t)w * nthreads + t + 1;
            int err = pthread_create(&tid[t], NULL, run_thread, &lin[t]);
            if (err)
                bench_fail("pthread_create: %s", strerror(err));
        }
        for (unsigned t = 0; t < nthreads; t++)
            pthread_join(tid[t], NULL);
        if (w + 1 == (waves + 1) / 2)
            mid_rss = bench_cur_rss_kib();
    }
    long final_rss = bench_cur_rss_kib();
    uint64_t ops = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        for (uint64_t i = 0; i < keep; i++)
            if (lin[t].left[i]) {
                check_and_free(lin[t].left[i]);
                ops++;
            }
        free(lin[t].left);
        ops += 1 + lin[t].ops;
    }
    double secs = bench_now() - t0;

    free(lin);
    free(tid);
    bench_report(ops, secs, final_rss,
                 "mid_rss_kib=%ld waves=%u threads=%u allocs=%" PRIu64 " keep=%" PRIu64
                 " seed=%" PRIu64 " threads_per_s=%.0f",
                 mid_rss, waves, nthreads, allocs_per_thread, keep, seed,
                 (double)waves * nthreads / secs);
    return 0;
}

/* bench_burst — bursts of one size per thread, freed mostly at once, with
 * some blocks of other threads freed too (issue 15's first pattern).
 *
 *   bench_burst THREADS BURSTS BLOCKS SEED [MIN MAX]
 *   bench_burst --smoke
 *
 * Each of THREADS threads runs BURSTS bursts. A burst draws one size,
 * log-uniform in MIN..MAX (default 8..4096: every power-of-two octave equally
 * likely), and mallocs BLOCKS/2..BLOCKS blocks of that size (uniform), each
 * marked with its size (bench_mark). Then, by the block's index i in the
 * burst:
 *   - i % 16 == 5: posted to the shared exchange, an array of XSLOTS slots:
 *     an atomic exchange puts it into a random slot and the block that comes
 *     out (usually another thread's, of another size) is checked and freed;
 *   - i % 8 == 7: survives the burst, freed at the end of the thread's next
 *     burst (so each burst's blocks are not all freed at once, and the
 *     spans they lie in are not all emptied);
 *   - every other block is checked and freed at once: those of the burst's
 *     first half in allocation order, then those of its second half in
 *     reverse order (last allocated first);
 * and the survivors of the previous burst are freed, in allocation order.
 * At the end each thread frees its survivors; the blocks left in the
 * exchange are freed by the main thread after the clock stops.
 *
 * The threads start together at a barrier and read the clock themselves
 * (as bench_random_mixed_mt): time is from the first start to the last end.
 * ops counts every malloc and free made by the threads (the exchange's final
 * drain, at most XSLOTS frees, is not timed and not counted). check is the
 * number of bytes requested, the same under every allocator.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

static const char usage[] = "bench_burst THREADS BURSTS BLOCKS SEED [MIN MAX] | --smoke";

#define XSLOTS 1024 /* slots of the shared exchange */

static _Atomic(void *) exchange[XSLOTS];
static size_t min_size, max_size;

typedef struct {
    pthread_barrier_t *start;
    uint64_t bursts, blocks, seed;
    uint64_t ops, bytes;
    double t_begin, t_end;
} worker;

static void check_free(void *p)
{
    if (bench_marked_size(p, min_size, max_size) == 0)
        bench_fail("block %p corrupted while live", p);
    free(p);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    uint64_t rng = w->seed, ops = 0, bytes = 0;
    void **cur = malloc(w->blocks * sizeof *cur);
    void **keep = malloc((w->blocks / 8 + 1) * sizeof *keep);
    void **prev = malloc((w->blocks / 8 + 1) * sizeof *prev);
    BENCH_CHECK_ALLOC(cur, w->blocks * sizeof *cur);
    BENCH_CHECK_ALLOC(keep, (w->blocks / 8 + 1) * sizeof *keep);
    BENCH_CHECK_ALLOC(prev, (w->blocks / 8 + 1) * sizeof *prev);
    size_t nprev = 0;

    pthread_barrier_wait(w->start);
    w->t_begin = bench_now();
    for (uint64_t b = 0; b < w->bursts; b++) {
        size_t size = bench_size_log(&rng, min_size, max_size);
        size_t n = (size_t)bench_range(&rng, w->blocks / 2, w->blocks);
        for (size_t i = 0; i < n; i++) {
            void *p = malloc(size);
            BENCH_CHECK_ALLOC(p, size);
            bench_mark(p, size);
            cur[i] = p;
        }
        ops += n;
        bytes += (uint64_t)n * size;

        size_t nkeep = 0, half = n / 2;
        for (size_t i = 0; i < n; i++) {
            if (i % 16 == 5) {
                size_t slot = (size_t)(bench_rand64(&rng) % XSLOTS);
                void *old = atomic_exchange_explicit(&exchange[slot], cur[i],
                                                     memory_order_acq_rel);
                if (old) {
                    check_free(old);
                    ops++;
                }
            } else if (i % 8 == 7) {
                keep[nkeep++] = cur[i];
            }
        }
        for (size_t i = 0; i < half; i++)
            if (i % 16 != 5 && i % 8 != 7) {
                check_free(cur[i]);
                ops++;
            }
        for (size_t i = n; i-- > half;)
            if (i % 16 != 5 && i % 8 != 7) {
                check_free(cur[i]);
                ops++;
            }
        for (size_t i = 0; i < nprev; i++)
            check_free(prev[i]);
        ops += nprev;

        void **t = prev;
        prev = keep;
        keep = t;
        nprev = nkeep;
    }
    for (size_t i = 0; i < nprev; i++)
        check_free(prev[i]);
    ops += nprev;
    w->t_end = bench_now();

    free(cur);
    free(keep);
    free(prev);
    w->ops = ops;
    w->bytes = bytes;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("burst");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 5 && argc != 7)
        bench_usage(usage);
    unsigned nthreads = smoke ? 4 : (unsigned)bench_arg(argc, argv, 1, 0, 1, 1024, usage);
    uint64_t bursts = smoke ? 20 : bench_arg(argc, argv, 2, 0, 1, UINT64_MAX / 2, usage);
    uint64_t blocks = smoke ? 2000 : bench_arg(argc, argv, 3, 0, 2, 1u << 24, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 4, 0, 0, UINT64_MAX / 2, usage);
    min_size = (size_t)bench_arg(argc, argv, 5, 8, 8, (size_t)1 << 30, usage);
    max_size = (size_t)bench_arg(argc, argv, 6, 4096, min_size, (size_t)1 << 30, usage);

    worker *w = calloc(nthreads, sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);

    for (unsigned t = 0; t < nthreads; t++) {
        w[t] = (worker){.start = &start, .bursts = bursts, .blocks = blocks,
                        .seed = seed * 0x100000001B3ull + t + 1};
        int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    uint64_t ops = 0, bytes = 0;
    double t0 = 0, t1 = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        t0 = (t == 0 || w[t].t_begin < t0) ? w[t].t_begin : t0;
        t1 = w[t].t_end > t1 ? w[t].t_end : t1;
        ops += w[t].ops;
        bytes += w[t].bytes;
    }
    double secs = t1 - t0;
    for (size_t i = 0; i < XSLOTS; i++) {
        void *p = atomic_load(&exchange[i]);
        if (p)
            check_free(p);
    }
    pthread_barrier_destroy(&start);
    free(w);
    free(tid);
    bench_report(ops, secs, -1,
                 "threads=%u bursts=%" PRIu64 " blocks=%" PRIu64 " seed=%" PRIu64
                 " min=%zu max=%zu check=%" PRIu64,
                 nthreads, bursts, blocks, seed, min_size, max_size, bytes);
    return 0;
}

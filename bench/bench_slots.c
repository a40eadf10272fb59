/* bench_slots — objects passed between threads through shared slots, with
 * more threads than cores (issue 15's second pattern).
 *
 *   bench_slots THREADS SLOTS STEPS SEED [MIN MAX [CPUS]]
 *   bench_slots --smoke
 *
 * A shared array of SLOTS slots, filled by the main thread before the clock
 * starts. THREADS threads each take STEPS steps; a step mallocs a block of
 * MIN..MAX bytes (uniform; default 8..1024), marks it with its size
 * (bench_mark), swaps it into a random slot with an atomic exchange, checks
 * the block that came out (with THREADS threads, that of another thread
 * (THREADS-1)/THREADS of the time) and frees it. The threads live for the
 * whole run (bench_larson replaces them every epoch).
 *
 * CPUS > 0 restricts the process to the first CPUS of the CPUs it may run
 * on (sched_setaffinity) before the threads start, so that "THREADS threads
 * on 2 cores" means the same on a larger machine; 0 (the default) leaves the
 * affinity alone.
 *
 * The threads start together at a barrier and read the clock themselves
 * (as bench_random_mixed_mt); time is from the first start to the last end.
 * ops = 2 x STEPS x THREADS (the untimed fill and final drain are SLOTS
 * mallocs and frees more). check is the number of bytes requested by the
 * steps, the same under every allocator.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"

static const char usage[] = "bench_slots THREADS SLOTS STEPS SEED [MIN MAX [CPUS]] | --smoke";

static _Atomic(void *) *slots;
static size_t nslots, min_size, max_size;

typedef struct {
    pthread_barrier_t *start;
    uint64_t steps, seed, bytes;
    double t_begin, t_end;
} worker;

static void *new_block(uint64_t *rng, uint64_t *bytes)
{
    size_t size = (size_t)bench_range(rng, min_size, max_size);
    void *p = malloc(size);
    BENCH_CHECK_ALLOC(p, size);
    bench_mark(p, size);
    *bytes += size;
    return p;
}

static void check_free(void *p)
{
    if (bench_marked_size(p, min_size, max_size) == 0)
        bench_fail("block %p corrupted while in a slot", p);
    free(p);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    uint64_t rng = w->seed, bytes = 0;
    pthread_barrier_wait(w->start);
    w->t_begin = bench_now();
    for (uint64_t i = 0; i < w->steps; i++) {
        void *p = new_block(&rng, &bytes);
        size_t idx = (size_t)(bench_rand64(&rng) % nslots);
        check_free(atomic_exchange_explicit(&slots[idx], p, memory_order_acq_rel));
    }
    w->t_end = bench_now();
    w->bytes = bytes;
    return NULL;
}

/* Keep the first `want` CPUs of the process's affinity mask. */
static void limit_cpus(unsigned want)
{
    cpu_set_t have, use;
    if (sched_getaffinity(0, sizeof have, &have) != 0)
        bench_fail("sched_getaffinity: %s", strerror(errno));
    CPU_ZERO(&use);
    unsigned n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < want; c++)
        if (CPU_ISSET(c, &have)) {
            CPU_SET(c, &use);
            n++;
        }
    if (sched_setaffinity(0, sizeof use, &use) != 0)
        bench_fail("sched_setaffinity: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    bench_set_name("slots");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 5 && argc != 7 && argc != 8)
        bench_usage(usage);
    unsigned nthreads = smoke ? 8 : (unsigned)bench_arg(argc, argv, 1, 0, 1, 1024, usage);
    nslots = smoke ? 1000 : (size_t)bench_arg(argc, argv, 2, 0, 1, 1u << 28, usage);
    uint64_t steps = smoke ? 5000 : bench_arg(argc, argv, 3, 0, 1, UINT64_MAX / 4, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 4, 0, 0, UINT64_MAX / 2, usage);
    min_size = (size_t)bench_arg(argc, argv, 5, 8, 8, (size_t)1 << 30, usage);
    max_size = (size_t)bench_arg(argc, argv, 6, 1024, min_size, (size_t)1 << 30, usage);
    unsigned cpus = (unsigned)bench_arg(argc, argv, 7, 0, 0, CPU_SETSIZE, usage);
    if (cpus)
        limit_cpus(cpus);

    slots = calloc(nslots, sizeof *slots);
    worker *w = calloc(nthreads, sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(slots, nslots * sizeof *slots);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    uint64_t rng = seed, fill_bytes = 0;
    for (size_t i = 0; i < nslots; i++)
        atomic_init(&slots[i], new_block(&rng, &fill_bytes));

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);
    for (unsigned t = 0; t < nthreads; t++) {
        w[t] = (worker){.start = &start, .steps = steps,
                        .seed = seed * 0x100000001B3ull + t + 1};
        int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    uint64_t bytes = 0;
    double t0 = 0, t1 = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        t0 = (t == 0 || w[t].t_begin < t0) ? w[t].t_begin : t0;
        t1 = w[t].t_end > t1 ? w[t].t_end : t1;
        bytes += w[t].bytes;
    }
    double secs = t1 - t0;
    for (size_t i = 0; i < nslots; i++)
        check_free(atomic_load(&slots[i]));

    pthread_barrier_destroy(&start);
    free(slots);
    free(w);
    free(tid);
    bench_report(2 * steps * nthreads, secs, -1,
                 "threads=%u slots=%zu steps=%" PRIu64 " seed=%" PRIu64
                 " min=%zu max=%zu cpus=%u check=%" PRIu64,
                 nthreads, nslots, steps, seed, min_size, max_size, cpus, bytes);
    return 0;
}

/* bench_random_mixed_mt — the Mixed workload on THREADS threads at once
 * (multi-thread scaling, issue 4 item 11).
 *
 *   bench_random_mixed_mt ITERS WS SEED THREADS [MIN MAX]
 *   bench_random_mixed_mt --smoke
 *
 * Each thread runs the single-thread benchmark's workload on its own WS
 * slots: ITERS ops per thread (so the total work grows with THREADS), seed
 * SEED + thread index (thread 0 replays bench_random_mixed exactly). Blocks
 * never cross threads; this measures how the allocator scales, not how it
 * handles remote frees (bench_larson and bench_prodcons do that).
 *
 * Every thread does its untimed prefault pass, then all start together at a
 * barrier; the time is from the first thread's start to the last thread's
 * end of drain (before the threads exit). Each thread reads the clock itself:
 * with more threads than cores, a main thread timing the barriers would be
 * woken late, after the work it is meant to time. ops_per_s is the aggregate
 * over all threads.
 */
#include <pthread.h>

#include "mixed_workload.h"

static const char usage[] =
    "bench_random_mixed_mt ITERS WS SEED THREADS [MIN MAX] | --smoke";

typedef struct {
    pthread_barrier_t *start;
    uint64_t iters, seed;
    uint32_t ws;
    size_t min, max;
    mixed_count warm, timed;
    double t_begin, t_end;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    void **slots = calloc(w->ws, sizeof *slots);
    BENCH_CHECK_ALLOC(slots, w->ws * sizeof *slots);

    uint32_t rng = mixed_prefault_seed(w->seed);
    mixed_run(slots, w->ws, w->iters / 10, &rng, w->min, w->max, &w->warm);
    mixed_drain(slots, w->ws, &w->warm);

    rng = bench_seed32(w->seed);
    pthread_barrier_wait(w->start);
    w->t_begin = bench_now();
    mixed_run(slots, w->ws, w->iters, &rng, w->min, w->max, &w->timed);
    mixed_drain(slots, w->ws, &w->timed);
    w->t_end = bench_now();

    free(slots);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("random_mixed_mt");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 5 && argc != 7)
        bench_usage(usage);
    uint64_t iters = smoke ? 100000 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 2, usage);
    uint32_t ws = smoke ? 400 : (uint32_t)bench_arg(argc, argv, 2, 0, 1, 1u << 28, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX / 2, usage);
    unsigned nthreads = smoke ? 4 : (unsigned)bench_arg(argc, argv, 4, 0, 1, 1024, usage);
    size_t min = (size_t)bench_arg(argc, argv, 5, 16, 1, (size_t)1 << 40, usage);
    size_t max = (size_t)bench_arg(argc, argv, 6, 16 + 0x3FF, min, (size_t)1 << 40, usage);

    worker *w = calloc(nthreads, sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);

    for (unsigned t = 0; t < nthreads; t++) {
        w[t] = (worker){.start = &start, .iters = iters,
                        .seed = seed + t, .ws = ws, .min = min, .max = max};
        int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    uint64_t ops = 0, total = 0, mallocs = 0;
    double t0 = 0, t1 = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        t0 = (t == 0 || w[t].t_begin < t0) ? w[t].t_begin : t0;
        t1 = w[t].t_end > t1 ? w[t].t_end : t1;
        ops += w[t].timed.ops;
        total += w[t].warm.ops + w[t].timed.ops;
        mallocs += w[t].timed.mallocs;
    }
    double secs = t1 - t0;
    pthread_barrier_destroy(&start);
    free(w);
    free(tid);
    bench_report(ops, secs, -1,
                 "iters=%" PRIu64 " ws=%u seed=%" PRIu64 " threads=%u min=%zu max=%zu"
                 " total_ops=%" PRIu64 " check=%" PRIu64,
                 iters, ws, seed, nthreads, min, max, total, mallocs);
    return 0;
}

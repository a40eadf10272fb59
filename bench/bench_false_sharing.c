/* bench_false_sharing — does the allocator put small objects used by
 * different threads on the same cache line? Two modes, after the classic
 * active/passive false-sharing tests:
 *
 *   bench_false_sharing thrash|scratch THREADS ITERS OBJSIZE WRITES
 *   bench_false_sharing --smoke [thrash|scratch]
 *
 * thrash  (active): each thread repeatedly mallocs an OBJSIZE object, writes
 *         every byte of it WRITES times, checks it and frees it. Objects
 *         handed to different threads at the same time should never share a
 *         line.
 * scratch (passive): the main thread mallocs one OBJSIZE object per thread,
 *         back to back, and hands them out; each thread writes its object,
 *         frees it, then loops as in thrash. An allocator that gives the
 *         freed (shared-line) object back to the thread that freed it keeps
 *         the threads fighting over one line.
 *
 * Writes go through a volatile pointer so they really reach memory. A slow
 * result (relative to other allocators) is the signal; ops counts
 * malloc+write+free iterations over all threads.
 */
#include <pthread.h>

#include "bench_common.h"

static const char usage[] =
    "bench_false_sharing thrash|scratch THREADS ITERS OBJSIZE WRITES | --smoke [thrash|scratch]";

typedef struct {
    pthread_barrier_t *start;
    unsigned char *given; /* scratch mode: the object handed out by main */
    uint64_t iters;
    size_t objsize;
    uint64_t writes;
    double t_begin, t_end; /* own clock: see bench_random_mixed_mt.c */
} worker;

/* Writes every byte `writes` times, then verifies the last pass. */
static void hammer(unsigned char *obj, size_t objsize, uint64_t writes)
{
    volatile unsigned char *v = obj;
    for (uint64_t w = 0; w < writes; w++)
        for (size_t k = 0; k < objsize; k++)
            v[k] = (unsigned char)(w + k);
    for (size_t k = 0; k < objsize; k++)
        if (v[k] != (unsigned char)(writes - 1 + k))
            bench_fail("object %p byte %zu overwritten by another thread", (void *)obj, k);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    w->t_begin = bench_now();
    if (w->given) {
        hammer(w->given, w->objsize, w->writes);
        free(w->given);
    }
    for (uint64_t i = 0; i < w->iters; i++) {
        unsigned char *p = malloc(w->objsize);
        BENCH_CHECK_ALLOC(p, w->objsize);
        hammer(p, w->objsize, w->writes);
        free(p);
    }
    w->t_end = bench_now();
    return NULL;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    const char *mode = smoke ? (argc >= 3 ? argv[2] : "scratch") : (argc >= 2 ? argv[1] : "");
    int scratch = strcmp(mode, "scratch") == 0;
    if (!scratch && strcmp(mode, "thrash") != 0)
        bench_usage(usage);
    bench_set_name(scratch ? "false_sharing_scratch" : "false_sharing_thrash");
    if (!smoke && argc != 6)
        bench_usage(usage);
    unsigned nthreads = smoke ? 2 : (unsigned)bench_arg(argc, argv, 2, 0, 1, 1024, usage);
    uint64_t iters = smoke ? 2000 : bench_arg(argc, argv, 3, 0, 1, UINT64_MAX / 4, usage);
    size_t objsize = smoke ? 8 : (size_t)bench_arg(argc, argv, 4, 0, 1, 1u << 20, usage);
    uint64_t writes = smoke ? 50 : bench_arg(argc, argv, 5, 0, 1, 1ull << 32, usage);

    worker *w = calloc(nthreads, sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads + 1);
    for (unsigned t = 0; t < nthreads; t++) {
        w[t] = (worker){.start = &start, .iters = iters, .objsize = objsize, .writes = writes};
        if (scratch) {
            w[t].given = malloc(objsize);
            BENCH_CHECK_ALLOC(w[t].given, objsize);
        }
    }
    for (unsigned t = 0; t < nthreads; t++) {
        int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    pthread_barrier_wait(&start);
    double t0 = 0, t1 = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        t0 = (t == 0 || w[t].t_begin < t0) ? w[t].t_begin : t0;
        t1 = w[t].t_end > t1 ? w[t].t_end : t1;
    }
    double secs = t1 - t0;

    pthread_barrier_destroy(&start);
    free(w);
    free(tid);
    bench_report(iters * nthreads, secs, -1,
                 "mode=%s threads=%u iters=%" PRIu64 " objsize=%zu writes=%" PRIu64,
                 mode, nthreads, iters, objsize, writes);
    return 0;
}

/* bench_handoff — threads allocate blocks of up to 16 KiB, keep most for a
 * while and hand a share to the next thread to free (issue 15's third
 * pattern).
 *
 *   bench_handoff THREADS OPS SHARE SEED [MIN MAX]
 *   bench_handoff --smoke
 *
 * THREADS threads (at least 2) in a ring: thread t hands blocks to thread
 * t+1 (mod THREADS) through a bounded single-producer single-consumer queue
 * of QCAP blocks. Each thread makes OPS allocations of MIN..MAX bytes,
 * log-uniform (default 16..16384: every power-of-two octave equally likely),
 * each marked with its size (bench_mark). SHARE percent of them (drawn at
 * random) are handed on; the others replace a random block of the thread's
 * own working set of LOCAL blocks, which is checked and freed by the thread
 * that allocated it. Before each allocation the thread frees every block
 * waiting in its incoming queue, after checking it; when its outgoing queue
 * is full it keeps freeing its incoming ones, and yields, until there is
 * room. After its OPS allocations a thread frees the blocks still coming to
 * it (until its predecessor is done) and its working set.
 *
 * The threads start together at a barrier and read the clock themselves
 * (as bench_random_mixed_mt); time is from the first start to the last end.
 * ops counts every malloc and free (2 x OPS x THREADS). check is the number
 * of bytes requested and the number handed on, the same under every
 * allocator.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

static const char usage[] = "bench_handoff THREADS OPS SHARE SEED [MIN MAX] | --smoke";

#define QCAP 1024 /* blocks in flight per queue; a power of two */
#define LOCAL 256 /* blocks in a thread's own working set */

typedef struct worker {
    /* The queue into this thread: written by its predecessor (head, slots,
     * done) and by this thread (tail). */
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Atomic int done; /* the predecessor has sent everything */
    _Alignas(64) void *slot[QCAP];
    /* This thread's own. */
    struct worker *next;
    pthread_barrier_t *start;
    uint64_t ops, share, seed;
    uint64_t bytes, handed;
    double t_begin, t_end;
} worker;

static size_t min_size, max_size;

static void check_free(void *p)
{
    if (bench_marked_size(p, min_size, max_size) == 0)
        bench_fail("block %p corrupted while live", p);
    free(p);
}

/* Frees every block waiting in w's incoming queue; returns how many. */
static uint64_t drain_in(worker *w)
{
    uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);
    if (head == tail)
        return 0;
    for (uint64_t i = tail; i < head; i++)
        check_free(w->slot[i % QCAP]);
    atomic_store_explicit(&w->tail, head, memory_order_release);
    return head - tail;
}

static void *run_worker(void *arg)
{
    worker *w = arg, *to = w->next;
    uint64_t rng = w->seed, bytes = 0, handed = 0;
    void *local[LOCAL] = {0};

    pthread_barrier_wait(w->start);
    w->t_begin = bench_now();
    uint64_t out = 0; /* = to->head; only this thread writes it */
    for (uint64_t i = 0; i < w->ops; i++) {
        drain_in(w);
        size_t size = bench_size_log(&rng, min_size, max_size);
        void *p = malloc(size);
        BENCH_CHECK_ALLOC(p, size);
        bench_mark(p, size);
        bytes += size;
        if (bench_range(&rng, 1, 100) <= w->share) {
            unsigned spins = 0;
            while (out - atomic_load_explicit(&to->tail, memory_order_acquire) == QCAP)
                if (drain_in(w) == 0)
                    bench_backoff(&spins);
            to->slot[out % QCAP] = p;
            atomic_store_explicit(&to->head, ++out, memory_order_release);
            handed++;
        } else {
            size_t k = (size_t)(bench_rand64(&rng) % LOCAL);
            if (local[k])
                check_free(local[k]);
            local[k] = p;
        }
    }
    atomic_store_explicit(&to->done, 1, memory_order_release);
    unsigned spins = 0;
    while (!atomic_load_explicit(&w->done, memory_order_acquire))
        if (drain_in(w) == 0)
            bench_backoff(&spins);
    drain_in(w); /* what was sent before done was set */
    for (size_t k = 0; k < LOCAL; k++)
        if (local[k])
            check_free(local[k]);
    w->t_end = bench_now();
    w->bytes = bytes;
    w->handed = handed;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("handoff");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 5 && argc != 7)
        bench_usage(usage);
    unsigned nthreads = smoke ? 4 : (unsigned)bench_arg(argc, argv, 1, 0, 2, 1024, usage);
    uint64_t ops = smoke ? 20000 : bench_arg(argc, argv, 2, 0, 1, UINT64_MAX / 4, usage);
    uint64_t share = smoke ? 25 : bench_arg(argc, argv, 3, 0, 0, 100, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 4, 0, 0, UINT64_MAX / 2, usage);
    min_size = (size_t)bench_arg(argc, argv, 5, 16, 8, (size_t)1 << 30, usage);
    max_size = (size_t)bench_arg(argc, argv, 6, 16384, min_size, (size_t)1 << 30, usage);

    worker *w = aligned_alloc(64, nthreads * sizeof *w);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);
    for (unsigned t = 0; t < nthreads; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].next = &w[(t + 1) % nthreads];
        w[t].start = &start;
        w[t].ops = ops;
        w[t].share = share;
        w[t].seed = seed * 0x100000001B3ull + t + 1;
    }
    for (unsigned t = 0; t < nthreads; t++) {
        int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    uint64_t bytes = 0, handed = 0;
    double t0 = 0, t1 = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
        t0 = (t == 0 || w[t].t_begin < t0) ? w[t].t_begin : t0;
        t1 = w[t].t_end > t1 ? w[t].t_end : t1;
        bytes += w[t].bytes;
        handed += w[t].handed;
    }
    double secs = t1 - t0;
    pthread_barrier_destroy(&start);
    free(w);
    free(tid);
    bench_report(2 * ops * nthreads, secs, -1,
                 "threads=%u ops_per_thread=%" PRIu64 " share=%" PRIu64 " seed=%" PRIu64
                 " min=%zu max=%zu handed=%" PRIu64 " check=%" PRIu64,
                 nthreads, ops, share, seed, min_size, max_size, handed, bytes);
    return 0;
}

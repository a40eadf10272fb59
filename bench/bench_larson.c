/* bench_larson — a server simulation in the spirit of Larson & Krishnan's
 * benchmark: worker threads keep replacing random blocks of one shared pool,
 * so most blocks are freed by a different thread than the one that
 * allocated them, and the workers are replaced by fresh threads every epoch
 * (as connection handlers come and go), leaving their blocks to strangers.
 *
 *   bench_larson THREADS SLOTS OPS EPOCHS SEED [MIN MAX]
 *   bench_larson --smoke
 *
 * The pool has SLOTS blocks, filled by the main thread before the clock
 * starts. Each epoch starts THREADS threads; each does OPS replacements
 * (malloc a block of MIN..MAX bytes, stamp it, swap it into a random slot
 * with an atomic exchange, check the stamp of the block that came out, free
 * it) and exits; the epoch ends when all have been joined. The final freeing
 * of the pool is timed too. ops counts mallocs and frees (2 per replacement).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

static const char usage[] = "bench_larson THREADS SLOTS OPS EPOCHS SEED [MIN MAX] | --smoke";

/* Stamp layout in each block: word 0 = stamp(address, size), word 1 = size,
 * last byte = low byte of size. */
#define MIN_BLOCK 16

static _Atomic(uint64_t *) *pool;
static size_t nslots, min_size, max_size;
static uint64_t ops_per_thread;

static uint64_t *new_block(uint64_t *rng)
{
    size_t size = (size_t)bench_range(rng, min_size, max_size);
    uint64_t *p = malloc(size);
    BENCH_CHECK_ALLOC(p, size);
    p[0] = bench_stamp(p, size);
    p[1] = size;
    if (size > 2 * sizeof(uint64_t)) /* else the last byte is inside word 1 */
        ((unsigned char *)p)[size - 1] = (unsigned char)size;
    return p;
}

static void check_and_free(uint64_t *p)
{
    size_t size = (size_t)p[1];
    if (size < min_size || size > max_size || p[0] != bench_stamp(p, size) ||
        (size > 2 * sizeof(uint64_t) &&
         ((unsigned char *)p)[size - 1] != (unsigned char)size))
        bench_fail("block %p corrupted while in the pool", (void *)p);
    free(p);
}

typedef struct {
    uint64_t seed;
} worker;

static void *run_worker(void *arg)
{
    uint64_t rng = ((worker *)arg)->seed;
    for (uint64_t i = 0; i < ops_per_thread; i++) {
        uint64_t *p = new_block(&rng);
        size_t idx = (size_t)(bench_rand64(&rng) % nslots);
        uint64_t *old = atomic_exchange_explicit(&pool[idx], p, memory_order_acq_rel);
        check_and_free(old);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("larson");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 6 && argc != 8)
        bench_usage(usage);
    unsigned nthreads = smoke ? 4 : (unsigned)bench_arg(argc, argv, 1, 0, 1, 1024, usage);
    nslots = smoke ? 2000 : (size_t)bench_arg(argc, argv, 2, 0, 1, 1u << 28, usage);
    ops_per_thread = smoke ? 5000 : bench_arg(argc, argv, 3, 0, 1, UINT64_MAX / 4, usage);
    unsigned epochs = smoke ? 4 : (unsigned)bench_arg(argc, argv, 4, 0, 1, 1u << 20, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 5, 0, 0, UINT64_MAX, usage);
    min_size = (size_t)bench_arg(argc, argv, 6, 16, MIN_BLOCK, (size_t)1 << 30, usage);
    max_size = (size_t)bench_arg(argc, argv, 7, 512, min_size, (size_t)1 << 30, usage);

    pool = calloc(nslots, sizeof *pool);
    pthread_t *tid = calloc(nthreads, sizeof *tid);
    worker *w = calloc(nthreads, sizeof *w);
    BENCH_CHECK_ALLOC(pool, nslots * sizeof *pool);
    BENCH_CHECK_ALLOC(tid, nthreads * sizeof *tid);
    BENCH_CHECK_ALLOC(w, nthreads * sizeof *w);
    uint64_t rng = seed;
    for (size_t i = 0; i < nslots; i++)
        atomic_init(&pool[i], new_block(&rng));

    double t0 = bench_now();
    for (unsigned e = 0; e < epochs; e++) {
        for (unsigned t = 0; t < nthreads; t++) {
            /* Each (epoch, thread) pair gets its own deterministic stream. */
            w[t].seed = seed * 0x100000001B3ull + (uint64_t)e * nthreads + t + 1;
            int err = pthread_create(&tid[t], NULL, run_worker, &w[t]);
            if (err)
                bench_fail("pthread_create: %s", strerror(err));
        }
        for (unsigned t = 0; t < nthreads; t++)
            pthread_join(tid[t], NULL);
    }
    for (size_t i = 0; i < nslots; i++)
        check_and_free(atomic_load(&pool[i]));
    double secs = bench_now() - t0;

    uint64_t ops = 2 * ops_per_thread * nthreads * epochs + nslots;
    free(w);
    free(tid);
    free(pool);
    bench_report(ops, secs, -1,
                 "threads=%u slots=%zu ops_per_thread=%" PRIu64 " epochs=%u seed=%" PRIu64
                 " min=%zu max=%zu",
                 nthreads, nslots, ops_per_thread, epochs, seed, min_size, max_size);
    return 0;
}

/* bench_prodcons — producer -> consumer handoff: every block is allocated on
 * one thread and freed on another, the pattern of message queues and
 * pipelines, and the hardest case for per-thread caches.
 *
 *   bench_prodcons ITEMS BATCH PAIRS SEED [MIN MAX]
 *   bench_prodcons --smoke          (batch 16)
 *
 * PAIRS producer/consumer pairs, each joined by a bounded single-producer
 * single-consumer ring. A producer mallocs ITEMS blocks of MIN..MAX bytes and
 * stamps each; with BATCH = 1 it passes them one at a time, with BATCH > 1
 * it links BATCH blocks into a chain and passes the chain as one message.
 * The consumer checks every stamp and frees the block. ops counts mallocs and
 * frees (2 per item, all pairs).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_common.h"

static const char usage[] = "bench_prodcons ITEMS BATCH PAIRS SEED [MIN MAX] | --smoke";

/* Block layout: word 0 = next block of the batch, word 1 = stamp, word 2 = size. */
#define MIN_BLOCK 24
#define RING_SIZE 256 /* messages in flight per pair; a power of two */

typedef struct {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    _Alignas(64) uint64_t *slot[RING_SIZE];
    uint64_t items, batch, seed;
    size_t min, max;
    uint64_t checked;
} channel;

/* Spin briefly, then yield: on a machine with fewer cores than threads the
 * other side can only make progress if we give up the CPU. */
static void backoff(unsigned *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else
        sched_yield();
}

static void *producer(void *arg)
{
    channel *c = arg;
    uint64_t rng = c->seed;
    uint64_t sent = 0, head = 0;
    while (sent < c->items) {
        uint64_t n = c->items - sent < c->batch ? c->items - sent : c->batch;
        uint64_t *chain = NULL;
        for (uint64_t i = 0; i < n; i++) {
            size_t size = (size_t)bench_range(&rng, c->min, c->max);
            uint64_t *p = malloc(size);
            BENCH_CHECK_ALLOC(p, size);
            p[0] = (uint64_t)(uintptr_t)chain;
            p[1] = bench_stamp(p, size);
            p[2] = size;
            chain = p;
        }
        unsigned spins = 0;
        while (head - atomic_load_explicit(&c->tail, memory_order_acquire) == RING_SIZE)
            backoff(&spins);
        c->slot[head % RING_SIZE] = chain;
        atomic_store_explicit(&c->head, ++head, memory_order_release);
        sent += n;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    channel *c = arg;
    uint64_t got = 0, tail = 0;
    while (got < c->items) {
        unsigned spins = 0;
        while (atomic_load_explicit(&c->head, memory_order_acquire) == tail)
            backoff(&spins);
        uint64_t *p = c->slot[tail % RING_SIZE];
        atomic_store_explicit(&c->tail, ++tail, memory_order_release);
        while (p) {
            uint64_t *next = (uint64_t *)(uintptr_t)p[0];
            size_t size = (size_t)p[2];
            if (size < c->min || size > c->max || p[1] != bench_stamp(p, size))
                bench_fail("block %p corrupted in transit", (void *)p);
            free(p);
            got++;
            p = next;
        }
    }
    c->checked = got;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_set_name("prodcons");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 5 && argc != 7)
        bench_usage(usage);
    uint64_t items = smoke ? 50000 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 4, usage);
    uint64_t batch = smoke ? 16 : bench_arg(argc, argv, 2, 0, 1, 1u << 20, usage);
    unsigned pairs = smoke ? 1 : (unsigned)bench_arg(argc, argv, 3, 0, 1, 512, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 4, 0, 0, UINT64_MAX, usage);
    size_t min = (size_t)bench_arg(argc, argv, 5, 32, MIN_BLOCK, (size_t)1 << 30, usage);
    size_t max = (size_t)bench_arg(argc, argv, 6, 1024, min, (size_t)1 << 30, usage);

    channel *ch = aligned_alloc(64, pairs * sizeof *ch);
    pthread_t *tid = calloc(2 * (size_t)pairs, sizeof *tid);
    BENCH_CHECK_ALLOC(ch, pairs * sizeof *ch);
    BENCH_CHECK_ALLOC(tid, 2 * (size_t)pairs * sizeof *tid);

    double t0 = bench_now();
    for (unsigned i = 0; i < pairs; i++) {
        memset(&ch[i], 0, sizeof ch[i]);
        ch[i].items = items;
        ch[i].batch = batch;
        ch[i].seed = seed * 0x100000001B3ull + i;
        ch[i].min = min;
        ch[i].max = max;
        int err = pthread_create(&tid[2 * i], NULL, consumer, &ch[i]);
        if (!err)
            err = pthread_create(&tid[2 * i + 1], NULL, producer, &ch[i]);
        if (err)
            bench_fail("pthread_create: %s", strerror(err));
    }
    uint64_t checked = 0;
    for (unsigned i = 0; i < 2 * pairs; i++)
        pthread_join(tid[i], NULL);
    double secs = bench_now() - t0;
    for (unsigned i = 0; i < pairs; i++)
        checked += ch[i].checked;
    if (checked != items * pairs)
        bench_fail("consumers freed %" PRIu64 " blocks, expected %" PRIu64,
                   checked, items * pairs);

    free(ch);
    free(tid);
    bench_report(2 * checked, secs, -1,
                 "items=%" PRIu64 " batch=%" PRIu64 " pairs=%u seed=%" PRIu64
                 " min=%zu max=%zu",
                 items, batch, pairs, seed, min, max);
    return 0;
}

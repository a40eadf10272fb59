/* mixed_workload.h — the Mixed workload: one loop shared by the single-thread
 * benchmark (bench_random_mixed) and its multi-thread variant, so that both
 * measure exactly the same operation sequence.
 *
 * Per op, one xorshift32 draw r picks slot r % ws. An occupied slot is freed;
 * an empty one receives malloc(16 + (r & 0x3FF)), clamped to [min, max], and
 * its first byte is written. The byte written is the slot index, and it is
 * checked before the block is freed: a cheap corruption check on a cache
 * line the allocator itself touches anyway.
 */
#ifndef MIXED_WORKLOAD_H
#define MIXED_WORKLOAD_H

#include "bench_common.h"

typedef struct {
    uint64_t ops;     /* malloc + free calls made */
    uint64_t mallocs; /* malloc calls only: an allocator-independent checksum */
} mixed_count;

/* Out of line and not cloned, so that every binary runs the same machine
 * code: inlined into bench_random_mixed_mt's worker, gcc ran out of
 * callee-saved registers (the worker pointer holds one), spilled ws and
 * divided by it in memory (divl (%rsp)).  A div with a memory operand on
 * the path to the loop's unpredictable branch cost every allocator 25-35 %
 * of mixed_mt's throughput on the reference machine (docs/BENCHMARKS.md). */
__attribute__((noinline, noclone))
static void mixed_run(void **slots, uint32_t ws, uint64_t iters,
                             uint32_t *rng, size_t min, size_t max,
                             mixed_count *c)
{
    uint64_t mallocs = 0;
    uint32_t state = *rng; /* a local copy stays in a register across calls */
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t r = bench_xorshift32(&state);
        uint32_t idx = r % ws;
        unsigned char *p = (unsigned char *)slots[idx];
        if (p) {
            if (__builtin_expect(p[0] != (unsigned char)idx, 0))
                bench_fail("slot %u: first byte %u changed while live", idx, p[0]);
            free(p);
            slots[idx] = NULL;
        } else {
            size_t size = 16 + (r & 0x3FF);
            size = size < min ? min : size > max ? max : size;
            p = (unsigned char *)malloc(size);
            BENCH_CHECK_ALLOC(p, size);
            p[0] = (unsigned char)idx;
            slots[idx] = p;
            mallocs++;
        }
    }
    *rng = state;
    c->ops += iters;
    c->mallocs += mallocs;
}

/* Frees every occupied slot (each is one op). */
static inline void mixed_drain(void **slots, uint32_t ws, mixed_count *c)
{
    for (uint32_t idx = 0; idx < ws; idx++) {
        unsigned char *p = (unsigned char *)slots[idx];
        if (!p)
            continue;
        if (p[0] != (unsigned char)idx)
            bench_fail("slot %u: first byte %u changed while live", idx, p[0]);
        free(p);
        slots[idx] = NULL;
        c->ops++;
    }
}

/* The prefault pass uses a different stream than the timed pass, derived
 * from the same seed so that runs stay reproducible. */
static inline uint32_t mixed_prefault_seed(uint64_t seed)
{
    return bench_seed32(seed ^ 0xA5A5A5A5C3C3C3C3ull);
}

#endif /* MIXED_WORKLOAD_H */

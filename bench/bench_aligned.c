/* bench_aligned — over-aligned allocation: posix_memalign and aligned_alloc
 * with alignments 16..4096, as SIMD code, page-aligned I/O buffers and C++
 * over-aligned types ask for them.
 *
 *   bench_aligned ITERS WS SEED
 *   bench_aligned --smoke
 *
 * Slot workload like bench_random_mixed: per op a draw r picks a slot; an
 * occupied slot is checked and freed, an empty one gets a block aligned to
 * 16 << (r % 9) bytes (16..4096), of 16..2063 bytes. Odd draws use
 * posix_memalign, even draws aligned_alloc with the size rounded up to a
 * multiple of the alignment (what C11 requires of the caller). The alignment
 * is checked and the first and last bytes are written and checked.
 * ops counts allocations and frees, including the final drain.
 */
#include "bench_common.h"

static const char usage[] = "bench_aligned ITERS WS SEED | --smoke";

typedef struct {
    unsigned char *p;
    size_t size;
} slot;

static int check_slot(const slot *s, uint32_t idx)
{
    return s->p[0] == (unsigned char)idx && s->p[s->size - 1] == (unsigned char)(idx >> 8);
}

int main(int argc, char **argv)
{
    bench_set_name("aligned");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 4)
        bench_usage(usage);
    uint64_t iters = smoke ? 100000 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 2, usage);
    uint32_t ws = smoke ? 400 : (uint32_t)bench_arg(argc, argv, 2, 0, 1, 1u << 28, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX, usage);

    slot *slots = calloc(ws, sizeof *slots);
    BENCH_CHECK_ALLOC(slots, ws * sizeof *slots);
    uint32_t rng = bench_seed32(seed);
    uint64_t ops = 0, mallocs = 0;

    double t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t r = bench_xorshift32(&rng);
        uint32_t idx = r % ws;
        slot *s = &slots[idx];
        if (s->p) {
            if (!check_slot(s, idx))
                bench_fail("slot %u: block %p overwritten while live", idx, (void *)s->p);
            free(s->p);
            s->p = NULL;
        } else {
            size_t align = (size_t)16 << ((r >> 16) % 9);
            size_t size = 16 + ((r >> 5) & 0x7FF);
            void *p = NULL;
            if (r & 1) {
                int err = posix_memalign(&p, align, size);
                if (err)
                    bench_fail("posix_memalign(%zu, %zu): %s", align, size, strerror(err));
            } else {
                size = (size + align - 1) & ~(align - 1);
                p = aligned_alloc(align, size);
                BENCH_CHECK_ALLOC(p, size);
            }
            if ((uintptr_t)p & (align - 1))
                bench_fail("%p is not aligned to %zu", p, align);
            s->p = p;
            s->size = size;
            s->p[0] = (unsigned char)idx;
            s->p[size - 1] = (unsigned char)(idx >> 8);
            mallocs++;
        }
        ops++;
    }
    for (uint32_t idx = 0; idx < ws; idx++) {
        if (!slots[idx].p)
            continue;
        if (!check_slot(&slots[idx], idx))
            bench_fail("slot %u: block overwritten while live", idx);
        free(slots[idx].p);
        ops++;
    }
    double secs = bench_now() - t0;

    free(slots);
    bench_report(ops, secs, -1, "iters=%" PRIu64 " ws=%u seed=%" PRIu64 " check=%" PRIu64,
                 iters, ws, seed, mallocs);
    return 0;
}

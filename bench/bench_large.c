/* bench_large — churn of large and huge blocks (64 KiB .. 64 MiB): buffers,
 * images, arenas of other allocators. What matters here is whether freed
 * memory is reused (cheap) or returned and faulted in again (a page fault
 * per 4 KiB), and how much is kept resident meanwhile.
 *
 *   bench_large ITERS WS SEED [MIN_KIB MAX_KIB]
 *   bench_large --smoke
 *
 * Slot workload: per op a draw picks one of WS slots; an occupied slot is
 * checked and freed, an empty one gets a block whose size is log-uniform
 * between MIN_KIB and MAX_KIB (each power-of-two octave equally likely, as
 * real large requests are). Every page of a new block is written, as a
 * program filling its buffer would, and one word per page checked before
 * free. ops counts mallocs and frees including the final drain; bytes_per_s
 * is the volume of memory written per second.
 */
#include "bench_common.h"

static const char usage[] = "bench_large ITERS WS SEED [MIN_KIB MAX_KIB] | --smoke";

#define PAGE 4096

typedef struct {
    unsigned char *p;
    size_t size;
} slot;

static size_t draw_size(uint64_t *rng, size_t min, size_t max)
{
    unsigned octaves = 0;
    while ((min << (octaves + 1)) <= max)
        octaves++;
    unsigned o = octaves ? (unsigned)(bench_rand64(rng) % (octaves + 1)) : 0;
    size_t lo = min << o;
    size_t hi = lo * 2 - 1 < max ? lo * 2 - 1 : max;
    return (size_t)bench_range(rng, lo, hi);
}

static void fill(unsigned char *p, size_t size, uint64_t tag)
{
    for (size_t off = 0; off + sizeof(uint64_t) <= size; off += PAGE)
        memcpy(p + off, &(uint64_t){tag ^ off}, sizeof(uint64_t));
    p[size - 1] = (unsigned char)tag;
}

static void check(const unsigned char *p, size_t size, uint64_t tag)
{
    for (size_t off = 0; off + sizeof(uint64_t) <= size; off += PAGE) {
        uint64_t v;
        memcpy(&v, p + off, sizeof v);
        if (v != (tag ^ off))
            bench_fail("block %p (%zu bytes) changed at offset %zu", (const void *)p, size, off);
    }
    if (p[size - 1] != (unsigned char)tag)
        bench_fail("block %p (%zu bytes) changed at its last byte", (const void *)p, size);
}

int main(int argc, char **argv)
{
    bench_set_name("large");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 4 && argc != 6)
        bench_usage(usage);
    uint64_t iters = smoke ? 300 : bench_arg(argc, argv, 1, 0, 1, UINT64_MAX / 2, usage);
    uint32_t ws = smoke ? 4 : (uint32_t)bench_arg(argc, argv, 2, 0, 1, 1u << 20, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 3, 0, 0, UINT64_MAX, usage);
    size_t min_kib = smoke ? 64 : (size_t)bench_arg(argc, argv, 4, 64, 1, 1u << 24, usage);
    size_t max_kib = smoke ? 4096 : (size_t)bench_arg(argc, argv, 5, 65536, min_kib, 1u << 24, usage);
    size_t min = min_kib * 1024, max = max_kib * 1024;

    slot *slots = calloc(ws, sizeof *slots);
    BENCH_CHECK_ALLOC(slots, ws * sizeof *slots);
    uint64_t rng = seed, ops = 0, bytes = 0;

    double t0 = bench_now();
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t idx = (uint32_t)(bench_rand64(&rng) % ws);
        slot *s = &slots[idx];
        if (s->p) {
            check(s->p, s->size, idx);
            free(s->p);
            s->p = NULL;
        } else {
            size_t size = draw_size(&rng, min, max);
            s->p = malloc(size);
            BENCH_CHECK_ALLOC(s->p, size);
            s->size = size;
            fill(s->p, size, idx);
            bytes += size;
        }
        ops++;
    }
    for (uint32_t idx = 0; idx < ws; idx++) {
        if (!slots[idx].p)
            continue;
        check(slots[idx].p, slots[idx].size, idx);
        free(slots[idx].p);
        ops++;
    }
    double secs = bench_now() - t0;

    free(slots);
    bench_report(ops, secs, -1,
                 "iters=%" PRIu64 " ws=%u seed=%" PRIu64 " min_kib=%zu max_kib=%zu"
                 " bytes_per_s=%.0f check=%" PRIu64,
                 iters, ws, seed, min_kib, max_kib, (double)bytes / secs, bytes);
    return 0;
}

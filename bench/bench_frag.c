/* bench_frag — fragmentation: can memory freed as many small blocks be
 * reused for larger ones, and is it given back when it cannot?
 *
 *   bench_frag NSMALL SEED
 *   bench_frag --smoke
 *
 * 1. fill:   NSMALL blocks of 16..256 bytes, each stamped;
 * 2. thin:   90% of them freed in random order, leaving isolated survivors
 *            scattered across the memory that held them;
 * 3. refill: blocks of 1..32 KiB ("medium") until as many bytes are live as
 *            after step 1;
 * 4. free everything.
 * final_rss_kib is the resident set after step 3: the live data is then the
 * same as after step 1 (fill_rss_kib), so the difference is memory lost to
 * fragmentation. end_rss_kib is after step 4: what the allocator keeps when
 * nothing is live. live_kib is the requested bytes live after step 3. The
 * whole sequence is timed; ops counts mallocs and frees.
 */
#include "bench_common.h"

static const char usage[] = "bench_frag NSMALL SEED | --smoke";

#define SMALL_MIN 16
#define SMALL_MAX 256
#define MEDIUM_MIN 1024
#define MEDIUM_MAX (32 * 1024)

typedef struct {
    uint64_t *p;
    size_t size;
} block;

static block make(uint64_t *rng, size_t min, size_t max)
{
    block b = {NULL, (size_t)bench_range(rng, min, max)};
    b.p = malloc(b.size);
    BENCH_CHECK_ALLOC(b.p, b.size);
    b.p[0] = bench_stamp(b.p, b.size);
    ((unsigned char *)b.p)[b.size - 1] = (unsigned char)b.size;
    return b;
}

static void release(block b)
{
    if (b.p[0] != bench_stamp(b.p, b.size) ||
        ((unsigned char *)b.p)[b.size - 1] != (unsigned char)b.size)
        bench_fail("block %p (%zu bytes) corrupted", (void *)b.p, b.size);
    free(b.p);
}

int main(int argc, char **argv)
{
    bench_set_name("frag");
    int smoke = bench_is_smoke(argc, argv);
    if (!smoke && argc != 3)
        bench_usage(usage);
    size_t nsmall = smoke ? 100000 : (size_t)bench_arg(argc, argv, 1, 0, 10, 1ull << 32, usage);
    uint64_t seed = smoke ? 1 : bench_arg(argc, argv, 2, 0, 0, UINT64_MAX, usage);

    block *small = malloc(nsmall * sizeof *small);
    size_t *order = malloc(nsmall * sizeof *order);
    BENCH_CHECK_ALLOC(small, nsmall * sizeof *small);
    BENCH_CHECK_ALLOC(order, nsmall * sizeof *order);
    uint64_t rng = seed, ops = 0;

    double t0 = bench_now();
    size_t filled = 0;
    for (size_t i = 0; i < nsmall; i++) {
        small[i] = make(&rng, SMALL_MIN, SMALL_MAX);
        filled += small[i].size;
        order[i] = i;
    }
    ops += nsmall;
    long fill_rss = bench_cur_rss_kib();

    /* Fisher-Yates: the first 90% of `order` are the victims. */
    for (size_t i = nsmall - 1; i > 0; i--) {
        size_t j = (size_t)(bench_rand64(&rng) % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    size_t nfree = nsmall / 10 * 9, live = filled;
    for (size_t i = 0; i < nfree; i++) {
        block *b = &small[order[i]];
        live -= b->size;
        release(*b);
        b->p = NULL;
    }
    ops += nfree;

    /* Refill with medium blocks up to the original live volume. */
    size_t cap = 1024, nmed = 0;
    block *med = malloc(cap * sizeof *med);
    BENCH_CHECK_ALLOC(med, cap * sizeof *med);
    while (live < filled) {
        if (nmed == cap) {
            cap *= 2;
            med = realloc(med, cap * sizeof *med);
            BENCH_CHECK_ALLOC(med, cap * sizeof *med);
        }
        med[nmed] = make(&rng, MEDIUM_MIN, MEDIUM_MAX);
        live += med[nmed++].size;
    }
    ops += nmed;
    long final_rss = bench_cur_rss_kib();

    for (size_t i = 0; i < nsmall; i++)
        if (small[i].p)
            release(small[i]);
    for (size_t i = 0; i < nmed; i++)
        release(med[i]);
    ops += nsmall - nfree + nmed;
    double secs = bench_now() - t0;
    long end_rss = bench_cur_rss_kib();

    free(small);
    free(order);
    free(med);
    bench_report(ops, secs, final_rss,
                 "fill_rss_kib=%ld end_rss_kib=%ld live_kib=%zu nsmall=%zu nmedium=%zu"
                 " seed=%" PRIu64,
                 fill_rss, end_rss, live / 1024, nsmall, nmed, seed);
    return 0;
}

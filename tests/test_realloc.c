/* test_realloc.c — realloc keeps the contents across every tier boundary, up
 * and down: tiny (<= 1 KiB), small (<= 32 KiB), large (<= 1 MiB), huge
 * (> 1 MiB, own mapping, grown with mremap), back to tiny; growth by many
 * small steps; shrinking; shrinking releases memory.
 */
#include "test_common.h"

TC_DEFINE_SINK;

/* Representative sizes of each tier, including both edges. */
static const size_t tier_sizes[] = {
    1, 16, 17, 100, 1023, 1024,                 /* tiny */
    1025, 4000, 16384, 32767, 32768,            /* small */
    32769, 65536, 300000, 1048575, 1048576,     /* large */
    1048577, 2 * 1048576, 5 * 1048576 + 3, 12 * 1048576, /* huge */
};
#define N_TIER (sizeof tier_sizes / sizeof tier_sizes[0])

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* One realloc from `from` bytes to `to` bytes: the common prefix survives. */
static void one_step(size_t from, size_t to, uint64_t seed)
{
    char *p = malloc(from);
    assert_owned(p);
    fill_pattern(p, from, seed);
    /* a neighbour, so that in-place growth has something to run into */
    char *nb = malloc(from);
    assert_owned(nb);
    fill_pattern(nb, from, ~seed);
    char *q = realloc(p, to);
    if (!q)
        fail_msg("realloc(%zu -> %zu) returned NULL", from, to);
    if (!hak_owns(q))
        fail_msg("realloc(%zu -> %zu) = %p is not hakmem's", from, to, (void *)q);
    if (malloc_usable_size(q) < to)
        fail_msg("realloc(%zu -> %zu): usable size %zu", from, to, malloc_usable_size(q));
    if (to >= 16 && ((uintptr_t)q & 15))
        fail_msg("realloc(%zu -> %zu) = %p is not 16-aligned", from, to, (void *)q);
    size_t keep = min_sz(from, to);
    size_t bad = check_pattern(q, keep, seed);
    if (bad != (size_t)-1)
        fail_msg("realloc(%zu -> %zu) lost the contents at offset %zu", from, to, bad);
    /* the new tail is writable, and writing it does not touch the neighbour */
    memset(q + keep, 0x7E, malloc_usable_size(q) - keep);
    bad = check_pattern(nb, from, ~seed);
    if (bad != (size_t)-1)
        fail_msg("realloc(%zu -> %zu) damaged a neighbouring block at %zu", from, to, bad);
    free(q);
    free(nb);
}

static void test_every_pair_of_tiers(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TIER; i++)
        for (size_t j = 0; j < N_TIER; j++)
            one_step(tier_sizes[i], tier_sizes[j], i * 131 + j);
}

/* One block travels tiny -> small -> large -> huge -> tiny and back up,
 * through a chain of reallocs; every step keeps the common prefix. */
static void test_chain_across_tiers(void **state)
{
    (void)state;
    const size_t chain[] = {
        8,          700,       1024,      1025,     9000,         32768,       32769,
        200000,     1048576,   1048577,   3 * MiB,  64 * MiB,     10 * MiB + 1, 1100 * KiB,
        1 * MiB,    500000,    40000,     32 * KiB, 20000,        1000,        24,
        1,          2000000,   30,        70000,    3000,         64 * MiB + 7, 5,
    };
    const size_t n = sizeof chain / sizeof chain[0];
    size_t cur = chain[0];
    char *p = malloc(cur);
    assert_owned(p);
    uint64_t seed = 99;
    fill_pattern(p, cur, seed);
    for (size_t i = 1; i < n; i++) {
        size_t to = chain[i];
        char *q = realloc(p, to);
        if (!q || !hak_owns(q))
            fail_msg("realloc(%zu -> %zu) = %p", cur, to, (void *)q);
        size_t keep = min_sz(cur, to);
        size_t bad = check_pattern(q, keep, seed);
        if (bad != (size_t)-1)
            fail_msg("step %zu: realloc(%zu -> %zu) lost the contents at offset %zu", i, cur,
                     to, bad);
        /* new contents for the next step */
        seed = seed * 31 + i;
        fill_pattern(q, to, seed);
        p = q;
        cur = to;
    }
    free(p);
}

/* Grow by many small steps, from 1 byte to 8 MiB, checking everything. */
static void test_growth_small_steps(void **state)
{
    (void)state;
    const uint64_t seed = 0xFEEDFACE;
    size_t cur = 1;
    char *p = malloc(cur);
    assert_owned(p);
    fill_pattern(p, cur, seed);
    size_t moves = 0, steps = 0;
    while (cur < 8 * MiB) {
        size_t step = cur < 64 * KiB ? 1 + steps % 61 : cur < 2 * MiB ? 4093 : 65521;
        size_t to = cur + step;
        char *q = realloc(p, to);
        if (!q || !hak_owns(q))
            fail_msg("realloc(%zu -> %zu) = %p", cur, to, (void *)q);
        if (q != p)
            moves++;
        size_t bad = check_pattern(q, cur, seed);
        if (bad != (size_t)-1)
            fail_msg("growing realloc(%zu -> %zu) (%s) lost offset %zu", cur, to,
                     q != p ? "moved" : "in place", bad);
        fill_pattern_range(q, cur, to, seed);
        p = q;
        cur = to;
        steps++;
    }
    size_t bad = check_pattern(p, cur, seed);
    if (bad != (size_t)-1)
        fail_msg("after %zu growing steps (%zu moves) the block lost offset %zu", steps,
                 moves, bad);
    free(p);
}

/* Shrink by steps from 8 MiB down to 1 byte, checking everything. */
static void test_shrink_steps(void **state)
{
    (void)state;
    const uint64_t seed = 0xC0FFEE;
    size_t cur = 8 * MiB;
    char *p = malloc(cur);
    assert_owned(p);
    fill_pattern(p, cur, seed);
    while (cur > 1) {
        size_t to = cur > 64 * KiB ? cur - cur / 9 : cur > 1024 ? cur - 997 : cur - 1 - cur / 50;
        if (to < 1)
            to = 1;
        char *q = realloc(p, to);
        if (!q || !hak_owns(q))
            fail_msg("realloc(%zu -> %zu) = %p", cur, to, (void *)q);
        if (malloc_usable_size(q) < to)
            fail_msg("shrinking realloc(%zu -> %zu): usable size %zu", cur, to,
                     malloc_usable_size(q));
        size_t bad = check_pattern(q, to, seed);
        if (bad != (size_t)-1)
            fail_msg("shrinking realloc(%zu -> %zu) lost offset %zu", cur, to, bad);
        p = q;
        cur = to;
    }
    free(p);
}

/* A huge or large block shrunk to a tiny one must not keep its old memory:
 * keep 48 of them alive after shrinking, and the resident set stays far
 * below what 48 untouched-but-kept 16 MiB blocks would cost. */
static void test_shrink_releases_memory(void **state)
{
    (void)state;
    enum { N = 48 };
    const size_t big[] = { 16 * MiB, 900 * KiB };
    for (int b = 0; b < 2; b++) {
        void *keep[N];
        size_t before = rss_bytes();
        for (int i = 0; i < N; i++) {
            char *p = malloc(big[b]);
            assert_owned(p);
            memset(p, 0x3C, big[b]);
            fill_pattern(p, 100, (uint64_t)i);
            keep[i] = realloc(p, 100);
            assert_owned(keep[i]);
            assert_pattern(keep[i], 100, (uint64_t)i);
        }
        size_t after = rss_bytes();
        size_t kept = N * big[b];
        if (after > before + kept / 4)
            fail_msg("%d blocks of %zu bytes shrunk to 100 bytes: RSS grew by %zu KiB "
                     "(keeping the old blocks would be %zu KiB)",
                     N, big[b], (after - before) / 1024, kept / 1024);
        for (int i = 0; i < N; i++) {
            assert_pattern(keep[i], 100, (uint64_t)i);
            free(keep[i]);
        }
    }
}

/* realloc to the same size, or within the usable size, keeps everything. */
static void test_same_and_usable(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TIER; i++) {
        size_t n = tier_sizes[i];
        char *p = malloc(n);
        assert_owned(p);
        size_t us = malloc_usable_size(p);
        fill_pattern(p, us, n);
        char *q = realloc(p, n);
        assert_owned(q);
        assert_pattern(q, n, n);
        size_t us2 = malloc_usable_size(q);
        q = realloc(q, us2);
        assert_owned(q);
        assert_pattern(q, n, n);
        assert_true(malloc_usable_size(q) >= us2);
        free(q);
    }
}

/* Blocks from memalign / calloc / reallocarray grow and shrink the same way. */
static void test_realloc_other_origins(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TIER; i++) {
        size_t n = tier_sizes[i];
        char *a = memalign(4096, n), *c = calloc(n, 1), *r = reallocarray(NULL, n, 1);
        assert_owned(a);
        assert_owned(c);
        assert_owned(r);
        assert_aligned(a, 4096);
        assert_zeroed(c, n);
        fill_pattern(a, n, 1);
        fill_pattern(c, n, 2);
        fill_pattern(r, n, 3);
        for (size_t j = 0; j < N_TIER; j += 3) {
            size_t to = tier_sizes[j];
            size_t keep = min_sz(n, to);
            a = realloc(a, to);
            c = realloc(c, to);
            r = reallocarray(r, to, 1);
            assert_owned(a);
            assert_owned(c);
            assert_owned(r);
            assert_pattern(a, keep, 1);
            assert_pattern(c, keep, 2);
            assert_pattern(r, keep, 3);
            fill_pattern(a, to, 1);
            fill_pattern(c, to, 2);
            fill_pattern(r, to, 3);
            n = to;
        }
        free(a);
        free(c);
        free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair_of_tiers),
        cmocka_unit_test(test_chain_across_tiers),
        cmocka_unit_test(test_growth_small_steps),
        cmocka_unit_test(test_shrink_steps),
        cmocka_unit_test(test_shrink_releases_memory),
        cmocka_unit_test(test_same_and_usable),
        cmocka_unit_test(test_realloc_other_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

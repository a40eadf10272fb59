/* test_calloc.c — calloc returns zeroes, also for reused blocks of every tier:
 * blocks are dirtied with 0xAA, freed, and the same sizes calloc'ed many times.
 * (hakmem skips clearing memory known fresh from the OS; the reuse paths —
 * thread caches, slabs, retained or decommitted superslabs, cached huge
 * mappings, blocks freed by other threads — must still come back zeroed.)
 */
#include "test_common.h"

#include <pthread.h>

TC_DEFINE_SINK;

static const size_t tier_sizes[] = {
    1, 8, 16, 24, 40, 64, 100, 128, 500, 1000, 1024,       /* tiny */
    1100, 2048, 4000, 8192, 20000, 32768,                  /* small */
    40000, 65536, 131072, 400000, 1048576,                 /* large */
    1048577, 1500000, 4 * 1048576, 16 * 1048576 + 100,     /* huge */
};
#define N_TIER (sizeof tier_sizes / sizeof tier_sizes[0])

static int blocks_for(size_t n)
{
    return n > MiB ? 4 : n > 32 * KiB ? 24 : n > 1024 ? 200 : 1000;
}

/* The three ways to ask calloc for n bytes. */
static void *calloc_way(int way, size_t n)
{
    switch (way % 3) {
    case 0: return calloc(1, n);
    case 1: return calloc(n, 1);
    default: return (n % 8 == 0) ? calloc(n / 8, 8) : calloc(n, 1);
    }
}

static void dirty_then_calloc(size_t n, int rounds)
{
    int k = blocks_for(n);
    void **v = malloc((size_t)k * sizeof *v);
    assert_non_null(v);
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < k; i++) {
            v[i] = malloc(n);
            assert_owned(v[i]);
            memset(v[i], 0xAA, malloc_usable_size(v[i]));
        }
        /* free in two interleaved passes, so that the calloc below sees both
         * recently and less recently freed blocks */
        for (int i = 0; i < k; i += 2)
            free(v[i]);
        for (int i = 1; i < k; i += 2)
            free(v[i]);
        for (int i = 0; i < k; i++) {
            v[i] = calloc_way(round + i, n);
            assert_owned(v[i]);
            size_t bad = first_nonzero(v[i], n);
            if (bad != (size_t)-1)
                fail_msg("calloc of %zu bytes (round %d, block %d of %d) returned a reused "
                         "block with byte %zu = 0x%02x", n, round, i, k, bad,
                         ((unsigned char *)v[i])[bad]);
            memset(v[i], 0xAA, n);
        }
        for (int i = 0; i < k; i++)
            free(v[i]);
    }
    free(v);
}

static void test_every_tier_reused(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t++)
        dirty_then_calloc(tier_sizes[t], tier_sizes[t] > MiB ? 6 : 12);
}

/* A block of one size is dirtied, then calloc asks for a different size of
 * the same (or a nearby) class. */
static void test_neighbouring_sizes(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 2048; n += 7) {
        enum { K = 64 };
        void *v[K];
        for (int i = 0; i < K; i++) {
            v[i] = malloc(n);
            assert_owned(v[i]);
            memset(v[i], 0xAA, malloc_usable_size(v[i]));
        }
        for (int i = 0; i < K; i++)
            free(v[i]);
        size_t m = n > 8 ? n - 5 : n;
        for (int i = 0; i < K; i++) {
            v[i] = calloc(1, m);
            assert_owned(v[i]);
            assert_zeroed(v[i], m);
        }
        for (int i = 0; i < K; i++)
            free(v[i]);
    }
}

/* Huge blocks: realloc-shrunk and realloc-grown blocks, then calloc. */
static void test_huge_after_realloc(void **state)
{
    (void)state;
    for (int round = 0; round < 6; round++) {
        char *p = malloc(3 * MiB);
        assert_owned(p);
        memset(p, 0xAA, 3 * MiB);
        p = realloc(p, 9 * MiB); /* grown, perhaps in place with mremap */
        assert_owned(p);
        memset(p, 0xAA, 9 * MiB);
        p = realloc(p, 2 * MiB); /* shrunk */
        assert_owned(p);
        free(p);
        for (size_t n = 2 * MiB; n <= 10 * MiB; n += 2 * MiB) {
            char *q = calloc(n, 1);
            assert_owned(q);
            assert_zeroed(q, n);
            memset(q, 0xAA, n);
            free(q);
        }
    }
}

/* Blocks dirtied and freed by other threads (remote frees, thread exit,
 * abandoned slabs) come back zeroed from calloc in this thread. */
struct dirt_arg {
    size_t n;
    int k;
    void **out; /* when non-NULL, leave the blocks here for the main thread */
};

static void *dirt_thread(void *a)
{
    struct dirt_arg *d = a;
    for (int i = 0; i < d->k; i++) {
        void *p = malloc(d->n);
        if (!p)
            return (void *)1;
        memset(p, 0xAA, malloc_usable_size(p));
        if (d->out)
            d->out[i] = p;
        else
            free(p);
    }
    return NULL;
}

static void test_reused_across_threads(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        int k = blocks_for(n);
        void **v = malloc((size_t)k * sizeof *v);
        assert_non_null(v);
        for (int mode = 0; mode < 2; mode++) {
            struct dirt_arg d = { n, k, mode ? v : NULL };
            pthread_t th;
            void *ret;
            assert_int_equal(pthread_create(&th, NULL, dirt_thread, &d), 0);
            assert_int_equal(pthread_join(th, &ret), 0);
            assert_null(ret);
            if (mode)
                for (int i = 0; i < k; i++)
                    free(v[i]); /* freed here, allocated by a thread now gone */
            for (int i = 0; i < k; i++) {
                v[i] = calloc(1, n);
                assert_owned(v[i]);
                size_t bad = first_nonzero(v[i], n);
                if (bad != (size_t)-1)
                    fail_msg("calloc(%zu) after blocks were dirtied by another thread (%s): "
                             "byte %zu is 0x%02x", n, mode ? "freed here" : "freed there",
                             bad, ((unsigned char *)v[i])[bad]);
            }
            for (int i = 0; i < k; i++)
                free(v[i]);
        }
        free(v);
    }
}

/* After malloc_trim (which may decommit retained memory) calloc still zeroes,
 * and memory decommitted then recommitted is not trusted blindly. */
static void test_after_trim(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t += 2) {
        size_t n = tier_sizes[t];
        int k = blocks_for(n);
        void **v = malloc((size_t)k * sizeof *v);
        assert_non_null(v);
        for (int i = 0; i < k; i++) {
            v[i] = malloc(n);
            assert_owned(v[i]);
            memset(v[i], 0xAA, malloc_usable_size(v[i]));
        }
        for (int i = 0; i < k; i++)
            free(v[i]);
        malloc_trim(0);
        for (int i = 0; i < k; i++) {
            v[i] = calloc(n, 1);
            assert_owned(v[i]);
            assert_zeroed(v[i], n);
        }
        for (int i = 0; i < k; i++)
            free(v[i]);
        free(v);
    }
}

/* A huge calloc of memory fresh from the OS is not cleared by hand: a 1 GiB
 * calloc costs no resident memory until it is touched (programs rely on this
 * for large sparse tables), and it reads as zeroes everywhere. */
static void test_huge_calloc_is_lazy(void **state)
{
    (void)state;
    const size_t n = 1024 * MiB;
    malloc_trim(0); /* nothing cached: the mapping comes fresh from the OS */
    size_t before = rss_bytes();
    unsigned char *p = calloc(1, n);
    assert_owned(p);
    size_t after = rss_bytes();
    if (after > before + 64 * MiB)
        fail_msg("calloc(1 GiB) made the RSS grow by %zu MiB before any byte was touched "
                 "(fresh memory from the OS should not be cleared)",
                 (after - before) / MiB);
    assert_zeroed(p, 64 * KiB);
    assert_zeroed(p + n - 64 * KiB, 64 * KiB);
    for (size_t off = 0; off < n; off += MiB + 4096)
        if (p[off] != 0)
            fail_msg("calloc(1 GiB): byte %zu is 0x%02x", off, p[off]);
    free(p);
    /* and the same again, after the block above was freed (and maybe cached) */
    p = calloc(n / 4, 4);
    assert_owned(p);
    for (size_t off = 0; off < n; off += MiB + 4096)
        if (p[off] != 0)
            fail_msg("second calloc(1 GiB): byte %zu is 0x%02x", off, p[off]);
    memset(p, 0xAA, 8 * MiB);
    free(p);
    p = calloc(1, n);
    assert_owned(p);
    assert_zeroed(p, 8 * MiB);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_tier_reused),
        cmocka_unit_test(test_neighbouring_sizes),
        cmocka_unit_test(test_huge_after_realloc),
        cmocka_unit_test(test_reused_across_threads),
        cmocka_unit_test(test_after_trim),
        cmocka_unit_test(test_huge_calloc_is_lazy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

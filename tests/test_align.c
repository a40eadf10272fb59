/* test_align.c — every power-of-two alignment from 8 to 2 MiB (and 4 MiB),
 * with several sizes each, through posix_memalign, aligned_alloc and memalign:
 * the block is aligned, hakmem's, as large as asked, writable over its whole
 * usable size without touching any other live block, and can be freed.
 */
#include "test_common.h"

TC_DEFINE_SINK;

enum api { API_POSIX_MEMALIGN, API_ALIGNED_ALLOC, API_MEMALIGN, N_API };
static const char *const api_name[] = { "posix_memalign", "aligned_alloc", "memalign" };

static void *alloc_aligned(enum api api, size_t align, size_t size)
{
    void *p = NULL;
    switch (api) {
    case API_POSIX_MEMALIGN: {
        int rc = posix_memalign(&p, align, size);
        if (rc != 0)
            fail_msg("posix_memalign(%zu, %zu) returned %d", align, size, rc);
        break;
    }
    case API_ALIGNED_ALLOC: p = aligned_alloc(align, size); break;
    case API_MEMALIGN: p = memalign(align, size); break;
    default: break;
    }
    if (!p)
        fail_msg("%s(%zu, %zu) returned NULL (errno %d)", api_name[api], align, size, errno);
    return p;
}

#define MAX_BLOCKS 64
struct blk {
    void *p;
    size_t size, usable;
    uint64_t seed;
};

/* All sizes of one alignment, all three APIs, live at the same time. */
static void check_alignment(size_t align)
{
    const size_t sizes[] = { 0,         1,         align - 1, align,   align + 1,
                             3 * align, 2000,      5000,      12345,   3 * MiB + 5,
                             (align > 16 ? align / 2 + 3 : 24) };
    const size_t n_sizes = sizeof sizes / sizeof sizes[0];
    struct blk b[MAX_BLOCKS];
    size_t nb = 0;
    for (int api = 0; api < N_API; api++) {
        for (size_t i = 0; i < n_sizes; i++) {
            size_t n = sizes[i];
            void *p = alloc_aligned((enum api)api, align, n);
            if ((uintptr_t)p & (align - 1))
                fail_msg("%s(%zu, %zu) = %p is not aligned", api_name[api], align, n, p);
            if (!hak_owns(p))
                fail_msg("%s(%zu, %zu) = %p is not hakmem's", api_name[api], align, n, p);
            size_t us = malloc_usable_size(p);
            if (us < n)
                fail_msg("%s(%zu, %zu): usable size %zu", api_name[api], align, n, us);
            b[nb].p = p;
            b[nb].size = n;
            b[nb].usable = us;
            b[nb].seed = tc_seed(p, us) ^ align;
            fill_pattern(p, us, b[nb].seed);
            nb++;
        }
    }
    /* Nothing written to one block's usable bytes reached another. */
    for (size_t k = 0; k < nb; k++) {
        size_t bad = check_pattern(b[k].p, b[k].usable, b[k].seed);
        if (bad != (size_t)-1)
            fail_msg("alignment %zu, %s size %zu (usable %zu): contents changed at %zu",
                     align, api_name[k / n_sizes], b[k].size, b[k].usable, bad);
    }
    /* free half in another order, realloc the rest (contents kept), free. */
    for (size_t k = 0; k < nb; k += 2)
        free(b[k].p);
    for (size_t k = 1; k < nb; k += 2) {
        size_t keep = b[k].size;
        void *q = realloc(b[k].p, b[k].size + 1000);
        assert_owned(q);
        size_t bad = check_pattern(q, keep, b[k].seed);
        if (bad != (size_t)-1)
            fail_msg("realloc of an aligned(%zu) %zu-byte block lost byte %zu", align, keep,
                     bad);
        free(q);
    }
}

static void test_each_alignment(void **state)
{
    (void)state;
    for (size_t align = 8; align <= 4 * MiB; align *= 2)
        check_alignment(align);
}

/* Many blocks of each large alignment at once: distinct, aligned, no overlap. */
static void test_many_large_alignments(void **state)
{
    (void)state;
    for (size_t align = 64 * KiB; align <= 2 * MiB; align *= 2) {
        enum { N = 48 };
        void *v[N];
        size_t sz[N];
        for (int i = 0; i < N; i++) {
            sz[i] = (i % 3 == 0) ? 16 : (i % 3 == 1) ? align : align + 4096 * (size_t)i;
            v[i] = alloc_aligned((enum api)(i % N_API), align, sz[i]);
            assert_owned(v[i]);
            assert_aligned(v[i], align);
            /* the first and last pages carry the pattern */
            size_t head = sz[i] < 8192 ? sz[i] / 2 : 4096;
            fill_pattern(v[i], head, tc_seed(v[i], 1));
            fill_pattern((char *)v[i] + sz[i] - head, head, tc_seed(v[i], 2));
        }
        for (int i = 0; i < N; i++) {
            size_t head = sz[i] < 8192 ? sz[i] / 2 : 4096;
            assert_pattern(v[i], head, tc_seed(v[i], 1));
            assert_pattern((char *)v[i] + sz[i] - head, head, tc_seed(v[i], 2));
        }
        for (int i = 0; i < N; i++)
            free(v[i]);
    }
}

/* Aligned and plain blocks interleaved in the same size classes. */
static void test_mixed_with_plain(void **state)
{
    (void)state;
    enum { N = 2000 };
    static void *v[N];
    static size_t sz[N];
    tc_rng r = { 0x1234567 };
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = 1 + tc_below(&r, 3000);
            size_t align = (size_t)8 << tc_below(&r, 10); /* 8 .. 4096 */
            sz[i] = n;
            if (tc_below(&r, 2)) {
                v[i] = malloc(n);
                assert_owned(v[i]);
                assert_aligned(v[i], n >= 16 ? 16 : n >= 8 ? 8 : 1);
            } else {
                v[i] = alloc_aligned((enum api)tc_below(&r, N_API), align, n);
                assert_owned(v[i]);
                assert_aligned(v[i], align);
            }
            fill_pattern(v[i], n, tc_seed(v[i], n));
        }
        for (int i = 0; i < N; i++) {
            assert_pattern(v[i], sz[i], tc_seed(v[i], sz[i]));
            free(v[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_alignment),
        cmocka_unit_test(test_many_large_alignments),
        cmocka_unit_test(test_mixed_with_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

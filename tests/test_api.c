/* test_api.c — the malloc API contract of issue 2, point 1, errno included.
 *
 * Every entry point a program or libc may call, with glibc-compatible
 * semantics; every block checked to be hakmem's (hak_owns).
 */
#include "test_common.h"

#include <stdbool.h>

TC_DEFINE_SINK;

/* The glibc-internal aliases some programs (and libc itself) call. */
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t alignment, size_t size);

#define PTRDIFF_MAX_SZ ((size_t)PTRDIFF_MAX)

/* Sizes spanning every tier: tiny (<= 1 KiB), small (<= 32 KiB),
 * large (<= 1 MiB), huge. */
static const size_t tier_sizes[] = {
    1, 8, 16, 24, 48, 100, 256, 1000, 1024,
    1025, 2000, 4096, 8000, 16384, 32768,
    32769, 65536, 100000, 500000, 1048576,
    1048577, 3 * 1048576 + 17, 9 * 1048576,
};
#define N_TIER (sizeof tier_sizes / sizeof tier_sizes[0])

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void assert_distinct(void **v, size_t n)
{
    void **s = malloc(n * sizeof *s);
    assert_non_null(s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_ptr);
    for (size_t i = 1; i < n; i++)
        if (s[i] == s[i - 1])
            fail_msg("the same pointer %p was returned twice", s[i]);
    free(s);
}

/* ---------------------------------------------------------------- malloc(0) */

static void test_malloc_zero_unique(void **state)
{
    (void)state;
    enum { N = 1000 };
    static void *v[4 * N];
    for (int i = 0; i < N; i++) {
        v[i] = malloc(opaque_size(0));
        assert_owned(v[i]);
        v[N + i] = calloc(opaque_size(0), 1);
        assert_owned(v[N + i]);
        v[2 * N + i] = calloc(1, opaque_size(0));
        assert_owned(v[2 * N + i]);
        v[3 * N + i] = realloc(NULL, opaque_size(0));
        assert_owned(v[3 * N + i]);
    }
    assert_distinct(v, 4 * N);
    /* A zero-size block is also distinct from live blocks of other sizes. */
    void *other[64];
    for (int i = 0; i < 64; i++) {
        other[i] = malloc(16);
        assert_owned(other[i]);
        for (int j = 0; j < 4 * N; j++)
            if (v[j] == other[i])
                fail_msg("malloc(16) returned %p, a live malloc(0) block", other[i]);
    }
    for (int i = 0; i < 64; i++)
        free(other[i]);
    for (int i = 0; i < 4 * N; i++)
        free(v[i]);
}

/* --------------------------------------------------------------- free, errno */

static void test_free_null(void **state)
{
    (void)state;
    errno = EILSEQ;
    free(NULL);
    assert_int_equal(errno, EILSEQ);
    cfree(NULL);
    assert_int_equal(errno, EILSEQ);
    free_sized(NULL, 0);
    assert_int_equal(errno, EILSEQ);
    free_aligned_sized(NULL, 64, 0);
    assert_int_equal(errno, EILSEQ);
    hak_free(NULL);
    assert_int_equal(errno, EILSEQ);
    assert_int_equal(hak_owns(NULL), 0);
    /* the allocator still works */
    void *p = malloc(40);
    assert_owned(p);
    free(p);
}

static void test_free_preserves_errno(void **state)
{
    (void)state;
    enum { BATCH = 300 };
    static void *v[BATCH];
    const int codes[] = { 0, EILSEQ, ENOMEM, EINVAL, EBADF };
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        int batch = n > MiB ? 8 : n > 64 * KiB ? 40 : BATCH;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < batch; i++) {
                v[i] = (i % 5 == 4) ? memalign(256, n) : malloc(n);
                assert_owned(v[i]);
                memset(v[i], 0x5A, n);
            }
            /* free in an order that empties slabs and crosses cache limits */
            for (int k = 0; k < batch; k++) {
                int i = (k * 7 + round) % batch;
                if (!v[i]) {
                    for (i = 0; !v[i]; i++)
                        ;
                }
                int code = codes[(k + t) % 5];
                errno = code;
                free(v[i]);
                if (errno != code)
                    fail_msg("free of a %zu-byte block changed errno from %d to %d", n,
                             code, errno);
                v[i] = NULL;
            }
        }
    }
    /* the other release functions too */
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        void *a = malloc(n), *b = malloc(n), *c = aligned_alloc(4096, n), *d = malloc(n);
        assert_owned(a);
        assert_owned(b);
        assert_owned(c);
        assert_owned(d);
        errno = EILSEQ;
        free_sized(a, n);
        assert_int_equal(errno, EILSEQ);
        cfree(b);
        assert_int_equal(errno, EILSEQ);
        free_aligned_sized(c, 4096, n);
        assert_int_equal(errno, EILSEQ);
        __libc_free(d);
        assert_int_equal(errno, EILSEQ);
    }
}

/* Releasing through `how` really frees: many rounds of allocate + release
 * must not make the resident set grow by what a leak would cost. */
enum release_how { REL_REALLOC0, REL_FREE_SIZED, REL_FREE_ALIGNED_SIZED, REL_CFREE,
                   REL_LIBC_FREE, REL_LIBC_REALLOC0, REL_REALLOCARRAY0 };

static void check_release_frees(enum release_how how, size_t n, size_t iters)
{
    size_t before = rss_bytes();
    assert_true(before > 0);
    for (size_t i = 0; i < iters; i++) {
        void *p = how == REL_FREE_ALIGNED_SIZED ? aligned_alloc(64, n) : malloc(n);
        assert_owned(p);
        /* touch every page (and the first line of a tiny block) */
        for (size_t off = 0; off < n; off += 4096)
            ((volatile char *)p)[off] = (char)i;
        tc_sink = p;
        switch (how) {
        case REL_REALLOC0:
            if (realloc(p, 0) != NULL)
                fail_msg("realloc(%p, 0) did not return NULL", p);
            break;
        case REL_LIBC_REALLOC0:
            if (__libc_realloc(p, 0) != NULL)
                fail_msg("__libc_realloc(%p, 0) did not return NULL", p);
            break;
        case REL_REALLOCARRAY0:
            if (reallocarray(p, 0, 16) != NULL)
                fail_msg("reallocarray(%p, 0, 16) did not return NULL", p);
            break;
        case REL_FREE_SIZED: free_sized(p, n); break;
        case REL_FREE_ALIGNED_SIZED: free_aligned_sized(p, 64, n); break;
        case REL_CFREE: cfree(p); break;
        case REL_LIBC_FREE: __libc_free(p); break;
        }
    }
    size_t after = rss_bytes();
    size_t leak = iters * (n < 4096 ? n : n / 4096 * 4096);
    /* a leak would add `leak` bytes; allow a quarter of it as noise */
    size_t bound = leak / 4;
    if (after > before + bound)
        fail_msg("release kind %d of %zu-byte blocks x %zu: RSS grew from %zu to %zu KiB "
                 "(a leak would be %zu KiB; bound %zu KiB)",
                 (int)how, n, iters, before / 1024, after / 1024, leak / 1024, bound / 1024);
}

static void test_realloc_zero_frees(void **state)
{
    (void)state;
    void *p = malloc(100);
    assert_owned(p);
    assert_null(realloc(p, 0));
    check_release_frees(REL_REALLOC0, 48, 2000000);
    check_release_frees(REL_REALLOC0, 20000, 20000);
    check_release_frees(REL_REALLOC0, 300000, 2000);
    check_release_frees(REL_REALLOC0, 4 * MiB, 128);
    check_release_frees(REL_LIBC_REALLOC0, 48, 2000000);
    check_release_frees(REL_REALLOCARRAY0, 48, 2000000);
}

static void test_realloc_null_is_malloc(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        void *p = realloc(NULL, n);
        assert_owned(p);
        assert_true(malloc_usable_size(p) >= n);
        if (n >= 16)
            assert_aligned(p, 16);
        fill_pattern(p, n, n);
        void *q = realloc(p, n * 2);
        assert_owned(q);
        assert_pattern(q, n, n);
        free(q);
        p = reallocarray(NULL, n, 3);
        assert_owned(p);
        assert_true(malloc_usable_size(p) >= 3 * n);
        memset(p, 1, 3 * n);
        free(p);
    }
}

/* Requests that cannot succeed: above PTRDIFF_MAX, or beyond any address space. */
static const size_t impossible[] = {
    PTRDIFF_MAX_SZ + 1, PTRDIFF_MAX_SZ, SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15,
    SIZE_MAX - 4095, SIZE_MAX - (2u << 20), SIZE_MAX / 2 + 4096, (size_t)1 << 62,
    ((size_t)1 << 62) + 12345,
};
#define N_IMPOSSIBLE (sizeof impossible / sizeof impossible[0])

static void test_malloc_too_big(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_IMPOSSIBLE; i++) {
        size_t n = opaque_size(impossible[i]);
        errno = 0;
        void *p = malloc(n);
        if (p || errno != ENOMEM)
            fail_msg("malloc(%zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        errno = 0;
        p = aligned_alloc(64, n & ~(size_t)63);
        if (p || errno != ENOMEM)
            fail_msg("aligned_alloc(64, %zu) = %p, errno %d; want NULL, ENOMEM",
                     n & ~(size_t)63, p, errno);
        errno = 0;
        p = memalign(4096, n);
        if (p || errno != ENOMEM)
            fail_msg("memalign(4096, %zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        errno = 0;
        p = valloc(n);
        if (p || errno != ENOMEM)
            fail_msg("valloc(%zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        errno = 0;
        p = pvalloc(n);
        if (p || errno != ENOMEM)
            fail_msg("pvalloc(%zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        errno = 0;
        p = __libc_malloc(n);
        if (p || errno != ENOMEM)
            fail_msg("__libc_malloc(%zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        errno = 0;
        p = hak_malloc(n);
        if (p || errno != ENOMEM)
            fail_msg("hak_malloc(%zu) = %p, errno %d; want NULL, ENOMEM", n, p, errno);
        void *sentinel = (void *)&state, *out = sentinel;
        int rc = posix_memalign(&out, 64, n);
        if (rc != ENOMEM)
            fail_msg("posix_memalign(64, %zu) returned %d; want ENOMEM", n, rc);
        if (out != sentinel && out != NULL)
            fail_msg("posix_memalign(64, %zu) failed but set the pointer to %p", n, out);
    }
    /* and the allocator goes on working */
    void *p = malloc(1000);
    assert_owned(p);
    memset(p, 0, 1000);
    free(p);
}

static void test_calloc_overflow(void **state)
{
    (void)state;
    const size_t h = SIZE_MAX / 2 + 1;
    const size_t cases[][2] = {
        { h, 2 }, { 2, h }, { (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX, SIZE_MAX },
        { SIZE_MAX, 2 }, { 3, SIZE_MAX / 3 + 1 }, { 1, SIZE_MAX }, { SIZE_MAX, 1 },
        { 1, PTRDIFF_MAX_SZ + 1 }, { PTRDIFF_MAX_SZ / 2 + 1, 2 }, /* no overflow, too big */
        { 16, PTRDIFF_MAX_SZ / 16 + 1 }, { (size_t)1 << 31, (size_t)1 << 31 },
        { 65536, (size_t)1 << 48 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t a = opaque_size(cases[i][0]), b = opaque_size(cases[i][1]);
        errno = 0;
        void *p = calloc(a, b);
        if (p || errno != ENOMEM)
            fail_msg("calloc(%zu, %zu) = %p, errno %d; want NULL, ENOMEM", a, b, p, errno);
        errno = 0;
        p = __libc_calloc(a, b);
        if (p || errno != ENOMEM)
            fail_msg("__libc_calloc(%zu, %zu) = %p, errno %d; want NULL, ENOMEM", a, b, p,
                     errno);
        errno = 0;
        p = hak_calloc(a, b);
        if (p || errno != ENOMEM)
            fail_msg("hak_calloc(%zu, %zu) = %p, errno %d; want NULL, ENOMEM", a, b, p, errno);
        errno = 0;
        p = reallocarray(NULL, a, b);
        if (p || errno != ENOMEM)
            fail_msg("reallocarray(NULL, %zu, %zu) = %p, errno %d; want NULL, ENOMEM", a, b,
                     p, errno);
    }
    void *p = calloc(opaque_size(1000), 1000);
    assert_owned(p);
    assert_zeroed(p, 1000000);
    free(p);
}

static void test_realloc_failure_keeps_block(void **state)
{
    (void)state;
    const size_t h = SIZE_MAX / 2 + 1;
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        void *p = malloc(n);
        assert_owned(p);
        size_t us = malloc_usable_size(p);
        fill_pattern(p, n, 77 + n);
        for (size_t i = 0; i < N_IMPOSSIBLE; i++) {
            size_t req = opaque_size(impossible[i]);
            errno = 0;
            void *q = realloc(p, req);
            if (q || errno != ENOMEM)
                fail_msg("realloc(%zu-byte block, %zu) = %p, errno %d; want NULL, ENOMEM", n,
                         req, q, errno);
            errno = 0;
            q = __libc_realloc(p, req);
            if (q || errno != ENOMEM)
                fail_msg("__libc_realloc(%zu-byte block, %zu) = %p, errno %d; want NULL, "
                         "ENOMEM", n, req, q, errno);
            assert_pattern(p, n, 77 + n);
            assert_int_equal(malloc_usable_size(p), us);
            assert_owned(p);
        }
        const size_t arr[][2] = {
            { h, 2 }, { SIZE_MAX, SIZE_MAX }, { 3, SIZE_MAX / 3 + 1 },
            { PTRDIFF_MAX_SZ / 2 + 1, 2 }, { 1, PTRDIFF_MAX_SZ + 1 }, { 1, SIZE_MAX },
        };
        for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++) {
            size_t a = opaque_size(arr[i][0]), b = opaque_size(arr[i][1]);
            errno = 0;
            void *q = reallocarray(p, a, b);
            if (q || errno != ENOMEM)
                fail_msg("reallocarray(%zu-byte block, %zu, %zu) = %p, errno %d; want NULL, "
                         "ENOMEM", n, a, b, q, errno);
            assert_pattern(p, n, 77 + n);
        }
        /* the block is still fully usable: it can grow, and be freed */
        void *q = realloc(p, n + 4096);
        assert_owned(q);
        assert_pattern(q, n, 77 + n);
        free(q);
    }
}

static void test_reallocarray(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < 300000; i++) {
        if (i == cap) {
            cap = cap ? cap + cap / 2 + 1 : 4;
            int *w = reallocarray(v, cap, sizeof *w);
            assert_owned(w);
            assert_true(malloc_usable_size(w) >= cap * sizeof *w);
            for (size_t k = 0; k < i; k++)
                if (w[k] != (int)(k * 2654435761u))
                    fail_msg("reallocarray lost element %zu when growing to %zu", k, cap);
            v = w;
        }
        v[i] = (int)(i * 2654435761u);
    }
    v = reallocarray(v, 1000, sizeof *v);
    assert_owned(v);
    for (size_t k = 0; k < 1000; k++)
        assert_int_equal(v[k], (int)(k * 2654435761u));
    free(v);
}

/* ------------------------------------------------------------------ alignment */

static void test_posix_memalign_einval(void **state)
{
    (void)state;
    const size_t bad[] = { 0, 1, 2, 4, 3, 5, 6, 7, 12, 24, 40, 48, 96, 100, 4095, 4097,
                           (1u << 20) + 8, 3u << 20, 24u << 20, SIZE_MAX, SIZE_MAX - 7,
                           SIZE_MAX / 2, (SIZE_MAX / 2 + 1) | 8 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t n = 0; n <= 4096; n += 1024) {
            void *sentinel = (void *)&bad[i], *out = sentinel;
            errno = 0;
            int rc = posix_memalign(&out, opaque_size(bad[i]), n);
            if (rc != EINVAL)
                fail_msg("posix_memalign(alignment %zu, %zu) returned %d; want EINVAL",
                         bad[i], n, rc);
            if (out != sentinel)
                fail_msg("posix_memalign(alignment %zu) failed but changed the pointer to %p",
                         bad[i], out);
        }
    }
    /* a valid but unsatisfiable alignment is ENOMEM, not EINVAL */
    void *sentinel = (void *)&sentinel, *out = sentinel;
    int rc = posix_memalign(&out, opaque_size(SIZE_MAX / 2 + 1), 1);
    if (rc != ENOMEM)
        fail_msg("posix_memalign(alignment 2^63, 1) returned %d; want ENOMEM", rc);
    if (out != sentinel && out != NULL)
        fail_msg("posix_memalign(2^63) failed but set the pointer to %p", out);
    /* every valid alignment works */
    for (size_t a = sizeof(void *); a <= 2 * MiB; a *= 2) {
        const size_t sizes[] = { 0, 1, a - 1, a, a + 1, 3 * a };
        for (size_t i = 0; i < 6; i++) {
            void *p = NULL;
            rc = posix_memalign(&p, a, sizes[i]);
            if (rc != 0)
                fail_msg("posix_memalign(%zu, %zu) returned %d", a, sizes[i], rc);
            assert_owned(p);
            assert_aligned(p, a);
            assert_true(malloc_usable_size(p) >= sizes[i]);
            memset(p, 0xC3, sizes[i]);
            free(p);
        }
    }
}

/* errno as glibc leaves it (malloc/malloc.c, __posix_memalign): a bad
 * alignment returns EINVAL without touching errno; a request that cannot be
 * met returns ENOMEM and, since the allocation under it failed, errno is
 * ENOMEM too (programs check either); success leaves errno alone.  Issue 16:
 * hakmem restored errno on failure. */
static void test_posix_memalign_errno(void **state)
{
    (void)state;
    const size_t fail[][2] = {
        { 64, SIZE_MAX - 4096 }, { 8, SIZE_MAX }, { 16, PTRDIFF_MAX_SZ + 1 },
        { 4096, SIZE_MAX / 2 }, { 2 * MiB, SIZE_MAX - 2 * MiB }, { SIZE_MAX / 2 + 1, 1 },
        { (size_t)1 << 62, 100 },
    };
    for (size_t i = 0; i < sizeof fail / sizeof fail[0]; i++) {
        void *sentinel = (void *)&fail[i], *out = sentinel;
        errno = 0;
        int rc = posix_memalign(&out, opaque_size(fail[i][0]), opaque_size(fail[i][1]));
        int e = errno;
        if (rc != ENOMEM || e != ENOMEM)
            fail_msg("posix_memalign(%zu, %zu) returned %d with errno %d; want ENOMEM and errno ENOMEM",
                     fail[i][0], fail[i][1], rc, e);
        if (out != sentinel)
            fail_msg("posix_memalign(%zu, %zu) failed but set the pointer to %p", fail[i][0], fail[i][1], out);
    }
    const size_t bad[] = { 0, 4, 24, 100, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = NULL;
        errno = EBADF;
        int rc = posix_memalign(&out, opaque_size(bad[i]), 100);
        if (rc != EINVAL || errno != EBADF)
            fail_msg("posix_memalign(%zu, 100) returned %d, errno %d; want EINVAL with errno untouched",
                     bad[i], rc, errno);
    }
    for (size_t a = 8; a <= 8 * MiB; a *= 8) {
        void *out = NULL;
        errno = EBADF;
        int rc = posix_memalign(&out, a, 1000);
        if (rc != 0 || errno != EBADF)
            fail_msg("posix_memalign(%zu, 1000) returned %d, errno %d; want 0 with errno untouched", a, rc, errno);
        assert_owned(out);
        free(out);
    }
}

static void test_aligned_alloc_and_memalign(void **state)
{
    (void)state;
    for (size_t a = 1; a <= 4 * MiB; a *= 2) {
        const size_t sizes[] = { a, 2 * a, a / 2 + 1, 1, 100, 5000 };
        for (size_t i = 0; i < 6; i++) {
            size_t n = sizes[i];
            void *p = aligned_alloc(a, n);
            assert_owned(p);
            assert_aligned(p, a);
            assert_true(malloc_usable_size(p) >= n);
            memset(p, 0xA5, n);
            void *q = memalign(a, n);
            assert_owned(q);
            assert_aligned(q, a);
            assert_true(malloc_usable_size(q) >= n);
            memset(q, 0x5A, n);
            void *r = __libc_memalign(a, n);
            assert_owned(r);
            assert_aligned(r, a);
            memset(r, 0x11, n);
            void *s = hak_aligned_alloc(a, n);
            assert_owned(s);
            assert_aligned(s, a);
            memset(s, 0x22, n);
            for (size_t k = 0; k < n; k++)
                if (((unsigned char *)p)[k] != 0xA5)
                    fail_msg("aligned_alloc(%zu, %zu) block overlaps another at %zu", a, n, k);
            free(p);
            free(q);
            __libc_free(r);
            hak_free(s);
        }
    }
    /* memalign as glibc: every alignment up to 2^63 is rounded up and tried
     * (ENOMEM when it cannot be met); only one above 2^63 is EINVAL
     * (glibc's tst-malloc-too-large) */
    for (size_t a = (size_t)1 << 61; a; a <<= 1) {
        size_t aligns[] = { a, a + 1 };
        for (int k = 0; k < 2; k++) {
            errno = 0;
            void *p = memalign(opaque_size(aligns[k]), opaque_size(SIZE_MAX / 2));
            int want = aligns[k] > SIZE_MAX / 2 + 1 ? EINVAL : ENOMEM;
            if (p || errno != want)
                fail_msg("memalign(%zu, SIZE_MAX / 2) = %p, errno %d; want NULL, %s", aligns[k], p, errno,
                         want == EINVAL ? "EINVAL" : "ENOMEM");
        }
    }
    /* aligned_alloc: an alignment that is not a power of two is EINVAL */
    const size_t bad[] = { 0, 3, 5, 6, 12, 24, 48, 1000, 4097, 3u << 20, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t a = opaque_size(bad[i]);
        errno = 0;
        void *p = aligned_alloc(a, 96);
        if (p || errno != EINVAL)
            fail_msg("aligned_alloc(%zu, 96) = %p, errno %d; want NULL, EINVAL", a, p, errno);
        errno = 0;
        p = hak_aligned_alloc(a, 96);
        if (p || errno != EINVAL)
            fail_msg("hak_aligned_alloc(%zu, 96) = %p, errno %d; want NULL, EINVAL", a, p,
                     errno);
        /* memalign: glibc rounds such an alignment up; either that or EINVAL */
        if (a == 0 || a > 4 * MiB)
            continue;
        errno = 0;
        p = memalign(a, 96);
        if (p) {
            size_t up = 1;
            while (up < a)
                up *= 2;
            assert_owned(p);
            assert_aligned(p, up);
            memset(p, 1, 96);
            free(p);
        } else {
            assert_int_equal(errno, EINVAL);
        }
    }
}

static void test_valloc_pvalloc(void **state)
{
    (void)state;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t sizes[] = { 1, 100, page - 1, page, page + 1, 2 * page + 1, 100000,
                             3 * MiB + 1, 5 * MiB };
    void *keep[2 * 9];
    for (size_t i = 0; i < 9; i++) {
        size_t n = sizes[i];
        void *p = valloc(n);
        assert_owned(p);
        assert_aligned(p, page);
        assert_true(malloc_usable_size(p) >= n);
        memset(p, 0x33, malloc_usable_size(p));
        size_t rounded = (n + page - 1) / page * page;
        void *q = pvalloc(n);
        assert_owned(q);
        assert_aligned(q, page);
        if (malloc_usable_size(q) < rounded)
            fail_msg("pvalloc(%zu): usable size %zu, want at least the page-rounded %zu", n,
                     malloc_usable_size(q), rounded);
        memset(q, 0x44, malloc_usable_size(q));
        keep[2 * i] = p;
        keep[2 * i + 1] = q;
    }
    for (size_t i = 0; i < 9; i++) {
        unsigned char *p = keep[2 * i], *q = keep[2 * i + 1];
        for (size_t k = 0; k < malloc_usable_size(p); k++)
            if (p[k] != 0x33)
                fail_msg("valloc(%zu) block changed at %zu", sizes[i], k);
        for (size_t k = 0; k < malloc_usable_size(q); k++)
            if (q[k] != 0x44)
                fail_msg("pvalloc(%zu) block changed at %zu", sizes[i], k);
        free(p);
        free(q);
    }
    void *p = pvalloc(0);
    assert_owned(p);
    assert_aligned(p, page);
    free(p);
    p = valloc(0);
    assert_owned(p);
    assert_aligned(p, page);
    free(p);
    /* the page rounding itself must not overflow */
    errno = 0;
    p = pvalloc(opaque_size(SIZE_MAX - page + 2));
    if (p || errno != ENOMEM)
        fail_msg("pvalloc(SIZE_MAX - page + 2) = %p, errno %d; want NULL, ENOMEM", p, errno);
}

/* ---------------------------------------------------- usable size, alignment */

/* Allocate `count` blocks of n bytes, write each one's whole usable size, then
 * check that every block still holds what was written to it. */
static void check_usable_group(size_t n, int count)
{
    void *v[16];
    size_t us[16];
    assert_true(count <= 16);
    for (int i = 0; i < count; i++) {
        v[i] = malloc(n);
        assert_owned(v[i]);
        us[i] = malloc_usable_size(v[i]);
        if (us[i] < n)
            fail_msg("malloc_usable_size(malloc(%zu)) = %zu", n, us[i]);
        if (n >= 16)
            assert_aligned(v[i], 16);
        else if (n >= 8)
            assert_aligned(v[i], 8);
        fill_pattern(v[i], us[i], (uint64_t)i * 1000003 + n);
    }
    for (int i = 0; i < count; i++) {
        size_t bad = check_pattern(v[i], us[i], (uint64_t)i * 1000003 + n);
        if (bad != (size_t)-1)
            fail_msg("malloc(%zu): after writing the whole usable size (%zu) of %d blocks, "
                     "block %d changed at offset %zu", n, us[i], count, i, bad);
        if (malloc_usable_size(v[i]) != us[i])
            fail_msg("malloc_usable_size changed from %zu to %zu", us[i],
                     malloc_usable_size(v[i]));
    }
    for (int i = 0; i < count; i++)
        free(v[i]);
}

static void test_usable_size(void **state)
{
    (void)state;
    assert_int_equal(malloc_usable_size(NULL), 0);
    assert_int_equal(hak_usable_size(NULL), 0);
    for (size_t n = 0; n <= 4200; n++)
        check_usable_group(n, 12);
    for (size_t n = 4200; n <= 70000; n += 61)
        check_usable_group(n, 4);
    for (size_t n = 70000; n <= 10 * MiB; n += n / 13 + 4093) {
        check_usable_group(n - 1, 2);
        check_usable_group(n, 2);
    }
    check_usable_group(32 * MiB + 1, 2);
}

static void test_alignment_16(void **state)
{
    (void)state;
    enum { K = 24 };
    void *v[K];
    for (size_t n = 1; n <= 4096; n++) {
        size_t want = n >= 16 ? 16 : n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
        for (int i = 0; i < K; i++) {
            v[i] = malloc(n);
            assert_owned(v[i]);
            if ((uintptr_t)v[i] & (want - 1))
                fail_msg("malloc(%zu) = %p is not %zu-aligned", n, v[i], want);
        }
        for (int i = 0; i < K; i++)
            free(v[i]);
        /* calloc and realloc too */
        void *p = calloc(1, n);
        assert_owned(p);
        assert_aligned(p, want);
        void *q = realloc(p, n + 1);
        assert_owned(q);
        assert_aligned(q, n + 1 >= 16 ? 16 : 1);
        free(q);
    }
    for (size_t n = 4096; n <= 12 * MiB; n += n / 7 + 1) {
        for (int i = 0; i < 3; i++) {
            v[i] = malloc(n);
            assert_owned(v[i]);
            assert_aligned(v[i], 16);
        }
        for (int i = 0; i < 3; i++)
            free(v[i]);
    }
}

/* ------------------------------------------------------ the other entry points */

static void test_free_sized_family(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        void *p = malloc(n);
        assert_owned(p);
        memset(p, 1, n);
        free_sized(p, n);
        for (size_t a = 16; a <= 2 * MiB; a *= 8) {
            size_t m = (n + a - 1) / a * a;
            p = aligned_alloc(a, m);
            assert_owned(p);
            assert_aligned(p, a);
            memset(p, 2, m);
            free_aligned_sized(p, a, m);
        }
        p = calloc(1, n);
        assert_owned(p);
        cfree(p);
    }
    check_release_frees(REL_FREE_SIZED, 64, 1000000);
    check_release_frees(REL_FREE_SIZED, 3 * MiB, 64);
    check_release_frees(REL_FREE_ALIGNED_SIZED, 64, 1000000);
    check_release_frees(REL_FREE_ALIGNED_SIZED, 3 * MiB, 64);
    check_release_frees(REL_CFREE, 64, 1000000);
    check_release_frees(REL_LIBC_FREE, 64, 1000000);
    check_release_frees(REL_LIBC_FREE, 3 * MiB, 64);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static struct mallinfo call_mallinfo(void) { return mallinfo(); }
#pragma GCC diagnostic pop

static void test_mallinfo_stats_trim_mallopt(void **state)
{
    (void)state;
    const size_t live = 8 * MiB;
    char *big = malloc(live);
    assert_owned(big);
    memset(big, 7, live);
    void *small[1000];
    for (int i = 0; i < 1000; i++) {
        small[i] = malloc(100);
        assert_owned(small[i]);
    }
    struct mallinfo2 mi = mallinfo2();
    /* bytes in use, in the main heap or in separate mappings */
    if (mi.uordblks + mi.hblkhd < live)
        fail_msg("mallinfo2 with %zu bytes live: uordblks %zu + hblkhd %zu", live,
                 mi.uordblks, mi.hblkhd);
    struct mallinfo m1 = call_mallinfo();
    (void)m1;

    int tmp;
    char buf[4096];
    int saved = stderr_capture_begin(&tmp);
    assert_true(saved >= 0);
    malloc_stats();
    size_t len = stderr_capture_end(saved, tmp, buf, sizeof buf);
    if (len == 0)
        fail_msg("malloc_stats() wrote nothing to stderr");

    for (int i = 0; i < 1000; i++)
        free(small[i]);
    free(big);
    int r = malloc_trim(0);
    assert_true(r == 0 || r == 1);
    r = malloc_trim(1 * MiB);
    assert_true(r == 0 || r == 1);
    r = hak_trim();
    assert_true(r == 0 || r == 1);

    const int params[][2] = { { M_MMAP_THRESHOLD, 1 << 20 }, { M_TRIM_THRESHOLD, 1 << 22 },
                              { M_TOP_PAD, 0 }, { M_ARENA_MAX, 2 }, { M_MXFAST, 64 },
                              { M_MMAP_MAX, 65536 }, { M_CHECK_ACTION, 3 } };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        r = mallopt(params[i][0], params[i][1]);
        assert_true(r == 0 || r == 1);
    }
    /* still works after all of that */
    for (size_t t = 0; t < N_TIER; t++) {
        void *p = malloc(tier_sizes[t]);
        assert_owned(p);
        memset(p, 3, tier_sizes[t]);
        free(p);
    }
}

static void test_libc_aliases(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        char *p = __libc_malloc(n);
        assert_owned(p);
        assert_true(malloc_usable_size(p) >= n);
        fill_pattern(p, n, n);
        char *q = __libc_realloc(p, 2 * n + 10);
        assert_owned(q);
        assert_pattern(q, n, n);
        free(q); /* mixes freely with the plain API */

        p = malloc(n);
        assert_owned(p);
        memset(p, 0xAA, n);
        __libc_free(p);
        p = __libc_calloc(n, 1);
        assert_owned(p);
        assert_zeroed(p, n);
        __libc_free(p);

        p = __libc_memalign(4096, n);
        assert_owned(p);
        assert_aligned(p, 4096);
        memset(p, 1, n);
        q = __libc_realloc(NULL, n);
        assert_owned(q);
        free(p);
        __libc_free(q);
    }
    __libc_free(NULL);
}

static void test_prefixed_api(void **state)
{
    (void)state;
    void *z1 = hak_malloc(0), *z2 = hak_malloc(0);
    assert_owned(z1);
    assert_owned(z2);
    assert_ptr_not_equal(z1, z2);
    hak_free(z1);
    hak_free(z2);
    for (size_t t = 0; t < N_TIER; t++) {
        size_t n = tier_sizes[t];
        char *p = hak_malloc(n);
        assert_owned(p);
        assert_true(hak_usable_size(p) >= n);
        assert_int_equal(hak_usable_size(p), malloc_usable_size(p));
        fill_pattern(p, n, n + 3);
        char *q = hak_realloc(p, n + 5000);
        assert_owned(q);
        assert_pattern(q, n, n + 3);
        assert_null(hak_realloc(q, 0));
        p = hak_calloc(n, 1);
        assert_owned(p);
        assert_zeroed(p, n);
        hak_free(p);
    }
    assert_int_equal(hak_stats_get(NULL), -1);
    hak_stats_t st;
    memset(&st, 0xFF, sizeof st);
    assert_int_equal(hak_stats_get(&st), 0);

    /* hak_stats_print(json=1): one line of JSON */
    int tmp;
    char buf[16384];
    int saved = stderr_capture_begin(&tmp);
    hak_stats_print(2, 1);
    size_t len = stderr_capture_end(saved, tmp, buf, sizeof buf);
    assert_true(len > 2 && len < sizeof buf);
    if (buf[0] != '{' || buf[len - 1] != '\n' || buf[len - 2] != '}' ||
        memchr(buf, '\n', len - 1))
        fail_msg("hak_stats_print(fd, 1) should write one line of JSON, wrote: %s", buf);
    /* hak_config_print: names the HAKMEM_* variables */
    saved = stderr_capture_begin(&tmp);
    hak_config_print(2);
    len = stderr_capture_end(saved, tmp, buf, sizeof buf);
    if (!strstr(buf, "HAKMEM_VERBOSE") || !strstr(buf, "HAKMEM_STATS"))
        fail_msg("hak_config_print does not list HAKMEM_VERBOSE and HAKMEM_STATS: %s", buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_zero_unique),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_free_preserves_errno),
        cmocka_unit_test(test_realloc_zero_frees),
        cmocka_unit_test(test_realloc_null_is_malloc),
        cmocka_unit_test(test_malloc_too_big),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_realloc_failure_keeps_block),
        cmocka_unit_test(test_reallocarray),
        cmocka_unit_test(test_posix_memalign_einval),
        cmocka_unit_test(test_posix_memalign_errno),
        cmocka_unit_test(test_aligned_alloc_and_memalign),
        cmocka_unit_test(test_valloc_pvalloc),
        cmocka_unit_test(test_usable_size),
        cmocka_unit_test(test_alignment_16),
        cmocka_unit_test(test_free_sized_family),
        cmocka_unit_test(test_mallinfo_stats_trim_mallopt),
        cmocka_unit_test(test_libc_aliases),
        cmocka_unit_test(test_prefixed_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

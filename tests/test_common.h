/* test_common.h — helpers shared by hakmem's black-box tests (tests/test_*.c).
 *
 * Every test binary links -lhakmem, so malloc & co. are hakmem's; the tests
 * check that with hak_owns() on the blocks they get.
 */
#ifndef HAKMEM_TEST_COMMON_H
#define HAKMEM_TEST_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" { /* cmocka 1.1's header has no C++ guard */
#include <cmocka.h>
}
#else
#include <cmocka.h>
#endif

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"

/* The tests use a block after a realloc that failed (it must be intact) and
 * pass foreign pointers to free on purpose. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* Entry points glibc 2.36's headers do not declare (or no longer declare). */
#ifdef __cplusplus
extern "C" {
#endif
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t alignment, size_t size);
void cfree(void *p);
#ifdef __cplusplus
}
#endif

/* Fails the test (at the caller's line) unless p is a non-NULL hakmem block. */
#define assert_owned(p)                                                        \
    do {                                                                       \
        const void *ao_p_ = (p);                                               \
        assert_non_null(ao_p_);                                                \
        if (!hak_owns(ao_p_))                                                  \
            fail_msg("%p (%s) is not owned by hakmem", ao_p_, #p);             \
    } while (0)

#define assert_aligned(p, a)                                                   \
    do {                                                                       \
        uintptr_t aa_p_ = (uintptr_t)(p);                                      \
        size_t aa_a_ = (a);                                                    \
        if (aa_p_ & (aa_a_ - 1))                                               \
            fail_msg("%p (%s) is not %zu-aligned", (void *)aa_p_, #p, aa_a_);  \
    } while (0)

static inline uint64_t tc_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The pattern word k of a block with this seed. */
static inline uint64_t tc_word(uint64_t seed, size_t k)
{
    return tc_mix64(seed + (uint64_t)k * 0x9E3779B97F4A7C15ULL);
}

/* Seed derived from a block's address and size (the stress tests' rule). */
static inline uint64_t tc_seed(const void *p, size_t n)
{
    return tc_mix64((uint64_t)(uintptr_t)p * 31 + n);
}

/* Fill n bytes at p with the pattern of seed. */
static inline void fill_pattern(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t k = 0;
    for (; (k + 1) * 8 <= n; k++) {
        uint64_t w = tc_word(seed, k);
        memcpy(b + k * 8, &w, 8);
    }
    if (k * 8 < n) {
        uint64_t w = tc_word(seed, k);
        memcpy(b + k * 8, &w, n - k * 8);
    }
}

/* Write the pattern of seed over bytes [from, to) of p only (the same bytes
 * fill_pattern(p, to, seed) would put there). */
static inline void fill_pattern_range(void *p, size_t from, size_t to, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t i = from;
    while (i < to && (i & 7)) {
        b[i] = (unsigned char)(tc_word(seed, i / 8) >> (8 * (i & 7)));
        i++;
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w = tc_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    for (; i < to; i++)
        b[i] = (unsigned char)(tc_word(seed, i / 8) >> (8 * (i & 7)));
}

/* Offset of the first byte of p[0..n) that differs from the pattern, or
 * (size_t)-1 when all match. */
static inline size_t check_pattern(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t k = 0;
    for (; (k + 1) * 8 <= n; k++) {
        uint64_t w = tc_word(seed, k);
        if (memcmp(b + k * 8, &w, 8) != 0)
            goto find;
    }
    if (k * 8 < n) {
        uint64_t w = tc_word(seed, k);
        if (memcmp(b + k * 8, &w, n - k * 8) != 0)
            goto find;
    }
    return (size_t)-1;
find:
    for (size_t i = k * 8; i < n; i++) {
        uint64_t w = tc_word(seed, i / 8);
        if (b[i] != (unsigned char)(w >> (8 * (i % 8))))
            return i;
    }
    return (size_t)-1;
}

/* Like check_pattern, for bytes [from, to) written by fill_pattern_range. */
static inline size_t check_pattern_range(const void *p, size_t from, size_t to, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = from; i < to; i++)
        if (b[i] != (unsigned char)(tc_word(seed, i / 8) >> (8 * (i & 7))))
            return i;
    return (size_t)-1;
}

#define assert_pattern(p, n, seed)                                             \
    do {                                                                       \
        size_t ap_bad_ = check_pattern((p), (n), (seed));                      \
        if (ap_bad_ != (size_t)-1)                                             \
            fail_msg("block %p (%s), %zu bytes: contents changed at offset %zu", \
                     (const void *)(p), #p, (size_t)(n), ap_bad_);             \
    } while (0)

/* Offset of the first non-zero byte of p[0..n), or (size_t)-1. */
static inline size_t first_nonzero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w)
            break;
    }
    for (; i < n; i++)
        if (b[i])
            return i;
    return (size_t)-1;
}

#define assert_zeroed(p, n)                                                    \
    do {                                                                       \
        size_t az_bad_ = first_nonzero((p), (n));                              \
        if (az_bad_ != (size_t)-1)                                             \
            fail_msg("block %p (%s), %zu bytes: byte %zu is 0x%02x, not 0",    \
                     (const void *)(p), #p, (size_t)(n), az_bad_,              \
                     ((const unsigned char *)(p))[az_bad_]);                   \
    } while (0)

/* Resident set size of this process, in bytes (from /proc/self/statm). */
static inline size_t rss_bytes(void)
{
    char buf[128];
    FILE *f = fopen("/proc/self/statm", "r");
    size_t size = 0, res = 0;
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f) || sscanf(buf, "%zu %zu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Small deterministic PRNG (xorshift64*) for the stress tests. */
typedef struct { uint64_t s; } tc_rng;
static inline uint64_t tc_next(tc_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline uint64_t tc_below(tc_rng *r, uint64_t n) { return tc_next(r) % n; }

/* Hide a value from the compiler, so that impossible sizes in calls to
 * malloc & co. are not diagnosed (-Walloc-size-larger-than) nor folded. */
static inline size_t opaque_size(size_t x)
{
    volatile size_t v = x;
    return v;
}

/* Keeps pointers observable so the compiler cannot elide allocations. */
extern void *volatile tc_sink;
#define TC_DEFINE_SINK void *volatile tc_sink

/* Redirect fd 2 into a fresh unlinked temp file. Returns the saved fd 2;
 * *tmp gets the temp file's fd. */
static inline int stderr_capture_begin(int *tmp)
{
    char path[] = "/tmp/hakmem-test-stderr-XXXXXX";
    *tmp = -1;
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *tmp = fd;
    return saved;
}

/* Restore fd 2 and read what was written (NUL-terminated, at most cap-1
 * bytes) into buf. Returns the number of bytes written to the capture. */
static inline size_t stderr_capture_end(int saved, int tmp, char *buf, size_t cap)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(tmp, 0, SEEK_END);
    size_t got = 0;
    if (cap) {
        ssize_t r = pread(tmp, buf, cap - 1, 0);
        got = r > 0 ? (size_t)r : 0;
        buf[got] = 0;
    }
    close(tmp);
    return len > 0 ? (size_t)len : 0;
}

#endif

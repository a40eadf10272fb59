/* fuzz_ops.c — libFuzzer harness: the input is a program of allocator
 * operations over hakmem's prefixed API, interpreted against a table of
 * live blocks, with the invariants checked after every step:
 *
 *   - a successful allocation is hakmem's (hak_owns), aligned (16 bytes for
 *     requests of 16 or more, or the requested alignment), and its usable
 *     size is at least the request;
 *   - live blocks never overlap (the whole usable range of each);
 *   - contents survive: every block carries a pattern (of a per-block seed,
 *     not of its address, so it survives realloc moves), checked before every
 *     free and realloc and by an explicit check op; realloc keeps the prefix;
 *   - calloc memory is zero; hak_usable_size is stable while a block lives;
 *   - impossible requests fail cleanly: NULL with ENOMEM (sizes beyond
 *     PTRDIFF_MAX, calloc overflow) or EINVAL (alignment not a power of
 *     two), and a failed realloc leaves the block intact.
 *
 * Blocks can also be freed, realloc'd and allocated by a helper thread (in
 * lock step with the fuzzer's thread, so runs stay deterministic): the
 * cross-thread free and remote-list paths.
 *
 * Built against a library compiled with OVERRIDE=0 (only hak_* exported),
 * so libFuzzer's and the sanitizers' own allocations stay on their
 * allocator: make fuzz (tests/reliability.mk).  HAKMEM_PROFILE picks the
 * profile (read once, at the library's first use).
 *
 * Program format: a sequence of ops, each an opcode byte followed by its
 * argument bytes (missing bytes read as 0; the program ends with the input).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define SLOTS 64
#define LIVE_LIMIT ((size_t)24 << 20)   /* bytes of live requests (keeps runs fast) */
#define HEAD 4096                       /* pattern coverage of big blocks: head and tail */

struct block {
    unsigned char *p;
    size_t n;       /* requested */
    size_t usable;
    size_t align;
    uint8_t seed;
};
static struct block live[SLOTS];
static size_t live_bytes;

/* ---- input reading ---- */

struct in {
    const uint8_t *d;
    size_t n, i;
};
static uint8_t u8(struct in *in) { return in->i < in->n ? in->d[in->i++] : 0; }
static uint16_t u16(struct in *in) { uint16_t a = u8(in); return (uint16_t)(a | (u8(in) << 8)); }

/* A request size: mostly small, every tier reachable, class edges favoured. */
static size_t size_arg(struct in *in) {
    uint8_t t = u8(in);
    uint16_t v = u16(in);
    switch (t & 7) {
    case 0: return v % 129;                                    /* 0..128 */
    case 1: return v % 1025;                                   /* tiny */
    case 2: return 1025 + v % (32 * 1024);                     /* small */
    case 3: return (size_t)32 * 1024 + (size_t)v * 15;          /* large (to ~1 MiB) */
    case 4: {                                                  /* a power of two, +-1 */
        size_t b = (size_t)1 << (v % 23);
        size_t d = (v >> 8) % 3;
        return d == 0 ? b : d == 1 ? b + 1 : b - 1;
    }
    case 5: return (size_t)1024 * 1024 + (size_t)v * 40;       /* huge (to ~3.5 MiB) */
    case 6: return (size_t)(t >> 3) * 1024 + (v & 1023);      /* 0..32 KiB, any byte */
    default: return v;                                         /* 0..64 KiB */
    }
}

static size_t align_arg(struct in *in) {
    uint8_t a = u8(in);
    if ((a & 0xC0) == 0xC0) return (size_t)1 << (a % 23);   /* up to 4 MiB */
    return (size_t)1 << (a % 13);                            /* 1 .. 4 KiB */
}

/* ---- invariants ---- */

static void die(const char *what, const void *p, size_t n) {
    fprintf(stderr, "fuzz_ops: invariant broken: %s (block %p, size %zu)\n", what, p, n);
    abort();
}

/* The pattern loops are not worth coverage feedback (and cost most of the
 * time with it). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

static uint8_t pat(uint8_t seed, size_t i) { return (uint8_t)(seed * 31 + (i * 7) + (i >> 8)); }

/* The covered ranges: everything up to 2*HEAD bytes, else head and tail. */
NO_COVERAGE static void fill(struct block *b, size_t from) {
    size_t n = b->n;
    if (n <= 2 * HEAD) {
        for (size_t i = from; i < n; i++) b->p[i] = pat(b->seed, i);
        return;
    }
    for (size_t i = from; i < HEAD; i++) b->p[i] = pat(b->seed, i);
    for (size_t i = n - HEAD > from ? n - HEAD : from; i < n; i++) b->p[i] = pat(b->seed, i);
}

/* Bytes [0, keep) of the pattern the block had at size n. */
NO_COVERAGE static void check(const unsigned char *p, size_t n, size_t keep, uint8_t seed) {
    if (keep > n) keep = n;
    size_t h = n <= 2 * HEAD ? keep : (keep < HEAD ? keep : HEAD);
    for (size_t i = 0; i < h; i++)
        if (p[i] != pat(seed, i)) die("contents changed", p, n);
    if (n > 2 * HEAD)
        for (size_t i = n - HEAD; i < keep; i++)
            if (p[i] != pat(seed, i)) die("contents changed (tail)", p, n);
}

static void check_new(unsigned char *p, size_t n, size_t align, int slot) {
    if (!hak_owns(p)) die("new block not owned by hakmem", p, n);
    size_t a = align > 16 ? align : n >= 16 ? 16 : 1;
    if ((uintptr_t)p & (a - 1)) die("new block misaligned", p, n);
    size_t u = hak_usable_size(p);
    if (u < n) die("usable size below the request", p, n);
    uintptr_t lo = (uintptr_t)p, hi = lo + (u ? u : 1);
    for (int i = 0; i < SLOTS; i++) {
        if (i == slot || !live[i].p) continue;
        uintptr_t l2 = (uintptr_t)live[i].p, h2 = l2 + (live[i].usable ? live[i].usable : 1);
        if (lo < h2 && l2 < hi) die("new block overlaps a live block", p, n);
    }
}

static void check_live(const struct block *b) {
    if (!hak_owns(b->p)) die("live block no longer owned", b->p, b->n);
    if (hak_usable_size(b->p) != b->usable) die("usable size of a live block changed", b->p, b->n);
    check(b->p, b->n, b->n, b->seed);
}

/* ---- the helper thread (lock step) ---- */

enum { H_NONE, H_FREE, H_REALLOC, H_ALLOC, H_QUIT };
static pthread_mutex_t h_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t h_cond = PTHREAD_COND_INITIALIZER;
static int h_op, h_done;
static void *h_ptr;
static size_t h_size;
static void *h_result;
static int h_errno;

static void *helper(void *arg) {
    (void)arg;
    pthread_mutex_lock(&h_lock);
    for (;;) {
        while (h_op == H_NONE) pthread_cond_wait(&h_cond, &h_lock);
        int op = h_op;
        pthread_mutex_unlock(&h_lock);
        errno = 0;
        if (op == H_FREE) hak_free(h_ptr);
        else if (op == H_REALLOC) h_result = hak_realloc(h_ptr, h_size);
        else if (op == H_ALLOC) h_result = hak_malloc(h_size);
        h_errno = errno;
        pthread_mutex_lock(&h_lock);
        h_op = H_NONE;
        h_done = 1;
        pthread_cond_broadcast(&h_cond);
        if (op == H_QUIT) break;
    }
    pthread_mutex_unlock(&h_lock);
    return NULL;
}

static void helper_run(int op, void *p, size_t n) {
    static pthread_t th;
    static int started;
    if (!started) {
        if (pthread_create(&th, NULL, helper, NULL) != 0) abort();
        started = 1;
    }
    pthread_mutex_lock(&h_lock);
    h_op = op;
    h_ptr = p;
    h_size = n;
    h_done = 0;
    pthread_cond_broadcast(&h_cond);
    while (!h_done) pthread_cond_wait(&h_cond, &h_lock);
    pthread_mutex_unlock(&h_lock);
}

/* ---- operations ---- */

static void drop(int s, int remote) {
    struct block *b = &live[s];
    if (!b->p) return;
    check_live(b);
    if (remote) helper_run(H_FREE, b->p, 0);
    else hak_free(b->p);
    live_bytes -= b->n;
    b->p = NULL;
}

NO_COVERAGE static int nonzero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 1;
    return 0;
}

static void adopt(int s, unsigned char *p, size_t n, size_t align, uint8_t seed, int zeroed) {
    check_new(p, n, align, s);
    if (zeroed && nonzero(p, n <= 2 * HEAD ? n : HEAD)) die("calloc memory not zero", p, n);
    struct block *b = &live[s];
    *b = (struct block){p, n, hak_usable_size(p), align, seed};
    live_bytes += n;
    fill(b, 0);
}

static int too_big(size_t n) { return n > LIVE_LIMIT || live_bytes + n > LIVE_LIMIT; }

static void do_realloc(int s, size_t n, int remote) {
    struct block *b = &live[s];
    check_live(b);
    if (too_big(n > b->n ? n - b->n : 0)) return;
    errno = 0;
    unsigned char *q;
    int e;
    if (remote) {
        helper_run(H_REALLOC, b->p, n);
        q = h_result;
        e = h_errno;
    } else {
        q = hak_realloc(b->p, n);
        e = errno;
    }
    if (n == 0) {   /* glibc semantics: frees, returns NULL */
        if (q) die("realloc(p, 0) returned a block", q, 0);
        live_bytes -= b->n;
        b->p = NULL;
        return;
    }
    if (!q) {
        if (e != ENOMEM) die("realloc failed without ENOMEM", b->p, n);
        check_live(b);   /* intact */
        return;
    }
    struct block old = *b;
    b->p = NULL;   /* not live while checking the new one against the others */
    check_new(q, n, 1, s);
    check(q, old.n, old.n < n ? old.n : n, old.seed);
    *b = (struct block){q, n, hak_usable_size(q), 1, old.seed};
    live_bytes = live_bytes - old.n + n;
    /* the prefix is already right; write the pattern where it is not (all
     * of it when either size only had head and tail covered) */
    if (old.n > 2 * HEAD || n > 2 * HEAD) fill(b, 0);
    else if (n > old.n) fill(b, old.n);
}

static void impossible(uint8_t k, int s) {
    void *p;
    errno = 0;
    switch (k % 8) {
    case 0: p = hak_malloc((size_t)PTRDIFF_MAX + 1 + k); break;
    case 1: p = hak_malloc(SIZE_MAX - k); break;
    case 2: p = hak_calloc(SIZE_MAX / 2 + 1, 2 + k); break;
    case 3: p = hak_aligned_alloc(24 + (size_t)k * 8, 100); if (p || errno != EINVAL) die("bad alignment accepted", p, 100); return;
    case 4: p = hak_aligned_alloc(0, 100); if (p || errno != EINVAL) die("alignment 0 accepted", p, 100); return;
    case 5: p = hak_aligned_alloc((size_t)1 << 62, 64); break;
    case 6:
        if (!live[s].p) return;
        p = hak_realloc(live[s].p, SIZE_MAX - k);
        if (p) die("realloc to SIZE_MAX succeeded", p, 0);
        if (errno != ENOMEM) die("realloc to SIZE_MAX without ENOMEM", live[s].p, 0);
        check_live(&live[s]);
        return;
    default: p = hak_calloc(SIZE_MAX / 16, 32); break;
    }
    if (p) die("impossible request succeeded", p, 0);
    if (errno != ENOMEM) die("impossible request failed without ENOMEM", NULL, 0);
    if (hak_usable_size(NULL) != 0) die("usable_size(NULL) != 0", NULL, 0);
    hak_free(NULL);
}

/* Totals, printed at exit (libFuzzer exits through exit()). */
static unsigned long long total_ops, total_inputs;
__attribute__((destructor)) static void report_totals(void) {
    fprintf(stderr, "fuzz_ops: %llu operations in %llu inputs\n", total_ops, total_inputs);
}

static int run(const uint8_t *data, size_t size) {
    struct in in = {data, size, 0};
    unsigned steps = 0;
    total_inputs++;
    while (in.i < in.n && steps++ < 4000) {
        total_ops++;
        uint8_t op = u8(&in);
        int s = u8(&in) % SLOTS;
        struct block *b = &live[s];
        switch (op % 16) {
        case 0: case 1: case 2: {   /* malloc */
            size_t n = size_arg(&in);
            drop(s, 0);
            if (too_big(n)) break;
            errno = 0;
            unsigned char *p = hak_malloc(n);
            if (!p) die("malloc failed", NULL, n);
            adopt(s, p, n, 1, u8(&in), 0);
            break;
        }
        case 3: {   /* calloc */
            size_t n = size_arg(&in), k = 1 + u8(&in) % 4;
            drop(s, 0);
            if (too_big(n * k)) break;
            unsigned char *p = hak_calloc(k, n);
            if (!p) die("calloc failed", NULL, n * k);
            adopt(s, p, n * k, 1, u8(&in), 1);
            break;
        }
        case 4: {   /* aligned_alloc */
            size_t a = align_arg(&in), n = size_arg(&in);
            drop(s, 0);
            if (too_big(n)) break;
            unsigned char *p = hak_aligned_alloc(a, n);
            if (!p) die("aligned_alloc failed", NULL, n);
            adopt(s, p, n, a, u8(&in), 0);
            break;
        }
        case 5: case 6: {   /* realloc (NULL slot: as malloc) */
            size_t n = size_arg(&in);
            if (!b->p) {
                if (too_big(n)) break;
                unsigned char *p = hak_realloc(NULL, n);
                if (!p) die("realloc(NULL) failed", NULL, n);
                adopt(s, p, n, 1, u8(&in), 0);
            } else {
                do_realloc(s, n, 0);
            }
            break;
        }
        case 7: case 8: drop(s, 0); break;
        case 9: drop(s, 1); break;                              /* freed by the helper thread */
        case 10:                                                /* realloc'd by the helper thread */
            if (b->p) do_realloc(s, size_arg(&in), 1);
            break;
        case 11: {                                              /* allocated by the helper thread */
            size_t n = size_arg(&in);
            drop(s, 0);
            if (too_big(n)) break;
            helper_run(H_ALLOC, NULL, n);
            if (!h_result) die("helper malloc failed", NULL, n);
            adopt(s, h_result, n, 1, u8(&in), 0);
            break;
        }
        case 12:                                                /* check a block */
            if (b->p) check_live(b);
            break;
        case 13: {                                              /* shrink or grow a little */
            if (!b->p) break;
            size_t d = u8(&in);
            do_realloc(s, (op & 0x10) ? b->n + d : (b->n > d ? b->n - d : 1), 0);
            break;
        }
        case 14: impossible(u8(&in), s); break;
        default:
            if (op & 0x10) hak_trim();
            else for (int i = 0; i < SLOTS; i++) if (live[i].p) check_live(&live[i]);
            break;
        }
    }
    /* every program ends with everything freed, so runs are independent */
    for (int i = 0; i < SLOTS; i++) drop(i, 0);
    if (live_bytes != 0) die("live byte count off", NULL, live_bytes);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return run(data, size); }

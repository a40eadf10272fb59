/* floor_malloc.c — not an allocator: a yardstick.  How fast could ANY
 * allocator run the single-thread Mixed loop (bench_random_mixed) on this
 * machine (and the Mixed loop on threads, bench_random_mixed_mt)?  Built
 * as build/bench/libfloor_malloc.so and preloaded like a peer, it does the
 * least an allocator can do:
 *   - per-thread state in initial-exec TLS, no locks, no checks, no stats
 *     (built with -DFLOOR_ONE_THREAD as libfloor1_malloc.so: plain globals,
 *     for programs that never allocate on two threads at once);
 *   - requests up to 4 KiB round to 16 bytes; each of those 256 classes bumps
 *     through its own 16 MiB of the thread's slice of one reserved range
 *     (64 threads at most), so free() finds the class by subtraction, a
 *     shift and a mask (no header, no map);
 *   - a block goes onto the freeing thread's list, whoever carved it;
 *   - a freed block goes on its class's intrusive LIFO list, and malloc pops
 *     it (as mimalloc and tcmalloc do; so the block's line is read by malloc);
 *   - nothing is ever given back; bigger requests get their own mapping.
 * Mixed's time under it is the loop's own floor: the branch it mispredicts
 * on every operation (occupied slot or not), its division, its loads.  The
 * best throughput any allocator can reach against mimalloc's there is
 * floor ÷ mimalloc (docs/BENCHMARKS.md, "The floor").  It would fail most
 * real programs (threads, large reuse) and is never used for anything else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define CLASS_SHIFT 24                 /* 16 MiB per class */
#define NCLASS 256                     /* 16 .. 4096 bytes */
#define MAX_THREADS 64                 /* each its own NCLASS << CLASS_SHIFT (4 GiB) slice */
#define BIG_HDR 16
#ifdef FLOOR_ONE_THREAD   /* libfloor1_malloc.so: plain globals, one thread at a time only */
#define TLS
#else
#define TLS __thread __attribute__((tls_model("initial-exec")))
#endif

static char *base;                     /* MAX_THREADS slices, reserved once (CAS; read plainly) */
static _Atomic unsigned nthreads;
static TLS char *bump[NCLASS];         /* this thread's carving cursors (NULL: no slice yet) */
static TLS void *head[NCLASS];         /* this thread's free lists */

static int reserve(void) {
    if (!base) {
        void *p = mmap(NULL, (size_t)MAX_THREADS * NCLASS << CLASS_SHIFT, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return -1;
        char *expect = NULL;
        if (!__atomic_compare_exchange_n(&base, &expect, (char *)p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            munmap(p, (size_t)MAX_THREADS * NCLASS << CLASS_SHIFT);
    }
    unsigned t = __atomic_fetch_add(&nthreads, 1, __ATOMIC_RELAXED);
    if (t >= MAX_THREADS) return -1;
    char *slice = base + ((size_t)t * NCLASS << CLASS_SHIFT);
    for (size_t c = 0; c < NCLASS; c++) bump[c] = slice + (c << CLASS_SHIFT);
    return 0;
}

static void *big(size_t n) {
    size_t len = (n + BIG_HDR + 4095) & ~(size_t)4095;
    if (len < n) { errno = ENOMEM; return NULL; }
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { errno = ENOMEM; return NULL; }
    *(size_t *)p = len;
    return p + BIG_HDR;
}

void *malloc(size_t n) {
    size_t c = n ? (n - 1) >> 4 : 0;
    if (__builtin_expect(c >= NCLASS, 0)) return big(n);
    void *p = head[c];
    if (__builtin_expect(p != NULL, 1)) {
        head[c] = *(void **)p;
        return p;
    }
    if (!bump[0] && reserve() != 0) { errno = ENOMEM; return NULL; }
    p = bump[c];
    bump[c] += (c + 1) << 4;
    return p;
}

static size_t class_of(void *p) { return ((size_t)((char *)p - base) >> CLASS_SHIFT) & (NCLASS - 1); }
static int ours(void *p) { return base && (char *)p >= base && (char *)p < base + ((size_t)MAX_THREADS * NCLASS << CLASS_SHIFT); }

void free(void *p) {
    if (!p) return;
    if (__builtin_expect(ours(p), 1)) {
        size_t c = class_of(p);   /* onto the freeing thread's list, whoever carved it */
        *(void **)p = head[c];
        head[c] = p;
        return;
    }
    char *h = (char *)p - BIG_HDR;
    munmap(h, *(size_t *)h);
}

size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    if (ours(p)) return (class_of(p) + 1) << 4;
    return *(size_t *)((char *)p - BIG_HDR) - BIG_HDR;
}

void *calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) { errno = ENOMEM; return NULL; }
    void *p = malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    size_t old = malloc_usable_size(p);
    if (n <= old) return p;
    void *q = malloc(n);
    if (q) { memcpy(q, p, old); free(p); }
    return q;
}

/* Alignment beyond 16 bytes is refused: the Mixed loop never asks. */
void *aligned_alloc(size_t align, size_t n) {
    if (align <= 16) return malloc(n);
    errno = ENOMEM;
    return NULL;
}
int posix_memalign(void **out, size_t align, size_t n) {
    if (align > 16) return ENOMEM;
    void *p = malloc(n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *memalign(size_t align, size_t n) { return aligned_alloc(align, n); }

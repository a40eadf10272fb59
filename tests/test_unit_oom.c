/* test_unit_oom.c — out of memory: when the OS refuses memory, every entry
 * point returns NULL with errno ENOMEM (posix_memalign returns ENOMEM, sets
 * errno to ENOMEM as glibc does, and leaves *out alone), nothing crashes, blocks held across the
 * failure keep their contents, nothing leaks (after the failure, freeing
 * everything and trimming brings the bytes hakmem has mapped back to the
 * level before), and allocation works again once memory is back.
 *
 * White-box: linked with libhakmem.a, so malloc & co. are hakmem's and the
 * hidden test hook hak_os_fail_next() and the OS counters are reachable.
 *
 * Two ways of refusing memory:
 *   inject   hak_os_fail_next(n): the next n mappings hakmem asks for fail,
 *            as if the kernel had said no (mremap growth counts as one);
 *   rlimit   setrlimit(RLIMIT_AS) a few MiB above the current address space:
 *            the real kernel refusal, mmap and mremap both.
 * "Exhausting" an entry point means calling it until it returns NULL: memory
 * hakmem already holds (cached blocks, free slabs) is used first, so the
 * number of calls that succeed is bounded by what was mapped, and the first
 * failure must be a clean ENOMEM.
 *
 * Every case runs in its own forked child (a fresh, small heap; a crash or a
 * hang is one failed case, not a dead test).  Without HAKMEM_PROFILE in the
 * environment the test re-executes itself once per profile (SPEED,
 * BALANCED, LEAN, DEBUG, SECURE); with it, it runs that profile only.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/os.h"
#include "heap/heap.h"
#include "hakmem.h"

/* The test uses blocks after a realloc that failed (they must be intact). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#endif

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define CASE_TIMEOUT_S 60

static const char *profile = "?";
static const char *case_name = "?";

/* ---- reporting without the allocator (memory may be short) ---- */

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
}

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            say("FAIL [%s] %s line %d: %s: ", profile, case_name, __LINE__, #cond);      \
            say(__VA_ARGS__);                                                            \
            say("\n");                                                                   \
            _exit(1);                                                                    \
        }                                                                                \
    } while (0)

/* Hide sizes from the compiler (no folding, no -Walloc-size warnings). */
static size_t opaque(size_t x) {
    volatile size_t v = x;
    return v;
}

/* ---- patterns (head and tail of a block; cheap for huge blocks) ---- */

static uint8_t pat(uintptr_t key, size_t i) {
    uint64_t x = (uint64_t)key + i * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    return (uint8_t)(x >> 56);
}

/* The pattern of key on bytes [0, n) of p (the first and last 4 KiB of a
 * big block).  key: the block's first address, so it survives a move. */
static void fill_key(void *p, size_t n, uintptr_t key) {
    uint8_t *b = p;
    size_t h = n < 8192 ? n : 4096;
    for (size_t i = 0; i < h; i++) b[i] = pat(key, i);
    for (size_t i = n - (n < 8192 ? 0 : 4096); i < n; i++) b[i] = pat(key, i);
}

/* Offset of the first damaged byte, or -1. */
static long damaged_key(const void *p, size_t n, uintptr_t key) {
    const uint8_t *b = p;
    size_t h = n < 8192 ? n : 4096;
    for (size_t i = 0; i < h; i++)
        if (b[i] != pat(key, i)) return (long)i;
    for (size_t i = n - (n < 8192 ? 0 : 4096); i < n; i++)
        if (b[i] != pat(key, i)) return (long)i;
    return -1;
}

static void fill(void *p, size_t n, uint64_t seed) { fill_key(p, n, (uintptr_t)p ^ seed); }
static long damaged(const void *p, size_t n, uint64_t seed) { return damaged_key(p, n, (uintptr_t)p ^ seed); }

/* Keeps pointers observable, so malloc/free pairs are not optimised away. */
static void *volatile sink;

/* ---- levels ---- */

static uint64_t mapped(void) { return atomic_load(&hak_os.bytes_mapped); }

/* Give back what can be given back and read the level.  A malloc first makes
 * sure the calling thread has its heap (its mapping is part of the level). */
static uint64_t settle(void) {
    void *p = malloc(opaque(16));
    sink = p;
    free(p);
    malloc_trim(0);
    return mapped();
}

/* ---- blocks held by a case ---- */

#define MAXB (1u << 18)
static void *held[MAXB];
static size_t held_n[MAXB];
static unsigned nheld;

static void hold(void *p, size_t n) {
    CHECK(nheld < MAXB, "too many blocks held");
    held[nheld] = p;
    held_n[nheld] = n;
    nheld++;
}

static void release_all(void) {
    for (unsigned i = 0; i < nheld; i++) {
        long bad = damaged(held[i], held_n[i] < 64 ? held_n[i] : 64, 7);
        CHECK(bad < 0, "block %p (%zu bytes) damaged at %ld", held[i], held_n[i], bad);
        free(held[i]);
    }
    nheld = 0;
}

/* ---- the entry points ---- */

enum ep { EP_MALLOC, EP_CALLOC, EP_ALIGNED_ALLOC, EP_POSIX_MEMALIGN, EP_MEMALIGN, EP_VALLOC, EP_PVALLOC,
          EP_REALLOC_NULL, EP_REALLOCARRAY_NULL, EP_HAK_MALLOC, EP_HAK_CALLOC, EP_HAK_ALIGNED };
static const char *const ep_name[] = {"malloc", "calloc", "aligned_alloc", "posix_memalign", "memalign",
                                      "valloc", "pvalloc", "realloc(NULL)", "reallocarray(NULL)",
                                      "hak_malloc", "hak_calloc", "hak_aligned_alloc"};

struct call {
    enum ep ep;
    size_t size;
    size_t align;
};

/* One call: the block, or NULL with the error checked. */
static void *call_once(const struct call *c) {
    size_t n = opaque(c->size), a = opaque(c->align);
    void *p = NULL;
    errno = 0;
    switch (c->ep) {
    case EP_MALLOC: p = malloc(n); break;
    case EP_CALLOC: p = calloc(n >= 16 ? n / 16 : 1, n >= 16 ? 16 : n); break;
    case EP_ALIGNED_ALLOC: p = aligned_alloc(a, n); break;
    case EP_POSIX_MEMALIGN: {
        void *out = (void *)0x5a5a5a5a;
        errno = EBADF;
        int rc = posix_memalign(&out, a, n);
        if (rc == 0) return out;
        CHECK(rc == ENOMEM, "posix_memalign(%zu, %zu) returned %d, not ENOMEM", a, n, rc);
        CHECK(errno == ENOMEM, "failed posix_memalign(%zu, %zu) left errno %d, not ENOMEM (as glibc)", a, n, errno);
        CHECK(out == (void *)0x5a5a5a5a, "posix_memalign(%zu, %zu) failed but wrote *out", a, n);
        return NULL;
    }
    case EP_MEMALIGN: p = memalign(a, n); break;
    case EP_VALLOC: p = valloc(n); break;
    case EP_PVALLOC: p = pvalloc(n); break;
    case EP_REALLOC_NULL: p = realloc(NULL, n); break;
    case EP_REALLOCARRAY_NULL: p = reallocarray(NULL, 1, n); break;
    case EP_HAK_MALLOC: p = hak_malloc(n); break;
    case EP_HAK_CALLOC: p = hak_calloc(1, n); break;
    case EP_HAK_ALIGNED: p = hak_aligned_alloc(a, n); break;
    }
    if (!p) CHECK(errno == ENOMEM, "%s(%zu, align %zu) returned NULL with errno %d, not ENOMEM", ep_name[c->ep], n, a, errno);
    return p;
}

static size_t min_align(const struct call *c) {
    switch (c->ep) {
    case EP_ALIGNED_ALLOC: case EP_POSIX_MEMALIGN: case EP_MEMALIGN: case EP_HAK_ALIGNED: return c->align;
    case EP_VALLOC: case EP_PVALLOC: return 4096;
    default: return c->size >= 16 ? 16 : 1;
    }
}

/* Check a block an entry point returned and keep it. */
static void accept(const struct call *c, void *p) {
    size_t n = c->size, a = min_align(c);
    CHECK(hak_owns(p), "%s(%zu) = %p is not hakmem's", ep_name[c->ep], n, p);
    CHECK(((uintptr_t)p & (a - 1)) == 0, "%s(%zu) = %p not %zu-aligned", ep_name[c->ep], n, p, a);
    CHECK(malloc_usable_size(p) >= n, "%s(%zu): usable %zu", ep_name[c->ep], n, malloc_usable_size(p));
    if (c->ep == EP_CALLOC || c->ep == EP_HAK_CALLOC) {
        const uint8_t *b = p;
        for (size_t i = 0; i < (n < 256 ? n : 256); i++) CHECK(b[i] == 0, "calloc(%zu) byte %zu not 0", n, i);
    }
    if (n) fill(p, n < 64 ? n : 64, 7);
    hold(p, n);
}

/* Call until NULL; returns how many calls succeeded.  bound: the most that
 * may succeed before memory hakmem already holds runs out. */
static size_t exhaust(const struct call *c, size_t bound) {
    size_t ok = 0;
    for (;;) {
        void *p = call_once(c);
        if (!p) return ok;
        accept(c, p);
        ok++;
        CHECK(ok <= bound, "%s(%zu, align %zu) still succeeding after %zu calls with the OS refusing memory",
              ep_name[c->ep], c->size, c->align, ok);
    }
}

/* The bound for a call: every byte mapped could be one block of it. */
static size_t headroom;   /* bytes the OS may still grant (rlimit) */
static size_t bound_for(const struct call *c) {
    size_t unit = c->size < 16 ? 16 : c->size;
    size_t b = (size_t)((mapped() + headroom) / unit) + 1024;
    return b < MAXB - nheld - 16 ? b : MAXB - nheld - 16;
}

/* Every entry point, every tier (tiny <= 1 KiB, small <= 32 KiB, large <=
 * 1 MiB, huge above; aligned beyond a slab is huge too). */
static const struct call calls[] = {
    {EP_MALLOC, 24, 0},          {EP_MALLOC, 700, 0},         {EP_MALLOC, 5000, 0},
    {EP_MALLOC, 30000, 0},       {EP_MALLOC, 100 * 1024, 0},  {EP_MALLOC, 900 * 1024, 0},
    {EP_MALLOC, 3 * 1024 * 1024, 0},
    {EP_CALLOC, 48, 0},          {EP_CALLOC, 12000, 0},       {EP_CALLOC, 300 * 1024, 0},
    {EP_CALLOC, 5 * 1024 * 1024, 0},
    {EP_ALIGNED_ALLOC, 100, 64}, {EP_ALIGNED_ALLOC, 3000, 4096}, {EP_ALIGNED_ALLOC, 1000, 65536},
    {EP_ALIGNED_ALLOC, 200, 4 * 1024 * 1024},
    {EP_POSIX_MEMALIGN, 40, 32}, {EP_POSIX_MEMALIGN, 20000, 1024}, {EP_POSIX_MEMALIGN, 70000, 65536},
    {EP_POSIX_MEMALIGN, 2 * 1024 * 1024, 2 * 1024 * 1024},
    {EP_MEMALIGN, 333, 128},     {EP_MEMALIGN, 2 * 1024 * 1024, 8192},
    {EP_VALLOC, 5000, 0},        {EP_VALLOC, 1536 * 1024, 0},
    {EP_PVALLOC, 100, 0},        {EP_PVALLOC, 9 * 1024 * 1024, 0},
    {EP_REALLOC_NULL, 64, 0},    {EP_REALLOC_NULL, 200 * 1024, 0},
    {EP_REALLOCARRAY_NULL, 80, 0},
    {EP_HAK_MALLOC, 16, 0},      {EP_HAK_MALLOC, 4 * 1024 * 1024, 0},
    {EP_HAK_CALLOC, 2000, 0},    {EP_HAK_ALIGNED, 512, 256},
};
#define NCALLS (sizeof calls / sizeof calls[0])

/* realloc growth across tiers; the block survives a failed realloc. */
struct grow { size_t from, to; };
static const struct grow grows[] = {
    {16, 100},                 /* tiny -> tiny */
    {200, 3000},               /* tiny -> small */
    {5000, 200 * 1024},        /* small -> large */
    {100 * 1024, 700 * 1024},  /* large -> large */
    {500 * 1024, 3 * MiB},     /* large -> huge */
    {3 * MiB, 40 * MiB},       /* huge -> huge (mremap growth refused) */
};
#define NGROWS (sizeof grows / sizeof grows[0])

/* With memory refused: fill the target tier, then realloc(p, to) must fail
 * leaving p whole; with memory back it must succeed and keep the prefix. */
static void grow_case(const struct grow *g, void (*refuse)(void), void (*restore)(void)) {
    size_t from = opaque(g->from), to = opaque(g->to);
    void *p = malloc(from);
    CHECK(p, "malloc(%zu) before refusing memory", from);
    uintptr_t key = (uintptr_t)p;
    fill_key(p, from, key);
    size_t u0 = malloc_usable_size(p);
    refuse();
    struct call c = {EP_MALLOC, to, 0};
    exhaust(&c, bound_for(&c));
    errno = 0;
    void *q = realloc(p, to);
    CHECK(q == NULL, "realloc(%zu -> %zu) succeeded with memory refused (tier exhausted)", from, to);
    CHECK(errno == ENOMEM, "realloc(%zu -> %zu) failed with errno %d", from, to, errno);
    CHECK(damaged_key(p, from, key) < 0, "block lost its contents in a failed realloc(%zu -> %zu)", from, to);
    CHECK(malloc_usable_size(p) == u0, "usable size changed by a failed realloc");
    /* reallocarray takes the same path */
    errno = 0;
    q = reallocarray(p, 1, to);
    CHECK(q == NULL && errno == ENOMEM, "reallocarray(%zu -> %zu) with memory refused: %p errno %d", from, to, q, errno);
    restore();
    release_all();
    q = realloc(p, to);
    CHECK(q, "realloc(%zu -> %zu) failed after memory came back", from, to);
    CHECK(damaged_key(q, from, key) < 0, "realloc(%zu -> %zu) lost the prefix", from, to);
    free(q);
}

/* ---- the two ways of refusing memory ---- */

static void inject_on(void) { hak_os_fail_next(LONG_MAX); }
static void inject_off(void) { hak_os_fail_next(0); }

static struct rlimit saved_as;
static size_t vm_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    size_t pages = 0;
    if (f) {
        if (fscanf(f, "%zu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}
static void rlimit_on(void) {
    CHECK(getrlimit(RLIMIT_AS, &saved_as) == 0, "getrlimit");
    struct rlimit r = saved_as;
    r.rlim_cur = vm_bytes() + 6 * MiB;
    headroom = 6 * MiB;
    CHECK(setrlimit(RLIMIT_AS, &r) == 0, "setrlimit(RLIMIT_AS, %zu)", (size_t)r.rlim_cur);
}
static void rlimit_off(void) {
    CHECK(setrlimit(RLIMIT_AS, &saved_as) == 0, "setrlimit restore");
    headroom = 0;
}

/* After memory came back: every tier works again. */
static void works_again(void) {
    static const size_t sizes[] = {1, 24, 700, 5000, 30000, 100 * 1024, 900 * 1024, 3 * MiB, 20 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = opaque(sizes[i]);
        void *p = malloc(n);
        CHECK(p && hak_owns(p), "malloc(%zu) failed after memory came back", n);
        fill(p, n, 3);
        void *q = calloc(1, n);
        CHECK(q, "calloc(%zu) failed after memory came back", n);
        void *a = aligned_alloc(4096, n);
        CHECK(a && ((uintptr_t)a & 4095) == 0, "aligned_alloc(4096, %zu) failed after memory came back", n);
        CHECK(damaged(p, n, 3) < 0, "block damaged");
        free(a);
        free(q);
        free(p);
    }
}

/* ---- cases ---- */

/* Each entry point and tier in turn, memory refused throughout. */
static void all_entry_points(void (*refuse)(void), void (*restore)(void)) {
    uint64_t before = settle();
    /* a block of each tier held across the failures */
    static const size_t keep[] = {40, 3000, 80 * 1024, 2 * MiB};
    void *kp[4];
    for (int i = 0; i < 4; i++) {
        kp[i] = malloc(opaque(keep[i]));
        CHECK(kp[i], "malloc(%zu)", keep[i]);
        fill(kp[i], keep[i], 5);
    }
    refuse();
    for (size_t i = 0; i < NCALLS; i++) exhaust(&calls[i], bound_for(&calls[i]));
    /* overflowing requests are refused however much memory there is */
    errno = 0;
    CHECK(malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM, "malloc(SIZE_MAX)");
    errno = 0;
    CHECK(calloc(opaque(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM, "calloc overflow");
    restore();
    for (int i = 0; i < 4; i++) {
        CHECK(damaged(kp[i], keep[i], 5) < 0, "block of %zu held across the failures damaged", keep[i]);
        free(kp[i]);
    }
    release_all();
    uint64_t after = settle();
    CHECK(after == before, "bytes mapped %llu after the failures and frees, %llu before",
          (unsigned long long)after, (unsigned long long)before);
    works_again();
    after = settle();
    CHECK(after == before, "bytes mapped %llu after memory came back, %llu before", (unsigned long long)after,
          (unsigned long long)before);
}

static void case_inject_entry_points(void) { all_entry_points(inject_on, inject_off); }
static void case_rlimit_entry_points(void) { all_entry_points(rlimit_on, rlimit_off); }

static void grows_with(void (*refuse)(void), void (*restore)(void)) {
    uint64_t before = settle();
    for (size_t i = 0; i < NGROWS; i++) grow_case(&grows[i], refuse, restore);
    uint64_t after = settle();
    CHECK(after == before, "bytes mapped %llu after the realloc failures, %llu before", (unsigned long long)after,
          (unsigned long long)before);
    works_again();
}
static void case_inject_realloc(void) { grows_with(inject_on, inject_off); }
static void case_rlimit_realloc(void) { grows_with(rlimit_on, rlimit_off); }

/* A short refusal (the next two mappings fail: a huge allocation retries
 * once after giving back its cache): some call fails with a clean ENOMEM,
 * and once the OS grants memory again the next calls succeed — a failure
 * leaves no broken state behind. */
static void case_inject_transient(void) {
    uint64_t before = settle();
    static const size_t sizes[] = {32, 4000, 256 * 1024, 6 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct call c = {EP_MALLOC, sizes[i], 0};
        hak_os_fail_next(2);
        exhaust(&c, bound_for(&c));
        hak_os_fail_next(0);
        for (int k = 0; k < 100; k++) {
            void *q = malloc(opaque(sizes[i]));
            CHECK(q, "malloc(%zu) failed after the OS granted memory again", sizes[i]);
            fill(q, sizes[i] < 64 ? sizes[i] : 64, 7);
            hold(q, sizes[i]);
        }
        release_all();
    }
    uint64_t after = settle();
    CHECK(after == before, "bytes mapped %llu, %llu before", (unsigned long long)after, (unsigned long long)before);
}

/* A thread whose heap cannot be created: its calls fail cleanly, it may
 * still free blocks of other threads, and once memory is back it gets a heap. */
static void *main_block;
static void *heapless_thread(void *arg) {
    (void)arg;
    inject_on();
    for (size_t i = 0; i < NCALLS; i++) {
        void *p = call_once(&calls[i]);
        CHECK(p == NULL, "%s(%zu) in a thread without a heap, memory refused, returned %p", ep_name[calls[i].ep],
              calls[i].size, p);
    }
    /* Same class: kept in place (DEBUG checks every realloc through a new
     * block, which this thread cannot get: NULL, block intact). */
    errno = 0;
    void *r = realloc(main_block, opaque(100));
    CHECK(r == main_block || (r == NULL && errno == ENOMEM), "realloc in a thread without a heap: %p errno %d", r, errno);
    CHECK(damaged(main_block, 100, 9) < 0, "block damaged");
    free(main_block);   /* a block of the main thread, freed by a thread with no heap */
    free(NULL);
    inject_off();
    void *p = malloc(opaque(24));
    CHECK(p && hak_owns(p), "malloc in the thread after memory came back");
    free(p);
    return NULL;
}

static void *idle_thread(void *arg) { return arg; }

static void case_inject_thread_heap(void) {
    /* glibc keeps a joined thread's stack and TLS (allocated with calloc)
     * for the next thread: make that part of the level first. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    uint64_t before = settle();
    main_block = malloc(opaque(100));
    CHECK(main_block, "malloc");
    fill(main_block, 100, 9);
    CHECK(pthread_create(&t, NULL, heapless_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    /* The main thread gets the freed block back (remote free) and goes on. */
    for (int i = 0; i < 1000; i++) {
        void *q = malloc(opaque(100));
        CHECK(q, "malloc after the thread");
        hold(q, 100);
        fill(q, 64, 7);
    }
    release_all();
    uint64_t after = settle();
    /* the thread's heap, made once memory came back, stays mapped (heaps are
     * kept for the next thread, never unmapped) */
    CHECK(after == before + hak_tls_heap->size, "bytes mapped %llu, %llu before (a heap is %zu)",
          (unsigned long long)after, (unsigned long long)before, hak_tls_heap->size);
    works_again();
}

/* Failures while many blocks of a class are live, then everything freed in
 * random order; then memory back, repeated, to catch slow leaks. */
static void case_inject_cycles(void) {
    uint64_t before = settle();
    uint64_t rng = 0x1234567;
    for (int round = 0; round < 20; round++) {
        inject_on();
        for (size_t i = 0; i < NCALLS; i += 3) {
            struct call c = calls[(i + (size_t)round) % NCALLS];
            exhaust(&c, bound_for(&c));
        }
        inject_off();
        for (unsigned i = nheld; i > 1; i--) {   /* shuffle */
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            unsigned j = (unsigned)(rng % i);
            void *tp = held[i - 1]; held[i - 1] = held[j]; held[j] = tp;
            size_t tn = held_n[i - 1]; held_n[i - 1] = held_n[j]; held_n[j] = tn;
        }
        release_all();
    }
    uint64_t after = settle();
    CHECK(after == before, "bytes mapped %llu after 20 rounds, %llu before", (unsigned long long)after,
          (unsigned long long)before);
}

struct kase {
    const char *name;
    void (*fn)(void);
};
static const struct kase cases[] = {
    {"inject: every entry point and tier", case_inject_entry_points},
    {"inject: realloc growth", case_inject_realloc},
    {"inject: one refused mapping", case_inject_transient},
    {"inject: thread whose heap cannot be made", case_inject_thread_heap},
    {"inject: 20 rounds of failure and recovery", case_inject_cycles},
    {"rlimit: every entry point and tier", case_rlimit_entry_points},
    {"rlimit: realloc growth", case_rlimit_realloc},
};

static int run_case(const struct kase *k) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { say("fork: %s\n", strerror(errno)); return 1; }
    if (pid == 0) {
        case_name = k->name;
        alarm(CASE_TIMEOUT_S);
        k->fn();
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        say("ok    [%s] %s\n", profile, k->name);
        return 0;
    }
    if (WIFSIGNALED(st))
        say("FAIL  [%s] %s: killed by signal %d%s\n", profile, k->name, WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (timed out)" : "");
    else
        say("FAIL  [%s] %s: exit %d\n", profile, k->name, WEXITSTATUS(st));
    return 1;
}

static int run_profile(void) {
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) failed += run_case(&cases[i]);
    return failed;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *env = getenv("HAKMEM_PROFILE");
    if (env && *env) {
        profile = env;
        return run_profile() ? 1 : 0;
    }
    /* No profile chosen: run each (the profile is read once at init, so
     * each needs a fresh process). */
    static const char *const profiles[] = {"SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE"};
    int failed = 0;
    for (size_t i = 0; i < 5; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            setenv("HAKMEM_PROFILE", profiles[i], 1);
            execv("/proc/self/exe", argv);
            say("execv: %s\n", strerror(errno));
            _exit(127);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            say("FAIL  profile %s\n", profiles[i]);
            failed++;
        }
    }
    say("%s\n", failed ? "oom: FAILED" : "oom: all cases passed in every profile");
    return failed ? 1 : 0;
}

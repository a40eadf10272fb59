/* bad_input_driver.c — what hakmem does with each bad input, per profile.
 *
 *   bad_input_driver [--raw] [PROFILE...]     (default: all five profiles)
 *   bad_input_driver --case NAME              (one case, in this process)
 *
 * For every case and profile, the driver runs itself again (fresh process,
 * HAKMEM_PROFILE=<profile>, ON_ERROR as the profile sets it) with --case,
 * captures its stderr and exit status, and prints one Markdown table: a row
 * per case, a column per profile.  A cell says
 *
 *   - which report hakmem wrote (the kind, from its "hakmem:" line), or
 *     "silent";
 *   - when: "at once" (during the bad call), "at flush" (later, when the
 *     thread cache was flushed: the case then frees a batch of blocks of the
 *     same class, as a program's later frees would), "on later mallocs or
 *     frees" (a corrupted free list or canary found when the class is
 *     allocated through and the damaged block freed), "later" (during the
 *     case's follow-up work), "at heap check" (hak_heap_check);
 *   - what the call returned, where that matters (realloc, usable size, ...);
 *   - the fate of the process: "goes on" (the case then allocated and freed
 *     every tier successfully and exited 0), "abort" (SIGABRT after the
 *     report: ON_ERROR=abort), or "crash (SIGSEGV)" and the like.
 *
 * Linked with -lhakmem (black box: the standard malloc names are hakmem's).
 * Built and run by `make bad-inputs` (tests/reliability.mk).  --raw prints
 * every captured line instead of the table.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#endif

void free_sized(void *p, size_t size);

/* Values hidden from the compiler, so it neither folds nor warns. */
static void *opaque_ptr(void *p) {
    void *volatile v = p;
    return v;
}
static size_t opaque(size_t x) {
    volatile size_t v = x;
    return v;
}
static void *volatile sink;

/* Writes the compiler may not drop (a store right before free() is dead to
 * it; these are the program's bug under test). */
static void poke(void *p, size_t off, size_t n) {
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[off + i] = 0x41;
}

/* ---- what a case reports (stdout, unbuffered: survives an abort) ---- */

__attribute__((format(printf, 1, 2))) static void result(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 3) n = (int)sizeof buf - 3;
    buf[n++] = '\n';
    ssize_t w = write(1, "RESULT ", 7);
    w = write(1, buf, (size_t)n);
    (void)w;
}

/* Phase markers on stderr, between hakmem's own lines. */
static void mark(const char *m) {
    ssize_t w = write(2, m, strlen(m));
    w = write(2, "\n", 1);
    (void)w;
}

static const char *errname(int e) {
    switch (e) {
    case 0: return "0";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    default: return "other";
    }
}

/* ---- helpers ---- */

/* Blocks of size n allocated before the bad call and freed after it:
 * enough to overflow the thread cache, so it flushes (and checks). */
#define FLUSH_N 600
static void *flushers[FLUSH_N];
static size_t flush_size;
static void prepare_flush(size_t n) {
    flush_size = n;
    for (int i = 0; i < FLUSH_N; i++) flushers[i] = malloc(opaque(n));
}
static void do_flush(void) {
    mark("@@flush");
    for (int i = 0; i < FLUSH_N; i++) free(flushers[i]);
    if (!flush_size) malloc_trim(0);
}

/* The program goes on: every tier allocates, holds a pattern, frees. */
static void goes_on(void) {
    mark("@@later");
    static const size_t sizes[] = {1, 32, 700, 5000, 40000, 300000, 3 << 20};
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = opaque(sizes[i]);
            unsigned char *p = malloc(n);
            if (!p) { result("malloc(%zu) failed afterwards", n); _exit(2); }
            memset(p, 0x5c, n);
            for (size_t k = 0; k < n; k += 4096)
                if (p[k] != 0x5c) _exit(3);
            free(p);
        }
    mark("@@check");
    hak_heap_check();
    mark("@@end");
    _exit(0);
}

static void *map_page(int prot) {
    void *m = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static char static_buf[64] = {1};

/* glibc's own malloc (a block of another allocator in the same process). */
static void *glibc_block(void) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *(*gm)(size_t) = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
    return gm ? gm(64) : NULL;
}

/* A pointer of the given kind (foreign or not a block start). */
enum ptr_kind { PK_STACK, PK_STATIC, PK_MMAP, PK_PROTNONE, PK_GLIBC, PK_INTERIOR_TINY, PK_INTERIOR_100,
                PK_INTERIOR_LARGE, PK_INTERIOR_HUGE, PK_MISALIGNED, PK_FREED_TINY };
static void *bad_ptr(enum ptr_kind k, char *stack) {
    switch (k) {
    case PK_STACK: return stack;
    case PK_STATIC: return static_buf;
    case PK_MMAP: return map_page(PROT_READ | PROT_WRITE);
    case PK_PROTNONE: return map_page(PROT_NONE);
    case PK_GLIBC: return glibc_block();
    case PK_INTERIOR_TINY: { char *p = malloc(opaque(64)); sink = p; return p + 16; }
    case PK_INTERIOR_100: { char *p = malloc(opaque(100)); sink = p; return p + 16; }
    case PK_INTERIOR_LARGE: { char *p = malloc(opaque(200000)); sink = p; return p + 65536; }
    case PK_INTERIOR_HUGE: { char *p = malloc(opaque(5 << 20)); sink = p; return p + (3 << 20); }
    case PK_MISALIGNED: { char *p = malloc(opaque(64)); sink = p; return p + 1; }
    case PK_FREED_TINY: { char *p = malloc(opaque(64)); free(p); return p; }
    }
    return NULL;
}

/* ---- the cases ---- */

/* The flush batch is of the bad pointer's own class. */
static size_t flush_size_for(enum ptr_kind k) { return k == PK_INTERIOR_100 ? 100 : 64; }

static void free_of(enum ptr_kind k) {
    char stack[64];
    prepare_flush(flush_size_for(k));
    void *p = bad_ptr(k, stack);
    if (!p) { result("setup failed"); _exit(4); }
    mark("@@call");
    free(opaque_ptr(p));
    do_flush();
    goes_on();
}

static void realloc_of(enum ptr_kind k) {
    char stack[64];
    memset(stack, 7, sizeof stack);
    prepare_flush(flush_size_for(k));
    void *p = bad_ptr(k, stack);
    if (!p) { result("setup failed"); _exit(4); }
    mark("@@call");
    errno = 0;
    void *q = realloc(opaque_ptr(p), opaque(100));
    int e = errno;
    if (q) result("returned a block%s", q == p ? " (the same pointer)" : "");
    else result("returned NULL, errno %s", errname(e));
    do_flush();
    goes_on();
}

static void usable_of(enum ptr_kind k) {
    char stack[64];
    void *p = bad_ptr(k, stack);
    if (!p) { result("setup failed"); _exit(4); }
    mark("@@call");
    size_t u = malloc_usable_size(opaque_ptr(p));
    result("returned %zu", u);
    do_flush();
    goes_on();
}

#define PTR_CASES(X)                                                                        \
    X(stack, PK_STACK, "a stack address")                                                   \
    X(static, PK_STATIC, "a static array")                                                  \
    X(mmap, PK_MMAP, "a page from mmap")                                                    \
    X(protnone, PK_PROTNONE, "a PROT_NONE page")                                            \
    X(glibc, PK_GLIBC, "a block of glibc's malloc")                                         \
    X(interior, PK_INTERIOR_TINY, "an interior pointer (tiny block + 16)")                  \
    X(interior100, PK_INTERIOR_100, "an interior pointer (100-byte block + 16)")            \
    X(interior_large, PK_INTERIOR_LARGE, "an interior pointer (large block + 64 KiB)")      \
    X(interior_huge, PK_INTERIOR_HUGE, "an interior pointer (huge block + 3 MiB)")          \
    X(misaligned, PK_MISALIGNED, "a misaligned pointer (block + 1)")                        \
    X(freed, PK_FREED_TINY, "a freed block")

#define X(name, kind, text)                                                                 \
    static void c_free_##name(void) { free_of(kind); }                                     \
    static void c_realloc_##name(void) { realloc_of(kind); }                               \
    static void c_usable_##name(void) { usable_of(kind); }
PTR_CASES(X)
#undef X

static void double_free(size_t n) {
    prepare_flush(n < 32768 ? n : 64);
    void *p = malloc(opaque(n));
    free(p);
    mark("@@call");
    free(opaque_ptr(p));
    do_flush();
    goes_on();
}
static void c_double_tiny(void) { double_free(48); }
static void c_double_small(void) { double_free(6000); }
static void c_double_large(void) { double_free(300000); }
static void c_double_huge(void) { double_free(5 << 20); }

/* The danger of a deferred check: malloc before the cache flushes. */
static void c_double_then_malloc(void) {
    prepare_flush(48);
    void *p = malloc(opaque(48));
    free(p);
    mark("@@call");
    free(opaque_ptr(p));
    void *a = malloc(opaque(48)), *b = malloc(opaque(48));
    result("%s", a == b ? "the next two mallocs returned the same block" : "the next two mallocs returned distinct blocks");
    sink = a;
    do_flush();
    goes_on();
}

/* free_sized with the wrong size (C23: undefined; hakmem ignores the size). */
static void c_free_sized_wrong(void) {
    prepare_flush(48);
    void *p = malloc(opaque(40));
    mark("@@call");
    free_sized(p, opaque(5000));
    do_flush();
    goes_on();
}

/* 8 bytes written past the requested size, then the block freed. */
static void c_overflow8(void) {
    prepare_flush(32);
    unsigned char *p = malloc(opaque(32));
    memset(p, 1, 32);
    mark("@@call");
    poke(p, opaque(32), 8);
    free(p);
    do_flush();
    goes_on();
}

/* 8 bytes written past a 24-byte request, then the block freed (glibc
 * finds the next chunk's size damaged; the bytes lie inside the block's
 * usable size, before SECURE's redzone). */
static void c_overflow8_24(void) {
    prepare_flush(24);
    unsigned char *p = malloc(opaque(24));
    memset(p, 1, 24);
    mark("@@call");
    poke(p, opaque(24), 8);
    free(p);
    do_flush();
    goes_on();
}

/* 8 bytes past a block into a free neighbour (on its span's free list),
 * then the class allocated through (a program's later mallocs), then the
 * overflowed block freed. */
static void c_overflow8_free_neighbour(void) {
    enum { N = 3000 };
    static unsigned char *a[N];
    for (int i = 0; i < N; i++) a[i] = malloc(opaque(32));
    /* the victim: a block whose nearest neighbour above is also ours */
    int v = -1;
    for (int i = N / 2; i < N && v < 0; i++)
        for (int j = 0; j < N; j++)
            if (a[j] > a[i] && a[j] - a[i] <= 64) { v = i; break; }
    if (v < 0) { result("setup failed"); _exit(4); }
    /* free the rest (overflowing the cache: freed blocks get links), but
     * keep every 50th block so no span empties and leaves */
    for (int i = 0; i < N; i++)
        if (i != v && i % 50) { free(a[i]); a[i] = NULL; }
    mark("@@call");
    poke(a[v], opaque(32), 8);
    mark("@@alloc");
    static unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = malloc(opaque(32));
        if (b[i]) b[i][0] = 1;   /* a program writes to what it gets */
    }
    free(a[v]);
    a[v] = NULL;
    for (int i = 0; i < N; i++) { free(b[i]); free(a[i]); }
    goes_on();
}

/* 8 bytes written into a freed block (use after free), then allocation. */
static void c_write_after_free(void) {
    enum { N = 3000 };
    static unsigned char *a[N];
    for (int i = 0; i < N; i++) a[i] = malloc(opaque(32));
    unsigned char *victim = a[N / 2 + 1];
    for (int i = 0; i < N; i++)
        if (i % 50) { free(a[i]); a[i] = NULL; }   /* victim reaches its span's free list */
    mark("@@call");
    poke(victim, 0, 8);
    mark("@@alloc");
    static unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = malloc(opaque(32));
        if (b[i]) b[i][0] = 1;
    }
    for (int i = 0; i < N; i++) { free(b[i]); free(a[i]); }
    goes_on();
}

/* ---- NULL and sizes ---- */

static void c_free_null(void) {
    mark("@@call");
    free(opaque_ptr(NULL));
    result("no effect");
    goes_on();
}
static void c_realloc_null(void) {
    mark("@@call");
    void *p = realloc(opaque_ptr(NULL), opaque(100));
    result("%s", p && hak_owns(p) ? "a new block (as malloc)" : "NULL");
    free(p);
    goes_on();
}
static void c_realloc_zero(void) {
    void *p = malloc(opaque(100));
    mark("@@call");
    errno = 0;
    void *q = realloc(p, opaque(0));
    result("returned %s (block freed), errno %s", q ? "a block" : "NULL", errname(errno));
    goes_on();
}
static void c_usable_null(void) {
    mark("@@call");
    result("returned %zu", malloc_usable_size(opaque_ptr(NULL)));
    goes_on();
}
static void c_malloc_0(void) {
    mark("@@call");
    void *p = malloc(opaque(0)), *q = malloc(opaque(0));
    result("%s, usable %zu", p && q && p != q ? "distinct unique pointers" : "NULL or same", malloc_usable_size(p));
    free(p);
    free(q);
    goes_on();
}

#define NULL_CALL(name, expr, text)                                                         \
    static void c_##name(void) {                                                            \
        mark("@@call");                                                                     \
        errno = 0;                                                                          \
        void *p = (expr);                                                                   \
        int e = errno;                                                                      \
        if (p) result("returned a block (%zu usable)", malloc_usable_size(p));              \
        else result("NULL, errno %s", errname(e));                                          \
        free(p);                                                                            \
        goes_on();                                                                          \
    }
#define SIZE_CASES(X)                                                                                    \
    X(malloc_max, malloc(opaque(SIZE_MAX)), "malloc(SIZE_MAX)")                                         \
    X(malloc_ptrdiff, malloc(opaque((size_t)PTRDIFF_MAX + 1)), "malloc(PTRDIFF_MAX + 1)")               \
    X(malloc_1tb, malloc(opaque((size_t)1 << 46)), "malloc(64 TiB) (far more than RAM + swap)")     \
    X(calloc_overflow, calloc(opaque(SIZE_MAX / 2), opaque(3)), "calloc(SIZE_MAX/2, 3) (n*size overflows)") \
    X(reallocarray_overflow, reallocarray(NULL, opaque(SIZE_MAX / 4), opaque(8)),                       \
      "reallocarray(NULL, SIZE_MAX/4, 8)")                                                              \
    X(aligned_bad, aligned_alloc(opaque(24), opaque(100)), "aligned_alloc(24, 100) (not a power of two)") \
    X(aligned_zero, aligned_alloc(opaque(0), opaque(100)), "aligned_alloc(0, 100)")                     \
    X(aligned_huge_align, aligned_alloc(opaque((size_t)1 << 62), opaque(100)), "aligned_alloc(2^62, 100)") \
    X(memalign_odd, memalign(opaque(24), opaque(100)), "memalign(24, 100) (rounded up, as glibc)")      \
    X(valloc_max, valloc(opaque(SIZE_MAX)), "valloc(SIZE_MAX)")                                          \
    X(pvalloc_max, pvalloc(opaque(SIZE_MAX - 100)), "pvalloc(SIZE_MAX - 100)")
SIZE_CASES(NULL_CALL)

static void c_realloc_max(void) {
    char *p = malloc(opaque(100));
    memset(p, 9, 100);
    mark("@@call");
    errno = 0;
    void *q = realloc(p, opaque(SIZE_MAX));
    int e = errno;
    result("%s, errno %s, old block %s", q ? "a block" : "NULL", errname(e), p[99] == 9 ? "intact" : "damaged");
    free(p);
    goes_on();
}

static void posix_case(size_t align, size_t n) {
    void *out = (void *)0x1234;
    mark("@@call");
    errno = 0;
    int rc = posix_memalign(&out, opaque(align), opaque(n));
    result("returned %s, errno %s, *out %s", rc == 0 ? "0" : errname(rc), errname(errno),
           out == (void *)0x1234 ? "untouched" : "set");
    if (rc == 0) free(out);
    goes_on();
}
static void c_posix_bad_align(void) { posix_case(24, 100); }
static void c_posix_small_align(void) { posix_case(4, 100); }
static void c_posix_max(void) { posix_case(64, SIZE_MAX - 4096); }

/* The OS refuses: RLIMIT_AS a few MiB above what is mapped. */
static void c_oom_rlimit(void) {
    struct rlimit old, r;
    getrlimit(RLIMIT_AS, &old);
    FILE *f = fopen("/proc/self/statm", "r");
    size_t pages = 0;
    if (f) { if (fscanf(f, "%zu", &pages) != 1) pages = 0; fclose(f); }
    r = old;
    r.rlim_cur = pages * 4096 + (8u << 20);
    setrlimit(RLIMIT_AS, &r);
    mark("@@call");
    size_t ok = 0;
    void *last = NULL;
    int e = 0;
    void **keep = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t nk = 0;
    for (;;) {
        errno = 0;
        last = malloc(opaque(256 * 1024));
        if (!last) { e = errno; break; }
        if (nk < (1 << 17)) keep[nk++] = last;
        ok++;
    }
    errno = 0;
    void *big = malloc(opaque(64 << 20));
    int e2 = errno;
    result("malloc(256 KiB) NULL after %zu blocks, errno %s; malloc(64 MiB) %s, errno %s", ok, errname(e),
           big ? "a block" : "NULL", errname(e2));
    for (size_t i = 0; i < nk; i++) free(keep[i]);
    setrlimit(RLIMIT_AS, &old);
    goes_on();
}

/* ---- the table ---- */

struct kase {
    const char *name;
    const char *text;
    void (*fn)(void);
};

static const struct kase cases[] = {
#define X(name, kind, text) {"free_" #name, "free() of " text, c_free_##name},
    PTR_CASES(X)
#undef X
    {"double_tiny", "double free (48-byte block)", c_double_tiny},
    {"double_small", "double free (6000-byte block)", c_double_small},
    {"double_large", "double free (300 KiB block)", c_double_large},
    {"double_huge", "double free (5 MiB block)", c_double_huge},
    {"double_then_malloc", "double free, then two mallocs of the size before any flush", c_double_then_malloc},
    {"free_sized_wrong", "free_sized() with a wrong size", c_free_sized_wrong},
    {"overflow8", "8-byte overflow (past a 32-byte request), then free", c_overflow8},
    {"overflow8_24", "8-byte overflow (past a 24-byte request), then free", c_overflow8_24},
    {"overflow8_free_neighbour", "8-byte overflow into a free neighbour, then the class allocated",
     c_overflow8_free_neighbour},
    {"write_after_free", "8 bytes written into a freed block, then the class allocated", c_write_after_free},
#define X(name, kind, text) {"realloc_" #name, "realloc() of " text, c_realloc_##name},
    PTR_CASES(X)
#undef X
#define X(name, kind, text) {"usable_" #name, "malloc_usable_size() of " text, c_usable_##name},
    PTR_CASES(X)
#undef X
    {"free_null", "free(NULL)", c_free_null},
    {"realloc_null", "realloc(NULL, 100)", c_realloc_null},
    {"realloc_zero", "realloc(p, 0)", c_realloc_zero},
    {"usable_null", "malloc_usable_size(NULL)", c_usable_null},
    {"malloc_0", "malloc(0) twice", c_malloc_0},
#define X(name, expr, text) {#name, text, c_##name},
    SIZE_CASES(X)
#undef X
    {"realloc_max", "realloc(p, SIZE_MAX)", c_realloc_max},
    {"posix_bad_align", "posix_memalign(&p, 24, 100)", c_posix_bad_align},
    {"posix_small_align", "posix_memalign(&p, 4, 100) (below sizeof(void *))", c_posix_small_align},
    {"posix_max", "posix_memalign(&p, 64, SIZE_MAX - 4096)", c_posix_max},
    {"oom_rlimit", "out of memory (RLIMIT_AS 8 MiB above the start)", c_oom_rlimit},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Run one case under one profile; describe what happened in out. */
static void run(const char *self, const struct kase *k, const char *profile, int raw, char *out, size_t cap) {
    char errf[] = "/tmp/hakmem-bad-XXXXXX", outf[] = "/tmp/hakmem-bad-XXXXXX";
    int efd = mkstemp(errf), ofd = mkstemp(outf);
    unlink(errf);
    unlink(outf);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(efd, 2);
        dup2(ofd, 1);
        setenv("HAKMEM_PROFILE", profile, 1);
        unsetenv("HAKMEM_ON_ERROR");
        execl(self, self, "--case", k->name, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    char ebuf[4096] = "", obuf[1024] = "";
    ssize_t n = pread(efd, ebuf, sizeof ebuf - 1, 0);
    ebuf[n > 0 ? n : 0] = 0;
    n = pread(ofd, obuf, sizeof obuf - 1, 0);
    obuf[n > 0 ? n : 0] = 0;
    close(efd);
    close(ofd);
    if (raw) {
        printf("== %s [%s] status %d\n%s%s", k->name, profile, st, ebuf, obuf);
        return;
    }
    /* the first hakmem line and the phase it came in */
    const char *phase = "before the call", *kind = NULL;
    char *save = NULL;
    for (char *line = strtok_r(ebuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "@@call")) phase = "at once";
        else if (!strcmp(line, "@@flush")) phase = "at flush";
        else if (!strcmp(line, "@@alloc")) phase = "on later mallocs or frees";
        else if (!strcmp(line, "@@later")) phase = "later";
        else if (!strcmp(line, "@@check")) phase = "at heap check";
        else if (!kind && !strncmp(line, "hakmem: ", 8)) {
            kind = strstr(line, "double free") ? "double free"
                 : strstr(line, "buffer overflow") ? "overflow"
                 : strstr(line, "heap corruption") ? "corruption"
                 : strstr(line, "invalid free") ? "invalid free"
                 : strstr(line, "not allocated by hakmem") ? "foreign pointer"
                 : strstr(line, "not a live block") ? "not a block"
                 : "other";
            break;
        }
    }
    char res[300] = "";
    char *r = strstr(obuf, "RESULT ");
    if (r) {
        snprintf(res, sizeof res, "%s", r + 7);
        char *nl = strchr(res, '\n');
        if (nl) *nl = 0;
    }
    char fate[64];
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) snprintf(fate, sizeof fate, "goes on");
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) snprintf(fate, sizeof fate, "abort");
    else if (WIFSIGNALED(st)) snprintf(fate, sizeof fate, "**crash (%s)**", strsignal(WTERMSIG(st)));
    else snprintf(fate, sizeof fate, "exit %d", WEXITSTATUS(st));
    if (kind)
        snprintf(out, cap, "%s %s%s%s; %s", kind, phase, res[0] ? "; " : "", res, fate);
    else
        snprintf(out, cap, "silent%s%s; %s", res[0] ? "; " : "", res, fate);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--case")) {
        for (size_t i = 0; i < NCASES; i++)
            if (!strcmp(cases[i].name, argv[2])) { cases[i].fn(); return 0; }
        fprintf(stderr, "no case %s\n", argv[2]);
        return 2;
    }
    int raw = 0;
    const char *profiles[8];
    int np = 0;
    for (int i = 1; i < argc && np < 8; i++) {
        if (!strcmp(argv[i], "--raw")) raw = 1;
        else profiles[np++] = argv[i];
    }
    if (np == 0) {
        static const char *const all[] = {"SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE"};
        for (int i = 0; i < 5; i++) profiles[np++] = all[i];
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 2;
    self[n] = 0;
    if (!raw) {
        printf("| bad input |");
        for (int j = 0; j < np; j++) printf(" %s |", profiles[j]);
        printf("\n|---|");
        for (int j = 0; j < np; j++) printf("---|");
        printf("\n");
    }
    fflush(stdout);
    for (size_t i = 0; i < NCASES; i++) {
        if (!raw) printf("| %s |", cases[i].text);
        for (int j = 0; j < np; j++) {
            char cell[512];
            fflush(stdout);
            run(self, &cases[i], profiles[j], raw, cell, sizeof cell);
            if (!raw) printf(" %s |", cell);
        }
        if (!raw) printf("\n");
        fflush(stdout);
    }
    return 0;
}

/* Unit: the release policy (core/box/release_box.h, superslab_box.c).
 *
 * - lifecycle: slabs, superslabs and huge mappings come and go, and the
 *   accounting follows: after free-all plus trim, the superslabs mapped and
 *   the bytes mapped are back near where they started (in every profile);
 * - trim tail: trim decommits the pages past the last live block of a
 *   partly used span (carve cursor rolled back), and carving resumes soundly;
 * - idle thread: a live thread that freed 80 MB and waits in a system call
 *   keeps at most 3 MiB (each cache's top block and the slabs those are in)
 *   once another thread trims, or once other threads' slow paths have run
 *   for two purge delays; woken, it allocates all that memory again soundly;
 * - decommit modes (mem-lean, no purge delay): OFF keeps freed pages
 *   resident; DONTNEED drops them from RSS at once; FREE marks them lazily
 *   freeable — on this kernel they stay in RSS until memory pressure, so
 *   only the LazyFree count of /proc/self/smaps_rollup is asserted;
 * - purge delay (LEAN's DONTNEED with a 200 ms delay): freed spans inside
 *   live superslabs stay resident before the delay and go once the
 *   allocator's slow path runs after it; emptied superslabs beyond the
 *   pool's hot few go at once, the hot ones after the delay, on any slow
 *   path; a freed huge block is reused within the delay and given back
 *   after it, on any slow path;
 * - SPEED's freed spans: each waits for its own delay, not its
 *   superslab's first; they stay committed within RETAIN_MB and go after
 *   the delay beyond it;
 * - quick reuse (SPEED): superslabs emptied and wanted back within the
 *   delay, cycle after cycle (12 MiB of 256 KiB blocks allocated, written
 *   and freed): the first cycles decommit those beyond the pool's hot ones
 *   and fault them in again; then the pool keeps them all hot and a cycle
 *   makes no madvise.  Once the cycles stop, the delay's purge takes the
 *   extra hot places back, and the pages;
 * - budget: 8 threads allocate and free a few MiB each; while they run and
 *   after they exit, the empty superslabs kept mapped stay within the target.
 *
 * The configuration is read once at init, so each case runs in a child:
 * the test re-executes /proc/self/exe with the case's HAKMEM_* variables
 * (any others from the environment are dropped) and "--case NAME".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "box/release_box.h"
#include "box/secure_box.h"
#include "backend/backend.h"
#include "backend/superslab.h"
#include "front/size_class.h"
#include "hakmem.h"
#include "heap/heap.h"

#define MiB ((size_t)1 << 20)
#define KiB ((size_t)1 << 10)

/* Keeps the compiler from eliding a malloc/free pair. */
static void *volatile sink;

/* ---- probes ---------------------------------------------------------- */

static long rss_kib(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long size, res;
    if (sscanf(buf, "%ld %ld", &size, &res) != 2) return -1;
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* LazyFree KiB of the whole process, or -1 when the kernel does not say. */
static long lazyfree_kib(void) {
    char buf[4096];
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *l = strstr(buf, "\nLazyFree:");
    long v;
    return l && sscanf(l + 1, "LazyFree: %ld", &v) == 1 ? v : -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

static hak_stats_t stats(void) {
    hak_stats_t s;
    assert_int_equal(hak_stats_get(&s), 0);
    return s;
}

static uint64_t pooled_superslabs(void) {
    uint64_t mapped, released, pooled;
    hak_superslab_counts(&mapped, &released, &pooled);
    return pooled;
}

/* Pages of [p, p+len) resident now (mincore: nothing is touched; an
 * unmapped range counts as none). */
static size_t resident_pages(const void *p, size_t len) {
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(HAK_PAGE - 1);
    size_t n = ((uintptr_t)p + len - a + HAK_PAGE - 1) / HAK_PAGE, r = 0;
    unsigned char vec[512];
    for (size_t i = 0; i < n; i += sizeof vec) {
        size_t k = n - i < sizeof vec ? n - i : sizeof vec;
        if (mincore((void *)(a + i * HAK_PAGE), k * HAK_PAGE, vec) != 0) continue;
        for (size_t j = 0; j < k; j++) r += vec[j] & 1;
    }
    return r;
}

static void touch(void *p, size_t n, int v) {
    for (size_t i = 0; i < n; i += 4096) ((volatile unsigned char *)p)[i] = (unsigned char)v;
    ((volatile unsigned char *)p)[n - 1] = (unsigned char)v;
}

/* A tiny class's slow paths: a burst of one class past its cache (refill,
 * then flush), in spans the heap already has after the first call.  840
 * KiB: more than a cache can grow to hold (512 KiB, heap/cache.c), so
 * every call takes slow paths however often it ran before. */
static void run_tiny_slow_paths(void) {
    enum { N = 1200 };
    static void *v[N];
    for (int i = 0; i < N; i++) { v[i] = malloc(700); assert_non_null(v[i]); sink = v[i]; }
    for (int i = 0; i < N; i++) free(v[i]);
}

/* A large block's slow path: a span allocated and freed. */
static void run_large_slow_path(void) {
    void *p = malloc(300 * KiB);
    assert_non_null(p);
    touch(p, 300 * KiB, 1);
    sink = p;
    free(p);
}

/* The allocator's slow paths as a program would run them: a large block
 * and the tiny burst. */
static void run_slow_paths(void) {
    run_large_slow_path();
    run_tiny_slow_paths();
}

/* ---- a set of large blocks spread over many superslabs ---------------- */

enum { BIG_N = 160 };
#define BIG_SIZE (256 * KiB)
static void *big[BIG_N];
static void *keep[BIG_N];   /* one block per superslab */
static int nkeep;

static void big_alloc(void) {
    for (int i = 0; i < BIG_N; i++) {
        big[i] = malloc(BIG_SIZE);
        assert_non_null(big[i]);
        memset(big[i], 0x5a, BIG_SIZE);
    }
}

/* Free every block except the first one of each superslab; the bytes freed. */
static size_t big_free_but_one_per_superslab(void) {
    size_t freed = 0;
    nkeep = 0;
    for (int i = 0; i < BIG_N; i++) {
        bool seen = false;
        for (int j = 0; j < nkeep; j++) seen |= hak_superslab_of(keep[j]) == hak_superslab_of(big[i]);
        if (!seen) { keep[nkeep++] = big[i]; continue; }
        free(big[i]);
        freed += BIG_SIZE;
    }
    return freed;
}

/* How many of the freed kept blocks in pooled superslabs still have pages
 * resident.  (A superslab that stayed with the heap is left out: the next
 * small spans reuse its slabs, legitimately keeping them committed.) */
static int kept_resident(void) {
    int n = 0;
    for (int i = 0; i < nkeep; i++)
        if (hak_owns(keep[i]) && hak_superslab_of(keep[i])->pooled) n += resident_pages(keep[i], BIG_SIZE) > 1;
    return n;
}

static size_t big_free_kept(void) {
    for (int i = 0; i < nkeep; i++) free(keep[i]);
    return (size_t)nkeep * BIG_SIZE;
}

/* ---- case: lifecycle and accounting ----------------------------------- */

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static void case_lifecycle(void **state) {
    (void)state;
    hak_trim();
    hak_stats_t s0 = stats();
    long rss0 = rss_kib();

    enum { NT = 20000, NS = 2000, NL = 64, N = NT + NS + NL };
    void **v = calloc(N, sizeof *v);
    assert_non_null(v);
    uint32_t seed = 12345;
    size_t bytes = 0;
    for (int i = 0; i < N; i++) {
        uint32_t r = lcg(&seed);
        size_t n = i < NT ? 16 + r % 1009 : i < NT + NS ? 1025 + r % (31 * 1024) : 64 * KiB + r % (960 * KiB);
        v[i] = malloc(n);
        assert_non_null(v[i]);
        touch(v[i], n, i);
        bytes += n;
        /* every block lives in a superslab this thread's heap owns */
        hak_superslab_t *r0 = hak_superslab_of(v[i]);
        assert_int_equal(r0->magic, HAK_SS_MAGIC);
        assert_int_equal(r0->kind, HAK_SS_SLABS);
        assert_ptr_equal(r0->owner, &hak_tls_heap->ss);
        hak_span_t *sp = hak_span_of(r0, v[i]);
        assert_int_equal(sp->kind, n <= HAK_SMALL_MAX ? HAK_SLAB_SMALL : HAK_SLAB_LARGE);
        assert_int_equal(r0->free_mask & (1u << (sp - r0->spans)), 0);
    }
    hak_stats_t s1 = stats();
    assert_true(s1.superslabs_mapped >= s0.superslabs_mapped + bytes / HAK_SUPERSLAB_SIZE);
    assert_true(s1.bytes_mapped >= s0.bytes_mapped + bytes);
    assert_true(s1.bytes_in_use >= bytes);

    /* huge blocks: their own mappings, counted in bytes_mapped */
    size_t hsz[3] = {3 * MiB, 5 * MiB + 123, 9 * MiB};
    void *h[3];
    for (int i = 0; i < 3; i++) {
        h[i] = malloc(hsz[i]);
        assert_non_null(h[i]);
        touch(h[i], hsz[i], 7);
        assert_int_equal(hak_superslab_of(h[i])->kind, HAK_SS_HUGE);
    }
    hak_stats_t s2 = stats();
    assert_true(s2.bytes_mapped >= s1.bytes_mapped + hsz[0] + hsz[1] + hsz[2]);
    assert_int_equal(s2.superslabs_mapped, s1.superslabs_mapped);
    for (int i = 0; i < 3; i++) free(h[i]);

    /* free everything in scattered order */
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(lcg(&seed) % (uint32_t)(i + 1));
        void *t = v[i]; v[i] = v[j]; v[j] = t;
    }
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);

    assert_int_equal(hak_trim(), 1);
    int again = hak_trim();   /* nothing left to give back */
    hak_stats_t s3 = stats();
    long rss3 = rss_kib();
    print_message("lifecycle: %zu MiB allocated in %" PRIu64 " superslabs; after trim %" PRIu64
                  " mapped (%" PRIu64 " before), bytes_mapped %" PRIu64 " KiB (%" PRIu64
                  " before), retained %" PRIu64 " KiB, RSS %ld KiB (%ld before)\n",
                  bytes >> 20, s1.superslabs_mapped, s3.superslabs_mapped, s0.superslabs_mapped,
                  s3.bytes_mapped >> 10, s0.bytes_mapped >> 10, s3.bytes_retained >> 10, rss3, rss0);
    assert_true(s3.superslabs_released > s0.superslabs_released);
    assert_true(s3.superslabs_mapped <= s0.superslabs_mapped + 1);
    assert_int_equal(pooled_superslabs(), 0);
    assert_true(s3.bytes_mapped <= s0.bytes_mapped + HAK_SUPERSLAB_SIZE);
    assert_true(s3.bytes_retained <= s0.bytes_retained + HAK_SUPERSLAB_SIZE);
    assert_true(rss3 <= rss0 + 2048);
    assert_int_equal(again, 0);
}

/* ---- case: trim gives back the free tail of a partly used span -------- */

/* A 16-byte class span filled, then freed but for one block near its start:
 * trim moves the carve cursor back and decommits the pages past that block,
 * and blocks carved again afterwards are distinct and sound (in SECURE a
 * damaged link would abort). */
static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static void case_trim_tail(void **state) {
    (void)state;
    enum { N = 6000 };   /* more than one span of 16-byte blocks */
    static char *v[N];
    hak_trim();
    for (int i = 0; i < N; i++) { v[i] = malloc(16); assert_non_null(v[i]); memset(v[i], 0xab, 16); }
    /* the span holding v[0]: keep its lowest block in use */
    hak_span_t *s = hak_span_of(hak_superslab_of(v[0]), v[0]);
    char *keep = NULL;
    for (int i = 0; i < N; i++)
        if (hak_span_of(hak_superslab_of(v[i]), v[i]) == s && (!keep || v[i] < keep)) keep = v[i];
    uintptr_t tail = ((uintptr_t)keep + s->block_size + HAK_PAGE - 1) & ~(uintptr_t)(HAK_PAGE - 1);
    uintptr_t end = ((uintptr_t)s->data & ~(uintptr_t)(HAK_SLAB_SIZE - 1)) + ((size_t)s->nslabs << HAK_SLAB_SHIFT);
    for (int i = 0; i < N; i++)
        if (v[i] != keep) free(v[i]);
    size_t before = resident_pages((void *)tail, end - tail);
    hak_trim();
    size_t after = resident_pages((void *)tail, end - tail);
    print_message("span tail: %zu KiB resident before trim, %zu after; carved %u of %u\n",
                  before * 4, after * 4, s->carved, s->capacity);
    assert_true(before * HAK_PAGE >= (end - tail) / 2);
    assert_int_equal(after, 0);
    assert_true((char *)s->data + (size_t)s->carved * s->block_size <= keep + s->block_size);   /* SECURE: 32-byte blocks */
    assert_int_equal(keep[0], (char)0xab);
    /* carve again over the decommitted tail */
    for (int i = 0; i < N; i++) { v[i] = malloc(16); assert_non_null(v[i]); memset(v[i], 0xcd, 16); }
    qsort(v, N, sizeof v[0], cmp_ptr);
    for (int i = 0; i < N; i++) {
        assert_true(i == 0 || v[i] != v[i - 1]);
        assert_ptr_not_equal(v[i], keep);
    }
    assert_int_equal(keep[0], (char)0xab);
    for (int i = 0; i < N; i++) free(v[i]);
    free(keep);
    hak_trim();
}

/* ---- cases: an idle thread's heap does not pin memory ----------------- */

static pthread_mutex_t idle_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_c = PTHREAD_COND_INITIALIZER;
static int idle_ready, idle_go;

/* Allocates about 80 MB of small blocks, frees them all, then waits; woken,
 * does it again and checks that no two blocks overlap (its caches were
 * taken from while it waited). */
static void *idle_worker(void *arg) {
    (void)arg;
    enum { N = 40000 };
    static void *v[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = 16 + (size_t)(i * 7919) % 4000;
            v[i] = malloc(n);
            assert_non_null(v[i]);
            memset(v[i], (unsigned char)i, n);
        }
        for (int i = 0; i < N; i++) {
            size_t n = 16 + (size_t)(i * 7919) % 4000;
            const unsigned char *b = v[i];
            assert_true(b[0] == (unsigned char)i && b[n - 1] == (unsigned char)i);
        }
        for (int i = 0; i < N; i++) free(v[(i * 7) % N]);
        if (round) break;
        pthread_mutex_lock(&idle_m);
        idle_ready = 1;
        pthread_cond_broadcast(&idle_c);
        while (!idle_go) pthread_cond_wait(&idle_c, &idle_m);
        pthread_mutex_unlock(&idle_m);
    }
    return NULL;
}

/* What the idle thread still holds once the main thread has trimmed, or
 * has run slow paths for a while: each cache's top block and the slabs
 * those are in (heap.c, "idle caches"); its caches' TCACHE_MAX went back. */
static void idle_case(bool trim) {
    /* What may stay: a slab for each class the worker used, where its top
     * block is, 512 KiB for the test's own pages and 1 MiB for the burst
     * of run_tiny_slow_paths (840 KiB, some of it in this thread's cache). */
    bool used[HAK_NCLASSES] = {false};
    long keep = 512 + 1024;
    for (size_t n = 16; n < 16 + 4000; n++) {
        unsigned c = hak_class_of(hak_block_need(n));
        if (!used[c]) { used[c] = true; keep += (long)(HAK_SLAB_SIZE / 1024); }
    }
    hak_trim();
    long rss0 = rss_kib();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, idle_worker, NULL), 0);
    pthread_mutex_lock(&idle_m);
    while (!idle_ready) pthread_cond_wait(&idle_c, &idle_m);
    pthread_mutex_unlock(&idle_m);
    sleep_ms(50);   /* until it sits in the condition variable's system call */
    long rss1 = rss_kib(), rss2 = rss1;
    if (trim) {
        assert_int_equal(hak_trim(), 1);
        rss2 = rss_kib();
    } else {
        /* free slabs are due after the delay; others act one delay later */
        for (double t0 = now_s(); now_s() - t0 < 5 && rss2 - rss0 > keep; rss2 = rss_kib()) {
            run_tiny_slow_paths();
            sleep_ms(20);
        }
    }
    print_message("idle thread: RSS %ld KiB above start after its frees, %ld after %s (at most %ld)\n", rss1 - rss0,
                  rss2 - rss0, trim ? "trim" : "other threads' slow paths", keep);
    /* LEAN gives freed slabs back at once: there only the caches stay */
    const char *prof = getenv("HAKMEM_PROFILE");
    assert_true(rss1 - rss0 >= (prof && strcmp(prof, "LEAN") == 0 ? 1024 : 32 * 1024));
    assert_true(rss2 - rss0 <= keep);
    pthread_mutex_lock(&idle_m);
    idle_go = 1;
    pthread_cond_broadcast(&idle_c);
    pthread_mutex_unlock(&idle_m);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void case_idle_trim(void **state) { (void)state; idle_case(true); }
static void case_idle_purge(void **state) { (void)state; idle_case(false); }

/* ---- cases: each decommit mode ---------------------------------------- */

/* Mem-lean, target 64 MiB (so every emptied superslab is pooled, not
 * unmapped), no purge delay: what happens to freed spans and to pooled
 * superslabs is the advice alone. */
static void decommit_case(int advice) {
    hak_trim();
    big_alloc();
    long rss1 = rss_kib(), lazy1 = lazyfree_kib();
    uint64_t madv1 = stats().os_madvise;

    /* spans freed inside superslabs that stay live */
    size_t freed = big_free_but_one_per_superslab();
    long rss2 = rss_kib(), lazy2 = lazyfree_kib();
    uint64_t madv2 = stats().os_madvise;
    long drop = rss1 - rss2, want = (long)(freed >> 10);
    print_message("spans: freed %ld KiB; RSS %ld -> %ld KiB (dropped %ld), LazyFree %ld -> %ld KiB, "
                  "madvise +%" PRIu64 "\n", want, rss1, rss2, drop, lazy1, lazy2, madv2 - madv1);
    assert_true(nkeep >= 4);
    if (advice == 0) {
        assert_true(drop <= want / 10);
        assert_int_equal(madv2, madv1);
    } else if (advice == MADV_DONTNEED) {
        assert_true(drop >= want * 9 / 10);
    } else {
        assert_true(madv2 > madv1);
        if (lazy1 >= 0) assert_true(lazy2 - lazy1 >= want * 9 / 10);
    }

    /* the superslabs empty: into the pool */
    uint64_t pooled0 = pooled_superslabs();
    size_t freed2 = big_free_kept();
    long rss3 = rss_kib(), lazy3 = lazyfree_kib();
    uint64_t madv3 = stats().os_madvise;
    uint64_t pooled = pooled_superslabs() - pooled0;
    drop = rss2 - rss3;
    /* what became resident-and-free now: the kept blocks, plus, when the
     * spans were not decommitted, everything freed before */
    want = (long)(freed2 >> 10) + (advice == 0 ? (long)(freed >> 10) : 0);
    print_message("superslabs: %" PRIu64 " pooled; RSS %ld -> %ld KiB (dropped %ld), LazyFree %ld -> %ld "
                  "KiB, madvise +%" PRIu64 "\n", pooled, rss2, rss3, drop, lazy2, lazy3, madv3 - madv2);
    assert_true(pooled >= (uint64_t)nkeep - 1);   /* one may stay with the heap's small spans */
    if (advice == 0) {
        assert_true(drop <= (long)(freed2 >> 10) / 10);
        assert_int_equal(madv3, madv2);
    } else if (advice == MADV_DONTNEED) {
        assert_true(drop >= want * 9 / 10);
    } else {
        assert_true(madv3 > madv2);
        if (lazy2 >= 0) assert_true(lazy3 - lazy2 >= want * 9 / 10);
    }

    /* trim gives everything back whatever the mode */
    long rss0 = rss1 - (long)((size_t)BIG_N * BIG_SIZE >> 10);
    assert_int_equal(hak_trim(), 1);
    long rss4 = rss_kib();
    print_message("after trim: RSS %ld KiB (about %ld before the blocks)\n", rss4, rss0);
    assert_int_equal(pooled_superslabs(), 0);
    assert_true(rss4 <= rss0 + 2048);
}

static void case_decommit_off(void **state) {
    (void)state;
    assert_int_equal(hak_release.advice, 0);
    decommit_case(0);
}

static void case_decommit_dontneed(void **state) {
    (void)state;
    assert_int_equal(hak_release.advice, MADV_DONTNEED);
    decommit_case(MADV_DONTNEED);
}

static void case_decommit_free(void **state) {
    (void)state;
    assert_int_equal(hak_release.advice, MADV_FREE);
    decommit_case(MADV_FREE);
}

/* ---- case: the purge delay -------------------------------------------- */

/* Run the slow paths until RSS has dropped by want KiB below from, at most
 * tries times; the drop reached. */
static long slow_paths_until_drop(long from, long want, int tries) {
    long drop = 0;
    for (int i = 0; i < tries && drop < want; i++) {
        run_slow_paths();
        drop = from - rss_kib();
    }
    return drop;
}

static void case_purge_delay(void **state) {
    (void)state;
    const int delay_ms = 200;
    assert_int_equal(hak_release.delay_ns, (uint64_t)delay_ms * 1000000u);
    assert_int_equal(hak_release.advice, MADV_DONTNEED);
    hak_trim();
    big_alloc();

    /* freed spans inside live superslabs */
    long rss1 = rss_kib();
    double t = now_s();
    long want = (long)(big_free_but_one_per_superslab() >> 10);
    for (int i = 0; i < 20; i++) run_slow_paths();
    long early = rss1 - rss_kib();
    bool in_time = now_s() - t < delay_ms * 0.75e-3;
    sleep_ms(delay_ms + 50);
    long late = slow_paths_until_drop(rss1, want * 9 / 10, 200);
    print_message("spans: freed %ld KiB; dropped %ld KiB before the delay%s, %ld after it\n", want, early,
                  in_time ? "" : " (not checked: the machine was too slow)", late);
    if (in_time) assert_true(early <= want / 10);
    assert_true(late >= want * 9 / 10);

    /* superslabs emptied into the pool: beyond the pool's few hot ones
     * (hak_backend.pool.hot) they are decommitted as they arrive; the hot
     * ones keep their pages until the delay is over, then the next slow
     * path decommits them — here only the tiny class's refills and flushes,
     * which take no superslab from the pool and give none back */
    long rss2 = rss_kib();
    t = now_s();
    size_t n = (size_t)nkeep;
    big_free_kept();
    uint64_t pooled = pooled_superslabs();
    for (int i = 0; i < 20; i++) run_tiny_slow_paths();
    early = rss2 - rss_kib();
    int early_resident = kept_resident();
    in_time = now_s() - t < delay_ms * 0.75e-3;
    long kept = (long)(n * (BIG_SIZE >> 10));   /* resident in the superslabs just emptied */
    uint64_t hot_n = pooled < hak_backend.pool.hot ? pooled : hak_backend.pool.hot;
    long hot = (long)(hot_n * (BIG_SIZE >> 10));
    sleep_ms(delay_ms + 50);
    late = 0;
    int late_resident = nkeep;
    for (int i = 0; i < 200 && (late < (long)pooled * (long)(BIG_SIZE >> 10) - 128 || late_resident); i++) {
        run_tiny_slow_paths();
        late = rss2 - rss_kib();
        late_resident = kept_resident();
    }
    print_message("superslabs: %zu emptied (%ld KiB resident), %" PRIu64 " pooled, %" PRIu64
                  " hot; dropped %ld KiB before the delay%s, %ld after it; kept blocks still resident: "
                  "%d before the delay, %d after it\n", n, kept, pooled, hot_n, early,
                  in_time ? "" : " (not checked: the machine was too slow)", late, early_resident, late_resident);
    /* a superslab or two may stay with the heap: run_slow_paths' small
     * spans may have been carved in the slabs the first phase freed */
    assert_true(pooled + 3 >= n);
    assert_true(early >= (long)(pooled - hot_n) * (long)(BIG_SIZE >> 10) * 9 / 10);
    if (in_time) assert_true(early <= kept - hot * 9 / 10);
    /* what went to the pool comes back; a superslab that stayed with the
     * heap (see above) keeps its pages until its own slabs are purged */
    assert_true(late >= (long)pooled * (long)(BIG_SIZE >> 10) - 128);
    /* block by block: the hot ones waited for the delay, and after it no
     * pooled one is left resident, whatever slow path came next */
    if (in_time) assert_true(early_resident >= (int)hot_n);
    assert_int_equal(late_resident, 0);
}

/* ---- case: superslabs emptied and taken back in cycles ----------------- */

static void case_pool_quick_reuse(void **state) {
    (void)state;
    enum { N = 48, CYCLES = 8 };   /* 12 MiB: some six superslabs, more than the pool's first hot ones */
    static void *v[N];
    const int delay_ms = 3000;
    assert_int_equal(hak_release.delay_ns, (uint64_t)delay_ms * 1000000u);
    hak_trim();
    assert_int_equal(hak_backend.pool.hot, hak_release.pool_hot);
    uint64_t madv[CYCLES + 1];
    double t = now_s();
    for (int c = 0; c < CYCLES; c++) {
        madv[c] = stats().os_madvise;
        for (int i = 0; i < N; i++) {
            v[i] = malloc(BIG_SIZE);
            assert_non_null(v[i]);
            touch(v[i], BIG_SIZE, c + 1);
        }
        for (int i = 0; i < N; i++) {
            assert_int_equal(((unsigned char *)v[i])[BIG_SIZE - 1], c + 1);
            free(v[i]);
        }
    }
    madv[CYCLES] = stats().os_madvise;
    bool in_time = now_s() - t < delay_ms * 0.5e-3;
    uint64_t pooled = pooled_superslabs();
    long rss = rss_kib();
    print_message("pool: %" PRIu64 " pooled, hot limit %u (first %u); madvise per cycle:", pooled,
                  hak_backend.pool.hot, hak_release.pool_hot);
    for (int c = 0; c < CYCLES; c++) print_message(" %" PRIu64, madv[c + 1] - madv[c]);
    print_message("%s\n", in_time ? "" : " (not checked: the machine was too slow)");
    /* the pool saw more superslabs than its first hot ones, and decommitted
     * some of them as they arrived at first */
    assert_true(pooled > hak_release.pool_hot);
    assert_true(madv[1] - madv[0] > 0 || madv[2] - madv[1] > 0);
    if (in_time) {
        /* then they all stayed hot: the last cycles made no madvise */
        assert_int_equal(madv[CYCLES] - madv[CYCLES - 3], 0);
        assert_true(hak_backend.pool.hot >= pooled);
    }
    assert_true((size_t)hak_backend.pool.hot * HAK_SUPERSLAB_SIZE <= hak_release.pool_cap);
    /* the cycles stop: after the delay, slow paths give the pages back and
     * the hot limit returns to where it started */
    sleep_ms(delay_ms + 100);
    long drop = 0;
    for (int i = 0; i < 400 && (hak_backend.pool.hot > hak_release.pool_hot || drop < (long)(pooled - 1) * 2048 - 512); i++) {
        run_tiny_slow_paths();
        drop = rss - rss_kib();
    }
    print_message("after the delay: hot limit %u, %ld KiB given back\n", hak_backend.pool.hot, drop);
    assert_int_equal(hak_backend.pool.hot, hak_release.pool_hot);
    assert_true(drop >= (long)(pooled - 1) * 2048 - 512);
}

/* A freed huge block: kept for reuse through the purge delay (a new block
 * of the same size takes it without a system call), then given back once
 * the delay is over and any slow path runs — not only the next huge one:
 * here, after the delay, only large blocks come and go. */
static void case_huge_purge_delay(void **state) {
    (void)state;
    const int delay_ms = 200;
    const size_t size = 8 * MiB;
    assert_int_equal(hak_release.delay_ns, (uint64_t)delay_ms * 1000000u);
    hak_trim();
    run_slow_paths();   /* their own blocks, resident from now on */
    hak_stats_t s0 = stats();
    long rss0 = rss_kib();

    void *p = malloc(size);
    assert_non_null(p);
    touch(p, size, 1);
    free(p);
    hak_stats_t s1 = stats();
    p = malloc(size);   /* within the delay: the same mapping again */
    assert_non_null(p);
    hak_stats_t s2 = stats();
    touch(p, size, 2);
    double t = now_s();
    free(p);
    for (int i = 0; i < 20; i++) run_slow_paths();
    long early = rss_kib() - rss0;
    bool in_time = now_s() - t < delay_ms * 0.75e-3;
    sleep_ms(delay_ms + 50);
    long late = 0;
    hak_stats_t s3 = stats();
    for (int i = 0; i < 200; i++) {
        run_large_slow_path();
        late = rss_kib() - rss0;
        s3 = stats();
        if (s3.bytes_mapped <= s0.bytes_mapped + HAK_SUPERSLAB_SIZE && late < 1024) break;
    }
    print_message("huge: %zu MiB; reuse took %" PRIu64 " mmap calls; %ld KiB above start before the delay%s, "
                  "%ld after it; mapped %" PRIu64 " KiB above start\n", size >> 20, s2.os_mmap - s1.os_mmap, early,
                  in_time ? "" : " (not checked: the machine was too slow)", late,
                  (s3.bytes_mapped - s0.bytes_mapped) >> 10);
    assert_int_equal(s2.os_mmap, s1.os_mmap);
    if (in_time) assert_true(early >= (long)(size >> 10) * 9 / 10);
    assert_true(late < 1024);
    assert_true(s3.bytes_mapped <= s0.bytes_mapped + HAK_SUPERSLAB_SIZE);
}

/* ---- cases: SPEED's freed spans: own deadlines, retention budget ------ */

/* Two spans of one superslab freed 0.6 delay apart: once the first one's
 * delay is over, slow paths decommit it and leave the second, whose delay
 * is not (RETAIN_MB=0: no budget, every freed span goes). */
static void case_slab_deadline(void **state) {
    (void)state;
    const int delay_ms = 300;
    assert_int_equal(hak_release.span_budget, 0);
    hak_trim();
    big_alloc();
    /* two blocks of the first superslab that has three */
    void *a = NULL, *b = NULL;
    for (int i = 0; i < BIG_N && !b; i++) {
        int n = 0;
        for (int j = 0; j < BIG_N; j++) n += hak_superslab_of(big[j]) == hak_superslab_of(big[i]);
        if (n < 3) continue;
        for (int j = 0; j < BIG_N; j++)
            if (j != i && hak_superslab_of(big[j]) == hak_superslab_of(big[i])) { if (!a) a = big[j]; else if (!b) b = big[j]; }
    }
    assert_non_null(b);
    volatile uintptr_t ua = (uintptr_t)a, ub = (uintptr_t)b;   /* addresses only, once freed */
    double t = now_s();
    free(a);
    sleep_ms(delay_ms * 6 / 10);
    free(b);
    sleep_ms(delay_ms * 6 / 10);
    for (int i = 0; i < 5; i++) run_tiny_slow_paths();
    size_t ra = resident_pages((void *)ua, BIG_SIZE), rb = resident_pages((void *)ub, BIG_SIZE);
    bool in_time = now_s() - t < delay_ms * 1.5e-3;
    print_message("first span: %zu pages resident, second (freed %d ms later): %zu%s\n", ra, delay_ms * 6 / 10, rb,
                  in_time ? "" : " (second not checked: the machine was too slow)");
    assert_int_equal(ra, 0);
    if (in_time) assert_int_equal(rb, BIG_SIZE / HAK_PAGE);
    for (int i = 0; i < BIG_N; i++)
        if ((uintptr_t)big[i] != ua && (uintptr_t)big[i] != ub) free(big[i]);
}

/* SPEED keeps freed spans committed while all free written slabs fit in
 * RETAIN_MB, and decommits them after the delay beyond it. */
static void span_budget_case(bool within) {
    const int delay_ms = 100;
    assert_int_equal(hak_release.span_budget, hak_release.pool_cap);
    hak_trim();
    big_alloc();
    long rss1 = rss_kib();
    long want = (long)(big_free_but_one_per_superslab() >> 10);
    sleep_ms(delay_ms * 3);
    long late = slow_paths_until_drop(rss1, want, within ? 50 : 500);
    long budget = (long)(hak_release.span_budget >> 10);
    print_message("spans: freed %ld KiB, budget %ld KiB; dropped %ld KiB after the delay\n", want, budget, late);
    if (within) {
        assert_true(want <= budget);
        assert_true(late <= want / 10);
    } else {
        assert_true(want > budget);
        assert_true(late >= want - budget - 2048);
    }
    big_free_kept();
}

static void case_span_budget_within(void **state) { (void)state; span_budget_case(true); }
static void case_span_budget_beyond(void **state) { (void)state; span_budget_case(false); }

/* ---- case: the budget with many threads -------------------------------- */

enum { THREADS = 8 };
static pthread_barrier_t budget_barrier;
static atomic_int budget_done;

static void *budget_worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg * 7919u + 1;
    enum { N = 40 };
    void *v[N];
    pthread_barrier_wait(&budget_barrier);
    for (int round = 0; round < 3; round++) {
        /* about 4 MiB of large and small blocks, then free them all */
        for (int i = 0; i < N; i++) {
            size_t n = i % 4 == 0 ? 4 * KiB + lcg(&seed) % (28 * KiB) : 64 * KiB + lcg(&seed) % (192 * KiB);
            v[i] = malloc(n);
            assert_non_null(v[i]);
            touch(v[i], n, i);
        }
        for (int i = N - 1; i >= 0; i--) free(v[i]);
    }
    return NULL;
}

static void *budget_sampler(void *arg) {
    uint64_t *max = arg;
    while (!atomic_load(&budget_done)) {
        uint64_t p = pooled_superslabs();
        if (p > *max) *max = p;
        sched_yield();
    }
    return NULL;
}

static void add_heap_bytes(hak_heap_t *h, void *arg) { *(size_t *)arg += h->size; }

static void case_budget_threads(void **state) {
    (void)state;
    size_t cap = hak_release.pool_cap;
    uint64_t cap_n = cap / HAK_SUPERSLAB_SIZE;
    hak_trim();
    hak_stats_t s0 = stats();

    pthread_t t[THREADS], sampler;
    uint64_t max_pooled = 0;
    pthread_barrier_init(&budget_barrier, NULL, THREADS);
    assert_int_equal(pthread_create(&sampler, NULL, budget_sampler, &max_pooled), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, budget_worker, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    atomic_store(&budget_done, 1);
    pthread_join(sampler, NULL);
    pthread_barrier_destroy(&budget_barrier);

    hak_stats_t s1 = stats();
    size_t heap_bytes = 0;
    hak_heaps_foreach(add_heap_bytes, &heap_bytes);
    /* mapped but holding no block: pooled superslabs, free slabs of the
     * superslabs still owned, cached blocks, and the heaps' own structs */
    uint64_t empty = s1.bytes_mapped - s1.bytes_in_use;
    uint64_t allowed = s0.bytes_mapped - s0.bytes_in_use + cap + heap_bytes + HAK_SUPERSLAB_SIZE;
    print_message("budget: cap %" PRIu64 " superslabs; pooled at most %" PRIu64 " while running, %" PRIu64
                  " after; superslabs %" PRIu64 " mapped (%" PRIu64 " before), %" PRIu64
                  " released; mapped-but-empty %" PRIu64 " KiB (allowed %" PRIu64 ")\n",
                  cap_n, max_pooled, pooled_superslabs(), s1.superslabs_mapped, s0.superslabs_mapped,
                  s1.superslabs_released - s0.superslabs_released, empty >> 10, allowed >> 10);
    assert_true(max_pooled <= cap_n);
    assert_true(pooled_superslabs() <= cap_n);
    /* the threads used far more than the cap, so superslabs went back */
    assert_true(s1.superslabs_released - s0.superslabs_released >= 1);
    assert_true(s1.superslabs_mapped <= s0.superslabs_mapped + cap_n + 1);
    assert_true(empty <= allowed);
}

/* Freed huge mappings are reused for any size.  A smaller block is cut from
 * a cached mapping (the rest stays cached) without a system call, its pages
 * still resident; a bigger one is built from the cached mappings' pages,
 * moved by mremap, so they are not faulted in again.  Such a block grows by
 * realloc with its contents, and frees like any other.  A freed block
 * bigger than the budget's room leaves its head cached, within the budget. */
static void case_huge_reuse(void **state) {
    (void)state;
    hak_trim();
    char *a = malloc(16 * MiB);
    assert_non_null(a);
    touch(a, 16 * MiB, 1);
    free(a);   /* cached: an 18 MiB mapping */
    hak_stats_t s1 = stats();
    char *b = malloc(5 * MiB);
    assert_non_null(b);
    hak_stats_t s2 = stats();
    assert_int_equal(s2.os_mmap, s1.os_mmap);
    assert_int_equal(s2.os_munmap, s1.os_munmap);
    assert_int_equal(hak_superslab_of(b)->map_size, 6 * MiB);
    assert_int_equal(malloc_usable_size(b), 6 * MiB - HAK_PAGE);
    assert_true(resident_pages(b, 5 * MiB) >= 5 * MiB / HAK_PAGE * 9 / 10);
    memset(b, 2, 5 * MiB);

    /* 12 MiB stay cached: a 30 MiB block takes their pages */
    size_t n = 30 * MiB;
    uint32_t *c = malloc(n);
    assert_non_null(c);
    hak_stats_t s3 = stats();
    assert_true(s3.os_mremap > s2.os_mremap);
    assert_true(resident_pages(c, n) >= 9 * MiB / HAK_PAGE);   /* a's 10 MiB beyond b's 6 */
    assert_true(hak_owns((char *)c + n - 1));
    for (size_t i = 0; i < n / 4; i++) c[i] = (uint32_t)i * 2654435761u;
    /* its pieces are separate kernel mappings: realloc moves them one by one */
    uint32_t *d = realloc(c, 50 * MiB);
    assert_non_null(d);
    for (size_t i = 0; i < n / 4; i++)
        if (d[i] != (uint32_t)i * 2654435761u) fail_msg("realloc lost word %zu", i);
    assert_int_equal(malloc_usable_size(d), 52 * MiB - HAK_PAGE);
    free(d);
    for (size_t i = 0; i < 5 * MiB; i += 4096) assert_int_equal(b[i], 2);
    free(b);

    /* budget: a block bigger than the huge cache's cap, freed into an empty
     * cache, keeps its first huge_cap bytes (4 x RETAIN_MB in SPEED) */
    hak_trim();
    size_t cap = hak_release.huge_cap, big = cap + 36 * MiB;
    hak_stats_t s4 = stats();
    char *e = malloc(big);
    assert_non_null(e);
    touch(e, 40 * MiB, 3);   /* enough pages that keeping them matters */
    free(e);
    hak_stats_t s5 = stats();
    assert_true(s5.bytes_mapped <= s4.bytes_mapped + cap);
    assert_true(s5.bytes_mapped >= s4.bytes_mapped + cap - HAK_SUPERSLAB_SIZE);
    char *f = malloc(cap - 2 * MiB);
    assert_non_null(f);
    assert_int_equal(stats().os_mmap, s5.os_mmap);
    free(f);
    hak_trim();
}

/* ---- the driver -------------------------------------------------------- */

typedef struct {
    const char *name;
    void (*fn)(void **);
    const char *env[6];
} rcase;

static const rcase cases[] = {
    {"lifecycle_speed", case_lifecycle, {"HAKMEM_PROFILE=SPEED"}},
    {"lifecycle_balanced", case_lifecycle, {"HAKMEM_PROFILE=BALANCED"}},
    {"lifecycle_lean", case_lifecycle, {"HAKMEM_PROFILE=LEAN"}},
    {"trim_tail_speed", case_trim_tail, {"HAKMEM_PROFILE=SPEED"}},
    {"trim_tail_secure", case_trim_tail, {"HAKMEM_PROFILE=SECURE"}},
    {"trim_tail_balanced", case_trim_tail, {"HAKMEM_PROFILE=BALANCED"}},
    {"idle_trim_speed", case_idle_trim, {"HAKMEM_PROFILE=SPEED"}},
    {"idle_trim_balanced", case_idle_trim, {"HAKMEM_PROFILE=BALANCED"}},
    {"idle_trim_lean", case_idle_trim, {"HAKMEM_PROFILE=LEAN"}},
    {"idle_trim_secure", case_idle_trim, {"HAKMEM_PROFILE=SECURE"}},
    {"idle_purge_speed", case_idle_purge, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=100"}},
    {"decommit_off", case_decommit_off,
     {"HAKMEM_SS_MEM_LEAN=1", "HAKMEM_SS_MEM_LEAN_TARGET_MB=64", "HAKMEM_SS_MEM_LEAN_DECOMMIT=OFF",
      "HAKMEM_PURGE_DELAY_MS=0"}},
    {"decommit_dontneed", case_decommit_dontneed,
     {"HAKMEM_SS_MEM_LEAN=1", "HAKMEM_SS_MEM_LEAN_TARGET_MB=64", "HAKMEM_SS_MEM_LEAN_DECOMMIT=DONTNEED",
      "HAKMEM_PURGE_DELAY_MS=0"}},
    {"decommit_free", case_decommit_free,
     {"HAKMEM_SS_MEM_LEAN=1", "HAKMEM_SS_MEM_LEAN_TARGET_MB=64", "HAKMEM_SS_MEM_LEAN_DECOMMIT=FREE",
      "HAKMEM_PURGE_DELAY_MS=0"}},
    /* mem-lean with DONTNEED decommits everything once its delay is over;
     * a 64 MiB target so that no emptied superslab is unmapped at once */
    {"purge_delay", case_purge_delay,
     {"HAKMEM_PROFILE=LEAN", "HAKMEM_PURGE_DELAY_MS=200", "HAKMEM_SS_MEM_LEAN_TARGET_MB=64"}},
    {"slab_deadline", case_slab_deadline, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=300", "HAKMEM_RETAIN_MB=0"}},
    {"span_budget_within", case_span_budget_within, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=100"}},
    {"span_budget_beyond", case_span_budget_beyond,
     {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=100", "HAKMEM_RETAIN_MB=8"}},
    {"huge_purge_delay_speed", case_huge_purge_delay, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=200"}},
    {"huge_purge_delay_balanced", case_huge_purge_delay, {"HAKMEM_PROFILE=BALANCED", "HAKMEM_PURGE_DELAY_MS=200"}},
    {"pool_quick_reuse", case_pool_quick_reuse, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=3000"}},
    {"huge_reuse", case_huge_reuse, {"HAKMEM_PROFILE=SPEED", "HAKMEM_PURGE_DELAY_MS=60000"}},
    {"budget_threads_balanced", case_budget_threads,
     {"HAKMEM_PROFILE=BALANCED", "HAKMEM_SS_MEM_LEAN_TARGET_MB=4"}},
    {"budget_threads_speed", case_budget_threads, {"HAKMEM_PROFILE=SPEED", "HAKMEM_RETAIN_MB=4"}},
};
#define NCASES (sizeof cases / sizeof cases[0])

extern char **environ;

/* Parent side: run one case in a fresh process with its environment. */
static void run_in_child(void **state) {
    const rcase *c = *state;
    char *envp[256];
    int n = 0;
    for (char **e = environ; *e && n < 240; e++)
        if (strncmp(*e, "HAKMEM_", 7) != 0) envp[n++] = *e;
    for (int i = 0; i < 6 && c->env[i]; i++) envp[n++] = (char *)c->env[i];
    envp[n] = NULL;
    char *argv[] = {"test_unit_release", "--case", (char *)c->name, NULL};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("case %s failed (%s %d)", c->name, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--case") == 0) {
        for (size_t i = 0; i < NCASES; i++) {
            if (strcmp(cases[i].name, argv[2]) != 0) continue;
            const struct CMUnitTest one[] = {{cases[i].name, cases[i].fn, NULL, NULL, NULL}};
            return cmocka_run_group_tests_name(cases[i].name, one, NULL, NULL);
        }
        fprintf(stderr, "no case %s\n", argv[2]);
        return 2;
    }
    struct CMUnitTest tests[NCASES];
    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_in_child, NULL, NULL, (void *)&cases[i]};
    return cmocka_run_group_tests_name("release", tests, NULL, NULL);
}

/* test_stress.c — long-running randomized stress: many threads, every
 * allocation entry point, cross-thread frees, bursts, trims, thread churn
 * and fork under load, for a fixed time rather than a fixed op count.
 *
 * test_threads.c runs a fixed, short cross-thread workload and test_churn.c
 * checks that thread generations keep RSS flat; this one is the heavier,
 * randomized, time-driven test meant to run for minutes (make stress):
 *
 *   workers     STRESS_THREADS threads (default 8), each holding up to 2048
 *               blocks; random malloc / calloc / realloc (grow, shrink,
 *               NULL) / reallocarray / aligned_alloc / posix_memalign /
 *               memalign / valloc / pvalloc / free / free_sized, sizes from
 *               1 byte to 8 MiB over every tier (class boundaries favoured),
 *               alignments 8 B .. 4 MiB;
 *   hand-off    blocks go to other workers' queues (they verify, then free,
 *               realloc or keep them: cross-thread free and realloc) and to
 *               short-lived threads;
 *   bursts      now and then 2000-6000 blocks of one class at once, freed
 *               locally or handed off together (spans filled and emptied,
 *               remote lists of whole batches);
 *   trim        malloc_trim from random workers while others run (visits
 *               abandoned heaps concurrently with adoption);
 *   churn       a thread starting short-lived threads (up to 4 alive) that
 *               allocate, hand blocks to workers, free blocks workers sent
 *               them and exit with full caches (abandon / adopt / visit);
 *   fork        a thread forking every ~150 ms; the child verifies and frees
 *               the blocks its thread held, allocates every tier, starts a
 *               thread (not under TSan), and exits; a child stuck for 20 s
 *               is a failure (a lock held across fork).
 *
 * Every block is filled with a pattern derived from its address and size
 * (test_common.h) and verified before every free and realloc (realloc: the
 * prefix, with the old block's pattern).  Blocks up to 256 KiB are filled
 * whole; bigger ones in their first and last 64 KiB and one word every
 * 64 KiB between (so huge blocks do not cost their whole size in RSS).
 * calloc'd memory is checked zero the same way.  At the end everything is
 * freed, the heap trimmed, and the bytes still in use must be back near the
 * level at the start (no leak).
 *
 * Duration: STRESS_SECONDS (or argv[1]), default 15, split evenly over the
 * profiles: STRESS_PROFILES (default "SPEED BALANCED LEAN DEBUG SECURE";
 * with HAKMEM_PROFILE set, only that one), each in a fresh process.
 * STRESS_SEED changes the random streams.
 *
 * Built with -DSTRESS_PREFIXED it calls the prefixed hak_* API instead of
 * malloc & co. (the TSan build, where malloc is TSan's own).
 */
#include "test_common.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

TC_DEFINE_SINK;

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifndef STRESS_TSAN
#define STRESS_TSAN 0
#endif

/* ---- the API under test ---- */

#ifdef STRESS_PREFIXED
#define S_MALLOC(n) hak_malloc(n)
#define S_FREE(p) hak_free(p)
#define S_FREE_SIZED(p, n) hak_free(p)
#define S_CALLOC(k, n) hak_calloc(k, n)
#define S_REALLOC(p, n) hak_realloc(p, n)
#define S_USABLE(p) hak_usable_size(p)
#define S_TRIM() hak_trim()
static void *S_REALLOCARRAY(void *p, size_t k, size_t n) {
    size_t t;
    if (__builtin_mul_overflow(k, n, &t)) { errno = ENOMEM; return NULL; }
    return hak_realloc(p, t);
}
static void *S_ALIGNED_ALLOC(size_t a, size_t n) { return hak_aligned_alloc(a, n); }
static int S_POSIX_MEMALIGN(void **out, size_t a, size_t n) {
    void *p = hak_aligned_alloc(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
static void *S_MEMALIGN(size_t a, size_t n) { return hak_aligned_alloc(a, n); }
static void *S_VALLOC(size_t n) { return hak_aligned_alloc(4096, n); }
static void *S_PVALLOC(size_t n) { return hak_aligned_alloc(4096, n ? (n + 4095) & ~(size_t)4095 : 4096); }
#define API_NAME "hak_* (prefixed)"
#else
#define S_MALLOC(n) malloc(n)
#define S_FREE(p) free(p)
#define S_FREE_SIZED(p, n) free_sized(p, n)
#define S_CALLOC(k, n) calloc(k, n)
#define S_REALLOC(p, n) realloc(p, n)
#define S_REALLOCARRAY(p, k, n) reallocarray(p, k, n)
#define S_USABLE(p) malloc_usable_size(p)
#define S_TRIM() malloc_trim(0)
#define S_ALIGNED_ALLOC(a, n) aligned_alloc(a, n)
#define S_POSIX_MEMALIGN(o, a, n) posix_memalign(o, a, n)
#define S_MEMALIGN(a, n) memalign(a, n)
#define S_VALLOC(n) valloc(n)
#define S_PVALLOC(n) pvalloc(n)
#define API_NAME "malloc & co."
#endif

/* ---- configuration ---- */

#define MAX_THREADS 64
#define WS 2048            /* live slots per worker */
#define QCAP 8192          /* hand-off queue capacity */
#define FULL_FILL (256 * KiB)
#define SPARSE_EDGE (64 * KiB)
#define SPARSE_STEP (64 * KiB)

static int nthreads = 8;
static double seconds = 15;
static uint64_t seed0 = 0x5EED;
static struct timespec t_end;

/* ---- failures ---- */

static atomic_int failures;
static atomic_int stop;

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...) {
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (atomic_fetch_add(&failures, 1) < 20) {
        ssize_t w = write(2, "stress FAIL: ", 13);
        w = write(2, buf, (size_t)n);
        (void)w;
    }
    atomic_store(&stop, 1);
}

static int expired(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t_end.tv_sec || (now.tv_sec == t_end.tv_sec && now.tv_nsec >= t_end.tv_nsec);
}

/* ---- counters ---- */

enum { C_MALLOC, C_CALLOC, C_ALIGNED, C_REALLOC, C_FREE, C_REMOTE, C_BURST, C_TRIM, C_THREADS, C_FORKS,
       C_NCOUNT };
static const char *const cname[] = {"malloc", "calloc", "aligned", "realloc", "free", "handed-off",
                                    "bursts", "trims", "threads", "forks"};
static atomic_ullong counts[C_NCOUNT];
static void count(int c, unsigned long long n) { atomic_fetch_add_explicit(&counts[c], n, memory_order_relaxed); }

/* ---- patterns ---- */

/* Pattern of (seed) on bytes [from, to) of p: test_common.h's rule (byte i
 * is byte i%8 of tc_word(seed, i/8)), with word-wide loads and stores. */
static void pat_fill(void *p, size_t from, size_t to, uint64_t seed) {
    unsigned char *b = p;
    size_t i = from;
    if (i < to && (i & 7)) {
        size_t e = (i | 7) + 1 < to ? (i | 7) + 1 : to;
        fill_pattern_range(p, i, e, seed);
        i = e;
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w = tc_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    if (i < to) fill_pattern_range(p, i, to, seed);
}

static size_t pat_check(const void *p, size_t from, size_t to, uint64_t seed) {
    const unsigned char *b = p;
    size_t i = from;
    if (i < to && (i & 7)) {
        size_t e = (i | 7) + 1 < to ? (i | 7) + 1 : to;
        size_t r = check_pattern_range(p, i, e, seed);
        if (r != (size_t)-1) return r;
        i = e;
    }
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != tc_word(seed, i / 8)) return check_pattern_range(p, i, i + 8, seed);
    }
    return i < to ? check_pattern_range(p, i, to, seed) : (size_t)-1;
}

/* Write the block's pattern on the bytes the rule covers. */
static void put_pattern(void *p, size_t n) {
    uint64_t seed = tc_seed(p, n);
    if (n <= FULL_FILL) { pat_fill(p, 0, n, seed); return; }
    pat_fill(p, 0, SPARSE_EDGE, seed);
    pat_fill(p, n - SPARSE_EDGE, n, seed);
    for (size_t off = SPARSE_EDGE; off + 8 <= n - SPARSE_EDGE; off += SPARSE_STEP)
        pat_fill(p, off, off + 8, seed);
}

/* First bad offset of bytes [0, keep) under the pattern of (seed, n), or -1:
 * keep < n checks a realloc'd prefix against the old block's pattern. */
static size_t bad_pattern(const void *p, size_t n, size_t keep, uint64_t seed) {
    if (n <= FULL_FILL) return pat_check(p, 0, keep, seed);
    size_t e = keep < SPARSE_EDGE ? keep : SPARSE_EDGE, r;
    if ((r = pat_check(p, 0, e, seed)) != (size_t)-1) return r;
    for (size_t off = SPARSE_EDGE; off + 8 <= n - SPARSE_EDGE && off + 8 <= keep; off += SPARSE_STEP)
        if ((r = pat_check(p, off, off + 8, seed)) != (size_t)-1) return r;
    size_t from = n - SPARSE_EDGE;
    if (keep > from && (r = pat_check(p, from, keep, seed)) != (size_t)-1) return r;
    return (size_t)-1;
}

static int verify(const char *what, const void *p, size_t n) {
    size_t bad = bad_pattern(p, n, n, tc_seed(p, n));
    if (bad != (size_t)-1) {
        failf("%s: block %p of %zu bytes damaged at offset %zu (owned %d, usable %zu)", what, p, n, bad,
              hak_owns(p), hak_usable_size(p));
        return 0;
    }
    return 1;
}

/* Zero check of a calloc'd block, with the same coverage as the pattern. */
static int zeroed(const void *p, size_t n) {
    if (n <= FULL_FILL) return first_nonzero(p, n) == (size_t)-1;
    const unsigned char *b = p;
    if (first_nonzero(b, SPARSE_EDGE) != (size_t)-1 || first_nonzero(b + n - SPARSE_EDGE, SPARSE_EDGE) != (size_t)-1)
        return 0;
    for (size_t off = SPARSE_EDGE; off + 8 <= n - SPARSE_EDGE; off += SPARSE_STEP)
        if (first_nonzero(b + off, 8) != (size_t)-1) return 0;
    return 1;
}

/* A fresh block from an entry point: ours, aligned, big enough. */
static int check_new(const char *how, void *p, size_t n, size_t align) {
    if (!p) { failf("%s(%zu, align %zu) returned NULL (errno %d)", how, n, align, errno); return 0; }
    if (!hak_owns(p)) { failf("%s(%zu) = %p is not hakmem's", how, n, p); return 0; }
    if ((uintptr_t)p & (align - 1)) { failf("%s(%zu) = %p is not %zu-aligned", how, n, p, align); return 0; }
    size_t u = S_USABLE(p);
    if (u < n) { failf("%s(%zu) = %p: usable size %zu", how, n, p, u); return 0; }
    return 1;
}

/* ---- sizes ---- */

static size_t pick_size(tc_rng *r) {
    uint64_t x = tc_below(r, 10000);
    if (x < 300) {   /* a class boundary or a power of two, +-1 */
        size_t b = (size_t)1 << tc_below(r, 21);   /* 1 .. 1 MiB */
        size_t d = tc_below(r, 3);
        return d == 0 ? b : d == 1 ? b + 1 : (b > 1 ? b - 1 : 1);
    }
    if (x < 5800) return 1 + tc_below(r, 128);
    if (x < 8000) return 129 + tc_below(r, 1024 - 128);
    if (x < 9750) return 1025 + tc_below(r, 31 * 1024);
    if (x < 9980) return 32 * KiB + 1 + tc_below(r, 1024 * KiB - 32 * KiB);
    return MiB + 1 + tc_below(r, 7 * MiB);
}

static size_t pick_align(tc_rng *r) {
    uint64_t x = tc_below(r, 1000);
    if (x < 900) return (size_t)8 << tc_below(r, 10);   /* 8 .. 4096 */
    if (x < 990) return (size_t)8192 << tc_below(r, 4); /* 8 KiB .. 64 KiB */
    return (size_t)128 * KiB << tc_below(r, 6);         /* 128 KiB .. 4 MiB */
}

/* ---- hand-off queues ---- */

#include "handoff_queue.h"

static struct queue queues[MAX_THREADS];
static struct queue eph_queue;   /* blocks for the short-lived threads */

static void release(const char *what, struct item it, tc_rng *r) {
    if (!verify(what, it.p, it.n)) return;
    if (tc_below(r, 8) == 0) S_FREE_SIZED(it.p, it.n);
    else S_FREE(it.p);
    count(C_FREE, 1);
}

/* ---- one block operation ---- */

/* A new block by a random entry point (filled), or NULL after a failure. */
static void *alloc_any(tc_rng *r, size_t *np) {
    size_t n = pick_size(r);
    uint64_t how = tc_below(r, 100);
    void *p = NULL;
    if (how < 55) {
        p = S_MALLOC(n);
        if (!check_new("malloc", p, n, n >= 16 ? 16 : 1)) return NULL;
        count(C_MALLOC, 1);
    } else if (how < 70) {
        size_t k = 1 + tc_below(r, 8), m = (n + k - 1) / k;
        n = k * m;
        p = S_CALLOC(k, m);
        if (!check_new("calloc", p, n, n >= 16 ? 16 : 1)) return NULL;
        if (!zeroed(p, n)) { failf("calloc(%zu, %zu) = %p not zeroed", k, m, p); return NULL; }
        count(C_CALLOC, 1);
    } else if (how < 90) {
        size_t a = pick_align(r);
        if (a >= 128 * KiB && n > 2 * MiB) n = 1 + tc_below(r, 2 * MiB);   /* keep address space sane */
        const char *name;
        switch (tc_below(r, 5)) {
        case 0: name = "aligned_alloc"; p = S_ALIGNED_ALLOC(a, n); break;
        case 1: {
            name = "posix_memalign";
            void *out = NULL;
            if (a < sizeof(void *)) a = sizeof(void *);
            int rc = S_POSIX_MEMALIGN(&out, a, n);
            p = rc == 0 ? out : NULL;
            break;
        }
        case 2: name = "memalign"; p = S_MEMALIGN(a, n); break;
        case 3: name = "valloc"; a = 4096; p = S_VALLOC(n); break;
        default: name = "pvalloc"; a = 4096; p = S_PVALLOC(n); n = n ? (n + 4095) & ~(size_t)4095 : 4096; break;
        }
        if (!check_new(name, p, n, a)) return NULL;
        count(C_ALIGNED, 1);
    } else if (how < 97) {
        p = S_REALLOC(NULL, n);
        if (!check_new("realloc(NULL)", p, n, n >= 16 ? 16 : 1)) return NULL;
        count(C_REALLOC, 1);
    } else {
        p = S_REALLOCARRAY(NULL, 1, n);
        if (!check_new("reallocarray(NULL)", p, n, n >= 16 ? 16 : 1)) return NULL;
        count(C_REALLOC, 1);
    }
    put_pattern(p, n);
    *np = n;
    return p;
}

/* realloc a held block to a random size (often near the old one). */
static int resize(struct item *s, tc_rng *r) {
    size_t n2;
    uint64_t k = tc_below(r, 4);
    if (k == 0) n2 = s->n + 1 + tc_below(r, 64);                     /* grow a little */
    else if (k == 1) n2 = s->n > 1 ? 1 + tc_below(r, s->n) : 1;      /* shrink */
    else if (k == 2) n2 = s->n * 2 + 1;                              /* double (tier changes) */
    else n2 = pick_size(r);
    if (n2 > 9 * MiB) n2 = 9 * MiB;
    if (!verify("realloc (before)", s->p, s->n)) return 0;
    uint64_t oldseed = tc_seed(s->p, s->n);
    size_t oldn = s->n;
    void *q = tc_below(r, 8) == 0 ? S_REALLOCARRAY(s->p, 1, n2) : S_REALLOC(s->p, n2);
    if (!check_new("realloc", q, n2, n2 >= 16 ? 16 : 1)) return 0;
    size_t keep = oldn < n2 ? oldn : n2;
    size_t bad = bad_pattern(q, oldn, keep, oldseed);
    if (bad != (size_t)-1) {
        failf("realloc(%p, %zu -> %zu) = %p lost the old contents at offset %zu", s->p, oldn, n2, q, bad);
        return 0;
    }
    count(C_REALLOC, 1);
    put_pattern(q, n2);
    s->p = q;
    s->n = n2;
    return 1;
}

/* ---- workers ---- */

struct worker {
    int id;
    pthread_t th;
    struct item slot[WS];
};
static struct worker *workers;

static void drain_inbox(struct worker *w, tc_rng *r) {
    struct item buf[256];
    size_t k;
    while ((k = q_pop(&queues[w->id], buf, 256)) > 0) {
        for (size_t i = 0; i < k; i++) {
            if (!verify("received", buf[i].p, buf[i].n)) return;
            uint64_t what = tc_below(r, 10);
            struct item *s = &w->slot[tc_below(r, WS)];
            if (what < 2 && !s->p) {          /* keep it: freed or realloc'd here later */
                *s = buf[i];
            } else if (what < 4) {            /* realloc another thread's block */
                struct item t = buf[i];
                if (!resize(&t, r)) return;
                release("received, realloc'd", t, r);
            } else {
                release("received", buf[i], r);
            }
        }
    }
}

static void burst(struct worker *w, tc_rng *r) {
    enum { MAXN = 6000 };
    struct item b[MAXN];
    size_t n = 1 + tc_below(r, tc_below(r, 4) == 0 ? 32 * KiB : 1024);
    size_t cnt = 2000 + tc_below(r, MAXN - 2000);
    for (size_t i = 0; i < cnt; i++) {
        void *p = S_MALLOC(n);
        if (!check_new("malloc (burst)", p, n, n >= 16 ? 16 : 1)) return;
        put_pattern(p, n);
        b[i] = (struct item){p, n};
    }
    count(C_MALLOC, cnt);
    int to = (w->id + 1 + (int)tc_below(r, (uint64_t)(nthreads > 1 ? nthreads - 1 : 1))) % nthreads;
    int remote = nthreads > 1 && tc_below(r, 2);
    for (size_t i = 0; i < cnt; i++) {
        if (remote && q_push(&queues[to], b[i])) { count(C_REMOTE, 1); continue; }
        release("burst", b[i], r);
    }
    count(C_BURST, 1);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    tc_rng r = {tc_mix64(seed0 * 1000003 + (uint64_t)w->id + 1) | 1};
    for (unsigned long op = 0; !atomic_load_explicit(&stop, memory_order_relaxed); op++) {
        if ((op & 63) == 0) {
            drain_inbox(w, &r);
            if (expired()) break;
        }
        uint64_t x = tc_below(&r, 100000);
        if (x < 3) { burst(w, &r); continue; }
        if (x < 5) { S_TRIM(); count(C_TRIM, 1); continue; }
        struct item *s = &w->slot[tc_below(&r, WS)];
        uint64_t act = tc_below(&r, 100);
        if (!s->p) {
            s->p = alloc_any(&r, &s->n);
            if (!s->p) break;
            continue;
        }
        if (act < 35) {
            release("free", *s, &r);
            s->p = NULL;
        } else if (act < 60) {
            struct item it = *s;
            if (!verify("hand-off", it.p, it.n)) break;
            struct queue *q = tc_below(&r, 10) == 0 ? &eph_queue
                            : &queues[(w->id + 1 + (int)tc_below(&r, (uint64_t)(nthreads > 1 ? nthreads - 1 : 1))) % nthreads];
            if (q_push(q, it)) count(C_REMOTE, 1);
            else release("free (queue full)", it, &r);
            s->p = NULL;
        } else if (act < 92) {
            if (!resize(s, &r)) break;
        } else {
            if (!verify("check", s->p, s->n)) break;
        }
    }
    return NULL;
}

/* ---- thread churn ---- */

static atomic_int churn_alive;

static void *ephemeral_main(void *arg) {
    tc_rng r = {tc_mix64((uint64_t)(uintptr_t)arg ^ seed0) | 1};
    struct item mine[300];
    int n = 50 + (int)tc_below(&r, 250);
    for (int i = 0; i < n; i++) {
        mine[i].p = alloc_any(&r, &mine[i].n);
        if (!mine[i].p) { n = i; break; }
    }
    /* free what workers sent us (blocks of live heaps, freed here) */
    struct item buf[128];
    size_t k = q_pop(&eph_queue, buf, 128);
    for (size_t i = 0; i < k; i++) release("ephemeral received", buf[i], &r);
    /* leave most of ours to the workers: freed after this heap is abandoned */
    for (int i = 0; i < n; i++) {
        if (tc_below(&r, 4) != 0 && q_push(&queues[tc_below(&r, (uint64_t)nthreads)], mine[i])) {
            count(C_REMOTE, 1);
            continue;
        }
        if (tc_below(&r, 2)) release("ephemeral", mine[i], &r);
        else {   /* freed but left in this thread's cache at exit */
            if (!verify("ephemeral", mine[i].p, mine[i].n)) break;
            S_FREE(mine[i].p);
            count(C_FREE, 1);
        }
    }
    atomic_fetch_sub(&churn_alive, 1);
    return NULL;
}

static void *churn_main(void *arg) {
    (void)arg;
    uint64_t gen = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * KiB);
    while (!atomic_load(&stop) && !expired()) {
        if (atomic_load(&churn_alive) >= 4) { usleep(200); continue; }
        pthread_t t;
        atomic_fetch_add(&churn_alive, 1);
        if (pthread_create(&t, &attr, ephemeral_main, (void *)(uintptr_t)++gen) != 0) {
            atomic_fetch_sub(&churn_alive, 1);
            usleep(1000);
            continue;
        }
        count(C_THREADS, 1);
    }
    while (atomic_load(&churn_alive) > 0) usleep(500);
    pthread_attr_destroy(&attr);
    return NULL;
}

/* ---- fork under load ---- */

static void *child_thread(void *arg) {
    tc_rng r = {(uint64_t)(uintptr_t)arg | 1};
    for (int i = 0; i < 2000; i++) {
        size_t n;
        void *p = alloc_any(&r, &n);
        if (!p) return (void *)1;
        if (!verify("child thread", p, n)) return (void *)1;
        S_FREE(p);
    }
    return NULL;
}

static void child_work(struct item *held, int nheld) {
    /* the blocks this thread held at fork time are intact and freeable */
    for (int i = 0; i < nheld; i++) {
        if (pat_check(held[i].p, 0, held[i].n < 4096 ? held[i].n : 4096, tc_seed(held[i].p, held[i].n)) != (size_t)-1)
            _exit(10);
        S_FREE(held[i].p);
    }
    tc_rng r = {(uint64_t)getpid() * 7919 + 1};
    struct item it[500];
    for (int i = 0; i < 500; i++) {
        it[i].p = alloc_any(&r, &it[i].n);
        if (!it[i].p) _exit(11);
    }
    for (int i = 0; i < 500; i++) {
        if (pat_check(it[i].p, 0, it[i].n < 4096 ? it[i].n : 4096, tc_seed(it[i].p, it[i].n)) != (size_t)-1)
            _exit(12);
        S_FREE(it[i].p);
    }
#if !STRESS_TSAN   /* TSan does not support threads in a multi-threaded program's fork child */
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)getpid()) != 0) _exit(13);
    if (pthread_join(t, &ret) != 0 || ret) _exit(14);
#else
    if (child_thread((void *)(uintptr_t)getpid())) _exit(14);
#endif
    S_TRIM();
    _exit(0);
}

static void *forker_main(void *arg) {
    (void)arg;
    tc_rng r = {seed0 ^ 0xF0F0F0F0ULL};
    enum { HELD = 64 };
    struct item held[HELD];
    while (!atomic_load(&stop) && !expired()) {
        for (int i = 0; i < HELD; i++) {
            held[i].p = alloc_any(&r, &held[i].n);
            if (!held[i].p) return NULL;
        }
        pid_t pid = fork();
        if (pid < 0) { failf("fork: %s", strerror(errno)); break; }
        if (pid == 0) child_work(held, HELD);
        count(C_FORKS, 1);
        int st = 0, waited = 0;
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid) break;
            if (w < 0 && errno != EINTR) { failf("waitpid: %s", strerror(errno)); break; }
            if (++waited > 20000) {   /* 20 s */
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                failf("fork child %d stuck for 20 s (a lock held across fork?)", (int)pid);
                break;
            }
            usleep(1000);
        }
        if (!atomic_load(&stop) && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            failf("fork child failed: %s %d", WIFEXITED(st) ? "exit" : "signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        for (int i = 0; i < HELD; i++) release("forker", held[i], &r);
        usleep(100000 + (useconds_t)tc_below(&r, 100000));
    }
    return NULL;
}

/* ---- one run ---- */

static uint64_t in_use(void) {
    hak_stats_t s;
    hak_stats_get(&s);
    return s.bytes_in_use;
}

static int run_one(const char *profile) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long ns = (long)(seconds * 1e9);
    t_end.tv_sec = t0.tv_sec + ns / 1000000000L;
    t_end.tv_nsec = t0.tv_nsec + ns % 1000000000L;
    if (t_end.tv_nsec >= 1000000000L) { t_end.tv_sec++; t_end.tv_nsec -= 1000000000L; }

    S_TRIM();
    uint64_t base = in_use();
    for (int i = 0; i < MAX_THREADS; i++) pthread_mutex_init(&queues[i].lock, NULL);
    pthread_mutex_init(&eph_queue.lock, NULL);
    /* the test's own bookkeeping comes from mmap-free static storage or the
     * system allocator, never from the allocator under test's blocks */
    static struct worker wstore[MAX_THREADS];
    workers = wstore;
    for (int i = 0; i < nthreads; i++) {
        workers[i].id = i;
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0) {
            failf("pthread_create: %s", strerror(errno));
            return 1;
        }
    }
    pthread_t churn, forker;
    int have_churn = pthread_create(&churn, NULL, churn_main, NULL) == 0;
    int have_forker = pthread_create(&forker, NULL, forker_main, NULL) == 0;
    for (int i = 0; i < nthreads; i++) pthread_join(workers[i].th, NULL);
    if (have_churn) pthread_join(churn, NULL);
    if (have_forker) pthread_join(forker, NULL);

    /* Free everything left (verified), from this thread: more remote frees. */
    tc_rng r = {seed0 | 1};
    struct item buf[256];
    for (int i = 0; i < nthreads; i++) {
        size_t k;
        while ((k = q_pop(&queues[i], buf, 256)) > 0)
            for (size_t j = 0; j < k; j++) release("final (queue)", buf[j], &r);
        for (int j = 0; j < WS; j++)
            if (workers[i].slot[j].p) {
                release("final", workers[i].slot[j], &r);
                workers[i].slot[j].p = NULL;
            }
    }
    {
        size_t k;
        while ((k = q_pop(&eph_queue, buf, 256)) > 0)
            for (size_t j = 0; j < k; j++) release("final (ephemeral queue)", buf[j], &r);
    }
    S_TRIM();
    uint64_t end = in_use();
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* glibc keeps the stacks and TLS (calloc'd) of exited threads for reuse */
    if (end > base + 2 * MiB && !atomic_load(&failures))
        failf("bytes in use %llu after freeing everything, %llu at the start (leak?)", (unsigned long long)end,
              (unsigned long long)base);

    unsigned long long ops = 0;
    for (int c = C_MALLOC; c <= C_FREE; c++) ops += atomic_load(&counts[c]);
    char line[700];
    int len = snprintf(line, sizeof line, "stress [%s, %s, %d threads] %.1f s: %llu ops (%.0f/s)", profile, API_NAME,
                       nthreads, took, ops, ops / (took > 0 ? took : 1));
    for (int c = 0; c < C_NCOUNT && len < (int)sizeof line - 40; c++)
        len += snprintf(line + len, sizeof line - (size_t)len, "%s %s %llu", c == 0 ? ";" : ",", cname[c],
                        atomic_load(&counts[c]));
    fprintf(stderr, "%s; in use %llu -> %llu bytes: %s\n", line, (unsigned long long)base, (unsigned long long)end,
            atomic_load(&failures) ? "FAILED" : "ok");
    return atomic_load(&failures) ? 1 : 0;
}

int main(int argc, char **argv) {
    const char *e;
    if ((e = getenv("STRESS_SECONDS")) && *e) seconds = atof(e);
    if (argc > 1) seconds = atof(argv[1]);
    if (seconds <= 0) seconds = 15;
    if ((e = getenv("STRESS_THREADS")) && *e) nthreads = atoi(e);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if ((e = getenv("STRESS_SEED")) && *e) seed0 = strtoull(e, NULL, 0);

    const char *prof = getenv("HAKMEM_PROFILE");
    if (getenv("STRESS_ONE") || (prof && *prof)) return run_one(prof && *prof ? prof : "SPEED");

    /* One fresh process per profile (the profile is read once, at init). */
    char list[256];
    snprintf(list, sizeof list, "%s",
             (e = getenv("STRESS_PROFILES")) && *e ? e : "SPEED BALANCED LEAN DEBUG SECURE");
    char *names[16];
    int np = 0;
    for (char *save = NULL, *t = strtok_r(list, " ,", &save); t && np < 16; t = strtok_r(NULL, " ,", &save))
        names[np++] = t;
    if (np == 0) return run_one("SPEED");
    char each[32];
    snprintf(each, sizeof each, "%.3f", seconds / np);
    int failed = 0;
    for (int i = 0; i < np; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            setenv("HAKMEM_PROFILE", names[i], 1);
            setenv("STRESS_SECONDS", each, 1);
            setenv("STRESS_ONE", "1", 1);
            char *args[] = {argv[0], NULL};
            execv("/proc/self/exe", args);
            _exit(127);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "stress [%s]: FAILED (%s %d)\n", names[i], WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            failed++;
        }
    }
    fprintf(stderr, "stress: %d of %d profiles failed\n", failed, np);
    return failed ? 1 : 0;
}

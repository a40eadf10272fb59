/* bench_soak — a long mixed workload in one process, reported per epoch:
 * does the allocator's footprint drift, its speed wander, or its rate of
 * system calls stay up once the program is in a steady state?
 *
 *   bench_soak [--duration S] [--epoch S] [--threads N] [--seed N]
 *              [--huge-every N] [--remote-every N] [--smoke]
 *
 * Defaults: --duration 600 --epoch 5 --threads 3 --seed 1
 *           --huge-every 4194304 --remote-every 16.  --smoke is 1 s in
 *           0.25 s epochs.  S may be fractional.
 *
 * Each thread owns a fixed live set of slots in four tiers:
 *   tiny   2048 slots, 16 B .. 1 KiB
 *   small   256 slots, 1 KiB .. 32 KiB
 *   large     8 slots, 32 KiB .. 1 MiB
 *   huge      1 slot,  2 MiB .. 6 MiB
 * Every slot gets a base size once (seeded); each allocation in it is the
 * base size with a jitter (±25 % tiny and small, ±1/16 large and huge), so
 * the bytes live stay nearly constant and any RSS growth is the allocator's.
 * All slots are filled before the clock starts.  One operation replaces the
 * block of one slot (free + malloc: counted as 2 ops): the tier is tiny with
 * probability 87.5 %, small 12 %, large 0.5 %, and, once per --huge-every
 * replacements on average, huge.  One free in --remote-every (0: none) is
 * handed to the next thread (a single-producer single-consumer ring), which
 * frees it: cross-thread frees.
 *
 * Every block carries a pattern derived from its address, size and a
 * per-allocation tag: its first 256 bytes, one word per 4 KiB page, and its
 * last 8 bytes.  The pattern is checked before every free; a mismatch prints
 * the slot and exits with status 2.  A NULL from malloc exits 2 too.
 *
 * Output: CSV on stdout, a header and one row per epoch
 *   epoch,ops_per_s,rss_kib,os_calls,ops,ops_per_cpu_s,cpu_s,steal_s
 * epoch from 1; ops and os_calls are counted within the epoch (not
 * cumulative); ops_per_s = ops / the epoch's measured (wall-clock) length;
 * ops_per_cpu_s = ops / cpu_s, where cpu_s is the CPU time the whole
 * process (every thread) ran during the epoch (CLOCK_PROCESS_CPUTIME_ID):
 * unlike the wall clock it does not count time the threads waited for a
 * CPU held by another process or, with the kernel's paravirt steal
 * accounting, taken by the hypervisor, so it is the noise-robust measure
 * of the allocator's speed on a shared machine; steal_s is the steal time
 * of all CPUs during the epoch from /proc/stat (-1 if unreadable), to show
 * how much the hypervisor took; rss_kib is
 * the mean of 10 samples of /proc/self/statm spread evenly over the epoch
 * (the last at its end); os_calls = mmap + munmap + madvise +
 * mremap calls from hakmem's counters (hak_stats_get, found with dlsym when
 * hakmem is loaded), else -1.  On stderr at the end: one result line in the
 * usual bench= format (malloc= names the allocator actually mapped).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"
#include "../include/hakmem.h"

static const char usage[] =
    "bench_soak [--duration S] [--epoch S] [--threads N] [--seed N] "
    "[--huge-every N] [--remote-every N] [--smoke]";

enum { T_TINY, T_SMALL, T_LARGE, T_HUGE, NTIERS };
static const struct {
    const char *name;
    uint32_t slots;
    size_t lo, hi;     /* base sizes */
    unsigned jitter;   /* size = base ± base / jitter (0: none) */
} tiers[NTIERS] = {
    {"tiny", 2048, 16, 1024, 4},
    {"small", 256, 1025, 32 << 10, 4},
    {"large", 8, (32 << 10) + 1, 1 << 20, 16},
    {"huge", 1, 2 << 20, 6 << 20, 16},
};

typedef struct {
    unsigned char *p;
    size_t size;
    uint64_t tag;
} block;

/* Single-producer single-consumer ring: the previous thread pushes, this
 * thread pops and frees. */
#define RING 256   /* bounds the bytes in flight between threads */
typedef struct {
    _Alignas(64) _Atomic uint32_t head; /* written by the consumer */
    _Alignas(64) _Atomic uint32_t tail; /* written by the producer */
    block b[RING];
} ring_t;

typedef struct worker {
    _Alignas(64) _Atomic uint64_t ops;   /* read by the main thread */
    unsigned id;
    uint64_t rng;
    uint64_t tagseq;
    block *slot[NTIERS];
    size_t *base[NTIERS];
    ring_t inbox;                 /* blocks others freed to us */
    struct worker *next;          /* where our remote frees go */
    uint64_t remote_sent, remote_freed, huge_allocs;
} worker;

static double opt_duration = 600, opt_epoch = 5;
static unsigned opt_threads = 3;
static uint64_t opt_seed = 1, opt_huge_every = 4194304, opt_remote_every = 16;
static atomic_int stop_flag;
static pthread_barrier_t start_barrier;

/* ---- pattern ---------------------------------------------------------- */

static inline uint64_t pat_word(const void *p, size_t size, uint64_t tag, size_t off)
{
    return bench_stamp(p, tag ^ ((uint64_t)size << 20) ^ (off * 0x9E3779B97F4A7C15ull));
}

/* Offsets of the pattern words: every word of the first 256 bytes, one per
 * page after that, and the last 8 bytes (unaligned: memcpy); no two overlap. */
#define PAT_FOREACH(size, off, BODY)                                          \
    do {                                                                      \
        size_t end_ = (size) >= 8 ? (size) - 8 : 0; /* the last word's */     \
        size_t lim_ = end_ < 256 ? end_ : 256;                                \
        for (size_t off = 0; off + 8 <= lim_; off += 8) { BODY; }             \
        for (size_t off = 4096; off + 8 <= end_; off += 4096) { BODY; }       \
        if ((size) >= 8) { size_t off = end_; BODY; }                         \
    } while (0)

static void pat_fill(block *b)
{
    unsigned char *p = b->p;
    PAT_FOREACH(b->size, off, {
        uint64_t w = pat_word(p, b->size, b->tag, off);
        memcpy(p + off, &w, 8);
    });
}

static void pat_check(const block *b, const char *what, unsigned thread)
{
    const unsigned char *p = b->p;
    PAT_FOREACH(b->size, off, {
        uint64_t w;
        memcpy(&w, p + off, 8);
        if (__builtin_expect(w != pat_word(p, b->size, b->tag, off), 0))
            bench_fail("corruption: %s block %p size %zu (thread %u) at offset %zu: "
                       "%016" PRIx64 " != %016" PRIx64,
                       what, (const void *)p, b->size, thread, off, w,
                       pat_word(p, b->size, b->tag, off));
    });
}

/* ---- the worker ------------------------------------------------------- */

static size_t draw_size(worker *w, unsigned t, uint32_t k)
{
    size_t base = w->base[t][k];
    unsigned j = tiers[t].jitter;
    if (!j)
        return base;
    size_t span = base / j;
    size_t s = base - span + (size_t)(bench_rand64(&w->rng) % (2 * span + 1));
    return s < tiers[t].lo ? tiers[t].lo : s > tiers[t].hi ? tiers[t].hi : s;
}

static void block_new(worker *w, unsigned t, block *b, size_t size)
{
    b->p = malloc(size);
    BENCH_CHECK_ALLOC(b->p, size);
    b->size = size;
    b->tag = (uint64_t)w->id << 56 ^ ++w->tagseq;
    pat_fill(b);
    if (t == T_HUGE)
        w->huge_allocs++;
}

static void drain_inbox(worker *w)
{
    ring_t *r = &w->inbox;
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    while (h != t) {
        block *b = &r->b[h % RING];
        pat_check(b, "remote", w->id);
        free(b->p);
        w->remote_freed++;
        h++;
    }
    atomic_store_explicit(&r->head, h, memory_order_release);
}

/* Free b: here, or handed to the next thread. */
static void block_free(worker *w, block *b, const char *what)
{
    pat_check(b, what, w->id);
    if (opt_remote_every && w->next != w && bench_rand64(&w->rng) % opt_remote_every == 0) {
        ring_t *r = &w->next->inbox;
        uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (t - atomic_load_explicit(&r->head, memory_order_acquire) < RING) {
            r->b[t % RING] = *b;
            atomic_store_explicit(&r->tail, t + 1, memory_order_release);
            w->remote_sent++;
            return;
        }
    }
    free(b->p);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (unsigned t = 0; t < NTIERS; t++) {
        w->slot[t] = calloc(tiers[t].slots, sizeof(block));
        w->base[t] = calloc(tiers[t].slots, sizeof(size_t));
        BENCH_CHECK_ALLOC(w->slot[t], tiers[t].slots * sizeof(block));
        BENCH_CHECK_ALLOC(w->base[t], tiers[t].slots * sizeof(size_t));
        for (uint32_t k = 0; k < tiers[t].slots; k++) {
            w->base[t][k] = (size_t)bench_range(&w->rng, tiers[t].lo, tiers[t].hi);
            block_new(w, t, &w->slot[t][k], draw_size(w, t, k));
        }
    }
    pthread_barrier_wait(&start_barrier);

    uint64_t ops = 0;
    /* huge when the high half of the draw is below 2^32 / huge_every */
    uint64_t huge_below = opt_huge_every ? (1ull << 32) / opt_huge_every : 0;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++) {
            uint64_t r = bench_rand64(&w->rng);
            unsigned t;
            if ((r >> 32) < huge_below)
                t = T_HUGE;
            else {
                unsigned u = (unsigned)(r & 1023);   /* 896 / 123 / 5 of 1024 */
                t = u < 896 ? T_TINY : u < 1019 ? T_SMALL : T_LARGE;
            }
            uint32_t k = (uint32_t)((r >> 10) % tiers[t].slots);
            block *b = &w->slot[t][k];
            block_free(w, b, tiers[t].name);
            block_new(w, t, b, draw_size(w, t, k));
        }
        ops += 512;
        atomic_store_explicit(&w->ops, ops, memory_order_relaxed);
        drain_inbox(w);
    }
    return NULL;
}

/* ---- the main thread -------------------------------------------------- */

#define RSS_SAMPLES 10

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Steal time of all CPUs so far, in seconds (the "cpu" line of /proc/stat,
 * its 8th value, in USER_HZ ticks), or -1. */
static double steal_now(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8];
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return n == 8 && hz > 0 ? (double)v[7] / (double)hz : -1;
}

static int (*stats_get)(hak_stats_t *);

static int64_t os_calls(void)
{
    if (!stats_get)
        return -1;
    hak_stats_t s;
    if (stats_get(&s) != 0)
        return -1;
    return (int64_t)(s.os_mmap + s.os_munmap + s.os_madvise + s.os_mremap);
}

static double arg_num(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        bench_usage(usage);
    char *end;
    errno = 0;
    double v = strtod(argv[++*i], &end);
    if (errno || *end || v < 0)
        bench_usage(usage);
    return v;
}

static void sleep_until(double t)
{
    for (;;) {
        double now = bench_now();
        if (now >= t)
            return;
        double d = t - now;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    bench_set_name("soak");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--smoke")) { opt_duration = 1; opt_epoch = 0.25; }
        else if (!strcmp(a, "--duration")) opt_duration = arg_num(argc, argv, &i);
        else if (!strcmp(a, "--epoch")) opt_epoch = arg_num(argc, argv, &i);
        else if (!strcmp(a, "--threads")) opt_threads = (unsigned)arg_num(argc, argv, &i);
        else if (!strcmp(a, "--seed")) opt_seed = (uint64_t)arg_num(argc, argv, &i);
        else if (!strcmp(a, "--huge-every")) opt_huge_every = (uint64_t)arg_num(argc, argv, &i);
        else if (!strcmp(a, "--remote-every")) opt_remote_every = (uint64_t)arg_num(argc, argv, &i);
        else bench_usage(usage);
    }
    if (opt_epoch <= 0 || opt_duration < opt_epoch || opt_threads < 1 || opt_threads > 64)
        bench_usage(usage);
    unsigned nepochs = (unsigned)(opt_duration / opt_epoch + 1e-9);

    *(void **)&stats_get = dlsym(RTLD_DEFAULT, "hak_stats_get");

    worker *ws = aligned_alloc(64, opt_threads * sizeof(worker));
    BENCH_CHECK_ALLOC(ws, opt_threads * sizeof(worker));
    memset(ws, 0, opt_threads * sizeof(worker));
    uint64_t seeder = opt_seed;
    for (unsigned i = 0; i < opt_threads; i++) {
        ws[i].id = i;
        ws[i].rng = bench_rand64(&seeder);
        ws[i].next = &ws[(i + 1) % opt_threads];
    }
    pthread_barrier_init(&start_barrier, NULL, opt_threads + 1);
    pthread_t *tid = calloc(opt_threads, sizeof *tid);
    BENCH_CHECK_ALLOC(tid, opt_threads * sizeof *tid);
    for (unsigned i = 0; i < opt_threads; i++)
        if (pthread_create(&tid[i], NULL, run_worker, &ws[i]) != 0)
            bench_fail("pthread_create failed");

    printf("epoch,ops_per_s,rss_kib,os_calls,ops,ops_per_cpu_s,cpu_s,steal_s\n");
    fflush(stdout);
    pthread_barrier_wait(&start_barrier);
    double t0 = bench_now(), tprev = t0;
    uint64_t prev_ops = 0, total_ops = 0;
    int64_t prev_calls = os_calls(), calls0 = prev_calls;
    double cpu_prev = cpu_now(), cpu0 = cpu_prev, steal_prev = steal_now();
    /* RSS is sampled RSS_SAMPLES times per epoch (at its end and evenly
     * before) and averaged: one sample would catch whatever was in flight. */
    for (unsigned e = 1; e <= nepochs; e++) {
        double rss_sum = 0;
        int rss_n = 0;
        for (int k = RSS_SAMPLES - 1; k >= 0; k--) {
            sleep_until(t0 + e * opt_epoch - k * opt_epoch / RSS_SAMPLES);
            if (k == 0)
                break;
            long v = bench_cur_rss_kib();
            if (v >= 0) { rss_sum += (double)v; rss_n++; }
        }
        uint64_t ops = 0;
        for (unsigned i = 0; i < opt_threads; i++)
            ops += atomic_load_explicit(&ws[i].ops, memory_order_relaxed);
        double now = bench_now();
        int64_t calls = os_calls();
        double cpu = cpu_now(), steal = steal_now();
        long v = bench_cur_rss_kib();
        if (v >= 0) { rss_sum += (double)v; rss_n++; }
        long rss = rss_n ? (long)(rss_sum / rss_n + 0.5) : -1;
        uint64_t d = ops - prev_ops;
        double cpu_s = cpu < 0 || cpu_prev < 0 ? -1 : cpu - cpu_prev;
        double steal_s = steal < 0 || steal_prev < 0 ? -1 : steal - steal_prev;
        printf("%u,%.0f,%ld,%" PRId64 ",%" PRIu64 ",%.0f,%.3f,%.2f\n", e,
               (double)d / (now - tprev), rss, calls < 0 ? (int64_t)-1 : calls - prev_calls, d,
               cpu_s > 0 ? (double)d / cpu_s : -1, cpu_s, steal_s);
        fflush(stdout);
        cpu_prev = cpu;
        steal_prev = steal;
        prev_ops = ops;
        prev_calls = calls;
        tprev = now;
        total_ops = ops;
    }
    double secs = tprev - t0;
    double cpu_total = cpu_prev < 0 || cpu0 < 0 ? -1 : cpu_prev - cpu0;
    int64_t calls_total = prev_calls < 0 ? -1 : prev_calls - calls0;
    atomic_store(&stop_flag, 1);
    for (unsigned i = 0; i < opt_threads; i++)
        pthread_join(tid[i], NULL);

    /* Everything still live or in flight is checked and freed. */
    uint64_t sent = 0, rfreed = 0, huge = 0;
    for (unsigned i = 0; i < opt_threads; i++) {
        worker *w = &ws[i];
        drain_inbox(w);
        for (unsigned t = 0; t < NTIERS; t++) {
            for (uint32_t k = 0; k < tiers[t].slots; k++) {
                pat_check(&w->slot[t][k], tiers[t].name, i);
                free(w->slot[t][k].p);
            }
            free(w->slot[t]);
            free(w->base[t]);
        }
    }
    for (unsigned i = 0; i < opt_threads; i++) {
        sent += ws[i].remote_sent;
        rfreed += ws[i].remote_freed;
        huge += ws[i].huge_allocs;
    }
    if (sent != rfreed)
        bench_fail("%" PRIu64 " blocks handed to other threads, %" PRIu64 " freed there", sent, rfreed);

    /* The result line goes to stderr: stdout is the CSV. */
    int out = dup(1);
    if (out >= 0 && dup2(2, 1) >= 0) {
        bench_report(total_ops, secs, bench_cur_rss_kib(),
                     "threads=%u epochs=%u epoch_s=%g seed=%" PRIu64 " remote_frees=%" PRIu64
                     " huge_allocs=%" PRIu64 " os_calls=%" PRId64 " cpu_s=%.2f ops_per_cpu_s=%.0f",
                     opt_threads, nepochs, opt_epoch, opt_seed, sent, huge, calls_total,
                     cpu_total, cpu_total > 0 ? (double)total_ops / cpu_total : -1.0);
        fflush(stdout);
        dup2(out, 1);
        close(out);
    }
    free(tid);
    free(ws);
    return 0;
}

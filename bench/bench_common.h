/* bench_common.h — the harness every benchmark shares: clock, RSS probes,
 * argument parsing, failure exit and the one-line result format.
 *
 * Result line (one per run, on stdout, parsed by scripts/bench_compare.sh):
 *   bench=NAME ops_per_s=F time_s=F peak_rss_kib=N [final_rss_kib=N]
 *   ops=N malloc=LIB [key=value ...]
 * `malloc` names the allocator library found mapped in the process, so a
 * silently ignored LD_PRELOAD is caught by the comparison script.
 *
 * Everything is static inline: each benchmark is a single translation unit,
 * linked only against libc, so the allocator under test is whatever
 * LD_PRELOAD puts in front of glibc.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Exit status for "the allocator failed us": allocation returned NULL or a
 * block came back with different contents than were written. */
#define BENCH_EXIT_FAIL 2
/* Exit status for bad command-line arguments. */
#define BENCH_EXIT_USAGE 64

static const char *bench_name_ = "bench";

static inline void bench_set_name(const char *name) { bench_name_ = name; }

__attribute__((format(printf, 1, 2), noreturn, cold)) static inline void
bench_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bench=%s FAIL: ", bench_name_);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(BENCH_EXIT_FAIL);
}

__attribute__((noreturn, cold)) static inline void
bench_usage(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    exit(BENCH_EXIT_USAGE);
}

/* An allocation failure is a benchmark failure, never something to skip. */
#define BENCH_CHECK_ALLOC(p, size)                                            \
    do {                                                                      \
        if ((p) == NULL)                                                      \
            bench_fail("allocation of %zu bytes returned NULL (%s:%d)",       \
                       (size_t)(size), __FILE__, __LINE__);                   \
    } while (0)

/* ---- time ------------------------------------------------------------- */

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- memory ----------------------------------------------------------- */


/* Current resident set, KiB. Read with open/read so that probing does not
 * itself allocate through the allocator being measured. */
static inline long bench_cur_rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    unsigned long size_pages = 0, rss_pages = 0;
    if (sscanf(buf, "%lu %lu", &size_pages, &rss_pages) != 2)
        return -1;
    return (long)(rss_pages * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}

/* High-water resident set of the process, KiB (Linux reports ru_maxrss in
 * KiB). The kernel's counters are updated lazily, so ru_maxrss can trail
 * the current RSS by a little; never report a peak below the present. */
static inline long bench_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long cur = bench_cur_rss_kib();
    return ru.ru_maxrss > cur ? ru.ru_maxrss : cur;
}

/* Which malloc library is mapped: the first known allocator in /proc/self/maps,
 * or "glibc" when none is. Called after timing, so its stdio use is harmless. */
static inline const char *bench_malloc_lib(void)
{
    static const char *const known[][2] = {
        {"libhakmem", "hakmem"},   {"libmimalloc", "mimalloc"},
        {"libjemalloc", "jemalloc"}, {"libtcmalloc", "tcmalloc"},
        {"libfloor_malloc", "floor"}, {"libfloor1_malloc", "floor1"},
    };
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return "unknown";
    char line[512];
    const char *found = "glibc";
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            if (strstr(line, known[i][0])) {
                found = known[i][1];
                goto done;
            }
        }
    }
done:
    fclose(f);
    return found;
}

/* ---- pseudo-random numbers (deterministic per seed) -------------------- */

/* Marsaglia's 32-bit xorshift (13, 17, 5). State must be non-zero. */
static inline uint32_t bench_xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* A non-zero xorshift32 state from any seed (0 would stay 0 forever). */
static inline uint32_t bench_seed32(uint64_t seed)
{
    uint32_t s = (uint32_t)(seed ^ (seed >> 32));
    return s ? s : 0x9E3779B9u;
}

/* splitmix64: used where 64 bits or independent streams per thread are needed. */
static inline uint64_t bench_rand64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (inclusive); the tiny modulo bias is irrelevant here. */
static inline uint64_t bench_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
    return lo + bench_rand64(s) % (hi - lo + 1);
}

/* ---- block stamping ---------------------------------------------------- */

/* A word derived from a block's address and a tag: written when the block is
 * handed out, checked before it is freed, so that an allocator that gives one
 * block to two owners (or scribbles on live memory) is caught. */
static inline uint64_t bench_stamp(const void *p, uint64_t tag)
{
    return ((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull) ^ tag;
}

/* Uniform over powers of two, then within one: a size in [lo, hi] whose
 * power-of-two octave ([2^k, 2^(k+1)) clipped to [lo, hi]) is drawn first,
 * each octave equally likely, so that 16 B and 4 KiB blocks are both
 * common, as in most programs. 1 <= lo <= hi. */
static inline size_t bench_size_log(uint64_t *s, size_t lo, size_t hi)
{
    unsigned klo = 63u - (unsigned)__builtin_clzll((unsigned long long)lo);
    unsigned khi = 63u - (unsigned)__builtin_clzll((unsigned long long)hi);
    unsigned k = (unsigned)bench_range(s, klo, khi);
    size_t a = (size_t)1 << k, b = ((size_t)2 << k) - 1;
    return (size_t)bench_range(s, a < lo ? lo : a, b > hi ? hi : b);
}

/* ---- self-describing blocks --------------------------------------------- */

/* A block that carries its own size, for benchmarks whose blocks travel
 * (between threads, through shared slots) without their size beside them.
 * Word 0 holds bench_stamp(p, size), so the size is recovered as
 * word 0 ^ bench_stamp(p, 0) and must lie in the benchmark's [min, max];
 * a block of 16 bytes or more also has its last byte set to the size's low
 * byte. Blocks must be at least 8 bytes. */
static inline void bench_mark(void *p, size_t size)
{
    ((uint64_t *)p)[0] = bench_stamp(p, size);
    if (size >= 16)
        ((unsigned char *)p)[size - 1] = (unsigned char)size;
}

/* The size bench_mark wrote into p, or 0 when the block was corrupted. */
static inline size_t bench_marked_size(const void *p, size_t min, size_t max)
{
    size_t size = (size_t)(((const uint64_t *)p)[0] ^ bench_stamp(p, 0));
    if (size < min || size > max ||
        (size >= 16 && ((const unsigned char *)p)[size - 1] != (unsigned char)size))
        return 0;
    return size;
}

/* ---- waiting for another thread ------------------------------------------ */

/* Spin briefly, then yield: with more threads than cores the thread we wait
 * for can only run if we give up the CPU. Reset *spins after progress. */
static inline void bench_backoff(unsigned *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else
        sched_yield();
}

/* ---- arguments --------------------------------------------------------- */

static inline int bench_is_smoke(int argc, char **argv)
{
    return argc >= 2 && strcmp(argv[1], "--smoke") == 0;
}

/* argv[i] as an unsigned integer in [lo, hi], or def when argc <= i.
 * Accepts a k/m/g suffix (x1000) so that "20m" means 20 000 000. */
static inline uint64_t bench_arg(int argc, char **argv, int i, uint64_t def,
                                 uint64_t lo, uint64_t hi, const char *usage)
{
    if (i >= argc)
        return def;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(argv[i], &end, 10);
    if (errno || end == argv[i] || argv[i][0] == '-')
        bench_usage(usage);
    switch (*end) {
    case 'k': case 'K': v *= 1000ull; end++; break;
    case 'm': case 'M': v *= 1000000ull; end++; break;
    case 'g': case 'G': v *= 1000000000ull; end++; break;
    default: break;
    }
    if (*end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench=%s: argument %d (%s) must be in [%" PRIu64
                        ", %" PRIu64 "]\n", bench_name_, i, argv[i], lo, hi);
        bench_usage(usage);
    }
    return (uint64_t)v;
}

/* ---- result line ------------------------------------------------------- */

/* Prints the one result line. final_rss_kib < 0 omits that field; extra_fmt
 * (may be NULL) formats further key=value pairs appended to the line.
 * Benchmarks keep the compiler from dropping their work by checking what
 * they wrote (a stamp, a pattern) before freeing it, and failing if it
 * changed; a checksum of allocator-independent work goes in check=. */
__attribute__((format(printf, 4, 5))) static inline void
bench_report(uint64_t ops, double secs, long final_rss_kib, const char *extra_fmt, ...)
{
    long peak = bench_peak_rss_kib(); /* before stdio/maps probing adds pages */
    char extra[512] = "";
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        vsnprintf(extra, sizeof extra, extra_fmt, ap);
        va_end(ap);
    }
    char final_buf[48] = "";
    if (final_rss_kib >= 0)
        snprintf(final_buf, sizeof final_buf, " final_rss_kib=%ld", final_rss_kib);
    double ops_per_s = secs > 0 ? (double)ops / secs : 0.0;
    printf("bench=%s ops_per_s=%.0f time_s=%.6f peak_rss_kib=%ld%s ops=%" PRIu64
           " malloc=%s%s%s\n",
           bench_name_, ops_per_s, secs, peak, final_buf, ops, bench_malloc_lib(),
           extra[0] ? " " : "", extra);
    fflush(stdout);
}

#endif /* BENCH_COMMON_H */

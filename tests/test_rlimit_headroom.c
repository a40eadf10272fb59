/* test_rlimit_headroom.c — allocation under an address-space limit set at run time
 * (issue 16, section 2: "DEBUG and SECURE give up early under a memory
 * limit": 300 KB requests failed while a 64 MiB calloc still succeeded
 * right after).
 *
 * Each case runs in a fresh process (this binary again, --case NAME, under
 * HAKMEM_PROFILE=<profile>, every profile).  The process lowers RLIMIT_AS to
 * what it has mapped now (VmSize, /proc/self/status) plus HEADROOM, then
 * allocates until ENOMEM, and checks:
 *
 *   - it got close to the limit: the blocks it holds add up to at least
 *     MIN_PERCENT of the headroom (the rest is the geometry's waste: a
 *     300 KB block takes a 320 KiB span, six to a superslab);
 *   - when the request fails, no memory for it remains: the kernel refuses
 *     a 4 MiB mapping too (the most an aligned superslab ever asks for), so
 *     a 64 MiB calloc fails as well;
 *   - after the failure, smaller requests still succeed where there is room
 *     for them (16 B to 4 KiB, in slabs the big blocks left free).
 *
 * Cases:
 *   large_after_huge   a 64 MiB block was allocated and freed before (the
 *                      huge cache keeps its mapping for reuse), then blocks
 *                      of 280-320 KB, sizes mixed;
 *   huge_after_large   120 MiB of 300 KB blocks allocated and freed before
 *                      (the pool keeps empty superslabs), then huge blocks
 *                      of just under 4 MiB.
 * The limit is relative to the process's own VmSize, so whatever hakmem
 * reserves at start (the slab map) is outside the headroom.
 */
#include "test_common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

TC_DEFINE_SINK;

#define HEADROOM (200 * MiB)
#define MIN_PERCENT 75

static const char *const profiles[] = { "SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE" };

/* ---- the child ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
}

static size_t vmsize(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *v = strstr(buf, "VmSize:");
    return v ? (size_t)strtoull(v + 7, NULL, 10) * 1024 : 0;
}

static int limit_to(size_t bytes)
{
    struct rlimit rl = { bytes, bytes };
    return setrlimit(RLIMIT_AS, &rl);
}

/* Blocks are chained through their first word: no other memory needed. */
static void *chain;
static size_t held;
static size_t fill(size_t lo, size_t hi, unsigned *seed)
{
    size_t n = 0;
    for (;;) {
        size_t sz = lo + (hi > lo ? (size_t)rand_r(seed) % (hi - lo + 1) : 0);
        void **p = malloc(opaque_size(sz));
        if (!p) {
            if (errno != ENOMEM) {
                say("malloc(%zu) failed with errno %d, not ENOMEM\n", sz, errno);
                exit(20);
            }
            return sz;
        }
        memset(p, 0x5a, 64);
        *p = chain;
        chain = p;
        held += sz;
        n++;
    }
}

static void release(void)
{
    while (chain) {
        void *next = *(void **)chain;
        free(chain);
        chain = next;
    }
    held = 0;
}

/* After the failure of a request of `failed` bytes: nothing left for it. */
static int check_exhausted(size_t failed)
{
    int rc = 0;
    void *m = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) {
        say("malloc(%zu) failed, yet the kernel still grants a 4 MiB mapping\n", failed);
        munmap(m, 4 * MiB);
        rc = 30;
    }
    void *c = calloc(1, opaque_size(64 * MiB));
    if (c) {
        say("malloc(%zu) failed, yet calloc(64 MiB) succeeds right after\n", failed);
        free(c);
        rc = 31;
    }
    static const size_t smaller[] = { 4096, 1000, 100, 16 };
    for (size_t i = 0; i < sizeof smaller / sizeof smaller[0]; i++) {
        void *p = malloc(opaque_size(smaller[i]));
        if (!p) {
            say("after malloc(%zu) failed, malloc(%zu) fails too\n", failed, smaller[i]);
            rc = 32;
        }
        tc_sink = p;
    }
    return rc;
}

static int check_close(size_t got, const char *what)
{
    size_t pct = got * 100 / HEADROOM;
    say("%s: %zu MiB of the %zu MiB headroom (%zu%%)\n", what, got >> 20, (size_t)HEADROOM >> 20, pct);
    if (pct < MIN_PERCENT) {
        say("%s: gave up at %zu%% of the headroom (want %d%%)\n", what, pct, MIN_PERCENT);
        return 40;
    }
    return 0;
}

static int child(const char *name)
{
    unsigned seed = 7;
    tc_sink = malloc(16);   /* initialised */
    size_t base = vmsize();
    if (!base)
        return 10;
    if (!strcmp(name, "large_after_huge")) {
        if (limit_to(base + HEADROOM))
            return 11;
        char *h = calloc(1, opaque_size(64 * MiB));
        if (!h)
            return 12;
        h[12345] = 1;
        free(h);
        size_t failed = fill(280000, 320000, &seed);
        int rc = check_close(held, "280-320 KB blocks after a freed 64 MiB block");
        return rc ? rc : check_exhausted(failed);
    }
    if (!strcmp(name, "huge_after_large")) {
        if (limit_to(base + HEADROOM))
            return 11;
        for (size_t got = 0; got < 120 * MiB; got += 300000) {
            void **p = malloc(opaque_size(300000));
            if (!p)
                return 12;
            *p = chain;
            chain = p;
        }
        release();
        size_t failed = fill(4 * MiB - 3 * 4096, 4 * MiB - 2 * 4096, &seed);
        int rc = check_close(held, "4 MiB blocks after 120 MiB of 300 KB blocks freed");
        return rc ? rc : check_exhausted(failed);
    }
    return 99;
}

/* ---- the parent ---- */

static void run_case(const char *profile, const char *name)
{
    int err[2];
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        close(err[0]);
        close(err[1]);
        setenv("HAKMEM_PROFILE", profile, 1);
        unsetenv("HAKMEM_ON_ERROR");
        execl("/proc/self/exe", "test_rlimit_headroom", "--case", name, (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t r;
    while ((r = read(err[0], buf + len, sizeof buf - 1 - len)) > 0 && len + 1 < sizeof buf)
        len += (size_t)r;
    buf[len] = 0;
    close(err[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    printf("  %s/%s: %s", profile, name, buf[0] ? buf : "\n");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s/%s: status 0x%x:\n%s", profile, name, st, buf);
}

static void run_all(const char *name)
{
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        run_case(profiles[i], name);
}

static void test_large_after_huge(void **s) { (void)s; run_all("large_after_huge"); }
static void test_huge_after_large(void **s) { (void)s; run_all("huge_after_large"); }

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case"))
        return child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_after_huge),
        cmocka_unit_test(test_huge_after_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

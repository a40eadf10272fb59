/* test_foreign.c — pointers hakmem does not own, given to free, realloc and
 * malloc_usable_size: recognised through the segment map, never
 * dereferenced, reported with one line on stderr starting with "hakmem:"
 * (once per kind, not once per call), and the program goes on.
 *
 * Kinds: a stack address, a static array, a page from mmap, memory that is
 * mapped PROT_NONE (so any read of it or of the 2 MiB-masked "header" would
 * crash), a block from glibc's own malloc, and pointers into the middle of a
 * huge hakmem block (before and after its first 2 MiB).
 *
 * Each kind runs in a child process forked before any foreign pointer was
 * seen, so each starts with the allocator's report-once state fresh; the
 * child captures its stderr in a temp file and exits non-zero (with a message
 * on the real stderr) on the first broken expectation.
 */
#include "test_common.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>

TC_DEFINE_SINK;

enum kind { K_STACK, K_STATIC, K_MMAP, K_PROTNONE, K_GLIBC, K_INTERIOR, N_KINDS };
static const char *const kind_name[] = { "stack", "static", "mmap", "PROT_NONE", "glibc",
                                         "interior-of-huge" };

static char static_bss[4096];
static char static_data[4096] = { 1, 2, 3 };

/* ---------------------------------------------------------------- the child */

static int real_stderr = -1; /* the test's stderr, while fd 2 is captured */
static int capture_fd = -1;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(real_stderr >= 0 ? real_stderr : 2, buf, (size_t)n) < 0)
        _exit(3);
    _exit(1);
}

/* What the allocator has written to the captured stderr so far. */
static size_t captured(char *buf, size_t cap)
{
    ssize_t r = pread(capture_fd, buf, cap - 1, 0);
    size_t n = r > 0 ? (size_t)r : 0;
    buf[n] = 0;
    return n;
}

/* Number of lines; checks each is complete and starts with "hakmem:". */
static int report_lines(const char *when)
{
    char buf[8192];
    size_t n = captured(buf, sizeof buf);
    int lines = 0;
    const char *s = buf;
    while (s < buf + n) {
        const char *e = memchr(s, '\n', (size_t)(buf + n - s));
        if (!e)
            die("%s: stderr ends with an incomplete line: \"%s\"", when, s);
        if (strncmp(s, "hakmem:", 7) != 0)
            die("%s: stderr line does not start with \"hakmem:\": \"%.*s\"", when,
                (int)(e - s), s);
        lines++;
        s = e + 1;
    }
    return lines;
}

struct foreign {
    char *p1, *p2;          /* two pointers of the kind */
    size_t len1, len2;      /* readable bytes at them (0: not readable) */
    int check_owns;         /* hak_owns must say 0 */
};

static void (*glibc_free)(void *);

static void snapshot(const struct foreign *f, unsigned char *s1, unsigned char *s2)
{
    if (f->len1)
        memcpy(s1, f->p1, f->len1);
    if (f->len2)
        memcpy(s2, f->p2, f->len2);
}

static void unchanged(const struct foreign *f, const unsigned char *s1, const unsigned char *s2,
                      const char *when)
{
    if (f->len1 && memcmp(s1, f->p1, f->len1) != 0)
        die("%s: memory at the foreign pointer %p was modified", when, (void *)f->p1);
    if (f->len2 && memcmp(s2, f->p2, f->len2) != 0)
        die("%s: memory at the foreign pointer %p was modified", when, (void *)f->p2);
}

/* The allocator still works normally. */
static void goes_on(void)
{
    for (size_t n = 1; n < 3 * MiB; n = n * 2 + 3) {
        void *p = malloc(n);
        if (!p || !hak_owns(p))
            die("malloc(%zu) after the foreign pointers = %p, not a hakmem block", n, p);
        fill_pattern(p, n, n);
        void *q = realloc(p, n + 100);
        if (!q || check_pattern(q, n, n) != (size_t)-1)
            die("realloc after the foreign pointers lost data");
        free(q);
        q = calloc(1, n);
        if (!q || first_nonzero(q, n) != (size_t)-1)
            die("calloc after the foreign pointers is not zeroed");
        free(q);
    }
}

static void exercise(const struct foreign *f, const char *name)
{
    static unsigned char s1[8192], s2[8192];
    snapshot(f, s1, s2);

    if (f->check_owns) {
        if (hak_owns(f->p1) || hak_owns(f->p2))
            die("%s: hak_owns() says hakmem owns a foreign pointer", name);
    }
    if (report_lines("before anything") != 0)
        die("%s: stderr not empty before the first foreign call", name);

    /* free: exactly one line, the first time */
    free(f->p1);
    int l = report_lines("after the first free");
    if (l != 1)
        die("%s: the first free of a foreign pointer wrote %d lines to stderr; want 1", name, l);
    unchanged(f, s1, s2, "after free");
    for (int i = 0; i < 100; i++) {
        free(f->p1);
        free(f->p2);
        hak_free(f->p1);
    }
    l = report_lines("after repeated frees");
    if (l != 1)
        die("%s: 300 more frees of foreign pointers of the same kind wrote %d lines in all; "
            "want the one line only", name, l);
    unchanged(f, s1, s2, "after repeated free");

    /* malloc_usable_size: 0, at most one more line */
    for (int i = 0; i < 100; i++) {
        size_t u1 = malloc_usable_size(f->p1), u2 = malloc_usable_size(f->p2);
        size_t h1 = hak_usable_size(f->p1);
        if (u1 || u2 || h1)
            die("%s: malloc_usable_size of a foreign pointer = %zu / %zu / %zu; want 0", name,
                u1, u2, h1);
    }
    unchanged(f, s1, s2, "after malloc_usable_size");

    /* realloc: NULL, the memory untouched, at most one more line */
    for (int i = 0; i < 100; i++) {
        void *q = realloc(f->p1, 100);
        if (q)
            die("%s: realloc(foreign, 100) = %p; want NULL", name, q);
        q = realloc(f->p2, 70000);
        if (q)
            die("%s: realloc(foreign, 70000) = %p; want NULL", name, q);
    }
    unchanged(f, s1, s2, "after realloc");

    l = report_lines("at the end");
    if (l < 1 || l > 3)
        die("%s: %d lines on stderr after 300 free, 300 malloc_usable_size and 200 realloc "
            "calls with foreign pointers; want 1 to 3 (once per kind)", name, l);
    goes_on();
}

static void set_up_kind(enum kind k, struct foreign *f, void **cleanup)
{
    memset(f, 0, sizeof *f);
    f->check_owns = 1;
    *cleanup = NULL;
    switch (k) {
    case K_STACK:
        break; /* done by the caller, whose frame outlives the test */
    case K_STATIC:
        memset(static_bss, 0x42, sizeof static_bss);
        f->p1 = static_bss + 64;
        f->p2 = static_data + 16;
        f->len1 = 1024;
        f->len2 = 1024;
        break;
    case K_MMAP: {
        char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            die("mmap failed");
        memset(m, 0x17, 65536);
        f->p1 = m;          /* page-aligned, as a "huge block" would be */
        f->p2 = m + 4096 + 32;
        f->len1 = 4096;
        f->len2 = 4096;
        break;
    }
    case K_PROTNONE: {
        /* 8 MiB reserved; use a 2 MiB-aligned region inside, all PROT_NONE */
        char *m = mmap(NULL, 8 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (m == MAP_FAILED)
            die("mmap failed");
        char *a = (char *)(((uintptr_t)m + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
        f->p1 = a + 64;
        f->p2 = a + 2 * MiB + 3 * 4096;
        break;
    }
    case K_GLIBC: {
        void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        if (!h)
            die("dlopen(libc.so.6): %s", dlerror());
        void *(*gmalloc)(size_t) = (void *(*)(size_t))dlsym(h, "malloc");
        glibc_free = (void (*)(void *))dlsym(h, "free");
        if (!gmalloc || !glibc_free)
            die("dlsym(libc malloc/free) failed");
        f->p1 = gmalloc(100);
        f->p2 = gmalloc(70000);
        if (!f->p1 || !f->p2)
            die("glibc's malloc failed");
        memset(f->p1, 0x61, 100);
        memset(f->p2, 0x62, 70000);
        f->len1 = 100;
        f->len2 = 4096;
        break;
    }
    case K_INTERIOR: {
        char *h = malloc(8 * MiB);
        if (!h)
            die("malloc(8 MiB) failed");
        fill_pattern(h, 8 * MiB, 8);
        if (!hak_owns(h))
            die("malloc(8 MiB) did not give a hakmem block");
        f->p1 = h + 100;
        f->p2 = h + 5 * MiB + 48;
        f->len1 = 4096;
        f->len2 = 4096;
        f->check_owns = 0; /* inside hakmem's memory: hak_owns may say 1 */
        *cleanup = h;
        break;
    }
    default:
        break;
    }
}

static void tear_down_kind(enum kind k, struct foreign *f, void *cleanup)
{
    if (k == K_GLIBC) {
        /* glibc's free would abort if its chunk headers had been touched */
        glibc_free(f->p1);
        glibc_free(f->p2);
    }
    if (k == K_INTERIOR) {
        char *h = cleanup;
        if (check_pattern(h, 8 * MiB, 8) != (size_t)-1)
            die("the huge block was modified by calls on pointers into it");
        void *q = realloc(h, 9 * MiB);
        if (!q || check_pattern(q, 8 * MiB, 8) != (size_t)-1)
            die("the huge block can no longer be realloc'ed intact");
        free(q);
    }
}

static int run_kind_child(enum kind k)
{
    char stack_buf[4096];
    memset(stack_buf, 0x33, sizeof stack_buf);
    struct foreign f;
    void *cleanup;
    set_up_kind(k, &f, &cleanup);
    if (k == K_STACK) {
        f.p1 = stack_buf + 16;
        f.p2 = stack_buf + 2048;
        f.len1 = 1024;
        f.len2 = 1024;
    }
    exercise(&f, kind_name[k]);
    tear_down_kind(k, &f, cleanup);
    if (k == K_STACK) {
        for (size_t i = 0; i < sizeof stack_buf; i++)
            if (stack_buf[i] != 0x33)
                die("stack buffer modified at %zu", i);
    }
    return 0;
}

/* All kinds in one process: still one line per kind at most. */
static int run_all_kinds_child(void)
{
    char stack_buf[4096];
    memset(stack_buf, 0x33, sizeof stack_buf);
    struct foreign f[N_KINDS];
    void *cleanup[N_KINDS];
    for (int k = 0; k < N_KINDS; k++)
        set_up_kind((enum kind)k, &f[k], &cleanup[k]);
    f[K_STACK].p1 = stack_buf + 8;
    f[K_STACK].p2 = stack_buf + 1000;
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k < N_KINDS; k++) {
            free(f[k].p1);
            free(f[k].p2);
            if (malloc_usable_size(f[k].p1) != 0)
                die("%s: malloc_usable_size != 0", kind_name[k]);
            if (realloc(f[k].p2, 64) != NULL)
                die("%s: realloc != NULL", kind_name[k]);
        }
    }
    int l = report_lines("all kinds");
    if (l < 1 || l > 3 * N_KINDS)
        die("%d lines on stderr after 50 rounds of free/realloc/malloc_usable_size on %d "
            "kinds of foreign pointers; want between 1 and %d", l, N_KINDS, 3 * N_KINDS);
    for (int k = 0; k < N_KINDS; k++)
        tear_down_kind((enum kind)k, &f[k], cleanup[k]);
    goes_on();
    return 0;
}

/* --------------------------------------------------------------- the parent */

static void run_in_child(int which)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        char path[] = "/tmp/hakmem-foreign-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0)
            _exit(4);
        unlink(path);
        real_stderr = dup(2);
        dup2(fd, 2);
        capture_fd = fd;
        int rc = which < N_KINDS ? run_kind_child((enum kind)which) : run_all_kinds_child();
        _exit(rc);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        fail_msg("waitpid: %s", strerror(errno));
    const char *name = which < N_KINDS ? kind_name[which] : "all kinds";
    if (WIFSIGNALED(st))
        fail_msg("%s: the process was killed by signal %d (%s) — a foreign pointer was "
                 "dereferenced or the allocator aborted", name, WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: child failed (exit status %d; message above)", name,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_stack(void **s) { (void)s; run_in_child(K_STACK); }
static void test_static(void **s) { (void)s; run_in_child(K_STATIC); }
static void test_mmap(void **s) { (void)s; run_in_child(K_MMAP); }
static void test_protnone(void **s) { (void)s; run_in_child(K_PROTNONE); }
static void test_glibc(void **s) { (void)s; run_in_child(K_GLIBC); }
static void test_interior(void **s) { (void)s; run_in_child(K_INTERIOR); }
static void test_all_kinds(void **s) { (void)s; run_in_child(N_KINDS); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack),    cmocka_unit_test(test_static),
        cmocka_unit_test(test_mmap),     cmocka_unit_test(test_protnone),
        cmocka_unit_test(test_glibc),    cmocka_unit_test(test_interior),
        cmocka_unit_test(test_all_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

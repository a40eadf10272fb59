/* test_bad_frees.c — the five bad frees of issue 6, per profile, as a
 * program sees them: what is written on stderr and whether it goes on.
 * Issue 16 added two forms glibc catches: free(p + 16) of a 100-byte block
 * and 8 bytes written past a 24-byte request (inside the block's usable
 * size in SPEED, before SECURE's redzone).
 *
 *   DEBUG, SECURE: each kind is reported at the bad free itself (before the
 *     program's next call), with one line that starts with "hakmem: ",
 *     names the kind and the address, then the process aborts.
 *   SPEED: a stack or mmap pointer and a double free in a row are reported
 *     at once and the program goes on.  An interior pointer is left to the
 *     flush checks, off in SPEED (docs/PROFILES.md): BALANCED reports it no
 *     later than when the thread cache flushes, and goes on.
 *
 * Each case runs in a fresh process (the profile is read at startup): this
 * binary executes itself with --case NAME under HAKMEM_PROFILE=<profile>.
 * The child prints the bad address on stdout before the bad call.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#endif

static void *opaque_ptr(void *p) { void *volatile v = p; return v; }
static size_t opaque(size_t x) { volatile size_t v = x; return v; }

/* ---- the child: one bad free, then the program's later frees ---- */

enum { FLUSH_N = 600 };   /* more than any thread cache holds: they flush */
static void *batch[FLUSH_N];

static void batch_alloc(size_t n) {
    for (int i = 0; i < FLUSH_N; i++) batch[i] = malloc(opaque(n));
}
static void batch_free(void) {
    for (int i = 0; i < FLUSH_N; i++) free(batch[i]);
}
static void say(const void *p) {
    printf("%p\n", p);
    fflush(stdout);
}
/* The bad call returned: a report "at the free" came before this line. */
static void done_bad_call(void) {
    printf("returned\n");
    fflush(stdout);
}

static int child(const char *kind) {
    if (!strcmp(kind, "stack")) {
        char buf[64];
        void *p = opaque_ptr(buf + 16);
        say(p);
        free(p);
        done_bad_call();
    } else if (!strcmp(kind, "mmap")) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 3;
        say(p);
        free(p);
        done_bad_call();
    } else if (!strcmp(kind, "interior")) {
        batch_alloc(64);
        char *p = malloc(opaque(64));
        say(p + 16);
        free(opaque_ptr(p + 16));
        done_bad_call();
        batch_free();
    } else if (!strcmp(kind, "interior100")) {
        batch_alloc(100);
        char *p = malloc(opaque(100));
        say(p + 16);
        free(opaque_ptr(p + 16));
        done_bad_call();
        batch_free();
    } else if (!strcmp(kind, "double")) {
        batch_alloc(32);
        void *p = malloc(opaque(32));
        say(p);
        free(p);
        free(opaque_ptr(p));
        done_bad_call();
        batch_free();
    } else if (!strcmp(kind, "overflow")) {
        /* 8 bytes past what malloc_usable_size promised */
        batch_alloc(32);
        unsigned char *p = malloc(opaque(32));
        size_t u = malloc_usable_size(p);
        say(p);
        volatile unsigned char *v = p;
        for (size_t i = 0; i < 8; i++) v[u + i] = 0x41;
        free(p);
        done_bad_call();
        batch_free();
    } else if (!strcmp(kind, "overflow24")) {
        /* 8 bytes past a 24-byte request (glibc: the next chunk's size) */
        batch_alloc(24);
        unsigned char *p = malloc(opaque(24));
        say(p);
        volatile unsigned char *v = p;
        for (size_t i = 0; i < 8; i++) v[24 + i] = 0x41;
        free(p);
        done_bad_call();
        batch_free();
    } else {
        return 3;
    }
    /* The program goes on: every tier still works. */
    static const size_t sizes[] = {1, 48, 5000, 40000, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *q = malloc(opaque(sizes[i]));
        if (!q) return 2;
        memset(q, 7, sizes[i]);
        free(q);
    }
    return 0;
}

/* ---- the parent: run a case, capture stdout and stderr ---- */

typedef struct {
    int status;
    char out[128];
    char err[4096];
    int returned;   /* the bad call returned (the child printed "returned") */
} run_t;

static size_t read_all(int fd, char *buf, size_t cap) {
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    return len;
}

/* on_error: HAKMEM_ON_ERROR for the child, or NULL for the profile's. */
static run_t run_case(const char *profile, const char *on_error, const char *kind) {
    run_t res;
    memset(&res, 0, sizeof res);
    int out[2], err[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]); close(err[0]);
        setenv("HAKMEM_PROFILE", profile, 1);
        if (on_error) setenv("HAKMEM_ON_ERROR", on_error, 1);
        else unsetenv("HAKMEM_ON_ERROR");
        execl("/proc/self/exe", "test_bad_frees", "--case", kind, (char *)NULL);
        _exit(127);
    }
    close(out[1]); close(err[1]);
    read_all(out[0], res.out, sizeof res.out);
    read_all(err[0], res.err, sizeof res.err);
    close(out[0]); close(err[0]);
    assert_int_equal(waitpid(pid, &res.status, 0), pid);
    res.returned = strstr(res.out, "\nreturned\n") != NULL;
    char *nl = strchr(res.out, '\n');
    if (nl) *nl = 0;
    return res;
}

/* The report: a line starting "hakmem: " that contains the address and one
 * of the words naming the kind (`words`: alternatives separated by '|', as
 * the pointer checks and the heap checks word them differently). */
static void assert_reported(const run_t *r, const char *profile, const char *kind, const char *words) {
    assert_true(r->out[0] == '0' && r->out[1] == 'x');
    for (const char *line = r->err; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[600];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = 0;
        line += len + (end ? 1 : 0);
        if (strncmp(buf, "hakmem: ", 8) || !strstr(buf, r->out)) continue;
        char alt[256];
        snprintf(alt, sizeof alt, "%s", words);
        for (char *save, *w = strtok_r(alt, "|", &save); w; w = strtok_r(NULL, "|", &save))
            if (strstr(buf, w)) return;
    }
    fail_msg("%s/%s: no \"hakmem: \" line naming %s and %s; stderr was:\n%s", profile, kind, r->out, words, r->err);
}

static const struct { const char *kind, *words; } kinds[] = {
    {"stack", "not allocated by hakmem|invalid free"},
    {"mmap", "not allocated by hakmem|invalid free"},
    {"interior", "invalid free|not a live block"},
    {"interior100", "invalid free|not a live block"},
    {"double", "double free"},
    {"overflow", "overflow"},
    {"overflow24", "overflow"},
};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

static void check_aborts(const char *profile) {
    for (int k = 0; k < NKINDS; k++) {
        run_t r = run_case(profile, NULL, kinds[k].kind);
        assert_reported(&r, profile, kinds[k].kind, kinds[k].words);
        if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
            fail_msg("%s/%s: expected abort after the report, status 0x%x; stderr:\n%s", profile, kinds[k].kind,
                     r.status, r.err);
        if (r.returned)
            fail_msg("%s/%s: reported only after the bad free returned (at a later flush), not at the free; "
                     "stderr:\n%s", profile, kinds[k].kind, r.err);
    }
}

static void test_debug_aborts_on_each_kind(void **s) { (void)s; check_aborts("DEBUG"); }
static void test_secure_aborts_on_each_kind(void **s) { (void)s; check_aborts("SECURE"); }

/* SPEED and BALANCED: reported (at once or at flush) and the program goes
 * on; SPEED leaves interior pointers to the flush checks it does not make. */
static void reports_and_goes_on(const char *profile) {
    for (int k = 0; k < NKINDS; k++) {
        if (!strncmp(kinds[k].kind, "overflow", 8)) continue;   /* no redzones */
        if (!strncmp(kinds[k].kind, "interior", 8) && !strcmp(profile, "SPEED")) continue;
        run_t r = run_case(profile, NULL, kinds[k].kind);
        assert_reported(&r, profile, kinds[k].kind, kinds[k].words);
        if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
            fail_msg("%s/%s: expected the program to go on, status 0x%x; stderr:\n%s", profile, kinds[k].kind, r.status,
                     r.err);
    }
}
static void test_speed_reports_and_goes_on(void **s) { (void)s; reports_and_goes_on("SPEED"); }
static void test_balanced_reports_and_goes_on(void **s) { (void)s; reports_and_goes_on("BALANCED"); }

/* SECURE in report mode: an overflow is reported and the program goes on
 * with its heap intact (the redzone repaired, the block reused). */
static void test_secure_report_mode_goes_on(void **s) {
    (void)s;
    run_t r = run_case("SECURE", "report", "overflow");
    assert_reported(&r, "SECURE", "overflow", "overflow");
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("SECURE/overflow in report mode: status 0x%x; stderr:\n%s", r.status, r.err);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--case")) return child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_debug_aborts_on_each_kind),
        cmocka_unit_test(test_secure_aborts_on_each_kind),
        cmocka_unit_test(test_speed_reports_and_goes_on),
        cmocka_unit_test(test_balanced_reports_and_goes_on),
        cmocka_unit_test(test_secure_report_mode_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

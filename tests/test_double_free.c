/* Black-box: double frees.
 *
 *   - In every profile, a block freed twice in a row is reported at the
 *     second free, and the next two mallocs of its size get two blocks
 *     (the program goes on; with HAKMEM_ON_ERROR=abort it aborts there).
 *   - With checked frees (SECURE, or HAKMEM_ON_ERROR=abort in any profile),
 *     a double free is caught at the second free wherever the first copy
 *     is: deep in the thread's cache (glibc's tst-tcfree2), back in its
 *     span, in another thread's cache; and a block is never handed out
 *     twice.
 *   - Correct programs are not reported: a block freed without ever being
 *     written, blocks freed by other threads, reused blocks.
 *
 * Each case runs in a re-executed child (HAKMEM_* variables are read once). */
#include "test_common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define CHILD_VAR "TEST_DOUBLE_FREE_CASE"   /* (not HAKMEM_*: hakmem would warn) */

static void *volatile sink;
static void *opaque(void *p) { sink = p; return sink; }

/* ---- the children: each returns 0 if it got to its end ---- */

static int child_in_a_row(void) {
    void *x = opaque(malloc(32));
    free(x);
    free(opaque(x));
    void *a = malloc(32), *b = malloc(32);
    return a == b ? 3 : 0;
}

static int child_deep(void) {
    void *v[20];
    for (int i = 0; i < 20; i++) v[i] = opaque(malloc(20));
    for (int i = 0; i < 20; i++) free(v[i]);
    free(opaque(v[0]));
    return 0;
}

static int child_in_span(void) {
    void *x = opaque(malloc(200)), *keep = opaque(malloc(200));   /* keep holds x's span */
    memset(x, 1, 200);
    free(x);
    /* enough frees of the class to push x out of the cache to its span */
    enum { N = 1000 };
    void **v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) v[i] = opaque(malloc(200));
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);
    free(opaque(x));
    free(keep);
    return 0;
}

static void *free_in_thread(void *p) { free(p); return NULL; }

static int child_other_thread(void) {
    void *x = opaque(malloc(64));
    pthread_t t;
    if (pthread_create(&t, NULL, free_in_thread, x) != 0) return 4;
    pthread_join(t, NULL);
    free(opaque(x));   /* x sits in the exited thread's cache, or went home */
    return 0;
}

/* Frees that are right must pass: unwritten blocks (their first word
 * still carries the cache's mark), reuse, and blocks moving between
 * threads. */
static int child_correct(void) {
    for (int round = 0; round < 1000; round++) {
        void *p = opaque(malloc(48));
        free(p);
    }
    void *v[300];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 300; i++) v[i] = opaque(malloc(16 + (size_t)(i % 7) * 40));
        for (int i = 299; i >= 0; i--) free(v[i]);
    }
    for (int round = 0; round < 50; round++) {
        void *p = opaque(malloc(128));
        pthread_t t;
        if (pthread_create(&t, NULL, free_in_thread, p) != 0) return 4;
        pthread_join(t, NULL);
    }
    return 0;
}

/* After double frees in report mode, no block is handed out twice. */
static int child_never_twice(void) {
    enum { N = 400 };
    void *v[N];
    for (int i = 0; i < N; i++) v[i] = opaque(malloc(100));
    for (int i = 0; i < N; i++) free(v[i]);
    for (int i = 0; i < N; i += 7) free(opaque(v[i]));   /* double frees, deep and in spans */
    void *w[2 * N];
    for (int i = 0; i < 2 * N; i++) w[i] = malloc(100);
    for (int i = 0; i < 2 * N; i++)
        for (int j = i + 1; j < 2 * N; j++)
            if (w[i] == w[j]) return 5;
    for (int i = 0; i < 2 * N; i++) free(w[i]);
    return 0;
}

/* ---- the parent ---- */

typedef struct { int status; char err[2048]; } outcome_t;

static outcome_t run(const char *kase, const char *profile, const char *on_error) {
    outcome_t o = {0, ""};
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        setenv(CHILD_VAR, kase, 1);
        setenv("HAKMEM_PROFILE", profile, 1);
        if (on_error) setenv("HAKMEM_ON_ERROR", on_error, 1); else unsetenv("HAKMEM_ON_ERROR");
        execl("/proc/self/exe", "test_double_free", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], o.err + n, sizeof o.err - 1 - n)) > 0) n += (size_t)r;
    o.err[n] = 0;
    close(fd[0]);
    assert_int_equal(waitpid(pid, &o.status, 0), pid);
    return o;
}

static const char *const all_profiles[] = {"SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE"};

static void expect_abort(const char *kase, const char *profile) {
    outcome_t o = run(kase, profile, "abort");
    if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGABRT)
        fail_msg("%s, %s, ON_ERROR=abort: not aborted (status 0x%x); stderr: %s", kase, profile, o.status, o.err);
    if (!strstr(o.err, "double free")) fail_msg("%s, %s: no double-free report; stderr: %s", kase, profile, o.err);
}

static void expect_clean(const char *kase, const char *profile, const char *on_error) {
    outcome_t o = run(kase, profile, on_error);
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
        fail_msg("%s, %s, ON_ERROR=%s: status 0x%x; stderr: %s", kase, profile, on_error ? on_error : "-", o.status, o.err);
    if (strstr(o.err, "hakmem:")) fail_msg("%s, %s: a correct program was reported: %s", kase, profile, o.err);
}

static void in_a_row_is_caught_at_the_second_free(void **state) {
    (void)state;
    for (size_t i = 0; i < 5; i++) {
        expect_abort("in_a_row", all_profiles[i]);
        outcome_t o = run("in_a_row", all_profiles[i], "report");
        if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
            fail_msg("in_a_row, %s, report mode: status 0x%x (3: the block was handed out twice); stderr: %s",
                     all_profiles[i], o.status, o.err);
        if (!strstr(o.err, "double free")) fail_msg("in_a_row, %s, report mode: not reported: %s", all_profiles[i], o.err);
    }
}

static void checked_frees_catch_every_double_free(void **state) {
    (void)state;
    static const char *const kases[] = {"deep", "in_span", "other_thread"};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < 5; i++) expect_abort(kases[k], all_profiles[i]);
}

static void correct_programs_are_not_reported(void **state) {
    (void)state;
    for (size_t i = 0; i < 5; i++) {
        expect_clean("correct", all_profiles[i], "abort");
        expect_clean("correct", all_profiles[i], NULL);
    }
}

static void secure_never_hands_a_block_out_twice(void **state) {
    (void)state;
    outcome_t o = run("never_twice", "SECURE", "report");
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
        fail_msg("SECURE, report mode: status 0x%x (5: a block handed out twice); stderr: %s", o.status, o.err);
    if (!strstr(o.err, "double free")) fail_msg("SECURE: the double frees were not reported: %s", o.err);
}

int main(void) {
    const char *c = getenv(CHILD_VAR);
    if (c) {
        if (!strcmp(c, "in_a_row")) return child_in_a_row();
        if (!strcmp(c, "deep")) return child_deep();
        if (!strcmp(c, "in_span")) return child_in_span();
        if (!strcmp(c, "other_thread")) return child_other_thread();
        if (!strcmp(c, "correct")) return child_correct();
        if (!strcmp(c, "never_twice")) return child_never_twice();
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_a_row_is_caught_at_the_second_free),
        cmocka_unit_test(checked_frees_catch_every_double_free),
        cmocka_unit_test(correct_programs_are_not_reported),
        cmocka_unit_test(secure_never_hands_a_block_out_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

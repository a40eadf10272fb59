/* test_malloc_stats.c — malloc_stats() as a program that knows glibc's
 * reads it (issue 16, section 2).
 *
 *   - glibc's lines come first, in glibc's format, with numbers that agree
 *     with what the program holds: "Arena 0:", "system bytes     = N",
 *     "in use bytes     = N", "Total (incl. mmap):", the same two again,
 *     "max mmap regions = N", "max mmap bytes   = N"; then hakmem's own
 *     report ("hakmem: stats").
 *   - It is not a cancellation point (glibc's tst-malloc-stats-cancellation):
 *     a thread with a cancellation pending prints the whole report and is
 *     cancelled at its next cancellation point, not inside malloc_stats.
 */
#include "test_common.h"

#include <pthread.h>

TC_DEFINE_SINK;

static size_t capture_stats(char *buf, size_t cap)
{
    int tmp;
    int saved = stderr_capture_begin(&tmp);
    assert_true(saved >= 0);
    malloc_stats();
    return stderr_capture_end(saved, tmp, buf, cap);
}

/* The number after "label = " at or after *from; the search moves on. */
static unsigned long long field(const char *buf, const char **from, const char *label)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s = ", label);
    const char *at = strstr(*from - 1, key);
    if (!at)
        fail_msg("no line \"%s = \" in malloc_stats output:\n%s", label, buf);
    at += strlen(key);
    const char *eol = strchr(at, '\n');
    if (!eol || eol - at != 10)
        fail_msg("\"%s\": the number is not right-aligned in 10 columns:\n%s", label, buf);
    *from = eol + 1;
    return strtoull(at, NULL, 10);
}

static void test_glibc_lines_first(void **state)
{
    (void)state;
    const size_t huge = 9 * MiB + 123;
    char *big = malloc(huge);
    assert_non_null(big);
    memset(big, 1, huge);
    void *small[500];
    for (int i = 0; i < 500; i++) {
        small[i] = malloc(200);
        assert_non_null(small[i]);
    }
    static char buf[16384];
    capture_stats(buf, sizeof buf);
    if (strncmp(buf, "Arena 0:\n", 9) != 0)
        fail_msg("malloc_stats does not start with glibc's \"Arena 0:\" line:\n%s", buf);
    const char *at = buf + 9;
    unsigned long long a_sys = field(buf, &at, "system bytes    ");
    unsigned long long a_use = field(buf, &at, "in use bytes    ");
    if (strncmp(at, "Total (incl. mmap):\n", 20) != 0)
        fail_msg("no \"Total (incl. mmap):\" line after the arena:\n%s", buf);
    at += 20;
    unsigned long long t_sys = field(buf, &at, "system bytes    ");
    unsigned long long t_use = field(buf, &at, "in use bytes    ");
    unsigned long long regions = field(buf, &at, "max mmap regions");
    unsigned long long mbytes = field(buf, &at, "max mmap bytes  ");
    if (!strstr(at, "hakmem: stats"))
        fail_msg("hakmem's own report does not follow glibc's lines:\n%s", buf);
    /* what the program holds is in use; what is in use is mapped */
    if (a_use < 500 * 200 || a_use > a_sys)
        fail_msg("arena: in use %llu, system %llu, with 100000 bytes of small blocks live:\n%s", a_use, a_sys, buf);
    if (t_use < huge + 500 * 200 || t_use > t_sys || t_sys < a_sys || t_use < a_use)
        fail_msg("total: in use %llu, system %llu (arena %llu, %llu):\n%s", t_use, t_sys, a_use, a_sys, buf);
    if (regions < 1 || mbytes < huge)
        fail_msg("a %zu-byte block is live: max mmap regions %llu, max mmap bytes %llu:\n%s", huge, regions,
                 mbytes, buf);
    free(big);
    for (int i = 0; i < 500; i++)
        free(small[i]);
    /* the maxima stay after the block is gone */
    capture_stats(buf, sizeof buf);
    at = strstr(buf, "Total (incl. mmap):\n");
    assert_non_null(at);
    at += 20;
    field(buf, &at, "system bytes    ");
    field(buf, &at, "in use bytes    ");
    if (field(buf, &at, "max mmap regions") < regions || field(buf, &at, "max mmap bytes  ") < mbytes)
        fail_msg("the maxima went down after the free:\n%s", buf);
}

/* As glibc's tst-malloc-stats-cancellation: fd 2 goes to a file; a thread
 * whose cancellation is pending calls malloc_stats, then fputs. */
static pthread_barrier_t gate;
static void *stats_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&gate);   /* not a cancellation point */
    malloc_stats();
    fputs("this call should trigger cancellation\n", stderr);
    return NULL;
}

static void test_not_a_cancellation_point(void **state)
{
    (void)state;
    static char buf[16384];
    int tmp;
    int saved = stderr_capture_begin(&tmp);
    assert_true(saved >= 0);
    assert_int_equal(pthread_barrier_init(&gate, NULL, 2), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stats_thread, NULL), 0);
    assert_int_equal(pthread_cancel(t), 0);
    pthread_barrier_wait(&gate);
    void *rv;
    assert_int_equal(pthread_join(t, &rv), 0);
    stderr_capture_end(saved, tmp, buf, sizeof buf);
    pthread_barrier_destroy(&gate);
    if (rv != PTHREAD_CANCELED)
        fail_msg("the thread was not cancelled");
    if (!strstr(buf, "max mmap bytes"))
        fail_msg("malloc_stats' output is incomplete (cancelled inside it?):\n%s", buf);
    if (!strstr(buf, "class  size"))
        fail_msg("hakmem's own report is incomplete (cancelled inside it?):\n%s", buf);
    if (strstr(buf, "this call should trigger cancellation"))
        fail_msg("the fputs after malloc_stats produced output:\n%s", buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glibc_lines_first),
        cmocka_unit_test(test_not_a_cancellation_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

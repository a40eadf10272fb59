/* test_stats_exit.c — the HAKMEM_STATS report at exit reaches its reader
 * (issue 16, section 2): programs that close stderr before they exit (every
 * coreutils program does, in an atexit handler) still report; the report
 * keeps a descriptor of its own only while HAKMEM_STATS is on (high,
 * close-on-exec); a program that closes that descriptor and opens a file on
 * its number does not get the report in its file; HAKMEM_STATS_FILE=path
 * (with %p for the pid) takes the report instead, and a path that cannot be
 * opened gives one warning and the report on stderr.
 *
 * Each case is this binary run again (--case NAME) with its stdout and
 * stderr on pipes and the variables the case needs; `sort` runs with
 * LD_PRELOAD of the library this binary uses (or of the LD_PRELOAD the test
 * itself runs with, to try another build).
 */
#include "test_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

TC_DEFINE_SINK;

/* ---- the child cases ---- */

static void close_stderr_at_exit(void)
{
    if (fclose(stderr) != 0)
        _exit(9);
}

/* Some allocation, so that there is something to report. */
static void work(void)
{
    for (int i = 0; i < 100; i++)
        {
        tc_sink = malloc(opaque_size(100 + (size_t)i * 37));
        free(tc_sink);
    }
}

/* Descriptors >= 3 other than the directory listing's own: how many, the
 * highest, and whether that one is close-on-exec. */
static int extra_fds(int *highest, int *cloexec)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    *highest = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd < 3 || fd == dirfd(d))
            continue;
        n++;
        if (fd > *highest)
            *highest = fd;
    }
    closedir(d);
    *cloexec = *highest >= 0 && (fcntl(*highest, F_GETFD) & FD_CLOEXEC);
    return n;
}

static int child(const char *c)
{
    work();
    if (!strcmp(c, "close_stderr")) {
        atexit(close_stderr_at_exit);
        return 0;
    }
    if (!strcmp(c, "fds")) {
        int hi, ce;
        int n = extra_fds(&hi, &ce);
        printf("fds %d highest %d cloexec %d\n", n, hi, ce);
        return 0;
    }
    if (!strcmp(c, "reuse")) {
        /* Close the report's descriptor (as closefrom would) and put a
         * data file on its number: the report must not land in it. */
        int hi, ce;
        if (extra_fds(&hi, &ce) != 1)
            return 3;
        const char *data = getenv("TEST_DATA_FILE");
        int fd = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || close(hi) != 0 || dup2(fd, hi) != hi)
            return 4;
        close(fd);
        if (write(hi, "data\n", 5) != 5)
            return 5;
        atexit(close_stderr_at_exit);   /* and stderr is gone too, the other fallback's chance */
        return 0;
    }
    return 0;   /* "plain" */
}

/* ---- the parent ---- */

typedef struct {
    int status;
    char out[4096];
    char err[16384];
    pid_t pid;
} run_t;

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd, buf + len, cap - 1 - len)) > 0 && len + 1 < cap)
        len += (size_t)r;
    while (r > 0)
        r = read(fd, (char[256]){0}, 256);   /* drain the rest */
    buf[len] = 0;
    return len;
}

/* Run argv with the given extra environment ("NAME=value", NULL-ended;
 * every HAKMEM_ variable of ours removed first); stdin /dev/null. */
static run_t run(char *const argv[], const char *const env[], const char *preload)
{
    run_t r;
    memset(&r, 0, sizeof r);
    int out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        /* A preload of the caller's (another build of the library under
         * test) is kept, and then stands for `preload` too. */
        char inherited[4096] = "";
        if (getenv("LD_PRELOAD"))
            snprintf(inherited, sizeof inherited, "%s", getenv("LD_PRELOAD"));
        clearenv();
        setenv("PATH", "/usr/bin:/bin", 1);
        for (int i = 0; env[i]; i++)
            putenv((char *)env[i]);
        if (inherited[0])
            setenv("LD_PRELOAD", inherited, 1);
        else if (preload)
            setenv("LD_PRELOAD", preload, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    read_all(out[0], r.out, sizeof r.out);
    read_all(err[0], r.err, sizeof r.err);
    close(out[0]);
    close(err[0]);
    assert_int_equal(waitpid(pid, &r.status, 0), pid);
    r.pid = pid;
    return r;
}

static run_t run_case(const char *name, const char *const env[])
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char *argv[] = { self, "--case", (char *)name, NULL };
    return run(argv, env, NULL);
}

static void assert_exit0(const run_t *r, const char *what)
{
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        fail_msg("%s: status 0x%x; stderr:\n%s", what, r->status, r->err);
}

static void test_report_after_stderr_closed(void **state)
{
    (void)state;
    const char *env[] = { "HAKMEM_STATS=1", NULL };
    run_t r = run_case("close_stderr", env);
    assert_exit0(&r, "close_stderr");
    if (!strstr(r.err, "hakmem: stats") || !strstr(r.err, "os_calls_per_op"))
        fail_msg("HAKMEM_STATS=1, stderr closed at exit: no report; stderr:\n%s", r.err);
    const char *envj[] = { "HAKMEM_STATS=json", NULL };
    r = run_case("close_stderr", envj);
    assert_exit0(&r, "close_stderr json");
    if (!strstr(r.err, "{\"hakmem_stats\":"))
        fail_msg("HAKMEM_STATS=json, stderr closed at exit: no report; stderr:\n%s", r.err);
}

/* The library the tests link: next to the tests' directory. */
static void library_path(char *buf, size_t cap)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    char *slash = strrchr(self, '/');
    assert_non_null(slash);
    *slash = 0;
    snprintf(buf, cap, "%s/../libhakmem.so", self);
    assert_true(access(buf, R_OK) == 0);
}

static void test_sort_reports(void **state)
{
    (void)state;
    char lib[4200];
    library_path(lib, sizeof lib);
    char in[] = "/tmp/hakmem-test-sort-XXXXXX";
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pear\napple\n", 11), 11);
    close(fd);
    char sort[] = "/usr/bin/sort";
    if (access(sort, X_OK) != 0)
        strcpy(sort, "/bin/sort");
    char *argv[] = { sort, in, NULL };
    const char *env[] = { "HAKMEM_STATS=1", NULL };
    run_t r = run(argv, env, lib);
    unlink(in);
    assert_exit0(&r, "sort");
    if (strcmp(r.out, "apple\npear\n") != 0)
        fail_msg("sort's output: %s", r.out);
    if (!strstr(r.err, "hakmem: stats"))
        fail_msg("HAKMEM_STATS=1 sort: no report on stderr:\n%s", r.err);
}

static void test_descriptor_only_with_stats(void **state)
{
    (void)state;
    const char *none[] = { NULL };
    run_t r = run_case("fds", none);
    assert_exit0(&r, "fds");
    if (strncmp(r.out, "fds 0 ", 6) != 0)
        fail_msg("without HAKMEM_STATS the process has descriptors of hakmem's: %s", r.out);
    const char *off[] = { "HAKMEM_STATS=0", NULL };
    r = run_case("fds", off);
    if (strncmp(r.out, "fds 0 ", 6) != 0)
        fail_msg("with HAKMEM_STATS=0 the process has descriptors of hakmem's: %s", r.out);
    const char *on[] = { "HAKMEM_STATS=1", NULL };
    r = run_case("fds", on);
    assert_exit0(&r, "fds");
    int n, hi, ce;
    if (sscanf(r.out, "fds %d highest %d cloexec %d", &n, &hi, &ce) != 3 || n != 1 || hi < 100 || !ce)
        fail_msg("with HAKMEM_STATS=1: want one descriptor, numbered 100 or more, close-on-exec; got %s", r.out);
}

static void test_descriptor_reused_by_program(void **state)
{
    (void)state;
    char data[] = "/tmp/hakmem-test-data-XXXXXX";
    int fd = mkstemp(data);
    assert_true(fd >= 0);
    close(fd);
    char var[128];
    snprintf(var, sizeof var, "TEST_DATA_FILE=%s", data);
    const char *env[] = { "HAKMEM_STATS=1", var, NULL };
    run_t r = run_case("reuse", env);
    assert_exit0(&r, "reuse");
    char buf[4096] = { 0 };
    fd = open(data, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(data);
    if (got != 5 || strcmp(buf, "data\n") != 0)
        fail_msg("the program's file on the report's old descriptor got more than its own data:\n%s", buf);
}

static void test_stats_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/hakmem-test-stats-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char var[256];
    snprintf(var, sizeof var, "HAKMEM_STATS_FILE=%s/report.%%p.txt", dir);
    const char *env[] = { "HAKMEM_STATS=1", var, NULL };
    run_t a = run_case("close_stderr", env);
    run_t b = run_case("plain", env);
    assert_exit0(&a, "stats file a");
    assert_exit0(&b, "stats file b");
    const run_t *runs[] = { &a, &b };
    for (int i = 0; i < 2; i++) {
        if (strstr(runs[i]->err, "hakmem: stats"))
            fail_msg("HAKMEM_STATS_FILE set, but the report went to stderr:\n%s", runs[i]->err);
        char path[400], buf[8192] = { 0 };
        snprintf(path, sizeof path, "%s/report.%d.txt", dir, (int)runs[i]->pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            fail_msg("no report file %s (the pid of the run)", path);
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0 || strncmp(buf, "hakmem: stats", 13) != 0)
            fail_msg("%s does not hold the report:\n%s", path, buf);
        unlink(path);
    }
    /* appended, not truncated */
    snprintf(var, sizeof var, "HAKMEM_STATS_FILE=%s/fixed.txt", dir);
    run_case("plain", env);
    run_case("plain", env);
    char path[400], buf[16384] = { 0 };
    snprintf(path, sizeof path, "%s/fixed.txt", dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    rmdir(dir);
    const char *second = got > 0 ? strstr(buf, "hakmem: stats") : NULL;
    if (!second || !strstr(second + 1, "hakmem: stats"))
        fail_msg("two runs with the same HAKMEM_STATS_FILE: want two reports appended:\n%s", buf);
}

static void test_stats_file_unopenable(void **state)
{
    (void)state;
    const char *env[] = { "HAKMEM_STATS=1", "HAKMEM_STATS_FILE=/nonexistent-dir/hakmem/%p", NULL };
    run_t r = run_case("close_stderr", env);
    assert_exit0(&r, "unopenable");
    const char *w = strstr(r.err, "hakmem: HAKMEM_STATS_FILE: cannot open /nonexistent-dir/hakmem/");
    if (!w || !strstr(r.err, "hakmem: stats"))
        fail_msg("an unopenable HAKMEM_STATS_FILE: want a warning and the report on stderr; got:\n%s", r.err);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case"))
        return child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_after_stderr_closed),
        cmocka_unit_test(test_sort_reports),
        cmocka_unit_test(test_descriptor_only_with_stats),
        cmocka_unit_test(test_descriptor_reused_by_program),
        cmocka_unit_test(test_stats_file),
        cmocka_unit_test(test_stats_file_unopenable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

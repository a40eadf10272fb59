/* app_run.c — run one command and measure it, for scripts/bench_app.sh.
 *
 *     app_run OUTFILE COMMAND [ARG...]
 *
 * Runs COMMAND with its stdout sent to OUTFILE (created or truncated; stdin
 * and stderr are inherited). When the environment has BENCH_RUN_PRELOAD, the
 * child gets it as LD_PRELOAD (and the variable itself is removed), so that
 * app_run is not itself under the allocator being measured. Prints one line
 * on stdout:
 *
 *     time_s=F user_s=F sys_s=F peak_rss_kib=N status=N
 *
 * time_s is the wall time from fork to the child's exit (CLOCK_MONOTONIC);
 * user_s and sys_s are CPU times and peak_rss_kib the largest resident set of
 * the child and of every descendant it waited for (wait4's rusage: the
 * kernel folds reaped children's maxima into their parent's), so gcc's
 * figure covers cc1 and as. status is the exit code, or 128 + the signal.
 * app_run's own exit status is 0 when it could run the command, else 1.
 * SIGTERM, SIGINT and SIGHUP are passed on to the child.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;

static void pass_on(int sig)
{
    if (child > 0)
        kill(child, sig);
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: app_run OUTFILE COMMAND [ARG...]\n");
        return 1;
    }
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "app_run: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    const char *pre = getenv("BENCH_RUN_PRELOAD");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "app_run: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        if (dup2(out, STDOUT_FILENO) < 0)
            _exit(127);
        if (pre) {
            if (*pre && setenv("LD_PRELOAD", pre, 1) != 0)
                _exit(127);
            unsetenv("BENCH_RUN_PRELOAD");
        }
        execvp(argv[2], argv + 2);
        fprintf(stderr, "app_run: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    close(out);
    child = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_on;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "app_run: wait4: %s\n", strerror(errno));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    printf("time_s=%.6f user_s=%.3f sys_s=%.3f peak_rss_kib=%ld status=%d\n", wall,
           tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, status);
    return 0;
}

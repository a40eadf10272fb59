/* test_fork_signal.c — fork() from a signal handler (issue 16, section 2,
 * first finding; glibc's malloc/tst-mallocfork2 is the reference).
 *
 * A signal handler that forks while its thread is itself inside fork()
 * used to hang in hakmem's prepare handler: the interrupted fork held the
 * locks it takes.  Each case runs in a fresh process (this binary executed
 * again with --run CASE under HAKMEM_PROFILE=<profile>), watched with a
 * timeout, so a hang is one failed case:
 *
 *   nested          single-threaded: SIGALRM is raised from a fork prepare
 *                   handler that runs after hakmem's (it was registered
 *                   first, from .preinit_array, before hakmem's
 *                   initialisation registered its own; prepare handlers run
 *                   last-registered first).  The handler forks; its child
 *                   allocates every tier (nothing of ours is locked in a
 *                   single-threaded process) and exits; then the outer fork
 *                   completes and both of its processes allocate.
 *   nested_threads  the same with a second thread alive (hakmem takes its
 *                   locks): the inner fork takes nothing and releases
 *                   nothing, its child only calls _exit (as POSIX allows in
 *                   the child of a multi-threaded fork), and the outer
 *                   fork's parent and child allocate afterwards.
 *   timer           single-threaded, as tst-mallocfork2: a timer sends
 *                   SIGALRM every millisecond while the program mallocs, frees and
 *                   forks; the handler forks and waits.  Signals land inside
 *                   malloc, free and fork.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define CASE_TIMEOUT_S 30

static const char *const profiles[] = {"SPEED", "BALANCED", "LEAN", "DEBUG", "SECURE"};

/* ---- the runner (the child process) ---- */

static void *opaque_ptr(void *p) { void *volatile v = p; return v; }

/* Allocate, write and free one block of every tier; 0 if all worked. */
static int allocate_every_tier(void) {
    static const size_t sizes[] = {16, 100, 5000, 40000, 300000, 5u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = opaque_ptr(malloc(sizes[i]));
        if (!p) return 1;
        memset(p, 0x5a, sizes[i]);
        free(p);
    }
    return 0;
}

static void say(const char *m) {
    ssize_t w = write(2, m, strlen(m));
    (void)w;
}

static volatile sig_atomic_t armed;          /* the prepare handler raises SIGALRM once */
static volatile sig_atomic_t in_handler;
static volatile sig_atomic_t handler_forked; /* 1 ok, -1 failed */
static volatile sig_atomic_t inner_allocates;

static void nested_handler(int sig) {
    (void)sig;
    in_handler = 1;
    pid_t pid = fork();
    if (pid == 0) _exit(inner_allocates ? allocate_every_tier() : 0);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) handler_forked = -1;
    else handler_forked = 1;
    in_handler = 0;
}

static void test_prepare(void) {
    if (armed && !in_handler) {
        armed = 0;
        raise(SIGALRM);
    }
}

/* Registered before hakmem initialises (the loader runs .preinit_array
 * before any library's constructor), so it runs after hakmem's prepare. */
static void register_early(int argc, char **argv, char **envp) {
    (void)argc; (void)argv; (void)envp;
    pthread_atfork(test_prepare, NULL, NULL);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_entry)(int, char **, char **) = register_early;

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int idle_stop;
static void *idle_thread(void *arg) {
    (void)arg;
    free(opaque_ptr(malloc(64)));   /* it has a heap */
    pthread_mutex_lock(&idle_lock);
    while (!idle_stop) pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    return NULL;
}

static int run_nested(int threads) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nested_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL)) return 10;
    pthread_t t;
    if (threads && pthread_create(&t, NULL, idle_thread, NULL)) return 11;
    inner_allocates = !threads;
    if (allocate_every_tier()) return 12;
    for (int round = 0; round < 20; round++) {
        handler_forked = 0;
        armed = 1;
        pid_t pid = fork();
        if (pid == 0) _exit(allocate_every_tier() ? 20 : 0);
        if (pid < 0) return 13;
        int st = 0;
        if (waitpid(pid, &st, 0) != pid) return 14;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { say("the outer fork's child failed to allocate\n"); return 15; }
        if (handler_forked != 1) { say("the handler's fork (inside fork) failed\n"); return 16; }
        if (allocate_every_tier()) return 17;
    }
    if (threads) {
        pthread_mutex_lock(&idle_lock);
        idle_stop = 1;
        pthread_cond_signal(&idle_cond);
        pthread_mutex_unlock(&idle_lock);
        pthread_join(t, NULL);
    }
    return 0;
}

static volatile sig_atomic_t timer_errors;
static volatile sig_atomic_t timer_forks;
static void timer_handler(int sig) {
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int st = 0;
    if (pid < 0) timer_errors = timer_errors + 1;
    else {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) timer_errors = timer_errors + 1;
        timer_forks = timer_forks + 1;
    }
    errno = saved;
}

static int run_timer(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = timer_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL)) return 10;
    enum { SLOTS = 512 };
    static void *slot[SLOTS];
    unsigned seed = 1;
    struct itimerval it = {{0, 1000}, {0, 1000}};
    if (setitimer(ITIMER_REAL, &it, NULL)) return 11;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long i = 0;
    do {
        for (int k = 0; k < 64; k++, i++) {
            int s = rand_r(&seed) % SLOTS;
            size_t n = (size_t)rand_r(&seed) % 70000;
            if (rand_r(&seed) % 64 == 0) n = (size_t)(2 + rand_r(&seed) % 3) << 20;   /* huge: the cache's lock */
            if (rand_r(&seed) % 7 == 0) {
                pid_t pid = fork();
                if (pid == 0) _exit(0);
                if (pid < 0) return 12;
                int st;
                while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            }
            free(slot[s]);
            slot[s] = malloc(n);
            if (!slot[s]) return 13;
            memset(slot[s], 1, n < 256 ? n : 256);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int s = 0; s < SLOTS; s++) free(slot[s]);
    if (timer_errors) return 14;
    char buf[96];
    snprintf(buf, sizeof buf, "timer: %ld operations, %d forks from the handler\n", i, (int)timer_forks);
    say(buf);
    return 0;
}

/* ---- the parent: run a case in a fresh process, with a timeout ---- */

static void run_case(const char *profile, const char *name) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);   /* its own group: a hang is killed with everything it forked */
        setenv("HAKMEM_PROFILE", profile, 1);
        unsetenv("HAKMEM_ON_ERROR");
        execl("/proc/self/exe", "test_fork_signal", "--run", name, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    for (int waited_ms = 0;; waited_ms += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        assert_true(r == 0);
        if (waited_ms >= CASE_TIMEOUT_S * 1000) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("%s/%s: no exit after %d s: a fork inside fork deadlocked", profile, name, CASE_TIMEOUT_S);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s/%s: runner ended with status 0x%x", profile, name, st);
}

static void run_all(const char *name) {
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) run_case(profiles[i], name);
}

static void test_fork_in_handler_inside_fork(void **s) { (void)s; run_all("nested"); }
static void test_fork_in_handler_inside_fork_threads(void **s) { (void)s; run_all("nested_threads"); }
static void test_fork_from_timer_signals(void **s) { (void)s; run_all("timer"); }

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--run")) {
        if (!strcmp(argv[2], "nested")) return run_nested(0);
        if (!strcmp(argv[2], "nested_threads")) return run_nested(1);
        if (!strcmp(argv[2], "timer")) return run_timer();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_in_handler_inside_fork),
        cmocka_unit_test(test_fork_in_handler_inside_fork_threads),
        cmocka_unit_test(test_fork_from_timer_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

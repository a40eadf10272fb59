/* shim.c — hakmem's stand-in for the parts of glibc's support/ library that
 * glibc's malloc tests use (the headers under tests/glibc/shim/support), plus a check
 * that the process really runs on hakmem.
 *
 * Linked into every glibc test that scripts/glibc_tests.sh builds. Our own
 * code: it follows the documented behaviour of glibc's test driver (run
 * do_test in a child process under a timeout; 0 pass, 1 fail, 77
 * unsupported; EXPECTED_SIGNAL / EXPECTED_STATUS; failures recorded with
 * support_record_failure also in children turn a pass into a fail), not its
 * source.
 *
 * The preload check: a constructor looks up hak_owns with dlsym and asks it
 * whether a fresh malloc(1) block is hakmem's. When it is not (the
 * LD_PRELOAD did not take, or another allocator came first), the process
 * writes "glibc-shim: malloc is not hakmem's" and exits with status
 * SHIM_EXIT_NOT_HAKMEM (99) before the test starts. GLIBC_SHIM_ALLOW_GLIBC=1
 * turns the check off (to run the tests on glibc's own malloc, as a
 * reference).
 *
 * Timeouts: TIMEOUT (or 20 s) times $TIMEOUTFACTOR, as glibc's driver, but
 * at most $GLIBC_SHIM_TIMEOUT_MAX seconds when that is set (the runner caps
 * a hung test's cost with it). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <support/check.h>
#include <support/support.h>
#include <support/temp_file.h>
#include <support/test-driver.h>
#include <support/xsignal.h>
#include <support/xthread.h>
#include <support/xunistd.h>

#define SHIM_EXIT_NOT_HAKMEM 99

const char *test_dir = "/tmp";
unsigned int test_verbose;

/* ------------------------------------------------------------ preload check */

static void shim_write_str(int fd, const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

__attribute__((constructor)) static void shim_check_preload(void) {
    const char *allow = getenv("GLIBC_SHIM_ALLOW_GLIBC");
    if (allow && allow[0] == '1') return;
    int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    void *p = malloc(1);
    int ok = owns != NULL && p != NULL && owns(p);
    free(p);
    if (!ok) {
        shim_write_str(2, owns ? "glibc-shim: malloc is not hakmem's (hak_owns(malloc(1)) is 0)\n"
                               : "glibc-shim: malloc is not hakmem's (no hak_owns: libhakmem.so not loaded)\n");
        _exit(SHIM_EXIT_NOT_HAKMEM);
    }
}

/* ------------------------------------------------------------ failures */

struct shim_failures {
    unsigned failed;
    unsigned count;
};

/* In a MAP_SHARED page so that a child's failures reach the parent. */
static struct shim_failures *failures;

__attribute__((constructor)) static void shim_failures_init(void) {
    void *m = mmap(NULL, sizeof *failures, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        shim_write_str(1, "error: glibc-shim: cannot map the failure record\n");
        _exit(1);
    }
    failures = m;
}

void support_record_failure(void) {
    __atomic_store_n(&failures->failed, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&failures->count, 1, __ATOMIC_RELEASE);
}

int shim_failure_recorded(void) {
    return __atomic_load_n(&failures->failed, __ATOMIC_ACQUIRE) != 0;
}

/* The exit status after recorded failures: a pass (or unsupported) with a
 * recorded failure is a fail. */
static int shim_final_status(int status) {
    if (!shim_failure_recorded()) return status;
    printf("error: %u recorded test failure(s)\n",
           __atomic_load_n(&failures->count, __ATOMIC_ACQUIRE));
    return (status == 0 || status == EXIT_UNSUPPORTED) ? 1 : status;
}

void shim_fail(const char *file, int line, int exit_status, const char *fmt, ...) {
    int saved = errno;
    fflush(stdout);
    printf("%s: %s:%d: ", exit_status == EXIT_UNSUPPORTED ? "warning" : "error", file, line);
    va_list ap;
    va_start(ap, fmt);
    errno = saved;   /* for %m */
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (exit_status == EXIT_UNSUPPORTED) exit(EXIT_UNSUPPORTED);
    support_record_failure();
    if (exit_status >= 0) exit(exit_status);
}

void shim_verify_failed(const char *file, int line, const char *expr, int do_exit) {
    int saved = errno;
    fflush(stdout);
    printf("error: %s:%d: not true: %s (errno %d: %s)\n", file, line, expr, saved, strerror(saved));
    fflush(stdout);
    support_record_failure();
    if (do_exit) exit(1);
}

static void shim_print_value(const char *expr, int neg, uintmax_t v) {
    if (neg)
        printf("  %s: %jd\n", expr, (intmax_t)v);
    else
        printf("  %s: %ju (0x%jx)\n", expr, v, v);
}

void shim_compare_failed(const char *file, int line,
                         const char *lexpr, int lneg, uintmax_t lval,
                         const char *rexpr, int rneg, uintmax_t rval) {
    fflush(stdout);
    printf("error: %s:%d: values differ: %s != %s\n", file, line, lexpr, rexpr);
    shim_print_value("left ", lneg, lval);
    shim_print_value("right", rneg, rval);
    fflush(stdout);
    support_record_failure();
}

/* ------------------------------------------------------------ x-functions */

static void shim_die_errno(const char *what) {
    int e = errno;
    fflush(stdout);
    printf("error: %s: %s\n", what, strerror(e));
    fflush(stdout);
    exit(1);
}

static void shim_die_err(const char *what, int err) {
    errno = err;
    shim_die_errno(what);
}

void *xmalloc(size_t size) {
    void *p = malloc(size);
    if (p == NULL && size != 0) {
        printf("error: xmalloc(%zu): %s\n", size, strerror(errno));
        exit(1);
    }
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (p == NULL && n != 0 && size != 0) {
        printf("error: xcalloc(%zu, %zu): %s\n", n, size, strerror(errno));
        exit(1);
    }
    return p;
}

void write_message(const char *message) {
    int saved = errno;
    shim_write_str(1, message);
    errno = saved;
}

/* The mapping's length is kept in front of the memory handed out (which
 * starts SHIM_SHARED_OFF bytes into the mapping), for support_shared_free. */
struct shim_shared_header {
    size_t length;
};
#define SHIM_SHARED_OFF 64u

void *support_shared_allocate(size_t size) {
    size_t length = size + SHIM_SHARED_OFF;
    if (length < size) shim_die_err("support_shared_allocate", ENOMEM);
    void *m = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) shim_die_errno("support_shared_allocate: mmap");
    ((struct shim_shared_header *)m)->length = length;
    return (char *)m + SHIM_SHARED_OFF;
}

void support_shared_free(void *p) {
    if (p == NULL) return;
    char *m = (char *)p - SHIM_SHARED_OFF;
    if (munmap(m, ((struct shim_shared_header *)(void *)m)->length) != 0)
        shim_die_errno("support_shared_free: munmap");
}

pthread_t xpthread_create(const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    pthread_t t;
    int e = pthread_create(&t, attr, fn, arg);
    if (e != 0) shim_die_err("pthread_create", e);
    return t;
}

void *xpthread_join(pthread_t thread) {
    void *ret;
    int e = pthread_join(thread, &ret);
    if (e != 0) shim_die_err("pthread_join", e);
    return ret;
}

void xpthread_kill(pthread_t thread, int sig) {
    int e = pthread_kill(thread, sig);
    if (e != 0) shim_die_err("pthread_kill", e);
}

void xpthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr, unsigned count) {
    int e = pthread_barrier_init(b, attr, count);
    if (e != 0) shim_die_err("pthread_barrier_init", e);
}

int xpthread_barrier_wait(pthread_barrier_t *b) {
    int e = pthread_barrier_wait(b);
    if (e == PTHREAD_BARRIER_SERIAL_THREAD) return 1;
    if (e != 0) shim_die_err("pthread_barrier_wait", e);
    return 0;
}

void xpthread_barrier_destroy(pthread_barrier_t *b) {
    int e = pthread_barrier_destroy(b);
    if (e != 0) shim_die_err("pthread_barrier_destroy", e);
}

void xpthread_barrierattr_init(pthread_barrierattr_t *attr) {
    int e = pthread_barrierattr_init(attr);
    if (e != 0) shim_die_err("pthread_barrierattr_init", e);
}

void xpthread_barrierattr_setpshared(pthread_barrierattr_t *attr, int pshared) {
    int e = pthread_barrierattr_setpshared(attr, pshared);
    if (e != 0) shim_die_err("pthread_barrierattr_setpshared", e);
}

void xpthread_barrierattr_destroy(pthread_barrierattr_t *attr) {
    int e = pthread_barrierattr_destroy(attr);
    if (e != 0) shim_die_err("pthread_barrierattr_destroy", e);
}

pid_t xfork(void) {
    pid_t pid = fork();
    if (pid < 0) shim_die_errno("fork");
    return pid;
}

int xopen(const char *path, int flags, mode_t mode) {
    int fd = open(path, flags, mode);
    if (fd < 0) {
        printf("error: open(\"%s\", 0x%x, 0%o): %s\n", path, (unsigned)flags, (unsigned)mode,
               strerror(errno));
        exit(1);
    }
    return fd;
}

void *xmmap(void *addr, size_t length, int prot, int flags, int fd) {
    void *m = mmap(addr, length, prot, flags, fd, 0);
    if (m == MAP_FAILED) {
        printf("error: mmap(%p, %zu, 0x%x, 0x%x, %d): %s\n", addr, length,
               (unsigned)prot, (unsigned)flags, fd, strerror(errno));
        exit(1);
    }
    return m;
}

long xsysconf(int name) {
    errno = 0;
    long v = sysconf(name);
    if (v == -1) {
        if (errno == 0) errno = EINVAL;
        shim_die_errno("sysconf");
    }
    return v;
}

sighandler_t xsignal(int sig, sighandler_t handler) {
    sighandler_t old = signal(sig, handler);
    if (old == SIG_ERR) shim_die_errno("signal");
    return old;
}

/* ------------------------------------------------------------ temp files */

struct shim_temp {
    struct shim_temp *next;
    pid_t owner;
    char *name;
};
static struct shim_temp *temps;

static void shim_remove_temps(void) {
    for (struct shim_temp *t = temps; t; t = t->next)
        if (t->owner == getpid()) unlink(t->name);
}

int create_temp_file(const char *base, char **filename) {
    size_t len = strlen(test_dir) + 1 + strlen(base) + sizeof "-XXXXXX";
    char *name = malloc(len);
    if (name == NULL) return -1;
    snprintf(name, len, "%s/%s-XXXXXX", test_dir, base);
    int fd = mkstemp(name);
    if (fd < 0) {
        printf("error: mkstemp(\"%s\"): %s\n", name, strerror(errno));
        free(name);
        return -1;
    }
    if (filename == NULL) {
        unlink(name);
        free(name);
        return fd;
    }
    struct shim_temp *t = malloc(sizeof *t);
    char *copy = strdup(name);
    if (t == NULL || copy == NULL) {
        unlink(name);
        close(fd);
        free(name);
        free(t);
        free(copy);
        return -1;
    }
    if (temps == NULL) atexit(shim_remove_temps);
    t->owner = getpid();
    t->name = copy;
    t->next = temps;
    temps = t;
    *filename = name;
    return fd;
}

/* ------------------------------------------------------------ the driver */

static pid_t test_pid;
static unsigned timeout_seconds;
static void (*cleanup)(void);

static int shim_run(int argc, char **argv, const struct shim_test_config *c) {
    if (c->test_function) return c->test_function();
    if (c->test_function_argv) return c->test_function_argv(argc, argv);
    printf("error: glibc-shim: no test function\n");
    return 1;
}

/* SIGALRM: the test ran out of time (SIGINT, SIGTERM: we are told to stop).
 * Kill the test's process group, report, exit 1. */
static void shim_timeout(int sig) {
    kill(-test_pid, SIGKILL);
    kill(test_pid, SIGKILL);
    int status = 0;
    for (int i = 0; i < 50; i++) {
        if (waitpid(test_pid, &status, WNOHANG) != 0) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (cleanup) cleanup();
    char msg[128];
    int n = snprintf(msg, sizeof msg, "error: %s after %u s: killed the test process %ld\n",
                     sig == SIGALRM ? "timed out" : "interrupted", timeout_seconds, (long)test_pid);
    if (n > 0) shim_write_str(1, msg);
    _exit(1);
}

int shim_test_main(int argc, char **argv, const struct shim_test_config *c) {
    int direct = 0;
    int argi = 1;
    for (; argi < argc; argi++) {
        if (strcmp(argv[argi], "--direct") == 0) direct = 1;
        else if (strcmp(argv[argi], "-v") == 0 || strcmp(argv[argi], "--verbose") == 0) test_verbose++;
        else break;
    }
    argv[argi - 1] = argv[0];
    argv += argi - 1;
    argc -= argi - 1;

    if (!c->no_mallopt) mallopt(M_PERTURB, 42);
    if (!c->no_setvbuf) setvbuf(stdout, NULL, _IONBF, 0);

    const char *tmp = getenv("TMPDIR");
    if (tmp && tmp[0]) test_dir = tmp;

    unsigned factor = 1;
    const char *tf = getenv("TIMEOUTFACTOR");
    if (tf && tf[0]) {
        char *end;
        unsigned long v = strtoul(tf, &end, 10);
        if (*end == '\0' && v >= 1 && v < 1000) factor = (unsigned)v;
    }
    timeout_seconds = (unsigned)(c->timeout > 0 ? c->timeout : DEFAULT_TIMEOUT) * factor;
    const char *cap = getenv("GLIBC_SHIM_TIMEOUT_MAX");
    if (cap && cap[0]) {
        char *end;
        unsigned long v = strtoul(cap, &end, 10);
        if (*end == '\0' && v >= 1 && v < timeout_seconds) timeout_seconds = (unsigned)v;
    }
    cleanup = c->cleanup_function;

    if (c->prepare_function) c->prepare_function(argc, argv);

    if (direct) return shim_final_status(shim_run(argc, argv, c));

    fflush(NULL);
    test_pid = fork();
    if (test_pid < 0) shim_die_errno("fork (the test process)");
    if (test_pid == 0) {
        const char *core = getenv("TEST_COREDUMPS");
        if (!core || !core[0]) {
            struct rlimit no_core = {0, 0};
            setrlimit(RLIMIT_CORE, &no_core);
        }
        if (setpgid(0, 0) != 0) printf("warning: setpgid: %s\n", strerror(errno));
        exit(shim_run(argc, argv, c));
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = shim_timeout;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    alarm(timeout_seconds);

    int status;
    pid_t got;
    do got = waitpid(test_pid, &status, 0);
    while (got < 0 && errno == EINTR);
    alarm(0);
    if (got != test_pid) shim_die_errno("waitpid (the test process)");

    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (c->expected_signal) {
            printf("error: expected the test to be killed by signal %d (%s); it exited with %d\n",
                   c->expected_signal, strsignal(c->expected_signal), code);
            return 1;
        }
        if (c->expected_status) {
            if (code != c->expected_status) {
                printf("error: expected exit status %d, got %d\n", c->expected_status, code);
                return 1;
            }
            return shim_final_status(0);
        }
        return shim_final_status(code);
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (c->expected_signal == 0) {
        printf("error: the test was killed by signal %d (%s)\n", sig, strsignal(sig));
        return 1;
    }
    if (sig != c->expected_signal) {
        printf("error: the test was killed by signal %d (%s), expected %d (%s)\n",
               sig, strsignal(sig), c->expected_signal, strsignal(c->expected_signal));
        return 1;
    }
    printf("info: killed by signal %d (%s), as expected\n", sig, strsignal(sig));
    return shim_final_status(0);
}

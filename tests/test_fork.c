/* test_fork.c — fork() while other threads allocate and free leaves a child
 * that can allocate (every tier), free, create a thread, and exit normally;
 * the parent goes on allocating too. Repeated many times, from the main
 * thread and from a worker thread, with a grandchild as well.
 *
 * A child that deadlocks (a lock held by another thread at fork time) is
 * killed after a timeout and reported.
 */
#include "test_common.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

TC_DEFINE_SINK;

#define WORKERS 4
#define CHILD_TIMEOUT_MS 30000

static atomic_int stop_workers;
/* Set while the parent waits for a child: the workers idle so the child gets
 * the CPU (they were busy when fork() was called, which is what matters). */
static atomic_int pause_workers;
static atomic_long worker_ops;
static atomic_int worker_failures;

/* The pattern covers the first and last 64 bytes (cheap for big blocks). */
static void mark(void *p, size_t n)
{
    size_t h = n < 128 ? n / 2 : 64;
    fill_pattern(p, h, tc_seed(p, n));
    fill_pattern_range(p, n - h, n, tc_seed(p, n) ^ 1);
}

static int marked(const void *p, size_t n)
{
    size_t h = n < 128 ? n / 2 : 64;
    return check_pattern(p, h, tc_seed(p, n)) == (size_t)-1 &&
           check_pattern_range(p, n - h, n, tc_seed(p, n) ^ 1) == (size_t)-1;
}

/* Workers: allocate, mark, check, free, realloc, all the time. Worker 1
 * works the slow paths (large runs, huge mappings and their cache, where the
 * allocator's locks are), the others mostly tiny and small blocks. */
static void *worker(void *a)
{
    const int id = (int)(uintptr_t)a;
    tc_rng r = { (uint64_t)id * 0x9E3779B97F4A7C15ULL + 1 };
    enum { SLOTS = 256 };
    void *p[SLOTS] = { 0 };
    size_t n[SLOTS] = { 0 };
    const int slots = id == 1 ? 16 : SLOTS;
    while (!atomic_load(&stop_workers)) {
        if (atomic_load(&pause_workers)) {
            struct timespec ts = { 0, 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        int s = (int)tc_below(&r, (uint64_t)slots);
        if (p[s]) {
            if (!marked(p[s], n[s]))
                atomic_fetch_add(&worker_failures, 1);
            if (tc_below(&r, 4) == 0) {
                size_t m = id == 1 ? 64 * KiB + tc_below(&r, 4 * MiB) : 1 + tc_below(&r, 4096);
                void *q = realloc(p[s], m);
                if (!q) {
                    atomic_fetch_add(&worker_failures, 1);
                    continue;
                }
                p[s] = q;
                n[s] = m;
                mark(q, m);
                continue;
            }
            free(p[s]);
            p[s] = NULL;
        } else {
            uint64_t k = tc_below(&r, 1000);
            size_t m;
            if (id == 1)
                m = k < 500 ? 32 * KiB + tc_below(&r, MiB) : MiB + tc_below(&r, 3 * MiB);
            else
                m = k < 900 ? 1 + tc_below(&r, 1024)
                  : k < 990 ? 1025 + tc_below(&r, 64 * 1024)
                  : k < 998 ? 100000 + tc_below(&r, 900000)
                            : 2 * MiB + tc_below(&r, 2 * MiB);
            void *q = (k & 1) ? malloc(m) : (k & 2) ? calloc(1, m) : aligned_alloc(4096, m);
            if (!q) {
                atomic_fetch_add(&worker_failures, 1);
                continue;
            }
            mark(q, m);
            p[s] = q;
            n[s] = m;
        }
        atomic_fetch_add(&worker_ops, 1);
    }
    for (int s = 0; s < SLOTS; s++)
        free(p[s]);
    return NULL;
}

/* ---- what the child does (no cmocka in the child: exit codes only) ---- */

static void *child_thread(void *a)
{
    (void)a;
    for (int i = 0; i < 2000; i++) {
        size_t m = 1 + (size_t)i * 37 % 5000;
        void *q = malloc(m);
        if (!q || !hak_owns(q))
            return (void *)1;
        fill_pattern(q, m, tc_seed(q, m));
        if (check_pattern(q, m, tc_seed(q, m)) != (size_t)-1)
            return (void *)1;
        free(q);
    }
    return NULL;
}

/* Returns 0 on success, else a code saying what failed. */
static int child_work(int depth)
{
    static const size_t sizes[] = { 1, 16, 100, 1024, 5000, 32768, 100000, 1048576,
                                    1048577, 3 * 1048576 };
    void *v[10];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 10; i++) {
            v[i] = malloc(sizes[i]);
            if (!v[i] || !hak_owns(v[i]))
                return 10;
            fill_pattern(v[i], sizes[i], tc_seed(v[i], sizes[i]));
        }
        for (int i = 0; i < 10; i++) {
            if (check_pattern(v[i], sizes[i], tc_seed(v[i], sizes[i])) != (size_t)-1)
                return 11;
            void *q = realloc(v[i], sizes[i] * 2 + 1);
            if (!q || check_pattern(q, sizes[i], tc_seed(v[i], sizes[i])) != (size_t)-1)
                return 12;
            free(q);
        }
        void *c = calloc(1000, 1000);
        if (!c || first_nonzero(c, 1000000) != (size_t)-1)
            return 13;
        free(c);
        void *al = NULL;
        if (posix_memalign(&al, 65536, 1000) != 0 || ((uintptr_t)al & 65535))
            return 14;
        free(al);
    }
    /* many small blocks: refills from the backend in the child */
    enum { M = 20000 };
    void **many = malloc(M * sizeof *many);
    if (!many)
        return 15;
    for (int i = 0; i < M; i++) {
        many[i] = malloc(8 + i % 500);
        if (!many[i])
            return 15;
        memset(many[i], i & 0xFF, 8);
    }
    for (int i = 0; i < M; i++)
        free(many[i]);
    free(many);
    /* a thread in the child */
    pthread_t th;
    void *ret = (void *)1;
    if (pthread_create(&th, NULL, child_thread, NULL) != 0)
        return 16;
    if (pthread_join(th, &ret) != 0 || ret != NULL)
        return 17;
    /* a grandchild */
    if (depth == 0) {
        fflush(NULL);
        pid_t g = fork();
        if (g < 0)
            return 18;
        if (g == 0)
            exit(child_work(1));
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 19;
    }
    return 0;
}

/* Wait for pid with a timeout; describe the outcome in msg, return 1 if the
 * child exited with status 0. */
static int wait_child(pid_t pid, char *msg, size_t cap)
{
    int st = 0;
    for (int waited = 0; waited < CHILD_TIMEOUT_MS; waited += 5) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 1;
            if (WIFEXITED(st))
                snprintf(msg, cap, "child exited with status %d", WEXITSTATUS(st));
            else if (WIFSIGNALED(st))
                snprintf(msg, cap, "child killed by signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
            else
                snprintf(msg, cap, "child ended oddly, status 0x%x", st);
            return 0;
        }
        if (w < 0) {
            snprintf(msg, cap, "waitpid failed: %s", strerror(errno));
            return 0;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    snprintf(msg, cap, "child still running after %d ms (deadlocked?), killed",
             CHILD_TIMEOUT_MS);
    return 0;
}

static void start_workers(pthread_t *th)
{
    atomic_store(&stop_workers, 0);
    atomic_store(&pause_workers, 0);
    atomic_store(&worker_failures, 0);
    atomic_store(&worker_ops, 0);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    /* let them get going */
    while (atomic_load(&worker_ops) < 20000)
        sched_yield();
}

static void stop_all(pthread_t *th)
{
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&worker_failures), 0);
}

/* The parent's own blocks survive, and it can go on allocating. */
static void parent_check(void)
{
    for (int i = 0; i < 200; i++) {
        size_t m = 1 + (size_t)i * 97;
        void *q = malloc(m);
        assert_owned(q);
        fill_pattern(q, m, 3);
        assert_pattern(q, m, 3);
        free(q);
    }
}

static void test_fork_from_main(void **state)
{
    (void)state;
    pthread_t th[WORKERS];
    start_workers(th);
    void *mine = malloc(5000);
    assert_owned(mine);
    fill_pattern(mine, 5000, 17);
    for (int i = 0; i < 16; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
            /* the parent's block is intact in the child, and can be freed */
            if (check_pattern(mine, 5000, 17) != (size_t)-1)
                exit(2);
            free(mine);
            exit(child_work(0));
        }
        atomic_store(&pause_workers, 1);
        char msg[200];
        int ok = wait_child(pid, msg, sizeof msg);
        atomic_store(&pause_workers, 0);
        if (!ok) {
            atomic_store(&stop_workers, 1);
            fail_msg("fork %d from the main thread: %s", i, msg);
        }
        parent_check();
        /* give the workers time to be in the middle of something again */
        long target = atomic_load(&worker_ops) + 3000;
        while (atomic_load(&worker_ops) < target)
            sched_yield();
    }
    assert_pattern(mine, 5000, 17);
    free(mine);
    stop_all(th);
}

struct forker_result {
    int ok;
    char msg[200];
};

static void *forker_thread(void *a)
{
    struct forker_result *res = a;
    res->ok = 1;
    for (int i = 0; i < 10 && res->ok; i++) {
        void *p = malloc(300);
        if (!p)
            exit(99);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            res->ok = 0;
            snprintf(res->msg, sizeof res->msg, "fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            free(p); /* a block of the forking thread, freed in the child */
            exit(child_work(0));
        }
        free(p);
        atomic_store(&pause_workers, 1);
        char msg[160];
        if (!wait_child(pid, msg, sizeof msg)) {
            res->ok = 0;
            snprintf(res->msg, sizeof res->msg, "fork %d from a worker thread: %s", i, msg);
        }
        atomic_store(&pause_workers, 0);
        /* the workers are busy again before the next fork */
        long target = atomic_load(&worker_ops) + 3000;
        while (res->ok && atomic_load(&worker_ops) < target)
            sched_yield();
    }
    return NULL;
}

static void test_fork_from_thread(void **state)
{
    (void)state;
    pthread_t th[WORKERS], f;
    start_workers(th);
    struct forker_result res = { 0, "" };
    assert_int_equal(pthread_create(&f, NULL, forker_thread, &res), 0);
    assert_int_equal(pthread_join(f, NULL), 0);
    if (!res.ok) {
        atomic_store(&stop_workers, 1);
        fail_msg("%s", res.msg);
    }
    parent_check();
    stop_all(th);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_from_main),
        cmocka_unit_test(test_fork_from_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

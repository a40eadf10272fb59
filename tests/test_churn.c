/* test_churn.c — a program that forever starts and joins threads, each one
 * leaving blocks for later threads to free, keeps a flat RSS.
 *
 * Thousands of thread generations run, a few alive at a time. Each thread
 * frees the blocks an earlier thread left in a shared pool (verifying their
 * contents), allocates as many new ones across many size classes for a later
 * thread, churns a few locally (so it exits with a full thread cache), and
 * exits. A thread's exit must flush its caches and abandon its slabs for
 * others to adopt; otherwise memory grows with every generation. The RSS
 * after all generations must stay within a small bound of the RSS after the
 * first quarter.
 */
#include "test_common.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

TC_DEFINE_SINK;

#define ALIVE 4          /* threads alive at a time */
#define PER_THREAD 400   /* blocks each thread leaves in the pool */
#define POOL_CAP (PER_THREAD * (ALIVE + 2))

struct item {
    void *p;
    size_t n;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct item pool[POOL_CAP];
static size_t pool_head, pool_count;

static atomic_int failures;
static char first_failure[256];

static void thread_fail(const char *what, void *p, size_t n, size_t off)
{
    if (atomic_fetch_add(&failures, 1) == 0)
        snprintf(first_failure, sizeof first_failure, "%s: block %p of %zu bytes, offset %zu",
                 what, p, n, off);
}

/* Sizes across many classes: tiny, small, and a few large. */
static size_t churn_size(uint64_t x)
{
    uint64_t k = x % 100;
    if (k < 70)
        return 8 + (x >> 8) % 1017;          /* tiny */
    if (k < 95)
        return 1025 + (x >> 8) % (31 * 1024); /* small */
    if (k < 99)
        return 32 * 1024 + (x >> 8) % (200 * 1024); /* large */
    return 300 * 1024 + (x >> 8) % (600 * 1024);
}

static void *churn_thread(void *a)
{
    uint64_t gen = (uint64_t)(uintptr_t)a;
    tc_rng r = { tc_mix64(gen + 1) | 1 };
    struct item mine[PER_THREAD];

    /* allocate the blocks this thread will leave behind */
    for (int i = 0; i < PER_THREAD; i++) {
        size_t n = churn_size(tc_next(&r));
        void *p = malloc(n);
        if (!p || !hak_owns(p)) {
            thread_fail("malloc returned NULL or a foreign block", p, n, 0);
            return NULL;
        }
        /* the pattern on the first and last 64 bytes keeps this cheap */
        size_t h = n < 128 ? n / 2 : 64;
        fill_pattern(p, h, tc_seed(p, n));
        fill_pattern_range(p, n - h, n, tc_seed(p, n) ^ 1);
        mine[i] = (struct item){ p, n };
    }
    /* local churn: leaves this thread's cache holding freed blocks */
    void *loc[256];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 256; i++) {
            loc[i] = malloc(churn_size(tc_next(&r)) % 2048 + 1);
            if (!loc[i]) {
                thread_fail("local malloc returned NULL", NULL, 0, 0);
                return NULL;
            }
            *(volatile char *)loc[i] = 1;
        }
        for (int i = 0; i < 256; i++)
            free(loc[i]);
    }
    /* take what earlier threads left, put ours in */
    struct item old[PER_THREAD];
    int nold = 0;
    pthread_mutex_lock(&pool_lock);
    while (nold < PER_THREAD && pool_count) {
        old[nold++] = pool[pool_head];
        pool_head = (pool_head + 1) % POOL_CAP;
        pool_count--;
    }
    for (int i = 0; i < PER_THREAD && pool_count < POOL_CAP; i++) {
        pool[(pool_head + pool_count) % POOL_CAP] = mine[i];
        pool_count++;
    }
    pthread_mutex_unlock(&pool_lock);
    /* free the earlier threads' blocks (their owners are gone or going) */
    for (int i = 0; i < nold; i++) {
        void *p = old[i].p;
        size_t n = old[i].n, h = n < 128 ? n / 2 : 64;
        size_t bad = check_pattern(p, h, tc_seed(p, n));
        if (bad == (size_t)-1)
            bad = check_pattern_range(p, n - h, n, tc_seed(p, n) ^ 1);
        if (bad != (size_t)-1)
            thread_fail("block left by an earlier thread was corrupted", p, n, bad);
        free(p);
    }
    return NULL;
}

static void run_generations(int from, int to, pthread_t *th, int *started)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int g = from; g < to; g++) {
        int s = g % ALIVE;
        if (started[s]) {
            assert_int_equal(pthread_join(th[s], NULL), 0);
            started[s] = 0;
        }
        int rc = pthread_create(&th[s], &attr, churn_thread, (void *)(uintptr_t)g);
        if (rc != 0)
            fail_msg("pthread_create failed at generation %d: %s", g, strerror(rc));
        started[s] = 1;
    }
    pthread_attr_destroy(&attr);
}

static void join_all(pthread_t *th, int *started)
{
    for (int s = 0; s < ALIVE; s++)
        if (started[s]) {
            assert_int_equal(pthread_join(th[s], NULL), 0);
            started[s] = 0;
        }
}

static void test_thread_churn_flat_rss(void **state)
{
    (void)state;
    enum { GENERATIONS = 4000 };
    pthread_t th[ALIVE];
    int started[ALIVE] = { 0 };
    size_t rss0 = rss_bytes();
    size_t rss[9];
    rss[0] = rss0;
    for (int part = 1; part <= 8; part++) {
        run_generations((part - 1) * GENERATIONS / 8, part * GENERATIONS / 8, th, started);
        join_all(th, started);
        /* What the release policy may keep for reuse (SPEED: up to
         * HAKMEM_RETAIN_MB of freed spans) is not growth: give it back
         * first, so the samples show what the churn pins. */
        malloc_trim(0);
        rss[part] = rss_bytes();
        if (atomic_load(&failures))
            fail_msg("%s", first_failure);
    }
    print_message("RSS (KiB) every %d generations:", GENERATIONS / 8);
    for (int i = 0; i <= 8; i++)
        print_message(" %zu", rss[i] / 1024);
    print_message("\n");
    /* Flat: the second half never goes more than 8 MiB plus 10% above the
     * highest point of the first half.  (The resident set swings between
     * samples with the last threads' caches and pool, so one early sample is
     * no baseline; a leak grows without bound and crosses this.) */
    size_t first = 0, peak = 0;
    for (int i = 1; i <= 4; i++)
        if (rss[i] > first)
            first = rss[i];
    size_t bound = first + first / 10 + 8 * MiB;
    for (int i = 5; i <= 8; i++)
        if (rss[i] > peak)
            peak = rss[i];
    if (peak > bound)
        fail_msg("RSS not flat under thread churn: %zu KiB at most in the first %d generations, %zu KiB "
                 "at most in the next %d (bound %zu KiB)",
                 first / 1024, GENERATIONS / 2, peak / 1024, GENERATIONS / 2, bound / 1024);
    /* the pool still holds the last threads' blocks: free them here */
    pthread_mutex_lock(&pool_lock);
    while (pool_count) {
        free(pool[pool_head].p);
        pool_head = (pool_head + 1) % POOL_CAP;
        pool_count--;
    }
    pthread_mutex_unlock(&pool_lock);
}

/* Threads that exit holding all their blocks; the main thread frees them.
 * Memory comes back: many rounds do not grow the resident set. */
struct hold_arg {
    void **v;
    size_t *n;
    int count;
    uint64_t seed;
};

static void *holder_thread(void *a)
{
    struct hold_arg *h = a;
    tc_rng r = { h->seed | 1 };
    for (int i = 0; i < h->count; i++) {
        h->n[i] = churn_size(tc_next(&r));
        h->v[i] = malloc(h->n[i]);
        if (!h->v[i])
            return (void *)1;
        memset(h->v[i], 0x5A, h->n[i] < 256 ? h->n[i] : 256);
    }
    return NULL;
}

static void test_exit_holding_blocks(void **state)
{
    (void)state;
    enum { COUNT = 3000, ROUNDS = 400 };
    void **v = malloc(COUNT * sizeof *v);
    size_t *n = malloc(COUNT * sizeof *n);
    assert_non_null(v);
    assert_non_null(n);
    size_t rss_q = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct hold_arg h = { v, n, COUNT, (uint64_t)round * 7777 };
        pthread_t th;
        void *ret;
        assert_int_equal(pthread_create(&th, NULL, holder_thread, &h), 0);
        assert_int_equal(pthread_join(th, &ret), 0);
        assert_null(ret);
        for (int i = 0; i < COUNT; i++) {
            assert_owned(v[i]);
            unsigned char *b = v[i];
            size_t m = n[i] < 256 ? n[i] : 256;
            for (size_t k = 0; k < m; k++)
                if (b[k] != 0x5A)
                    fail_msg("block of a dead thread changed at %zu", k);
            free(v[i]);
        }
        if (round == ROUNDS / 4)
            rss_q = rss_bytes();
    }
    size_t rss_end = rss_bytes();
    print_message("exit-holding: RSS %zu KiB after %d rounds, %zu KiB after %d\n",
                  rss_q / 1024, ROUNDS / 4, rss_end / 1024, ROUNDS);
    if (rss_end > rss_q + rss_q / 10 + 8 * MiB)
        fail_msg("RSS grew from %zu KiB to %zu KiB over %d rounds of threads exiting with "
                 "live blocks freed elsewhere", rss_q / 1024, rss_end / 1024, ROUNDS * 3 / 4);
    free(v);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_churn_flat_rss),
        cmocka_unit_test(test_exit_holding_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

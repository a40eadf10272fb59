/* test_threads.c — multi-thread stress with cross-thread frees.
 *
 * Threads allocate blocks of mixed sizes (tiny to huge; malloc, calloc,
 * realloc, aligned), fill each with a pattern derived from its address and
 * size, pass many of them through shared queues to other threads, and verify
 * the pattern before every free and after every realloc. Any corruption —
 * a block handed out twice, a free list damaged by a remote free, a realloc
 * that loses data — shows up as a pattern mismatch.
 */
#include "test_common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

TC_DEFINE_SINK;

#define NTHREADS 8
#define WS 1024        /* live slots per thread */
#define QCAP 4096      /* queue capacity */

static atomic_int failures;
static char first_failure[512];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

/* Record a failure from a worker thread (cmocka's asserts are for the main
 * thread); the main thread fails the test with the first message. */
static void thread_fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&fail_lock);
    if (atomic_fetch_add(&failures, 1) == 0)
        memcpy(first_failure, buf, sizeof buf);
    pthread_mutex_unlock(&fail_lock);
    fprintf(stderr, "thread failure: %s\n", buf);
}

static void check_failures(void)
{
    if (atomic_load(&failures))
        fail_msg("%d failure(s) in worker threads; first: %s", atomic_load(&failures),
                 first_failure);
}

#include "handoff_queue.h"

static struct queue queues[NTHREADS];

static void queues_init(void)
{
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
        queues[i].head = queues[i].count = 0;
    }
}

/* Size mix: mostly tiny, some small and large, a few huge. */
static size_t pick_size(tc_rng *r)
{
    uint64_t x = tc_below(r, 1000);
    if (x < 600)
        return 1 + tc_below(r, 256);
    if (x < 820)
        return 257 + tc_below(r, 768);
    if (x < 950)
        return 1025 + tc_below(r, 31 * 1024);
    if (x < 998)
        return 32 * 1024 + 1 + tc_below(r, 224 * 1024);
    if (x < 999)
        return 256 * 1024 + tc_below(r, 768 * 1024);
    return MiB + 1 + tc_below(r, 3 * MiB);
}

static int verify(const char *who, void *p, size_t n)
{
    size_t bad = check_pattern(p, n, tc_seed(p, n));
    if (bad != (size_t)-1) {
        thread_fail("%s: block %p of %zu bytes corrupted at offset %zu", who, p, n, bad);
        return 0;
    }
    return 1;
}

static int fresh(const char *how, void *p, size_t n, size_t align)
{
    if (!p) {
        thread_fail("%s(%zu) returned NULL", how, n);
        return 0;
    }
    if (!hak_owns(p)) {
        thread_fail("%s(%zu) = %p is not hakmem's", how, n, p);
        return 0;
    }
    if ((uintptr_t)p & (align - 1)) {
        thread_fail("%s(%zu) = %p is not %zu-aligned", how, n, p, align);
        return 0;
    }
    if (malloc_usable_size(p) < n) {
        thread_fail("%s(%zu): usable size %zu", how, n, malloc_usable_size(p));
        return 0;
    }
    return 1;
}

static void drain(int self, int check)
{
    struct item buf[256];
    size_t k;
    while ((k = q_pop(&queues[self], buf, 256)) > 0) {
        for (size_t i = 0; i < k; i++) {
            if (check)
                verify("remote free", buf[i].p, buf[i].n);
            free(buf[i].p);
        }
    }
}

struct stress_arg {
    int self;
    long ops;
    pthread_barrier_t *barrier;
};

static void *stress_thread(void *a)
{
    struct stress_arg *arg = a;
    const int self = arg->self;
    tc_rng r = { 0x9E3779B97F4A7C15ULL * (uint64_t)(self + 1) };
    struct item slot[WS];
    memset(slot, 0, sizeof slot);

    for (long op = 0; op < arg->ops && !atomic_load(&failures); op++) {
        if ((op & 63) == 0)
            drain(self, 1);
        struct item *s = &slot[tc_below(&r, WS)];
        uint64_t act = tc_below(&r, 100);
        if (s->p) {
            if (act < 40) { /* free here */
                if (!verify("free", s->p, s->n))
                    break;
                free(s->p);
            } else if (act < 75) { /* hand to another thread */
                int to = (self + 1 + (int)tc_below(&r, NTHREADS - 1)) % NTHREADS;
                if (!q_push(&queues[to], *s)) {
                    if (!verify("free", s->p, s->n))
                        break;
                    free(s->p);
                }
            } else if (act < 92) { /* realloc: the prefix survives */
                size_t n2 = pick_size(&r);
                uint64_t oldseed = tc_seed(s->p, s->n);
                if (!verify("realloc", s->p, s->n))
                    break;
                void *q = realloc(s->p, n2);
                if (!fresh("realloc", q, n2, n2 >= 16 ? 16 : 1))
                    break;
                size_t keep = s->n < n2 ? s->n : n2;
                size_t bad = check_pattern(q, keep, oldseed);
                if (bad != (size_t)-1) {
                    thread_fail("realloc(%zu -> %zu) lost offset %zu", s->n, n2, bad);
                    break;
                }
                fill_pattern(q, n2, tc_seed(q, n2));
                s->p = q;
                s->n = n2;
                continue;
            } else { /* just check it */
                if (!verify("check", s->p, s->n))
                    break;
                continue;
            }
            s->p = NULL;
            continue;
        }
        size_t n = pick_size(&r);
        void *p;
        if (act < 70) {
            p = malloc(n);
            if (!fresh("malloc", p, n, n >= 16 ? 16 : 1))
                break;
        } else if (act < 80) {
            p = calloc(1, n);
            if (!fresh("calloc", p, n, n >= 16 ? 16 : 1))
                break;
            size_t bad = first_nonzero(p, n);
            if (bad != (size_t)-1) {
                thread_fail("calloc(%zu) = %p: byte %zu not zero", n, p, bad);
                break;
            }
        } else if (act < 90) {
            size_t align = (size_t)16 << tc_below(&r, 9); /* 16 .. 4096 */
            if (tc_below(&r, 50) == 0)
                align = 64 * KiB;
            if (act & 1) {
                p = NULL;
                if (posix_memalign(&p, align, n) != 0)
                    p = NULL;
            } else {
                p = aligned_alloc(align, n);
            }
            if (!fresh("aligned", p, n, align))
                break;
        } else {
            p = realloc(NULL, n);
            if (!fresh("realloc(NULL)", p, n, n >= 16 ? 16 : 1))
                break;
        }
        fill_pattern(p, n, tc_seed(p, n));
        s->p = p;
        s->n = n;
    }

    /* Everyone stops sending before anyone does the final drain. */
    for (int i = 0; i < WS; i++) {
        if (slot[i].p) {
            verify("final free", slot[i].p, slot[i].n);
            free(slot[i].p);
            slot[i].p = NULL;
        }
    }
    pthread_barrier_wait(arg->barrier);
    drain(self, 1);
    return NULL;
}

static void run_stress(long ops)
{
    pthread_t th[NTHREADS];
    struct stress_arg args[NTHREADS];
    pthread_barrier_t barrier;
    queues_init();
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (struct stress_arg){ i, ops, &barrier };
        assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&barrier);
    check_failures();
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(queues[i].count, 0);
}

static void test_stress_cross_thread(void **state)
{
    (void)state;
    run_stress(120000);
}

/* Producers allocate, consumers verify and free: every block is freed by a
 * thread that did not allocate it, often after its owner has exited. */
struct pc_arg {
    int id;
    int nblocks;
    struct queue *q;
    atomic_int *producers_left;
};

static void *producer(void *a)
{
    struct pc_arg *arg = a;
    tc_rng r = { 1234567ULL + (uint64_t)arg->id * 7919 };
    for (int i = 0; i < arg->nblocks && !atomic_load(&failures); i++) {
        size_t n = tc_below(&r, 8) == 0 ? pick_size(&r) : 1 + tc_below(&r, 512);
        void *p = malloc(n);
        if (!fresh("malloc", p, n, n >= 16 ? 16 : 1))
            break;
        fill_pattern(p, n, tc_seed(p, n));
        struct item it = { p, n };
        while (!q_push(arg->q, it))
            sched_yield();
    }
    atomic_fetch_sub(arg->producers_left, 1);
    return NULL;
}

static void *consumer(void *a)
{
    struct pc_arg *arg = a;
    struct item buf[128];
    for (;;) {
        /* read before popping: once it is 0, every push has happened */
        int done = atomic_load(arg->producers_left) == 0;
        size_t k = q_pop(arg->q, buf, 128);
        for (size_t i = 0; i < k; i++) {
            verify("consumer", buf[i].p, buf[i].n);
            free(buf[i].p);
        }
        if (k == 0) {
            if (done)
                break;
            sched_yield();
        }
    }
    return NULL;
}

static void test_producer_consumer(void **state)
{
    (void)state;
    queues_init();
    enum { PAIRS = 3, ROUNDS = 4 };
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t pt[PAIRS], ct[PAIRS];
        struct pc_arg pa[PAIRS];
        atomic_int left[PAIRS];
        for (int i = 0; i < PAIRS; i++) {
            atomic_init(&left[i], 1);
            pa[i] = (struct pc_arg){ round * PAIRS + i, 60000, &queues[i], &left[i] };
            assert_int_equal(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
            assert_int_equal(pthread_create(&ct[i], NULL, consumer, &pa[i]), 0);
        }
        for (int i = 0; i < PAIRS; i++) {
            assert_int_equal(pthread_join(pt[i], NULL), 0);
            assert_int_equal(pthread_join(ct[i], NULL), 0);
        }
        check_failures();
    }
}

/* Many threads allocate, one thread frees everything. */
static atomic_int all_to_one_left;

static void *all_to_one_producer(void *a)
{
    struct pc_arg *arg = a;
    tc_rng r = { 42ULL + (uint64_t)arg->id };
    for (int i = 0; i < arg->nblocks && !atomic_load(&failures); i++) {
        size_t n = 1 + tc_below(&r, 2048);
        void *p = malloc(n);
        if (!fresh("malloc", p, n, n >= 16 ? 16 : 1))
            break;
        fill_pattern(p, n, tc_seed(p, n));
        while (!q_push(arg->q, (struct item){ p, n }))
            sched_yield();
    }
    atomic_fetch_sub(&all_to_one_left, 1);
    return NULL;
}

static void test_all_to_one(void **state)
{
    (void)state;
    queues_init();
    enum { P = 6 };
    pthread_t pt[P], ct;
    struct pc_arg pa[P];
    atomic_store(&all_to_one_left, P);
    struct pc_arg ca = { 100, 0, &queues[0], &all_to_one_left };
    for (int i = 0; i < P; i++) {
        pa[i] = (struct pc_arg){ i, 40000, &queues[0], &all_to_one_left };
        assert_int_equal(pthread_create(&pt[i], NULL, all_to_one_producer, &pa[i]), 0);
    }
    assert_int_equal(pthread_create(&ct, NULL, consumer, &ca), 0);
    for (int i = 0; i < P; i++)
        assert_int_equal(pthread_join(pt[i], NULL), 0);
    assert_int_equal(pthread_join(ct, NULL), 0);
    check_failures();
    /* and the main thread can still allocate from every class */
    for (size_t n = 1; n <= 70000; n = n * 3 / 2 + 1) {
        void *p = malloc(n);
        assert_owned(p);
        fill_pattern(p, n, 5);
        assert_pattern(p, n, 5);
        free(p);
    }
}

/* Passive false sharing (bench_false_sharing scratch): a thread whose first
 * call frees a small block another thread allocated must not keep reusing
 * that block, whose cache line it shares with the other threads' blocks:
 * its first malloc of the size is served from memory of its own. */
static void *first_free_worker(void *a)
{
    void **slot = a;
    free(slot[0]);
    slot[1] = malloc(8);
    return NULL;
}

static void test_first_free_goes_home(void **state)
{
    (void)state;
    enum { T = 2 };
    void *given[T], *slot[T][2];
    for (int t = 0; t < T; t++) given[t] = malloc(8);   /* back to back: one cache line */
    for (int t = 0; t < T; t++) {
        pthread_t th;
        slot[t][0] = given[t];
        assert_int_equal(pthread_create(&th, NULL, first_free_worker, slot[t]), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
    }
    for (int t = 0; t < T; t++) {
        assert_owned(slot[t][1]);
        for (int u = 0; u < T; u++)
            assert_true((uintptr_t)slot[t][1] / 64 != (uintptr_t)given[u] / 64);
        free(slot[t][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_cross_thread),
        cmocka_unit_test(test_producer_consumer),
        cmocka_unit_test(test_all_to_one),
        cmocka_unit_test(test_first_free_goes_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

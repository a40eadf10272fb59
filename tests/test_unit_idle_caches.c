/* Unit: taking an idle thread's caches (core/heap/reclaim.c, "idle caches").
 *
 * - reconcile: a thread fills a cache and waits in read(2); the main
 *   thread trims, which takes all but the cache's top block.  Then, playing
 *   the part of a fast path that a signal interrupted before the take and
 *   that completes after it, the main thread pops the top block, or pushes
 *   a block, or does nothing; or the woken thread itself first calls malloc
 *   of another class (a signal handler's, whose slow path reconciles) and
 *   then completes the pop.  The woken thread allocates four caches'
 *   worth: every block once, the popped one never, the pushed one and the
 *   top block exactly once.
 * - scan: without any trim, other threads' slow paths take the caches of
 *   24 idle threads (a few per scan, round the list) within seconds;
 * - busy: a thread that runs (no system call) is never taken from;
 *   nor any with HAKMEM_IDLE_CACHES=0.
 * - storm: threads allocate, check and free blocks of many sizes while a
 *   signal whose handler sleeps in nanosleep(2) keeps interrupting them and
 *   the main thread trims without pause; no block is ever handed out twice
 *   (each carries its owner's pattern, checked before it is freed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "box/debug_box.h"
#include "config/config.h"
#include "backend/os.h"
#include "box/secure_box.h"
#include "front/size_class.h"
#include "hakmem.h"
#include "heap/heap.h"

#define SIZE 64

/* cmocka's asserts may not run on other threads: these abort instead */
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                   \
        }                                                                              \
    } while (0)

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* Runs test `name` of this binary in a fresh process with var=value (the
 * configuration is read once at init); skips where var is set already: we
 * are that process. */
static void run_with(const char *var, const char *value, const char *name) {
    if (getenv(var)) skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv(var, value, 1);
        execl("/proc/self/exe", "test_unit_idle_caches", name, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- reconcile ---- */

enum { SIM_NONE, SIM_POP, SIM_PUSH, SIM_NESTED };

typedef struct {
    int pipe_go[2];
    hak_heap_t *heap;
    int tid;
    void *live;               /* a block the thread allocated and keeps */
    _Atomic int ready;
    void *popped, *pushed, *top_block;
    unsigned cap;
    int nested;               /* SIM_NESTED: the thread completes a pop after another class's malloc */
} recon_t;

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void *recon_thread(void *arg) {
    recon_t *r = arg;
    unsigned cls = hak_class_of(hak_block_need(SIZE));
    unsigned cap = hak_classes[cls].cache_cap, n = 2 * cap;
    void **v = calloc(4 * cap, sizeof *v);
    CHECK((v) != NULL);
    for (unsigned i = 0; i < n; i++) CHECK((v[i] = malloc(SIZE)) != NULL);
    for (unsigned i = 1; i < n; i++) free(v[i]);   /* fills the cache */
    r->live = v[0];
    r->heap = hak_tls_heap;
    r->tid = (int)syscall(SYS_gettid);
    r->cap = cap;
    hak_cache_t *c = &r->heap->front.cache[cls];
    void **top = c->top;   /* SIM_NESTED: a pop has read top, then a signal came */
    atomic_store(&r->ready, 1);
    char ch;
    CHECK(read(r->pipe_go[0], &ch, 1) == 1);   /* waits in a system call (the handler's, say) */
    if (r->nested) {
        /* the handler calls malloc of another class: its slow path reconciles */
        void *other = malloc(4 * SIZE);
        CHECK(other != NULL);
        /* the handler returns; the interrupted pop completes on the old front */
        c->top = --top;
        r->popped = *top;
        memset(r->popped, 0xa5, SIZE);
        free(other);
    }
    /* woken: four caches' worth, every block once */
    for (unsigned i = 0; i < 4 * cap; i++) {
        CHECK((v[i] = malloc(SIZE)) != NULL);
        memset(v[i], 0x5a, SIZE);
    }
    CHECK((hak_tls_front) == (&r->heap->front));
    CHECK((atomic_load(&r->heap->reclaimed)) == (0));
    unsigned seen_top = 0, seen_pushed = 0;
    for (unsigned i = 0; i < 4 * cap; i++) {
        CHECK((v[i]) != (r->popped));
        seen_top += v[i] == r->top_block;
        seen_pushed += v[i] == r->pushed;
    }
    qsort(v, 4 * cap, sizeof *v, cmp_ptr);
    for (unsigned i = 1; i < 4 * cap; i++) CHECK((v[i]) != (v[i - 1]));
    if (r->top_block) CHECK((seen_top) == (1));
    if (r->pushed) CHECK((seen_pushed) == (1));
    for (unsigned i = 0; i < 4 * cap; i++) free(v[i]);
    if (!r->pushed) free(r->live);
    free(v);
    return NULL;
}

static void reconcile_case(int sim) {
    free(malloc(1));   /* init: reads the profile */
    if (hak_heaps_hooks.bypass) skip();   /* DEBUG's checked blocks, SECURE's checked frees: no front */
    recon_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pipe(r.pipe_go), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recon_thread, &r), 0);
    while (!atomic_load(&r.ready)) sleep_us(1000);
    while (!hak_os_thread_in_syscall(r.tid)) sleep_us(1000);
    unsigned cls = hak_class_of(hak_block_need(SIZE));
    hak_cache_t *c = &r.heap->front.cache[cls];
    uint32_t n0 = hak_cache_count(c);
    void **top0 = c->top, *top_block = c->top[-1];
    assert_true(n0 >= 2);
    malloc_trim(0);
    if (!HAK_CFG(IDLE_CACHES)) {
        /* HAKMEM_IDLE_CACHES=0: nothing taken (test_variable_off) */
        assert_int_equal(atomic_load(&r.heap->reclaimed), 0);
        assert_int_equal(hak_cache_count(c), n0);
        sim = SIM_NONE;
        r.top_block = NULL;
        goto wake;
    }
    /* taken: all but the top block; top, base and end untouched */
    assert_int_equal(atomic_load(&r.heap->reclaimed), 1);
    assert_int_equal(r.heap->reclaim_count[cls], n0);
    assert_ptr_equal(c->top, top0);
    /* the interrupted fast path completes on the old front */
    if (sim == SIM_POP) {
        r.popped = *--c->top;
        assert_ptr_equal(r.popped, top_block);
        memset(r.popped, 0xa5, SIZE);   /* the program's now */
    } else {
        r.top_block = top_block;
        if (sim == SIM_PUSH) { r.pushed = r.live; *c->top++ = r.live; }
        if (sim == SIM_NESTED) { r.top_block = NULL; r.nested = 1; }
    }
wake:
    assert_int_equal(write(r.pipe_go[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (r.popped) {
        const unsigned char *b = r.popped;
        for (int i = 0; i < SIZE; i++) assert_int_equal(b[i], 0xa5);   /* nobody else wrote it */
        free(r.popped);
    }
    close(r.pipe_go[0]);
    close(r.pipe_go[1]);
}

static void test_reconcile_none(void **state) { (void)state; reconcile_case(SIM_NONE); }
static void test_reconcile_pop(void **state) { (void)state; reconcile_case(SIM_POP); }
static void test_reconcile_push(void **state) { (void)state; reconcile_case(SIM_PUSH); }
static void test_reconcile_nested(void **state) { (void)state; reconcile_case(SIM_NESTED); }

/* HAKMEM_IDLE_CACHES=0 (read once at init, so in a fresh process): the
 * idle thread's cache is left alone. */
static void test_variable_off(void **state) {
    (void)state;
    run_with("HAKMEM_IDLE_CACHES", "0", "test_reconcile_none");
}

/* ---- scan: many idle threads, no trim ---- */

enum { SCAN_THREADS = 24 };
static int scan_pipe[2];

static void *scan_thread(void *arg) {
    hak_heap_t **out = arg;
    unsigned cls = hak_class_of(hak_block_need(SIZE)), cap = hak_classes[cls].cache_cap;
    void **v = calloc(4 * cap, sizeof *v);
    CHECK(v != NULL);
    for (unsigned i = 0; i < 2 * cap; i++) CHECK((v[i] = malloc(SIZE)) != NULL);
    for (unsigned i = 0; i < 2 * cap; i++) free(v[i]);
    *out = hak_tls_heap;
    char ch;
    CHECK(read(scan_pipe[0], &ch, 1) == 1);
    for (unsigned i = 0; i < 4 * cap; i++) CHECK((v[i] = malloc(SIZE)) != NULL);
    qsort(v, 4 * cap, sizeof *v, cmp_ptr);
    for (unsigned i = 1; i < 4 * cap; i++) CHECK(v[i] != v[i - 1]);
    for (unsigned i = 0; i < 4 * cap; i++) free(v[i]);
    free(v);
    return NULL;
}

/* With a short delay (in a fresh process: test_scan), other threads' slow
 * paths alone take the caches of every idle thread, a few per scan. */
static void test_scan_round(void **state) {
    (void)state;
    if (!getenv("HAKMEM_PURGE_DELAY_MS")) skip();   /* run by test_scan */
    free(malloc(1));
    if (hak_guard_on()) skip();
    assert_int_equal(pipe(scan_pipe), 0);
    pthread_t t[SCAN_THREADS];
    hak_heap_t *heap[SCAN_THREADS] = {0};
    for (int i = 0; i < SCAN_THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, scan_thread, &heap[i]), 0);
    for (int i = 0; i < SCAN_THREADS; i++)
        while (!__atomic_load_n(&heap[i], __ATOMIC_ACQUIRE)) sleep_us(1000);
    uint64_t probes0 = atomic_load(&hak_os.probes);
    int taken = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        /* refills and flushes: slow operations (more blocks than a cache
         * that grew holds: 256 KiB of them) */
        static void *v[4096];
        for (int i = 0; i < 4096; i++) v[i] = malloc(200);
        for (int i = 0; i < 4096; i++) free(v[i]);
        sleep_us(2000);
        taken = 0;
        for (int i = 0; i < SCAN_THREADS; i++) taken += atomic_load(&heap[i]->reclaimed);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (taken < SCAN_THREADS && now.tv_sec - t0.tv_sec < 10);
    print_message("scan: %d of %d idle threads taken from, %lu probes\n", taken, SCAN_THREADS,
                  (unsigned long)(atomic_load(&hak_os.probes) - probes0));
    assert_int_equal(taken, SCAN_THREADS);
    for (int i = 0; i < SCAN_THREADS; i++) assert_int_equal(write(scan_pipe[1], "x", 1), 1);
    for (int i = 0; i < SCAN_THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void test_scan(void **state) {
    (void)state;
    run_with("HAKMEM_PURGE_DELAY_MS", "50", "test_scan_round");
}

/* ---- busy ---- */

static _Atomic int busy_stop;
static _Atomic(hak_heap_t *) busy_heap;

static void *busy_thread(void *arg) {
    (void)arg;
    void *v[64];
    for (int i = 0; i < 64; i++) v[i] = malloc(SIZE);
    for (int i = 0; i < 64; i++) free(v[i]);
    atomic_store(&busy_heap, hak_tls_heap);
    while (!atomic_load_explicit(&busy_stop, memory_order_relaxed)) {}   /* runs, never in a system call */
    return NULL;
}

static void test_busy_untouched(void **state) {
    (void)state;
    free(malloc(1));
    if (hak_guard_on()) skip();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, busy_thread, NULL), 0);
    hak_heap_t *h;
    while (!(h = atomic_load(&busy_heap))) sleep_us(1000);
    unsigned cls = hak_class_of(hak_block_need(SIZE));
    uint32_t n0 = hak_cache_count(&h->front.cache[cls]);
    for (int i = 0; i < 20; i++) {
        malloc_trim(0);
        assert_int_equal(atomic_load(&h->reclaimed), 0);
        assert_int_equal(hak_cache_count(&h->front.cache[cls]), n0);
    }
    atomic_store(&busy_stop, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* ---- storm ---- */

enum { STORM_THREADS = 3, STORM_LIVE = 200 };
static _Atomic int storm_stop;
static _Atomic long storm_ops, storm_signals;

static void storm_handler(int sig) {
    (void)sig;
    struct timespec ts = {0, 200000};   /* 200 us in a system call, mid-operation perhaps */
    nanosleep(&ts, NULL);
    atomic_fetch_add_explicit(&storm_signals, 1, memory_order_relaxed);
}

static size_t storm_size(uint64_t x) {
    static const size_t sizes[] = {8, 16, 24, 32, 48, 64, 100, 128, 200, 256, 512, 1000, 2048, 4000};
    return sizes[x % (sizeof sizes / sizeof sizes[0])];
}

static void *storm_thread(void *arg) {
    uint64_t seed = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *live[STORM_LIVE] = {0};
    size_t len[STORM_LIVE] = {0};
    unsigned char tag = (unsigned char)(uintptr_t)arg;
    long ops = 0;
    while (!atomic_load_explicit(&storm_stop, memory_order_relaxed)) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned i = (unsigned)(seed >> 33) % STORM_LIVE;
        if (live[i]) {
            for (size_t k = 0; k < len[i]; k++)
                if (live[i][k] != (unsigned char)(tag + i)) CHECK(!"a block changed under its owner");
            free(live[i]);
            live[i] = NULL;
        } else {
            len[i] = storm_size(seed >> 20);
            live[i] = malloc(len[i]);
            CHECK((live[i]) != NULL);
            memset(live[i], (unsigned char)(tag + i), len[i]);
        }
        /* now and then, wait a little in a system call (idle enough to be taken from) */
        if (((seed >> 40) & 1023) == 0) sleep_us(300);
        ops++;
    }
    for (unsigned i = 0; i < STORM_LIVE; i++) free(live[i]);
    atomic_fetch_add(&storm_ops, ops);
    return NULL;
}

static void test_storm(void **state) {
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = storm_handler;
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t t[STORM_THREADS];
    for (uintptr_t i = 0; i < STORM_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, storm_thread, (void *)(i + 1)), 0);
    uint64_t probes0 = atomic_load(&hak_os.probes);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned k = 0;
    do {
        pthread_kill(t[k++ % STORM_THREADS], SIGUSR1);
        malloc_trim(0);
        sleep_us(50);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
    atomic_store(&storm_stop, 1);
    for (int i = 0; i < STORM_THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    print_message("storm: %ld operations, %ld signals, %lu thread probes\n", atomic_load(&storm_ops),
                  atomic_load(&storm_signals), (unsigned long)(atomic_load(&hak_os.probes) - probes0));
    assert_true(atomic_load(&storm_signals) > 100);
    assert_true(atomic_load(&hak_os.probes) - probes0 > 100);
}

/* An argument runs only the tests whose names match it (a cmocka glob). */
int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconcile_none),
        cmocka_unit_test(test_reconcile_pop),
        cmocka_unit_test(test_reconcile_push),
        cmocka_unit_test(test_reconcile_nested),
        cmocka_unit_test(test_variable_off),
        cmocka_unit_test(test_scan_round),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_busy_untouched),
        cmocka_unit_test(test_storm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

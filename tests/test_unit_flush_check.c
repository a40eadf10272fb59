/* Unit: the batched checks a thread cache runs when it flushes (heap.c,
 * heap_flush).  A double free is dropped, also when the first copy was
 * kept by an earlier flush (the kept blocks enter the duplicate set
 * unvalidated, so this is the case that must not slip through); an
 * interior pointer is dropped when it leaves the cache; valid blocks all go
 * on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "box/flush_check_box.h"
#include "box/secure_box.h"
#include "config/config.h"
#include "front/size_class.h"
#include "hakmem.h"
#include "heap/heap.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* Bad frees on purpose: hidden from the compiler's checks. */
static void *opaque_ptr(void *p) { void *volatile v = p; return v; }

/* stderr into a temporary file for a while (the reports go to fd 2). */
static int stderr_begin(int *tmp) {
    char name[] = "/tmp/hakmem-flush-XXXXXX";
    *tmp = mkstemp(name);
    assert_true(*tmp >= 0);
    unlink(name);
    int saved = dup(2);
    dup2(*tmp, 2);
    return saved;
}
static void stderr_end(int saved, int tmp, char *buf, size_t cap) {
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(tmp, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(tmp);
}

/* A class no other test here uses, and the calling thread's heap with its
 * front on (DEBUG's checked blocks bypass the caches: nothing to test). */
#define SIZE 400
static hak_heap_t *front_heap(unsigned *cls) {
    /* makes the heap and opens the class's cache (a fresh heap's caches
     * open at their first use); opaque, or the compiler drops the pair */
    void *p = opaque_ptr(malloc(SIZE));
    free(p);
    hak_heap_t *h = hak_heap_get();
    if (hak_tls_front != &h->front) skip();
    *cls = hak_class_of(hak_block_need(SIZE));
    assert_true(hak_cache_cap(&h->front.cache[*cls]) >= 6);   /* the tests below hold 6 */
    return h;
}

/* A flush that keeps blocks, as in a thread that allocates the class: one
 * that only frees it since its last flush keeps none (heap.c, heap_flush),
 * and these tests free without allocating. */
static void flush_keeping(hak_heap_t *h, unsigned cls, uint32_t keep) {
    h->flush_state[cls] = 0;   /* what the thread's next refill would do */
    hak_heap_flush(h, cls, keep);
}

static void double_free_of_a_kept_block_is_dropped(void **state) {
    (void)state;
    /* Checked frees stop these at the free (test_double_free.c); without the
     * flush checks (SPEED, LEAN) nothing looks at them there. */
    if (hak_heaps_hooks.free_checked || !hak_flush_check_on()) skip();
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    void *a = malloc(SIZE), *b = malloc(SIZE), *d = malloc(SIZE), *e = malloc(SIZE);
    assert_true(a && b && d && e);
    hak_heap_flush(h, cls, 0);
    free(a);
    free(b);
    assert_int_equal(hak_cache_count(c), 2);
    /* both checked; a leaves, b stays with this pass's mark */
    flush_keeping(h, cls, 1);
    assert_int_equal(hak_cache_count(c), 1);
    assert_ptr_equal(c->base[0], b);
    free(d);
    free(opaque_ptr(b));   /* the double free, while b sits in the cache (not the last block in) */
    free(e);
    assert_int_equal(hak_cache_count(c), 4);
    /* the duplicate is dropped before b, d leave (b once, not twice: the
     * span's free list would loop), and e stays */
    flush_keeping(h, cls, 1);
    assert_int_equal(hak_cache_count(c), 1);
    assert_ptr_equal(c->base[0], e);
    /* so no block is handed out twice */
    hak_heap_flush(h, cls, 0);
    enum { K = 6 };
    void *x[K];
    for (int i = 0; i < K; i++) x[i] = malloc(SIZE);
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) assert_ptr_not_equal(x[i], x[j]);
    for (int i = 0; i < K; i++) free(x[i]);
}

/* A block freed twice in a row is reported at the second free and not
 * cached twice, so the next two mallocs get two blocks. */
static void double_free_in_a_row_is_caught_at_the_free(void **state) {
    (void)state;
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    void *a = malloc(SIZE);
    hak_heap_flush(h, cls, 0);
    free(a);
    int saved, tmp;
    atomic_store(&hak_base.reported, 0);   /* an earlier case reported this kind already */
    saved = stderr_begin(&tmp);
    free(opaque_ptr(a));
    char buf[512];
    stderr_end(saved, tmp, buf, sizeof buf);
    assert_non_null(strstr(buf, "double free"));
    assert_int_equal(hak_cache_count(c), 1);
    void *x = malloc(SIZE), *y = malloc(SIZE);
    assert_ptr_not_equal(x, y);
    free(x);
    free(y);
}

static void double_free_of_fresh_blocks_is_dropped(void **state) {
    (void)state;
    /* Checked frees stop these at the free (test_double_free.c); without the
     * flush checks (SPEED, LEAN) nothing looks at them there. */
    if (hak_heaps_hooks.free_checked || !hak_flush_check_on()) skip();
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    void *a = opaque_ptr(malloc(SIZE)), *b = opaque_ptr(malloc(SIZE));
    hak_heap_flush(h, cls, 0);
    c->end = c->base + hak_classes[cls].cache_cap;   /* room for the three, as after a refill */
    h->flush_state[cls] = 0;
    free(a);
    free(b);
    free(opaque_ptr(a));   /* not in a row: free's own test does not see it */
    assert_int_equal(hak_cache_count(c), 3);
    flush_keeping(h, cls, 1);   /* the kept copy is marked first; the leaving one is the duplicate */
    assert_int_equal(hak_cache_count(c), 1);
    assert_ptr_equal(c->base[0], a);
    hak_heap_flush(h, cls, 0);
    void *x = malloc(SIZE), *y = malloc(SIZE);
    assert_ptr_not_equal(x, y);
    free(x);
    free(y);
}

static void interior_pointer_is_dropped_and_valid_blocks_stay(void **state) {
    (void)state;
    /* Checked frees stop these at the free (test_double_free.c); without the
     * flush checks (SPEED, LEAN) nothing looks at them there. */
    if (hak_heaps_hooks.free_checked || !hak_flush_check_on()) skip();
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    enum { N = 6 };
    char *v[N];
    for (int i = 0; i < N; i++) v[i] = malloc(SIZE);
    hak_heap_flush(h, cls, 0);
    for (int i = 1; i < N; i++) free(v[i]);
    free(opaque_ptr(v[0] + 16));   /* interior: takes the fast path into this cache */
    assert_int_equal(hak_cache_count(c), N);
    flush_keeping(h, cls, N);   /* nothing needs to leave: returns unchecked */
    assert_int_equal(hak_cache_count(c), N);
    /* v[1] leaves; the rest is kept, checked when it leaves */
    flush_keeping(h, cls, N - 1);
    assert_int_equal(hak_cache_count(c), N - 1);
    for (int i = 0; i < N - 2; i++) assert_ptr_equal(c->base[i], v[i + 2]);
    assert_ptr_equal(c->base[N - 2], v[0] + 16);
    /* all leave: the interior pointer is dropped, not put on a free list */
    hak_heap_flush(h, cls, 0);
    assert_int_equal(hak_cache_count(c), 0);
    void *x[N];
    for (int i = 0; i < N; i++) {
        x[i] = malloc(SIZE);
        assert_ptr_not_equal(x[i], v[0] + 16);
    }
    for (int i = 0; i < N; i++) free(x[i]);
    memset(v[0], 1, SIZE);   /* v[0] is still live and whole */
    free(v[0]);
    hak_heap_flush(h, cls, 0);
}

/* A thread that only frees a class since its last flush keeps nothing at
 * the next and holds at most a batch; once it refills the class it keeps
 * blocks and its whole cache again. */
static void a_thread_that_only_frees_keeps_nothing(void **state) {
    (void)state;
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    void *v[4];
    for (int i = 0; i < 4; i++) assert_non_null(v[i] = malloc(SIZE));
    hak_heap_flush(h, cls, 0);
    for (int i = 0; i < 4; i++) free(v[i]);
    hak_heap_flush(h, cls, 2);
    assert_int_equal(hak_cache_count(c), 0);
    assert_int_equal(hak_cache_cap(c), hak_classes[cls].batch);
    for (int i = 0; i < 4; i++) assert_non_null(v[i] = malloc(SIZE));   /* a refill */
    assert_int_equal(hak_cache_cap(c), h->cap[cls]);   /* its whole cache (grown: a flush came before) */
    assert_true(h->cap[cls] >= hak_classes[cls].cache_cap);
    uint32_t n = hak_cache_count(c);
    for (int i = 0; i < 4; i++) free(v[i]);
    hak_heap_flush(h, cls, 2);   /* after a refill: keeps what it is told */
    assert_int_equal(hak_cache_count(c), n + 4 > 2 ? 2 : n + 4);
    hak_heap_flush(h, cls, 0);
}

/* Growing caches (heap/cache.c): a thread whose blocks of a class go to
 * their spans and come back, round after round, gets a cache that holds
 * them all, so that they stop travelling; once it only frees the class, the
 * cache is back to its first bound. */
static void a_cache_grows_for_a_working_set_and_shrinks_after(void **state) {
    (void)state;
    unsigned cls;
    hak_heap_t *h = front_heap(&cls);
    hak_cache_t *c = &h->front.cache[cls];
    const hak_class_info_t *ci = &hak_classes[cls];
    assert_true(ci->max_cap > ci->cache_cap);
    /* more than the first bound; fits the largest, and half the thread's
     * growth budget (a quarter of HAKMEM_TCACHE_MAX: LEAN's is small) */
    uint32_t n = ci->max_cap - ci->max_cap / 4, half = (uint32_t)((size_t)HAK_CFG(TCACHE_MAX) / 8 / ci->shape.block_size);
    if (n > half) n = half;
    assert_true(n > ci->cache_cap);
    void **v = calloc(n, sizeof *v);
    assert_non_null(v);
    uint64_t refills = 0;
    for (int round = 0; round < 12; round++) {
        uint64_t r0 = h->slow_ops;
        for (uint32_t i = 0; i < n; i++) assert_non_null(v[i] = opaque_ptr(malloc(SIZE)));
        for (uint32_t i = 0; i < n; i++) free(v[i]);
        if (round == 11) refills = h->slow_ops - r0;
    }
    assert_true(h->cap[cls] >= n && h->cap[cls] <= ci->max_cap);
    assert_int_equal(refills, 0);   /* the last round: not one refill or flush */
    assert_true(hak_cache_count(c) >= n);
    /* only frees now: the cache holds at most a first batch */
    for (uint32_t i = 0; i < n; i++) assert_non_null(v[i] = opaque_ptr(malloc(SIZE)));
    hak_heap_flush(h, cls, 0);
    for (uint32_t i = 0; i < n; i++) free(v[i]);
    assert_true(hak_cache_count(c) <= ci->batch);
    /* and trim puts the bound back */
    free(v);
    malloc_trim(0);
    assert_int_equal(h->cap[cls], ci->cache_cap);
    assert_int_equal(hak_cache_count(c), 0);
}

int main(int argc, char **argv) {
    (void)argc;
    /* The checks are what this tests: on, whatever the profile (the
     * variable is read at start, so the binary runs itself again). */
    if (!getenv("HAKMEM_FLUSH_CHECK")) {
        setenv("HAKMEM_FLUSH_CHECK", "1", 1);
        execv("/proc/self/exe", argv);
        return 127;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(double_free_of_a_kept_block_is_dropped),
        cmocka_unit_test(double_free_of_fresh_blocks_is_dropped),
        cmocka_unit_test(double_free_in_a_row_is_caught_at_the_free),
        cmocka_unit_test(interior_pointer_is_dropped_and_valid_blocks_stay),
        cmocka_unit_test(a_thread_that_only_frees_keeps_nothing),
        cmocka_unit_test(a_cache_grows_for_a_working_set_and_shrinks_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit: a cache never reaches outside its class's own slots, and a closed
 * cache (end == base) sits at its first slot (RELIABILITY.md, finding 13).
 *
 * - flush_room: the sequence the fuzzer found.  A thread fills its 4 KiB
 *   class's cache (cap 8) so that the four blocks a flush keeps are one
 *   16 KiB aligned run (their xor is 0), and frees one more: the flush must
 *   leave a slot for that free (it used to read the zero signature as "kept
 *   none", close the cache to a batch, 4 slots, with 4 blocks in it, and the
 *   free pushed a fifth past the end).  The thread then waits in read(2);
 *   the main thread trims, which takes all but the top block (idle caches);
 *   the woken thread frees a cache's worth more and then allocates the next
 *   class, which must hand out only its own blocks.  (Before the fix, the
 *   take's reconcile moved the base up to the end: a cache that read as
 *   closed with its base 4 slots above its first one.  The free path then
 *   opened it; with the review's `end = base + cap` its pushes went into the
 *   next class's slots, and that class's mallocs returned 4 KiB blocks.)
 * - open_wherever_base: the state itself, written directly (a closed cache
 *   whose base is above its first slot), then the first free of the class,
 *   of another thread's block and of the thread's own: the cache must open
 *   within its slots, from its first one.  Fails with the review's line.
 * - take_within_end: a cache with one block over its end (the old flush's
 *   state, written directly) must not be taken from, so that the reconcile
 *   never leaves an open cache that reads as closed.
 * Every case checks every cache of the thread against the invariant after
 * each step (the fuzz build and DEBUG check it inside the library:
 * core/heap/check.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend/os.h"
#include "box/debug_box.h"
#include "box/secure_box.h"
#include "config/config.h"
#include "front/size_class.h"
#include "hakmem.h"
#include "heap/heap.h"

/* cmocka's asserts may not run on other threads: these count and tell */
static _Atomic int fails;
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            atomic_fetch_add(&fails, 1);                                               \
        }                                                                              \
    } while (0)

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {}
}

static void **first_slot(hak_heap_t *h, unsigned cls) { return h->slot_store + hak_classes[cls].slot_first; }

/* The invariant, for every cache of h (its owner calls it). */
static void check_caches(hak_heap_t *h, const char *step) {
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_cache_t *c = &h->front.cache[cls];
        uint32_t nslots;
        void **first = hak_cache_slots(h, cls, &nslots), **limit = first + nslots;   /* its window, or its growth region */
        bool ok = first <= c->base && c->base <= c->top && c->top <= c->end && c->end <= limit &&
                  (c->end != c->base || c->base == first);
        if (!ok)
            fprintf(stderr, "%s: class %u cache: base = first + %td, top = first + %td, end = first + %td, cap %u\n", step,
                    cls, c->base - first, c->top - first, c->end - first, h->cap[cls]);
        CHECK(ok);
    }
}

/* The 4 KiB class, whose cache holds 8 and whose flush keeps 4 (SPEED);
 * false where a profile's geometry differs. */
static bool class_4k(unsigned *cls_out, size_t *req_out) {
    void *p = hak_malloc(1);   /* init: reads the profile */
    hak_free(p);
    if (hak_guard_on()) return false;   /* DEBUG's checked blocks bypass the caches */
    unsigned cls = hak_class_of(4096);
    if (hak_class_block(cls) != 4096 || hak_classes[cls].cache_cap != 8 || hak_classes[cls].batch != 4 ||
        cls + 1 >= HAK_NCLASSES || hak_class_of(hak_block_need(4096 - hak_redzone)) != cls)
        return false;
    *cls_out = cls;
    *req_out = 4096 - hak_redzone;
    return true;
}

/* ---- an owner thread, driven step by step; it waits in read(2) between
 * steps, where the main thread can take its caches ---- */

typedef struct {
    int go[2];
    _Atomic int ready;
    int tid;
    hak_heap_t *heap;
} owner_t;

static void owner_wait(owner_t *o) {
    o->tid = (int)syscall(SYS_gettid);
    o->heap = hak_tls_heap;
    atomic_store(&o->ready, 1);
    char ch;
    if (read(o->go[0], &ch, 1) != 1) abort();
    atomic_store(&o->ready, 0);
}

/* Main thread: run fn(arg) on an owner thread; when the owner sits in
 * read(2), trim (taking its caches: at least taken_min, at most taken_max
 * blocks of class cls where idle caches are on), wake it, join it; then no
 * check of the owner's may have failed. */
static void run_owner(owner_t *o, void *(*fn)(void *), void *arg, unsigned cls, uint32_t taken_min, uint32_t taken_max) {
    atomic_store(&fails, 0);
    assert_int_equal(pipe(o->go), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    while (!atomic_load(&o->ready)) sleep_us(1000);
    while (!hak_os_thread_in_syscall(o->tid)) sleep_us(1000);
    malloc_trim(0);
    if (HAK_CFG(IDLE_CACHES)) {
        assert_true(o->heap->reclaim_count[cls] >= taken_min);
        assert_true(o->heap->reclaim_count[cls] <= taken_max);
    }
    assert_int_equal(write(o->go[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(o->go[0]);
    close(o->go[1]);
    assert_int_equal(atomic_load(&fails), 0);
}

/* ---- flush_room ---- */

enum { NB = 96 };

typedef struct {
    owner_t o;
    unsigned cls;
    size_t req;
} room_t;

static void *room_thread(void *arg) {
    room_t *r = arg;
    unsigned cls = r->cls, next = cls + 1;
    size_t req = r->req, next_req = hak_class_block(next) - hak_redzone;
    void *v[NB], *nv[8];
    for (int i = 0; i < 8; i++) CHECK((nv[i] = hak_malloc(next_req)) != NULL);
    for (int i = 0; i < 8; i++) hak_free(nv[i]);   /* the next class's cache holds blocks */
    hak_heap_t *h = hak_tls_heap;
    hak_cache_t *c = &h->front.cache[cls];
    unsigned n = 0;
    while (n < NB - 8) CHECK((v[n++] = hak_malloc(req)) != NULL);
    while (hak_cache_count(c) > 0 && n < NB) CHECK((v[n++] = hak_malloc(req)) != NULL);
    CHECK(hak_cache_count(c) == 0 && hak_cache_cap(c) == 8);
    /* four blocks of one 16 KiB aligned run: their xor is 0 */
    int run = -1;
    for (unsigned i = 0; i < n && run < 0; i++) {
        uintptr_t a = (uintptr_t)v[i];
        if (a & 0x3FFF) continue;
        int found = 0;
        for (unsigned j = 0; j < n; j++)
            for (uintptr_t k = 1; k < 4; k++) found += (uintptr_t)v[j] == a + k * 4096;
        if (found == 3) run = (int)i;
    }
    CHECK(run >= 0);
    if (run < 0) { owner_wait(&r->o); return NULL; }
    uintptr_t a = (uintptr_t)v[run];
    void *group[4], *other[NB];
    unsigned no = 0;
    for (unsigned i = 0; i < n; i++) {
        uintptr_t b = (uintptr_t)v[i];
        if (b >= a && b < a + 4 * 4096) group[(b - a) / 4096] = v[i];
        else other[no++] = v[i];
    }
    CHECK(no >= 4 + 1 + 8);
    /* fillers, then the run: the cache is full with the run on top */
    for (int i = 0; i < 4; i++) hak_free(other[i]);
    for (int i = 0; i < 4; i++) hak_free(group[i]);
    CHECK(c->top == c->end);
    hak_free(other[4]);   /* the flush keeps the run, and must leave a slot for this block */
    CHECK(c->top <= c->end);
    check_caches(h, "after the flush");
    uint32_t held = hak_cache_count(c);
    CHECK(held == 5);
    owner_wait(&r->o);   /* idle: the main thread takes all but the top block */
    for (int i = 5; i < 5 + 8; i++) hak_free(other[i]);   /* the first reconciles, then a cache's worth */
    check_caches(h, "after the frees");
    /* both classes hand out only their own blocks */
    void *w[10];
    for (int i = 0; i < 8; i++) {
        CHECK((nv[i] = hak_malloc(next_req)) != NULL);
        CHECK(hak_usable_size(nv[i]) == next_req);
    }
    for (int i = 0; i < 10; i++) {
        CHECK((w[i] = hak_malloc(req)) != NULL);
        CHECK(hak_usable_size(w[i]) == req);
    }
    check_caches(h, "after the mallocs");
    for (int i = 0; i < 8; i++) hak_free(nv[i]);
    for (int i = 0; i < 10; i++) hak_free(w[i]);
    for (unsigned i = 4 + 1 + 8; i < no; i++) hak_free(other[i]);
    check_caches(h, "at the end");
    return NULL;
}

static void test_flush_room(void **state) {
    (void)state;
    room_t r;
    memset(&r, 0, sizeof r);
    if (!class_4k(&r.cls, &r.req)) skip();
    run_owner(&r.o, room_thread, &r, r.cls, 5, 5);
}

/* ---- open_wherever_base ---- */

typedef struct {
    unsigned cls;
    size_t req;
    void *foreign;   /* the main thread's block */
} open_t;

/* Write the state: closed, its base k slots above its first (empty). */
static void close_above_first(hak_heap_t *h, unsigned cls, unsigned k) {
    hak_cache_t *c = &h->front.cache[cls];
    c->base = c->top = c->end = first_slot(h, cls) + k;
}

static void *open_thread(void *arg) {
    open_t *o = arg;
    unsigned cls = o->cls;
    void *small = hak_malloc(16);   /* a heap of its own; the 4 KiB class's cache is still closed */
    hak_free(small);
    hak_heap_t *h = hak_tls_heap;
    hak_cache_t *c = &h->front.cache[cls];
    void **first = first_slot(h, cls);
    CHECK(c->end == c->base && c->base == first);
    /* another thread's block: to its owner, and the cache opens */
    close_above_first(h, cls, 4);
    hak_free(o->foreign);
    check_caches(h, "after the first free (another thread's block)");
    CHECK(c->base == first && hak_cache_count(c) == 0);
    /* the thread's own block */
    void *mine = hak_malloc(o->req);
    CHECK(mine != NULL);
    hak_heap_trim(h);   /* its cache empty, at its first slot */
    close_above_first(h, cls, 4);
    hak_free(mine);
    check_caches(h, "after the first free (its own block)");
    CHECK(c->base == first && hak_cache_count(c) == 1);
    void *again = hak_malloc(o->req);
    CHECK(again == mine);
    hak_free(again);
    check_caches(h, "at the end");
    return NULL;
}

static void test_open_wherever_base(void **state) {
    (void)state;
    open_t o;
    if (!class_4k(&o.cls, &o.req)) skip();
    atomic_store(&fails, 0);
    o.foreign = hak_malloc(o.req);
    assert_non_null(o.foreign);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_thread, &o), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&fails), 0);
}

/* ---- take_within_end ---- */

typedef struct {
    owner_t o;
    unsigned cls;
    size_t req;
} take_t;

static void *take_thread(void *arg) {
    take_t *t = arg;
    unsigned cls = t->cls;
    enum { MAXB = 512 };
    void *v[MAXB];
    CHECK(hak_classes[cls].max_cap <= MAXB);
    CHECK((v[0] = hak_malloc(t->req)) != NULL);   /* the first refill opens the cache to its bound */
    hak_heap_t *h = hak_tls_heap;
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t cap = hak_cache_cap(c);   /* its bound now (a cache grows: heap/cache.c) */
    CHECK(cap >= 2 && cap <= MAXB);
    for (uint32_t i = 1; i < cap; i++) CHECK((v[i] = hak_malloc(t->req)) != NULL);
    uint32_t k = 0;
    while (c->top < c->end && k < cap) hak_free(v[k++]);   /* full */
    CHECK(c->top == c->end && hak_cache_count(c) == cap);
    c->end--;   /* one block over its end, as the old flush left it */
    owner_wait(&t->o);   /* the main thread trims: this cache must not be taken */
    hak_heap_settle(h);  /* the reconcile (what the next slow path does first) */
    CHECK(c->end != c->base);   /* an open cache does not read as closed */
    c->end++;   /* (put right by hand; nothing else checked here) */
    check_caches(h, "after the reconcile");
    for (uint32_t i = 0; i < k; i++) CHECK((v[i] = hak_malloc(t->req)) != NULL);
    for (uint32_t i = 0; i < cap; i++) hak_free(v[i]);
    check_caches(h, "at the end");
    return NULL;
}

static void test_take_within_end(void **state) {
    (void)state;
    take_t t;
    memset(&t, 0, sizeof t);
    if (!class_4k(&t.cls, &t.req)) skip();
    run_owner(&t.o, take_thread, &t, t.cls, 0, 0);
}

/* ---- flush_after_shrink ----
 * A cache that grew (a refill after a flush doubles its bound) is taken
 * while its thread is idle; the owner's reconcile puts the bound back
 * without moving the cache's end.  The next flush, from a free that found
 * the cache full at the old end, must still leave that free a slot below
 * the end it sets (found by the fuzz build's heap check: "no slot left for
 * the free that called it", cap 4 and 4 kept). */

enum { NSHRINK = 96 };

typedef struct {
    owner_t o;
    unsigned cls;
    size_t req;
} shrink_t;

static void *shrink_thread(void *arg) {
    shrink_t *t = arg;
    unsigned cls = t->cls;
    void *v[NSHRINK];
    hak_heap_t *h = NULL;
    hak_cache_t *c = NULL;
    /* grow: allocate, free (the cache flushes), allocate again (a refill after a flush) */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 24; i++) CHECK((v[i] = hak_malloc(t->req)) != NULL);
        for (int i = 0; i < 24; i++) hak_free(v[i]);
    }
    h = hak_tls_heap;
    c = &h->front.cache[cls];
    uint32_t grown = h->cap[cls];
    CHECK(grown > hak_classes[cls].cache_cap);
    /* live blocks to free after the take, and a few in the cache to take */
    for (int i = 0; i < NSHRINK; i++) CHECK((v[i] = hak_malloc(t->req)) != NULL);
    for (int i = 0; i < 4; i++) hak_free(v[i]);
    CHECK(hak_cache_count(c) >= 2);
    owner_wait(&t->o);   /* idle: the main thread takes all but the top block */
    for (int i = 4; i < NSHRINK; i++) {
        hak_free(v[i]);
        if (c->top > c->end) {
            fprintf(stderr, "free %d: top = end + %td (bound %u, grown %u)\n", i, c->top - c->end, h->cap[cls], grown);
            CHECK(c->top <= c->end);
            break;
        }
    }
    check_caches(h, "at the end");
    return NULL;
}

static void test_flush_after_shrink(void **state) {
    (void)state;
    shrink_t t;
    memset(&t, 0, sizeof t);
    if (!class_4k(&t.cls, &t.req) || !HAK_CFG(IDLE_CACHES)) skip();
    run_owner(&t.o, shrink_thread, &t, t.cls, 2, UINT32_MAX);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_room),
        cmocka_unit_test(test_open_wherever_base),
        cmocka_unit_test(test_take_within_end),
        cmocka_unit_test(test_flush_after_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit: realloc of a large block (32 KiB..1 MiB) in place — it grows into
 * the free slabs right after its span and keeps its address and contents,
 * moves (copying) when those slabs are taken, gives its tail slabs back
 * when it shrinks, and is never resized in place by a thread that does not
 * own its superslab.  SECURE and DEBUG move every large block (their
 * redzones and checked blocks): the in-place cases skip there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/resolve.h"
#include "backend/superslab.h"
#include "box/debug_box.h"
#include "box/secure_box.h"
#include "hakmem.h"
#include "heap/heap.h"

#define KIB ((size_t)1024)

/* In place only without redzones (SECURE: a large block's redzone and
 * request size sit at its end) and outside DEBUG's checked blocks. */
static void need_in_place(void) {
    free(malloc(1));   /* init: reads the profile */
    if (hak_redzone || hak_guard_on()) skip();
}

static void fill(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i += 512) p[i] = (uint8_t)(seed + i / 512);
    p[n - 1] = (uint8_t)seed;
}
static void check(const uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i += 512) assert_int_equal(p[i], (uint8_t)(seed + i / 512));
    assert_int_equal(p[n - 1], (uint8_t)seed);
}

/* Are the slabs from p + from to p + to (64 KiB multiples) all free? */
static bool slabs_after_free(const void *p, size_t from, size_t to) {
    hak_superslab_t *ss = hak_superslab_of(p);
    unsigned first = hak_slab_index(p) + (unsigned)(from >> HAK_SLAB_SHIFT);
    unsigned last = hak_slab_index(p) + (unsigned)(to >> HAK_SLAB_SHIFT);
    if (last > HAK_SLABS) return false;
    for (unsigned i = first; i < last; i++)
        if (!(ss->free_mask >> i & 1)) return false;
    return true;
}

/* Grow 128 KiB -> 1 MiB in 64 KiB steps: in place exactly when the slabs
 * after the span are free, the contents kept either way. */
static void grows_in_place_into_free_slabs(void **state) {
    (void)state;
    need_in_place();
    /* a 1 MiB run freed just before: the 128 KiB block takes its start, and
     * the rest of it is free after the block */
    free(malloc(1024 * KIB));
    uint8_t *p = malloc(128 * KIB);
    assert_non_null(p);
    fill(p, 128 * KIB, 1);
    unsigned in_place = 0;
    for (size_t n = 192 * KIB; n <= 1024 * KIB; n += 64 * KIB) {
        size_t old = malloc_usable_size(p);
        bool free_after = slabs_after_free(p, old, n);
        uint8_t *q = realloc(p, n);
        assert_non_null(q);
        check(q, old, 1);
        if (free_after) { assert_ptr_equal(q, p); in_place++; }
        else assert_ptr_not_equal(q, p);
        assert_int_equal(malloc_usable_size(q), n);
        hak_ptr_t r = hak_resolve(q);
        assert_int_equal(r.kind, HAK_PTR_LARGE);
        assert_int_equal(r.span->nslabs, n >> HAK_SLAB_SHIFT);
        fill(q, n, 1);
        p = q;
    }
    assert_true(in_place >= 10);   /* the setup left the run free: most steps */
    free(p);
}

/* When the slab right after it is taken, the block moves. */
static void moves_when_the_next_slab_is_taken(void **state) {
    (void)state;
    need_in_place();
    free(malloc(1024 * KIB));
    uint8_t *p = malloc(128 * KIB), *blocker = malloc(64 * KIB);
    assert_non_null(p);
    assert_non_null(blocker);
    assert_ptr_equal(blocker, p + 128 * KIB);   /* first fit: right after it */
    fill(p, 128 * KIB, 2);
    uint8_t *q = realloc(p, 256 * KIB);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    check(q, 128 * KIB, 2);
    free(blocker);
    free(q);
}

/* Shrinking keeps the address and gives the tail slabs back. */
static void shrinks_in_place_and_frees_the_tail(void **state) {
    (void)state;
    need_in_place();
    uint8_t *p = malloc(1024 * KIB);
    assert_non_null(p);
    fill(p, 100 * KIB, 3);
    uint8_t *q = realloc(p, 100 * KIB);
    assert_ptr_equal(q, p);
    check(q, 100 * KIB, 3);
    assert_int_equal(malloc_usable_size(q), 128 * KIB);
    assert_true(slabs_after_free(q, 128 * KIB, 1024 * KIB));
    free(q);
}

static void *other_thread_realloc(void *arg) {
    uint8_t *p = arg;
    uint8_t *q = realloc(p, 512 * KIB);
    return q;
}

/* Another thread's block is not resized under a lock it does not hold: it
 * moves, contents kept. */
static void another_threads_block_moves(void **state) {
    (void)state;
    free(malloc(1024 * KIB));
    uint8_t *p = malloc(128 * KIB);
    assert_non_null(p);
    fill(p, 128 * KIB, 4);
    pthread_t t;
    void *q;
    assert_int_equal(pthread_create(&t, NULL, other_thread_realloc, p), 0);
    assert_int_equal(pthread_join(t, &q), 0);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    check(q, 128 * KIB, 4);
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grows_in_place_into_free_slabs),
        cmocka_unit_test(moves_when_the_next_slab_is_taken),
        cmocka_unit_test(shrinks_in_place_and_frees_the_tail),
        cmocka_unit_test(another_threads_block_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

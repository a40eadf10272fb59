/* Unit: superslab carving and the slab lifecycle — spans are carved lazily
 * by a bump cursor, small and large spans have the advertised geometry, and
 * an emptied span goes back to its superslab, an emptied superslab out of
 * the heap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "backend/slabmap.h"
#include "backend/superslab.h"
#include "front/size_class.h"
#include "hakmem.h"
#include "heap/heap.h"

static void small_span_is_carved_lazily(void **state) {
    (void)state;
    hak_trim();
    /* a class this test alone uses (also with DEBUG's 16-byte trailer) */
    size_t size = 7000;
    unsigned cls = hak_class_of(size);
    void *p = malloc(size);
    assert_non_null(p);
    hak_superslab_t *r = hak_superslab_of(p);
    hak_span_t *s = hak_span_of(r, p);
    assert_int_equal(r->magic, HAK_SS_MAGIC);
    assert_int_equal(r->kind, HAK_SS_SLABS);
    assert_int_equal(s->kind, HAK_SLAB_SMALL);
    assert_int_equal(s->cls, cls);
    assert_int_equal(s->block_size, hak_class_size(cls));
    assert_ptr_equal(r->owner, &hak_tls_heap->ss);
    /* only one refill batch has been carved, not the whole span */
    assert_true(s->carved <= hak_classes[cls].batch);
    assert_true(s->carved < s->capacity);
    assert_int_equal(((uint8_t *)p - s->data) % s->block_size, 0);
    assert_int_equal(hak_slabmap_lookup((uintptr_t)p), hak_front_off(cls));
    free(p);
}

static void span_returns_to_superslab_when_empty(void **state) {
    (void)state;
    hak_trim();
    size_t size = 3000;
    enum { N = 200 };
    void *blocks[N];
    for (int i = 0; i < N; i++) { blocks[i] = malloc(size); assert_non_null(blocks[i]); memset(blocks[i], i, size); }
    hak_superslab_t *r = hak_superslab_of(blocks[0]);
    unsigned idx = hak_slab_index(blocks[0]);
    hak_span_t *s = hak_span_of(r, blocks[0]);
    assert_true(s->used > 0);
    assert_int_equal(r->free_mask & (1u << idx), 0);
    for (int i = 0; i < N; i++) free(blocks[i]);
    unsigned cls = hak_class_of(size);
    hak_trim();   /* flushes this thread's caches and releases empty spans */
    /* no span of the class is left; the slab is free or serves another class */
    assert_null(hak_tls_heap->avail[cls].first);
    if (hak_owns(r) && r->spans[idx].kind != HAK_SLAB_FREE)
        assert_int_not_equal(hak_span_of(r, (uint8_t *)r + ((uintptr_t)idx << HAK_SLAB_SHIFT))->cls, cls);
    else if (hak_owns(r))
        assert_int_equal(hak_slabmap_lookup((uintptr_t)r + ((uintptr_t)idx << HAK_SLAB_SHIFT)), 0);
}

static void large_span_geometry(void **state) {
    (void)state;
    size_t size = 100 * 1024;
    void *p = malloc(size);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % HAK_SLAB_SIZE, 0);
    hak_superslab_t *r = hak_superslab_of(p);
    unsigned idx = hak_slab_index(p);
    assert_true(idx >= 1);
    hak_span_t *s = &r->spans[idx];
    assert_int_equal(s->kind, HAK_SLAB_LARGE);
    assert_int_equal(s->nslabs, 2);
    assert_int_equal(r->spans[idx + 1].kind, HAK_SLAB_CONT);
    assert_ptr_equal(hak_span_of(r, (uint8_t *)p + HAK_SLAB_SIZE), s);   /* the second slab leads to the head */
    assert_true(malloc_usable_size(p) >= size);
    memset(p, 0x5a, malloc_usable_size(p));
    free(p);
    assert_int_equal(r->spans[idx].kind, HAK_SLAB_FREE);   /* r stays: this thread holds other blocks */
}

/* Freeing everything and trimming gives every superslab back. */
static void retained_superslabs_go_to_zero_after_free_all_and_trim(void **state) {
    (void)state;
    enum { N = 20000 };
    void **v = calloc(N, sizeof *v);
    for (int i = 0; i < N; i++) v[i] = malloc((size_t)(16 + (i * 37) % 4000));
    hak_stats_t before, after;
    hak_stats_get(&before);
    for (int i = 0; i < N; i++) free(v[i]);
    free(v);
    assert_int_equal(hak_trim(), 1);
    hak_stats_get(&after);
    assert_true(after.superslabs_released > before.superslabs_released);
    /* what stays mapped is at most the superslabs this thread's few live
     * blocks (cmocka's own) sit in */
    assert_true(after.superslabs_mapped <= 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_span_is_carved_lazily),
        cmocka_unit_test(span_returns_to_superslab_when_empty),
        cmocka_unit_test(large_span_geometry),
        cmocka_unit_test(retained_superslabs_go_to_zero_after_free_all_and_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

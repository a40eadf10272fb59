/* Unit: the size-class table — every size maps to the smallest class that
 * fits, the fast table agrees with the definition, and waste is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "box/secure_box.h"
#include "front/size_class.h"
#include "config/config.h"
#include "hakmem.h"

static int setup(void **state) {
    (void)state;
    hak_free(hak_malloc(1));   /* the first allocation initialises the tables */
    return 0;
}

static void every_size_maps_to_smallest_fitting_class(void **state) {
    (void)state;
    for (size_t n = 0; n <= HAK_SMALL_MAX; n++) {
        unsigned c = hak_class_of(n);
        assert_true(c < HAK_NCLASSES);
        assert_true(hak_class_size(c) >= n);
        if (c > 0) assert_true(hak_class_size(c - 1) < n);
        /* The fast path's table: the class for n plus the secure box's
         * redzone (0 unless HAKMEM_PROFILE=SECURE), so n bytes stay usable. */
        if (n <= HAK_TINY_MAX) {
            unsigned t = hak_tiny_class_of(n);
            assert_int_equal(t, hak_class_of(hak_block_need(n)));
            assert_true(hak_class_size(t) - hak_redzone >= n);
        }
        assert_int_equal(hak_class_block(c), hak_class_size(c));
    }
    assert_int_equal(hak_class_of(HAK_SMALL_MAX), HAK_NCLASSES - 1);
}

static void classes_increase_and_keep_16_byte_alignment(void **state) {
    (void)state;
    assert_int_equal(hak_class_size(0), 8);
    for (unsigned c = 1; c < HAK_NCLASSES; c++) {
        assert_true(hak_class_size(c) > hak_class_size(c - 1));
        assert_int_equal(hak_class_size(c) % 16, 0);
        assert_int_equal(hak_class_of(hak_class_size(c)), c);
    }
}

/* Worst internal waste of a class: a request one byte above the previous
 * class.  16-byte steps up to 128 bytes waste at most 15 bytes; beyond,
 * eight classes per power of two keep it under a ninth (11.1%; four, as
 * mimalloc has, would allow a fifth). */
static void worst_waste_per_class_is_bounded(void **state) {
    (void)state;
    for (unsigned c = 1; c < HAK_NCLASSES; c++) {
        size_t size = hak_class_size(c), smallest = hak_class_size(c - 1) + 1;
        size_t waste = size - smallest;
        if (size <= 128) assert_true(waste <= 15);
        else assert_true(waste * 9 < size);
    }
}

/* A class that is a multiple of a power of two a holds every request
 * rounded up to a multiple of a exactly when its class has that size: the
 * aligned fast path's promise (tiny_front.h), checked for every alignment
 * up to a page and every multiple of it up to HAK_SMALL_MAX. */
static void rounded_requests_land_on_aligned_classes(void **state) {
    (void)state;
    for (size_t a = 16; a <= 4096; a <<= 1)
        for (size_t n = a; n <= HAK_SMALL_MAX; n += a)
            assert_int_equal(hak_class_size(hak_class_of(n)) % a, 0);
}

static void spans_waste_little_and_caches_are_bounded(void **state) {
    (void)state;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        const hak_class_info_t *ci = &hak_classes[c];
        size_t span = (size_t)ci->shape.nslabs * HAK_SLAB_SIZE;
        assert_true(ci->shape.nslabs >= 1 && ci->shape.nslabs <= 8);
        assert_true(span / ci->shape.block_size >= 2);
        assert_true((span % ci->shape.block_size) * 16 <= span);
        if (ci->shape.block_size <= HAK_TINY_MAX) assert_int_equal(ci->shape.nslabs, 1);
        assert_true(ci->cache_cap >= 2 && ci->cache_cap <= 128);
        assert_true(ci->batch >= 1 && ci->batch <= ci->cache_cap);
        /* a cache holds about 32 KiB of blocks, or at most 4 */
        assert_true((size_t)ci->cache_cap * ci->shape.block_size <= 128 * 1024);
    }
}

/* All of one thread's caches together stay within HAKMEM_TCACHE_MAX (up to
 * the floor of two blocks per class, which every cache keeps). */
static void caches_fit_the_tcache_budget(void **state) {
    (void)state;
    size_t total = 0, floor = 0;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        total += (size_t)hak_classes[c].cache_cap * hak_class_block(c);
        floor += 2 * (size_t)hak_class_block(c);
    }
    assert_true(total <= (size_t)HAK_CFG(TCACHE_MAX) + floor);
    if ((size_t)HAK_CFG(TCACHE_MAX) >= (3u << 20)) {
        assert_true(total <= (size_t)HAK_CFG(TCACHE_MAX));
        /* and the default budget scales no cache down: the classes up to
         * 256 bytes, where most allocations are, keep 128 blocks */
        for (unsigned c = 0; hak_class_block(c) <= 256; c++) assert_int_equal(hak_classes[c].cache_cap, 128);
    }
}

/* Each class's cache has slots of its own in a heap's slot store: a window
 * of its first bound (cache_cap), the windows side by side, and after them
 * a growth region of its largest bound (max_cap) for each class whose cache
 * may grow.  Caches that overlapped would hand one block to two mallocs. */
static void cache_slots_are_disjoint(void **state) {
    (void)state;
    size_t next = 0;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        const hak_class_info_t *ci = &hak_classes[c];
        assert_int_equal(ci->slot_first, next);
        assert_true(ci->max_cap >= ci->cache_cap);
        next += ci->cache_cap;
    }
    assert_true(next <= UINT16_MAX);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        const hak_class_info_t *ci = &hak_classes[c];
        if (ci->max_cap == ci->cache_cap) continue;
        assert_int_equal(ci->grow_first, next);
        next += ci->max_cap;
    }
    assert_int_equal(hak_cache_slot_count, next);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_size_maps_to_smallest_fitting_class),
        cmocka_unit_test(classes_increase_and_keep_16_byte_alignment),
        cmocka_unit_test(worst_waste_per_class_is_bounded),
        cmocka_unit_test(rounded_requests_land_on_aligned_classes),
        cmocka_unit_test(spans_waste_little_and_caches_are_bounded),
        cmocka_unit_test(caches_fit_the_tcache_budget),
        cmocka_unit_test(cache_slots_are_disjoint),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

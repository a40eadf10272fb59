/* Unit: the segment map resolves pointers to region headers without
 * dereferencing them, and says no for everything it was not told about. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "hakmem.h"
#include "backend/segmap.h"

/* An address range nobody maps in these tests (the map only does arithmetic). */
#define FAKE_BASE ((uintptr_t)0x500000000000ull)

static void region_resolves_from_every_segment(void **state) {
    (void)state;
    size_t segs = 5;
    hak_segmap_set(FAKE_BASE, segs * HAK_SUPERSLAB_SIZE);
    for (size_t i = 0; i < segs; i++) {
        const void *p = (const void *)(FAKE_BASE + i * HAK_SUPERSLAB_SIZE + 12345);
        assert_ptr_equal(hak_segmap_lookup(p), (void *)FAKE_BASE);
    }
    assert_int_equal(hak_segmap_get(FAKE_BASE), 1);
    assert_int_equal(hak_segmap_get(FAKE_BASE + HAK_SUPERSLAB_SIZE), 2);
    assert_null(hak_segmap_lookup((const void *)(FAKE_BASE + segs * HAK_SUPERSLAB_SIZE)));
    assert_null(hak_segmap_lookup((const void *)(FAKE_BASE - 1)));
    hak_segmap_clear(FAKE_BASE, segs * HAK_SUPERSLAB_SIZE);
    for (size_t i = 0; i < segs; i++)
        assert_null(hak_segmap_lookup((const void *)(FAKE_BASE + i * HAK_SUPERSLAB_SIZE)));
}

/* Regions longer than 254 segments step back in hops of 254. */
static void long_region_resolves_past_the_byte_limit(void **state) {
    (void)state;
    size_t segs = 700;
    hak_segmap_set(FAKE_BASE, segs * HAK_SUPERSLAB_SIZE);
    size_t probes[] = {0, 1, 253, 254, 255, 508, 509, 699};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const void *p = (const void *)(FAKE_BASE + probes[i] * HAK_SUPERSLAB_SIZE + 7);
        assert_ptr_equal(hak_segmap_lookup(p), (void *)FAKE_BASE);
    }
    hak_segmap_clear(FAKE_BASE, segs * HAK_SUPERSLAB_SIZE);
    assert_null(hak_segmap_lookup((const void *)(FAKE_BASE + 699 * HAK_SUPERSLAB_SIZE)));
}

static void foreign_and_out_of_range_pointers_are_not_ours(void **state) {
    (void)state;
    int local = 0;
    static int in_data;
    assert_null(hak_segmap_lookup(&local));
    assert_null(hak_segmap_lookup(&in_data));
    assert_null(hak_segmap_lookup(NULL));
    assert_null(hak_segmap_lookup((const void *)~(uintptr_t)0));
    assert_null(hak_segmap_lookup((const void *)((uintptr_t)1 << 47)));
    assert_int_equal(hak_owns(&local), 0);
}

static void allocations_of_every_tier_are_ours(void **state) {
    (void)state;
    size_t sizes[] = {1, 100, 1024, 5000, 32768, 40000, 1 << 20, (1 << 20) + 1, 8 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        assert_non_null(p);
        assert_true(hak_owns(p));
        assert_non_null(hak_segmap_lookup(p));
        assert_non_null(hak_segmap_lookup(p + sizes[i] - 1));
        free(p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_resolves_from_every_segment),
        cmocka_unit_test(long_region_resolves_past_the_byte_limit),
        cmocka_unit_test(foreign_and_out_of_range_pointers_are_not_ours),
        cmocka_unit_test(allocations_of_every_tier_are_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit: a thread whose working set of one size is larger than its cache's
 * first bound (heap/cache.c, "growing caches") ends up serving it from the
 * cache alone: the bound grows, and a flush of the grown cache sends back
 * one first batch, not half of it.
 *
 * - working_set_1k: rounds of 100 blocks of 1,000 bytes allocated, written
 *   and freed (half in allocation order, half in reverse: bench_bulk's
 *   shape).  After a few rounds every round starts with at least 100 blocks
 *   cached, so its mallocs take no refill.  When a flush kept half of the
 *   bound (128), 64 blocks were kept and 64 refilled every round.
 * - working_set_500: 400 blocks of 500 bytes (200 KiB): the bound must grow
 *   past 128 KiB of blocks, which it could not before.
 * - working_set_1k_large: 400 blocks of 1,000 bytes: the bound grows to
 *   512, less than twice the working set, so keeping half at a flush would
 *   keep too few.
 * Each runs only where the thread's growth budget (a quarter of
 * HAKMEM_TCACHE_MAX) holds the bound the cache must grow to (not LEAN's);
 * in DEBUG, whose checked blocks' caches keep their first bound, only that
 * is asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "front/size_class.h"
#include "heap/heap.h"

enum { ROUNDS = 24, WARM = 8, NMAX = 400 };

static unsigned class_of_block(void *p) { return hak_span_of(hak_superslab_of(p), p)->cls; }

static uint32_t cached(unsigned cls) {
    hak_cache_t *c = &hak_tls_heap->front.cache[cls];
    return (uint32_t)(c->top - c->base);
}

static void run(size_t size, unsigned n) {
    static void *v[NMAX];
    void *probe = malloc(size);
    assert_non_null(probe);
    unsigned cls = class_of_block(probe);
    free(probe);
    const hak_class_info_t *ci = &hak_classes[cls];
    /* the bound it grows to: doubling from the first, up to the most */
    uint32_t cap = ci->cache_cap;
    while (cap < n + ci->batch && cap < ci->max_cap) cap = cap * 2 > ci->max_cap ? ci->max_cap : cap * 2;
    if ((size_t)(cap - ci->cache_cap) * ci->shape.block_size > (size_t)HAK_CFG(TCACHE_MAX) / 4)
        skip();   /* this profile's caches cannot hold the working set */
    unsigned short_rounds = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint32_t at_start = cached(cls);
        if (r >= WARM && at_start < n) short_rounds++;
        for (unsigned i = 0; i < n; i++) {
            v[i] = malloc(size);
            assert_non_null(v[i]);
            memset(v[i], (int)(r + i), size);
        }
        for (unsigned i = 0; i < n / 2; i++) {
            assert_int_equal(((unsigned char *)v[i])[size - 1], (unsigned char)(r + i));
            free(v[i]);
        }
        for (unsigned i = n; i-- > n / 2;) {
            assert_int_equal(((unsigned char *)v[i])[size - 1], (unsigned char)(r + i));
            free(v[i]);
        }
    }
    print_message("class %u (%u B): bound %u (first %u, most %u), %u cached, %u of %u rounds short\n", cls,
                  ci->shape.block_size, hak_tls_heap->cap[cls], ci->cache_cap, ci->max_cap, cached(cls), short_rounds,
                  ROUNDS - WARM);
    if (hak_heaps_hooks.checked) {   /* checked blocks' caches keep their first bound */
        assert_int_equal(hak_tls_heap->cap[cls], ci->cache_cap);
        return;
    }
    assert_true(hak_tls_heap->cap[cls] >= n + ci->batch);
    assert_int_equal(short_rounds, 0);
}

static void working_set_1k(void **state) { (void)state; run(1000, 100); }
static void working_set_500(void **state) { (void)state; run(500, 400); }
static void working_set_1k_large(void **state) { (void)state; run(1000, 400); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(working_set_1k),
        cmocka_unit_test(working_set_500),
        cmocka_unit_test(working_set_1k_large),
    };
    return cmocka_run_group_tests_name("cache_grow", tests, NULL, NULL);
}

/* Unit: a size class the thread stopped using gives its cached blocks back
 * when the thread needs new slabs (heap/cache.c, "idle classes"), so that
 * the spans those blocks kept from emptying can serve other classes.
 *
 * - idle_class_flushed: 2,000 blocks of 1,000 bytes are freed (the cache
 *   keeps some: they pin their spans); then 4,000 blocks of 3,000 bytes are
 *   allocated, which takes hundreds of refills and new spans.  By then the
 *   first class's cache must be empty.  Before the change it kept its
 *   blocks until the thread used the class again, trimmed or exited.
 * - active_class_kept: the same, with a third class used all along (a
 *   block allocated and an older one freed between the large mallocs, so
 *   that its cache's top block changes every time): its cache is not
 *   flushed (the block at its bottom stays where it was; a flush and the
 *   refill after it would put another there), only the idle one's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "front/size_class.h"
#include "heap/heap.h"

enum { NA = 2000, NB = 4000, NC = 64 };

/* Blocks stored here are used, so the compiler keeps their malloc and free. */
static void *volatile sink;

static unsigned class_of_block(void *p) { return hak_span_of(hak_superslab_of(p), p)->cls; }

static uint32_t cached(unsigned cls) {
    hak_cache_t *c = &hak_tls_heap->front.cache[cls];
    return (uint32_t)(c->top - c->base);
}

static void run(int with_active) {
    static void *a[NA], *b[NB], *c[NC];
    for (int i = 0; i < NA; i++) { a[i] = malloc(1000); assert_non_null(a[i]); memset(a[i], 1, 1000); }
    unsigned ca = class_of_block(a[0]);
    for (int i = 0; i < NA; i++) free(a[i]);
    if (cached(ca) == 0) skip();   /* a profile whose frees bypass the cache */
    unsigned cc = 0;
    void *bottom = NULL;
    if (with_active) {
        for (int i = 0; i < NC; i++) { c[i] = malloc(200); assert_non_null(c[i]); }
        cc = class_of_block(c[0]);
        assert_int_not_equal(cc, ca);
        void *x = malloc(200), *y = malloc(200);
        sink = x;
        sink = y;
        free(x);
        free(y);   /* at least two cached: the bottom one is not the one popped */
        assert_true(cached(cc) >= 2);
        bottom = hak_tls_heap->front.cache[cc].base[0];
    }
    for (int i = 0; i < NB; i++) {
        b[i] = malloc(3000);
        assert_non_null(b[i]);
        memset(b[i], 2, 3000);
        if (with_active) {   /* the class stays in use: its top block changes */
            void *q = malloc(200);
            assert_non_null(q);
            sink = q;
            free(c[i % NC]);
            c[i % NC] = q;
        }
    }
    assert_int_not_equal(class_of_block(b[0]), ca);
    assert_int_equal(cached(ca), 0);
    if (with_active) assert_ptr_equal(hak_tls_heap->front.cache[cc].base[0], bottom);
    for (int i = 0; i < NB; i++) free(b[i]);
    if (with_active)
        for (int i = 0; i < NC; i++) free(c[i]);
}

static void idle_class_flushed(void **state) { (void)state; run(0); }
static void active_class_kept(void **state) { (void)state; run(1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_class_flushed),
        cmocka_unit_test(active_class_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

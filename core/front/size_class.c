/* size_class.c — fills the tiny lookup table and the class table from
 * hak_class_of(), so there is one source of truth for the classes.
 * Runs once at init, after the config snapshot (HAKMEM_TCACHE_MAX). */
#include "front/size_class.h"

#include "box/secure_box.h"
#include "config/config.h"


/* Span length: the fewest slabs (up to 8) that leave at most 1/16 of the
 * span as tail waste, so large small classes do not waste half a slab. */
static uint8_t span_slabs_for(size_t bs) {
    for (unsigned k = 1; k <= 8; k++) {
        size_t span = k * HAK_SLAB_SIZE;
        if (span / bs >= 2 && (span % bs) * 16 <= span) return (uint8_t)k;
    }
    return 8;
}

void hak_size_classes_init(void) {
    for (size_t n = 0; n <= HAK_TINY_MAX; n++)
        hak_tiny_off[n] = hak_front_off(hak_class_of(hak_block_need(n)));
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        size_t bs = hak_class_size(c);
        /* Cache bound: about 32 KiB of blocks per class, 4..128 blocks; the
         * batch is half, so a refill or flush amortises one slow call.  The
         * 73 classes sum to 2.7 MiB, within the default HAKMEM_TCACHE_MAX
         * (3 MiB), so that by default no cache is scaled down below. */
        size_t cap = (32 * 1024) / bs;
        if (cap > 128) cap = 128;
        if (cap < 4) cap = 4;
        hak_span_shape_t *sh = &hak_classes[c].shape;
        sh->block_size = (uint32_t)bs;
        sh->div_magic = ((1ull << 40) + bs - 1) / bs;
        sh->nslabs = span_slabs_for(bs);
        sh->map_value = hak_front_off(c);   /* free's fast path adds it to the front */
        hak_classes[c].cache_cap = (uint16_t)cap;
        hak_classes[c].batch = (uint16_t)(cap / 2);
    }
    /* HAKMEM_TCACHE_MAX bounds the bytes one thread's caches can hold:
     * scale every cap down by the same factor until the sum fits. */
    size_t total = 0, budget = (size_t)HAK_CFG(TCACHE_MAX);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) total += (size_t)hak_classes[c].cache_cap * hak_class_block(c);
    for (unsigned c = 0; total > budget && c < HAK_NCLASSES; c++) {
        hak_class_info_t *ci = &hak_classes[c];
        size_t cap = (size_t)ci->cache_cap * budget / total;
        if (cap < 2) cap = 2;   /* a batch of one still amortises the slow path */
        ci->cache_cap = (uint16_t)cap;
        ci->batch = (uint16_t)(cap / 2);
    }
    /* A cache may grow to hold up to GROW_BYTES of blocks, 2048 at the
     * most (heap/cache.c, "growing caches"); its slots are reserved for it,
     * and only touched as it grows.  128 KiB left bench_bulk's working sets
     * of 200-400 KiB of one size (400 blocks of 512 B or 1 KiB) going
     * through a flush and a refill every round, 1.4-1.6x tcmalloc's time;
     * a thread's growth stays within a quarter of HAKMEM_TCACHE_MAX
     * whatever this bound. */
    enum { GROW_BYTES = 512 * 1024, GROW_SLOTS = 2048 };
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        hak_class_info_t *ci = &hak_classes[c];
        size_t max = GROW_BYTES / ci->shape.block_size;
        if (max > GROW_SLOTS) max = GROW_SLOTS;
        if (max < ci->cache_cap) max = ci->cache_cap;
        ci->max_cap = (uint16_t)max;
    }
    /* A heap's slot store: first every class's first-bound window, side by
     * side, then the growth regions of the classes that may grow.  A cache
     * moves to its growth region when its bound grows and back when it is
     * put back (heap/cache.c cache_rebase), so the slots a thread touches
     * for the classes it uses lie on a few pages (each class a region of
     * max_cap slots had one page or more of its own: 168 KiB of a heap
     * resident for 16..1024-byte blocks). */
    uint32_t slot = 0;
    for (unsigned c = 0; c < HAK_NCLASSES; slot += hak_classes[c++].cache_cap) hak_classes[c].slot_first = (uint16_t)slot;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        hak_classes[c].grow_first = slot;
        if (hak_classes[c].max_cap > hak_classes[c].cache_cap) slot += hak_classes[c].max_cap;
    }
    hak_cache_slot_count = slot;
}

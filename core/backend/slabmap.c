/* slabmap.c — the slab map's windows: giving one its table, writing
 * entries. */
#include "backend/slabmap.h"

#include "backend/os.h"
#include "box/verbose_box.h"

#define TABLE_BYTES (HAK_SLABMAP_WINDOW_ENTRIES * sizeof(uint64_t))

HAK_HIDDEN uint64_t hak_slabmap_zero[HAK_SLABMAP_WINDOW_ENTRIES];

static struct {
    /* The first level: what fronts copy (biased pointers, as in a front). */
    const uint64_t *_Atomic level1[HAK_SLABMAP_WINDOWS];
    hak_slabmap_window_fn_t opened;
    bool refuse;                           /* hak_slabmap_refuse_tables */
} slabmap = {.level1 = {HAK_SLABMAP_ZERO_LEVEL1}};

void hak_slabmap_init(hak_slabmap_window_fn_t opened) { slabmap.opened = opened; }

void hak_slabmap_refuse_tables(bool refuse) { slabmap.refuse = refuse; }

void hak_slabmap_copy(const uint64_t **level1) {
    /* Twice: a window opened while the first pass ran may have been written
     * into level1 by its hook and then overwritten by this pass's older
     * value; the second pass reads it after that. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t w = 0; w < HAK_SLABMAP_WINDOWS; w++)
            __atomic_store_n(&level1[w], atomic_load_explicit(&slabmap.level1[w], memory_order_acquire), __ATOMIC_RELAXED);
}

static bool window_open(size_t w) {
    return atomic_load_explicit(&slabmap.level1[w], memory_order_acquire) != HAK_SLABMAP_BIASED(hak_slabmap_zero, w);
}

uint64_t hak_slabmap_lookup(uintptr_t a) {
    if ((a >> HAK_ADDR_BITS)) return 0;
    const uint64_t *t = atomic_load_explicit(&slabmap.level1[a >> HAK_SLABMAP_WINDOW_SHIFT], memory_order_acquire);
    return __atomic_load_n(&t[a >> HAK_SLAB_SHIFT], __ATOMIC_RELAXED);
}

const uint64_t *hak_slabmap_table(size_t w) {
    if (w >= HAK_SLABMAP_WINDOWS || !window_open(w)) return NULL;
    return atomic_load_explicit(&slabmap.level1[w], memory_order_relaxed) + (w << (HAK_SLABMAP_WINDOW_SHIFT - HAK_SLAB_SHIFT));
}

bool hak_slabmap_open(uintptr_t base) {
    size_t w = base >> HAK_SLABMAP_WINDOW_SHIFT;
    if (w >= HAK_SLABMAP_WINDOWS) return false;
    if (HAK_LIKELY(window_open(w))) return true;
    uint64_t *t = slabmap.refuse ? NULL : hak_os_reserve_rw(TABLE_BYTES);
    if (!t) {
        hak_verbose_event("slab map table refused by the OS: these superslabs' frees take the slow path; window", w);
        return false;
    }
    const uint64_t *zero = HAK_SLABMAP_BIASED(hak_slabmap_zero, w), *mine = HAK_SLABMAP_BIASED(t, w);
    /* Two threads may open one window at once: the first table stays. */
    if (!atomic_compare_exchange_strong(&slabmap.level1[w], &zero, mine)) {
        hak_os_unreserve(t, TABLE_BYTES);
        return true;
    }
    if (slabmap.opened) slabmap.opened(w, mine);
    return true;
}

void hak_slabmap_set(uintptr_t slab, uint64_t value) {
    size_t w = slab >> HAK_SLABMAP_WINDOW_SHIFT;
    if (w >= HAK_SLABMAP_WINDOWS || !window_open(w)) return;
    const uint64_t *t = atomic_load_explicit(&slabmap.level1[w], memory_order_relaxed);
    __atomic_store_n((uint64_t *)&t[slab >> HAK_SLAB_SHIFT], value, __ATOMIC_RELAXED);
}

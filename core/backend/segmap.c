/* segmap.c — setting, clearing and resolving the segment map. */
#include "backend/segmap.h"

#include "backend/os.h"

#define TABLE_BYTES HAK_SEGMAP_WINDOW_ENTRIES

HAK_HIDDEN _Atomic(_Atomic uint8_t *) hak_segmap[HAK_SEGMAP_WINDOWS];

static _Atomic uint8_t *entry(uintptr_t seg) {
    return &atomic_load_explicit(&hak_segmap[seg >> (HAK_SEGMAP_WINDOW_SHIFT - HAK_SUPERSLAB_SHIFT)],
                                 memory_order_acquire)[seg & (HAK_SEGMAP_WINDOW_ENTRIES - 1)];
}

/* Window w's table, made if needed; NULL when the OS refused it. */
static _Atomic uint8_t *window(size_t w) {
    _Atomic uint8_t *t = atomic_load_explicit(&hak_segmap[w], memory_order_acquire);
    if (HAK_LIKELY(t)) return t;
    _Atomic uint8_t *mine = hak_os_reserve_rw(TABLE_BYTES);
    if (!mine) return NULL;
    /* Two threads may make one at once: the first table stays. */
    if (!atomic_compare_exchange_strong(&hak_segmap[w], &t, mine)) {
        hak_os_unreserve((void *)mine, TABLE_BYTES);
        return t;
    }
    return mine;
}

bool hak_segmap_set(uintptr_t base, size_t size) {
    size_t first = base >> HAK_SUPERSLAB_SHIFT;
    size_t n = (size + HAK_SUPERSLAB_SIZE - 1) >> HAK_SUPERSLAB_SHIFT;
    if ((base >> HAK_ADDR_BITS) || n == 0 || ((first + n - 1) >> (HAK_ADDR_BITS - HAK_SUPERSLAB_SHIFT))) return false;
    size_t shift = HAK_SEGMAP_WINDOW_SHIFT - HAK_SUPERSLAB_SHIFT;
    for (size_t w = first >> shift; w <= (first + n - 1) >> shift; w++)
        if (!window(w)) return false;
    /* Continuations first, the header last: a lookup that sees the header
     * finds every superslab of the mapping marked. */
    for (size_t i = n; i-- > 0;) {
        uint8_t v = (uint8_t)(i + 1 < 255 ? i + 1 : 255);
        atomic_store_explicit(entry(first + i), v, memory_order_release);
    }
    return true;
}

void hak_segmap_clear(uintptr_t base, size_t size) {
    size_t first = base >> HAK_SUPERSLAB_SHIFT;
    size_t n = (size + HAK_SUPERSLAB_SIZE - 1) >> HAK_SUPERSLAB_SHIFT;
    for (size_t i = 0; i < n; i++)
        if (atomic_load_explicit(&hak_segmap[(first + i) >> (HAK_SEGMAP_WINDOW_SHIFT - HAK_SUPERSLAB_SHIFT)], memory_order_relaxed))
            atomic_store_explicit(entry(first + i), 0, memory_order_release);
}

hak_superslab_t *hak_segmap_lookup(const void *p) {
    uintptr_t a = (uintptr_t)p;
    unsigned v = hak_segmap_get(a);
    if (v == 0) return NULL;
    uintptr_t seg = a >> HAK_SUPERSLAB_SHIFT;
    while (v != 1) {
        size_t back = v == 255 ? 254 : v - 1;
        if (back > seg) return NULL;
        seg -= back;
        v = hak_segmap_get(seg << HAK_SUPERSLAB_SHIFT);
        if (v == 0) return NULL;
    }
    return (hak_superslab_t *)(seg << HAK_SUPERSLAB_SHIFT);
}

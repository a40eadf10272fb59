/* segmap.c — setting, clearing and resolving the segment map. */
#include "backend/segmap.h"

HAK_HIDDEN _Atomic uint8_t hak_segmap[HAK_SEGMAP_ENTRIES];

void hak_segmap_set(uintptr_t base, size_t size) {
    size_t first = base >> HAK_SUPERSLAB_SHIFT;
    size_t n = (size + HAK_SUPERSLAB_SIZE - 1) >> HAK_SUPERSLAB_SHIFT;
    for (size_t i = 0; i < n; i++) {
        uint8_t v = (uint8_t)(i + 1 < 255 ? i + 1 : 255);
        atomic_store_explicit(&hak_segmap[first + i], v, memory_order_release);
    }
}

void hak_segmap_clear(uintptr_t base, size_t size) {
    size_t first = base >> HAK_SUPERSLAB_SHIFT;
    size_t n = (size + HAK_SUPERSLAB_SIZE - 1) >> HAK_SUPERSLAB_SHIFT;
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&hak_segmap[first + i], 0, memory_order_release);
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
        v = atomic_load_explicit(&hak_segmap[seg], memory_order_acquire);
        if (v == 0) return NULL;
    }
    return (hak_superslab_t *)(seg << HAK_SUPERSLAB_SHIFT);
}

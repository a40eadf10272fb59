/* slabmap.c — reserving the slab map, opening its pages, writing entries. */
#include "slabmap.h"

#include <sys/mman.h>

#include "box/os_box.h"
#include "box/verbose_box.h"

#define MAP_BYTES (HAK_SLABMAP_ENTRIES * sizeof(uint16_t))
#define MAP_PAGES (MAP_BYTES / HAK_PAGE)

/* What fronts point at before init or without a map: one entry, index mask
 * 0, so every address reads entry 0. */
HAK_HIDDEN uint16_t hak_slabmap_none[1];
static uint16_t *map;                       /* NULL until reserved */
static _Atomic uint64_t page_open[MAP_PAGES / 64];   /* writable pages of map */

void hak_slabmap_front(hak_front_t *f) {
    f->head.top = f->head.base = map ? (void **)(void *)map : (void **)(void *)hak_slabmap_none;
    f->head.end = NULL;
    f->head.flush_stamp = map ? HAK_SLABMAP_ENTRIES - 1 : 0;
}

void hak_slabmap_init(void) {
    map = hak_os_reserve(MAP_BYTES);
    if (!map) hak_verbose_event("no slab map (the OS refused its reservation): every free takes the slow path; bytes", MAP_BYTES);
}

static size_t page_of(uintptr_t base) { return ((base >> HAK_SLAB_SHIFT) * sizeof(uint16_t)) / HAK_PAGE; }

static bool page_is_open(size_t pg) {
    return atomic_load_explicit(&page_open[pg / 64], memory_order_acquire) >> (pg % 64) & 1;
}

bool hak_slabmap_open(uintptr_t base) {
    if (!map || (base >> HAK_ADDR_BITS)) return false;
    size_t pg = page_of(base);   /* a superslab's 32 entries never straddle a page */
    if (page_is_open(pg)) return true;
    /* Two threads may open one page at once: both calls succeed. */
    if (hak_os_protect_rw((uint8_t *)map + pg * HAK_PAGE, HAK_PAGE) != 0) {
        hak_verbose_event("slab map page refused by the OS: these superslabs' frees take the slow path; page", pg);
        return false;
    }
    atomic_fetch_or_explicit(&page_open[pg / 64], 1ull << (pg % 64), memory_order_release);
    return true;
}

void hak_slabmap_set(const hak_region_t *r, unsigned idx, unsigned fc) {
    uintptr_t slab = (uintptr_t)r + ((uintptr_t)idx << HAK_SLAB_SHIFT);
    if (!map || (slab >> HAK_ADDR_BITS) || !page_is_open(page_of(slab))) return;
    __atomic_store_n(&map[slab >> HAK_SLAB_SHIFT], fc < HAK_NCLASSES ? hak_front_off(fc) : 0, __ATOMIC_RELAXED);
}

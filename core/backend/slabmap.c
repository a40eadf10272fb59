/* slabmap.c — reserving the slab map, opening its pages, writing entries. */
#include "backend/slabmap.h"

#include <sys/mman.h>

#include "backend/os.h"
#include "box/verbose_box.h"

#define MAP_BYTES (HAK_SLABMAP_ENTRIES * sizeof(uint16_t))
#define MAP_PAGES (MAP_BYTES / HAK_PAGE)

HAK_HIDDEN const uint16_t hak_slabmap_none[1];
static struct {
    uint16_t *map;                               /* NULL until reserved */
    _Atomic uint64_t page_open[MAP_PAGES / 64];  /* writable pages of map */
} slabmap;

const uint16_t *hak_slabmap_base(void) { return slabmap.map ? slabmap.map : hak_slabmap_none; }
uint64_t hak_slabmap_mask(void) { return slabmap.map ? HAK_SLABMAP_ENTRIES - 1 : 0; }

void hak_slabmap_init(void) {
    slabmap.map = hak_os_reserve(MAP_BYTES);
    if (!slabmap.map) hak_verbose_event("no slab map (the OS refused its reservation): every free takes the slow path; bytes", MAP_BYTES);
}

static size_t page_of(uintptr_t a) { return ((a >> HAK_SLAB_SHIFT) * sizeof(uint16_t)) / HAK_PAGE; }

static bool page_is_open(size_t pg) {
    return atomic_load_explicit(&slabmap.page_open[pg / 64], memory_order_acquire) >> (pg % 64) & 1;
}

bool hak_slabmap_open(uintptr_t base) {
    if (!slabmap.map || (base >> HAK_ADDR_BITS)) return false;
    size_t pg = page_of(base);   /* a superslab's 32 entries never straddle a page */
    if (page_is_open(pg)) return true;
    /* Two threads may open one page at once: both calls succeed. */
    if (hak_os_protect_rw((uint8_t *)slabmap.map + pg * HAK_PAGE, HAK_PAGE) != 0) {
        hak_verbose_event("slab map page refused by the OS: these superslabs' frees take the slow path; page", pg);
        return false;
    }
    atomic_fetch_or_explicit(&slabmap.page_open[pg / 64], 1ull << (pg % 64), memory_order_release);
    return true;
}

void hak_slabmap_set(uintptr_t slab, uint16_t value) {
    if (!slabmap.map || (slab >> HAK_ADDR_BITS) || !page_is_open(page_of(slab))) return;
    __atomic_store_n(&slabmap.map[slab >> HAK_SLAB_SHIFT], value, __ATOMIC_RELAXED);
}

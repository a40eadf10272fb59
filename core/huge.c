/* huge.c — huge blocks in their own mappings. */
#include "huge.h"

#include <errno.h>
#include <string.h>

#include "box/os_box.h"
#include "segmap.h"

/* Mapping length for a block of size bytes at data_off, or 0 on overflow. */
static size_t huge_map_size(size_t size, size_t data_off) {
    if (size == 0) size = 1;   /* the block must lie inside the mapping */
    size_t need = data_off + size;
    if (need < size || need > (size_t)PTRDIFF_MAX) return 0;
    return (need + HAK_SEGMENT_SIZE - 1) & ~HAK_SEGMENT_MASK;
}

static void huge_header_init(hak_region_t *r, size_t map_size, size_t data_off) {
    memset(r->free_class, HAK_FC_SLOW, sizeof r->free_class);
    r->magic = HAK_REGION_MAGIC;
    r->kind = HAK_REGION_HUGE;
    r->owner = NULL;
    r->map_size = map_size;
    r->data_off = data_off;
}

HAK_HIDDEN _Atomic uint64_t hak_huge_bytes;

void *hak_huge_alloc(size_t size, size_t align) {
    /* The header takes the first page; larger alignments put the block at
     * offset `align` of an `align`-aligned mapping. */
    size_t data_off = align > HAK_PAGE ? align : HAK_PAGE;
    size_t map_align = align > HAK_SEGMENT_SIZE ? align : HAK_SEGMENT_SIZE;
    size_t map_size = huge_map_size(size, data_off);
    if (map_size == 0) { errno = ENOMEM; return NULL; }
    hak_region_t *r = hak_os_map_aligned(map_size, map_align);
    if (!r) { errno = ENOMEM; return NULL; }
    huge_header_init(r, map_size, data_off);
    hak_segmap_set((uintptr_t)r, map_size);
    atomic_fetch_add_explicit(&hak_huge_bytes, hak_huge_usable(r), memory_order_relaxed);
    return hak_huge_block(r);
}

void hak_huge_free(hak_region_t *r) {
    size_t map_size = r->map_size;
    atomic_fetch_sub_explicit(&hak_huge_bytes, hak_huge_usable(r), memory_order_relaxed);
    hak_segmap_clear((uintptr_t)r, map_size);
    hak_os_unmap(r, map_size);
}

static void *huge_realloc_impl(hak_region_t *r, size_t size);

void *hak_huge_realloc(hak_region_t *r, size_t size) {
    size_t before = hak_huge_usable(r);
    void *p = huge_realloc_impl(r, size);
    if (p) {
        size_t after = hak_huge_usable(hak_segmap_region(p));
        atomic_fetch_add_explicit(&hak_huge_bytes, (uint64_t)after - (uint64_t)before, memory_order_relaxed);
    }
    return p;
}

static void *huge_realloc_impl(hak_region_t *r, size_t size) {
    size_t old_map = r->map_size, new_map = huge_map_size(size, r->data_off);
    if (new_map == 0) { errno = ENOMEM; return NULL; }
    if (new_map == old_map) return hak_huge_block(r);
    if (new_map < old_map) {
        /* Shrink: forget the tail segments, then unmap them. */
        hak_segmap_clear((uintptr_t)r + new_map, old_map - new_map);
        hak_os_unmap((uint8_t *)r + new_map, old_map - new_map);
        r->map_size = new_map;
        return hak_huge_block(r);
    }
    /* Grow in place when the address space after us is free... */
    if (hak_os_remap_inplace(r, old_map, new_map) == 0) {
        r->map_size = new_map;
        hak_segmap_set((uintptr_t)r, new_map);
        return hak_huge_block(r);
    }
    /* ...else reserve an aligned range and move the pages there. */
    void *dst = hak_os_map_aligned(new_map, HAK_SEGMENT_SIZE);
    if (!dst) { errno = ENOMEM; return NULL; }
    hak_segmap_clear((uintptr_t)r, old_map);
    if (hak_os_remap_to(r, old_map, new_map, dst) != 0) {
        hak_segmap_set((uintptr_t)r, old_map);
        hak_os_unmap(dst, new_map);
        errno = ENOMEM;
        return NULL;
    }
    r = dst;
    r->map_size = new_map;
    hak_segmap_set((uintptr_t)r, new_map);
    return hak_huge_block(r);
}

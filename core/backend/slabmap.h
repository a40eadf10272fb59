/* slabmap.h — the free fast path's map: one 8-byte value per 64 KiB slab,
 * written by the backend when a span is carved (the span shape's
 * map_value: the heap layer makes it the byte offset of the class's cache
 * in a thread front) or freed (0).  Every other address reads 0, which the
 * fast path turns into a cache that is always full, so a pointer that is
 * not a small block (not ours, in a large span or a huge mapping, in a free
 * slab) reaches free's slow path, which resolves it through the segment
 * map (segmap.h) before it touches any header.
 *
 * Two levels, so that the address space it takes stays small (a program
 * may lower RLIMIT_AS at any time): the 47-bit address space is cut into
 * 1024 windows of 128 GiB; a window that holds a superslab gets its own
 * table of 2^21 entries (16 MiB of address space, no commit charge, out of
 * core dumps; only the pages that cover superslabs are ever touched), and
 * every other window reads one shared table of zeros (16 MiB of .bss that
 * is never written).  The first level is copied into every thread's front
 * (hak_front_t), after its caches, and holds each window's table pointer
 * biased by the window's first slab, so that free indexes both levels with
 * the pointer's own bits and no mask: `front->slabmap[p >> 37][p >> 16]`
 * is two loads, the second folded into the add that finds the cache.
 * Addresses above the 47-bit user space (kernel or non-canonical ones,
 * which no allocator hands out and glibc's free crashes on too) would index
 * past the first level: they are outside what free accepts.
 *
 * When the OS refuses a window's table, that window's slabs stay at 0 and
 * their frees take the slow path: slower, never wrong.  Entries change under
 * the owner's span lock; a stale pointer into a slab whose span changed
 * meets the flush's checks like any block (heap/cache.c). */
#ifndef HAKMEM_SLABMAP_H
#define HAKMEM_SLABMAP_H

#include "base/base.h"

#define HAK_SLABMAP_WINDOW_SHIFT 37
#define HAK_SLABMAP_WINDOWS ((size_t)1 << (HAK_ADDR_BITS - HAK_SLABMAP_WINDOW_SHIFT))                 /* 1024 */
#define HAK_SLABMAP_WINDOW_ENTRIES ((size_t)1 << (HAK_SLABMAP_WINDOW_SHIFT - HAK_SLAB_SHIFT))       /* 2^21 */

/* The table every window without one of its own reads. */
extern HAK_HIDDEN uint64_t hak_slabmap_zero[HAK_SLABMAP_WINDOW_ENTRIES];

/* Window w's first-level pointer for the table at t: biased so that it is
 * indexed by the slab number (address >> 16), not the slab's place in the
 * window. */
#define HAK_SLABMAP_BIASED(t, w) ((const uint64_t *)(t) - ((size_t)(w) << (HAK_SLABMAP_WINDOW_SHIFT - HAK_SLAB_SHIFT)))

/* The first level of a front that has no table yet: every window reads the
 * zeros (a static initializer, so a front is valid before init). */
#define HAK_SLABMAP_Z1(w) HAK_SLABMAP_BIASED(hak_slabmap_zero, w),
#define HAK_SLABMAP_Z4(w) HAK_SLABMAP_Z1(w) HAK_SLABMAP_Z1(w + 1) HAK_SLABMAP_Z1(w + 2) HAK_SLABMAP_Z1(w + 3)
#define HAK_SLABMAP_Z16(w) HAK_SLABMAP_Z4(w) HAK_SLABMAP_Z4(w + 4) HAK_SLABMAP_Z4(w + 8) HAK_SLABMAP_Z4(w + 12)
#define HAK_SLABMAP_Z64(w) HAK_SLABMAP_Z16(w) HAK_SLABMAP_Z16(w + 16) HAK_SLABMAP_Z16(w + 32) HAK_SLABMAP_Z16(w + 48)
#define HAK_SLABMAP_Z256(w) HAK_SLABMAP_Z64(w) HAK_SLABMAP_Z64(w + 64) HAK_SLABMAP_Z64(w + 128) HAK_SLABMAP_Z64(w + 192)
#define HAK_SLABMAP_ZERO_LEVEL1 \
    HAK_SLABMAP_Z256(0) HAK_SLABMAP_Z256(256) HAK_SLABMAP_Z256(512) HAK_SLABMAP_Z256(768)
_Static_assert(HAK_SLABMAP_WINDOWS == 1024, "HAK_SLABMAP_ZERO_LEVEL1 spells out 1024 windows");

/* The fast path's lookup, through a front's copy of the first level.
 * Plain loads, so that the compiler folds the entry into the add that finds
 * the cache: entries are aligned 8-byte words, which x86-64 reads whole
 * while another thread writes them.  ThreadSanitizer, which cannot know
 * that, reads them as relaxed atomics. */
#if defined(__SANITIZE_THREAD__)
#define HAK_SLABMAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAK_SLABMAP_TSAN 1
#endif
#endif
HAK_INLINE uint64_t hak_slabmap_get(const uint64_t *const *level1, uintptr_t a) {
#ifdef HAK_SLABMAP_TSAN
    const uint64_t *w = __atomic_load_n(&level1[a >> HAK_SLABMAP_WINDOW_SHIFT], __ATOMIC_RELAXED);
    return __atomic_load_n(&w[a >> HAK_SLAB_SHIFT], __ATOMIC_RELAXED);
#else
    return level1[a >> HAK_SLABMAP_WINDOW_SHIFT][a >> HAK_SLAB_SHIFT];
#endif
}

/* The same through the map's own first level (slow paths, tests): fronts
 * may read zeros for a window (checked frees, or a copy not yet told). */
HAK_HIDDEN uint64_t hak_slabmap_lookup(uintptr_t a);
/* The table of window w, or NULL while it has none. */
HAK_HIDDEN const uint64_t *hak_slabmap_table(size_t w);

/* Whoever keeps copies of the first level (the heap layer's fronts)
 * registers here at init, and is told of every window that gets a table. */
typedef void (*hak_slabmap_window_fn_t)(size_t w, const uint64_t *biased);
HAK_HIDDEN void hak_slabmap_init(hak_slabmap_window_fn_t opened);
/* Copy the first level into level1[HAK_SLABMAP_WINDOWS], a front whose
 * heap is already where the hook finds it (so no window opened meanwhile
 * is missed). */
HAK_HIDDEN void hak_slabmap_copy(const uint64_t **level1);
/* Give the window of the superslab at base its table (at its setup; a load
 * once the table is there); false when the OS refused, and its slabs stay
 * on the slow path. */
HAK_HIDDEN bool hak_slabmap_open(uintptr_t base);
/* Test hook: refuse every table from now on, as the OS would. */
HAK_HIDDEN void hak_slabmap_refuse_tables(bool refuse);
/* The entry of the slab at address slab (64 KiB aligned). */
HAK_HIDDEN void hak_slabmap_set(uintptr_t slab, uint64_t value);

#endif

/* huge.c — huge blocks in their own mappings, and the cache of freed ones. */
#include "backend/huge.h"

#include <errno.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/os.h"
#include "backend/segmap.h"
#include "box/release_box.h"
#include "box/thp_box.h"

/* Mapping length for a block of size bytes at data_off, or 0 on overflow. */
static size_t huge_map_size(size_t size, size_t data_off) {
    if (size == 0) size = 1;   /* the block must lie inside the mapping */
    size_t need = data_off + size;
    if (need < size || need > (size_t)PTRDIFF_MAX) return 0;
    return (need + HAK_SUPERSLAB_SIZE - 1) & ~HAK_SUPERSLAB_MASK;
}

static void huge_header_init(hak_superslab_t *r, size_t map_size, size_t data_off) {
    r->magic = HAK_SS_MAGIC;
    r->kind = HAK_SS_HUGE;
    r->owner = NULL;
    r->map_size = map_size;
    r->data_off = data_off;
}

/* ---- the cache of freed mappings (newest first; slow path, one lock) ---- */
#define hcache (hak_backend.huge_cache)
#define SS_OF(l) HAK_LIST_OBJ(l, hak_superslab_t, link)
#define cache_lock (hcache.lock)

/* Publish when the oldest cached mapping is due (the scheduler's HUGE
 * source).  Caller holds the cache lock. */
static void cache_due_update(void) {
    uint64_t due = 0;
    for (hak_superslab_t *r = SS_OF(hcache.list.first); r; r = SS_OF(r->link.next))
        if (!due || r->purge_at < due) due = r->purge_at ? r->purge_at : 1;
    hak_purge_set(HAK_PURGE_HUGE, due);
}

/* Caller holds the cache lock (both). */
static void cache_unlink(hak_superslab_t *r) {
    hak_list_remove(&hcache.list, &r->link);
    hcache.bytes -= r->map_size;
    atomic_fetch_sub_explicit(&hcache.count, 1, memory_order_relaxed);
}

static void cache_link(hak_superslab_t *r) {
    hak_list_push(&hcache.list, &r->link);
    hcache.bytes += r->map_size;
    atomic_fetch_add_explicit(&hcache.count, 1, memory_order_relaxed);
}

/* Cut cached mapping r at off (a multiple of 2 MiB): the part from off on
 * becomes a cached mapping of its own, with its own header and the same
 * purge time; r keeps [0, off).  Neither may be on the cache list. */
static hak_superslab_t *mapping_split(hak_superslab_t *r, size_t off) {
    hak_superslab_t *t = (hak_superslab_t *)((uint8_t *)r + off);
    huge_header_init(t, r->map_size - off, HAK_PAGE);
    t->kind = HAK_SS_HUGE_CACHED;
    t->purge_at = r->purge_at;
    (void)hak_segmap_set((uintptr_t)t, t->map_size);   /* windows made when r was marked: cannot fail */
    r->map_size = off;
    return t;
}

static void unmap_superslabs(hak_superslab_t *r) {
    size_t map_size = r->map_size;
    hak_segmap_clear((uintptr_t)r, map_size);
    hak_os_unmap(r, map_size);
}

/* Unmap cached mappings older than the purge delay (all when force). */
static void cache_expire(bool force) {
    hak_superslab_t *expired = NULL;
    uint64_t now = force ? 0 : hak_now_ns();
    pthread_mutex_lock(&cache_lock);
    for (hak_superslab_t *r = SS_OF(hcache.list.first), *next; r; r = next) {
        next = SS_OF(r->link.next);
        if (force || r->purge_at <= now) {
            cache_unlink(r);
            r->link.next = expired ? &expired->link : NULL;
            expired = r;
        }
    }
    cache_due_update();
    pthread_mutex_unlock(&cache_lock);
    while (expired) {
        hak_superslab_t *next = SS_OF(expired->link.next);
        unmap_superslabs(expired);
        expired = next;
    }
}

/* The scheduler's HUGE source: mappings cached longer than the delay. */
static void cache_due(uint64_t now) {
    (void)now;
    cache_expire(false);
}

void hak_huge_init(void) { hak_purge_register(HAK_PURGE_HUGE, cache_due); }

size_t hak_huge_cache_trim(void) {
    pthread_mutex_lock(&cache_lock);
    size_t before = hcache.bytes;
    pthread_mutex_unlock(&cache_lock);
    cache_expire(true);
    return before;
}

/* Move the len bytes at src to dst (2 MiB aligned; dst reserved) with
 * mremap: page tables move, nothing is copied or faulted.  A block gathered
 * from cached mappings spans several kernel mappings, which one mremap
 * cannot move: then 2 MiB at a time (its pieces meet at 2 MiB boundaries),
 * copying a piece the kernel will not move. */
static void move_pages(void *src, size_t len, void *dst) {
    if (hak_os_remap_to(src, len, len, dst) == 0) return;
    for (size_t off = 0; off < len; off += HAK_SUPERSLAB_SIZE) {
        uint8_t *from = (uint8_t *)src + off, *to = (uint8_t *)dst + off;
        if (hak_os_remap_to(from, HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE, to) != 0) {
            memcpy(to, from, HAK_SUPERSLAB_SIZE);
            hak_os_unmap(from, HAK_SUPERSLAB_SIZE);
        }
    }
}

/* The smallest cached mapping of at least map_size bytes, cut to map_size
 * (the rest stays cached), or NULL.  Its pages are reused as they are:
 * those already faulted in are not faulted again. */
static hak_superslab_t *cache_take(size_t map_size) {
    if (!atomic_load_explicit(&hcache.count, memory_order_relaxed)) return NULL;
    pthread_mutex_lock(&cache_lock);
    hak_superslab_t *r = NULL;
    for (hak_superslab_t *c = SS_OF(hcache.list.first); c; c = SS_OF(c->link.next))
        if (c->map_size >= map_size && (!r || c->map_size < r->map_size)) r = c;
    if (r) {
        cache_unlink(r);
        if (r->map_size > map_size) cache_link(mapping_split(r, map_size));
        cache_due_update();
    }
    pthread_mutex_unlock(&cache_lock);
    return r;
}

/* No cached mapping is big enough for the new mapping dst (map_size
 * bytes): move the pages of cached ones into it, largest first, with
 * mremap (page tables move, nothing is copied or faulted), so that only the
 * remainder is faulted in afresh.  True if anything was moved. */
static bool cache_gather(hak_superslab_t *dst, size_t map_size) {
    /* Cached pages given back at once (no delay) would fault anyway. */
    if (hak_release.advice && hak_release.delay_ns == 0) return false;
    size_t off = 0;
    while (off < map_size && atomic_load_explicit(&hcache.count, memory_order_relaxed)) {
        pthread_mutex_lock(&cache_lock);
        hak_superslab_t *r = SS_OF(hcache.list.first);
        for (hak_superslab_t *c = r; c; c = SS_OF(c->link.next))
            if (c->map_size > r->map_size) r = c;
        size_t take = 0;
        if (r) {
            cache_unlink(r);
            take = r->map_size < map_size - off ? r->map_size : map_size - off;
            if (take < r->map_size) cache_link(mapping_split(r, take));
            cache_due_update();
        }
        pthread_mutex_unlock(&cache_lock);
        if (!r) break;
        hak_segmap_clear((uintptr_t)r, take);
        move_pages(r, take, (uint8_t *)dst + off);
        off += take;
    }
    return off > 0;
}

/* Keep freed mapping r for reuse, as much of it as the budget has room for
 * (its head; the rest is unmapped); false if none of it is kept. */
static bool cache_put(hak_superslab_t *r) {
    pthread_mutex_lock(&cache_lock);
    size_t room = hcache.bytes < hak_release.huge_cap ? hak_release.huge_cap - hcache.bytes : 0;
    pthread_mutex_unlock(&cache_lock);
    size_t keep = r->map_size <= room ? r->map_size : room & ~HAK_SUPERSLAB_MASK;
    if (keep == 0) return false;
    if (keep < r->map_size) {
        hak_segmap_clear((uintptr_t)r + keep, r->map_size - keep);
        hak_os_unmap((uint8_t *)r + keep, r->map_size - keep);
        r->map_size = keep;
    }
    /* With no delay, give the pages back before the mapping is reusable. */
    if (hak_release.advice && hak_release.delay_ns == 0)
        hak_release_decommit((uint8_t *)r + HAK_PAGE, r->map_size - HAK_PAGE, hak_release.advice);
    uint64_t now = hak_now_ns();
    r->kind = HAK_SS_HUGE_CACHED;
    r->purge_at = now + hak_release.delay_ns;
    pthread_mutex_lock(&cache_lock);
    bool fits = hcache.bytes + r->map_size <= hak_release.huge_cap;
    if (fits) {
        cache_link(r);
        cache_due_update();
    }
    pthread_mutex_unlock(&cache_lock);
    return fits;
}

static void peak_raise(_Atomic uint64_t *peak, uint64_t now) {
    uint64_t p = atomic_load_explicit(peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(peak, &p, now, memory_order_relaxed, memory_order_relaxed)) {}
}

/* The live huge blocks' counters: blocks, usable bytes, mapping bytes. */
static void huge_count(int64_t blocks, int64_t usable, int64_t mapped) {
    atomic_fetch_add_explicit(&hak_backend.huge_bytes, (uint64_t)usable, memory_order_relaxed);
    uint64_t b = atomic_fetch_add_explicit(&hak_backend.huge_blocks, (uint64_t)blocks, memory_order_relaxed) + (uint64_t)blocks;
    uint64_t m = atomic_fetch_add_explicit(&hak_backend.huge_map_bytes, (uint64_t)mapped, memory_order_relaxed) + (uint64_t)mapped;
    if (blocks > 0) peak_raise(&hak_backend.huge_blocks_peak, b);
    if (mapped > 0) peak_raise(&hak_backend.huge_map_bytes_peak, m);
}

/* A new mapping; when the OS refuses (an address-space limit counts what
 * we keep), give back the cached huge mappings and the pooled superslabs,
 * and try once more. */
static void *map_or_give_back(size_t size, size_t align) {
    void *p = hak_os_map_aligned(size, align);
    if (p) return p;
    bool had = atomic_load_explicit(&hcache.count, memory_order_relaxed) != 0;
    cache_expire(true);
    if (hak_superslab_pool_trim() == 0 && !had) return NULL;
    return hak_os_map_aligned(size, align);
}

void *hak_huge_alloc(size_t size, size_t align, bool *fresh) {
    /* The header takes the first page; larger alignments put the block at
     * offset `align` of an `align`-aligned mapping. */
    size_t data_off = align > HAK_PAGE ? align : HAK_PAGE;
    size_t map_align = align > HAK_SUPERSLAB_SIZE ? align : HAK_SUPERSLAB_SIZE;
    size_t map_size = huge_map_size(size, data_off);
    if (map_size == 0) { errno = ENOMEM; return NULL; }
    if (atomic_load_explicit(&hcache.count, memory_order_relaxed)) cache_expire(false);
    hak_superslab_t *r = map_align == HAK_SUPERSLAB_SIZE ? cache_take(map_size) : NULL;
    *fresh = r == NULL;
    if (!r) {
        r = map_or_give_back(map_size, map_align);
        if (!r) { errno = ENOMEM; return NULL; }
        if (map_align == HAK_SUPERSLAB_SIZE && cache_gather(r, map_size)) *fresh = false;
        if (!hak_segmap_set((uintptr_t)r, map_size)) {   /* the map could not say it is ours */
            hak_os_unmap(r, map_size);
            errno = ENOMEM;
            return NULL;
        }
        hak_thp_advise(r, map_size);
    }
    huge_header_init(r, map_size, data_off);
    huge_count(1, (int64_t)hak_huge_usable(r), (int64_t)map_size);
    return hak_huge_block(r);
}

void hak_huge_free(hak_superslab_t *r) {
    huge_count(-1, -(int64_t)hak_huge_usable(r), -(int64_t)r->map_size);
    if (!cache_put(r)) unmap_superslabs(r);
    if (atomic_load_explicit(&hcache.count, memory_order_relaxed)) cache_expire(false);
}

static void *huge_realloc_impl(hak_superslab_t *r, size_t size);

void *hak_huge_realloc(hak_superslab_t *r, size_t size) {
    size_t before = hak_huge_usable(r), map_before = r->map_size;
    void *p = huge_realloc_impl(r, size);
    if (p) {
        hak_superslab_t *q = hak_segmap_lookup(p);
        huge_count(0, (int64_t)hak_huge_usable(q) - (int64_t)before, (int64_t)q->map_size - (int64_t)map_before);
    }
    return p;
}

static void *huge_realloc_impl(hak_superslab_t *r, size_t size) {
    size_t old_map = r->map_size, new_map = huge_map_size(size, r->data_off);
    if (new_map == 0) { errno = ENOMEM; return NULL; }
    if (new_map == old_map) return hak_huge_block(r);
    if (new_map < old_map) {
        /* Shrink: forget the tail superslabs, then unmap them. */
        hak_segmap_clear((uintptr_t)r + new_map, old_map - new_map);
        hak_os_unmap((uint8_t *)r + new_map, old_map - new_map);
        r->map_size = new_map;
        return hak_huge_block(r);
    }
    /* Grow in place when the address space after us is free... */
    if (hak_os_remap_inplace(r, old_map, new_map) == 0) {
        if (hak_segmap_set((uintptr_t)r, new_map)) {
            r->map_size = new_map;
            return hak_huge_block(r);
        }
        hak_os_remap_inplace(r, new_map, old_map);   /* the map could not say it is ours: back */
        errno = ENOMEM;
        return NULL;
    }
    /* ...else reserve an aligned range and move the pages there.  The map
     * says dst is ours first: its header page reads as no kind (zero) until
     * the move, and nobody holds a pointer into it yet. */
    void *dst = map_or_give_back(new_map, HAK_SUPERSLAB_SIZE);
    if (!dst) { errno = ENOMEM; return NULL; }
    if (!hak_segmap_set((uintptr_t)dst, new_map)) {
        hak_os_unmap(dst, new_map);
        errno = ENOMEM;
        return NULL;
    }
    hak_segmap_clear((uintptr_t)r, old_map);
    move_pages(r, old_map, dst);
    r = dst;
    r->map_size = new_map;
    return hak_huge_block(r);
}

/* The cache lock is held across fork so the child never inherits it taken. */
void hak_huge_fork_prepare(void) { pthread_mutex_lock(&cache_lock); }
void hak_huge_fork_parent(void) { pthread_mutex_unlock(&cache_lock); }
void hak_huge_fork_child(void) { pthread_mutex_init(&cache_lock, NULL); }

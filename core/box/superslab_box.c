/* superslab_box.c — superslab lifecycle and span carving. */
#include "box/superslab_box.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "box/os_box.h"
#include "box/release_box.h"
#include "box/secure_box.h"
#include "box/thp_box.h"
#include "box/verbose_box.h"
#include "front/size_class.h"
#include "slabmap.h"
#include "heap.h"
#include "huge.h"
#include "segmap.h"

/* Empty superslabs kept for reuse, newest first, so a program that frees
 * its last block and allocates again soon does not pay an mmap each time.
 * Its size is the release policy's pool cap. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_region_t *pool, *pool_tail;
static unsigned pool_count;
/* Of the pooled superslabs, how many still have their pages (not
 * decommitted): what the hot limit (hak_release.pool_hot) counts. */
static unsigned pool_committed;
static _Atomic uint64_t ss_mapped, ss_released;
/* When the oldest pooled superslab still committed is due (ns), or 0: read
 * by every slow path, so that any of them purges the pool once it is due. */
HAK_HIDDEN _Atomic uint64_t hak_pool_purge_at;
/* Free written slabs of owned superslabs, all heaps: what the span budget
 * counts (free_dirty_add at every change of a slab's free or dirty bit). */
static _Atomic int64_t free_dirty_slabs;
static void free_dirty_add(int64_t n) {
    if (n) atomic_fetch_add_explicit(&free_dirty_slabs, n, memory_order_relaxed);
}

/* Bytes of the superslab below which nothing may be decommitted: the header. */
#define HAK_SS_KEEP HAK_HEADER_SIZE

static void pool_unlink(hak_region_t *r) {
    if (r->prev) r->prev->next = r->next; else pool = r->next;
    if (r->next) r->next->prev = r->prev; else pool_tail = r->prev;
    pool_count--;
    if (!r->decommitted) pool_committed--;
}

/* Decommit pooled superslabs whose delay has passed, oldest first; at most
 * max of them (all when force).  Caller holds pool_lock. */
static void pool_purge_locked(uint64_t now, unsigned max, bool force) {
    if (!hak_release.advice && !force) return;
    for (hak_region_t *r = pool_tail; r && max; r = r->prev) {
        if (r->decommitted) continue;
        if (!force && r->purge_at > now) break;
        if (hak_release_decommit((uint8_t *)r + HAK_SS_KEEP, HAK_SEGMENT_SIZE - HAK_SS_KEEP, hak_release.advice)) r->dirty_mask = 0;
        r->decommitted = 1;
        pool_committed--;
        max--;
    }
    uint64_t due = 0;
    if (hak_release.advice)
        for (hak_region_t *r = pool_tail; r; r = r->prev)
            if (!r->decommitted) { due = r->purge_at; break; }
    atomic_store_explicit(&hak_pool_purge_at, due, memory_order_relaxed);
}

void hak_superslab_counts(uint64_t *mapped, uint64_t *released, uint64_t *pooled) {
    *mapped = atomic_load(&ss_mapped);
    *released = atomic_load(&ss_released);
    *pooled = pool_count;
}

static void region_init(hak_region_t *r, hak_heap_t *h) {
    hak_slabmap_open((uintptr_t)r);   /* (a pooled one's page is open: one bit test) */
    for (unsigned i = 0; i < HAK_SLABS; i++) hak_slabmap_set(r, i, HAK_FC_SLOW);
    r->magic = HAK_REGION_MAGIC;
    r->kind = HAK_REGION_SUPERSLAB;
    r->pooled = 0;
    r->free_mask = HAK_ALL_SLABS;
    r->purge_mask = 0;
    r->decommitted = 0;
    r->owner = h;
    r->map_size = HAK_SEGMENT_SIZE;
    r->data_off = 0;
    for (unsigned i = 0; i < HAK_SLABS; i++) {
        hak_span_t *s = &r->spans[i];
        s->kind = HAK_SLAB_FREE;
        s->head = (uint8_t)i;
        atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
    }
}

/* A superslab for h: from the pool (the newest one that still has its
 * pages, else the newest), else fresh from the OS. */
static hak_region_t *region_acquire(hak_heap_t *h) {
    pthread_mutex_lock(&pool_lock);
    hak_region_t *r = pool;
    if (pool_committed && r && r->decommitted)
        for (hak_region_t *c = r->next; c; c = c->next)
            if (!c->decommitted) { r = c; break; }
    if (r) pool_unlink(r);
    if (pool_tail && hak_release.delay_ns) pool_purge_locked(hak_now_ns(), 2, false);
    pthread_mutex_unlock(&pool_lock);
    if (r) {
        uint32_t dirty = r->dirty_mask;
        region_init(r, h);
        r->dirty_mask = dirty;
        free_dirty_add(__builtin_popcount(dirty));
    } else {
        r = hak_os_map_aligned(HAK_SEGMENT_SIZE, HAK_SEGMENT_SIZE);
        if (!r) return NULL;
        atomic_fetch_add_explicit(&ss_mapped, 1, memory_order_relaxed);
        hak_thp_advise(r);
        region_init(r, h);
        r->dirty_mask = 0;
        hak_segmap_set((uintptr_t)r, HAK_SEGMENT_SIZE);
    }
    r->prev = NULL;
    r->next = h->regions;
    if (h->regions) h->regions->prev = r;
    h->regions = r;
    return r;
}

static void region_release(hak_heap_t *h, hak_region_t *r) {
    free_dirty_add(-__builtin_popcount(r->dirty_mask));
    if (r->prev) r->prev->next = r->next; else h->regions = r->next;
    if (r->next) r->next->prev = r->prev;
    r->owner = NULL;
    r->purge_mask = 0;
    r->decommitted = 0;
    pthread_mutex_lock(&pool_lock);
    bool fits = ((size_t)pool_count + 1) * HAK_SEGMENT_SIZE <= hak_release.pool_cap;
    /* the hot ones are those still committed: decommitted superslabs in
     * the pool do not take their places (they did, and in a steady state
     * every superslab arriving was decommitted, then reused: a madvise
     * and its page faults per cycle) */
    bool hot = pool_committed < hak_release.pool_hot;
    pthread_mutex_unlock(&pool_lock);
    /* Beyond the few kept hot (or with no delay), decommit before the
     * superslab is visible in the pool. */
    if (fits && hak_release.advice && (hak_release.delay_ns == 0 || !hot)) {
        if (hak_release_decommit((uint8_t *)r + HAK_SS_KEEP, HAK_SEGMENT_SIZE - HAK_SS_KEEP, hak_release.advice)) r->dirty_mask = 0;
        r->decommitted = 1;
    }
    pthread_mutex_lock(&pool_lock);
    if (((size_t)pool_count + 1) * HAK_SEGMENT_SIZE <= hak_release.pool_cap) {
        uint64_t now = hak_release.delay_ns ? hak_now_ns() : 0;
        r->pooled = 1;
        r->purge_at = now + hak_release.delay_ns;
        r->prev = NULL;
        r->next = pool;
        if (pool) pool->prev = r; else pool_tail = r;
        pool = r;
        pool_count++;
        if (!r->decommitted) pool_committed++;
        r = NULL;
        if (hak_release.delay_ns) pool_purge_locked(now, 2, false);
        if (hak_release.advice && !pool->decommitted && !atomic_load_explicit(&hak_pool_purge_at, memory_order_relaxed))
            atomic_store_explicit(&hak_pool_purge_at, pool->purge_at, memory_order_relaxed);
    }
    unsigned count = pool_count;
    pthread_mutex_unlock(&pool_lock);
    if (r) {
        hak_verbose_event("superslab pool full, superslab unmapped; pool count", count);
        hak_segmap_clear((uintptr_t)r, HAK_SEGMENT_SIZE);
        hak_os_unmap(r, HAK_SEGMENT_SIZE);
        atomic_fetch_add_explicit(&ss_mapped, (uint64_t)-1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ss_released, 1, memory_order_relaxed);
    }
}

size_t hak_superslab_pool_trim(void) {
    pthread_mutex_lock(&pool_lock);
    hak_region_t *list = pool;
    pool = pool_tail = NULL;
    pool_count = 0;
    pool_committed = 0;
    atomic_store_explicit(&hak_pool_purge_at, 0, memory_order_relaxed);
    pthread_mutex_unlock(&pool_lock);
    size_t bytes = 0;
    while (list) {
        hak_region_t *next = list->next;
        hak_segmap_clear((uintptr_t)list, HAK_SEGMENT_SIZE);
        hak_os_unmap(list, HAK_SEGMENT_SIZE);
        atomic_fetch_add_explicit(&ss_mapped, (uint64_t)-1, memory_order_relaxed);
        atomic_fetch_add_explicit(&ss_released, 1, memory_order_relaxed);
        bytes += HAK_SEGMENT_SIZE;
        list = next;
    }
    return bytes;
}

/* Mask of slab indexes where a run of n free slabs starts. */
static uint32_t run_starts(uint32_t free_mask, unsigned n) {
    uint32_t m = free_mask;
    for (unsigned i = 1; i < n; i++) m &= free_mask >> i;
    /* a run may not wrap past slab 31 */
    if (n > 1) m &= (uint32_t)(HAK_ALL_SLABS >> (n - 1));
    return m;
}

/* Find n free slabs in h's superslabs (large spans avoid slab 0, whose
 * blocks start after the header and so are not 64 KiB aligned). */
static hak_region_t *find_run(hak_heap_t *h, unsigned n, bool skip_slab0, unsigned *start) {
    uint32_t exclude = skip_slab0 ? ~1u : HAK_ALL_SLABS;
    for (int pass = 0; pass < 2; pass++) {
        for (hak_region_t *r = h->regions; r; r = r->next) {
            uint32_t m = run_starts(r->free_mask, n) & exclude;
            if (m) { *start = (unsigned)__builtin_ctz(m); return r; }
        }
        if (pass == 0 && !region_acquire(h)) return NULL;
    }
    return NULL;
}

static void span_claim(hak_region_t *r, unsigned start, unsigned n, uint8_t kind, uint8_t fc) {
    uint32_t bits = (n == 32 ? HAK_ALL_SLABS : ((1u << n) - 1)) << start;
    r->free_mask &= ~bits;
    r->purge_mask &= ~bits;
    for (unsigned i = start; i < start + n; i++) {
        r->spans[i].kind = i == start ? kind : HAK_SLAB_CONT;
        r->spans[i].head = (uint8_t)start;
        hak_slabmap_set(r, i, fc);
    }
    hak_span_t *s = &r->spans[start];
    s->nslabs = (uint8_t)n;
    s->fresh = (r->dirty_mask & bits) == 0;
    free_dirty_add(-__builtin_popcount(r->dirty_mask & bits));
    r->dirty_mask |= bits;
    s->free = NULL;
    s->secret = hak_secure_on() ? hak_secure_random() : 0;
    s->in_avail = 0;
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
    s->used = 0;
    s->next = s->prev = NULL;
    s->notify_next = NULL;
    uint8_t *base = (uint8_t *)r + ((size_t)start << HAK_SLAB_SHIFT);
    s->data = start == 0 ? (uint8_t *)r + HAK_HEADER_SIZE : base;
}

hak_span_t *hak_span_new_small(hak_heap_t *h, unsigned cls) {
    const hak_class_info_t *ci = &hak_classes[cls];
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    unsigned start;
    hak_region_t *r = find_run(h, ci->nslabs, false, &start);
    if (!r) return NULL;
    span_claim(r, start, ci->nslabs, HAK_SLAB_SMALL, (uint8_t)cls);
    hak_span_t *s = &r->spans[start];
    uint8_t *end = (uint8_t *)r + ((size_t)(start + ci->nslabs) << HAK_SLAB_SHIFT);
    s->cls = (uint8_t)cls;
    s->block_size = ci->block_size;
    s->div_magic = ci->div_magic;
    s->capacity = (uint32_t)((size_t)(end - s->data) / ci->block_size);
    hak_heap_avail_push(h, s);
    return s;
}

hak_span_t *hak_span_new_large(hak_heap_t *h, unsigned nslabs) {
    unsigned start;
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    hak_region_t *r = find_run(h, nslabs, true, &start);
    if (!r) return NULL;
    span_claim(r, start, nslabs, HAK_SLAB_LARGE, HAK_FC_SLOW);
    hak_span_t *s = &r->spans[start];
    s->cls = 0;
    s->block_size = (uint32_t)(nslabs << HAK_SLAB_SHIFT);
    s->capacity = 1;
    __atomic_store_n(&s->carved, 1, __ATOMIC_RELAXED);
    s->used = 1;
    return s;
}

static void slabs_decommit(hak_region_t *r, uint32_t mask, int advice);

void hak_span_free(hak_heap_t *h, hak_span_t *s) {
    hak_region_t *r = hak_region_of(s);
    unsigned start = (unsigned)(s - r->spans), n = s->nslabs;
    for (unsigned i = start; i < start + n; i++) {
        r->spans[i].kind = HAK_SLAB_FREE;
        r->spans[i].head = (uint8_t)i;
        hak_slabmap_set(r, i, HAK_FC_SLOW);
    }
    uint32_t bits = (n == 32 ? HAK_ALL_SLABS : ((1u << n) - 1)) << start;
    r->free_mask |= bits;
    free_dirty_add(__builtin_popcount(r->dirty_mask & bits));
    if (r->free_mask == HAK_ALL_SLABS) { region_release(h, r); return; }
    if (!hak_release.spans) return;
    if (hak_release.delay_ns == 0) {
        slabs_decommit(r, bits, hak_release.advice);
    } else {
        uint64_t due = hak_now_ns() + hak_release.delay_ns;
        for (unsigned i = start; i < start + n; i++) r->slab_due_ms[i] = (uint32_t)(due / 1000000);
        if (!r->purge_mask) r->purge_at = due;
        r->purge_mask |= bits;
        h->purge_pending = 1;
        hak_heap_note_due(h, r->purge_at);
    }
}

/* Decommit the free slabs in mask (contiguous runs, one call each). */
static void slabs_decommit(hak_region_t *r, uint32_t mask, int advice) {
    while (mask) {
        unsigned start = (unsigned)__builtin_ctz(mask), n = 0;
        while (start + n < HAK_SLABS && (mask >> (start + n) & 1)) n++;
        uint32_t bits = (n == 32 ? HAK_ALL_SLABS : ((1u << n) - 1)) << start;
        uint8_t *from = (uint8_t *)r + ((size_t)start << HAK_SLAB_SHIFT);
        uint8_t *to = (uint8_t *)r + ((size_t)(start + n) << HAK_SLAB_SHIFT);
        if (start == 0) from = (uint8_t *)r + HAK_SS_KEEP;
        if (hak_release_decommit(from, (size_t)(to - from), advice)) {
            free_dirty_add(-__builtin_popcount(r->dirty_mask & bits));
            r->dirty_mask &= ~bits;
        }
        mask &= ~bits;
    }
}

void hak_superslab_purge(hak_heap_t *h, bool force) {
    uint64_t due = atomic_load_explicit(&hak_pool_purge_at, memory_order_relaxed);
    uint64_t hdue = atomic_load_explicit(&hak_huge_cache_due, memory_order_relaxed);
    uint64_t idue = atomic_load_explicit(&hak_heaps_purge_due, memory_order_relaxed);
    if (!h->purge_pending && !force && !due && !hdue && !idue) return;
    uint64_t now = hak_now_ns();
    if (!force && hdue && hdue <= now) hak_huge_cache_tick(now);   /* cached huge mappings past their delay */
    /* Pooled superslabs are due too: any thread's slow path purges them. */
    if (!force && due && due <= now && pthread_mutex_trylock(&pool_lock) == 0) {
        pool_purge_locked(now, 2, false);
        pthread_mutex_unlock(&pool_lock);
    }
    /* Idle threads' free slabs: their owners run no slow path to do it. */
    if (!force && idue && idue <= now) hak_heaps_purge_idle(h, now);
    if (force) {
        hak_superslab_purge_spans(h, now, HAK_PURGE_ALL);
    } else if (h->purge_pending) {
        /* The scan walks every superslab of h: only once the earliest of
         * its free slabs is due (soak: 16% of the allocator's time went to
         * scans that found nothing due). */
        uint64_t hd = atomic_load_explicit(&h->purge_due, memory_order_relaxed);
        if (!hd || hd <= now) hak_superslab_purge_spans(h, now, HAK_PURGE_DUE);
    }
}

void hak_superslab_purge_spans(hak_heap_t *h, uint64_t now, int mode) {
    bool force = mode == HAK_PURGE_ALL;
    unsigned budget = force ? ~0u : 4;
    uint64_t next = 0;   /* earliest purge_at of what is left */
    /* Within the span budget a due slab waits one more delay (checked
     * again then, not at every slow path). */
    bool keep = mode == HAK_PURGE_DUE && hak_release.span_budget &&
                (size_t)atomic_load_explicit(&free_dirty_slabs, memory_order_relaxed) * HAK_SLAB_SIZE <=
                    hak_release.span_budget;
    for (hak_region_t *r = h->regions; r; r = r->next) {
        uint32_t m = force ? (r->free_mask & r->dirty_mask) : r->purge_mask;
        if (!m) continue;
        if (!force && keep && r->purge_at <= now) r->purge_at = now + hak_release.delay_ns;
        if ((!force && r->purge_at > now) || !budget) {
            if (!next || r->purge_at < next) next = r->purge_at;
            continue;
        }
        budget--;
        if (!force) {
            /* only the slabs whose own delay is over; the others wait */
            uint32_t now_ms = (uint32_t)(now / 1000000), later = 0, wait = UINT32_MAX;
            for (uint32_t b = m; b; b &= b - 1) {
                unsigned i = (unsigned)__builtin_ctz(b);
                int32_t d = (int32_t)(r->slab_due_ms[i] - now_ms);
                if (d > 0) { later |= 1u << i; if ((uint32_t)d < wait) wait = (uint32_t)d; }
            }
            m &= ~later;
            r->purge_mask = later;
            if (later) {
                r->purge_at = now + (uint64_t)wait * 1000000;
                if (!next || r->purge_at < next) next = r->purge_at;
            }
            slabs_decommit(r, m, hak_release.advice);
            continue;
        }
        /* trim gives back every written free slab, whatever the policy */
        slabs_decommit(r, m, MADV_DONTNEED);
        r->purge_mask = 0;
    }
    h->purge_pending = next != 0;
    atomic_store_explicit(&h->purge_due, next, memory_order_relaxed);
}

void hak_superslab_fork_prepare(void) { pthread_mutex_lock(&pool_lock); }
void hak_superslab_fork_parent(void) { pthread_mutex_unlock(&pool_lock); }
void hak_superslab_fork_child(void) { pthread_mutex_init(&pool_lock, NULL); }

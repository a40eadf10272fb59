/* superslab.c — superslab lifecycle (map, pool, release), span carving and
 * the decommit of free slabs. */
#include "backend/superslab.h"

#include <string.h>
#include <sys/mman.h>

#include "backend/backend.h"
#include "backend/huge.h"
#include "backend/os.h"
#include "backend/segmap.h"
#include "backend/slabmap.h"
#include "base/diag.h"
#include "box/release_box.h"
#include "box/secure_box.h"
#include "box/thp_box.h"
#include "box/verbose_box.h"

HAK_HIDDEN hak_backend_state_t hak_backend = {
    .pool = {.lock = PTHREAD_MUTEX_INITIALIZER},
    .huge_cache = {.lock = PTHREAD_MUTEX_INITIALIZER},
};
#define pool (hak_backend.pool)

static void free_dirty_add(int64_t n) {
    if (n) atomic_fetch_add_explicit(&hak_backend.free_dirty_slabs, n, memory_order_relaxed);
}

/* Bytes of the superslab below which nothing may be decommitted: the header. */
#define HAK_SS_KEEP HAK_HEADER_SIZE

#define SS_OF(l) HAK_LIST_OBJ(l, hak_superslab_t, link)

static uint32_t slab_bits(unsigned start, unsigned n) {
    return (n == 32 ? HAK_ALL_SLABS : ((1u << n) - 1)) << start;
}

/* ---- the pool of empty superslabs ---- */

static void pool_unlink(hak_superslab_t *ss) {
    hak_list_remove(&pool.list, &ss->link);
    pool.count--;
    if (!ss->decommitted) pool.committed--;
}

/* Decommit pooled superslabs whose delay has passed, oldest first; at most
 * max of them.  Then publish when the oldest one still committed is due.
 * Caller holds the pool lock. */
static void pool_purge_locked(uint64_t now, unsigned max) {
    if (!hak_release.advice) return;
    for (hak_superslab_t *ss = SS_OF(pool.list.last); ss && max; ss = SS_OF(ss->link.prev)) {
        if (ss->decommitted) continue;
        if (ss->purge_at > now) break;
        if (hak_release_decommit((uint8_t *)ss + HAK_SS_KEEP, HAK_SUPERSLAB_SIZE - HAK_SS_KEEP, hak_release.advice))
            ss->dirty_mask = 0;
        ss->decommitted = 1;
        pool.committed--;
        max--;
        /* It waited a whole delay for nothing: one hot place fewer. */
        if (pool.hot > hak_release.pool_hot) pool.hot--;
    }
    uint64_t due = 0;
    for (hak_superslab_t *ss = SS_OF(pool.list.last); ss; ss = SS_OF(ss->link.prev))
        if (!ss->decommitted) { due = ss->purge_at; break; }
    hak_purge_set(HAK_PURGE_POOL, due);
}

/* The scheduler's POOL source: any thread's slow path, once it is due. */
static void pool_purge_due(uint64_t now) {
    if (pthread_mutex_trylock(&pool.lock) != 0) return;
    pool_purge_locked(now, 2);
    pthread_mutex_unlock(&pool.lock);
}

void hak_superslab_init(void) { hak_purge_register(HAK_PURGE_POOL, pool_purge_due); }

void hak_superslab_counts(uint64_t *mapped, uint64_t *released, uint64_t *pooled) {
    *mapped = atomic_load(&hak_backend.ss_mapped);
    *released = atomic_load(&hak_backend.ss_released);
    *pooled = pool.count;
}

static void ss_init(hak_superslab_t *ss, hak_ss_owner_t *o) {
    hak_slabmap_open((uintptr_t)ss);   /* (a pooled one's page is open: one bit test) */
    for (unsigned i = 0; i < HAK_SLABS; i++) hak_slabmap_set((uintptr_t)ss + ((uintptr_t)i << HAK_SLAB_SHIFT), 0);
    ss->magic = HAK_SS_MAGIC;
    ss->kind = HAK_SS_SLABS;
    ss->pooled = 0;
    ss->free_mask = HAK_ALL_SLABS;
    ss->purge_mask = 0;
    ss->decommitted = 0;
    ss->owner = o;
    ss->map_size = HAK_SUPERSLAB_SIZE;
    ss->data_off = 0;
    for (unsigned i = 0; i < HAK_SLABS; i++) {
        hak_span_t *s = &ss->spans[i];
        s->kind = HAK_SLAB_FREE;
        ss->head_at[i] = hak_span_head_at(i);
        atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
    }
}

static void ss_unmap(hak_superslab_t *ss) {
    hak_segmap_clear((uintptr_t)ss, HAK_SUPERSLAB_SIZE);
    hak_os_unmap(ss, HAK_SUPERSLAB_SIZE);
    atomic_fetch_add_explicit(&hak_backend.ss_mapped, (uint64_t)-1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_backend.ss_released, 1, memory_order_relaxed);
}

/* A superslab for o: from the pool (the newest one that still has its
 * pages, else the newest), else fresh from the OS. */
static hak_superslab_t *ss_acquire(hak_ss_owner_t *o) {
    pthread_mutex_lock(&pool.lock);
    hak_superslab_t *ss = SS_OF(pool.list.first);
    if (pool.committed && ss && ss->decommitted)
        for (hak_superslab_t *c = SS_OF(ss->link.next); c; c = SS_OF(c->link.next))
            if (!c->decommitted) { ss = c; break; }
    if (ss) {
        pool_unlink(ss);
        /* Decommitted as it arrived (beyond the hot ones), and wanted back
         * within the delay: the program frees and takes back this many
         * superslabs in a cycle (bench_bulk, 1600 blocks of 4 KiB: a
         * madvise and 512 page faults a round).  One more stays hot, up to
         * what the pool holds; the delay's purge takes the place back once
         * a hot one waits a whole delay unused. */
        if (ss->decommitted && hak_release.delay_ns && ss->purge_at > hak_now_ns() &&
            ((size_t)pool.hot + 1) * HAK_SUPERSLAB_SIZE <= hak_release.pool_cap)
            pool.hot++;
    }
    if (pool.list.last && hak_release.delay_ns) pool_purge_locked(hak_now_ns(), 2);
    pthread_mutex_unlock(&pool.lock);
    if (ss) {
        uint32_t dirty = ss->dirty_mask;
        ss_init(ss, o);
        ss->dirty_mask = dirty;
        free_dirty_add(__builtin_popcount(dirty));
    } else {
        ss = hak_os_map_aligned(HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE);
        /* The OS refused (an address-space limit, RLIMIT_AS): give back the
         * freed huge mappings kept for reuse, which the limit counts, and
         * try once more, as a huge allocation does (the pool is empty: it
         * was looked at first). */
        if (!ss && hak_huge_cache_trim()) ss = hak_os_map_aligned(HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE);
        if (!ss) return NULL;
        if (!hak_segmap_set((uintptr_t)ss, HAK_SUPERSLAB_SIZE)) {   /* the map could not say it is ours */
            hak_os_unmap(ss, HAK_SUPERSLAB_SIZE);
            return NULL;
        }
        atomic_fetch_add_explicit(&hak_backend.ss_mapped, 1, memory_order_relaxed);
        hak_thp_advise(ss, HAK_SUPERSLAB_SIZE);
        ss_init(ss, o);
        ss->dirty_mask = 0;
    }
    hak_list_push(&o->superslabs, &ss->link);
    return ss;
}

/* An empty superslab leaves its owner: into the pool if it has room (the
 * few kept hot keep their pages until the delay), else back to the OS. */
static void ss_release(hak_ss_owner_t *o, hak_superslab_t *ss) {
    free_dirty_add(-__builtin_popcount(ss->dirty_mask));
    hak_list_remove(&o->superslabs, &ss->link);
    ss->owner = NULL;
    ss->purge_mask = 0;
    ss->decommitted = 0;
    pthread_mutex_lock(&pool.lock);
    bool fits = ((size_t)pool.count + 1) * HAK_SUPERSLAB_SIZE <= hak_release.pool_cap;
    /* The hot ones are those still committed: decommitted superslabs in
     * the pool do not take their places (they did, and in a steady state
     * every superslab arriving was decommitted, then reused: a madvise
     * and its page faults per cycle). */
    if (pool.hot < hak_release.pool_hot) pool.hot = hak_release.pool_hot;
    bool hot = pool.committed < pool.hot;
    pthread_mutex_unlock(&pool.lock);
    /* Beyond the few kept hot (or with no delay), decommit before the
     * superslab is visible in the pool. */
    if (fits && hak_release.advice && (hak_release.delay_ns == 0 || !hot)) {
        if (hak_release_decommit((uint8_t *)ss + HAK_SS_KEEP, HAK_SUPERSLAB_SIZE - HAK_SS_KEEP, hak_release.advice))
            ss->dirty_mask = 0;
        ss->decommitted = 1;
    }
    pthread_mutex_lock(&pool.lock);
    if (((size_t)pool.count + 1) * HAK_SUPERSLAB_SIZE <= hak_release.pool_cap) {
        uint64_t now = hak_release.delay_ns ? hak_now_ns() : 0;
        ss->pooled = 1;
        ss->purge_at = now + hak_release.delay_ns;
        hak_list_push(&pool.list, &ss->link);
        pool.count++;
        if (!ss->decommitted) pool.committed++;
        ss = NULL;
        if (hak_release.delay_ns) pool_purge_locked(now, 2);
        hak_superslab_t *newest = SS_OF(pool.list.first);
        if (hak_release.advice && !newest->decommitted && !hak_purge_get(HAK_PURGE_POOL))
            hak_purge_set(HAK_PURGE_POOL, newest->purge_at);
    }
    unsigned count = pool.count;
    pthread_mutex_unlock(&pool.lock);
    if (ss) {
        hak_verbose_event("superslab pool full, superslab unmapped; pool count", count);
        ss_unmap(ss);
    }
}

size_t hak_superslab_pool_trim(void) {
    pthread_mutex_lock(&pool.lock);
    hak_link_t *list = pool.list.first;
    pool.list.first = pool.list.last = NULL;
    pool.count = 0;
    pool.committed = 0;
    pool.hot = hak_release.pool_hot;   /* trim: the quick reuse seen so far no longer counts */
    hak_purge_set(HAK_PURGE_POOL, 0);
    pthread_mutex_unlock(&pool.lock);
    size_t bytes = 0;
    while (list) {
        hak_link_t *next = list->next;
        ss_unmap(SS_OF(list));
        bytes += HAK_SUPERSLAB_SIZE;
        list = next;
    }
    return bytes;
}

/* ---- spans ---- */

/* Mask of slab indexes where a run of n free slabs starts. */
static uint32_t run_starts(uint32_t free_mask, unsigned n) {
    uint32_t m = free_mask;
    for (unsigned i = 1; i < n; i++) m &= free_mask >> i;
    /* a run may not wrap past slab 31 */
    if (n > 1) m &= (uint32_t)(HAK_ALL_SLABS >> (n - 1));
    return m;
}

/* Find n free slabs in o's superslabs (large spans avoid slab 0, whose
 * blocks start after the header and so are not 64 KiB aligned). */
static hak_superslab_t *find_run(hak_ss_owner_t *o, unsigned n, bool skip_slab0, unsigned *start) {
    uint32_t exclude = skip_slab0 ? ~1u : HAK_ALL_SLABS;
    for (int pass = 0; pass < 2; pass++) {
        for (hak_superslab_t *ss = SS_OF(o->superslabs.first); ss; ss = SS_OF(ss->link.next)) {
            uint32_t m = run_starts(ss->free_mask, n) & exclude;
            if (m) { *start = (unsigned)__builtin_ctz(m); return ss; }
        }
        if (pass == 0 && !ss_acquire(o)) return NULL;
    }
    return NULL;
}

/* Free slabs first..first+n-1 of ss join the span whose first slab is
 * head (kind for that slab itself, CONT for the others): taken out of the
 * free and purge masks, their slab-map entries set, counted dirty.  true
 * if none had been written before (fresh, zero memory). */
static bool slabs_claim(hak_superslab_t *ss, unsigned first, unsigned n, unsigned head, uint8_t kind, uint16_t map_value) {
    uint32_t bits = slab_bits(first, n);
    ss->free_mask &= ~bits;
    ss->purge_mask &= ~bits;
    for (unsigned i = first; i < first + n; i++) {
        ss->spans[i].kind = i == head ? kind : HAK_SLAB_CONT;
        ss->head_at[i] = hak_span_head_at(head);
        hak_slabmap_set((uintptr_t)ss + ((uintptr_t)i << HAK_SLAB_SHIFT), map_value);
    }
    bool fresh = (ss->dirty_mask & bits) == 0;
    free_dirty_add(-__builtin_popcount(ss->dirty_mask & bits));
    ss->dirty_mask |= bits;
    return fresh;
}

static hak_span_t *span_claim(hak_superslab_t *ss, unsigned start, unsigned n, uint8_t kind, uint16_t map_value) {
    bool fresh = slabs_claim(ss, start, n, start, kind, map_value);
    hak_span_t *s = &ss->spans[start];
    s->nslabs = (uint8_t)n;
    s->fresh = fresh;
    s->free = NULL;
    s->secret = hak_secure_on() ? hak_random() : 0;
    s->in_avail = 0;
    __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
    s->used = 0;
    s->avail.next = s->avail.prev = NULL;
    s->notify_next = NULL;
    uint8_t *base = (uint8_t *)ss + ((size_t)start << HAK_SLAB_SHIFT);
    s->data = start == 0 ? (uint8_t *)ss + HAK_HEADER_SIZE : base;
    return s;
}

hak_span_t *hak_span_new_small(hak_ss_owner_t *o, unsigned cls, const hak_span_shape_t *sh) {
    unsigned start;
    hak_superslab_t *ss = find_run(o, sh->nslabs, false, &start);
    if (!ss) return NULL;
    hak_span_t *s = span_claim(ss, start, sh->nslabs, HAK_SLAB_SMALL, sh->map_value);
    uint8_t *end = (uint8_t *)ss + ((size_t)(start + sh->nslabs) << HAK_SLAB_SHIFT);
    s->cls = (uint8_t)cls;
    s->block_size = sh->block_size;
    s->div_magic = sh->div_magic;
    s->capacity = (uint32_t)((size_t)(end - s->data) / sh->block_size);
    return s;
}

hak_span_t *hak_span_new_large(hak_ss_owner_t *o, unsigned nslabs) {
    unsigned start;
    hak_superslab_t *ss = find_run(o, nslabs, true, &start);
    if (!ss) return NULL;
    hak_span_t *s = span_claim(ss, start, nslabs, HAK_SLAB_LARGE, 0);
    s->cls = 0;
    s->block_size = (uint32_t)(nslabs << HAK_SLAB_SHIFT);
    s->capacity = 1;
    __atomic_store_n(&s->carved, 1, __ATOMIC_RELAXED);
    s->used = 1;
    return s;
}

static void slabs_decommit(hak_superslab_t *ss, uint32_t mask, int advice);

/* o has free slabs due at `at`: its own deadline, and the scheduler's for
 * other threads, who act one delay later (an owner still running has
 * purged by then). */
static void owner_note_due(hak_ss_owner_t *o, uint64_t at) {
    o->purge_pending = 1;
    uint64_t d = atomic_load_explicit(&o->purge_due, memory_order_relaxed);
    if (d && d <= at) return;
    atomic_store_explicit(&o->purge_due, at, memory_order_relaxed);
    hak_purge_earlier(HAK_PURGE_OWNED, at + hak_release.delay_ns);
}

/* Slabs start..start+n-1 of ss become free: marked, and decommitted now or
 * at their purge delay. */
static void slabs_free(hak_ss_owner_t *o, hak_superslab_t *ss, unsigned start, unsigned n) {
    for (unsigned i = start; i < start + n; i++) {
        ss->spans[i].kind = HAK_SLAB_FREE;
        ss->head_at[i] = hak_span_head_at(i);
        hak_slabmap_set((uintptr_t)ss + ((uintptr_t)i << HAK_SLAB_SHIFT), 0);
    }
    uint32_t bits = slab_bits(start, n);
    ss->free_mask |= bits;
    free_dirty_add(__builtin_popcount(ss->dirty_mask & bits));
    if (ss->free_mask == HAK_ALL_SLABS) { ss_release(o, ss); return; }
    if (!hak_release.spans) return;
    if (hak_release.delay_ns == 0) {
        slabs_decommit(ss, bits, hak_release.advice);
    } else {
        uint64_t due = hak_now_ns() + hak_release.delay_ns;
        for (unsigned i = start; i < start + n; i++) ss->slab_due_ms[i] = (uint32_t)(due / 1000000);
        if (!ss->purge_mask) ss->purge_at = due;
        ss->purge_mask |= bits;
        owner_note_due(o, ss->purge_at);
    }
}

void hak_span_free(hak_ss_owner_t *o, hak_span_t *s) {
    hak_superslab_t *ss = hak_span_superslab(s);
    slabs_free(o, ss, (unsigned)(s - ss->spans), s->nslabs);
}

bool hak_span_resize_large(hak_ss_owner_t *o, hak_span_t *s, unsigned nslabs) {
    hak_superslab_t *ss = hak_span_superslab(s);
    unsigned start = (unsigned)(s - ss->spans), old = s->nslabs;
    if (nslabs > old) {
        /* the slabs right after it, if they are all free */
        if (start + nslabs > HAK_SLABS) return false;
        uint32_t bits = slab_bits(start + old, nslabs - old);
        if ((ss->free_mask & bits) != bits) return false;
        slabs_claim(ss, start + old, nslabs - old, start, HAK_SLAB_CONT, 0);   /* a large span's entries are 0 */
    } else if (nslabs < old) {
        slabs_free(o, ss, start + nslabs, old - nslabs);   /* never the last span: s stays */
    }
    s->nslabs = (uint8_t)nslabs;
    s->block_size = (uint32_t)(nslabs << HAK_SLAB_SHIFT);
    return true;
}

/* Decommit the free slabs in mask (contiguous runs, one call each). */
static void slabs_decommit(hak_superslab_t *ss, uint32_t mask, int advice) {
    while (mask) {
        unsigned start = (unsigned)__builtin_ctz(mask), n = 0;
        while (start + n < HAK_SLABS && (mask >> (start + n) & 1)) n++;
        uint32_t bits = slab_bits(start, n);
        uint8_t *from = (uint8_t *)ss + ((size_t)start << HAK_SLAB_SHIFT);
        uint8_t *to = (uint8_t *)ss + ((size_t)(start + n) << HAK_SLAB_SHIFT);
        if (start == 0) from = (uint8_t *)ss + HAK_SS_KEEP;
        if (hak_release_decommit(from, (size_t)(to - from), advice)) {
            free_dirty_add(-__builtin_popcount(ss->dirty_mask & bits));
            ss->dirty_mask &= ~bits;
        }
        mask &= ~bits;
    }
}

void hak_ss_purge(hak_ss_owner_t *o, uint64_t now, int mode) {
    bool all = mode == HAK_PURGE_ALL;
    unsigned budget = all ? ~0u : 4;
    uint64_t next = 0;   /* earliest purge_at of what is left */
    /* Within the span budget a due slab waits one more delay (checked
     * again then, not at every slow path). */
    bool keep = mode == HAK_PURGE_DUE && hak_release.span_budget &&
                (size_t)atomic_load_explicit(&hak_backend.free_dirty_slabs, memory_order_relaxed) * HAK_SLAB_SIZE <=
                    hak_release.span_budget;
    for (hak_superslab_t *ss = SS_OF(o->superslabs.first); ss; ss = SS_OF(ss->link.next)) {
        uint32_t m = all ? (ss->free_mask & ss->dirty_mask) : ss->purge_mask;
        if (!m) continue;
        if (!all && keep && ss->purge_at <= now) ss->purge_at = now + hak_release.delay_ns;
        if ((!all && ss->purge_at > now) || !budget) {
            if (!next || ss->purge_at < next) next = ss->purge_at;
            continue;
        }
        budget--;
        if (!all) {
            /* only the slabs whose own delay is over; the others wait */
            uint32_t now_ms = (uint32_t)(now / 1000000), later = 0, wait = UINT32_MAX;
            for (uint32_t b = m; b; b &= b - 1) {
                unsigned i = (unsigned)__builtin_ctz(b);
                int32_t d = (int32_t)(ss->slab_due_ms[i] - now_ms);
                if (d > 0) { later |= 1u << i; if ((uint32_t)d < wait) wait = (uint32_t)d; }
            }
            m &= ~later;
            ss->purge_mask = later;
            if (later) {
                ss->purge_at = now + (uint64_t)wait * 1000000;
                if (!next || ss->purge_at < next) next = ss->purge_at;
            }
            slabs_decommit(ss, m, hak_release.advice);
            continue;
        }
        /* trim gives back every written free slab, whatever the policy */
        slabs_decommit(ss, m, MADV_DONTNEED);
        ss->purge_mask = 0;
    }
    o->purge_pending = next != 0;
    atomic_store_explicit(&o->purge_due, next, memory_order_relaxed);
}

void hak_superslab_fork_prepare(void) { pthread_mutex_lock(&pool.lock); }
void hak_superslab_fork_parent(void) { pthread_mutex_unlock(&pool.lock); }
void hak_superslab_fork_child(void) { pthread_mutex_init(&pool.lock, NULL); }

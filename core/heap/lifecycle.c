/* lifecycle.c — making, adopting and abandoning heaps; the span lock;
 * thread exit and fork. */
#include "heap/heap_internal.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/os.h"
#include "backend/slabmap.h"
#include "base/diag.h"
#include "box/verbose_box.h"

__thread hak_front_t *hak_tls_front HAK_TLS = &hak_empty_front;
__thread hak_heap_t *hak_tls_heap HAK_TLS;
HAK_HIDDEN void *const hak_head_slot[1];
/* Every cache empty and full at once, like the head, reading the slab
 * map's table of zeros until the map has windows. */
HAK_HIDDEN hak_front_t hak_empty_front = {
    .head = HAK_FRONT_HEAD,
    .cache = {[0 ... HAK_NCLASSES - 1] = HAK_FRONT_HEAD},
    .slabmap = {HAK_SLABMAP_ZERO_LEVEL1},
};
HAK_HIDDEN hak_heaps_state_t hak_heaps = {.visit_lock = PTHREAD_MUTEX_INITIALIZER};
HAK_HIDDEN hak_heaps_hooks_t hak_heaps_hooks;
HAK_HIDDEN hak_class_info_t hak_classes[HAK_NCLASSES];
HAK_HIDDEN uint32_t hak_cache_slot_count;
HAK_HIDDEN uint64_t hak_tiny_off[HAK_TINY_MAX + 1];

static void thread_exit(void *h) { hak_heap_thread_exit(h); }

/* A slab-map window got its table: every front's copy of the first level
 * learns it.  A front that has not yet seen it reads zeros there, which
 * sends those frees to the slow path: slower, never wrong. */
static void slabmap_window_opened(size_t w, const uint64_t *biased) {
    __atomic_store_n(&hak_empty_front.slabmap[w], biased, __ATOMIC_RELAXED);
    if (hak_heaps_hooks.free_checked) return;   /* their fronts keep reading zeros: every free is checked */
    for (hak_heap_t *h = HEAP_FIRST(); h; h = h->all_next) __atomic_store_n(&h->front.slabmap[w], biased, __ATOMIC_RELAXED);
}

void hak_heaps_init(void) {
    hak_heaps_free_key = (uintptr_t)hak_random();
    hak_slabmap_init(slabmap_window_opened);
    pthread_key_create(&hak_heaps.key, thread_exit);
    heaps_reclaim_init();
}

void hak_heaps_foreach(void (*f)(hak_heap_t *, void *), void *arg) {
    for (hak_heap_t *h = HEAP_FIRST(); h; h = h->all_next) f(h, arg);
}

/* ---- the span lock ----
 * Whoever changes a heap's spans holds it: the owner in its slow paths (one
 * uncontended exchange per call, amortised over a batch; the fast paths use
 * only the caches and never take it), or another thread reclaiming from the
 * heap while its owner is idle.  Those only try it, so no thread ever waits
 * for a heap lock while holding another. */
void hak_heap_lock(hak_heap_t *h) {
    while (atomic_exchange_explicit(&h->lock, 1, memory_order_acquire))
        while (atomic_load_explicit(&h->lock, memory_order_relaxed)) sched_yield();
}

void hak_heap_unlock(hak_heap_t *h) { atomic_store_explicit(&h->lock, 0, memory_order_release); }

bool heap_trylock(hak_heap_t *h) {
    return !atomic_load_explicit(&h->lock, memory_order_relaxed) &&
           !atomic_exchange_explicit(&h->lock, 1, memory_order_acquire);
}

void heap_lock_owner(hak_heap_t *h) {
    hak_heap_lock(h);
    if (HAK_UNLIKELY(atomic_load_explicit(&h->reclaimed, memory_order_relaxed))) heap_reconcile(h);
}

/* ---- making and attaching heaps ---- */

static size_t heap_bytes(void) {
    size_t bytes = sizeof(hak_heap_t) + (size_t)hak_cache_slot_count * sizeof(void *);
    return (bytes + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

static hak_heap_t *heap_create(void) {
    size_t bytes = heap_bytes();
    hak_heap_t *h = hak_os_map_aligned(bytes, HAK_PAGE);
    if (!h) return NULL;
    h->size = bytes;
    h->front.head = (hak_cache_t)HAK_FRONT_HEAD;
    memcpy(h->front.tiny, hak_tiny_off, sizeof h->front.tiny);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        void **slot = h->slot_store + hak_classes[c].slot_first;
        h->front.cache[c].base = h->front.cache[c].top = slot;
        h->front.cache[c].end = slot;   /* closed until first used: hak_heap_cache_open */
        h->cap[c] = hak_classes[c].cache_cap;
        h->front.cache[c].flush_stamp = hak_random();   /* odd: never 0 (cache.c dup_seen) */
    }
    atomic_store(&h->state, HAK_HEAP_OWNED);
    hak_heap_t *top = atomic_load(&hak_heaps.all);
    do { h->all_next = top; } while (!atomic_compare_exchange_weak(&hak_heaps.all, &top, h));
    /* After joining the list: a window opened meanwhile is either in this
     * copy or written into it by slabmap_window_opened. */
    if (hak_heaps_hooks.free_checked)
        for (size_t w = 0; w < HAK_SLABMAP_WINDOWS; w++) h->front.slabmap[w] = HAK_SLABMAP_BIASED(hak_slabmap_zero, w);
    else
        hak_slabmap_copy(h->front.slabmap);
    return h;
}

void hak_heap_front_reset(void) {
    hak_heap_t *h = hak_tls_heap;
    if (h) hak_tls_front = hak_heaps_hooks.bypass ? &hak_empty_front : &h->front;
}

hak_heap_t *hak_heap_get(void) {
    hak_heap_t *h = hak_tls_heap;
    if (HAK_LIKELY(h)) return h;
    /* Adopt an abandoned heap, spans and all, before mapping a new one. */
    for (h = HEAP_FIRST(); h; h = h->all_next) {
        int expect = HAK_HEAP_FREE;
        if (atomic_load_explicit(&h->state, memory_order_relaxed) == HAK_HEAP_FREE &&
            atomic_compare_exchange_strong(&h->state, &expect, HAK_HEAP_OWNED))
            break;
    }
    bool created = false;
    if (!h) {
        if (!(h = heap_create())) return NULL;
        created = true;
        hak_verbose_event("new thread heap, bytes", h->size);
    }
    /* Under the lock: a taker (idle caches) reads them under it. */
    hak_heap_lock(h);
    h->tid = (int)syscall(SYS_gettid);
    h->front_var = &hak_tls_front;
    hak_heap_unlock(h);
    hak_tls_heap = h;
    hak_heap_front_reset();
    /* Registers the exit callback.  The key was created first at init, so it
     * is one of glibc's static keys and this does not allocate. */
    pthread_setspecific(hak_heaps.key, h);
    if (created && hak_heaps_hooks.created) hak_heaps_hooks.created(h);
    return h;
}

/* ---- thread exit ---- */

void hak_heap_thread_exit(hak_heap_t *h) {
    if (!h || h != hak_tls_heap) return;
    heap_lock_owner(h);
    heap_flush_all(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) h->front.cache[c].end = h->front.cache[c].base;   /* closed for the next owner */
    if (HAK_UNLIKELY(heap_check_on())) heap_check_caches(h, "thread exit");
    heap_release_empty(h);
    if (heap_purge_wanted(h)) heap_purge_now(h);
    hak_tls_front = &hak_empty_front;
    hak_tls_heap = NULL;
    h->front_var = NULL;   /* this thread's TLS is about to go */
    /* Under the lock: a visitor that holds it sees OWNED or FREE, never a
     * heap changing hands in the middle of its visit. */
    atomic_store(&h->state, HAK_HEAP_FREE);
    hak_heap_unlock(h);
    /* A remote free that raced with the collect above sees FREE and visits;
     * or we see its notification here. */
    heap_visit(h);
}

/* ---- totals ---- */

void hak_heaps_totals(hak_heaps_totals_t *t) {
    memset(t, 0, sizeof *t);
    for (hak_heap_t *h = HEAP_FIRST(); h; h = h->all_next) {
        for (unsigned c = 0; c < HAK_NCLASSES; c++) {
            const hak_class_stats_t *cs = &h->cstats[c];
            t->cls[c].allocs += cs->allocs;
            t->cls[c].frees += cs->frees;
            t->cls[c].hits += cs->hits;
            t->cls[c].misses += cs->misses;
            t->cls[c].refills += cs->refills;
            t->cls[c].flushes += cs->flushes;
            /* after an idle-cache take, only the blocks from the taken count's top on are there */
            uint32_t n = hak_cache_count(&h->front.cache[c]), had = h->reclaim_count[c];
            if (had) n = n + 1 > had ? n + 1 - had : 0;
            t->cached_bytes += (uint64_t)n * hak_class_block(c);
        }
        t->remote_frees += h->remote_frees;
        t->out_bytes += atomic_load_explicit(&h->out_bytes, memory_order_relaxed);
    }
    t->large_bytes = atomic_load(&hak_heaps.large_bytes);
}

/* ---- fork ---- */

void hak_heaps_fork_prepare(void) { pthread_mutex_lock(&hak_heaps.visit_lock); }
void hak_heaps_fork_parent(void) { pthread_mutex_unlock(&hak_heaps.visit_lock); }

void hak_heaps_fork_child_alone(void) {
    if (hak_tls_heap) hak_tls_heap->tid = (int)syscall(SYS_gettid);
}

void hak_heaps_fork_child(void) {
    pthread_mutex_init(&hak_heaps.visit_lock, NULL);
    /* Heaps held by threads that do not exist in the child may be half-way
     * through an update: never touch them again.  No visitor was inside a
     * heap (fork_prepare took visit_lock), and a free heap's lock can only
     * be an exiting thread's last moment: clear it. */
    for (hak_heap_t *h = atomic_load(&hak_heaps.all); h; h = h->all_next) {
        int st = atomic_load(&h->state);
        if (h == hak_tls_heap || st == HAK_HEAP_FREE) atomic_store(&h->lock, 0);
        if (h == hak_tls_heap) { h->tid = (int)syscall(SYS_gettid); continue; }
        if (st == HAK_HEAP_OWNED || st == HAK_HEAP_VISITING) atomic_store(&h->state, HAK_HEAP_DEAD);
    }
}

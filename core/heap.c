/* heap.c — refill, flush, remote frees and the heap lifecycle. */
#include "heap.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "box/debug_box.h"
#include "box/os_box.h"
#include "box/prewarm_box.h"
#include "box/release_box.h"
#include "box/secure_box.h"
#include "box/verbose_box.h"
#include "box/superslab_box.h"
#include "front/size_class.h"
#include "huge.h"

__thread hak_cache_t *hak_tls_front HAK_TLS = hak_empty_front;
__thread hak_heap_t *hak_tls_heap HAK_TLS;
HAK_HIDDEN hak_cache_t hak_empty_front[HAK_FRONT_SLOTS];
HAK_HIDDEN int hak_front_bypass;
HAK_HIDDEN _Atomic uint64_t hak_large_bytes;

static _Atomic(hak_heap_t *) heaps_all;   /* every heap ever made; never freed */
static pthread_key_t heap_key;
/* Held while a thread reclaims from heaps other than its own, so that fork
 * never happens with another heap's span lock taken by a visitor. */
static pthread_mutex_t visit_lock = PTHREAD_MUTEX_INITIALIZER;
/* When some heap's pending purge has been due for a whole delay, or 0: its
 * owner has run no slow path since, so another thread's does it. */
HAK_HIDDEN _Atomic uint64_t hak_heaps_purge_due;

void hak_heaps_init(void) { pthread_key_create(&heap_key, hak_heap_thread_exit); }

void hak_heaps_foreach(void (*f)(hak_heap_t *, void *), void *arg) {
    for (hak_heap_t *h = atomic_load_explicit(&heaps_all, memory_order_acquire); h; h = h->all_next) f(h, arg);
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

static bool heap_trylock(hak_heap_t *h) {
    return !atomic_load_explicit(&h->lock, memory_order_relaxed) &&
           !atomic_exchange_explicit(&h->lock, 1, memory_order_acquire);
}

/* ---- avail lists: spans of a class that still have blocks to give ---- */

void hak_heap_avail_push(hak_heap_t *h, hak_span_t *s) {
    s->prev = NULL;
    s->next = h->avail[s->cls];
    if (s->next) s->next->prev = s;
    h->avail[s->cls] = s;
    s->in_avail = 1;
}

static void avail_remove(hak_heap_t *h, hak_span_t *s) {
    if (s->prev) s->prev->next = s->next; else h->avail[s->cls] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->in_avail = 0;
}

/* A span whose blocks all came back: give its slabs back unless it is the
 * class's only span with room in a heap whose thread is alive (keeping it
 * avoids thrashing at a boundary; an abandoned heap keeps nothing). */
static void span_empty(hak_heap_t *h, hak_span_t *s) {
    if (s->in_avail && h->avail[s->cls] == s && s->next == NULL &&
        atomic_load_explicit(&h->state, memory_order_relaxed) == HAK_HEAP_OWNED)
        return;
    if (s->in_avail) avail_remove(h, s);
    hak_span_free(h, s);
}

/* n blocks (list first..last) come back to span s held by h. */
static void span_take_back(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n) {
    hak_link_set(s, last, s->free);
    s->free = first;
    s->used -= n;
    if (!s->in_avail) hak_heap_avail_push(h, s);
    if (s->used == 0) span_empty(h, s);
}

/* Secure box: a decoded link must point into its span. */
static bool link_in_span(const hak_span_t *s, const void *p) {
    const uint8_t *q = p;
    return q >= s->data && q < s->data + (size_t)s->capacity * s->block_size;
}

static HAK_COLD void link_corrupt(const hak_span_t *s, const void *b) {
    (void)s;
    hak_heap_error(HAK_ERR_CORRUPTION, b, "free-list link of a freed block overwritten (use after free?); rest of the list dropped", (uint64_t)-1, false);
}

/* ---- remote frees ---- */

static void heap_visit(hak_heap_t *o);

/* Push blocks first..last (n of them) onto span s of another heap. */
static void remote_push(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n) {
    void *old = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do {
        hak_link_set(s, last, old);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, first, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (h) h->remote_frees += n;
    if (old != NULL) return;   /* the span is already on its owner's notify list */
    /* First block since the owner last looked: tell the owner heap. */
    hak_heap_t *o = hak_region_of(s)->owner;
    hak_span_t *top = atomic_load_explicit(&o->notify, memory_order_relaxed);
    do {
        s->notify_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&o->notify, &top, s, memory_order_seq_cst,
                                                    memory_order_relaxed));
    /* An abandoned heap has no thread to collect: do it now. */
    if (atomic_load(&o->state) == HAK_HEAP_FREE) heap_visit(o);
}

static void heap_drain(hak_heap_t *h) {
    hak_span_t *s = atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire);
    while (s) {
        /* Read the link before taking the blocks: once remote is empty
         * again, a pusher may put s back on the notify list. */
        hak_span_t *next = s->notify_next;
        void *b = atomic_exchange_explicit(&s->remote, NULL, memory_order_acq_rel);
        if (s->kind == HAK_SLAB_LARGE) {
            hak_span_free(h, s);
        } else if (b) {
            void *last = b, *next;
            uint32_t n = 1;
            while ((next = hak_link_get(s, last)) != NULL) {
                if (!link_in_span(s, next)) { link_corrupt(s, last); break; }
                last = next;
                n++;
            }
            span_take_back(h, s, b, last, n);
        }
        s = next;
    }
}

/* Take an abandoned heap for a moment and collect what others freed into it. */
static void heap_visit(hak_heap_t *o) {
    int expect = HAK_HEAP_FREE;
    while (atomic_load(&o->notify) != NULL &&
           atomic_compare_exchange_strong(&o->state, &expect, HAK_HEAP_VISITING)) {
        heap_drain(o);
        if (o->purge_pending) hak_superslab_purge(o, false);   /* nobody else will */
        atomic_store(&o->state, HAK_HEAP_FREE);
        expect = HAK_HEAP_FREE;
    }
}

/* ---- refill and flush ---- */

bool hak_heap_refill(hak_heap_t *h, unsigned cls) {
    hak_heap_lock(h);
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    hak_cache_t *c = &h->front[cls];
    uint32_t want = hak_classes[cls].batch, n = hak_cache_count(c), had = n;
    if (want > hak_cache_cap(c) - n) want = hak_cache_cap(c) - n;
    want += n;
    while (n < want) {
        hak_span_t *s = h->avail[cls];
        if (!s && !(s = hak_span_new_small(h, cls))) break;
        uint32_t got = 0;
        while (n < want && s->free) {
            void *b = s->free;
            s->free = hak_link_get(s, b);
            if (s->free && !link_in_span(s, s->free)) { link_corrupt(s, b); s->free = NULL; }
            c->base[n++] = b;
            got++;
        }
        uint32_t k = s->capacity - s->carved;
        if (k > want - n) k = want - n;
        if (k) {
            /* Carve top-down so the lowest address is popped first. */
            uint8_t *p = s->data + (size_t)(s->carved + k) * s->block_size;
            for (uint32_t i = 0; i < k; i++) { p -= s->block_size; c->base[n++] = p; }
            /* Debug box: a carved block must not carry a freed mark from the
             * memory's earlier life (its junk is not this block's). */
            if (hak_guard_on())
                for (uint32_t i = 0; i < k; i++) memset((uint8_t *)c->base[n - 1 - i] + s->block_size - 8, 0, 8);
            if (hak_redzone)
                for (uint32_t i = 0; i < k; i++) hak_redzone_set((uint8_t *)c->base[n - 1 - i] + s->block_size);
            if (hak_secure_on()) hak_secure_shuffle(&c->base[n - k], k);
            __atomic_store_n(&s->carved, s->carved + k, __ATOMIC_RELAXED);   /* read by other threads' checks */
            got += k;
        }
        s->used += got;
        if (!s->free && s->carved == s->capacity) avail_remove(h, s);
    }
    atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) +
                          (uint64_t)(n - had) * hak_classes[cls].block_size, memory_order_relaxed);
    hak_heap_unlock(h);
    c->top = c->base + n;
    if (hak_front_bypass) h->cstats[cls].refills++;
    return n > 0;
}

/* SPEED's batched checks: before blocks leave the cache, drop (and report
 * once) any that is not a block start of a small span, and any that is in
 * the cache twice (a double free); in SECURE, check each block's redzone
 * too.  Duplicates are found by marking: each block's first word (free
 * memory: the free-list link goes there later) gets a value derived from
 * this pass's stamp and the block's address; a block that already carries
 * it was seen earlier in this pass.  Linear, and no table to clear.
 * A block still carrying the previous pass's mark was found valid then and
 * has not been back to a span since (that writes a link over the mark), so
 * it is a block start still: only its mark is renewed.  That halves the
 * work, as a flush keeps half the cache and checks it again next time. */
static void cache_check(hak_heap_t *h, unsigned cls) {
    hak_cache_t *c = &h->front[cls];
    const uint64_t prev = c->check_stamp;
    const uint64_t stamp = prev * 6364136223846793005ull + 1442695040888963407ull;
    c->check_stamp = stamp;
    /* locals: the mark stores below could alias globals */
    const size_t redzone = hak_redzone, bs = hak_classes[cls].block_size;
    void **v = c->base;
    uint32_t out = 0, count = hak_cache_count(c);
    for (uint32_t i = 0; i < count; i++) {
        void *b = v[i];
        uint64_t *first = b, mark = stamp ^ (uintptr_t)b;
        if (*first != (prev ^ (uintptr_t)b)) {
            hak_region_t *r = hak_region_of(b);
            hak_span_t *s = hak_span_of(r, b);
            /* A carved block start: one unsigned compare covers both ends
             * of the carved range (a span is under 4 GiB: 32-bit modulo). */
            size_t off = (uintptr_t)b - (uintptr_t)s->data;
            if (s->kind != HAK_SLAB_SMALL ||
                off >= (size_t)__atomic_load_n(&s->carved, __ATOMIC_RELAXED) * s->block_size ||
                (uint32_t)off % s->block_size) {
                hak_heap_error(HAK_ERR_INVALID_FREE, b, "not the start of a block (found when the thread cache flushed); ignored", (uint64_t)-1, true);
                continue;
            }
            if (*first == mark || (r->owner == h && b == s->free)) {
                hak_heap_error(HAK_ERR_DOUBLE_FREE, b, "block freed twice (found when the thread cache flushed); ignored", (uint64_t)-1, true);
                continue;
            }
        }
        *first = mark;
        if (redzone) hak_redzone_check(b, (uint8_t *)b + bs);
        v[out++] = b;
    }
    c->top = v + out;
}

static void heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    hak_cache_t *c = &h->front[cls];
    if (hak_cache_count(c) <= keep) return;
    cache_check(h, cls);
    if (hak_cache_count(c) <= keep) return;
    uint32_t m = hak_cache_count(c) - keep;
    /* Consecutive blocks of one foreign span go back as one chain: one
     * atomic per batch per span. */
    hak_span_t *rs = NULL;
    void *rfirst = NULL, *rlast = NULL;
    uint32_t rn = 0;
    for (uint32_t i = 0; i < m; i++) {
        void *b = c->base[i];
        hak_region_t *r = hak_region_of(b);
        hak_span_t *s = hak_span_of(r, b);
        if (r->owner == h) {
            hak_link_set(s, b, s->free);
            s->free = b;
            if (!s->in_avail) hak_heap_avail_push(h, s);
            if (--s->used == 0) span_empty(h, s);
            continue;
        }
        if (s != rs) {
            if (rs) remote_push(h, rs, rfirst, rlast, rn);
            rs = s;
            rfirst = rlast = b;
            rn = 1;
        } else {
            hak_link_set(s, b, rfirst);
            rfirst = b;
            rn++;
        }
    }
    if (rs) remote_push(h, rs, rfirst, rlast, rn);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) -
                          (uint64_t)m * hak_classes[cls].block_size, memory_order_relaxed);
    memmove(c->base, c->base + m, keep * sizeof(void *));
    c->top = c->base + keep;
    if (hak_front_bypass) h->cstats[cls].flushes++;
}

void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    hak_heap_lock(h);
    heap_flush(h, cls, keep);
    hak_heap_unlock(h);
}

/* ---- large spans ---- */

void *hak_heap_large_alloc(hak_heap_t *h, size_t size, bool *fresh) {
    unsigned n = (unsigned)((size + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
    hak_heap_lock(h);
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    hak_span_t *s = hak_span_new_large(h, n);
    hak_heap_unlock(h);
    if (!s) return NULL;
    atomic_fetch_add_explicit(&hak_large_bytes, s->block_size, memory_order_relaxed);
    if (hak_guard_on()) memset(s->data + s->block_size - 8, 0, 8);   /* see the carve loop */
    *fresh = s->fresh;
    return s->data;
}

void hak_heap_large_free(hak_heap_t *h, hak_span_t *s, void *p) {
    atomic_fetch_sub_explicit(&hak_large_bytes, s->block_size, memory_order_relaxed);
    if (h && hak_region_of(s)->owner == h) {
        hak_heap_lock(h);
        hak_span_free(h, s);
        hak_heap_unlock(h);
    } else {
        remote_push(h, s, p, p, 1);
    }
}

/* ---- heap lifecycle ---- */

static size_t heap_bytes(void) {
    size_t slots = 0;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) slots += hak_classes[c].cache_cap;
    size_t bytes = sizeof(hak_heap_t) + slots * sizeof(void *);
    return (bytes + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

static hak_heap_t *heap_create(void) {
    size_t bytes = heap_bytes();
    hak_heap_t *h = hak_os_map_aligned(bytes, HAK_PAGE);
    if (!h) return NULL;
    h->size = bytes;
    void **slot = h->slot_store;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        h->front[c].base = h->front[c].top = slot;
        h->front[c].end = slot + hak_classes[c].cache_cap;
        h->front[c].check_stamp = hak_secure_random();
        slot += hak_classes[c].cache_cap;
    }
    atomic_store(&h->state, HAK_HEAP_OWNED);
    hak_heap_t *top = atomic_load(&heaps_all);
    do { h->all_next = top; } while (!atomic_compare_exchange_weak(&heaps_all, &top, h));
    return h;
}

hak_heap_t *hak_heap_get(void) {
    hak_heap_t *h = hak_tls_heap;
    if (HAK_LIKELY(h)) return h;
    /* Adopt an abandoned heap, spans and all, before mapping a new one. */
    for (h = atomic_load_explicit(&heaps_all, memory_order_acquire); h; h = h->all_next) {
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
    hak_tls_heap = h;
    hak_tls_front = hak_front_bypass ? hak_empty_front : h->front;
    /* Registers the exit callback.  The key was created first at init, so it
     * is one of glibc's static keys and this does not allocate. */
    pthread_setspecific(heap_key, h);
    if (created && hak_prewarm_on()) hak_prewarm_heap(h);
    return h;
}

/* Collect remote frees and release every empty span, even a class's last
 * (trim, thread exit, idle heaps).  The caches are left alone: only the
 * owner may touch them. */
static void heap_release_empty(hak_heap_t *h) {
    heap_drain(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        hak_span_t *s = h->avail[c];
        while (s) {
            hak_span_t *next = s->next;
            if (s->used == 0) { avail_remove(h, s); hak_span_free(h, s); }
            s = next;
        }
    }
}

/* Trim: give back the free tail of a partly used small span.  The carve
 * cursor goes back to just past the last block not on the free list (in
 * use, or in some cache); free-list entries beyond it are dropped, since the
 * next carve re-initialises those blocks, and the pages past it are
 * decommitted.  Free pages between live blocks stay committed: the free
 * list's links live in them. */
static void span_rollback(hak_span_t *s) {
    enum { MAXB = HAK_SLAB_SIZE / 8 };   /* blocks of the smallest class's span */
    uint64_t isfree[MAXB / 64];
    uint32_t carved = s->carved, nfree = carved - s->used;
    if (s->kind != HAK_SLAB_SMALL || s->used == 0 || nfree == 0 || s->capacity > MAXB) return;
    memset(isfree, 0, ((carved + 63) / 64) * sizeof isfree[0]);
    uint32_t seen = 0;
    for (void *b = s->free; b; b = hak_link_get(s, b)) {
        /* A damaged list (refill reports it) or one longer than the free
         * count: leave the span alone. */
        if (!link_in_span(s, b) || ++seen > nfree) return;
        uint32_t i = (uint32_t)(((uint8_t *)b - s->data) / s->block_size);
        if (i >= carved) return;
        isfree[i / 64] |= 1ull << (i % 64);
    }
    if (seen != nfree) return;
    uint32_t keep = carved;
    while (keep && (isfree[(keep - 1) / 64] >> ((keep - 1) % 64) & 1)) keep--;
    if (keep == carved) return;
    /* Rebuild the list lowest address first, from the blocks below keep. */
    void *list = NULL;
    for (uint32_t i = keep; i-- > 0;) {
        if (!(isfree[i / 64] >> (i % 64) & 1)) continue;
        void *b = s->data + (size_t)i * s->block_size;
        hak_link_set(s, b, list);
        list = b;
    }
    s->free = list;
    __atomic_store_n(&s->carved, keep, __ATOMIC_RELAXED);   /* read by other threads' checks */
    uintptr_t from = ((uintptr_t)s->data + (size_t)keep * s->block_size + HAK_PAGE - 1) & ~(uintptr_t)(HAK_PAGE - 1);
    uintptr_t end = ((uintptr_t)s->data & ~(uintptr_t)(HAK_SLAB_SIZE - 1)) + ((size_t)s->nslabs << HAK_SLAB_SHIFT);
    if (from < end) hak_release_decommit((void *)from, end - from, MADV_DONTNEED);
}

/* Give back everything of h's spans that no block pins (lock held). */
static void heap_trim_spans(hak_heap_t *h) {
    heap_release_empty(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++)
        for (hak_span_t *s = h->avail[c]; s; s = s->next) span_rollback(s);
    hak_superslab_purge_spans(h, 0, HAK_PURGE_ALL);
}

static void heap_flush_all(hak_heap_t *h) {
    for (unsigned c = 0; c < HAK_NCLASSES; c++) heap_flush(h, c, 0);
}

void hak_heap_trim(hak_heap_t *h) {
    hak_heap_lock(h);
    heap_flush_all(h);
    heap_trim_spans(h);
    hak_heap_unlock(h);
}

void hak_heap_verify(hak_heap_t *h) {
    hak_heap_lock(h);   /* the checks read span free lists, which visitors may change */
    for (unsigned c = 0; c < HAK_NCLASSES; c++) cache_check(h, c);
    hak_heap_unlock(h);
}

void hak_heaps_trim_others(hak_heap_t *self) {
    pthread_mutex_lock(&visit_lock);
    for (hak_heap_t *o = atomic_load_explicit(&heaps_all, memory_order_acquire); o; o = o->all_next) {
        if (o == self) continue;
        int st = HAK_HEAP_FREE;
        if (atomic_compare_exchange_strong(&o->state, &st, HAK_HEAP_VISITING)) {
            /* abandoned: no owner, its caches are ours to flush */
            hak_heap_trim(o);
            atomic_store(&o->state, HAK_HEAP_FREE);
            heap_visit(o);   /* frees that arrived while we held it */
        } else if (st == HAK_HEAP_OWNED) {
            /* a live thread: its slow paths hold the lock only briefly */
            bool got = false;
            for (int i = 0; i < 64 && !(got = heap_trylock(o)); i++) sched_yield();
            if (!got) continue;
            if (atomic_load(&o->state) == HAK_HEAP_OWNED) heap_trim_spans(o);
            hak_heap_unlock(o);
        }
    }
    pthread_mutex_unlock(&visit_lock);
}

void hak_heap_note_due(hak_heap_t *h, uint64_t at) {
    uint64_t d = atomic_load_explicit(&h->purge_due, memory_order_relaxed);
    if (d && d <= at) return;
    atomic_store_explicit(&h->purge_due, at, memory_order_relaxed);
    /* Others act one delay later: an owner still running has purged by then. */
    uint64_t t = at + hak_release.delay_ns, g = atomic_load_explicit(&hak_heaps_purge_due, memory_order_relaxed);
    while ((!g || t < g) && !atomic_compare_exchange_weak(&hak_heaps_purge_due, &g, t)) {}
}

void hak_heaps_purge_idle(hak_heap_t *self, uint64_t now) {
    if (pthread_mutex_trylock(&visit_lock) != 0) return;
    uint64_t g0 = atomic_load(&hak_heaps_purge_due), next = 0, delay = hak_release.delay_ns;
    for (hak_heap_t *o = atomic_load_explicit(&heaps_all, memory_order_acquire); o; o = o->all_next) {
        uint64_t d = atomic_load_explicit(&o->purge_due, memory_order_relaxed);
        if (d && o != self && d + delay <= now && heap_trylock(o)) {
            int st = atomic_load(&o->state), expect = HAK_HEAP_FREE;
            bool abandoned = st == HAK_HEAP_FREE && atomic_compare_exchange_strong(&o->state, &expect, HAK_HEAP_VISITING);
            if (st == HAK_HEAP_OWNED || abandoned) {
                heap_drain(o);
                hak_superslab_purge_spans(o, now, HAK_PURGE_IDLE);
            }
            if (abandoned) atomic_store(&o->state, HAK_HEAP_FREE);
            hak_heap_unlock(o);
            if (abandoned) heap_visit(o);
            d = atomic_load_explicit(&o->purge_due, memory_order_relaxed);
        }
        if (d && (!next || d < next)) next = d;
    }
    /* A deadline published meanwhile wins if it is earlier. */
    uint64_t t = next ? next + delay : 0;
    if (!atomic_compare_exchange_strong(&hak_heaps_purge_due, &g0, t))
        while (t && (!g0 || t < g0) && !atomic_compare_exchange_weak(&hak_heaps_purge_due, &g0, t)) {}
    pthread_mutex_unlock(&visit_lock);
}

void hak_heap_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    if (!h || h != hak_tls_heap) return;
    hak_heap_lock(h);
    heap_flush_all(h);
    heap_release_empty(h);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    hak_tls_front = hak_empty_front;
    hak_tls_heap = NULL;
    /* Under the lock: a visitor that holds it sees OWNED or FREE, never a
     * heap changing hands in the middle of its visit. */
    atomic_store(&h->state, HAK_HEAP_FREE);
    hak_heap_unlock(h);
    /* A remote free that raced with the collect above sees FREE and visits;
     * or we see its notification here. */
    heap_visit(h);
}

void hak_heaps_fork_prepare(void) { pthread_mutex_lock(&visit_lock); }
void hak_heaps_fork_parent(void) { pthread_mutex_unlock(&visit_lock); }

void hak_heaps_fork_child(void) {
    pthread_mutex_init(&visit_lock, NULL);
    /* Heaps held by threads that do not exist in the child may be half-way
     * through an update: never touch them again.  No visitor was inside a
     * heap (fork_prepare took visit_lock), and a free heap's lock can only
     * be an exiting thread's last moment: clear it. */
    for (hak_heap_t *h = atomic_load(&heaps_all); h; h = h->all_next) {
        int st = atomic_load(&h->state);
        if (h == hak_tls_heap || st == HAK_HEAP_FREE) atomic_store(&h->lock, 0);
        if (h == hak_tls_heap) continue;
        if (st == HAK_HEAP_OWNED || st == HAK_HEAP_VISITING) atomic_store(&h->state, HAK_HEAP_DEAD);
    }
}

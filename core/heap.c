/* heap.c — refill, flush, remote frees and the heap lifecycle. */
#include "heap.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box/debug_box.h"
#include "box/env_box.h"
#include "box/os_box.h"
#include "box/prewarm_box.h"
#include "box/release_box.h"
#include "box/secure_box.h"
#include "box/verbose_box.h"
#include "box/superslab_box.h"
#include "front/size_class.h"
#include "huge.h"
#include "slabmap.h"

__thread hak_front_t *hak_tls_front HAK_TLS = &hak_empty_front;
__thread hak_heap_t *hak_tls_heap HAK_TLS;
/* Every cache empty and full at once; its head reads the one-entry map. */
HAK_HIDDEN hak_front_t hak_empty_front = {.head = {.top = (void **)(void *)hak_slabmap_none, .base = (void **)(void *)hak_slabmap_none}};
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

/* n blocks came back onto span s's local free list (h holds s). */
static void span_take_back_n(hak_heap_t *h, hak_span_t *s, uint32_t n) {
    s->used -= n;
    if (!s->in_avail) hak_heap_avail_push(h, s);
    if (s->used == 0) span_empty(h, s);
}

/* n blocks (list first..last) come back to span s held by h. */
static void span_take_back(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n) {
    hak_link_set(s, last, s->free);
    s->free = first;
    span_take_back_n(h, s, n);
}

static HAK_COLD void link_corrupt(const hak_span_t *s, const void *b) {
    (void)s;
    hak_heap_error(HAK_ERR_CORRUPTION, b, "free-list link of a freed block overwritten (use after free?); rest of the list dropped", (uint64_t)-1, false);
}

/* Follow span s's free-list links from b for at most max blocks, storing
 * each in out unless out is NULL.  Returns how many; *last is the last one,
 * *rest the block after it (NULL at the end).  A decoded link must point
 * into the span (secure box): one that does not ends the list, reported.
 * The span's fields are read once, not per block. */
HAK_INLINE uint32_t chain_walk(const hak_span_t *s, void *b, uint32_t max, void **out, void **last, void **rest) {
    const uintptr_t lo = (uintptr_t)s->data, len = (uintptr_t)s->capacity * s->block_size, sec = s->secret;
    uint32_t n = 0;
    void *prev = NULL;
    while (b && n < max) {
        if (out) out[n] = b;
        n++;
        prev = b;
        uintptr_t next = *(const uintptr_t *)b ^ sec;
        if (HAK_UNLIKELY(next && next - lo >= len)) { link_corrupt(s, b); next = 0; }
        b = (void *)next;
    }
    *last = prev;
    *rest = b;
    return n;
}

/* Bytes of h's blocks out of their spans (in caches or in use) change by
 * delta; only h's holder writes it, stats read it. */
static void out_bytes_add(hak_heap_t *h, int64_t delta) {
    atomic_store_explicit(&h->out_bytes, atomic_load_explicit(&h->out_bytes, memory_order_relaxed) + (uint64_t)delta,
                          memory_order_relaxed);
}

/* ---- remote frees ---- */

static void heap_visit(hak_heap_t *o);

/* A span's remote list is one word: the first block's address, and in the
 * top 16 bits how many blocks the list holds (a span has fewer than 2^16;
 * user-space addresses are below 2^47), so that the owner takes the list
 * without walking it to count. */
#define REMOTE_SHIFT 48
#define REMOTE_MAX 0xFFFFu   /* saturates: a miscount can only keep a span */
_Static_assert(HAK_ADDR_BITS <= REMOTE_SHIFT, "remote list: the count must sit above any address");

/* Push blocks first..last (n of them) onto span s of another heap.  Returns
 * that heap when it is abandoned, so no thread will collect: the caller
 * visits it (heap_visit) once nothing of its own depends on that heap's
 * spans staying as they are. */
static hak_heap_t *remote_push(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n) {
    uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), word;
    do {
        hak_link_set(s, last, (void *)(old & (((uintptr_t)1 << REMOTE_SHIFT) - 1)));
        uintptr_t cnt = (old >> REMOTE_SHIFT) + n;
        word = (cnt < REMOTE_MAX ? cnt : REMOTE_MAX) << REMOTE_SHIFT | (uintptr_t)first;
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, word, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (h) h->remote_frees += n;
    if (old != 0) return NULL;   /* the span is already on its owner's notify list */
    /* First block since the owner last looked: tell the owner heap. */
    hak_heap_t *o = hak_region_of(s)->owner;
    hak_span_t *top = atomic_load_explicit(&o->notify, memory_order_relaxed);
    do {
        s->notify_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&o->notify, &top, s, memory_order_seq_cst,
                                                    memory_order_relaxed));
    return atomic_load(&o->state) == HAK_HEAP_FREE ? o : NULL;
}

static void heap_drain(hak_heap_t *h) {
    hak_span_t *s = atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire);
    while (s) {
        /* Read the link before taking the blocks: once remote is empty
         * again, a pusher may put s back on the notify list. */
        hak_span_t *next = s->notify_next;
        uintptr_t w = atomic_exchange_explicit(&s->remote, 0, memory_order_acq_rel);
        void *b = (void *)(w & (((uintptr_t)1 << REMOTE_SHIFT) - 1)), *last, *rest;
        uint32_t n = (uint32_t)(w >> REMOTE_SHIFT);
        if (s->kind == HAK_SLAB_LARGE) {
            hak_span_free(h, s);
        } else if (b && s->free && s->carved - s->used <= n) {
            /* The local list (carved - used blocks) is the shorter: append
             * the remote list after its last block. */
            chain_walk(s, s->free, UINT32_MAX, NULL, &last, &rest);
            hak_link_set(s, last, b);
            span_take_back_n(h, s, n);
        } else if (b && !s->free) {
            s->free = b;
            span_take_back_n(h, s, n);
        } else if (b) {
            n = chain_walk(s, b, UINT32_MAX, NULL, &last, &rest);
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

/* A small block that the calling thread (heap h, or NULL) does not cache:
 * pushed onto its span's remote list for the owner, after the checks a
 * flush makes of a foreign block (a block start; in SECURE its redzone). */
void hak_heap_free_to_owner(hak_heap_t *h, hak_span_t *s, void *p) {
    hak_span_geom_t g = hak_span_geom(s);
    if (s->kind != HAK_SLAB_SMALL || !hak_geom_is_block_start(&g, p)) {
        hak_heap_error(HAK_ERR_INVALID_FREE, p, "not the start of a block (found when freed to its owner); ignored", (uint64_t)-1, true);
        return;
    }
    if (hak_redzone) hak_redzone_check(p, (uint8_t *)p + g.block_size);
    if (h) out_bytes_add(h, -(int64_t)g.block_size);   /* as a flush counts it */
    hak_heap_t *o = remote_push(h, s, p, p, 1);
    if (o) heap_visit(o);
}

/* ---- refill and flush ---- */

static void heap_lock_owner(hak_heap_t *h);
static void heap_slow_op(hak_heap_t *h);

/* A cache whose base a reconcile moved up (idle caches) gets its first slot
 * back: its blocks move down.  Only its own refill or flush does it. */
static void cache_rebase(hak_heap_t *h, unsigned cls) {
    hak_cache_t *c = &h->front.cache[cls];
    void **first = h->slot_store + hak_classes[cls].slot_first;
    if (HAK_LIKELY(c->base == first)) return;
    uint32_t n = hak_cache_count(c);
    memmove(first, c->base, n * sizeof(void *));
    c->base = first;
    c->top = first + n;
}

bool hak_heap_refill(hak_heap_t *h, unsigned cls) {
    heap_lock_owner(h);
    cache_rebase(h, cls);
    h->flush_state[cls] = 0;   /* this thread allocates the class: keep blocks at a flush */
    h->front.cache[cls].end = h->front.cache[cls].base + hak_classes[cls].cache_cap;
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t want = hak_classes[cls].batch, n = hak_cache_count(c), had = n;
    if (want > hak_cache_cap(c) - n) want = hak_cache_cap(c) - n;
    want += n;
    while (n < want) {
        hak_span_t *s = h->avail[cls];
        if (!s && !(s = hak_span_new_small(h, cls))) break;
        uint32_t got = 0;
        if (s->free) {
            void *last, *rest;
            got = chain_walk(s, s->free, want - n, c->base + n, &last, &rest);
            s->free = rest;
            n += got;
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
    out_bytes_add(h, (int64_t)(n - had) * hak_classes[cls].block_size);
    c->top = c->base + n;   /* under the lock: see "idle caches" */
    hak_heap_unlock(h);
    if (hak_front_bypass) h->cstats[cls].refills++;
    heap_slow_op(h);
    return n > 0;
}

/* SPEED's batched checks, made as blocks leave the cache: a block that is
 * not a block start of a small span, is in the cache twice, is the head of
 * its own span's free list or belongs to an own span with no block out, is
 * dropped and reported once; in SECURE its redzone is checked too.  The
 * kept blocks enter the duplicate set first (a copy kept could otherwise be
 * handed out after its twin left); their other checks come when they leave,
 * so each block is checked once.  (Validating the kept blocks at every
 * flush as well cost a fifth of the allocator's instructions in
 * bench_frag; see PERFORMANCE.md.)  The duplicate set marks blocks
 * (dup_seen); where it cannot, it is an open-addressing table on the
 * stack, at most half full (its clearing stays a short vector loop),
 * indexed by the top bits of a multiplicative hash (the low bits of block
 * addresses repeat with the block size). */
typedef struct dup_set {
    uintptr_t *slot;
    unsigned shift;   /* 64 - log2(size) */
    uint32_t mask;
    uint64_t stamp;   /* nonzero: mark blocks instead */
} dup_set_t;

/* false if b was seen already in this flush.  Blocks of 16 bytes or more
 * are marked: their second word (free memory; the free-list link takes the
 * first, so the mark survives a block's return to its span within the pass)
 * gets the pass's stamp xor the block's address.  No table to clear, one
 * load and one store per block.  Class 0 (8 bytes) and DEBUG (whose junk
 * check covers the second word) use an open-addressing table. */
HAK_INLINE bool dup_seen(dup_set_t *d, void *b) {
    uintptr_t key = (uintptr_t)b;
    if (d->stamp) {
        uint64_t *w = (uint64_t *)b + 1, mark = d->stamp ^ key;
        if (*w == mark) return false;
        *w = mark;
        return true;
    }
    uint32_t k = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> d->shift);
    for (uintptr_t t; (t = d->slot[k]) != 0; k = (k + 1) & d->mask)
        if (t == key) return false;
    d->slot[k] = key;
    return true;
}

static HAK_COLD void flush_reject(void *b, bool twice) {
    if (twice) hak_heap_error(HAK_ERR_DOUBLE_FREE, b, "block freed twice (found when the thread cache flushed); ignored", (uint64_t)-1, true);
    else hak_heap_error(HAK_ERR_INVALID_FREE, b, "not the start of a block (found when the thread cache flushed); ignored", (uint64_t)-1, true);
}

/* xor of the block pointers v[0..n) (their low bits are 0) */
static uint64_t blocks_sig(void *const *v, uint32_t n) {
    uint64_t x = 0;
    for (uint32_t i = 0; i < n; i++) x ^= (uintptr_t)v[i];
    return x;
}

/* Is b, a block in h's cache, a block start of a small span?  0: yes; 1:
 * no; 2: it is the head of its own span's free list (freed twice).
 * (hak_heap_verify.) */
static int cached_block_bad(hak_heap_t *h, void *b) {
    hak_region_t *r = hak_region_of(b);
    hak_span_t *s = hak_span_of(r, b);
    if (s->kind != HAK_SLAB_SMALL) return 1;
    hak_span_geom_t g = hak_span_geom(s);
    if (!hak_geom_is_block_start(&g, b)) return 1;
    return r->owner == h && b == s->free ? 2 : 0;
}

/* A span descriptor's first word: kind (byte 0) and class (byte 3), with
 * head and nslabs (bytes 1, 2) masked out; span_kind_cls is its value for a
 * span of that kind and class. */
_Static_assert(offsetof(hak_span_t, kind) == 0 && offsetof(hak_span_t, cls) == 3, "span_word's layout");
HAK_INLINE uint32_t span_kind_cls(unsigned kind, unsigned cls) { return kind | cls << 24; }
HAK_INLINE uint32_t span_word(const hak_span_t *s) {
    uint32_t w;
    memcpy(&w, s, sizeof w);
    return w & 0xFF0000FFu;
}

/* Return blocks v[0..m) of h's class cls cache to their spans (h's lock
 * held); v[m..count) stay, compacted to v[m..m + *kept) without the
 * duplicates among them (a kept block is not rewritten where it is: idle
 * caches).  Returns how many went back. */
static uint32_t flush_run(hak_heap_t *h, unsigned cls, void **v, uint32_t m, uint32_t count, uint32_t *kept_out) {
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t kept = 0, nempty = 0;
    uint32_t nbad = 0;   /* of the m leaving: rejected */
    enum { SET_MAX = 256, CACHE_MAX = SET_MAX / 2 };   /* caches hold at most 128 (size_class.c) */
    uintptr_t slot[SET_MAX];
    dup_set_t set = {slot, 0, 0, 0};
    if (cls != 0 && !hak_guard_on()) {
        /* Blocks of 16 bytes and more are marked instead (see dup_seen). */
        set.stamp = c->flush_stamp = (c->flush_stamp * 6364136223846793005ull + 1442695040888963407ull) | 1;
    } else {
        unsigned bits = 4;
        while ((1u << bits) < 2 * count) bits++;
        memset(slot, 0, sizeof(uintptr_t) << bits);
        set.shift = 64 - bits;
        set.mask = (1u << bits) - 1;
    }
    const size_t redzone = hak_redzone;   /* a local: the stores below could alias it */
    /* The kept blocks hold no duplicate as a rule: they are marked in
     * place, and compacted only from the first duplicate on. */
    void **q = v + m, **qend = v + count;
    if (set.stamp) while (q < qend && dup_seen(&set, *q)) q++;
    kept = (uint32_t)(q - (v + m));
    for (uint32_t i = m + kept; i < count; i++) {
        if (dup_seen(&set, v[i])) v[m + kept++] = v[i];
        else flush_reject(v[i], true);
    }
    /* Consecutive blocks of one foreign span go back as one chain: one
     * atomic per batch per span.  Spans that become empty are released, and
     * abandoned heaps visited, after the loop, so that no block's span or
     * superslab goes away while later blocks are still checked against it. */
    hak_span_t *rs = NULL, *empty[CACHE_MAX];
    hak_heap_t *o, *visit[CACHE_MAX];
    uint32_t nvisit = 0;
    void *rfirst = NULL, *rlast = NULL;
    uint32_t rn = 0;
    /* The span of the previous block, while blocks come from the same slab
     * (they mostly do, in the order they were carved or freed). */
    uintptr_t slab = 0;
    hak_span_t *s = NULL;
    /* Every block of this cache is one of a small span of class cls (the
     * free path picks the cache by the slab's class), so the span's kind and
     * class are one compare (span_kind_cls) and the block-start test takes
     * the class's block size and div_magic, loop invariants, with the
     * span's own base and carved count. */
    const uint32_t want = span_kind_cls(HAK_SLAB_SMALL, cls);
    const uint32_t bs = hak_classes[cls].block_size;
    hak_span_geom_t g = {0, hak_classes[cls].div_magic, bs, 0};
    bool own = false;
    for (uint32_t i = 0; i < m; i++) {
        void *b = v[i];
        if ((uintptr_t)b >> HAK_SLAB_SHIFT != slab) {
            hak_region_t *r = hak_region_of(b);
            s = hak_span_of(r, b);
            __asm__("" : "+r"(s));   /* one address for the fields below (gcc rebuilt it per field) */
            slab = 0;
            if (HAK_UNLIKELY(span_word(s) != want)) { flush_reject(b, false); nbad++; continue; }
            slab = (uintptr_t)b >> HAK_SLAB_SHIFT;
            hak_span_geom_t sg = hak_span_geom(s);
            g.data = sg.data;
            g.carved = sg.carved;
            own = r->owner == h;
        }
        if (HAK_UNLIKELY(!hak_geom_is_block_start(&g, b))) { flush_reject(b, false); nbad++; continue; }
        /* (another heap's span's fields are its owner's: read only our own) */
        if (HAK_UNLIKELY(!dup_seen(&set, b) || (own && (b == s->free || s->used == 0)))) { flush_reject(b, true); nbad++; continue; }
        if (redzone) hak_redzone_check(b, (uint8_t *)b + g.block_size);
        if (own) {
            hak_link_set(s, b, s->free);
            s->free = b;
            if (!s->in_avail) hak_heap_avail_push(h, s);
            if (--s->used == 0) empty[nempty++] = s;
            continue;
        }
        if (s != rs) {
            if (rs && (o = remote_push(h, rs, rfirst, rlast, rn)) != NULL) visit[nvisit++] = o;
            rs = s;
            rfirst = rlast = b;
            rn = 1;
        } else {
            hak_link_set(s, b, rfirst);
            rfirst = b;
            rn++;
        }
    }
    if (rs && (o = remote_push(h, rs, rfirst, rlast, rn)) != NULL) visit[nvisit++] = o;
    uint32_t flushed = m - nbad;
    for (uint32_t i = 0; i < nempty; i++) span_empty(h, empty[i]);
    for (uint32_t i = 0; i < nvisit; i++) heap_visit(visit[i]);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
    out_bytes_add(h, -(int64_t)flushed * hak_classes[cls].block_size);
    *kept_out = kept;
    return flushed;
}

static void heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    cache_rebase(h, cls);
    hak_cache_t *c = &h->front.cache[cls];
    if (keep == HAK_FLUSH_BATCH) keep = hak_cache_cap(c) - hak_classes[cls].batch;
    void **v = c->base;
    uint32_t count = hak_cache_count(c);
    if (count <= keep) return;
    /* A thread that only frees this class's blocks (a consumer of another
     * thread's, or one freeing a structure of its own) has no use for the
     * blocks a flush keeps: it flushes them all.  Seen as: since the last
     * flush, no refill (state 1 after flushing all) and no pop reached the
     * kept blocks (state = their xor | 1).  Each block is then checked once. */
    uint64_t st = h->flush_state[cls];
    if (keep && (st & 1) && (st == 1 || (blocks_sig(v, keep) | 1) == st)) keep = 0;
    uint32_t m = count - keep, kept;
    uint32_t flushed = flush_run(h, cls, v, m, count, &kept);
    memmove(v, v + m, kept * sizeof(void *));
    c->top = v + kept;
    /* (the signature only matters with the consumer bit set) */
    h->flush_state[cls] = flushed ? blocks_sig(v, kept) | 1 : 0;
    /* A consumer holds at most a batch: the memory waits in its cache for
     * nothing (the free path then flushes it all: keep = cap - batch = 0). */
    c->end = v + (h->flush_state[cls] == 1 ? hak_classes[cls].batch : hak_classes[cls].cache_cap);
    if (hak_front_bypass) h->cstats[cls].flushes++;
}

void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    heap_lock_owner(h);
    heap_flush(h, cls, keep);
    hak_heap_unlock(h);
    heap_slow_op(h);
}

/* ---- idle caches ----
 * A thread that fills its caches and then waits (a pool worker on a
 * condition variable) would pin up to TCACHE_MAX of blocks, and the slabs
 * they are in, until it runs again.  Another thread takes them back at no
 * cost to the fast paths, which stay plain loads and stores:
 *
 *  1. Under the owner's span lock (no slow path of the owner is changing a
 *     cache), it checks that the owner is off the CPU in a system call,
 *     points the owner's hak_tls_front at the empty front (its next
 *     operation takes a slow path) and, after a fence, checks again.
 *  2. The owner then has finished every operation and its stores are
 *     visible, but for at most one: a fast path interrupted by a signal
 *     whose handler is now in the system call.  When the handler returns,
 *     that operation completes on the old front: a pop takes the block just
 *     below top, a push stores at top, and top moves by one.
 *  3. So the taker returns every block of each cache but the top one to its
 *     span, leaves top, base and end alone, and records how many blocks the
 *     cache held.
 *  4. The owner's next slow path sees `reclaimed` (hak_heap_settle, or its
 *     span lock), moves each cache's base up past the taken blocks (top is
 *     one off the recorded count at most, whatever that operation did, and
 *     stays consistent if it is still pending) and points its front back
 *     at its caches.
 *
 * A handler that calls malloc of another class after its system call is
 * covered too: its slow path reconciles while the interrupted operation is
 * pending, and that completes against the moved base.  One that allocates
 * from the interrupted operation's own class corrupts that cache with or
 * without this (malloc is not async-signal-safe).
 *
 * Variable: HAKMEM_IDLE_CACHES (1 in every profile; 0 for a process whose
 * seccomp filter must not see openat of /proc).  ThreadSanitizer cannot see
 * the ordering the kernel provides here, so its builds (and -DIDLE_CACHES=0)
 * compile the taking out. */
#if defined(__SANITIZE_THREAD__)
#define IDLE_CACHES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IDLE_CACHES 0
#endif
#endif
#ifndef IDLE_CACHES
#define IDLE_CACHES 1
#endif

/* The owner puts its caches right after a take (lock held).  Each cache's
 * base moves up past the taken blocks: what is left is the top block, less
 * what an interrupted pop took or plus what an interrupted push added.  Top
 * is not written, so a fast path still pending here (a signal handler that
 * calls malloc after its system call) completes soundly as well; the
 * cache's own next refill or flush moves it back down (cache_rebase). */
static HAK_COLD void heap_reconcile(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        uint32_t had = h->reclaim_count[cls];
        if (!had) continue;
        hak_cache_t *c = &h->front.cache[cls];
        uint32_t n = hak_cache_count(c);
        if (n + 1 >= had && n <= had + 1) {
            c->base += had - 1;
        } else {
            hak_heap_error(HAK_ERR_CORRUPTION, c->base, "thread cache changed while another thread reclaimed it; its blocks dropped", (uint64_t)-1, false);
            c->top = c->base;
        }
        h->reclaim_count[cls] = 0;
        h->flush_state[cls] = 0;
    }
    atomic_store_explicit(&h->reclaimed, 0, memory_order_relaxed);
    if (hak_tls_heap == h) hak_tls_front = hak_front_bypass ? &hak_empty_front : &h->front;
}

/* The owner's span lock: its caches put right first if they were taken from. */
static void heap_lock_owner(hak_heap_t *h) {
    hak_heap_lock(h);
    if (HAK_UNLIKELY(atomic_load_explicit(&h->reclaimed, memory_order_relaxed))) heap_reconcile(h);
}

void hak_heap_reconcile(hak_heap_t *h) {
    heap_lock_owner(h);
    hak_heap_unlock(h);
}

/* Take the cached blocks of live heap o (its lock held) if its owner sits
 * in a system call.  false if there was nothing to take or no need to ask
 * the OS; true once it asked. */
static bool heap_take_caches(hak_heap_t *o) {
    if (!IDLE_CACHES || !HAK_CFG(IDLE_CACHES) || atomic_load_explicit(&o->state, memory_order_relaxed) != HAK_HEAP_OWNED ||
        !o->front_var || atomic_load_explicit(&o->reclaimed, memory_order_relaxed))
        return false;
    unsigned cls = 0;
    while (cls < HAK_NCLASSES && hak_cache_count(&o->front.cache[cls]) < 2) cls++;
    if (cls == HAK_NCLASSES) return false;
    if (!hak_os_thread_in_syscall(o->tid)) return true;
    atomic_store_explicit(&o->reclaimed, 1, memory_order_relaxed);
    __atomic_store_n(o->front_var, &hak_empty_front, __ATOMIC_RELAXED);
    atomic_thread_fence(memory_order_seq_cst);
    if (!hak_os_thread_in_syscall(o->tid)) return true;   /* it woke: it finds nothing taken */
    for (cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_cache_t *c = &o->front.cache[cls];
        uint32_t n = hak_cache_count(c), kept;
        if (n < 2) continue;
        flush_run(o, cls, c->base, n - 1, n, &kept);
        o->reclaim_count[cls] = n;
    }
    return true;
}

/* Live heaps whose owners ran no refill or flush between two visits of the
 * scan (a delay or more apart), and sit in a system call, give up their
 * caches.  Any thread's every 256th slow operation looks whether a scan is
 * due; a scan asks the OS about at most IDLE_SCAN_PROBES heaps and the next
 * one goes on from there (heaps are never freed, so the cursor stays valid). */
#define IDLE_SCAN_PROBES 32   /* two probes of three system calls each: ~0.5 ms a scan at most */
static _Atomic uint64_t idle_scan_at;
static hak_heap_t *idle_scan_next;   /* visit_lock */

static HAK_COLD void heaps_scan_idle(hak_heap_t *self) {
    uint64_t now = hak_now_ns();
    if (now < atomic_load_explicit(&idle_scan_at, memory_order_relaxed) || pthread_mutex_trylock(&visit_lock) != 0)
        return;
    atomic_store_explicit(&idle_scan_at, now + hak_release.delay_ns, memory_order_relaxed);
    hak_heap_t *first = atomic_load_explicit(&heaps_all, memory_order_acquire), *o = idle_scan_next;
    if (!o) o = first;
    hak_heap_t *start = o;
    unsigned probes = 0;
    for (bool again = false; probes < IDLE_SCAN_PROBES; o = o->all_next ? o->all_next : first, again = true) {
        if (again && o == start) break;   /* once round */
        if (o == self || atomic_load_explicit(&o->state, memory_order_relaxed) != HAK_HEAP_OWNED) continue;
        uint64_t ops = atomic_load_explicit(&o->slow_ops, memory_order_relaxed);
        bool idle = ops == o->slow_ops_seen;
        o->slow_ops_seen = ops;
        if (!idle || !heap_trylock(o)) continue;
        probes += heap_take_caches(o);
        hak_heap_unlock(o);
    }
    idle_scan_next = o;
    pthread_mutex_unlock(&visit_lock);
}

static void heap_slow_op(hak_heap_t *h) {
    uint64_t n = atomic_load_explicit(&h->slow_ops, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->slow_ops, n, memory_order_relaxed);   /* only the owner writes it */
    if (HAK_UNLIKELY((n & 255) == 0) && IDLE_CACHES && HAK_CFG(IDLE_CACHES)) heaps_scan_idle(h);
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
    hak_heap_t *o;
    atomic_fetch_sub_explicit(&hak_large_bytes, s->block_size, memory_order_relaxed);
    if (h && hak_region_of(s)->owner == h) {
        hak_heap_lock(h);
        hak_span_free(h, s);
        hak_heap_unlock(h);
    } else if ((o = remote_push(h, s, p, p, 1)) != NULL) {
        heap_visit(o);
    }
}

/* ---- heap lifecycle ---- */

static size_t heap_bytes(void) {
    size_t slots = (size_t)hak_classes[HAK_NCLASSES - 1].slot_first + hak_classes[HAK_NCLASSES - 1].cache_cap;
    size_t bytes = sizeof(hak_heap_t) + slots * sizeof(void *);
    return (bytes + HAK_PAGE - 1) & ~(size_t)(HAK_PAGE - 1);
}

static hak_heap_t *heap_create(void) {
    size_t bytes = heap_bytes();
    hak_heap_t *h = hak_os_map_aligned(bytes, HAK_PAGE);
    if (!h) return NULL;
    h->size = bytes;
    hak_slabmap_front(&h->front);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        void **slot = h->slot_store + hak_classes[c].slot_first;
        h->front.cache[c].base = h->front.cache[c].top = slot;
        h->front.cache[c].end = slot;   /* closed until first used: hakmem.c hak_free_raw */
        h->front.cache[c].flush_stamp = hak_secure_random();   /* odd: never 0 (dup_seen) */
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
    /* Under the lock: a taker (idle caches) reads them under it. */
    hak_heap_lock(h);
    h->tid = (int)syscall(SYS_gettid);
    h->front_var = &hak_tls_front;
    hak_heap_unlock(h);
    hak_tls_heap = h;
    hak_tls_front = hak_front_bypass ? &hak_empty_front : &h->front;
    /* Registers the exit callback.  The key was created first at init, so it
     * is one of glibc's static keys and this does not allocate. */
    pthread_setspecific(heap_key, h);
    if (created && hak_prewarm_on()) hak_prewarm_heap(h);
    return h;
}

/* Collect remote frees and release every empty span, even a class's last
 * (trim, thread exit, idle heaps).  The caches are left alone (a live
 * owner's are taken only by heap_take_caches). */
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
    for (void *b = s->free, *last; b; chain_walk(s, b, 1, NULL, &last, &b)) {
        /* A list longer than the free count, or cut short by a damaged
         * link (chain_walk reports it): leave the span alone. */
        if (++seen > nfree) return;
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
    heap_lock_owner(h);
    heap_flush_all(h);
    heap_trim_spans(h);
    hak_heap_unlock(h);
}

void hak_heap_verify(hak_heap_t *h) {
    if (!hak_redzone) return;
    heap_lock_owner(h);   /* the checks read span free lists, which visitors may change */
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_cache_t *c = &h->front.cache[cls];
        for (void **b = c->base; b < c->top; b++)
            if (!cached_block_bad(h, *b)) hak_redzone_check(*b, (uint8_t *)*b + hak_classes[cls].block_size);
    }
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
            if (atomic_load(&o->state) == HAK_HEAP_OWNED) {
                heap_take_caches(o);   /* if its thread sits in a system call */
                heap_trim_spans(o);
            }
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
    heap_lock_owner(h);
    heap_flush_all(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) h->front.cache[c].end = h->front.cache[c].base;   /* closed for the next owner */
    heap_release_empty(h);
    if (hak_purge_wanted(h)) hak_superslab_purge(h, false);
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
        if (h == hak_tls_heap) { h->tid = (int)syscall(SYS_gettid); continue; }
        if (st == HAK_HEAP_OWNED || st == HAK_HEAP_VISITING) atomic_store(&h->state, HAK_HEAP_DEAD);
    }
}

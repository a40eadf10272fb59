/* cache.c — the unified caches' slow side: refill a batch from spans,
 * flush a batch back with the checks SPEED makes of every block that leaves
 * a cache. */
#include "heap/heap_internal.h"

#include <string.h>

#include "base/diag.h"
#include "box/flush_check_box.h"
#include "box/secure_box.h"
#include "config/config.h"

/* A cache whose base is not the first slot of the slots its bound needs
 * moves there: a reconcile moved its base up (idle caches), its bound grew
 * past the first one (to its growth region) or went back (to its window,
 * once what it holds fits: a flush of a cache that still holds more stays
 * where it is this time).  Only its own refill, flush or open does it: a
 * fast path the owner's signal handler interrupted may still write top. */
HAK_INLINE void cache_rebase(hak_heap_t *h, unsigned cls) {
    hak_cache_t *c = &h->front.cache[cls];
    const hak_class_info_t *ci = &hak_classes[cls];
    bool grown = h->cap[cls] > ci->cache_cap;
    void **first = h->slot_store + (grown ? ci->grow_first : ci->slot_first);
    if (HAK_LIKELY(c->base == first)) return;   /* (a cache at its window's first slot holds at most cache_cap) */
    uint32_t n = hak_cache_count(c), room = hak_cache_cap(c);
    if (!grown && n > ci->cache_cap) {   /* put back while it holds more: stays in its growth region */
        grown = true;
        first = h->slot_store + ci->grow_first;
        if (c->base == first) return;
    }
    uint32_t nslots = grown ? ci->max_cap : ci->cache_cap;
    memmove(first, c->base, n * sizeof(void *));
    c->base = first;
    c->top = first + n;
    c->end = first + (room < nslots ? room : nslots);   /* (its callers set it next; in between, in order) */
}

/* ---- growing caches ----
 * A cache starts with a bound of about 32 KiB of blocks (size_class.c).  A
 * thread whose blocks of a class go to their spans and come back (a flush,
 * then a refill: a working set of that class larger than the cache: bursts
 * of thousands of blocks freed and allocated again) pays a flush and a
 * refill per block on top of the fast paths.  So at each refill that
 * follows a flush, the cache's bound doubles, up to max_cap (512 KiB of
 * blocks, 2048 at the most: size_class.c), while the thread's growth stays
 * within a quarter of HAKMEM_TCACHE_MAX; the blocks then come back through
 * the cache alone (and a grown cache's flush keeps all but a first batch:
 * heap_flush).
 * What a cache holds stays what the thread freed and may take again: a
 * thread that only frees the class keeps at most a first batch (heap_flush,
 * whatever the bound), and trim, thread exit and the taking of an idle
 * thread's caches put the bound back. */
static void cache_grow(hak_heap_t *h, unsigned cls) {
    const hak_class_info_t *ci = &hak_classes[cls];
    if (cls == 0 || hak_heaps_hooks.checked) return;   /* their flush checks use a table (flush_blocks) */
    uint32_t cap = h->cap[cls], want = cap * 2 > ci->max_cap ? ci->max_cap : cap * 2;
    size_t more = (size_t)(want - cap) * ci->shape.block_size;
    if (want <= cap || h->grown + more > (size_t)HAK_CFG(TCACHE_MAX) / 4) return;
    h->grown += more;
    h->cap[cls] = (uint16_t)want;
}

void cache_shrink(hak_heap_t *h, unsigned cls) {
    const hak_class_info_t *ci = &hak_classes[cls];
    if (h->cap[cls] == ci->cache_cap) return;
    h->grown -= (size_t)(h->cap[cls] - ci->cache_cap) * ci->shape.block_size;
    h->cap[cls] = ci->cache_cap;
}

/* ---- idle classes ----
 * A class this thread has stopped using keeps what its cache holds, and
 * each cached block keeps its span from emptying: a few blocks can hold
 * several spans, whose free memory no other class may use (burst: the
 * survivors of a burst, freed into their class's cache after the thread
 * moved on to other sizes, held its peak RSS 1.4x mimalloc's).  So when a
 * refill finds no span with room and must take new slabs, it looks at the
 * other caches, at most once in IDLE_CLASS_OPS slow paths: one whose top
 * block and count are those of the last look was not touched since (the
 * fast paths leave no other trace) and goes back to its spans, which may
 * then empty and give their slabs to the new span. */
#ifndef IDLE_CLASS_OPS
#define IDLE_CLASS_OPS 64
#endif
static void heap_flush_idle(hak_heap_t *h, unsigned cls) {
    uint64_t now = atomic_load_explicit(&h->slow_ops, memory_order_relaxed);
    if (now - h->class_look_at < IDLE_CLASS_OPS) return;
    h->class_look_at = now;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        hak_cache_t *k = &h->front.cache[c];
        uintptr_t n = (uintptr_t)(k->top - k->base), mark = n ? (uintptr_t)k->top[-1] ^ n : 0;
        if (mark != h->class_mark[c] || !mark || c == cls) {
            h->class_mark[c] = mark;
            continue;
        }
        heap_flush(h, c, 0);
        /* Not a consumer's flush: the class, if used again, starts as new
         * (first bound, no growth from this flush). */
        h->flush_state[c] = 0;
        cache_shrink(h, c);
        cache_rebase(h, c);   /* empty: back to its window */
        k->end = k->base + h->cap[c];
        h->class_mark[c] = 0;
    }
}

bool hak_heap_refill(hak_heap_t *h, unsigned cls) {
    heap_lock_owner(h);
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 0, "refill");
    if (h->flush_state[cls]) cache_grow(h, cls);   /* blocks went to their spans and are wanted again */
    h->flush_state[cls] = 0;   /* this thread allocates the class: keep blocks at a flush */
    cache_rebase(h, cls);   /* (after the growth: a grown cache moves to its growth region) */
    h->front.cache[cls].end = h->front.cache[cls].base + h->cap[cls];
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    if (heap_purge_wanted(h)) heap_purge(h);
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t want = h->cap[cls] / 2, n = hak_cache_count(c), had = n;
    if (want > hak_cache_cap(c) - n) want = hak_cache_cap(c) - n;
    want += n;
    bool idle_flushed = false;
    while (n < want) {
        hak_span_t *s = SPAN_OF(h->avail[cls].first);
        if (!s && !idle_flushed) {
            heap_flush_idle(h, cls);
            idle_flushed = true;
            continue;
        }
        if (!s) {
            if (!(s = hak_span_new_small(&h->ss, cls, &hak_classes[cls].shape))) break;
            avail_push(h, s);
        }
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
            const size_t bs = s->block_size;   /* locals: the stores below could alias s and c */
            uint8_t *p = s->data + (size_t)(s->carved + k) * bs;
            for (void **out = c->base + n, **stop = out + k; out < stop; out++) { p -= bs; *out = p; }
            n += k;
            /* Checked blocks: a carved block must not carry a freed mark
             * from the memory's earlier life (its junk is not this block's). */
            if (hak_heaps_hooks.checked)
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
    out_bytes_add(h, (int64_t)(n - had) * hak_class_block(cls));
    if (hak_heaps_hooks.free_checked) checked_refilled(h, cls, c->base + had, n - had);
    c->top = c->base + n;   /* under the lock: see "idle caches" */
    hak_heap_unlock(h);
    if (hak_heaps_hooks.bypass) h->cstats[cls].refills++;
    heap_slow_op(h);
    return n > 0;
}

/* The signature of the blocks v[0..n) a flush kept, n > 0, made of the
 * count and the blocks at both ends: a pop that reaches the kept blocks
 * takes the top one first, and the free after it puts another block there
 * (or the same one, as with the xor of them all this replaced, which cost
 * a grown cache's flush a read of every kept slot).  | 1, and never 1,
 * which says the flush kept none.  (A value of 0 must not read as "kept
 * none": such a flush closed the cache to a batch with more than a batch
 * in it, the free that called it pushed past the end, and a take of the
 * idle owner's caches then left it closed-looking with its base above its
 * first slot: RELIABILITY.md, finding 13.)  Block pointers have their low
 * bits 0, so 3 is no other set's signature. */
static uint64_t kept_sig(void *const *v, uint32_t n) {
    uint64_t x = (uintptr_t)v[n - 1] ^ ((uintptr_t)v[0] << 7) ^ ((uint64_t)n << 1);
    return x & ~(uint64_t)1 ? x | 1 : 3;
}

/* Is b, a block in h's cache, a block start of a small span?  0: yes; 1:
 * no; 2: it is the head of its own span's free list (freed twice).
 * (hak_heap_verify.) */
int cached_block_bad(hak_heap_t *h, void *b) {
    hak_superslab_t *ss = hak_superslab_of(b);
    hak_span_t *s = hak_span_of(ss, b);
    if (s->kind != HAK_SLAB_SMALL) return 1;
    hak_span_geom_t g = hak_span_geom(s);
    if (!hak_geom_is_block_start(&g, b)) return 1;
    return ss->owner == &h->ss && b == s->free ? 2 : 0;
}

/* A span descriptor's first two bytes: kind and class; span_kind_cls is
 * their value for a span of that kind and class (one 16-bit compare). */
_Static_assert(offsetof(hak_span_t, kind) == 0 && offsetof(hak_span_t, cls) == 1, "span_word's layout");
HAK_INLINE uint16_t span_kind_cls(unsigned kind, unsigned cls) { return (uint16_t)(kind | cls << 8); }
HAK_INLINE uint16_t span_word(const hak_span_t *s) {
    uint16_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/* A cached block whose slab is no longer in a small span of its class (a
 * pointer freed after its span went): never linked into anything. */
static HAK_COLD void flush_drop(void *b) {
    hak_report(HAK_ERR_INVALID_FREE, b, "not a block of a live span (found when the thread cache flushed); ignored", HAK_NO_NUMBER);
}

/* At most this many blocks leave in one flush_blocks pass (flush_run). */
#define FLUSH_RUN_MAX 128

/* Return blocks v[0..m) of h's class cls cache to their spans (h's lock
 * held); v[m..count) stay, and with the flush checks on (box/flush_check_box.h)
 * are compacted to v[m..m + *kept) without the duplicates among them (a
 * kept block is not rewritten where it is: idle caches).  Returns how many
 * went back.  Written once for both cases (checks is a constant in each
 * caller), so the loop without checks carries none. */
HAK_INLINE uint32_t flush_blocks(hak_heap_t *h, unsigned cls, void **v, uint32_t m, uint32_t count, uint32_t *kept_out,
                                 const bool checks, const bool extras) {
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t kept = count - m, nempty = 0;
    uint32_t nbad = 0;   /* of the m leaving: rejected */
    /* At most FLUSH_RUN_MAX leave; a duplicate set over a table (class 0 and
     * checked blocks, whose caches do not grow) covers at most 128 more. */
    enum { SET_MAX = 512 };
    uintptr_t slot[checks ? SET_MAX : 1];
    hak_dup_set_t set = {slot, 0, 0, 0};
    if (checks) {
        if (cls != 0 && !hak_heaps_hooks.checked) {
            set.stamp = c->flush_stamp = (c->flush_stamp * 6364136223846793005ull + 1442695040888963407ull) | 1;
        } else {
            unsigned bits = 4;
            while ((1u << bits) < 2 * count) bits++;
            memset(slot, 0, sizeof(uintptr_t) << bits);
            set.shift = 64 - bits;
            set.mask = (1u << bits) - 1;
        }
        /* The kept blocks hold no duplicate as a rule: they are marked in
         * place, and compacted only from the first duplicate on. */
        void **q = v + m, **qend = v + count;
        if (set.stamp) while (q < qend && hak_dup_seen(&set, *q)) q++;
        kept = (uint32_t)(q - (v + m));
        for (uint32_t i = m + kept; i < count; i++) {
            if (hak_dup_seen(&set, v[i])) v[m + kept++] = v[i];
            else hak_flush_reject(v[i], true);
        }
    }
    /* SECURE's redzone, its free-list secret and the checked frees' marks:
     * only in the copy of this loop made for them (extras), so the others
     * test none of them. */
    const size_t redzone = extras ? hak_redzone : 0;   /* a local: the stores below could alias it */
    const bool mark_leaving = extras && hak_heaps_hooks.free_checked && cls != 0;
    /* Each of our blocks is pushed onto its span's free list as it comes;
     * consecutive blocks of one slab (they mostly are, in the order they
     * were carved or freed) make a run, whose span is found, checked, put
     * on its avail list and counted once.  A block freed in random order
     * is a run of its own, so a run costs little more than its lookup
     * (frag).  Blocks of another heap's spans are set aside and go after
     * ours, in runs chained to each other, a run as one push onto its
     * span's remote list: the loop over our own carries no test of whose
     * span a run is.  Spans that become empty are released, and abandoned
     * heaps visited, after both loops, so that no block's span or
     * superslab goes away while later blocks are still looked at. */
    hak_span_t *empty[FLUSH_RUN_MAX];   /* (each at most one per leaving block) */
    hak_heap_t *o, *visit[FLUSH_RUN_MAX];
    void *foreign[FLUSH_RUN_MAX];
    uint32_t nvisit = 0, nforeign = 0;
    /* Every block of this cache is one of a small span of class cls (the
     * free path picks the cache by the slab's class), so the span's kind and
     * class are one compare (span_kind_cls), made whether or not the checks
     * are on: a span's metadata is never written for a block that is not
     * its own.  The block-start test takes the class's block size and
     * div_magic, loop invariants, with the span's own base and carved count. */
    const uint16_t want = span_kind_cls(HAK_SLAB_SMALL, cls);
    const uint32_t bs = hak_class_block(cls);
    hak_span_geom_t g = {0, hak_classes[cls].shape.div_magic, bs, 0};
    uintptr_t slab = 0;          /* the run's slab (a span has several: a new run per slab) */
    hak_span_t *s = NULL;        /* the run's span */
    uintptr_t sec = 0;           /* its secret */
    void *head = NULL;           /* (checks) its free list's head when the run began */
    void *first = NULL, *last = NULL;   /* a foreign run's chain */
    uint32_t rn = 0;             /* blocks in the run */
/* The block b, of span s (whose geometry g holds), may leave: checked (a
 * bad one is dropped: the loop goes on to the next block), then its
 * redzone and mark.  A block of ours that is its span's free-list head
 * from before the run was freed twice. */
#define FLUSH_BLOCK_OK(b, own)                                                                         \
    {   /* a bare block, not do-while: its continue is the loop's */                                  \
        if (checks) {                                                                                  \
            if (HAK_UNLIKELY(!hak_geom_is_block_start(&g, b))) { hak_flush_reject(b, false); nbad++; continue; } \
            /* (another heap's span's fields are its owner's: read only our own) */                    \
            if (HAK_UNLIKELY(!hak_dup_seen(&set, b) || ((own) && (b == head || s->used <= rn)))) {     \
                hak_flush_reject(b, true);                                                             \
                nbad++;                                                                                \
                continue;                                                                              \
            }                                                                                          \
        }                                                                                              \
        if (redzone) hak_redzone_check(b, (uint8_t *)b + bs);                                          \
        if (mark_leaving) checked_leaving(b);                                                          \
    }
/* A new run starts at b, of span s. */
#define FLUSH_RUN_START(b)                                                                \
    do {                                                                                  \
        slab = (uintptr_t)(b) >> HAK_SLAB_SHIFT;                                          \
        if (checks) {                                                                     \
            hak_span_geom_t sg = hak_span_geom(s);                                        \
            g.data = sg.data;                                                             \
            g.carved = sg.carved;                                                         \
        }                                                                                 \
        sec = extras ? s->secret : 0;                                                     \
    } while (0)
    for (uint32_t i = 0; i < m; i++) {
        void *b = v[i];
        if ((uintptr_t)b >> HAK_SLAB_SHIFT != slab) {
            hak_superslab_t *ss = hak_superslab_of(b);
            hak_span_t *bsp = hak_span_of(ss, b);
            if (HAK_UNLIKELY(span_word(bsp) != want)) { flush_drop(b); nbad++; continue; }
            if (HAK_UNLIKELY(ss->owner != &h->ss)) { foreign[nforeign++] = b; continue; }
            if (rn) {   /* the run so far is counted off its span */
                if ((s->used -= rn) == 0) empty[nempty++] = s;
                rn = 0;
            }
            s = bsp;
            if (!s->in_avail) avail_push(h, s);
            if (checks) head = s->free;
            FLUSH_RUN_START(b);
        }
        FLUSH_BLOCK_OK(b, true)
        *(uintptr_t *)b = (uintptr_t)s->free ^ sec;
        s->free = b;
        rn++;
    }
    if (rn && (s->used -= rn) == 0) empty[nempty++] = s;
    rn = 0;
    /* Other heaps' blocks, in runs by slab, onto their spans' remote lists. */
    slab = 0;
    for (uint32_t i = 0; i < nforeign; i++) {
        void *b = foreign[i];
        if ((uintptr_t)b >> HAK_SLAB_SHIFT != slab) {
            if (rn && (o = remote_push(h, s, first, last, rn)) != NULL) visit[nvisit++] = o;
            rn = 0;
            s = hak_span_of(hak_superslab_of(b), b);   /* its word was checked in the first loop */
            FLUSH_RUN_START(b);
        }
        FLUSH_BLOCK_OK(b, false)
        if (rn) *(uintptr_t *)b = (uintptr_t)first ^ sec;   /* (the run's first block is linked by remote_push) */
        else last = b;
        first = b;
        rn++;
    }
    if (rn && (o = remote_push(h, s, first, last, rn)) != NULL) visit[nvisit++] = o;
#undef FLUSH_BLOCK_OK
#undef FLUSH_RUN_START
    uint32_t flushed = m - nbad;
    for (uint32_t i = 0; i < nempty; i++) span_empty(h, empty[i]);
    for (uint32_t i = 0; i < nvisit; i++) heap_visit(visit[i]);
    if (heap_purge_wanted(h)) heap_purge(h);
    out_bytes_add(h, -(int64_t)flushed * hak_class_block(cls));
    *kept_out = kept;
    return flushed;
}

/* A cache that grew holds up to 2048 blocks: they leave in runs of at most
 * FLUSH_RUN_MAX, each a complete pass (its own duplicate set; its empty spans
 * released and abandoned heaps visited at its end), so that flush_blocks'
 * arrays stay small. */
uint32_t flush_run(hak_heap_t *h, unsigned cls, void **v, uint32_t m, uint32_t count, uint32_t *kept_out) {
    bool extras = hak_redzone || hak_heaps_hooks.free_checked || hak_secure_on(), checks = hak_flush_check_on();
    uint32_t flushed = 0, off = 0, kept = count - m;
    while (off < m) {
        uint32_t k = m - off < FLUSH_RUN_MAX ? m - off : FLUSH_RUN_MAX;
        if (checks) flushed += flush_blocks(h, cls, v + off, k, count - off, &kept, true, extras);
        else if (extras) flushed += flush_blocks(h, cls, v + off, k, count - off, &kept, false, true);
        else flushed += flush_blocks(h, cls, v + off, k, count - off, &kept, false, false);
        off += k;
        count = off + kept;   /* the rest, compacted behind the run */
    }
    *kept_out = kept;
    return flushed;
}

void heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 0, "flush");
    cache_rebase(h, cls);
    hak_cache_t *c = &h->front.cache[cls];
    /* Half of the cache's bound: its end (a consumer's is a batch), or the
     * class's bound now if that is lower (a reconcile, idle caches, puts a
     * grown bound back without moving end).  Below the end set at the
     * bottom either way, so the free that called us finds a slot. */
    uint32_t bound = hak_cache_cap(c) < h->cap[cls] ? hak_cache_cap(c) : h->cap[cls];
    /* A cache that grew (its class's working set is larger than the first
     * bound) sends back a first batch and keeps the rest: keeping half sent
     * a working set between half the bound and the bound through a flush
     * and a refill every round (bench_bulk, 400 blocks of 1 KiB: the bound
     * 512, 256 kept, 144 refilled, each round). */
    if (keep == HAK_FLUSH_BATCH)
        keep = bound > hak_classes[cls].cache_cap ? bound - hak_classes[cls].batch : bound / 2;
    void **v = c->base;
    uint32_t count = hak_cache_count(c);
    if (count <= keep) return;
    /* A thread that only frees this class's blocks (a consumer of another
     * thread's, or one freeing a structure of its own) has no use for the
     * blocks a flush keeps: it flushes them all.  Seen as: since the last
     * flush, no refill (state 1 after flushing all) and no pop reached the
     * kept blocks (state = their kept_sig).  Each block is then checked once. */
    uint64_t st = h->flush_state[cls];
    if (keep && (st & 1) && (st == 1 || kept_sig(v, keep) == st)) keep = 0;
    uint32_t m = count - keep, kept;
    uint32_t flushed = flush_run(h, cls, v, m, count, &kept);
    memmove(v, v + m, kept * sizeof(void *));
    c->top = v + kept;
    bool none = flushed && kept == 0;
    h->flush_state[cls] = !flushed ? 0 : none ? 1 : kept_sig(v, kept);
    /* A consumer holds at most a batch: the memory waits in its cache for
     * nothing (the free path then flushes it all: keep = cap - batch = 0).
     * Either way the free that called us has a slot above top. */
    c->end = v + (none ? hak_classes[cls].batch : h->cap[cls]);
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 1, "flush, after");
    if (hak_heaps_hooks.bypass) h->cstats[cls].flushes++;
}

void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    heap_lock_owner(h);
    heap_flush(h, cls, keep);
    hak_heap_unlock(h);
    heap_slow_op(h);
}

/* Every cache emptied, and back to its first bound (trim, thread exit). */
void heap_flush_all(hak_heap_t *h) {
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        heap_flush(h, c, 0);
        if (h->cap[c] != hak_classes[c].cache_cap) {
            cache_shrink(h, c);
            cache_rebase(h, c);   /* empty: back to its window */
            hak_cache_t *k = &h->front.cache[c];
            if (k->end != k->base) k->end = k->base + (h->flush_state[c] == 1 ? hak_classes[c].batch : h->cap[c]);
        }
    }
}

/* The first free of class cls into a closed cache (end == base): the
 * thread has not used the class since its heap was made or adopted.  The
 * cache opens; another heap's block goes to its owner rather than into it
 * (true), so that the thread's first mallocs of the class come from a span
 * of its own instead of handing back that block, which may share a cache
 * line with blocks its owner still uses (bench_false_sharing scratch;
 * docs/PERFORMANCE.md).  A closed cache sits at its first slot, empty; the
 * open does not count on it: it rebases first (what the cache holds moves
 * down to its first slot), so that base + cap is the class's own last slot
 * wherever base was (RELIABILITY.md, finding 13). */
bool hak_heap_cache_open(hak_heap_t *h, unsigned cls, hak_span_t *s, void *p) {
    hak_cache_t *c = &h->front.cache[cls];
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 0, "open, before");
    cache_rebase(h, cls);
    c->end = c->base + h->cap[cls];
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 1, "open, after");
    if (hak_span_superslab(s)->owner == &h->ss) return false;
    hak_heap_free_to_owner(h, s, p);
    return true;
}

void hak_heap_verify(hak_heap_t *h) {
    if (!hak_redzone) return;
    heap_lock_owner(h);   /* the checks read span free lists, which visitors may change */
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_cache_t *c = &h->front.cache[cls];
        for (void **b = c->base; b < c->top; b++)
            if (!cached_block_bad(h, *b)) hak_redzone_check(*b, (uint8_t *)*b + hak_class_block(cls));
    }
    hak_heap_unlock(h);
}

/* cache.c — the unified caches' slow side: refill a batch from spans,
 * flush a batch back with the checks SPEED makes of every block that leaves
 * a cache. */
#include "heap/heap_internal.h"

#include <string.h>

#include "base/diag.h"
#include "box/secure_box.h"

/* A cache whose base a reconcile moved up (idle caches) gets its first slot
 * back: its blocks move down.  Only its own refill or flush does it. */
void cache_rebase(hak_heap_t *h, unsigned cls) {
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
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 0, "refill");
    cache_rebase(h, cls);
    h->flush_state[cls] = 0;   /* this thread allocates the class: keep blocks at a flush */
    h->front.cache[cls].end = h->front.cache[cls].base + hak_classes[cls].cache_cap;
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    if (heap_purge_wanted(h)) heap_purge(h);
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t want = hak_classes[cls].batch, n = hak_cache_count(c), had = n;
    if (want > hak_cache_cap(c) - n) want = hak_cache_cap(c) - n;
    want += n;
    while (n < want) {
        hak_span_t *s = SPAN_OF(h->avail[cls].first);
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
            uint8_t *p = s->data + (size_t)(s->carved + k) * s->block_size;
            for (uint32_t i = 0; i < k; i++) { p -= s->block_size; c->base[n++] = p; }
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
    c->top = c->base + n;   /* under the lock: see "idle caches" */
    hak_heap_unlock(h);
    if (hak_heaps_hooks.bypass) h->cstats[cls].refills++;
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
    if (twice) hak_report(HAK_ERR_DOUBLE_FREE, b, "block freed twice (found when the thread cache flushed); ignored", HAK_NO_NUMBER);
    else hak_report(HAK_ERR_INVALID_FREE, b, "not the start of a block (found when the thread cache flushed); ignored", HAK_NO_NUMBER);
}

/* The signature of the blocks v[0..n) a flush kept, n > 0: their xor | 1,
 * and never 1, which says the flush kept none.  (Blocks whose xor is 0 are
 * common: four 4 KiB blocks of one 16 KiB aligned run.  Read as "kept
 * none", such a flush closed the cache to a batch with more than a batch
 * in it, the free that called it pushed past the end, and a take of the
 * idle owner's caches then left it closed-looking with its base above its
 * first slot: RELIABILITY.md, finding 13.)  Block pointers have their low
 * bits 0, so 3 is no other set's signature. */
static uint64_t kept_sig(void *const *v, uint32_t n) {
    uint64_t x = 0;
    for (uint32_t i = 0; i < n; i++) x ^= (uintptr_t)v[i];
    return x ? x | 1 : 3;
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
uint32_t flush_run(hak_heap_t *h, unsigned cls, void **v, uint32_t m, uint32_t count, uint32_t *kept_out) {
    hak_cache_t *c = &h->front.cache[cls];
    uint32_t kept = 0, nempty = 0;
    uint32_t nbad = 0;   /* of the m leaving: rejected */
    enum { SET_MAX = 256, CACHE_MAX = SET_MAX / 2 };   /* caches hold at most 128 (size_class.c) */
    uintptr_t slot[SET_MAX];
    dup_set_t set = {slot, 0, 0, 0};
    if (cls != 0 && !hak_heaps_hooks.checked) {
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
    const uint32_t bs = hak_class_block(cls);
    hak_span_geom_t g = {0, hak_classes[cls].shape.div_magic, bs, 0};
    bool own = false;
    for (uint32_t i = 0; i < m; i++) {
        void *b = v[i];
        if ((uintptr_t)b >> HAK_SLAB_SHIFT != slab) {
            hak_superslab_t *ss = hak_superslab_of(b);
            s = hak_span_of(ss, b);
            __asm__("" : "+r"(s));   /* one address for the fields below (gcc rebuilt it per field) */
            slab = 0;
            if (HAK_UNLIKELY(span_word(s) != want)) { flush_reject(b, false); nbad++; continue; }
            slab = (uintptr_t)b >> HAK_SLAB_SHIFT;
            hak_span_geom_t sg = hak_span_geom(s);
            g.data = sg.data;
            g.carved = sg.carved;
            own = ss->owner == &h->ss;
        }
        if (HAK_UNLIKELY(!hak_geom_is_block_start(&g, b))) { flush_reject(b, false); nbad++; continue; }
        /* (another heap's span's fields are its owner's: read only our own) */
        if (HAK_UNLIKELY(!dup_seen(&set, b) || (own && (b == s->free || s->used == 0)))) { flush_reject(b, true); nbad++; continue; }
        if (redzone) hak_redzone_check(b, (uint8_t *)b + g.block_size);
        if (own) {
            hak_link_set(s, b, s->free);
            s->free = b;
            if (!s->in_avail) avail_push(h, s);
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
    if (heap_purge_wanted(h)) heap_purge(h);
    out_bytes_add(h, -(int64_t)flushed * hak_class_block(cls));
    *kept_out = kept;
    return flushed;
}

void heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 0, "flush");
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
    c->end = v + (none ? hak_classes[cls].batch : hak_classes[cls].cache_cap);
    if (HAK_UNLIKELY(heap_check_on())) heap_check_cache(h, cls, 1, "flush, after");
    if (hak_heaps_hooks.bypass) h->cstats[cls].flushes++;
}

void hak_heap_flush(hak_heap_t *h, unsigned cls, uint32_t keep) {
    heap_lock_owner(h);
    heap_flush(h, cls, keep);
    hak_heap_unlock(h);
    heap_slow_op(h);
}

void heap_flush_all(hak_heap_t *h) {
    for (unsigned c = 0; c < HAK_NCLASSES; c++) heap_flush(h, c, 0);
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
    c->end = c->base + hak_classes[cls].cache_cap;
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

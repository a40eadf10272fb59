/* remote.c — blocks freed into spans of another heap: the remote list of
 * each span, the notify list of each heap, collecting them, and visiting
 * abandoned heaps that nobody else would collect. */
#include "heap/heap_internal.h"

#include "base/diag.h"
#include "box/secure_box.h"

/* A span's remote list is one word: the first block's address, and in the
 * top 16 bits how many blocks the list holds (a span has fewer than 2^16;
 * user-space addresses are below 2^47), so that the owner takes the list
 * without walking it to count. */
#define REMOTE_SHIFT 48
#define REMOTE_MAX 0xFFFFu   /* saturates: a miscount can only keep a span */
#define REMOTE_ADDR(w) ((void *)((w) & (((uintptr_t)1 << REMOTE_SHIFT) - 1)))
_Static_assert(HAK_ADDR_BITS <= REMOTE_SHIFT, "remote list: the count must sit above any address");

hak_heap_t *remote_push(hak_heap_t *h, hak_span_t *s, void *first, void *last, uint32_t n) {
    uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed), word;
    do {
        hak_link_set(s, last, REMOTE_ADDR(old));
        uintptr_t cnt = (old >> REMOTE_SHIFT) + n;
        word = (cnt < REMOTE_MAX ? cnt : REMOTE_MAX) << REMOTE_SHIFT | (uintptr_t)first;
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, word, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (h) h->remote_frees += n;
    if (old != 0) return NULL;   /* the span is already on its owner's notify list */
    /* First block since the owner last looked: tell the owner heap. */
    hak_heap_t *o = hak_heap_of_owner(hak_span_superslab(s)->owner);
    hak_span_t *top = atomic_load_explicit(&o->notify, memory_order_relaxed);
    do {
        s->notify_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&o->notify, &top, s, memory_order_seq_cst,
                                                    memory_order_relaxed));
    return atomic_load(&o->state) == HAK_HEAP_FREE ? o : NULL;
}

void heap_drain(hak_heap_t *h) {
    hak_span_t *s = atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire);
    while (s) {
        /* Read the link before taking the blocks: once remote is empty
         * again, a pusher may put s back on the notify list. */
        hak_span_t *next = s->notify_next;
        uintptr_t w = atomic_exchange_explicit(&s->remote, 0, memory_order_acq_rel);
        void *b = REMOTE_ADDR(w), *last, *rest;
        uint32_t n = (uint32_t)(w >> REMOTE_SHIFT);
        if (s->kind == HAK_SLAB_LARGE) {
            hak_span_free(&h->ss, s);
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
            hak_link_set(s, last, s->free);
            s->free = b;
            span_take_back_n(h, s, n);
        }
        s = next;
    }
}

void heap_visit(hak_heap_t *o) {
    int expect = HAK_HEAP_FREE;
    while (atomic_load(&o->notify) != NULL &&
           atomic_compare_exchange_strong(&o->state, &expect, HAK_HEAP_VISITING)) {
        heap_drain(o);
        if (o->ss.purge_pending) heap_purge_now(o);   /* nobody else will */
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
        hak_report(HAK_ERR_INVALID_FREE, p, "not the start of a block (found when freed to its owner); ignored", HAK_NO_NUMBER);
        return;
    }
    if (hak_redzone) hak_redzone_check(p, (uint8_t *)p + g.block_size);
    if (hak_heaps_hooks.free_checked && g.block_size >= 16) checked_leaving(p);
    if (h) out_bytes_add(h, -(int64_t)g.block_size);   /* as a flush counts it */
    hak_heap_t *o = remote_push(h, s, p, p, 1);
    if (o) heap_visit(o);
}

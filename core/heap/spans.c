/* spans.c — a heap's spans: the per-class lists of spans with blocks to
 * give, empty spans going back to the backend, large spans, and the release
 * work the heap's slow paths run. */
#include "heap/heap_internal.h"

#include <string.h>

#include "base/diag.h"

/* ---- avail lists: spans of a class that still have blocks to give ---- */

void avail_push(hak_heap_t *h, hak_span_t *s) {
    hak_list_push(&h->avail[s->cls], &s->avail);
    s->in_avail = 1;
}

void avail_remove(hak_heap_t *h, hak_span_t *s) {
    hak_list_remove(&h->avail[s->cls], &s->avail);
    s->in_avail = 0;
}

/* Give the span's slabs back unless it is the class's only span with room
 * in a heap whose thread is alive (keeping it avoids thrashing at a
 * boundary; an abandoned heap keeps nothing). */
void span_empty(hak_heap_t *h, hak_span_t *s) {
    if (s->in_avail && h->avail[s->cls].first == &s->avail && s->avail.next == NULL &&
        atomic_load_explicit(&h->state, memory_order_relaxed) == HAK_HEAP_OWNED)
        return;
    if (s->in_avail) avail_remove(h, s);
    hak_span_free(&h->ss, s);
}

void span_take_back_n(hak_heap_t *h, hak_span_t *s, uint32_t n) {
    s->used -= n;
    if (!s->in_avail) avail_push(h, s);
    if (s->used == 0) span_empty(h, s);
}

void chain_corrupt(const void *b) {
    hak_report(HAK_ERR_CORRUPTION, b, "free-list link of a freed block overwritten (use after free?); rest of the list dropped",
               HAK_NO_NUMBER);
}

void heap_release_empty(hak_heap_t *h) {
    heap_drain(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        hak_span_t *s = SPAN_OF(h->avail[c].first);
        while (s) {
            hak_span_t *next = SPAN_OF(s->avail.next);
            if (s->used == 0) { avail_remove(h, s); hak_span_free(&h->ss, s); }
            s = next;
        }
    }
}

void heap_purge_now(hak_heap_t *h) {
    uint64_t now = hak_now_ns();
    if (hak_purge_wanted()) hak_purge_run(now);
    if (hak_ss_purge_due(&h->ss, now)) hak_ss_purge(&h->ss, now, HAK_PURGE_DUE);
}

/* ---- large spans ---- */

void *hak_heap_large_alloc(hak_heap_t *h, size_t size, bool *fresh) {
    unsigned n = (unsigned)((size + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
    hak_heap_lock(h);
    if (atomic_load_explicit(&h->notify, memory_order_relaxed)) heap_drain(h);
    if (heap_purge_wanted(h)) heap_purge(h);
    hak_span_t *s = hak_span_new_large(&h->ss, n);
    hak_heap_unlock(h);
    if (!s) return NULL;
    atomic_fetch_add_explicit(&hak_heaps.large_bytes, s->block_size, memory_order_relaxed);
    if (hak_heaps_hooks.checked) memset(s->data + s->block_size - 8, 0, 8);   /* see refill's carve loop */
    *fresh = s->fresh;
    return s->data;
}

bool hak_heap_large_resize(hak_heap_t *h, hak_span_t *s, size_t size) {
    unsigned n = (unsigned)((size + HAK_SLAB_SIZE - 1) >> HAK_SLAB_SHIFT);
    if (!h || hak_span_superslab(s)->owner != &h->ss) return false;   /* another thread's: its lock, not ours */
    uint32_t old = s->block_size;
    hak_heap_lock(h);
    bool ok = hak_span_resize_large(&h->ss, s, n);
    hak_heap_unlock(h);
    if (!ok) return false;
    atomic_fetch_add_explicit(&hak_heaps.large_bytes, (size_t)s->block_size - old, memory_order_relaxed);
    if (hak_heaps_hooks.checked) memset(s->data + s->block_size - 8, 0, 8);   /* as at its allocation */
    return true;
}

void hak_heap_large_free(hak_heap_t *h, hak_span_t *s, void *p) {
    hak_heap_t *o;
    atomic_fetch_sub_explicit(&hak_heaps.large_bytes, s->block_size, memory_order_relaxed);
    if (h && hak_span_superslab(s)->owner == &h->ss) {
        hak_heap_lock(h);
        hak_span_free(&h->ss, s);
        hak_heap_unlock(h);
    } else if ((o = remote_push(h, s, p, p, 1)) != NULL) {
        heap_visit(o);
    }
}

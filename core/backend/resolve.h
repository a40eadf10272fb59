/* resolve.h — the one answer to "what is p?": a small block, a large block,
 * a huge block, hakmem's memory but no live block (an interior pointer, a
 * free slab, a header), or not hakmem's at all.  Used by free's slow path,
 * realloc, malloc_usable_size and the debug box.  p is never dereferenced
 * before the segment map has said its superslab is ours. */
#ifndef HAKMEM_RESOLVE_H
#define HAKMEM_RESOLVE_H

#include "backend/huge.h"
#include "backend/segmap.h"
#include "backend/superslab.h"

typedef enum { HAK_PTR_FOREIGN, HAK_PTR_INVALID, HAK_PTR_SMALL, HAK_PTR_LARGE, HAK_PTR_HUGE } hak_ptr_kind_t;

typedef struct hak_ptr {
    hak_ptr_kind_t kind;
    hak_superslab_t *ss;   /* the superslab (or huge mapping's header) p is in; NULL when FOREIGN */
    hak_span_t *span;      /* SMALL and LARGE: the block's span */
    size_t size;           /* the block's raw bytes: its usable size plus any redzone */
} hak_ptr_t;

HAK_INLINE hak_ptr_t hak_resolve(const void *p) {
    hak_ptr_t r = {HAK_PTR_FOREIGN, NULL, NULL, 0};
    hak_superslab_t *ss;
    /* Mostly the header is in p's own superslab: one map byte, no call. */
    if (HAK_LIKELY(hak_segmap_get((uintptr_t)p) == 1)) ss = hak_superslab_of(p);
    else if (!(ss = hak_segmap_lookup(p))) return r;
    r.ss = ss;
    r.kind = HAK_PTR_INVALID;
    if (HAK_LIKELY(ss->kind == HAK_SS_SLABS)) {
        hak_span_t *s = hak_span_of(ss, p);
        if (HAK_LIKELY(s->kind == HAK_SLAB_SMALL)) {
            if (hak_span_is_block_start(s, p)) { r.kind = HAK_PTR_SMALL; r.span = s; r.size = s->block_size; }
        } else if (s->kind == HAK_SLAB_LARGE && p == s->data) {
            r.kind = HAK_PTR_LARGE; r.span = s; r.size = s->block_size;
        }
    } else if (ss->kind == HAK_SS_HUGE && p == hak_huge_block(ss)) {
        r.kind = HAK_PTR_HUGE; r.size = hak_huge_usable(ss);
    }
    return r;
}

HAK_INLINE bool hak_ptr_is_block(const hak_ptr_t *r) { return r->kind >= HAK_PTR_SMALL; }

#endif

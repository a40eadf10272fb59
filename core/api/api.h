/* api.h — the API layer's own header: the inline compositions every
 * exported entry point uses (the front's fast path, else the slow
 * function), and the slow functions themselves.  The top of the layer
 * order. */
#ifndef HAKMEM_API_H
#define HAKMEM_API_H

#include "front/tiny_front.h"

HAK_HIDDEN void *hak_alloc_slow(size_t n);
HAK_HIDDEN void hak_free_slow(void *p);
HAK_HIDDEN size_t hak_usable_size_slow(const void *p);

HAK_INLINE void *hak_api_malloc(size_t n) {
    void *p;
    if (HAK_LIKELY(n <= HAK_TINY_MAX) && HAK_LIKELY(hak_front_pop(n, &p))) return p;
    return hak_alloc_slow(n);
}

HAK_INLINE void hak_api_free(void *p) {
    if (HAK_LIKELY(hak_front_push(p))) return;
    hak_free_slow(p);
}

HAK_INLINE size_t hak_api_usable_size(const void *p) {
    size_t n;
    if (HAK_LIKELY(hak_front_usable(p, &n))) return n;
    return hak_usable_size_slow(p);
}

#endif

/* front.h — where a request goes once the inline fast paths
 * (front/tiny_front.h) have missed: by size to a class's cache (refilled
 * by its heap), to a large span, or to a huge mapping; by pointer (the
 * resolver, backend/resolve.h) back to the same.  No checks beyond what
 * SPEED makes; the debug box builds its checked blocks on these. */
#ifndef HAKMEM_FRONT_H
#define HAKMEM_FRONT_H

#include "backend/resolve.h"
#include "base/base.h"

/* A block of class cls from the calling thread's cache, refilling it; NULL
 * and ENOMEM when no memory can be had (errno untouched otherwise). */
HAK_HIDDEN void *hak_front_alloc_class(unsigned cls);
/* n bytes, any size, no checks; *fresh says the memory came zeroed from
 * the OS.  NULL and ENOMEM on failure. */
HAK_HIDDEN void *hak_front_alloc_raw(size_t n, bool *fresh);
/* size bytes aligned to align (a power of two), no checks. */
HAK_HIDDEN void *hak_front_alloc_aligned_raw(size_t align, size_t size);
/* Free p, whatever it is: a block goes back; anything else is reported
 * (once per kind) and ignored.  errno untouched. */
HAK_HIDDEN void hak_front_free_raw(void *p);
/* The same for p already resolved (r: hak_resolve(p), p not freed since). */
HAK_HIDDEN void hak_front_free_resolved(void *p, const hak_ptr_t *r);

#endif

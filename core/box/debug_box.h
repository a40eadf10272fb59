/* debug_box.h — checked blocks, for DEBUG and SECURE.
 *
 * What: every operation goes through the slow path (the thread fronts are
 *   bypassed).  Each block carries a trailer: a canary right after the
 *   requested bytes and, in the block's last 8 bytes, the requested size
 *   (encoded with a per-process key) or a freed mark.  free and realloc
 *   check the pointer (ours? a block start?), the mark (double free?) and the
 *   canary (overflow?), and report each error as one line naming the kind
 *   and the address; HAKMEM_ON_ERROR=abort then aborts.  DEBUG also fills
 *   new memory with 0xAA and freed memory with 0xDD.  hak_heap_check() walks
 *   every slab the calling thread can see and checks every live block.
 * Variables: HAKMEM_DEBUG, HAKMEM_ON_ERROR (report|abort; also governs the
 *   bad-pointer reports of every profile).
 * Defaults: off in SPEED, BALANCED, LEAN, SECURE; the DEBUG profile sets
 *   DEBUG=1 and ON_ERROR=abort.
 * Compile switch: HAKMEM_BOX_DEBUG.
 */
#ifndef HAKMEM_DEBUG_BOX_H
#define HAKMEM_DEBUG_BOX_H

#include "internal.h"
#include "box/boxes.h"

extern HAK_HIDDEN int hak_guard_gate;    /* checked blocks on */
extern HAK_HIDDEN int hak_junk_gate;     /* DEBUG junk fill */

HAK_INLINE bool hak_guard_on(void) { return HAKMEM_BOX_DEBUG && hak_guard_gate; }

HAK_HIDDEN void hak_debug_configure(void);
HAK_HIDDEN void *hak_guard_alloc(size_t n, size_t align, bool zero);
HAK_HIDDEN void hak_guard_free(void *p);
HAK_HIDDEN void *hak_guard_realloc(void *p, size_t n);
HAK_HIDDEN size_t hak_guard_usable(const void *p);

/* Heap errors found by any check (also SPEED's batched checks at flush). */
typedef enum {
    HAK_ERR_INVALID_FREE,   /* not a heap pointer, or not a block start */
    HAK_ERR_DOUBLE_FREE,
    HAK_ERR_OVERFLOW,       /* canary after the requested bytes damaged */
    HAK_ERR_CORRUPTION,     /* allocator metadata damaged (trailer, free list) */
    HAK_ERR_KINDS
} hak_heap_error_t;

/* One line "hakmem: <kind> of <addr>: <detail>"; aborts when ON_ERROR=abort,
 * else each kind is reported once per process.  (once: kept for callers that
 * must never repeat, whatever the mode.) */
HAK_HIDDEN void hak_heap_error(hak_heap_error_t kind, const void *p, const char *detail, uint64_t n, bool once);

#endif

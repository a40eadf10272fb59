/* debug_box.h — checked blocks, for DEBUG.
 *
 * What: every operation goes through the slow path (the thread fronts are
 *   bypassed).  Each block carries a trailer: a canary right after the
 *   requested bytes and, in the block's last 8 bytes, the requested size
 *   (encoded with a per-process key) or a freed mark.  free and realloc
 *   check the pointer (ours? a block start?), the mark (double free?) and the
 *   canary (overflow?), and report each error as one line naming the kind
 *   and the address; HAKMEM_ON_ERROR=abort then aborts.  DEBUG also fills
 *   new memory with 0xAA and freed memory with 0xDD.  hak_heap_check() walks
 *   every slab of the calling thread's heap and checks every live block.
 * Variables: HAKMEM_DEBUG; HAKMEM_ON_ERROR (report|abort) governs every
 *   report of every profile (base/diag.h).
 * Defaults: off in SPEED, BALANCED, LEAN, SECURE; the DEBUG profile sets
 *   DEBUG=1 and ON_ERROR=abort.
 * Compile switch: HAKMEM_BOX_DEBUG (make BOX_DEBUG=0).
 */
#ifndef HAKMEM_DEBUG_BOX_H
#define HAKMEM_DEBUG_BOX_H

#include "base/base.h"
#include "box/boxes.h"

#if HAKMEM_BOX_DEBUG
typedef struct hak_debug_state {
    int guard;        /* checked blocks on */
    int junk;         /* DEBUG junk fill */
    uint64_t key;     /* per process: trailers are not guessable constants */
} hak_debug_state_t;
extern HAK_HIDDEN hak_debug_state_t hak_debug;

HAK_INLINE bool hak_guard_on(void) { return hak_debug.guard; }
HAK_HIDDEN void hak_debug_configure(void);
HAK_HIDDEN void *hak_guard_alloc(size_t n, size_t align, bool zero);
HAK_HIDDEN void hak_guard_free(void *p);
HAK_HIDDEN void *hak_guard_realloc(void *p, size_t n);
HAK_HIDDEN size_t hak_guard_usable(const void *p);
/* Check every live block of the calling thread's heap; problems found. */
HAK_HIDDEN int hak_guard_check_heap(void);
#else
HAK_INLINE bool hak_guard_on(void) { return false; }
HAK_INLINE void hak_debug_configure(void) {}
HAK_INLINE void *hak_guard_alloc(size_t n, size_t align, bool zero) { (void)n; (void)align; (void)zero; return NULL; }
HAK_INLINE void hak_guard_free(void *p) { (void)p; }
HAK_INLINE void *hak_guard_realloc(void *p, size_t n) { (void)p; (void)n; return NULL; }
HAK_INLINE size_t hak_guard_usable(const void *p) { (void)p; return 0; }
HAK_INLINE int hak_guard_check_heap(void) { return 0; }
#endif

#endif

/* secure_box.h — hardening against heap exploits.
 *
 * What: free-list links are stored encoded with a per-span random secret
 *   (a leaked or overwritten link does not point where an attacker wants,
 *   and a corrupted one is detected when decoded: backend/superslab.h);
 *   new blocks are carved in random order, so neighbours are not
 *   predictable.  The fast paths stay: foreign pointers are caught at once,
 *   double and interior frees by the checks when the thread cache flushes;
 *   with ON_ERROR=abort each of these aborts.
 *   Redzones catch overflows without touching the fast paths: the last
 *   HAK_REDZONE bytes of every block are not the user's (the class is
 *   chosen for the request plus the redzone, and the usable size excludes
 *   it).  They hold a keyed pattern written once when a small block is
 *   carved (nothing else writes there: free-list links are at the block's
 *   start, caches hold pointers) and when a large or huge block is
 *   allocated; they are checked when a small block leaves a thread cache,
 *   when a large or huge block is freed or reallocated, and at exit for the
 *   exiting thread's caches.  So a write of up to 16 bytes past the usable
 *   size (for blocks up to 128 B, the request rounded up to 16) is
 *   reported.  DEBUG's checked blocks, which check the exact request, turn
 *   redzones off.  (Checking every block at every operation, as DEBUG does,
 *   costs 2.5-4x; see RELIABILITY.md.)
 * Variable: HAKMEM_SECURE (0/1).  Default: 0; the SECURE profile sets 1 and
 *   HAKMEM_ON_ERROR=abort.
 * Compile switch: HAKMEM_BOX_SECURE (make BOX_SECURE=0): the gate and the
 *   redzone size become constant 0.
 */
#ifndef HAKMEM_SECURE_BOX_H
#define HAKMEM_SECURE_BOX_H

#include "base/base.h"
#include "box/boxes.h"

/* Redzone bytes at the end of every block when on. */
#define HAK_REDZONE 16

#if HAKMEM_BOX_SECURE
typedef struct hak_secure_state {
    int gate;
    size_t redzone;        /* HAK_REDZONE when on without DEBUG (fixed at init, with the class geometry), else 0 */
    uint64_t redzone_key;
} hak_secure_state_t;
extern HAK_HIDDEN hak_secure_state_t hak_secure;
#define hak_redzone (hak_secure.redzone)
HAK_INLINE bool hak_secure_on(void) { return hak_secure.gate; }
HAK_HIDDEN void hak_secure_configure(void);
/* Turn redzones on for SECURE unless checked blocks (DEBUG) are on: once,
 * before the class geometry is built, since they are part of it (a late
 * re-read of the environment must not change them under live blocks). */
HAK_HIDDEN void hak_secure_redzone_init(bool checked_blocks);
/* Shuffle n block pointers (random carving). */
HAK_HIDDEN void hak_secure_shuffle(void **v, uint32_t n);

/* The pattern of the redzone that ends at `end` (the block's raw end):
 * keyed and address-dependent, so neither a constant nor a copied
 * neighbour passes. */
HAK_INLINE void hak_redzone_set(void *end) {
    uint64_t *w = (uint64_t *)((uint8_t *)end - HAK_REDZONE);
    w[0] = hak_secure.redzone_key ^ (uintptr_t)w;
    w[1] = ~hak_secure.redzone_key ^ (uintptr_t)w;
}
HAK_INLINE bool hak_redzone_ok(const void *end) {
    const uint64_t *w = (const uint64_t *)((const uint8_t *)end - HAK_REDZONE);
    return w[0] == (hak_secure.redzone_key ^ (uintptr_t)w) && w[1] == (~hak_secure.redzone_key ^ (uintptr_t)w);
}
/* Check the redzone of the block [p, end); report an overflow and repair
 * it (so it is reported once) when damaged.  Returns whether it was intact. */
HAK_HIDDEN bool hak_redzone_check(const void *p, void *end);
#else
#define hak_redzone ((size_t)0)
HAK_INLINE bool hak_secure_on(void) { return false; }
HAK_INLINE void hak_secure_configure(void) {}
HAK_INLINE void hak_secure_redzone_init(bool checked_blocks) { (void)checked_blocks; }
HAK_INLINE void hak_secure_shuffle(void **v, uint32_t n) { (void)v; (void)n; }
HAK_INLINE void hak_redzone_set(void *end) { (void)end; }
HAK_INLINE bool hak_redzone_check(const void *p, void *end) { (void)p; (void)end; return true; }
#endif

/* Bytes a block must have to give the user n (the redzone on top; n = 0
 * still gets a byte, so a free-list link never lands in the redzone). */
HAK_INLINE size_t hak_block_need(size_t n) {
    if (!hak_redzone) return n;
    if (n > SIZE_MAX - 2 * HAK_REDZONE) return SIZE_MAX;   /* refused later as too big */
    return (n ? n : 1) + hak_redzone;
}

#endif

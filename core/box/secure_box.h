/* secure_box.h — hardening against heap exploits.
 *
 * What: free-list links are stored encoded with a per-span random secret
 *   (a leaked or overwritten link does not point where an attacker wants,
 *   and a corrupted one is detected when decoded: backend/superslab.h);
 *   new blocks are carved in random order, so neighbours are not
 *   predictable.  Every bad free is caught at the free (checked frees,
 *   below); with ON_ERROR=abort each aborts.
 *   Redzones catch overflows without touching the fast paths' code: the last
 *   HAK_REDZONE bytes of every block are not the user's (the class is
 *   chosen for the request plus the redzone, and the usable size excludes
 *   it).  They hold a keyed pattern written once when a small block is
 *   carved (nothing else writes there: free-list links are at the block's
 *   start, caches hold pointers) and when a large or huge block is
 *   allocated; they are checked at every free, when a small block leaves a
 *   thread cache, and at exit for the exiting thread's caches.  DEBUG's
 *   checked blocks, which check the exact request, turn redzones off.
 *   Checked frees: every operation takes the slow path (the thread fronts
 *   are bypassed, as for the stats box), so that a block handed out
 *   carries its request size in the redzone's second word (encoded) and a
 *   canary of up to 8 bytes right after the request, and free checks at
 *   once what SPEED checks at the next flush or not at all: a pointer that
 *   is not a block start (resolved, api/api.c), a block already freed (its
 *   redzone back in the free state), an overflow past the request (the
 *   canary) or past the block (the redzone).  A free block's redzone is the
 *   keyed pattern in both words, so the heap's own checks of cached and
 *   freed blocks (flush, free to the owner, exit) are those of a redzone.
 *   Cost and decision: docs/PROFILES.md.
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
    uint64_t size_key;     /* encodes the request size of a block handed out (checked frees) */
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

/* Checked frees (the fronts are bypassed while redzones are on).  raw is
 * the block's raw size (usable size plus the redzone), n the request.
 * A block handed out: record n and write the canary after it. */
HAK_HIDDEN void hak_secure_block_out(void *p, size_t raw, size_t n);
/* A block coming back (free, or realloc's old block): check it, report what
 * is wrong, put its redzone back in the free state.  false when it must
 * not be freed: it is free already (a double free, reported). */
HAK_HIDDEN bool hak_secure_block_in(void *p, size_t raw);
/* The request size of a block handed out, after checking its canary and
 * redzone (reported and repaired when damaged); SIZE_MAX when the block
 * is free (nothing reported). */
HAK_HIDDEN size_t hak_secure_request(void *p, size_t raw);
#else
#define hak_redzone ((size_t)0)
HAK_INLINE bool hak_secure_on(void) { return false; }
HAK_INLINE void hak_secure_configure(void) {}
HAK_INLINE void hak_secure_redzone_init(bool checked_blocks) { (void)checked_blocks; }
HAK_INLINE void hak_secure_shuffle(void **v, uint32_t n) { (void)v; (void)n; }
HAK_INLINE void hak_redzone_set(void *end) { (void)end; }
HAK_INLINE bool hak_redzone_check(const void *p, void *end) { (void)p; (void)end; return true; }
HAK_INLINE void hak_secure_block_out(void *p, size_t raw, size_t n) { (void)p; (void)raw; (void)n; }
HAK_INLINE bool hak_secure_block_in(void *p, size_t raw) { (void)p; (void)raw; return true; }
HAK_INLINE size_t hak_secure_request(void *p, size_t raw) { (void)p; return raw; }
#endif

/* Bytes a block must have to give the user n (the redzone on top; n = 0
 * still gets a byte, so a free-list link never lands in the redzone). */
HAK_INLINE size_t hak_block_need(size_t n) {
    if (!hak_redzone) return n;
    if (n > SIZE_MAX - 2 * HAK_REDZONE) return SIZE_MAX;   /* refused later as too big */
    return (n ? n : 1) + hak_redzone;
}

#endif

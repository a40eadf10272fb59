/* secure_box.h — hardening against heap exploits.
 *
 * What: free-list links are stored encoded with a per-span random secret
 *   (a leaked or overwritten link does not point where an attacker wants,
 *   and a corrupted one is detected when decoded); new blocks are carved in
 *   random order, so neighbours are not predictable.  The fast paths stay:
 *   foreign pointers are caught at once, double and interior frees by the
 *   batched checks when the thread cache flushes; with ON_ERROR=abort each
 *   of these aborts.
 *   Redzones catch overflows without touching the fast paths: the last
 *   HAK_REDZONE bytes of every block are not the user's (the class is
 *   chosen for the request plus the redzone, and the usable size excludes
 *   it).  They hold a keyed pattern written once when a small block is
 *   carved (nothing else writes there: free-list links are at the block's
 *   start, caches hold pointers) and when a large or huge block is
 *   allocated; they are checked when a small block leaves a thread cache
 *   (the batched checks), when a large or huge block is freed or
 *   reallocated, and at exit for the exiting thread's caches.  So a write
 *   of up to 16 bytes past the usable size (for blocks up to 128 B, the
 *   request rounded up to 16) is reported.  DEBUG's checked blocks, which
 *   check the exact request, turn redzones off.  (Checking every block at
 *   every operation, as DEBUG does, costs 2.5-4x; see RELIABILITY.md.)
 * Variable: HAKMEM_SECURE (0/1).  Default: 0; the SECURE profile sets 1 and
 *   HAKMEM_ON_ERROR=abort.
 * Compile switch: HAKMEM_BOX_SECURE.
 */
#ifndef HAKMEM_SECURE_BOX_H
#define HAKMEM_SECURE_BOX_H

#include "internal.h"
#include "box/boxes.h"

extern HAK_HIDDEN int hak_secure_gate;
HAK_INLINE bool hak_secure_on(void) { return HAKMEM_BOX_SECURE && hak_secure_gate; }
HAK_HIDDEN void hak_secure_configure(void);
/* Turn redzones on for SECURE without DEBUG: once, from
 * hak_size_classes_init, since they are part of the class geometry (a late
 * re-read of the environment must not change them under live blocks). */
HAK_HIDDEN void hak_secure_redzone_init(void);
/* A fresh random 64-bit value (slow paths only). */
HAK_HIDDEN uint64_t hak_secure_random(void);
/* Shuffle n block pointers (random carving). */
HAK_HIDDEN void hak_secure_shuffle(void **v, uint32_t n);

/* Redzone bytes at the end of every block: HAK_REDZONE in SECURE (fixed
 * at init, with the class geometry), else 0. */
#define HAK_REDZONE 16
extern HAK_HIDDEN size_t hak_redzone;
extern HAK_HIDDEN uint64_t hak_redzone_key;

/* The pattern of the redzone that ends at `end` (the block's raw end):
 * keyed and address-dependent, so neither a constant nor a copied
 * neighbour passes. */
HAK_INLINE void hak_redzone_set(void *end) {
    uint64_t *w = (uint64_t *)((uint8_t *)end - HAK_REDZONE);
    w[0] = hak_redzone_key ^ (uintptr_t)w;
    w[1] = ~hak_redzone_key ^ (uintptr_t)w;
}
HAK_INLINE bool hak_redzone_ok(const void *end) {
    const uint64_t *w = (const uint64_t *)((const uint8_t *)end - HAK_REDZONE);
    return w[0] == (hak_redzone_key ^ (uintptr_t)w) && w[1] == (~hak_redzone_key ^ (uintptr_t)w);
}
/* Check the redzone of the block [p, end); report an overflow and repair
 * it (so it is reported once) when damaged.  Returns whether it was intact. */
HAK_HIDDEN bool hak_redzone_check(const void *p, void *end);

/* Bytes a block must have to give the user n (the redzone on top; n = 0
 * still gets a byte, so a free-list link never lands in the redzone). */
HAK_INLINE size_t hak_block_need(size_t n) {
    if (!hak_redzone) return n;
    if (n > SIZE_MAX - 2 * HAK_REDZONE) return SIZE_MAX;   /* refused later as too big */
    return (n ? n : 1) + hak_redzone;
}

/* Free-list links, encoded with the span's secret (0 when SECURE is off, so
 * the same code serves every mode at the cost of one xor). */
HAK_INLINE void *hak_link_get(const hak_span_t *s, const void *b) {
    return (void *)(*(const uintptr_t *)b ^ s->secret);
}
HAK_INLINE void hak_link_set(const hak_span_t *s, void *b, const void *next) {
    *(uintptr_t *)b = (uintptr_t)next ^ s->secret;
}

#endif

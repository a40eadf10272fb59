/* secure_box.h — hardening against heap exploits.
 *
 * What: free-list links are stored encoded with a per-span random secret
 *   (a leaked or overwritten link does not point where an attacker wants,
 *   and a corrupted one is detected when decoded); new blocks are carved in
 *   random order, so neighbours are not predictable.  The fast paths stay:
 *   foreign pointers are caught at once, double and interior frees by the
 *   batched checks when the thread cache flushes, an overflow when it
 *   damages a free block's link; with ON_ERROR=abort each of these aborts.
 *   (Checking every block, as DEBUG does, costs 2.5-4x; see RELIABILITY.md.)
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
/* A fresh random 64-bit value (slow paths only). */
HAK_HIDDEN uint64_t hak_secure_random(void);
/* Shuffle n block pointers (random carving). */
HAK_HIDDEN void hak_secure_shuffle(void **v, uint32_t n);

/* Free-list links, encoded with the span's secret (0 when SECURE is off, so
 * the same code serves every mode at the cost of one xor). */
HAK_INLINE void *hak_link_get(const hak_span_t *s, const void *b) {
    return (void *)(*(const uintptr_t *)b ^ s->secret);
}
HAK_INLINE void hak_link_set(const hak_span_t *s, void *b, const void *next) {
    *(uintptr_t *)b = (uintptr_t)next ^ s->secret;
}

#endif

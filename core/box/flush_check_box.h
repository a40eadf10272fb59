/* flush_check_box.h — checks of every block that leaves a thread cache.
 *
 * What: when a flush returns blocks to their spans, each is checked: a
 *   block start of a carved block of its class (an interior pointer that
 *   free's fast path cached is dropped, not linked into a free list), not in
 *   the cache twice (a double free that was not in a row), not the head of
 *   its own span's free list, its span not empty; each bad one is reported
 *   and dropped.  The blocks a flush keeps enter the duplicate set first (a
 *   copy kept could otherwise be handed out after its twin left), and are
 *   checked themselves when they leave.  Foreign pointers never get here
 *   (free's slow path resolves them); a double free in a row is caught at
 *   the free in every profile, and SECURE and ON_ERROR=abort check every
 *   free at once (heap/checked.c).  So in SPEED these checks only catch an
 *   interior free or a deeper double free later, at a cost on every block
 *   of a flush (docs/PROFILES.md): SPEED and LEAN leave them off.
 * Variable: HAKMEM_FLUSH_CHECK (0/1).  Default: 0 in SPEED and LEAN; 1 in
 *   BALANCED, SECURE and DEBUG.
 * Compile switch: HAKMEM_BOX_FLUSH_CHECK (make BOX_FLUSH_CHECK=0).
 */
#ifndef HAKMEM_FLUSH_CHECK_BOX_H
#define HAKMEM_FLUSH_CHECK_BOX_H

#include "base/base.h"
#include "box/boxes.h"

#if HAKMEM_BOX_FLUSH_CHECK
extern HAK_HIDDEN int hak_flush_check_gate;
HAK_INLINE bool hak_flush_check_on(void) { return hak_flush_check_gate; }
HAK_HIDDEN void hak_flush_check_configure(void);
/* b was dropped: freed twice, or not a block start. */
HAK_HIDDEN void hak_flush_reject(void *b, bool twice);
#else
HAK_INLINE bool hak_flush_check_on(void) { return false; }
HAK_INLINE void hak_flush_check_configure(void) {}
HAK_INLINE void hak_flush_reject(void *b, bool twice) { (void)b; (void)twice; }
#endif

/* The duplicate set of one flush.  Blocks of 16 bytes or more are marked:
 * their second word (free memory; the free-list link takes the first, so
 * the mark survives a block's return to its span within the pass) gets the
 * pass's stamp xor the block's address: no table to clear, one load and one
 * store per block.  Class 0 (8 bytes) and checked blocks (DEBUG, whose junk
 * check covers the second word) use an open-addressing table on the stack,
 * at most half full, indexed by the top bits of a multiplicative hash (the
 * low bits of block addresses repeat with the block size). */
typedef struct hak_dup_set {
    uintptr_t *slot;
    unsigned shift;   /* 64 - log2(size) */
    uint32_t mask;
    uint64_t stamp;   /* nonzero: mark blocks instead */
} hak_dup_set_t;

/* false if b was seen already in this flush. */
HAK_INLINE bool hak_dup_seen(hak_dup_set_t *d, void *b) {
    uintptr_t key = (uintptr_t)b;
    if (d->stamp) {
        uint64_t *w = (uint64_t *)b + 1, mark = d->stamp ^ key;
        if (*w == mark) return false;
        *w = mark;
        return true;
    }
    uint32_t k = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> d->shift);
    for (uintptr_t t; (t = d->slot[k]) != 0; k = (k + 1) & d->mask)
        if (t == key) return false;
    d->slot[k] = key;
    return true;
}

#endif

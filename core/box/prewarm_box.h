/* prewarm_box.h — eager preparation at thread start.
 *
 * What: when a thread gets a new heap, map its first superslab at once
 *   instead of at its first refill, and fault in its first page of blocks.
 * Variable: HAKMEM_PREWARM (0/1).  Default: 0 in every profile; mem-lean
 *   (HAKMEM_SS_MEM_LEAN=1) suppresses it whatever the variable says.
 *   Measured in docs/PROFILES.md.
 * Compile switch: HAKMEM_BOX_PREWARM.
 */
#ifndef HAKMEM_PREWARM_BOX_H
#define HAKMEM_PREWARM_BOX_H

#include "internal.h"
#include "box/boxes.h"

extern HAK_HIDDEN int hak_prewarm_gate;
HAK_INLINE bool hak_prewarm_on(void) { return HAKMEM_BOX_PREWARM && hak_prewarm_gate; }
HAK_HIDDEN void hak_prewarm_configure(void);
/* Prepare a heap that was just created for a new thread. */
HAK_HIDDEN void hak_prewarm_heap(struct hak_heap *h);

#endif

/* prewarm_box.h — eager preparation at thread start.
 *
 * What: when a thread gets a new heap, map its first superslab at once
 *   instead of at its first refill, and carve its first spans.  The heap
 *   layer calls it through the hook it registers at init (hak_heaps_hooks).
 * Variable: HAKMEM_PREWARM (0/1).  Default: 0 in every profile; mem-lean
 *   (HAKMEM_SS_MEM_LEAN=1) suppresses it whatever the variable says.
 *   Measured in docs/PROFILES.md.
 * Compile switch: HAKMEM_BOX_PREWARM (make BOX_PREWARM=0).
 */
#ifndef HAKMEM_PREWARM_BOX_H
#define HAKMEM_PREWARM_BOX_H

#include "base/base.h"
#include "box/boxes.h"

#if HAKMEM_BOX_PREWARM
HAK_HIDDEN void hak_prewarm_configure(void);
#else
HAK_INLINE void hak_prewarm_configure(void) {}
#endif

#endif

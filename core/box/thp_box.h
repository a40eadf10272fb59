/* thp_box.h — transparent huge pages for superslabs and huge blocks.
 *
 * What: madvise(MADV_HUGEPAGE) on each superslab and huge mapping taken from
 *   the OS, so a kernel in "madvise" THP mode may back it with 2 MiB pages.
 * Variable: HAKMEM_THP (0/1).  Default: 0 in every profile — measured in
 *   docs/PROFILES.md: a 2 MiB page is resident as soon as one byte of it is
 *   touched, which doubles a small program's RSS (Mixed: 1.8 -> 3.5 MB) for
 *   no measurable speed there; huge-block churn runs 4x faster with it, but
 *   the first faults can stall on compaction (seen: 1.1 s instead of 0.1 s).
 * Compile switch: HAKMEM_BOX_THP (make BOX_THP=0).
 */
#ifndef HAKMEM_THP_BOX_H
#define HAKMEM_THP_BOX_H

#include "base/base.h"
#include "box/boxes.h"

#if HAKMEM_BOX_THP
extern HAK_HIDDEN int hak_thp_gate;
HAK_HIDDEN void hak_thp_configure(void);
/* A mapping fresh from the OS: a superslab or a huge block's. */
HAK_HIDDEN void hak_thp_advise_mapping(void *p, size_t size);
HAK_INLINE void hak_thp_advise(void *p, size_t size) {
    if (hak_thp_gate) hak_thp_advise_mapping(p, size);
}
#else
HAK_INLINE void hak_thp_configure(void) {}
HAK_INLINE void hak_thp_advise(void *p, size_t size) { (void)p; (void)size; }
#endif

#endif

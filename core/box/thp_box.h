/* thp_box.h — transparent huge pages for superslabs and huge blocks.
 *
 * What: madvise(MADV_HUGEPAGE) on each superslab and huge mapping taken from
 *   the OS, so a kernel in "madvise" THP mode may back it with 2 MiB pages.
 * Variable: HAKMEM_THP (0/1).  Default: 0 in every profile — measured in
 *   docs/PROFILES.md: a 2 MiB page is resident as soon as one byte of it is
 *   touched, which doubles a small program's RSS (Mixed: 1.8 -> 3.5 MB) for
 *   no measurable speed there; huge-block churn runs 4x faster with it, but
 *   the first faults can stall on compaction (seen: 1.1 s instead of 0.1 s).
 * Compile switch: HAKMEM_BOX_THP.
 */
#ifndef HAKMEM_THP_BOX_H
#define HAKMEM_THP_BOX_H

#include "internal.h"
#include "box/boxes.h"

extern HAK_HIDDEN int hak_thp_gate;
HAK_INLINE bool hak_thp_on(void) { return HAKMEM_BOX_THP && hak_thp_gate; }
HAK_HIDDEN void hak_thp_configure(void);
/* Called for every superslab fresh from the OS. */
HAK_HIDDEN void hak_thp_advise(void *region);
/* Called for every huge mapping fresh from the OS. */
HAK_HIDDEN void hak_thp_advise_huge(void *region, size_t size);

#endif

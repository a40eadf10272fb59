/* thp_box.h — transparent huge pages for superslabs.
 *
 * What: madvise(MADV_HUGEPAGE) on each superslab mapped from the OS, so a
 *   kernel in "madvise" THP mode may back it with one 2 MiB page.
 * Variable: HAKMEM_THP (0/1).  Default: 0 in every profile — measured in
 *   docs/PROFILES.md: a 2 MiB page is resident as soon as one byte of it is
 *   touched, which multiplies small programs' RSS for no measurable speed.
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

#endif

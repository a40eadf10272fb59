/* thp_box.c — see thp_box.h. */
#include "box/thp_box.h"

#include <sys/mman.h>

#include "box/env_box.h"
#include "box/os_box.h"

HAK_HIDDEN int hak_thp_gate;

void hak_thp_configure(void) { hak_thp_gate = HAKMEM_BOX_THP ? (int)HAK_CFG(THP) : 0; }

void hak_thp_advise(void *region) {
    if (hak_thp_on()) hak_os_advise(region, HAK_SEGMENT_SIZE, MADV_HUGEPAGE);
}

void hak_thp_advise_huge(void *region, size_t size) {
    if (hak_thp_on()) hak_os_advise(region, size, MADV_HUGEPAGE);
}

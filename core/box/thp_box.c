/* thp_box.c — see thp_box.h. */
#include "box/thp_box.h"

#include <sys/mman.h>

#include "backend/os.h"
#include "config/config.h"

HAK_HIDDEN int hak_thp_gate;

void hak_thp_configure(void) { hak_thp_gate = (int)HAK_CFG(THP); }

void hak_thp_advise_mapping(void *p, size_t size) { hak_os_advise(p, size, MADV_HUGEPAGE); }

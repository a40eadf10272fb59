/* verbose_box.c — see verbose_box.h. */
#include "box/verbose_box.h"

#include "base/diag.h"
#include "config/config.h"

HAK_HIDDEN int hak_verbose_gate;

void hak_verbose_configure(void) {
    hak_verbose_gate = (int)HAK_CFG(VERBOSE);
    if (hak_verbose_on()) hak_config_write(2);
}

void hak_verbose_event(const char *what, uint64_t number) {
    if (!hak_verbose_on()) return;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: event: ");
    hak_line_str(&l, what);
    hak_line_str(&l, " ");
    hak_line_u64(&l, number);
    hak_line_str(&l, "\n");
    hak_line_write(&l, 2);
}

/* flush_check_box.c — see flush_check_box.h. */
#include "box/flush_check_box.h"

#include "base/diag.h"
#include "config/config.h"

HAK_HIDDEN int hak_flush_check_gate;

void hak_flush_check_configure(void) { hak_flush_check_gate = (int)HAK_CFG(FLUSH_CHECK); }

HAK_COLD void hak_flush_reject(void *b, bool twice) {
    if (twice) hak_report(HAK_ERR_DOUBLE_FREE, b, "block freed twice (found when the thread cache flushed); ignored", HAK_NO_NUMBER);
    else hak_report(HAK_ERR_INVALID_FREE, b, "not the start of a block (found when the thread cache flushed); ignored", HAK_NO_NUMBER);
}

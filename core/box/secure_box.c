/* secure_box.c — see secure_box.h. */
#include "box/secure_box.h"

#include "base/diag.h"
#include "config/config.h"

HAK_HIDDEN hak_secure_state_t hak_secure;

void hak_secure_configure(void) { hak_secure.gate = (int)HAK_CFG(SECURE); }

void hak_secure_shuffle(void **v, uint32_t n) {
    uint64_t r = hak_random();
    for (uint32_t i = n; i > 1; i--) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        uint32_t j = (uint32_t)(r % i);
        void *t = v[i - 1]; v[i - 1] = v[j]; v[j] = t;
    }
}

void hak_secure_redzone_init(bool checked_blocks) {
    if (!hak_secure_on() || checked_blocks) return;
    hak_secure.redzone_key = hak_random();
    hak_secure.redzone = HAK_REDZONE;
}

bool hak_redzone_check(const void *p, void *end) {
    if (HAK_LIKELY(hak_redzone_ok(end))) return true;
    hak_report(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block (its redzone damaged); usable size",
               (uint64_t)((const uint8_t *)end - (const uint8_t *)p) - HAK_REDZONE);
    hak_redzone_set(end);
    return false;
}

/* secure_box.c — see secure_box.h. */
#include "box/secure_box.h"

#include <string.h>

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
    hak_secure.size_key = hak_random() & ~(uint64_t)1;   /* never ~redzone_key: a free mark never decodes as live */
    if (hak_secure.size_key == ~hak_secure.redzone_key) hak_secure.size_key ^= 2;
    hak_secure.redzone = HAK_REDZONE;
}

bool hak_redzone_check(const void *p, void *end) {
    if (HAK_LIKELY(hak_redzone_ok(end))) return true;
    hak_report(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block (its redzone damaged); usable size",
               (uint64_t)((const uint8_t *)end - (const uint8_t *)p) - HAK_REDZONE);
    hak_redzone_set(end);
    return false;
}

/* ---- checked frees ----
 *
 * Redzone words (hak_redzone_set): w[0] = key ^ &w[0] always; w[1] =
 * ~key ^ &w[0] while the block is free, size_key ^ &w[0] ^ n while it is
 * handed out with request n.  The canary: the 8 bytes right after the
 * request, one unaligned word (the block always has them: n is at most the
 * usable size, and the redzone's 16 bytes follow).  When fewer than 8 bytes
 * lie between the request and the redzone, the word's upper bytes are
 * w[0]'s first ones, so writing it leaves w[0] as it is, and checking it
 * checks them too. */

static uint64_t *redzone_words(void *p, size_t raw) { return (uint64_t *)((uint8_t *)p + raw - HAK_REDZONE); }

static uint64_t canary_expected(const void *p, size_t n, const uint64_t *w) {
    uint64_t c = hak_secure.redzone_key ^ ((uintptr_t)p * 0x9E3779B97F4A7C15ull);
    size_t room = (size_t)((const uint8_t *)w - (const uint8_t *)p) - n;
    if (room >= 8) return c;
    uint64_t w0 = hak_secure.redzone_key ^ (uintptr_t)w;
    return room ? (c & ((1ull << (8 * room)) - 1)) | (w0 << (8 * room)) : w0;
}

void hak_secure_block_out(void *p, size_t raw, size_t n) {
    uint64_t *w = redzone_words(p, raw);
    w[1] = hak_secure.size_key ^ (uintptr_t)w ^ n;
    uint64_t c = canary_expected(p, n, w);
    memcpy((uint8_t *)p + n, &c, 8);
}

/* The damaged cases, out of line: report, repair, and say what the block is
 * (SIZE_MAX: free; else its request, the usable size when it was lost). */
static HAK_NOINLINE size_t damaged(void *p, size_t raw, uint64_t *w, bool is_free, uint64_t n) {
    size_t usable = raw - HAK_REDZONE;
    if (is_free) {
        hak_redzone_check(p, (uint8_t *)p + raw);   /* damaged while free: report, repair */
        return SIZE_MAX;
    }
    if (w[0] != (hak_secure.redzone_key ^ (uintptr_t)w) || n > usable) {
        hak_report(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block (its redzone damaged); usable size",
                   (uint64_t)usable);
        hak_redzone_set((uint8_t *)p + raw);
        hak_secure_block_out(p, raw, usable);
        return usable;
    }
    hak_report(HAK_ERR_OVERFLOW, p, "bytes written past the requested size (its canary damaged); requested", n);
    hak_redzone_set((uint8_t *)p + raw);
    uint64_t c = canary_expected(p, (size_t)n, w);
    memcpy((uint8_t *)p + n, &c, 8);
    return (size_t)n;
}

/* The request of a block handed out, or SIZE_MAX if free; reports and
 * repairs damage. */
static inline size_t live_request(void *p, size_t raw) {
    uint64_t *w = redzone_words(p, raw);
    uint64_t key = hak_secure.redzone_key, w0 = key ^ (uintptr_t)w;
    if (HAK_UNLIKELY(w[1] == ~w0)) return w[0] == w0 ? SIZE_MAX : damaged(p, raw, w, true, 0);
    uint64_t n = w[1] ^ hak_secure.size_key ^ (uintptr_t)w, got;
    if (HAK_UNLIKELY(w[0] != w0 || n > raw - HAK_REDZONE)) return damaged(p, raw, w, false, n);
    memcpy(&got, (uint8_t *)p + n, 8);
    if (HAK_UNLIKELY(got != canary_expected(p, (size_t)n, w))) return damaged(p, raw, w, false, n);
    return (size_t)n;
}

size_t hak_secure_request(void *p, size_t raw) { return live_request(p, raw); }

bool hak_secure_block_in(void *p, size_t raw) {
    if (HAK_UNLIKELY(live_request(p, raw) == SIZE_MAX)) {
        hak_report(HAK_ERR_DOUBLE_FREE, p, "block already freed (its redzone says it is free)", HAK_NO_NUMBER);
        return false;
    }
    redzone_words(p, raw)[1] = ~hak_secure.redzone_key ^ (uintptr_t)redzone_words(p, raw);
    return true;
}

/* secure_box.c — see secure_box.h. */
#include "box/secure_box.h"

#include <string.h>
#include <sys/auxv.h>

#include "box/debug_box.h"
#include "box/env_box.h"

HAK_HIDDEN int hak_secure_gate;
HAK_HIDDEN size_t hak_redzone;
HAK_HIDDEN uint64_t hak_redzone_key;
static _Atomic uint64_t secure_state;

void hak_secure_configure(void) {
    if (!HAKMEM_BOX_SECURE) return;
    hak_secure_gate = (int)HAK_CFG(SECURE);
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);   /* 16 bytes from the kernel */
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    if (rnd) memcpy(&seed, rnd, sizeof seed);
    atomic_store(&secure_state, seed);
}

/* splitmix64 over an atomic counter: distinct values for every caller. */
uint64_t hak_secure_random(void) {
    uint64_t z = atomic_fetch_add_explicit(&secure_state, 0x9E3779B97F4A7C15ull, memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) | 1;
}

void hak_secure_shuffle(void **v, uint32_t n) {
    uint64_t r = hak_secure_random();
    for (uint32_t i = n; i > 1; i--) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        uint32_t j = (uint32_t)(r % i);
        void *t = v[i - 1]; v[i - 1] = v[j]; v[j] = t;
    }
}

void hak_secure_redzone_init(void) {
    if (!hak_secure_on() || hak_guard_on()) return;
    hak_redzone_key = hak_secure_random();
    hak_redzone = HAK_REDZONE;
}

bool hak_redzone_check(const void *p, void *end) {
    if (HAK_LIKELY(hak_redzone_ok(end))) return true;
    hak_heap_error(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block (its redzone damaged); usable size",
                   (uint64_t)((const uint8_t *)end - (const uint8_t *)p) - HAK_REDZONE, false);
    hak_redzone_set(end);
    return false;
}

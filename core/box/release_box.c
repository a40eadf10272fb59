/* release_box.c — the policy's settings and the decommit primitive. */
#include "box/release_box.h"

#include <sys/mman.h>
#include <time.h>

#include "box/env_box.h"
#include "box/os_box.h"

HAK_HIDDEN hak_release_policy_t hak_release;

/* Empty superslabs that keep their pages through the purge delay: enough
 * for a program that frees and reallocates at a boundary, few enough that a
 * churning program does not hold RETAIN_MB resident (thread churn: 60 MB
 * resident with all 32 hot, 4 MB with none). */
#define HAK_POOL_HOT 2

void hak_release_configure(void) {
    hak_release.pool_hot = HAK_POOL_HOT;
    static const int advice_of[] = {0, MADV_DONTNEED, MADV_FREE};   /* OFF, DONTNEED, FREE */
    hak_release.delay_ns = (uint64_t)HAK_CFG(PURGE_DELAY_MS) * 1000000ull;
    if (HAK_CFG(SS_MEM_LEAN)) {
        hak_release.pool_cap = (size_t)HAK_CFG(SS_MEM_LEAN_TARGET_MB) << 20;
        hak_release.huge_cap = hak_release.pool_cap;
        hak_release.advice = advice_of[HAK_CFG(SS_MEM_LEAN_DECOMMIT)];
        hak_release.spans = hak_release.advice != 0;
    } else {
        hak_release.pool_cap = (size_t)HAK_CFG(RETAIN_MB) << 20;
        hak_release.advice = MADV_DONTNEED;
        hak_release.spans = true;
        /* Freed spans reused soon after their delay cost a madvise and page
         * faults each (soak: 2e-6 calls per op); keeping up to RETAIN_MB of
         * them committed: 5e-8, half of it: 0.7-3e-7 (docs/RELEASE.md). */
        hak_release.span_budget = hak_release.pool_cap;
        /* Churn of big buffers (bench_large) faults every page in again
         * when a freed mapping cannot be kept: with 64 MiB it ran 4.4x
         * tcmalloc's time, with 256 MiB as fast, at 0.97x mimalloc's peak
         * RSS.  The mappings still go after the purge delay. */
        hak_release.huge_cap = 4 * hak_release.pool_cap;
    }
}

uint64_t hak_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);   /* vDSO: no system call */
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool hak_release_decommit(void *p, size_t len, int advice) {
    if (!advice || len == 0) return false;
    return hak_os_advise(p, len, advice) == 0 && advice == MADV_DONTNEED;
}

/* release_box.c — the policy's settings, the decommit primitive and the
 * purge scheduler. */
#include "box/release_box.h"

#include <sys/mman.h>
#include <time.h>

#include "backend/os.h"
#include "config/config.h"

HAK_HIDDEN hak_release_state_t hak_release_state;

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
        hak_release.span_budget = 0;
    } else {
        hak_release.pool_cap = (size_t)HAK_CFG(RETAIN_MB) << 20;
        hak_release.advice = MADV_DONTNEED;
        hak_release.spans = true;
        /* Freed slabs reused soon after their delay cost a madvise and page
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

void hak_purge_register(hak_purge_source_t src, hak_purge_fn_t run) { hak_release_state.run[src] = run; }

void hak_purge_earlier(hak_purge_source_t src, uint64_t at) {
    _Atomic uint64_t *d = &hak_release_state.due[src];
    uint64_t g = atomic_load_explicit(d, memory_order_relaxed);
    while ((!g || at < g) && !atomic_compare_exchange_weak(d, &g, at)) {}
}

void hak_purge_settle(hak_purge_source_t src, uint64_t seen, uint64_t next) {
    _Atomic uint64_t *d = &hak_release_state.due[src];
    if (atomic_compare_exchange_strong(d, &seen, next)) return;
    if (next) hak_purge_earlier(src, next);   /* `seen` now holds what was published meanwhile */
}

void hak_purge_run(uint64_t now) {
    for (int i = 0; i < HAK_PURGE_SOURCES; i++) {
        uint64_t due = hak_purge_get((hak_purge_source_t)i);
        if (due && due <= now && hak_release_state.run[i]) hak_release_state.run[i](now);
    }
}

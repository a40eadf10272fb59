/* stats_box.c — see stats_box.h. */
#include "box/stats_box.h"

#include "config/config.h"

HAK_HIDDEN int hak_stats_mode;
static struct {
    _Atomic int64_t bytes_in_use, bytes_peak;
    _Atomic uint64_t big_ops[2][2];   /* [huge][alloc] */
} stats;

void hak_stats_configure(void) { hak_stats_mode = (int)HAK_CFG(STATS); }

void hak_stats_bytes(int64_t delta) {
    int64_t now = atomic_fetch_add_explicit(&stats.bytes_in_use, delta, memory_order_relaxed) + delta;
    int64_t peak = atomic_load_explicit(&stats.bytes_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&stats.bytes_peak, &peak, now)) {}
}

void hak_stats_big(bool huge, bool alloc) {
    atomic_fetch_add_explicit(&stats.big_ops[huge][alloc], 1, memory_order_relaxed);
}

void hak_stats_read(hak_stats_counts_t *out) {
    out->bytes_in_use = atomic_load(&stats.bytes_in_use);
    out->bytes_peak = atomic_load(&stats.bytes_peak);
    out->large_allocs = atomic_load(&stats.big_ops[0][1]);
    out->large_frees = atomic_load(&stats.big_ops[0][0]);
    out->huge_allocs = atomic_load(&stats.big_ops[1][1]);
    out->huge_frees = atomic_load(&stats.big_ops[1][0]);
}

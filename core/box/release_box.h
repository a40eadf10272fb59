/* release_box.h — the release policy: what becomes of empty memory, and
 * when.
 *
 * What: an empty span's slabs go back to their superslab; an empty
 *   superslab goes to the global pool while the pool holds less than its
 *   cap, else back to the OS; a freed huge mapping is cached for reuse
 *   within a budget, else unmapped.  Pooled superslabs, cached huge
 *   mappings and (per the budget) freed slabs are decommitted or unmapped
 *   once they have been empty for the purge delay.  The purge scheduler
 *   below keeps one deadline per source of such work; every slow path of
 *   the heap layer runs what is due, a bounded amount per call, so memory
 *   comes back even from a program that stopped allocating in one thread.
 * Variables: HAKMEM_SS_MEM_LEAN, HAKMEM_SS_MEM_LEAN_TARGET_MB,
 *   HAKMEM_SS_MEM_LEAN_DECOMMIT, HAKMEM_PURGE_DELAY_MS, HAKMEM_RETAIN_MB;
 *   HAKMEM_IDLE_CACHES (taking back idle threads' cached blocks:
 *   heap/reclaim.c).
 * Defaults: SPEED keeps up to RETAIN_MB (64) of empty superslabs mapped,
 *   a hot few of them committed (until the purge delay, 1 s; reuse takes
 *   a committed one first: two, plus one for each decommitted one taken
 *   back within the delay, less one for each hot one that waited a whole
 *   delay: backend/superslab.c), the rest decommitted (DONTNEED) as they
 *   arrive; freed slabs stay committed while all heaps' free written slabs
 *   fit in RETAIN_MB, beyond it they go after the delay (an idle heap's go
 *   one delay later, whatever the budget); freed huge mappings are kept
 *   for the purge delay up to 4 x RETAIN_MB (256 MiB).  BALANCED keeps at
 *   most TARGET_MB (10) of empty superslabs (and of huge mappings) and never
 *   decommits; LEAN keeps at most TARGET_MB and decommits empty superslabs
 *   and slabs at once.  docs/RELEASE.md has the measurements.
 * Compile switch: none.  The policy is the one box that cannot be compiled
 *   out: every allocator must decide what to do with empty memory; its
 *   variables choose how.
 */
#ifndef HAKMEM_RELEASE_BOX_H
#define HAKMEM_RELEASE_BOX_H

#include "base/base.h"

typedef struct hak_release_policy {
    size_t pool_cap;     /* bytes of empty superslabs kept mapped */
    unsigned pool_hot;   /* of those, how many stay committed until the purge delay, at least
                          * (the pool raises its own limit on quick reuse: superslab.c) */
    int advice;          /* 0 keep, else MADV_DONTNEED or MADV_FREE */
    bool spans;          /* decommit freed slabs inside live superslabs too */
    uint64_t delay_ns;   /* purge delay */
    size_t span_budget;  /* SPEED: bytes of free written slabs kept before freed slabs are decommitted */
    size_t huge_cap;     /* bytes of freed huge mappings kept for reuse (until the purge delay) */
} hak_release_policy_t;

/* ---- the purge scheduler ----
 * A source is a kind of deferred release work, registered at init by the
 * layer that owns it (a hook: the scheduler calls up into that layer).
 * Its deadline is 0 when it has nothing pending. */
typedef enum {
    HAK_PURGE_POOL,     /* pooled superslabs still committed (backend/superslab.c) */
    HAK_PURGE_HUGE,     /* cached huge mappings (backend/huge.c) */
    HAK_PURGE_OWNED,    /* free slabs of heaps whose owners are idle (heap/reclaim.c) */
    HAK_PURGE_SOURCES
} hak_purge_source_t;
typedef void (*hak_purge_fn_t)(uint64_t now);

typedef struct hak_release_state {
    hak_release_policy_t policy;
    _Atomic uint64_t due[HAK_PURGE_SOURCES];
    hak_purge_fn_t run[HAK_PURGE_SOURCES];
} hak_release_state_t;

extern HAK_HIDDEN hak_release_state_t hak_release_state;
#define hak_release (hak_release_state.policy)

HAK_HIDDEN void hak_release_configure(void);
HAK_HIDDEN uint64_t hak_now_ns(void);
/* Decommit [p, p+len) with advice (0: keep); true if the pages now read as
 * zero (DONTNEED), so calloc need not clear them. */
HAK_HIDDEN bool hak_release_decommit(void *p, size_t len, int advice);

HAK_HIDDEN void hak_purge_register(hak_purge_source_t src, hak_purge_fn_t run);
/* The source's deadline is now `at` (0: nothing pending). */
HAK_INLINE void hak_purge_set(hak_purge_source_t src, uint64_t at) {
    atomic_store_explicit(&hak_release_state.due[src], at, memory_order_relaxed);
}
HAK_INLINE uint64_t hak_purge_get(hak_purge_source_t src) {
    return atomic_load_explicit(&hak_release_state.due[src], memory_order_relaxed);
}
/* The source has work due at `at`: its deadline becomes the earlier one. */
HAK_HIDDEN void hak_purge_earlier(hak_purge_source_t src, uint64_t at);
/* After a run that read deadline `seen` and left work due at `next` (0:
 * none): next, unless a deadline published meanwhile is earlier. */
HAK_HIDDEN void hak_purge_settle(hak_purge_source_t src, uint64_t seen, uint64_t next);
/* Does any source have work pending (due or not)? */
HAK_INLINE bool hak_purge_wanted(void) {
    uint64_t any = 0;
    for (int i = 0; i < HAK_PURGE_SOURCES; i++) any |= hak_purge_get((hak_purge_source_t)i);
    return any != 0;
}
/* Run every source whose deadline has passed by now. */
HAK_HIDDEN void hak_purge_run(uint64_t now);

#endif

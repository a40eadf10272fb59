/* release_box.h — the release policy: what becomes of empty memory.
 *
 * An empty span's slabs go back to their superslab; an empty superslab goes
 * to the global pool while the pool holds less than its cap, else back to
 * the OS; a freed huge block is unmapped.  Pooled superslabs (and, in
 * mem-lean mode, freed spans) are decommitted with the configured advice
 * once they have been empty for the purge delay.  Purging runs from the
 * allocator's slow paths, a bounded amount per call, and from malloc_trim.
 *
 * Variables: HAKMEM_SS_MEM_LEAN, HAKMEM_SS_MEM_LEAN_TARGET_MB,
 *   HAKMEM_SS_MEM_LEAN_DECOMMIT, HAKMEM_PURGE_DELAY_MS, HAKMEM_RETAIN_MB;
 *   HAKMEM_IDLE_CACHES (taking back idle threads' cached blocks: heap.c). 
 * Defaults: SPEED keeps up to RETAIN_MB (64) of empty superslabs mapped,
 *   at most two of them committed (until the purge delay, 1 s; decommitted
 *   ones do not count, and reuse takes a committed one first), the rest
 *   decommitted (DONTNEED) as they arrive; freed spans stay committed while all heaps'
 *   free written slabs fit in RETAIN_MB, beyond it they go after the delay
 *   (an idle heap's go one delay later, whatever the budget); freed huge
 *   mappings are kept for the purge delay up to 4 x RETAIN_MB (256 MiB);
 *   BALANCED keeps at most TARGET_MB (10) of empty superslabs (and of huge
 *   mappings) and
 *   never decommits; LEAN keeps at most TARGET_MB and decommits empty
 *   superslabs and spans at once.
 * Compile switch: none — the policy is the backend's; its knobs are variables.
 */
#ifndef HAKMEM_RELEASE_BOX_H
#define HAKMEM_RELEASE_BOX_H

#include "internal.h"

typedef struct hak_release_policy {
    size_t pool_cap;     /* bytes of empty superslabs kept mapped */
    unsigned pool_hot;   /* of those, how many stay committed until the purge delay */
    int advice;          /* 0 keep, else MADV_DONTNEED or MADV_FREE */
    bool spans;          /* decommit freed spans inside live superslabs too */
    uint64_t delay_ns;   /* purge delay */
    size_t span_budget;  /* SPEED: bytes of free written slabs kept before freed spans are decommitted */
    size_t huge_cap;     /* bytes of freed huge mappings kept for reuse (until the purge delay) */
} hak_release_policy_t;

extern HAK_HIDDEN hak_release_policy_t hak_release;

HAK_HIDDEN void hak_release_configure(void);
HAK_HIDDEN uint64_t hak_now_ns(void);
/* Decommit [p, p+len) with advice (0: keep); true if the pages now read as
 * zero (DONTNEED), so calloc need not clear them. */
HAK_HIDDEN bool hak_release_decommit(void *p, size_t len, int advice);

#endif

/* stats_box.h — exact counters for the stats report.
 *
 * What: while on, the thread fronts are bypassed, so every operation passes
 *   through the slow functions, which count it here (bytes handed out and
 *   their peak, large and huge operations) and per class in its heap; at
 *   exit the report is printed (api/info.c).  The inline fast paths carry no
 *   counter and no branch for it.  Without the box, the report still has
 *   everything the slow paths always count (api/info.c).
 * Variable: HAKMEM_STATS = 0 | 1 (readable report at exit) | json (one line).
 * Default: 0 in every profile.
 * Compile switch: HAKMEM_BOX_STATS (make BOX_STATS=0).
 */
#ifndef HAKMEM_STATS_BOX_H
#define HAKMEM_STATS_BOX_H

#include "base/base.h"
#include "box/boxes.h"

/* What the box counted. */
typedef struct hak_stats_counts {
    int64_t bytes_in_use, bytes_peak;
    uint64_t large_allocs, large_frees, huge_allocs, huge_frees;
} hak_stats_counts_t;

#if HAKMEM_BOX_STATS
extern HAK_HIDDEN int hak_stats_mode;   /* 0 off, 1 text, 2 json */
HAK_INLINE bool hak_stats_on(void) { return hak_stats_mode != 0; }
HAK_HIDDEN void hak_stats_configure(void);
/* Bytes handed out (delta > 0) or given back. */
HAK_HIDDEN void hak_stats_bytes(int64_t delta);
/* A large or huge block handed out (alloc) or freed. */
HAK_HIDDEN void hak_stats_big(bool huge, bool alloc);
HAK_HIDDEN void hak_stats_read(hak_stats_counts_t *out);
#else
#define hak_stats_mode 0
HAK_INLINE bool hak_stats_on(void) { return false; }
HAK_INLINE void hak_stats_configure(void) {}
HAK_INLINE void hak_stats_bytes(int64_t delta) { (void)delta; }
HAK_INLINE void hak_stats_big(bool huge, bool alloc) { (void)huge; (void)alloc; }
HAK_INLINE void hak_stats_read(hak_stats_counts_t *out) { *out = (hak_stats_counts_t){0, 0, 0, 0, 0, 0}; }
#endif

#endif

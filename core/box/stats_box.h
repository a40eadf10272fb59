/* stats_box.h — counters and the exit report.
 *
 * Variable: HAKMEM_STATS = 0 | 1 (readable report at exit) | json (one line).
 * Default: 0 in every profile.  Compile switch: HAKMEM_BOX_STATS.
 * Cost when off: nil.  When on, the thread fronts are bypassed so every
 * operation passes through the slow functions, which count; the inline fast
 * paths carry no counter and no branch for it. */
#ifndef HAKMEM_STATS_BOX_H
#define HAKMEM_STATS_BOX_H

#include "internal.h"
#include "box/boxes.h"

extern HAK_HIDDEN int hak_stats_mode;   /* 0 off, 1 text, 2 json */

HAK_INLINE bool hak_stats_on(void) { return HAKMEM_BOX_STATS && hak_stats_mode; }

HAK_HIDDEN void hak_stats_configure(void);
/* Bytes handed out / given back (stats mode only). */
HAK_HIDDEN void hak_stats_bytes(int64_t delta);
/* Large and huge operations (stats mode only); alloc=1 or 0 for free. */
HAK_HIDDEN void hak_stats_big(bool huge, bool alloc);
HAK_HIDDEN void hak_stats_report(int fd, int json);

#endif

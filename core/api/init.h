/* init.h — lazy, allocation-free initialisation.  The first malloc may come
 * from ld.so or libc before any constructor has run. */
#ifndef HAKMEM_INIT_H
#define HAKMEM_INIT_H

#include "base/base.h"

typedef struct hak_init_state {
    int done;                 /* read by hak_ensure_init (acquire) */
    _Atomic int phase;        /* 0 none, 1 running, 2 done */
    int env_was_missing;      /* the first call came before libc set up environ */
} hak_init_state_t;
extern HAK_HIDDEN hak_init_state_t hak_init_state;

HAK_HIDDEN void hak_init_slow(void);
/* The exit report's descriptor and file (api/info.c): taken at init while
 * HAKMEM_STATS is on, before the program can close its stderr. */
HAK_HIDDEN void hak_stats_report_setup(void);
HAK_INLINE void hak_ensure_init(void) {
    if (HAK_UNLIKELY(!__atomic_load_n(&hak_init_state.done, __ATOMIC_ACQUIRE))) hak_init_slow();
}

#endif

/* backend.h — the backend's per-process state, in one place: the pool of
 * empty superslabs, the cache of freed huge mappings, and the counters the
 * stats read.  (The two maps keep their own: segmap.h, slabmap.h.)  Every
 * list here changes under its own lock, on slow paths only. */
#ifndef HAKMEM_BACKEND_H
#define HAKMEM_BACKEND_H

#include <pthread.h>

#include "backend/superslab.h"

typedef struct hak_backend_state {
    /* Empty superslabs kept for reuse, newest first (superslab.c). */
    struct {
        pthread_mutex_t lock;
        hak_list_t list;
        unsigned count;
        unsigned committed;        /* of those, not decommitted: what the hot limit counts */
        unsigned hot;              /* the hot limit now: the policy's pool_hot, raised by quick reuse (superslab.c) */
    } pool;
    _Atomic uint64_t ss_mapped, ss_released;   /* superslabs mapped now, returned to the OS so far */
    /* Free written slabs of owned superslabs, all owners: what the span
     * budget counts (superslab.c free_dirty_add). */
    _Atomic int64_t free_dirty_slabs;
    /* Freed huge mappings kept for reuse, newest first (huge.c). */
    struct {
        pthread_mutex_t lock;
        hak_list_t list;
        size_t bytes;
        _Atomic unsigned count;    /* read without the lock, as a hint */
    } huge_cache;
    _Atomic uint64_t huge_bytes;   /* usable bytes of every live huge block */
    _Atomic uint64_t huge_blocks;  /* live huge blocks */
    /* Bytes of the live huge blocks' mappings, and the peaks of that and of
     * huge_blocks: malloc_stats' "max mmap bytes" and "max mmap regions". */
    _Atomic uint64_t huge_map_bytes, huge_map_bytes_peak, huge_blocks_peak;
} hak_backend_state_t;

extern HAK_HIDDEN hak_backend_state_t hak_backend;

#endif

/* os_box.h — every call hakmem makes to the OS for memory goes through here,
 * so each is counted (HAKMEM_STATS reports OS calls per operation).
 * Not switchable: it is the only way memory enters or leaves. */
#ifndef HAKMEM_OS_BOX_H
#define HAKMEM_OS_BOX_H

#include "internal.h"

typedef struct hak_os_counters {
    _Atomic uint64_t mmap, munmap, madvise, mremap;
    _Atomic uint64_t bytes_mapped;   /* currently mapped, all kinds */
} hak_os_counters_t;

extern HAK_HIDDEN hak_os_counters_t hak_os;

/* Map size bytes (a multiple of the page) aligned to align (a power of two
 * >= the page).  NULL when the OS refuses. */
HAK_HIDDEN void *hak_os_map_aligned(size_t size, size_t align);
HAK_HIDDEN void hak_os_unmap(void *p, size_t size);
/* madvise, counted: gives pages back (MADV_DONTNEED, MADV_FREE) or asks for
 * huge pages (MADV_HUGEPAGE); returns 0 on success, errno untouched. */
HAK_HIDDEN int hak_os_advise(void *p, size_t size, int advice);
/* Resize a mapping in place (no move); 0 on success. */
HAK_HIDDEN int hak_os_remap_inplace(void *p, size_t old_size, size_t new_size);
/* Move a mapping to dst (which the call replaces); 0 on success. */
HAK_HIDDEN int hak_os_remap_to(void *p, size_t old_size, size_t new_size, void *dst);
/* Test hook: make the next n mappings fail as if the OS refused (0 = off). */
HAK_HIDDEN void hak_os_fail_next(long n);

#endif

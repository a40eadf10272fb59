/* os.h — every call hakmem makes to the OS for memory goes through here,
 * so each is counted (HAKMEM_STATS reports OS calls per operation); so does
 * the one question it asks the OS about a thread (hak_os_thread_in_syscall).
 * The bottom of the backend: the only way memory enters or leaves. */
#ifndef HAKMEM_OS_H
#define HAKMEM_OS_H

#include "base/base.h"

typedef struct hak_os_counters {
    _Atomic uint64_t mmap, munmap, madvise, mremap;
    _Atomic uint64_t probes;         /* hak_os_thread_in_syscall (three calls each) */
    _Atomic uint64_t bytes_mapped;   /* currently mapped, all kinds */
    _Atomic long fail_countdown;     /* hak_os_fail_next */
} hak_os_counters_t;

extern HAK_HIDDEN hak_os_counters_t hak_os;

/* Map size bytes (a multiple of the page) aligned to align (a power of two
 * >= the page).  NULL when the OS refuses. */
HAK_HIDDEN void *hak_os_map_aligned(size_t size, size_t align);
HAK_HIDDEN void hak_os_unmap(void *p, size_t size);
/* Metadata that reads as zero until written (the maps' tables): size bytes,
 * writable, with no commit charge where the kernel allows it, left out of
 * core dumps, not in bytes_mapped.  NULL when the OS refuses.  Never
 * subject to hak_os_fail_next. */
HAK_HIDDEN void *hak_os_reserve_rw(size_t size);
HAK_HIDDEN void hak_os_unreserve(void *p, size_t size);
/* madvise, counted: gives pages back (MADV_DONTNEED, MADV_FREE) or asks for
 * huge pages (MADV_HUGEPAGE); returns 0 on success, errno untouched. */
HAK_HIDDEN int hak_os_advise(void *p, size_t size, int advice);
/* Resize a mapping in place (no move); 0 on success. */
HAK_HIDDEN int hak_os_remap_inplace(void *p, size_t old_size, size_t new_size);
/* Move a mapping to dst (which the call replaces); 0 on success. */
HAK_HIDDEN int hak_os_remap_to(void *p, size_t old_size, size_t new_size, void *dst);
/* Is thread tid of this process off the CPU inside a system call (and not
 * one whose child may run on its stack: clone, fork, vfork)?  false when it
 * is running or runnable, stopped outside a system call, or /proc cannot
 * say (not mounted, forbidden, or numbering another PID namespace's
 * tasks).  Reads /proc/self/task/TID/syscall, which the kernel answers only
 * for a task it has taken off the CPU, so the task's earlier stores are
 * visible. */
HAK_HIDDEN bool hak_os_thread_in_syscall(int tid);
/* Test hook: make the next n mappings fail as if the OS refused (0 = off). */
HAK_HIDDEN void hak_os_fail_next(long n);

#endif

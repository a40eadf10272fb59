/* hakmem.h — the prefixed API of the hakmem allocator.
 *
 * These functions work whether or not hakmem also replaces malloc in the
 * process (LD_PRELOAD, -lhakmem, or a build with the override compiled out).
 * A block obtained from one family must be released by the same family:
 * hak_malloc'd memory with hak_free.  When the malloc override is active the
 * two families are the same allocator and may be mixed.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

/* malloc(): size bytes, 16-byte aligned when size >= 16; NULL and errno=ENOMEM
 * on exhaustion. hak_malloc(0) returns a unique pointer. */
HAK_API void *hak_malloc(size_t size);
/* free(): NULL is ignored; a pointer hakmem does not own is reported on
 * stderr (once) and left alone, never dereferenced. errno is preserved. */
HAK_API void hak_free(void *p);
/* calloc(): zeroed n*size bytes; NULL and ENOMEM on overflow. */
HAK_API void *hak_calloc(size_t n, size_t size);
/* realloc(): as glibc: size 0 frees p and returns NULL; on failure p is intact. */
HAK_API void *hak_realloc(void *p, size_t size);
/* aligned_alloc(): any power-of-two alignment; NULL and EINVAL otherwise. */
HAK_API void *hak_aligned_alloc(size_t alignment, size_t size);
/* malloc_usable_size(): bytes that may be written at p (0 for NULL or a
 * pointer hakmem does not own). */
HAK_API size_t hak_usable_size(const void *p);
/* 1 when p lies in memory hakmem manages (checked through the segment map,
 * without dereferencing p), else 0. */
HAK_API int hak_owns(const void *p);

/* Counters reported by HAKMEM_STATS, malloc_stats() and mallinfo2(). */
typedef struct hak_stats {
    uint64_t allocs;           /* allocation calls served */
    uint64_t frees;            /* free calls served */
    uint64_t bytes_in_use;     /* bytes in blocks handed to the program */
    uint64_t bytes_in_use_peak;
    uint64_t bytes_mapped;     /* bytes currently mapped from the OS */
    uint64_t bytes_retained;   /* mapped but not in use (caches, free slabs) */
    uint64_t superslabs_mapped;
    uint64_t superslabs_released;
    uint64_t huge_mapped;      /* huge regions currently mapped */
    uint64_t huge_bytes;       /* usable bytes of live huge blocks (part of bytes_in_use) */
    uint64_t remote_frees;     /* blocks freed by a thread other than the owner */
    uint64_t os_mmap, os_munmap, os_madvise, os_mremap;
    uint64_t peak_rss_kib;     /* from getrusage */
} hak_stats_t;

/* Fill *out from the allocator's counters. Returns 0, or -1 if out is NULL. */
HAK_API int hak_stats_get(hak_stats_t *out);
/* The readable stats report (HAKMEM_STATS=1) to fd; json != 0 gives one line of JSON. */
HAK_API void hak_stats_print(int fd, int json);
/* Every HAKMEM_* variable with its effective value and origin, to fd. */
HAK_API void hak_config_print(int fd);
/* DEBUG and SECURE: check every live block of the calling thread's heap
 * (canaries, trailers, headers); returns the number of problems found (each
 * also reported on stderr), 0 when the checks are off. */
HAK_API int hak_heap_check(void);
/* Release everything releasable now (as malloc_trim(0)); 1 if memory was released. */
HAK_API int hak_trim(void);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */

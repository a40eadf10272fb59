/* base.h — what every layer may use: compiler shorthands and the numbers
 * that fix hakmem's geometry.  The bottom of the layer order
 * (docs/ARCHITECTURE.md): it includes nothing of ours.
 *
 * Memory comes in superslabs: 2 MiB, 2 MiB aligned, each starting with a
 * header (backend/superslab.h).  A superslab is cut into 32 slabs of 64 KiB;
 * a huge block's mapping is a run of whole superslabs whose first one
 * carries the header.  Requests fall into four tiers by size: tiny (the
 * malloc fast path's table), small (size classes served by the thread
 * caches), large (a run of slabs) and huge (a mapping of its own).
 */
#ifndef HAKMEM_BASE_H
#define HAKMEM_BASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAK_HIDDEN __attribute__((visibility("hidden")))
#define HAK_EXPORT __attribute__((visibility("default")))
#define HAK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HAK_NOINLINE __attribute__((noinline))
#define HAK_COLD __attribute__((cold, noinline))
#define HAK_INLINE static inline __attribute__((always_inline))
/* Thread-local state uses the initial-exec model: no __tls_get_addr, which
 * may itself call malloc. */
#define HAK_TLS __attribute__((tls_model("initial-exec")))
#define HAK_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Address space. */
#define HAK_ADDR_BITS 47                                          /* x86-64 user space */
#define HAK_PAGE 4096

/* The superslab: the 2 MiB unit of everything hakmem maps. */
#define HAK_SUPERSLAB_SHIFT 21
#define HAK_SUPERSLAB_SIZE ((size_t)1 << HAK_SUPERSLAB_SHIFT)
#define HAK_SUPERSLAB_MASK (HAK_SUPERSLAB_SIZE - 1)
#define HAK_SLAB_SHIFT 16
#define HAK_SLAB_SIZE ((size_t)1 << HAK_SLAB_SHIFT)               /* 64 KiB */
#define HAK_SLABS 32                                              /* per superslab */
#define HAK_ALL_SLABS 0xFFFFFFFFu
#define HAK_HEADER_SIZE 4096   /* superslab header; slab 0's blocks begin here, page aligned */

/* Size tiers: tiny <= 2 KiB (the malloc fast path's table) and small <=
 * 32 KiB are size classes served by the thread caches; large <= 1 MiB is a
 * run of whole slabs; anything bigger is huge, with its own mapping. */
#define HAK_TINY_MAX 2048
#define HAK_SMALL_MAX (32 * 1024)
#define HAK_LARGE_MAX (1024 * 1024)
#define HAK_NCLASSES 73          /* classes 0..72 cover 0..HAK_SMALL_MAX (front/size_class.h) */

#endif

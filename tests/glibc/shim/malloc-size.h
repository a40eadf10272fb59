/* hakmem's stand-in for glibc's internal <malloc-size.h> (tests/glibc/shim).
 * The alignment every malloc result must have on x86-64: that of
 * max_align_t (16), which is the public guarantee, not a glibc detail. */
#ifndef SHIM_MALLOC_SIZE_H
#define SHIM_MALLOC_SIZE_H

#include <stddef.h>

#define MALLOC_ALIGNMENT _Alignof(max_align_t)
#define MALLOC_ALIGN_MASK (MALLOC_ALIGNMENT - 1)

#endif

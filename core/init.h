/* init.h — lazy, allocation-free initialisation.  The first malloc may come
 * from ld.so or libc before any constructor has run. */
#ifndef HAKMEM_INIT_H
#define HAKMEM_INIT_H

#include "internal.h"

extern HAK_HIDDEN int hak_initialized;
HAK_HIDDEN void hak_init_slow(void);
HAK_INLINE void hak_ensure_init(void) {
    if (HAK_UNLIKELY(!__atomic_load_n(&hak_initialized, __ATOMIC_ACQUIRE))) hak_init_slow();
}

#endif

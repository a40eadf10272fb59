/* verbose_box.h — what the allocator says about itself.
 *
 * What: at init, every variable with its value and origin; afterwards one
 *   line per rare event (the OS refused memory, a new thread heap was
 *   mapped, a fork child was set up, the pool's cap was reached).  Never on
 *   a fast path.
 * Variable: HAKMEM_VERBOSE (0/1).  Default: 0 in every profile.
 * Compile switch: HAKMEM_BOX_VERBOSE (make BOX_VERBOSE=0): the events
 *   become empty inline functions.
 */
#ifndef HAKMEM_VERBOSE_BOX_H
#define HAKMEM_VERBOSE_BOX_H

#include "base/base.h"
#include "box/boxes.h"

#if HAKMEM_BOX_VERBOSE
extern HAK_HIDDEN int hak_verbose_gate;
HAK_INLINE bool hak_verbose_on(void) { return hak_verbose_gate; }
HAK_HIDDEN void hak_verbose_configure(void);
/* "hakmem: event: <what> <number>" when verbose. */
HAK_HIDDEN void hak_verbose_event(const char *what, uint64_t number);
#else
HAK_INLINE bool hak_verbose_on(void) { return false; }
HAK_INLINE void hak_verbose_configure(void) {}
HAK_INLINE void hak_verbose_event(const char *what, uint64_t number) { (void)what; (void)number; }
#endif

#endif

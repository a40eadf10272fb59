/* hakmem's stand-in for glibc's internal <libc-diag.h> (tests/glibc/shim):
 * turn a compiler warning off around code that provokes it on purpose.
 * (glibc's form ignores the warning only from a given GCC version on; here
 * it is always ignored.) */
#ifndef SHIM_LIBC_DIAG_H
#define SHIM_LIBC_DIAG_H

#define SHIM_DIAG_PRAGMA(x) _Pragma(#x)
#define DIAG_PUSH_NEEDS_COMMENT SHIM_DIAG_PRAGMA(GCC diagnostic push)
#define DIAG_POP_NEEDS_COMMENT SHIM_DIAG_PRAGMA(GCC diagnostic pop)
#define DIAG_IGNORE_NEEDS_COMMENT(version, option) \
    SHIM_DIAG_PRAGMA(GCC diagnostic ignored option)
#define DIAG_IGNORE_Os_NEEDS_COMMENT(version, option) \
    DIAG_IGNORE_NEEDS_COMMENT(version, option)

#endif

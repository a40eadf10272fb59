/* hakmem's stand-in for glibc's <support/xsignal.h> (tests/glibc/shim). */
#ifndef SHIM_SUPPORT_XSIGNAL_H
#define SHIM_SUPPORT_XSIGNAL_H

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* signal(2) that exits with status 1 when it fails. */
sighandler_t xsignal(int sig, sighandler_t handler);

#ifdef __cplusplus
}
#endif
#endif

/* hakmem's stand-in for glibc's <support/xunistd.h> (tests/glibc/shim):
 * system calls that exit with status 1 (after a message) when they fail. */
#ifndef SHIM_SUPPORT_XUNISTD_H
#define SHIM_SUPPORT_XUNISTD_H

#include <sys/types.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

pid_t xfork(void);
int xopen(const char *path, int flags, mode_t mode);
void *xmmap(void *addr, size_t length, int prot, int flags, int fd);
long xsysconf(int name);

#ifdef __cplusplus
}
#endif
#endif

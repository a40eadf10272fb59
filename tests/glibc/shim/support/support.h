/* hakmem's stand-in for glibc's <support/support.h> (tests/glibc/shim):
 * allocation that cannot fail (it exits with status 1 instead), messages
 * that are safe in a signal handler, and memory shared with children. */
#ifndef SHIM_SUPPORT_SUPPORT_H
#define SHIM_SUPPORT_SUPPORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *xmalloc(size_t size) __attribute__((malloc));
void *xcalloc(size_t n, size_t size) __attribute__((malloc));

/* write(2) the string to stdout: async-signal-safe. */
void write_message(const char *message);

/* Zeroed memory shared with the processes forked after this call. */
void *support_shared_allocate(size_t size);
void support_shared_free(void *p);

#ifdef __cplusplus
}
#endif
#endif

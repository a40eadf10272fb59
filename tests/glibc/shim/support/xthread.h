/* hakmem's stand-in for glibc's <support/xthread.h> (tests/glibc/shim):
 * pthread calls that exit with status 1 (after a message) when they fail. */
#ifndef SHIM_SUPPORT_XTHREAD_H
#define SHIM_SUPPORT_XTHREAD_H

#include <pthread.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

pthread_t xpthread_create(const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
void *xpthread_join(pthread_t thread);
void xpthread_kill(pthread_t thread, int sig);
void xpthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr,
                           unsigned count);
int xpthread_barrier_wait(pthread_barrier_t *b);   /* 1 in the serial thread */
void xpthread_barrier_destroy(pthread_barrier_t *b);
void xpthread_barrierattr_init(pthread_barrierattr_t *attr);
void xpthread_barrierattr_setpshared(pthread_barrierattr_t *attr, int pshared);
void xpthread_barrierattr_destroy(pthread_barrierattr_t *attr);

#ifdef __cplusplus
}
#endif
#endif

/* handoff_queue.h — a bounded, mutex-protected FIFO of blocks that one
 * thread passes to another for freeing (the cross-thread tests,
 * tests/test_threads.c and tests/test_stress.c).  The including file
 * defines QCAP, the capacity of one queue. */
#ifndef HAKMEM_HANDOFF_QUEUE_H
#define HAKMEM_HANDOFF_QUEUE_H

#include <pthread.h>
#include <stddef.h>

#ifndef QCAP
#error "define QCAP (queue capacity) before including handoff_queue.h"
#endif

struct item {
    void *p;
    size_t n;
};

struct queue {
    pthread_mutex_t lock;
    size_t head, count;
    struct item it[QCAP];
};

/* Append x; 0 when the queue is full. */
static int q_push(struct queue *q, struct item x) {
    int ok = 0;
    pthread_mutex_lock(&q->lock);
    if (q->count < QCAP) {
        q->it[(q->head + q->count) % QCAP] = x;
        q->count++;
        ok = 1;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Pop up to max items into out; how many. */
static size_t q_pop(struct queue *q, struct item *out, size_t max) {
    size_t k = 0;
    pthread_mutex_lock(&q->lock);
    while (k < max && q->count) {
        out[k++] = q->it[q->head];
        q->head = (q->head + 1) % QCAP;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return k;
}

#endif

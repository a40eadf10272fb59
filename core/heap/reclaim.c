/* reclaim.c — memory held by heaps whose threads are not using it: the
 * cached blocks of a thread idle in a system call, the free slabs of idle
 * heaps (the scheduler's OWNED source), and malloc_trim's walk over every
 * heap. */
#include "heap/heap_internal.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/os.h"
#include "base/diag.h"
#include "config/config.h"

/* ---- idle caches ----
 * A thread that fills its caches and then waits (a pool worker on a
 * condition variable) would pin up to TCACHE_MAX of blocks, and the slabs
 * they are in, until it runs again.  Another thread takes them back at no
 * cost to the fast paths, which stay plain loads and stores:
 *
 *  1. Under the owner's span lock (no slow path of the owner is changing a
 *     cache), it checks that the owner is off the CPU in a system call,
 *     points the owner's hak_tls_front at the empty front (its next
 *     operation takes a slow path) and, after a fence, checks again.
 *  2. The owner then has finished every operation and its stores are
 *     visible, but for at most one: a fast path interrupted by a signal
 *     whose handler is now in the system call.  When the handler returns,
 *     that operation completes on the old front: a pop takes the block just
 *     below top, a push stores at top, and top moves by one.
 *  3. So the taker returns every block of each cache but the top one to its
 *     span, leaves top, base and end alone, and records how many blocks the
 *     cache held: at most end - base (a cache over its end, which no path
 *     makes, is not taken).
 *  4. The owner's next slow path sees `reclaimed` (hak_heap_settle, or its
 *     span lock), moves each cache's base up past the taken blocks (top is
 *     one off the recorded count at most, whatever that operation did, and
 *     stays consistent if it is still pending) and points its front back
 *     at its caches.  Base stays below end, so an open cache never reads as
 *     closed (end == base: the free path would open it again; finding 13
 *     of RELIABILITY.md), and a closed one, empty, is never taken from.
 *
 * A handler that calls malloc of another class after its system call is
 * covered too: its slow path reconciles while the interrupted operation is
 * pending, and that completes against the moved base.  One that allocates
 * from the interrupted operation's own class corrupts that cache with or
 * without this (malloc is not async-signal-safe).
 *
 * Variable: HAKMEM_IDLE_CACHES (1 in every profile; 0 for a process whose
 * seccomp filter must not see openat of /proc).  ThreadSanitizer cannot see
 * the ordering the kernel provides here, so its builds (and -DIDLE_CACHES=0)
 * compile the taking out. */
#if defined(__SANITIZE_THREAD__)
#define IDLE_CACHES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IDLE_CACHES 0
#endif
#endif
#ifndef IDLE_CACHES
#define IDLE_CACHES 1
#endif

/* The owner puts its caches right after a take (lock held).  Each cache's
 * base moves up past the taken blocks: what is left is the top block, less
 * what an interrupted pop took or plus what an interrupted push added.  Top
 * is not written, so a fast path still pending here (a signal handler that
 * calls malloc after its system call) completes soundly as well; the
 * cache's own next refill or flush moves it back down (cache_rebase). */
HAK_COLD void heap_reconcile(hak_heap_t *h) {
    if (heap_check_on()) heap_check_caches(h, "reconcile, before");
    for (unsigned cls = 0; cls < HAK_NCLASSES; cls++) {
        uint32_t had = h->reclaim_count[cls];
        if (!had) continue;
        hak_cache_t *c = &h->front.cache[cls];
        uint32_t n = hak_cache_count(c);
        if (n + 1 >= had && n <= had + 1 && had <= hak_cache_cap(c)) {
            c->base += had - 1;   /* < end: had was at most end - base */
        } else {
            hak_report(HAK_ERR_CORRUPTION, c->base, "thread cache changed while another thread reclaimed it; its blocks dropped", HAK_NO_NUMBER);
            c->top = c->base;
        }
        h->reclaim_count[cls] = 0;
        h->flush_state[cls] = 0;
        cache_shrink(h, cls);   /* the thread was idle: its cache starts over */
    }
    atomic_store_explicit(&h->reclaimed, 0, memory_order_relaxed);
    if (heap_check_on()) heap_check_caches(h, "reconcile, after");
    if (hak_tls_heap == h) hak_heap_front_reset();
}

void hak_heap_reconcile(hak_heap_t *h) {
    heap_lock_owner(h);
    hak_heap_unlock(h);
}

/* Take the cached blocks of live heap o (its lock held) if its owner sits
 * in a system call.  false if there was nothing to take or no need to ask
 * the OS; true once it asked. */
bool heap_take_caches(hak_heap_t *o) {
    if (!IDLE_CACHES || !HAK_CFG(IDLE_CACHES) || atomic_load_explicit(&o->state, memory_order_relaxed) != HAK_HEAP_OWNED ||
        !o->front_var || atomic_load_explicit(&o->reclaimed, memory_order_relaxed))
        return false;
    unsigned cls = 0;
    while (cls < HAK_NCLASSES && hak_cache_count(&o->front.cache[cls]) < 2) cls++;
    if (cls == HAK_NCLASSES) return false;
    if (!hak_os_thread_in_syscall(o->tid)) return true;
    atomic_store_explicit(&o->reclaimed, 1, memory_order_relaxed);
    __atomic_store_n(o->front_var, &hak_empty_front, __ATOMIC_RELAXED);
    atomic_thread_fence(memory_order_seq_cst);
    if (!hak_os_thread_in_syscall(o->tid)) return true;   /* it woke: it finds nothing taken */
    if (heap_check_on()) heap_check_caches(o, "take");
    for (cls = 0; cls < HAK_NCLASSES; cls++) {
        hak_cache_t *c = &o->front.cache[cls];
        uint32_t n = hak_cache_count(c), kept;
        if (n < 2 || n > hak_cache_cap(c)) continue;   /* (over its end: see 3. above) */
        /* Not the top block, not even for the duplicate marks: the owner's
         * interrupted operation may be popping it, and its program writing
         * into it, while this runs (a mark stamped into it afterwards was
         * "a block changed under its owner" in test_storm, one run in two
         * with the fronts bypassed).  A copy of it among the taken ones is
         * not caught here, then. */
        flush_run(o, cls, c->base, n - 1, n - 1, &kept);
        o->reclaim_count[cls] = n;
    }
    return true;
}

/* Live heaps whose owners ran no refill or flush between two visits of the
 * scan (a delay or more apart), and sit in a system call, give up their
 * caches.  Any thread's every 256th slow operation looks whether a scan is
 * due; a scan asks the OS about at most IDLE_SCAN_PROBES heaps and the next
 * one goes on from there (heaps are never freed, so the cursor stays valid). */
#define IDLE_SCAN_PROBES 32   /* two probes of three system calls each: ~0.5 ms a scan at most */

static HAK_COLD void heaps_scan_idle(hak_heap_t *self) {
    uint64_t now = hak_now_ns();
    if (now < atomic_load_explicit(&hak_heaps.idle_scan_at, memory_order_relaxed) || pthread_mutex_trylock(&hak_heaps.visit_lock) != 0)
        return;
    atomic_store_explicit(&hak_heaps.idle_scan_at, now + hak_release.delay_ns, memory_order_relaxed);
    hak_heap_t *first = HEAP_FIRST(), *o = hak_heaps.idle_scan_next;
    if (!o) o = first;
    hak_heap_t *start = o;
    unsigned probes = 0;
    for (bool again = false; probes < IDLE_SCAN_PROBES; o = o->all_next ? o->all_next : first, again = true) {
        if (again && o == start) break;   /* once round */
        if (o == self || atomic_load_explicit(&o->state, memory_order_relaxed) != HAK_HEAP_OWNED) continue;
        uint64_t ops = atomic_load_explicit(&o->slow_ops, memory_order_relaxed);
        bool idle = ops == o->slow_ops_seen;
        o->slow_ops_seen = ops;
        if (!idle || !heap_trylock(o)) continue;
        probes += heap_take_caches(o);
        hak_heap_unlock(o);
    }
    hak_heaps.idle_scan_next = o;
    pthread_mutex_unlock(&hak_heaps.visit_lock);
}

void heap_slow_op(hak_heap_t *h) {
    uint64_t n = atomic_load_explicit(&h->slow_ops, memory_order_relaxed) + 1;
    atomic_store_explicit(&h->slow_ops, n, memory_order_relaxed);   /* only the owner writes it */
    if (HAK_UNLIKELY((n & 255) == 0) && IDLE_CACHES && HAK_CFG(IDLE_CACHES)) heaps_scan_idle(h);
}

/* Trim: give back the free tail of a partly used small span.  The carve
 * cursor goes back to just past the last block not on the free list (in
 * use, or in some cache); free-list entries beyond it are dropped, since the
 * next carve re-initialises those blocks, and the pages past it are
 * decommitted.  Free pages between live blocks stay committed: the free
 * list's links live in them. */
static void span_rollback(hak_span_t *s) {
    enum { MAXB = HAK_SLAB_SIZE / 8 };   /* blocks of the smallest class's span */
    uint64_t isfree[MAXB / 64];
    uint32_t carved = s->carved, nfree = carved - s->used;
    if (s->kind != HAK_SLAB_SMALL || s->used == 0 || nfree == 0 || s->capacity > MAXB) return;
    memset(isfree, 0, ((carved + 63) / 64) * sizeof isfree[0]);
    uint32_t seen = 0;
    for (void *b = s->free, *last; b; chain_walk(s, b, 1, NULL, &last, &b)) {
        /* A list longer than the free count, or cut short by a damaged
         * link (chain_walk reports it): leave the span alone. */
        if (++seen > nfree) return;
        uint32_t i = (uint32_t)(((uint8_t *)b - s->data) / s->block_size);
        if (i >= carved) return;
        isfree[i / 64] |= 1ull << (i % 64);
    }
    if (seen != nfree) return;
    uint32_t keep = carved;
    while (keep && (isfree[(keep - 1) / 64] >> ((keep - 1) % 64) & 1)) keep--;
    if (keep == carved) return;
    /* Rebuild the list lowest address first, from the blocks below keep. */
    void *list = NULL;
    for (uint32_t i = keep; i-- > 0;) {
        if (!(isfree[i / 64] >> (i % 64) & 1)) continue;
        void *b = s->data + (size_t)i * s->block_size;
        hak_link_set(s, b, list);
        list = b;
    }
    s->free = list;
    __atomic_store_n(&s->carved, keep, __ATOMIC_RELAXED);   /* read by other threads' checks */
    uintptr_t from = ((uintptr_t)s->data + (size_t)keep * s->block_size + HAK_PAGE - 1) & ~(uintptr_t)(HAK_PAGE - 1);
    uintptr_t end = ((uintptr_t)s->data & ~(uintptr_t)(HAK_SLAB_SIZE - 1)) + ((size_t)s->nslabs << HAK_SLAB_SHIFT);
    if (from < end) hak_release_decommit((void *)from, end - from, MADV_DONTNEED);
}

/* Give back everything of h's spans that no block pins (lock held). */
static void heap_trim_spans(hak_heap_t *h) {
    heap_release_empty(h);
    for (unsigned c = 0; c < HAK_NCLASSES; c++)
        for (hak_span_t *s = SPAN_OF(h->avail[c].first); s; s = SPAN_OF(s->avail.next)) span_rollback(s);
    hak_ss_purge(&h->ss, 0, HAK_PURGE_ALL);
}

void hak_heap_trim(hak_heap_t *h) {
    heap_lock_owner(h);
    heap_flush_all(h);
    heap_trim_spans(h);
    hak_heap_unlock(h);
}

void hak_heaps_trim_others(hak_heap_t *self) {
    pthread_mutex_lock(&hak_heaps.visit_lock);
    for (hak_heap_t *o = HEAP_FIRST(); o; o = o->all_next) {
        if (o == self) continue;
        int st = HAK_HEAP_FREE;
        if (atomic_compare_exchange_strong(&o->state, &st, HAK_HEAP_VISITING)) {
            /* abandoned: no owner, its caches are ours to flush */
            hak_heap_trim(o);
            atomic_store(&o->state, HAK_HEAP_FREE);
            heap_visit(o);   /* frees that arrived while we held it */
        } else if (st == HAK_HEAP_OWNED) {
            /* a live thread: its slow paths hold the lock only briefly */
            bool got = false;
            for (int i = 0; i < 64 && !(got = heap_trylock(o)); i++) sched_yield();
            if (!got) continue;
            if (atomic_load(&o->state) == HAK_HEAP_OWNED) {
                heap_take_caches(o);   /* if its thread sits in a system call */
                heap_trim_spans(o);
            }
            hak_heap_unlock(o);
        }
    }
    pthread_mutex_unlock(&hak_heaps.visit_lock);
}

/* The scheduler's OWNED source: free slabs of heaps whose purge has been
 * due for a whole delay, so that their owners ran no slow path to do it
 * (the caller's own heap is locked by the caller: its trylock fails). */
static void heaps_purge_idle(uint64_t now) {
    if (pthread_mutex_trylock(&hak_heaps.visit_lock) != 0) return;
    uint64_t g0 = hak_purge_get(HAK_PURGE_OWNED), next = 0, delay = hak_release.delay_ns;
    for (hak_heap_t *o = HEAP_FIRST(); o; o = o->all_next) {
        uint64_t d = atomic_load_explicit(&o->ss.purge_due, memory_order_relaxed);
        if (d && d + delay <= now && heap_trylock(o)) {
            int st = atomic_load(&o->state), expect = HAK_HEAP_FREE;
            bool abandoned = st == HAK_HEAP_FREE && atomic_compare_exchange_strong(&o->state, &expect, HAK_HEAP_VISITING);
            if (st == HAK_HEAP_OWNED || abandoned) {
                heap_drain(o);
                hak_ss_purge(&o->ss, now, HAK_PURGE_IDLE);
            }
            if (abandoned) atomic_store(&o->state, HAK_HEAP_FREE);
            hak_heap_unlock(o);
            if (abandoned) heap_visit(o);
            d = atomic_load_explicit(&o->ss.purge_due, memory_order_relaxed);
        }
        if (d && (!next || d < next)) next = d;
    }
    /* A deadline published meanwhile wins if it is earlier. */
    hak_purge_settle(HAK_PURGE_OWNED, g0, next ? next + delay : 0);
    pthread_mutex_unlock(&hak_heaps.visit_lock);
}

void heaps_reclaim_init(void) { hak_purge_register(HAK_PURGE_OWNED, heaps_purge_idle); }


/* init.c — one-time setup: the config snapshot, every layer's init in
 * order (each registers what it owns), the boxes' gates, fork handlers. */
#include "api/init.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "backend/huge.h"
#include "backend/superslab.h"
#include "base/diag.h"
#include "box/debug_box.h"
#include "box/flush_check_box.h"
#include "box/prewarm_box.h"
#include "box/release_box.h"
#include "box/secure_box.h"
#include "box/stats_box.h"
#include "box/thp_box.h"
#include "box/verbose_box.h"
#include "config/config.h"
#include "front/size_class.h"
#include "heap/heap.h"

extern char **environ;

#include "api/override.h"
#if HAKMEM_OVERRIDE
#include <stdlib.h>
/* A static link pulls init.o whenever hakmem is used at all; this reference
 * makes it pull override.o too, so libc's own calls to malloc (strdup, ...)
 * resolve to hakmem and glibc's malloc.o never enters the program. */
__attribute__((used)) static void *(*const hak_keep_override)(size_t) = malloc;
#endif

HAK_HIDDEN hak_init_state_t hak_init_state;

/* Copy the snapshot into the boxes' gates and the layers' settings. */
static void apply_config(void) {
    hak_base.abort_on_error = HAK_CFG(ON_ERROR) == 1;
    hak_stats_configure();
    hak_release_configure();
    hak_thp_configure();
    hak_prewarm_configure();
    hak_debug_configure();
    hak_secure_configure();
    hak_flush_check_configure();
    /* Redzones (SECURE) are fixed once, at init (below): until then 0. */
    hak_heaps_hooks.bypass = hak_stats_on() || hak_guard_on() || hak_redzone;
    hak_heaps_hooks.checked = hak_guard_on();
    hak_verbose_configure();
    hak_stats_report_setup();
}

/* Checked frees (heap/checked.c) with HAKMEM_ON_ERROR=abort, fixed at init
 * with the class geometry: heaps made since then read the slab map
 * accordingly.  DEBUG's and SECURE's checked blocks (which see every
 * operation) check every free their own way. */
static void configure_free_checks(void) {
    hak_heaps_hooks.free_checked = !hak_guard_on() && !hak_redzone && hak_base.abort_on_error;
}

/* ---- fork ----
 *
 * In a multi-threaded process the prepare handler takes every lock of ours
 * (so the child never inherits one held by a thread that is gone) and the
 * parent and child handlers release or reset them.  Two cases must take
 * nothing:
 *
 * - A single-threaded process.  No other thread can hold a lock of ours,
 *   and this thread may hold one itself: a signal handler that forks may
 *   have interrupted a malloc in the middle of its slow path (glibc's own
 *   malloc takes no lock in fork then either, which is what makes fork
 *   async-signal-safe there: tst-mallocfork2).  We ask glibc, through
 *   __libc_single_threaded (glibc >= 2.32; false from the first
 *   pthread_create on), the same flag its fork consults.  It is a weak
 *   reference: where it is missing (an older glibc) we take the locks as
 *   before.  A thread count of our own would miss threads that never called
 *   the allocator yet but are about to (one inside its first malloc would
 *   hold a lock across our fork).
 * - A fork inside our fork on the same thread: a signal handler that forks
 *   while this thread is between our prepare and our parent or child
 *   handler (in either process), with our locks taken or being taken.  A
 *   per-thread depth counts the prepare handlers not yet matched; an inner
 *   one takes nothing and its parent and child handlers release nothing,
 *   so the outer fork finds its locks as it left them.  In a
 *   multi-threaded program the inner child may still inherit a lock that
 *   another thread held when the signal came (POSIX makes fork in a signal
 *   handler of a multi-threaded program unsafe anyway); it never waits for
 *   one of its own. */
extern char __libc_single_threaded __attribute__((weak));

static __thread uint8_t fork_depth HAK_TLS;    /* our prepare handlers not yet matched, this thread */
static __thread uint8_t fork_locked HAK_TLS;   /* the outermost of them took the locks */

static void fork_prepare(void) {
    if (fork_depth++) return;   /* inside our own fork: take nothing */
    fork_locked = !(&__libc_single_threaded && __libc_single_threaded);
    if (!fork_locked) return;
    hak_heaps_fork_prepare();   /* first: a visitor may take the others */
    hak_huge_fork_prepare();
    hak_superslab_fork_prepare();
}
static void fork_parent(void) {
    if (--fork_depth || !fork_locked) return;
    hak_superslab_fork_parent();
    hak_huge_fork_parent();
    hak_heaps_fork_parent();
}
static void fork_child(void) {
    if (--fork_depth) return;
    if (fork_locked) {
        hak_superslab_fork_child();
        hak_huge_fork_child();
        hak_heaps_fork_child();
    } else {
        /* Single-threaded: no lock to reset (one may be held by the frame a
         * signal interrupted, which goes on in the child). */
        hak_heaps_fork_child_alone();
    }
    hak_verbose_event("fork child set up, pid", (uint64_t)getpid());
}

void hak_init_slow(void) {
    int expect = 0;
    if (!atomic_compare_exchange_strong(&hak_init_state.phase, &expect, 1)) {
        while (atomic_load(&hak_init_state.phase) != 2) sched_yield();
        return;
    }
    hak_random_seed();
    hak_init_state.env_was_missing = environ == NULL;
    hak_config_load(environ);
    apply_config();
    hak_secure_redzone_init(hak_guard_on());   /* before the classes: redzones are geometry */
    if (hak_redzone) hak_heaps_hooks.bypass = true;   /* SECURE checks every block out and in (api/api.c) */
    configure_free_checks();
    hak_size_classes_init();
    hak_superslab_init();
    hak_huge_init();
    hak_heaps_init();          /* registers with the slab map: before any heap */
    atomic_store(&hak_init_state.phase, 2);
    __atomic_store_n(&hak_init_state.done, 1, __ATOMIC_RELEASE);
    /* May allocate inside glibc; initialisation is complete by now. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* If the first allocation came before libc had set up the environment,
 * read it again now that it exists.  (The class geometry, already in use by
 * then, keeps the defaults.) */
__attribute__((constructor)) static void hak_ctor(void) {
    hak_ensure_init();
    if (hak_init_state.env_was_missing && environ) {
        hak_init_state.env_was_missing = 0;
        hak_config_load(environ);
        apply_config();
        hak_heap_front_reset();
    }
}

/* Secure box: blocks freed since the last flush have their redzones checked
 * at exit too (other threads' caches were checked when they exited). */
__attribute__((destructor)) static void hak_dtor(void) {
    if (hak_tls_heap) hak_heap_verify(hak_tls_heap);
}

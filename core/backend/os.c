/* os.c — counted wrappers around mmap, munmap, madvise and mremap, and the
 * thread-state probe. */
#include "backend/os.h"

#include "box/verbose_box.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

HAK_HIDDEN hak_os_counters_t hak_os;

void hak_os_fail_next(long n) { atomic_store(&hak_os.fail_countdown, n); }

static bool os_injected_failure(void) {
    long n = atomic_load_explicit(&hak_os.fail_countdown, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&hak_os.fail_countdown, &n, n - 1)) return true;
    }
    return false;
}

static void *os_mmap(void *hint, size_t size) {
    if (os_injected_failure()) return NULL;
    atomic_fetch_add_explicit(&hak_os.mmap, 1, memory_order_relaxed);
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    atomic_fetch_add_explicit(&hak_os.bytes_mapped, size, memory_order_relaxed);
    return p;
}

void hak_os_unmap(void *p, size_t size) {
    if (size == 0) return;
    atomic_fetch_add_explicit(&hak_os.munmap, 1, memory_order_relaxed);
    if (munmap(p, size) == 0)
        atomic_fetch_sub_explicit(&hak_os.bytes_mapped, size, memory_order_relaxed);
}

/* An aligned mapping costs the address space of its own size, not more:
 * under an address-space limit (RLIMIT_AS) the last superslab that fits
 * must still be had.  So the first attempts never ask for more than size:
 * a plain mapping, which the kernel usually places aligned (right below
 * the previous one); else, since it placed that one at the top of a free
 * gap, the aligned address just below it, as a hint (no MAP_FIXED: the
 * kernel takes it only if it is free).  Only then the classic over-map by
 * align less a page, trimmed; and if even that does not fit, the aligned
 * address above the first mapping. */
void *hak_os_map_aligned(size_t size, size_t align) {
    int saved = errno;
    void *p = os_mmap(NULL, size);
    if (p == NULL) goto fail;
    if (((uintptr_t)p & (align - 1)) == 0) { errno = saved; return p; }
    hak_os_unmap(p, size);
    uintptr_t down = (uintptr_t)p & ~(uintptr_t)(align - 1);
    void *q = os_mmap((void *)down, size);
    if (q == (void *)down) { errno = saved; return q; }
    if (q) hak_os_unmap(q, size);
    size_t over = size + align - HAK_PAGE;
    if (over > size && (q = os_mmap(NULL, over)) != NULL) {
        uintptr_t start = (uintptr_t)q, aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
        size_t head = aligned - start, tail = over - size - head;
        if (head) hak_os_unmap(q, head);
        if (tail) hak_os_unmap((void *)(aligned + size), tail);
        errno = saved;
        return (void *)aligned;
    }
    q = os_mmap((void *)(down + align), size);
    if (q == (void *)(down + align)) { errno = saved; return q; }
    if (q) hak_os_unmap(q, size);
fail:
    hak_verbose_event("the OS refused a mapping of bytes", size);
    errno = ENOMEM;
    return NULL;
}

void *hak_os_reserve_rw(size_t size) {
    int saved = errno;
    atomic_fetch_add_explicit(&hak_os.mmap, 1, memory_order_relaxed);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { errno = saved; return NULL; }
    /* Out of core dumps: a dump piped to a handler (systemd-coredump,
     * apport) would otherwise carry its zeros. */
    atomic_fetch_add_explicit(&hak_os.madvise, 1, memory_order_relaxed);
    madvise(p, size, MADV_DONTDUMP);
    errno = saved;
    return p;
}

void hak_os_unreserve(void *p, size_t size) {
    int saved = errno;
    atomic_fetch_add_explicit(&hak_os.munmap, 1, memory_order_relaxed);
    munmap(p, size);
    errno = saved;
}

int hak_os_advise(void *p, size_t size, int advice) {
    int saved = errno;
    atomic_fetch_add_explicit(&hak_os.madvise, 1, memory_order_relaxed);
    int rc = madvise(p, size, advice);
    errno = saved;
    return rc;
}

int hak_os_remap_inplace(void *p, size_t old_size, size_t new_size) {
    int saved = errno;
    if (new_size > old_size && os_injected_failure()) return -1;
    atomic_fetch_add_explicit(&hak_os.mremap, 1, memory_order_relaxed);
    void *q = mremap(p, old_size, new_size, 0);
    errno = saved;
    if (q == MAP_FAILED) return -1;
    if (new_size > old_size)
        atomic_fetch_add_explicit(&hak_os.bytes_mapped, new_size - old_size, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(&hak_os.bytes_mapped, old_size - new_size, memory_order_relaxed);
    return 0;
}

int hak_os_remap_to(void *p, size_t old_size, size_t new_size, void *dst) {
    int saved = errno;
    atomic_fetch_add_explicit(&hak_os.mremap, 1, memory_order_relaxed);
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    errno = saved;
    if (q == MAP_FAILED) return -1;
    /* dst's reservation (new_size, counted when mapped) replaced; old gone. */
    atomic_fetch_sub_explicit(&hak_os.bytes_mapped, old_size, memory_order_relaxed);
    return 0;
}

/* Read up to size - 1 bytes of a /proc file into buf; the count, or -1.
 * Raw system calls: no stdio, no allocation, nothing interposable. */
static long proc_read(const char *path, char *buf, size_t size) {
    int saved = errno;
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    long n = fd >= 0 ? syscall(SYS_read, fd, buf, size - 1) : -1;
    if (fd >= 0) syscall(SYS_close, fd);
    errno = saved;
    return n;
}

static long leading_number(const char *buf, long n) {
    long v = 0;
    for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
    return v;
}

/* Does /proc number tasks as this process does?  A /proc mounted from
 * another PID namespace would name another thread by our TID: then never
 * probe.  Asked once (the answer survives fork: same mount). */
static bool proc_is_ours(void) {
    static _Atomic int known;   /* 0 not asked, 1 yes, 2 no (fixed for the process) */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (!k) {
        char buf[32];
        long n = proc_read("/proc/self/stat", buf, sizeof buf);
        k = n > 0 && leading_number(buf, n) == syscall(SYS_getpid) ? 1 : 2;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 1;
}

bool hak_os_thread_in_syscall(int tid) {
    char path[48] = "/proc/self/task/", *e = path + 16, digits[12];
    int nd = 0;
    if (tid <= 0 || !proc_is_ours()) return false;
    for (unsigned v = (unsigned)tid; v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    while (nd) *e++ = digits[--nd];
    memcpy(e, "/syscall", 9);
    atomic_fetch_add_explicit(&hak_os.probes, 1, memory_order_relaxed);
    char buf[64];
    long n = proc_read(path, buf, sizeof buf);
    /* "running", or "-1 SP PC" (off the CPU outside a system call), or "NR ARGS... SP PC" */
    if (n <= 0 || buf[0] < '0' || buf[0] > '9') return false;
    long nr = leading_number(buf, n);
    return nr != SYS_clone && nr != SYS_fork && nr != SYS_vfork && nr != SYS_clone3;
}

/* info.c — what hakmem reports about itself: hak_stats_get (mallinfo and
 * malloc_stats build on it), the text and JSON report, and the report at
 * exit when HAKMEM_STATS asks for it.  The counts come from what the slow
 * paths always keep (heaps, backend, OS calls), and, while the stats box is
 * on, its exact per-operation counters. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/init.h"
#include "backend/backend.h"
#include "backend/os.h"
#include "base/diag.h"
#include "box/stats_box.h"
#include "config/config.h"
#include "hakmem.h"
#include "heap/heap.h"

static uint64_t peak_rss_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss : 0;
}

int hak_stats_get(hak_stats_t *out) {
    if (!out) return -1;
    hak_heaps_totals_t t;
    hak_heaps_totals(&t);
    hak_stats_counts_t box;
    hak_stats_read(&box);
    memset(out, 0, sizeof *out);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        out->allocs += t.cls[c].allocs;
        out->frees += t.cls[c].frees;
    }
    out->allocs += box.large_allocs + box.huge_allocs;
    out->frees += box.large_frees + box.huge_frees;
    uint64_t huge_bytes = atomic_load(&hak_backend.huge_bytes);
    /* Exact per operation in stats mode; otherwise from the slow paths'
     * always-on counters: blocks out of their spans, less those in caches. */
    int64_t in_use = box.bytes_in_use;
    if (!hak_stats_on()) in_use = (int64_t)(t.out_bytes - t.cached_bytes + t.large_bytes + huge_bytes);
    out->bytes_in_use = in_use > 0 ? (uint64_t)in_use : 0;
    out->bytes_in_use_peak = box.bytes_peak > 0 ? (uint64_t)box.bytes_peak : 0;
    if (out->bytes_in_use_peak < out->bytes_in_use) out->bytes_in_use_peak = out->bytes_in_use;
    out->huge_bytes = huge_bytes;
    out->bytes_mapped = atomic_load(&hak_os.bytes_mapped);
    out->bytes_retained = out->bytes_mapped > out->bytes_in_use ? out->bytes_mapped - out->bytes_in_use : 0;
    uint64_t pooled;
    hak_superslab_counts(&out->superslabs_mapped, &out->superslabs_released, &pooled);
    out->huge_mapped = atomic_load(&hak_backend.huge_blocks);
    out->remote_frees = t.remote_frees;
    out->os_mmap = atomic_load(&hak_os.mmap);
    out->os_munmap = atomic_load(&hak_os.munmap);
    out->os_madvise = atomic_load(&hak_os.madvise);
    out->os_mremap = atomic_load(&hak_os.mremap);
    out->peak_rss_kib = peak_rss_kib();
    return 0;
}

static void kv(hak_line_t *l, const char *key, uint64_t v, bool json, bool *first) {
    if (json) {
        hak_line_str(l, *first ? "\"" : ",\"");
        hak_line_str(l, key);
        hak_line_str(l, "\":");
    } else {
        hak_line_str(l, "  ");
        hak_line_str(l, key);
        hak_line_str(l, " ");
    }
    hak_line_u64(l, v);
    *first = false;
}

/* Flush the line builder when nearly full (JSON stays one line). */
static void spill(hak_line_t *l, int fd) {
    if (l->len > sizeof(l->buf) - 160) { hak_line_write(l, fd); l->len = 0; }
}

void hak_stats_print(int fd, int json) {
    hak_ensure_init();
    hak_stats_t t;
    hak_stats_get(&t);
    hak_heaps_totals_t s;
    hak_heaps_totals(&s);
    hak_stats_counts_t box;
    hak_stats_read(&box);
    uint64_t pooled, mapped, released;
    hak_superslab_counts(&mapped, &released, &pooled);
    uint64_t ops = t.allocs + t.frees;
    uint64_t oscalls = t.os_mmap + t.os_munmap + t.os_madvise + t.os_mremap;
    hak_line_t l = {.len = 0};
    bool first = true;
    if (json) hak_line_str(&l, "{\"hakmem_stats\":{");
    else hak_line_str(&l, "hakmem: stats\n");
    kv(&l, "allocs", t.allocs, json, &first);
    kv(&l, "frees", t.frees, json, &first);
    kv(&l, "remote_frees", t.remote_frees, json, &first);
    kv(&l, "bytes_in_use", t.bytes_in_use, json, &first);
    kv(&l, "bytes_in_use_peak", t.bytes_in_use_peak, json, &first);
    kv(&l, "bytes_mapped", t.bytes_mapped, json, &first);
    kv(&l, "bytes_cached", s.cached_bytes, json, &first);
    kv(&l, "superslabs_mapped", mapped, json, &first);
    kv(&l, "superslabs_retained", pooled, json, &first);
    kv(&l, "superslabs_released", released, json, &first);
    kv(&l, "huge_mapped", t.huge_mapped, json, &first);
    if (!json) { hak_line_str(&l, "\n"); }
    spill(&l, fd);
    kv(&l, "large_allocs", box.large_allocs, json, &first);
    kv(&l, "huge_allocs", box.huge_allocs, json, &first);
    kv(&l, "os_mmap", t.os_mmap, json, &first);
    kv(&l, "os_munmap", t.os_munmap, json, &first);
    kv(&l, "os_madvise", t.os_madvise, json, &first);
    kv(&l, "os_mremap", t.os_mremap, json, &first);
    kv(&l, "os_thread_probes", atomic_load(&hak_os.probes), json, &first);
    kv(&l, "peak_rss_kib", t.peak_rss_kib, json, &first);
    if (!json) hak_line_str(&l, "\n");
    /* OS calls per operation, in millionths (the syscall budget). */
    uint64_t per_op_e9 = ops ? oscalls * 1000000000ull / ops : 0;
    if (json) { hak_line_str(&l, ",\"os_calls_per_op\":"); }
    else hak_line_str(&l, "  os_calls_per_op ");
    hak_line_fixed(&l, per_op_e9, 9);
    hak_line_str(&l, json ? ",\"classes\":[" : "\n  class  size     allocs      frees       hits     misses    refills    flushes\n");
    spill(&l, fd);
    bool firstc = true;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        const hak_class_stats_t *cs = &s.cls[c];
        if (!cs->allocs && !cs->frees && !cs->refills) continue;
        if (json) {
            bool f = true;
            hak_line_str(&l, firstc ? "{" : ",{");
            kv(&l, "class", c, true, &f);
            kv(&l, "size", hak_class_block(c), true, &f);
            kv(&l, "allocs", cs->allocs, true, &f);
            kv(&l, "frees", cs->frees, true, &f);
            kv(&l, "hits", cs->hits, true, &f);
            kv(&l, "misses", cs->misses, true, &f);
            kv(&l, "refills", cs->refills, true, &f);
            kv(&l, "flushes", cs->flushes, true, &f);
            hak_line_str(&l, "}");
        } else {
            const uint64_t cols[] = {c, hak_class_block(c), cs->allocs, cs->frees, cs->hits, cs->misses, cs->refills, cs->flushes};
            const unsigned width[] = {7, 6, 11, 11, 11, 11, 11, 11};
            for (unsigned i = 0; i < 8; i++) {
                hak_line_t num = {.len = 0};
                hak_line_u64(&num, cols[i]);
                for (size_t pad = num.len; pad < width[i]; pad++) hak_line_str(&l, " ");
                num.buf[num.len] = 0;
                hak_line_str(&l, num.buf);
            }
            hak_line_str(&l, "\n");
        }
        firstc = false;
        spill(&l, fd);
    }
    hak_line_str(&l, json ? "]}}\n" : "");
    hak_line_write(&l, fd);
}

/* ---- the report at exit ----
 *
 * Many programs close stderr before they exit (every coreutils program, in
 * an atexit handler, which runs before this library's destructors), so the
 * report keeps a descriptor of its own: a duplicate of fd 2 taken at init,
 * close-on-exec (an exec'd program takes its own), at a number above those
 * a program expects to get.  Only while HAKMEM_STATS is on: otherwise no
 * descriptor is taken.  A program may still close it (closefrom, or a loop
 * over every descriptor) and open something else there: the report then
 * checks that the descriptor is still the file it duplicated, and falls back
 * to fd 2.  HAKMEM_STATS_FILE=path sends the report to a file instead,
 * opened at exit for appending (created if missing); "%p" in the path is
 * the process id, so that the children of a program do not mix their
 * reports, "%%" a percent sign.  If it cannot be opened, one warning line
 * and the report go to stderr. */
static struct {
    int fd;                 /* the duplicate of fd 2, or -1 */
    dev_t dev;
    ino_t ino;
    char path[4096];        /* HAKMEM_STATS_FILE, copied at init ("" if unset) */
} report = {.fd = -1};

void hak_stats_report_setup(void) {
    if (!hak_stats_on()) return;
    const char *path = hak_config.text[HAK_VAR_STATS_FILE];
    size_t n = path ? strlen(path) : 0;
    if (n >= sizeof report.path) n = 0;   /* too long to be a path: ignored */
    memcpy(report.path, path ? path : "", n);
    report.path[n] = 0;
    if (report.fd >= 0) return;   /* the configuration read again (api/init.c) */
    int saved = errno;
    struct rlimit rl;
    long high = 1000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur / 2 < high)
        high = (long)rl.rlim_cur / 2;
    if (high < 3) high = 3;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, high);
    if (fd < 0) fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        report.dev = st.st_dev;
        report.ino = st.st_ino;
        report.fd = fd;
    } else if (fd >= 0) {
        close(fd);
    }
    errno = saved;
}

/* The saved stderr if it is still what it was, else fd 2. */
static int report_stderr(void) {
    struct stat st;
    if (report.fd >= 0 && fstat(report.fd, &st) == 0 && st.st_dev == report.dev && st.st_ino == report.ino)
        return report.fd;
    return 2;
}

static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EROFS: return "read-only file system";
    case EISDIR: return "is a directory";
    case ENOTDIR: return "a component of the path is not a directory";
    case ENOSPC: return "no space left on device";
    case EMFILE: case ENFILE: return "too many open files";
    case ENAMETOOLONG: return "file name too long";
    default: return NULL;
    }
}

/* The report's file, opened (appending; created 0666 less the umask), or
 * -1 after a warning on err. */
static int open_report_file(int err) {
    char path[sizeof report.path + 24];
    size_t o = 0;
    for (const char *s = report.path; *s && o < sizeof path - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            hak_line_t pid = {.len = 0};
            hak_line_u64(&pid, (uint64_t)getpid());
            memcpy(path + o, pid.buf, pid.len);
            o += pid.len;
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            path[o++] = '%';
            s++;
        } else {
            path[o++] = *s;
        }
    }
    path[o] = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    int e = errno;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: HAKMEM_STATS_FILE: cannot open ");
    hak_line_str(&l, path);
    hak_line_str(&l, " (");
    if (errno_name(e)) hak_line_str(&l, errno_name(e));
    else { hak_line_str(&l, "errno "); hak_line_u64(&l, (uint64_t)e); }
    hak_line_str(&l, "); the report goes to stderr\n");
    hak_line_write(&l, err);
    return -1;
}

__attribute__((destructor)) static void stats_at_exit(void) {
    if (!hak_stats_on()) return;
    int saved = errno;
    int err = report_stderr(), file = report.path[0] ? open_report_file(err) : -1;
    hak_stats_print(file >= 0 ? file : err, hak_stats_mode == 2);
    if (file >= 0) close(file);
    errno = saved;
}

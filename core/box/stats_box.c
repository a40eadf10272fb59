/* stats_box.c — aggregation over heaps and the text / JSON reports. */
#include "box/stats_box.h"

#include <string.h>
#include <sys/resource.h>

#include "box/env_box.h"
#include "box/os_box.h"
#include "box/superslab_box.h"
#include "diag.h"
#include "front/size_class.h"
#include "heap.h"
#include "huge.h"
#include "hakmem.h"

HAK_HIDDEN int hak_stats_mode;
static _Atomic int64_t bytes_in_use, bytes_peak;
static _Atomic uint64_t big_ops[2][2];   /* [huge][alloc] */

void hak_stats_configure(void) {
    hak_stats_mode = HAKMEM_BOX_STATS ? (int)HAK_CFG(STATS) : 0;
}

void hak_stats_bytes(int64_t delta) {
    int64_t now = atomic_fetch_add_explicit(&bytes_in_use, delta, memory_order_relaxed) + delta;
    int64_t peak = atomic_load_explicit(&bytes_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&bytes_peak, &peak, now)) {}
}

void hak_stats_big(bool huge, bool alloc) {
    atomic_fetch_add_explicit(&big_ops[huge][alloc], 1, memory_order_relaxed);
}

typedef struct {
    hak_class_stats_t cls[HAK_NCLASSES];
    uint64_t remote_frees, cached_bytes, out_bytes;
} stats_sum_t;

static void add_heap(hak_heap_t *h, void *arg) {
    stats_sum_t *s = arg;
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        s->cls[c].allocs += h->cstats[c].allocs;
        s->cls[c].frees += h->cstats[c].frees;
        s->cls[c].hits += h->cstats[c].hits;
        s->cls[c].misses += h->cstats[c].misses;
        s->cls[c].refills += h->cstats[c].refills;
        s->cls[c].flushes += h->cstats[c].flushes;
        /* after an idle-cache take, only the blocks from the taken count's top on are there */
        uint32_t n = hak_cache_count(&h->front.cache[c]), had = h->reclaim_count[c];
        if (had) n = n + 1 > had ? n + 1 - had : 0;
        s->cached_bytes += (uint64_t)n * hak_classes[c].block_size;
    }
    s->remote_frees += h->remote_frees;
    s->out_bytes += atomic_load_explicit(&h->out_bytes, memory_order_relaxed);
}

static uint64_t peak_rss_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss : 0;
}

int hak_stats_get(hak_stats_t *out) {
    if (!out) return -1;
    stats_sum_t s;
    memset(&s, 0, sizeof s);
    hak_heaps_foreach(add_heap, &s);
    memset(out, 0, sizeof *out);
    for (unsigned c = 0; c < HAK_NCLASSES; c++) {
        out->allocs += s.cls[c].allocs;
        out->frees += s.cls[c].frees;
    }
    for (int huge = 0; huge < 2; huge++) {
        out->allocs += atomic_load(&big_ops[huge][1]);
        out->frees += atomic_load(&big_ops[huge][0]);
    }
    /* Exact per operation in stats mode; otherwise from the slow paths'
     * always-on counters: blocks out of their spans, less those in caches. */
    int64_t in_use = atomic_load(&bytes_in_use);
    if (!hak_stats_on())
        in_use = (int64_t)(s.out_bytes - s.cached_bytes + atomic_load(&hak_large_bytes) + atomic_load(&hak_huge_bytes));
    out->bytes_in_use = in_use > 0 ? (uint64_t)in_use : 0;
    out->bytes_in_use_peak = (uint64_t)atomic_load(&bytes_peak);
    if (out->bytes_in_use_peak < out->bytes_in_use) out->bytes_in_use_peak = out->bytes_in_use;
    out->huge_bytes = atomic_load(&hak_huge_bytes);
    out->bytes_mapped = atomic_load(&hak_os.bytes_mapped);
    out->bytes_retained = out->bytes_mapped > out->bytes_in_use ? out->bytes_mapped - out->bytes_in_use : 0;
    uint64_t pooled;
    hak_superslab_counts(&out->superslabs_mapped, &out->superslabs_released, &pooled);
    out->huge_mapped = atomic_load(&big_ops[1][1]) - atomic_load(&big_ops[1][0]);
    out->remote_frees = s.remote_frees;
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

void hak_stats_report(int fd, int json) {
    hak_stats_t t;
    hak_stats_get(&t);
    stats_sum_t s;
    memset(&s, 0, sizeof s);
    hak_heaps_foreach(add_heap, &s);
    uint64_t pooled, mapped, released;
    hak_superslab_counts(&mapped, &released, &pooled);
    uint64_t ops = t.allocs + t.frees;
    uint64_t mprotects = atomic_load(&hak_os.mprotect);
    uint64_t oscalls = t.os_mmap + t.os_munmap + t.os_madvise + t.os_mremap + mprotects;
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
    kv(&l, "large_allocs", atomic_load(&big_ops[0][1]), json, &first);
    kv(&l, "huge_allocs", atomic_load(&big_ops[1][1]), json, &first);
    kv(&l, "os_mmap", t.os_mmap, json, &first);
    kv(&l, "os_munmap", t.os_munmap, json, &first);
    kv(&l, "os_madvise", t.os_madvise, json, &first);
    kv(&l, "os_mremap", t.os_mremap, json, &first);
    kv(&l, "os_mprotect", mprotects, json, &first);
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
            kv(&l, "size", hak_classes[c].block_size, true, &f);
            kv(&l, "allocs", cs->allocs, true, &f);
            kv(&l, "frees", cs->frees, true, &f);
            kv(&l, "hits", cs->hits, true, &f);
            kv(&l, "misses", cs->misses, true, &f);
            kv(&l, "refills", cs->refills, true, &f);
            kv(&l, "flushes", cs->flushes, true, &f);
            hak_line_str(&l, "}");
        } else {
            const uint64_t cols[] = {c, hak_classes[c].block_size, cs->allocs, cs->frees, cs->hits, cs->misses, cs->refills, cs->flushes};
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

void hak_stats_print(int fd, int json) { hak_stats_report(fd, json); }

__attribute__((destructor)) static void stats_at_exit(void) {
    if (hak_stats_on()) hak_stats_report(2, hak_stats_mode == 2);
}

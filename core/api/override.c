/* override.c — the standard allocation API (malloc, free, ..., the __libc_*
 * aliases), with glibc's semantics, on top of the prefixed API (api.c). */
#include "api/override.h"

#if HAKMEM_OVERRIDE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/init.h"
#include "backend/backend.h"
#include "base/diag.h"
#include "hakmem.h"

#define API HAK_EXPORT

API void *malloc(size_t n) { return hak_api_malloc(n); }
API void free(void *p) { hak_api_free(p); }
API void cfree(void *p) { hak_api_free(p); }
API void free_sized(void *p, size_t size) { (void)size; hak_api_free(p); }
API void free_aligned_sized(void *p, size_t align, size_t size) { (void)align; (void)size; hak_api_free(p); }
API void *calloc(size_t n, size_t size) { return hak_calloc(n, size); }
API void *realloc(void *p, size_t n) { return hak_realloc(p, n); }

API void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return hak_realloc(p, total);
}

API size_t malloc_usable_size(void *p) { return hak_api_usable_size(p); }

/* glibc's memalign rounds an alignment that is not a power of two up to one;
 * only one above 2^63, which has none above it, is EINVAL (malloc.c,
 * _mid_memalign); 2^63 itself is a request that cannot be met: ENOMEM. */
API void *memalign(size_t align, size_t size) {
    if (align > SIZE_MAX / 2 + 1) { errno = EINVAL; return NULL; }
    size_t a = 16;
    while (a < align) a <<= 1;
    return hak_aligned_alloc(a, size);
}

API void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }

/* As glibc (malloc/malloc.c, __posix_memalign): a bad alignment returns
 * EINVAL and leaves errno alone; a failure to allocate returns ENOMEM and,
 * like the malloc underneath it, sets errno to ENOMEM; *out is written only
 * on success. */
static HAK_NOINLINE int posix_memalign_slow(void **out, size_t align, size_t size) {
    void *p = hak_aligned_alloc(align, size);
    if (!p) { errno = ENOMEM; return ENOMEM; }
    *out = p;
    return 0;
}

API int posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p;
    if (HAK_LIKELY(hak_front_pop_aligned(align, size, &p))) { *out = p; return 0; }
    return posix_memalign_slow(out, align, size);
}

API void *valloc(size_t size) { return hak_aligned_alloc(4096, size); }

API void *pvalloc(size_t size) {
    size_t page = 4096, n = (size + page - 1) & ~(page - 1);
    if (n < size) { errno = ENOMEM; return NULL; }
    return hak_aligned_alloc(page, n ? n : page);
}

API int malloc_trim(size_t pad) { (void)pad; return hak_trim(); }

API struct mallinfo2 mallinfo2(void) {
    hak_stats_t s;
    hak_ensure_init();
    hak_stats_get(&s);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = s.bytes_mapped;
    mi.hblks = s.huge_mapped;
    mi.hblkhd = s.huge_bytes;
    mi.uordblks = s.bytes_in_use - s.huge_bytes;
    mi.fordblks = s.bytes_retained;
    mi.usmblks = s.bytes_in_use_peak;
    return mi;
}

API struct mallinfo mallinfo(void) {
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = (int)m2.arena;
    mi.hblks = (int)m2.hblks;
    mi.uordblks = (int)m2.uordblks;
    mi.fordblks = (int)m2.fordblks;
    mi.usmblks = (int)m2.usmblks;
    return mi;
}

/* glibc's lines first, so that a program that parses them finds them
 * ("Arena 0:", "system bytes", "in use bytes", "Total (incl. mmap):",
 * "max mmap regions", "max mmap bytes"; numbers right-aligned in 10
 * columns, not truncated to 32 bits), with hakmem's numbers mapped onto
 * glibc's (docs/TROUBLESHOOTING.md): one arena, everything but the live huge
 * blocks; glibc's mmapped chunks are hakmem's huge blocks.  Then hakmem's
 * own report.  Like glibc's, it is not a cancellation point: a thread with
 * a cancellation pending prints the whole report (every line hakmem writes
 * goes through write(2), which otherwise is one). */
static void glibc_line(hak_line_t *l, const char *label, uint64_t v) {
    hak_line_t num = {.len = 0};
    hak_line_u64(&num, v);
    hak_line_str(l, label);
    hak_line_str(l, " = ");
    for (size_t pad = num.len; pad < 10; pad++) hak_line_str(l, " ");
    num.buf[num.len] = 0;
    hak_line_str(l, num.buf);
    hak_line_str(l, "\n");
}

API void malloc_stats(void) {
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    hak_ensure_init();
    hak_stats_t s;
    hak_stats_get(&s);
    uint64_t huge_map = atomic_load(&hak_backend.huge_map_bytes);
    uint64_t huge_in_use = s.huge_bytes < s.bytes_in_use ? s.huge_bytes : s.bytes_in_use;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "Arena 0:\n");
    glibc_line(&l, "system bytes    ", s.bytes_mapped > huge_map ? s.bytes_mapped - huge_map : 0);
    glibc_line(&l, "in use bytes    ", s.bytes_in_use - huge_in_use);
    hak_line_str(&l, "Total (incl. mmap):\n");
    glibc_line(&l, "system bytes    ", s.bytes_mapped);
    glibc_line(&l, "in use bytes    ", s.bytes_in_use);
    glibc_line(&l, "max mmap regions", atomic_load(&hak_backend.huge_blocks_peak));
    glibc_line(&l, "max mmap bytes  ", atomic_load(&hak_backend.huge_map_bytes_peak));
    hak_line_write(&l, 2);
    hak_stats_print(2, 0);
    pthread_setcancelstate(cancel, NULL);
}

/* glibc's XML report; a program that calls it must not pull glibc's
 * allocator into a static link. */
API int malloc_info(int options, FILE *fp) {
    if (options != 0) { errno = EINVAL; return -1; }
    hak_stats_t s;
    hak_ensure_init();
    hak_stats_get(&s);
    fprintf(fp, "<malloc version=\"hakmem-%s\">\n<total type=\"in_use\" size=\"%llu\"/>\n"
            "<total type=\"mapped\" size=\"%llu\"/>\n<total type=\"huge\" count=\"%llu\" size=\"%llu\"/>\n</malloc>\n",
            HAKMEM_VERSION_STRING, (unsigned long long)s.bytes_in_use, (unsigned long long)s.bytes_mapped,
            (unsigned long long)s.huge_mapped, (unsigned long long)s.huge_bytes);
    return 0;
}

/* Accepted and ignored: hakmem's tuning comes from HAKMEM_* variables. */
API int mallopt(int param, int value) { (void)param; (void)value; return 1; }

/* glibc's internal names, which some programs and libraries call directly. */
API void *__libc_malloc(size_t n) { return hak_api_malloc(n); }
API void __libc_free(void *p) { hak_api_free(p); }
API void *__libc_calloc(size_t n, size_t size) { return hak_calloc(n, size); }
API void *__libc_realloc(void *p, size_t n) { return hak_realloc(p, n); }
API void *__libc_memalign(size_t align, size_t size) { return memalign(align, size); }
API void *__libc_valloc(size_t size) { return valloc(size); }
API void *__libc_pvalloc(size_t size) { return pvalloc(size); }
API int __posix_memalign(void **out, size_t align, size_t size) { return posix_memalign(out, align, size); }
#endif

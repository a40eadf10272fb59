/* override.c — the standard allocation API (malloc, free, ..., the __libc_*
 * aliases), with glibc's semantics, on top of the prefixed API (api.c). */
#include "api/override.h"

#if HAKMEM_OVERRIDE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/init.h"
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

API size_t malloc_usable_size(void *p) { return hak_usable_size(p); }

/* glibc's memalign rounds an alignment that is not a power of two up to one. */
API void *memalign(size_t align, size_t size) {
    if (align > ((size_t)1 << 62)) { errno = EINVAL; return NULL; }
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

API void malloc_stats(void) {
    hak_ensure_init();
    hak_stats_print(2, 0);
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

/* cxx_new.c — C++ operator new and delete (plain, array, sized, aligned,
 * nothrow), defined by their mangled names so the library stays C.
 * A failed throwing new calls the program's new_handler and retries, as the
 * standard says, and throws std::bad_alloc through libstdc++ when there is
 * no handler. */
#include "api/override.h"

#if HAKMEM_OVERRIDE
#include <stdlib.h>

#include "api/api.h"
#include "hakmem.h"

typedef void (*hak_new_handler_t)(void);
/* libstdc++'s std::get_new_handler() and std::__throw_bad_alloc(), present
 * whenever a C++ program is running.  Weak in the shared library (C programs
 * load it too); strong in the static archive, where a weak reference would
 * not pull them in and a failed new would abort instead of throwing —
 * only C++ programs, which link libstdc++, pull this object there. */
#ifdef HAKMEM_STATIC_ARCHIVE
#define HAK_CXX_REF
#define HAK_CXX_PRESENT(f) 1
#else
#define HAK_CXX_REF __attribute__((weak))
#define HAK_CXX_PRESENT(f) ((f) != NULL)
#endif
extern hak_new_handler_t _ZSt15get_new_handlerv(void) HAK_CXX_REF;
extern void _ZSt17__throw_bad_allocv(void) HAK_CXX_REF __attribute__((noreturn));

/* Call the new_handler until memory comes or there is none; then throw
 * (or, for the nothrow forms, return NULL). */
static HAK_COLD void *new_failed(size_t n, size_t align, bool nothrow) {
    for (;;) {
        hak_new_handler_t handler = HAK_CXX_PRESENT(_ZSt15get_new_handlerv) ? _ZSt15get_new_handlerv() : NULL;
        if (!handler) {
            if (nothrow) return NULL;
            if (HAK_CXX_PRESENT(_ZSt17__throw_bad_allocv)) _ZSt17__throw_bad_allocv();
            abort();
        }
        handler();
        void *p = align ? hak_aligned_alloc(align, n) : hak_api_malloc(n);
        if (p) return p;
    }
}

static inline void *new_impl(size_t n, bool nothrow) {
    void *p = hak_api_malloc(n);
    return HAK_LIKELY(p != NULL) ? p : new_failed(n, 0, nothrow);
}
static inline void *new_aligned_impl(size_t n, size_t align, bool nothrow) {
    void *p = hak_aligned_alloc(align, n);
    return HAK_LIKELY(p != NULL) ? p : new_failed(n, align, nothrow);
}

#define API HAK_EXPORT
/* operator new(size_t), new[](size_t) */
API void *_Znwm(size_t n) { return new_impl(n, false); }
API void *_Znam(size_t n) { return new_impl(n, false); }
/* nothrow */
API void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return new_impl(n, true); }
API void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return new_impl(n, true); }
/* aligned (C++17) */
API void *_ZnwmSt11align_val_t(size_t n, size_t al) { return new_aligned_impl(n, al, false); }
API void *_ZnamSt11align_val_t(size_t n, size_t al) { return new_aligned_impl(n, al, false); }
API void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) { (void)nt; return new_aligned_impl(n, al, true); }
API void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) { (void)nt; return new_aligned_impl(n, al, true); }
/* delete: plain, sized, aligned, nothrow, in both forms */
API void _ZdlPv(void *p) { hak_api_free(p); }
API void _ZdaPv(void *p) { hak_api_free(p); }
API void _ZdlPvm(void *p, size_t n) { (void)n; hak_api_free(p); }
API void _ZdaPvm(void *p, size_t n) { (void)n; hak_api_free(p); }
API void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; hak_api_free(p); }
API void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; hak_api_free(p); }
API void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; hak_api_free(p); }
API void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; hak_api_free(p); }
API void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; hak_api_free(p); }
API void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; hak_api_free(p); }
API void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) { (void)al; (void)nt; hak_api_free(p); }
API void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) { (void)al; (void)nt; hak_api_free(p); }
#endif

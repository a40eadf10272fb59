/* debug_box.c — checked blocks: the trailer, the checks, the heap walk. */
#include "box/debug_box.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "alloc.h"
#include "box/env_box.h"
#include "box/superslab_box.h"
#include "diag.h"
#include "hakmem.h"
#include "heap.h"
#include "huge.h"
#include "segmap.h"

HAK_HIDDEN int hak_guard_gate, hak_junk_gate;
static uint64_t guard_key;   /* per process: trailers are not guessable constants */

#define TRAILER 16           /* canary (8) + size word (8) */
#define JUNK_NEW 0xAA
#define JUNK_FREED 0xDD

void hak_debug_configure(void) {
    hak_abort_on_error = HAK_CFG(ON_ERROR) == 1;
    if (!HAKMEM_BOX_DEBUG) return;
    /* Checked blocks cost every operation its fast path (2.5-4x on Mixed),
     * far over SECURE's 10% budget: SECURE hardens the fast path instead
     * (secure_box.h) and only DEBUG checks every block. */
    hak_guard_gate = (int)HAK_CFG(DEBUG);
    hak_junk_gate = (int)HAK_CFG(DEBUG);
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
    uint64_t k = 0x9e3779b97f4a7c15ull;
    if (rnd) memcpy(&k, rnd + 8, sizeof k);
    guard_key = k | 1;
}

static const char *const error_name[HAK_ERR_KINDS] = {
    [HAK_ERR_INVALID_FREE] = "invalid free",
    [HAK_ERR_DOUBLE_FREE] = "double free",
    [HAK_ERR_OVERFLOW] = "buffer overflow",
    [HAK_ERR_CORRUPTION] = "heap corruption",
};

void hak_heap_error(hak_heap_error_t kind, const void *p, const char *detail, uint64_t n, bool once) {
    /* In report mode each kind is reported once, so a loop of bad frees
     * cannot flood stderr; abort mode stops at the first anyway. */
    static _Atomic unsigned reported;
    (void)once;
    if (!hak_abort_on_error && (atomic_fetch_or(&reported, 1u << kind) & (1u << kind))) return;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: ");
    hak_line_str(&l, error_name[kind]);
    hak_line_str(&l, " of ");
    hak_line_hex(&l, (uintptr_t)p);
    hak_line_str(&l, ": ");
    hak_line_str(&l, detail);
    if (n != (uint64_t)-1) { hak_line_str(&l, " "); hak_line_u64(&l, n); }
    hak_line_str(&l, hak_abort_on_error ? "; aborting\n" : " (further reports of this kind suppressed)\n");
    hak_line_write(&l, 2);
    if (hak_abort_on_error) abort();
}

/* ---- the trailer ---- */

static void put64(void *at, uint64_t v) { memcpy(at, &v, sizeof v); }
static uint64_t get64(const void *at) { uint64_t v; memcpy(&v, at, sizeof v); return v; }

static uint64_t canary_of(const void *p) { return guard_key ^ (uintptr_t)p; }
/* The freed mark names the block size too, so a mark left by a block of
 * another size (the span was emptied and re-carved) never matches. */
static uint64_t freed_mark(size_t u) { return guard_key ^ 0xF4EEDF4EEDF4EEDFull ^ (uint64_t)u; }


/* Junk fill: whole blocks up to 64 KiB; of bigger ones only the first and
 * last page (filling a 1 GiB block would make it all resident). */
static void junk(void *p, size_t len, int byte) {
    if (len <= 65536) { memset(p, byte, len); return; }
    memset(p, byte, HAK_PAGE);
    memset((uint8_t *)p + len - HAK_PAGE, byte, HAK_PAGE);
}

/* A block freed under DEBUG comes back: its freed junk must be intact
 * (bytes 0-7 hold the free-list link). */
static void check_freed_junk(const uint8_t *p, size_t u) {
    for (size_t i = 8; i < u - 8; i++)
        if (p[i] != JUNK_FREED) {
            hak_heap_error(HAK_ERR_CORRUPTION, p, "freed block written after free; offset", i, false);
            return;
        }
}

static void *arm(void *p, size_t n, bool zero, bool fresh) {
    bool foreign, invalid;
    size_t u = hak_usable_raw(p, &foreign, &invalid);
    if (hak_junk_gate && u <= 65536 && get64((uint8_t *)p + u - 8) == freed_mark(u)) check_freed_junk(p, u);
    if (hak_junk_gate && !zero) junk(p, n, JUNK_NEW);
    if (zero && !fresh) memset(p, 0, n);
    put64((uint8_t *)p + n, canary_of(p));
    put64((uint8_t *)p + u - 8, (uint64_t)n ^ guard_key);
    return p;
}

void *hak_guard_alloc(size_t n, size_t align, bool zero) {
    if (n > (size_t)PTRDIFF_MAX - TRAILER - 8) { errno = ENOMEM; return NULL; }
    bool fresh = false;
    void *p = align > 16 ? hak_alloc_aligned_raw(align, n + TRAILER) : hak_alloc_raw(n + TRAILER, &fresh);
    if (!p) return NULL;
    return arm(p, n, zero, fresh);
}

/* The requested size of live block p, or -1 after reporting what is wrong. */
static int64_t check_block(const void *p, const char *op) {
    (void)op;
    if (!hak_segmap_region(p)) {
        hak_heap_error(HAK_ERR_INVALID_FREE, p, "not allocated by hakmem (stack, static, mmap or another allocator's memory)", (uint64_t)-1, false);
        return -1;
    }
    if (!hak_is_block_start(p)) {
        hak_heap_error(HAK_ERR_INVALID_FREE, p, "not the start of a live block (interior pointer or unallocated memory)", (uint64_t)-1, false);
        return -1;
    }
    bool foreign, invalid;
    size_t u = hak_usable_raw(p, &foreign, &invalid);
    uint64_t word = get64((const uint8_t *)p + u - 8);
    if (word == freed_mark(u)) {
        hak_heap_error(HAK_ERR_DOUBLE_FREE, p, "block already freed; block bytes", u, false);
        return -1;
    }
    uint64_t n = word ^ guard_key;
    if (n > u - TRAILER) {
        hak_heap_error(HAK_ERR_CORRUPTION, p, "size word at the block's end overwritten; block bytes", u, false);
        return -1;
    }
    if (get64((const uint8_t *)p + n) != canary_of(p)) {
        hak_heap_error(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block; requested size", n, false);
        /* report mode: the block is still the program's; go on with it */
    }
    return (int64_t)n;
}

void hak_guard_free(void *p) {
    int saved = errno;
    int64_t n = check_block(p, "free");
    if (n < 0) { errno = saved; return; }
    bool foreign, invalid;
    size_t u = hak_usable_raw(p, &foreign, &invalid);
    hak_region_t *r = hak_segmap_region(p);
    if (hak_junk_gate && r->kind != HAK_REGION_HUGE) junk(p, u - 8, JUNK_FREED);
    put64((uint8_t *)p + u - 8, freed_mark(u));
    hak_free_raw(p);
    errno = saved;
}

void *hak_guard_realloc(void *p, size_t n) {
    int64_t old = check_block(p, "realloc");
    if (old < 0) { errno = ENOMEM; return NULL; }
    if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }
    void *q = hak_guard_alloc(n, 0, false);
    if (!q) return NULL;
    memcpy(q, p, (size_t)old < n ? (size_t)old : n);
    hak_guard_free(p);
    return q;
}

size_t hak_guard_usable(const void *p) {
    if (!hak_segmap_region(p)) { hak_report_bad_pointer(HAK_BAD_USABLE_FOREIGN, p); return 0; }
    if (!hak_is_block_start(p)) { hak_report_bad_pointer(HAK_BAD_USABLE_INVALID, p); return 0; }
    bool foreign, invalid;
    size_t u = hak_usable_raw(p, &foreign, &invalid);
    uint64_t n = get64((const uint8_t *)p + u - 8) ^ guard_key;
    return n <= u - TRAILER ? n : 0;
}

/* ---- the heap walk ---- */

static unsigned check_span(hak_span_t *s) {
    unsigned bad = 0;
    for (uint32_t i = 0; i < s->carved; i++) {
        uint8_t *b = s->data + (size_t)i * s->block_size;
        uint64_t n = get64(b + s->block_size - 8) ^ guard_key;
        if (n > s->block_size - TRAILER) continue;   /* free, cached or never handed out */
        if (get64(b + n) != canary_of(b)) {
            hak_heap_error(HAK_ERR_OVERFLOW, b, "found by the heap check; requested size", n, false);
            bad++;
        }
    }
    return bad;
}

static unsigned check_heap(hak_heap_t *h) {
    unsigned bad = 0;
    for (hak_region_t *r = h->regions; r; r = r->next) {
        if (r->magic != HAK_REGION_MAGIC) {
            hak_heap_error(HAK_ERR_CORRUPTION, r, "superslab header damaged", (uint64_t)-1, false);
            bad++;
            continue;
        }
        for (unsigned i = 0; i < HAK_SLABS; i++) {
            hak_span_t *s = &r->spans[i];
            if (s->kind == HAK_SLAB_SMALL) bad += check_span(s);
            else if (s->kind == HAK_SLAB_LARGE && s->block_size > TRAILER) {
                uint64_t n = get64(s->data + s->block_size - 8) ^ guard_key;
                if (n <= s->block_size - TRAILER && get64(s->data + n) != canary_of(s->data)) {
                    hak_heap_error(HAK_ERR_OVERFLOW, s->data, "found by the heap check; requested size", n, false);
                    bad++;
                }
            }
        }
    }
    return bad;
}

int hak_heap_check(void) {
    if (!hak_guard_on()) return 0;
    hak_heap_t *h = hak_tls_heap;
    if (!h) return 0;
    hak_heap_lock(h);   /* an idle heap's visitor may be changing the spans */
    unsigned bad = check_heap(h);
    hak_heap_unlock(h);
    return (int)bad;
}

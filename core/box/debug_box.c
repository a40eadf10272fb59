/* debug_box.c — checked blocks: the trailer, the checks, the heap walk. */
#include "box/debug_box.h"

#include <errno.h>
#include <string.h>

#include "backend/resolve.h"
#include "base/diag.h"
#include "config/config.h"
#include "front/front.h"
#include "heap/heap.h"

HAK_HIDDEN hak_debug_state_t hak_debug;

#define TRAILER 16           /* canary (8) + size word (8) */
#define JUNK_NEW 0xAA
#define JUNK_FREED 0xDD

void hak_debug_configure(void) {
    /* Checked blocks cost every operation its fast path (2.5-4x on Mixed),
     * far over SECURE's 10% budget: SECURE hardens the fast path instead
     * (secure_box.h) and only DEBUG checks every block. */
    hak_debug.guard = (int)HAK_CFG(DEBUG);
    hak_debug.junk = (int)HAK_CFG(DEBUG);
    if (!hak_debug.key) hak_debug.key = hak_random();   /* once: a second apply (hak_ctor) must not change live trailers */
}

/* ---- the trailer ---- */

static void put64(void *at, uint64_t v) { memcpy(at, &v, sizeof v); }
static uint64_t get64(const void *at) { uint64_t v; memcpy(&v, at, sizeof v); return v; }

static uint64_t canary_of(const void *p) { return hak_debug.key ^ (uintptr_t)p; }
/* The freed mark names the block size too, so a mark left by a block of
 * another size (the span was emptied and re-carved) never matches. */
static uint64_t freed_mark(size_t u) { return hak_debug.key ^ 0xF4EEDF4EEDF4EEDFull ^ (uint64_t)u; }


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
            hak_report(HAK_ERR_CORRUPTION, p, "freed block written after free; offset", i);
            return;
        }
}

/* Bytes of block p (a block: the resolver says so). */
static size_t block_bytes(const void *p) { return hak_resolve(p).size; }

static void *arm(void *p, size_t n, bool zero, bool fresh) {
    size_t u = block_bytes(p);
    if (hak_debug.junk && u <= 65536 && get64((uint8_t *)p + u - 8) == freed_mark(u)) check_freed_junk(p, u);
    if (hak_debug.junk && !zero) junk(p, n, JUNK_NEW);
    if (zero && !fresh) memset(p, 0, n);
    put64((uint8_t *)p + n, canary_of(p));
    put64((uint8_t *)p + u - 8, (uint64_t)n ^ hak_debug.key);
    return p;
}

void *hak_guard_alloc(size_t n, size_t align, bool zero) {
    if (n > (size_t)PTRDIFF_MAX - TRAILER - 8) { errno = ENOMEM; return NULL; }
    bool fresh = false;
    void *p = align > 16 ? hak_front_alloc_aligned_raw(align, n + TRAILER) : hak_front_alloc_raw(n + TRAILER, &fresh);
    if (!p) return NULL;
    return arm(p, n, zero, fresh);
}

/* The requested size of live block p, or -1 after reporting what is wrong. */
static int64_t check_block(const void *p, bool is_realloc) {
    hak_ptr_t r = hak_resolve(p);
    if (r.kind == HAK_PTR_FOREIGN) {
        hak_report(is_realloc ? HAK_ERR_FOREIGN_REALLOC : HAK_ERR_FOREIGN_FREE, p, NULL, HAK_NO_NUMBER);
        return -1;
    }
    if (r.kind == HAK_PTR_INVALID) {
        hak_report(is_realloc ? HAK_ERR_INVALID_REALLOC : HAK_ERR_INVALID_FREE, p, NULL, HAK_NO_NUMBER);
        return -1;
    }
    size_t u = r.size;
    uint64_t word = get64((const uint8_t *)p + u - 8);
    if (word == freed_mark(u)) {
        hak_report(HAK_ERR_DOUBLE_FREE, p, "block already freed; block bytes", u);
        return -1;
    }
    uint64_t n = word ^ hak_debug.key;
    if (n > u - TRAILER) {
        hak_report(HAK_ERR_CORRUPTION, p, "size word at the block's end overwritten; block bytes", u);
        return -1;
    }
    if (get64((const uint8_t *)p + n) != canary_of(p)) {
        hak_report(HAK_ERR_OVERFLOW, p, "bytes written past the end of the block; requested size", n);
        /* report mode: the block is still the program's; go on with it */
    }
    return (int64_t)n;
}

void hak_guard_free(void *p) {
    int saved = errno;
    int64_t n = check_block(p, false);
    if (n < 0) { errno = saved; return; }
    hak_ptr_t r = hak_resolve(p);
    size_t u = r.size;
    if (hak_debug.junk && r.kind != HAK_PTR_HUGE) junk(p, u - 8, JUNK_FREED);
    put64((uint8_t *)p + u - 8, freed_mark(u));
    hak_front_free_raw(p);
    errno = saved;
}

void *hak_guard_realloc(void *p, size_t n) {
    int64_t old = check_block(p, true);
    if (old < 0) { errno = ENOMEM; return NULL; }
    if (n > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }
    void *q = hak_guard_alloc(n, 0, false);
    if (!q) return NULL;
    memcpy(q, p, (size_t)old < n ? (size_t)old : n);
    hak_guard_free(p);
    return q;
}

size_t hak_guard_usable(const void *p) {
    hak_ptr_t r = hak_resolve(p);
    if (!hak_ptr_is_block(&r)) {
        hak_report(r.kind == HAK_PTR_FOREIGN ? HAK_ERR_FOREIGN_USABLE : HAK_ERR_INVALID_USABLE, p, NULL, HAK_NO_NUMBER);
        return 0;
    }
    size_t u = r.size;
    uint64_t n = get64((const uint8_t *)p + u - 8) ^ hak_debug.key;
    return n <= u - TRAILER ? n : 0;
}

/* ---- the heap walk ---- */

static unsigned check_span(hak_span_t *s) {
    unsigned bad = 0;
    for (uint32_t i = 0; i < s->carved; i++) {
        uint8_t *b = s->data + (size_t)i * s->block_size;
        uint64_t n = get64(b + s->block_size - 8) ^ hak_debug.key;
        if (n > s->block_size - TRAILER) continue;   /* free, cached or never handed out */
        if (get64(b + n) != canary_of(b)) {
            hak_report(HAK_ERR_OVERFLOW, b, "found by the heap check; requested size", n);
            bad++;
        }
    }
    return bad;
}

static unsigned check_heap(hak_heap_t *h) {
    unsigned bad = 0;
    for (hak_link_t *k = h->ss.superslabs.first; k; k = k->next) {
        hak_superslab_t *r = HAK_CONTAINER(k, hak_superslab_t, link);
        if (r->magic != HAK_SS_MAGIC) {
            hak_report(HAK_ERR_CORRUPTION, r, "superslab header damaged", HAK_NO_NUMBER);
            bad++;
            continue;
        }
        for (unsigned i = 0; i < HAK_SLABS; i++) {
            hak_span_t *s = &r->spans[i];
            if (s->kind == HAK_SLAB_SMALL) bad += check_span(s);
            else if (s->kind == HAK_SLAB_LARGE && s->block_size > TRAILER) {
                uint64_t n = get64(s->data + s->block_size - 8) ^ hak_debug.key;
                if (n <= s->block_size - TRAILER && get64(s->data + n) != canary_of(s->data)) {
                    hak_report(HAK_ERR_OVERFLOW, s->data, "found by the heap check; requested size", n);
                    bad++;
                }
            }
        }
    }
    return bad;
}

int hak_guard_check_heap(void) {
    hak_heap_t *h = hak_tls_heap;
    if (!h) return 0;
    hak_heap_lock(h);   /* an idle heap's visitor may be changing the spans */
    unsigned bad = check_heap(h);
    hak_heap_unlock(h);
    return (int)bad;
}

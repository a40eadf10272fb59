/* diag.c — formatting without stdio, and the once-per-kind bad pointer report. */
#include "diag.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void hak_line_str(hak_line_t *l, const char *s) {
    while (*s && l->len < sizeof(l->buf) - 1) l->buf[l->len++] = *s++;
}

void hak_line_u64(hak_line_t *l, uint64_t v) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n > 0 && l->len < sizeof(l->buf) - 1) l->buf[l->len++] = tmp[--n];
}

void hak_line_i64(hak_line_t *l, int64_t v) {
    if (v < 0) { hak_line_str(l, "-"); hak_line_u64(l, (uint64_t)0 - (uint64_t)v); }
    else hak_line_u64(l, (uint64_t)v);
}

void hak_line_hex(hak_line_t *l, uintptr_t v) {
    char tmp[20];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    hak_line_str(l, "0x");
    while (n > 0 && l->len < sizeof(l->buf) - 1) l->buf[l->len++] = tmp[--n];
}

void hak_line_fixed(hak_line_t *l, uint64_t v, unsigned decimals) {
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++) scale *= 10;
    hak_line_u64(l, v / scale);
    if (!decimals) return;
    hak_line_str(l, ".");
    uint64_t frac = v % scale;
    for (uint64_t d = scale / 10; d > 0; d /= 10) {
        char c[2] = {(char)('0' + (frac / d) % 10), 0};
        hak_line_str(l, c);
    }
}

void hak_line_write(hak_line_t *l, int fd) {
    int saved = errno;
    size_t off = 0;
    while (off < l->len) {
        ssize_t n = write(fd, l->buf + off, l->len - off);
        if (n <= 0) { if (n < 0 && errno == EINTR) continue; break; }
        off += (size_t)n;
    }
    errno = saved;
}

void hak_message(const char *msg) {
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: ");
    hak_line_str(&l, msg);
    hak_line_str(&l, "\n");
    hak_line_write(&l, 2);
}

static const char *const bad_text[HAK_BAD_KINDS] = {
    [HAK_BAD_FREE_FOREIGN] = "free(): pointer not allocated by hakmem; ignored",
    [HAK_BAD_FREE_INVALID] = "free(): pointer inside hakmem memory but not a live block; ignored",
    [HAK_BAD_REALLOC_FOREIGN] = "realloc(): pointer not allocated by hakmem; returned NULL, block untouched",
    [HAK_BAD_REALLOC_INVALID] = "realloc(): pointer inside hakmem memory but not a live block; returned NULL",
    [HAK_BAD_USABLE_FOREIGN] = "malloc_usable_size(): pointer not allocated by hakmem; returned 0",
    [HAK_BAD_USABLE_INVALID] = "malloc_usable_size(): pointer inside hakmem memory but not a live block; returned 0",
};
static _Atomic unsigned bad_reported;
HAK_HIDDEN int hak_abort_on_error;   /* HAKMEM_ON_ERROR=abort (set by the debug box) */

void hak_report_bad_pointer(hak_bad_kind_t kind, const void *p) {
    unsigned bit = 1u << kind;
    if (!hak_abort_on_error && (atomic_fetch_or(&bad_reported, bit) & bit)) return;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: ");
    hak_line_hex(&l, (uintptr_t)p);
    hak_line_str(&l, ": ");
    hak_line_str(&l, bad_text[kind]);
    hak_line_str(&l, hak_abort_on_error ? "; aborting (HAKMEM_ON_ERROR=abort)\n" : " (further such reports suppressed)\n");
    hak_line_write(&l, 2);
    if (hak_abort_on_error) abort();
}

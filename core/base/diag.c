/* diag.c — formatting without stdio, the error reporter, hak_random. */
#include "base/diag.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

HAK_HIDDEN hak_base_state_t hak_base;

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

/* write(2) is a cancellation point: a report written from inside the
 * allocator (perhaps with a lock held) must not end the thread there. */
void hak_line_write(hak_line_t *l, int fd) {
    int saved = errno, cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    size_t off = 0;
    while (off < l->len) {
        ssize_t n = write(fd, l->buf + off, l->len - off);
        if (n <= 0) { if (n < 0 && errno == EINTR) continue; break; }
        off += (size_t)n;
    }
    pthread_setcancelstate(cancel, NULL);
    errno = saved;
}

void hak_message(const char *msg) {
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: ");
    hak_line_str(&l, msg);
    hak_line_str(&l, "\n");
    hak_line_write(&l, 2);
}

static const struct { const char *title, *detail; } error_text[HAK_ERR_KINDS] = {
    [HAK_ERR_FOREIGN_FREE] = {"foreign pointer", "free(): not allocated by hakmem; ignored"},
    [HAK_ERR_FOREIGN_REALLOC] = {"foreign pointer", "realloc(): not allocated by hakmem; returned NULL, block untouched"},
    [HAK_ERR_FOREIGN_USABLE] = {"foreign pointer", "malloc_usable_size(): not allocated by hakmem; returned 0"},
    [HAK_ERR_INVALID_FREE] = {"invalid free", "free(): inside hakmem memory but not a live block; ignored"},
    [HAK_ERR_INVALID_REALLOC] = {"invalid pointer", "realloc(): inside hakmem memory but not a live block; returned NULL"},
    [HAK_ERR_INVALID_USABLE] = {"invalid pointer", "malloc_usable_size(): inside hakmem memory but not a live block; returned 0"},
    [HAK_ERR_DOUBLE_FREE] = {"double free", "block already freed"},
    [HAK_ERR_OVERFLOW] = {"buffer overflow", "bytes written past the end of the block"},
    [HAK_ERR_CORRUPTION] = {"heap corruption", "allocator metadata damaged"},
};

void hak_report(hak_error_t kind, const void *p, const char *detail, uint64_t n) {
    /* In report mode each kind is reported once, so a loop of bad frees
     * cannot flood stderr; abort mode stops at the first anyway. */
    unsigned bit = 1u << kind;
    if (!hak_base.abort_on_error && (atomic_fetch_or(&hak_base.reported, bit) & bit)) return;
    hak_line_t l = {.len = 0};
    hak_line_str(&l, "hakmem: ");
    hak_line_str(&l, error_text[kind].title);
    hak_line_str(&l, kind <= HAK_ERR_FOREIGN_USABLE ? " " : " of ");
    hak_line_hex(&l, (uintptr_t)p);
    hak_line_str(&l, ": ");
    hak_line_str(&l, detail ? detail : error_text[kind].detail);
    if (n != HAK_NO_NUMBER) { hak_line_str(&l, " "); hak_line_u64(&l, n); }
    hak_line_str(&l, hak_base.abort_on_error ? "; aborting (HAKMEM_ON_ERROR=abort)\n" : " (further reports of this kind suppressed)\n");
    hak_line_write(&l, 2);
    if (hak_base.abort_on_error) abort();
}

void hak_random_seed(void) {
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);   /* 16 bytes from the kernel */
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    if (rnd) memcpy(&seed, rnd, sizeof seed);
    atomic_store(&hak_base.random, seed);
}

/* splitmix64 over an atomic counter: distinct values for every caller. */
uint64_t hak_random(void) {
    uint64_t z = atomic_fetch_add_explicit(&hak_base.random, 0x9E3779B97F4A7C15ull, memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) | 1;
}

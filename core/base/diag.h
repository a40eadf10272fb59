/* diag.h — what hakmem says, through write(2): no stdio, no allocation, safe
 * from any path.  Every line starts with "hakmem: ".  One reporter for every
 * error hakmem detects (a bad pointer, a double free, an overflow, damaged
 * metadata): each kind once per process, or abort with HAKMEM_ON_ERROR=abort.
 * Base layer: calls nothing of ours. */
#ifndef HAKMEM_DIAG_H
#define HAKMEM_DIAG_H

#include "base/base.h"

/* A line builder on the stack. */
typedef struct hak_line {
    char buf[512];
    size_t len;
} hak_line_t;

HAK_HIDDEN void hak_line_str(hak_line_t *l, const char *s);
HAK_HIDDEN void hak_line_u64(hak_line_t *l, uint64_t v);
HAK_HIDDEN void hak_line_i64(hak_line_t *l, int64_t v);
HAK_HIDDEN void hak_line_hex(hak_line_t *l, uintptr_t v);
/* Fixed point: v / 10^decimals printed with that many decimals. */
HAK_HIDDEN void hak_line_fixed(hak_line_t *l, uint64_t v, unsigned decimals);
HAK_HIDDEN void hak_line_write(hak_line_t *l, int fd);
/* "hakmem: <msg>" (always). */
HAK_HIDDEN void hak_message(const char *msg);

/* Errors hakmem detects.  FOREIGN: memory hakmem does not manage (stack,
 * static, mmap, another allocator's); INVALID: hakmem's memory but not the
 * start of a live block. */
typedef enum {
    HAK_ERR_FOREIGN_FREE, HAK_ERR_FOREIGN_REALLOC, HAK_ERR_FOREIGN_USABLE,
    HAK_ERR_INVALID_FREE, HAK_ERR_INVALID_REALLOC, HAK_ERR_INVALID_USABLE,
    HAK_ERR_DOUBLE_FREE,
    HAK_ERR_OVERFLOW,       /* bytes written past a block's end */
    HAK_ERR_CORRUPTION,     /* allocator metadata damaged (trailer, free list, cache) */
    HAK_ERR_KINDS
} hak_error_t;

/* One line "hakmem: <kind> of <p>: <detail>[ <n>]" (detail NULL: the kind's
 * own text; n (uint64_t)-1: none); then abort when HAKMEM_ON_ERROR=abort,
 * else later reports of the same kind are suppressed. */
HAK_HIDDEN void hak_report(hak_error_t kind, const void *p, const char *detail, uint64_t n);
#define HAK_NO_NUMBER ((uint64_t)-1)

/* The base layer's state. */
typedef struct hak_base_state {
    int abort_on_error;            /* HAKMEM_ON_ERROR=abort (set at init) */
    _Atomic unsigned reported;     /* kinds reported once already */
    _Atomic uint64_t random;       /* hak_random's state */
} hak_base_state_t;
extern HAK_HIDDEN hak_base_state_t hak_base;

/* A fresh odd 64-bit value, distinct for every call (slow paths only). */
HAK_HIDDEN uint64_t hak_random(void);
/* Seed hak_random from the kernel's AT_RANDOM bytes (init). */
HAK_HIDDEN void hak_random_seed(void);

#endif

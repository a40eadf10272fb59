/* diag.h — one-line messages on stderr through write(2): no stdio, no
 * allocation, safe from any path.  Every line starts with "hakmem: ". */
#ifndef HAKMEM_DIAG_H
#define HAKMEM_DIAG_H

#include "internal.h"

/* A tiny line builder on the stack. */
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

/* Kinds of bad pointer, each reported once per process. */
typedef enum {
    HAK_BAD_FREE_FOREIGN, HAK_BAD_FREE_INVALID,
    HAK_BAD_REALLOC_FOREIGN, HAK_BAD_REALLOC_INVALID,
    HAK_BAD_USABLE_FOREIGN, HAK_BAD_USABLE_INVALID,
    HAK_BAD_KINDS
} hak_bad_kind_t;

/* HAKMEM_ON_ERROR=abort: a report is followed by abort(). */
extern HAK_HIDDEN int hak_abort_on_error;
/* Report pointer p given to a function that cannot accept it (once per kind;
 * then abort when HAKMEM_ON_ERROR=abort). */
HAK_HIDDEN void hak_report_bad_pointer(hak_bad_kind_t kind, const void *p);
/* A one-line message (always). */
HAK_HIDDEN void hak_message(const char *msg);

#endif

/* hakmem's stand-in for glibc's <support/check.h> (tests/glibc/shim).
 *
 * Only what the glibc malloc tests listed in tests/glibc/tests.list use.
 * A failed check prints "error: FILE:LINE: ..." on stdout and records the
 * failure (the test goes on); the _EXIT forms end the process with status 1.
 * Recorded failures turn a test's exit status 0 (or 77) into 1, also when
 * they were recorded in a child process (the record is in shared memory). */
#ifndef SHIM_SUPPORT_CHECK_H
#define SHIM_SUPPORT_CHECK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Record a failure; the test's exit status becomes 1 at the end. */
void support_record_failure(void);
/* 1 if a failure was recorded (in this process or a child). */
int shim_failure_recorded(void);

void shim_fail(const char *file, int line, int exit_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void shim_verify_failed(const char *file, int line, const char *expr, int do_exit);
void shim_compare_failed(const char *file, int line,
                         const char *lexpr, int lneg, uintmax_t lval,
                         const char *rexpr, int rneg, uintmax_t rval);

/* Report and record a failure, go on. */
#define FAIL(...) shim_fail(__FILE__, __LINE__, -1, __VA_ARGS__)
/* Report a failure and exit with STATUS. */
#define FAIL_EXIT(status, ...) shim_fail(__FILE__, __LINE__, (status), __VA_ARGS__)
#define FAIL_EXIT1(...) shim_fail(__FILE__, __LINE__, 1, __VA_ARGS__)
/* Report that the test cannot run here (exit status 77). */
#define FAIL_UNSUPPORTED(...) shim_fail(__FILE__, __LINE__, 77, __VA_ARGS__)

#define TEST_VERIFY(expr) \
    ((expr) ? (void)0 : shim_verify_failed(__FILE__, __LINE__, #expr, 0))
#define TEST_VERIFY_EXIT(expr) \
    ((expr) ? (void)0 : shim_verify_failed(__FILE__, __LINE__, #expr, 1))

/* Compare two integers of any types by value: -1 and (unsigned)-1 differ. */
#define SHIM_IS_NEG(v) ((__typeof__(v))-1 < (__typeof__(v))1 && (v) < (__typeof__(v))1 && (v) != 0)
#define TEST_COMPARE(left, right)                                          \
    do {                                                                   \
        __typeof__(left) shim_l_ = (left);                                 \
        __typeof__(right) shim_r_ = (right);                               \
        int shim_ln_ = SHIM_IS_NEG(shim_l_), shim_rn_ = SHIM_IS_NEG(shim_r_); \
        uintmax_t shim_lv_ = (uintmax_t)shim_l_, shim_rv_ = (uintmax_t)shim_r_; \
        if (shim_ln_ != shim_rn_ || shim_lv_ != shim_rv_)                  \
            shim_compare_failed(__FILE__, __LINE__, #left, shim_ln_, shim_lv_, \
                                #right, shim_rn_, shim_rv_);               \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif

/* hakmem's stand-in for glibc's old test skeleton (tests/glibc/shim).
 * Older tests end with #include "../test-skeleton.c" and define
 * TEST_FUNCTION as a call expression (e.g. do_test ()) rather than a
 * function name; wrap it, then use the new driver. */
#include <support/check.h>
#include <support/support.h>
#include <support/temp_file.h>
#include <support/xsignal.h>

static int shim_legacy_test(void) {
#ifdef TEST_FUNCTION
    return TEST_FUNCTION;
#else
    return do_test();
#endif
}
#undef TEST_FUNCTION
#define TEST_FUNCTION shim_legacy_test

#include <support/test-driver.c>

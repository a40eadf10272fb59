/* hakmem's stand-in for glibc's <support/test-driver.h> (tests/glibc/shim).
 *
 * A test defines do_test (or TEST_FUNCTION / TEST_FUNCTION_ARGV) and may
 * define TIMEOUT (seconds), EXPECTED_SIGNAL, EXPECTED_STATUS, PREPARE,
 * CLEANUP_HANDLER, TEST_NO_MALLOPT, TEST_NO_SETVBUF before it includes
 * <support/test-driver.c>, which defines main.  main runs the test in a
 * child process (in its own process group) under a timeout and exits with
 * 0 (pass), 1 (fail) or 77 (unsupported).  `--direct` runs the test in the
 * process itself (for a debugger). */
#ifndef SHIM_SUPPORT_TEST_DRIVER_H
#define SHIM_SUPPORT_TEST_DRIVER_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    EXIT_UNSUPPORTED = 77,
    DEFAULT_TIMEOUT = 20,     /* seconds, times $TIMEOUTFACTOR */
};

struct shim_test_config {
    int (*test_function)(void);
    int (*test_function_argv)(int argc, char **argv);
    void (*prepare_function)(int argc, char **argv);
    void (*cleanup_function)(void);
    int timeout;
    int expected_status;
    int expected_signal;
    int no_mallopt;
    int no_setvbuf;
};

/* The directory for temporary files ($TMPDIR, or /tmp). */
extern const char *test_dir;
/* How many -v / --verbose options were given. */
extern unsigned int test_verbose;

int shim_test_main(int argc, char **argv, const struct shim_test_config *config);

#ifdef __cplusplus
}
#endif
#endif

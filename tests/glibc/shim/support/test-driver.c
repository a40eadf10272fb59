/* hakmem's stand-in for glibc's <support/test-driver.c> (tests/glibc/shim):
 * included at the end of a test, it turns the test's macros into a
 * configuration and defines main (see test-driver.h; shim.c does the work). */
#include <support/test-driver.h>

int main(int argc, char **argv) {
    struct shim_test_config shim_config = {0};
#if defined TEST_FUNCTION
    shim_config.test_function = TEST_FUNCTION;
#elif defined TEST_FUNCTION_ARGV
    shim_config.test_function_argv = TEST_FUNCTION_ARGV;
#else
    shim_config.test_function = do_test;
#endif
#ifdef PREPARE
    shim_config.prepare_function = PREPARE;
#endif
#ifdef CLEANUP_HANDLER
    shim_config.cleanup_function = CLEANUP_HANDLER;
#endif
#ifdef TIMEOUT
    shim_config.timeout = TIMEOUT;
#endif
#ifdef EXPECTED_STATUS
    shim_config.expected_status = EXPECTED_STATUS;
#endif
#ifdef EXPECTED_SIGNAL
    shim_config.expected_signal = EXPECTED_SIGNAL;
#endif
#ifdef TEST_NO_MALLOPT
    shim_config.no_mallopt = 1;
#endif
#ifdef TEST_NO_SETVBUF
    shim_config.no_setvbuf = 1;
#endif
    return shim_test_main(argc, argv, &shim_config);
}

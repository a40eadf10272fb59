# tests/glibc.mk — glibc's own malloc tests against hakmem. Included by the
# top-level Makefile.  docs/RELIABILITY.md ("glibc's malloc tests") says what
# runs, what is skipped and why, and the known failures.
#
#   make test-glibc    fetch glibc's source for this machine's glibc
#                      (apt-get source, cached in $(BUILD)/glibc-src), build
#                      the tests of tests/glibc/tests.list from its malloc/
#                      against our shim (tests/glibc/shim), run each under
#                      LD_PRELOAD=$(BUILD)/libhakmem.so in every profile;
#                      one line per test x profile, then "N passed, N failed".
#                      GLIBC_PROFILES, GLIBC_TIMEOUT, GLIBC_TESTS_XFAIL: see
#                      scripts/glibc_tests.sh.

.PHONY: test-glibc

test-glibc: $(BUILD)/libhakmem.so
	@BUILD='$(BUILD)' scripts/glibc_tests.sh

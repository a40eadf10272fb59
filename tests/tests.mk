# tests/tests.mk — test rules, included by the top-level Makefile.
#
#   make test        install cmocka if missing, build the library and every
#                    test; run bench-smoke, bench-apps-smoke (each application
#                    once under every allocator, outputs compared), the install tests
#                    (scripts/test_install.sh), then every test binary and the
#                    real programs (scripts/run_tests.sh, whose last line is
#                    "N passed, N failed")
#   make test-core   the fast subset: unit tests and the single-threaded API
#                    tests, no real programs, no bench-smoke
#   make check-layers  includes and symbols go one way (scripts/check_layers.py)
#   make check-boxes   each box compiled out is gone and the rest works
#                      (scripts/check_boxes.sh)
#
# tests/test_unit_*.c  white-box tests: linked statically with libhakmem.a, -Icore
# tests/test_*.c       black-box tests: linked with -lhakmem (the shared library)
# tests/test_*.cc      C++ black-box tests, same link
# tests/test_common.h   helpers shared by the black-box tests
# tests/handoff_queue.h the cross-thread tests' hand-off queue
# Every test binary lands in $(BUILD)/tests/.

TEST_CFLAGS   := -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Iinclude
TEST_CXXFLAGS := -std=c++17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Iinclude
TEST_LDLIBS   := -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN/..' -lcmocka -lpthread
TEST_UNIT_LDLIBS := -lcmocka -lpthread

TEST_C_SRC   := $(wildcard tests/test_*.c)
TEST_CXX_SRC := $(wildcard tests/test_*.cc)
TEST_BINS    := $(TEST_C_SRC:tests/%.c=$(BUILD)/tests/%) \
                $(TEST_CXX_SRC:tests/%.cc=$(BUILD)/tests/%)

# The fast subset (binary names); unit tests are always part of it.
TEST_CORE_NAMES := test_api test_align test_realloc test_calloc test_foreign test_cxx
TEST_CORE_BINS  := $(filter $(BUILD)/tests/test_unit_%,$(TEST_BINS)) \
                   $(filter $(TEST_CORE_NAMES:%=$(BUILD)/tests/%),$(TEST_BINS))

.PHONY: test test-core test-build ensure-cmocka check-layers check-boxes

ensure-cmocka:
	@scripts/ensure_cmocka.sh

# Unit tests: the static library and the internal headers. (GNU make prefers
# the pattern with the shortest stem, so this wins over the rule below.)
$(BUILD)/tests/test_unit_%: tests/test_unit_%.c $(BUILD)/libhakmem.a | ensure-cmocka
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Icore $(BOXDEFS) $< -o $@ $(BUILD)/libhakmem.a $(TEST_UNIT_LDLIBS)

$(BUILD)/tests/test_%: tests/test_%.c tests/test_common.h tests/handoff_queue.h $(BUILD)/libhakmem.so | ensure-cmocka
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< -o $@ $(TEST_LDLIBS)

$(BUILD)/tests/test_%: tests/test_%.cc tests/test_common.h $(BUILD)/libhakmem.so | ensure-cmocka
	@mkdir -p $(dir $@)
	$(CXX) $(TEST_CXXFLAGS) $< -o $@ $(TEST_LDLIBS)

test-build: $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a $(TEST_BINS)

check-layers: $(BUILD)/libhakmem.so
	@python3 scripts/check_layers.py $(BUILD)

check-boxes: $(BUILD)/libhakmem.so $(BUILD)/bench/bench_random_mixed $(BUILD)/bench/bench_random_mixed_mt
	@BUILD='$(BUILD)' MAKE='$(MAKE)' scripts/check_boxes.sh

# Run the tests even if some fail, then the two benchmark smokes; fail if any failed.
test: ensure-cmocka $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a $(TEST_BINS)
	@rc=0; \
	$(MAKE) --no-print-directory check-layers || rc=1; \
	$(MAKE) --no-print-directory check-boxes || rc=1; \
	$(MAKE) --no-print-directory bench-smoke || rc=1; \
	$(MAKE) --no-print-directory bench-apps-smoke || rc=1; \
	BUILD='$(BUILD)' scripts/test_install.sh || rc=1; \
	BUILD='$(BUILD)' scripts/run_tests.sh || rc=1; \
	exit $$rc

test-core: ensure-cmocka $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a $(TEST_CORE_BINS)
	@BUILD='$(BUILD)' scripts/run_tests.sh --no-programs $(notdir $(TEST_CORE_BINS))

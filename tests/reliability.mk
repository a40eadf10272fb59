# tests/reliability.mk — stress, bad inputs, fuzzing and sanitizer runs.
# Included by the top-level Makefile (-include tests/reliability.mk), after
# tests/tests.mk.  docs/RELIABILITY.md says what each covered.
#
#   make stress        tests/test_stress.c for STRESS_SECONDS (default 600),
#                      split over STRESS_PROFILES (default all five);
#                      STRESS_THREADS (default 8)
#   make bad-inputs    every bad input in every profile: prints the Markdown
#                      table of docs/RELIABILITY.md (tests/bad_input_driver.c)
#   make fuzz          libFuzzer harness tests/fuzz/fuzz_ops.c over the hak_*
#                      API, FUZZ_SECONDS (default 60) split over FUZZ_PROFILES
#                      (default all five); built with clang, ASan and UBSan,
#                      against a library built with OVERRIDE=0 in build-fuzz,
#                      with the caches' invariant checked (HAKMEM_HEAP_CHECK=1)
#   make test-ubsan    the whole test suite (library, tests, real programs)
#                      built with -fsanitize=undefined -fno-sanitize-recover
#                      in build-ubsan
#   make test-tsan     the concurrency tests (test_stress on the hak_* API,
#                      TSAN_SECONDS, default 60, all five profiles) built with
#                      clang -fsanitize=thread against a library built with
#                      OVERRIDE=0 and -fsanitize=thread, in build-tsan

.PHONY: stress bad-inputs fuzz fuzz-build test-ubsan test-tsan tsan-build

STRESS_SECONDS  ?= 600
STRESS_THREADS  ?= 8
STRESS_PROFILES ?= SPEED BALANCED LEAN DEBUG SECURE

stress: $(BUILD)/tests/test_stress
	STRESS_SECONDS=$(STRESS_SECONDS) STRESS_THREADS=$(STRESS_THREADS) \
	STRESS_PROFILES='$(STRESS_PROFILES)' $(BUILD)/tests/test_stress

# ---- bad inputs ----

$(BUILD)/bad_input_driver: tests/bad_input_driver.c $(BUILD)/libhakmem.so
	$(CC) $(TEST_CFLAGS) -fno-builtin $< -o $@ -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN' -ldl

bad-inputs: $(BUILD)/bad_input_driver
	$(BUILD)/bad_input_driver

# ---- clang for the fuzz and TSan builds (CI machines start fresh) ----

.PHONY: ensure-clang
ensure-clang:
	@command -v clang >/dev/null 2>&1 && [ -n "$$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || { \
	  echo "reliability.mk: installing clang and libclang-rt-14-dev" >&2; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q clang libclang-rt-14-dev || { apt-get update -q && apt-get install -y -q clang libclang-rt-14-dev; }; }

# ---- fuzzing ----

FUZZ_CC       ?= clang
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_PROFILES ?= SPEED BALANCED LEAN DEBUG SECURE
FUZZ_SAN      ?= -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_ARGS     ?=

# The library's objects are rebuilt by a sub-make in their own build dir
# (its flag stamp notices flag changes); FORCE lets that sub-make decide.
.PHONY: FORCE
FORCE:

ifneq ($(BUILD),$(FUZZ_BUILD))   # (the sub-make itself uses the Makefile's rule)
$(FUZZ_BUILD)/libhakmem.a: FORCE | ensure-clang
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) OVERRIDE=0 CC=$(FUZZ_CC) \
	  EXTRA_CFLAGS='-fsanitize=fuzzer-no-link $(FUZZ_SAN) -DHAKMEM_HEAP_CHECK=1' $(FUZZ_BUILD)/libhakmem.a
endif

$(FUZZ_BUILD)/fuzz_ops: tests/fuzz/fuzz_ops.c $(FUZZ_BUILD)/libhakmem.a
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Iinclude -fsanitize=fuzzer $(FUZZ_SAN) \
	  $< -o $@ $(FUZZ_BUILD)/libhakmem.a -lpthread

fuzz-build: $(FUZZ_BUILD)/fuzz_ops

# Each profile gets FUZZ_SECONDS / (number of profiles); the corpus grows in
# $(FUZZ_BUILD)/corpus (seeded from tests/fuzz/corpus); crashes land in
# $(FUZZ_BUILD)/artifacts.
fuzz: $(FUZZ_BUILD)/fuzz_ops
	@mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	@n=$(words $(FUZZ_PROFILES)); each=$$(( $(FUZZ_SECONDS) / n )); [ $$each -ge 1 ] || each=1; \
	for p in $(FUZZ_PROFILES); do \
	  echo "== fuzz_ops, HAKMEM_PROFILE=$$p, $$each s"; \
	  HAKMEM_PROFILE=$$p $(FUZZ_BUILD)/fuzz_ops -max_total_time=$$each -max_len=4096 -timeout=20 \
	    -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_BUILD)/artifacts/ -print_final_stats=1 $(FUZZ_ARGS) \
	    $(FUZZ_BUILD)/corpus tests/fuzz/corpus || exit 1; \
	done

# ---- UBSan: everything, in its own build dir ----

UBSAN_BUILD ?= build-ubsan
UBSAN_FLAGS ?= -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UBSAN_ENV   ?= UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1

# CC and CXX carry the flags, so they reach every compile and every link
# (the shared library then needs libubsan itself, and LD_PRELOAD works).
test-ubsan:
	$(MAKE) --no-print-directory BUILD=$(UBSAN_BUILD) CC='$(CC) $(UBSAN_FLAGS)' CXX='$(CXX) $(UBSAN_FLAGS)' test-build
	$(UBSAN_ENV) BUILD=$(UBSAN_BUILD) scripts/run_tests.sh

# ---- TSan: the concurrency tests on the hak_* API ----

TSAN_CC      ?= clang
TSAN_BUILD   ?= build-tsan
TSAN_SECONDS ?= 60
TSAN_FLAGS   ?= -fsanitize=thread -fno-omit-frame-pointer
TSAN_ENV     ?= TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:history_size=4

ifneq ($(BUILD),$(TSAN_BUILD))
$(TSAN_BUILD)/libhakmem.a: FORCE | ensure-clang
	$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) OVERRIDE=0 CC=$(TSAN_CC) \
	  EXTRA_CFLAGS='$(TSAN_FLAGS)' $(TSAN_BUILD)/libhakmem.a
endif

$(TSAN_BUILD)/tests/test_stress_tsan: tests/test_stress.c tests/test_common.h tests/handoff_queue.h $(TSAN_BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	$(TSAN_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Iinclude $(TSAN_FLAGS) -DSTRESS_PREFIXED \
	  $< -o $@ $(TSAN_BUILD)/libhakmem.a -lpthread

tsan-build: $(TSAN_BUILD)/tests/test_stress_tsan

test-tsan: $(TSAN_BUILD)/tests/test_stress_tsan
	$(TSAN_ENV) STRESS_SECONDS=$(TSAN_SECONDS) STRESS_PROFILES='$(STRESS_PROFILES)' $(TSAN_BUILD)/tests/test_stress_tsan

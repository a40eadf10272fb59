# bench/bench.mk — benchmark binaries and the bench* targets.
# Included by the top-level Makefile, which defines CC, CXX, BUILD and the
# $(BUILD)/libhakmem.so / $(BUILD)/libhakmem.a targets.
#
#   make bench           Mixed benchmark under glibc and hakmem, with the ratio
#   make bench-compare   whole suite vs glibc/mimalloc/jemalloc/tcmalloc
#                        (BENCH_ARGS="--quick", "--only mixed,larson", ...)
#   make bench-quick     the same with --quick (about 3 minutes)
#   make bench-instr     instructions per op under callgrind: Mixed and issue
#                        15's patterns (BENCH_ARGS="--bench bulk --functions 20")
#   make bench-smoke     every benchmark once, tiny arguments, under hakmem
#   make bench-apps      the applications (redis, sqlite3, python3, gcc, perl,
#                        jq; bench/suite.txt's `apps` group) vs every peer
#   make bench-apps-smoke  each application once, small inputs, under every
#                        allocator, outputs compared (part of make test)
#   make bench-build     only build the binaries into $(BUILD)/bench/
#
# The benchmarks link against glibc only; the allocator under test is chosen
# at run time with LD_PRELOAD, so one binary serves every allocator.

BENCH_OUT      := $(BUILD)/bench
BENCH_CFLAGS   := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread $(BENCH_EXTRA_CFLAGS)
BENCH_CXXFLAGS := -std=c++17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread $(BENCH_EXTRA_CFLAGS)
BENCH_HDRS     := $(wildcard bench/*.h)
BENCH_BINS     := $(patsubst bench/%.c,$(BENCH_OUT)/%,$(wildcard bench/bench_*.c)) \
                  $(patsubst bench/%.cpp,$(BENCH_OUT)/%,$(wildcard bench/bench_*.cpp))
BENCH_ENV      := BUILD=$(BUILD)

.PHONY: bench bench-build bench-compare bench-quick bench-instr bench-smoke bench-apps bench-apps-smoke

BENCH_FLOOR    := $(BENCH_OUT)/libfloor_malloc.so $(BENCH_OUT)/libfloor1_malloc.so
# The applications' timer and preload probe (bench/apps/, scripts/bench_app.sh).
BENCH_APPS     := $(BENCH_OUT)/app_run $(BENCH_OUT)/libapp_probe.so

bench-build: $(BENCH_BINS) $(BENCH_FLOOR) $(BENCH_APPS)

$(BENCH_OUT)/app_run: bench/apps/app_run.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@
$(BENCH_OUT)/libapp_probe.so: bench/apps/app_probe.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared $< -o $@

# The Mixed loop's yardsticks (bench/floor_malloc.c), preloaded like a peer.
$(BENCH_OUT)/libfloor_malloc.so: bench/floor_malloc.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fno-builtin $< -o $@
$(BENCH_OUT)/libfloor1_malloc.so: bench/floor_malloc.c bench/bench.mk
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -fno-builtin -DFLOOR_ONE_THREAD $< -o $@

$(BENCH_OUT)/%: bench/%.c $(BENCH_HDRS) bench/bench.mk
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $< -o $@

$(BENCH_OUT)/%: bench/%.cpp $(BENCH_HDRS) bench/bench.mk
	@mkdir -p $(@D)
	$(CXX) $(BENCH_CXXFLAGS) $< -o $@

bench: $(BUILD)/libhakmem.so $(BENCH_OUT)/bench_random_mixed $(BENCH_FLOOR)
	$(BENCH_ENV) scripts/bench_mixed.sh $(BENCH_ARGS)

bench-compare: $(BUILD)/libhakmem.so $(BENCH_BINS) $(BENCH_APPS)
	$(BENCH_ENV) scripts/bench_compare.sh $(BENCH_ARGS)

bench-quick: $(BUILD)/libhakmem.so $(BENCH_BINS) $(BENCH_APPS)
	$(BENCH_ENV) scripts/bench_compare.sh --quick $(BENCH_ARGS)

bench-apps: $(BUILD)/libhakmem.so $(BENCH_APPS)
	$(BENCH_ENV) scripts/bench_compare.sh --only apps $(BENCH_ARGS)

bench-apps-smoke: $(BUILD)/libhakmem.so $(BENCH_APPS)
	$(BENCH_ENV) scripts/bench_smoke.sh --only apps --allocators glibc,hakmem,mimalloc,jemalloc,tcmalloc $(BENCH_ARGS)

bench-instr: $(BUILD)/libhakmem.so $(BENCH_BINS)
	$(BENCH_ENV) scripts/bench_instr.sh $(BENCH_ARGS)

bench-smoke: $(BUILD)/libhakmem.so $(BENCH_BINS)
	$(BENCH_ENV) scripts/bench_smoke.sh $(BENCH_ARGS)

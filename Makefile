# hakmem — build, test, benchmark.
#
#   make              build/libhakmem.so (+ .so.0) and build/libhakmem.a
#   make test         build and run every test (installs libcmocka-dev if missing)
#   make bench        the Mixed benchmark under glibc and hakmem, side by side
#   make clean
#
# Compile-out switches: make BOX_<NAME>=0 (one box), make BOXES=none (all);
# a box switched off is not compiled at all (its header has inline stubs).

CC      ?= cc
CXX     ?= c++
BUILD   ?= build
OPT     ?= -O2
VERSION_MAJOR := 0
VERSION_MINOR := 1
VERSION_PATCH := 0

WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
LIBFLAGS := -fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-plt \
            -fno-semantic-interposition -fno-strict-aliasing \
            -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc
BOXDEFS := $(if $(filter none,$(BOXES)),-DHAKMEM_BOXES_NONE=1) \
           $(foreach v,$(filter BOX_%,$(.VARIABLES)),-DHAKMEM_$(v)=$($(v))) \
           $(if $(OVERRIDE),-DHAKMEM_OVERRIDE=$(OVERRIDE))
CFLAGS_LIB := $(CSTD) $(OPT) -g $(WARN) $(LIBFLAGS) -Iinclude -Icore $(BOXDEFS) $(EXTRA_CFLAGS)

# The switchable boxes (core/box/<name>_box.c); the release policy box is
# always in.  A box is on unless BOX_<NAME>=0, or BOXES=none without
# BOX_<NAME>=1 (core/box/boxes.h says the same to the compiler).
SWITCHABLE_BOXES := stats verbose debug secure thp prewarm flush_check
box_on = $(if $(filter 0,$(BOX_$(1))),,$(if $(filter none,$(BOXES)),$(filter 1,$(BOX_$(1))),1))
BOXES_ON := $(foreach b,$(SWITCHABLE_BOXES),$(if $(call box_on,$(shell echo $(b) | tr a-z A-Z)),$(b)))
LIB_SRC := $(wildcard core/api/*.c core/front/*.c core/heap/*.c core/backend/*.c core/config/*.c core/base/*.c) \
           core/box/release_box.c $(BOXES_ON:%=core/box/%_box.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SONAME  := libhakmem.so.$(VERSION_MAJOR)

.PHONY: all clean test bench docs print-switchable-boxes
all: $(BUILD)/libhakmem.so $(BUILD)/libhakmem.a

# Rebuild everything when the flags change (e.g. BOXES=none after a default build).
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(CFLAGS_LIB)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CFLAGS_LIB)' > $(FLAGS_STAMP))

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -MMD -MP -c $< -o $@

$(BUILD)/$(SONAME): $(LIB_OBJ) core/api/hakmem.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=core/api/hakmem.map \
	  -Wl,-z,now -Wl,-z,relro -o $@ $(LIB_OBJ) -lpthread

$(BUILD)/libhakmem.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# The C++ operators may unwind a throwing new_handler through C frames.
$(BUILD)/obj/core/api/cxx_new.o $(BUILD)/obj-static/core/api/cxx_new.o: CFLAGS_LIB += -fexceptions

# The archive's cxx_new.o refers to libstdc++ strongly (see cxx_new.c).
$(BUILD)/obj-static/core/api/cxx_new.o: core/api/cxx_new.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -DHAKMEM_STATIC_ARCHIVE -MMD -MP -c $< -o $@

ARCHIVE_OBJ := $(filter-out $(BUILD)/obj/core/api/cxx_new.o,$(LIB_OBJ)) $(BUILD)/obj-static/core/api/cxx_new.o

$(BUILD)/libhakmem.a: $(ARCHIVE_OBJ)
	rm -f $@
	ar rcs $@ $(ARCHIVE_OBJ)

-include $(LIB_OBJ:.o=.d)

# Test and benchmark rules live beside their sources.
-include tests/tests.mk
-include tests/reliability.mk
-include tests/glibc.mk
-include bench/bench.mk
-include scripts/install.mk

print-switchable-boxes:
	@echo $(SWITCHABLE_BOXES)

# docs/ENV.md is generated from the registry (core/config/env_registry.h).
$(BUILD)/gen_env_doc: scripts/gen_env_doc.c $(BUILD)/libhakmem.a
	$(CC) -O1 $< -o $@ $(BUILD)/libhakmem.a -lpthread

docs: $(BUILD)/gen_env_doc
	$(BUILD)/gen_env_doc > docs/ENV.md

clean:
	rm -rf $(BUILD) build-*

# Runtime build (included by the top-level Makefile). `make -j2 runtime`
# rebuilds only what changed: every object has a dependency file (-MMD).
#
# Layout (docs/runtime.md):
#   runtime/lib/*.c            portable modules (protected-FS reader, enclave
#                              config, SGXS, SIGSTRUCT, key files, console
#                              records, the FS shield's tree). They use only
#                              memcpy/memset/memmove/memcmp/strlen and
#                              rt_malloc/rt_calloc/rt_free (runtime/include/
#                              rt_alloc.h), so they build both into the
#                              freestanding runtime and into host unit tests.
#   runtime/src/SUBSYSTEM/     the freestanding runtime, one directory per
#                              subsystem: core (start-up, loader, trap,
#                              threads, signals, processes, memory, Iago),
#                              fs and console (shields), transport,
#                              attest (the CAS client).
#   runtime/src/host/          scone-host, an ordinary static host tool.
#   runtime/tools/             build tools run on the host (canarygs).
#   runtime/tests/test_*.c     host unit tests under ASan+UBSan, each linked
#                              with the lib objects, runtime/tests/host_shim.c,
#                              BearSSL and the runtime/src units it names
#                              below (compiled for the host, with the test's
#                              renames). CHECK and friends: testutil.h.
RT_BUILD    := runtime/build
RT_SUBSYS   := core sched fs net console transport attest vol
RT_INC      := -Iruntime/include -Iruntime/lib $(addprefix -Iruntime/src/,$(RT_SUBSYS))
RT_WARN     := -std=c11 -Wall -Wextra -Werror
BEARSSL_A   ?= /usr/lib/x86_64-linux-gnu/libbearssl.a
# Debian's liblz4.a: LZ4_decompress_safe for compressed FS chunks (no
# allocation; its allocating entry points are never called: core/libc.c).
LZ4_A       ?= /usr/lib/x86_64-linux-gnu/liblz4.a
OBJDUMP     ?= objdump
# The runtime's text is the Syscall User Dispatch exempt range (docs/runtime.md).
RT_TEXT_ADDR := 0x7e0000000000

RT_LIB_SRC  := $(sort $(wildcard runtime/lib/*.c))
RT_SRC      := $(sort $(foreach d,$(RT_SUBSYS),$(wildcard runtime/src/$(d)/*.c runtime/src/$(d)/*.S)))
RT_HOST_SRC := $(sort $(wildcard runtime/src/host/*.c))
RT_OBJ      := $(patsubst runtime/%,$(RT_BUILD)/obj/%.o,$(RT_SRC) $(RT_LIB_SRC))
RT_HOST_OBJ := $(patsubst runtime/%,$(RT_BUILD)/obj/%.o,$(RT_HOST_SRC))

# Freestanding flags for the runtime image: no libc, no stack protector of our
# own, static, reproducible.
RT_CFLAGS   := $(RT_WARN) -O2 -g0 -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
               -fpie -fcf-protection=none -fno-tree-loop-distribute-patterns -ffile-prefix-map=$(CURDIR)=. $(RT_INC) -D_GNU_SOURCE
RT_LDFLAGS  ?= -static -nostdlib -no-pie -Wl,--build-id=none -Wl,-z,noexecstack
RT_HOSTCFLAGS := $(RT_WARN) -O2 -g0 -D_GNU_SOURCE -ffile-prefix-map=$(CURDIR)=.
# Host test flags.
RT_TCFLAGS  := $(RT_WARN) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer $(RT_INC) -D_GNU_SOURCE -DRT_HOST_TEST
RT_DEPFLAGS  = -MMD -MP
# `make V=1` prints the commands; by default one line per step.
Q            = $(if $(V),,@)
rt_say       = $(if $(V),,printf '  %-5s %s\n' '$(1)' '$(2)';)

.PHONY: runtime test-runtime runtime-clean

runtime: pkg/runtimebin/bin/scone-run pkg/runtimebin/bin/scone-host pkg/runtimebin/bin/runtime-layer.json

# Objects are rebuilt when the flags change, not only when sources do.
$(RT_BUILD)/flags.txt: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(CC)' '$(RT_CFLAGS) -mgeneral-regs-only $(RT_VECTOR_SRCS)' '$(RT_LDFLAGS)' '$(RT_HOSTCFLAGS)' '$(RT_TCFLAGS)' '$(BEARSSL_A)' '$(LZ4_A)' > $@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

$(RT_BUILD)/obj/src/host/%.c.o: runtime/src/host/%.c $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CC,$@) $(CC) $(RT_HOSTCFLAGS) $(RT_DEPFLAGS) -c $< -o $@

# The runtime's C code uses general-purpose registers only: the fast path of
# rewritten system calls (src/core/fast.h) saves the application's vector
# state only for calls that may reach code using vector registers, i.e.
# BearSSL and the files listed here (trap.c: fast_needs_vector).
RT_GPR_FLAG := -mgeneral-regs-only
RT_VECTOR_SRCS := lib/sha256blk.c lib/gcmni.c
$(patsubst %,$(RT_BUILD)/obj/%.o,$(RT_VECTOR_SRCS)): RT_GPR_FLAG :=

$(RT_BUILD)/obj/%.c.o: runtime/%.c $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CC,$@) $(CC) $(RT_CFLAGS) $(RT_GPR_FLAG) $(RT_DEPFLAGS) -c $< -o $@

$(RT_BUILD)/obj/%.S.o: runtime/%.S $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,AS,$@) $(CC) $(RT_CFLAGS) $(RT_DEPFLAGS) -c $< -o $@

# Linked, then BearSSL's and LZ4's stack-protector canary reads are moved
# from FS (the application's thread pointer) to GS (the runtime's block):
# runtime/tools/canarygs.c says why; it fails on any other FS operand.
$(RT_BUILD)/scone-run: $(RT_OBJ) $(RT_BUILD)/tools/canarygs
	$(Q)$(call rt_say,LD,$@) $(CC) $(RT_LDFLAGS) -Wl,-Ttext-segment=$(RT_TEXT_ADDR) -Wl,-z,max-page-size=4096 -Wl,--no-relax -Wl,-e,_start \
		-o $@.tmp $(RT_OBJ) $(BEARSSL_A) $(LZ4_A) -lgcc
	$(Q)$(call rt_say,GS,$@) $(OBJDUMP) -d --no-show-raw-insn $@.tmp | $(RT_BUILD)/tools/canarygs $@.tmp >/dev/null || { rm -f $@.tmp; exit 1; }
	$(Q)mv $@.tmp $@

$(RT_BUILD)/tools/canarygs: runtime/tools/canarygs.c $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CC,$@) $(CC) $(RT_HOSTCFLAGS) -o $@ $<

$(RT_BUILD)/scone-host: $(RT_HOST_OBJ)
	$(Q)$(call rt_say,LD,$@) $(CC) -static -Wl,--build-id=none -o $@ $(RT_HOST_OBJ)

# Embedded into the scone-build binary (pkg/runtimebin).
pkg/runtimebin/bin/scone-run pkg/runtimebin/bin/scone-host: pkg/runtimebin/bin/%: $(RT_BUILD)/%
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CP,$@) cp $< $@

# The runtime base layer of converted images, built once here rather than
# at every conversion (internal/runtimelayer; it also writes
# runtime-layer.tar.gz).
pkg/runtimebin/bin/runtime-layer.json: pkg/runtimebin/bin/scone-run pkg/runtimebin/bin/scone-host internal/runtimelayer/main.go pkg/sconeimage/layer.go pkg/sconeimage/tar.go
	$(Q)$(call rt_say,GEN,$@) CGO_ENABLED=0 $(GO) run -trimpath ./internal/runtimelayer pkg/runtimebin/bin

# ---- host unit tests ----
RT_TEST_SRC := $(sort $(wildcard runtime/tests/test_*.c))
RT_TESTS    := $(patsubst runtime/tests/%.c,$(RT_BUILD)/tests/%,$(RT_TEST_SRC))
RT_TOBJ     := $(RT_BUILD)/tobj
RT_TLIB_OBJ := $(patsubst runtime/lib/%.c,$(RT_TOBJ)/lib/%.o,$(RT_LIB_SRC))

# The runtime/src units a test links (paths below runtime/src, no .c), and
# the renames they are compiled with (so that they coexist with libc or the
# host shim in one test program).
RT_UNITS_test_alloc     := core/region core/alloc
RT_DEFS_test_alloc      := -Drt_malloc=t_malloc -Drt_calloc=t_calloc -Drt_free=t_free
RT_UNITS_test_host_probe := host/sgxprobe
RT_UNITS_test_fdguard   := core/fdguard core/fdtab core/locks core/parse core/util
RT_UNITS_test_iago      := core/iago core/fdtab core/vma core/region core/locks core/parse
RT_UNITS_test_loader    := core/loader core/region core/util core/sites core/stubmap core/locks
RT_UNITS_test_spare     := transport/spare
RT_UNITS_test_stack     := core/stack
RT_UNITS_test_string    := core/string
RT_UNITS_test_stubmap   := core/stubmap core/locks
RT_DEFS_test_string     := -Dmemcpy=r_memcpy -Dmemset=r_memset -Dmemmove=r_memmove -Dmemcmp=r_memcmp -Dstrlen=r_strlen

test-runtime: $(RT_TESTS) ## run the C unit tests (host build, sanitizers)
	@set -e; for t in $(RT_TESTS); do echo "== $$t"; $$t; done

$(RT_TOBJ)/lib/%.o: runtime/lib/%.c $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CC,$@) $(CC) $(RT_TCFLAGS) $(RT_DEPFLAGS) -c $< -o $@

$(RT_TOBJ)/tests/%.o: runtime/tests/%.c $(RT_BUILD)/flags.txt
	@mkdir -p $(@D)
	$(Q)$(call rt_say,CC,$@) $(CC) $(RT_TCFLAGS) $(RT_DEPFLAGS) -c $< -o $@

define rt_test
$(RT_TOBJ)/units/$(1)/%.o: runtime/src/%.c $(RT_BUILD)/flags.txt
	@mkdir -p $$(@D)
	$$(Q)$(call rt_say,CC,$$@) $$(CC) $$(RT_TCFLAGS) $(RT_DEFS_$(1)) $$(RT_DEPFLAGS) -c $$< -o $$@

$(RT_BUILD)/tests/$(1): $(RT_TOBJ)/tests/$(1).o $(patsubst %,$(RT_TOBJ)/units/$(1)/%.o,$(RT_UNITS_$(1))) \
		$(RT_TLIB_OBJ) $(RT_TOBJ)/tests/host_shim.o
	@mkdir -p $$(@D)
	$$(Q)$(call rt_say,LD,$$@) $$(CC) $$(RT_TCFLAGS) -o $$@ $$^ -lbearssl -llz4
endef
$(foreach t,$(patsubst runtime/tests/%.c,%,$(RT_TEST_SRC)),$(eval $(call rt_test,$(t))))

runtime-clean:
	rm -rf $(RT_BUILD)

-include $(shell find $(RT_BUILD) -name '*.d' 2>/dev/null)

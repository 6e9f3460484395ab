# Runtime build (included by the top-level Makefile).
#
# Layout (conventions shared by everyone working in runtime/):
#   runtime/lib/*.c      portable modules (protected-FS reader, enclave config
#                        parser, SGXS measurement, SIGSTRUCT check, console
#                        records, crypto glue). They use only memcpy/memset/
#                        memmove/memcmp/strlen and rt_malloc/rt_calloc/rt_free
#                        (runtime/include/rt_alloc.h), so they build both into
#                        the freestanding runtime and into host unit tests.
#   runtime/src/*.c|*.S  the freestanding runtime proper (loader, trap, shields,
#                        transport, alloc, libc-free string functions).
#   runtime/tests/test_*.c  host unit tests, each linked with the lib objects,
#                        runtime/tests/host_shim.c and BearSSL, run under ASan+UBSan.
#                        Their CHECK, failure counter, read_file and final
#                        "test_x: ok" line come from runtime/tests/testutil.h.
RT_DIR      := runtime
RT_BUILD    := runtime/build
RT_INC      := -Iruntime/include -Iruntime/lib
RT_WARN     := -std=c11 -Wall -Wextra -Werror
BEARSSL_A   ?= /usr/lib/x86_64-linux-gnu/libbearssl.a

RT_LIB_SRC  := $(sort $(wildcard runtime/lib/*.c))
RT_SRC      := $(sort $(wildcard runtime/src/*.c runtime/src/*.S))
RT_TEST_SRC := $(sort $(wildcard runtime/tests/test_*.c))
RT_TESTS    := $(patsubst runtime/tests/%.c,$(RT_BUILD)/tests/%,$(RT_TEST_SRC))

# Freestanding flags for the runtime image: no libc, no stack protector of our
# own, static, reproducible.
RT_CFLAGS   := $(RT_WARN) -O2 -g0 -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
               -fpie -fcf-protection=none -fno-tree-loop-distribute-patterns -ffile-prefix-map=$(CURDIR)=. $(RT_INC) -D_GNU_SOURCE
RT_LDFLAGS  ?= -static -nostdlib -no-pie -Wl,--build-id=none -Wl,-z,noexecstack
# Host test flags.
RT_TCFLAGS  := $(RT_WARN) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer $(RT_INC) -D_GNU_SOURCE -DRT_HOST_TEST

.PHONY: runtime test-runtime runtime-clean

runtime: $(RT_BUILD)/.built

$(RT_BUILD)/.built: $(RT_LIB_SRC) $(RT_SRC) $(wildcard runtime/include/*.h runtime/lib/*.h runtime/src/*.h) runtime/runtime.mk
	@mkdir -p $(RT_BUILD) pkg/runtimebin/bin
	@if [ -f runtime/build.sh ]; then RT_CFLAGS="$(RT_CFLAGS)" RT_LDFLAGS="$(RT_LDFLAGS)" BEARSSL_A="$(BEARSSL_A)" ./runtime/build.sh $(RT_BUILD); \
	 else echo "runtime: no runtime/build.sh yet; nothing to build"; fi
	@touch $@

test-runtime: $(RT_TESTS) ## run the C unit tests (host build, sanitizers)
	@set -e; for t in $(RT_TESTS); do echo "== $$t"; (cd $(CURDIR) && $$t); done

$(RT_BUILD)/tests/%: runtime/tests/%.c $(RT_LIB_SRC) $(wildcard runtime/tests/host_shim.c runtime/tests/*.h runtime/include/*.h runtime/lib/*.h runtime/src/*.c runtime/src/*.h runtime/src/host/*)
	@mkdir -p $(dir $@)
	$(CC) $(RT_TCFLAGS) -o $@ $< $(RT_LIB_SRC) $(wildcard runtime/tests/host_shim.c) -lbearssl

runtime-clean:
	rm -rf $(RT_BUILD)

# The runtime core without the shields (weak no-shield fallbacks), for
# testing the core (loader, trap, threads, signals) in isolation:
# runtime/build/core/scone-run. Used by the runtime/e2e dev-mode tests.
.PHONY: runtime-core
runtime-core:
	@mkdir -p $(RT_BUILD)/core
	@RT_CORE_ONLY=1 RT_CFLAGS="$(RT_CFLAGS)" RT_LDFLAGS="$(RT_LDFLAGS)" BEARSSL_A="$(BEARSSL_A)" ./runtime/build.sh $(RT_BUILD)/core

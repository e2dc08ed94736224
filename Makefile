# SPDX-License-Identifier: MIT
# ncx: one non-recursive Makefile for everything. See README.md.
#
#   make            build the library, the programs, the unit tests (build/)
#   make check      install missing Debian packages, build every variant, run every test
#   make run        build, start the collector with a local sender on loopback
#   make bench      build the benchmarks (bench/README.md says how to run them)
#   make kmod       build kmod/ (ncxcon.ko) for every supported kernel: build/kmod/RELEASE/
#   make dkms-install  ncxcon through DKMS for the running kernel and every update
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Sources are found by their place, so adding a file needs no edit here:
#   lib/*.c               -> build/libncx.a (and one per sanitizer variant)
#   cmd/<prog>/*.c        -> build/bin/<prog>
#   tests/unit/test_*.c   -> build/tests/test_*   (cmocka; plus tests/support/*.c)
#   tests/fuzz/fuzz_*.c   -> build/fuzz/fuzz_*    (clang, libFuzzer + ASan + UBSan)
#   tests/e2e/*.sh        run by scripts/run-tests against build/asan/bin
#   bench/bench_*.c       -> build/bench/bench_*
# A unit test whose source contains the marker "ncx:tsan" also runs under TSan.

PREFIX ?= /usr/local
DESTDIR ?=
B := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CC ?= cc
CLANG ?= clang
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wvla -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 $(WARN) -pthread -Iinclude -Itests/support -D_GNU_SOURCE \
	-DNCX_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS := -pthread
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

SAN_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_TSAN := -fsanitize=thread

LIB_SRC := $(sort $(wildcard lib/*.c))
CMDS := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard cmd/*/*.c)))))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS := $(basename $(notdir $(UNIT_SRC)))
TSAN_UNITS := $(basename $(notdir $(shell grep -l 'ncx:tsan' $(UNIT_SRC) /dev/null 2>/dev/null)))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS := $(basename $(notdir $(FUZZ_SRC)))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCHES := $(basename $(notdir $(BENCH_SRC)))

# program(CMD, DIR, COMPILER, FLAGS): one program from cmd/CMD/*.c.
define program
$(2)/bin/$(1): $(patsubst %.c,$(2)/obj/%.o,$(wildcard cmd/$(1)/*.c)) $(2)/libncx.a
	@mkdir -p $$(@D)
	$(3) $(4) -o $$@ $$^ $$(LDLIBS)
endef

# variant(NAME, DIR, COMPILER, FLAGS): a library, programs and unit tests built
# with one compiler and one set of flags, under DIR.
define variant
$(2)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$(3) $$(BASE_CFLAGS) $(4) -c -o $$@ $$<
$(2)/libncx.a: $$(patsubst %.c,$(2)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^
$$(foreach c,$$(CMDS),$$(eval $$(call program,$$(c),$(2),$(3),$(4))))
$(2)/tests/%: $(2)/obj/tests/unit/%.o $$(patsubst %.c,$(2)/obj/%.o,$$(SUPPORT_SRC)) $(2)/libncx.a
	@mkdir -p $$(@D)
	$(3) $(4) -o $$@ $$(filter %.o,$$^) $(2)/libncx.a $$(CMOCKA_LIBS) $$(LDLIBS)
$(1)-bins: $$(addprefix $(2)/bin/,$$(CMDS))
$(1)-tests: $$(addprefix $(2)/tests/,$$(UNITS))
endef

$(eval $(call variant,main,$(B),$(CC),$(CFLAGS)))
$(eval $(call variant,asan,$(B)/asan,$(CLANG),-O1 -g $(SAN_ASAN)))
$(eval $(call variant,tsan,$(B)/tsan,$(CLANG),-O1 -g $(SAN_TSAN)))

# Fuzzers: the library instrumented for coverage, each target linked with libFuzzer.
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(BASE_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzz/%: $(B)/fuzzobj/tests/fuzz/%.o $(patsubst %.c,$(B)/fuzzobj/%.o,$(LIB_SRC))
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libncx.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libncx.a $(LDLIBS) -lm

.PHONY: all deps check run bench install clean fuzzers asan tsan clang-build kmod \
	dkms-install dkms-uninstall
all: main-bins main-tests

deps:
	@./scripts/deps

fuzzers: $(addprefix $(B)/fuzz/,$(FUZZERS))
asan: asan-bins asan-tests
tsan: $(addprefix $(B)/tsan/tests/,$(TSAN_UNITS))
bench: $(addprefix $(B)/bench/,$(BENCHES)) main-bins

# Needs the kernels' headers (scripts/deps installs them), so not part of all.
kmod:
	@./scripts/build-kmod $(B)/kmod

# ncxcon through DKMS, rebuilt on every kernel update (docs/kmod.md).
dkms-install:
	./scripts/kmod-dkms install
dkms-uninstall:
	./scripts/kmod-dkms remove

# The whole tree also builds warning-free with clang (the asan variant uses
# clang); -Werror here keeps both compilers honest.
check: deps
	$(MAKE) --no-print-directory all asan tsan fuzzers CFLAGS='$(CFLAGS) -Werror'
	@KCFLAGS=-Werror ./scripts/build-kmod $(B)/kmod
	@B=$(B) UNITS='$(UNITS)' TSAN_UNITS='$(TSAN_UNITS)' FUZZERS='$(FUZZERS)' \
		./scripts/run-tests

run:
	@./scripts/deps run
	$(MAKE) --no-print-directory main-bins
	@B=$(B) exec ./scripts/run-demo

install: main-bins
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/ncx $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(addprefix $(B)/bin/,$(CMDS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 include/ncx/*.h $(DESTDIR)$(PREFIX)/include/ncx/
	install -m 644 $(B)/libncx.a $(DESTDIR)$(PREFIX)/lib/
	@for sect in 1 8; do \
		pages=$$(ls docs/man/*.$$sect 2>/dev/null); [ -n "$$pages" ] || continue; \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$$sect && \
		install -m 644 $$pages $(DESTDIR)$(PREFIX)/share/man/man$$sect/ || exit 1; \
	done

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

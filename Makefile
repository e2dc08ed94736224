# SPDX-License-Identifier: MIT
# ncx: one non-recursive Makefile for everything. See README.md.
#
#   make            = make all: the library, the programs, the unit tests (build/)
#   make check      install missing Debian packages, build every variant, run every test
#   make run        build, start the collector with a local sender on loopback
#   make bench      build the benchmarks (bench/README.md says how to run them)
#   make kmod       build kmod/ (ncxcon.ko) for every supported kernel: build/kmod/RELEASE/
#   make dkms-install  ncxcon through DKMS for the running kernel and every update
#   make install    PREFIX=/usr/local DESTDIR= (the packages' layout: see "Installed layout")
#   make uninstall  removes what make install put (same PREFIX, DESTDIR); keeps edited /etc files
#   make man        rewrite docs/man/ncxd.8's option list from ncxd's option table
#   make deb        Debian packages ncx, libncx-dev, ncx-dkms into build/deb/ (scripts/deb)
#   make clean
#
# Sources are found by their place, so adding a file needs no edit here:
#   lib/*.c               -> build/libncx.a (and one per sanitizer variant)
#   cmd/<prog>/*.c        -> build/bin/<prog>
#   tests/unit/test_*.c   -> build/tests/test_*   (cmocka; plus tests/support/*.c,
#                            linked with libncx.a and libncxd.a: ncxd's modules but main.c)
#   tests/fuzz/fuzz_*.c   -> build/fuzz/fuzz_*    (clang, libFuzzer + ASan + UBSan; plus tests/support/*.c)
#   tests/e2e/*.sh        run by scripts/run-tests against build/asan/bin
#   bench/bench_*.c       -> build/bench/bench_*
# A unit test whose source contains the marker "ncx:tsan" also runs under TSan.

# The first target below would otherwise be the first rule the variant macro makes.
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
DESTDIR ?=
B := build
# The release number lives in VERSION alone; kmod/dkms.conf and debian/changelog must
# agree with it (tests/e2e/version.sh). Programs print "ncxd 0.1.0 (git describe)",
# or "ncxd 0.1.0" from a tree that is not a git checkout (a tarball, a package build
# from a copy: scripts/deb passes the checkout's description in NCX_GIT_DESCRIBE).
VERSION := $(shell cat VERSION)
NCX_GIT_DESCRIBE ?= $(shell [ -e .git ] && git describe --always --dirty 2>/dev/null)
NCX_VERSION_STRING := $(VERSION)$(if $(NCX_GIT_DESCRIBE), ($(NCX_GIT_DESCRIBE)))

CC ?= cc
CLANG ?= clang
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wvla -Wundef -Wno-unused-parameter
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 $(WARN) -pthread -Iinclude -Itests/support -D_GNU_SOURCE \
	-DNCX_VERSION='"$(NCX_VERSION_STRING)"' -MMD -MP
# libseccomp: the programs' sandbox (lib/sandbox.c); as-needed, so only
# what calls it depends on it.
LDLIBS := -pthread -Wl,--as-needed -lseccomp
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

SAN_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_TSAN := -fsanitize=thread

LIB_SRC := $(sort $(wildcard lib/*.c))
CMDS := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard cmd/*/*.c)))))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
# ncxd's modules but main.c, for the unit tests to link (not to #include).
NCXD_LIB_SRC := $(filter-out cmd/ncxd/main.c,$(sort $(wildcard cmd/ncxd/*.c)))
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
	$(3) $(4) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef

# variant(NAME, DIR, COMPILER, FLAGS): a library, programs and unit tests built
# with one compiler and one set of flags, under DIR.
define variant
$(2)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$(3) $$(CPPFLAGS) $$(BASE_CFLAGS) $(4) -c -o $$@ $$<
$(2)/libncx.a: $$(patsubst %.c,$(2)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^
$$(foreach c,$$(CMDS),$$(eval $$(call program,$$(c),$(2),$(3),$(4))))
$(2)/libncxd.a: $$(patsubst %.c,$(2)/obj/%.o,$$(NCXD_LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^
$(2)/tests/%: $(2)/obj/tests/unit/%.o $$(patsubst %.c,$(2)/obj/%.o,$$(SUPPORT_SRC)) \
		$(2)/libncxd.a $(2)/libncx.a
	@mkdir -p $$(@D)
	$(3) $(4) -o $$@ $$(filter %.o,$$^) $(2)/libncxd.a $(2)/libncx.a $$(CMOCKA_LIBS) $$(LDLIBS)
$(1)-bins: $$(addprefix $(2)/bin/,$$(CMDS))
$(1)-tests: $$(addprefix $(2)/tests/,$$(UNITS))
endef

$(eval $(call variant,main,$(B),$(CC),$(CFLAGS)))
$(eval $(call variant,asan,$(B)/asan,$(CLANG),-O1 -g $(SAN_ASAN)))
$(eval $(call variant,tsan,$(B)/tsan,$(CLANG),-O1 -g $(SAN_TSAN)))

# What prints the version is rebuilt when the version string changes (a commit, a
# release): $(B)/.version holds the last one and is rewritten only when it differs.
ifneq ($(MAKECMDGOALS),clean)
$(shell mkdir -p $(B) && [ "$$(cat $(B)/.version 2>/dev/null)" = '$(NCX_VERSION_STRING)' ] || \
	echo '$(NCX_VERSION_STRING)' >$(B)/.version)
endif
$(foreach d,$(B) $(B)/asan $(B)/tsan,$(d)/obj/cmd/ncxd/main.o $(d)/obj/cmd/ncxd/metrics.o \
	$(d)/obj/cmd/ncx/main.o): $(B)/.version

# Fuzzers: the library instrumented for coverage, each target linked with libFuzzer.
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(BASE_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(B)/fuzzobj/libncxd.a: $(patsubst %.c,$(B)/fuzzobj/%.o,$(NCXD_LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
$(B)/fuzz/%: $(B)/fuzzobj/tests/fuzz/%.o $(patsubst %.c,$(B)/fuzzobj/%.o,$(LIB_SRC) $(SUPPORT_SRC)) \
		$(B)/fuzzobj/libncxd.a
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(B)/fuzzobj/libncxd.a $(LDLIBS)

$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libncx.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libncx.a $(LDLIBS) -lm

.PHONY: all deps check run bench install uninstall dist deb clean fuzzers asan tsan man \
	clang-build kmod dkms-install dkms-uninstall FORCE
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

# Installed layout: the same as the Debian packages' (debian/rules calls this with
# PREFIX=/usr). ncx-loadgen and ncx-relay are test tools and are not installed.
# The units, sysusers.d and tmpfiles.d entries go under PREFIX/lib, where systemd looks
# (/usr/local/lib/systemd/system too); the /etc files go to SYSCONFDIR whatever PREFIX.
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
UNITS_DIST := ncxd.service ncx-forward.service
HEADERS := $(notdir $(wildcard include/ncx/*.h))
# Files under SYSCONFDIR, as installed name:source. The admin edits them: install
# leaves an existing one alone, uninstall removes one only if it is still as shipped.
ETC_FILES := ncx/ncxd.conf:dist/ncxd.conf default/ncx-forward:dist/ncx-forward.default \
	logrotate.d/ncx:dist/logrotate/ncx

# Installed paths substituted into the units and the pkg-config file.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
# Generated with the paths of this make's command line, every time (FORCE): an
# install with another PREFIX must not reuse the last one's.
$(B)/dist/%: dist/%.in FORCE
	@mkdir -p $(@D)
	$(SUBST) $< >$@
FORCE:

dist: $(B)/dist/libncx.pc $(addprefix $(B)/dist/systemd/,$(UNITS_DIST))

install: $(B)/bin/ncx $(B)/bin/ncxd $(B)/libncx.a dist
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(INCLUDEDIR)/ncx \
		$(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR)
	install -m 755 $(B)/bin/ncx $(DESTDIR)$(BINDIR)/ncx
	install -m 755 $(B)/bin/ncxd $(DESTDIR)$(SBINDIR)/ncxd
	install -m 644 $(addprefix include/ncx/,$(HEADERS)) $(DESTDIR)$(INCLUDEDIR)/ncx/
	install -m 644 $(B)/libncx.a $(DESTDIR)$(LIBDIR)/libncx.a
	install -m 644 $(B)/dist/libncx.pc $(DESTDIR)$(PKGCONFIGDIR)/libncx.pc
	install -m 644 docs/man/ncx.1 $(DESTDIR)$(MANDIR)/man1/ncx.1
	install -m 644 docs/man/ncxd.8 $(DESTDIR)$(MANDIR)/man8/ncxd.8
	install -m 644 $(addprefix $(B)/dist/systemd/,$(UNITS_DIST)) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 644 dist/sysusers.d/ncx.conf $(DESTDIR)$(SYSUSERSDIR)/ncx.conf
	install -m 644 dist/tmpfiles.d/ncx.conf $(DESTDIR)$(TMPFILESDIR)/ncx.conf
	@for f in $(ETC_FILES); do \
		dst=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; src=$${f#*:}; \
		if [ -e "$$dst" ] && ! cmp -s "$$src" "$$dst"; then \
			echo "install: $$dst exists and differs from $$src: left as it is"; \
		else \
			echo "install -D -m 644 $$src $$dst"; install -D -m 644 "$$src" "$$dst" || exit 1; \
		fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ncx $(DESTDIR)$(SBINDIR)/ncxd \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/ncx/,$(HEADERS)) \
		$(DESTDIR)$(LIBDIR)/libncx.a $(DESTDIR)$(PKGCONFIGDIR)/libncx.pc \
		$(DESTDIR)$(MANDIR)/man1/ncx.1 $(DESTDIR)$(MANDIR)/man8/ncxd.8 \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS_DIST)) \
		$(DESTDIR)$(SYSUSERSDIR)/ncx.conf $(DESTDIR)$(TMPFILESDIR)/ncx.conf
	-rmdir $(DESTDIR)$(INCLUDEDIR)/ncx
	@for f in $(ETC_FILES); do \
		dst=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; src=$${f#*:}; \
		[ -e "$$dst" ] || continue; \
		if cmp -s "$$src" "$$dst"; then echo "rm -f $$dst"; rm -f "$$dst"; \
		else echo "uninstall: $$dst was edited: left as it is"; fi; \
	done
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/ncx 2>/dev/null

# ncxd's options are named once (cmd/ncxd/options.c); the man page's list is made
# from that table here and checked against it by tests/e2e/ncxd_man.sh.
man: $(B)/bin/ncxd
	./scripts/man-options $(B)/bin/ncxd docs/man/ncxd.8 >$(B)/ncxd.8.tmp
	mv $(B)/ncxd.8.tmp docs/man/ncxd.8

# Debian packages (debhelper) into build/deb/, built from a copy of the tree there.
deb:
	./scripts/deb $(B)/deb

clean:
	rm -rf $(B)

# (Not under $(B)/deb: a copy of the tree is built there, with its own *.d files and dirs.)
-include $(shell find $(B) -path $(B)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)

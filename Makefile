# SPDX-License-Identifier: Apache-2.0
# bootwave: one non-recursive build.
#
#   make            bootwaved, bootwave (CLI) and bootwave-agent in build/bin/
#   make check      unit and integration tests, then the same again under
#                   AddressSanitizer + UndefinedBehaviorSanitizer, then the
#                   virtual rack and the demo (make rack)
#   make demo       the main job: a virtual rack reimaged and upgraded (README.md)
#   make bench      the benchmarks of tests/bench/
#   make load       the load test of tests/load/ (5 minutes)
#   make fuzz       every fuzz target under libFuzzer for FUZZ_TIME seconds
#                   (default 60)
#
# Every variant (release, asan, fuzz) gets the same rules from one template, in its
# own directory under build/, so all can be built by one make invocation.

# `make` alone builds the binaries (the config.mk rule below would otherwise be the first target).
.DEFAULT_GOAL := all
VERSION := $(shell cat VERSION)
CC ?= gcc
PKG_CONFIG ?= pkg-config
BUILD := build

PKGS := libmicrohttpd jansson sqlite3 libcurl libcrypto inih libnl-3.0 libnl-route-3.0 \
	libarchive zlib libzstd libfreeipmi libssh2 libseccomp

# Library flags come from pkg-config once the Debian packages are in: the
# rule below installs them (idempotently) and records the flags, and make
# re-reads the Makefile with them before building anything.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
include $(BUILD)/config.mk
endif
$(BUILD)/config.mk: Makefile scripts/setup-deps
	@scripts/setup-deps build
	@mkdir -p $(@D)
	@{ echo "PKG_CFLAGS := $$($(PKG_CONFIG) --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$($(PKG_CONFIG) --libs $(PKGS))"; \
	   echo "TEST_LIBS := $$($(PKG_CONFIG) --libs cmocka)"; } >$@.tmp && mv $@.tmp $@

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Werror
BASE_CFLAGS = -std=gnu17 -g $(WARN) -D_GNU_SOURCE -DBW_VERSION='"$(VERSION)"' \
	-Ilib -Iserver -Iserver/store -Iserver/api -Iserver/boot -Iserver/orch -Iimaging -Iimaging/agent -Ihw $(PKG_CFLAGS) -MMD -MP
BASE_LDFLAGS := -pthread -Wl,--as-needed

LIB_SRCS := $(wildcard lib/*.c)
SERVER_SRCS := server/config.c server/sandbox.c server/child.c $(wildcard server/store/*.c) $(wildcard server/api/*.c) $(wildcard server/boot/*.c) \
	$(wildcard server/orch/*.c) $(wildcard hw/*.c) $(BUILD)/gen/web_assets.c
DAEMON_SRCS := server/main.c
CLI_SRCS := $(wildcard server/cli/*.c)
IMAGING_SRCS := $(wildcard imaging/*.c)
AGENT_SRCS := $(wildcard imaging/agent/*.c)
AGENT_LIB_SRCS := $(filter-out imaging/agent/main.c,$(AGENT_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_NAMES := $(patsubst tests/unit/%.c,%,$(UNIT_SRCS))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
BENCH_NAMES := $(patsubst tests/bench/%.c,%,$(wildcard tests/bench/bench_*.c))
FIRMWARE := $(BUILD)/firmware
PAYLOAD := $(BUILD)/rootfs/initrd.gz
OS_IMAGES := $(BUILD)/rootfs/os/.stamp

# The console (server/web/) compiled into bootwaved as a table of files.
$(BUILD)/gen/web_assets.c: scripts/embed-web $(wildcard server/web/*)
	@mkdir -p $(@D)
	scripts/embed-web server/web >$@.tmp && mv $@.tmp $@

.PHONY: all check demo clean
all: $(BUILD)/release/bin/bootwaved $(BUILD)/release/bin/bootwave $(BUILD)/release/bin/bootwave-agent

# $(1): variant name, $(2): extra compiler and linker flags, $(3): compiler
# (default $(CC)), $(4): how the fuzz targets are linked: empty for the
# replay driver (tests/fuzz/replay.c), else these flags (libFuzzer's main).
define VARIANT
$(1)_DIR := $(BUILD)/$(1)
$(1)_CC := $(if $(3),$(3),$$(CC))
$(1)_CFLAGS := $(BASE_CFLAGS) $(2)
$(1)_LDFLAGS := $(BASE_LDFLAGS) $(2)
$(1)_FUZZ_MAIN := $(if $(4),,$(BUILD)/$(1)/obj/tests/fuzz/replay.o)
$(1)_FUZZ_LDFLAGS := $(4)

$(BUILD)/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_CFLAGS) -c -o $$@ $$<

$(BUILD)/$(1)/libbw.a: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(LIB_SRCS))
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/libbwserver.a: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(SERVER_SRCS))
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/libbwagent.a: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(AGENT_LIB_SRCS))
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/libbwimaging.a: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(IMAGING_SRCS))
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$(BUILD)/$(1)/bin/bootwaved: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(DAEMON_SRCS)) $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbwimaging.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/bin/bootwave: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(CLI_SRCS)) $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/bin/bootwave-agent: $(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(AGENT_SRCS)) $(BUILD)/$(1)/libbwimaging.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/tests/%: $(BUILD)/$(1)/obj/tests/unit/%.o $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbwagent.a $(BUILD)/$(1)/libbwimaging.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS) $(TEST_LIBS)

# Test programs: a TFTP daemon around the server module, a raw UDP client,
# and the fuzz targets linked with a driver that replays their corpus.
$(BUILD)/$(1)/tests/tftpd_test: $(BUILD)/$(1)/obj/tests/tftp/tftpd_test.o $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/tests/hwctl: $(BUILD)/$(1)/obj/tests/tools/hwctl.o $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/tests/redfish_sim: $(BUILD)/$(1)/obj/tests/tools/redfish_sim.o $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/tests/bench_%: $(BUILD)/$(1)/obj/tests/bench/bench_%.o $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/$(1)/tests/udpsend: $(BUILD)/$(1)/obj/tests/tools/udpsend.o
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^

# The load clients of the benchmarks (tests/bench/bench-tftp, bench-http).
$(BUILD)/$(1)/tests/tftpc: $(BUILD)/$(1)/obj/tests/tools/tftpc.o
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^

$(BUILD)/$(1)/tests/httpload: $(BUILD)/$(1)/obj/tests/tools/httpload.o
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

# The client of the load test (tests/load/run).
$(BUILD)/$(1)/tests/loadgen: $(BUILD)/$(1)/obj/tests/tools/loadgen.o $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(BUILD)/$(1)/tests/fuzz_%: $(BUILD)/$(1)/obj/tests/fuzz/fuzz_%.o $$($(1)_FUZZ_MAIN) $(BUILD)/$(1)/libbwserver.a $(BUILD)/$(1)/libbwagent.a $(BUILD)/$(1)/libbwimaging.a $(BUILD)/$(1)/libbw.a
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) $$($(1)_FUZZ_LDFLAGS) -o $$@ $$^ $(PKG_LIBS)

$(1)_BINS := $(addprefix $(BUILD)/$(1)/bin/,bootwaved bootwave bootwave-agent)
$(1)_UNITS := $(addprefix $(BUILD)/$(1)/tests/,$(UNIT_NAMES))
$(1)_TOOLS := $(addprefix $(BUILD)/$(1)/tests/,tftpd_test udpsend tftpc httpload loadgen hwctl redfish_sim $(FUZZ_NAMES) $(BENCH_NAMES))

.PHONY: build-$(1) unit-$(1) integration-$(1) check-$(1)
build-$(1): $$($(1)_BINS) $$($(1)_UNITS) $$($(1)_TOOLS)

unit-$(1): build-$(1) | deps-test
	@set -e; for t in $$($(1)_UNITS); do echo "== unit ($(1)): $$$${t##*/}"; $$$$t; done
	@set -e; for n in $(FUZZ_NAMES:fuzz_%=%); do echo "== fuzz corpus replay ($(1)): $$$$n"; \
		$(BUILD)/$(1)/tests/fuzz_$$$$n tests/fuzz/corpus/$$$$n; done

# The reimage ramdisk of this variant: the boot payload's drivers with this
# variant's agent (rootfs/build-initrd --agent).
$(BUILD)/$(1)/rootfs/initrd-agent.gz: $(BUILD)/$(1)/bin/bootwave-agent $(PAYLOAD)
	rootfs/build-initrd --agent $$< $(BUILD)/rootfs/cache/modules $$@ >/dev/null

integration-$(1): build-$(1) $(FIRMWARE)/.stamp $(PAYLOAD) $(BUILD)/$(1)/rootfs/initrd-agent.gz $(OS_IMAGES) | deps-test
	tests/integration/run $(BUILD)/$(1)/bin

check-$(1): unit-$(1) integration-$(1)

-include $$(shell find $(BUILD)/$(1)/obj -name '*.d' 2>/dev/null)
endef

# Keep objects of test programs between runs.
.SECONDARY:

SAN := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
$(eval $(call VARIANT,release,-O2))
$(eval $(call VARIANT,asan,$(SAN)))
# Coverage-guided fuzzing: clang with libFuzzer, ASan and UBSan (make fuzz).
FUZZ_SAN := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
$(eval $(call VARIANT,fuzz,$(FUZZ_SAN),clang,-fsanitize=fuzzer))

# Runs every fuzz target for FUZZ_TIME seconds on a working corpus in
# build/fuzz/corpus/<name>/ (seeded from tests/fuzz/corpus/<name>/, which
# stays untouched); what crashes or leaks is saved in build/fuzz/crashes/<name>/
# and fails the run once every target has had its time. Not part of check.
FUZZ_TIME ?= 60
.PHONY: fuzz deps-fuzz
deps-fuzz:
	@scripts/setup-deps fuzz
# clang is installed first, then the targets are built with it.
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/fuzz/tests/,$(FUZZ_NAMES))
	tests/fuzz/run $(BUILD)/fuzz $(FUZZ_TIME) $(FUZZ_NAMES:fuzz_%=%)

# What booting machines are served: iPXE binaries and script templates.
$(FIRMWARE)/.stamp: firmware/collect $(wildcard firmware/templates/*.ipxe) $(BUILD)/config.mk
	firmware/collect $(FIRMWARE)
	@touch $@
all: $(FIRMWARE)/.stamp

# The boot payload of the tests: a Debian kernel (downloaded, not installed)
# and the ramdisk of rootfs/ (rootfs/README.md).
$(PAYLOAD): rootfs/build-initrd rootfs/fetch-kernel rootfs/lib.sh $(wildcard rootfs/initrd/*) | deps-test
	rootfs/fetch-kernel $(BUILD)/rootfs/cache >/dev/null
	rootfs/build-initrd $(BUILD)/rootfs/cache/modules $@
.PHONY: payload
payload: $(PAYLOAD)

# The test OS images (v1, v2, broken; tarball and raw) that the QEMU tests
# install; their heartbeat agent is the release one.
$(OS_IMAGES): $(BUILD)/release/bin/bootwave-agent rootfs/build-os rootfs/lib.sh $(wildcard rootfs/os/*) $(PAYLOAD)
	BOOTWAVE_AGENT=$< rootfs/build-os $(@D) >/dev/null
	@touch $@

# The release binaries are what operators run: expose them at build/bin.
$(BUILD)/bin/%: $(BUILD)/release/bin/%
	@mkdir -p $(@D)
	ln -sf ../release/bin/$* $@

all: $(addprefix $(BUILD)/bin/,bootwaved bootwave bootwave-agent)

# Test tools come from Debian through the same idempotent script.
.PHONY: deps-test
deps-test:
	@scripts/setup-deps test

# Sanitizer settings for the asan variant (ignored by the release binaries).
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

check: check-release check-asan web rack
	@echo "== make check: all passed"

# The console in Debian's headless Chromium (tests/web/, playwright-core from
# npm, pinned by tests/web/package-lock.json), against each variant's daemon;
# screenshots in build/web-shots/<variant>/.
.PHONY: web
web: build-release build-asan tests/web/node_modules/.package-lock.json | deps-test
	BW_BIN=$(BUILD)/release/bin BW_SHOTS=$(BUILD)/web-shots/release tests/web/test_console.sh
	BW_BIN=$(BUILD)/asan/bin BW_SHOTS=$(BUILD)/web-shots/asan tests/web/test_console.sh

tests/web/node_modules/.package-lock.json: tests/web/package.json tests/web/package-lock.json
	@command -v npm >/dev/null || { echo "make web: needs Node.js 20 or later and npm" >&2; exit 1; }
	cd tests/web && npm ci --no-audit --no-fund

# Benchmarks (tests/bench/; the programs and load clients are built with
# every variant so they keep compiling): bootwaved side by side with nginx,
# atftpd and tftpd-hpa, dnsmasq and kea, curl|zstd|dd and bmaptool, and the
# orchestrator's own figures; ratios last, a JSON report in build/bench/.
.PHONY: bench
bench: all $(FIRMWARE)/.stamp $(addprefix $(BUILD)/release/tests/,$(BENCH_NAMES) tftpc httpload)
	@scripts/setup-deps bench
	tests/bench/run $(BUILD)/release/bin

# The load test (tests/load/run, issue 11): the release bootwaved with 1,000
# nodes heartbeating every second, 64 image downloads and 8 console-like API
# clients for 5 minutes (LOAD_SECONDS to change); not part of check.
.PHONY: load
load: $(BUILD)/release/bin/bootwaved $(BUILD)/release/bin/bootwave $(BUILD)/release/tests/loadgen $(FIRMWARE)/.stamp | deps-test
	tests/load/run $(BUILD)/release/bin

RACK_DEPS := all $(FIRMWARE)/.stamp $(BUILD)/release/rootfs/initrd-agent.gz $(OS_IMAGES)
demo: $(RACK_DEPS) | deps-test
	BW_BIN=$(BUILD)/release/bin scripts/demo

# The virtual rack (tests/rack/rack-test, issue 8): 5 QEMU nodes behind
# ipmi_sim BMCs reimaged and upgraded by the release binaries (about 17
# minutes), then `make demo` with one node (tests/rack/demo-test, about 5).
# Needs root; the last part of check.
.PHONY: rack
rack: $(RACK_DEPS) | deps-test
	BW_BIN=$(BUILD)/release/bin tests/rack/rack-test
	BW_BIN=$(BUILD)/release/bin tests/rack/demo-test

clean:
	rm -rf $(BUILD)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Loopback agent build.
#
#   make            build everything into $(O) (default build/)
#   make deps       install the Debian packages the build, tests and demo need
#   make demo       deps + build + the firewall on real traffic between namespaces
#   make test       deps + build + every test (ends with "N passed, N failed")
#   make bench      deps + build + benchmarks (medians and ratios)
#   make check      cppcheck, clang-tidy and scan-build
#   make V=1 ...    show the commands
#
# Pipeline: vmlinux.h (from the running kernel's BTF) -> bpf/*.bpf.o (clang,
# CO-RE) -> *.skel.h (bpftool gen skeleton) -> user space (gcc).

O ?= build
SAN ?=
BPFTOOL ?= bpftool
CLANG ?= clang
CC ?= gcc
# Version of the firewall module artifact the build packs.
FW_VERSION ?= 1.0.0
# Version of the metrics module artifact the build packs.
MX_VERSION ?= 1.0.0

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

ARCH := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

# ---- Debian packages -------------------------------------------------------
# Build: compilers, libraries.  Tests and demo: traffic tools.  Check: linters.
DEPS_BUILD := make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libjansson-dev \
	libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libmicrohttpd-dev libcurl4-openssl-dev \
	libsqlite3-dev libsodium-dev pkg-config
DEPS_TEST := iproute2 jq socat netcat-openbsd iputils-ping util-linux procps libclang-rt-14-dev
DEPS_CHECK := cppcheck clang-tidy clang-tools
# Bench: the filters we compare against.
DEPS_BENCH := xdp-tools nftables iptables
DEPS := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_CHECK) $(DEPS_BENCH)

# ---- flags -----------------------------------------------------------------
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	-Wno-unused-parameter -Wno-missing-field-initializers \
	-I$(O) -Iheaders -Ibpf -mcpu=v3

PKGS := libbpf libelf zlib jansson libsodium
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	-Wformat=2 -Wstrict-prototypes -D_GNU_SOURCE -Iheaders -Iuserspace -I$(O)/bpf -MMD -MP
LDLIBS += -lbpf -lelf -lz -ljansson -lsodium
ifneq ($(SAN),)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# ---- sources ---------------------------------------------------------------
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.skel.h,$(BPF_SRCS))
# Misbehaving modules the lifecycle tests install (tests/modules/).
TESTMOD_OBJS := $(patsubst tests/modules/%.bpf.c,$(O)/tests/modules/%.bpf.o,\
	$(wildcard tests/modules/*.bpf.c))

LIB_SRCS := $(filter-out userspace/main.c,$(wildcard userspace/*.c))
LIB_OBJS := $(patsubst userspace/%.c,$(O)/userspace/%.o,$(LIB_SRCS))
LIB := $(O)/liblbagent.a

TEST_SRCS := $(wildcard tests/unit/*.c tests/bpf/*.c)
TEST_BINS := $(patsubst tests/%.c,$(O)/tests/%,$(TEST_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/%.c,$(O)/tests/%,$(BENCH_SRCS))
MODULES := $(O)/modules/firewall-$(FW_VERSION).lbm $(O)/modules/metrics-$(MX_VERSION).lbm

.PHONY: all deps demo test test-unit test-san bench check clean install
all: $(O)/lbagent $(BPF_OBJS) $(TEST_BINS) $(BENCH_BINS) $(MODULES) $(TESTMOD_OBJS)

# ---- BPF -------------------------------------------------------------------
$(O)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(O)/bpf/%.bpf.o: bpf/%.bpf.c $(O)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(O)/tests/modules/%.bpf.o: tests/modules/%.bpf.c $(O)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# The built-in firewall's manifest (module.c installs it on first use), as a C
# string; it changes with modules/firewall.json and FW_VERSION.
$(O)/bpf/firewall_manifest.h: modules/firewall.json Makefile
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q){ echo 'static const char lb_firewall_manifest[] ='; \
	  sed -e 's/@VERSION@/$(FW_VERSION)/g' -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
	      -e 's/^/\t"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

# ---- user space ------------------------------------------------------------
$(O)/userspace/%.o: userspace/%.c | $(BPF_SKELS) $(O)/bpf/firewall_manifest.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/lbagent: $(O)/userspace/main.o $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: tests/%.c $(LIB) tests/lib/testlib.h | $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/lib $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# ---- module artifacts (format: userspace/artifact.h) ---------------------------
# modules/NAME.json is a template: @VERSION@ becomes the module's version.
$(O)/modules/firewall-$(FW_VERSION).lbm: modules/firewall.json $(O)/bpf/fw_xdp.bpf.o \
		$(O)/bpf/fw_tc.bpf.o $(O)/lbagent
	$(call msg,PACK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed 's/@VERSION@/$(FW_VERSION)/g' $< > $(@D)/firewall.json
	$(Q)$(O)/lbagent module pack --manifest $(@D)/firewall.json \
		$(foreach o,fw_xdp fw_tc,--object $(O)/bpf/$(o).bpf.o) -o $@ >/dev/null

$(O)/modules/metrics-$(MX_VERSION).lbm: modules/metrics.json $(O)/bpf/mx_xdp.bpf.o \
		$(O)/bpf/mx_tc.bpf.o $(O)/lbagent
	$(call msg,PACK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed 's/@VERSION@/$(MX_VERSION)/g' $< > $(@D)/metrics.json
	$(Q)$(O)/lbagent module pack --manifest $(@D)/metrics.json \
		$(foreach o,mx_xdp mx_tc,--object $(O)/bpf/$(o).bpf.o) -o $@ >/dev/null

-include $(wildcard $(O)/userspace/*.d $(O)/tests/*/*.d $(O)/bpf/*.d)

# ---- Debian packages -------------------------------------------------------
# Idempotent: asks apt only for what dpkg says is missing.
deps:
	$(Q)missing=$$(for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "  DEPS     all present"; \
	fi

# ---- the two commands of the README ----------------------------------------
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/demo.sh $(O)

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory O=$(O)-san SAN=1 $(O)-san/lbagent \
		$(patsubst $(O)/%,$(O)-san/%,$(filter $(O)/tests/unit/%,$(TEST_BINS)))
	$(Q)tests/run.sh $(O) $(O)-san

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run.sh $(O)

# ---- static analysis -------------------------------------------------------
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/check.sh $(O)

install: all
	install -D -m 0755 $(O)/lbagent $(DESTDIR)/usr/sbin/lbagent

clean:
	$(Q)rm -rf $(O) $(O)-san

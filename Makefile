# SPDX-License-Identifier: GPL-2.0
#
# kvm-riscv: kvm.ko for RISC-V with the architecture backend in Rust.
#
#   make run    boot the emulated RISC-V host, modprobe kvm (ours), boot a
#               Linux guest in it with QEMU/KVM
#   make test   every test: unit tests, rustfmt and clippy checks, the KVM
#               selftests (ours, compared with upstream C), the guest boot, a
#               dmesg scan
#
# On a real host (README.md, "On a real RISC-V host"):
#   make KDIR=<kernel build dir> [KSRC=<its source>]; sudo make install KDIR=...
#
# Everything fetched or built outside this repo lives in $(CACHE).
#
# Inside the kernel build (M=...), kbuild reads the Kbuild file, not this one.

CACHE ?= $(if $(KVM_RISCV_CACHE),$(KVM_RISCV_CACHE),$(HOME)/.cache/kvm-riscv)
export KVM_RISCV_CACHE := $(CACHE)
T := tools/testing
export PATH := $(HOME)/.cargo/bin:$(PATH)

# The rig's kernel: source in $(CACHE)/linux-src, O= build directory (with
# RIG_KERNEL=lockdep, the variant with lock debugging).
RIG_KSRC := $(CACHE)/linux-src
RIG_KBUILD := $(CACHE)/build/kernel$(if $(RIG_KERNEL),-$(RIG_KERNEL))

# The kernel the module is built against: KDIR, its build directory, and
# KSRC, its source tree (KDIR's `source` link when it has one, else KDIR).
# The rig's kernel, built first when its inputs changed, unless KDIR is
# given: a given tree is only checked, never built.
ifeq ($(origin KDIR),undefined)
KDIR := $(RIG_KBUILD)
RIG_TREE := 1
endif
override KDIR := $(abspath $(KDIR))
ifdef RIG_TREE
KSRC ?= $(RIG_KSRC)
LLVM ?= -19
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
else
KSRC ?= $(if $(wildcard $(KDIR)/source),$(realpath $(KDIR)/source),$(KDIR))
# Compilers as the kernel was built: a clang-built kernel (CONFIG_CLANG_VERSION
# is N0000 and more) with LLVM=-N when clang-N is installed, else LLVM=1; a
# gcc-built one without LLVM. LLVM=... on the command line overrides.
KCONFIG := $(firstword $(wildcard $(KDIR)/include/config/auto.conf $(KDIR)/.config))
CLANG_MAJOR := $(if $(KCONFIG),$(shell sed -n 's/^CONFIG_CLANG_VERSION=\([0-9]*\)[0-9]\{4\}$$/\1/p' $(KCONFIG)))
ifeq ($(origin LLVM),undefined)
LLVM := $(if $(CLANG_MAJOR),$(if $(shell command -v clang-$(CLANG_MAJOR)),-$(CLANG_MAJOR),1))
endif
# LLVM=1 (which DKMS passes for a clang-built kernel) wants an unversioned
# clang; Debian's clang-N alone has none: use clang-N then.
ifeq ($(LLVM),1)
ifeq ($(shell command -v clang),)
ifneq ($(and $(CLANG_MAJOR),$(shell command -v clang-$(CLANG_MAJOR))),)
override LLVM := -$(CLANG_MAJOR)
endif
endif
endif
ifneq ($(CLANG_MAJOR),)
ifneq ($(wildcard /usr/lib/llvm-$(CLANG_MAJOR)/lib),)
export LIBCLANG_PATH ?= /usr/lib/llvm-$(CLANG_MAJOR)/lib
endif
endif
endif
override KSRC := $(abspath $(KSRC))
# DKMS (dkms.conf passes DKMS=1) appends CC=clang LD=ld.lld (Debian's dkms
# 3.0) or LLVM=1 for a clang-built kernel: unversioned names, which
# Debian's clang-N lacks. CC and LD are not passed on to the kernel's make,
# which takes its compilers from LLVM, as above.
ifdef DKMS
MAKEOVERRIDES := $(filter-out CC=% LD=%,$(MAKEOVERRIDES))
endif
KMAKE = $(MAKE) -C $(KDIR) ARCH=riscv $(if $(LLVM),LLVM=$(LLVM))
KREL = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)

.PHONY: all deps kernel check-kdir module gen install uninstall rootfs selftests images \
	run test test-ref test-debug leak config-matrix quick unit c-remaining bench onereg sbi vm aia-dump aia aia-nosstc mmu-modes nacl fuzz \
	fmt fmt-check clippy metrics clean distclean

all: module

# The kernel build is redone only when its inputs change (a cold build takes
# minutes); its stamp is the kernel image.
KIMAGE := $(RIG_KBUILD)/arch/riscv/boot/Image
$(KIMAGE): $(T)/host.config $(T)/build-kernel.sh $(if $(RIG_KERNEL),$(T)/host-$(RIG_KERNEL).config)
	@$(MAKE) --no-print-directory deps
	@bash $(T)/build-kernel.sh


deps:
	@bash $(T)/setup-deps.sh
	@bash $(T)/fetch-kernel.sh

kernel: $(KIMAGE)

# Before compiling: can the module be built against KDIR? One line saying
# what is wrong and what to do, when not.
check-kdir: $(if $(RIG_TREE),$(KIMAGE))
	@LLVM="$(LLVM)" bash $(T)/check-kdir.sh "$(KDIR)" "$(KSRC)"

# gen/: symlinks to the kernel tree's virt/kvm and arch/riscv/kvm sources.
gen: check-kdir
	@if [ "$$(readlink gen/.src 2>/dev/null)" != "$(KSRC)" ]; then \
		rm -rf gen && mkdir -p gen/virt/kvm gen/arch && ln -s $(KSRC) gen/.src && \
		for f in $(KSRC)/virt/kvm/*.[ch]; do ln -s "$$f" gen/virt/kvm/; done && \
		for f in $(KSRC)/arch/riscv/kvm/*.[chS]; do ln -s "$$f" gen/arch/; done; fi

# `+`: make passes its jobserver only to lines that name $(MAKE) itself.
module: gen
	@+$(KMAKE) M=$(CURDIR) modules
	@echo "kvm-riscv: built $(CURDIR)/kvm.ko for Linux $(KREL) ($(KDIR))"

# Our kvm.ko into KDIR's release's updates/ (under INSTALL_MOD_PATH when
# set), which depmod ranks before the kernel's own kvm.ko: `modprobe kvm`
# loads ours. uninstall removes it, and the kernel's is loaded again.
MODPATH = $(if $(INSTALL_MOD_PATH),$(abspath $(INSTALL_MOD_PATH)))
MODDIR = $(MODPATH)/lib/modules/$(KREL)
RUN_DEPMOD = PATH="$$PATH:/sbin:/usr/sbin" depmod -a $(if $(MODPATH),-b $(MODPATH)) $(KREL)

install:
	@bash $(T)/check-kdir.sh --install "$(KDIR)" "$(CURDIR)/kvm.ko"
	@$(KMAKE) --no-print-directory M=$(CURDIR) modules_install INSTALL_MOD_DIR=updates DEPMOD=true \
		$(if $(MODPATH),INSTALL_MOD_PATH=$(MODPATH))
	@$(RUN_DEPMOD)
	@echo "kvm-riscv: installed $(MODDIR)/updates/kvm.ko; modprobe kvm loads it"

uninstall:
	@[ -n "$(KREL)" ] || { echo "kvm-riscv: KDIR=$(KDIR) has no include/config/kernel.release; give the KDIR you installed with" >&2; exit 1; }
	@rm -f $(foreach s,'' .gz .xz .zst,$(MODDIR)/updates/kvm.ko$(s))
	@if [ -d $(MODDIR) ]; then $(RUN_DEPMOD); fi
	@echo "kvm-riscv: removed $(MODDIR)/updates/kvm.ko; modprobe kvm loads the kernel's own"

# Upstream arch objects still linked into our kvm.ko, and their line count.
c-remaining:
	@objs=$$(sed -n '/still linked (begin)/,/still linked (end)/p' Kbuild \
		| sed -e 's/#.*//' -e 's/upstream-c-[^ ]* *[:+]= *//' -e 's/\\//g' | tr -s ' \t' '\n' | grep -v '^$$'); \
	files=$$(for o in $$objs; do ls $(KSRC)/arch/riscv/kvm/$$o.[cS]; done); \
	if [ -z "$$files" ]; then echo "(none)"; echo "total: 0 lines in 0 upstream files"; exit 0; fi; \
	for f in $$files; do basename $$f; done | sort | tr '\n' ' '; echo; \
	echo "total: $$(cat $$files | wc -l) lines in $$(echo $$files | wc -w) upstream files"

rootfs: deps
	@bash $(T)/build-rootfs.sh

selftests: $(KIMAGE)
	@bash $(T)/build-selftests.sh
	@bash $(T)/build-tests.sh

# Everything the emulated host needs, except our module.
images: kernel rootfs selftests

unit:
	@bash $(T)/unit.sh

# rustfmt (the kernel's .rustfmt.toml) over rust/**/*.rs: check, or apply.
fmt-check: deps
	@bash $(T)/fmt-check.sh
fmt: deps
	@bash $(T)/fmt-check.sh --write

# Our kvm.ko built with the kernel's CLIPPY=1, in a copy of the tree under
# $(CACHE)/build/clippy-tree; fails on any warning.
clippy: $(KIMAGE)
	@bash $(T)/clippy.sh

# Where the crate stands on "unsafe only at the edges": unsafe blocks and the
# files holding them, raw-vCPU unsafe fns, #[no_mangle] items, casts without a
# CAST note, module import cycles.
metrics:
	@python3 $(T)/metrics.py

run: module images
	@bash $(T)/run-host.sh run

test: module images
	@bash $(T)/test.sh

test-ref: images
	@bash $(T)/run-host.sh test ref

quick: module images
	@bash $(T)/run-host.sh quick

bench: module images
	@bash $(T)/bench.sh

# ONE_REG conformance: our dump and upstream C's, in one boot, byte for byte.
onereg: module images
	@bash $(T)/onereg.sh

# SBI conformance: what guests see of every SBI extension, and what
# userspace sees, ours and upstream C in one boot, byte for byte.
sbi: module images
	@bash $(T)/sbi.sh

# VM, memslot and G-stage conformance: capabilities, KVM_ENABLE_CAP,
# memslots, the G-stage's top page, MMIO exits, dirty logging, huge pages,
# ours and upstream C in one boot, byte for byte.
vm: module images
	@bash $(T)/vm.sh

# In-kernel AIA irqchip conformance: the AIA device's attributes (CONFIG,
# ADDR, CTRL, APLIC, IMSIC), the APLIC and IMSIC from a guest, KVM_IRQ_LINE,
# KVM_SIGNAL_MSI and irqfds, in emul, hwaccel and auto modes, ours and
# upstream C in one boot, byte for byte.
aia-dump: module images
	@bash $(T)/aia-dump.sh

# A QEMU/KVM guest with the in-kernel AIA irqchip, ours and upstream C in one
# boot: IPIs and timer interrupts reach both vCPUs.
aia: module images
	@bash $(T)/aia.sh

# The same on an emulated host CPU without Sstc: the guest timer is KVM's
# hrtimer, which injects the VS timer interrupt.
aia-nosstc: module images
	@RIG_CPU=max,sstc=false bash $(T)/aia.sh

# The MMU selftests and the guest boot on emulated host CPUs with an Sv48x4
# and an Sv39x4 G-stage, and without Svinval, ours and upstream C in one
# boot each; the G-stage mode each module logs is checked.
# MODES="sv48 sv39 nosvinval" selects.
mmu-modes: module images
	@MODES="$(MODES)" bash $(T)/mmu-modes.sh

# The emulated host on our NACL firmware (tools/testing/nacl-fw, QEMU -bios):
# the quick selftests, the guest boot and the in-kernel AIA guests, ours and
# upstream C in one boot, with the firmware's counters and violations.
nacl: module images
	@bash $(T)/nacl.sh

# The differential fuzzer (tools/testing/tests/kvm_fuzz): the same seeds on
# ours and on upstream C in one boot. make test runs the fixed seeds; more
# with SEEDS=1,2,... CASES=N (FUZZ_OPS operations a case).
fuzz: module images
	@SEEDS="$(SEEDS)" CASES="$(CASES)" bash $(T)/fuzz.sh

# Ours and upstream C on the debug host kernel (KASAN, KFENCE, lockdep,
# kmemleak, UBSAN, ...): quick selftests, ONE_REG dump, AIA guest, the leak
# loop. Not in make test (the kernel alone takes a quarter of an hour cold).
test-debug: images
	@bash $(T)/test-debug.sh

# The module leak loop on the debug host kernel: 30 times load, a workload
# that reaches every allocation path, rmmod, for ours and upstream C in one
# boot; kmemleak, leftover interrupts, Slab/Vmalloc/Percpu drift (also a
# part of make test-debug).
leak: images
	@bash $(T)/leak.sh

# Our kvm.ko built (not run) against host kernels of other configurations
# (tools/testing/matrix/*.config: tracepoints, no FPU, no vector, no SBI
# PMU, CPU PM), plain and with CLIPPY=1, without a warning. Each kernel tree
# is cached per configuration in $(CACHE)/build/matrix-<name>. Not in make
# test (a cold run rebuilds five kernels). MATRIX="name ..." runs some.
config-matrix: $(KIMAGE)
	@bash $(T)/config-matrix.sh $(MATRIX)

clean:
	@if [ -f $(KDIR)/Makefile ]; then $(KMAKE) M=$(CURDIR) clean; fi
	rm -rf gen rust/kvm_riscv/bindings_generated.rs

distclean: clean
	rm -rf $(CACHE)

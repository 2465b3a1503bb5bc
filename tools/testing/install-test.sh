#!/bin/bash
# The build-tree checks and make install/uninstall, one line per case:
# "ok    NAME (...)" or "FAIL  NAME (...)"; exits 1 when a case failed.
#  a. check-kdir.sh on doctored copies of the rig's kernel tree: its small
#     files (.config, include/config/*, empty stand-ins for the build outputs
#     it looks for, a source tree of a version-only Makefile and empty
#     virt/kvm, arch/riscv/kvm). Each case doctors one thing and expects the
#     exact refusal and a non-zero exit. Nothing is compiled.
#  b. make install INSTALL_MOD_PATH=DIR over the kernel's own modules, then
#     make uninstall: updates/kvm.ko comes and goes, and depmod's view
#     (modules.dep, modprobe --show-depends) follows. Needs our kvm.ko built.
#  c. dkms.conf against our kvm.ko and the rig's release.
source "$(dirname "$0")/lib.sh"
main() {
    T="$REPO/tools/testing"
    CHECK="$T/check-kdir.sh"
    REL=$(cat "$KBUILD/include/config/kernel.release" 2>/dev/null) || die "no kernel build in $KBUILD (make kernel)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    export LLVM="$LLVM_SUFFIX"   # the rig's kernel is built with clang-19
    fails=0 n=0
    ok()  { printf 'ok    %s\n' "$*"; }
    bad() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }

    # tree: a fresh copy; prints its directory. $d/kdir is KDIR, $d/src KSRC.
    tree() {
        local d="$tmp/t$((n += 1))" f
        mkdir -p "$d/kdir/include/config" "$d/kdir/include/generated" "$d/kdir/rust/bindings" \
            "$d/src/virt/kvm" "$d/src/arch/riscv/kvm"
        cp "$KBUILD/.config" "$d/kdir/"
        cp "$KBUILD/include/config/auto.conf" "$KBUILD/include/config/kernel.release" "$d/kdir/include/config/"
        for f in include/generated/rustc_cfg rust/libcore.rmeta rust/libkernel.rmeta rust/libmacros.so \
                 rust/bindings/bindings_generated.rs rust/bindings/.bindings_generated.rs.cmd Module.symvers; do
            : > "$d/kdir/$f"
        done
        grep -E '^(VERSION|PATCHLEVEL|SUBLEVEL) =' "$KSRC/Makefile" > "$d/src/Makefile"
        ln -s "$d/src" "$d/kdir/source"
        D=$d
    }
    # set_cfg NAME VALUE: in .config and auto.conf; an empty VALUE unsets.
    set_cfg() {
        local f
        for f in "$D/kdir/.config" "$D/kdir/include/config/auto.conf"; do
            sed -i "/^CONFIG_$1=/d" "$f"
            if [ -n "$2" ]; then echo "CONFIG_$1=$2" >> "$f"; fi
        done
    }
    # refused NAME MESSAGE CMD...: CMD exits non-zero, and its one line
    # starting "kvm-riscv:" is MESSAGE.
    refused() {
        local name=$1 want="kvm-riscv: $2" out rc=0 got; shift 2
        out=$("$@" 2>&1) || rc=$?
        got=$(printf '%s\n' "$out" | grep '^kvm-riscv:' || true)
        if [ $rc != 0 ] && [ "$got" = "$want" ]; then ok "$name (rc $rc: ${want//"$tmp"/\$TMP})"
        else bad "$name (rc $rc; wanted: $want; got: $out)"; fi
    }
    check() { refused "$1" "$2" bash "$CHECK" "$D/kdir" "$D/src"; }

    # a. The refusals.
    tree
    out=$(bash "$CHECK" "$D/kdir" "$D/src" 2>&1) && [ -z "$out" ] &&
        ok "check-kdir/accepts (a copy of the rig's tree passes, silently)" ||
        bad "check-kdir/accepts (a copy of the rig's tree: $out)"
    tree; echo 7.2.0 > "$D/kdir/include/config/kernel.release"
    check check-kdir/release-7.2 "KDIR=$D/kdir is Linux 7.2.0, not 7.3.x; build against a Linux 7.3 tree"
    tree; sed -i 's/^PATCHLEVEL = .*/PATCHLEVEL = 2/' "$D/src/Makefile"
    check check-kdir/source-7.2 "KSRC=$D/src is Linux 7.2.$(awk '/^SUBLEVEL =/ {print $3}' "$D/src/Makefile"), not 7.3.x; build against a Linux 7.3 tree"
    tree; set_cfg RISCV ""; set_cfg X86 y
    check check-kdir/not-riscv "KDIR=$D/kdir is not configured for 64-bit RISC-V (CONFIG_RISCV, CONFIG_64BIT); use a riscv64 kernel tree"
    tree; set_cfg 64BIT ""
    check check-kdir/riscv32 "KDIR=$D/kdir is not configured for 64-bit RISC-V (CONFIG_RISCV, CONFIG_64BIT); use a riscv64 kernel tree"
    tree; set_cfg RUST ""
    check check-kdir/rust-off "KDIR=$D/kdir has CONFIG_RUST off; enable CONFIG_RUST=y, rebuild and boot that kernel, then build against it"
    tree; set_cfg KVM y
    check check-kdir/kvm-builtin "KDIR=$D/kdir has KVM built in (CONFIG_KVM=y), which a module cannot replace; set CONFIG_KVM=m, rebuild and boot that kernel"
    tree; set_cfg KVM ""
    check check-kdir/kvm-off "KDIR=$D/kdir has CONFIG_KVM off; set CONFIG_KVM=m (it selects what kvm.ko needs), rebuild and boot that kernel"
    tree; rmdir "$D/src/virt/kvm"
    check check-kdir/no-virt-kvm "KSRC=$D/src has no virt/kvm; give KSRC=<the full kernel source tree> (kernel headers alone are not enough)"
    tree; rm "$D/kdir/rust/libkernel.rmeta"
    check check-kdir/no-rust-crates "KDIR=$D/kdir lacks the kernel's Rust build (rust/libkernel.rmeta); run make (or at least make prepare) in it"
    tree; rm "$D/kdir/rust/bindings/.bindings_generated.rs.cmd"
    check check-kdir/no-bindgen-cmd "KDIR=$D/kdir lacks the kernel's Rust build (rust/bindings/.bindings_generated.rs.cmd); run make (or at least make prepare) in it"
    tree; rm "$D/kdir/Module.symvers"
    check check-kdir/no-symvers "KDIR=$D/kdir has no Module.symvers; build the kernel (make) in it, so that the module links against its symbols"
    tree; set_cfg RUSTC_VERSION_TEXT '"rustc 1.0.0 (a59de37e9 2015-05-13)"'
    check check-kdir/rustc-differs "rustc is '$(rustc --version)', the kernel was built with 'rustc 1.0.0 (a59de37e9 2015-05-13)'; install that one (e.g. rustup default 1.0.0), or rebuild the kernel with this one"
    tree; set_cfg BINDGEN_VERSION_TEXT '"bindgen 0.65.1"'
    check check-kdir/bindgen-differs "bindgen is '$(bindgen --version)', the kernel was built with 'bindgen 0.65.1'; install that one (cargo install bindgen-cli --version 0.65.1), or rebuild the kernel with this one"
    tree; LLVM=-0 check check-kdir/no-compiler "no clang-0 on PATH (LLVM=-0); install the compiler the kernel was built with ($(sed -n 's/^CONFIG_CC_VERSION_TEXT=//p' "$D/kdir/include/config/auto.conf")), or name yours with LLVM=-N or LLVM=1"
    # Through the Makefile: make KDIR=... refuses before compiling anything
    # (KSRC found through KDIR's source link).
    tree; set_cfg KVM y
    refused check-kdir/via-make "KDIR=$D/kdir has KVM built in (CONFIG_KVM=y), which a module cannot replace; set CONFIG_KVM=m, rebuild and boot that kernel" \
        make --no-print-directory -C "$REPO" KDIR="$D/kdir"
    tree
    refused install/refuses-not-built "$D/kvm.ko is not built; run make KDIR=$D/kdir first (as your user, not root)" \
        bash "$CHECK" --install "$D/kdir" "$D/kvm.ko"

    # b. make install and make uninstall on the rig's tree.
    KO="$REPO/kvm.ko"
    if [ ! -f "$KO" ]; then
        bad "install (our kvm.ko is not built: make module)"
    else
        tree; echo 7.3.99 > "$D/kdir/include/config/kernel.release"
        refused install/refuses-other-release "$KO was built for $REL, KDIR=$D/kdir is 7.3.99; run make KDIR=$D/kdir again, then make install with the same KDIR" \
            make --no-print-directory -C "$REPO" KDIR="$D/kdir" install INSTALL_MOD_PATH="$D/mods"
        M="$tmp/mods" MD="$tmp/mods/lib/modules/$REL"
        # The kernel's own modules first, upstream C kvm.ko among them.
        make -s -C "$KBUILD" ARCH=riscv LLVM="$LLVM_SUFFIX" modules_install INSTALL_MOD_PATH="$M" DEPMOD=true >/dev/null
        resolves() { modprobe -d "$M" -S "$REL" --show-depends kvm 2>/dev/null | awk '{print $2}'; }
        rc=0; out=$(make --no-print-directory -C "$REPO" install INSTALL_MOD_PATH="$M" 2>&1) || rc=$?
        dep=$(grep -E '^(updates|kernel/arch/riscv/kvm)/kvm\.ko' "$MD/modules.dep" | cut -d: -f1 | tr '\n' ' ')
        if [ $rc = 0 ] && cmp -s "$KO" "$MD/updates/kvm.ko" && [ "$dep" = "updates/kvm.ko " ] &&
           [ "$(resolves)" = "$MD/updates/kvm.ko" ] && [ -f "$MD/kernel/arch/riscv/kvm/kvm.ko" ]; then
            ok "install (updates/kvm.ko installed; modules.dep: $dep; modprobe kvm resolves to updates/kvm.ko)"
        else
            bad "install (rc $rc; modules.dep: $dep; modprobe kvm resolves to $(resolves); $out)"
        fi
        rc=0; out=$(make --no-print-directory -C "$REPO" uninstall INSTALL_MOD_PATH="$M" 2>&1) || rc=$?
        dep=$(grep -E '^(updates|kernel/arch/riscv/kvm)/kvm\.ko' "$MD/modules.dep" | cut -d: -f1 | tr '\n' ' ')
        if [ $rc = 0 ] && [ ! -e "$MD/updates/kvm.ko" ] && [ "$dep" = "kernel/arch/riscv/kvm/kvm.ko " ] &&
           [ "$(resolves)" = "$MD/kernel/arch/riscv/kvm/kvm.ko" ]; then
            ok "uninstall (updates/kvm.ko gone; modules.dep: $dep; modprobe kvm resolves to the kernel's)"
        else
            bad "uninstall (rc $rc; modules.dep: $dep; modprobe kvm resolves to $(resolves); $out)"
        fi
    fi

    # c. dkms.conf: our kvm.ko carries its PACKAGE_VERSION (DKMS installs a
    #    module over the kernel's only when versions differ), and its
    #    BUILD_EXCLUSIVE_KERNEL takes this kernel and no 7.2 or 7.30.
    if [ -f "$KO" ]; then
        v=$(kernel_source_dir=$KBUILD; source "$REPO/dkms.conf"; echo "$PACKAGE_VERSION")
        re=$(kernel_source_dir=$KBUILD; source "$REPO/dkms.conf"; echo "$BUILD_EXCLUSIVE_KERNEL")
        kv=$(PATH="$PATH:/sbin:/usr/sbin" modinfo -F version "$KO")
        if [ -n "$v" ] && [ "$kv" = "$v" ] && [[ $REL =~ $re ]] && ! [[ 7.2.0 =~ $re ]] && ! [[ 7.30.1 =~ $re ]]; then
            ok "dkms.conf (kvm.ko version $kv is PACKAGE_VERSION; BUILD_EXCLUSIVE_KERNEL takes $REL, not 7.2.0 or 7.30.1)"
        else
            bad "dkms.conf (PACKAGE_VERSION '$v', kvm.ko version '$kv', BUILD_EXCLUSIVE_KERNEL '$re' on $REL)"
        fi
    fi
    [ $fails = 0 ]
}
main "$@"

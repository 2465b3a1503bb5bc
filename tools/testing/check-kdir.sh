#!/bin/bash
# Can our kvm.ko be built against this kernel tree? Run by `make module`
# before it compiles anything.
#   check-kdir.sh KDIR KSRC            the build checks
#   check-kdir.sh --install KDIR MOD   before `make install`: MOD (kvm.ko)
#                                      was built against KDIR
# KDIR is the kernel's build directory (O=), KSRC its source tree. Prints
# nothing and exits 0 when all is well; otherwise one line,
# "kvm-riscv: <what is wrong>; <what to do>", and exits 1.
# LLVM, RUSTC, BINDGEN and CROSS_COMPILE (environment) name the tools as
# the kernel's make does.
source "$(dirname "$0")/lib.sh"

refuse() { printf 'kvm-riscv: %s\n' "$*" >&2; exit 1; }

# cfg NAME: the value of CONFIG_NAME in the tree, quotes removed; empty when
# not set. include/config/auto.conf is what the build reads; .config when
# the tree was configured but never prepared.
cfg() {
    local f="$KDIR/include/config/auto.conf"
    [ -f "$f" ] || f="$KDIR/.config"
    sed -n "s/^CONFIG_$1=//p" "$f" | tail -1 | sed 's/^"\(.*\)"$/\1/'
}

if [ "${1:-}" = --install ]; then
    KDIR=${2:?KDIR} MOD=${3:?kvm.ko}
    rel=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null) ||
        refuse "KDIR=$KDIR is not a prepared kernel build tree (no include/config/kernel.release); give the KDIR kvm.ko was built with"
    [ -f "$MOD" ] || refuse "$MOD is not built; run make KDIR=$KDIR first (as your user, not root)"
    vm=$(PATH="$PATH:/sbin:/usr/sbin" modinfo -F vermagic "$MOD" 2>/dev/null) ||
        refuse "cannot read the vermagic of $MOD (modinfo, from kmod); install kmod, or rebuild kvm.ko with make KDIR=$KDIR"
    [ "${vm%% *}" = "$rel" ] ||
        refuse "$MOD was built for ${vm%% *}, KDIR=$KDIR is $rel; run make KDIR=$KDIR again, then make install with the same KDIR"
    exit 0
fi

KDIR=${1:?KDIR} KSRC=${2:?KSRC}
[ -d "$KDIR" ] || refuse "KDIR=$KDIR does not exist; give KDIR=<the kernel's build directory>, e.g. /lib/modules/\$(uname -r)/build"
[ -f "$KDIR/.config" ] ||
    refuse "KDIR=$KDIR has no .config; give KDIR=<a configured kernel build directory>, e.g. /lib/modules/\$(uname -r)/build"

# Linux 7.3.x: the tree's release, and the source Makefile's version.
if [ -f "$KDIR/include/config/kernel.release" ]; then
    rel=$(cat "$KDIR/include/config/kernel.release")
    case "$rel" in
        7.3|7.3[.+-]*) ;;
        *) refuse "KDIR=$KDIR is Linux $rel, not 7.3.x; build against a Linux 7.3 tree" ;;
    esac
fi
[ -f "$KSRC/Makefile" ] ||
    refuse "KSRC=$KSRC has no Makefile; give KSRC=<the kernel's source tree> (the build directory's 'source' link is used when there is one)"
src=$(awk '/^VERSION =/ {v=$3} /^PATCHLEVEL =/ {p=$3} /^SUBLEVEL =/ {s=$3} END {print v"."p"."s}' "$KSRC/Makefile")
case "$src" in
    7.3.*) ;;
    *) refuse "KSRC=$KSRC is Linux $src, not 7.3.x; build against a Linux 7.3 tree" ;;
esac

# The target: 64-bit RISC-V.
[ "$(cfg RISCV)" = y ] && [ "$(cfg 64BIT)" = y ] ||
    refuse "KDIR=$KDIR is not configured for 64-bit RISC-V (CONFIG_RISCV, CONFIG_64BIT); use a riscv64 kernel tree"

# Rust, and KVM as a module.
[ "$(cfg RUST)" = y ] ||
    refuse "KDIR=$KDIR has CONFIG_RUST off; enable CONFIG_RUST=y, rebuild and boot that kernel, then build against it"
case "$(cfg KVM)" in
    m) ;;
    y) refuse "KDIR=$KDIR has KVM built in (CONFIG_KVM=y), which a module cannot replace; set CONFIG_KVM=m, rebuild and boot that kernel" ;;
    *) refuse "KDIR=$KDIR has CONFIG_KVM off; set CONFIG_KVM=m (it selects what kvm.ko needs), rebuild and boot that kernel" ;;
esac
for d in virt/kvm arch/riscv/kvm; do
    [ -d "$KSRC/$d" ] ||
        refuse "KSRC=$KSRC has no $d; give KSRC=<the full kernel source tree> (kernel headers alone are not enough)"
done

# The C compiler the kernel's make will run, as LLVM (environment) names it.
llvm=${LLVM:-}
case "$llvm" in
    '') cc=${CROSS_COMPILE:-}gcc ;;
    */) cc=${llvm}clang ;;
    -*) cc=clang$llvm ;;
    *) cc=clang ;;
esac
command -v "$cc" >/dev/null ||
    refuse "no $cc on PATH${llvm:+ (LLVM=$llvm)}; install the compiler the kernel was built with ($(cfg CC_VERSION_TEXT))${llvm:+, or name yours with LLVM=-N or LLVM=1}"

# The kernel's build outputs the module build reads: its Rust crates and
# bindgen command (make prepare), and Module.symvers (the kernel build).
for f in include/generated/rustc_cfg rust/libcore.rmeta rust/libkernel.rmeta rust/libmacros.so \
         rust/bindings/bindings_generated.rs rust/bindings/.bindings_generated.rs.cmd; do
    [ -e "$KDIR/$f" ] ||
        refuse "KDIR=$KDIR lacks the kernel's Rust build ($f); run make (or at least make prepare) in it"
done
[ -f "$KDIR/Module.symvers" ] ||
    refuse "KDIR=$KDIR has no Module.symvers; build the kernel (make) in it, so that the module links against its symbols"

# The same rustc and bindgen as the kernel's: Rust crates of another rustc
# cannot be linked with, and bindgen's output must match the kernel's.
want=$(cfg RUSTC_VERSION_TEXT)
v=${want#rustc }; v=${v%% *}
rustc=${RUSTC:-rustc}
have=$("$rustc" --version 2>/dev/null) ||
    refuse "no $rustc on PATH; install $want (the kernel was built with it), e.g. with rustup"
[ "$have" = "$want" ] ||
    refuse "$rustc is '$have', the kernel was built with '$want'; install that one (e.g. rustup default $v), or rebuild the kernel with this one"
want=$(cfg BINDGEN_VERSION_TEXT)
v=${want#bindgen }
bindgen=${BINDGEN:-bindgen}
have=$("$bindgen" --version 2>/dev/null) ||
    refuse "no $bindgen on PATH; install $want (the kernel was built with it), e.g. cargo install bindgen-cli --version $v"
[ "$have" = "$want" ] ||
    refuse "$bindgen is '$have', the kernel was built with '$want'; install that one (cargo install bindgen-cli --version $v), or rebuild the kernel with this one"
exit 0

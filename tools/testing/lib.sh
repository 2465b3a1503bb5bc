# Common settings for the rig scripts. Sourced, not run.
set -euo pipefail
CACHE="${KVM_RISCV_CACHE:-$HOME/.cache/kvm-riscv}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KVER_WANT="7.3"
KSRC="$CACHE/linux-src"          # unpacked linux-source-7.3 tree
# O= build dir for the host kernel; RIG_KERNEL=lockdep selects the variant
# with lock debugging (tools/testing/host-lockdep.config on top).
RIG_KERNEL="${RIG_KERNEL:-}"
KBUILD="$CACHE/build/kernel${RIG_KERNEL:+-$RIG_KERNEL}"
LLVM_SUFFIX="-19"
export LIBCLANG_PATH="${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}"
export PATH="$HOME/.cargo/bin:$PATH"
KMAKE=(make -C "$KSRC" O="$KBUILD" ARCH=riscv LLVM="$LLVM_SUFFIX" -j"$(nproc)")
log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] ERROR: %s\n' "$*" >&2; exit 1; }

# The Debian mirror as the system's own apt configuration names it.
debian_mirror() {
    local m=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    [ -n "$m" ] || die "cannot find the Debian mirror in the system's apt configuration"
    echo "${m%/}"
}

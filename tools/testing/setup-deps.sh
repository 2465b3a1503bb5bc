#!/bin/bash
# Install the build and emulation dependencies, idempotently.
# - bookworm packages from the system's own sources;
# - QEMU >= 10 from bookworm-backports through a separate apt list;
# - trixie(-backports) is only ever *downloaded from*, through a private apt
#   state under $CACHE/apt, so the system never sees those suites.
source "$(dirname "$0")/lib.sh"
mkdir -p "$CACHE"
stamp="$CACHE/.deps-v1"
MIRROR=$(debian_mirror)

need_update=0
EXTRA=/etc/apt/sources.list.d/kvm-riscv-backports.sources
if [ ! -f "$EXTRA" ]; then
    cat > "$EXTRA" <<EOS
# Added by kvm-riscv tools/testing/setup-deps.sh (QEMU >= 10)
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
    need_update=1
fi

PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev cpio
      mmdebstrap make python3 rsync kmod xz-utils zstd
      gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu)
if [ ! -f "$stamp" ]; then
    if [ $need_update = 1 ] || [ ! -f "$CACHE/.apt-updated" ]; then
        apt-get update -qq && touch "$CACHE/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PKGS[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports \
        qemu-system-misc >/dev/null
    touch "$stamp"
fi
qv=$(qemu-system-riscv64 --version | awk 'NR==1{print $4}')
case "$qv" in 1[0-9].*|[2-9][0-9].*) ;; *) die "QEMU $qv is too old; need >= 10" ;; esac

# Rust: rust-src for the kernel build, rustfmt and clippy for make fmt-check
# and make clippy, bindgen-cli 0.72.
for c in rust-src rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
        rustup component add "$c"
    fi
done
# The bare RISC-V target of the NACL firmware (tools/testing/nacl-fw).
if ! rustup target list --installed 2>/dev/null | grep -q '^riscv64gc-unknown-none-elf$'; then
    rustup target add riscv64gc-unknown-none-elf
fi
if ! bindgen --version 2>/dev/null | grep -q ' 0\.72\.'; then
    cargo install --locked --version '^0.72' bindgen-cli
fi

# A private apt state for trixie / trixie-backports / sid: download only.
PAPT="$CACHE/apt"
mkdir -p "$PAPT/lists/partial" "$PAPT/archives/partial" "$PAPT/etc"
cat > "$PAPT/etc/sources.list" <<EOS
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie-backports main
EOS
echo "$MIRROR" > "$CACHE/mirror"
log "deps ok (qemu $qv, $(bindgen --version), mirror from system config)"

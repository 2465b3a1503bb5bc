#!/bin/bash
# Build the NACL firmware (tools/testing/nacl-fw) for the bare RISC-V
# target; prints the ELF's path.
source "$(dirname "$0")/lib.sh"
export CARGO_TARGET_DIR="$CACHE/build/nacl-fw-target"
if ! rustup target list --installed 2>/dev/null | grep -q '^riscv64gc-unknown-none-elf$'; then
    rustup target add riscv64gc-unknown-none-elf >&2
fi
cd "$REPO/tools/testing/nacl-fw"
cargo build -q --release --target riscv64gc-unknown-none-elf --bin nacl-fw >&2 || die "nacl-fw does not build"
echo "$CARGO_TARGET_DIR/riscv64gc-unknown-none-elf/release/nacl-fw"

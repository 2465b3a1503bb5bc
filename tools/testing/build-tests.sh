#!/bin/bash
# Build our own test programs (tools/testing/tests/*.c) against the KVM
# selftests library of the kernel tree, with the selftests' own flags.
source "$(dirname "$0")/lib.sh"
ST="$KSRC/tools/testing/selftests/kvm"
SB="$CACHE/build/selftests"
OUT="$CACHE/build/tests"
mkdir -p "$OUT"
CFLAGS=(--target=riscv64-linux-gnu -fintegrated-as -Wno-address-of-packed-member
        -Wno-gnu-variable-sized-type-not-at-end -D_GNU_SOURCE= -Wall -Wstrict-prototypes
        -Wuninitialized -O2 -g -std=gnu99 -DCONFIG_64BIT -U_FORTIFY_SOURCE
        -fno-builtin-memcmp -fno-builtin-memcpy -fno-builtin-memset -fno-builtin-strnlen
        -fno-stack-protector -fno-PIE -fno-strict-aliasing
        -I"$KSRC/tools/testing/selftests" -I"$KSRC/tools/include" -I"$KSRC/tools/arch/riscv/include"
        -I"$ST/include" -I"$SB" -I"$ST/include/riscv" -I"$ST" -isystem "$CACHE/build/headers/include")
LIBS=$(ls "$SB"/lib/*.o "$SB"/lib/riscv/*.o)
for src in "$REPO"/tools/testing/tests/*.c "$REPO"/tools/testing/bench/*.c; do
    name=$(basename "$src" .c)
    bin="$OUT/$name"
    [ "$bin" -nt "$src" ] && [ "$bin" -nt "$SB/lib/kvm_util.o" ] && continue
    # shellcheck disable=SC2086
    clang-19 "${CFLAGS[@]}" -static -fuse-ld=lld "$src" $LIBS -o "$bin" || die "building $name failed"
    log "built tools/testing/tests/$name"
done

#!/bin/bash
# Cross-build the riscv KVM selftests statically with clang.
source "$(dirname "$0")/lib.sh"
OUT="$CACHE/build/selftests"
HDR="$CACHE/build/headers"
stamp="$OUT/.built-$(cat "$KSRC/.unpacked")"
[ -f "$stamp" ] && exit 0
mkdir -p "$OUT"
log "building KVM selftests (static, clang)"
make -C "$KSRC/tools/testing/selftests/kvm" -j"$(nproc)" \
    ARCH=riscv LLVM=-19 CROSS_COMPILE=riscv64-linux-gnu- \
    LDFLAGS="-static -fuse-ld=lld" KHDR_INCLUDES="-isystem $HDR/include" \
    OUTPUT="$OUT" >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; die "selftests build failed"; }
n=$(find "$OUT" -maxdepth 2 -type f -perm -u+x -newer "$HDR" ! -name '*.o' | wc -l)
touch "$stamp"
log "selftests built ($n programs) in $OUT"

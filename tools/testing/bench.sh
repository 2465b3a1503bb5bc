#!/bin/bash
# make bench: exit costs of our kvm.ko and upstream C, in one boot of the
# emulated host with -icount shift=0 -smp 1 (1 ns of guest time = 1 emulated
# instruction). Prints a table and both modules' .text sizes.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results"
    RIG_SMP=1 RIG_QEMU_EXTRA="-icount shift=0" bash "$REPO/tools/testing/run-host.sh" bench ours >/dev/null || true
    local LOG="$RES/ours-bench.log"
    grep -q '^@@RIG bench ref' "$LOG" || { grep '^@@RIG note' "$LOG"; die "benchmark did not complete (see $LOG)"; }
    printf '%-12s %10s %10s %8s\n' case ours C ours/C
    for c in $(sed -n 's/^@@RIG bench ours \([^ ]*\) .*/\1/p' "$LOG"); do
        o=$(sed -n "s/^@@RIG bench ours $c //p" "$LOG")
        r=$(sed -n "s/^@@RIG bench ref $c //p" "$LOG")
        printf '%-12s %10s %10s %8s\n' "$c" "$o" "$r" "$(awk -v a="$o" -v b="$r" 'BEGIN{printf "%.3f", a/b}')"
    done
    echo "(emulated instructions per round trip)"
    local ours_text ref_text
    ours_text=$(llvm-size-19 -A "$REPO/kvm.ko" | awk '$1==".text"{print $2}')
    ref_text=$(llvm-size-19 -A "$KBUILD/arch/riscv/kvm/kvm.ko" | awk '$1==".text"{print $2}')
    echo ".text bytes: ours $ours_text, C $ref_text"
}
main "$@"

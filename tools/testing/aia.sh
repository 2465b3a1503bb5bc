#!/bin/bash
# make aia: a QEMU/KVM guest with the in-kernel AIA irqchip. One boot of the
# emulated host runs QEMU -M virt,aia=aplic-imsic -accel
# kvm,kernel-irqchip=on,riscv-aia=hwaccel and then riscv-aia=emul, 2 vCPUs,
# on our kvm.ko, unloads it, loads upstream C and runs both again
# (tools/testing/host/mode-aia). Each guest reads /proc/interrupts twice and
# passes when the IPI and timer counts grew on both vCPUs (and the APLIC
# delivered the UART's interrupt); prints the counts of every run.
# The guest consoles are kept as $CACHE/results/aia-{ours,ref}-{hwaccel,emul}.txt.
# Exit status 0 only if every run passed on both modules and the host run
# was clean.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0 m am f
    mkdir -p "$RES"
    rm -f "$RES/ours-aia.txt" "$RES/ours-aia.log" "$RES"/aia-{ours,ref}-*.txt
    bash "$REPO/tools/testing/run-host.sh" aia ours || rc=$?
    local LOG="$RES/ours-aia.log"
    sed -n 's/^@@RIG aia ours hwaccel qemu: /  guest QEMU: /p' "$LOG"
    sed -n '/^@@RIG \(aia\|note aia\)/p' "$LOG" | grep -v '^@@RIG aia [a-z]* [a-z]* qemu:' | sed 's/^@@RIG /  /'
    for m in ours ref; do
        for am in $(sed -n "s/^@@AIA $m \([a-z]*\) .*/\1/p" "$LOG" | uniq); do
            f="$RES/aia-$m-$am.txt"
            sed -n "s/^@@AIA $m $am //p" "$LOG" > "$f"
            grep -q "^guest_aia_${am}_$m PASS" "$RES/ours-aia.txt" 2>/dev/null || {
                echo "  guest console ($m, $am), last 30 lines:"; tail -n 30 "$f" | sed 's/^/    /'; }
        done
    done
    log "guest consoles: $RES/aia-{ours,ref}-{hwaccel,emul}.txt"
    for m in ours ref; do
        grep -q "^guest_aia_$m PASS" "$RES/ours-aia.txt" 2>/dev/null || rc=1
    done
    return $rc
}
main "$@"

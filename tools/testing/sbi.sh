#!/bin/bash
# make sbi: the SBI conformance test. One boot of the emulated host runs
# tests/sbi_dump twice on our kvm.ko, unloads it, loads upstream C and runs
# it twice again (tools/testing/host/mode-sbi); the two runs on a module must
# be identical (the dump is deterministic), and ours must be identical to
# upstream C's byte for byte. The dumps are kept as
# $CACHE/results/sbi-{ours,ref}.txt.
# Exit status 0 only if the test passed and the host run was clean.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0
    mkdir -p "$RES"
    rm -f "$RES/ours-sbi.txt" "$RES/ours-sbi.log"
    bash "$REPO/tools/testing/run-host.sh" sbi ours || rc=$?
    local LOG="$RES/ours-sbi.log"
    for m in ours ref; do
        sed -n "s/^@@SBI $m //p" "$LOG" > "$RES/sbi-$m.txt"
    done
    sed -n -e '/^@@RIG output-begin sbi/,/^@@RIG output-end sbi/p' \
        -e '/^@@RIG \(sbi\|note sbi\)/p' "$LOG" | sed 's/^@@RIG /  /'
    grep '^@@RIG diff ' "$LOG" | sed 's/^@@RIG diff /    /' || true
    log "dumps: $RES/sbi-ours.txt $RES/sbi-ref.txt"
    grep -q '^tests/sbi_conformance PASS' "$RES/ours-sbi.txt" 2>/dev/null || rc=1
    return $rc
}
main "$@"

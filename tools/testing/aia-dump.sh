#!/bin/bash
# make aia-dump: the in-kernel AIA irqchip conformance test. One boot of the
# emulated host runs tests/aia_dump twice on our kvm.ko, unloads it, loads
# upstream C and runs it twice again (tools/testing/host/mode-aiadump); the
# two runs on a module must be identical (the dump is deterministic), and
# ours must be identical to upstream C's byte for byte. The dumps are kept
# as $CACHE/results/aiadump-{ours,ref}.txt.
# Exit status 0 only if the test passed and the host run was clean.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0
    mkdir -p "$RES"
    rm -f "$RES/ours-aiadump.txt" "$RES/ours-aiadump.log"
    bash "$REPO/tools/testing/run-host.sh" aiadump ours || rc=$?
    local LOG="$RES/ours-aiadump.log"
    for m in ours ref; do
        sed -n "s/^@@AIA $m //p" "$LOG" > "$RES/aiadump-$m.txt"
    done
    sed -n -e '/^@@RIG output-begin aiadump/,/^@@RIG output-end aiadump/p' \
        -e '/^@@RIG \(aiadump\|note aiadump\)/p' "$LOG" | sed 's/^@@RIG /  /'
    grep '^@@RIG diff ' "$LOG" | sed 's/^@@RIG diff /    /' || true
    log "dumps: $RES/aiadump-ours.txt $RES/aiadump-ref.txt"
    grep -q '^tests/aia_conformance PASS' "$RES/ours-aiadump.txt" 2>/dev/null || rc=1
    return $rc
}
main "$@"

#!/bin/bash
# make onereg: the ONE_REG conformance test. One boot of the emulated host
# runs tests/onereg_dump on our kvm.ko, unloads it, loads upstream C and runs
# it again (tools/testing/host/mode-onereg); the two dumps must be identical
# byte for byte, and each run must see Ziccrse read as 1 and refuse SET 0.
# The dumps are kept as $CACHE/results/onereg-{ours,ref}.txt.
# Exit status 0 only if the test passed and the host run was clean.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0
    mkdir -p "$RES"
    rm -f "$RES/ours-onereg.txt" "$RES/ours-onereg.log"
    bash "$REPO/tools/testing/run-host.sh" onereg ours || rc=$?
    local LOG="$RES/ours-onereg.log"
    for m in ours ref; do
        sed -n "s/^@@ONEREG $m //p" "$LOG" > "$RES/onereg-$m.txt"
    done
    sed -n -e '/^@@RIG output-begin onereg/,/^@@RIG output-end onereg/p' \
        -e '/^@@RIG \(onereg\|note onereg\)/p' "$LOG" | sed 's/^@@RIG /  /'
    grep '^@@RIG diff ' "$LOG" | sed 's/^@@RIG diff /    /' || true
    log "dumps: $RES/onereg-ours.txt $RES/onereg-ref.txt"
    grep -q '^tests/onereg_conformance PASS' "$RES/ours-onereg.txt" 2>/dev/null || rc=1
    return $rc
}
main "$@"

#!/bin/bash
# make vm: the VM, memslot and G-stage conformance test. One boot of the
# emulated host runs tests/vm_dump twice on our kvm.ko, unloads it, loads
# upstream C and runs it twice again (tools/testing/host/mode-vm); the two
# runs on a module must be identical (the dump is deterministic), and ours
# must be identical to upstream C's byte for byte. The dumps are kept as
# $CACHE/results/vm-{ours,ref}.txt.
# Exit status 0 only if the test passed and the host run was clean.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0
    mkdir -p "$RES"
    rm -f "$RES/ours-vm.txt" "$RES/ours-vm.log"
    bash "$REPO/tools/testing/run-host.sh" vm ours || rc=$?
    local LOG="$RES/ours-vm.log"
    for m in ours ref; do
        sed -n "s/^@@VM $m //p" "$LOG" > "$RES/vm-$m.txt"
    done
    sed -n -e '/^@@RIG output-begin vm/,/^@@RIG output-end vm/p' \
        -e '/^@@RIG \(vm\|note vm\)/p' "$LOG" | sed 's/^@@RIG /  /'
    grep '^@@RIG diff ' "$LOG" | sed 's/^@@RIG diff /    /' || true
    log "dumps: $RES/vm-ours.txt $RES/vm-ref.txt"
    grep -q '^tests/vm_conformance PASS' "$RES/ours-vm.txt" 2>/dev/null || rc=1
    return $rc
}
main "$@"

#!/bin/bash
# make fuzz: the differential fuzzer (tools/testing/tests/kvm_fuzz). One
# boot of the emulated host runs the same seeds on our kvm.ko and then on
# upstream C (tools/testing/host/mode-fuzz).
#   SEEDS   comma-separated seeds (default: the fixed seeds of make test)
#   CASES   cases per seed; FUZZ_OPS operations per case
#   FUZZ_SELF=1  the second run is our module again instead of upstream C
#           (what differs then is the rig's nondeterminism)
# Passes when every deterministic line of ours equals C's, no case splats
# on ours unless it splats on C too (an upstream defect, listed in the
# README), the boot ended cleanly and the kernel log of ours' part (up to
# the module switch) is clean. Log: $CACHE/results/ours-fuzz.log; outputs
# in the log when FUZZ_DUMP=1.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0 seeds=${SEEDS:-1,2,3,4} cases=${CASES:-25} ops=${FUZZ_OPS:-80}
    mkdir -p "$RES"
    rm -f "$RES/ours-fuzz.txt" "$RES/ours-fuzz.log"
    # A case takes well under a second on each module (some seconds on the
    # debug kernel); the boot's limit grows with the run.
    local n per=3; n=$(( $(tr ',' '\n' <<< "$seeds" | grep -c .) * cases ))
    [ "$RIG_KERNEL" = debug ] && per=20
    RIG_TIMEOUT=$((600 + per * n)) RIG_APPEND="rig.seeds=$seeds rig.cases=$cases rig.fuzzops=$ops ${FUZZ_DUMP:+rig.fuzzdump=1} ${FUZZ_SELF:+rig.fuzzself=1} ${RIG_APPEND:-}" \
        bash "$REPO/tools/testing/run-host.sh" fuzz ours >/dev/null || true
    local LOG="$RES/ours-fuzz.log"
    grep '^@@RIG fuzz [a-z]* seed=\|^@@RIG fuzz seed=\|^@@RIG note fuzz\|^@@RIG fuzz .* stderr kvm_fuzz: splat' "$LOG" | \
        sed 's/^@@RIG /  /'
    grep '^@@RIG diff ' "$LOG" | sed 's/^@@RIG diff /    /' || true
    grep -q '^@@RIG end' "$LOG" || { echo "  the host did not reach its end (crash, hang or timeout)"; rc=1; }
    # The kernel log of ours' part: the console (every message up to
    # notice level, whatever the size of the ring buffer, which C's
    # splats may overflow) up to the switch to upstream C.
    local part="$RES/ours-fuzz-ours-part.log"
    sed '/rig: fuzz: upstream C from here/,$d' "$LOG" | grep -v '^@@' > "$part" || true
    if ! bash "$REPO/tools/testing/dmesg-scan.sh" "$part"; then
        echo "  the kernel log of ours' part shows a splat (see $LOG)"; rc=1
    fi
    if ! bash "$REPO/tools/testing/dmesg-scan.sh" "$LOG" >/dev/null; then
        echo "  upstream C's part of the kernel log shows a splat (upstream's; see the cases above)"
    fi
    grep -q '^tests/kvm_fuzz PASS' "$RES/ours-fuzz.txt" 2>/dev/null || rc=1
    local ops_o ops_c
    ops_o=$(sed -n 's/^@@RIG fuzz ours seed=.* ops=\([0-9]*\).*/\1/p' "$LOG" | awk '{ n += $1 } END { print n + 0 }')
    ops_c=$(sed -n 's/^@@RIG fuzz ref seed=.* ops=\([0-9]*\).*/\1/p' "$LOG" | awk '{ n += $1 } END { print n + 0 }')
    echo "  operations: ours $ops_o, upstream C $ops_c (seeds $seeds, $cases cases each)"
    return $rc
}
main "$@"

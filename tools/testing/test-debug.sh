#!/bin/bash
# make test-debug: ours and upstream C on the debug host kernel
# (RIG_KERNEL=debug: host.config + host-debug.config: KASAN, KFENCE, lockdep,
# DEBUG_ATOMIC_SLEEP, DEBUG_PREEMPT, kmemleak, UBSAN, DEBUG_LIST, Rust debug
# assertions and overflow checks, soft-lockup and hung-task detection).
# Not part of make test (the kernel alone takes a quarter of an hour cold).
# Our kvm.ko is built against the debug tree in a copy of the repository
# (the rig's own kvm.ko stays as it is). Then:
#  - the quick selftests, one boot per module, verdicts compared;
#  - the ONE_REG dump (ours and C in one boot);
#  - the in-kernel AIA guest (ours and C in one boot), and, as evidence for
#    what it reports, the same on upstream C alone (lockdep reports once a
#    boot, so ours-then-C cannot show C's own report);
#  - the fuzzer's fixed seeds (tools/testing/fuzz.sh, make fuzz), ours and
#    C in one boot;
#  - the module leak loop (tools/testing/leak.sh, make leak: 30 times load,
#    workload, rmmod, ours and C in one boot; kmemleak, leftover interrupts,
#    Slab/Vmalloc/Percpu drift), which builds its own copy;
# every boot followed by two kmemleak scans and the dmesg scan
# (tools/testing/oops.pat). It passes when every verdict of ours equals C's
# and every boot of ours is clean, except for reports that the C-only boot
# shows too (upstream defects, listed in the README).
# Logs: $CACHE/results/debug-*.log.
source "$(dirname "$0")/lib.sh"
main() {
    export RIG_KERNEL=debug
    local COPY="$CACHE/build/debug-repo" RES="$CACHE/results" rc=0 m n o c
    mkdir -p "$COPY" "$RES"
    (cd "$REPO" && git ls-files -z) | rsync -a --from0 --files-from=- "$REPO/" "$COPY/"
    make -s --no-print-directory -C "$COPY" module >/dev/null
    local T="$COPY/tools/testing"
    scan() {  # scan NAME LOG: the dmesg scan's verdict, kept
        if bash "$T/dmesg-scan.sh" "$2" > "$RES/debug-$1.scan"; then echo clean; else echo SPLAT; fi
    }
    for m in ours ref; do
        bash "$T/run-host.sh" quick "$m" >/dev/null || true
        cp "$RES/$m-quick.log" "$RES/debug-quick-$m.log"; cp "$RES/$m-quick.txt" "$RES/debug-quick-$m.txt"
    done
    printf '  %-32s %-6s %-6s\n' test ours C
    for n in $(cut -d' ' -f1 "$RES/debug-quick-ref.txt" | grep -v '^dmesg_scan$'); do
        o=$(awk -v n="$n" '$1==n {print $2}' "$RES/debug-quick-ours.txt"); o=${o:-none}
        c=$(awk -v n="$n" '$1==n {print $2}' "$RES/debug-quick-ref.txt"); c=${c:-none}
        printf '  %-32s %-6s %-6s%s\n' "$n" "$o" "$c" "$([ "$o" = "$c" ] || echo '   <-- differs')"
        [ "$o" = "$c" ] || rc=1
    done
    bash "$T/onereg.sh" >/dev/null || true
    cp "$RES/ours-onereg.log" "$RES/debug-onereg.log"
    grep -q '^tests/onereg_conformance PASS' "$RES/ours-onereg.txt" || { echo "  onereg: FAIL"; rc=1; }
    bash "$T/aia.sh" >/dev/null || true
    cp "$RES/ours-aia.log" "$RES/debug-aia.log"
    # Upstream C alone: /init loads C, and mode-aia's first run (labelled
    # "ours") is C as well.
    bash "$T/run-host.sh" aia ref >/dev/null || true
    cp "$RES/ref-aia.log" "$RES/debug-aia-c-only.log"
    for m in ours ref; do
        grep -q "^guest_aia_$m PASS" "$RES/ours-aia.txt" 2>/dev/null || { echo "  aia ($m): FAIL"; rc=1; }
    done
    # The fuzzer's fixed seeds (make fuzz), ours and C in one boot: every
    # deterministic line the same, no splat of ours (KASAN, lockdep, UBSAN,
    # ... name their seed and case) unless C shows it too.
    local fz=PASS
    bash "$T/fuzz.sh" > "$RES/debug-fuzz.out" 2>&1 || { fz=FAIL; rc=1; }
    cp "$RES/ours-fuzz.log" "$RES/debug-fuzz.log"
    echo "  fuzzer, fixed seeds (make fuzz): $fz"
    grep -E '^  (fuzz seed=|operations|the |upstream C)' "$RES/debug-fuzz.out" | sed 's/^/  /'
    # The leak loop: its verdicts and its kernel-log verdict (leak.sh).
    local lk=PASS
    bash "$REPO/tools/testing/leak.sh" > "$RES/debug-leak.out" 2>&1 || { lk=FAIL; rc=1; }
    echo "  leak loop (make leak): $lk"
    grep -E '^  (leak_|kernel log|host)' "$RES/debug-leak.out" | sed 's/^/  /'
    echo "  kernel-log scans (debug kernel):"
    local q_o q_c on ai ac
    q_o=$(scan quick-ours "$RES/debug-quick-ours.log"); q_c=$(scan quick-ref "$RES/debug-quick-ref.log")
    on=$(scan onereg "$RES/debug-onereg.log"); ai=$(scan aia "$RES/debug-aia.log"); ac=$(scan aia-c-only "$RES/debug-aia-c-only.log")
    printf '    %-34s %s\n' "quick, ours" "$q_o" "quick, C" "$q_c" "onereg (ours, then C)" "$on" \
        "aia (ours, then C)" "$ai" "aia (C alone)" "$ac"
    for f in quick-ours quick-ref onereg aia aia-c-only; do
        [ -s "$RES/debug-$f.scan" ] && sed "s/^/    $f: /" "$RES/debug-$f.scan"
    done
    [ "$q_o" = clean ] || [ "$q_c" = SPLAT ] || rc=1
    [ "$on" = clean ] || rc=1
    # The AIA boot (ours, then C): a report only in C's part of it (after
    # "@@RIG aia ref module" on the console; ours takes no lock where
    # upstream's lockdep report comes from), and one that C alone shows too
    # (its first report line, the same).
    if [ "$ai" = SPLAT ]; then
        local first refl
        first=$(grep -n -m1 -E -f "$T/oops.pat" "$RES/debug-aia.log" | cut -d: -f1)
        refl=$(grep -n -m1 '^@@RIG aia ref module' "$RES/debug-aia.log" | cut -d: -f1)
        if [ -n "$first" ] && [ -n "$refl" ] && [ "$first" -gt "$refl" ] && [ "$ac" = SPLAT ] &&
                [ "$(head -n 1 "$RES/debug-aia.scan" | sed 's/.*\] //')" = \
                  "$(head -n 1 "$RES/debug-aia-c-only.scan" | sed 's/.*\] //')" ]; then
            echo "  aia: the report comes in upstream C's part of the boot, and C alone shows it too (README, known differences)"
        else
            echo "  aia: a report in our part of the boot (console line $first; C's part from line $refl)"
            rc=1
        fi
    fi
    log "test-debug: logs in $RES/debug-*.log"
    return $rc
}
main "$@"

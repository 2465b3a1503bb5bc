#!/bin/bash
# make mmu-modes: the MMU selftests on emulated host CPUs whose G-stage is
# not the default Sv57x4, or that lack Svinval. One boot of the emulated
# host per mode (RIG_CPU) runs, on our kvm.ko and then on upstream C
# (tools/testing/host/mode-mmu): the G-stage mode the module logs at load,
# an MMU subset of selftests.list and the guest boot.
#   sv48       -cpu max,sv57=off            G-stage Sv48x4, host MMU sv48
#   sv39       -cpu max,sv57=off,sv48=off   G-stage Sv39x4, host MMU sv39
#   nosvinval  -cpu max,svinval=off         G-stage Sv57x4, no Svinval
# MODES="sv48 sv39 nosvinval" (the default) selects; so do arguments.
# MMU_TESTS="row ..." runs those rows of selftests.list instead of
# host/mode-mmu's subset.
# A mode passes when the host CPU is what the mode says (its MMU, the
# extension it lacks), each module logged the mode's G-stage and its VMs
# had the mode's guest physical address bits, every verdict of ours equals
# upstream C's, and the boot ended with a clean kernel log.
# Per mode: $CACHE/results/mmu-MODE.{log,txt}; one summary line per mode,
# "mmu_MODE ROW OURS C", in $CACHE/results/mmu-modes.txt (test.sh reads it):
# ROW the mode's verdict, OURS and C each PASS when that module's G-stage
# was right and none of its verdicts FAIL.
# Exit status 0 only if every mode selected passed.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0 mode cpu gst satp noext hostrc secs LOG TXT
    local n o c row os cs
    mkdir -p "$RES"
    local modes=${*:-${MODES:-sv48 sv39 nosvinval}}
    rm -f "$RES/mmu-modes.txt"
    for mode in $modes; do
        noext=""
        case "$mode" in
            sv48) cpu=max,sv57=off gst=Sv48x4 satp=sv48 ;;
            sv39) cpu=max,sv57=off,sv48=off gst=Sv39x4 satp=sv39 ;;
            nosvinval) cpu=max,svinval=off gst=Sv57x4 satp=sv57 noext=svinval ;;
            *) die "mmu-modes: unknown mode $mode (sv48, sv39, nosvinval)" ;;
        esac
        echo "== mmu_$mode: host -cpu $cpu, G-stage $gst${noext:+, without $noext}"
        rm -f "$RES/ours-mmu.txt" "$RES/ours-mmu.log"
        hostrc=0
        # run-host.sh's messages go on to stderr and to mmu-MODE.rig, whose
        # "host run took N s" is the boot's time (without a wait for the lock).
        { RIG_CPU=$cpu RIG_APPEND="rig.gstage=$gst rig.satp=$satp${noext:+ rig.noext=$noext} ${RIG_APPEND:-}" \
            bash "$REPO/tools/testing/run-host.sh" mmu ours ${MMU_TESTS:-} 2>&1 1>&3 | tee "$RES/mmu-$mode.rig" >&2; } 3>&1 || hostrc=$?
        secs=$(sed -n 's/.*host run took \([0-9]*\) s.*/\1/p' "$RES/mmu-$mode.rig")
        LOG="$RES/mmu-$mode.log" TXT="$RES/mmu-$mode.txt"
        cp "$RES/ours-mmu.log" "$LOG" 2>/dev/null || : > "$LOG"
        cp "$RES/ours-mmu.txt" "$TXT" 2>/dev/null || : > "$TXT"
        sed -n -e 's/^@@RIG mmu host mmu=\([^ ]*\) .*/  host: mmu \1/p' \
            -e '/^@@RIG mmu host:/s/^@@RIG mmu /  /p' \
            -e 's/^@@RIG mmu \([a-z]*\) \(G-stage\|guest PA bits\)/  \1: \2/p' \
            -e '/^@@RIG note mmu/s/^@@RIG /  /p' "$LOG"
        row=PASS
        printf '  %-36s %-6s %-6s\n' test ours C
        for n in $(sed -n 's/^ours\/\([^ ]*\) .*/\1/p' "$TXT"); do
            o=$(awk -v n="ours/$n" '$1==n {print $2}' "$TXT"); o=${o:-none}
            c=$(awk -v n="ref/$n" '$1==n {print $2}' "$TXT"); c=${c:-none}
            printf '  %-36s %-6s %-6s %4s %4s%s\n' "$n" "$o" "$c" \
                "$(awk -v n="ours/$n" '$1==n {print $3 "s"}' "$TXT")" \
                "$(awk -v n="ref/$n" '$1==n {print $3 "s"}' "$TXT")" \
                "$([ "$o" = "$c" ] || echo '   <-- differs')"
            [ "$o" = "$c" ] || row=FAIL
        done
        grep -q '^ref/' "$TXT" || { echo "  upstream C did not run"; row=FAIL; }
        grep -q '^host_cpu PASS' "$TXT" || { echo "  host_cpu: the emulated CPU is not what mmu_$mode needs"; row=FAIL; }
        # Both modules must have the mode's G-stage, not merely the same one.
        os=PASS cs=PASS
        grep -q '^ours/gstage_mode PASS' "$TXT" || { os=FAIL; row=FAIL; }
        grep -q '^ref/gstage_mode PASS' "$TXT" || { cs=FAIL; row=FAIL; }
        ! grep -q '^ours/[^ ]* FAIL' "$TXT" || os=FAIL
        ! grep -q '^ref/[^ ]* FAIL' "$TXT" || cs=FAIL
        if [ $hostrc != 0 ]; then
            echo "  host run: no clean end or the dmesg scan failed (see $LOG)"; row=FAIL; os=FAIL
        fi
        echo "  mmu_$mode $row (emulated host ${secs:-?} s; log $LOG)"
        echo "mmu_$mode $row $os $cs" >> "$RES/mmu-modes.txt"
        [ $row = PASS ] || rc=1
    done
    return $rc
}
main "$@"

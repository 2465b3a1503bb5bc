#!/bin/bash
# make nacl: the emulated host on our NACL firmware (tools/testing/nacl-fw,
# QEMU -bios), so that KVM's nested-acceleration paths run: the ncsr_*
# accessors through the shared memory, the HFENCE entries and the
# sync_sret world switch. One boot runs, on our kvm.ko and then on
# upstream C (tools/testing/host/mode-nacl): the quick selftests, the guest
# boot, and the in-kernel AIA guest in hwaccel and emul modes.
# Passes when:
#  - both modules log "using SBI nested acceleration with sync_csr,
#    sync_hfence, sync_sret, autoswap_csr";
#  - every verdict of ours equals upstream C's (NACL runs with NACL runs);
#  - each module's counters line (printed by the firmware when the module
#    is removed) has sync_sret, redirects and hfence_ranged above 0;
#  - ours has no violation; upstream C only the ones the README's
#    known-differences list documents (its HFENCE entry layout);
#  - the boot ended cleanly and its dmesg scan passed.
# The console log is $CACHE/results/ours-nacl.log.
source "$(dirname "$0")/lib.sh"
main() {
    local RES="$CACHE/results" rc=0 hostrc=0 FW m n o c v line viol bad_viol
    mkdir -p "$RES"
    FW=$(bash "$REPO/tools/testing/build-nacl-fw.sh")
    rm -f "$RES/ours-nacl.txt" "$RES/ours-nacl.log"
    RIG_QEMU_EXTRA="-bios $FW ${RIG_QEMU_EXTRA:-}" bash "$REPO/tools/testing/run-host.sh" nacl ours || hostrc=$?
    local LOG="$RES/ours-nacl.log" TXT="$RES/ours-nacl.txt"
    touch "$TXT"
    grep -o 'nacl-fw: hart [0-9]*: medeleg.*' "$LOG" | head -n 1 | sed 's/^/  /'
    for m in ours ref; do
        sed -n "s/^@@RIG nacl $m line: /  $m: /p" "$LOG"
    done
    # Verdicts, ours against upstream C.
    printf '  %-32s %-6s %-6s\n' test ours C
    for n in $(sed -n 's/^ours\/\([^ ]*\) .*/\1/p' "$TXT"); do
        o=$(awk -v n="ours/$n" '$1==n {print $2}' "$TXT"); o=${o:-none}
        c=$(awk -v n="ref/$n" '$1==n {print $2}' "$TXT"); c=${c:-none}
        printf '  %-32s %-6s %-6s%s\n' "$n" "$o" "$c" "$([ "$o" = "$c" ] || echo '   <-- differs')"
        [ "$o" = "$c" ] || rc=1
    done
    for m in ours ref; do
        grep -q "^$m/nacl_line PASS" "$TXT" || { echo "  $m: no NACL log line"; rc=1; }
    done
    # Counters and violations, per module section.
    for m in ours ref; do
        sect=$(sed -n "/^@@RIG nacl $m begin/,/^@@RIG nacl $m end/p" "$LOG")
        line=$(grep -o 'nacl-fw: set_shmem=.*violations=[0-9]*' <<<"$sect" | tail -n 1 || true)
        if [ -z "$line" ]; then echo "  $m: no counters line from the firmware"; rc=1; continue; fi
        echo "  $m: $line"
        for k in sync_sret redirects hfence_ranged; do
            v=$(sed -n "s/.* $k=\([0-9]*\).*/\1/p" <<<"$line")
            [ "${v:-0}" -gt 0 ] || { echo "  $m: $k is 0"; rc=1; }
        done
        viol=$(sed -n 's/.* violations=\([0-9]*\).*/\1/p' <<<"$line")
        if [ "$viol" != 0 ]; then
            grep -o 'nacl-fw: violation: .*' <<<"$sect" | sed 's/ (config=.*//' | sort | uniq -c | sed "s/^/  $m: /"
            if [ $m = ours ]; then
                rc=1
            else
                # Upstream C's HFENCE entries (README, known differences).
                bad_viol=$(grep -o 'nacl-fw: violation: .*' <<<"$sect" | \
                    grep -v -e 'word 2 (Reserved) not zero' -e 'Order not zero for a type that ignores it' || true)
                [ -z "$bad_viol" ] || { echo "  ref: violations beyond the documented ones"; rc=1; }
            fi
        fi
    done
    if [ $hostrc != 0 ]; then echo "  host run: no clean end or dmesg scan failed (see $LOG)"; rc=1; fi
    log "nacl: console log $LOG"
    return $rc
}
main "$@"

#!/bin/bash
# make test: every test, one line each, then "N passed, N failed".
#  a. host unit tests (cargo test) of the pure-logic modules;
#     rustfmt (make fmt-check) and clippy (make clippy, in a copy of the tree);
#     the build-tree checks and make install/uninstall (install-test.sh);
#  b. every riscv KVM selftest on our kvm.ko, in the emulated host;
#  c. the QEMU/KVM guest boot of `make run`;
#  d. a dmesg scan of that boot;
#  e. the ONE_REG conformance dump (make onereg): ours and upstream C in one
#     boot, byte for byte;
#  e2. the SBI conformance dump (make sbi): ours and upstream C in one
#     boot, byte for byte, each run twice (the dump is deterministic);
#  e3. the VM, memslot and G-stage conformance dump (make vm): the same;
#  e4. the in-kernel AIA irqchip conformance dump (make aia-dump): the same;
#  f. the QEMU/KVM guest with the in-kernel AIA irqchip (make aia): ours and
#     upstream C in one boot, IPIs and timer interrupts on both vCPUs;
#  g. the same on an emulated host without Sstc (make aia-nosstc): the
#     guest's timer is then KVM's hrtimer, which injects its interrupt;
#  g2. the MMU selftests and the guest boot on emulated host CPUs with an
#     Sv48x4 and an Sv39x4 G-stage and without Svinval (make mmu-modes):
#     ours and upstream C in one boot each, the G-stage mode checked;
#  h. the emulated host on our NACL firmware (make nacl): the quick
#     selftests, the guest boot and the AIA guests, ours and upstream C in
#     one boot, through the SBI nested-acceleration paths;
#  i. the README's real-host commands against a second kernel tree
#     (alt-tree.sh): make KDIR=..., make install, modprobe kvm;
#  j. the differential fuzzer's fixed seeds (make fuzz): ours and upstream
#     C in one boot.
# Not here: make config-matrix (our kvm.ko against five other host
# configurations), whose cold run rebuilds most of the kernel four times,
# far beyond the 5 minutes a row may add (README.md, "Other host
# configurations"); make test-debug and make leak, likewise.
# Our verdicts are compared with upstream C's (run once and cached per
# kernel version, test list and host config): a test passes when our
# verdict equals C's; any difference fails.
source "$(dirname "$0")/lib.sh"
# The body is a function, so bash reads all of it before running it: an
# edit of this file during a run cannot change the run.
main() {
    T="$REPO/tools/testing"
    RES="$CACHE/results"; mkdir -p "$RES"
    pass=0 fail=0
    ok()  { printf 'ok    %s\n' "$*"; pass=$((pass + 1)); }
    bad() { printf 'FAIL  %s\n' "$*"; fail=$((fail + 1)); }

    # a. unit tests
    echo "== unit tests (host cargo test)"
    urc=0; out=$(bash "$T/unit.sh" 2>&1) || urc=$?
    while read -r name verdict; do
        if [ "$verdict" = ok ]; then ok "unit/$name"; else bad "unit/$name"; fi
    done < <(echo "$out" | sed -n 's/^test \([^ ]*\) \.\.\. \([a-zA-Z]*\)$/\1 \2/p')
    if [ $urc != 0 ] && ! echo "$out" | grep -q '^test .* FAILED$'; then echo "$out" | tail -20; bad "unit (build)"; fi

    # rustfmt and clippy: the details, then the row. A failing check fails
    # its row only.
    echo "== rustfmt and clippy"
    check_row() {  # check_row NAME SCRIPT: its first line is the summary
        local out rc=0 first
        out=$(bash "$T/$2" 2>&1) || rc=$?
        first=${out%%$'\n'*}; first=${first#"$1: "}
        if [ $rc = 0 ]; then ok "$1 ($first)"
        else printf '%s\n' "$out" | tail -n +2; bad "$1 ($first)"; fi
    }
    check_row rustfmt fmt-check.sh
    check_row clippy clippy.sh

    # The build-tree refusals on doctored copies of the kernel tree, make
    # install and make uninstall: a row per case of install-test.sh.
    echo "== build-tree checks, make install and uninstall"
    irc=0; iout=$(bash "$T/install-test.sh" 2>&1) || irc=$?
    while read -r verdict rest; do
        case "$verdict" in ok) ok "$rest" ;; FAIL) bad "$rest" ;; esac
    done <<< "$iout"
    if [ $irc != 0 ] && ! grep -q '^FAIL' <<< "$iout"; then echo "$iout" | tail -20; bad "install-test.sh (did not finish)"; fi

    # Reference verdicts of upstream C, cached.
    key=$( (cat "$KSRC/.unpacked" "$T/selftests.list" "$T/host.config") | sha256sum | cut -c1-12)
    REF="$RES/ref-test-$key.txt"
    if [ ! -s "$REF" ] || [ -n "${RIG_REFRESH_REF:-}" ]; then
        echo "== upstream C reference run (cached as $(basename "$REF"))"
        rm -f "$RES/ref-test.txt" "$RES/ref-test.log"
        bash "$T/run-host.sh" test ref || true
        grep -q '^@@RIG end' "$RES/ref-test.log" 2>/dev/null || die "the reference run on upstream C did not complete"
        cp "$RES/ref-test.txt" "$REF"
        cp "$RES/ref-test.log" "${REF%.txt}.log"
    fi

    # b-d. our module
    echo "== selftests, guest boot and dmesg scan on our kvm.ko"
    rm -f "$RES/ours-test.txt"
    hostrc=0; bash "$T/run-host.sh" test ours || hostrc=$?
    touch "$RES/ours-test.txt"
    OURS="$RES/ours-test.txt"

    # e. ONE_REG conformance: its own boot, both modules. Ours PASS: the dumps
    #    are identical, our program passed and the boot was clean; C PASS:
    #    upstream C's program passed (Ziccrse reads 1, SET 0 refused).
    echo "== ONE_REG conformance dump, ours and upstream C in one boot"
    onereg_ours=PASS; bash "$T/onereg.sh" || onereg_ours=FAIL
    onereg_c=FAIL
    grep -q '^@@RIG onereg ref rc=0 ' "$RES/ours-onereg.log" 2>/dev/null && onereg_c=PASS

    # e2. SBI conformance: its own boot, both modules. Ours PASS: our two
    #     runs and upstream C's are identical, every run exited 0 and the
    #     boot was clean; C PASS: upstream C's two runs exited 0 and are
    #     identical.
    echo "== SBI conformance dump (make sbi), ours and upstream C in one boot"
    sbi_ours=PASS; bash "$T/sbi.sh" || sbi_ours=FAIL
    sbi_c=FAIL
    if grep -q '^@@RIG sbi ref rc=0 ' "$RES/ours-sbi.log" 2>/dev/null && \
       grep -q '^@@RIG sbi ref2 rc=0 ' "$RES/ours-sbi.log" && \
       grep -q '^@@RIG sbi runs on upstream C identical' "$RES/ours-sbi.log"; then
        sbi_c=PASS
    fi

    # e3. VM, memslot and G-stage conformance: its own boot, both modules,
    #     judged as e2.
    echo "== VM, memslot and G-stage conformance dump (make vm), ours and upstream C in one boot"
    vm_ours=PASS; bash "$T/vm.sh" || vm_ours=FAIL
    vm_c=FAIL
    if grep -q '^@@RIG vm ref rc=0 ' "$RES/ours-vm.log" 2>/dev/null && \
       grep -q '^@@RIG vm ref2 rc=0 ' "$RES/ours-vm.log" && \
       grep -q '^@@RIG vm runs on upstream C identical' "$RES/ours-vm.log"; then
        vm_c=PASS
    fi

    # e4. In-kernel AIA irqchip conformance: its own boot, both modules,
    #     judged as e2.
    echo "== in-kernel AIA irqchip conformance dump (make aia-dump), ours and upstream C in one boot"
    aiad_ours=PASS; bash "$T/aia-dump.sh" || aiad_ours=FAIL
    aiad_c=FAIL
    if grep -q '^@@RIG aiadump ref rc=0 ' "$RES/ours-aiadump.log" 2>/dev/null && \
       grep -q '^@@RIG aiadump ref2 rc=0 ' "$RES/ours-aiadump.log" && \
       grep -q '^@@RIG aiadump runs on upstream C identical' "$RES/ours-aiadump.log"; then
        aiad_c=PASS
    fi

    # f. In-kernel AIA guest: its own boot, both modules. Ours PASS: the
    #    guest passed on our kvm.ko and the boot was clean (end reached, dmesg
    #    scan passed); C PASS: the guest passed on upstream C.
    echo "== in-kernel AIA guest (make aia), ours and upstream C in one boot"
    aiarc=0; bash "$T/aia.sh" || aiarc=$?
    aia_ours=FAIL aia_c=FAIL
    if grep -q '^guest_aia_ours PASS' "$RES/ours-aia.txt" 2>/dev/null && \
       grep -q '^dmesg_scan PASS' "$RES/ours-aia.txt" && grep -q '^@@RIG end' "$RES/ours-aia.log"; then
        aia_ours=PASS
    fi
    grep -q '^guest_aia_ref PASS' "$RES/ours-aia.txt" 2>/dev/null && aia_c=PASS

    # g. As f, on a host CPU without Sstc.
    echo "== in-kernel AIA guest on a host without Sstc (make aia-nosstc)"
    nsrc=0; RIG_CPU=max,sstc=false bash "$T/aia.sh" || nsrc=$?
    ns_ours=FAIL ns_c=FAIL
    if grep -q '^guest_aia_ours PASS' "$RES/ours-aia.txt" 2>/dev/null && \
       grep -q '^dmesg_scan PASS' "$RES/ours-aia.txt" && grep -q '^@@RIG end' "$RES/ours-aia.log"; then
        ns_ours=PASS
    fi
    grep -q '^guest_aia_ref PASS' "$RES/ours-aia.txt" 2>/dev/null && ns_c=PASS

    # g2. MMU selftests on other host CPUs: a boot per mode, both modules;
    #     mmu-modes.sh writes a line per mode, "mmu_MODE ROW OURS C".
    echo "== MMU selftests on host CPUs with Sv48, Sv39, without Svinval (make mmu-modes), ours and upstream C in one boot each"
    mmurc=0; bash "$T/mmu-modes.sh" sv48 sv39 nosvinval || mmurc=$?
    mmu_modes="sv48 sv39 nosvinval"
    mmu_col() {  # mmu_col MODE FIELD: 2 the row, 3 ours, 4 upstream C
        local v; v=$(awk -v n="mmu_$1" -v f="$2" '$1==n {print $f}' "$RES/mmu-modes.txt" 2>/dev/null || true)
        echo "${v:-FAIL}"
    }

    # h. NACL: its own boot, both modules; nacl.sh checks the verdicts, the
    #    firmware's counters and its violations.
    echo "== the emulated host on the NACL firmware (make nacl), ours and upstream C in one boot"
    naclrc=0; bash "$T/nacl.sh" || naclrc=$?

    # i. The README's real-host commands against a second kernel tree
    #    (release 7.3.4-alt): make KDIR=..., make install, modprobe kvm.
    echo "== our kvm.ko built with make KDIR=<a second tree>, installed with make install, loaded (alt-tree.sh)"
    altrc=0; bash "$T/alt-tree.sh" || altrc=$?

    # j. The differential fuzzer's fixed seeds (make fuzz): ours and
    #    upstream C in one boot, every deterministic line the same.
    echo "== the differential fuzzer, fixed seeds (make fuzz), ours and upstream C in one boot"
    fuzzrc=0; bash "$T/fuzz.sh" || fuzzrc=$?

    echo
    printf '%-36s %-6s %-6s\n' test ours C
    names=$( (cut -d' ' -f1 "$REF"; cut -d' ' -f1 "$OURS") | awk '!seen[$0]++')
    for n in $names; do
        o=$(awk -v n="$n" '$1==n {print $2}' "$OURS"); o=${o:-none}
        c=$(awk -v n="$n" '$1==n {print $2}' "$REF"); c=${c:-none}
        printf '%-36s %-6s %-6s%s\n' "$n" "$o" "$c" "$([ "$o" = "$c" ] || echo '   <-- differs')"
    done
    printf '%-36s %-6s %-6s%s\n' tests/onereg_conformance "$onereg_ours" "$onereg_c" \
        "$([ "$onereg_ours" = "$onereg_c" ] || echo '   <-- differs')"
    printf '%-36s %-6s %-6s%s\n' tests/sbi_conformance "$sbi_ours" "$sbi_c" \
        "$([ "$sbi_ours" = "$sbi_c" ] || echo '   <-- differs')"
    printf '%-36s %-6s %-6s%s\n' tests/vm_conformance "$vm_ours" "$vm_c" \
        "$([ "$vm_ours" = "$vm_c" ] || echo '   <-- differs')"
    printf '%-36s %-6s %-6s%s\n' tests/aia_conformance "$aiad_ours" "$aiad_c" \
        "$([ "$aiad_ours" = "$aiad_c" ] || echo '   <-- differs')"
    printf '%-36s %-6s %-6s%s\n' guest_aia "$aia_ours" "$aia_c" \
        "$([ "$aia_ours" = "$aia_c" ] || echo '   <-- differs')"
    printf '%-36s %-6s %-6s%s\n' guest_aia_nosstc "$ns_ours" "$ns_c" \
        "$([ "$ns_ours" = "$ns_c" ] || echo '   <-- differs')"
    for m in $mmu_modes; do
        printf '%-36s %-6s %-6s%s\n' "mmu_$m" "$(mmu_col "$m" 3)" "$(mmu_col "$m" 4)" \
            "$([ "$(mmu_col "$m" 2)" = PASS ] || echo '   <-- fails (make mmu-modes)')"
    done
    echo
    for n in $names; do
        o=$(awk -v n="$n" '$1==n {print $2}' "$OURS"); o=${o:-none}
        c=$(awk -v n="$n" '$1==n {print $2}' "$REF"); c=${c:-none}
        if [ "$o" = "$c" ]; then ok "$n ($o, as upstream C)"; else bad "$n (ours $o, upstream C $c)"; fi
    done
    if [ "$onereg_ours" = PASS ] && [ "$onereg_c" = PASS ]; then
        ok "tests/onereg_conformance (ours and upstream C dumps identical)"
    else
        bad "tests/onereg_conformance (ours $onereg_ours, upstream C $onereg_c; see $RES/ours-onereg.log)"
    fi
    if [ "$sbi_ours" = PASS ] && [ "$sbi_c" = PASS ]; then
        ok "tests/sbi_conformance (ours and upstream C dumps identical, each deterministic)"
    else
        bad "tests/sbi_conformance (ours $sbi_ours, upstream C $sbi_c; see $RES/ours-sbi.log)"
    fi
    if [ "$vm_ours" = PASS ] && [ "$vm_c" = PASS ]; then
        ok "tests/vm_conformance (ours and upstream C dumps identical, each deterministic)"
    else
        bad "tests/vm_conformance (ours $vm_ours, upstream C $vm_c; see $RES/ours-vm.log)"
    fi
    if [ "$aiad_ours" = PASS ] && [ "$aiad_c" = PASS ]; then
        ok "tests/aia_conformance (ours and upstream C dumps identical, each deterministic)"
    else
        bad "tests/aia_conformance (ours $aiad_ours, upstream C $aiad_c; see $RES/ours-aiadump.log)"
    fi
    if [ "$aia_ours" = PASS ] && [ "$aia_c" = PASS ] && [ $aiarc = 0 ]; then
        ok "guest_aia (in-kernel AIA guest, ours and upstream C)"
    else
        bad "guest_aia (ours $aia_ours, upstream C $aia_c)"
    fi
    if [ "$ns_ours" = PASS ] && [ "$ns_c" = PASS ] && [ $nsrc = 0 ]; then
        ok "guest_aia_nosstc (host without Sstc: hrtimer-injected guest timer, ours and upstream C)"
    else
        bad "guest_aia_nosstc (ours $ns_ours, upstream C $ns_c; see $RES/ours-aia.log)"
    fi
    for m in $mmu_modes; do
        case $m in
            sv48) what="host -cpu max,sv57=off: Sv48x4 G-stage" ;;
            sv39) what="host -cpu max,sv57=off,sv48=off: Sv39x4 G-stage" ;;
            nosvinval) what="host -cpu max,svinval=off" ;;
        esac
        if [ "$(mmu_col "$m" 2)" = PASS ]; then
            ok "mmu_$m ($what; MMU selftests and guest boot as upstream C)"
        else
            bad "mmu_$m ($what; see the make mmu-modes output above and $RES/mmu-$m.log)"
        fi
    done
    if [ $altrc = 0 ]; then
        ok "alt_tree (make KDIR=<second tree>, make install, modprobe kvm loads updates/kvm.ko of its release, guest boots)"
    else
        bad "alt_tree (see above and $RES/alt-run.log)"
    fi
    if [ $naclrc = 0 ]; then
        ok "nacl (NACL firmware: every verdict as upstream C's, sync_sret/redirects/hfence_ranged > 0, no violation of ours)"
    else
        bad "nacl (see the make nacl output above and $RES/ours-nacl.log)"
    fi
    if [ $fuzzrc = 0 ]; then
        ok "tests/kvm_fuzz (fixed seeds: ours and upstream C print the same lines, no splat of ours)"
    else
        bad "tests/kvm_fuzz (see the make fuzz output above and $RES/ours-fuzz.log)"
    fi
    if [ $hostrc != 0 ] && ! grep -q '^dmesg_scan' "$OURS"; then bad "host run (see $RES/ours-test.log)"; fi
    echo "$pass passed, $fail failed"
    [ $fail = 0 ]
}
main "$@"

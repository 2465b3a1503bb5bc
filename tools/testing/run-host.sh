#!/bin/bash
# Boot the emulated RISC-V host and run a mode in it.
#   run-host.sh MODE [ours|ref] [tests...]
# MODE: run (modprobe kvm + QEMU/KVM guest), test (all selftests + guest),
#       quick (a fast subset), shell (interactive), or any /rig/mode-NAME.
# Prints one line per result; results go to $CACHE/results/MOD-MODE.txt,
# the console log to $CACHE/results/MOD-MODE.log.
# Environment: RIG_CPU (QEMU -cpu of the host, default max), RIG_SMP,
# RIG_MEM, RIG_APPEND, RIG_QEMU_EXTRA, RIG_REPEAT, RIG_TIMEOUT (seconds).
source "$(dirname "$0")/lib.sh"
# The body is a function, so bash reads all of it before running it: an
# edit of this file during a run cannot change the run.
main() {
    MODE=${1:?mode}; MOD=${2:-ours}; shift 2 || shift $#
    TESTS=$(echo "$*" | tr ' ' ,)
    [ "$MODE" = quick ] && [ -z "$TESTS" ] && \
        TESTS=get-reg-list,riscv/sbi_pmu_test,riscv/ebreak_test,guest_print_test,arch_timer,kvm_create_max_vcpus,tests/csr_swap_test,tests/pmu_fw_test,tests/pc_wrap_test
    B="$CACHE/build"
    RES="$CACHE/results"; mkdir -p "$RES"
    # One emulated host at a time on this machine: the overlay and the
    # result files in the cache are shared by every worktree, and two hosts
    # on two cores would each run at half speed (timeouts).
    exec 9>"$CACHE/emulated-host.lock"
    flock -n 9 || { log "waiting for another emulated host to finish"; flock 9; }
    T="$REPO/tools/testing"
    GEN="$KSRC/usr/gen_initramfs.sh"
    gen_cpio() { (cd "$KBUILD" && bash "$GEN" "$@"); }

    # 1. Modules: the kernel's (upstream C kvm.ko, kept for reference runs) and
    #    ours, installed as the README says (make install, which runs depmod),
    #    in updates/, which depmod ranks first, so `modprobe kvm` is ours.
    MODROOT="$B/modroot"
    rm -rf "$MODROOT"
    make -s -C "$KBUILD" ARCH=riscv LLVM="$LLVM_SUFFIX" modules_install INSTALL_MOD_PATH="$MODROOT/usr" DEPMOD=true >/dev/null
    [ -f "$REPO/kvm.ko" ] || die "our kvm.ko is not built (make module)"
    make -s --no-print-directory -C "$REPO" install INSTALL_MOD_PATH="$MODROOT/usr" >/dev/null

    # 2. The nested guest: same kernel Image, busybox init.
    G="$B/guest-stage"
    # Rebuilt when the init, or the splat patterns it shares with
    # dmesg-scan.sh, differ from the ones it was built from (the cache is
    # shared by every worktree of the repository).
    if [ ! -f "$B/guest.cpio" ] || ! cat "$T/guest/init" "$T/oops.pat" | cmp -s - "$B/guest-init.built"; then
        rm -rf "$G" && mkdir -p "$G/bin" "$G/proc"
        cp "$CACHE/rootfs/usr/bin/busybox" "$G/bin/busybox"
        install -m 755 "$T/guest/init" "$G/init"
        install -m 644 "$T/oops.pat" "$G/oops.pat"
        gen_cpio -o "$B/guest.cpio" "$G" "$T/host/initramfs.spec"
        cat "$T/guest/init" "$T/oops.pat" > "$B/guest-init.built"
    fi

    # 3. The overlay: /init, /rig (scripts, selftests, guest), modules.
    O="$B/overlay"
    rm -rf "$O" && mkdir -p "$O/rig/selftests/riscv" "$O/rig/guest" "$O/usr/lib"
    install -m 755 "$T/host/init" "$O/init"
    cp "$T/host/lib.sh" "$T/selftests.list" "$T/oops.pat" "$O/rig/"
    for f in "$T"/host/mode-*; do [ -f "$f" ] && install -m 755 "$f" "$O/rig/"; done
    # A row is NAME or NAME@LABEL; the program is NAME.
    while read -r entry _; do
        case "$entry" in ''|'#'*) continue ;; esac
        name=${entry%%@*}
        [ -f "$B/selftests/$name" ] && cp "$B/selftests/$name" "$O/rig/selftests/$name"
    done < "$T/selftests.list"
    # Our own test programs run like selftests, as tests/NAME.
    [ -d "$B/tests" ] && { mkdir -p "$O/rig/selftests/tests"; cp "$B"/tests/* "$O/rig/selftests/tests/"; }
    cp "$KBUILD/arch/riscv/boot/Image" "$O/rig/guest/Image"
    cp "$B/guest.cpio" "$O/rig/guest/initrd.cpio"
    mv "$MODROOT/usr/lib/modules" "$O/usr/lib/modules"
    gen_cpio -o "$B/overlay.cpio" "$O" "$T/host/initramfs.spec"
    cat "$B/base.cpio" "$B/overlay.cpio" > "$B/initrd.cpio"

    # 4. Boot.
    LOG="$RES/$MOD-$MODE.log"
    case "$MODE" in test) TO=2400 ;; leak) TO=1200 ;; shell) TO=100000 ;; *) TO=600 ;; esac
    TO=${RIG_TIMEOUT:-$TO}
    MEM=${RIG_MEM:-4G}; SMP=${RIG_SMP:-2}
    APPEND="console=ttyS0 rig.mode=$MODE rig.mod=$MOD ${TESTS:+rig.tests=$TESTS} ${RIG_REPEAT:+rig.repeat=$RIG_REPEAT} ${RIG_APPEND:-}"
    QEMU=(qemu-system-riscv64 -M virt,aia=aplic-imsic,aia-guests=5 -cpu "${RIG_CPU:-max}" -smp "$SMP" -m "$MEM"
          -nographic -no-reboot -kernel "$KBUILD/arch/riscv/boot/Image" -initrd "$B/initrd.cpio"
          -append "$APPEND" ${RIG_QEMU_EXTRA:-})
    log "booting emulated host: mode=$MODE module=$MOD"
    t0=$(date +%s)
    if [ "$MODE" = shell ]; then exec "${QEMU[@]}"; fi
    timeout "$TO" "${QEMU[@]}" </dev/null 2>&1 | sed -u 's/\r$//' | tee "$LOG" | \
        sed -un 's/^@@RIG result \([^ ]*\) \([A-Z]*\) \([0-9]*\).*/  \2  \1 (\3 s)/p'
    t1=$(date +%s)

    # 5. Verdicts.
    sed -n 's/^@@RIG result \([^ ]*\) \([A-Z]*\) \([0-9]*\).*/\1 \2 \3/p' "$LOG" > "$RES/$MOD-$MODE.txt"
    fail=0
    if ! grep -q '^@@RIG end' "$LOG"; then
        echo "  FAIL  host (no clean end after $((t1 - t0)) s: crash, hang or timeout)"; fail=1
    fi
    if ! bash "$T/dmesg-scan.sh" "$LOG"; then
        echo "  FAIL  dmesg (oops, WARN, BUG or call trace; see $LOG)"; fail=1
    else
        echo "dmesg_scan PASS 0" >> "$RES/$MOD-$MODE.txt"
    fi
    case "$MODE" in
        run) grep -q '^guest_boot PASS' "$RES/$MOD-$MODE.txt" || fail=1
             grep -E '^@@RIG module|^@@GUEST-CONSOLE @@GUEST' "$LOG" | sed 's/^@@GUEST-CONSOLE //' ;;
        quick) grep -q ' FAIL ' "$RES/$MOD-$MODE.txt" && fail=1 ;;
    esac
    log "host run took $((t1 - t0)) s; log: $LOG"
    exit $fail
}
main "$@"

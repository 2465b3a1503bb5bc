# Helpers for /init of the emulated host (busybox sh).

now() { cut -d' ' -f1 /proc/uptime; }

# Load ours with modprobe (depmod puts updates/ first), or upstream C by path.
load_kvm() {
    if [ "$1" = ref ]; then
        insmod /lib/modules/$(uname -r)/kernel/arch/riscv/kvm/kvm.ko || return 1
    else
        modprobe kvm || return 1
    fi
    echo "@@RIG module $1: $(modinfo -F filename kvm) | $(modinfo -F description kvm | tr '\n' ';')"
    [ -c /dev/kvm ] || return 1
    echo "@@RIG result modprobe PASS 0"
}

# Run one selftest: run_one NAME TIMEOUT [ARGS...]; rig.repeat=N runs it N
# times, as NAME#1..NAME#N.
run_one() {
    if [ "${REPEAT:-1}" -gt 1 ]; then
        n=$1; shift
        i=1
        while [ $i -le "$REPEAT" ]; do run_one_as "$n#$i" "$n" "$@"; i=$((i + 1)); done
    else
        run_one_as "$1" "$@"
    fi
}

run_one_as() {
    label=$1 name=$2 to=$3; shift 3
    bin=/rig/selftests/$name
    t0=$(now)
    if [ ! -x "$bin" ]; then echo "@@RIG result $label FAIL 0 (missing)"; return; fi
    timeout "$to" "$bin" "$@" >/tmp/out.txt 2>&1
    rc=$?
    t1=$(now)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}')
    case $rc in
        0) v=PASS ;;
        4) v=SKIP ;;
        124|137|143) v=FAIL; echo "@@RIG note $label: timeout after ${to}s" ;;
        *) v=FAIL ;;
    esac
    if [ "$v" != PASS ]; then
        echo "@@RIG output-begin $label rc=$rc"; tail -n 25 /tmp/out.txt; echo "@@RIG output-end $label"
    fi
    echo "@@RIG result $label $v $secs"
}

# Run the selftests named (all in selftests.list when none is named).
run_selftests() {
    want=" $* "
    while read -r name to args; do
        case "$name" in ''|'#'*) continue ;; esac
        if [ "$want" != "  " ]; then case "$want" in *" $name "*) ;; *) continue ;; esac; fi
        # shellcheck disable=SC2086
        run_one "$name" "$to" $args
    done < /rig/selftests.list
}

# Boot a Linux guest with QEMU/KVM; it prints its kernel and ISA, powers off.
guest_boot() {
    t0=$(now)
    timeout 300 qemu-system-riscv64 -M virt -accel kvm -cpu host -smp 2 -m 256M \
        -nographic -no-reboot -kernel /rig/guest/Image -initrd /rig/guest/initrd.cpio \
        -append "console=ttyS0 rdinit=/init quiet" </dev/null >/tmp/guest.txt 2>&1
    rc=$?
    t1=$(now)
    sed 's/^/@@GUEST-CONSOLE /' /tmp/guest.txt
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}')
    if [ $rc = 0 ] && grep -q '^@@GUEST isa' /tmp/guest.txt; then v=PASS; else v=FAIL; fi
    echo "@@RIG result guest_boot $v $secs"
}

finish() {
    echo "@@RIG dmesg-begin"
    dmesg
    echo "@@RIG dmesg-end"
    echo "@@RIG end"
    sync
    poweroff -f
}

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

# Run one row of selftests.list: run_one ENTRY TIMEOUT [ARGS...]. ENTRY is
# NAME or NAME@LABEL (the program is NAME, the result row ENTRY);
# rig.repeat=N runs it N times, as ENTRY#1..ENTRY#N.
run_one() {
    n=$1; shift
    if [ "${REPEAT:-1}" -gt 1 ]; then
        i=1
        while [ $i -le "$REPEAT" ]; do run_one_as "$n#$i" "${n%%@*}" "$@"; i=$((i + 1)); done
    else
        run_one_as "$n" "${n%%@*}" "$@"
    fi
}

# run_one_as ROW PROGRAM TIMEOUT [param=NAME=VALUE ...] [ARGS...]: run
# /rig/selftests/PROGRAM ARGS, reported as ROW. Each leading param= token
# sets the kvm module parameter NAME (/sys/module/kvm/parameters/NAME) to
# VALUE for this run and restores it after; a parameter the loaded module
# does not have, or that does not take the value, fails the row.
run_one_as() {
    label=$1 name=$2 to=$3; shift 3
    bin=/rig/selftests/$name
    t0=$(now)
    if [ ! -x "$bin" ]; then echo "@@RIG result $label FAIL 0 (missing)"; return; fi
    rp_restore="" rp_bad="" rp_hp=""
    while [ $# -gt 0 ]; do
        case "$1" in param=*=*) ;; *) break ;; esac
        rp=${1#param=}; shift
        rp_n=${rp%%=*} rp_v=${rp#*=}
        rp_f=/sys/module/kvm/parameters/$rp_n
        if [ ! -f "$rp_f" ]; then
            echo "@@RIG note $label: the loaded kvm module has no parameter $rp_n"; rp_bad=1; continue
        fi
        rp_old=$(cat "$rp_f")
        if ! echo "$rp_v" > "$rp_f" 2>/dev/null; then
            echo "@@RIG note $label: cannot set kvm parameter $rp_n=$rp_v"; rp_bad=1; continue
        fi
        rp_restore="$rp_restore $rp_n=$rp_old"
        echo "@@RIG note $label: kvm parameter $rp_n=$(cat "$rp_f") (was $rp_old)"
    done
    case " $* " in *" -s anonymous_hugetlb"*|*" -s shared_hugetlb"*) hugepages_reserve || rp_hp=1 ;; esac
    if [ -n "$rp_bad" ]; then
        rc=1; echo "kvm module parameter missing or refused" >/tmp/out.txt
    elif [ -n "$rp_hp" ]; then
        rc=1; echo "the host could not reserve its huge pages" >/tmp/out.txt
    else
        timeout "$to" "$bin" "$@" >/tmp/out.txt 2>&1
        rc=$?
    fi
    for rp in $rp_restore; do
        echo "${rp#*=}" > "/sys/module/kvm/parameters/${rp%%=*}" || \
            echo "@@RIG note $label: cannot restore kvm parameter $rp"
    done
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

# Huge pages for the rows backed by hugetlbfs (-s anonymous_hugetlb...):
# reserved once, at the first such row, HUGEPAGES of the default size
# (2 MiB): 320 MiB of the host's 4 GiB, only in boots that run such a row.
# The rows need about 70 (kvm_page_table_test -b 128M); with 8 they fail
# (mmap ENOMEM). Keep it far below the host's memory: the kernel takes
# what it can of a larger request, and the next allocation panics the host
# (out of memory). Returns 1 when fewer were reserved: the row then fails
# rather than SKIP ("HUGETLB is not enabled"), which would equal C's.
HUGEPAGES=160
hugepages_reserve() {
    if [ -z "${HP_GOT:-}" ]; then
        echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages
        HP_GOT=$(cat /proc/sys/vm/nr_hugepages)
        echo "@@RIG note hugepages: $HP_GOT of $HUGEPAGES reserved ($(awk '/^Hugepagesize/ {print $2 $3}' /proc/meminfo) each)"
    fi
    [ "$HP_GOT" -ge "$HUGEPAGES" ] && [ "$HP_GOT" -gt 0 ]
}

# Run the rows of selftests.list named (all when none is named): a name
# selects the row of that exact first field, NAME or NAME@LABEL.
run_selftests() {
    want=" $* "
    while read -r entry to args; do
        case "$entry" in ''|'#'*) continue ;; esac
        if [ "$want" != "  " ]; then case "$want" in *" $entry "*) ;; *) continue ;; esac; fi
        # shellcheck disable=SC2086
        run_one "$entry" "$to" $args
    done < /rig/selftests.list
}

# Boot a Linux guest with QEMU/KVM; it prints its kernel, ISA and CPU count,
# powers off.
# The result is named guest_boot, or $1.
guest_boot() {
    label=${1:-guest_boot}
    t0=$(now)
    timeout 300 qemu-system-riscv64 -M virt -accel kvm -cpu host -smp 2 -m 256M \
        -nographic -no-reboot -kernel /rig/guest/Image -initrd /rig/guest/initrd.cpio \
        -append "console=ttyS0 rdinit=/init quiet" </dev/null >/tmp/guest.txt 2>&1
    rc=$?
    t1=$(now)
    sed 's/^/@@GUEST-CONSOLE /' /tmp/guest.txt
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}')
    # -smp 2: both harts must have come up (SBI HSM), not only the boot one.
    if [ $rc = 0 ] && grep -q '^@@GUEST isa' /tmp/guest.txt &&
        grep -Eq '^@@GUEST cpus 2[[:space:]]*$' /tmp/guest.txt; then v=PASS; else v=FAIL; fi
    echo "@@RIG result $label $v $secs"
}

# In-kernel AIA guests (mode-aia, mode-nacl).
# The host's SGEI interrupt ("riscv-kvm"), summed over CPUs: it fires when
# an MSI is written into the hardware IMSIC guest file of a vCPU that is not
# running, so only VMs in hwaccel mode raise it.
sgei() { awk '/riscv-kvm/ { for (c = 2; c <= ncpu + 1; c++) s += $c } END { print s + 0 }' ncpu="$(nproc)" /proc/interrupts; }

# aia_guest MOD MODE: one guest run; returns 0 if it passed.
aia_guest() {
    m=$1 am=$2
    set -- qemu-system-riscv64 -M virt,aia=aplic-imsic -accel kvm,kernel-irqchip=on,riscv-aia=$am \
        -cpu host -smp 2 -m 256M -nographic -no-reboot \
        -kernel /rig/guest/Image -initrd /rig/guest/initrd.cpio \
        -append "console=ttyS0 rdinit=/init quiet rig.guest=aia"
    echo "@@RIG aia $m $am qemu: $*"
    s0=$(sgei)
    t0=$(now)
    timeout 120 "$@" </dev/null >/tmp/aia.raw 2>&1
    rc=$?
    tr -d '\r' < /tmp/aia.raw > /tmp/aia.txt
    t1=$(now)
    s1=$(sgei)
    sed "s/^/@@AIA $m $am /" /tmp/aia.txt
    grep -E '^@@GUEST aia (cpu|aplic|guest dmesg|PASS|FAIL)' /tmp/aia.txt | sed "s/^@@GUEST aia /@@RIG aia $m $am guest /"
    ok=1
    grep 'KVM AIA' /tmp/aia.txt | sed "s/^/@@RIG aia $m $am qemu says: /" | grep . && ok=0
    sg="SGEI $s0 -> $s1"
    case $am in
        hwaccel) if [ "$s1" -gt "$s0" ]; then sg="$sg grew (hardware guest files)"; else sg="$sg DID NOT GROW"; ok=0; fi ;;
        emul) if [ "$s1" = "$s0" ]; then sg="$sg unchanged (emulated IMSIC)"; else sg="$sg CHANGED"; ok=0; fi ;;
    esac
    echo "@@RIG aia $m $am host $sg, qemu rc=$rc"
    [ $rc = 0 ] && grep -q '^@@GUEST aia PASS' /tmp/aia.txt || ok=0
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}')
    [ $ok = 1 ] && v=PASS || v=FAIL
    echo "@@RIG result guest_aia_${am}_$m $v $secs"
    [ $ok = 1 ]
}

finish() {
    # A kmemleak kernel (make test-debug): two scans, so that what is still
    # unreferenced is reported in the kernel log ("N new suspected memory
    # leaks"), which the dmesg scan fails on; the report itself follows.
    # Not after a mode that has scanned last itself (mode-leak).
    if [ -w /sys/kernel/debug/kmemleak ] && [ ! -f /tmp/kmemleak-scanned ]; then
        echo scan > /sys/kernel/debug/kmemleak; sleep 1
        echo scan > /sys/kernel/debug/kmemleak
        echo "@@RIG kmemleak-begin"; cat /sys/kernel/debug/kmemleak; echo "@@RIG kmemleak-end"
    fi
    echo "@@RIG dmesg-begin"
    dmesg
    echo "@@RIG dmesg-end"
    echo "@@RIG end"
    sync
    poweroff -f
}

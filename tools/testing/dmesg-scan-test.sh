#!/bin/bash
# Tests of dmesg-scan.sh: a splat of each kind fails the scan, a clean log
# passes. One "test dmesg_scan::NAME ... ok|FAILED" line each (make unit).
T="$(dirname "$0")"
rc=0
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
check() {  # check NAME WANT(0|1) LINE...
    local name=$1 want=$2 got=0; shift 2
    { echo "@@RIG dmesg-begin"; printf '%s\n' "$@"; echo "@@RIG dmesg-end"; } > "$tmp"
    bash "$T/dmesg-scan.sh" "$tmp" >/dev/null || got=1
    if [ "$got" = "$want" ]; then echo "test dmesg_scan::$name ... ok"
    else echo "test dmesg_scan::$name ... FAILED"; rc=1; fi
}
clean=("[    1.0] kvm [44]: using SBI nested acceleration with sync_csr, sync_hfence, sync_sret, autoswap_csr"
       "[    2.0] riscv-imsic: interrupt-controller@28000000: providing IPIs using interrupt 1"
       "[    3.0] kvm: exiting hardware virtualization")
check clean 0 "${clean[@]}"
check oops 1 "${clean[@]}" "[    9.0] Oops - load access fault [#1]"
check warn 1 "[    9.0] WARNING: CPU: 1 PID: 44 at virt/kvm/kvm_main.c:123 f+0x10/0x20 [kvm]"
check bug 1 "[    9.0] BUG: sleeping function called from invalid context at mm/slub.c:1"
check call_trace 1 "[    9.0] Call Trace:"
check panic 1 "[    9.0] Kernel panic - not syncing: Fatal exception"
check rust_panic 1 "[    9.0] rust_kernel: panicked at rust/kvm_riscv/onereg.rs:10:5:"
check ubsan 1 "[    9.0] UBSAN: shift-out-of-bounds in arch/riscv/kvm/vcpu_pmu.c:100:20"
check kasan 1 "[    9.0] BUG: KASAN: slab-use-after-free in kvm_vcpu_ioctl+0x1/0x2"
check kfence 1 "[    9.0] BUG: KFENCE: out-of-bounds read in f+0x0/0x1"
check kmemleak 1 "[    9.0] kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
check soft_lockup 1 "[    9.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [qemu:44]"
check hung_task 1 "[    9.0] INFO: task qemu-system-ris:44 blocked for more than 120 seconds."
check rcu_stall 1 "[    9.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
check rcu_self_stall 1 "[    9.0] rcu: INFO: rcu_preempt self-detected stall on CPU"
exit $rc

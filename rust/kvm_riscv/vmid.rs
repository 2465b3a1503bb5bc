// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vmid.c`: the G-stage VMIDs.
//!
//! Every VM has one VMID, shared by its vCPUs, which tags its G-stage TLB
//! entries. VMIDs are handed out in versions ([`VmidAllocator`]): a VM whose
//! VMID is of an older version than the current one takes a new one before
//! its next guest entry ([`update`]). When a version runs out, every CPU
//! flushes its G-stage TLB and numbering restarts.
//!
//! Ordering, as upstream: the global version is read without the lock
//! (`READ_ONCE`), and a VM's VMID and version are written under it, the
//! VMID first, then the version; only then are its vCPUs asked to reload
//! HGATP (`KVM_REQ_UPDATE_HGATP`). A vCPU that sees the new version sees the
//! new VMID.
//!
//! [`VmidAllocator`]: crate::vmid_logic::VmidAllocator

use crate::csr::HGATP;
use crate::ffi;
use crate::gstage_logic::hgatp_mode;
use crate::handle::{Request, VcpuCtx, Vm};
use crate::tlb;
use crate::vmid_logic::{usable_vmid_bits, HGATP_VMID_MASK};
use kernel::sync::atomic::{Atomic, Relaxed};

const _: () = assert!(HGATP_VMID_MASK >> crate::bindings::HGATP_VMID_SHIFT == 0x3fff);

/// The current VMID version (C's `vmid_version`): read by every vCPU
/// before entry, written under the VMID lock.
static VERSION: Atomic<usize> = Atomic::new(1);

/// The VMID width in use, 0 when VMIDs are not used (C's `vmid_bits`,
/// `__ro_after_init`): written once by [`detect`] in module init.
static BITS: Atomic<u32> = Atomic::new(0);

/// Finds how many VMID bits the hardware has, in module init
/// (`kvm_riscv_gstage_vmid_detect()`): writes all ones to HGATP.VMID and
/// reads back which stuck.
pub(crate) fn detect(pgd_levels: usize) {
    HGATP.write((hgatp_mode(pgd_levels) << crate::bindings::HGATP_MODE_SHIFT) | HGATP_VMID_MASK);
    let mask = (HGATP.read() & HGATP_VMID_MASK) >> crate::bindings::HGATP_VMID_SHIFT;
    HGATP.write(0);
    // The probe may have left entries tagged with any VMID.
    tlb::local_hfence_gvma_all();
    BITS.store(usable_vmid_bits(mask, ffi::num_possible_cpus()), Relaxed);
}

/// The VMID width in use; 0: VMIDs are not used
/// (`kvm_riscv_gstage_vmid_bits()`).
#[inline]
pub(crate) fn bits() -> u32 {
    BITS.load(Relaxed)
}

/// A new VM's VMID and version, both invalid: its first entry allocates
/// (`kvm_riscv_gstage_vmid_init()`).
pub(crate) fn init(vm: &Vm) {
    vm.publish_vmid(0, 0);
}

/// Whether the VM's VMID is of an older version than the current one: it
/// must take a new one (`kvm_riscv_gstage_vmid_ver_changed()`). Never
/// without VMIDs.
#[inline]
pub(crate) fn ver_changed(vm: &Vm) -> bool {
    bits() != 0 && vm.vmid_version() != VERSION.load(Relaxed)
}

/// Before entry: gives the vCPU's VM a VMID of the current version if its
/// own is older, and asks every vCPU of the VM to reload HGATP
/// (`kvm_riscv_gstage_vmid_update()`).
#[inline]
pub(crate) fn update(cx: &mut VcpuCtx<'_>) {
    let vm = cx.vcpu().vm();
    if ver_changed(vm) {
        allocate(vm);
    }
}

#[cold]
#[inline(never)]
fn allocate(vm: &Vm) {
    {
        let mut next = ffi::vmid_lock();
        // Another vCPU of the VM may have allocated while we waited.
        if !ver_changed(vm) {
            return;
        }
        let a = next.alloc(bits(), VERSION.load(Relaxed));
        if a.new_version {
            VERSION.store(a.version, Relaxed);
            // The VMIDs of the old version are handed out again: no CPU
            // may keep entries tagged with them. A vCPU in the guest is
            // forced out by the IPI and takes a new VMID before it
            // re-enters, as every VM's version is now old.
            ffi::on_each_online_cpu(tlb::local_hfence_gvma_all);
        }
        vm.publish_vmid(a.vmid, a.version);
    }
    for v in vm.vcpus() {
        v.make_request(Request::UpdateHgatp);
    }
}

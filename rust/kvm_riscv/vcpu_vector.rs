// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_vector.c`, its context-switch half (the
//! ONE_REG half is in [`crate::onereg`]): the vector registers of the guest
//! and of the host, and their buffers.
//!
//! Each vCPU has two buffers of `riscv_v_vsize` bytes (32 registers of
//! `vlenb` bytes), one per context, allocated with the vCPU and accounted
//! to the VM's owner. At put the guest's registers are saved when its
//! SSTATUS.VS says Dirty and the host's are restored; at load the host's
//! are saved and the guest's restore is left to the guest entry (the
//! current task's `RISCV_V_VCPU_NEED_RESTORE` flag, see
//! `vcpu.rs::enter_exit`). When the kernel itself wants the vector unit
//! meanwhile, it calls [`kvm_riscv_vcpu_flush_vector`] (registered by
//! `main.rs`), which saves the guest's registers and asks for their restore.
//!
//! Without `CONFIG_RISCV_ISA_V` every function does nothing (allocation
//! succeeds), as the stubs of `asm/kvm_vcpu_vector.h`.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::irq::IrqsOff;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

#[cfg(CONFIG_RISCV_ISA_V)]
use crate::{isa, isa_table::Ext};
#[cfg(CONFIG_RISCV_ISA_V)]
use core::{
    alloc::Layout,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};
#[cfg(CONFIG_RISCV_ISA_V)]
use kernel::alloc::{allocator::Kmalloc, flags, Allocator, NumaNode};
#[cfg(CONFIG_RISCV_ISA_V)]
use kernel::ffi::c_void;

#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS as c_ulong;
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_OFF: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_OFF as c_ulong;
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_INITIAL: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_INITIAL as c_ulong;
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_CLEAN: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_CLEAN as c_ulong;
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_DIRTY: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_DIRTY as c_ulong;
#[cfg(CONFIG_RISCV_ISA_V)]
const V_VCPU_CTX: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX;
#[cfg(CONFIG_RISCV_ISA_V)]
const V_VCPU_NEED_RESTORE: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;

// ---------------------------------------------------------------------------
// The kernel's vector interfaces.

/// The size of a whole vector register file (`riscv_v_vsize`).
#[cfg(CONFIG_RISCV_ISA_V)]
fn vsize() -> usize {
    // SAFETY: a plain read of a variable set once at boot.
    unsafe { b::riscv_v_vsize as usize }
}

/// Changes the current task's vector flags (`riscv_v_flags_set(f(riscv_v_flags()))`).
#[cfg(CONFIG_RISCV_ISA_V)]
fn update_v_flags(f: impl FnOnce(u32) -> u32) {
    // SAFETY: with CONFIG_RISCV_ISA_V the helper returns the current task's
    // flags, never null; only the task itself changes them.
    unsafe {
        let p = b::kvm_riscv_rs_current_v_flags();
        p.write_volatile(f(p.read_volatile()));
    }
}

/// Runs `f` with the CPU's vector context claimed for the kernel
/// (`get_cpu_vector_context()` ... `put_cpu_vector_context()`).
#[inline]
pub(crate) fn with_cpu_context<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(CONFIG_RISCV_ISA_V)]
    // SAFETY: claims the vector context (softirqs or preemption off) on
    // this CPU; released below, after `f`.
    unsafe {
        b::get_cpu_vector_context()
    };
    let r = f();
    #[cfg(CONFIG_RISCV_ISA_V)]
    // SAFETY: pairs the claim above.
    unsafe {
        b::put_cpu_vector_context()
    };
    r
}

/// Whether `cntx` has its register buffer; a WARN if not (none of the
/// callers runs without one: it is allocated with the vCPU).
#[cfg(CONFIG_RISCV_ISA_V)]
fn has_buffer(cntx: &b::kvm_cpu_context) -> bool {
    let null = cntx.vector.datap.is_null();
    kernel::warn_on!(null);
    !null
}

/// Stores the vector registers and CSRs into `cntx`.
#[cfg(CONFIG_RISCV_ISA_V)]
fn save(cntx: &mut b::kvm_cpu_context) {
    if has_buffer(cntx) {
        // SAFETY: `__kvm_riscv_vector_save()` writes the vector CSRs into
        // `cntx.vector` and the registers into its buffer of
        // `riscv_v_vsize` bytes; `cntx` is ours alone.
        unsafe { b::kvm_riscv_rs_vector_save(cntx) };
    }
}

/// Loads the vector registers and CSRs from `cntx`.
#[cfg(CONFIG_RISCV_ISA_V)]
fn restore(cntx: &mut b::kvm_cpu_context) {
    if has_buffer(cntx) {
        // SAFETY: as in `save`, the other way: `cntx` is only read.
        unsafe { b::kvm_riscv_rs_vector_restore(cntx) };
    }
}

// ---------------------------------------------------------------------------
// The register buffers.

/// The layout of a register buffer.
#[cfg(CONFIG_RISCV_ISA_V)]
fn buffer_layout() -> Option<Layout> {
    Layout::array::<u8>(vsize()).ok()
}

/// A zeroed register buffer, accounted to the VM's owner
/// (`kzalloc(riscv_v_vsize, GFP_KERNEL_ACCOUNT)`).
#[cfg(CONFIG_RISCV_ISA_V)]
fn buffer_alloc() -> Result<*mut c_void> {
    let layout = buffer_layout().ok_or(ENOMEM)?;
    let fl = flags::GFP_KERNEL_ACCOUNT | flags::__GFP_ZERO;
    let p = Kmalloc::alloc(layout, fl, NumaNode::NO_NODE).map_err(|_| ENOMEM)?;
    Ok(p.as_ptr().cast())
}

/// Frees a buffer of [`buffer_alloc`] (null: nothing) and leaves null in
/// its place.
#[cfg(CONFIG_RISCV_ISA_V)]
fn buffer_free(datap: &mut *mut c_void) {
    let p = core::mem::replace(datap, core::ptr::null_mut());
    let (Some(p), Some(layout)) = (NonNull::new(p.cast::<u8>()), buffer_layout()) else {
        return;
    };
    // SAFETY: `p` came from `buffer_alloc()` with this layout
    // (`riscv_v_vsize` does not change after boot), and its only reference,
    // `datap`, is now null.
    unsafe { Kmalloc::free(p, layout) };
}

/// Allocates the register buffers of a new vCPU
/// (`kvm_riscv_vcpu_alloc_vector_context()`): both, or none and -ENOMEM.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn alloc_context(cx: &mut VcpuCtx<'_>) -> Result {
    let p = cx.parts();
    p.guest.vector.datap = buffer_alloc()?;
    match buffer_alloc() {
        Ok(d) => {
            p.host.vector.datap = d;
            Ok(())
        }
        Err(e) => {
            buffer_free(&mut p.guest.vector.datap);
            Err(e)
        }
    }
}

/// Frees the register buffers of a vCPU
/// (`kvm_riscv_vcpu_free_vector_context()`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn free_context(cx: &mut VcpuCtx<'_>) {
    let p = cx.parts();
    buffer_free(&mut p.guest.vector.datap);
    buffer_free(&mut p.host.vector.datap);
}

// ---------------------------------------------------------------------------
// Reset, save and restore.

#[cfg(CONFIG_RISCV_ISA_V)]
fn guest_has_v(isa: &[c_ulong]) -> bool {
    crate::isa::bitmap_has(isa, b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_V)
}

/// Sets the VS field of `cntx`'s SSTATUS to `vs`.
#[cfg(CONFIG_RISCV_ISA_V)]
fn set_vs(cntx: &mut b::kvm_cpu_context, vs: c_ulong) {
    cntx.sstatus = (cntx.sstatus & !SR_VS) | vs;
}

/// The guest's vector unit after a reset (`kvm_riscv_vcpu_vector_reset()`):
/// the host's `vlenb`; with V in the guest's ISA (`isa`), VS Initial and
/// zeroed registers, else VS Off.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn reset(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    // CAST: the size of the register file fits an unsigned long.
    cntx.vector.vlenb = (vsize() / 32) as c_ulong;
    if !guest_has_v(isa) {
        set_vs(cntx, SR_VS_OFF);
        return;
    }
    set_vs(cntx, SR_VS_INITIAL);
    if has_buffer(cntx) {
        // SAFETY: a non-null `datap` is the context's buffer of
        // `riscv_v_vsize` bytes (`alloc_context`), which nothing else
        // references while the vCPU thread resets its vCPU.
        let regs =
            unsafe { core::slice::from_raw_parts_mut(cntx.vector.datap.cast::<u8>(), vsize()) };
        regs.fill(0);
    }
}

/// Sets the guest's VS Clean, its registers being saved.
#[cfg(CONFIG_RISCV_ISA_V)]
fn clean(cntx: &mut b::kvm_cpu_context) {
    set_vs(cntx, SR_VS_CLEAN);
}

/// Saves the guest's vector registers if it changed them since they were
/// restored (`kvm_riscv_vcpu_guest_vector_save()`).
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn guest_save(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    if cntx.sstatus & SR_VS == SR_VS_DIRTY {
        if guest_has_v(isa) {
            save(cntx);
        }
        clean(cntx);
    }
}

/// Asks the guest entry to restore the guest's vector registers unless its
/// vector unit is off (`kvm_riscv_vcpu_guest_vector_restore()`).
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn guest_restore(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    if cntx.sstatus & SR_VS != SR_VS_OFF && guest_has_v(isa) {
        update_v_flags(|f| f | V_VCPU_NEED_RESTORE);
    }
}

/// Saves the host's vector registers (`kvm_riscv_vcpu_host_vector_save()`);
/// the host's SSTATUS is not looked at, it may change outside KVM.
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn host_save(cntx: &mut b::kvm_cpu_context) {
    if isa::host_supports(Ext::V) {
        save(cntx);
    }
}

/// Loads the host's vector registers and marks the vector unit the task's
/// again (`kvm_riscv_vcpu_host_vector_restore()`).
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn host_restore(cntx: &mut b::kvm_cpu_context) {
    if isa::host_supports(Ext::V) {
        restore(cntx);
    }
    update_v_flags(|f| f & !(V_VCPU_CTX | V_VCPU_NEED_RESTORE));
}

/// At guest entry, interrupts off: if the kernel used the vector unit since
/// [`kvm_riscv_vcpu_flush_vector`] saved the guest's registers, restores
/// them now, clean.
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline(always)]
pub(crate) fn restore_on_entry(cntx: &mut b::kvm_cpu_context, irqs: &IrqsOff) {
    if crate::ffi::take_vector_restore(irqs) {
        // SAFETY: `cntx.vector` and its buffer of `riscv_v_vsize` bytes
        // (allocated with the vCPU) are the guest's, ours alone; only read.
        unsafe { b::kvm_riscv_rs_vector_restore(cntx) };
        set_vs(cntx, SR_VS_CLEAN);
    }
}

/// Whether [`kvm_riscv_vcpu_flush_vector`] has warned already.
#[cfg(CONFIG_RISCV_ISA_V)]
static FLUSH_WARNED: AtomicBool = AtomicBool::new(false);

/// `kvm_riscv_vcpu_flush_vector()`: the kernel wants the vector unit while
/// it holds a vCPU's guest state (the task's `RISCV_V_VCPU_CTX` flag, set
/// from guest entry to put). Saves the guest's registers and asks the next
/// guest entry to restore them. Called by the kernel's kernel-mode-vector
/// code, with the vector context claimed, through the callback
/// `main.rs` registers.
#[cfg(CONFIG_RISCV_ISA_V)]
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_vcpu_flush_vector() {
    // SAFETY: reads this CPU's running vCPU (upstream's
    // `*this_cpu_ptr(kvm_get_running_vcpus())`), preemption off for the read.
    let vcpu = unsafe { b::kvm_get_running_vcpu() };
    // Only reached with RISCV_V_VCPU_CTX set, which always has a running
    // vCPU: a WARN, once, if not.
    if vcpu.is_null() {
        if !FLUSH_WARNED.swap(true, Ordering::Relaxed) {
            kernel::warn_on!(true);
        }
        return;
    }
    // SAFETY: the caller is the vCPU's own thread (RISCV_V_VCPU_CTX is only
    // set on it, from guest entry to put), in task or softirq context, not
    // inside a load or put (those claim the vector context, which keeps
    // softirqs off). As upstream, the guest context is updated in place.
    let arch = unsafe { &mut (*vcpu).arch };
    guest_save(&mut arch.guest_context, &arch.isa);
    if arch.guest_context.sstatus & SR_VS != SR_VS_OFF {
        update_v_flags(|f| f | V_VCPU_NEED_RESTORE);
    }
}

// Without CONFIG_RISCV_ISA_V: nothing to switch, no buffers.

#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn alloc_context(_cx: &mut VcpuCtx<'_>) -> Result {
    Ok(())
}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn free_context(_cx: &mut VcpuCtx<'_>) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
#[inline(always)]
pub(crate) fn restore_on_entry(_cntx: &mut b::kvm_cpu_context, _irqs: &IrqsOff) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn reset(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn guest_save(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn guest_restore(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn host_save(_cntx: &mut b::kvm_cpu_context) {}
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn host_restore(_cntx: &mut b::kvm_cpu_context) {}


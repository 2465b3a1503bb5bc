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
//! meanwhile, it calls the callback [`Flush`] (registered by
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
use crate::{ffi, isa, isa_logic::Ext};
#[cfg(CONFIG_RISCV_ISA_V)]
use core::sync::atomic::{AtomicBool, Ordering};
#[cfg(CONFIG_RISCV_ISA_V)]
use kernel::num::casts::u32_as_usize;

#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS);
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_OFF: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_OFF);
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_INITIAL: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_INITIAL);
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_CLEAN: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_CLEAN);
#[cfg(CONFIG_RISCV_ISA_V)]
const SR_VS_DIRTY: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_DIRTY);
#[cfg(CONFIG_RISCV_ISA_V)]
const V_VCPU_CTX: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX;
#[cfg(CONFIG_RISCV_ISA_V)]
const V_VCPU_NEED_RESTORE: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;

// ---------------------------------------------------------------------------
// The kernel's vector interfaces (through `ffi`).

/// The size of a whole vector register file (`riscv_v_vsize`).
#[cfg(CONFIG_RISCV_ISA_V)]
fn vsize() -> usize {
    ffi::riscv_v_vsize()
}

/// Runs `f` with the CPU's vector context claimed for the kernel
/// (`get_cpu_vector_context()` ... `put_cpu_vector_context()`).
#[inline]
pub(crate) fn with_cpu_context<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(CONFIG_RISCV_ISA_V)]
    return ffi::with_cpu_vector_context(f);
    #[cfg(not(CONFIG_RISCV_ISA_V))]
    f()
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
        ffi::vector_save(cntx);
    }
}

/// Loads the vector registers and CSRs from `cntx`.
#[cfg(CONFIG_RISCV_ISA_V)]
fn restore(cntx: &mut b::kvm_cpu_context) {
    if has_buffer(cntx) {
        ffi::vector_restore(cntx);
    }
}

// ---------------------------------------------------------------------------
// The register buffers.

/// Allocates the register buffers of a new vCPU
/// (`kvm_riscv_vcpu_alloc_vector_context()`): both, or none and -ENOMEM.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn alloc_context(cx: &mut VcpuCtx<'_>) -> Result {
    let p = cx.parts();
    ffi::vector_buffer_alloc(&mut p.guest.vector.datap)?;
    ffi::vector_buffer_alloc(&mut p.host.vector.datap).inspect_err(|_| {
        ffi::vector_buffer_free(&mut p.guest.vector.datap);
    })
}

/// Frees the register buffers of a vCPU
/// (`kvm_riscv_vcpu_free_vector_context()`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn free_context(cx: &mut VcpuCtx<'_>) {
    let p = cx.parts();
    ffi::vector_buffer_free(&mut p.guest.vector.datap);
    ffi::vector_buffer_free(&mut p.host.vector.datap);
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
    cntx.vector.vlenb = vsize() / 32;
    if !guest_has_v(isa) {
        set_vs(cntx, SR_VS_OFF);
        return;
    }
    set_vs(cntx, SR_VS_INITIAL);
    if has_buffer(cntx) {
        ffi::vector_buffer_zero(cntx);
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
        ffi::update_v_flags(|f| f | V_VCPU_NEED_RESTORE);
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
    ffi::update_v_flags(|f| f & !(V_VCPU_CTX | V_VCPU_NEED_RESTORE));
}

/// At guest entry, interrupts off: if the kernel used the vector unit since
/// [`flush`] saved the guest's registers, restores
/// them now, clean.
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline(always)]
pub(crate) fn restore_on_entry(cntx: &mut b::kvm_cpu_context, irqs: &IrqsOff) {
    if ffi::take_vector_restore(irqs) {
        ffi::vector_restore(cntx);
        set_vs(cntx, SR_VS_CLEAN);
    }
}

/// The kernel-mode-vector callback, for `main.rs` to register.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) struct Flush;

#[cfg(CONFIG_RISCV_ISA_V)]
impl crate::handle::VectorFlush for Flush {
    fn flush(cx: Option<&mut VcpuCtx<'_>>) {
        flush(cx)
    }
}

/// Whether [`flush`] has warned already.
#[cfg(CONFIG_RISCV_ISA_V)]
static FLUSH_WARNED: AtomicBool = AtomicBool::new(false);

/// `kvm_riscv_vcpu_flush_vector()`: the kernel wants the vector unit while
/// it holds a vCPU's guest state (the task's `RISCV_V_VCPU_CTX` flag, set
/// from guest entry to put). Saves the guest's registers and asks the next
/// guest entry to restore them. Reached from the kernel's kernel-mode-vector
/// code, with the vector context claimed, through the callback `main.rs`
/// registers (its C entry is in `abi.rs`); `cx` is `None` when no vCPU runs
/// on this CPU, which never happens with that flag set: a WARN, once.
#[cfg(CONFIG_RISCV_ISA_V)]
fn flush(cx: Option<&mut VcpuCtx<'_>>) {
    let Some(cx) = cx else {
        if !FLUSH_WARNED.swap(true, Ordering::Relaxed) {
            kernel::warn_on!(true);
        }
        return;
    };
    let p = cx.parts();
    guest_save(p.guest, p.isa);
    if p.guest.sstatus & SR_VS != SR_VS_OFF {
        ffi::update_v_flags(|f| f | V_VCPU_NEED_RESTORE);
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

// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers of kernel facilities the logic uses that the kernel
//! crate does not offer: preemption, the guest-state and guest-timing
//! context tracking, the entry-work check, tracepoints, and the current
//! task's vector-state flags. A boundary module: each wrapper is one call.

use crate::bindings as b;
use crate::irq::IrqsOff;
use core::marker::PhantomData;
use kernel::error::code::ENOMEM;
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;

/// Preemption is off for as long as the guard lives (`preempt_disable()`,
/// `preempt_enable()` at drop).
pub(crate) struct PreemptOff(PhantomData<*mut ()>);

/// Disables preemption until the guard drops.
#[inline(always)]
pub(crate) fn preempt_disable() -> PreemptOff {
    // SAFETY: paired with the enable of the drop.
    unsafe { b::kvm_riscv_rs_preempt_disable() };
    PreemptOff(PhantomData)
}

impl Drop for PreemptOff {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: pairs the disable that made the guard.
        unsafe { b::kvm_riscv_rs_preempt_enable() };
    }
}

/// `guest_state_enter_irqoff()`: context tracking enters the guest.
#[inline(always)]
pub(crate) fn guest_state_enter(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_state_enter_irqoff() }
}

/// `guest_state_exit_irqoff()`.
#[inline(always)]
pub(crate) fn guest_state_exit(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_state_exit_irqoff() }
}

/// `guest_timing_enter_irqoff()`: time from here counts as guest time.
#[inline(always)]
pub(crate) fn guest_timing_enter(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_timing_enter_irqoff() }
}

/// `guest_timing_exit_irqoff()`.
#[inline(always)]
pub(crate) fn guest_timing_exit(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_timing_exit_irqoff() }
}

/// `xfer_to_guest_mode_work_pending()`.
#[inline(always)]
pub(crate) fn guest_mode_work_pending(_irqs: &IrqsOff) -> bool {
    // SAFETY: reads the current task's flags, interrupts off.
    unsafe { b::kvm_riscv_rs_xfer_to_guest_mode_work_pending() }
}

/// The `kvm_riscv_vcpu_irq` trace event.
pub(crate) fn trace_vcpu_irq(vcpu_id: u32, irq: u32, level: bool) {
    // SAFETY: a tracepoint call with plain values.
    unsafe { b::kvm_riscv_rs_trace_kvm_vcpu_irq(usize::from_safe_cast(vcpu_id), irq, level.into()) };
}

/// The `kvm_exit` trace event (nothing without `CONFIG_TRACEPOINTS`).
#[inline(always)]
pub(crate) fn trace_exit(_trap: &b::kvm_cpu_trap) {
    // SAFETY: a tracepoint call that only reads the trap.
    #[cfg(CONFIG_TRACEPOINTS)]
    unsafe {
        b::kvm_riscv_rs_trace_kvm_exit(core::ptr::from_ref(_trap).cast_mut())
    };
}

/// If the current task's vector state waits to be restored into the vCPU
/// context (`RISCV_V_VCPU_NEED_RESTORE`), marks it restored
/// (`RISCV_V_VCPU_CTX`) and says so.
#[inline(always)]
pub(crate) fn take_vector_restore(_irqs: &IrqsOff) -> bool {
    // SAFETY: null or the current task's flags, which only the task itself
    // changes; interrupts are off.
    let flags = unsafe { b::kvm_riscv_rs_current_v_flags() };
    let need = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;
    // SAFETY: as above.
    if flags.is_null() || unsafe { *flags } & need == 0 {
        return false;
    }
    // SAFETY: as above.
    unsafe { *flags = (*flags & !need) | b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX };
    true
}

/// `riscv_isa_extension_available(NULL, ext)`: does every CPU have `ext`?
pub(crate) fn host_isa_has(ext: u32) -> bool {
    // SAFETY: a null bitmap asks about the host's ISA; any id is accepted.
    unsafe { b::__riscv_isa_extension_available(core::ptr::null(), ext) }
}

// ---------------------------------------------------------------------------
// FP and vector registers: the copy routines of `vcpu_switch.S` and the
// kernel's vector interfaces.

/// Stores f0-f31 (32-bit) and fcsr into `cntx` (`__kvm_riscv_fp_f_save`).
pub(crate) fn fp_f_save(cntx: &mut b::kvm_cpu_context) {
    // SAFETY: the routine stores the registers into the F state of `cntx`,
    // which we hold uniquely; it turns SSTATUS.FS on only for the copy.
    unsafe { b::__kvm_riscv_fp_f_save(cntx) }
}

/// Stores f0-f31 (64-bit) and fcsr into `cntx` (`__kvm_riscv_fp_d_save`).
pub(crate) fn fp_d_save(cntx: &mut b::kvm_cpu_context) {
    // SAFETY: as in `fp_f_save`, into the D state.
    unsafe { b::__kvm_riscv_fp_d_save(cntx) }
}

/// Loads f0-f31 (32-bit) and fcsr from `cntx`.
pub(crate) fn fp_f_restore(cntx: &mut b::kvm_cpu_context) {
    // SAFETY: as in `fp_f_save`, the other way: `cntx` is only read.
    unsafe { b::__kvm_riscv_fp_f_restore(cntx) }
}

/// Loads f0-f31 (64-bit) and fcsr from `cntx`.
pub(crate) fn fp_d_restore(cntx: &mut b::kvm_cpu_context) {
    // SAFETY: as in `fp_f_restore`.
    unsafe { b::__kvm_riscv_fp_d_restore(cntx) }
}

/// The size of a whole vector register file (`riscv_v_vsize`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn riscv_v_vsize() -> usize {
    // SAFETY: a plain read of a variable set once at boot.
    unsafe { b::riscv_v_vsize }
}

/// Changes the current task's vector flags (`riscv_v_flags_set(f(riscv_v_flags()))`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn update_v_flags(f: impl FnOnce(u32) -> u32) {
    // SAFETY: with CONFIG_RISCV_ISA_V the helper returns the current task's
    // flags, never null; only the task itself changes them.
    unsafe {
        let p = b::kvm_riscv_rs_current_v_flags();
        p.write_volatile(f(p.read_volatile()));
    }
}

/// Runs `f` with the CPU's vector context claimed for the kernel
/// (`get_cpu_vector_context()` ... `put_cpu_vector_context()`).
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn with_cpu_vector_context<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: claims the vector context (softirqs or preemption off) on this
    // CPU; released below, after `f`.
    unsafe { b::get_cpu_vector_context() };
    let r = f();
    // SAFETY: pairs the claim above.
    unsafe { b::put_cpu_vector_context() };
    r
}

/// A vector register buffer of `riscv_v_vsize` bytes, as a context's
/// `vector.datap` holds it.
///
/// The `datap` of a vCPU context is written only by [`vector_buffer_alloc`]
/// and [`vector_buffer_free`] (a context reset keeps it): it is null or a
/// live buffer of that size.
#[cfg(CONFIG_RISCV_ISA_V)]
fn vector_buffer_layout() -> Option<core::alloc::Layout> {
    core::alloc::Layout::array::<u8>(riscv_v_vsize()).ok()
}

/// Gives `datap` a zeroed buffer, accounted to the VM's owner
/// (`kzalloc(riscv_v_vsize, GFP_KERNEL_ACCOUNT)`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_alloc(datap: &mut *mut kernel::ffi::c_void) -> Result {
    use kernel::alloc::{allocator::Kmalloc, flags, Allocator, NumaNode};
    let layout = vector_buffer_layout().ok_or(ENOMEM)?;
    let fl = flags::GFP_KERNEL_ACCOUNT | flags::__GFP_ZERO;
    let p = Kmalloc::alloc(layout, fl, NumaNode::NO_NODE).map_err(|_| ENOMEM)?;
    *datap = p.as_ptr().cast();
    Ok(())
}

/// Frees the buffer of `datap` (null: nothing) and leaves null in its place.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_free(datap: &mut *mut kernel::ffi::c_void) {
    use kernel::alloc::{allocator::Kmalloc, Allocator};
    let p = core::mem::replace(datap, core::ptr::null_mut());
    let (Some(p), Some(layout)) = (core::ptr::NonNull::new(p.cast::<u8>()), vector_buffer_layout())
    else {
        return;
    };
    // SAFETY: `p` came from `vector_buffer_alloc()` with this layout
    // (`riscv_v_vsize` does not change after boot), and its only reference,
    // `datap`, is now null.
    unsafe { Kmalloc::free(p, layout) };
}

/// Zeroes the register buffer of `cntx`, if it has one.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_zero(cntx: &mut b::kvm_cpu_context) {
    let Some(len) = (!cntx.vector.datap.is_null()).then(riscv_v_vsize) else {
        return;
    };
    // SAFETY: a non-null `datap` is the context's buffer of `riscv_v_vsize`
    // bytes (see `vector_buffer_layout`), referenced only through `cntx`,
    // which we hold uniquely.
    let regs = unsafe { core::slice::from_raw_parts_mut(cntx.vector.datap.cast::<u8>(), len) };
    regs.fill(0);
}

/// Stores the vector registers and CSRs into `cntx` (`__kvm_riscv_vector_save`);
/// nothing without a buffer.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_save(cntx: &mut b::kvm_cpu_context) {
    if !cntx.vector.datap.is_null() {
        // SAFETY: the routine writes the vector CSRs into `cntx.vector` and
        // the registers into its buffer of `riscv_v_vsize` bytes (see
        // `vector_buffer_layout`); `cntx` is ours alone.
        unsafe { b::kvm_riscv_rs_vector_save(cntx) };
    }
}

/// Loads the vector registers and CSRs from `cntx`; nothing without a
/// buffer.
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline(always)]
pub(crate) fn vector_restore(cntx: &mut b::kvm_cpu_context) {
    if !cntx.vector.datap.is_null() {
        // SAFETY: as in `vector_save`, the other way: `cntx` is only read.
        unsafe { b::kvm_riscv_rs_vector_restore(cntx) };
    }
}

/// `OPTIMIZER_HIDE_VAR()`: `v`, about which the compiler may no longer
/// assume anything (for `array_index_nospec`).
#[inline(always)]
pub(crate) fn hide_var(v: usize) -> usize {
    let mut v = v;
    // SAFETY: an empty asm statement: no instruction runs.
    unsafe { core::arch::asm!("/* {0} */", inout(reg) v, options(pure, nomem, nostack, preserves_flags)) };
    v
}
// (area `onereg`: begin)
// The host's ISA and memory parameters that ONE_REG reports.

/// `riscv_isa_extension_base(NULL)`: the host's single-letter extensions.
pub(crate) fn host_isa_base() -> usize {
    // SAFETY: a null bitmap asks about the host's ISA.
    unsafe { b::riscv_isa_extension_base(core::ptr::null()) }
}

/// The paging mode of the host and its guests (`satp_mode >>
/// SATP_MODE_SHIFT`).
pub(crate) fn satp_mode() -> usize {
    // SAFETY: a plain read of a variable set once at boot.
    let mode = unsafe { b::satp_mode } >> b::SATP_MODE_SHIFT;
    // CAST: the 4-bit MODE field.
    mode as usize
}

/// `riscv_cbom_block_size`, `riscv_cboz_block_size`, `riscv_cbop_block_size`:
/// the host's cache block sizes (0 when unknown).
pub(crate) fn cbo_block_sizes() -> [usize; 3] {
    // SAFETY: plain reads of variables set once at boot.
    let sizes = unsafe { [b::riscv_cbom_block_size, b::riscv_cboz_block_size, b::riscv_cbop_block_size] };
    sizes.map(usize::from_safe_cast)
}

/// The bytes of a vector register (`riscv_v_vsize / 32`).
pub(crate) fn vlenb() -> usize {
    // SAFETY: a plain read of a variable set once at boot.
    let vsize = unsafe { b::riscv_v_vsize };
    vsize / 32
}

/// `riscv_v_vstate_ctrl_user_allowed()`: may user space use the vector
/// state (and so a guest)?
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_user_allowed() -> bool {
    // SAFETY: a query of the host's vector configuration.
    unsafe { b::riscv_v_vstate_ctrl_user_allowed() }
}

/// Without vector support: never.
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn vector_user_allowed() -> bool {
    false
}
// (area `onereg`: end)

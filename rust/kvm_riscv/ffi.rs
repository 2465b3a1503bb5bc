// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers of kernel facilities the logic uses that the kernel
//! crate does not offer: preemption, the guest-state and guest-timing
//! context tracking, the entry-work check, tracepoints, and the current
//! task's vector-state flags. A boundary module: each wrapper is one call.

use crate::bindings as b;
use crate::irq::IrqsOff;
use core::marker::PhantomData;
use kernel::num::casts::FromSafeCast;

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

// (area sbi: begin)

/// How long the current task has waited to run, in ns
/// (`READ_ONCE(current->sched_info.run_delay)`).
pub(crate) fn current_run_delay() -> u64 {
    // SAFETY: reads a counter of the current task.
    unsafe { b::kvm_riscv_rs_current_run_delay() }
}

/// `sched_info_on()`: the scheduler keeps the statistics steal time needs.
pub(crate) fn sched_info_on() -> bool {
    // SAFETY: reads a kernel configuration value.
    unsafe { b::kvm_riscv_rs_sched_info_on() }
}

/// The host's timebase frequency (`riscv_timebase`).
pub(crate) fn riscv_timebase() -> kernel::ffi::c_ulong {
    // SAFETY: a plain read of a variable set once at boot.
    unsafe { b::riscv_timebase }
}

/// The clocksource's cycles-to-ns factors, (mult, shift)
/// (`riscv_cs_get_mult_shift()`).
pub(crate) fn cs_mult_shift() -> (u32, u32) {
    let (mut mult, mut shift) = (0, 0);
    // SAFETY: the two out-parameters are valid.
    unsafe { b::riscv_cs_get_mult_shift(&mut mult, &mut shift) };
    (mult, shift)
}

// (area sbi: end)

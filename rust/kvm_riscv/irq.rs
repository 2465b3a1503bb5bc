// SPDX-License-Identifier: GPL-2.0

//! Local interrupt control for the run loop (`local_irq_disable()` and
//! `local_irq_enable()`). Without `CONFIG_TRACE_IRQFLAGS` each is one CSR
//! instruction on SSTATUS.SIE, inlined here as in C; with it, the C versions,
//! which also trace, are called.

use crate::bindings as b;
#[cfg(not(CONFIG_TRACE_IRQFLAGS))]
use core::arch::asm;

/// SSTATUS.SIE.
#[cfg(not(CONFIG_TRACE_IRQFLAGS))]
const SR_SIE: usize = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_IE as usize;

/// Masks interrupts on this CPU.
///
/// # Safety
/// The caller unmasks them again with [`enable`] before it returns to code
/// that expects them on.
#[inline(always)]
pub(crate) unsafe fn disable() {
    // SAFETY: masking interrupts; a compiler barrier like C's (no `nomem`).
    #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
    unsafe {
        asm!("csrc sstatus, {0}", in(reg) SR_SIE, options(nostack))
    };
    // SAFETY: as above.
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    unsafe {
        b::kvm_riscv_rs_local_irq_disable()
    };
}

/// Unmasks interrupts on this CPU.
///
/// # Safety
/// No caller up the stack needs interrupts masked (no spinlock taken with
/// `_irqsave`, no code between `disable` and here that relies on it).
#[inline(always)]
pub(crate) unsafe fn enable() {
    // SAFETY: unmasking interrupts, per the caller's promise; a compiler barrier.
    #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
    unsafe {
        asm!("csrs sstatus, {0}", in(reg) SR_SIE, options(nostack))
    };
    // SAFETY: as above.
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    unsafe {
        b::kvm_riscv_rs_local_irq_enable()
    };
}

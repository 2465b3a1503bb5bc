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

/// Masks interrupts and returns the previous state (`local_irq_save()`).
///
/// # Safety
/// The caller gives the state back with [`restore`].
#[inline(always)]
pub(crate) unsafe fn save() -> usize {
    // SAFETY: masking interrupts; the old SSTATUS.SIE is returned.
    #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
    unsafe {
        let flags: usize;
        asm!("csrrc {f}, sstatus, {m}", f = out(reg) flags, m = in(reg) SR_SIE, options(nostack));
        flags & SR_SIE
    }
    // SAFETY: as above.
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    unsafe {
        b::kvm_riscv_rs_local_irq_save()
    }
}

/// Gives back the interrupt state [`save`] returned (`local_irq_restore()`).
///
/// # Safety
/// `flags` comes from the matching [`save`].
#[inline(always)]
pub(crate) unsafe fn restore(flags: usize) {
    // SAFETY: restoring SSTATUS.SIE as it was.
    #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
    unsafe {
        asm!("csrs sstatus, {f}", f = in(reg) flags & SR_SIE, options(nostack))
    };
    // SAFETY: as above.
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    unsafe {
        b::kvm_riscv_rs_local_irq_restore(flags)
    };
}

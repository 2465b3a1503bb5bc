// SPDX-License-Identifier: GPL-2.0

//! Local interrupt masking for the run loop: [`disable`] returns an
//! [`IrqsOff`] guard (`local_irq_save()`), whose drop restores the state
//! before it (`local_irq_restore()`). Code that needs interrupts off takes
//! `&IrqsOff` as the proof. Without `CONFIG_TRACE_IRQFLAGS` each is one CSR
//! instruction on SSTATUS.SIE, inlined as in C; with it, the C versions,
//! which also trace, are called.

use crate::bindings as b;
#[cfg(not(CONFIG_TRACE_IRQFLAGS))]
use core::arch::asm;
use core::marker::PhantomData;

/// SSTATUS.SIE.
#[cfg(not(CONFIG_TRACE_IRQFLAGS))]
// CAST: a low bit of SSTATUS, from an enum of the C headers.
const SR_SIE: usize = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_IE as usize;

/// Interrupts are masked on this CPU for as long as the guard lives.
///
/// # Invariants
/// Made only by [`disable`], which masked interrupts; `flags` is what
/// SSTATUS.SIE was before. Not `Send`: it belongs to this CPU.
pub(crate) struct IrqsOff {
    flags: usize,
    _cpu: PhantomData<*mut ()>,
}

/// Masks interrupts on this CPU until the guard drops.
#[inline(always)]
pub(crate) fn disable() -> IrqsOff {
    #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
    // SAFETY: masking interrupts; a compiler barrier like C's (no `nomem`).
    let flags = unsafe {
        let flags: usize;
        asm!("csrrc {f}, sstatus, {m}", f = out(reg) flags, m = in(reg) SR_SIE, options(nostack));
        flags & SR_SIE
    };
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    // SAFETY: `local_irq_save()`, paired with the restore of the drop.
    let flags = unsafe { b::kvm_riscv_rs_local_irq_save() };
    IrqsOff {
        flags,
        _cpu: PhantomData,
    }
}

impl Drop for IrqsOff {
    #[inline(always)]
    fn drop(&mut self) {
        #[cfg(not(CONFIG_TRACE_IRQFLAGS))]
        // SAFETY: puts SIE back as `disable` found it (the invariant).
        unsafe {
            asm!("csrs sstatus, {f}", f = in(reg) self.flags, options(nostack))
        };
        #[cfg(CONFIG_TRACE_IRQFLAGS)]
        // SAFETY: as above, through `local_irq_restore()`.
        unsafe {
            b::kvm_riscv_rs_local_irq_restore(self.flags)
        };
    }
}

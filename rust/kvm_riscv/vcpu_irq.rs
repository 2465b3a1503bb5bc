// SPDX-License-Identifier: GPL-2.0

//! The interrupt part of `arch/riscv/kvm/vcpu.c`: raising and lowering the
//! guest's local interrupts, moving them into HVIP before each entry and
//! reading back what the guest changed after each exit.

use crate::bindings as b;
use crate::csr;
use crate::handle::{Vcpu, VcpuCtx};
use crate::nacl::ncsr_read;
use crate::onereg_logic::vsip_to_hvip;
use kernel::error::code::*;
use kernel::ffi::c_ulong;
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;

pub(crate) const IRQ_VS_SOFT: u32 = b::IRQ_VS_SOFT;
pub(crate) const IRQ_VS_TIMER: u32 = b::IRQ_VS_TIMER;
pub(crate) const IRQ_VS_EXT: u32 = b::IRQ_VS_EXT;
pub(crate) const IRQ_PMU_OVF: u32 = b::IRQ_PMU_OVF;
const IRQ_LOCAL_MAX: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_IRQ_LOCAL_MAX;
// CAST: a mask of the low XLEN bits, from an enum of the C headers.
const IRQ_LOCAL_MASK: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_IRQ_LOCAL_MASK as c_ulong;

/// May userspace or a device raise or lower `irq`? Of the local interrupts
/// (below `IRQ_LOCAL_MAX`) only VS software, timer, external and the PMU
/// overflow are the guest's.
fn irq_settable(irq: u32) -> bool {
    // The pending bitmaps are one word.
    if irq >= c_ulong::BITS {
        return false;
    }
    irq >= IRQ_LOCAL_MAX || matches!(irq, IRQ_VS_SOFT | IRQ_VS_TIMER | IRQ_VS_EXT | IRQ_PMU_OVF)
}

// The pure `vsip_to_hvip()` of `onereg_logic` (host-tested) must move the
// bits as the kernel's masks say.
const _: () = {
    // CAST (all): masks of the low XLEN bits, from enums of the C headers.
    let bias = b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_BIAS_MASK as c_ulong;
    let no_bias = b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_NO_BIAS_MASK as c_ulong;
    let shift = b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_TO_HVIP_SHIFT;
    assert!(vsip_to_hvip(bias) == bias << shift);
    assert!(vsip_to_hvip(no_bias) == no_bias);
    assert!(vsip_to_hvip(!(bias | no_bias)) == 0);
};

/// The bit of interrupt `n` (below XLEN) in the pending bitmaps.
pub(crate) fn bit(n: u32) -> c_ulong {
    1 << n
}

/// Raises `irq` for the guest and kicks the vCPU.
pub(crate) fn set_interrupt(v: &Vcpu, irq: u32) -> Result {
    if !irq_settable(irq) {
        return Err(EINVAL);
    }
    v.with_irqs(|pending, mask| {
        *pending |= bit(irq);
        *mask |= bit(irq);
    });
    crate::ffi::trace_vcpu_irq(v.id(), irq, true);
    v.kick();
    Ok(())
}

/// Lowers `irq` for the guest.
pub(crate) fn unset_interrupt(v: &Vcpu, irq: u32) -> Result {
    if !irq_settable(irq) {
        return Err(EINVAL);
    }
    v.with_irqs(|pending, mask| {
        *pending &= !bit(irq);
        *mask |= bit(irq);
    });
    crate::ffi::trace_vcpu_irq(v.id(), irq, false);
    Ok(())
}

/// Moves the interrupts raised or lowered since the last entry into the
/// shadow HVIP (`kvm_riscv_vcpu_flush_interrupts()`).
pub(crate) fn flush_interrupts(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let hvip = cx.csr().hvip;
    // (The AIA high interrupts of upstream's flush exist only on RV32.)
    let new = v.with_irqs(|pending, mask| {
        let changed = core::mem::take(mask);
        (hvip & !changed) | (*pending & changed)
    });
    cx.csr().hvip = new;
}

/// Reads back what the guest changed in VSIE and HVIP (the interrupt part
/// of `kvm_riscv_vcpu_sync_interrupts()`; [`crate::vcpu::sync_interrupts`]
/// adds the timer's).
pub(crate) fn sync_interrupts(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let csr = cx.csr();
    csr.vsie = ncsr_read(csr::VSIE);
    let hvip = ncsr_read(csr::HVIP);
    let shadow = csr.hvip;
    v.with_irqs(|pending, mask| {
        let changed = shadow ^ hvip;
        // The guest may set or clear VSSIP.
        if changed & bit(IRQ_VS_SOFT) != 0 && *mask & bit(IRQ_VS_SOFT) == 0 {
            *mask |= bit(IRQ_VS_SOFT);
            if hvip & bit(IRQ_VS_SOFT) != 0 {
                *pending |= bit(IRQ_VS_SOFT);
            } else {
                *pending &= !bit(IRQ_VS_SOFT);
            }
        }
        // It may only clear LCOFIP.
        if changed & bit(IRQ_PMU_OVF) != 0
            && hvip & bit(IRQ_PMU_OVF) == 0
            && *mask & bit(IRQ_PMU_OVF) == 0
        {
            *mask |= bit(IRQ_PMU_OVF);
            *pending &= !bit(IRQ_PMU_OVF);
        }
        // (The AIA high interrupts of upstream's sync exist only on RV32.)
    });
}

/// Is an interrupt of `mask` pending and enabled?
pub(crate) fn has_interrupts(v: &Vcpu, mask: u64) -> bool {
    // CAST: XLEN is 64.
    let mask = mask as c_ulong;
    let vsie = v.vsie();
    let ie = (vsip_to_hvip(vsie) & mask) | (vsie & !IRQ_LOCAL_MASK & mask);
    let ret = v.with_irqs(|pending, _| *pending & ie != 0);
    ret || crate::aia::has_interrupts(v, u64::from_safe_cast(mask))
}

/// Whether the vCPU could run now (`kvm_arch_vcpu_runnable()`): an
/// interrupt is pending and enabled, and it is neither stopped nor paused.
pub(crate) fn runnable(v: &Vcpu) -> bool {
    has_interrupts(v, u64::MAX) && v.mp_state() != b::KVM_MP_STATE_STOPPED && !v.paused()
}

/// Clears every pending interrupt (reset).
pub(crate) fn reset(v: &Vcpu) {
    v.with_irqs(|pending, mask| {
        *pending = 0;
        *mask = 0;
    });
}

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/aia_device.c`, begun: the vCPU hooks of the
//! in-kernel AIA irqchip. The device itself (its attributes, its init, MSI
//! routing to the IMSICs) is still C.

use crate::handle::VcpuCtx;
use kernel::ffi::c_int;

/// Before entering the guest: the vCPU's IMSIC to a guest file of this CPU,
/// once the AIA device is initialised (`kvm_riscv_vcpu_aia_update()`),
/// preemption off. > 0 to enter.
pub(crate) fn vcpu_update(cx: &mut VcpuCtx<'_>) -> c_int {
    if !cx.vcpu().vm().aia_initialized() {
        return 1;
    }
    crate::aia_imsic::update(cx)
}

/// The vCPU's AIA reset: its AIA CSRs to 0, and its IMSIC
/// (`kvm_riscv_vcpu_aia_reset()`).
pub(crate) fn vcpu_reset(cx: &mut VcpuCtx<'_>) {
    if !crate::aia::available() {
        return;
    }
    *cx.parts().aia_csr = Default::default();
    if !cx.vcpu().vm().aia_initialized() {
        return;
    }
    crate::aia_imsic::reset(cx.vcpu());
}

/// The vCPU's teardown frees its IMSIC (`kvm_riscv_vcpu_aia_deinit()`).
pub(crate) fn vcpu_deinit(cx: &mut VcpuCtx<'_>) {
    if !cx.vcpu().vm().aia_initialized() {
        return;
    }
    crate::aia_imsic::cleanup(cx.vcpu());
}

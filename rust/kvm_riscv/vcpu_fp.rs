// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_fp.c`, its context-switch half (the ONE_REG
//! half is in [`crate::onereg`]): the FP registers of the guest and of the
//! host move with the vCPU's load and put, lazily, following the guest's
//! SSTATUS.FS.
//!
//! The guest's registers are saved at put only when FS says Dirty, and
//! restored at load unless FS says Off; both leave FS Clean. The host's are
//! always saved and restored (its SSTATUS may change outside KVM). The
//! copies are done by `__kvm_riscv_fp_{f,d}_{save,restore}` of
//! `vcpu_switch.S`, as wide as the guest's (or host's) ISA: D, else F.
//!
//! Without `CONFIG_FPU` every function does nothing, as the stubs of
//! `asm/kvm_vcpu_fp.h`.

use crate::bindings as b;
use kernel::ffi::c_ulong;

#[cfg(CONFIG_FPU)]
use crate::{isa, isa_logic::Ext};
#[cfg(CONFIG_FPU)]
use kernel::num::casts::u32_as_usize;

#[cfg(CONFIG_FPU)]
const SR_FS: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_FS);
#[cfg(CONFIG_FPU)]
const SR_FS_OFF: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_FS_OFF);
#[cfg(CONFIG_FPU)]
const SR_FS_INITIAL: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_FS_INITIAL);
#[cfg(CONFIG_FPU)]
const SR_FS_CLEAN: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_FS_CLEAN);
#[cfg(CONFIG_FPU)]
const SR_FS_DIRTY: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_FS_DIRTY);

/// Which FP register file a context holds: 32-bit (F) or 64-bit (D).
#[cfg(CONFIG_FPU)]
#[derive(Clone, Copy)]
enum Width {
    F,
    D,
}

#[cfg(CONFIG_FPU)]
impl Width {
    /// The width of a vCPU with ISA bitmap `isa`: D if it has D, else F if
    /// it has F.
    fn of_guest(isa: &[c_ulong]) -> Option<Width> {
        if isa::bitmap_has(isa, b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_D) {
            Some(Width::D)
        } else if isa::bitmap_has(isa, b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_F) {
            Some(Width::F)
        } else {
            None
        }
    }

    /// The width of the host (`kvm_riscv_isa_check_host(D)`, then `F`).
    fn of_host() -> Option<Width> {
        if isa::host_supports(Ext::D) {
            Some(Width::D)
        } else if isa::host_supports(Ext::F) {
            Some(Width::F)
        } else {
            None
        }
    }

    /// Copies f0-f31 and fcsr into `cntx`.
    fn save(self, cntx: &mut b::kvm_cpu_context) {
        match self {
            Width::F => crate::ffi::fp_f_save(cntx),
            Width::D => crate::ffi::fp_d_save(cntx),
        }
    }

    /// Loads f0-f31 and fcsr from `cntx`.
    fn restore(self, cntx: &mut b::kvm_cpu_context) {
        match self {
            Width::F => crate::ffi::fp_f_restore(cntx),
            Width::D => crate::ffi::fp_d_restore(cntx),
        }
    }
}

/// Sets the FS field of `cntx`'s SSTATUS to `fs`.
#[cfg(CONFIG_FPU)]
fn set_fs(cntx: &mut b::kvm_cpu_context, fs: c_ulong) {
    cntx.sstatus = (cntx.sstatus & !SR_FS) | fs;
}

/// The guest's FP unit after a reset: Initial if its ISA (`isa`) has F or
/// D, Off else (`kvm_riscv_vcpu_fp_reset()`).
#[cfg(CONFIG_FPU)]
pub(crate) fn reset(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    let fs = if Width::of_guest(isa).is_some() {
        SR_FS_INITIAL
    } else {
        SR_FS_OFF
    };
    set_fs(cntx, fs);
}

/// Saves the guest's FP registers if it changed them since the last restore
/// (`kvm_riscv_vcpu_guest_fp_save()`).
#[cfg(CONFIG_FPU)]
#[inline]
pub(crate) fn guest_save(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    if cntx.sstatus & SR_FS == SR_FS_DIRTY {
        if let Some(w) = Width::of_guest(isa) {
            w.save(cntx);
        }
        set_fs(cntx, SR_FS_CLEAN);
    }
}

/// Loads the guest's FP registers unless its FP unit is off
/// (`kvm_riscv_vcpu_guest_fp_restore()`).
#[cfg(CONFIG_FPU)]
#[inline]
pub(crate) fn guest_restore(cntx: &mut b::kvm_cpu_context, isa: &[c_ulong]) {
    if cntx.sstatus & SR_FS != SR_FS_OFF {
        if let Some(w) = Width::of_guest(isa) {
            w.restore(cntx);
        }
        set_fs(cntx, SR_FS_CLEAN);
    }
}

/// Saves the host's FP registers (`kvm_riscv_vcpu_host_fp_save()`); the
/// host's SSTATUS is not looked at, it may change outside KVM.
#[cfg(CONFIG_FPU)]
#[inline]
pub(crate) fn host_save(cntx: &mut b::kvm_cpu_context) {
    if let Some(w) = Width::of_host() {
        w.save(cntx);
    }
}

/// Loads the host's FP registers (`kvm_riscv_vcpu_host_fp_restore()`).
#[cfg(CONFIG_FPU)]
#[inline]
pub(crate) fn host_restore(cntx: &mut b::kvm_cpu_context) {
    if let Some(w) = Width::of_host() {
        w.restore(cntx);
    }
}

// Without CONFIG_FPU: nothing to switch.

#[cfg(not(CONFIG_FPU))]
pub(crate) fn reset(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_FPU))]
pub(crate) fn guest_save(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_FPU))]
pub(crate) fn guest_restore(_cntx: &mut b::kvm_cpu_context, _isa: &[c_ulong]) {}
#[cfg(not(CONFIG_FPU))]
pub(crate) fn host_save(_cntx: &mut b::kvm_cpu_context) {}
#[cfg(not(CONFIG_FPU))]
pub(crate) fn host_restore(_cntx: &mut b::kvm_cpu_context) {}

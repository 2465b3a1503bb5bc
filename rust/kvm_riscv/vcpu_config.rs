// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_config.c`: the per-vCPU HEDELEG, HIDELEG,
//! HENVCFG and HSTATEEN0, computed by [`crate::config_logic`] from the
//! enabled extensions and loaded through the NACL-aware accessors. The
//! values live in the C `struct kvm_vcpu_config`, which the SBI FWFT code
//! (still C) also edits.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::config_logic::{self as l, GuestExts};
use crate::csr;
use crate::isa::host_has_ext;
use crate::nacl::ncsr_write;

// The bits of `config_logic` must be the kernel's.
const _: () = {
    assert!(l::envcfg::CBIE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBIE as u64);
    assert!(l::envcfg::CBCFE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBCFE as u64);
    assert!(l::envcfg::CBZE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBZE as u64);
    assert!(l::envcfg::ADUE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_ADUE as u64);
    assert!(l::envcfg::PBMTE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_PBMTE as u64);
    assert!(l::envcfg::STCE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_STCE as u64);
    assert!(l::stateen0::AIA_IMSIC == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA_IMSIC as u64);
    assert!(l::stateen0::AIA == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA as u64);
    assert!(l::stateen0::AIA_ISEL == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA_ISEL as u64);
    assert!(l::stateen0::HSENVCFG == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_HSENVCFG as u64);
    assert!(l::stateen0::SSTATEEN0 == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_SSTATEEN0 as u64);
    assert!(l::HEDELEG_DEFAULT == (1 << b::EXC_INST_MISALIGNED | 1 << b::EXC_INST_ILLEGAL
        | 1 << b::EXC_BREAKPOINT | 1 << b::EXC_SYSCALL | 1 << b::EXC_INST_PAGE_FAULT
        | 1 << b::EXC_LOAD_PAGE_FAULT | 1 << b::EXC_STORE_PAGE_FAULT));
    assert!(l::HIDELEG_DEFAULT == (1 << b::IRQ_VS_SOFT | 1 << b::IRQ_VS_TIMER | 1 << b::IRQ_VS_EXT));
};

/// The vCPU's configuration.
///
/// # Safety
/// `vcpu` is live, and the caller its thread (or its creator).
unsafe fn cfg<'a>(vcpu: *mut b::kvm_vcpu) -> &'a mut b::kvm_vcpu_config {
    // SAFETY: per the function's contract.
    unsafe { &mut (*vcpu).arch.cfg }
}

/// `kvm_riscv_vcpu_config_init()`: the default delegations.
///
/// # Safety
/// `vcpu` is being created, by its creator.
pub(crate) unsafe fn init_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let cfg = unsafe { cfg(vcpu) };
    cfg.hedeleg = l::HEDELEG_DEFAULT as _;
    cfg.hideleg = l::HIDELEG_DEFAULT as _;
}

/// `kvm_riscv_vcpu_config_guest_debug()`: guest breakpoints exit to
/// userspace while it debugs the guest, else they stay in the guest.
///
/// # Safety
/// `vcpu` is live, on its thread.
pub(crate) unsafe fn guest_debug_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let (cfg, debug) = unsafe { (cfg(vcpu), (*vcpu).guest_debug != 0) };
    cfg.hedeleg = l::hedeleg_for_debug(cfg.hedeleg as u64, debug) as _;
    // SAFETY: per the function's contract.
    unsafe { (*vcpu).arch.csr_dirty = true };
}

/// Does the vCPU have ISA extension `ext` (`RISCV_ISA_EXT_*`)?
///
/// # Safety
/// `vcpu` is live.
unsafe fn guest_has(vcpu: *mut b::kvm_vcpu, ext: u32) -> bool {
    // SAFETY: the vCPU's ISA bitmap; any id is accepted.
    unsafe { b::__riscv_isa_extension_available((*vcpu).arch.isa.as_ptr(), ext) }
}

/// `kvm_riscv_vcpu_config_ran_once()`: the extensions are fixed from the
/// first run on; turn on what they need.
///
/// # Safety
/// `vcpu` is live, on its thread.
pub(crate) unsafe fn ran_once_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY (all): per the function's contract.
    let g = unsafe {
        GuestExts {
            svpbmt: guest_has(vcpu, b::RISCV_ISA_EXT_SVPBMT),
            sstc: guest_has(vcpu, b::RISCV_ISA_EXT_SSTC),
            zicbom: guest_has(vcpu, b::RISCV_ISA_EXT_ZICBOM),
            zicboz: guest_has(vcpu, b::RISCV_ISA_EXT_ZICBOZ),
            svadu: guest_has(vcpu, b::RISCV_ISA_EXT_SVADU),
            svade: guest_has(vcpu, b::RISCV_ISA_EXT_SVADE),
            ssaia: guest_has(vcpu, b::RISCV_ISA_EXT_SSAIA),
            smstateen: guest_has(vcpu, b::RISCV_ISA_EXT_SMSTATEEN),
        }
    };
    // SAFETY (both): per the function's contract.
    let (cfg, debug) = unsafe { (cfg(vcpu), (*vcpu).guest_debug != 0) };
    cfg.henvcfg |= l::henvcfg_bits(g);
    cfg.hstateen0 |= l::hstateen0_bits(g, host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN));
    if debug {
        cfg.hedeleg = l::hedeleg_for_debug(cfg.hedeleg as u64, true) as _;
    }
    // SAFETY: the SBI code's check of the enabled extensions, vCPU thread.
    unsafe { crate::vcpu_sbi::validate(vcpu) };
}

/// `kvm_riscv_vcpu_config_load()`: writes the configuration to the CSRs,
/// through NACL shared memory when it is there.
///
/// # Safety
/// `vcpu` is live and being loaded on this CPU.
pub(crate) unsafe fn load_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let cfg = unsafe { cfg(vcpu) };
    ncsr_write(csr::HEDELEG, cfg.hedeleg as usize);
    ncsr_write(csr::HIDELEG, cfg.hideleg as usize);
    // RV64: no HENVCFGH/HSTATEEN0H halves.
    ncsr_write(csr::HENVCFG, cfg.henvcfg as usize);
    if host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN) {
        ncsr_write(csr::HSTATEEN0, cfg.hstateen0 as usize);
    }
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { init_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn guest_debug(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { guest_debug_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn ran_once(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { ran_once_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn load(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { load_raw(cx.vcpu().as_ptr()) }
}

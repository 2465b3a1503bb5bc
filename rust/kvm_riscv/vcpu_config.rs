// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_config.c`: the per-vCPU HEDELEG, HIDELEG,
//! HENVCFG and HSTATEEN0, computed by [`crate::vcpu_config_logic`] from the
//! enabled extensions and loaded through the NACL-aware accessors. The
//! values live in the C `struct kvm_vcpu_config`, which the SBI FWFT code
//! (still C) also edits.

use crate::bindings as b;
use crate::csr;
use crate::handle::VcpuCtx;
use crate::isa::host_has_ext;
use crate::isa_logic::bitmap_has;
use crate::nacl::ncsr_write;
use crate::regs_logic::{u64_to_xlen, xlen_to_u64};
use crate::vcpu_config_logic::{self as l, GuestExts};
use crate::vcpu_sbi;

// The bits of `vcpu_config_logic` must be the kernel's.
const _: () = {
    assert!(l::envcfg::CBIE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBIE);
    assert!(l::envcfg::CBCFE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBCFE);
    assert!(l::envcfg::CBZE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_CBZE);
    assert!(l::envcfg::ADUE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_ADUE);
    assert!(l::envcfg::PBMTE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_PBMTE);
    assert!(l::envcfg::STCE == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_STCE);
    assert!(l::stateen0::AIA_IMSIC == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA_IMSIC);
    assert!(l::stateen0::AIA == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA);
    assert!(l::stateen0::AIA_ISEL == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_AIA_ISEL);
    assert!(l::stateen0::HSENVCFG == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_HSENVCFG);
    assert!(l::stateen0::SSTATEEN0 == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SMSTATEEN0_SSTATEEN0);
    assert!(
        l::HEDELEG_DEFAULT
            == (1 << b::EXC_INST_MISALIGNED
                | 1 << b::EXC_INST_ILLEGAL
                | 1 << b::EXC_BREAKPOINT
                | 1 << b::EXC_SYSCALL
                | 1 << b::EXC_INST_PAGE_FAULT
                | 1 << b::EXC_LOAD_PAGE_FAULT
                | 1 << b::EXC_STORE_PAGE_FAULT)
    );
    assert!(
        l::HIDELEG_DEFAULT == (1 << b::IRQ_VS_SOFT | 1 << b::IRQ_VS_TIMER | 1 << b::IRQ_VS_EXT)
    );
};

/// `kvm_riscv_vcpu_config_init()`: the default delegations.
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    let cfg = cx.cfg();
    cfg.hedeleg = u64_to_xlen(l::HEDELEG_DEFAULT);
    cfg.hideleg = u64_to_xlen(l::HIDELEG_DEFAULT);
}

/// `kvm_riscv_vcpu_config_guest_debug()`: guest breakpoints exit to
/// userspace while it debugs the guest, else they stay in the guest.
pub(crate) fn guest_debug(cx: &mut VcpuCtx<'_>) {
    let debug = cx.vcpu().guest_debug() != 0;
    let p = cx.parts();
    p.cfg.hedeleg = u64_to_xlen(l::hedeleg_for_debug(xlen_to_u64(p.cfg.hedeleg), debug));
    *p.csr_dirty = true;
}

/// `kvm_riscv_vcpu_config_ran_once()`: the extensions are fixed from the
/// first run on; turn on what they need.
pub(crate) fn ran_once(cx: &mut VcpuCtx<'_>) {
    let debug = cx.vcpu().guest_debug() != 0;
    let p = cx.parts();
    let has = |ext| bitmap_has(p.isa, ext);
    let g = GuestExts {
        svpbmt: has(b::RISCV_ISA_EXT_SVPBMT),
        sstc: has(b::RISCV_ISA_EXT_SSTC),
        zicbom: has(b::RISCV_ISA_EXT_ZICBOM),
        zicboz: has(b::RISCV_ISA_EXT_ZICBOZ),
        svadu: has(b::RISCV_ISA_EXT_SVADU),
        svade: has(b::RISCV_ISA_EXT_SVADE),
        ssaia: has(b::RISCV_ISA_EXT_SSAIA),
        smstateen: has(b::RISCV_ISA_EXT_SMSTATEEN),
    };
    let cfg = p.cfg;
    cfg.henvcfg |= l::henvcfg_bits(g);
    cfg.hstateen0 |= l::hstateen0_bits(g, host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN));
    if debug {
        cfg.hedeleg = u64_to_xlen(l::hedeleg_for_debug(xlen_to_u64(cfg.hedeleg), true));
    }
    // The SBI code's check of the enabled extensions.
    vcpu_sbi::validate(cx);
}

/// `kvm_riscv_vcpu_config_load()`: writes the configuration to the CSRs,
/// through NACL shared memory when it is there.
pub(crate) fn load(cx: &mut VcpuCtx<'_>) {
    let cfg = cx.cfg();
    ncsr_write(csr::HEDELEG, cfg.hedeleg);
    ncsr_write(csr::HIDELEG, cfg.hideleg);
    // RV64: no HENVCFGH/HSTATEEN0H halves.
    ncsr_write(csr::HENVCFG, u64_to_xlen(cfg.henvcfg));
    if host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN) {
        ncsr_write(csr::HSTATEEN0, u64_to_xlen(cfg.hstateen0));
    }
}

// SPDX-License-Identifier: GPL-2.0

//! What a vCPU's hypervisor configuration is (upstream 7.3's
//! `vcpu_config.c`): the exceptions and interrupts delegated to VS mode, and
//! the HENVCFG and HSTATEEN0 bits that follow from the guest's extensions on
//! its first run. Only `core` is used: host `cargo test` covers it; the bit
//! values are checked against the kernel's headers in `vcpu_config.rs`.

use crate::regs_logic::{cbie, Henvcfg, Hstateen0, Hvip};

/// HENVCFG bits (privileged specification, "Hypervisor Environment
/// Configuration Register"), from [`Henvcfg`].
pub(crate) mod envcfg {
    use crate::regs_logic::Henvcfg;

    pub(crate) const CBIE: u64 = Henvcfg::CBIE.mask();
    pub(crate) const CBCFE: u64 = Henvcfg::CBCFE.mask();
    pub(crate) const CBZE: u64 = Henvcfg::CBZE.mask();
    pub(crate) const ADUE: u64 = Henvcfg::ADUE.mask();
    pub(crate) const PBMTE: u64 = Henvcfg::PBMTE.mask();
    pub(crate) const STCE: u64 = Henvcfg::STCE.mask();
}

/// HSTATEEN0 bits (Smstateen), from [`Hstateen0`].
pub(crate) mod stateen0 {
    use crate::regs_logic::Hstateen0;

    pub(crate) const AIA_IMSIC: u64 = Hstateen0::IMSIC.mask();
    pub(crate) const AIA: u64 = Hstateen0::AIA.mask();
    pub(crate) const AIA_ISEL: u64 = Hstateen0::CSRIND.mask();
    pub(crate) const HSENVCFG: u64 = Hstateen0::ENVCFG.mask();
    pub(crate) const SSTATEEN0: u64 = Hstateen0::SE0.mask();
}

/// Exception codes delegated by default.
mod exc {
    pub(super) const INST_MISALIGNED: u32 = 0;
    pub(super) const INST_ILLEGAL: u32 = 2;
    pub(super) const BREAKPOINT: u32 = 3;
    pub(super) const USER_ECALL: u32 = 8;
    pub(super) const INST_PAGE_FAULT: u32 = 12;
    pub(super) const LOAD_PAGE_FAULT: u32 = 13;
    pub(super) const STORE_PAGE_FAULT: u32 = 15;
}

/// The guest traps that go straight to VS mode: misaligned fetches, illegal
/// instructions, breakpoints, U-mode ecalls and the VS-stage page faults.
pub(crate) const HEDELEG_DEFAULT: u64 = 1 << exc::INST_MISALIGNED
    | 1 << exc::INST_ILLEGAL
    | 1 << exc::BREAKPOINT
    | 1 << exc::USER_ECALL
    | 1 << exc::INST_PAGE_FAULT
    | 1 << exc::LOAD_PAGE_FAULT
    | 1 << exc::STORE_PAGE_FAULT;

/// The VS-level software, timer and external interrupts (HIDELEG has one
/// bit per interrupt, as HVIP).
pub(crate) const HIDELEG_DEFAULT: u64 =
    Hvip::VSSIP.mask() | Hvip::VSTIP.mask() | Hvip::VSEIP.mask();

/// The breakpoint bit of HEDELEG: cleared while userspace debugs the guest,
/// so that guest breakpoints exit to it.
pub(crate) const HEDELEG_BREAKPOINT: u64 = 1 << exc::BREAKPOINT;

/// HEDELEG with guest debugging on or off.
pub(crate) const fn hedeleg_for_debug(hedeleg: u64, guest_debug: bool) -> u64 {
    if guest_debug {
        hedeleg & !HEDELEG_BREAKPOINT
    } else {
        hedeleg | HEDELEG_BREAKPOINT
    }
}

/// The guest's extensions that shape HENVCFG and HSTATEEN0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GuestExts {
    pub(crate) svpbmt: bool,
    pub(crate) sstc: bool,
    pub(crate) zicbom: bool,
    pub(crate) zicboz: bool,
    pub(crate) svadu: bool,
    pub(crate) svade: bool,
    pub(crate) ssaia: bool,
    pub(crate) smstateen: bool,
}

/// The HENVCFG the guest's extensions turn on at its first run.
pub(crate) const fn henvcfg(g: GuestExts) -> Henvcfg {
    Henvcfg::zeroed()
        .with_pbmte(g.svpbmt)
        .with_stce(g.sstc)
        .with_cbie(if g.zicbom {
            cbie::INVALIDATE
        } else {
            cbie::ILLEGAL
        })
        .with_cbcfe(g.zicbom)
        .with_cbze(g.zicboz)
        // Hardware A/D updates only when the guest cannot expect the Svade
        // page faults instead.
        .with_adue(g.svadu && !g.svade)
}

/// [`henvcfg`] as the value of the CSR.
pub(crate) const fn henvcfg_bits(g: GuestExts) -> u64 {
    henvcfg(g).into_raw()
}

/// The HSTATEEN0 the guest gets at its first run, on a host with Smstateen
/// (`host_smstateen`); nothing without it.
pub(crate) const fn hstateen0(g: GuestExts, host_smstateen: bool) -> Hstateen0 {
    if !host_smstateen {
        return Hstateen0::zeroed();
    }
    Hstateen0::zeroed()
        .with_envcfg(true)
        .with_imsic(g.ssaia)
        .with_aia(g.ssaia)
        .with_csrind(g.ssaia)
        .with_se0(g.smstateen)
}

/// [`hstateen0`] as the value of the CSR.
pub(crate) const fn hstateen0_bits(g: GuestExts, host_smstateen: bool) -> u64 {
    hstateen0(g, host_smstateen).into_raw()
}

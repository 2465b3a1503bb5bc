// SPDX-License-Identifier: GPL-2.0

//! What a vCPU's hypervisor configuration is (upstream 7.3's
//! `vcpu_config.c`): the exceptions and interrupts delegated to VS mode, and
//! the HENVCFG and HSTATEEN0 bits that follow from the guest's extensions on
//! its first run. Only `core` is used: host `cargo test` covers it; the bit
//! values are checked against the kernel's headers in `vcpu_config.rs`.

/// HENVCFG bits (privileged specification, "Hypervisor Environment
/// Configuration Register").
pub(crate) mod envcfg {
    pub(crate) const CBIE: u64 = 0x3 << 4;
    pub(crate) const CBCFE: u64 = 1 << 6;
    pub(crate) const CBZE: u64 = 1 << 7;
    pub(crate) const ADUE: u64 = 1 << 61;
    pub(crate) const PBMTE: u64 = 1 << 62;
    pub(crate) const STCE: u64 = 1 << 63;
}

/// HSTATEEN0 bits (Smstateen).
pub(crate) mod stateen0 {
    pub(crate) const AIA_IMSIC: u64 = 1 << 58;
    pub(crate) const AIA: u64 = 1 << 59;
    pub(crate) const AIA_ISEL: u64 = 1 << 60;
    pub(crate) const HSENVCFG: u64 = 1 << 62;
    pub(crate) const SSTATEEN0: u64 = 1 << 63;
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

/// The VS-level software, timer and external interrupts.
pub(crate) const HIDELEG_DEFAULT: u64 = 1 << 2 | 1 << 6 | 1 << 10;

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

/// The HENVCFG bits the guest's extensions turn on at its first run.
pub(crate) const fn henvcfg_bits(g: GuestExts) -> u64 {
    let mut v = 0;
    if g.svpbmt {
        v |= envcfg::PBMTE;
    }
    if g.sstc {
        v |= envcfg::STCE;
    }
    if g.zicbom {
        v |= envcfg::CBIE | envcfg::CBCFE;
    }
    if g.zicboz {
        v |= envcfg::CBZE;
    }
    // Hardware A/D updates only when the guest cannot expect the Svade
    // page faults instead.
    if g.svadu && !g.svade {
        v |= envcfg::ADUE;
    }
    v
}

/// The HSTATEEN0 bits the guest gets at its first run, on a host with
/// Smstateen (`host_smstateen`); none without it.
pub(crate) const fn hstateen0_bits(g: GuestExts, host_smstateen: bool) -> u64 {
    if !host_smstateen {
        return 0;
    }
    let mut v = stateen0::HSENVCFG;
    if g.ssaia {
        v |= stateen0::AIA_IMSIC | stateen0::AIA | stateen0::AIA_ISEL;
    }
    if g.smstateen {
        v |= stateen0::SSTATEEN0;
    }
    v
}

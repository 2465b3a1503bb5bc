// SPDX-License-Identifier: GPL-2.0

//! The privilege-state arithmetic of an L0 hypervisor emulated from M mode,
//! as the RISC-V privileged specification (hypervisor chapter) defines the
//! hardware's: SRET executed in HS mode, and a trap taken from a virtualised
//! mode (V=1) into HS or VS mode.
//!
//! The firmware works on real `mstatus`, `hstatus` and `vsstatus` values:
//! in M mode, `sstatus` is a view of `mstatus`, so the HS-level `SIE`,
//! `SPIE` and `SPP` bits are `mstatus` bits.

/// `mstatus` / `sstatus` / `vsstatus` bits.
pub mod status {
    pub const SIE: u64 = 1 << 1;
    pub const SPIE: u64 = 1 << 5;
    pub const SPP: u64 = 1 << 8;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    pub const MPP_S: u64 = 1 << MPP_SHIFT;
    pub const GVA: u64 = 1 << 38;
    pub const MPV: u64 = 1 << 39;
}

/// `hstatus` bits.
pub mod hstatus {
    pub const GVA: u64 = 1 << 6;
    pub const SPV: u64 = 1 << 7;
    pub const SPVP: u64 = 1 << 8;
}

/// `mcause` / `scause`: the interrupt bit.
pub const INTERRUPT: u64 = 1 << 63;

fn put(word: u64, bit: u64, on: bool) -> u64 {
    if on {
        word | bit
    } else {
        word & !bit
    }
}

/// The result of SRET executed in HS mode, emulated by `mret`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sret {
    /// `mstatus` to return with: `MPP` and `MPV` give the mode SRET enters,
    /// `SIE`/`SPIE`/`SPP` are updated as SRET updates `sstatus`.
    pub mstatus: u64,
    /// `hstatus` after SRET (`SPV` cleared).
    pub hstatus: u64,
    /// Whether SRET enters a virtualised mode (VS or VU).
    pub virt: bool,
}

/// SRET in HS mode: the new privilege is `sstatus.SPP`, the new
/// virtualisation mode `hstatus.SPV`; then `hstatus.SPV = 0`,
/// `sstatus.SIE = SPIE`, `SPIE = 1`, `SPP = U`. The return address is `sepc`.
pub fn sret(mstatus: u64, hstatus: u64) -> Sret {
    let to_s = mstatus & status::SPP != 0;
    let virt = hstatus & hstatus::SPV != 0;
    let mut m = mstatus & !(status::MPP | status::MPV);
    if to_s {
        m |= status::MPP_S;
    }
    m = put(m, status::MPV, virt);
    m = put(m, status::SIE, mstatus & status::SPIE != 0);
    m |= status::SPIE;
    m &= !status::SPP;
    Sret {
        mstatus: m,
        hstatus: hstatus & !hstatus::SPV,
        virt,
    }
}

/// Where a trap taken from V=1 into M mode goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The guest's own trap: `hedeleg` delegates it to VS mode.
    Vs,
    /// The host's: HS mode.
    Hs,
}

/// The target of trap `mcause` taken from V=1, had `medeleg` been the
/// firmware's normal one: an exception that both `medeleg` and `hedeleg`
/// delegate goes to VS mode; every other one, and every interrupt that
/// reaches M mode from V=1 (the HS-level ones; VS-level interrupts are
/// delegated by the hardware itself), to HS mode.
pub fn target(mcause: u64, medeleg: u64, hedeleg: u64) -> Target {
    if mcause & INTERRUPT != 0 {
        return Target::Hs;
    }
    let code = mcause & 0x3f;
    if (medeleg & hedeleg) >> code & 1 != 0 {
        Target::Vs
    } else {
        Target::Hs
    }
}

/// A trap from V=1 into HS mode, as the hardware takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToHs {
    /// `mstatus` to return with (`MPP = S`, `MPV = 0`, `sstatus.SPP/SPIE/SIE`
    /// updated).
    pub mstatus: u64,
    /// `hstatus` with `SPV = 1`, `SPVP` = the nominal privilege before the
    /// trap, `GVA` as the trap wrote `mstatus.GVA` (0 for an interrupt).
    pub hstatus: u64,
    /// The handler address, from `stvec`.
    pub pc: u64,
}

/// The trap handler address `tvec` gives for `cause`: its base, plus
/// `4 * code` for an interrupt in vectored mode.
pub fn vector(tvec: u64, cause: u64) -> u64 {
    let base = tvec & !3;
    if tvec & 3 == 1 && cause & INTERRUPT != 0 {
        base.wrapping_add(4 * (cause & 0x3f))
    } else {
        base
    }
}

/// Trap `mcause`, taken into M mode from V=1 with `mstatus`, redirected to
/// HS mode. `scause`, `stval`, `sepc`, `htval` and `htinst` take `mcause`,
/// `mtval`, `mepc`, `mtval2` and `mtinst` unchanged.
pub fn to_hs(mstatus: u64, hstatus: u64, mcause: u64, stvec: u64) -> ToHs {
    let from_vs = mstatus & status::MPP == status::MPP_S;
    let gva = mcause & INTERRUPT == 0 && mstatus & status::GVA != 0;
    let mut h = hstatus | hstatus::SPV;
    h = put(h, hstatus::SPVP, from_vs);
    h = put(h, hstatus::GVA, gva);
    let mut m = mstatus & !(status::MPP | status::MPV | status::GVA);
    m |= status::MPP_S;
    m = put(m, status::SPP, from_vs);
    m = put(m, status::SPIE, mstatus & status::SIE != 0);
    m &= !status::SIE;
    ToHs {
        mstatus: m,
        hstatus: h,
        pc: vector(stvec, mcause),
    }
}

/// A trap from V=1 into VS mode, as the hardware takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToVs {
    /// `mstatus` to return with: `MPP = S`, `MPV = 1` (VS mode).
    pub mstatus: u64,
    /// `vsstatus` with `SPP`/`SPIE`/`SIE` updated.
    pub vsstatus: u64,
    /// The handler address, from `vstvec`.
    pub pc: u64,
}

/// Exception `mcause`, taken into M mode from V=1, redirected to VS mode.
/// `vscause`, `vstval` and `vsepc` take `mcause`, `mtval` and `mepc`.
pub fn to_vs(mstatus: u64, vsstatus: u64, mcause: u64, vstvec: u64) -> ToVs {
    let from_vs = mstatus & status::MPP == status::MPP_S;
    let mut v = put(vsstatus, status::SPP, from_vs);
    v = put(v, status::SPIE, vsstatus & status::SIE != 0);
    v &= !status::SIE;
    let m = (mstatus & !(status::MPP | status::GVA)) | status::MPP_S | status::MPV;
    ToVs {
        mstatus: m,
        vsstatus: v,
        pc: vector(vstvec, mcause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use status::*;

    #[test]
    fn sret_into_vs() {
        // SPP = S, SPIE = 1, SIE = 0, hstatus.SPV = 1: VS mode, SIE back on.
        let r = sret(SPP | SPIE, hstatus::SPV | hstatus::SPVP);
        assert!(r.virt);
        assert_eq!(r.mstatus & MPP, MPP_S);
        assert_ne!(r.mstatus & MPV, 0);
        assert_ne!(r.mstatus & SIE, 0);
        assert_ne!(r.mstatus & SPIE, 0);
        assert_eq!(r.mstatus & SPP, 0);
        assert_eq!(r.hstatus, hstatus::SPVP);
    }

    #[test]
    fn sret_into_vu_and_u() {
        let r = sret(0, hstatus::SPV);
        assert!(r.virt);
        assert_eq!(r.mstatus & MPP, 0);
        assert_ne!(r.mstatus & MPV, 0);
        assert_eq!(r.mstatus & SIE, 0);
        let r = sret(SIE, 0);
        assert!(!r.virt);
        assert_eq!(r.mstatus & (MPP | MPV | SIE), 0);
    }

    #[test]
    fn targets() {
        let medeleg = 0xb1ff | (0xf << 20) | (1 << 10);
        // KVM's hedeleg: misaligned fetch, breakpoint, U ecall, page faults.
        let hedeleg = 1 | 1 << 3 | 1 << 8 | 1 << 12 | 1 << 13 | 1 << 15;
        assert_eq!(target(12, medeleg, hedeleg), Target::Vs);
        assert_eq!(target(8, medeleg, hedeleg), Target::Vs);
        assert_eq!(target(10, medeleg, hedeleg), Target::Hs);
        assert_eq!(target(2, medeleg, hedeleg), Target::Hs);
        assert_eq!(target(21, medeleg, hedeleg), Target::Hs);
        assert_eq!(target(INTERRUPT | 5, medeleg, u64::MAX), Target::Hs);
        // Not delegated by the firmware: never to VS.
        assert_eq!(target(12, 0, hedeleg), Target::Hs);
    }

    #[test]
    fn guest_page_fault_from_vs_to_hs() {
        // From VS with SIE (HS) = 0 and GVA set by the trap.
        let m = MPP_S | MPV | GVA | SPIE;
        let r = to_hs(m, hstatus::SPV, 21, 0x8000_1000);
        assert_eq!(r.mstatus & MPP, MPP_S);
        assert_eq!(r.mstatus & (MPV | GVA | SIE | SPIE), 0);
        assert_ne!(r.mstatus & SPP, 0);
        assert_eq!(r.hstatus, hstatus::SPV | hstatus::SPVP | hstatus::GVA);
        assert_eq!(r.pc, 0x8000_1000);
    }

    #[test]
    fn interrupt_from_vu_to_hs_vectored() {
        let m = MPV | GVA | SIE | SPP;
        let r = to_hs(m, hstatus::SPVP | hstatus::GVA, INTERRUPT | 5, 0x8000_1001);
        assert_eq!(r.hstatus, hstatus::SPV);
        assert_eq!(r.mstatus & (SPP | SIE | MPV), 0);
        assert_ne!(r.mstatus & SPIE, 0);
        assert_eq!(r.pc, 0x8000_1000 + 20);
    }

    #[test]
    fn page_fault_to_vs() {
        let r = to_vs(MPV, SIE | SPP, 13, 0x1000);
        assert_eq!(r.vsstatus, SPIE);
        assert_eq!(r.mstatus & (MPP | MPV), MPP_S | MPV);
        assert_eq!(r.pc, 0x1000);
        let r = to_vs(MPP_S | MPV, 0, 8, 0x2001);
        assert_eq!(r.vsstatus, SPP);
        assert_eq!(r.pc, 0x2000);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `aia_imsic.rs` (upstream `aia_imsic.c`): the register
//! file of an IMSIC interrupt file as KVM keeps it in memory (a "memory
//! resident interrupt file", the software file of a vCPU that has no guest
//! interrupt file), the `iselect` numbers of its registers, how a guest or
//! userspace read-modify-write of one changes it, and its top pending
//! interrupt (`topei`). Only `core` is used: host `cargo test` covers it.
//!
//! Layout ("The RISC-V Advanced Interrupt Architecture", IMSIC chapter):
//! `eidelivery` (0x70), `eithreshold` (0x72), `eip0..eip63` (0x80..0xbf),
//! `eie0..eie63` (0xc0..0xff). Rust on RISC-V Linux is 64-bit only: the odd
//! `eipN`/`eieN` do not exist, and the even one `2k` holds the 64 bits of
//! interrupt identities `64k..64k+63`.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `iselect` of `eidelivery`.
pub(crate) const EIDELIVERY: usize = 0x70;
/// `iselect` of `eithreshold`.
pub(crate) const EITHRESHOLD: usize = 0x72;
/// `iselect` of `eip0` and `eip63`.
pub(crate) const EIP0: usize = 0x80;
pub(crate) const EIP63: usize = 0xbf;
/// `iselect` of `eie0` and `eie63`.
pub(crate) const EIE0: usize = 0xc0;
pub(crate) const EIE63: usize = 0xff;
/// Interrupt identities an IMSIC file can have, at most (`IMSIC_MAX_ID`).
pub(crate) const MAX_ID: u32 = 2048;
/// 64-bit words of `eip` (and of `eie`), at most.
pub(crate) const MAX_EIX: usize = 32;
/// Where the identity sits in a `topei` value (also the priority, bits 10:0).
pub(crate) const TOPEI_ID_SHIFT: u32 = 16;
/// Offsets of `seteipnum_le` and `seteipnum_be` in an interrupt file's page.
pub(crate) const SETIPNUM_LE: u32 = 0x00;
pub(crate) const SETIPNUM_BE: u32 = 0x04;

/// A u32 count or index as a `usize`.
const fn idx(x: u32) -> usize {
    // CAST: u32 to usize, lossless on 64-bit.
    x as usize
}

/// 64-bit words of `eip` a file of `nr_msis` identities (identity 0
/// included) has (`BITS_TO_U64()`).
pub(crate) const fn nr_eix(nr_msis: u32) -> u32 {
    nr_msis.div_ceil(64)
}

/// Why an `iselect` names no register of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadIsel {
    /// Not an IMSIC register at all (`ENOENT`: userspace handles it).
    NoEnt,
    /// An IMSIC register this file does not have (`EINVAL`).
    Inval,
}

/// A register of an interrupt file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    /// `eidelivery`.
    Delivery,
    /// `eithreshold`.
    Threshold,
    /// `eip` word `k` (`eip{2k}`).
    Eip(usize),
    /// `eie` word `k` (`eie{2k}`).
    Eie(usize),
}

impl Reg {
    /// The register `isel` names in a file of `nr_eix` words
    /// (`imsic_mrif_isel_check()`).
    pub(crate) fn decode(nr_eix: u32, isel: usize) -> Result<Reg, BadIsel> {
        let (reg, num) = match isel {
            EIDELIVERY => (Reg::Delivery, 0),
            EITHRESHOLD => (Reg::Threshold, 0),
            EIP0..=EIP63 => (Reg::Eip((isel - EIP0) / 2), isel - EIP0),
            EIE0..=EIE63 => (Reg::Eie((isel - EIE0) / 2), isel - EIE0),
            _ => return Err(BadIsel::NoEnt),
        };
        if num & 1 != 0 || num / 2 >= idx(nr_eix) {
            return Err(BadIsel::Inval);
        }
        Ok(reg)
    }

    /// The `iselect` of the register.
    pub(crate) const fn isel(self) -> usize {
        match self {
            Reg::Delivery => EIDELIVERY,
            Reg::Threshold => EITHRESHOLD,
            Reg::Eip(k) => EIP0 + 2 * k,
            Reg::Eie(k) => EIE0 + 2 * k,
        }
    }

    /// The bits of the register a write may change: `eidelivery` bit 0,
    /// `eithreshold` an identity, and every bit of `eip`/`eie` except that
    /// of identity 0.
    pub(crate) const fn writable(self) -> u64 {
        match self {
            Reg::Delivery => 1,
            // CAST: u32 to u64, widening.
            Reg::Threshold => MAX_ID as u64 - 1,
            Reg::Eip(0) | Reg::Eie(0) => !1,
            Reg::Eip(_) | Reg::Eie(_) => u64::MAX,
        }
    }
}

/// The registers of an interrupt file, as plain values: what is read out of
/// a file before it is cleared, and written into the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Regs {
    pub(crate) eidelivery: u64,
    pub(crate) eithreshold: u64,
    pub(crate) eip: [u64; MAX_EIX],
    pub(crate) eie: [u64; MAX_EIX],
}

impl Default for Regs {
    fn default() -> Self {
        Regs {
            eidelivery: 0,
            eithreshold: 0,
            eip: [0; MAX_EIX],
            eie: [0; MAX_EIX],
        }
    }
}

/// One word pair of a software file.
#[derive(Default)]
struct Eix {
    eip: AtomicU64,
    eie: AtomicU64,
}

/// A vCPU's software interrupt file (`struct imsic_mrif`): the registers
/// of its IMSIC while it has no guest interrupt file. The guest's accesses,
/// userspace's attributes and MSI injection from any CPU reach it at once,
/// so every word is atomic (`imsic_mrif_atomic_*()`).
#[derive(Default)]
pub(crate) struct Mrif {
    eix: [Eix; MAX_EIX],
    eithreshold: AtomicU64,
    eidelivery: AtomicU64,
}

/// Atomically replaces the bits of `mask` in `w` with those of `new`: the
/// old value (`imsic_mrif_atomic_rmw()`).
fn rmw_word(w: &AtomicU64, new: u64, mask: u64) -> u64 {
    let new = new & mask;
    let mut old = w.load(Relaxed);
    loop {
        match w.compare_exchange_weak(old, (old & !mask) | new, Relaxed, Relaxed) {
            Ok(_) => return old,
            Err(now) => old = now,
        }
    }
}

impl Mrif {
    /// The word of register `r`; `None` beyond the file.
    fn word(&self, r: Reg) -> Option<&AtomicU64> {
        Some(match r {
            Reg::Delivery => &self.eidelivery,
            Reg::Threshold => &self.eithreshold,
            Reg::Eip(k) => &self.eix.get(k)?.eip,
            Reg::Eie(k) => &self.eix.get(k)?.eie,
        })
    }

    /// Reads register `isel` and replaces the bits of `wr_mask` with those
    /// of `new`, as far as the register lets them be written: its old
    /// value (`imsic_mrif_rmw()`).
    pub(crate) fn rmw(
        &self,
        nr_eix: u32,
        isel: usize,
        new: u64,
        wr_mask: u64,
    ) -> Result<u64, BadIsel> {
        let r = Reg::decode(nr_eix, isel)?;
        let w = self.word(r).ok_or(BadIsel::Inval)?;
        Ok(rmw_word(w, new, wr_mask & r.writable()))
    }

    /// `eidelivery` is on.
    pub(crate) fn delivery_on(&self) -> bool {
        self.eidelivery.load(Relaxed) != 0
    }

    /// The highest-priority (lowest) identity that is pending and enabled
    /// and below `eithreshold` (when not 0) and `nr_msis`, as `topei`
    /// (identity in bits 26:16 and 10:0), or 0 (`imsic_mrif_topei()`).
    pub(crate) fn topei(&self, nr_eix: u32, nr_msis: u32) -> u32 {
        let th = self.eithreshold.load(Relaxed);
        let max = if th != 0 && th <= u64::from(nr_msis) {
            // CAST: at most `nr_msis`, a u32.
            th as u32
        } else {
            nr_msis
        };
        for (ei, x) in (0u32..).zip(self.eix.iter()).take(idx(nr_eix)) {
            let pend = x.eie.load(Relaxed) & x.eip.load(Relaxed);
            if pend == 0 {
                continue;
            }
            let imin = ei * 64;
            let imax = (imin + 64).min(max);
            for i in imin.max(1)..imax {
                if pend & (1 << (i - imin)) != 0 {
                    return (i << TOPEI_ID_SHIFT) | i;
                }
            }
        }
        0
    }

    /// Makes identity `id` (below [`MAX_ID`]) pending.
    pub(crate) fn set_pending(&self, id: u32) {
        if let Some(x) = self.eix.get(idx(id / 64)) {
            x.eip.fetch_or(1 << (id % 64), Relaxed);
        }
    }

    /// Makes identity `id` (below [`MAX_ID`]) not pending.
    pub(crate) fn clear_pending(&self, id: u32) {
        if let Some(x) = self.eix.get(idx(id / 64)) {
            x.eip.fetch_and(!(1 << (id % 64)), Relaxed);
        }
    }

    /// Every register (`memcpy()` out of the software file).
    pub(crate) fn snapshot(&self) -> Regs {
        let mut r = Regs {
            eidelivery: self.eidelivery.load(Relaxed),
            eithreshold: self.eithreshold.load(Relaxed),
            ..Regs::default()
        };
        for (k, x) in self.eix.iter().enumerate() {
            r.eip[k] = x.eip.load(Relaxed);
            r.eie[k] = x.eie.load(Relaxed);
        }
        r
    }

    /// Every register 0.
    pub(crate) fn clear(&self) {
        self.eidelivery.store(0, Relaxed);
        self.eithreshold.store(0, Relaxed);
        for x in &self.eix {
            x.eip.store(0, Relaxed);
            x.eie.store(0, Relaxed);
        }
    }

    /// Takes over the registers of a file the vCPU leaves: `eidelivery` and
    /// `eithreshold` as they were there, the first `nr_eix` words of
    /// `eip`/`eie` ORed into this file's, where MSIs may have arrived
    /// meanwhile (`imsic_swfile_update()`).
    pub(crate) fn merge(&self, nr_eix: u32, r: &Regs) {
        self.eidelivery.store(r.eidelivery, Relaxed);
        self.eithreshold.store(r.eithreshold, Relaxed);
        for (k, x) in self.eix.iter().enumerate().take(idx(nr_eix)) {
            x.eip.fetch_or(r.eip[k], Relaxed);
            x.eie.fetch_or(r.eie[k], Relaxed);
        }
    }
}

/// The MSI `data` written at `offset` of an interrupt file's page, as an
/// identity (`seteipnum_be` holds it byte-swapped); `None` at another
/// offset, or for identity 0.
pub(crate) fn setipnum_id(offset: u32, data: u32) -> Option<u32> {
    match offset {
        SETIPNUM_LE if data != 0 => Some(data),
        SETIPNUM_BE if data != 0 => Some(data.swap_bytes()),
        _ => None,
    }
}

/// The vCPU index of an IMSIC device attribute and its `iselect`
/// (`KVM_DEV_RISCV_AIA_IMSIC_GET_VCPU()`, `_GET_ISEL()`): the index is the
/// bits above the 12 of `iselect`, kept to 32 bits as upstream does.
pub(crate) const fn attr_vcpu_isel(attr: u64) -> (u32, usize) {
    // CAST: truncation to u32, as the C `u32 vcpu_id` does; 12 bits.
    ((attr >> 12) as u32, (attr & 0xfff) as usize)
}

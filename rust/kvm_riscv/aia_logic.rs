// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of AIA CSR virtualization (RISC-V Advanced Interrupt
//! Architecture, "Interrupts for Virtual Machines (VS Level)"): the HVICTL
//! value KVM keeps while no VS-level interrupt is injected through it, and
//! the packing of the 8-bit interrupt priorities (IPRIO) of the local
//! interrupts into HVIPRIO1/HVIPRIO2. Only `core` is used: host `cargo test`
//! covers it; `aia.rs` checks the constants against the kernel's headers.
//!
//! Rust on RISC-V Linux is 64-bit only: only the RV64 layout is here (no
//! HVIPRIO1H/HVIPRIO2H, and the odd IPRIO array registers do not exist).

use crate::regs_logic::{u64_to_xlen, Hvictl};

/// HVICTL.IID (bits 27:16) and its shift, from [`Hvictl`].
pub(crate) const HVICTL_IID: usize = u64_to_xlen(Hvictl::IID.mask());
pub(crate) const HVICTL_IID_SHIFT: u32 = Hvictl::IID.shift();
/// The supervisor external interrupt, 9: with IPRIO 0 in HVICTL it means
/// "no interrupt".
pub(crate) const IRQ_S_EXT: usize = 9;
/// [`IRQ_S_EXT`] as HVICTL.IID holds it.
const IID_S_EXT: u16 = 9;
// CAST: u16 to usize, widening.
const _: () = assert!(IID_S_EXT as usize == IRQ_S_EXT);

/// HVICTL: IID 9, IPRIO 0, and IPRIOM... as 0; bit 0 (IPRIO bit 0) set when
/// a VS external interrupt is pending, as upstream keeps it.
pub(crate) const fn hvictl(ext_irq_pending: bool) -> Hvictl {
    Hvictl::zeroed()
        .with_iid(IID_S_EXT)
        // CAST: a bool is 0 or 1.
        .with_iprio(ext_irq_pending as u8)
}

/// [`hvictl`] as the value of the CSR.
pub(crate) const fn hvictl_value(ext_irq_pending: bool) -> usize {
    u64_to_xlen(hvictl(ext_irq_pending).into_raw())
}

/// `ISELECT` numbers of the IPRIO array (iprio0..iprio15) and of the IMSIC
/// registers, and the mask of VSISELECT that KVM looks at.
pub(crate) const ISELECT_IPRIO0: usize = 0x30;
pub(crate) const ISELECT_IPRIO15: usize = 0x3f;
pub(crate) const ISELECT_MASK: usize = 0x1ff;
pub(crate) const IMSIC_FIRST: usize = 0x70;
pub(crate) const IMSIC_LAST: usize = 0xff;

/// Where the 8-bit priority of local interrupt `irq` sits in the 128 bits
/// of HVIPRIO1 (bits 0..64) and HVIPRIO2 (64..128); `None`: its priority is
/// read-only zero (the external interrupts, and the interrupts AIA does not
/// give a byte).
pub(crate) const fn iprio_bitpos(irq: usize) -> Option<usize> {
    Some(match irq {
        0 => 0,
        1 => 8,
        4 => 16,
        5 => 24,
        8 => 32,
        13 => 40,
        14 => 48,
        15 => 56,
        16..=23 => 64 + (irq - 16) * 8,
        _ => return None,
    })
}

/// HVIPRIO1 and HVIPRIO2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hviprio(pub(crate) [u64; 2]);

impl Hviprio {
    /// The priority of `irq`.
    pub(crate) fn get(&self, irq: usize) -> u8 {
        match iprio_bitpos(irq) {
            // CAST: the byte at `pos`, cut out on purpose.
            Some(pos) => (self.0[pos / 64] >> (pos % 64)) as u8,
            None => 0,
        }
    }

    /// Sets the priority of `irq`, if it has one.
    pub(crate) fn set(&mut self, irq: usize, prio: u8) {
        if let Some(pos) = iprio_bitpos(irq) {
            let w = &mut self.0[pos / 64];
            *w = (*w & !(0xff << (pos % 64))) | u64::from(prio) << (pos % 64);
        }
    }
}

/// A guest access to IPRIO array register `isel` (iprio0..iprio15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IprioAccess {
    /// RV64 has only the even registers: an odd one is an illegal access.
    Illegal,
    /// The old value of the register, and HVIPRIO after the write.
    Done { old: u64, new: Hviprio },
}

/// Reads and writes IPRIO array register `isel`: it packs the priorities of
/// 8 consecutive interrupts, one byte each, from `(isel - 0x30) * 4` up.
/// The bits set in `wr_mask` take `new_val`'s.
pub(crate) fn rmw_iprio(hv: Hviprio, isel: usize, new_val: u64, wr_mask: u64) -> IprioAccess {
    if isel & 1 != 0 {
        return IprioAccess::Illegal;
    }
    let first = (isel - ISELECT_IPRIO0) * 4;
    let old = (0..8).fold(0u64, |v, i| v | u64::from(hv.get(first + i)) << (8 * i));
    let mut new = hv;
    if wr_mask != 0 {
        let val = (old & !wr_mask) | (new_val & wr_mask);
        for i in 0..8 {
            // CAST: byte i of the register, cut out on purpose.
            new.set(first + i, (val >> (8 * i)) as u8);
        }
    }
    IprioAccess::Done { old, new }
}

/// What a guest access through VSISELECT/VSIREG goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ireg {
    Iprio(usize),
    Imsic(usize),
    /// Anything else: userspace emulates it.
    User,
}

/// Classifies VSISELECT; the IMSIC registers only when the VM has an
/// in-kernel AIA (`imsic`).
pub(crate) fn classify_isel(vsiselect: usize, imsic: bool) -> Ireg {
    let isel = vsiselect & ISELECT_MASK;
    match isel {
        ISELECT_IPRIO0..=ISELECT_IPRIO15 => Ireg::Iprio(isel),
        IMSIC_FIRST..=IMSIC_LAST if imsic => Ireg::Imsic(isel),
        _ => Ireg::User,
    }
}

/// The HGEI lines a hart can use: all but line 0 of the `nr_hgei` HGEIE
/// bits that stick, and no more than its IMSIC guest files.
pub(crate) fn usable_hgei(hgeie_ones: usize, guest_files: Option<usize>) -> usize {
    // CAST: at most 64.
    let bits = (usize::BITS - hgeie_ones.leading_zeros()) as usize;
    let lines = bits.saturating_sub(1);
    match guest_files {
        Some(files) => lines.min(files),
        None => 0,
    }
}

/// The free-line bitmap of `nr` usable lines: bits 1..=nr.
pub(crate) fn hgei_free_bitmap(nr: usize) -> usize {
    if nr == 0 {
        0
    } else {
        // CAST: 64.
        (usize::MAX >> (usize::BITS as usize - 1 - nr)) & !1
    }
}

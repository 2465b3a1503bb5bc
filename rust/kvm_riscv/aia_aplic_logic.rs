// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `aia_aplic.rs` (upstream `aia_aplic.c`): the state of
//! one interrupt source of the emulated APLIC (its `sourcecfg`, pending,
//! enabled and input bits, its `target`) and how each wire level, register
//! write and delivery changes it, and which register an MMIO offset names.
//! Only `core` is used: host `cargo test` covers it.
//!
//! The emulated APLIC is an MSI-mode domain ("The RISC-V Advanced Interrupt
//! Architecture", APLIC chapter): a source that is enabled and pending is
//! delivered as an MSI to the IMSIC that its `target` names, and stops
//! pending. Delegation to a child domain does not exist here: writing
//! `sourcecfg` with D set makes the source inactive, as upstream.

/// Register offsets (`include/linux/irqchip/riscv-aplic.h`).
pub(crate) mod reg {
    /// `domaincfg`.
    pub(crate) const DOMAINCFG: u64 = 0x0000;
    /// `sourcecfg[1]`; `sourcecfg[i]` is at `SOURCECFG + 4 * (i - 1)`.
    pub(crate) const SOURCECFG: u64 = 0x0004;
    /// `setip[0]`.
    pub(crate) const SETIP: u64 = 0x1c00;
    /// `setipnum`.
    pub(crate) const SETIPNUM: u64 = 0x1cdc;
    /// `in_clrip[0]`.
    pub(crate) const CLRIP: u64 = 0x1d00;
    /// `clripnum`.
    pub(crate) const CLRIPNUM: u64 = 0x1ddc;
    /// `setie[0]`.
    pub(crate) const SETIE: u64 = 0x1e00;
    /// `setienum`.
    pub(crate) const SETIENUM: u64 = 0x1edc;
    /// `clrie[0]`.
    pub(crate) const CLRIE: u64 = 0x1f00;
    /// `clrienum`.
    pub(crate) const CLRIENUM: u64 = 0x1fdc;
    /// `setipnum_le`.
    pub(crate) const SETIPNUM_LE: u64 = 0x2000;
    /// `setipnum_be`.
    pub(crate) const SETIPNUM_BE: u64 = 0x2004;
    /// `genmsi`.
    pub(crate) const GENMSI: u64 = 0x3000;
    /// `target[1]`; `target[i]` is at `TARGET + 4 * (i - 1)`.
    pub(crate) const TARGET: u64 = 0x3004;
}

/// `domaincfg`: the bits that read as 1 (bit 31, "0x80"), IE, DM (MSI
/// delivery mode), BE.
pub(crate) mod domaincfg {
    /// Bits 31:24 read as 0x80.
    pub(crate) const RDONLY: u32 = 0x8000_0000;
    /// Interrupt enable: the only writable bit.
    pub(crate) const IE: u32 = 1 << 8;
    /// Delivery mode: MSI (always, here).
    pub(crate) const DM: u32 = 1 << 2;
}

/// `sourcecfg`: D (delegate) and the source mode.
pub(crate) mod sourcecfg {
    /// Delegate.
    pub(crate) const D: u32 = 1 << 10;
    /// The source mode field.
    pub(crate) const SM_MASK: u32 = 0x7;
}

/// `target` in MSI mode: hart index (bits 31:18), guest index (17:12),
/// EIID (10:0).
pub(crate) mod target {
    /// The hart index's shift.
    pub(crate) const HART_SHIFT: u32 = 18;
    /// The hart index's width as a mask.
    pub(crate) const HART_MASK: u32 = 0x3fff;
    /// The guest index's shift.
    pub(crate) const GUEST_SHIFT: u32 = 12;
    /// The guest index's width as a mask.
    pub(crate) const GUEST_MASK: u32 = 0x3f;
    /// The external interrupt identity.
    pub(crate) const EIID_MASK: u32 = 0x7ff;
    /// The bits a write keeps.
    pub(crate) const WRITABLE: u32 =
        EIID_MASK | (HART_MASK << HART_SHIFT) | (GUEST_MASK << GUEST_SHIFT);
}

/// A source mode (`sourcecfg.SM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 0: inactive; the reserved modes 2 and 3 behave the same.
    Inactive,
    /// 1: detached from its wire: only software sets it pending.
    Detached,
    /// 4: edge, rising.
    EdgeRise,
    /// 5: edge, falling.
    EdgeFall,
    /// 6: level, high.
    LevelHigh,
    /// 7: level, low.
    LevelLow,
    /// 2, 3: reserved.
    Reserved,
}

impl Mode {
    /// The mode of a `sourcecfg` value.
    pub(crate) const fn of(cfg: u32) -> Mode {
        match cfg & sourcecfg::SM_MASK {
            0 => Mode::Inactive,
            1 => Mode::Detached,
            4 => Mode::EdgeRise,
            5 => Mode::EdgeFall,
            6 => Mode::LevelHigh,
            7 => Mode::LevelLow,
            _ => Mode::Reserved,
        }
    }

    /// The wire is active low.
    const fn inverted(self) -> bool {
        matches!(self, Mode::LevelLow | Mode::EdgeFall)
    }
}

/// The state bits of a source (upstream's `APLIC_IRQ_STATE_*`).
const PENDING: u32 = 1 << 0;
const ENABLED: u32 = 1 << 1;
const INPUT: u32 = 1 << 8;

/// One interrupt source (`struct aplic_irq`, without its lock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Source {
    sourcecfg: u32,
    state: u32,
    target: u32,
}

impl Source {
    /// `sourcecfg`.
    pub(crate) const fn sourcecfg(&self) -> u32 {
        self.sourcecfg
    }

    /// `target`.
    pub(crate) const fn target(&self) -> u32 {
        self.target
    }

    /// A write of `sourcecfg`: with D set the source becomes inactive (no
    /// child domain), else only the mode is kept.
    pub(crate) fn write_sourcecfg(&mut self, v: u32) {
        self.sourcecfg = if v & sourcecfg::D != 0 {
            0
        } else {
            v & sourcecfg::SM_MASK
        };
    }

    /// A write of `target`: hart index, guest index and EIID.
    pub(crate) fn write_target(&mut self, v: u32) {
        self.target = v & target::WRITABLE;
    }

    /// The pending bit.
    pub(crate) const fn pending(&self) -> bool {
        self.state & PENDING != 0
    }

    /// The enable bit.
    pub(crate) const fn enabled(&self) -> bool {
        self.state & ENABLED != 0
    }

    /// The rectified input (`in_clrip`): the wire's level, inverted for an
    /// active-low mode; 0 when inactive or delegated.
    pub(crate) const fn input(&self) -> bool {
        if self.sourcecfg & sourcecfg::D != 0 {
            return false;
        }
        let mode = Mode::of(self.sourcecfg);
        if matches!(mode, Mode::Inactive) {
            return false;
        }
        (self.state & INPUT != 0) != mode.inverted()
    }

    /// Software sets or clears the pending bit (`setip`, `setipnum`,
    /// `in_clrip`, `clripnum`): ignored while inactive; in a level mode
    /// only set while the rectified input is high.
    pub(crate) fn write_pending(&mut self, pending: bool) {
        let mode = Mode::of(self.sourcecfg);
        if matches!(mode, Mode::Inactive) {
            return;
        }
        if pending && matches!(mode, Mode::LevelHigh | Mode::LevelLow) {
            let wire = self.state & INPUT != 0;
            if (wire && mode == Mode::LevelLow) || (!wire && mode == Mode::LevelHigh) {
                return;
            }
        }
        if pending {
            self.state |= PENDING;
        } else {
            self.state &= !PENDING;
        }
    }

    /// Software sets or clears the enable bit (`setie`, `setienum`,
    /// `clrie`, `clrienum`).
    pub(crate) fn write_enabled(&mut self, enabled: bool) {
        if enabled {
            self.state |= ENABLED;
        } else {
            self.state &= !ENABLED;
        }
    }

    /// If enabled and pending, the source stops pending and its interrupt
    /// goes out: the `target` to deliver it to.
    pub(crate) fn deliver(&mut self) -> Option<u32> {
        if self.state & (PENDING | ENABLED) == PENDING | ENABLED {
            self.state &= !PENDING;
            Some(self.target)
        } else {
            None
        }
    }

    /// The wire goes to `level` (`kvm_riscv_aia_aplic_inject()`): an edge
    /// of the mode's direction, or the active level, sets the pending bit;
    /// then, if the domain's interrupts are enabled (`ie`), delivery as in
    /// [`Source::deliver`]. Nothing while delegated.
    pub(crate) fn set_wire(&mut self, level: bool, ie: bool) -> Option<u32> {
        if self.sourcecfg & sourcecfg::D != 0 {
            return None;
        }
        let wire = self.state & INPUT != 0;
        let set = match Mode::of(self.sourcecfg) {
            Mode::EdgeRise => level && !wire,
            Mode::EdgeFall => !level && wire,
            Mode::LevelHigh => level,
            Mode::LevelLow => !level,
            _ => false,
        };
        if set {
            self.state |= PENDING;
        }
        if level {
            self.state |= INPUT;
        } else {
            self.state &= !INPUT;
        }
        if ie {
            self.deliver()
        } else {
            None
        }
    }
}

/// Where an MSI goes, from a `target` or `genmsi` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Msi {
    /// The hart index.
    pub(crate) hart: u32,
    /// The guest index.
    pub(crate) guest: u32,
    /// The external interrupt identity.
    pub(crate) eiid: u32,
}

impl Msi {
    /// The MSI a source's `target` names (`aplic_inject_msi()`).
    pub(crate) const fn of_target(t: u32) -> Msi {
        Msi {
            hart: (t >> target::HART_SHIFT) & target::HART_MASK,
            guest: (t >> target::GUEST_SHIFT) & target::GUEST_MASK,
            eiid: t & target::EIID_MASK,
        }
    }

    /// The MSI a `genmsi` write sends: to guest 0 of the hart (upstream
    /// does not mask the hart index: a 32-bit value shifted by 18 has 14
    /// bits).
    pub(crate) const fn of_genmsi(v: u32) -> Msi {
        Msi {
            hart: v >> target::HART_SHIFT,
            guest: 0,
            eiid: v & target::EIID_MASK,
        }
    }
}

/// What `genmsi` keeps of a write: all but the guest index.
pub(crate) const fn genmsi_value(v: u32) -> u32 {
    v & !(target::GUEST_MASK << target::GUEST_SHIFT)
}

/// The register at an offset of the APLIC (`aplic_mmio_read_offset()`,
/// `aplic_mmio_write_offset()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    /// `domaincfg`.
    Domaincfg,
    /// `sourcecfg[i]`, `i` from 1.
    Sourcecfg(u32),
    /// `setip[w]`.
    Setip(u32),
    /// `setipnum`.
    Setipnum,
    /// `in_clrip[w]`.
    InClrip(u32),
    /// `clripnum`.
    Clripnum,
    /// `setie[w]`.
    Setie(u32),
    /// `setienum`.
    Setienum,
    /// `clrie[w]`.
    Clrie(u32),
    /// `clrienum`.
    Clrienum,
    /// `setipnum_le`.
    SetipnumLe,
    /// `setipnum_be`.
    SetipnumBe,
    /// `genmsi`.
    Genmsi,
    /// `target[i]`, `i` from 1.
    Target(u32),
}

/// Why an offset names no register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadOffset {
    /// Not 4-byte aligned: `EOPNOTSUPP`.
    Misaligned,
    /// Nothing there: `ENODEV`.
    Nothing,
}

/// The register at `off` of an APLIC of `nr_irqs` sources (source 0
/// included, which does not exist) in `nr_words` 32-bit words.
pub(crate) fn decode(off: u64, nr_irqs: u32, nr_words: u32) -> Result<Reg, BadOffset> {
    if off & 3 != 0 {
        return Err(BadOffset::Misaligned);
    }
    let srcs = u64::from(nr_irqs.saturating_sub(1)) * 4;
    let words = u64::from(nr_words) * 4;
    // CAST: the index of an offset within a bank of at most 4 KiB.
    let idx = |base: u64| ((off - base) >> 2) as u32;
    let within = |base: u64, len: u64| off >= base && off < base + len;
    Ok(match off {
        reg::DOMAINCFG => Reg::Domaincfg,
        _ if within(reg::SOURCECFG, srcs) => Reg::Sourcecfg(idx(reg::SOURCECFG) + 1),
        _ if within(reg::SETIP, words) => Reg::Setip(idx(reg::SETIP)),
        reg::SETIPNUM => Reg::Setipnum,
        _ if within(reg::CLRIP, words) => Reg::InClrip(idx(reg::CLRIP)),
        reg::CLRIPNUM => Reg::Clripnum,
        _ if within(reg::SETIE, words) => Reg::Setie(idx(reg::SETIE)),
        reg::SETIENUM => Reg::Setienum,
        _ if within(reg::CLRIE, words) => Reg::Clrie(idx(reg::CLRIE)),
        reg::CLRIENUM => Reg::Clrienum,
        reg::SETIPNUM_LE => Reg::SetipnumLe,
        reg::SETIPNUM_BE => Reg::SetipnumBe,
        reg::GENMSI => Reg::Genmsi,
        _ if within(reg::TARGET, srcs) => Reg::Target(idx(reg::TARGET) + 1),
        _ => return Err(BadOffset::Nothing),
    })
}

// SPDX-License-Identifier: GPL-2.0

//! Nested HFENCE entries (feature "Synchronize HFENCE"), for XLEN 64.
//!
//! An entry is four XLEN-bit words: Config, Page_Number, Reserved,
//! Page_Count. Config is
//!
//! | bits  | field                       |
//! |-------|-----------------------------|
//! | 63    | Pending                     |
//! | 62:60 | reserved, must be zero      |
//! | 59:56 | Type                        |
//! | 55    | reserved, must be zero      |
//! | 54:48 | Order (pages of `1 << (Order + 12)` bytes) |
//! | 29:16 | VMID                        |
//! | 15:0  | ASID                        |
//!
//! Bits 47:30 are not defined for XLEN 64; a set one is reported too. Each
//! type says which fields are ignored and "MUST be zero"; a firmware that
//! checks them is what finds a supervisor that writes the entry wrong.

/// `Config.Pending`.
pub const PENDING: u64 = 1 << 63;
const RESERVED_HI: u64 = 0x7 << 60;
const TYPE_SHIFT: u32 = 56;
const TYPE_MASK: u64 = 0xf;
const RESERVED_MID: u64 = 1 << 55;
const ORDER_SHIFT: u32 = 48;
const ORDER_MASK: u64 = 0x7f;
const UNDEFINED: u64 = ((1 << 48) - 1) & !((1 << 30) - 1);
const VMID_SHIFT: u32 = 16;
const VMID_MASK: u64 = 0x3fff;
const ASID_MASK: u64 = 0xffff;

/// The entry types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A guest-physical range, all VMIDs.
    Gvma,
    /// All guest-physical addresses, all VMIDs.
    GvmaAll,
    /// A guest-physical range of a VMID.
    GvmaVmid,
    /// All guest-physical addresses of a VMID.
    GvmaVmidAll,
    /// A guest-virtual range of a VMID.
    Vvma,
    /// All guest-virtual addresses of a VMID.
    VvmaAll,
    /// A guest-virtual range of a VMID and ASID.
    VvmaAsid,
    /// All guest-virtual addresses of a VMID and ASID.
    VvmaAsidAll,
}

impl Kind {
    fn of(t: u64) -> Option<Kind> {
        Some(match t {
            0 => Kind::Gvma,
            1 => Kind::GvmaAll,
            2 => Kind::GvmaVmid,
            3 => Kind::GvmaVmidAll,
            4 => Kind::Vvma,
            5 => Kind::VvmaAll,
            6 => Kind::VvmaAsid,
            7 => Kind::VvmaAsidAll,
            _ => return None,
        })
    }

    /// A whole-space flush: Order and the page words are ignored.
    pub fn is_all(self) -> bool {
        matches!(
            self,
            Kind::GvmaAll | Kind::GvmaVmidAll | Kind::VvmaAll | Kind::VvmaAsidAll
        )
    }

    /// Whether the VMID field is meaningful.
    pub fn uses_vmid(self) -> bool {
        !matches!(self, Kind::Gvma | Kind::GvmaAll)
    }

    /// Whether the ASID field is meaningful.
    pub fn uses_asid(self) -> bool {
        matches!(self, Kind::VvmaAsid | Kind::VvmaAsidAll)
    }

    /// The name the specification gives the type.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gvma => "GVMA",
            Kind::GvmaAll => "GVMA_ALL",
            Kind::GvmaVmid => "GVMA_VMID",
            Kind::GvmaVmidAll => "GVMA_VMID_ALL",
            Kind::Vvma => "VVMA",
            Kind::VvmaAll => "VVMA_ALL",
            Kind::VvmaAsid => "VVMA_ASID",
            Kind::VvmaAsidAll => "VVMA_ASID_ALL",
        }
    }
}

/// What an entry may get wrong, one bit each in [`Decoded::violations`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Violation {
    /// Config bits 62:60 or 55 are set.
    ReservedConfigBits = 1 << 0,
    /// Config bits 47:30, not defined for XLEN 64, are set.
    UndefinedConfigBits = 1 << 1,
    /// Type is above 7.
    ReservedType = 1 << 2,
    /// Word 2 (Reserved) is not zero.
    ReservedWord = 1 << 3,
    /// The type ignores Order, which is not zero.
    OrderNotZero = 1 << 4,
    /// The type ignores the VMID, which is not zero.
    VmidNotZero = 1 << 5,
    /// The type ignores the ASID, which is not zero.
    AsidNotZero = 1 << 6,
    /// A whole-space type with a Page_Number or Page_Count not zero.
    PagesNotZero = 1 << 7,
}

impl Violation {
    /// Every violation, in bit order.
    pub const ALL: [Violation; 8] = [
        Violation::ReservedConfigBits,
        Violation::UndefinedConfigBits,
        Violation::ReservedType,
        Violation::ReservedWord,
        Violation::OrderNotZero,
        Violation::VmidNotZero,
        Violation::AsidNotZero,
        Violation::PagesNotZero,
    ];

    /// What the firmware prints for it.
    pub fn describe(self) -> &'static str {
        match self {
            Violation::ReservedConfigBits => "reserved Config bits 62:60 or 55 set",
            Violation::UndefinedConfigBits => "Config bits 47:30 (undefined for XLEN 64) set",
            Violation::ReservedType => "reserved Type (above 7)",
            Violation::ReservedWord => "word 2 (Reserved) not zero",
            Violation::OrderNotZero => "Order not zero for a type that ignores it",
            Violation::VmidNotZero => "VMID not zero for a type that ignores it",
            Violation::AsidNotZero => "ASID not zero for a type that ignores it",
            Violation::PagesNotZero => "Page_Number or Page_Count not zero for a whole-space type",
        }
    }
}

/// A nested HFENCE entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// `Config.Pending`: the entry waits to be processed.
    pub pending: bool,
    /// The type; `None` for a reserved one.
    pub kind: Option<Kind>,
    pub order: u32,
    pub vmid: u16,
    pub asid: u16,
    pub page_number: u64,
    pub page_count: u64,
    /// The [`Violation`]s, one bit each.
    pub violations: u32,
}

impl Decoded {
    /// Whether `v` is among the violations.
    pub fn has(&self, v: Violation) -> bool {
        self.violations & v as u32 != 0
    }

    /// The page size of a range type, `1 << (Order + 12)` bytes; `None` if
    /// that does not fit 64 bits.
    pub fn page_size(&self) -> Option<u64> {
        1u64.checked_shl(self.order + 12)
    }

    /// The guest address range `[start, end)` a range type invalidates;
    /// `None` when it overflows the address space.
    pub fn range(&self) -> Option<(u64, u64)> {
        let shift = self.order + 12;
        let start = self.page_number.checked_shl(shift)?;
        if start >> shift != self.page_number {
            return None;
        }
        let len = self.page_count.checked_mul(self.page_size()?)?;
        Some((start, start.checked_add(len)?))
    }
}

/// Decodes an entry from its four words, with what the specification
/// forbids in it.
pub fn decode(config: u64, page_number: u64, reserved: u64, page_count: u64) -> Decoded {
    let mut v = 0u32;
    let mut flag = |x: Violation| v |= x as u32;
    if config & (RESERVED_HI | RESERVED_MID) != 0 {
        flag(Violation::ReservedConfigBits);
    }
    if config & UNDEFINED != 0 {
        flag(Violation::UndefinedConfigBits);
    }
    if reserved != 0 {
        flag(Violation::ReservedWord);
    }
    let kind = Kind::of((config >> TYPE_SHIFT) & TYPE_MASK);
    // CAST (all): each value is masked to its field's width first.
    let order = ((config >> ORDER_SHIFT) & ORDER_MASK) as u32;
    let vmid = ((config >> VMID_SHIFT) & VMID_MASK) as u16;
    let asid = (config & ASID_MASK) as u16;
    match kind {
        None => flag(Violation::ReservedType),
        Some(k) => {
            if k.is_all() && order != 0 {
                flag(Violation::OrderNotZero);
            }
            if !k.uses_vmid() && vmid != 0 {
                flag(Violation::VmidNotZero);
            }
            if !k.uses_asid() && asid != 0 {
                flag(Violation::AsidNotZero);
            }
            if k.is_all() && (page_number != 0 || page_count != 0) {
                flag(Violation::PagesNotZero);
            }
        }
    }
    Decoded {
        pending: config & PENDING != 0,
        kind,
        order,
        vmid,
        asid,
        page_number,
        page_count,
        violations: v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Config word from its fields, as a supervisor following the
    /// specification writes it.
    fn config(t: u64, order: u64, vmid: u64, asid: u64) -> u64 {
        PENDING | t << 56 | order << 48 | vmid << 16 | asid
    }

    #[test]
    fn fields() {
        let d = decode(config(6, 9, 0x3fff, 0xabcd), 0x1234, 0, 7);
        assert!(d.pending);
        assert_eq!(d.kind, Some(Kind::VvmaAsid));
        assert_eq!((d.order, d.vmid, d.asid), (9, 0x3fff, 0xabcd));
        assert_eq!((d.page_number, d.page_count), (0x1234, 7));
        assert_eq!(d.violations, 0);
        assert_eq!(d.page_size(), Some(1 << 21));
        assert_eq!(
            d.range(),
            Some((0x1234 << 21, (0x1234 << 21) + 7 * (1 << 21)))
        );
        assert!(!decode(config(0, 0, 0, 0) & !PENDING, 0, 0, 0).pending);
    }

    #[test]
    fn kinds() {
        let names = [
            "GVMA",
            "GVMA_ALL",
            "GVMA_VMID",
            "GVMA_VMID_ALL",
            "VVMA",
            "VVMA_ALL",
            "VVMA_ASID",
            "VVMA_ASID_ALL",
        ];
        for (t, name) in names.iter().enumerate() {
            let k = decode(config(t as u64, 0, 0, 0), 0, 0, 0).kind.unwrap();
            assert_eq!(k.name(), *name);
            assert_eq!(k.is_all(), t % 2 == 1);
        }
        for t in 8..16 {
            let d = decode(config(t, 0, 0, 0), 0, 0, 0);
            assert_eq!(d.kind, None);
            assert!(d.has(Violation::ReservedType));
        }
    }

    #[test]
    fn what_each_type_must_leave_zero() {
        // (type, order allowed, vmid allowed, asid allowed, pages allowed)
        let rules = [
            (0, true, false, false, true),
            (1, false, false, false, false),
            (2, true, true, false, true),
            (3, false, true, false, false),
            (4, true, true, false, true),
            (5, false, true, false, false),
            (6, true, true, true, true),
            (7, false, true, true, false),
        ];
        for (t, order_ok, vmid_ok, asid_ok, pages_ok) in rules {
            assert_eq!(
                decode(config(t, 0, 0, 0), 0, 0, 0).violations,
                0,
                "type {t}"
            );
            let d = decode(config(t, 3, 0, 0), 0, 0, 0);
            assert_eq!(d.has(Violation::OrderNotZero), !order_ok, "type {t} order");
            let d = decode(config(t, 0, 5, 0), 0, 0, 0);
            assert_eq!(d.has(Violation::VmidNotZero), !vmid_ok, "type {t} vmid");
            let d = decode(config(t, 0, 0, 5), 0, 0, 0);
            assert_eq!(d.has(Violation::AsidNotZero), !asid_ok, "type {t} asid");
            let d = decode(config(t, 0, 0, 0), 1, 0, 0);
            assert_eq!(
                d.has(Violation::PagesNotZero),
                !pages_ok,
                "type {t} page number"
            );
            let d = decode(config(t, 0, 0, 0), 0, 0, 1);
            assert_eq!(
                d.has(Violation::PagesNotZero),
                !pages_ok,
                "type {t} page count"
            );
        }
    }

    #[test]
    fn reserved_bits_and_words() {
        for bit in [60, 61, 62, 55] {
            let d = decode(config(2, 0, 1, 0) | 1 << bit, 0, 0, 1);
            assert_eq!(
                d.violations,
                Violation::ReservedConfigBits as u32,
                "bit {bit}"
            );
        }
        for bit in [30, 40, 47] {
            let d = decode(config(2, 0, 1, 0) | 1 << bit, 0, 0, 1);
            assert_eq!(
                d.violations,
                Violation::UndefinedConfigBits as u32,
                "bit {bit}"
            );
        }
        let d = decode(config(2, 0, 1, 0), 0x10, 4, 0);
        assert_eq!(d.violations, Violation::ReservedWord as u32);
    }

    #[test]
    fn a_count_in_the_reserved_word_is_caught() {
        // A ranged entry written with the page count in word 2 instead of
        // word 3: word 2 is reserved, and the entry covers no page.
        let d = decode(config(4, 0, 1, 0), 0x80, 16, 0);
        assert!(d.has(Violation::ReservedWord));
        assert_eq!(d.page_count, 0);
    }

    #[test]
    fn an_order_on_a_whole_space_flush_is_caught() {
        // "Order of 4K pages" computed as (0 - 12) & 0x7f on a GVMA_ALL.
        let d = decode(config(1, (0u64.wrapping_sub(12)) & 0x7f, 0, 0), 0, 0, 0);
        assert_eq!(d.violations, Violation::OrderNotZero as u32);
    }

    #[test]
    fn ranges_that_overflow() {
        let d = decode(config(0, 0x7f, 0, 0), 1, 0, 1);
        assert_eq!(d.page_size(), None);
        assert_eq!(d.range(), None);
        let d = decode(config(0, 0, 0, 0), u64::MAX >> 12, 0, 2);
        assert_eq!(d.range(), None);
        let d = decode(config(0, 0, 0, 0), 1 << 52, 0, 1);
        assert_eq!(d.range(), None);
    }

    #[test]
    fn descriptions() {
        for v in Violation::ALL {
            assert!(!v.describe().is_empty());
        }
        let bits: u32 = Violation::ALL.iter().map(|&v| v as u32).sum();
        assert_eq!(bits, 0xff);
    }
}

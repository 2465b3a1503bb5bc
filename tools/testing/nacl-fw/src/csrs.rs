// SPDX-License-Identifier: GPL-2.0

//! The H-extension CSRs the firmware knows: the ones `sync_csr` writes and
//! the CSR space mirrors, in the order a synchronisation of all of them
//! writes them (a CSR whose value depends on another comes after it: `hvip`
//! before `hip` and `vsip`, `hideleg` before `vsie`/`vsip`, `vsiselect`
//! first among the AIA ones).
//!
//! Which of them a hart implements is found at boot by reading each one
//! under a probing trap vector; the CSR space word of a missing CSR stays
//! zero and `sync_csr` of its number answers `SBI_ERR_INVALID_PARAM`.

/// How the firmware may treat an H-extension CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and written.
    ReadWrite,
    /// Read only (a dirty bit for it is a violation).
    ReadOnly,
}

/// Calls `$m! { (number, name, access), ... }` with every H-extension CSR
/// the firmware knows, in synchronisation order. The firmware builds its
/// CSR instructions from it (a CSR number is an immediate), and the table
/// below from the same list.
#[macro_export]
macro_rules! for_each_hcsr {
    ($m:ident) => {
        $m! {
            (0x600, "hstatus", ReadWrite),
            (0x602, "hedeleg", ReadWrite),
            (0x603, "hideleg", ReadWrite),
            (0x606, "hcounteren", ReadWrite),
            (0x60a, "henvcfg", ReadWrite),
            (0x60c, "hstateen0", ReadWrite),
            (0x605, "htimedelta", ReadWrite),
            (0x680, "hgatp", ReadWrite),
            (0x608, "hvien", ReadWrite),
            (0x609, "hvictl", ReadWrite),
            (0x646, "hviprio1", ReadWrite),
            (0x647, "hviprio2", ReadWrite),
            (0x645, "hvip", ReadWrite),
            (0x644, "hip", ReadWrite),
            (0x604, "hie", ReadWrite),
            (0x607, "hgeie", ReadWrite),
            (0x643, "htval", ReadWrite),
            (0x64a, "htinst", ReadWrite),
            (0x200, "vsstatus", ReadWrite),
            (0x204, "vsie", ReadWrite),
            (0x205, "vstvec", ReadWrite),
            (0x240, "vsscratch", ReadWrite),
            (0x241, "vsepc", ReadWrite),
            (0x242, "vscause", ReadWrite),
            (0x243, "vstval", ReadWrite),
            (0x244, "vsip", ReadWrite),
            (0x280, "vsatp", ReadWrite),
            (0x24d, "vstimecmp", ReadWrite),
            (0x250, "vsiselect", ReadWrite),
            (0xe12, "hgeip", ReadOnly),
            (0xeb0, "vstopi", ReadOnly),
        }
    };
}

/// One known H-extension CSR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HCsr {
    pub num: u16,
    pub name: &'static str,
    pub access: Access,
}

macro_rules! table {
    ($(($num:literal, $name:literal, $acc:ident)),* $(,)?) => {
        /// Every known H-extension CSR, in synchronisation order.
        pub const ALL: &[HCsr] = &[$(HCsr { num: $num, name: $name, access: Access::$acc }),*];
    };
}
for_each_hcsr!(table);

/// The position of `num` in [`ALL`].
pub fn position(num: usize) -> Option<usize> {
    ALL.iter().position(|c| c.num as usize == num)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shmem::csr_index;

    #[test]
    fn all_are_h_csrs_once() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert!(csr_index(c.num as usize).is_some(), "{}", c.name);
            assert!(seen.insert(c.num), "{} twice", c.name);
        }
    }

    #[test]
    fn dependencies_come_first() {
        let at = |n| position(n).unwrap();
        // hip and vsip read through hvip; vsie and vsip through hideleg.
        assert!(at(0x645) < at(0x644));
        assert!(at(0x645) < at(0x244));
        assert!(at(0x603) < at(0x204));
        assert!(at(0x603) < at(0x244));
        // hstateen0 gates the AIA and envcfg state of VS mode.
        assert!(at(0x60c) < at(0x608));
        assert!(at(0x60c) < at(0x250));
        // hgatp last of the translation setup before the VS CSRs.
        assert!(at(0x680) < at(0x280));
        assert_eq!(position(0x251), None, "vsireg is indirect, never mirrored");
    }
}

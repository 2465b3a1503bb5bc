// SPDX-License-Identifier: GPL-2.0

//! Pure decisions behind module init in `main.rs`: what the hardware reports
//! and how it is logged. Only `core` is used here, so host `cargo test`
//! (tools/testing/unit) covers it.

use core::fmt;

/// The highest G-stage page-table format, from its number of levels
/// (upstream's `kvm_riscv_gstage_max_pgd_levels`). `None`: no usable format.
pub(crate) fn gstage_mode_name(levels: u64) -> Option<&'static str> {
    match levels {
        2 => Some("Sv32x4"),
        3 => Some("Sv39x4"),
        4 => Some("Sv48x4"),
        5 => Some("Sv57x4"),
        _ => None,
    }
}

/// The vendor ID of Andes in `mvendorid` (`asm/vendorid_list.h`).
pub(crate) const ANDES_VENDOR_ID: u64 = 0x31e;

/// True for a CPU whose VS-stage TLB does not cache the guest physical
/// address and VMID (Andes AX66, split two-stage TLBs).
pub(crate) fn vsstage_tlb_no_gpa(mvendorid: u64, marchid: u64) -> bool {
    mvendorid == ANDES_VENDOR_ID && (marchid & 0xffff) == 0x8a66
}

/// The SBI nested-acceleration features that were found.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct NaclFeatures {
    pub(crate) sync_csr: bool,
    pub(crate) sync_hfence: bool,
    pub(crate) sync_sret: bool,
    pub(crate) autoswap_csr: bool,
}

impl fmt::Display for NaclFeatures {
    /// `sync_csr, sync_sret`, or `no features`: the list upstream logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = [
            (self.sync_csr, "sync_csr"),
            (self.sync_hfence, "sync_hfence"),
            (self.sync_sret, "sync_sret"),
            (self.autoswap_csr, "autoswap_csr"),
        ];
        let mut n = 0;
        for (_, name) in all.iter().filter(|(on, _)| *on) {
            if n > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
            n += 1;
        }
        if n == 0 {
            f.write_str("no features")?;
        }
        Ok(())
    }
}

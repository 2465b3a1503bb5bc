// SPDX-License-Identifier: GPL-2.0

//! Host tests for the modules of `rust/kvm_riscv/` that use only `core`.
//! Each module is compiled here from the same source file as in kvm.ko.

#![allow(dead_code)]

#[path = "../../../../rust/kvm_riscv/report.rs"]
mod report;

#[cfg(test)]
mod report_tests {
    use super::report::*;

    #[test]
    fn gstage_modes() {
        assert_eq!(gstage_mode_name(2), Some("Sv32x4"));
        assert_eq!(gstage_mode_name(3), Some("Sv39x4"));
        assert_eq!(gstage_mode_name(4), Some("Sv48x4"));
        assert_eq!(gstage_mode_name(5), Some("Sv57x4"));
        assert_eq!(gstage_mode_name(0), None);
        assert_eq!(gstage_mode_name(1), None);
        assert_eq!(gstage_mode_name(6), None);
    }

    #[test]
    fn nacl_feature_list() {
        let none = NaclFeatures::default();
        assert_eq!(format!("{none}"), "no features");
        let all = NaclFeatures { sync_csr: true, sync_hfence: true, sync_sret: true, autoswap_csr: true };
        assert_eq!(format!("{all}"), "sync_csr, sync_hfence, sync_sret, autoswap_csr");
        let some = NaclFeatures { sync_hfence: true, autoswap_csr: true, ..none };
        assert_eq!(format!("{some}"), "sync_hfence, autoswap_csr");
        let one = NaclFeatures { sync_sret: true, ..none };
        assert_eq!(format!("{one}"), "sync_sret");
    }

    #[test]
    fn andes_ax66_quirk() {
        assert!(vsstage_tlb_no_gpa(0x31e, 0x8a66));
        assert!(vsstage_tlb_no_gpa(0x31e, 0x1234_8a66));
        assert!(!vsstage_tlb_no_gpa(0x31e, 0x8a65));
        assert!(!vsstage_tlb_no_gpa(0x0, 0x8a66));
    }
}

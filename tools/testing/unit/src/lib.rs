// SPDX-License-Identifier: GPL-2.0

//! Host tests for the modules of `rust/kvm_riscv/` that use only `core`.
//! Each module is compiled here from the same source file as in kvm.ko.

#![allow(dead_code)]

#[path = "../../../../rust/kvm_riscv/report.rs"]
mod report;

#[path = "../../../../rust/kvm_riscv/nacl_layout.rs"]
mod nacl_layout;

#[path = "../../../../rust/kvm_riscv/csr_encoding.rs"]
mod csr_encoding;

#[path = "../../../../rust/kvm_riscv/trap.rs"]
mod trap;

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

#[cfg(test)]
mod nacl_layout_tests {
    use super::nacl_layout::*;

    #[test]
    fn areas_are_consecutive_and_sized_as_the_spec_says() {
        assert_eq!(SRET_OFFSET, 0x0);
        assert_eq!(AUTOSWAP_OFFSET, 0x200);
        assert_eq!(HFENCE_OFFSET, 0x800);
        assert_eq!(DBITMAP_OFFSET, 0xf80);
        assert_eq!(CSR_OFFSET, 0x1000);
        assert_eq!(SHMEM_SIZE, 0x3000);
        // The scratch area covers SRET, AUTOSWAP and HFENCE, not the CSRs.
        assert!(HFENCE_OFFSET + HFENCE_SIZE <= SCRATCH_OFFSET + SCRATCH_SIZE);
        assert_eq!(SCRATCH_OFFSET + SCRATCH_SIZE, CSR_OFFSET);
        // x1..x31 fit in the SRET area.
        assert!(sret_x(SRET_X_LAST) + XLEN_BYTES <= SRET_OFFSET + SRET_SIZE);
        assert_eq!(sret_x(1), 8);
        // One dirty bit per CSR slot.
        assert_eq!(DBITMAP_SIZE * 8, CSR_SLOTS);
    }

    #[test]
    fn csr_slots() {
        // H-level CSRs: 0x6xx (quarter 1) and VS-level 0x2xx (quarter 0).
        assert_eq!(csr_index(0x600), 0x100 | 0x00); // hstatus
        assert_eq!(csr_index(0x602), 0x102); // hedeleg
        assert_eq!(csr_index(0x645), 0x145); // hvip
        assert_eq!(csr_index(0x200), 0x000); // vsstatus
        assert_eq!(csr_index(0x280), 0x080); // vsatp
        assert_eq!(csr_index(0xe12), 0x312); // hgeip (quarter 3)
        assert_eq!(csr_index(0xa00), 0x200);
        // Every 12-bit number maps into the area.
        for c in 0..0x1000u16 {
            assert!(csr_index(c) < CSR_SLOTS);
        }
        assert_eq!(csr_offset(0x600), 0x1000 + 0x100 * 8);
        assert_eq!(csr_dirty_bit(0x600), (0xf80 + 0x20, 1));
        assert_eq!(csr_dirty_bit(0x645), (0xf80 + 0x28, 1 << 5));
    }

    #[test]
    fn hfence_entries() {
        assert_eq!(HFENCE_ENTRY_MAX, 60);
        assert_eq!(hfence_entry(0), (0x800, 0x808, 0x810));
        assert_eq!(hfence_entry(1).0, 0x820);
        let last = hfence_entry(HFENCE_ENTRY_MAX - 1);
        assert!(last.2 + 2 * XLEN_BYTES <= HFENCE_OFFSET + HFENCE_SIZE);
    }

    #[test]
    fn hfence_config_words() {
        // GVMA_ALL with order 0: pending, type 1, order (0 - 12) & 0x7f.
        let c = hfence_config(HfenceType::GvmaAll, 0, 0, 0);
        assert_eq!(c >> 63, 1);
        assert_eq!((c >> 56) & 0xf, 1);
        assert_eq!((c >> 48) & 0x7f, (0usize.wrapping_sub(12)) & 0x7f);
        // VVMA_ASID, 2 MiB pages, VMID 5, ASID 7.
        let c = hfence_config(HfenceType::VvmaAsid, 21, 5, 7);
        assert_eq!(c, (1 << 63) | (6 << 56) | (9 << 48) | (5 << 16) | 7);
        // VMID and ASID are masked to their widths.
        let c = hfence_config(HfenceType::Gvma, 12, 0xffff_ffff, 0xf_ffff);
        assert_eq!((c >> 16) & 0xffff, 0x3fff);
        assert_eq!(c & 0xffff, 0xffff);
        // Reserved bits stay clear.
        assert_eq!(c & ((7 << 60) | (1 << 55) | (0xffff << 32) | (3 << 30)), 0);
    }
}

#[cfg(test)]
mod csr_encoding_tests {
    use super::csr_encoding::*;

    // Register numbers.
    const X0: u32 = 0;
    const A0: u32 = 10;
    const A1: u32 = 11;

    #[test]
    fn words_as_the_assembler_encodes_them() {
        // csrr a0, hstatus
        assert_eq!(encode(CsrOp::ReadSet, 0x600, A0, X0), 0x6000_2573);
        // csrw hstatus, a1
        assert_eq!(encode(CsrOp::ReadWrite, 0x600, X0, A1), 0x6005_9073);
        // csrrw a0, hstatus, a1
        assert_eq!(encode(CsrOp::ReadWrite, 0x600, A0, A1), 0x6005_9573);
        // csrs hvip, a1 / csrc hvip, a1
        assert_eq!(encode(CsrOp::ReadSet, 0x645, X0, A1), 0x6455_a073);
        assert_eq!(encode(CsrOp::ReadClear, 0x645, X0, A1), 0x6455_b073);
        // csrr a0, vsatp ; csrrw a0, scounteren, a1
        assert_eq!(encode(CsrOp::ReadSet, 0x280, A0, X0), 0x2800_2573);
        assert_eq!(encode(CsrOp::ReadWrite, 0x106, A0, A1), 0x1065_9573);
        // csrr a0, hgeip (0xe12: a negative immediate)
        assert_eq!(encode(CsrOp::ReadSet, 0xe12, A0, X0), 0xe120_2573);
    }

    #[test]
    fn immediates() {
        assert_eq!(csr_imm(0x000), 0);
        assert_eq!(csr_imm(0x7ff), 0x7ff);
        assert_eq!(csr_imm(0x800), -0x800);
        assert_eq!(csr_imm(0xe12), 0xe12 - 0x1000);
        assert_eq!(csr_imm(0xfff), -1);
        for c in 0..0x1000u16 {
            assert_eq!((csr_imm(c) as u32) & 0xfff, c as u32);
        }
    }

    #[test]
    fn funct3_values() {
        assert_eq!(funct3(CsrOp::ReadWrite), 0b001);
        assert_eq!(funct3(CsrOp::ReadSet), 0b010);
        assert_eq!(funct3(CsrOp::ReadClear), 0b011);
        assert_eq!(SYSTEM, 0b111_0011);
    }
}

#[cfg(test)]
mod trap_tests {
    use super::trap::*;

    #[test]
    fn counted_traps_go_back_to_the_guest() {
        assert_eq!(Exit::decode(2), Exit::Redirect(Some(FwEvent::IllegalInsn)));
        assert_eq!(Exit::decode(4), Exit::Redirect(Some(FwEvent::MisalignedLoad)));
        assert_eq!(Exit::decode(6), Exit::Redirect(Some(FwEvent::MisalignedStore)));
        assert_eq!(Exit::decode(5), Exit::Redirect(Some(FwEvent::AccessLoad)));
        assert_eq!(Exit::decode(7), Exit::Redirect(Some(FwEvent::AccessStore)));
        // An instruction access fault is redirected and counted nowhere.
        assert_eq!(Exit::decode(1), Exit::Redirect(None));
        // The SBI firmware event ids.
        assert_eq!(FwEvent::MisalignedLoad as usize, 0);
        assert_eq!(FwEvent::MisalignedStore as usize, 1);
        assert_eq!(FwEvent::AccessLoad as usize, 2);
        assert_eq!(FwEvent::AccessStore as usize, 3);
        assert_eq!(FwEvent::IllegalInsn as usize, 4);
    }

    #[test]
    fn other_exits() {
        assert_eq!(Exit::decode(22), Exit::VirtualInsn);
        assert_eq!(Exit::decode(20), Exit::GuestPageFault(Access::Fetch));
        assert_eq!(Exit::decode(21), Exit::GuestPageFault(Access::Load));
        assert_eq!(Exit::decode(23), Exit::GuestPageFault(Access::Store));
        assert_eq!(Exit::decode(10), Exit::SbiCall);
        assert_eq!(Exit::decode(3), Exit::Breakpoint);
        assert_eq!(Exit::decode(18), Exit::SoftwareCheck);
        // Delegated or impossible causes are errors.
        for c in [0, 8, 9, 12, 13, 15, 19, 24, 63] {
            assert_eq!(Exit::decode(c), Exit::Unhandled(c));
        }
        // Any interrupt is the host's.
        assert_eq!(Exit::decode(CAUSE_IRQ_FLAG | 5), Exit::HostInterrupt);
        assert_eq!(Exit::decode(CAUSE_IRQ_FLAG | 9), Exit::HostInterrupt);
    }

    #[test]
    fn fault_addresses() {
        assert_eq!(fault_gpa(0x2000_0000, 0x8000_0003), 0x8000_0003);
        assert_eq!(fault_gpa(0x0400_0000, 0x1), 0x1000_0001);
        assert_eq!(fault_gpa(usize::MAX >> 2, 0), (u64::MAX >> 2) << 2);
    }
}

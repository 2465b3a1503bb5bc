// SPDX-License-Identifier: GPL-2.0

//! Host tests for the modules of `rust/kvm_riscv/` that use only `core`.
//! Each module is compiled here from the same source file as in kvm.ko.

#![allow(dead_code)]

#[path = "../../../../rust/kvm_riscv/regs_logic.rs"]
mod regs_logic;

#[path = "../../../../rust/kvm_riscv/main_logic.rs"]
mod main_logic;

#[path = "../../../../rust/kvm_riscv/nacl_logic.rs"]
mod nacl_logic;

#[path = "../../../../rust/kvm_riscv/csr_logic.rs"]
mod csr_logic;

#[path = "../../../../rust/kvm_riscv/vcpu_exit_logic.rs"]
mod vcpu_exit_logic;

#[cfg(test)]
mod main_logic_tests {
    use super::main_logic::*;

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
        let all = NaclFeatures {
            sync_csr: true,
            sync_hfence: true,
            sync_sret: true,
            autoswap_csr: true,
        };
        assert_eq!(
            format!("{all}"),
            "sync_csr, sync_hfence, sync_sret, autoswap_csr"
        );
        let some = NaclFeatures {
            sync_hfence: true,
            autoswap_csr: true,
            ..none
        };
        assert_eq!(format!("{some}"), "sync_hfence, autoswap_csr");
        let one = NaclFeatures {
            sync_sret: true,
            ..none
        };
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
mod nacl_logic_tests {
    use super::nacl_logic::*;

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
        // Config, Page_Number, Reserved, Page_Count (the specification's
        // "Nested HFENCE entry format"): the count is word 3, not word 2.
        let e = hfence_entry(0);
        assert_eq!(
            (e.config, e.page_number, e.reserved, e.page_count),
            (0x800, 0x808, 0x810, 0x818)
        );
        assert_eq!(hfence_entry(1).config, 0x820);
        let last = hfence_entry(HFENCE_ENTRY_MAX - 1);
        assert_eq!(last.page_count + XLEN_BYTES, HFENCE_OFFSET + HFENCE_SIZE);
    }

    #[test]
    fn hfence_entry_words_follow_the_specification() {
        // A ranged fence keeps its pages; the reserved word is zero.
        let c = hfence_config(HfenceType::VvmaAsid, 12, 1, 1);
        assert_eq!(hfence_entry_words(c, 0x35201, 3), [0x35201, 0, 3, c]);
        // What tlb.c builds for GVMA_VMID_ALL (order 0 -> 0x74 in the
        // field): the order is cleared, and so are the page words.
        let tlb_c = (1 << 63) | (3 << 56) | (0x74 << 48) | (5 << 16);
        assert_eq!(hfence_entry_words(tlb_c, 7, 9), [0, 0, 0, (1 << 63) | (3 << 56) | (5 << 16)]);
        // VVMA_ASID_ALL keeps VMID and ASID, loses the order.
        let w = hfence_entry_words((1 << 63) | (7 << 56) | (0x74 << 48) | (1 << 16) | 6, 0, 0);
        assert_eq!(w[3], (1 << 63) | (7 << 56) | (1 << 16) | 6);
        // GVMA ignores VMID and ASID.
        let w = hfence_entry_words((1 << 63) | (3 << 16) | 4, 0x10, 1);
        assert_eq!(w, [0x10, 0, 1, 1 << 63]);
        // A reserved type is passed on as it is.
        let r = (1 << 63) | (9 << 56) | (0x74 << 48);
        assert_eq!(hfence_entry_words(r, 1, 2), [1, 0, 2, r]);
    }

    #[test]
    fn hfence_config_words() {
        // GVMA_ALL: pending, type 1, and Order zero (the type ignores it,
        // and the specification says it MUST be zero).
        let c = hfence_config(HfenceType::GvmaAll, 0, 0, 0);
        assert_eq!(c, (1 << 63) | (1 << 56));
        // VVMA_ASID, 2 MiB pages, VMID 5, ASID 7.
        let c = hfence_config(HfenceType::VvmaAsid, 21, 5, 7);
        assert_eq!(c, (1 << 63) | (6 << 56) | (9 << 48) | (5 << 16) | 7);
        // VMID and ASID are masked to their widths.
        let c = hfence_config(HfenceType::VvmaAsid, 12, 0xffff_ffff, 0xf_ffff);
        assert_eq!((c >> 16) & 0xffff, 0x3fff);
        assert_eq!(c & 0xffff, 0xffff);
        // Reserved bits stay clear.
        assert_eq!(c & ((7 << 60) | (1 << 55) | (0xffff << 32) | (3 << 30)), 0);
    }
}

#[cfg(test)]
mod csr_logic_tests {
    use super::csr_logic::*;

    // Register numbers.
    const X0: u32 = 0;
    const A0: u32 = 10;
    const A1: u32 = 11;

    #[test]
    fn words_as_the_assembler_encodes_them() {
        // csrr a0, hstatus
        assert_eq!(encode(CsrOp::Rs, 0x600, A0, X0), 0x6000_2573);
        // csrw hstatus, a1
        assert_eq!(encode(CsrOp::Rw, 0x600, X0, A1), 0x6005_9073);
        // csrrw a0, hstatus, a1
        assert_eq!(encode(CsrOp::Rw, 0x600, A0, A1), 0x6005_9573);
        // csrs hvip, a1 / csrc hvip, a1
        assert_eq!(encode(CsrOp::Rs, 0x645, X0, A1), 0x6455_a073);
        assert_eq!(encode(CsrOp::Rc, 0x645, X0, A1), 0x6455_b073);
        // csrr a0, vsatp ; csrrw a0, scounteren, a1
        assert_eq!(encode(CsrOp::Rs, 0x280, A0, X0), 0x2800_2573);
        assert_eq!(encode(CsrOp::Rw, 0x106, A0, A1), 0x1065_9573);
        // csrr a0, hgeip (0xe12: a negative immediate)
        assert_eq!(encode(CsrOp::Rs, 0xe12, A0, X0), 0xe120_2573);
    }

    #[test]
    fn immediates() {
        assert_eq!(csr_imm(0x000), 0);
        assert_eq!(csr_imm(0x7ff), 0x7ff);
        assert_eq!(csr_imm(0x800), -0x800);
        assert_eq!(csr_imm(0xe12), 0xe12 - 0x1000);
        assert_eq!(csr_imm(0xfff), -1);
        for c in 0..0x1000u16 {
            // CAST: the immediate's bits as they are, and a u16 widened.
            assert_eq!((csr_imm(c) as u32) & 0xfff, c as u32);
        }
    }

    #[test]
    fn funct3_values() {
        assert_eq!(funct3(CsrOp::Rw), 0b001);
        assert_eq!(funct3(CsrOp::Rs), 0b010);
        assert_eq!(funct3(CsrOp::Rc), 0b011);
        assert_eq!(SYSTEM, 0b111_0011);
    }
}

#[cfg(test)]
mod vcpu_exit_logic_tests {
    use super::vcpu_exit_logic::*;

    #[test]
    fn counted_traps_go_back_to_the_guest() {
        assert_eq!(Exit::decode(2), Exit::Redirect(Some(FwEvent::IllegalInsn)));
        assert_eq!(
            Exit::decode(4),
            Exit::Redirect(Some(FwEvent::MisalignedLoad))
        );
        assert_eq!(
            Exit::decode(6),
            Exit::Redirect(Some(FwEvent::MisalignedStore))
        );
        assert_eq!(Exit::decode(5), Exit::Redirect(Some(FwEvent::AccessLoad)));
        assert_eq!(Exit::decode(7), Exit::Redirect(Some(FwEvent::AccessStore)));
        // An instruction access fault is redirected and counted nowhere.
        assert_eq!(Exit::decode(1), Exit::Redirect(None));
        // The SBI firmware event ids.
        assert_eq!(FwEvent::MisalignedLoad as usize, 0); // CAST: a discriminant.
        assert_eq!(FwEvent::MisalignedStore as usize, 1); // CAST: a discriminant.
        assert_eq!(FwEvent::AccessLoad as usize, 2); // CAST: a discriminant.
        assert_eq!(FwEvent::AccessStore as usize, 3); // CAST: a discriminant.
        assert_eq!(FwEvent::IllegalInsn as usize, 4); // CAST: a discriminant.
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

#[path = "../../../../rust/kvm_riscv/vcpu_insn_logic.rs"]
mod vcpu_insn_logic;

/// Every instruction form `vcpu_insn` decodes, with encodings from the LLVM
/// assembler (`llvm-mc -show-encoding`), and forms it must refuse.
#[cfg(test)]
mod vcpu_insn_logic_tests {
    use super::vcpu_insn_logic::*;

    fn w(b: [u8; 4]) -> usize {
        // CAST: u32 to usize, widening.
        u32::from_le_bytes(b) as usize
    }
    fn h(b: [u8; 2]) -> usize {
        // CAST: u16 to usize, widening.
        u16::from_le_bytes(b) as usize
    }
    fn csr(insn: usize) -> CsrInsn {
        match decode_system(insn) {
            SystemInsn::Csr(c) => c,
            other => panic!("{insn:#x}: {other:?}"),
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(insn_len(w([0x73, 0x00, 0x50, 0x10])), 4);
        assert_eq!(insn_len(h([0x1c, 0x65])), 2);
        assert_eq!(insn_len(h([0xc2, 0x63])), 2);
        assert_eq!(insn_len(0), 2);
    }

    #[test]
    fn csr_forms() {
        // csrrw a0, sscratch, a1
        let c = csr(w([0x73, 0x95, 0x05, 0x14]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rw,
                csr: 0x140,
                rd: 10,
                rs1: 11
            }
        );
        assert!(c.reads_rs1());
        assert_eq!(c.operands(0x1234), (0x1234, usize::MAX));
        // csrr t0, seed (csrrs t0, seed, x0)
        let c = csr(w([0xf3, 0x22, 0x50, 0x01]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rs,
                csr: 0x015,
                rd: 5,
                rs1: 0
            }
        );
        assert_eq!(c.operands(0), (usize::MAX, 0));
        // csrc cycle, s1 (csrrc x0, cycle, s1)
        let c = csr(w([0x73, 0xb0, 0x04, 0xc0]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rc,
                csr: 0xc00,
                rd: 0,
                rs1: 9
            }
        );
        assert_eq!(c.operands(0xf0), (0, 0xf0));
        // csrrwi a5, siselect, 31
        let c = csr(w([0xf3, 0xd7, 0x0f, 0x15]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rwi,
                csr: 0x150,
                rd: 15,
                rs1: 31
            }
        );
        assert!(!c.reads_rs1());
        assert_eq!(c.operands(0xdead), (31, usize::MAX));
        // csrrsi a2, hpmcounter3, 1
        let c = csr(w([0x73, 0xe6, 0x30, 0xc0]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rsi,
                csr: 0xc03,
                rd: 12,
                rs1: 1
            }
        );
        assert_eq!(c.operands(0xdead), (usize::MAX, 1));
        // csrrci ra, stopei, 0
        let c = csr(w([0xf3, 0x70, 0xc0, 0x15]));
        assert_eq!(
            c,
            CsrInsn {
                op: CsrOp::Rci,
                csr: 0x15c,
                rd: 1,
                rs1: 0
            }
        );
        assert_eq!(c.operands(0xdead), (0, 0));
    }

    #[test]
    fn other_system_forms() {
        assert_eq!(decode_system(w([0x73, 0x00, 0x50, 0x10])), SystemInsn::Wfi);
        assert_eq!(
            decode_system(w([0x73, 0x00, 0xd0, 0x00])),
            SystemInsn::WrsNto
        );
        // wrs.sto, ecall, sfence.vma, funct3 = 4 (hypervisor loads)
        assert_eq!(
            decode_system(w([0x73, 0x00, 0xd0, 0x01])),
            SystemInsn::Other
        );
        assert_eq!(
            decode_system(w([0x73, 0x00, 0x00, 0x00])),
            SystemInsn::Other
        );
        assert_eq!(
            decode_system(w([0x73, 0x00, 0x00, 0x12])),
            SystemInsn::Other
        );
        assert_eq!(decode_system(0x6c05_4573), SystemInsn::Other);
        // WFI is matched on all 32 bits only.
        assert_eq!(decode_system(0x1_1050_0073), SystemInsn::Wfi);
        assert_eq!(decode_system(0x1050_0173), SystemInsn::Other);
    }

    #[test]
    fn virtual_insn_classes() {
        assert_eq!(classify_virtual(0, false), VirtualInsn::Fetch);
        assert_eq!(classify_virtual(0, true), VirtualInsn::Illegal);
        assert_eq!(
            classify_virtual(h([0x05, 0x05]), false),
            VirtualInsn::Illegal
        );
        assert_eq!(
            classify_virtual(h([0x05, 0x05]), true),
            VirtualInsn::Illegal
        );
        // amoadd.w: not SYSTEM
        assert_eq!(
            classify_virtual(w([0x2f, 0x25, 0xb6, 0x00]), false),
            VirtualInsn::Illegal
        );
        assert_eq!(
            classify_virtual(w([0x73, 0x00, 0x50, 0x10]), true),
            VirtualInsn::System(SystemInsn::Wfi)
        );
        assert_eq!(
            classify_virtual(w([0x73, 0x00, 0x00, 0x00]), false),
            VirtualInsn::System(SystemInsn::Other)
        );
    }

    #[test]
    fn htinst() {
        assert_eq!(from_htinst(0), None);
        // A pseudoinstruction (bit 0 clear) is not usable either.
        assert_eq!(from_htinst(0x3000), None);
        assert_eq!(from_htinst(0x2020), None);
        // Transformed 32-bit lw t1, 0(x0): bit 1 set.
        assert_eq!(from_htinst(0x0000_2303), Some((0x2303, 4)));
        // Transformed from a compressed load: bit 1 clear, low bits forced.
        assert_eq!(from_htinst(0x0000_2301), Some((0x2303, 2)));
    }

    #[test]
    fn loads() {
        let l = |len, signed, rd| Some(Load { len, signed, rd });
        assert_eq!(decode_load(w([0x03, 0x85, 0x05, 0x00])), l(1, true, 10)); // lb a0
        assert_eq!(decode_load(w([0x03, 0x13, 0x21, 0x00])), l(2, true, 6)); // lh t1
        assert_eq!(decode_load(w([0x83, 0x2d, 0xc6, 0xff])), l(4, true, 27)); // lw s11
        assert_eq!(decode_load(w([0x83, 0x3f, 0x85, 0x00])), l(8, true, 31)); // ld t6
        assert_eq!(decode_load(w([0x83, 0x48, 0x05, 0x00])), l(1, false, 17)); // lbu a7
        assert_eq!(decode_load(w([0x83, 0x50, 0x05, 0x00])), l(2, false, 1)); // lhu ra
        assert_eq!(decode_load(w([0x83, 0x6f, 0x05, 0x00])), l(4, false, 31)); // lwu t6
        assert_eq!(decode_load(h([0x1c, 0x65])), l(8, true, 15)); // c.ld a5
        assert_eq!(decode_load(h([0xc0, 0x41])), l(4, true, 8)); // c.lw s0
        assert_eq!(decode_load(h([0xc2, 0x63])), l(8, true, 7)); // c.ldsp t2
        assert_eq!(decode_load(h([0xb2, 0x44])), l(4, true, 9)); // c.lwsp s1
                                                                 // c.ldsp / c.lwsp with rd = x0: reserved.
        assert_eq!(decode_load(0x6002 | (2 << 2)), None);
        assert_eq!(decode_load(0x4002), None);
        // Not emulated: FP loads, Zcb, non-loads.
        assert_eq!(decode_load(w([0x07, 0x25, 0x05, 0x00])), None); // flw
        assert_eq!(decode_load(h([0x08, 0x25])), None); // c.fld
        assert_eq!(decode_load(h([0xc8, 0x81])), None); // c.lbu
        assert_eq!(decode_load(h([0x05, 0x05])), None); // c.addi
        assert_eq!(decode_load(w([0x2f, 0x25, 0xb6, 0x00])), None); // amoadd.w
        assert_eq!(decode_load(0x7003), None); // funct3 7: reserved
                                               // Through HTINST: a transformed c.lw is the 32-bit lw.
        assert_eq!(decode_load(from_htinst(0x2401).unwrap().0), l(4, true, 8));
    }

    #[test]
    fn stores() {
        let s = |len, rs| Some(Store { len, rs });
        assert_eq!(decode_store(w([0x23, 0x80, 0xa5, 0x00])), s(1, 10)); // sb a0
        assert_eq!(decode_store(w([0x23, 0x11, 0x61, 0x00])), s(2, 6)); // sh t1
        assert_eq!(decode_store(w([0x23, 0x2e, 0xb6, 0xff])), s(4, 27)); // sw s11
        assert_eq!(decode_store(w([0x23, 0x34, 0xf5, 0x01])), s(8, 31)); // sd t6
        assert_eq!(decode_store(h([0x1c, 0xe5])), s(8, 15)); // c.sd a5
        assert_eq!(decode_store(h([0xc0, 0xc1])), s(4, 8)); // c.sw s0
        assert_eq!(decode_store(h([0x1e, 0xe8])), s(8, 7)); // c.sdsp t2, 16(sp)
        assert_eq!(decode_store(h([0x26, 0xc6])), s(4, 9)); // c.swsp s1, 12(sp)
                                                            // Upstream's quirk: c.sdsp with offset bits 11:7 all zero is refused.
        assert_eq!(decode_store(h([0x1e, 0xe0])), None); // c.sdsp t2, 0(sp)
        assert_eq!(decode_store(h([0x08, 0xa1])), None); // c.fsd
        assert_eq!(decode_store(h([0xa8, 0x8d])), None); // c.sh (Zcb)
        assert_eq!(decode_store(h([0x88, 0x89])), None); // c.sb (Zcb)
        assert_eq!(decode_store(w([0x03, 0x85, 0x05, 0x00])), None); // lb
        assert_eq!(decode_store(0x4023), None); // funct3 4: reserved
                                                // Through HTINST: a transformed c.sw is the 32-bit sw.
        assert_eq!(
            decode_store(from_htinst(0x0000_2021 | (9 << 20)).unwrap().0),
            s(4, 9)
        );
    }

    #[test]
    fn load_values() {
        let d = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87];
        let ld = |len, signed| Load { len, signed, rd: 1 };
        assert_eq!(load_value(d, 1, ld(1, true).shift()), 0xffff_ffff_ffff_ff80);
        assert_eq!(load_value(d, 1, ld(1, false).shift()), 0x80);
        assert_eq!(load_value(d, 2, ld(2, true).shift()), 0xffff_ffff_ffff_8180);
        assert_eq!(load_value(d, 2, ld(2, false).shift()), 0x8180);
        assert_eq!(load_value(d, 4, ld(4, true).shift()), 0xffff_ffff_8382_8180);
        assert_eq!(load_value(d, 4, ld(4, false).shift()), 0x8382_8180);
        assert_eq!(load_value(d, 8, ld(8, true).shift()), 0x8786_8584_8382_8180);
        let p = [0x7f, 0x7f, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(load_value(p, 4, ld(4, true).shift()), 0x7f7f_7f7f);
        assert_eq!(load_value(p, 1, ld(1, true).shift()), 0x7f);
    }
}

#[path = "../../../../rust/kvm_riscv/pmu_logic.rs"]
mod pmu_logic;

#[path = "../../../../rust/kvm_riscv/sbi_logic.rs"]
mod sbi_logic;

/// The virtual PMU's arithmetic, against the SBI specification's encodings
/// and perf's ABI (`include/uapi/linux/perf_event.h`).
#[cfg(test)]
mod pmu_logic_tests {
    use super::pmu_logic::*;

    const HW: usize = 0x0_0000;
    const CACHE: usize = 0x1_0000;
    const RAW: usize = 0x2_0000;
    const RAW_V2: usize = 0x3_0000;
    const FW: usize = 0xf_0000;

    #[test]
    fn event_index_fields() {
        assert_eq!(event_type(HW | 1), EventType::Hw);
        assert_eq!(event_type(CACHE | 0x10), EventType::Cache);
        assert_eq!(event_type(RAW), EventType::Raw);
        assert_eq!(event_type(RAW_V2), EventType::RawV2);
        assert_eq!(event_type(FW | 4), EventType::Fw);
        assert_eq!(event_type(0x5_0000), EventType::Other(5));
        // Bits above the index are ignored, as upstream masks them.
        assert_eq!(event_type(0x10_0000 | FW | 3), EventType::Fw);
        assert_eq!(event_code(FW | 0x1234), 0x1234);
    }

    #[test]
    fn perf_types() {
        assert_eq!(perf_event_type(HW | 1), perf_type::HARDWARE);
        assert_eq!(perf_event_type(CACHE), perf_type::HW_CACHE);
        assert_eq!(perf_event_type(RAW), perf_type::RAW);
        assert_eq!(perf_event_type(RAW_V2), perf_type::RAW);
        assert_eq!(perf_event_type(FW), perf_type::RAW);
        assert_eq!(perf_event_type(0x7_0000), perf_type::MAX);
    }

    #[test]
    fn perf_configs() {
        // SBI_PMU_HW_CPU_CYCLES (1) .. REF_CPU_CYCLES (10) are perf's 0..9.
        for code in 1..=10usize {
            // CAST: a small code, widened.
            assert_eq!(perf_event_config(HW | code, 0), code as u64 - 1);
        }
        assert_eq!(perf_event_config(HW, 0), 0);
        assert_eq!(perf_event_config(HW | 11, 0), u64::MAX);
        // L1D (0) read (0) miss (1); LL (2) write (1) access (0); BPU (5)
        // prefetch (2) miss (1).
        assert_eq!(perf_event_config(CACHE | 0b000_00_1, 0), 0x1_00_00);
        assert_eq!(
            perf_event_config(CACHE | (2 << 3) | (1 << 1), 0),
            0x00_01_02
        );
        assert_eq!(
            perf_event_config(CACHE | (5 << 3) | (2 << 1) | 1, 0),
            0x01_02_05
        );
        // Out of perf's ranges: cache id 7, op 3.
        assert_eq!(perf_event_config(CACHE | (7 << 3), 0), u64::MAX);
        assert_eq!(perf_event_config(CACHE | (3 << 1), 0), u64::MAX);
        assert_eq!(perf_event_config(RAW, u64::MAX), (1 << 48) - 1);
        assert_eq!(perf_event_config(RAW_V2, u64::MAX), (1 << 56) - 1);
        assert_eq!(perf_event_config(FW | 4, 0), 1 << 63 | 4);
        assert_eq!(perf_event_config(FW | 21, 0), 1 << 63 | 21);
        assert_eq!(perf_event_config(FW | 22, 0), u64::MAX);
        assert_eq!(perf_event_config(0x4_0000, 7), u64::MAX);
    }

    #[test]
    fn sample_periods() {
        assert_eq!(sample_period(0, 63), u64::MAX);
        assert_eq!(sample_period(0, 47), (1 << 48) - 1);
        assert_eq!(sample_period(1, 63), u64::MAX);
        assert_eq!(sample_period(100, 47), (1 << 48) - 100);
        assert_eq!(sample_period((1 << 48) - 10, 47), 10);
    }

    #[test]
    fn counter_masks() {
        let c = Counters { hw: 17, fw: 22 };
        assert_eq!(c.total(), 39);
        assert!(c.valid_mask(0, 1));
        assert!(c.valid_mask(38, 1));
        assert!(c.valid_mask(0, (1 << 39) - 1));
        assert!(!c.valid_mask(0, 0));
        assert!(!c.valid_mask(39, 1));
        assert!(!c.valid_mask(0, 1 << 39));
        assert!(!c.valid_mask(1, (1 << 38) | 1));
        assert!(!c.valid_mask(usize::MAX, 1));
        assert!(!c.valid_mask(38, usize::MAX));
    }

    #[test]
    fn counter_choice() {
        let c = Counters { hw: 17, fw: 22 };
        // Cycles and instructions have fixed counters, whatever the mask.
        assert_eq!(c.pick(HW | 1, 5, 1, u64::MAX), Some(0));
        assert_eq!(c.pick(HW | 2, 5, 1, 0), Some(2));
        // Other hardware events: a free programmable counter, 3..hw.
        assert_eq!(c.pick(HW | 3, 0, usize::MAX, 0), Some(3));
        assert_eq!(c.pick(HW | 3, 0, usize::MAX, 0b1000), Some(4));
        assert_eq!(c.pick(CACHE, 0, 0b111, 0), None);
        assert_eq!(c.pick(RAW, 16, 0b11, 0), Some(16));
        assert_eq!(c.pick(RAW, 16, 0b11, 1 << 16), None);
        // Firmware events: counters hw..hw + fw.
        assert_eq!(c.pick(FW | 4, 0, usize::MAX, 0), Some(17));
        assert_eq!(c.pick(FW | 4, 17, 0b110, 1 << 18), Some(19));
        assert_eq!(c.pick(FW | 4, 38, 1, 0), Some(38));
        assert_eq!(c.pick(FW | 4, 0, 0xffff, 0), None);
    }

    #[test]
    fn counter_info_words() {
        assert_eq!(ctr_info(0xc00, 63, false), 0xc00 | 63 << 12);
        assert_eq!(ctr_info(0, 63, true), 63 << 12 | 1 << 63);
        assert_eq!(
            ctr_info_fields(ctr_info(0xc1f, 47, false)),
            (0xc1f, 47, false)
        );
        assert_eq!(ctr_info_fields(ctr_info(0, 63, true)), (0, 63, true));
        let c = Counters { hw: 17, fw: 22 };
        assert_eq!(
            initial_ctr_info(c, 0, 47, 0xc00),
            Some(ctr_info(0xc00, 63, false))
        );
        assert_eq!(initial_ctr_info(c, 1, 47, 0xc00), None);
        assert_eq!(
            initial_ctr_info(c, 2, 47, 0xc00),
            Some(ctr_info(0xc02, 63, false))
        );
        assert_eq!(
            initial_ctr_info(c, 3, 47, 0xc00),
            Some(ctr_info(0xc03, 47, false))
        );
        assert_eq!(
            initial_ctr_info(c, 16, 47, 0xc00),
            Some(ctr_info(0xc10, 47, false))
        );
        assert_eq!(
            initial_ctr_info(c, 17, 47, 0xc00),
            Some(ctr_info(0, 63, true))
        );
        assert_eq!(
            initial_ctr_info(c, 38, 47, 0xc00),
            Some(ctr_info(0, 63, true))
        );
        assert_eq!(initial_ctr_info(c, 39, 47, 0xc00), None);
    }
}

#[cfg(test)]
mod sbi_logic_tests {
    use super::sbi_logic::SbiError;

    #[test]
    fn codes_round_trip() {
        for code in -14..=0i64 {
            match SbiError::decode(code) {
                Ok(()) => assert_eq!(code, 0),
                Err(e) => assert_eq!(e.code(), code),
            }
        }
        assert_eq!(SbiError::decode(-99).unwrap_err().code(), -99);
        assert_eq!(SbiError::AlreadyStarted.code(), -7);
        assert_eq!(SbiError::NoShmem.code(), -9);
    }
}

#[path = "../../../../rust/kvm_riscv/isa_logic.rs"]
mod isa_logic;

/// The ISA extension table against the uapi ids and upstream 7.3's policies.
#[cfg(test)]
mod isa_logic_tests {
    use super::isa_logic::*;

    #[test]
    fn ids_are_the_uapi_ones() {
        assert_eq!(ALL.len(), 80);
        for (i, e) in ALL.iter().enumerate() {
            // CAST: a discriminant: the uapi id, below 80.
            assert_eq!(*e as usize, i);
            assert_eq!(Ext::from_id(i), Some(*e));
        }
        assert_eq!(Ext::from_id(80), None);
        assert_eq!(Ext::from_id(usize::MAX), None);
        // A sample of uapi ids.
        assert_eq!(Ext::A as u32, 0); // CAST: a uapi id.
        assert_eq!(Ext::H as u32, 4); // CAST: a uapi id.
        assert_eq!(Ext::SSAIA as u32, 14); // CAST: a uapi id.
        assert_eq!(Ext::SSCOFPMF as u32, 54); // CAST: a uapi id.
        assert_eq!(Ext::ZICCRSE as u32, 68); // CAST: a uapi id.
        assert_eq!(Ext::ZICFISS as u32, 79); // CAST: a uapi id.
    }

    #[test]
    fn ziccrse_cannot_be_disabled() {
        assert_eq!(Ext::ZICCRSE.disable(), Disable::No);
        assert_eq!(Ext::ZICCRSE.enable(), Enable::Yes);
    }

    #[test]
    fn enable_policies() {
        let special: Vec<_> = ALL
            .iter()
            .filter(|e| e.enable() != Enable::Yes)
            .map(|e| (*e, e.enable()))
            .collect();
        assert_eq!(
            special,
            [
                (Ext::H, Enable::No),
                (Ext::V, Enable::IfVectorUserAllowed),
                (Ext::SSCOFPMF, Enable::IfHostSsaia),
                (Ext::SVADU, Enable::IfHostSvadu),
            ]
        );
    }

    #[test]
    fn disable_policies() {
        let yes: Vec<_> = ALL
            .iter()
            .filter(|e| e.disable() == Disable::Yes)
            .copied()
            .collect();
        // What may be disabled: the ones with an enable bit somewhere.
        assert_eq!(
            yes,
            [
                Ext::D,
                Ext::F,
                Ext::H,
                Ext::SVPBMT,
                Ext::ZICBOM,
                Ext::ZICBOZ,
                Ext::V,
                Ext::SMSTATEEN,
                Ext::SMNPM,
                Ext::SVADU,
                Ext::ZCLSD,
                Ext::ZILSD,
                Ext::ZICFILP,
                Ext::ZICFISS,
            ]
        );
        assert_eq!(Ext::SSAIA.disable(), Disable::IfHostSmstateen);
        assert_eq!(Ext::SVADE.disable(), Disable::IfHostSvadu);
        let no = ALL.iter().filter(|e| e.disable() == Disable::No).count();
        assert_eq!(no + yes.len() + 2, ALL.len());
        for e in [
            Ext::A,
            Ext::C,
            Ext::I,
            Ext::M,
            Ext::SSTC,
            Ext::ZICNTR,
            Ext::ZIHPM,
            Ext::ZKR,
        ] {
            assert_eq!(e.disable(), Disable::No, "{e:?}");
        }
    }

    #[test]
    fn isa_bitmaps() {
        // Two words, as a vCPU's (RISCV_ISA_EXT_MAX = 128).
        let mut isa = [0usize; 2];
        assert!(!bitmap_has(&isa, 0));
        bitmap_assign(&mut isa, 0, true);
        bitmap_assign(&mut isa, 63, true);
        bitmap_assign(&mut isa, 64, true);
        bitmap_assign(&mut isa, 127, true);
        assert_eq!(isa, [1 | 1 << 63, 1 | 1 << 63]);
        for ext in [0, 63, 64, 127] {
            assert!(bitmap_has(&isa, ext), "{ext}");
        }
        for ext in [1, 62, 65, 126] {
            assert!(!bitmap_has(&isa, ext), "{ext}");
        }
        // Setting again changes nothing; clearing clears only that bit.
        bitmap_assign(&mut isa, 64, true);
        bitmap_assign(&mut isa, 64, false);
        assert_eq!(isa, [1 | 1 << 63, 1 << 63]);
        bitmap_assign(&mut isa, 64, false);
        assert_eq!(isa, [1 | 1 << 63, 1 << 63]);
        // Past the bitmap: never there, and nothing to change.
        assert!(!bitmap_has(&isa, 128));
        assert!(!bitmap_has(&isa, u32::MAX));
        bitmap_assign(&mut isa, 128, true);
        bitmap_assign(&mut isa, u32::MAX, true);
        assert_eq!(isa, [1 | 1 << 63, 1 << 63]);
        assert!(!bitmap_has(&[], 0));
    }
}

#[path = "../../../../rust/kvm_riscv/vcpu_config_logic.rs"]
mod vcpu_config_logic;

/// The vCPU configuration bits, from the privileged specification.
#[cfg(test)]
mod vcpu_config_logic_tests {
    use super::vcpu_config_logic::*;

    #[test]
    fn default_delegation() {
        // misaligned fetch, illegal, breakpoint, U ecall, the three page faults
        assert_eq!(HEDELEG_DEFAULT, 0b1011_0001_0000_1101);
        // VSSIP, VSTIP, VSEIP
        assert_eq!(HIDELEG_DEFAULT, 0x444);
        assert_eq!(
            hedeleg_for_debug(HEDELEG_DEFAULT, true),
            HEDELEG_DEFAULT & !8
        );
        assert_eq!(
            hedeleg_for_debug(HEDELEG_DEFAULT & !8, false),
            HEDELEG_DEFAULT
        );
        assert_eq!(hedeleg_for_debug(0, false), 8);
    }

    #[test]
    fn henvcfg_from_extensions() {
        let none = GuestExts::default();
        assert_eq!(henvcfg_bits(none), 0);
        let all = GuestExts {
            svpbmt: true,
            sstc: true,
            zicbom: true,
            zicboz: true,
            svadu: true,
            svade: false,
            ssaia: true,
            smstateen: true,
        };
        assert_eq!(henvcfg_bits(all), 1 << 63 | 1 << 62 | 1 << 61 | 0xf0);
        // With Svade the guest takes A/D faults: no hardware updating.
        assert_eq!(henvcfg_bits(GuestExts { svade: true, ..all }) & 1 << 61, 0);
        assert_eq!(
            henvcfg_bits(GuestExts {
                zicbom: true,
                ..none
            }),
            0x70
        );
        assert_eq!(
            henvcfg_bits(GuestExts {
                zicboz: true,
                ..none
            }),
            0x80
        );
    }

    #[test]
    fn hstateen0_from_extensions() {
        let none = GuestExts::default();
        assert_eq!(hstateen0_bits(none, false), 0);
        assert_eq!(
            hstateen0_bits(
                GuestExts {
                    ssaia: true,
                    smstateen: true,
                    ..none
                },
                false
            ),
            0
        );
        assert_eq!(hstateen0_bits(none, true), 1 << 62);
        assert_eq!(
            hstateen0_bits(
                GuestExts {
                    ssaia: true,
                    ..none
                },
                true
            ),
            1 << 62 | 0x7 << 58
        );
        assert_eq!(
            hstateen0_bits(
                GuestExts {
                    smstateen: true,
                    ..none
                },
                true
            ),
            1 << 63 | 1 << 62
        );
    }
}

#[path = "../../../../rust/kvm_riscv/onereg_logic.rs"]
mod onereg_logic;

/// ONE_REG ids: decode/encode round trips against ids spelled as the uapi
/// macros build them, and malformed ids.
#[cfg(test)]
mod onereg_logic_tests {
    use super::onereg_logic::*;

    #[test]
    fn multi_register_ids() {
        // Register 0 of 14 SBI extensions: bits 0..13.
        let ids: Vec<_> = multi_ids(0, 14).collect();
        assert_eq!(ids.len(), 14);
        assert_eq!(ids[0], (0, 0));
        assert_eq!(ids[13], (13, 13));
        // Register 1 of 80 ISA extensions: ids 64..79 on bits 0..15.
        let ids: Vec<_> = multi_ids(1, 80).collect();
        assert_eq!(ids.first(), Some(&(0, 64)));
        assert_eq!(ids.last(), Some(&(15, 79)));
        // Past the last register: nothing.
        assert_eq!(multi_ids(2, 80).count(), 0);
        assert_eq!(multi_reg_last(14), 0);
        assert_eq!(multi_reg_last(80), 1);
        assert_eq!(multi_reg_last(64), 0);
    }

    const U64: u64 = 0x0030_0000_0000_0000;
    const U32: u64 = 0x0020_0000_0000_0000;
    const RV: u64 = 0x8000_0000_0000_0000;

    #[test]
    fn decode_known_ids() {
        // KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CONFIG | isa
        let r = RegId::new(RV | U64 | 0x0100_0000);
        assert_eq!((r.class, r.size(), r.number()), (Some(Class::Config), 8, 0));
        // core regs.pc .. mode
        assert_eq!(
            RegId::new(RV | U64 | 0x0200_0000 | 32).number(),
            core_reg::MODE
        );
        // CSR AIA iprio2 (subtype 1, index 2)
        let r = RegId::new(RV | U64 | 0x0300_0000 | 0x1_0000 | 2);
        assert_eq!(
            (r.class, r.csr_sub(), r.index()),
            (Some(Class::Csr), Some(CsrSub::Aia), 2)
        );
        // ISA_EXT multi-disable register 1
        let r = RegId::new(RV | U64 | 0x0700_0000 | 0x2_0000 | 1);
        assert_eq!((r.ext_sub(), r.index()), (Some(ExtSub::MultiDis), 1));
        // FP_D fcsr is 32-bit
        let r = RegId::new(RV | U32 | 0x0600_0000 | 32);
        assert_eq!((r.class, r.size(), r.number()), (Some(Class::FpD), 4, 32));
        // SBI state (type 10) FWFT subtype
        let r = RegId::new(RV | U64 | 0x0a00_0000 | 0x1_0000 | 3);
        assert_eq!(
            (r.class, r.subtype(), r.index()),
            (Some(Class::SbiState), 1, 3)
        );
    }

    #[test]
    fn round_trips() {
        let classes = [
            Class::Config,
            Class::Core,
            Class::Csr,
            Class::Timer,
            Class::FpF,
            Class::FpD,
            Class::IsaExt,
            Class::SbiExt,
            Class::Vector,
            Class::SbiState,
        ];
        for class in classes {
            for sub in [0u64, 1, 3] {
                for index in [0u64, 1, 31, 0x1000, 0xffff] {
                    for size in [1usize, 4, 8, 16, 256] {
                        let id = encode(class, sub, index, size_field(size));
                        let r = RegId::new(id);
                        assert_eq!(r.class, Some(class));
                        assert_eq!(r.subtype(), sub);
                        assert_eq!(r.index(), index);
                        assert_eq!(r.size(), size);
                        assert_eq!(r.number(), sub << 16 | index);
                    }
                }
            }
        }
        assert_eq!(
            encode(Class::Config, 0, 0, KVM_REG_SIZE_U64),
            RV | U64 | 0x0100_0000
        );
    }

    #[test]
    fn malformed_ids() {
        // Unknown types.
        assert_eq!(RegId::new(RV | U64).class, None);
        assert_eq!(RegId::new(RV | U64 | 0x0b00_0000).class, None);
        assert_eq!(RegId::new(RV | U64 | 0xff00_0000).class, None);
        // Bits 51:32 stay in the register number: no register has them.
        let r = RegId::new(RV | U64 | 0x0100_0000 | 1 << 40);
        assert_eq!(r.number(), 1 << 40);
        assert!(r.number() >= config::COUNT);
        let r = RegId::new(RV | U64 | 0x0700_0000 | 1 << 32 | 5);
        assert_eq!(
            (r.ext_sub(), r.index()),
            (Some(ExtSub::Single), 1 << 32 | 5)
        );
        // Unknown subtypes.
        assert_eq!(
            RegId::new(RV | U64 | 0x0300_0000 | 0x4_0000).csr_sub(),
            None
        );
        assert_eq!(
            RegId::new(RV | U64 | 0x0700_0000 | 0x3_0000).ext_sub(),
            None
        );
        // The architecture field is not checked: the type decides.
        assert_eq!(RegId::new(U64 | 0x0200_0000).class, Some(Class::Core));
        // Wrong sizes are seen as such.
        assert_eq!(RegId::new(RV | U32 | 0x0100_0000).size(), 4);
        assert_eq!(RegId::new(RV | 0x0100_0000).size(), 1);
    }

    #[test]
    fn sip_and_hvip() {
        // SSIP, STIP, SEIP sit one bit up in HVIP; LCOFIP (13) stays.
        assert_eq!(vsip_to_hvip(1 << 1), 1 << 2);
        assert_eq!(
            vsip_to_hvip(1 << 5 | 1 << 9 | 1 << 13),
            1 << 6 | 1 << 10 | 1 << 13
        );
        assert_eq!(vsip_to_hvip(1 << 3 | 1 << 7 | 1 << 20), 0);
        assert_eq!(
            hvip_to_sip(1 << 2 | 1 << 6 | 1 << 10),
            1 << 1 | 1 << 5 | 1 << 9
        );
        assert_eq!(hvip_to_sip(1 << 13), 1 << 13);
        // Interrupts above the local ones are seen as they are.
        assert_eq!(hvip_to_sip(1 << 20 | 1 << 2), 1 << 20 | 1 << 1);
        assert_eq!(hvip_to_sip(1 << 12), 0);
    }

    #[test]
    fn multi_registers() {
        assert_eq!(multi_reg_last(80), 1);
        assert_eq!(multi_reg_last(64), 0);
        assert_eq!(multi_reg_last(65), 1);
    }

    #[test]
    fn multi_register_reads() {
        // Register 0 of 80: ids 0..63, each on its bit.
        let even = |id: u64| id % 2 == 0;
        assert_eq!(
            multi_get(ExtSub::MultiEn, 0, 80, even),
            Some(0x5555_5555_5555_5555)
        );
        // MULTI_DIS shows the same inverted, the bits past the last id too.
        assert_eq!(
            multi_get(ExtSub::MultiDis, 0, 80, even),
            Some(0xaaaa_aaaa_aaaa_aaaa)
        );
        // Register 1 of 80: ids 64..79 on bits 0..15, nothing above.
        assert_eq!(multi_get(ExtSub::MultiEn, 1, 80, |_| true), Some(0xffff));
        assert_eq!(
            multi_get(ExtSub::MultiDis, 1, 80, |_| true),
            Some(!0xffff)
        );
        assert_eq!(
            multi_get(ExtSub::MultiEn, 1, 80, |id| id == 79),
            Some(1 << 15)
        );
        assert_eq!(multi_get(ExtSub::MultiEn, 0, 14, |_| false), Some(0));
        assert_eq!(multi_get(ExtSub::MultiDis, 0, 14, |_| false), Some(!0));
        // Past the last register: -ENOENT for the caller.
        assert_eq!(multi_get(ExtSub::MultiEn, 2, 80, |_| true), None);
        assert_eq!(multi_get(ExtSub::MultiDis, 1, 64, |_| true), None);
        assert_eq!(multi_get(ExtSub::MultiEn, u64::MAX, 80, |_| true), None);
    }

    #[test]
    fn multi_register_writes() {
        let ids = |n, max, val| multi_set_ids(n, max, val).map(|i| i.collect::<Vec<_>>());
        assert_eq!(ids(0, 80, 0b1011), Some(vec![0, 1, 3]));
        assert_eq!(ids(0, 80, 0), Some(vec![]));
        assert_eq!(ids(0, 80, usize::MAX).map(|v| v.len()), Some(64));
        // Register 1 of 80: bits 0..15 name ids 64..79; higher bits nothing.
        assert_eq!(
            ids(1, 80, 1 << 0 | 1 << 15 | 1 << 16 | 1 << 63),
            Some(vec![64, 79])
        );
        // Register 0 of 14 SBI extensions: bits past 13 name nothing.
        assert_eq!(ids(0, 14, 1 << 13 | 1 << 14), Some(vec![13]));
        // Past the last register: -ENOENT for the caller, whatever the value.
        assert_eq!(ids(2, 80, 1), None);
        assert_eq!(ids(1, 14, 0), None);
    }
}

#[path = "../../../../rust/kvm_riscv/aia_logic.rs"]
mod aia_logic;

/// AIA: HVICTL, the IPRIO byte packing, VSISELECT, HGEI lines.
#[cfg(test)]
mod aia_logic_tests {
    use super::aia_logic::*;

    #[test]
    fn hvictl() {
        // IID = 9 (S external), IPRIO = 0: "no interrupt".
        assert_eq!(hvictl_value(false), 0x0009_0000);
        assert_eq!(hvictl_value(true), 0x0009_0001);
    }

    #[test]
    fn iprio_positions() {
        let with: Vec<usize> = (0..64).filter(|&i| iprio_bitpos(i).is_some()).collect();
        assert_eq!(
            with,
            [0, 1, 4, 5, 8, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]
        );
        // The external interrupts have no byte.
        for irq in [9, 10, 11] {
            assert_eq!(iprio_bitpos(irq), None);
        }
        assert_eq!(iprio_bitpos(13), Some(40));
        assert_eq!(iprio_bitpos(23), Some(120));
    }

    #[test]
    fn iprio_get_set() {
        let mut hv = Hviprio::default();
        hv.set(1, 0x11);
        hv.set(13, 0xd0);
        hv.set(16, 0x16);
        hv.set(23, 0xff);
        hv.set(9, 0x99); // read-only zero
        assert_eq!(hv.0, [0x0000_d000_0000_1100, 0xff00_0000_0000_0016]);
        assert_eq!(hv.get(1), 0x11);
        assert_eq!(hv.get(9), 0);
        hv.set(13, 0);
        assert_eq!(hv.0[0], 0x1100);
    }

    #[test]
    fn iprio_array_registers() {
        let mut hv = Hviprio::default();
        for irq in 0..24 {
            // CAST: irq is below 24.
            hv.set(irq, 0x40 + irq as u8);
        }
        // iprio0: interrupts 0..7, one byte each; 2, 3, 6, 7 read as 0.
        let IprioAccess::Done { old, new } = rmw_iprio(hv, 0x30, 0, 0) else {
            panic!()
        };
        assert_eq!(old, 0x0000_4544_0000_4140);
        assert_eq!(new, hv);
        // iprio2: 8..15 (9..12 have no byte).
        let IprioAccess::Done { old, .. } = rmw_iprio(hv, 0x32, 0, 0) else {
            panic!()
        };
        assert_eq!(old, 0x4f4e_4d00_0000_0048);
        // iprio4: 16..23.
        let IprioAccess::Done { old, .. } = rmw_iprio(hv, 0x34, 0, 0) else {
            panic!()
        };
        assert_eq!(old, 0x5756_5554_5352_5150);
        // Odd registers do not exist on RV64.
        assert_eq!(rmw_iprio(hv, 0x31, 0, 0), IprioAccess::Illegal);
        assert_eq!(rmw_iprio(hv, 0x3f, 0, u64::MAX), IprioAccess::Illegal);
        // A masked write changes the bytes of the mask only, and not the
        // read-only ones.
        let IprioAccess::Done { new, .. } = rmw_iprio(hv, 0x30, u64::MAX, 0xff00_ff00) else {
            panic!()
        };
        assert_eq!(new.get(1), 0xff);
        assert_eq!(new.get(3), 0);
        assert_eq!(new.get(0), 0x40);
        assert_eq!(new.get(4), 0x44);
        // Registers past the interrupts with bytes read 0, writes vanish.
        let IprioAccess::Done { old, new } = rmw_iprio(hv, 0x3e, u64::MAX, u64::MAX) else {
            panic!()
        };
        assert_eq!((old, new), (0, hv));
    }

    #[test]
    fn iselect() {
        assert_eq!(classify_isel(0x30, false), Ireg::Iprio(0x30));
        assert_eq!(classify_isel(0x3f, true), Ireg::Iprio(0x3f));
        assert_eq!(classify_isel(0x70, true), Ireg::Imsic(0x70));
        assert_eq!(classify_isel(0xff, true), Ireg::Imsic(0xff));
        assert_eq!(classify_isel(0x70, false), Ireg::User);
        assert_eq!(classify_isel(0x100, true), Ireg::User);
        // Only bits 8:0 count.
        assert_eq!(classify_isel(0x230, false), Ireg::Iprio(0x30));
        assert_eq!(classify_isel(0x2f, true), Ireg::User);
    }

    #[test]
    fn hgei_lines() {
        // 64 HGEIE bits stick: lines 1..63, capped by the guest files.
        assert_eq!(usable_hgei(usize::MAX, Some(5)), 5);
        assert_eq!(usable_hgei(0b11_1111, Some(7)), 5);
        assert_eq!(usable_hgei(0, Some(7)), 0);
        assert_eq!(usable_hgei(0b1, Some(7)), 0);
        assert_eq!(usable_hgei(usize::MAX, None), 0);
        assert_eq!(hgei_free_bitmap(0), 0);
        assert_eq!(hgei_free_bitmap(1), 0b10);
        assert_eq!(hgei_free_bitmap(5), 0b11_1110);
        assert_eq!(hgei_free_bitmap(63), usize::MAX & !1);
    }
}

#[path = "../../../../rust/kvm_riscv/vcpu_timer_logic.rs"]
mod vcpu_timer_logic;

#[cfg(test)]
mod vcpu_timer_logic_tests {
    use super::vcpu_timer_logic::*;

    #[test]
    fn register_numbers() {
        assert_eq!(TimerReg::from_number(0), Some(TimerReg::Frequency));
        assert_eq!(TimerReg::from_number(1), Some(TimerReg::Time));
        assert_eq!(TimerReg::from_number(2), Some(TimerReg::Compare));
        assert_eq!(TimerReg::from_number(3), Some(TimerReg::State));
        assert_eq!(TimerReg::from_number(4), None);
        // A subtype or a bit of 51:32 stays in the number.
        assert_eq!(TimerReg::from_number(1 << 16), None);
        assert_eq!(TimerReg::from_number((1 << 32) | 1), None);
    }

    #[test]
    fn cycles_to_ns_rounds_down_and_stops_at_zero() {
        // 10 MHz timebase: mult/2^shift = 100 ns per cycle.
        let (mult, shift) = (100 << 8, 8);
        assert_eq!(cycles_to_ns(1000, 1010, mult, shift), 1000);
        assert_eq!(cycles_to_ns(1010, 1010, mult, shift), 0);
        assert_eq!(cycles_to_ns(2000, 1010, mult, shift), 0);
        // A "never" compare value (-1) gives a huge delay, not a panic.
        assert_eq!(cycles_to_ns(0, u64::MAX, 1, 0), u64::MAX);
        // The product wraps like upstream's u64 arithmetic.
        assert_eq!(
            cycles_to_ns(0, u64::MAX, 4, 2),
            u64::MAX.wrapping_mul(4) >> 2
        );
        // A shift past the width gives 0 rather than a panic.
        assert_eq!(cycles_to_ns(0, 5, 1, 64), 0);
    }
}

#[path = "../../../../rust/kvm_riscv/vcpu_sbi_logic.rs"]
mod vcpu_sbi_logic;

#[cfg(test)]
mod vcpu_sbi_logic_tests {
    use super::vcpu_sbi_logic::*;

    #[test]
    fn status_round_trip() {
        for s in [
            ExtStatus::Uninitialized,
            ExtStatus::Unavailable,
            ExtStatus::Enabled,
            ExtStatus::Disabled,
        ] {
            assert_eq!(ExtStatus::from_raw(s.raw()), s);
        }
        assert_eq!(ExtStatus::from_raw(77), ExtStatus::Uninitialized);
    }

    #[test]
    fn completions() {
        let done = |ret, trapped, uexit, v01| {
            complete(
                Outcome {
                    ret,
                    trapped,
                    uexit,
                },
                v01,
            )
        };
        // A plain call: error and value to the guest, next instruction.
        let c = done(0, false, false, false);
        assert_eq!(
            (c.redirect, c.set_error, c.advance, c.set_value, c.ret),
            (false, true, true, true, 1)
        );
        // A legacy call keeps a1.
        let c = done(0, false, false, true);
        assert_eq!(
            (c.set_error, c.advance, c.set_value, c.ret),
            (true, true, false, 1)
        );
        // Forwarded to userspace: the guest waits at the ecall.
        let c = done(0, false, true, false);
        assert_eq!(
            (c.redirect, c.set_error, c.advance, c.set_value, c.ret),
            (false, false, false, false, 0)
        );
        // A trap for the guest wins over a userspace exit; a1 still gets
        // the value, as upstream.
        let c = done(0, true, true, false);
        assert_eq!(
            (c.redirect, c.set_error, c.advance, c.set_value, c.ret),
            (true, false, false, true, 1)
        );
        // A Linux error ends KVM_RUN and touches nothing.
        let c = done(-14, true, true, false);
        assert_eq!(
            (c.redirect, c.set_error, c.advance, c.set_value, c.ret),
            (false, false, false, false, -14)
        );
    }
}

/// The typed registers of `regs_logic.rs`: every field where the specification
/// puts it, and the accessors the `bitfield!` macro generates.
#[cfg(test)]
mod regs_logic_tests {
    use super::regs_logic::*;
    use core::fmt::Debug;

    /// The fields of a register, in declaration order, are the table's
    /// `(name, hi, lo)`, as the specification draws them.
    fn spec<R>(accessors: &[Accessor<R>], table: &[(&str, u32, u32)]) {
        let got: Vec<_> = accessors
            .iter()
            .map(|a| (a.name, a.field.hi(), a.field.shift()))
            .collect();
        assert_eq!(got, table);
    }

    /// Each field's getter reads its bits; its setter writes a value that
    /// the getter reads back, at the field's bits, cut to its width, and
    /// leaves every other bit alone; `DEFINED` is the union of the fields.
    fn accessors<R: Copy + PartialEq + Debug>(
        accessors: &[Accessor<R>],
        from_raw: fn(u64) -> R,
        into_raw: fn(R) -> u64,
        defined: u64,
    ) {
        let mut union = 0;
        for a in accessors {
            let (f, name) = (a.field, a.name);
            assert_eq!(union & f.mask(), 0, "{name} overlaps another field");
            union |= f.mask();
            for base in [0, u64::MAX, 0xa5a5_5a5a_0ff0_f00f, 0x5a5a_a5a5_f00f_0ff0] {
                let r = from_raw(base);
                assert_eq!(into_raw(r), base);
                assert_eq!((a.get)(r), f.extract(base), "{name} read from {base:#x}");
                for v in [
                    0,
                    1,
                    f.max(),
                    f.max() >> 1,
                    0x5555_5555_5555_5555 & f.max(),
                    u64::MAX,
                ] {
                    let w = into_raw((a.with)(r, v));
                    let want = v & f.max();
                    assert_eq!(
                        w & !f.mask(),
                        base & !f.mask(),
                        "{name} := {v:#x} on {base:#x}: other bits"
                    );
                    assert_eq!(
                        (w & f.mask()) >> f.shift(),
                        want,
                        "{name} := {v:#x} on {base:#x}: position"
                    );
                    assert_eq!(
                        (a.get)(from_raw(w)),
                        want,
                        "{name} := {v:#x} on {base:#x}: read back"
                    );
                }
            }
        }
        assert_eq!(union, defined);
    }

    #[test]
    fn set_bits() {
        assert_eq!(bits(0).count(), 0);
        assert_eq!(bits(0b1011).collect::<Vec<_>>(), vec![0, 1, 3]);
        assert_eq!(bits(1 << 63).collect::<Vec<_>>(), vec![63]);
    }

    #[test]
    fn field_arithmetic() {
        let f = Field::new(17, 12);
        assert_eq!(
            (f.hi(), f.shift(), f.width(), f.max(), f.mask()),
            (17, 12, 6, 0x3f, 0x3_f000)
        );
        assert_eq!(f.extract(0xfff_ffff), 0x3f);
        assert_eq!(f.extract(0x5000), 5);
        assert_eq!(f.insert(0, 0x7f), 0x3_f000);
        assert_eq!(f.insert(u64::MAX, 0), !0x3_f000);
        let all = Field::new(63, 0);
        assert_eq!(
            (all.width(), all.max(), all.mask()),
            (64, u64::MAX, u64::MAX)
        );
        assert_eq!(all.insert(5, 7), 7);
        let top = Field::new(63, 63);
        assert_eq!(
            (top.mask(), top.extract(1 << 63), top.insert(0, 3)),
            (1 << 63, 1, 1 << 63)
        );
        let bottom = Field::new(0, 0);
        assert_eq!(
            (bottom.mask(), bottom.insert(u64::MAX, 0)),
            (1, u64::MAX - 1)
        );
        assert_eq!(Field::union(&[f, top, bottom]), 0x3_f000 | 1 << 63 | 1);
    }

    #[test]
    #[should_panic(expected = "share a bit")]
    fn overlapping_fields_are_refused() {
        Field::union(&[Field::new(5, 4), Field::new(4, 4)]);
    }

    #[test]
    #[should_panic(expected = "upside down")]
    fn upside_down_ranges_are_refused() {
        Field::new(3, 4);
    }

    #[test]
    #[should_panic(expected = "past bit 63")]
    fn ranges_past_bit_63_are_refused() {
        Field::new(64, 60);
    }

    #[test]
    fn xlen_conversions() {
        for v in [0, 1, 1 << 63, u64::MAX] {
            assert_eq!(xlen_to_u64(u64_to_xlen(v)), v);
        }
        assert_eq!(u64_to_xlen(u64::MAX), usize::MAX);
    }

    #[test]
    fn sstatus() {
        #[rustfmt::skip]
        spec(Sstatus::ACCESSORS, &[
            ("SIE", 1, 1), ("SPIE", 5, 5), ("UBE", 6, 6), ("SPP", 8, 8), ("VS", 10, 9),
            ("FS", 14, 13), ("XS", 16, 15), ("SUM", 18, 18), ("MXR", 19, 19),
            ("SPELP", 23, 23), ("SDT", 24, 24), ("UXL", 33, 32), ("SD", 63, 63),
        ]);
        accessors(
            Sstatus::ACCESSORS,
            Sstatus::from_raw,
            Sstatus::into_raw,
            Sstatus::DEFINED,
        );
        let s = Sstatus::zeroed()
            .with_spp(true)
            .with_spie(true)
            .with_fs(ext_state::DIRTY)
            .with_sd(true);
        assert_eq!(s.into_raw(), 1 << 63 | 3 << 13 | 1 << 8 | 1 << 5);
        assert_eq!(
            Sstatus::from_raw(0x0000_0002_0000_4200).vs(),
            ext_state::INITIAL
        );
        assert_eq!(
            Sstatus::from_raw(0x0000_0002_0000_4200).fs(),
            ext_state::CLEAN
        );
        assert_eq!(Sstatus::from_raw(0x0000_0002_0000_4200).uxl(), 2);
        assert_eq!(
            (
                ext_state::OFF,
                ext_state::INITIAL,
                ext_state::CLEAN,
                ext_state::DIRTY
            ),
            (0, 1, 2, 3)
        );
    }

    #[test]
    fn hstatus() {
        #[rustfmt::skip]
        spec(Hstatus::ACCESSORS, &[
            ("VSBE", 5, 5), ("GVA", 6, 6), ("SPV", 7, 7), ("SPVP", 8, 8), ("HU", 9, 9),
            ("VGEIN", 17, 12), ("VTVM", 20, 20), ("VTW", 21, 21), ("VTSR", 22, 22),
            ("VSXL", 33, 32), ("HUPMM", 49, 48),
        ]);
        accessors(
            Hstatus::ACCESSORS,
            Hstatus::from_raw,
            Hstatus::into_raw,
            Hstatus::DEFINED,
        );
        // An RV64 guest (VSXL 2) on guest external line 5, back from VS-mode.
        let h = Hstatus::zeroed()
            .with_vsxl(2)
            .with_vgein(5)
            .with_spv(true)
            .with_spvp(true);
        assert_eq!(h.into_raw(), 0x2_0000_5180);
        assert_eq!(Hstatus::from_raw(0x2_0000_5180).vgein(), 5);
    }

    #[test]
    fn hvictl() {
        spec(
            Hvictl::ACCESSORS,
            &[
                ("IPRIO", 7, 0),
                ("IPRIOM", 8, 8),
                ("DPR", 9, 9),
                ("IID", 27, 16),
                ("VTI", 30, 30),
            ],
        );
        accessors(
            Hvictl::ACCESSORS,
            Hvictl::from_raw,
            Hvictl::into_raw,
            Hvictl::DEFINED,
        );
        assert_eq!(
            Hvictl::zeroed().with_vti(true).with_iid(0xfff).into_raw(),
            0x4fff_0000
        );
    }

    #[test]
    fn hvip() {
        spec(
            Hvip::ACCESSORS,
            &[
                ("VSSIP", 2, 2),
                ("VSTIP", 6, 6),
                ("VSEIP", 10, 10),
                ("LCOFIP", 13, 13),
            ],
        );
        accessors(
            Hvip::ACCESSORS,
            Hvip::from_raw,
            Hvip::into_raw,
            Hvip::DEFINED,
        );
        assert_eq!(Hvip::DEFINED, 0x2444);
    }

    #[test]
    fn henvcfg() {
        #[rustfmt::skip]
        spec(Henvcfg::ACCESSORS, &[
            ("FIOM", 0, 0), ("LPE", 2, 2), ("SSE", 3, 3), ("CBIE", 5, 4), ("CBCFE", 6, 6),
            ("CBZE", 7, 7), ("PMM", 33, 32), ("DTE", 59, 59), ("ADUE", 61, 61),
            ("PBMTE", 62, 62), ("STCE", 63, 63),
        ]);
        accessors(
            Henvcfg::ACCESSORS,
            Henvcfg::from_raw,
            Henvcfg::into_raw,
            Henvcfg::DEFINED,
        );
        assert_eq!((cbie::ILLEGAL, cbie::FLUSH, cbie::INVALIDATE), (0, 1, 3));
        assert_eq!(Henvcfg::zeroed().with_cbie(cbie::FLUSH).into_raw(), 0x10);
    }

    #[test]
    fn hstateen0() {
        #[rustfmt::skip]
        spec(Hstateen0::ACCESSORS, &[
            ("C", 0, 0), ("FCSR", 1, 1), ("JVT", 2, 2), ("CONTEXT", 57, 57), ("IMSIC", 58, 58),
            ("AIA", 59, 59), ("CSRIND", 60, 60), ("ENVCFG", 62, 62), ("SE0", 63, 63),
        ]);
        accessors(
            Hstateen0::ACCESSORS,
            Hstateen0::from_raw,
            Hstateen0::into_raw,
            Hstateen0::DEFINED,
        );
    }

    #[test]
    fn sbi_pmu_words() {
        spec(EventIdx::ACCESSORS, &[("CODE", 15, 0), ("TYPE", 19, 16)]);
        accessors(
            EventIdx::ACCESSORS,
            EventIdx::from_raw,
            EventIdx::into_raw,
            EventIdx::DEFINED,
        );
        // SBI_PMU_EVENT_IDX_MASK: the 20 bits of an event index.
        assert_eq!(EventIdx::DEFINED, 0xf_ffff);
        spec(
            CacheEvent::ACCESSORS,
            &[("RESULT", 0, 0), ("OP", 2, 1), ("ID", 15, 3)],
        );
        accessors(
            CacheEvent::ACCESSORS,
            CacheEvent::from_raw,
            CacheEvent::into_raw,
            CacheEvent::DEFINED,
        );
        spec(
            CtrInfo::ACCESSORS,
            &[("CSR", 11, 0), ("WIDTH", 17, 12), ("TYPE", 63, 63)],
        );
        accessors(
            CtrInfo::ACCESSORS,
            CtrInfo::from_raw,
            CtrInfo::into_raw,
            CtrInfo::DEFINED,
        );
        let c = CtrInfo::zeroed()
            .with_csr(0xc03)
            .with_width(47)
            .with_firmware(false);
        assert_eq!(c.into_raw(), 0x2f_c03);
    }

    #[test]
    fn hfence_config() {
        #[rustfmt::skip]
        spec(HfenceConfig::ACCESSORS, &[
            ("ASID", 15, 0), ("VMID", 29, 16), ("ORDER", 54, 48), ("TYPE", 59, 56), ("PEND", 63, 63),
        ]);
        accessors(
            HfenceConfig::ACCESSORS,
            HfenceConfig::from_raw,
            HfenceConfig::into_raw,
            HfenceConfig::DEFINED,
        );
        // Reserved: 62:60, 55, 47:30.
        assert_eq!(!HfenceConfig::DEFINED, 0x7 << 60 | 1 << 55 | 0x3_ffff << 30);
    }

    #[test]
    fn one_reg_id() {
        #[rustfmt::skip]
        spec(OneRegId::ACCESSORS, &[
            ("SUBTYPE", 23, 16), ("TYPE", 31, 24), ("SIZE", 55, 52), ("ARCH", 63, 56),
        ]);
        accessors(
            OneRegId::ACCESSORS,
            OneRegId::from_raw,
            OneRegId::into_raw,
            OneRegId::DEFINED,
        );
        // KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CSR | AIA | 2
        let id = OneRegId::from_raw(0x8030_0000_0301_0002);
        assert_eq!(
            (id.arch(), id.size_log2(), id.reg_type(), id.subtype()),
            (0x80, 3, 3, 1)
        );
    }

    #[test]
    fn conversions_and_debug() {
        let h = Hvictl::zeroed().with_iid(9).with_iprio(1);
        assert_eq!(u64::from(h), 0x9_0001);
        assert_eq!(Hvictl::from(0x9_0001u64), h);
        assert_eq!(Hvictl::default(), Hvictl::zeroed());
        assert_eq!(
            format!("{h:?}"),
            "Hvictl { raw: 0x90001, iprio: 1, ipriom: false, dpr: false, iid: 9, vti: false }"
        );
    }
}

/// The typed forms of the pure modules' words agree with the untyped ones.
#[cfg(test)]
mod typed_api_tests {
    #[test]
    fn henvcfg_and_hstateen0() {
        use super::vcpu_config_logic::*;
        use super::regs_logic::cbie;
        let none = GuestExts::default();
        let all = GuestExts {
            svpbmt: true,
            sstc: true,
            zicbom: true,
            zicboz: true,
            svadu: true,
            svade: false,
            ssaia: true,
            smstateen: true,
        };
        let h = henvcfg(all);
        assert!(h.pbmte() && h.stce() && h.cbcfe() && h.cbze() && h.adue());
        assert_eq!(h.cbie(), cbie::INVALIDATE);
        assert!(!h.fiom() && !h.lpe() && !h.sse() && !h.dte());
        assert_eq!(h.pmm(), 0);
        assert_eq!(henvcfg(none).cbie(), cbie::ILLEGAL);
        for g in [
            none,
            all,
            GuestExts { svade: true, ..all },
            GuestExts {
                zicboz: true,
                ..none
            },
        ] {
            assert_eq!(henvcfg(g).into_raw(), henvcfg_bits(g));
            for host in [false, true] {
                assert_eq!(hstateen0(g, host).into_raw(), hstateen0_bits(g, host));
            }
        }
        let s = hstateen0(
            GuestExts {
                ssaia: true,
                ..none
            },
            true,
        );
        assert!(s.envcfg() && s.imsic() && s.aia() && s.csrind() && !s.se0() && !s.c());
        // The constants the kernel build checks against its headers.
        assert_eq!(
            (
                envcfg::CBIE,
                envcfg::CBCFE,
                envcfg::CBZE,
                envcfg::ADUE,
                envcfg::PBMTE,
                envcfg::STCE
            ),
            (0x30, 0x40, 0x80, 1 << 61, 1 << 62, 1 << 63)
        );
        assert_eq!(
            (
                stateen0::AIA_IMSIC,
                stateen0::AIA,
                stateen0::AIA_ISEL,
                stateen0::HSENVCFG,
                stateen0::SSTATEEN0
            ),
            (1 << 58, 1 << 59, 1 << 60, 1 << 62, 1 << 63)
        );
    }

    #[test]
    fn hvictl() {
        use super::aia_logic::*;
        let h = hvictl(true);
        assert_eq!(
            (h.iid(), h.iprio(), h.ipriom(), h.dpr(), h.vti()),
            (9, 1, false, false, false)
        );
        assert_eq!(hvictl(false).iprio(), 0);
        assert_eq!((HVICTL_IID, HVICTL_IID_SHIFT), (0xfff_0000, 16));
    }

    #[test]
    fn counter_info() {
        use super::pmu_logic::*;
        let c = ctr_info_word(0xc03, 47, false);
        assert_eq!((c.csr(), c.width(), c.firmware()), (0xc03, 47, false));
        // Bits past the fields are dropped, as the untyped word did.
        let c = ctr_info_word(0x1_2c03, 0x7f, true);
        assert_eq!((c.csr(), c.width(), c.firmware()), (0xc03, 0x3f, true));
        assert_eq!(ctr_info(0x1_2c03, 0x7f, true), 0xc03 | 0x3f << 12 | 1 << 63);
    }

    #[test]
    fn hfence_config_words() {
        use super::nacl_logic::*;
        let c = hfence_config_word(HfenceType::VvmaAsid, 21, 5, 7);
        assert_eq!(
            (c.pending(), c.kind(), c.order(), c.vmid(), c.asid()),
            (true, 6, 9, 5, 7)
        );
        // The fences without an address: Order zero, whatever was asked.
        let c = hfence_config_word(HfenceType::GvmaAll, 0, 0, 0);
        assert_eq!((c.kind(), c.order()), (1, 0));
        let c = hfence_config_word(HfenceType::VvmaAsidAll, 0, 3, 4);
        assert_eq!((c.order(), c.vmid(), c.asid()), (0, 3, 4));
        // VMID and ASID are cut to their widths, where the type uses them.
        let c = hfence_config_word(HfenceType::VvmaAsid, 12, 0xffff_ffff, 0xf_ffff);
        assert_eq!((c.order(), c.vmid(), c.asid()), (0, 0x3fff, 0xffff));
        let c = hfence_config_word(HfenceType::Gvma, 12, 0xffff_ffff, 0xf_ffff);
        assert_eq!((c.order(), c.vmid(), c.asid()), (0, 0, 0));
        assert_eq!(HFENCE_CONFIG_PEND, 1 << 63);
    }

    #[test]
    fn one_reg_constants() {
        use super::onereg_logic::*;
        assert_eq!((KVM_REG_ARCH_MASK, KVM_REG_RISCV), (0xff << 56, 0x80 << 56));
        assert_eq!((KVM_REG_SIZE_MASK, KVM_REG_SIZE_SHIFT), (0xf << 52, 52));
        assert_eq!((KVM_REG_SIZE_U32, KVM_REG_SIZE_U64), (2 << 52, 3 << 52));
        assert_eq!(
            (TYPE_MASK, TYPE_SHIFT, SUBTYPE_MASK, SUBTYPE_SHIFT),
            (0xff << 24, 24, 0xff << 16, 16)
        );
    }
}

/// The house rule on casts: in the files this crate tests, every `as` cast
/// has a `// CAST:` justification, on its line or in the comment just above
/// it.
#[cfg(test)]
mod cast_rule_tests {
    const FILES: [(&str, &str); 14] = [
        (
            "aia_logic.rs",
            include_str!("../../../../rust/kvm_riscv/aia_logic.rs"),
        ),
        (
            "vcpu_config_logic.rs",
            include_str!("../../../../rust/kvm_riscv/vcpu_config_logic.rs"),
        ),
        (
            "csr_logic.rs",
            include_str!("../../../../rust/kvm_riscv/csr_logic.rs"),
        ),
        (
            "vcpu_insn_logic.rs",
            include_str!("../../../../rust/kvm_riscv/vcpu_insn_logic.rs"),
        ),
        (
            "isa_logic.rs",
            include_str!("../../../../rust/kvm_riscv/isa_logic.rs"),
        ),
        (
            "nacl_logic.rs",
            include_str!("../../../../rust/kvm_riscv/nacl_logic.rs"),
        ),
        (
            "pmu_logic.rs",
            include_str!("../../../../rust/kvm_riscv/pmu_logic.rs"),
        ),
        (
            "onereg_logic.rs",
            include_str!("../../../../rust/kvm_riscv/onereg_logic.rs"),
        ),
        (
            "regs_logic.rs",
            include_str!("../../../../rust/kvm_riscv/regs_logic.rs"),
        ),
        (
            "main_logic.rs",
            include_str!("../../../../rust/kvm_riscv/main_logic.rs"),
        ),
        (
            "vcpu_sbi_logic.rs",
            include_str!("../../../../rust/kvm_riscv/vcpu_sbi_logic.rs"),
        ),
        (
            "vcpu_timer_logic.rs",
            include_str!("../../../../rust/kvm_riscv/vcpu_timer_logic.rs"),
        ),
        (
            "vcpu_exit_logic.rs",
            include_str!("../../../../rust/kvm_riscv/vcpu_exit_logic.rs"),
        ),
        ("lib.rs", include_str!("lib.rs")),
    ];

    /// Does this line of code hold an `as` cast to a primitive (or to a
    /// macro's type parameter)? Comments and string literals do not count.
    fn has_cast(line: &str) -> bool {
        let code: String = line.split('"').step_by(2).collect::<Vec<_>>().join(" ");
        let code = code.split("//").next().unwrap_or("");
        let words: Vec<&str> = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .collect();
        words.windows(2).any(|w| {
            w[0] == "as"
                && (w[1].starts_with('$')
                    || [
                        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
                        "i128", "isize", "bool", "char", "f32", "f64", "_",
                    ]
                    .contains(&w[1]))
        })
    }

    fn is_comment(line: &str) -> bool {
        line.trim_start().starts_with("//")
    }

    /// The `file:line`s of the casts without a justification.
    fn unjustified(file: &str, text: &str) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let mut bad = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if is_comment(line) || !has_cast(line) || line.contains("CAST:") {
                continue;
            }
            let justified = lines[..i]
                .iter()
                .rev()
                .take_while(|l| is_comment(l))
                .any(|l| l.contains("// CAST:"));
            if !justified {
                bad.push(format!("{file}:{}: {}", i + 1, line.trim()));
            }
        }
        bad
    }

    #[test]
    fn the_scan_sees_casts() {
        assert!(has_cast("    let c = csr as usize;"));
        assert!(has_cast("        v as $ty"));
        assert!(!has_cast("    // as usize"));
        assert!(!has_cast("    let x = y; // as u8 upstream"));
        assert!(!has_cast("    use crate::nacl_logic as layout;"));
        assert!(!has_cast("    u64::from(x)"));
        assert_eq!(
            unjustified("t", "let a = 1;\nlet b = a as u8;\n"),
            ["t:2: let b = a as u8;"]
        );
        assert!(unjustified(
            "t",
            "// CAST: small.\n// More.\nlet b = a as u8;\nlet c = a as u16; // CAST: too.\n"
        )
        .is_empty());
        assert_eq!(
            unjustified(
                "t",
                "// CAST: small.\nlet b = a as u8;\nlet c = a as u16;\n"
            )
            .len(),
            1
        );
        assert_eq!(
            unjustified("t", "// CAST: small.\nlet b = 1;\nlet c = a as u16;\n").len(),
            1
        );
    }

    #[test]
    fn every_cast_is_justified() {
        let bad: Vec<String> = FILES.iter().flat_map(|(f, t)| unjustified(f, t)).collect();
        assert!(
            bad.is_empty(),
            "casts without a // CAST: comment:\n{}",
            bad.join("\n")
        );
    }
}

#[path = "../../../../rust/kvm_riscv/tlb_logic.rs"]
mod tlb_logic;

#[path = "../../../../rust/kvm_riscv/vmid_logic.rs"]
mod vmid_logic;

#[path = "../../../../rust/kvm_riscv/gstage_logic.rs"]
mod gstage_logic;

#[cfg(test)]
mod fence_encoding_tests {
    use super::csr_logic::*;

    #[test]
    fn fence_words_as_the_specification_gives_them() {
        // hfence.gvma x0, x0 / hfence.vvma x0, x0 (funct7 0110001 / 0010001)
        assert_eq!(encode_fence(Fence::HfenceGvma, 0, 0), 0x6200_0073);
        assert_eq!(encode_fence(Fence::HfenceVvma, 0, 0), 0x2200_0073);
        // hfence.gvma a0, a1: rs1 = 10, rs2 = 11
        assert_eq!(encode_fence(Fence::HfenceGvma, 10, 11), 0x62b5_0073);
        // hinval.vvma / hinval.gvma (funct7 0010011 / 0110011)
        assert_eq!(encode_fence(Fence::HinvalVvma, 0, 0), 0x2600_0073);
        assert_eq!(encode_fence(Fence::HinvalGvma, 0, 0), 0x6600_0073);
        // sfence.w.inval (rs2 0) and sfence.inval.ir (rs2 1)
        assert_eq!(encode_fence(Fence::SfenceInval, 0, 0), 0x1800_0073);
        assert_eq!(encode_fence(Fence::SfenceInval, 0, 1), 0x1810_0073);
    }
}

#[cfg(test)]
mod tlb_logic_tests {
    use super::tlb_logic::*;

    impl Slot for Option<Hfence> {
        fn get(&self) -> Option<Hfence> {
            *self
        }
        fn put(&mut self, h: &Hfence) {
            *self = Some(*h);
        }
        fn free(&mut self) {
            *self = None;
        }
    }

    fn req(n: u64) -> Hfence {
        Hfence {
            kind: HfenceKind::GvmaVmidGpa,
            asid: 0,
            vmid: 7,
            order: 12,
            addr: n << 12,
            size: 4096,
        }
    }

    #[test]
    fn queue_fills_then_refuses_then_wraps() {
        let mut q = [None; 64];
        let (mut head, mut tail) = (0usize, 0usize);
        for n in 0..64 {
            assert!(enqueue(&mut q, &mut tail, &req(n)), "slot {n}");
        }
        assert_eq!(tail, 0, "tail wrapped to the start");
        // Full: the 65th is refused and changes nothing.
        assert!(!enqueue(&mut q, &mut tail, &req(64)));
        assert_eq!(tail, 0);
        // Two out, in order; then two fit again, at the wrapped tail.
        assert_eq!(dequeue(&mut q, &mut head), Some(req(0)));
        assert_eq!(dequeue(&mut q, &mut head), Some(req(1)));
        assert!(enqueue(&mut q, &mut tail, &req(64)));
        assert!(enqueue(&mut q, &mut tail, &req(65)));
        assert!(!enqueue(&mut q, &mut tail, &req(66)));
        // Everything comes out in order, across the wrap.
        let mut got = vec![];
        while let Some(h) = dequeue(&mut q, &mut head) {
            got.push(h.addr >> 12);
        }
        assert_eq!(got, (2..66).collect::<Vec<_>>());
        assert_eq!(head, 2);
        assert_eq!(dequeue(&mut q, &mut head), None);
    }

    #[test]
    fn queue_indices_out_of_the_ring_do_not_panic() {
        let mut q = [None; 4];
        let mut i = 9;
        assert!(!enqueue(&mut q, &mut i, &req(0)));
        assert_eq!(dequeue(&mut q, &mut i), None);
    }

    #[test]
    fn kinds_and_their_fallbacks() {
        use HfenceKind::*;
        for (raw, k) in [(1, GvmaVmidGpa), (2, GvmaVmidAll), (3, VvmaAsidGva), (4, VvmaAsidAll), (5, VvmaGva), (6, VvmaAll)] {
            assert_eq!(HfenceKind::from_raw(raw), Some(k));
            assert_eq!(k.raw(), raw);
        }
        assert_eq!(HfenceKind::from_raw(0), None, "0 is a free slot");
        assert_eq!(HfenceKind::from_raw(7), None);
        assert_eq!(GvmaVmidGpa.coarser(), Coarser::GvmaVmidAll);
        assert_eq!(GvmaVmidAll.coarser(), Coarser::GvmaVmidAll);
        for k in [VvmaAsidGva, VvmaAsidAll, VvmaGva, VvmaAll] {
            assert_eq!(k.coarser(), Coarser::VvmaAll);
            assert!(k.is_vvma());
        }
        assert!(VvmaAsidGva.has_asid() && VvmaAsidAll.has_asid());
        assert!(!VvmaGva.has_asid() && !VvmaAll.has_asid() && !GvmaVmidGpa.has_asid());
    }

    #[test]
    fn hart_masks() {
        assert!(HartMask::ALL.has(0) && HartMask::ALL.has(5000));
        let m = HartMask { base: 4, mask: 0b101 };
        assert!(!m.has(3) && m.has(4) && !m.has(5) && m.has(6) && !m.has(7));
        let top = HartMask { base: 64, mask: 1 << 63 };
        assert!(top.has(127) && !top.has(128) && !top.has(63));
        // A base so high that base + 64 wraps names nobody, as upstream.
        let wrap = HartMask { base: usize::MAX - 10, mask: usize::MAX };
        assert!(!wrap.has(0) && !wrap.has(53) && !wrap.has(100));
    }

    #[test]
    fn ranged_fences() {
        let pages = |a, s, o| fence_pages(a, s, o).map(|p| p.collect::<Vec<_>>());
        assert_eq!(pages(0x1000, 0x3000, 12), Some(vec![0x1000, 0x2000, 0x3000]));
        // A partial last page is fenced once.
        assert_eq!(pages(0x1000, 0x1800, 12), Some(vec![0x1000, 0x2000]));
        assert_eq!(pages(0x1000, 0, 12), Some(vec![]));
        // 2 MiB pages.
        assert_eq!(pages(0x20_0000, 0x40_0000, 21), Some(vec![0x20_0000, 0x40_0000]));
        // 512 pages still ranged; 513 pages flushed whole.
        assert_eq!(pages(0, 512 << 12, 12).map(|v| v.len()), Some(512));
        assert_eq!(pages(0, 513 << 12, 12), None);
        // A range that wraps is flushed whole.
        assert_eq!(pages(u64::MAX - 0xfff, 0x2000, 12), None);
        // A range that ends at the last byte: the walk stops at its last
        // page without computing the next address, which would wrap.
        assert_eq!(pages(u64::MAX - 0x1ffe, 0x1ffe, 12), Some(vec![u64::MAX - 0x1ffe, u64::MAX - 0xffe]));
        assert_eq!(pages(u64::MAX - 0x1ffe, 0x1fff, 12), None, "one past the end wraps: whole");
        // An order that is not a shift: whole.
        assert_eq!(pages(0, 0x1000, 64), None);
    }
}

#[cfg(test)]
mod vmid_logic_tests {
    use super::vmid_logic::*;

    #[test]
    fn usable_bits() {
        assert_eq!(usable_vmid_bits(0x3fff, 2), 14);
        assert_eq!(usable_vmid_bits(0, 1), 0);
        // 2 bits: 4 VMIDs for 4 CPUs is enough, for 5 it is not.
        assert_eq!(usable_vmid_bits(0b11, 4), 2);
        assert_eq!(usable_vmid_bits(0b11, 5), 0);
        // Only the highest set bit counts (fls_long()).
        assert_eq!(usable_vmid_bits(0b100, 1), 3);
        assert_eq!(usable_vmid_bits(usize::MAX, 1024), 64);
    }

    #[test]
    fn allocation_and_rollover() {
        let mut a = VmidAllocator::new();
        let mut version = 1;
        // The first allocation starts version 2 (upstream starts at 1 and
        // bumps it on the first use of vmid_next 0).
        let x = a.alloc(2, version);
        assert_eq!(x, Allocation { vmid: 1, version: 2, new_version: true });
        version = x.version;
        let y = a.alloc(2, version);
        assert_eq!(y, Allocation { vmid: 2, version: 2, new_version: false });
        let z = a.alloc(2, version);
        assert_eq!(z, Allocation { vmid: 3, version: 2, new_version: false });
        // 2 bits: 1, 2, 3, then a new version from 1 again (0 is never handed out).
        let w = a.alloc(2, version);
        assert_eq!(w, Allocation { vmid: 1, version: 3, new_version: true });
        version = w.version;
        assert_eq!(a.alloc(2, version).vmid, 2);
        // 14 bits: 16383 VMIDs a version.
        let mut b = VmidAllocator::new();
        let mut v = 1;
        let mut rollovers = 0;
        for i in 0..(3 * 16383) {
            let r = b.alloc(14, v);
            assert!(r.vmid >= 1 && r.vmid < (1 << 14), "{i}: {r:?}");
            if r.new_version {
                rollovers += 1;
                v = r.version;
            }
        }
        assert_eq!(rollovers, 3);
        assert_eq!(v, 4);
    }

    #[test]
    fn vmid_mask_is_hgatp_57_44() {
        assert_eq!(HGATP_VMID_MASK, 0x03ff_f000_0000_0000);
    }
}

#[cfg(test)]
mod gstage_logic_tests {
    use super::gstage_logic::*;

    #[test]
    fn hgatp_modes() {
        assert_eq!(hgatp_mode(3), 8);
        assert_eq!(hgatp_mode(4), 9);
        assert_eq!(hgatp_mode(5), 10);
        assert_eq!(hgatp_mode(2), 1);
        assert_eq!(hgatp_mode(6), 0);
    }
}

#[cfg(test)]
mod gstage_walker_tests {
    use super::gstage_logic::*;

    /// Simulated table memory: table `i` has PFN `BASE + i`; table 0 is
    /// the root (2048 entries).
    struct Sim {
        shape: Shape,
        fmt: PteFormat,
        tables: Vec<Vec<u64>>,
        cache: usize,
        freed: Vec<usize>,
        flushes: Vec<(u32, u64)>,
        warnings: Vec<Warning>,
        wmbs: usize,
    }

    const BASE: u64 = 0x8_0000;

    impl Sim {
        fn new(levels: u32, cache: usize) -> Self {
            Sim {
                shape: Shape { levels },
                fmt: PteFormat::SPEC,
                tables: vec![vec![0; PTRS_PER_TABLE << PGD_XBITS]],
                cache,
                freed: vec![],
                flushes: vec![],
                warnings: vec![],
                wmbs: 0,
            }
        }
        fn live_tables(&self) -> usize {
            self.tables.len() - self.freed.len()
        }
    }

    impl PageTables for Sim {
        type Table = usize;
        fn root(&self) -> usize {
            0
        }
        fn shape(&self) -> Shape {
            self.shape
        }
        fn format(&self) -> &PteFormat {
            &self.fmt
        }
        fn get(&self, p: Ptep<usize>) -> u64 {
            self.tables[p.table][p.index]
        }
        fn set(&mut self, p: Ptep<usize>, v: u64) {
            self.tables[p.table][p.index] = v;
        }
        fn cmpxchg(&mut self, p: Ptep<usize>, old: u64, new: u64) -> bool {
            let e = &mut self.tables[p.table][p.index];
            if *e == old {
                *e = new;
                true
            } else {
                false
            }
        }
        fn table_of(&self, v: u64) -> usize {
            assert!(!is_leaf(v) && v & pte::VALID != 0, "not a table pointer: {v:#x}");
            // CAST: a table number of the simulation, small.
            (pte_pfn(v) - BASE) as usize
        }
        fn alloc_table(&mut self) -> Option<(usize, u64)> {
            if self.cache == 0 {
                return None;
            }
            self.cache -= 1;
            self.tables.push(vec![0; PTRS_PER_TABLE]);
            let i = self.tables.len() - 1;
            // CAST: a table number of the simulation, small.
            Some((i, BASE + i as u64))
        }
        fn free_table(&mut self, t: usize) {
            assert!(!self.freed.contains(&t), "table {t} freed twice");
            self.freed.push(t);
        }
        fn wmb(&self) {}
        fn flush(&mut self, order: u32, addr: u64) {
            assert_eq!(addr & ((1 << order) - 1), 0, "flush of an unaligned address");
            self.flushes.push((order, addr));
        }
        fn warn(&mut self, w: Warning) {
            self.warnings.push(w);
        }
    }

    const PAGE: u64 = 1 << 12;
    const HUGE_2M: u64 = 1 << 21;
    const HUGE_1G: u64 = 1 << 30;

    fn leaf_pfn(t: &Sim, gpa: u64) -> Option<(u64, u32)> {
        get_leaf(t, gpa).ok().map(|(p, l)| (pte_pfn(t.get(p)), l))
    }

    #[test]
    fn shapes() {
        for (levels, bits) in [(3, 41), (4, 50), (5, 59)] {
            let s = Shape { levels };
            assert_eq!(s.gpa_bits(), bits, "Sv{}x4", 39 + 9 * (levels - 3));
            assert_eq!(s.level_of(PAGE), Some(0));
            assert_eq!(s.level_of(HUGE_2M), Some(1));
            assert_eq!(s.level_of(HUGE_1G), Some(2));
            assert_eq!(s.level_of(1 << 39), if levels > 3 { Some(3) } else { None });
            assert_eq!(s.level_of(3 * PAGE), None);
            assert_eq!(s.order(levels), Some(12 + 9 * levels));
            assert_eq!(s.order(levels + 1), None);
        }
    }

    /// `free_all` (VM teardown) unlinks and frees every table below the
    /// root, leaves and huge leaves included, at every level count; the
    /// range unmap upstream uses instead frees none of them.
    #[test]
    fn free_all_frees_every_table() {
        for levels in [3, 4, 5] {
            let mut t = Sim::new(levels, 1000);
            let top = 1u64 << (12 + 9 * levels + 2);
            for (i, gpa) in [0, PAGE, 7 * HUGE_2M, HUGE_1G + PAGE, top / 2, top - PAGE].into_iter().enumerate() {
                let m = Mapping { addr: gpa, pte: t.fmt.leaf(0x100 + u64::try_from(i).unwrap(), Prot::Write), level: 0 };
                set_pte(&mut t, &m).unwrap();
            }
            let m = Mapping { addr: 5 * HUGE_2M, pte: t.fmt.leaf(0x200, Prot::Read), level: 1 };
            set_pte(&mut t, &m).unwrap();
            let allocated = t.tables.len() - 1;
            assert!(allocated > 0);
            // Upstream's teardown: leaves only.
            let mut u = Sim::new(levels, 1000);
            u.tables = t.tables.clone();
            assert!(unmap_range(&mut u, 0, top, false));
            assert_eq!(u.freed.len(), 0, "unmap_range frees no table");
            // Ours.
            assert!(free_all(&mut t), "leaves were cleared: flush");
            assert_eq!(t.freed.len(), allocated, "every table freed, levels {levels}");
            assert_eq!(t.live_tables(), 1, "only the root is left");
            assert!(t.tables[0].iter().all(|&e| e == 0), "the root is empty");
            assert!(t.warnings.is_empty());
            // Nothing left: nothing to flush, nothing freed twice.
            assert!(!free_all(&mut t));
        }
    }

    /// The host-writable mark survives write-protection (range and mask)
    /// and splits, is set by `map_page_with` and updated in place, and
    /// `map_page` never sets it.
    #[test]
    fn host_writable_mark() {
        let mut t = Sim::new(5, 100);
        let (m, r) = map_page(&mut t, HUGE_2M, 0x4000_0000, HUGE_2M, true, true, pte::HOST_WRITABLE);
        r.unwrap();
        assert_ne!(m.pte & pte::HOST_WRITABLE, 0);
        assert!(split_huge(&mut t, HUGE_2M, 0, false));
        for i in [0, 1, 511] {
            let (p, l) = get_leaf(&t, HUGE_2M + i * PAGE).unwrap();
            assert_eq!(l, 0);
            assert_ne!(t.get(p) & pte::HOST_WRITABLE, 0, "child {i} keeps the mark");
        }
        wp_range(&mut t, HUGE_2M, HUGE_2M + 2 * PAGE);
        let (p, _) = get_leaf(&t, HUGE_2M).unwrap();
        assert_eq!(t.get(p) & (pte::WRITE | pte::HOST_WRITABLE), pte::HOST_WRITABLE);
        wp_pt_masked(&mut t, (HUGE_2M >> 12) + 4, 0b11);
        let (p, _) = get_leaf(&t, HUGE_2M + 5 * PAGE).unwrap();
        assert_eq!(t.get(p) & (pte::WRITE | pte::HOST_WRITABLE), pte::HOST_WRITABLE);
        // Mapped again without the mark (the host gave the page read-only).
        let (_, r) = map_page(&mut t, HUGE_2M, 0x4000_0000, PAGE, true, true, 0);
        r.unwrap();
        let (p, _) = get_leaf(&t, HUGE_2M).unwrap();
        assert_eq!(t.get(p) & pte::HOST_WRITABLE, 0);
        let (m, _) = map_page(&mut t, 7 * HUGE_1G, 0x8000_0000, PAGE, false, true, 0);
        assert_eq!(m.pte & pte::HOST_WRITABLE, 0);
    }

    #[test]
    fn io_ptes() {
        let f = PteFormat::SPEC;
        let w = f.io(0x1234, true);
        assert_eq!(pte_pfn(w), 0x1234);
        assert_eq!(w & (pte::READ | pte::WRITE | pte::EXEC | pte::DIRTY | pte::VALID), pte::READ | pte::WRITE | pte::DIRTY | pte::VALID);
        assert_eq!(f.io(0x1234, false), w & !pte::WRITE);
    }

    /// Every address bit the G-stage translates selects its own leaf: a
    /// level whose index is too narrow or too wide, or a root without its
    /// two extra bits, makes two of these addresses share a PTE.
    #[test]
    fn every_index_bit_at_3_4_and_5_levels() {
        for levels in [3, 4, 5] {
            let mut t = Sim::new(levels, 1000);
            let bits = t.shape.gpa_bits();
            let gpas: Vec<u64> = (12..bits).map(|b| 1u64 << b).chain([0]).collect();
            for (n, &gpa) in gpas.iter().enumerate() {
                // CAST: an address number, small.
                let (map, r) = map_page(&mut t, gpa, 0x1_0000_0000 + ((n as u64) << 12), PAGE, false, false, 0);
                assert_eq!(r, Ok(()), "levels {levels} gpa {gpa:#x}");
                assert_eq!(map.level, 0);
            }
            for (n, &gpa) in gpas.iter().enumerate() {
                // CAST: an address number, small.
                let want = (0x1_0000_0000u64 >> 12) + n as u64;
                assert_eq!(
                    leaf_pfn(&t, gpa),
                    Some((want, 0)),
                    "levels {levels}: gpa {gpa:#x} reads another address's leaf"
                );
            }
            // The root index is 11 bits: the first address past the
            // G-stage's space wraps to 0 (upstream masks, it does not check).
            assert_eq!(t.shape.index(1 << bits, levels - 1), 0);
            assert_eq!(t.shape.index((1 << bits) - 1, levels - 1), 0x7ff);
            for l in 0..levels - 1 {
                assert_eq!(t.shape.index(u64::MAX, l), 0x1ff, "level {l}");
            }
            // Without Svvptc every new leaf is fenced, at its own address.
            assert_eq!(t.flushes.len(), gpas.len());
            assert!(gpas.iter().all(|&g| t.flushes.contains(&(12, g))));
        }
    }

    #[test]
    fn new_leaf_flushes_only_without_svvptc_and_replacing_flushes() {
        let mut t = Sim::new(3, 10);
        t.fmt.svvptc = true;
        let m = Mapping { addr: 0x5000, pte: t.fmt.leaf(0x1234, Prot::Write) | pte::DIRTY, level: 0 };
        assert_eq!(set_pte(&mut t, &m), Ok(()));
        assert!(t.flushes.is_empty());
        let m2 = Mapping { pte: t.fmt.leaf(0x1235, Prot::Write) | pte::DIRTY, ..m };
        assert_eq!(set_pte(&mut t, &m2), Ok(()));
        assert_eq!(t.flushes, vec![(12, 0x5000)]);
        // The same PTE again: nothing written, nothing flushed.
        assert_eq!(set_pte(&mut t, &m2), Ok(()));
        assert_eq!(t.flushes.len(), 1);
        t.fmt.svvptc = false;
        let m3 = Mapping { addr: 0x6000, ..m };
        assert_eq!(set_pte(&mut t, &m3), Ok(()));
        assert_eq!(t.flushes, vec![(12, 0x5000), (12, 0x6000)]);
    }

    #[test]
    fn set_pte_errors() {
        let mut t = Sim::new(3, 0);
        let m = Mapping { addr: 0, pte: t.fmt.leaf(1, Prot::Read), level: 0 };
        assert_eq!(set_pte(&mut t, &m), Err(MapError::NoMem));
        let m = Mapping { level: 3, ..m };
        assert_eq!(set_pte(&mut t, &m), Err(MapError::Invalid));
        // A 1 GiB leaf at the root's child level, then a 4 KiB map under it.
        let mut t = Sim::new(3, 10);
        assert_eq!(map_page(&mut t, HUGE_1G, 0x4000_0000, HUGE_1G, false, false, 0).1, Ok(()));
        let m = Mapping { addr: HUGE_1G + PAGE, pte: t.fmt.leaf(7, Prot::Read), level: 0 };
        assert_eq!(set_pte(&mut t, &m), Err(MapError::Exists));
        assert_eq!(map_page(&mut t, 0, 0, 3 * PAGE, false, false, 0).1, Err(MapError::Invalid));
    }

    #[test]
    fn split_a_2m_leaf_and_a_1g_leaf() {
        for levels in [3, 4, 5] {
            let mut t = Sim::new(levels, 10);
            let hpa = 0x2_4000_0000u64;
            assert_eq!(map_page(&mut t, HUGE_1G, hpa, HUGE_1G, false, true, 0).1, Ok(()));
            assert_eq!(leaf_pfn(&t, HUGE_1G + 5 * HUGE_2M + 3 * PAGE), Some((hpa >> 12, 2)));
            let huge = t.get(get_leaf(&t, HUGE_1G).unwrap().0);
            t.flushes.clear();
            // Split down to 4 KiB, deferring the flush.
            assert!(split_huge(&mut t, HUGE_1G + 5 * HUGE_2M + 3 * PAGE, 0, false));
            assert!(t.flushes.is_empty());
            for off in [0, PAGE, 5 * HUGE_2M, 5 * HUGE_2M + 3 * PAGE, HUGE_1G - PAGE] {
                let (p, l) = get_leaf(&t, HUGE_1G + off).unwrap();
                let v = t.get(p);
                let want_level = if off >= 5 * HUGE_2M && off < 6 * HUGE_2M { 0 } else { 1 };
                assert_eq!(l, want_level, "offset {off:#x}");
                assert_eq!(pte_pfn(v), (hpa + (off & !((1 << (12 + 9 * l)) - 1))) >> 12, "offset {off:#x}");
                // Flags are the huge leaf's.
                assert_eq!(v & !pte::PFN_MASK, huge & !pte::PFN_MASK);
            }
            // Splitting with an immediate flush: one per level split.
            let mut t = Sim::new(levels, 10);
            map_page(&mut t, HUGE_2M, 0x20_0000, HUGE_2M, false, false, 0).1.unwrap();
            t.flushes.clear();
            assert!(!split_huge(&mut t, HUGE_2M, 0, true));
            assert_eq!(t.flushes, vec![(21, HUGE_2M)]);
            // Without a table page nothing changes.
            // CAST: a level count, small.
            let mut t = Sim::new(levels, levels as usize - 2);
            map_page(&mut t, HUGE_2M, 0x20_0000, HUGE_2M, false, false, 0).1.unwrap();
            assert_eq!(t.cache, 0);
            assert!(!split_huge(&mut t, HUGE_2M, 0, false));
            assert_eq!(leaf_pfn(&t, HUGE_2M + PAGE), Some((0x200, 1)));
        }
    }

    #[test]
    fn map_page_over_a_huge_leaf_splits_it_and_same_page_updates_prot() {
        let mut t = Sim::new(4, 10);
        map_page(&mut t, HUGE_2M, 0x40_0000, HUGE_2M, true, false, 0).1.unwrap();
        // Dirty logging maps 4 KiB: the 2 MiB leaf is split, then the page
        // is the same, so the protection changes in place.
        let (m, r) = map_page(&mut t, HUGE_2M + PAGE, 0x40_1000, PAGE, false, false, 0);
        assert_eq!(r, Ok(()));
        assert_eq!(m.level, 0);
        let (p, l) = get_leaf(&t, HUGE_2M + PAGE).unwrap();
        assert_eq!(l, 0);
        assert_eq!(t.get(p) & pte::WRITE, pte::WRITE);
        assert_eq!(t.get(p) & pte::DIRTY, pte::DIRTY);
        // Its neighbours stay read-only.
        let (q, _) = get_leaf(&t, HUGE_2M + 2 * PAGE).unwrap();
        assert_eq!(t.get(q) & pte::WRITE, 0);
        // A read-only remap of the same page: write permission removed.
        let n = t.flushes.len();
        map_page(&mut t, HUGE_2M + PAGE, 0x40_1000, PAGE, true, false, 0).1.unwrap();
        assert_eq!(t.get(p) & pte::WRITE, 0);
        assert_eq!(t.flushes.len(), n + 1);
    }

    #[test]
    fn unmap_frees_tables_and_skips_partial_huge_leaves() {
        for levels in [3, 4, 5] {
            let mut t = Sim::new(levels, 100);
            for i in 0..4 {
                map_page(&mut t, HUGE_1G + i * PAGE, 0x9000_0000 + i * PAGE, PAGE, false, false, 0).1.unwrap();
            }
            map_page(&mut t, 2 * HUGE_1G, 0x4000_0000, HUGE_2M, false, false, 0).1.unwrap();
            let before = t.live_tables();
            // Unmapping works leaf by leaf, as upstream: the leaves go, the
            // tables stay (upstream frees none in an unmap).
            assert!(unmap_range(&mut t, HUGE_1G, HUGE_1G, true));
            for i in 0..4 {
                assert_eq!(leaf_pfn(&t, HUGE_1G + i * PAGE), None);
            }
            assert_eq!(t.live_tables(), before);
            // Clearing a table entry itself (op_pte on a non-leaf) unlinks
            // the tables below it and frees them.
            // An address of its own root entry: the upper half.
            let far = 1u64 << (t.shape.gpa_bits() - 1);
            map_page(&mut t, far + PAGE, 0x9000_0000, PAGE, false, false, 0).1.unwrap();
            let top = t.shape.top();
            let root_entry = Ptep { table: 0, index: t.shape.index(far, top) };
            let before = t.live_tables();
            assert!(op_pte(&mut t, far, root_entry, top, Op::Clear));
            assert_eq!(t.get(root_entry), 0);
            // CAST: a level count, small.
            assert_eq!(before - t.live_tables(), top as usize, "levels {levels}: every table under the root entry");
            assert_eq!(leaf_pfn(&t, far + PAGE), None);
            // Half of a 2 MiB leaf is not unmapped: warned and skipped.
            assert!(!unmap_range(&mut t, 2 * HUGE_1G, HUGE_2M / 2, false));
            assert_eq!(
                t.warnings,
                vec![Warning::SkipUnmap { addr: 2 * HUGE_1G, end: 2 * HUGE_1G + HUGE_2M / 2, page_size: HUGE_2M }]
            );
            assert!(leaf_pfn(&t, 2 * HUGE_1G).is_some());
            // Empty space: nothing to flush.
            assert!(!unmap_range(&mut t, 8 * HUGE_1G, 4 * HUGE_1G, false));
        }
    }

    #[test]
    fn write_protect_range_and_masked() {
        let mut t = Sim::new(3, 100);
        for i in 0..8 {
            map_page(&mut t, i * PAGE, 0x8000_0000 + i * PAGE, PAGE, false, false, 0).1.unwrap();
        }
        map_page(&mut t, HUGE_2M, 0x8020_0000, HUGE_2M, false, false, 0).1.unwrap();
        let w = |t: &Sim, gpa| get_leaf(t, gpa).map(|(p, _)| t.get(p) & pte::WRITE != 0).unwrap();
        // Masked: gfns 1, 3 and 5 only.
        assert!(wp_pt_masked(&mut t, 0, 0b10_1010));
        assert_eq!((0..8).map(|i| w(&t, i * PAGE)).collect::<Vec<_>>(), [true, false, true, false, true, false, true, true]);
        // Again: nothing changes, nothing to flush.
        assert!(!wp_pt_masked(&mut t, 0, 0b10_1010));
        // Masked over a 2 MiB leaf: one write-protect covers the 64 gfns.
        assert!(wp_pt_masked(&mut t, HUGE_2M >> 12, u64::MAX));
        assert!(!w(&t, HUGE_2M + 100 * PAGE));
        // A range.
        assert!(wp_range(&mut t, 0, 8 * PAGE));
        assert!((0..8).all(|i| !w(&t, i * PAGE)));
        assert!(!wp_range(&mut t, 0, 8 * PAGE));
    }

    #[test]
    fn huge_masks() {
        // A 2 MiB leaf at gfn 512 and a mask from gfn 500: bits 12.. cleared.
        let mut m = u64::MAX;
        clear_huge_mask(&mut m, HUGE_2M, 500, 512 << 12);
        assert_eq!(m, (1 << 12) - 1);
        // A mask inside the leaf: all cleared.
        let mut m = u64::MAX;
        clear_huge_mask(&mut m, HUGE_2M, 600, 512 << 12);
        assert_eq!(m, 0);
        // A leaf ending inside the mask: only its gfns.
        let mut m = u64::MAX;
        clear_huge_mask(&mut m, HUGE_2M, 1000, 512 << 12);
        assert_eq!(m, !((1 << 24) - 1));
    }

    #[test]
    fn try_update_flushes_on_change_only() {
        let mut t = Sim::new(3, 10);
        map_page(&mut t, 0, 0x1000, PAGE, false, false, 0).1.unwrap();
        let (p, l) = get_leaf(&t, 0).unwrap();
        let v = t.get(p);
        t.flushes.clear();
        assert!(!try_update(&mut t, l, 0, p, v ^ 1, v));
        assert!(try_update(&mut t, l, 0, p, v, v));
        assert!(t.flushes.is_empty());
        assert!(try_update(&mut t, l, 0, p, v, v & !pte::WRITE));
        assert_eq!(t.flushes, vec![(12, 0)]);
    }
}

#[path = "../../../../rust/kvm_riscv/mmu_logic.rs"]
mod mmu_logic;

#[cfg(test)]
mod mmu_logic_tests {
    use super::mmu_logic::*;

    const G: u64 = PUD_SIZE;
    const M: u64 = PMD_SIZE;

    #[test]
    fn huge_mapping_needs_equal_alignment_and_a_whole_leaf() {
        // 8 MiB at GPA 2 MiB, user address 2 MiB-aligned the same way.
        let s = Slot { base_gfn: M >> 12, npages: (8 * M) >> 12, userspace_addr: 0x7000_0020_0000 };
        assert!(supports_huge_mapping(&s, s.userspace_addr, M));
        assert!(supports_huge_mapping(&s, s.userspace_addr + 8 * M - 1 - (M - 1), M));
        assert!(!supports_huge_mapping(&s, s.userspace_addr + 8 * M, M), "past the slot");
        // Shifted by one page: never.
        let t = Slot { userspace_addr: s.userspace_addr + PAGE_SIZE, ..s };
        assert!(!supports_huge_mapping(&t, t.userspace_addr + M, M));
        // A slot not 2 MiB-aligned: its head and tail pages cannot be huge.
        let u = Slot { base_gfn: (M + PAGE_SIZE) >> 12, npages: (4 * M) >> 12, userspace_addr: 0x7000_0020_1000 };
        assert!(!supports_huge_mapping(&u, u.userspace_addr, M), "head");
        assert!(supports_huge_mapping(&u, 0x7000_0040_0000, M));
        assert!(!supports_huge_mapping(&u, 0x7000_00a0_0000, M), "tail");
    }

    #[test]
    fn hugetlb_sizes_fall_back() {
        let s = Slot { base_gfn: G >> 12, npages: (2 * G) >> 12, userspace_addr: 0x40_0000_0000 };
        assert_eq!(hugetlb_mapping_size(&s, s.userspace_addr, G), G);
        assert_eq!(hugetlb_mapping_size(&s, s.userspace_addr, M), M);
        // 1 GiB alignment differs but 2 MiB agrees: 2 MiB.
        let t = Slot { userspace_addr: 0x40_0020_0000, ..s };
        assert_eq!(hugetlb_mapping_size(&t, t.userspace_addr + M, G), M);
        // Neither: 4 KiB.
        let u = Slot { userspace_addr: 0x40_0000_1000, ..s };
        assert_eq!(hugetlb_mapping_size(&u, u.userspace_addr, G), PAGE_SIZE);
        assert_eq!(hugetlb_mapping_size(&u, u.userspace_addr, PAGE_SIZE), PAGE_SIZE);
        // Another VMA size is returned as it is (the caller refuses it).
        assert_eq!(hugetlb_mapping_size(&s, s.userspace_addr, 64 * 1024), 64 * 1024);
    }

    #[test]
    fn thp_and_slot_limits() {
        assert_eq!(thp_adjust(0x8034_5000, 0x12345), (0x8020_0000, 0x12200));
        // Sv57x4: 59 bits; the last page fits, one more does not.
        let last = (1u64 << 47) - 1;
        assert!(slot_fits(last, 1, 59));
        assert!(!slot_fits(last, 2, 59));
        assert!(slot_fits(0, 1 << 29, 41));
        assert!(!slot_fits(1, 1 << 29, 41));
    }

    #[test]
    fn hgatp_fields() {
        // Sv57x4, VMID 5, root at 0x8020_0000.
        assert_eq!(hgatp(10, 5, 0x8020_0000), (10 << 60) | (5 << 44) | 0x80200);
        // A VMID wider than 14 bits and a PPN wider than 44 are cut.
        assert_eq!(hgatp(8, 1 << 14, 0), 8 << 60);
        assert_eq!(hgatp(0, 0, 1 << 56), 0);
    }

    #[test]
    fn masked_ranges() {
        assert_eq!(masked_range(0x100, 1), (0x100 << 12, 0x101 << 12));
        assert_eq!(masked_range(0x100, 0b1010_0000), (0x105 << 12, 0x108 << 12));
        assert_eq!(masked_range(0x40, 1 << 63), ((0x40 + 63) << 12, (0x40 + 64) << 12));
        assert_eq!(masked_range(0, u64::MAX), (0, 64 << 12));
    }
}

#[path = "../../../../rust/kvm_riscv/aia_aplic_logic.rs"]
mod aia_aplic_logic;

#[cfg(test)]
mod aia_aplic_logic_tests {
    use super::aia_aplic_logic::*;

    fn src(mode: u32) -> Source {
        let mut s = Source::default();
        s.write_sourcecfg(mode);
        s.write_target((3 << target::HART_SHIFT) | (1 << target::GUEST_SHIFT) | 0x42);
        s
    }

    #[test]
    fn sourcecfg_and_target_writes() {
        let mut s = Source::default();
        s.write_sourcecfg(0xffff_fff6 & !sourcecfg::D);
        assert_eq!(s.sourcecfg(), 6);
        s.write_sourcecfg(sourcecfg::D | 6);
        assert_eq!(s.sourcecfg(), 0, "D: inactive, no child domain");
        s.write_target(u32::MAX);
        assert_eq!(s.target(), target::WRITABLE);
        assert_eq!(target::WRITABLE, 0xffff_f7ff);
        assert_eq!(Msi::of_target(s.target()), Msi { hart: 0x3fff, guest: 0x3f, eiid: 0x7ff });
        assert_eq!(Msi::of_genmsi(u32::MAX), Msi { hart: 0x3fff, guest: 0, eiid: 0x7ff });
        assert_eq!(genmsi_value(u32::MAX), 0xfffc_0fff);
    }

    /// Every mode against wire sequences: what becomes pending, what is
    /// delivered (enabled, IE on), and the rectified input.
    #[test]
    fn wire_sequences_per_mode() {
        // (mode, levels, pending after each step with nothing enabled)
        let cases: [(u32, [bool; 4], [bool; 4]); 6] = [
            (0, [true, false, true, false], [false; 4]),
            (1, [true, false, true, false], [false; 4]),
            (4, [true, true, false, true], [true, true, true, true]),
            (5, [true, false, false, true], [false, true, true, true]),
            (6, [false, true, false, true], [false, true, true, true]),
            (7, [true, false, true, false], [false, true, true, true]),
        ];
        for (mode, levels, want) in cases {
            let mut s = src(mode);
            for (i, &l) in levels.iter().enumerate() {
                assert_eq!(s.set_wire(l, true), None, "mode {mode} step {i}: not enabled");
                assert_eq!(s.pending(), want[i], "mode {mode} step {i}");
                let inverted = mode == 5 || mode == 7;
                let expect_in = mode != 0 && (l != inverted);
                assert_eq!(s.input(), expect_in, "mode {mode} step {i} input");
            }
        }
        // Enabled with IE: an edge is delivered once and stops pending.
        let mut s = src(4);
        s.write_enabled(true);
        assert_eq!(s.set_wire(true, true), Some(s.target()));
        assert!(!s.pending());
        assert_eq!(s.set_wire(true, true), None, "no new edge");
        assert_eq!(s.set_wire(false, true), None);
        // IE off: pending stays for a later delivery.
        assert_eq!(s.set_wire(true, false), None);
        assert!(s.pending());
        assert_eq!(s.deliver(), Some(s.target()));
        assert_eq!(s.deliver(), None);
        // Level high: delivered on every assertion while high.
        let mut s = src(6);
        s.write_enabled(true);
        assert!(s.set_wire(true, true).is_some());
        assert!(s.set_wire(true, true).is_some());
        assert!(s.set_wire(false, true).is_none());
    }

    #[test]
    fn software_pending_rules() {
        // Inactive: ignored both ways.
        let mut s = src(0);
        s.write_pending(true);
        assert!(!s.pending());
        // Detached and edge: always.
        for m in [1, 4, 5] {
            let mut s = src(m);
            s.write_pending(true);
            assert!(s.pending(), "mode {m}");
            s.write_pending(false);
            assert!(!s.pending(), "mode {m}");
        }
        // Level high: set only while the wire is high; clear always.
        let mut s = src(6);
        s.write_pending(true);
        assert!(!s.pending());
        s.set_wire(true, false);
        s.write_pending(false);
        assert!(!s.pending());
        s.write_pending(true);
        assert!(s.pending());
        // Level low: set only while the wire is low.
        let mut s = src(7);
        s.set_wire(true, false);
        s.write_pending(true);
        assert!(!s.pending());
        s.set_wire(false, false);
        s.write_pending(false);
        s.write_pending(true);
        assert!(s.pending());
    }

    #[test]
    fn offsets() {
        // 64 sources + source 0: 65 irqs, 3 words.
        let d = |off| decode(off, 65, 3);
        assert_eq!(d(0), Ok(Reg::Domaincfg));
        assert_eq!(d(2), Err(BadOffset::Misaligned));
        assert_eq!(d(0x4), Ok(Reg::Sourcecfg(1)));
        assert_eq!(d(0x100), Ok(Reg::Sourcecfg(64)));
        assert_eq!(d(0x104), Err(BadOffset::Nothing));
        assert_eq!(d(0x1c00), Ok(Reg::Setip(0)));
        assert_eq!(d(0x1c08), Ok(Reg::Setip(2)));
        assert_eq!(d(0x1c0c), Err(BadOffset::Nothing));
        assert_eq!(d(0x1cdc), Ok(Reg::Setipnum));
        assert_eq!(d(0x1d04), Ok(Reg::InClrip(1)));
        assert_eq!(d(0x1ddc), Ok(Reg::Clripnum));
        assert_eq!(d(0x1e00), Ok(Reg::Setie(0)));
        assert_eq!(d(0x1edc), Ok(Reg::Setienum));
        assert_eq!(d(0x1f08), Ok(Reg::Clrie(2)));
        assert_eq!(d(0x1fdc), Ok(Reg::Clrienum));
        assert_eq!(d(0x2000), Ok(Reg::SetipnumLe));
        assert_eq!(d(0x2004), Ok(Reg::SetipnumBe));
        assert_eq!(d(0x3000), Ok(Reg::Genmsi));
        assert_eq!(d(0x3004), Ok(Reg::Target(1)));
        assert_eq!(d(0x3100), Ok(Reg::Target(64)));
        assert_eq!(d(0x3104), Err(BadOffset::Nothing));
        assert_eq!(d(0x4000), Err(BadOffset::Nothing), "no IDCs in MSI mode");
        assert_eq!(d(u64::MAX & !3), Err(BadOffset::Nothing));
        // One source: sourcecfg[1] and target[1] only.
        assert_eq!(decode(0x4, 2, 1), Ok(Reg::Sourcecfg(1)));
        assert_eq!(decode(0x8, 2, 1), Err(BadOffset::Nothing));
    }
}

#[path = "../../../../rust/kvm_riscv/aia_imsic_logic.rs"]
mod aia_imsic_logic;

#[cfg(test)]
mod aia_imsic_logic_tests {
    use super::aia_imsic_logic::*;

    #[test]
    fn isel_decode() {
        assert_eq!(Reg::decode(1, 0x70), Ok(Reg::Delivery));
        assert_eq!(Reg::decode(1, 0x72), Ok(Reg::Threshold));
        for isel in [0x00, 0x6f, 0x71, 0x73, 0x7f, 0x100, usize::MAX] {
            assert_eq!(Reg::decode(32, isel), Err(BadIsel::NoEnt), "{isel:#x}");
        }
        assert_eq!(Reg::decode(1, 0x80), Ok(Reg::Eip(0)));
        assert_eq!(Reg::decode(1, 0x81), Err(BadIsel::Inval), "odd eip on RV64");
        assert_eq!(Reg::decode(1, 0x82), Err(BadIsel::Inval), "beyond nr_eix");
        assert_eq!(Reg::decode(2, 0x82), Ok(Reg::Eip(1)));
        assert_eq!(Reg::decode(2, 0xc2), Ok(Reg::Eie(1)));
        assert_eq!(Reg::decode(32, 0xbe), Ok(Reg::Eip(31)));
        assert_eq!(Reg::decode(32, 0xfe), Ok(Reg::Eie(31)));
        assert_eq!(Reg::decode(32, 0xff), Err(BadIsel::Inval));
        for isel in (0x70..=0xff).filter(|i| Reg::decode(32, *i).is_ok()) {
            assert_eq!(Reg::decode(32, isel).unwrap().isel(), isel);
        }
        assert_eq!(nr_eix(64), 1);
        assert_eq!(nr_eix(65), 2);
        assert_eq!(nr_eix(2048), 32);
    }

    #[test]
    fn rmw_masks() {
        let m = Mrif::default();
        assert_eq!(m.rmw(2, 0x70, u64::MAX, u64::MAX), Ok(0));
        assert_eq!(m.rmw(2, 0x70, 0, 0), Ok(1), "eidelivery keeps bit 0 only");
        assert_eq!(m.rmw(2, 0x72, u64::MAX, u64::MAX), Ok(0));
        assert_eq!(m.rmw(2, 0x72, 0, 0), Ok(0x7ff), "eithreshold keeps an identity");
        assert_eq!(m.rmw(2, 0x80, u64::MAX, u64::MAX), Ok(0));
        assert_eq!(m.rmw(2, 0x80, 0, 0), Ok(!1), "identity 0 is read-only");
        assert_eq!(m.rmw(2, 0xc2, 0xf0, 0x30), Ok(0));
        assert_eq!(m.rmw(2, 0xc2, 0, 0), Ok(0x30), "only the masked bits");
        assert_eq!(m.rmw(2, 0xc2, 0, 0x10), Ok(0x30));
        assert_eq!(m.rmw(2, 0xc2, 0, 0), Ok(0x20));
        assert_eq!(m.rmw(2, 0x84, 1, 1), Err(BadIsel::Inval));
        assert_eq!(m.rmw(2, 0x71, 1, 1), Err(BadIsel::NoEnt));
        let s = m.snapshot();
        assert_eq!((s.eidelivery, s.eithreshold, s.eip[0], s.eie[1]), (1, 0x7ff, !1, 0x20));
        m.clear();
        assert_eq!(m.snapshot(), Regs::default());
    }

    #[test]
    fn topei_order_threshold_and_bounds() {
        let m = Mrif::default();
        let top = |m: &Mrif, nr_msis| m.topei(nr_eix(nr_msis), nr_msis);
        assert_eq!(top(&m, 256), 0);
        m.set_pending(0);
        m.rmw(4, 0xc0, u64::MAX, u64::MAX).unwrap();
        assert_eq!(top(&m, 256), 0, "identity 0 is never an interrupt");
        m.set_pending(200);
        assert_eq!(top(&m, 256), 0, "pending but not enabled");
        m.rmw(4, 0xc6, u64::MAX, u64::MAX).unwrap();
        assert_eq!(top(&m, 256), (200 << 16) | 200);
        assert_eq!(top(&m, 200), 0, "beyond nr_msis");
        m.set_pending(63);
        assert_eq!(top(&m, 256), (63 << 16) | 63, "the lowest identity wins");
        m.rmw(4, 0x72, 63, u64::MAX).unwrap();
        assert_eq!(top(&m, 256), 0, "eithreshold: identities below it only");
        m.rmw(4, 0x72, 201, u64::MAX).unwrap();
        assert_eq!(top(&m, 256), (63 << 16) | 63);
        m.clear_pending(63);
        assert_eq!(top(&m, 256), (200 << 16) | 200);
        m.rmw(4, 0x72, 300, u64::MAX).unwrap();
        assert_eq!(top(&m, 256), (200 << 16) | 200, "a threshold above nr_msis counts as 0");
        assert_eq!(m.topei(3, 256), 0, "only nr_eix words are looked at");
        m.set_pending(2047);
        m.rmw(32, 0xfe, 1 << 63, u64::MAX).unwrap();
        m.clear_pending(200);
        assert_eq!(top(&m, 2048), 0, "2047 is above eithreshold 300");
        m.rmw(32, 0x72, 0, u64::MAX).unwrap();
        assert_eq!(top(&m, 2048), (2047 << 16) | 2047);
    }

    #[test]
    fn merge_keeps_what_arrived() {
        let m = Mrif::default();
        m.set_pending(5);
        m.set_pending(130);
        let mut r = Regs::default();
        r.eidelivery = 1;
        r.eithreshold = 9;
        r.eip[0] = 1 << 7;
        r.eie[0] = 1 << 5;
        r.eip[2] = 1 << 3;
        r.eie[1] = 0xff;
        m.merge(2, &r);
        let s = m.snapshot();
        assert_eq!((s.eidelivery, s.eithreshold), (1, 9));
        assert_eq!(s.eip[0], (1 << 5) | (1 << 7));
        assert_eq!(s.eie[..2], [1 << 5, 0xff]);
        assert_eq!(s.eip[2], 1 << 2, "word 2 is beyond nr_eix: left as it was");
    }

    #[test]
    fn setipnum_and_attr() {
        assert_eq!(setipnum_id(0, 5), Some(5));
        assert_eq!(setipnum_id(4, 5 << 24), Some(5));
        assert_eq!(setipnum_id(0, 0), None);
        assert_eq!(setipnum_id(8, 5), None);
        assert_eq!(attr_vcpu_isel((3 << 12) | 0x80), (3, 0x80));
        assert_eq!(attr_vcpu_isel(((1u64 << 32) | 2) << 12 | 0xfff), (2, 0xfff));
    }
}

#[path = "../../../../rust/kvm_riscv/aia_device_logic.rs"]
mod aia_device_logic;

#[cfg(test)]
mod aia_device_logic_tests {
    use super::aia_device_logic::*;

    #[test]
    fn config_writes() {
        let ok = |c, nr| c_valid(c, nr, 5, 2048);
        fn c_valid(c: u64, nr: u32, hgei: i32, ids: u32) -> bool {
            Config::from_attr(c).unwrap().valid(nr, hgei, ids)
        }
        assert_eq!(Config::from_attr(7), None);
        assert!(ok(0, 0) && ok(0, 1) && ok(0, 2) && !ok(0, 3));
        assert!(!c_valid(0, 1, 0, 2048) && !c_valid(0, 2, 0, 2048) && c_valid(0, 0, 0, 2048));
        assert!(ok(1, 63) && ok(1, 127) && ok(1, 2047) && !ok(1, 2048));
        assert!(!ok(1, 62) && !ok(1, 64) && !ok(1, 126));
        assert!(!c_valid(1, 255, 5, 255) && c_valid(1, 255, 5, 256), "below max_ids");
        assert!(ok(2, 0) && ok(2, 1023) && !ok(2, 1024) && !c_valid(2, 100, 5, 100));
        assert!(ok(3, 7) && !ok(3, 8));
        assert!(!ok(4, 23) && ok(4, 24) && ok(4, 55) && !ok(4, 56));
        assert!(ok(5, 15) && !ok(5, 16));
        assert!(ok(6, 7) && !ok(6, 8));
    }

    #[test]
    fn imsic_layout() {
        let l = Layout { group_bits: 0, group_shift: 24, hart_bits: 2, guest_bits: 1 };
        // hart index bits 14:13, guest bit 12.
        assert_eq!(l.hart_index(0x2800_0000 | (3 << 13) | (1 << 12)), 3);
        assert_eq!(l.hart_index(0x2800_0000 | (1 << 15)), 0, "above the hart bits");
        assert_eq!(l.imsic_ppn(0x2800_0000 | (3 << 13) | (1 << 12) | 0x123), 0x28000);
        assert_eq!(l.msi_target(0x2800_0000 | (2 << 13) | (1 << 12) | 4), (0x28004, 1));
        let g = Layout { group_bits: 2, group_shift: 24, hart_bits: 3, guest_bits: 0 };
        let a = 0x1_0000_0000u64 | (2 << 24) | (5 << 12);
        assert_eq!(g.hart_index(a), (2 << 3) | 5);
        assert_eq!(g.imsic_ppn(a), 0x1_0000_0000 >> 12);
        assert!(!g.overlaps());
        assert!(Layout { group_bits: 1, group_shift: 14, hart_bits: 2, guest_bits: 1 }.overlaps());
        assert!(!Layout { group_bits: 0, group_shift: 14, hart_bits: 2, guest_bits: 1 }.overlaps());
        let wide = Layout { group_bits: 7, group_shift: 55, hart_bits: 15, guest_bits: 7 };
        assert_eq!(wide.imsic_ppn(u64::MAX), (u64::MAX & !(((1u64 << 34) - 1) | (0x7f << 55))) >> 12);
    }
}

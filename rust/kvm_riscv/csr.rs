// SPDX-License-Identifier: GPL-2.0

//! Typed access to the hypervisor (H) and virtual-supervisor (VS) CSRs.
//!
//! A CSR is a zero-sized value of type [`Csr<N>`], where `N` is the CSR number
//! taken from the kernel's `asm/csr.h` through the bindings. The number is a
//! `const` operand of the instruction, so every access is one `csr*`
//! instruction and nothing is looked up at run time.
//!
//! Only CSRs that cannot break the memory safety of the host kernel running
//! in HS mode are named here, so the accessors are safe functions: H and VS
//! CSRs (they configure the guest and the traps taken from it), S-level CSRs
//! that only govern lower privilege levels (SCOUNTEREN, SENVCFG, SSTATEEN0,
//! SSP), and the trap CSRs the vCPU code reads (SCAUSE, STVAL).

use crate::bindings as b;
use crate::csr_logic::{csr_imm, funct3, funct7, CsrOp, Fence, SYSTEM};
use core::arch::asm;
use kernel::num::casts::u32_into_u16;

/// The CSR numbered `N`.
#[derive(Clone, Copy)]
pub(crate) struct Csr<const N: u16>;

impl<const N: u16> Csr<N> {
    /// The CSR's number.
    pub(crate) const fn num(self) -> u16 {
        N
    }

    /// Reads the CSR (`csrrs rd, csr, x0`).
    #[inline(always)]
    pub(crate) fn read(self) -> usize {
        let v: usize;
        // SAFETY: reading an H, VS or listed S CSR has no side effect on host memory.
        unsafe {
            asm!(".insn i {sys}, {f3}, {rd}, x0, {imm}",
                 sys = const SYSTEM, f3 = const funct3(CsrOp::Rs), imm = const csr_imm(N),
                 rd = out(reg) v, options(nomem, nostack))
        };
        v
    }

    /// Writes `v` to the CSR (`csrrw x0, csr, rs1`).
    #[inline(always)]
    pub(crate) fn write(self, v: usize) {
        // SAFETY: see the module documentation: only CSRs that are safe to write.
        unsafe {
            asm!(".insn i {sys}, {f3}, x0, {rs}, {imm}",
                 sys = const SYSTEM, f3 = const funct3(CsrOp::Rw), imm = const csr_imm(N),
                 rs = in(reg) v, options(nomem, nostack))
        };
    }

    /// Writes `v` to the CSR and returns the old value (`csrrw rd, csr, rs1`).
    #[inline(always)]
    pub(crate) fn swap(self, v: usize) -> usize {
        let old: usize;
        // SAFETY: see the module documentation: only CSRs that are safe to write.
        unsafe {
            asm!(".insn i {sys}, {f3}, {rd}, {rs}, {imm}",
                 sys = const SYSTEM, f3 = const funct3(CsrOp::Rw), imm = const csr_imm(N),
                 rs = in(reg) v, rd = lateout(reg) old, options(nomem, nostack))
        };
        old
    }

    /// Sets the bits of `mask` in the CSR (`csrrs x0, csr, rs1`).
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn set(self, mask: usize) {
        // SAFETY: see the module documentation: only CSRs that are safe to write.
        unsafe {
            asm!(".insn i {sys}, {f3}, x0, {rs}, {imm}",
                 sys = const SYSTEM, f3 = const funct3(CsrOp::Rs), imm = const csr_imm(N),
                 rs = in(reg) mask, options(nomem, nostack))
        };
    }

    /// Clears the bits of `mask` in the CSR (`csrrc x0, csr, rs1`).
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn clear(self, mask: usize) {
        // SAFETY: see the module documentation: only CSRs that are safe to write.
        unsafe {
            asm!(".insn i {sys}, {f3}, x0, {rs}, {imm}",
                 sys = const SYSTEM, f3 = const funct3(CsrOp::Rc), imm = const csr_imm(N),
                 rs = in(reg) mask, options(nomem, nostack))
        };
    }
}

macro_rules! csrs {
    ($($name:ident = $num:ident;)*) => {
        $(
            #[allow(dead_code)]
            pub(crate) const $name: Csr<{ u32_into_u16::<{ b::$num }>() }> = Csr;
        )*
    };
}

csrs! {
    HSTATUS = CSR_HSTATUS;
    HEDELEG = CSR_HEDELEG;
    HIDELEG = CSR_HIDELEG;
    HCOUNTEREN = CSR_HCOUNTEREN;
    HENVCFG = CSR_HENVCFG;
    HIE = CSR_HIE;
    HGEIE = CSR_HGEIE;
    HGEIP = CSR_HGEIP;
    HVIEN = CSR_HVIEN;
    HVICTL = CSR_HVICTL;
    HVIPRIO1 = CSR_HVIPRIO1;
    HVIPRIO2 = CSR_HVIPRIO2;
    VSISELECT = CSR_VSISELECT;
    VSIREG = CSR_VSIREG;
    HSTATEEN0 = CSR_HSTATEEN0;
    HVIP = CSR_HVIP;
    HTVAL = CSR_HTVAL;
    HTINST = CSR_HTINST;
    VSSTATUS = CSR_VSSTATUS;
    VSIE = CSR_VSIE;
    VSTVEC = CSR_VSTVEC;
    VSSCRATCH = CSR_VSSCRATCH;
    VSEPC = CSR_VSEPC;
    VSCAUSE = CSR_VSCAUSE;
    VSTVAL = CSR_VSTVAL;
    VSATP = CSR_VSATP;
    SCOUNTEREN = CSR_SCOUNTEREN;
    SENVCFG = CSR_SENVCFG;
    SSTATEEN0 = CSR_SSTATEEN0;
    SSP = CSR_SSP;
    SCAUSE = CSR_SCAUSE;
    STVAL = CSR_STVAL;
    TIME = CSR_TIME;
    VSTIMECMP = CSR_VSTIMECMP;
    HTIMEDELTA = CSR_HTIMEDELTA;
    HGATP = CSR_HGATP;
}

/// HCOUNTEREN.TM: VS and VU may read the `time` CSR directly.
pub(crate) const HCOUNTEREN_TM: usize = 1 << 1;

// The numbers the kernel's headers give must be the privileged
// specification's (a check of the bindings and of this table).
const _: () = {
    assert!(HSTATUS.num() == 0x600 && HEDELEG.num() == 0x602 && HIDELEG.num() == 0x603);
    assert!(HCOUNTEREN.num() == 0x606 && HVIP.num() == 0x645);
    assert!(HENVCFG.num() == 0x60a && HSTATEEN0.num() == 0x60c);
    assert!(HIE.num() == 0x604 && HGEIE.num() == 0x607 && HGEIP.num() == 0xe12);
    assert!(HVIEN.num() == 0x608 && HVICTL.num() == 0x609);
    assert!(HVIPRIO1.num() == 0x646 && HVIPRIO2.num() == 0x647 && VSISELECT.num() == 0x250);
    assert!(HTVAL.num() == 0x643 && HTINST.num() == 0x64a);
    assert!(VSSTATUS.num() == 0x200 && VSIE.num() == 0x204 && VSTVEC.num() == 0x205);
    assert!(VSSCRATCH.num() == 0x240 && VSEPC.num() == 0x241 && VSCAUSE.num() == 0x242);
    assert!(VSTVAL.num() == 0x243 && VSATP.num() == 0x280);
    assert!(SCOUNTEREN.num() == 0x106 && SENVCFG.num() == 0x10a && SSTATEEN0.num() == 0x10c);
    assert!(SSP.num() == 0x011 && SCAUSE.num() == 0x142 && STVAL.num() == 0x143);
    assert!(TIME.num() == 0xc01 && VSTIMECMP.num() == 0x24d && HTIMEDELTA.num() == 0x605);
    assert!(HGATP.num() == 0x680);
};

/// The hypervisor TLB fences and the Svinval instructions.
///
/// They only drop cached guest translations (G-stage and VS-stage) of the
/// hart that runs them, which the host kernel in HS mode does not use, so
/// they are safe functions. Each is one `.insn r` instruction
/// ([`Fence`]); an argument named `all` is the `x0` operand ("every
/// address", "every VMID"), not a register holding 0.
pub(crate) mod fence {
    use super::*;

    macro_rules! fences {
        ($($(#[$m:meta])* fn $name:ident($f:ident, $rs1:tt, $rs2:tt $(, $a:ident)*);)*) => {$(
            $(#[$m])*
            #[inline(always)]
            pub(crate) fn $name($($a: usize),*) {
                // SAFETY: a TLB fence of guest translations has no effect on
                // host memory (see the module documentation).
                unsafe {
                    asm!(concat!(".insn r {sys}, 0, {f7}, x0, ", fences!(@op $rs1), ", ", fences!(@op $rs2)),
                         sys = const SYSTEM, f7 = const funct7(Fence::$f),
                         $($a = in(reg) $a,)* options(nostack))
                };
            }
        )*};
        (@op x0) => { "x0" };
        (@op x1) => { "x1" };
        (@op $a:ident) => { concat!("{", stringify!($a), "}") };
    }

    fences! {
        /// `hfence.gvma x0, x0`: every G-stage translation.
        fn hfence_gvma_all(HfenceGvma, x0, x0);
        /// `hfence.gvma x0, vmid`: those of `vmid`.
        fn hfence_gvma_vmid_all(HfenceGvma, x0, vmid, vmid);
        /// `hfence.gvma gpa >> 2, vmid`.
        fn hfence_gvma_vmid(HfenceGvma, gpa4, vmid, gpa4, vmid);
        /// `hfence.gvma gpa >> 2, x0`: at a guest physical address, every VMID.
        fn hfence_gvma(HfenceGvma, gpa4, x0, gpa4);
        /// `hinval.gvma gpa >> 2, vmid`.
        fn hinval_gvma_vmid(HinvalGvma, gpa4, vmid, gpa4, vmid);
        /// `hinval.gvma gpa >> 2, x0`.
        fn hinval_gvma(HinvalGvma, gpa4, x0, gpa4);
        /// `hfence.vvma x0, x0`: every VS-stage translation of the VMID in
        /// HGATP.
        fn hfence_vvma_all(HfenceVvma, x0, x0);
        /// `hfence.vvma x0, asid`.
        fn hfence_vvma_asid_all(HfenceVvma, x0, asid, asid);
        /// `hfence.vvma gva, asid`.
        fn hfence_vvma_asid(HfenceVvma, gva, asid, gva, asid);
        /// `hfence.vvma gva, x0`.
        fn hfence_vvma(HfenceVvma, gva, x0, gva);
        /// `hinval.vvma gva, asid`.
        fn hinval_vvma_asid(HinvalVvma, gva, asid, gva, asid);
        /// `hinval.vvma gva, x0`.
        fn hinval_vvma(HinvalVvma, gva, x0, gva);
        /// `sfence.w.inval`: orders earlier stores before the `hinval`s
        /// that follow.
        fn sfence_w_inval(SfenceInval, x0, x0);
        /// `sfence.inval.ir`: orders the `hinval`s before what follows.
        fn sfence_inval_ir(SfenceInval, x0, x1);
    }

    /// `fence.i` (`local_flush_icache_all()`): this hart's instruction
    /// fetches see its earlier stores.
    #[inline(always)]
    pub(crate) fn fence_i() {
        // SAFETY: an instruction-fetch fence changes no memory.
        // `fence.i` is MISC-MEM (0x0f) funct3 1, spelt as `.insn` because
        // the target may not name Zifencei.
        unsafe { asm!(".insn i 0x0f, 1, x0, x0, 0", options(nostack)) };
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_insn.c`: emulation of the guest instructions
//! that trap to KVM. A virtual-instruction trap is a CSR access, WFI or
//! WRS.NTO; a G-stage fault on MMIO is a load or a store. Decoding is pure
//! ([`crate::vcpu_insn_logic`]); this module applies it to the vCPU: guest
//! registers, the run page, the in-kernel MMIO bus and the statistics.
//!
//! [`trap_redirect`] (of `vcpu_exit.c` upstream) lives here, below
//! `vcpu_exit`, which re-exports it: the instruction emulation and the SBI
//! code use it without an import cycle.

use crate::bindings as b;
use crate::handle::{CsrExit, MmioExit, Stat, VcpuCtx};
use crate::nacl::{ncsr_read, ncsr_write};
use crate::regs_logic::{u64_to_xlen, xlen_to_u64, Henvcfg, Sstatus};
use crate::vcpu_insn_logic::{self as d, SystemInsn, VirtualInsn};
use crate::{csr, isa};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::num::casts::FromSafeCast;

/// Steps the guest over the `len`-byte instruction at its pc. The pc
/// wraps past the top of the address space, as the hardware's does (a
/// guest may run there).
pub(crate) fn next_insn(ctx: &mut b::kvm_cpu_context, len: usize) {
    ctx.sepc = ctx.sepc.wrapping_add(len);
}

/// Sends `vcpu_exit_logic` to the guest's VS-mode trap vector, as the hardware would
/// have (`kvm_riscv_vcpu_trap_redirect()`). The vCPU is loaded on this CPU.
pub(crate) fn trap_redirect(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap) {
    let lpe = Henvcfg::from_raw(cx.cfg().henvcfg).lpe();
    let g = cx.guest();
    let mut gs = Sstatus::from_raw(xlen_to_u64(g.sstatus));
    let vs = Sstatus::from_raw(xlen_to_u64(ncsr_read(csr::VSSTATUS)));
    // SPP: the guest privilege the trap came from; SPIE takes SIE, and SIE
    // goes off.
    let mut vs = vs.with_spp(gs.spp()).with_spie(vs.sie()).with_sie(false);
    // SPELP moves with the trap when landing pads are on.
    if lpe {
        vs = vs.with_spelp(gs.spelp());
        gs = gs.with_spelp(false);
    }
    ncsr_write(csr::VSSTATUS, u64_to_xlen(vs.into_raw()));
    ncsr_write(csr::VSCAUSE, trap.scause);
    ncsr_write(csr::VSTVAL, trap.stval);
    ncsr_write(csr::VSEPC, trap.sepc);
    // The guest resumes at its trap vector, in supervisor mode.
    g.sepc = ncsr_read(csr::VSTVEC);
    g.sstatus = u64_to_xlen(gs.with_spp(true).into_raw());
}

/// What emulating one instruction asks of the caller (`enum
/// kvm_insn_return`), or a negative errno. The in-kernel CSR handlers of
/// the AIA and the PMU speak the same values as C ints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    ExitToUser,
    NextSepc,
    SameSepc,
    IllegalTrap,
    VirtualTrap,
    Error(c_int),
}

impl Outcome {
    fn from_c(rc: c_int) -> Self {
        match rc {
            0 => Self::ExitToUser,
            1 => Self::NextSepc,
            2 => Self::SameSepc,
            3 => Self::IllegalTrap,
            4 => Self::VirtualTrap,
            e if e < 0 => Self::Error(e),
            // Not a value any handler returns; upstream would go on with
            // the run loop, as for any positive value.
            _ => Self::SameSepc,
        }
    }
}

const _: () = {
    assert!(b::kvm_insn_return_KVM_INSN_EXIT_TO_USER_SPACE == 0);
    assert!(b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC == 1);
    assert!(b::kvm_insn_return_KVM_INSN_CONTINUE_SAME_SEPC == 2);
    assert!(b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP == 3);
    assert!(b::kvm_insn_return_KVM_INSN_VIRTUAL_TRAP == 4);
};

/// Sends the guest a trap of `cause` for instruction `insn` at its SEPC.
fn redirect_insn(cx: &mut VcpuCtx<'_>, cause: u32, insn: c_ulong) -> c_int {
    let trap = b::kvm_cpu_trap {
        sepc: cx.guest().sepc,
        scause: c_ulong::from_safe_cast(cause),
        stval: insn,
        htval: 0,
        htinst: 0,
    };
    trap_redirect(cx, &trap);
    1
}

/// Reads the instruction at the guest's SEPC. `Err`: the read faulted and
/// the run loop goes on: a G-stage fault on the fetch is left to happen
/// again when the guest retries, anything else goes to the guest.
fn read_guest_insn(cx: &mut VcpuCtx<'_>) -> Result<c_ulong, c_int> {
    let mut utrap = b::kvm_cpu_trap::default();
    let sepc = cx.guest().sepc;
    let insn = cx.unpriv_read(true, sepc, &mut utrap);
    if utrap.scause == 0 {
        return Ok(insn);
    }
    if utrap.scause != c_ulong::from_safe_cast(b::EXC_LOAD_GUEST_PAGE_FAULT) {
        utrap.sepc = sepc;
        trap_redirect(cx, &utrap);
    }
    Err(1)
}

/// `kvm_riscv_vcpu_wfi()`: blocks the vCPU until it has something to do.
/// The caller holds the SRCU read lock; it is dropped while the vCPU
/// sleeps.
pub(crate) fn wfi(cx: &mut VcpuCtx<'_>) {
    if !crate::vcpu_irq::runnable(cx.vcpu()) {
        cx.halt();
    }
}

/// An in-kernel CSR handler of the AIA or the PMU: (context, CSR, old value
/// out, new value, write mask) to a `KVM_INSN_*` outcome.
type CsrRmw = fn(&mut VcpuCtx<'_>, c_uint, &mut c_ulong, c_ulong, c_ulong) -> c_int;

/// A CSR that KVM emulates in the kernel, and who emulates it.
#[derive(Clone, Copy)]
enum CsrHandler {
    /// The AIA or PMU code.
    Rmw(CsrRmw),
    /// Without the SBI PMU: CYCLE and INSTRET read as 0, TIME is illegal
    /// (`kvm_riscv_vcpu_pmu_read_legacy()`).
    #[cfg(not(CONFIG_RISCV_PMU_SBI))]
    PmuLegacy,
    Seed,
}

/// The in-kernel CSR table of upstream: AIA SIREG/STOPEI, the counters the
/// PMU serves, and SEED.
fn csr_handler(csr: u32) -> Option<CsrHandler> {
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    const HPM: (u32, u32, CsrHandler) = (b::CSR_CYCLE, 32, CsrHandler::Rmw(crate::pmu::read_hpm));
    #[cfg(not(CONFIG_RISCV_PMU_SBI))]
    const HPM: (u32, u32, CsrHandler) = (b::CSR_CYCLE, 3, CsrHandler::PmuLegacy);
    match csr {
        b::CSR_SIREG => Some(CsrHandler::Rmw(crate::aia::rmw_ireg)),
        b::CSR_STOPEI => Some(CsrHandler::Rmw(crate::aia::rmw_topei)),
        c if c >= HPM.0 && c - HPM.0 < HPM.1 => Some(HPM.2),
        b::CSR_SEED => Some(CsrHandler::Seed),
        _ => None,
    }
}

/// Emulates a CSR access: in the kernel when the table has the CSR, else
/// it is illegal for the guest. SEED goes to userspace when the guest has
/// Zkr.
fn csr_insn(cx: &mut VcpuCtx<'_>, insn: c_ulong, ci: d::CsrInsn) -> Outcome {
    let (new_val, wr_mask) = {
        let p = cx.parts();
        let rs1_val = if ci.reads_rs1() {
            *p.guest.gpr(ci.rs1)
        } else {
            0
        };
        p.csr_decode.insn = insn;
        p.csr_decode.return_handled = 0;
        ci.operands(rs1_val)
    };
    let run = cx.vcpu().run_page();
    let mut exit = CsrExit {
        csr_num: c_ulong::from_safe_cast(ci.csr),
        new_value: new_val,
        write_mask: wr_mask,
        ret_value: 0,
    };
    run.set_csr(&exit);

    let Some(handler) = csr_handler(ci.csr) else {
        return Outcome::IllegalTrap;
    };
    let mut val: c_ulong = 0;
    let out = match handler {
        CsrHandler::Rmw(f) => Outcome::from_c(f(cx, ci.csr, &mut val, new_val, wr_mask)),
        #[cfg(not(CONFIG_RISCV_PMU_SBI))]
        CsrHandler::PmuLegacy => match ci.csr {
            b::CSR_CYCLE | b::CSR_INSTRET => Outcome::NextSepc,
            _ => Outcome::IllegalTrap,
        },
        CsrHandler::Seed => {
            if isa::bitmap_has(cx.isa(), b::RISCV_ISA_EXT_ZKR) {
                Outcome::ExitToUser
            } else {
                Outcome::IllegalTrap
            }
        }
    };
    match out {
        Outcome::NextSepc => {
            exit.ret_value = val;
            run.set_csr(&exit);
            cx.stat_inc(Stat::CsrExitKernel);
            csr_complete(cx, val);
            Outcome::SameSepc
        }
        Outcome::ExitToUser | Outcome::Error(_) => {
            cx.stat_inc(Stat::CsrExitUser);
            run.set_exit_reason(b::KVM_EXIT_RISCV_CSR);
            out
        }
        _ => out,
    }
}

/// Writes a CSR read's result `ret_value` to rd and steps over the
/// instruction, once.
fn csr_complete(cx: &mut VcpuCtx<'_>, ret_value: c_ulong) {
    let p = cx.parts();
    if p.csr_decode.return_handled != 0 {
        return;
    }
    p.csr_decode.return_handled = 1;
    let insn = p.csr_decode.insn;
    let rd = d::rd(insn);
    if rd != 0 {
        *p.guest.gpr(rd) = ret_value;
    }
    next_insn(p.guest, d::insn_len(insn));
}

/// `kvm_riscv_vcpu_csr_return()`: completes a CSR access after userspace
/// emulated it. Always 0.
pub(crate) fn csr_return(cx: &mut VcpuCtx<'_>) -> c_int {
    let ret_value = cx.vcpu().run_page().csr().ret_value;
    csr_complete(cx, ret_value);
    0
}

/// Emulates a SYSTEM-opcode instruction.
fn system_insn(cx: &mut VcpuCtx<'_>, insn: c_ulong, si: SystemInsn) -> c_int {
    let out = match si {
        SystemInsn::Csr(ci) => csr_insn(cx, insn, ci),
        SystemInsn::Wfi => {
            cx.stat_inc(Stat::WfiExits);
            wfi(cx);
            Outcome::NextSepc
        }
        SystemInsn::WrsNto => {
            cx.stat_inc(Stat::WrsExits);
            let spp = Sstatus::from_raw(xlen_to_u64(cx.guest().sstatus)).spp();
            cx.on_spin(spp);
            Outcome::NextSepc
        }
        SystemInsn::Other => Outcome::IllegalTrap,
    };
    match out {
        Outcome::IllegalTrap => redirect_insn(cx, b::EXC_INST_ILLEGAL, insn),
        Outcome::VirtualTrap => redirect_insn(cx, b::EXC_VIRTUAL_INST_FAULT, insn),
        Outcome::NextSepc => {
            next_insn(cx.guest(), d::insn_len(insn));
            1
        }
        Outcome::ExitToUser => 0,
        Outcome::Error(e) => e,
        Outcome::SameSepc => 1,
    }
}

/// Handles a virtual-instruction trap (`kvm_riscv_vcpu_virtual_insn()`):
/// > 0 to go on running, 0 to exit to userspace, < 0 an error.
pub(crate) fn virtual_insn(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap) -> c_int {
    let mut insn = trap.stval;
    let mut class = d::classify_virtual(insn, false);
    if class == VirtualInsn::Fetch {
        insn = match read_guest_insn(cx) {
            Ok(i) => i,
            Err(rc) => return rc,
        };
        class = d::classify_virtual(insn, true);
    }
    match class {
        VirtualInsn::System(si) => system_insn(cx, insn, si),
        _ => redirect_insn(cx, b::EXC_INST_ILLEGAL, insn),
    }
}

/// The instruction behind an MMIO fault and its length, from HTINST or
/// read from the guest.
fn mmio_insn(cx: &mut VcpuCtx<'_>, htinst: c_ulong) -> Result<(usize, usize), c_int> {
    if let Some(t) = d::from_htinst(htinst) {
        return Ok(t);
    }
    let insn = read_guest_insn(cx)?;
    Ok((insn, d::insn_len(insn)))
}

/// The first `len` bytes of an MMIO buffer (`len` as decoded: 1, 2, 4 or 8).
fn head(buf: &[u8; 8], len: usize) -> &[u8] {
    match len {
        1 => &buf[..1],
        2 => &buf[..2],
        4 => &buf[..4],
        _ => buf,
    }
}

/// As [`head`], mutable.
fn head_mut(buf: &mut [u8; 8], len: usize) -> &mut [u8] {
    match len {
        1 => &mut buf[..1],
        2 => &mut buf[..2],
        4 => &mut buf[..4],
        _ => buf,
    }
}

/// Records the decode of an MMIO access, for its completion.
fn mmio_start(cx: &mut VcpuCtx<'_>, rd: usize, insn_len: usize, len: usize, shift: u32) {
    let dec = cx.parts().mmio_decode;
    // The destination register, where upstream keeps a (rewritten) copy of
    // the instruction: only its rd field is read back.
    dec.insn = rd << 7;
    // CAST (all three): an instruction length (2 or 4), an access length
    // (1 to 8) and a shift (0 to 56).
    dec.insn_len = insn_len as c_int;
    dec.shift = shift as c_int;
    dec.len = len as c_int;
    dec.return_handled = 0;
}

/// The `kvm_mmio_emulate` trace event of an access of `len` bytes at `gpa`.
fn trace_mmio(cx: &mut VcpuCtx<'_>, insn: usize, gpa: u64, write: bool, len: usize) {
    // CAST: an access length, 1 to 8.
    cx.trace_mmio_emulate(insn, u64_to_xlen(gpa), write, len as u32);
}

/// The MMIO exit of an access of `len` bytes at `gpa`, over the data the
/// run page holds (the bytes past `len` stay as they are, as upstream).
fn mmio_exit(cx: &mut VcpuCtx<'_>, gpa: u64, len: usize, is_write: bool) -> MmioExit {
    let m = cx.vcpu().run_page().mmio();
    MmioExit {
        phys_addr: gpa,
        data: m.data,
        // CAST: an access length, 1 to 8.
        len: len as u32,
        is_write,
    }
}

/// Emulates a load from MMIO at `gpa` (`kvm_riscv_vcpu_mmio_load()`): in the
/// kernel when a device on the MMIO bus takes it, else through userspace.
pub(crate) fn mmio_load(cx: &mut VcpuCtx<'_>, gpa: u64, htinst: c_ulong) -> c_int {
    let (insn, insn_len) = match mmio_insn(cx, htinst) {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    let Some(ld) = d::decode_load(insn) else {
        return EOPNOTSUPP.to_errno();
    };
    if gpa & (u64::from_safe_cast(ld.len) - 1) != 0 {
        return EIO.to_errno();
    }
    trace_mmio(cx, insn, gpa, false, ld.len);
    mmio_start(cx, ld.rd, insn_len, ld.len, ld.shift());
    let mut m = mmio_exit(cx, gpa, ld.len, false);

    let mut data = [0u8; 8];
    let handled = cx.mmio_bus_read(gpa, head_mut(&mut data, ld.len));
    if handled {
        head_mut(&mut m.data, ld.len).copy_from_slice(head(&data, ld.len));
    }
    cx.vcpu().run_page().set_mmio(&m);
    if handled {
        cx.stat_inc(Stat::MmioExitKernel);
        mmio_complete(cx, &m);
        return 1;
    }
    cx.stat_inc(Stat::MmioExitUser);
    cx.vcpu().run_page().set_exit_reason(b::KVM_EXIT_MMIO);
    0
}

/// Emulates a store to MMIO at `gpa` (`kvm_riscv_vcpu_mmio_store()`).
pub(crate) fn mmio_store(cx: &mut VcpuCtx<'_>, gpa: u64, htinst: c_ulong) -> c_int {
    let (insn, insn_len) = match mmio_insn(cx, htinst) {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    let Some(st) = d::decode_store(insn) else {
        return EOPNOTSUPP.to_errno();
    };
    if gpa & (u64::from_safe_cast(st.len) - 1) != 0 {
        return EIO.to_errno();
    }
    trace_mmio(cx, insn, gpa, true, st.len);
    let value = xlen_to_u64(*cx.guest().gpr(st.rs));
    mmio_start(cx, 0, insn_len, st.len, 0);
    // Only the access's bytes, as upstream: the rest of `data` stays.
    let mut m = mmio_exit(cx, gpa, st.len, true);
    head_mut(&mut m.data, st.len).copy_from_slice(head(&value.to_le_bytes(), st.len));
    cx.vcpu().run_page().set_mmio(&m);

    if cx.mmio_bus_write(gpa, head(&m.data, st.len)) {
        cx.stat_inc(Stat::MmioExitKernel);
        mmio_complete(cx, &m);
        return 1;
    }
    cx.stat_inc(Stat::MmioExitUser);
    cx.vcpu().run_page().set_exit_reason(b::KVM_EXIT_MMIO);
    0
}

/// Completes an MMIO access `m`, once: a load's value goes to rd, and the
/// guest steps over the instruction.
fn mmio_complete(cx: &mut VcpuCtx<'_>, m: &MmioExit) -> c_int {
    let p = cx.parts();
    let dec = p.mmio_decode;
    if dec.return_handled != 0 {
        return 0;
    }
    dec.return_handled = 1;
    if !m.is_write {
        let len = match usize::try_from(dec.len) {
            Ok(len @ (1 | 2 | 4 | 8)) => len,
            _ => return EOPNOTSUPP.to_errno(),
        };
        // CAST: set by `mmio_start` from a decoded shift, 0 to 56.
        let value = d::load_value(m.data, len, dec.shift as u32);
        *p.guest.gpr(d::rd(dec.insn)) = value;
    }
    // CAST: sign-extends as C's `sepc += insn_len` does; `mmio_start` sets
    // it to 2 or 4.
    next_insn(p.guest, dec.insn_len as usize);
    0
}

/// `kvm_riscv_vcpu_mmio_return()`: completes an MMIO access after userspace
/// emulated it.
pub(crate) fn mmio_return(cx: &mut VcpuCtx<'_>) -> c_int {
    let m = cx.vcpu().run_page().mmio();
    mmio_complete(cx, &m)
}

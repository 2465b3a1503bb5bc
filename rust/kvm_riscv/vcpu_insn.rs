// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_insn.c`: emulation of the guest instructions
//! that trap to KVM. A virtual-instruction trap is a CSR access, WFI or
//! WRS.NTO; a G-stage fault on MMIO is a load or a store. Decoding is pure
//! ([`crate::insn_decode`]); this module applies it to the vCPU: guest
//! registers, `kvm_run`, the in-kernel MMIO bus and the statistics.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::insn_decode::{self as d, SystemInsn, VirtualInsn};
use crate::vcpu_exit::{kvm_riscv_vcpu_trap_redirect, kvm_riscv_vcpu_unpriv_read};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_uint, c_ulong};

const SR_SPP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;


/// Steps the guest over the `len`-byte instruction at its pc. The pc
/// wraps past the top of the address space, as the hardware's does (a
/// guest may run there).
pub(crate) fn next_insn(ctx: &mut b::kvm_cpu_context, len: usize) {
    // CAST: an instruction length, 2 or 4.
    ctx.sepc = ctx.sepc.wrapping_add(len as c_ulong);
}

/// What emulating one instruction asks of the caller (`enum
/// kvm_insn_return`), or a negative errno. The in-kernel CSR handlers of
/// the AIA and the PMU speak the same values through the C ABI.
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

/// Guest register `n` (x0..x31) of a saved context. x0 has a slot too,
/// which the world switch never loads.
pub(crate) fn gpr(c: &mut b::kvm_cpu_context, n: usize) -> &mut c_ulong {
    match n & 31 {
        0 => &mut c.zero,
        1 => &mut c.ra,
        2 => &mut c.sp,
        3 => &mut c.gp,
        4 => &mut c.tp,
        5 => &mut c.t0,
        6 => &mut c.t1,
        7 => &mut c.t2,
        8 => &mut c.s0,
        9 => &mut c.s1,
        10 => &mut c.a0,
        11 => &mut c.a1,
        12 => &mut c.a2,
        13 => &mut c.a3,
        14 => &mut c.a4,
        15 => &mut c.a5,
        16 => &mut c.a6,
        17 => &mut c.a7,
        18 => &mut c.s2,
        19 => &mut c.s3,
        20 => &mut c.s4,
        21 => &mut c.s5,
        22 => &mut c.s6,
        23 => &mut c.s7,
        24 => &mut c.s8,
        25 => &mut c.s9,
        26 => &mut c.s10,
        27 => &mut c.s11,
        28 => &mut c.t3,
        29 => &mut c.t4,
        30 => &mut c.t5,
        _ => &mut c.t6,
    }
}

fn mmio(run: &mut b::kvm_run) -> &mut b::kvm_run__bindgen_ty_1__bindgen_ty_6 {
    // SAFETY: a view of the exit-data union; every bit pattern is valid.
    unsafe { run.__bindgen_anon_1.mmio.as_mut() }
}

fn riscv_csr(run: &mut b::kvm_run) -> &mut b::kvm_run__bindgen_ty_1__bindgen_ty_25 {
    // SAFETY: a view of the exit-data union; every bit pattern is valid.
    unsafe { run.__bindgen_anon_1.riscv_csr.as_mut() }
}

/// Sends the guest a trap of `cause` for instruction `insn` at its SEPC.
///
/// # Safety
/// `vcpu` is a live vCPU loaded on this CPU, on its thread.
unsafe fn redirect_insn(vcpu: *mut b::kvm_vcpu, cause: u32, insn: c_ulong) -> c_int {
    let trap = b::kvm_cpu_trap {
        // SAFETY: per the function's contract.
        sepc: unsafe { (*vcpu).arch.guest_context.sepc },
        scause: cause as c_ulong,
        stval: insn,
        htval: 0,
        htinst: 0,
    };
    // SAFETY: per the function's contract; `trap` lives across the call.
    unsafe { kvm_riscv_vcpu_trap_redirect(vcpu, &trap) };
    1
}

/// Reads the instruction at the guest's SEPC. `Err`: the read faulted and
/// the run loop goes on: a G-stage fault on the fetch is left to happen
/// again when the guest retries, anything else goes to the guest.
///
/// # Safety
/// As for [`redirect_insn`].
unsafe fn read_guest_insn(vcpu: *mut b::kvm_vcpu) -> Result<c_ulong, c_int> {
    let mut utrap = b::kvm_cpu_trap::default();
    // SAFETY: per the function's contract.
    let sepc = unsafe { (*vcpu).arch.guest_context.sepc };
    // SAFETY: per the function's contract; `utrap` is zeroed.
    let insn = unsafe { kvm_riscv_vcpu_unpriv_read(vcpu, true, sepc, &mut utrap) };
    if utrap.scause == 0 {
        return Ok(insn);
    }
    if utrap.scause != b::EXC_LOAD_GUEST_PAGE_FAULT as c_ulong {
        utrap.sepc = sepc;
        // SAFETY: per the function's contract.
        unsafe { kvm_riscv_vcpu_trap_redirect(vcpu, &utrap) };
    }
    Err(1)
}

/// `kvm_riscv_vcpu_wfi()`: blocks the vCPU until it has something to do.
///
/// # Safety
/// `vcpu` is a live vCPU on its thread, with its SRCU read lock held.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_wfi(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    if !crate::vcpu::runnable(unsafe { crate::handle::Vcpu::from_raw(vcpu) }) {
        // SAFETY: the lock is dropped around the halt, as upstream does.
        unsafe {
            b::kvm_riscv_rs_vcpu_srcu_read_unlock(vcpu);
            b::kvm_vcpu_halt(vcpu);
            b::kvm_riscv_rs_vcpu_srcu_read_lock(vcpu);
        }
    }
}

/// A CSR that KVM emulates in the kernel, and who emulates it.
#[derive(Clone, Copy)]
enum CsrHandler {
    /// The AIA or PMU code: (vCPU, CSR, old value out, new value, write
    /// mask) to a `KVM_INSN_*` outcome.
    Rmw(unsafe fn(*mut b::kvm_vcpu, c_uint, &mut c_ulong, c_ulong, c_ulong) -> c_int),
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
///
/// # Safety
/// `vcpu` is a live vCPU loaded on this CPU, on its thread; `run` its run
/// page.
unsafe fn csr_insn(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, insn: c_ulong, ci: d::CsrInsn) -> Outcome {
    // SAFETY: per the function's contract, the vCPU thread owns both.
    let (arch, run) = unsafe { (&mut (*vcpu).arch, &mut *run) };
    let rs1_val = if ci.reads_rs1() { *gpr(&mut arch.guest_context, ci.rs1) } else { 0 };
    let (new_val, wr_mask) = ci.operands(rs1_val as usize);
    arch.csr_decode.insn = insn;
    arch.csr_decode.return_handled = 0;
    let rc = riscv_csr(run);
    rc.csr_num = ci.csr as c_ulong;
    rc.new_value = new_val as c_ulong;
    rc.write_mask = wr_mask as c_ulong;
    rc.ret_value = 0;

    let Some(handler) = csr_handler(ci.csr) else {
        return Outcome::IllegalTrap;
    };
    let mut val: c_ulong = 0;
    let out = match handler {
        // SAFETY: the handler's contract is the vCPU thread's; `val` lives
        // across the call.
        CsrHandler::Rmw(f) => Outcome::from_c(unsafe {
            f(vcpu, ci.csr, &mut val, new_val as c_ulong, wr_mask as c_ulong)
        }),
        #[cfg(not(CONFIG_RISCV_PMU_SBI))]
        CsrHandler::PmuLegacy => match ci.csr {
            b::CSR_CYCLE | b::CSR_INSTRET => Outcome::NextSepc,
            _ => Outcome::IllegalTrap,
        },
        CsrHandler::Seed => {
            // SAFETY: the vCPU's ISA bitmap.
            if unsafe { b::__riscv_isa_extension_available(arch.isa.as_ptr(), b::RISCV_ISA_EXT_ZKR) } {
                Outcome::ExitToUser
            } else {
                Outcome::IllegalTrap
            }
        }
    };
    match out {
        Outcome::NextSepc => {
            riscv_csr(run).ret_value = val;
            // SAFETY: the vCPU thread.
            unsafe { (*vcpu).stat.csr_exit_kernel += 1 };
            csr_complete(arch, run);
            Outcome::SameSepc
        }
        Outcome::ExitToUser | Outcome::Error(_) => {
            // SAFETY: the vCPU thread.
            unsafe { (*vcpu).stat.csr_exit_user += 1 };
            run.exit_reason = b::KVM_EXIT_RISCV_CSR;
            out
        }
        _ => out,
    }
}

/// Writes a CSR read's result to rd and steps over the instruction, once.
fn csr_complete(arch: &mut b::kvm_vcpu_arch, run: &mut b::kvm_run) {
    if arch.csr_decode.return_handled != 0 {
        return;
    }
    arch.csr_decode.return_handled = 1;
    let insn = arch.csr_decode.insn as usize;
    let rd = d::rd(insn);
    if rd != 0 {
        *gpr(&mut arch.guest_context, rd) = riscv_csr(run).ret_value;
    }
    next_insn(&mut arch.guest_context, d::insn_len(insn));
}

/// `kvm_riscv_vcpu_csr_return()`: completes a CSR access after userspace
/// (or the kernel) emulated it. Always 0.
///
/// # Safety
/// `vcpu` is a live vCPU on its thread; `run` its run page.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_csr_return(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run) -> c_int {
    // SAFETY: per the function's contract.
    unsafe { csr_complete(&mut (*vcpu).arch, &mut *run) };
    0
}

/// Emulates a SYSTEM-opcode instruction.
///
/// # Safety
/// As for [`csr_insn`].
unsafe fn system_insn(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, insn: c_ulong, si: SystemInsn) -> c_int {
    let out = match si {
        // SAFETY: per the function's contract.
        SystemInsn::Csr(ci) => unsafe { csr_insn(vcpu, run, insn, ci) },
        SystemInsn::Wfi => {
            // SAFETY: the vCPU thread, SRCU held by the run loop.
            unsafe {
                (*vcpu).stat.wfi_exit_stat += 1;
                kvm_riscv_vcpu_wfi(vcpu);
            }
            Outcome::NextSepc
        }
        SystemInsn::WrsNto => {
            // SAFETY: the vCPU thread.
            unsafe {
                (*vcpu).stat.wrs_exit_stat += 1;
                let spp = (*vcpu).arch.guest_context.sstatus & SR_SPP != 0;
                b::kvm_vcpu_on_spin(vcpu, spp);
            }
            Outcome::NextSepc
        }
        SystemInsn::Other => Outcome::IllegalTrap,
    };
    match out {
        // SAFETY (both): per the function's contract.
        Outcome::IllegalTrap => unsafe { redirect_insn(vcpu, b::EXC_INST_ILLEGAL, insn) },
        Outcome::VirtualTrap => unsafe { redirect_insn(vcpu, b::EXC_VIRTUAL_INST_FAULT, insn) },
        Outcome::NextSepc => {
            // SAFETY: the vCPU thread.
            unsafe { next_insn(&mut (*vcpu).arch.guest_context, d::insn_len(insn as usize)) };
            1
        }
        Outcome::ExitToUser => 0,
        Outcome::Error(e) => e,
        Outcome::SameSepc => 1,
    }
}

/// Handles a virtual-instruction trap (`kvm_riscv_vcpu_virtual_insn()`):
/// > 0 to go on running, 0 to exit to userspace, < 0 an error.
///
/// # Safety
/// `vcpu` is a live vCPU loaded on this CPU, on its thread with SRCU held;
/// `run` its run page.
pub(crate) unsafe fn virtual_insn(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, trap: &b::kvm_cpu_trap) -> c_int {
    let mut insn = trap.stval;
    let mut class = d::classify_virtual(insn as usize, false);
    if class == VirtualInsn::Fetch {
        // SAFETY: per the function's contract.
        insn = match unsafe { read_guest_insn(vcpu) } {
            Ok(i) => i,
            Err(rc) => return rc,
        };
        class = d::classify_virtual(insn as usize, true);
    }
    match class {
        // SAFETY: per the function's contract.
        VirtualInsn::System(si) => unsafe { system_insn(vcpu, run, insn, si) },
        // SAFETY: per the function's contract.
        _ => unsafe { redirect_insn(vcpu, b::EXC_INST_ILLEGAL, insn) },
    }
}

/// The instruction behind an MMIO fault and its length, from HTINST or
/// read from the guest.
///
/// # Safety
/// As for [`redirect_insn`].
unsafe fn mmio_insn(vcpu: *mut b::kvm_vcpu, htinst: c_ulong) -> Result<(usize, usize), c_int> {
    if let Some(t) = d::from_htinst(htinst as usize) {
        return Ok(t);
    }
    // SAFETY: per the function's contract.
    let insn = unsafe { read_guest_insn(vcpu) }? as usize;
    Ok((insn, d::insn_len(insn)))
}

/// Records the decode of an MMIO access and fills `run->mmio`.
fn mmio_start(arch: &mut b::kvm_vcpu_arch, run: &mut b::kvm_run, rd: usize, insn_len: usize, len: usize, shift: u32, gpa: u64, write: bool) {
    // The destination register, where upstream keeps a (rewritten) copy of
    // the instruction: only its rd field is read back.
    arch.mmio_decode.insn = (rd << 7) as c_ulong;
    arch.mmio_decode.insn_len = insn_len as c_int;
    arch.mmio_decode.shift = shift as c_int;
    arch.mmio_decode.len = len as c_int;
    arch.mmio_decode.return_handled = 0;
    let m = mmio(run);
    m.is_write = write as u8;
    m.phys_addr = gpa;
    m.len = len as u32;
}

#[cfg(CONFIG_TRACEPOINTS)]
fn trace_mmio(vcpu: *mut b::kvm_vcpu, insn: usize, gpa: u64, write: bool, len: usize) {
    // SAFETY: a tracepoint call; the vCPU is live.
    unsafe {
        b::kvm_riscv_rs_trace_kvm_mmio_emulate(vcpu, insn as c_ulong, gpa as c_ulong, write, len as c_uint)
    };
}

#[cfg(not(CONFIG_TRACEPOINTS))]
fn trace_mmio(_vcpu: *mut b::kvm_vcpu, _insn: usize, _gpa: u64, _write: bool, _len: usize) {}

/// Emulates a load from MMIO at `gpa` (`kvm_riscv_vcpu_mmio_load()`): in the
/// kernel when a device on the MMIO bus takes it, else through userspace.
///
/// # Safety
/// `vcpu` is a live vCPU loaded on this CPU, on its thread with SRCU held;
/// `run` its run page.
pub(crate) unsafe fn mmio_load(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, gpa: u64, htinst: c_ulong) -> c_int {
    // SAFETY: per the function's contract.
    let (insn, insn_len) = match unsafe { mmio_insn(vcpu, htinst) } {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    let Some(ld) = d::decode_load(insn) else {
        return EOPNOTSUPP.to_errno();
    };
    if gpa & (ld.len as u64 - 1) != 0 {
        return EIO.to_errno();
    }
    trace_mmio(vcpu, insn, gpa, false, ld.len);
    // SAFETY: per the function's contract, the vCPU thread owns both.
    let (arch, run) = unsafe { (&mut (*vcpu).arch, &mut *run) };
    mmio_start(arch, run, ld.rd, insn_len, ld.len, ld.shift(), gpa, false);

    let mut data = [0u8; 8];
    // SAFETY: the vCPU thread, SRCU held; `data` has room for `len` bytes.
    let rc = unsafe {
        b::kvm_io_bus_read(vcpu, b::kvm_bus_KVM_MMIO_BUS, gpa, ld.len as c_int, data.as_mut_ptr().cast())
    };
    if rc == 0 {
        let d = &mut mmio(run).data;
        match ld.len {
            1 => d[..1].copy_from_slice(&data[..1]),
            2 => d[..2].copy_from_slice(&data[..2]),
            4 => d[..4].copy_from_slice(&data[..4]),
            _ => *d = data,
        }
        // SAFETY: the vCPU thread.
        unsafe { (*vcpu).stat.mmio_exit_kernel += 1 };
        mmio_complete(arch, run);
        return 1;
    }
    // SAFETY: the vCPU thread.
    unsafe { (*vcpu).stat.mmio_exit_user += 1 };
    run.exit_reason = b::KVM_EXIT_MMIO;
    0
}

/// Emulates a store to MMIO at `gpa` (`kvm_riscv_vcpu_mmio_store()`).
///
/// # Safety
/// As for [`mmio_load`].
pub(crate) unsafe fn mmio_store(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, gpa: u64, htinst: c_ulong) -> c_int {
    // SAFETY: per the function's contract.
    let (insn, insn_len) = match unsafe { mmio_insn(vcpu, htinst) } {
        Ok(t) => t,
        Err(rc) => return rc,
    };
    let Some(st) = d::decode_store(insn) else {
        return EOPNOTSUPP.to_errno();
    };
    if gpa & (st.len as u64 - 1) != 0 {
        return EIO.to_errno();
    }
    trace_mmio(vcpu, insn, gpa, true, st.len);
    // SAFETY: per the function's contract, the vCPU thread owns both.
    let (arch, run) = unsafe { (&mut (*vcpu).arch, &mut *run) };
    let value = *gpr(&mut arch.guest_context, st.rs) as u64;
    mmio_start(arch, run, 0, insn_len, st.len, 0, gpa, true);
    // Only the access's bytes, as upstream: the rest of `data` stays.
    let (d, v) = (&mut mmio(run).data, value.to_le_bytes());
    match st.len {
        1 => d[..1].copy_from_slice(&v[..1]),
        2 => d[..2].copy_from_slice(&v[..2]),
        4 => d[..4].copy_from_slice(&v[..4]),
        _ => *d = v,
    }

    let data = mmio(run).data.as_ptr();
    // SAFETY: the vCPU thread, SRCU held; `data` holds `len` bytes.
    let rc = unsafe { b::kvm_io_bus_write(vcpu, b::kvm_bus_KVM_MMIO_BUS, gpa, st.len as c_int, data.cast()) };
    if rc == 0 {
        // SAFETY: the vCPU thread.
        unsafe { (*vcpu).stat.mmio_exit_kernel += 1 };
        mmio_complete(arch, run);
        return 1;
    }
    // SAFETY: the vCPU thread.
    unsafe { (*vcpu).stat.mmio_exit_user += 1 };
    run.exit_reason = b::KVM_EXIT_MMIO;
    0
}

/// Completes an MMIO access, once: a load's value goes to rd, and the guest
/// steps over the instruction.
fn mmio_complete(arch: &mut b::kvm_vcpu_arch, run: &mut b::kvm_run) -> c_int {
    let dec = &mut arch.mmio_decode;
    if dec.return_handled != 0 {
        return 0;
    }
    dec.return_handled = 1;
    let m = mmio(run);
    if m.is_write == 0 {
        let len = dec.len as usize;
        if !matches!(len, 1 | 2 | 4 | 8) {
            return EOPNOTSUPP.to_errno();
        }
        let value = d::load_value(m.data, len, dec.shift as u32);
        let rd = d::rd(dec.insn as usize);
        *gpr(&mut arch.guest_context, rd) = value as c_ulong;
    }
    next_insn(&mut arch.guest_context, arch.mmio_decode.insn_len as usize);
    0
}

/// `kvm_riscv_vcpu_mmio_return()`: completes an MMIO access after userspace
/// (or the kernel) emulated it.
///
/// # Safety
/// `vcpu` is a live vCPU on its thread; `run` its run page.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_mmio_return(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run) -> c_int {
    // SAFETY: per the function's contract.
    unsafe { mmio_complete(&mut (*vcpu).arch, &mut *run) }
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn mmio_return(cx: &mut VcpuCtx<'_>) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_mmio_return(cx.vcpu().as_ptr(), cx.vcpu().run_page().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn csr_return(cx: &mut VcpuCtx<'_>) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_csr_return(cx.vcpu().as_ptr(), cx.vcpu().run_page().as_ptr()) }
}

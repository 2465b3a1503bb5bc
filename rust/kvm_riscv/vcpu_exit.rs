// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_exit.c`: what KVM does with a trap out of the
//! guest. The trap is decoded once into a [`trap::Exit`]; the handler matches
//! on it. Counted guest exceptions bump their SBI PMU firmware event and a
//! statistic, then go back to the guest through [`trap_redirect`].

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::csr;
use crate::irq;
use crate::nacl::{ncsr_read, ncsr_write};
use crate::print::kvm_err;
use crate::trap::{self, exc, Access, Exit, FwEvent};
use crate::vcpu_insn;
use core::arch::asm;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};

const SR_SPP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
const SR_SPIE: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPIE as c_ulong;
const SR_SIE: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_IE as c_ulong;
const SR_SPELP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPELP as c_ulong;
const ENVCFG_LPE: u64 = b::kvm_riscv_rs_const_KVM_RISCV_RS_ENVCFG_LPE as u64;
const ENVCFG_SSE: u64 = b::kvm_riscv_rs_const_KVM_RISCV_RS_ENVCFG_SSE as u64;
const HSTATUS_SPV: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_SPV as c_ulong;

// The cause numbers and firmware events of `trap` must be the kernel's.
const _: () = {
    assert!(exc::INST_ACCESS == b::EXC_INST_ACCESS as usize);
    assert!(exc::INST_ILLEGAL == b::EXC_INST_ILLEGAL as usize);
    assert!(exc::BREAKPOINT == b::EXC_BREAKPOINT as usize);
    assert!(exc::LOAD_MISALIGNED == b::EXC_LOAD_MISALIGNED as usize);
    assert!(exc::LOAD_ACCESS == b::EXC_LOAD_ACCESS as usize);
    assert!(exc::STORE_MISALIGNED == b::EXC_STORE_MISALIGNED as usize);
    assert!(exc::STORE_ACCESS == b::EXC_STORE_ACCESS as usize);
    assert!(exc::SUPERVISOR_SYSCALL == b::EXC_SUPERVISOR_SYSCALL as usize);
    assert!(exc::SOFTWARE_CHECK == b::EXC_SOFTWARE_CHECK as usize);
    assert!(exc::INST_GUEST_PAGE_FAULT == b::EXC_INST_GUEST_PAGE_FAULT as usize);
    assert!(exc::LOAD_GUEST_PAGE_FAULT == b::EXC_LOAD_GUEST_PAGE_FAULT as usize);
    assert!(exc::VIRTUAL_INST_FAULT == b::EXC_VIRTUAL_INST_FAULT as usize);
    assert!(exc::STORE_GUEST_PAGE_FAULT == b::EXC_STORE_GUEST_PAGE_FAULT as usize);
    assert!(FwEvent::MisalignedLoad as usize == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MISALIGNED_LOAD as usize);
    assert!(FwEvent::MisalignedStore as usize == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MISALIGNED_STORE as usize);
    assert!(FwEvent::AccessLoad as usize == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ACCESS_LOAD as usize);
    assert!(FwEvent::AccessStore as usize == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ACCESS_STORE as usize);
    assert!(FwEvent::IllegalInsn as usize == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ILLEGAL_INSN as usize);
};

/// Sends `trap` to the guest's VS-mode trap vector, as the hardware would
/// have (`kvm_riscv_vcpu_trap_redirect()`).
///
/// # Safety
/// `vcpu` is a live vCPU, loaded on this CPU, and the caller its thread;
/// `trap` is valid.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_trap_redirect(
    vcpu: *mut b::kvm_vcpu,
    trap: *const b::kvm_cpu_trap,
) {
    // SAFETY: per the function's contract, the vCPU thread owns the context.
    let (gctx, henvcfg, trap) = unsafe {
        (&mut (*vcpu).arch.guest_context, (*vcpu).arch.cfg.henvcfg, &*trap)
    };
    let mut vsstatus = ncsr_read(csr::VSSTATUS);
    // SPP: the guest privilege the trap came from.
    vsstatus = (vsstatus & !SR_SPP) | (gctx.sstatus & SR_SPP);
    // SPIE takes SIE, and SIE goes off.
    vsstatus &= !SR_SPIE;
    if vsstatus & SR_SIE != 0 {
        vsstatus |= SR_SPIE;
    }
    vsstatus &= !SR_SIE;
    // SPELP moves with the trap when landing pads are on.
    if henvcfg & ENVCFG_LPE != 0 {
        vsstatus = (vsstatus & !SR_SPELP) | (gctx.sstatus & SR_SPELP);
        gctx.sstatus &= !SR_SPELP;
    }
    ncsr_write(csr::VSSTATUS, vsstatus);
    ncsr_write(csr::VSCAUSE, trap.scause);
    ncsr_write(csr::VSTVAL, trap.stval);
    ncsr_write(csr::VSEPC, trap.sepc);
    // The guest resumes at its trap vector, in supervisor mode.
    gctx.sepc = ncsr_read(csr::VSTVEC);
    gctx.sstatus |= SR_SPP;
}

/// Redirects `trap` if it came from the guest (HSTATUS.SPV); else `-EFAULT`.
///
/// # Safety
/// As for [`kvm_riscv_vcpu_trap_redirect`].
unsafe fn redirect(vcpu: *mut b::kvm_vcpu, trap: &b::kvm_cpu_trap) -> c_int {
    // SAFETY: per the function's contract.
    if unsafe { (*vcpu).arch.guest_context.hstatus } & HSTATUS_SPV == 0 {
        return EFAULT.to_errno();
    }
    // SAFETY: per the function's contract.
    unsafe { kvm_riscv_vcpu_trap_redirect(vcpu, trap) };
    1
}

/// Reads guest memory with the guest's translation (HLV.D), or an
/// instruction (HLVX.HU, twice for a 32-bit one). A fault while doing so is
/// recorded in `trap` by `__kvm_riscv_unpriv_trap` instead of being taken
/// by the host (`kvm_riscv_vcpu_unpriv_read()`).
///
/// # Safety
/// `vcpu` is a live vCPU loaded on this CPU; `trap` is valid and zeroed.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_unpriv_read(
    vcpu: *mut b::kvm_vcpu,
    read_insn: bool,
    guest_addr: c_ulong,
    trap: *mut b::kvm_cpu_trap,
) -> c_ulong {
    let val: c_ulong;
    // SAFETY: interrupts stay masked while STVEC points at the unpriv trap
    // vector; both CSRs are put back before they are unmasked.
    unsafe {
        let irqs = irq::disable();
        let old_hstatus = csr::HSTATUS.swap((*vcpu).arch.guest_context.hstatus);
        let old_stvec: usize;
        asm!("csrrw {old}, stvec, {new}", old = out(reg) old_stvec,
             new = in(reg) b::__kvm_riscv_unpriv_trap as *const () as usize, options(nostack));
        // The trap vector writes the trap to (a0), uses a1 and skips the
        // faulting 4-byte instruction: no compressed instructions here.
        if read_insn {
            asm!(
                ".option push",
                ".option norvc",
                // hlvx.hu val, (addr)
                ".insn r 0x73, 4, 0x32, {val}, {addr}, x3",
                "andi {tmp}, {val}, 3",
                "addi {tmp}, {tmp}, -3",
                "bne {tmp}, zero, 2f",
                "addi {addr}, {addr}, 2",
                ".insn r 0x73, 4, 0x32, {tmp}, {addr}, x3",
                "slli {tmp}, {tmp}, 16",
                "add {val}, {val}, {tmp}",
                "2:",
                ".option pop",
                val = out(reg) val, tmp = out(reg) _,
                addr = inout(reg) guest_addr => _,
                in("a0") trap, out("a1") _,
                options(nostack),
            );
            // A fault of the instruction fetch is an instruction page fault.
            if (*trap).scause == b::EXC_LOAD_PAGE_FAULT as c_ulong {
                (*trap).scause = b::EXC_INST_PAGE_FAULT as c_ulong;
            }
        } else {
            asm!(
                ".option push",
                ".option norvc",
                // hlv.d val, (addr)
                ".insn r 0x73, 4, 0x36, {val}, {addr}, x0",
                ".option pop",
                val = out(reg) val, addr = in(reg) guest_addr,
                in("a0") trap, out("a1") _,
                options(nostack),
            );
        }
        asm!("csrw stvec, {old}", old = in(reg) old_stvec, options(nostack));
        csr::HSTATUS.write(old_hstatus);
        drop(irqs);
    }
    val
}

/// A G-stage page fault: map the page when a memslot backs it, else emulate
/// MMIO (loads, stores) or raise an instruction access fault (fetches).
///
/// # Safety
/// `vcpu` is a live vCPU on its thread; `run` its run page.
unsafe fn gstage_page_fault(
    vcpu: *mut b::kvm_vcpu,
    run: *mut b::kvm_run,
    trap: &b::kvm_cpu_trap,
    access: Access,
) -> c_int {
    let gpa = trap::fault_gpa(trap.htval, trap.stval);
    let gfn = gpa >> b::PAGE_SHIFT;
    let mut writable = false;
    // SAFETY: the vCPU's VM, under the SRCU read lock the run loop holds.
    let (memslot, hva) = unsafe {
        let memslot = b::gfn_to_memslot((*vcpu).kvm, gfn);
        (memslot, b::gfn_to_hva_memslot_prot(memslot, gfn, &mut writable))
    };
    // SAFETY: a pure test of the address.
    let unbacked = unsafe { b::kvm_riscv_rs_is_error_hva(hva) };
    if unbacked || (access == Access::Store && !writable) {
        // SAFETY (all three): MMIO emulation and the redirect on the vCPU thread.
        return match access {
            Access::Load => unsafe { vcpu_insn::mmio_load(vcpu, run, gpa, trap.htinst) },
            Access::Store => unsafe { vcpu_insn::mmio_store(vcpu, run, gpa, trap.htinst) },
            Access::Fetch => {
                // A fetch from an address no memslot backs cannot be MMIO; on
                // real hardware it is an instruction access fault.
                let fault = b::kvm_cpu_trap {
                    sepc: trap.sepc,
                    scause: b::EXC_INST_ACCESS as c_ulong,
                    stval: trap.stval,
                    htval: 0,
                    htinst: 0,
                };
                // SAFETY: the vCPU thread; `fault` lives across the call.
                unsafe { kvm_riscv_vcpu_trap_redirect(vcpu, &fault) };
                1
            }
        };
    }
    let mut host_map = b::kvm_gstage_mapping::default();
    // SAFETY: the vCPU thread, SRCU held; `memslot` backs `gpa`.
    let ret = unsafe {
        b::kvm_riscv_mmu_map(vcpu, memslot, gpa, hva, access == Access::Store, &mut host_map)
    };
    if ret < 0 { ret } else { 1 }
}

/// Handles a trap out of the guest (`kvm_riscv_vcpu_exit()`): > 0 to go on
/// running, 0 to exit to userspace (with `run` filled), < 0 an error.
///
/// # Safety
/// `vcpu` is a live vCPU on its thread with the SRCU read lock held; `run`
/// is its run page.
pub(crate) unsafe fn handle_raw(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run, trap: &b::kvm_cpu_trap) -> c_int {
    let exit = Exit::decode(trap.scause);
    if exit == Exit::HostInterrupt {
        return 1;
    }
    #[cfg(CONFIG_TRACEPOINTS)]
    // SAFETY: a tracepoint call with the saved trap.
    unsafe {
        b::kvm_riscv_rs_trace_kvm_vcpu_exit(vcpu, trap as *const _ as *mut _)
    };

    // SAFETY: the run page and the vCPU belong to this thread.
    let (stat, gctx, henvcfg) = unsafe {
        (*run).exit_reason = b::KVM_EXIT_UNKNOWN;
        (&mut (*vcpu).stat, &(*vcpu).arch.guest_context, (*vcpu).arch.cfg.henvcfg)
    };
    let from_guest = gctx.hstatus & HSTATUS_SPV != 0;
    let ret = match exit {
        Exit::Redirect(event) => {
            if let Some(event) = event {
                // The firmware event first, as upstream counts it.
                // SAFETY: the vCPU thread. A bad event id is the PMU's
                // -EINVAL, which does not stop the redirect.
                #[cfg(CONFIG_RISCV_PMU_SBI)]
                unsafe { crate::pmu::kvm_riscv_vcpu_pmu_incr_fw(vcpu, event as c_ulong) };
                *match event {
                    FwEvent::IllegalInsn => &mut stat.instr_illegal_exits,
                    FwEvent::MisalignedLoad => &mut stat.load_misaligned_exits,
                    FwEvent::MisalignedStore => &mut stat.store_misaligned_exits,
                    FwEvent::AccessLoad => &mut stat.load_access_exits,
                    FwEvent::AccessStore => &mut stat.store_access_exits,
                } += 1;
            }
            // SAFETY: the vCPU thread.
            unsafe { redirect(vcpu, trap) }
        }
        // SAFETY (the three below): handlers of the vCPU thread.
        Exit::VirtualInsn if from_guest => unsafe { vcpu_insn::virtual_insn(vcpu, run, trap) },
        Exit::GuestPageFault(access) if from_guest => unsafe {
            gstage_page_fault(vcpu, run, trap, access)
        },
        Exit::SbiCall if from_guest => {
            // SAFETY: the SBI dispatch of the vCPU thread.
            unsafe { crate::vcpu_sbi::ecall_raw(vcpu, run) }
        }
        Exit::Breakpoint => {
            // SAFETY: the run page of this thread.
            unsafe { (*run).exit_reason = b::KVM_EXIT_DEBUG };
            0
        }
        // SAFETY: the vCPU thread.
        Exit::SoftwareCheck if henvcfg & (ENVCFG_LPE | ENVCFG_SSE) != 0 => unsafe {
            redirect(vcpu, trap)
        },
        _ => EFAULT.to_errno(),
    };

    if ret < 0 && ret != EINTR.to_errno() {
        kvm_err!("VCPU exit error {}\n", ret);
        kvm_err!(
            "SEPC={:#x} SSTATUS={:#x} HSTATUS={:#x}\n",
            gctx.sepc,
            gctx.sstatus,
            gctx.hstatus
        );
        kvm_err!(
            "SCAUSE={:#x} STVAL={:#x} HTVAL={:#x} HTINST={:#x}\n",
            trap.scause,
            trap.stval,
            trap.htval,
            trap.htinst
        );
    }
    ret
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn handle(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { handle_raw(cx.vcpu().as_ptr(), cx.vcpu().run_page().as_ptr(), trap) }
}

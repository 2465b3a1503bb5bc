// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_exit.c`: what KVM does with a trap out of the
//! guest. The trap is decoded once into a [`trap::Exit`]; the handler matches
//! on it. Counted guest exceptions bump their SBI PMU firmware event and a
//! statistic, then go back to the guest through [`trap_redirect`].

use crate::bindings as b;
use crate::handle::{Stat, VcpuCtx};
use crate::print::kvm_err;
use crate::regs_logic::{xlen_to_u64, Henvcfg, Hstatus};
use crate::vcpu_exit_logic::{self as trap, exc, Access, Exit, FwEvent};
use crate::vcpu_insn;
use kernel::error::code::*;
use kernel::ffi::c_int;
#[cfg(CONFIG_RISCV_PMU_SBI)]
use kernel::ffi::c_ulong;
use kernel::num::casts::u32_as_usize;

/// Sends a trap to the guest's VS-mode trap vector
/// (`kvm_riscv_vcpu_trap_redirect()`); implemented next to the instruction
/// emulation, which uses it too.
pub(crate) use crate::vcpu_insn::trap_redirect;

// The cause numbers and firmware events of `vcpu_exit_logic` must be the kernel's.
const _: () = {
    assert!(exc::INST_ACCESS == u32_as_usize(b::EXC_INST_ACCESS));
    assert!(exc::INST_ILLEGAL == u32_as_usize(b::EXC_INST_ILLEGAL));
    assert!(exc::BREAKPOINT == u32_as_usize(b::EXC_BREAKPOINT));
    assert!(exc::LOAD_MISALIGNED == u32_as_usize(b::EXC_LOAD_MISALIGNED));
    assert!(exc::LOAD_ACCESS == u32_as_usize(b::EXC_LOAD_ACCESS));
    assert!(exc::STORE_MISALIGNED == u32_as_usize(b::EXC_STORE_MISALIGNED));
    assert!(exc::STORE_ACCESS == u32_as_usize(b::EXC_STORE_ACCESS));
    assert!(exc::SUPERVISOR_SYSCALL == u32_as_usize(b::EXC_SUPERVISOR_SYSCALL));
    assert!(exc::SOFTWARE_CHECK == u32_as_usize(b::EXC_SOFTWARE_CHECK));
    assert!(exc::INST_GUEST_PAGE_FAULT == u32_as_usize(b::EXC_INST_GUEST_PAGE_FAULT));
    assert!(exc::LOAD_GUEST_PAGE_FAULT == u32_as_usize(b::EXC_LOAD_GUEST_PAGE_FAULT));
    assert!(exc::VIRTUAL_INST_FAULT == u32_as_usize(b::EXC_VIRTUAL_INST_FAULT));
    assert!(exc::STORE_GUEST_PAGE_FAULT == u32_as_usize(b::EXC_STORE_GUEST_PAGE_FAULT));
    // CAST (all): the discriminants of `FwEvent`, a `repr(usize)` enum.
    assert!(
        FwEvent::MisalignedLoad as usize
            == u32_as_usize(b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MISALIGNED_LOAD)
    );
    assert!(
        FwEvent::MisalignedStore as usize
            == u32_as_usize(b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MISALIGNED_STORE)
    );
    assert!(
        FwEvent::AccessLoad as usize
            == u32_as_usize(b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ACCESS_LOAD)
    );
    assert!(
        FwEvent::AccessStore as usize
            == u32_as_usize(b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ACCESS_STORE)
    );
    assert!(
        FwEvent::IllegalInsn as usize
            == u32_as_usize(b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_ILLEGAL_INSN)
    );
};

/// Whether the trap came from the guest (HSTATUS.SPV as the guest left).
fn from_guest(cx: &mut VcpuCtx<'_>) -> bool {
    Hstatus::from_raw(xlen_to_u64(cx.guest().hstatus)).spv()
}

/// Whether the guest has landing pads or shadow stacks (HENVCFG.LPE, SSE).
fn cfi_enabled(cx: &mut VcpuCtx<'_>) -> bool {
    let henvcfg = Henvcfg::from_raw(cx.cfg().henvcfg);
    henvcfg.lpe() || henvcfg.sse()
}

/// Redirects `vcpu_exit_logic` if it came from the guest; else `-EFAULT`.
fn redirect(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap) -> c_int {
    if !from_guest(cx) {
        return EFAULT.to_errno();
    }
    trap_redirect(cx, trap);
    1
}

/// A G-stage page fault: map the page when a memslot backs it, else emulate
/// MMIO (loads, stores) or raise an instruction access fault (fetches).
fn gstage_page_fault(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap, access: Access) -> c_int {
    let gpa = trap::fault_gpa(trap.htval, trap.stval);
    let store = access == Access::Store;
    if let Some(frame) = cx.guest_frame(gpa) {
        if !store || frame.writable() {
            let ret = frame.map(store);
            return if ret < 0 { ret } else { 1 };
        }
    }
    match access {
        Access::Load => vcpu_insn::mmio_load(cx, gpa, trap.htinst),
        Access::Store => vcpu_insn::mmio_store(cx, gpa, trap.htinst),
        Access::Fetch => {
            // A fetch from an address no memslot backs cannot be MMIO; on
            // real hardware it is an instruction access fault.
            let fault = b::kvm_cpu_trap {
                sepc: trap.sepc,
                scause: exc::INST_ACCESS,
                stval: trap.stval,
                htval: 0,
                htinst: 0,
            };
            trap_redirect(cx, &fault);
            1
        }
    }
}

/// Handles a trap out of the guest (`kvm_riscv_vcpu_exit()`), with the
/// SRCU read lock held: > 0 to go on running, 0 to exit to userspace (with
/// the run page filled), < 0 an error.
pub(crate) fn handle(cx: &mut VcpuCtx<'_>, trap: &b::kvm_cpu_trap) -> c_int {
    let exit = Exit::decode(trap.scause);
    if exit == Exit::HostInterrupt {
        return 1;
    }
    cx.trace_vcpu_exit(trap);

    let v = cx.vcpu();
    v.run_page().set_exit_reason(b::KVM_EXIT_UNKNOWN);
    let ret = match exit {
        Exit::Redirect(event) => {
            if let Some(event) = event {
                // The firmware event first, as upstream counts it. A bad
                // event id is the PMU's -EINVAL, which does not stop the
                // redirect.
                #[cfg(CONFIG_RISCV_PMU_SBI)]
                // CAST: a small firmware event number.
                let _ = crate::pmu::incr_fw(cx, event as c_ulong);
                cx.stat_inc(match event {
                    FwEvent::IllegalInsn => Stat::InstrIllegalExits,
                    FwEvent::MisalignedLoad => Stat::LoadMisalignedExits,
                    FwEvent::MisalignedStore => Stat::StoreMisalignedExits,
                    FwEvent::AccessLoad => Stat::LoadAccessExits,
                    FwEvent::AccessStore => Stat::StoreAccessExits,
                });
            }
            redirect(cx, trap)
        }
        Exit::VirtualInsn if from_guest(cx) => vcpu_insn::virtual_insn(cx, trap),
        Exit::GuestPageFault(access) if from_guest(cx) => gstage_page_fault(cx, trap, access),
        Exit::SbiCall if from_guest(cx) => crate::vcpu_sbi::ecall(cx),
        Exit::Breakpoint => {
            v.run_page().set_exit_reason(b::KVM_EXIT_DEBUG);
            0
        }
        Exit::SoftwareCheck if cfi_enabled(cx) => redirect(cx, trap),
        _ => EFAULT.to_errno(),
    };

    if ret < 0 && ret != EINTR.to_errno() {
        // The guest's registers as they are now, after any redirect.
        let g = cx.guest();
        let (sepc, sstatus, hstatus) = (g.sepc, g.sstatus, g.hstatus);
        kvm_err!("VCPU exit error {}\n", ret);
        kvm_err!(
            "SEPC={:#x} SSTATUS={:#x} HSTATUS={:#x}\n",
            sepc,
            sstatus,
            hstatus
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

// SPDX-License-Identifier: GPL-2.0

//! The run loop of `arch/riscv/kvm/vcpu.c`: `KVM_RUN`, the vCPU requests,
//! and the guest entry around the world switch (`vcpu_switch.S`), with
//! SCOUNTEREN, SENVCFG, SSTATEEN0, SSP and HSTATUS swapped here in Rust.

use crate::bindings as b;
use crate::csr;
use crate::ffi;
use crate::handle::{Mode, Request, Stat, VcpuCtx};
use crate::irq::{self, IrqsOff};
use crate::isa::host_has_ext;
use crate::nacl::{self, ncsr_write};
use crate::nacl_logic as layout;
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use kernel::error::code::*;
use kernel::ffi::c_int;

/// The host has Smstateen / Zicfiss: static keys, so that the guest entry
/// pays one patched branch for each, like upstream's alternatives.
static HOST_SMSTATEEN: StaticKeyFalse = StaticKeyFalse::new();
static HOST_ZICFISS: StaticKeyFalse = StaticKeyFalse::new();

/// Sets the keys the guest entry uses; at module init.
pub(crate) fn init() {
    if host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN) {
        HOST_SMSTATEEN.enable();
    }
    if host_has_ext(b::RISCV_ISA_EXT_ZICFISS) {
        HOST_ZICFISS.enable();
    }
}

/// Swaps in the guest's S-level CSRs that affect only lower privilege
/// levels: SCOUNTEREN, SENVCFG, and SSTATEEN0 / SSP where present.
#[inline(always)]
fn swap_in_guest_state(cx: &mut VcpuCtx<'_>) {
    let p = cx.parts();
    *p.host_scounteren = csr::SCOUNTEREN.swap(p.csr.scounteren);
    *p.host_senvcfg = csr::SENVCFG.swap(p.csr.senvcfg);
    if static_branch_unlikely!(HOST_SMSTATEEN) {
        *p.host_sstateen0 = csr::SSTATEEN0.swap(p.smstateen.sstateen0);
    }
    if static_branch_unlikely!(HOST_ZICFISS) {
        csr::SSP.write(p.zicfiss.ssp);
    }
}

/// Gives the host its SCOUNTEREN, SENVCFG, SSTATEEN0 and SSP back, keeping the
/// guest's values.
#[inline(always)]
fn swap_in_host_state(cx: &mut VcpuCtx<'_>) {
    let p = cx.parts();
    p.csr.scounteren = csr::SCOUNTEREN.swap(*p.host_scounteren);
    p.csr.senvcfg = csr::SENVCFG.swap(*p.host_senvcfg);
    if static_branch_unlikely!(HOST_SMSTATEEN) {
        p.smstateen.sstateen0 = csr::SSTATEEN0.swap(*p.host_sstateen0);
    }
    if static_branch_unlikely!(HOST_ZICFISS) {
        p.zicfiss.ssp = csr::SSP.swap(0);
    }
}

/// Guest x1..x31, the SRET area's contents.
#[inline(always)]
fn guest_gprs(c: &b::kvm_cpu_context) -> [usize; layout::SRET_X_LAST] {
    [
        c.ra, c.sp, c.gp, c.tp, c.t0, c.t1, c.t2, c.s0, c.s1, c.a0, c.a1, c.a2, c.a3, c.a4, c.a5,
        c.a6, c.a7, c.s2, c.s3, c.s4, c.s5, c.s6, c.s7, c.s8, c.s9, c.s10, c.s11, c.t3, c.t4, c.t5,
        c.t6,
    ]
}

/// Enters the guest and returns when it traps (`kvm_riscv_vcpu_enter_exit()`).
/// Interrupts are off; the trap CSRs are saved before they can change.
#[inline(always)]
fn enter_exit(cx: &mut VcpuCtx<'_>, trap: &mut b::kvm_cpu_trap, irqs: &IrqsOff) {
    swap_in_guest_state(cx);
    ffi::guest_state_enter(irqs);

    // With SSTATUS.VS on, the guest's vector state may wait to be restored.
    crate::vcpu_vector::restore_on_entry(cx.guest(), irqs);

    if let Some(nsh) = nacl::sync_sret_shmem() {
        {
            let p = cx.parts();
            if nacl::autoswap_csr_available() {
                p.host.hstatus = nsh.csr_read(csr::HSTATUS);
                nsh.scratch_write(
                    layout::AUTOSWAP_OFFSET + layout::AUTOSWAP_HSTATUS,
                    p.guest.hstatus,
                );
                nsh.scratch_write(layout::AUTOSWAP_OFFSET, layout::AUTOSWAP_FLAG_HSTATUS);
            } else if nacl::sync_csr_available() {
                p.host.hstatus = nsh.csr_swap(csr::HSTATUS, p.guest.hstatus);
            } else {
                p.host.hstatus = csr::HSTATUS.swap(p.guest.hstatus);
            }
            nsh.scratch_write_all(layout::sret_x(1), &guest_gprs(p.guest));
        }
        cx.nacl_switch_to_guest(irqs);
        let p = cx.parts();
        if nacl::autoswap_csr_available() {
            nsh.scratch_write(layout::AUTOSWAP_OFFSET, 0);
            p.guest.hstatus = nsh.scratch_read(layout::AUTOSWAP_OFFSET + layout::AUTOSWAP_HSTATUS);
        } else {
            p.guest.hstatus = csr::HSTATUS.swap(p.host.hstatus);
        }
        trap.htval = nsh.csr_read(csr::HTVAL);
        trap.htinst = nsh.csr_read(csr::HTINST);
    } else {
        {
            let p = cx.parts();
            p.host.hstatus = csr::HSTATUS.swap(p.guest.hstatus);
        }
        cx.switch_to_guest(irqs);
        let p = cx.parts();
        p.guest.hstatus = csr::HSTATUS.swap(p.host.hstatus);
        trap.htval = csr::HTVAL.read();
        trap.htinst = csr::HTINST.read();
    }

    trap.sepc = cx.guest().sepc;
    trap.scause = csr::SCAUSE.read();
    trap.stval = csr::STVAL.read();
    let cpu = cx.vcpu().cpu();
    cx.set_last_exit_cpu(cpu);
    ffi::guest_state_exit(irqs);
    swap_in_host_state(cx);
}

/// Handles the pending requests; `false` to exit to userspace
/// (`kvm_riscv_check_vcpu_requests()`).
fn handle_requests(cx: &mut VcpuCtx<'_>) -> bool {
    let v = cx.vcpu();
    if !v.request_pending() {
        return true;
    }
    if v.check_request(Request::Sleep) {
        cx.srcu_read_unlock();
        cx.wait_until_runnable();
        cx.srcu_read_lock();
        if crate::vcpu::stopped(v) || v.paused() {
            // Woken by a signal: sleep again later.
            v.make_request(Request::Sleep);
        }
    }
    if v.check_request(Request::VcpuReset) {
        crate::vcpu::reset(cx, true);
    }
    if v.check_request(Request::UpdateHgatp) {
        crate::mmu::update_hgatp(cx);
    }
    if v.check_request(Request::FenceI) {
        crate::tlb::fence_i_process(cx);
    }
    if v.check_request(Request::TlbFlush) {
        crate::tlb::tlb_flush_process(cx);
    }
    if v.check_request(Request::HfenceVvmaAll) {
        crate::tlb::hfence_vvma_all_process(cx);
    }
    if v.check_request(Request::Hfence) {
        crate::tlb::hfence_process(cx);
    }
    if v.check_request(Request::StealUpdate) {
        crate::vcpu_sbi_sta::record_steal_time(cx);
    }
    !cx.dirty_ring_check_request()
}

/// Completes what the last exit to userspace asked for.
fn complete_userspace_exit(cx: &mut VcpuCtx<'_>) -> c_int {
    match cx.vcpu().run_page().exit_reason() {
        b::KVM_EXIT_MMIO => crate::vcpu_insn::mmio_return(cx),
        b::KVM_EXIT_RISCV_SBI => crate::vcpu_sbi::sbi_return(cx),
        b::KVM_EXIT_RISCV_CSR => crate::vcpu_insn::csr_return(cx),
        _ => 0,
    }
}

/// `KVM_RUN` (`kvm_arch_vcpu_ioctl_run()`).
pub(crate) fn run(cx: &mut VcpuCtx<'_>) -> c_int {
    let v = cx.vcpu();
    if !v.ran_once() {
        crate::vcpu_config::ran_once(cx);
    }
    cx.set_ran_once();

    cx.srcu_read_lock();
    let ret = complete_userspace_exit(cx);
    if ret != 0 {
        cx.srcu_read_unlock();
        return ret;
    }
    if !v.wants_to_run() {
        cx.srcu_read_unlock();
        return EINTR.to_errno();
    }

    cx.generic_load();
    cx.sigset_activate();
    v.run_page().set_exit_reason(b::KVM_EXIT_UNKNOWN);
    let mut trap = b::kvm_cpu_trap::default();
    let mut ret = 1;
    while ret > 0 {
        ret = run_once(cx, &mut trap);
    }
    cx.sigset_deactivate();
    cx.generic_put();
    cx.srcu_read_unlock();
    ret
}

/// One turn of the run loop: > 0 to go on, else the ioctl's result.
fn run_once(cx: &mut VcpuCtx<'_>, trap: &mut b::kvm_cpu_trap) -> c_int {
    // Work before entering: signals, rescheduling, notifications.
    let ret = cx.handle_guest_mode_work();
    if ret != 0 {
        return ret;
    }
    crate::vmid::update(cx);
    if !handle_requests(cx) {
        return 0;
    }

    let preempt = ffi::preempt_disable();
    // Update the AIA hardware state before entering the guest.
    let ret = crate::aia_device::vcpu_update(cx);
    if ret <= 0 {
        drop(preempt);
        return ret;
    }

    let irqs = irq::disable();
    // IN_GUEST_MODE after interrupts are off and before the last request
    // check (Documentation/virt/kvm/vcpu-requests.rst).
    cx.set_mode(Mode::InGuest);
    cx.srcu_read_unlock();
    // smp_mb__after_srcu_read_unlock(): the unlock is a full barrier here.

    // Interrupts may have been raised asynchronously: into HVIP they go.
    crate::vcpu_irq::flush_interrupts(cx);
    ncsr_write(csr::HVIP, cx.csr().hvip);
    crate::aia::update_hvip(cx);

    if crate::vmid::ver_changed(cx.vcpu().vm())
        || cx.vcpu().request_pending()
        || ffi::guest_mode_work_pending(&irqs)
    {
        cx.set_mode(Mode::OutsideGuest);
        drop(irqs);
        drop(preempt);
        cx.srcu_read_lock();
        return 1;
    }

    // Sanitize the VMID's TLB entries on this CPU, after the VMID update.
    crate::tlb::local_tlb_sanitize(cx);
    cx.trace_entry();
    ffi::guest_timing_enter(&irqs);

    enter_exit(cx, trap, &irqs);

    cx.set_mode(Mode::OutsideGuest);
    cx.stat_inc(Stat::Exits);
    crate::vcpu::sync_interrupts(cx);

    // Take pending interrupts before leaving guest timing, so that timer
    // ticks count as guest time.
    drop(irqs);
    let irqs = irq::disable();
    ffi::guest_timing_exit(&irqs);
    drop(irqs);
    ffi::trace_exit(trap);
    drop(preempt);
    cx.srcu_read_lock();
    crate::vcpu_exit::handle(cx, trap)
}

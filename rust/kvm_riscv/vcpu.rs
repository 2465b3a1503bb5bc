// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu.c`, its lifecycle part: creating and
//! destroying a vCPU, resetting it, loading and putting it on a CPU, and its
//! power state (SBI HSM and `KVM_{GET,SET}_MP_STATE`). The interrupts are in
//! [`crate::vcpu_irq`], the run loop in [`crate::vcpu_run`], the C entry
//! points in [`crate::abi`].

use crate::bindings as b;
use crate::csr;
use crate::ffi;
use crate::handle::{MpStateLocked, Request, Vcpu, VcpuCtx};
use crate::nacl;
use crate::percpu::PerCpu;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use kernel::cpu::CpuId;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;

// CAST (all): low bits of SSTATUS/HSTATUS, from an enum of the C headers.
const SR_SPP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
const SR_SPIE: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPIE as c_ulong;
const HSTATUS_VTW: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_VTW as c_ulong;
const HSTATUS_SPVP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_SPVP as c_ulong;
const HSTATUS_SPV: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_SPV as c_ulong;

/// The vCPU that last ran on each CPU (its address; 0 for none): its CSRs may
/// still be loaded there.
#[link_section = ".data..percpu"]
static FORMER_VCPU: PerCpu<AtomicUsize> = PerCpu::new(AtomicUsize::new(0));

/// Forgets this CPU's former vCPU: the hypervisor CSRs are about to be lost,
/// so the next load must restore them all (`kvm_riscv_clear_former_vcpu()`).
pub(crate) fn clear_former_vcpu() {
    FORMER_VCPU.this_cpu().store(0, Relaxed);
}

// ---------------------------------------------------------------------------
// Create and destroy.

/// Sets up a new vCPU (`kvm_arch_vcpu_create()`).
pub(crate) fn create(cx: &mut VcpuCtx<'_>) -> Result {
    cx.init_locks();
    cx.init_mmu_page_cache();
    {
        let p = cx.parts();
        p.isa.fill(0);
        *p.mvendorid = crate::sbi::mvendorid();
        *p.marchid = crate::sbi::marchid();
        *p.mimpid = crate::sbi::mimpid();
    }
    crate::vcpu_config::init(cx);
    crate::onereg::setup_isa(cx);
    crate::vcpu_vector::alloc_context(cx)?;
    // Fails only when set up twice, which create does not do.
    let _ = crate::vcpu_timer::init(cx);
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    crate::pmu::init(cx);
    crate::aia_device::vcpu_init(cx);
    // The SBI extensions last: they look at the rest.
    crate::vcpu_sbi::init(cx);
    reset(cx, false);
    Ok(())
}

/// Tears down what [`create`] set up (`kvm_arch_vcpu_destroy()`).
pub(crate) fn destroy(cx: &mut VcpuCtx<'_>) {
    crate::vcpu_sbi::deinit(cx);
    crate::aia_device::vcpu_deinit(cx);
    crate::vcpu_timer::deinit(cx);
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    crate::pmu::deinit(cx);
    cx.free_mmu_page_cache();
    crate::vcpu_vector::free_context(cx);
}

/// After creation: vCPU 0 boots; the others wait for SBI HSM to start them
/// (`kvm_arch_vcpu_postcreate()`).
pub(crate) fn postcreate(v: &Vcpu) {
    if v.idx() != 0 {
        v.with_mp_state_lock(power_off_locked);
    }
}

// ---------------------------------------------------------------------------
// Power state (SBI HSM and mp_state).

/// Stops the vCPU (`__kvm_riscv_vcpu_power_off()`).
pub(crate) fn power_off_locked(l: &MpStateLocked<'_>) {
    l.set_mp_state(b::KVM_MP_STATE_STOPPED);
    l.vcpu().make_request(Request::Sleep);
    l.vcpu().kick();
}

/// Starts the vCPU (`__kvm_riscv_vcpu_power_on()`).
pub(crate) fn power_on_locked(l: &MpStateLocked<'_>) {
    l.set_mp_state(b::KVM_MP_STATE_RUNNABLE);
    l.vcpu().wake_up();
}

/// Whether the vCPU is stopped (`kvm_riscv_vcpu_stopped()`).
pub(crate) fn stopped(v: &Vcpu) -> bool {
    v.mp_state() == b::KVM_MP_STATE_STOPPED
}

/// Reads back what the guest changed in VSIE and HVIP, and its timer CSRs
/// (`kvm_riscv_vcpu_sync_interrupts()`).
pub(crate) fn sync_interrupts(cx: &mut VcpuCtx<'_>) {
    crate::vcpu_irq::sync_interrupts(cx);
    crate::vcpu_timer::sync(cx);
}

/// `KVM_SET_MP_STATE`.
pub(crate) fn set_mp_state(cx: &mut VcpuCtx<'_>, want: u32) -> Result {
    let v = cx.vcpu();
    let reset_allowed = v.vm().mp_state_reset();
    v.with_mp_state_lock(|l| match want {
        b::KVM_MP_STATE_RUNNABLE => {
            l.set_mp_state(want);
            Ok(())
        }
        b::KVM_MP_STATE_STOPPED => {
            power_off_locked(l);
            Ok(())
        }
        b::KVM_MP_STATE_INIT_RECEIVED if reset_allowed => {
            reset(cx, false);
            Ok(())
        }
        _ => Err(EINVAL),
    })
}

/// `KVM_SET_GUEST_DEBUG`.
pub(crate) fn set_guest_debug(cx: &mut VcpuCtx<'_>, control: u32) {
    let enable = control & b::KVM_GUESTDBG_ENABLE != 0;
    cx.set_guest_debug(if enable {
        c_ulong::from_safe_cast(control)
    } else {
        0
    });
    crate::vcpu_config::guest_debug(cx);
}

// ---------------------------------------------------------------------------
// Reset.

/// Zeroes the guest context and CSRs, and sets the reset SSTATUS and
/// HSTATUS (`kvm_riscv_vcpu_context_reset()`).
fn context_reset(cx: &mut VcpuCtx<'_>, sbi_reset: bool) {
    {
        let p = cx.parts();
        // The vector data buffer is not part of the context.
        let vector_datap = p.guest.vector.datap;
        *p.guest = b::kvm_cpu_context::default();
        *p.csr = b::kvm_vcpu_csr::default();
        *p.smstateen = b::kvm_vcpu_smstateen_csr::default();
        *p.zicfiss = b::kvm_vcpu_zicfiss_csr::default();
        p.guest.vector.datap = vector_datap;
    }
    if sbi_reset {
        crate::vcpu_sbi::load_reset_state(cx);
    }
    let guest = cx.guest();
    guest.sstatus = SR_SPP | SR_SPIE;
    guest.hstatus |= HSTATUS_VTW | HSTATUS_SPVP | HSTATUS_SPV;
}

/// Resets the whole vCPU (`kvm_riscv_reset_vcpu()`).
pub(crate) fn reset(cx: &mut VcpuCtx<'_>, sbi_reset: bool) {
    // Preemption off: load/put also run from the preempt notifiers.
    let preempt = ffi::preempt_disable();
    let loaded = cx.vcpu().cpu() != -1;
    if loaded {
        put(cx);
    }
    cx.set_last_exit_cpu(-1);
    context_reset(cx, sbi_reset);
    {
        let p = cx.parts();
        crate::vcpu_fp::reset(p.guest, p.isa);
        crate::vcpu_vector::reset(p.guest, p.isa);
    }
    crate::vcpu_timer::reset(cx);
    crate::aia_device::vcpu_reset(cx);
    crate::vcpu_irq::reset(cx.vcpu());
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    crate::pmu::deinit(cx);
    cx.reset_hfence_queue();
    crate::vcpu_sbi::reset(cx);
    if loaded {
        // CAST: CPU ids fit an int (NR_CPUS).
        load(cx, CpuId::current().as_u32() as c_int);
    }
    drop(preempt);
}

// ---------------------------------------------------------------------------
// Load and put.

/// Loads the vCPU on `cpu`, the current CPU (`kvm_arch_vcpu_load()`).
pub(crate) fn load(cx: &mut VcpuCtx<'_>, cpu: c_int) {
    let v = cx.vcpu();
    let me = core::ptr::from_ref(v).addr();
    let former = FORMER_VCPU.this_cpu();
    // Reloading on the CPU it left, with no other vCPU in between and no
    // CSR changed by userspace: the CSRs are still in place.
    let same = former.load(Relaxed) == me;
    let skip = same && v.last_exit_cpu() == cpu && !*cx.parts().csr_dirty;
    if !same {
        former.store(me, Relaxed);
    }
    if !skip {
        *cx.parts().csr_dirty = false;
        // The config CSRs first: they change how the others behave.
        crate::vcpu_config::load(cx);
        restore_vs_csrs(cx.csr());
        crate::mmu::update_hgatp(cx);
        crate::aia::load(cx, cpu);
    }
    crate::vcpu_timer::restore(cx);
    {
        let p = cx.parts();
        crate::vcpu_fp::host_save(p.host);
        crate::vcpu_fp::guest_restore(p.guest, p.isa);
        crate::vcpu_vector::with_cpu_context(|| {
            crate::vcpu_vector::host_save(p.host);
            crate::vcpu_vector::guest_restore(p.guest, p.isa);
        });
    }
    v.make_request(Request::StealUpdate);
    v.set_cpu(cpu);
}

/// Puts the vCPU (`kvm_arch_vcpu_put()`).
pub(crate) fn put(cx: &mut VcpuCtx<'_>) {
    cx.vcpu().set_cpu(-1);
    crate::aia::put(cx);
    {
        let p = cx.parts();
        crate::vcpu_fp::guest_save(p.guest, p.isa);
        crate::vcpu_fp::host_restore(p.host);
    }
    crate::vcpu_timer::save(cx);
    {
        let p = cx.parts();
        crate::vcpu_vector::with_cpu_context(|| {
            crate::vcpu_vector::guest_save(p.guest, p.isa);
            crate::vcpu_vector::host_restore(p.host);
        });
    }
    save_vs_csrs(cx.csr());
}

/// The VS-level CSRs (and HVIP) that load and put move, with their shadow
/// field.
macro_rules! vs_csrs {
    ($m:ident) => {
        $m!(VSSTATUS, vsstatus);
        $m!(VSIE, vsie);
        $m!(VSTVEC, vstvec);
        $m!(VSSCRATCH, vsscratch);
        $m!(VSEPC, vsepc);
        $m!(VSCAUSE, vscause);
        $m!(VSTVAL, vstval);
        $m!(HVIP, hvip);
        $m!(VSATP, vsatp);
    };
}

fn restore_vs_csrs(c: &b::kvm_vcpu_csr) {
    if let Some(nsh) = nacl::sync_csr_shmem() {
        macro_rules! w {
            ($n:ident, $f:ident) => {
                nsh.csr_write(csr::$n, c.$f)
            };
        }
        vs_csrs!(w);
    } else {
        macro_rules! w {
            ($n:ident, $f:ident) => {
                csr::$n.write(c.$f)
            };
        }
        vs_csrs!(w);
    }
}

fn save_vs_csrs(c: &mut b::kvm_vcpu_csr) {
    if let Some(nsh) = nacl::shmem() {
        macro_rules! r {
            ($n:ident, $f:ident) => {
                c.$f = nsh.csr_read(csr::$n)
            };
        }
        vs_csrs!(r);
    } else {
        macro_rules! r {
            ($n:ident, $f:ident) => {
                c.$f = csr::$n.read()
            };
        }
        vs_csrs!(r);
    }
}

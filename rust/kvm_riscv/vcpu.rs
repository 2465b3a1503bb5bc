// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu.c`: the vCPU lifecycle, load and put, the run
//! loop with the guest entry, interrupts, mp_state and the vCPU ioctls the
//! architecture handles.
//!
//! The generic KVM core owns `struct kvm_vcpu` and calls the `kvm_arch_*`
//! entry points below. Each entry point turns the raw pointer into a [`Vcpu`]
//! once. [`Vcpu`] gives typed access to the state: the parts only the vCPU's
//! own thread touches (contexts, shadow CSRs) through [`Vcpu::own`], and the
//! parts other threads share (pending interrupts, mp_state, requests) through
//! their locks or atomic accesses.

use crate::bindings as b;
use crate::csr;
use crate::irq;
use crate::main::host_has_ext;
use crate::nacl::{self, ncsr_read, ncsr_write, Shmem};
use crate::nacl_layout as layout;
use crate::percpu::PerCpu;
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use core::ptr::{addr_of_mut, null_mut};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::sync::barrier::{smp_mb, Full, Write};
use core::mem::size_of_val;
use kernel::uaccess::{UserPtr, UserSlice};

/// The vCPU that last ran on each CPU; its CSRs may still be loaded there.
#[link_section = ".data..percpu"]
static FORMER_VCPU: PerCpu<*mut b::kvm_vcpu> = PerCpu::new(null_mut());

/// Forgets this CPU's former vCPU: the hypervisor CSRs are about to be lost,
/// so the next load must restore them all (`kvm_riscv_clear_former_vcpu()`).
pub(crate) fn clear_former_vcpu() {
    // SAFETY: this CPU's slot, with preemption off (CPU PM or disable path).
    unsafe { *FORMER_VCPU.this_cpu_ptr() = null_mut() };
}

/// Values of C macros, through the enums of `helpers.h`.
#[allow(dead_code, non_snake_case)]
mod C {
    use crate::bindings as b;
    pub(super) const SR_SPP: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP;
    pub(super) const SR_SPIE: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPIE;
    pub(super) const SR_VS: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS;
    pub(super) const SR_VS_CLEAN: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_VS_CLEAN;
    pub(super) const HSTATUS_VTW: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_VTW;
    pub(super) const HSTATUS_SPVP: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_SPVP;
    pub(super) const HSTATUS_SPV: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_HSTATUS_SPV;
    pub(super) const IN_GUEST_MODE: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_IN_GUEST_MODE;
    pub(super) const OUTSIDE_GUEST_MODE: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_OUTSIDE_GUEST_MODE;
    pub(super) const INTERRUPT: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_INTERRUPT;
    pub(super) const SET_ONE_REG: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_SET_ONE_REG;
    pub(super) const GET_ONE_REG: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_GET_ONE_REG;
    pub(super) const GET_REG_LIST: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_GET_REG_LIST;
}

// ---------------------------------------------------------------------------
// Typed access to struct kvm_vcpu.

/// Reads a plain field of a vCPU's `struct kvm_vcpu_arch` (`READ_ONCE()`).
macro_rules! arch_get {
    ($v:expr, $($f:ident).+) => {{
        let a = $v.arch();
        // SAFETY: `a` is the live vCPU's arch state; a single-word read.
        unsafe { addr_of_mut!((*a).$($f).+).read_volatile() }
    }};
}

/// Writes a plain field of a vCPU's `struct kvm_vcpu_arch` (`WRITE_ONCE()`).
macro_rules! arch_set {
    ($v:expr, $($f:ident).+, $val:expr) => {{
        let val = $val;
        let a = $v.arch();
        // SAFETY: `a` is the live vCPU's arch state; a single-word write.
        unsafe { addr_of_mut!((*a).$($f).+).write_volatile(val) }
    }};
}

/// A vCPU, as the generic core hands it to the architecture.
///
/// # Invariants
/// Wraps a live `struct kvm_vcpu`.
#[derive(Clone, Copy)]
pub(crate) struct Vcpu(*mut b::kvm_vcpu);

/// The state of a vCPU that only its own thread uses (it holds `vcpu->mutex`,
/// or runs the vCPU): borrowed from a [`Vcpu`] by [`Vcpu::own`].
pub(crate) struct Own<'a> {
    pub(crate) host: &'a mut b::kvm_cpu_context,
    pub(crate) guest: &'a mut b::kvm_cpu_context,
    pub(crate) csr: &'a mut b::kvm_vcpu_csr,
    pub(crate) smstateen: &'a mut b::kvm_vcpu_smstateen_csr,
    pub(crate) zicfiss: &'a mut b::kvm_vcpu_zicfiss_csr,
}

impl Vcpu {
    /// # Safety
    /// `raw` is a live vCPU for as long as the value is used.
    pub(crate) unsafe fn from_raw(raw: *mut b::kvm_vcpu) -> Self {
        Vcpu(raw)
    }

    fn arch(self) -> *mut b::kvm_vcpu_arch {
        // SAFETY: in bounds of the live vCPU.
        unsafe { addr_of_mut!((*self.0).arch) }
    }

    /// The vCPU-thread-only state.
    ///
    /// # Safety
    /// The caller is the vCPU's own thread (ioctl with `vcpu->mutex` held, or
    /// the run loop) and holds no other [`Own`] of this vCPU.
    pub(crate) unsafe fn own<'a>(self) -> Own<'a> {
        let a = self.arch();
        // SAFETY: disjoint fields of the live vCPU that, per the caller's
        // promise, nobody else accesses meanwhile.
        unsafe {
            Own {
                host: &mut *addr_of_mut!((*a).host_context),
                guest: &mut *addr_of_mut!((*a).guest_context),
                csr: &mut *addr_of_mut!((*a).guest_csr),
                smstateen: &mut *addr_of_mut!((*a).smstateen_csr),
                zicfiss: &mut *addr_of_mut!((*a).zicfiss_csr),
            }
        }
    }


    fn id(self) -> c_int {
        // SAFETY: set at creation, read-only afterwards.
        unsafe { (*self.0).vcpu_id }
    }

    fn cpu(self) -> c_int {
        // SAFETY: a plain int the vCPU thread maintains.
        unsafe { addr_of_mut!((*self.0).cpu).read_volatile() }
    }

    fn set_cpu(self, cpu: c_int) {
        // SAFETY: as in `cpu`.
        unsafe { addr_of_mut!((*self.0).cpu).write_volatile(cpu) }
    }

    fn kvm(self) -> *mut b::kvm {
        // SAFETY: set at creation, read-only afterwards.
        unsafe { (*self.0).kvm }
    }

    /// The vCPU's ISA bitmap.
    ///
    /// # Safety
    /// The caller is the vCPU's own thread, as for [`Vcpu::own`]: only that
    /// thread changes the bitmap (ONE_REG).
    unsafe fn isa<'a>(self) -> &'a [c_ulong] {
        // SAFETY: in bounds of the live vCPU; stable for the caller.
        unsafe { &*core::ptr::addr_of!((*self.arch()).isa) }
    }

    /// The request bitmap (`vcpu->requests`).
    fn requests(self) -> *mut c_ulong {
        // SAFETY: in bounds of the live vCPU; a u64 is an unsigned long here.
        unsafe { addr_of_mut!((*self.0).requests).cast() }
    }

    /// `kvm_make_request()`: publish what goes with the request, then set it.
    pub(crate) fn make_request(self, req: u32) {
        smp_mb(Write);
        // CAST: the request number is below 64.
        let nr = (req & REQUEST_MASK) as c_ulong;
        // SAFETY: an atomic bit operation on the live vCPU's requests.
        unsafe { b::set_bit(nr, self.requests()) }
    }

    /// `kvm_check_request()`: test and clear, then see what went with it.
    fn check_request(self, req: u32) -> bool {
        let nr = req & REQUEST_MASK;
        // SAFETY: an atomic read of the live vCPU's requests.
        let word = unsafe { self.requests().read_volatile() };
        if word & bit(nr) == 0 {
            return false;
        }
        // SAFETY: an atomic bit operation on the live vCPU's requests.
        // CAST: the request number is below 64.
        unsafe { b::clear_bit(nr as c_ulong, self.requests()) };
        // smp_mb__after_atomic(), paired with the write barrier of make_request.
        smp_mb(Full);
        true
    }

    /// `kvm_request_pending()`.
    fn request_pending(self) -> bool {
        // SAFETY: an atomic read of the live vCPU's requests.
        unsafe { self.requests().read_volatile() != 0 }
    }

    pub(crate) fn kick(self) {
        // SAFETY: the vCPU is live.
        unsafe { b::__kvm_vcpu_kick(self.0, false) }
    }

    fn srcu_read_lock(self) {
        // SAFETY: the vCPU thread, which pairs it with `srcu_read_unlock`.
        unsafe { b::kvm_riscv_rs_vcpu_srcu_read_lock(self.0) }
    }

    fn srcu_read_unlock(self) {
        // SAFETY: pairs a `srcu_read_lock` of the vCPU thread.
        unsafe { b::kvm_riscv_rs_vcpu_srcu_read_unlock(self.0) }
    }

    /// Runs `f` on the pending-interrupt bitmaps under their raw spinlock,
    /// interrupts off.
    pub(crate) fn with_irqs<R>(self, f: impl FnOnce(&mut c_ulong, &mut c_ulong) -> R) -> R {
        let a = self.arch();
        // SAFETY: the lock is initialised at vCPU creation.
        let flags = unsafe { b::_raw_spin_lock_irqsave(addr_of_mut!((*a).irqs_pending_lock)) };
        // SAFETY: word 0 of both bitmaps; the lock serialises every access.
        let r = unsafe {
            f(&mut (*a).irqs_pending[0], &mut (*a).irqs_pending_mask[0])
        };
        // SAFETY: releases the lock taken above.
        unsafe { b::_raw_spin_unlock_irqrestore(addr_of_mut!((*a).irqs_pending_lock), flags) };
        r
    }

    /// Runs `f` under `mp_state_lock`.
    pub(crate) fn with_mp_state_lock<R>(self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the lock is initialised at vCPU creation.
        unsafe { b::spin_lock(addr_of_mut!((*self.arch()).mp_state_lock)) };
        let r = f();
        // SAFETY: releases the lock taken above.
        unsafe { b::spin_unlock(addr_of_mut!((*self.arch()).mp_state_lock)) };
        r
    }

    /// The start state SBI asked for, (pc, a1), read or written under its
    /// spinlock (`arch.reset_state`).
    pub(crate) fn with_reset_state<R>(self, f: impl FnOnce(&mut c_ulong, &mut c_ulong) -> R) -> R {
        // SAFETY: in bounds of the live vCPU.
        let rs = unsafe { addr_of_mut!((*self.arch()).reset_state) };
        // SAFETY: the lock is initialised at vCPU creation.
        unsafe { b::spin_lock(addr_of_mut!((*rs).lock)) };
        // SAFETY: the lock serialises every access to the two fields.
        let r = unsafe { f(&mut (*rs).pc, &mut (*rs).a1) };
        // SAFETY: releases the lock taken above.
        unsafe { b::spin_unlock(addr_of_mut!((*rs).lock)) };
        r
    }

    fn mp_state(self) -> u32 {
        arch_get!(self, mp_state.mp_state)
    }

    pub(crate) fn set_mp_state(self, s: u32) {
        arch_set!(self, mp_state.mp_state, s)
    }

    fn paused(self) -> bool {
        arch_get!(self, pause)
    }
}

// ---------------------------------------------------------------------------
// Interrupts.

const REQUEST_MASK: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQUEST_MASK;
const IRQ_VS_SOFT: u32 = b::IRQ_VS_SOFT;
const IRQ_VS_TIMER: u32 = b::IRQ_VS_TIMER;
const IRQ_VS_EXT: u32 = b::IRQ_VS_EXT;
const IRQ_PMU_OVF: u32 = b::IRQ_PMU_OVF;
const IRQ_LOCAL_MAX: u32 = b::kvm_riscv_rs_const_KVM_RISCV_RS_IRQ_LOCAL_MAX;
const IRQ_LOCAL_MASK: usize = b::kvm_riscv_rs_const_KVM_RISCV_RS_IRQ_LOCAL_MASK as usize;

/// May userspace or a device raise or lower `irq`? Of the local interrupts
/// (below `IRQ_LOCAL_MAX`) only VS software, timer, external and the PMU
/// overflow are the guest's.
fn irq_settable(irq: u32) -> bool {
    // The pending bitmaps are one word.
    if irq >= c_ulong::BITS {
        return false;
    }
    irq >= IRQ_LOCAL_MAX || matches!(irq, IRQ_VS_SOFT | IRQ_VS_TIMER | IRQ_VS_EXT | IRQ_PMU_OVF)
}

/// VSIP bit positions as HVIP has them (`vsip_to_hvip()`).
fn vsip_to_hvip(vsip: usize) -> usize {
    let bias = b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_BIAS_MASK as usize;
    let no_bias = b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_NO_BIAS_MASK as usize;
    ((vsip & bias) << b::kvm_riscv_rs_const_KVM_RISCV_RS_VSIP_TO_HVIP_SHIFT) | (vsip & no_bias)
}

fn bit(n: u32) -> c_ulong {
    1 << n
}

impl Vcpu {
    /// Raises `irq` for the guest and kicks the vCPU.
    pub(crate) fn set_interrupt(self, irq: u32) -> Result {
        if !irq_settable(irq) {
            return Err(EINVAL);
        }
        self.with_irqs(|pending, mask| {
            *pending |= bit(irq);
            *mask |= bit(irq);
        });
        // CAST: vCPU ids are not negative.
        // SAFETY: a tracepoint call with plain values.
        unsafe { b::kvm_riscv_rs_trace_kvm_vcpu_irq(self.id() as c_ulong, irq, 1) };
        self.kick();
        Ok(())
    }

    /// Lowers `irq` for the guest.
    pub(crate) fn unset_interrupt(self, irq: u32) -> Result {
        if !irq_settable(irq) {
            return Err(EINVAL);
        }
        self.with_irqs(|pending, mask| {
            *pending &= !bit(irq);
            *mask |= bit(irq);
        });
        // CAST: vCPU ids are not negative.
        // SAFETY: a tracepoint call with plain values.
        unsafe { b::kvm_riscv_rs_trace_kvm_vcpu_irq(self.id() as c_ulong, irq, 0) };
        Ok(())
    }

    /// Moves the interrupts raised or lowered since the last entry into the
    /// shadow HVIP (`kvm_riscv_vcpu_flush_interrupts()`).
    fn flush_interrupts(self) {
        let hvip = arch_get!(self, guest_csr.hvip);
        let a = self.arch();
        // (The AIA high interrupts of upstream's flush exist only on RV32.)
        let new = self.with_irqs(|pending, mask| {
            let changed = core::mem::take(mask);
            (hvip & !changed) | (*pending & changed)
        });
        // SAFETY: the shadow HVIP belongs to the vCPU thread, which runs this.
        unsafe { (*a).guest_csr.hvip = new };
    }

    /// Reads back what the guest changed in VSIE and HVIP
    /// (`kvm_riscv_vcpu_sync_interrupts()`).
    fn sync_interrupts(self, own: &mut Own<'_>) {
        own.csr.vsie = ncsr_read(csr::VSIE);
        let hvip = ncsr_read(csr::HVIP);
        let shadow = own.csr.hvip;
        self.with_irqs(|pending, mask| {
            let changed = shadow ^ hvip;
            // The guest may set or clear VSSIP.
            if changed & bit(IRQ_VS_SOFT) != 0 && *mask & bit(IRQ_VS_SOFT) == 0 {
                *mask |= bit(IRQ_VS_SOFT);
                if hvip & bit(IRQ_VS_SOFT) != 0 {
                    *pending |= bit(IRQ_VS_SOFT);
                } else {
                    *pending &= !bit(IRQ_VS_SOFT);
                }
            }
            // It may only clear LCOFIP.
            if changed & bit(IRQ_PMU_OVF) != 0
                && hvip & bit(IRQ_PMU_OVF) == 0
                && *mask & bit(IRQ_PMU_OVF) == 0
            {
                *mask |= bit(IRQ_PMU_OVF);
                *pending &= !bit(IRQ_PMU_OVF);
            }
            // (The AIA high interrupts of upstream's sync exist only on RV32.)
        });
        // SAFETY: the vCPU thread, the vCPU loaded.
        unsafe { crate::vcpu_timer::sync(self.0) };
    }

    /// Is an interrupt of `mask` pending and enabled?
    pub(crate) fn has_interrupts(self, mask: u64) -> bool {
        // CAST: XLEN is 64.
        let mask = mask as usize;
        let vsie = arch_get!(self, guest_csr.vsie);
        let ie = (vsip_to_hvip(vsie) & mask) | (vsie & !IRQ_LOCAL_MASK & mask);
        let ret = self.with_irqs(|pending, _| *pending & ie != 0);
        // SAFETY: the vCPU is live.
        // CAST: XLEN is 64.
        ret || unsafe { crate::aia::kvm_riscv_vcpu_aia_has_interrupts(self.0, mask as u64) }
    }
}

// ---------------------------------------------------------------------------
// Power state (SBI HSM and mp_state).

impl Vcpu {
    /// Stops the vCPU; `mp_state_lock` is held.
    fn power_off_locked(self) {
        self.set_mp_state(b::KVM_MP_STATE_STOPPED);
        self.make_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_SLEEP);
        self.kick();
    }

    /// Starts the vCPU; `mp_state_lock` is held.
    fn power_on_locked(self) {
        self.set_mp_state(b::KVM_MP_STATE_RUNNABLE);
        // SAFETY: the vCPU is live.
        unsafe { b::kvm_vcpu_wake_up(self.0) };
    }

    fn stopped(self) -> bool {
        self.mp_state() == b::KVM_MP_STATE_STOPPED
    }
}

// ---------------------------------------------------------------------------
// Reset.

impl Vcpu {
    /// Zeroes the guest context and CSRs, and sets the reset SSTATUS and
    /// HSTATUS (`kvm_riscv_vcpu_context_reset()`).
    fn context_reset(self, sbi_reset: bool) {
        // SAFETY: the vCPU thread (reset runs from create, ioctls and requests).
        let own = unsafe { self.own() };
        let vector_datap = own.guest.vector.datap;
        *own.guest = b::kvm_cpu_context::default();
        *own.csr = b::kvm_vcpu_csr::default();
        *own.smstateen = b::kvm_vcpu_smstateen_csr::default();
        *own.zicfiss = b::kvm_vcpu_zicfiss_csr::default();
        // The vector data buffer is not part of the context.
        own.guest.vector.datap = vector_datap;
        if sbi_reset {
            // SAFETY: the vCPU thread.
            unsafe { crate::vcpu_sbi::load_reset_state(self.0) };
        }
        // SAFETY: as above; the first borrow is no longer used.
        let own = unsafe { self.own() };
        // CAST: the bits are below XLEN.
        own.guest.sstatus = (C::SR_SPP | C::SR_SPIE) as c_ulong;
        own.guest.hstatus |= (C::HSTATUS_VTW | C::HSTATUS_SPVP | C::HSTATUS_SPV) as c_ulong;
    }

    /// Resets the whole vCPU (`kvm_riscv_reset_vcpu()`).
    fn reset(self, sbi_reset: bool) {
        // Preemption off: load/put also run from the preempt notifiers.
        // SAFETY: paired with the enable below.
        unsafe { b::kvm_riscv_rs_preempt_disable() };
        let loaded = self.cpu() != -1;
        if loaded {
            self.put();
        }
        arch_set!(self, last_exit_cpu, -1);
        self.context_reset(sbi_reset);
        // SAFETY: the vCPU thread (as in `context_reset`).
        let (own, isa) = unsafe { (self.own(), self.isa()) };
        crate::vcpu_fp::reset(own.guest, isa);
        crate::vcpu_vector::reset(own.guest, isa);
        // SAFETY: each resets its part of the vCPU, on the vCPU thread.
        unsafe {
            crate::vcpu_timer::reset(self.0);
            b::kvm_riscv_vcpu_aia_reset(self.0);
        }
        self.with_irqs(|pending, mask| {
            *pending = 0;
            *mask = 0;
        });
        // SAFETY: as above.
        #[cfg(CONFIG_RISCV_PMU_SBI)]
        unsafe { crate::pmu::deinit(self.0) };
        let a = self.arch();
        // SAFETY: the HFENCE queue is reset by the vCPU thread before use.
        unsafe {
            (*a).hfence_head = 0;
            (*a).hfence_tail = 0;
            core::ptr::write_bytes(addr_of_mut!((*a).hfence_queue), 0, 1);
            crate::vcpu_sbi::reset(self.0);
        }
        if loaded {
            // CAST: CPU ids are small.
            self.load(kernel::cpu::CpuId::current().as_u32() as c_int);
        }
        // SAFETY: pairs the disable above.
        unsafe { b::kvm_riscv_rs_preempt_enable() };
    }
}

// ---------------------------------------------------------------------------
// Load and put.

impl Vcpu {
    /// Loads the vCPU on `cpu` (`kvm_arch_vcpu_load()`).
    fn load(self, cpu: c_int) {
        // SAFETY: load runs on the vCPU thread (or its preempt notifier).
        let own = unsafe { self.own() };
        let former = FORMER_VCPU.this_cpu_ptr();
        // Reloading on the CPU it left, with no other vCPU in between and no
        // CSR changed by userspace: the CSRs are still in place.
        // SAFETY: this CPU's slot, preemption off.
        let same = unsafe { *former == self.0 };
        let skip = same
            && arch_get!(self, last_exit_cpu) == cpu
            && !arch_get!(self, csr_dirty);
        if !same {
            // SAFETY: as above.
            unsafe { *former = self.0 };
        }
        if !skip {
            arch_set!(self, csr_dirty, false);
            // The config CSRs first: they change how the others behave.
            // SAFETY: the vCPU thread, preemption off.
            unsafe { crate::vcpu_config::load(self.0) };
            restore_vs_csrs(own.csr);
            // SAFETY: as above.
            unsafe {
                b::kvm_riscv_mmu_update_hgatp(self.0);
                crate::aia::kvm_riscv_vcpu_aia_load(self.0, cpu);
            }
        }
        // SAFETY: as above; the first borrow is no longer used.
        let (own, isa) = unsafe { (self.own(), self.isa()) };
        // SAFETY: the vCPU thread, preemption off.
        unsafe { crate::vcpu_timer::restore(self.0) };
        crate::vcpu_fp::host_save(own.host);
        crate::vcpu_fp::guest_restore(own.guest, isa);
        crate::vcpu_vector::with_cpu_context(|| {
            crate::vcpu_vector::host_save(own.host);
            crate::vcpu_vector::guest_restore(own.guest, isa);
        });
        self.make_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_STEAL_UPDATE);
        self.set_cpu(cpu);
    }

    /// Puts the vCPU (`kvm_arch_vcpu_put()`).
    fn put(self) {
        self.set_cpu(-1);
        // SAFETY: put runs on the vCPU thread (or its preempt notifier).
        let (own, isa) = unsafe { (self.own(), self.isa()) };
        // SAFETY: the vCPU thread, preemption off.
        unsafe { crate::aia::kvm_riscv_vcpu_aia_put(self.0) };
        crate::vcpu_fp::guest_save(own.guest, isa);
        crate::vcpu_fp::host_restore(own.host);
        // SAFETY: as above.
        unsafe { crate::vcpu_timer::save(self.0) };
        crate::vcpu_vector::with_cpu_context(|| {
            crate::vcpu_vector::guest_save(own.guest, isa);
            crate::vcpu_vector::host_restore(own.host);
        });
        save_vs_csrs(own.csr);
    }
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
    if nacl::sync_csr_available() {
        let nsh = Shmem::this_cpu();
        macro_rules! w { ($n:ident, $f:ident) => { nsh.csr_write(csr::$n, c.$f) }; }
        vs_csrs!(w);
    } else {
        macro_rules! w { ($n:ident, $f:ident) => { csr::$n.write(c.$f) }; }
        vs_csrs!(w);
    }
}

fn save_vs_csrs(c: &mut b::kvm_vcpu_csr) {
    if nacl::available() {
        let nsh = Shmem::this_cpu();
        macro_rules! r { ($n:ident, $f:ident) => { c.$f = nsh.csr_read(csr::$n) }; }
        vs_csrs!(r);
    } else {
        macro_rules! r { ($n:ident, $f:ident) => { c.$f = csr::$n.read() }; }
        vs_csrs!(r);
    }
}

// ---------------------------------------------------------------------------
// Guest entry.

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
fn swap_in_guest_state(arch: &mut b::kvm_vcpu_arch) {
    let c = &arch.guest_csr;
    arch.host_scounteren = csr::SCOUNTEREN.swap(c.scounteren);
    arch.host_senvcfg = csr::SENVCFG.swap(c.senvcfg);
    if static_branch_unlikely!(HOST_SMSTATEEN) {
        arch.host_sstateen0 = csr::SSTATEEN0.swap(arch.smstateen_csr.sstateen0);
    }
    if static_branch_unlikely!(HOST_ZICFISS) {
        csr::SSP.write(arch.zicfiss_csr.ssp);
    }
}

/// Gives the host its SCOUNTEREN, SENVCFG, SSTATEEN0 and SSP back, keeping the
/// guest's values.
#[inline(always)]
fn swap_in_host_state(arch: &mut b::kvm_vcpu_arch) {
    arch.guest_csr.scounteren = csr::SCOUNTEREN.swap(arch.host_scounteren);
    arch.guest_csr.senvcfg = csr::SENVCFG.swap(arch.host_senvcfg);
    if static_branch_unlikely!(HOST_SMSTATEEN) {
        arch.smstateen_csr.sstateen0 = csr::SSTATEEN0.swap(arch.host_sstateen0);
    }
    if static_branch_unlikely!(HOST_ZICFISS) {
        arch.zicfiss_csr.ssp = csr::SSP.swap(0);
    }
}

/// Enters the guest and returns when it traps (`kvm_riscv_vcpu_enter_exit()`).
/// Interrupts are off; the trap CSRs are saved before they can change.
#[inline(always)]
fn enter_exit(vcpu: Vcpu, trap: &mut b::kvm_cpu_trap) {
    // SAFETY: the run loop of the vCPU thread, interrupts off: the whole
    // arch state is the thread's until the guest traps back.
    let arch = unsafe { &mut *vcpu.arch() };
    swap_in_guest_state(arch);
    // SAFETY: interrupts are off.
    unsafe { b::kvm_riscv_rs_guest_state_enter_irqoff() };

    // With SSTATUS.VS on, the guest's vector state may wait to be restored.
    // SAFETY: the current task's flags, only changed by itself.
    let vflags = unsafe { b::kvm_riscv_rs_current_v_flags() };
    let need = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;
    // SAFETY: `vflags` is null or the current task's flags.
    if !vflags.is_null() && unsafe { *vflags } & need != 0 {
        // SAFETY: as above; the guest context is the vCPU thread's.
        unsafe {
            *vflags = (*vflags & !need) | b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX;
            b::kvm_riscv_rs_vector_restore(&mut arch.guest_context);
        }
        let sstatus = arch.guest_context.sstatus & !(C::SR_VS as c_ulong);
        arch.guest_context.sstatus = sstatus | C::SR_VS_CLEAN as c_ulong;
    }

    if nacl::sync_sret_available() {
        let nsh = Shmem::this_cpu();
        if nacl::autoswap_csr_available() {
            arch.host_context.hstatus = nsh.csr_read(csr::HSTATUS);
            nsh.scratch_write(
                layout::AUTOSWAP_OFFSET + layout::AUTOSWAP_HSTATUS,
                arch.guest_context.hstatus,
            );
            nsh.scratch_write(layout::AUTOSWAP_OFFSET, layout::AUTOSWAP_FLAG_HSTATUS);
        } else if nacl::sync_csr_available() {
            arch.host_context.hstatus = nsh.csr_swap(csr::HSTATUS, arch.guest_context.hstatus);
        } else {
            arch.host_context.hstatus = csr::HSTATUS.swap(arch.guest_context.hstatus);
        }
        nsh.scratch_write_all(layout::sret_x(1), &guest_gprs(&arch.guest_context));
        // SAFETY: the asm saves and restores every host register it uses
        // and enters the guest through the SBI call.
        unsafe {
            b::__kvm_riscv_nacl_switch_to(
                arch,
                b::sbi_ext_id_SBI_EXT_NACL as c_ulong,
                b::sbi_ext_nacl_fid_SBI_EXT_NACL_SYNC_SRET as c_ulong,
            )
        };
        if nacl::autoswap_csr_available() {
            nsh.scratch_write(layout::AUTOSWAP_OFFSET, 0);
            arch.guest_context.hstatus =
                nsh.scratch_read(layout::AUTOSWAP_OFFSET + layout::AUTOSWAP_HSTATUS);
        } else {
            arch.guest_context.hstatus = csr::HSTATUS.swap(arch.host_context.hstatus);
        }
        trap.htval = nsh.csr_read(csr::HTVAL);
        trap.htinst = nsh.csr_read(csr::HTINST);
    } else {
        arch.host_context.hstatus = csr::HSTATUS.swap(arch.guest_context.hstatus);
        // SAFETY: as above, with `sret`.
        unsafe { b::__kvm_riscv_switch_to(arch) };
        arch.guest_context.hstatus = csr::HSTATUS.swap(arch.host_context.hstatus);
        trap.htval = csr::HTVAL.read();
        trap.htinst = csr::HTINST.read();
    }

    trap.sepc = arch.guest_context.sepc;
    trap.scause = csr::SCAUSE.read();
    trap.stval = csr::STVAL.read();
    arch.last_exit_cpu = vcpu.cpu();
    // SAFETY: interrupts are off.
    unsafe { b::kvm_riscv_rs_guest_state_exit_irqoff() };
    swap_in_host_state(arch);
}

/// Guest x1..x31, the SRET area's contents.
#[inline(always)]
fn guest_gprs(c: &b::kvm_cpu_context) -> [usize; layout::SRET_X_LAST] {
    [
        c.ra, c.sp, c.gp, c.tp, c.t0, c.t1, c.t2, c.s0, c.s1, c.a0, c.a1, c.a2, c.a3, c.a4,
        c.a5, c.a6, c.a7, c.s2, c.s3, c.s4, c.s5, c.s6, c.s7, c.s8, c.s9, c.s10, c.s11, c.t3,
        c.t4, c.t5, c.t6,
    ]
}

// ---------------------------------------------------------------------------
// The run loop.

/// `vcpu->mode = mode`: a plain store, ordered by the barriers around it.
///
/// # Safety
/// `v` is a live vCPU and the caller its thread.
#[inline(always)]
unsafe fn set_mode(v: *mut b::kvm_vcpu, mode: u32) {
    // CAST: the modes are small enumerators.
    // SAFETY: per the function's contract.
    unsafe { addr_of_mut!((*v).mode).write_volatile(mode as c_int) }
}

/// The `kvm_entry` trace event (nothing without `CONFIG_TRACEPOINTS`).
#[inline(always)]
fn trace_entry(_v: *mut b::kvm_vcpu) {
    // SAFETY: a tracepoint call for a live vCPU.
    #[cfg(CONFIG_TRACEPOINTS)]
    unsafe {
        b::kvm_riscv_rs_trace_kvm_entry(_v)
    };
}

/// The `kvm_exit` trace event (nothing without `CONFIG_TRACEPOINTS`).
#[inline(always)]
fn trace_exit(_trap: &mut b::kvm_cpu_trap) {
    // SAFETY: a tracepoint call with the trap just saved.
    #[cfg(CONFIG_TRACEPOINTS)]
    unsafe {
        b::kvm_riscv_rs_trace_kvm_exit(_trap)
    };
}

/// Why the run loop stops or goes on, from a C `ret` convention (> 0: go on).
fn keep_running(ret: c_int) -> bool {
    ret > 0
}

extern "C" fn wake_condition(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: called by the wait below for the live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    !v.stopped() && !v.paused()
}

impl Vcpu {
    /// Handles the pending requests; `false` to exit to userspace
    /// (`kvm_riscv_check_vcpu_requests()`).
    fn handle_requests(self) -> bool {
        if !self.request_pending() {
            return true;
        }
        if self.check_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_SLEEP) {
            self.srcu_read_unlock();
            // SAFETY: the vCPU thread; the condition only reads the vCPU.
            unsafe { b::kvm_riscv_rs_wait_until(self.0, Some(wake_condition)) };
            self.srcu_read_lock();
            if self.stopped() || self.paused() {
                // Woken by a signal: sleep again later.
                self.make_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_SLEEP);
            }
        }
        if self.check_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_VCPU_RESET) {
            self.reset(true);
        }
        // Each handler below runs on the vCPU thread, which `self` is.
        type Handler = unsafe extern "C" fn(*mut b::kvm_vcpu);
        let handlers: [(u32, Handler); 5] = [
            (b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_UPDATE_HGATP, b::kvm_riscv_mmu_update_hgatp),
            (b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_FENCE_I, b::kvm_riscv_fence_i_process),
            (b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_TLB_FLUSH, b::kvm_riscv_tlb_flush_process),
            (b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_HFENCE_VVMA_ALL, b::kvm_riscv_hfence_vvma_all_process),
            (b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_HFENCE, b::kvm_riscv_hfence_process),
        ];
        for (req, handle) in handlers {
            if self.check_request(req) {
                // SAFETY: a request handler of the C side, on the vCPU thread.
                unsafe { handle(self.0) };
            }
        }
        if self.check_request(b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_STEAL_UPDATE) {
            // SAFETY: the vCPU thread, the vCPU loaded.
            unsafe { crate::vcpu_sbi_sta::record_steal_time(self.0) };
        }
        // SAFETY: the vCPU thread.
        !unsafe { b::kvm_dirty_ring_check_request(self.0) }
    }

    /// Completes what the last exit to userspace asked for.
    fn complete_userspace_exit(self, run: *mut b::kvm_run) -> c_int {
        // SAFETY: `run` is the vCPU's run page, owned by the vCPU thread.
        let reason = unsafe { (*run).exit_reason };
        // SAFETY (all): completion handlers of the vCPU thread.
        match reason {
            b::KVM_EXIT_MMIO => unsafe { crate::vcpu_insn::kvm_riscv_vcpu_mmio_return(self.0, run) },
            b::KVM_EXIT_RISCV_SBI => unsafe { crate::vcpu_sbi::sbi_return(self.0, run) },
            b::KVM_EXIT_RISCV_CSR => unsafe { crate::vcpu_insn::kvm_riscv_vcpu_csr_return(self.0, run) },
            _ => 0,
        }
    }

    /// `KVM_RUN` (`kvm_arch_vcpu_ioctl_run()`).
    fn run(self) -> c_int {
        let v = self.0;
        // SAFETY: the vCPU's run page, set at creation.
        let run = unsafe { (*v).run };
        if !arch_get!(self, ran_atleast_once) {
            // SAFETY: the vCPU thread.
            unsafe { crate::vcpu_config::ran_once(v) };
        }
        arch_set!(self, ran_atleast_once, true);

        self.srcu_read_lock();
        let ret = self.complete_userspace_exit(run);
        if ret != 0 {
            self.srcu_read_unlock();
            return ret;
        }
        // SAFETY: set by the generic core for this ioctl.
        if !unsafe { (*v).wants_to_run } {
            self.srcu_read_unlock();
            return EINTR.to_errno();
        }

        // SAFETY: the vCPU thread; paired with `vcpu_put` and the deactivate below.
        unsafe {
            b::vcpu_load(v);
            b::kvm_sigset_activate(v);
            (*run).exit_reason = b::KVM_EXIT_UNKNOWN;
        }
        let mut trap = b::kvm_cpu_trap::default();
        let mut ret = 1;
        while keep_running(ret) {
            ret = self.run_once(run, &mut trap);
        }
        // SAFETY: pairs the calls above.
        unsafe {
            b::kvm_sigset_deactivate(v);
            b::vcpu_put(v);
        }
        self.srcu_read_unlock();
        ret
    }

    /// One turn of the run loop: > 0 to go on, else the ioctl's result.
    fn run_once(self, run: *mut b::kvm_run, trap: &mut b::kvm_cpu_trap) -> c_int {
        let v = self.0;
        // Work before entering: signals, rescheduling, notifications.
        // SAFETY: the vCPU thread.
        let ret = unsafe { b::kvm_riscv_rs_xfer_to_guest_mode_handle_work(v) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: the vCPU thread.
        unsafe { b::kvm_riscv_gstage_vmid_update(v) };
        if !self.handle_requests() {
            return 0;
        }

        // SAFETY: re-enabled on every path below.
        unsafe { b::kvm_riscv_rs_preempt_disable() };
        // Update the AIA hardware state before entering the guest.
        // SAFETY: the vCPU thread, preemption off.
        let ret = unsafe { b::kvm_riscv_vcpu_aia_update(v) };
        if ret <= 0 {
            // SAFETY: pairs the disable above.
            unsafe { b::kvm_riscv_rs_preempt_enable() };
            return ret;
        }

        // SAFETY: re-enabled on every path below.
        unsafe { irq::disable() };
        // IN_GUEST_MODE after interrupts are off and before the last request
        // check (Documentation/virt/kvm/vcpu-requests.rst).
        // SAFETY: the vCPU thread; `mode` is read by kickers.
        unsafe { set_mode(v, C::IN_GUEST_MODE) };
        self.srcu_read_unlock();
        // smp_mb__after_srcu_read_unlock(): the unlock is a full barrier here.

        // Interrupts may have been raised asynchronously: into HVIP they go.
        self.flush_interrupts();
        // SAFETY: the vCPU thread, preemption and interrupts off.
        let own = unsafe { self.own() };
        ncsr_write(csr::HVIP, own.csr.hvip);
        // SAFETY: as above.
        unsafe { crate::aia::kvm_riscv_vcpu_aia_update_hvip(v) };

        // SAFETY: reads the VM's VMID version.
        let vmid_changed = unsafe { b::kvm_riscv_gstage_vmid_ver_changed(&mut (*self.kvm()).arch.vmid) };
        // SAFETY: plain checks.
        if vmid_changed || self.request_pending() || unsafe { b::kvm_riscv_rs_xfer_to_guest_mode_work_pending() } {
            // SAFETY: undoes the steps above.
            unsafe {
                set_mode(v, C::OUTSIDE_GUEST_MODE);
                irq::enable();
                b::kvm_riscv_rs_preempt_enable();
            }
            self.srcu_read_lock();
            return 1;
        }

        // Sanitize the VMID's TLB entries on this CPU, after the VMID update.
        // SAFETY: as above.
        unsafe {
            b::kvm_riscv_local_tlb_sanitize(v);
            trace_entry(v);
            b::kvm_riscv_rs_guest_timing_enter_irqoff();
        }

        enter_exit(self, trap);

        // SAFETY: the vCPU thread.
        unsafe {
            set_mode(v, C::OUTSIDE_GUEST_MODE);
            (*v).stat.exits += 1;
        }
        // SAFETY: the vCPU thread, preemption and interrupts off.
        let mut own = unsafe { self.own() };
        self.sync_interrupts(&mut own);

        // Take pending interrupts before leaving guest timing, so that timer
        // ticks count as guest time.
        // SAFETY: interrupts on and off again, then guest timing ends.
        unsafe {
            irq::enable();
            irq::disable();
            b::kvm_riscv_rs_guest_timing_exit_irqoff();
            irq::enable();
            trace_exit(trap);
            b::kvm_riscv_rs_preempt_enable();
        }
        self.srcu_read_lock();
        // SAFETY: the vCPU thread handles its exit, SRCU held.
        unsafe { crate::vcpu_exit::handle(v, run, trap) }
    }
}

// ---------------------------------------------------------------------------
// Entry points called by the generic KVM core and the C objects.

/// # Safety
/// The generic core passes a live vCPU (and so below for every `vcpu`).
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_precreate(_kvm: *mut b::kvm, _id: c_uint) -> c_int {
    0
}

/// # Safety
/// `vcpu` is a new, zeroed vCPU the generic core is setting up.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_create(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: per the function's contract.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    let a = v.arch();
    // SAFETY: nobody else sees the vCPU yet.
    unsafe {
        b::kvm_riscv_rs_spin_lock_init(addr_of_mut!((*a).mp_state_lock));
        (*a).ran_atleast_once = false;
        (*a).mmu_page_cache.gfp_zero = b::__GFP_ZERO;
        (*a).isa = Default::default();
        crate::vcpu_config::init(vcpu);
        crate::onereg::setup_isa(vcpu);
        (*a).mvendorid = b::sbi_get_mvendorid() as c_ulong;
        (*a).marchid = b::sbi_get_marchid() as c_ulong;
        (*a).mimpid = b::sbi_get_mimpid() as c_ulong;
        b::kvm_riscv_rs_spin_lock_init(addr_of_mut!((*a).hfence_lock));
        b::kvm_riscv_rs_raw_spin_lock_init(addr_of_mut!((*a).irqs_pending_lock));
        b::kvm_riscv_rs_spin_lock_init(addr_of_mut!((*a).reset_state.lock));
        if let Err(e) = crate::vcpu_vector::alloc_context(&mut *a) {
            return e.to_errno();
        }
        // Fails only when set up twice, which create does not do.
        let _ = crate::vcpu_timer::init(vcpu);
        #[cfg(CONFIG_RISCV_PMU_SBI)]
        crate::pmu::init(vcpu);
        b::kvm_riscv_vcpu_aia_init(vcpu);
        // The SBI extensions last: they look at the rest.
        crate::vcpu_sbi::init(vcpu);
    }
    v.reset(false);
    0
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_postcreate(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    // vCPU 0 boots; the others wait for SBI HSM to start them.
    // SAFETY: set at creation.
    if unsafe { (*vcpu).vcpu_idx } != 0 {
        v.with_mp_state_lock(|| v.power_off_locked());
    }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; the vCPU is going away.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_destroy(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: tears down what create set up, on the dying vCPU.
    unsafe {
        crate::vcpu_sbi::deinit(vcpu);
        b::kvm_riscv_vcpu_aia_deinit(vcpu);
        crate::vcpu_timer::deinit(vcpu);
        #[cfg(CONFIG_RISCV_PMU_SBI)]
        crate::pmu::deinit(vcpu);
        b::kvm_mmu_free_memory_cache(addr_of_mut!((*vcpu).arch.mmu_page_cache));
        crate::vcpu_vector::free_context(&mut (*vcpu).arch);
    }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_cpu_has_pending_timer(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    c_int::from(unsafe { crate::vcpu_timer::pending(vcpu) })
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_runnable(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    c_int::from(v.has_interrupts(u64::MAX) && !v.stopped() && !v.paused())
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_should_kick(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    c_int::from(unsafe { b::kvm_riscv_rs_vcpu_exiting_guest_mode(vcpu) } == C::IN_GUEST_MODE as c_int)
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_in_kernel(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: a live vCPU; a racy read, as upstream's.
    unsafe { (*vcpu).arch.guest_context.sstatus & C::SR_SPP as c_ulong != 0 }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_get_ip(vcpu: *mut b::kvm_vcpu) -> c_ulong {
    // SAFETY: a live vCPU; a racy read, as upstream's.
    unsafe { (*vcpu).arch.guest_context.sepc }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_fault(
    _vcpu: *mut b::kvm_vcpu,
    _vmf: *mut b::vm_fault,
) -> b::vm_fault_t {
    b::vm_fault_reason_VM_FAULT_SIGBUS
}

/// `KVM_INTERRUPT`, which does not take the vCPU mutex.
///
/// # Safety
/// `filp` is the vCPU's file.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_unlocked_ioctl(
    filp: *mut b::file,
    ioctl: c_uint,
    arg: c_ulong,
) -> c_long {
    if ioctl != C::INTERRUPT {
        return ENOIOCTLCMD.to_errno() as c_long;
    }
    // SAFETY: the file's private data is its vCPU.
    let v = unsafe { Vcpu::from_raw((*filp).private_data.cast()) };
    let mut irq = b::kvm_interrupt::default();
    let mut reader = UserSlice::new(UserPtr::from_addr(arg as usize), size_of_val(&irq)).reader();
    // SAFETY: `irq` is plain data of the size read.
    let bytes = unsafe { core::slice::from_raw_parts_mut((&raw mut irq).cast::<u8>(), size_of_val(&irq)) };
    if reader.read_slice(bytes).is_err() {
        return EFAULT.to_errno() as c_long;
    }
    let r = if irq.irq == b::KVM_INTERRUPT_SET as u32 {
        v.set_interrupt(IRQ_VS_EXT)
    } else {
        v.unset_interrupt(IRQ_VS_EXT)
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// Reads a `T` of plain data from userspace address `arg`.
fn read_user<T: Default>(arg: usize) -> Result<T> {
    let mut v = T::default();
    let n = core::mem::size_of::<T>();
    // SAFETY: callers use bindgen's plain-data types, valid for any bytes.
    let bytes = unsafe { core::slice::from_raw_parts_mut((&raw mut v).cast::<u8>(), n) };
    UserSlice::new(UserPtr::from_addr(arg), n).reader().read_slice(bytes)?;
    Ok(v)
}

/// Writes a `T` of plain data to userspace address `arg`.
fn write_user<T>(arg: usize, v: &T) -> Result {
    let n = core::mem::size_of::<T>();
    // SAFETY: `v` is plain data of `n` bytes.
    let bytes = unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), n) };
    UserSlice::new(UserPtr::from_addr(arg), n).writer().write_slice(bytes)
}

/// The vCPU ioctls of the architecture: ONE_REG and the register list.
///
/// # Safety
/// `filp` is the vCPU's file; the generic core holds the vCPU mutex.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_ioctl(
    filp: *mut b::file,
    ioctl: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: the file's private data is its vCPU.
    let vcpu: *mut b::kvm_vcpu = unsafe { (*filp).private_data.cast() };
    let arg = arg as usize;
    let r: Result<c_int> = match ioctl {
        C::SET_ONE_REG | C::GET_ONE_REG => read_user::<b::kvm_one_reg>(arg).map(|reg| {
            // SAFETY: the vCPU mutex is held; `reg` is a kernel copy.
            unsafe {
                if ioctl == C::SET_ONE_REG {
                    crate::onereg::set_reg(vcpu, &reg)
                } else {
                    crate::onereg::get_reg(vcpu, &reg)
                }
            }
        }),
        C::GET_REG_LIST => (|| {
            let mut list = read_user::<b::kvm_reg_list>(arg)?;
            let room = list.n;
            // SAFETY: the vCPU mutex is held.
            // CAST: the number of registers fits in u64.
            list.n = unsafe { crate::onereg::num_regs(vcpu) } as u64;
            write_user(arg, &list)?;
            if room < list.n {
                return Err(E2BIG);
            }
            // The indices follow the count (`struct kvm_reg_list.reg[]`).
            let regs = arg + core::mem::size_of::<u64>();
            // SAFETY: the vCPU mutex is held; the C side copies to userspace.
            Ok(unsafe { crate::onereg::copy_reg_indices(vcpu, regs as u64) })
        })(),
        _ => Err(EINVAL),
    };
    match r {
        Ok(rc) => rc as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

macro_rules! unsupported {
    ($($name:ident($ty:ty)),* $(,)?) => {$(
        /// Not used by RISC-V: `-EINVAL`.
        ///
        /// # Safety
        /// See [`kvm_arch_vcpu_precreate`].
        #[no_mangle]
        pub(crate) unsafe extern "C" fn $name(_vcpu: *mut b::kvm_vcpu, _arg: *mut $ty) -> c_int {
            EINVAL.to_errno()
        }
    )*};
}

unsupported! {
    kvm_arch_vcpu_ioctl_get_sregs(b::kvm_sregs),
    kvm_arch_vcpu_ioctl_set_sregs(b::kvm_sregs),
    kvm_arch_vcpu_ioctl_get_fpu(b::kvm_fpu),
    kvm_arch_vcpu_ioctl_set_fpu(b::kvm_fpu),
    kvm_arch_vcpu_ioctl_translate(b::kvm_translation),
    kvm_arch_vcpu_ioctl_get_regs(b::kvm_regs),
    kvm_arch_vcpu_ioctl_set_regs(b::kvm_regs),
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_flush_interrupts(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.flush_interrupts()
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; the vCPU thread.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_sync_interrupts(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU, on its thread.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    // SAFETY: the vCPU thread.
    let mut own = unsafe { v.own() };
    v.sync_interrupts(&mut own)
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_set_interrupt(vcpu: *mut b::kvm_vcpu, irq: c_uint) -> c_int {
    // SAFETY: a live vCPU.
    match unsafe { Vcpu::from_raw(vcpu) }.set_interrupt(irq) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_unset_interrupt(vcpu: *mut b::kvm_vcpu, irq: c_uint) -> c_int {
    // SAFETY: a live vCPU.
    match unsafe { Vcpu::from_raw(vcpu) }.unset_interrupt(irq) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_has_interrupts(vcpu: *mut b::kvm_vcpu, mask: u64) -> bool {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.has_interrupts(mask)
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; `mp_state_lock` is held.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kvm_riscv_vcpu_power_off(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.power_off_locked()
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_power_off(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    v.with_mp_state_lock(|| v.power_off_locked())
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; `mp_state_lock` is held.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kvm_riscv_vcpu_power_on(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.power_on_locked()
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_power_on(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    v.with_mp_state_lock(|| v.power_on_locked())
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_stopped(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.stopped()
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; `mp_state` is a kernel copy.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_ioctl_get_mpstate(
    vcpu: *mut b::kvm_vcpu,
    mp_state: *mut b::kvm_mp_state,
) -> c_int {
    // SAFETY: a live vCPU and a kernel copy to fill.
    unsafe { (*mp_state).mp_state = Vcpu::from_raw(vcpu).mp_state() };
    0
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; `mp_state` is a kernel copy.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_ioctl_set_mpstate(
    vcpu: *mut b::kvm_vcpu,
    mp_state: *mut b::kvm_mp_state,
) -> c_int {
    // SAFETY: a live vCPU and a kernel copy.
    let (v, want) = unsafe { (Vcpu::from_raw(vcpu), (*mp_state).mp_state) };
    // SAFETY: set at VM creation.
    let reset_allowed = unsafe { (*v.kvm()).arch.mp_state_reset };
    v.with_mp_state_lock(|| match want {
        b::KVM_MP_STATE_RUNNABLE => {
            v.set_mp_state(want);
            0
        }
        b::KVM_MP_STATE_STOPPED => {
            v.power_off_locked();
            0
        }
        b::KVM_MP_STATE_INIT_RECEIVED if reset_allowed => {
            v.reset(false);
            0
        }
        _ => EINVAL.to_errno(),
    })
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; `dbg` is a kernel copy.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_ioctl_set_guest_debug(
    vcpu: *mut b::kvm_vcpu,
    dbg: *mut b::kvm_guest_debug,
) -> c_int {
    // SAFETY: a live vCPU, with its mutex held, and a kernel copy.
    unsafe {
        let control = (*dbg).control;
        let enable = control & b::KVM_GUESTDBG_ENABLE != 0;
        // CAST: the debug flags are the low bits.
        (*vcpu).guest_debug = if enable { control as c_ulong } else { 0 };
        crate::vcpu_config::guest_debug(vcpu);
    }
    0
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; preemption is off.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_load(vcpu: *mut b::kvm_vcpu, cpu: c_int) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.load(cpu)
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; preemption is off.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_put(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.put()
}

/// # Safety
/// See [`kvm_arch_vcpu_precreate`]; the vCPU mutex is held.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_arch_vcpu_ioctl_run(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU, on its own thread.
    unsafe { Vcpu::from_raw(vcpu) }.run()
}

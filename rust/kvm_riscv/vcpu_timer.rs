// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_timer.c`: the guest timer and its ONE_REG
//! registers.
//!
//! With Sstc the guest programs VSTIMECMP itself: the vCPU saves and
//! restores it, and a host hrtimer only wakes the vCPU thread while it
//! blocks. Without Sstc, the SBI timer call arms a host hrtimer that raises
//! the VS timer interrupt. The VM's offset from the host's `time` goes into
//! HTIMEDELTA.
//!
//! The state is upstream's `struct kvm_vcpu_timer`, embedded in the C
//! `struct kvm_vcpu`; the kernel crate's `HrTimer` wants to own its timer
//! in a pinned Rust value, so the embedded hrtimer is driven through the C
//! calls here. `next_cycles` and `next_set` are shared by the vCPU thread
//! and the hrtimer callback (hard interrupt context), as upstream shares
//! them: each access is one volatile load or store of a word.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::csr;
use crate::isa::host_has_ext;
use crate::nacl::{ncsr_read, ncsr_write};
use crate::onereg::user;
use crate::reg_id::RegId;
use crate::timer_logic::{cycles_to_ns, TimerReg, STATE_OFF, STATE_ON};
use crate::handle::Vcpu;
use core::mem::{offset_of, size_of};
use core::ptr::addr_of_mut;
use kernel::error::code::*;
use kernel::ffi::c_int;
use kernel::prelude::*;

// The uapi's timer states and register layout are the ones `timer_logic`
// knows.
const _: () = {
    assert!(STATE_OFF == b::KVM_RISCV_TIMER_STATE_OFF as u64);
    assert!(STATE_ON == b::KVM_RISCV_TIMER_STATE_ON as u64);
    assert!(offset_of!(b::kvm_riscv_timer, frequency) == 0);
    assert!(offset_of!(b::kvm_riscv_timer, time) == 8);
    assert!(offset_of!(b::kvm_riscv_timer, compare) == 16);
    assert!(offset_of!(b::kvm_riscv_timer, state) == 24);
    assert!(size_of::<b::kvm_riscv_timer>() == 32);
};

/// The host's `time` (`get_cycles64()`; RV64).
fn host_cycles() -> u64 {
    // CAST: XLEN is 64.
    csr::TIME.read() as u64
}

/// The VM's guest clock (`struct kvm_guest_timer`): its offset from the
/// host's `time`, and the clocksource's cycles-to-ns factors.
#[derive(Clone, Copy)]
struct GuestClock(*mut b::kvm_guest_timer);

impl GuestClock {
    fn delta(self) -> u64 {
        // SAFETY: the live VM's clock; a word read (userspace may set it
        // meanwhile, as upstream allows).
        unsafe { addr_of_mut!((*self.0).time_delta).read_volatile() }
    }

    fn set_delta(self, delta: u64) {
        // SAFETY: as above, a word write.
        unsafe { addr_of_mut!((*self.0).time_delta).write_volatile(delta) }
    }

    /// The guest's `time` now.
    fn now(self) -> u64 {
        host_cycles().wrapping_add(self.delta())
    }

    /// Nanoseconds until guest cycle `next`, 0 once it has passed.
    fn ns_until(self, next: u64) -> u64 {
        // Interrupts off, as upstream: `time` is read and converted at one
        // instant.
        // SAFETY: paired with the restore below.
        let flags = unsafe { b::kvm_riscv_rs_local_irq_save() };
        // SAFETY: the factors are set when the VM is created.
        let (mult, shift) = unsafe { ((*self.0).nsec_mult, (*self.0).nsec_shift) };
        let ns = cycles_to_ns(self.now(), next, mult, shift);
        // SAFETY: restores what the save above returned.
        unsafe { b::kvm_riscv_rs_local_irq_restore(flags) };
        ns
    }
}

/// A vCPU's timer (`struct kvm_vcpu_timer`).
///
/// # Invariants
/// `vcpu` is live, and `t` is its `arch.timer`.
#[derive(Clone, Copy)]
struct Timer {
    vcpu: *mut b::kvm_vcpu,
    t: *mut b::kvm_vcpu_timer,
}

/// Reads a field of the timer (`READ_ONCE()`).
macro_rules! get {
    ($t:expr, $f:ident) => {{
        let t = $t;
        // SAFETY: the live vCPU's timer (type invariant); a word read.
        unsafe { addr_of_mut!((*t.t).$f).read_volatile() }
    }};
}

/// Writes a field of the timer (`WRITE_ONCE()`).
macro_rules! set {
    ($t:expr, $f:ident, $v:expr) => {{
        let (t, v) = ($t, $v);
        // SAFETY: the live vCPU's timer (type invariant); a word write.
        unsafe { addr_of_mut!((*t.t).$f).write_volatile(v) }
    }};
}

impl Timer {
    /// # Safety
    /// `vcpu` is live for as long as the value is used.
    unsafe fn of(vcpu: *mut b::kvm_vcpu) -> Self {
        // SAFETY: in bounds of the live vCPU.
        Timer { vcpu, t: unsafe { addr_of_mut!((*vcpu).arch.timer) } }
    }

    /// The timer whose hrtimer is `h`.
    ///
    /// # Safety
    /// `h` is the `arch.timer.hrt` of a live vCPU.
    unsafe fn of_hrtimer(h: *mut b::hrtimer) -> Self {
        // SAFETY: `container_of()`: per the function's contract, the vCPU
        // starts that many bytes before `h`.
        let vcpu = unsafe { h.byte_sub(offset_of!(b::kvm_vcpu, arch.timer.hrt)) }.cast();
        // SAFETY: as above, a live vCPU.
        unsafe { Timer::of(vcpu) }
    }

    fn clock(self) -> GuestClock {
        // SAFETY: the VM outlives its vCPUs; in bounds of it.
        GuestClock(unsafe { addr_of_mut!((*(*self.vcpu).kvm).arch.timer) })
    }

    fn vcpu<'a>(self) -> &'a Vcpu {
        // SAFETY: live, per the type invariant.
        unsafe { Vcpu::from_raw(self.vcpu) }
    }

    fn hrt(self) -> *mut b::hrtimer {
        // SAFETY: in bounds of the live vCPU.
        unsafe { addr_of_mut!((*self.t).hrt) }
    }

    /// Arms the hrtimer `ns` from now (`hrtimer_start(..., HRTIMER_MODE_REL)`).
    fn start(self, ns: u64) {
        // SAFETY: the hrtimer was set up by `init` (callers check
        // `init_done`). CAST: `ktime_set(0, ns)`, as upstream.
        unsafe { b::hrtimer_start_range_ns(self.hrt(), ns as b::ktime_t, 0, b::hrtimer_mode_HRTIMER_MODE_REL) };
    }

    /// Disarms the timer; -EINVAL if it was not initialised or not armed
    /// (`kvm_riscv_vcpu_timer_cancel()`).
    fn cancel(self) -> Result {
        if !get!(self, init_done) {
            return Err(EINVAL);
        }
        // SAFETY: set up by `init`; waits for a running callback.
        unsafe { b::hrtimer_cancel(self.hrt()) };
        if !get!(self, next_set) {
            return Err(EINVAL);
        }
        set!(self, next_set, false);
        Ok(())
    }

    /// Programs the next event at guest cycle `ncycles`
    /// (`kvm_riscv_vcpu_timer_next_event()`).
    fn next_event(self, ncycles: u64) -> Result {
        if get!(self, sstc_enabled) {
            // CAST: XLEN is 64.
            ncsr_write(csr::VSTIMECMP, ncycles as usize);
            return Ok(());
        }
        if !get!(self, init_done) {
            return Err(EINVAL);
        }
        // IRQ_VS_TIMER is always a settable interrupt.
        let _ = crate::vcpu_irq::unset_interrupt(self.vcpu(), b::IRQ_VS_TIMER);
        let ns = self.clock().ns_until(ncycles);
        set!(self, next_cycles, ncycles);
        self.start(ns);
        set!(self, next_set, true);
        Ok(())
    }

    /// Arms the hrtimer for the vCPU thread that blocks
    /// (`kvm_riscv_vcpu_timer_blocking()`).
    fn blocking(self) {
        if !get!(self, init_done) {
            return;
        }
        self.start(self.clock().ns_until(get!(self, next_cycles)));
        set!(self, next_set, true);
    }

    /// `kvm_riscv_vcpu_timer_unblocking()`: nothing to undo if the timer
    /// was not armed.
    fn unblocking(self) {
        let _ = self.cancel();
    }
}

/// The hrtimer callback: re-arms itself if the host timer fired before
/// the guest's compare value (the clocks differ), else marks the event
/// done and calls `fire`.
fn expired(t: Timer, fire: impl FnOnce(&Vcpu)) -> b::hrtimer_restart {
    let clock = t.clock();
    let next = get!(t, next_cycles);
    if clock.now() < next {
        let ns = clock.ns_until(next);
        // SAFETY: the running callback's own timer (`hrtimer_forward_now()`).
        // CAST: `ktime_set(0, ns)`, as upstream.
        unsafe { b::hrtimer_forward(t.hrt(), b::hrtimer_cb_get_time(t.hrt()), ns as b::ktime_t) };
        return b::hrtimer_restart::HRTIMER_RESTART;
    }
    set!(t, next_set, false);
    fire(t.vcpu());
    b::hrtimer_restart::HRTIMER_NORESTART
}

/// Without Sstc: the guest's timer event, as the VS timer interrupt.
///
/// # Safety
/// Called by the hrtimer core for the timer `init` set up.
unsafe extern "C" fn hrtimer_expired(h: *mut b::hrtimer) -> b::hrtimer_restart {
    // SAFETY: `h` is a live vCPU's `arch.timer.hrt` (destroy cancels it).
    // The interrupt number is always settable.
    expired(unsafe { Timer::of_hrtimer(h) }, |v| {
        let _ = crate::vcpu_irq::set_interrupt(v, b::IRQ_VS_TIMER);
    })
}

/// With Sstc: wakes the blocked vCPU thread, whose VSTIMECMP has passed.
///
/// # Safety
/// As for [`hrtimer_expired`].
unsafe extern "C" fn vstimer_expired(h: *mut b::hrtimer) -> b::hrtimer_restart {
    // SAFETY: as in `hrtimer_expired`.
    expired(unsafe { Timer::of_hrtimer(h) }, |v| v.kick())
}

// --- the vCPU's side ----------------------------------------------------------

/// Sets the timer up at vCPU creation (`kvm_riscv_vcpu_timer_init()`):
/// VSTIMECMP if the host has Sstc, else an hrtimer that injects the
/// interrupt.
///
/// # Safety
/// `vcpu` is being created, by its creator.
pub(crate) unsafe fn init_raw(vcpu: *mut b::kvm_vcpu) -> Result {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    if get!(t, init_done) {
        return Err(EINVAL);
    }
    set!(t, init_done, true);
    set!(t, next_set, false);
    let sstc = host_has_ext(b::RISCV_ISA_EXT_SSTC);
    set!(t, sstc_enabled, sstc);
    let f: unsafe extern "C" fn(*mut b::hrtimer) -> b::hrtimer_restart =
        if sstc { vstimer_expired } else { hrtimer_expired };
    // SAFETY: the vCPU's own hrtimer, not armed yet; the callback matches.
    // CAST: a small clock id.
    unsafe { b::hrtimer_setup(t.hrt(), Some(f), b::CLOCK_MONOTONIC as b::clockid_t, b::hrtimer_mode_HRTIMER_MODE_REL) };
    Ok(())
}

/// Stops the timer of a vCPU that goes away (`kvm_riscv_vcpu_timer_deinit()`).
///
/// # Safety
/// `vcpu` is live; its destroyer calls.
pub(crate) unsafe fn deinit_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    let _ = t.cancel();
    set!(t, init_done, false);
}

/// `kvm_riscv_vcpu_timer_reset()`: no event, nothing armed.
///
/// # Safety
/// `vcpu` is live; its own thread calls.
pub(crate) unsafe fn reset_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    set!(t, next_cycles, u64::MAX);
    let _ = t.cancel();
}

/// Loads the timer CSRs at vCPU load (`kvm_riscv_vcpu_timer_restore()`).
///
/// # Safety
/// `vcpu` is live and being loaded on this CPU, preemption off.
pub(crate) unsafe fn restore_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    // CAST: XLEN is 64.
    ncsr_write(csr::HTIMEDELTA, t.clock().delta() as usize);
    if !get!(t, sstc_enabled) {
        return;
    }
    // CAST: as above.
    ncsr_write(csr::VSTIMECMP, get!(t, next_cycles) as usize);
    if get!(t, init_done) {
        t.unblocking();
    }
}

/// Reads VSTIMECMP back after a guest exit (`kvm_riscv_vcpu_timer_sync()`).
///
/// # Safety
/// `vcpu` is live and loaded on this CPU.
pub(crate) unsafe fn sync_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    if get!(t, sstc_enabled) {
        // CAST: XLEN is 64.
        set!(t, next_cycles, ncsr_read(csr::VSTIMECMP) as u64);
    }
}

/// At vCPU put (`kvm_riscv_vcpu_timer_save()`): VSTIMECMP was saved by
/// [`sync`] at the last exit. It is set to "never" so that a passed event
/// does not keep this CPU's WFI from sleeping, and the hrtimer takes over
/// while the vCPU thread blocks.
///
/// # Safety
/// `vcpu` is live and being put on this CPU, preemption off.
pub(crate) unsafe fn save_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    if !get!(t, sstc_enabled) {
        return;
    }
    // The CSR itself, as upstream (not through NACL).
    csr::VSTIMECMP.write(usize::MAX);
    if !get!(t, init_done) {
        return;
    }
    // SAFETY: the live vCPU.
    if unsafe { b::kvm_riscv_rs_vcpu_is_blocking(vcpu) } {
        t.blocking();
    }
}

/// Is the guest's timer event due, or its interrupt pending
/// (`kvm_riscv_vcpu_timer_pending()`)?
///
/// # Safety
/// `vcpu` is live.
pub(crate) unsafe fn pending_raw(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    t.clock().ns_until(get!(t, next_cycles)) == 0 || crate::vcpu_irq::has_interrupts(t.vcpu(), 1 << b::IRQ_VS_TIMER)
}

// --- ONE_REG ------------------------------------------------------------------

/// The host's timebase frequency, which the guest's is.
fn timebase() -> u64 {
    // SAFETY: a plain read of a variable set once at boot.
    let f = unsafe { b::riscv_timebase };
    // CAST: XLEN is 64.
    f as u64
}

/// Checks the id of a timer register: u64-sized (-EINVAL), and a register
/// (-ENOENT).
fn timer_reg(reg: RegId) -> Result<TimerReg> {
    if reg.size() != size_of::<u64>() {
        return Err(EINVAL);
    }
    TimerReg::from_number(reg.number()).ok_or(ENOENT)
}

/// `KVM_GET_ONE_REG` of a timer register (`kvm_riscv_vcpu_get_reg_timer()`).
///
/// # Safety
/// `vcpu` is live; the caller holds its mutex.
pub(crate) unsafe fn get_reg(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    let val = match timer_reg(reg)? {
        TimerReg::Frequency => timebase(),
        TimerReg::Time => t.clock().now(),
        TimerReg::Compare => get!(t, next_cycles),
        TimerReg::State if get!(t, next_set) => STATE_ON,
        TimerReg::State => STATE_OFF,
    };
    user(addr, size_of::<u64>()).writer().write(&val)
}

/// `KVM_SET_ONE_REG` of a timer register (`kvm_riscv_vcpu_set_reg_timer()`).
/// Upstream's order: the id, then the user copy, then the value.
///
/// # Safety
/// As for [`get_reg`].
pub(crate) unsafe fn set_reg(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let t = unsafe { Timer::of(vcpu) };
    let which = timer_reg(reg)?;
    let val: u64 = user(addr, size_of::<u64>()).reader().read()?;
    match which {
        TimerReg::Frequency if val != timebase() => Err(EINVAL),
        TimerReg::Frequency => Ok(()),
        TimerReg::Time => {
            t.clock().set_delta(val.wrapping_sub(host_cycles()));
            Ok(())
        }
        TimerReg::Compare => {
            set!(t, next_cycles, val);
            Ok(())
        }
        TimerReg::State if val == STATE_ON => t.next_event(get!(t, next_cycles)),
        TimerReg::State => t.cancel(),
    }
}

// --- C entry points -----------------------------------------------------------

/// The SBI timer calls (`vcpu_sbi_replace.c`, `vcpu_sbi_v01.c`).
///
/// # Safety
/// `vcpu` is live; its own thread calls.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_timer_next_event(vcpu: *mut b::kvm_vcpu, ncycles: u64) -> c_int {
    // SAFETY: per the function's contract.
    match unsafe { Timer::of(vcpu) }.next_event(ncycles) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Sets the clock of a new VM up (`kvm_riscv_guest_timer_init()`, called
/// by `vm.c`): its `time` starts at 0.
///
/// # Safety
/// `kvm` is a VM being created, by its creator.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_guest_timer_init(kvm: *mut b::kvm) {
    // SAFETY: per the function's contract: nobody else sees the VM yet.
    let gt = unsafe { &mut (*kvm).arch.timer };
    // SAFETY: the two out-parameters are valid.
    unsafe { b::riscv_cs_get_mult_shift(&mut gt.nsec_mult, &mut gt.nsec_shift) };
    gt.time_delta = host_cycles().wrapping_neg();
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn init(cx: &mut VcpuCtx<'_>) -> Result {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { init_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { deinit_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn reset(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { reset_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn restore(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { restore_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn sync(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { sync_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn save(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { save_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn pending(v: &crate::handle::Vcpu) -> bool {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { pending_raw(v.as_ptr()) }
}

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
//! `struct kvm_vcpu` ([`VcpuTimer`]); the kernel crate's `HrTimer` wants to
//! own its timer in a pinned Rust value, so the embedded hrtimer is driven
//! through the handle. `next_cycles` and `next_set` are shared by the vCPU
//! thread and the hrtimer callback (hard interrupt context), as upstream
//! shares them: each access is one volatile load or store of a word.

use crate::bindings as b;
use crate::csr;
use crate::ffi;
use crate::handle::{Vcpu, VcpuCtx, VcpuTimer, VcpuTimerCallback, Vm};
use crate::irq;
use crate::isa::host_has_ext;
use crate::nacl::{ncsr_read, ncsr_write};
use crate::onereg_logic::RegId;
use crate::vcpu_timer_logic::{cycles_to_ns, TimerReg, STATE_OFF, STATE_ON};
use core::mem::{offset_of, size_of};
use kernel::error::code::*;
use kernel::num::casts::arch::u64_as_usize;
use kernel::num::casts::{u32_as_u64, FromSafeCast};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

// The uapi's timer states and register layout are the ones `vcpu_timer_logic`
// knows.
const _: () = {
    assert!(STATE_OFF == u32_as_u64(b::KVM_RISCV_TIMER_STATE_OFF));
    assert!(STATE_ON == u32_as_u64(b::KVM_RISCV_TIMER_STATE_ON));
    assert!(offset_of!(b::kvm_riscv_timer, frequency) == 0);
    assert!(offset_of!(b::kvm_riscv_timer, time) == 8);
    assert!(offset_of!(b::kvm_riscv_timer, compare) == 16);
    assert!(offset_of!(b::kvm_riscv_timer, state) == 24);
    assert!(size_of::<b::kvm_riscv_timer>() == 32);
};

/// The host's `time` (`get_cycles64()`; RV64).
fn host_cycles() -> u64 {
    u64::from_safe_cast(csr::TIME.read())
}

/// The guest's `time` now, on the VM's clock.
fn guest_now(vm: &Vm) -> u64 {
    host_cycles().wrapping_add(vm.time_delta())
}

/// Nanoseconds until guest cycle `next` on the VM's clock, 0 once it has
/// passed.
fn ns_until(vm: &Vm, next: u64) -> u64 {
    // Interrupts off, as upstream: `time` is read and converted at one
    // instant.
    let _irqs = irq::disable();
    let (mult, shift) = vm.timer_factors();
    cycles_to_ns(guest_now(vm), next, mult, shift)
}

/// Disarms the timer; -EINVAL if it was not initialised or not armed
/// (`kvm_riscv_vcpu_timer_cancel()`).
fn cancel(t: &VcpuTimer) -> Result {
    if !t.init_done() {
        return Err(EINVAL);
    }
    t.cancel();
    if !t.next_set() {
        return Err(EINVAL);
    }
    t.set_next_set(false);
    Ok(())
}

/// Programs the next event at guest cycle `ncycles`
/// (`kvm_riscv_vcpu_timer_next_event()`; the SBI timer calls of C come
/// through `abi.rs`).
pub(crate) fn next_event(cx: &mut VcpuCtx<'_>, ncycles: u64) -> Result {
    let v = cx.vcpu();
    let t = v.timer();
    if t.sstc_enabled() {
        ncsr_write(csr::VSTIMECMP, u64_as_usize(ncycles));
        return Ok(());
    }
    if !t.init_done() {
        return Err(EINVAL);
    }
    // IRQ_VS_TIMER is always a settable interrupt.
    let _ = crate::vcpu_irq::unset_interrupt(v, b::IRQ_VS_TIMER);
    let ns = ns_until(v.vm(), ncycles);
    t.set_next_cycles(ncycles);
    t.start(ns);
    t.set_next_set(true);
    Ok(())
}

/// Arms the hrtimer for the vCPU thread that blocks
/// (`kvm_riscv_vcpu_timer_blocking()`).
fn blocking(v: &Vcpu) {
    let t = v.timer();
    if !t.init_done() {
        return;
    }
    t.start(ns_until(v.vm(), t.next_cycles()));
    t.set_next_set(true);
}

/// `kvm_riscv_vcpu_timer_unblocking()`: nothing to undo if the timer was
/// not armed.
fn unblocking(t: &VcpuTimer) {
    let _ = cancel(t);
}

/// The hrtimer callback: re-arms itself if the host timer fired before
/// the guest's compare value (the clocks differ), else marks the event
/// done and calls `fire`.
fn expired(v: &Vcpu, fire: impl FnOnce(&Vcpu)) -> Option<u64> {
    let vm = v.vm();
    let t = v.timer();
    let next = t.next_cycles();
    if guest_now(vm) < next {
        return Some(ns_until(vm, next));
    }
    t.set_next_set(false);
    fire(v);
    None
}

/// Without Sstc: the guest's timer event, as the VS timer interrupt.
struct HrtimerExpired;

impl VcpuTimerCallback for HrtimerExpired {
    fn expired(v: &Vcpu) -> Option<u64> {
        // The interrupt number is always settable.
        expired(v, |v| {
            let _ = crate::vcpu_irq::set_interrupt(v, b::IRQ_VS_TIMER);
        })
    }
}

/// With Sstc: wakes the blocked vCPU thread, whose VSTIMECMP has passed.
struct VstimerExpired;

impl VcpuTimerCallback for VstimerExpired {
    fn expired(v: &Vcpu) -> Option<u64> {
        expired(v, |v| v.kick())
    }
}

// --- the vCPU's side ----------------------------------------------------------

/// Sets the timer up at vCPU creation (`kvm_riscv_vcpu_timer_init()`):
/// VSTIMECMP if the host has Sstc, else an hrtimer that injects the
/// interrupt.
pub(crate) fn init(cx: &mut VcpuCtx<'_>) -> Result {
    let t = cx.vcpu().timer();
    if t.init_done() {
        return Err(EINVAL);
    }
    t.set_init_done(true);
    t.set_next_set(false);
    let sstc = host_has_ext(b::RISCV_ISA_EXT_SSTC);
    t.set_sstc_enabled(sstc);
    if sstc {
        cx.timer_setup::<VstimerExpired>();
    } else {
        cx.timer_setup::<HrtimerExpired>();
    }
    Ok(())
}

/// Stops the timer of a vCPU that goes away (`kvm_riscv_vcpu_timer_deinit()`).
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    let t = cx.vcpu().timer();
    let _ = cancel(t);
    t.set_init_done(false);
}

/// `kvm_riscv_vcpu_timer_reset()`: no event, nothing armed.
pub(crate) fn reset(cx: &mut VcpuCtx<'_>) {
    let t = cx.vcpu().timer();
    t.set_next_cycles(u64::MAX);
    let _ = cancel(t);
}

/// Loads the timer CSRs at vCPU load (`kvm_riscv_vcpu_timer_restore()`),
/// preemption off.
pub(crate) fn restore(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let t = v.timer();
    ncsr_write(csr::HTIMEDELTA, u64_as_usize(v.vm().time_delta()));
    if !t.sstc_enabled() {
        return;
    }
    ncsr_write(csr::VSTIMECMP, u64_as_usize(t.next_cycles()));
    if t.init_done() {
        unblocking(t);
    }
}

/// Reads VSTIMECMP back after a guest exit (`kvm_riscv_vcpu_timer_sync()`).
pub(crate) fn sync(cx: &mut VcpuCtx<'_>) {
    let t = cx.vcpu().timer();
    if t.sstc_enabled() {
        t.set_next_cycles(u64::from_safe_cast(ncsr_read(csr::VSTIMECMP)));
    }
}

/// At vCPU put (`kvm_riscv_vcpu_timer_save()`), preemption off: VSTIMECMP
/// was saved by [`sync`] at the last exit. It is set to "never" so that a
/// passed event does not keep this CPU's WFI from sleeping, and the
/// hrtimer takes over while the vCPU thread blocks.
pub(crate) fn save(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let t = v.timer();
    if !t.sstc_enabled() {
        return;
    }
    // The CSR itself, as upstream (not through NACL).
    csr::VSTIMECMP.write(usize::MAX);
    if !t.init_done() {
        return;
    }
    if v.is_blocking() {
        blocking(v);
    }
}

/// Is the guest's timer event due, or its interrupt pending
/// (`kvm_riscv_vcpu_timer_pending()`)? From any thread.
pub(crate) fn pending(v: &Vcpu) -> bool {
    ns_until(v.vm(), v.timer().next_cycles()) == 0
        || crate::vcpu_irq::has_interrupts(v, 1 << b::IRQ_VS_TIMER)
}

/// Sets the clock of a new VM up (`kvm_riscv_guest_timer_init()`, which
/// `vm.c` calls through `abi.rs`): its `time` starts at 0.
pub(crate) fn guest_timer_init(vm: &Vm) {
    let (mult, shift) = ffi::cs_mult_shift();
    vm.init_guest_timer(mult, shift, host_cycles().wrapping_neg());
}

// --- ONE_REG ------------------------------------------------------------------

/// The user's u64 at `addr`, a ONE_REG value.
fn user_u64(addr: u64) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(u64_as_usize(addr)), size_of::<u64>())
}

/// The host's timebase frequency, which the guest's is.
fn timebase() -> u64 {
    u64::from_safe_cast(ffi::riscv_timebase())
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
pub(crate) fn get_reg(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    let v = cx.vcpu();
    let t = v.timer();
    let val = match timer_reg(reg)? {
        TimerReg::Frequency => timebase(),
        TimerReg::Time => guest_now(v.vm()),
        TimerReg::Compare => t.next_cycles(),
        TimerReg::State if t.next_set() => STATE_ON,
        TimerReg::State => STATE_OFF,
    };
    user_u64(addr).writer().write(&val)
}

/// `KVM_SET_ONE_REG` of a timer register (`kvm_riscv_vcpu_set_reg_timer()`).
/// Upstream's order: the id, then the user copy, then the value.
pub(crate) fn set_reg(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    let which = timer_reg(reg)?;
    let val: u64 = user_u64(addr).reader().read()?;
    let v = cx.vcpu();
    let t = v.timer();
    match which {
        TimerReg::Frequency if val != timebase() => Err(EINVAL),
        TimerReg::Frequency => Ok(()),
        TimerReg::Time => {
            v.vm().set_time_delta(val.wrapping_sub(host_cycles()));
            Ok(())
        }
        TimerReg::Compare => {
            t.set_next_cycles(val);
            Ok(())
        }
        TimerReg::State if val == STATE_ON => next_event(cx, t.next_cycles()),
        TimerReg::State => cancel(t),
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The vCPU and VM handles: the one way the logic reaches `struct kvm_vcpu`,
//! `struct kvm` and `struct kvm_run`.
//!
//! This is a boundary module. The C ABI entry points (`abi.rs`) turn the raw
//! pointers the generic core hands them into a [`&Vcpu`](Vcpu) once; from
//! there on the logic is safe Rust:
//!
//! - state that other CPUs, interrupt handlers or userspace write
//!   (`irqs_pending`, `mp_state`, `reset_state`, requests, `pmc_overflown`,
//!   the run page) is reached only through [`Vcpu`] methods that take the
//!   C lock, use an atomic, or access the word volatilely;
//! - state that only the vCPU's own thread touches (guest and host contexts,
//!   shadow CSRs, decode state, ...) is reached through a [`VcpuCtx`], which
//!   only that thread can hold. Its borrows are short: none is held across a
//!   call into C that may schedule (and so run `kvm_arch_vcpu_put()` from the
//!   preempt notifier on the same thread), because each borrow is of the
//!   context itself and ends before the next method call on it.
//! - calls into C that take a vCPU are wrapped here once, as methods.

use crate::bindings as b;
use crate::gstage::GStage;
use crate::pgtable::{PageCache, Tables};
use core::marker::PhantomData;
use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;
use kernel::sync::barrier::{smp_mb, Full, Write};
use kernel::types::Opaque;

/// Reads a field of a C struct behind `$p` (a raw pointer) with
/// `READ_ONCE()` semantics.
macro_rules! read_once {
    ($p:expr, $($f:tt)+) => {{
        let p = $p;
        // SAFETY: `p` points into a live object (the callers' invariant);
        // a volatile read of one naturally aligned field.
        unsafe { addr_of_mut!((*p).$($f)+).read_volatile() }
    }};
}

/// Writes a field of a C struct behind `$p` with `WRITE_ONCE()` semantics.
macro_rules! write_once {
    ($p:expr, $v:expr, $($f:tt)+) => {{
        let p = $p;
        let v = $v;
        // SAFETY: as in `read_once!`.
        unsafe { addr_of_mut!((*p).$($f)+).write_volatile(v) }
    }};
}

/// The C objects the handles stand for: [`Vcpu`], [`Vm`], [`Run`].
///
/// Private: `raw()` of an implementor points to its live C object for as
/// long as the handle is borrowed (each type's invariant), which is what
/// [`field!`] relies on.
trait Handle {
    /// The C struct.
    type C;
    /// The C object of the handle.
    fn raw(&self) -> *mut Self::C;
}

/// The address of field `$f` (a path: `arch.timer`, `stat.exits`, ...) of
/// the C object of handle `$h`: a place computation, no access. Reading or
/// writing through it is the caller's business.
macro_rules! field {
    ($h:expr, $($f:tt)+) => {{
        let p = $crate::handle::Handle::raw($h);
        // SAFETY: `p` is the live C object of a handle (`Handle`), so the
        // field's address is in bounds; nothing is read or written here.
        unsafe { addr_of_mut!((*p).$($f)+) }
    }};
}

/// Declares `from_raw` of handle types, each a `#[repr(transparent)]`
/// wrapper of `Opaque<$c>`: the handle of the C object behind a pointer.
macro_rules! from_raw {
    ($($(#[$m:meta])* $t:ident($ptr:ty);)*) => {$(
        impl $t {
            $(#[$m])*
            ///
            /// # Safety
            /// `ptr` points to a live C object of the handle's type that
            /// stays alive (as the type's documentation says) for `'a`.
            pub(crate) unsafe fn from_raw<'a>(ptr: $ptr) -> &'a $t {
                // SAFETY: `$t` is a transparent wrapper of the C struct
                // (`Opaque` lets C change it), live for `'a` (the caller's
                // promise).
                unsafe { &*ptr.cast::<$t>() }
            }
        }
    )*};
}

/// Declares methods of [`VcpuCtx`] that call a C function whose first
/// argument is the vCPU and whose contract is: a live vCPU, called on that
/// vCPU's own thread (what a [`VcpuCtx`] proves), other arguments values or
/// references valid for the call, which it does not keep. Anything else a
/// function needs (interrupts off, preemption off, SRCU held) is said on it,
/// and is what the run loop does, as upstream's.
macro_rules! vcpu_thread_calls {
    ($($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {
        impl VcpuCtx<'_> {$(
            $(#[$m])*
            #[inline]
            pub(crate) fn $name(&mut self $(, $a: $t)*) $(-> $ret)? {
                // SAFETY: `$cfn` takes a live vCPU on its own thread: the
                // context proves both; its other arguments are values or
                // references valid for the call (see the macro).
                unsafe { $cfn(self.v.as_ptr() $(, $a)*) }
            }
        )*}
    };
}

/// Declares methods of [`Vcpu`] that call a C function whose first argument
/// is the vCPU and whose contract is: a live vCPU (which a handle is), from
/// any thread (the function serialises what it touches itself, with its own
/// locks or atomics); other arguments are values or references valid for
/// the call, which the function does not keep.
macro_rules! vcpu_calls {
    ($($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {
        impl Vcpu {$(
            $(#[$m])*
            #[inline]
            pub(crate) fn $name(&self $(, $a: $t)*) $(-> $ret)? {
                // SAFETY: `$cfn` takes a live vCPU from any thread (see the
                // macro); the handle is live.
                unsafe { $cfn(self.as_ptr() $(, $a)*) }
            }
        )*}
    };
}

/// Declares methods of [`Vm`] that call a C function whose first argument
/// is the VM and whose contract is: a live VM (which a handle is), from any
/// thread (the function serialises what it touches itself, or is called
/// where the generic core serialises it: VM creation and destruction);
/// other arguments are values or references valid for the call, which it
/// does not keep.
macro_rules! vm_calls {
    ($($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {
        impl Vm {$(
            $(#[$m])*
            #[inline]
            $vis fn $name(&self $(, $a: $t)*) $(-> $ret)? {
                // SAFETY: `$cfn` takes a live VM (see the macro); the handle
                // is live.
                unsafe { $cfn(self.as_ptr() $(, $a)*) }
            }
        )*}
    };
}

/// Declares methods of [`VcpuCtx`] that fire a tracepoint of the vCPU
/// (nothing without `CONFIG_TRACEPOINTS`): the C helper takes the live vCPU,
/// on its thread, and values or references it only reads during the call.
macro_rules! vcpu_trace_calls {
    ($($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) = $cfn:path;)*) => {
        impl VcpuCtx<'_> {$(
            $(#[$m])*
            #[inline(always)]
            pub(crate) fn $name(&mut self $(, $a: $t)*) {
                // SAFETY: a tracepoint of the live vCPU on its thread; the
                // other arguments are read during the call (see the macro).
                #[cfg(CONFIG_TRACEPOINTS)]
                unsafe {
                    $cfn(self.v.as_ptr() $(, $a)*)
                };
                #[cfg(not(CONFIG_TRACEPOINTS))]
                let _ = ($($a,)*);
            }
        )*}
    };
}

/// Writes C ABI callbacks that C calls on a vCPU's own thread, generic over
/// the trait the logic implements (`$g: $bound`): each makes the vCPU's
/// context once from the pointer and runs `$body` with it as `$cx`.
macro_rules! thread_callbacks {
    ($($(#[$m:meta])* fn $name:ident<$g:ident: $bound:path>($cx:ident $(, $a:ident: $t:ty)*) $(-> $ret:ty)? $body:block)*) => {$(
        $(#[$m])*
        ///
        /// # Safety
        /// `vcpu` is live and the caller is its own thread, holding no borrow
        /// of the thread's state across the call (so the context made here
        /// is the only one in use); pointer arguments are valid as the
        /// callback's C contract says.
        unsafe extern "C" fn $name<$g: $bound>(
            vcpu: *mut $crate::bindings::kvm_vcpu $(, $a: $t)*
        ) $(-> $ret)? {
            // SAFETY: per the function's contract.
            let mut ctx = unsafe { $crate::handle::VcpuCtx::new($crate::handle::Vcpu::from_raw(vcpu)) };
            let $cx = &mut ctx;
            $body
        }
    )*};
}

/// A word of a C object that C and other CPUs change with the kernel's
/// bit operations (`set_bit()`, `clear_bit()`, `READ_ONCE()`), seen as a
/// `core` atomic: relaxed loads, `fetch_or` and `fetch_and` compile to the
/// same single instructions (`ld`, `amoor.d`, `amoand.d`) inline, where the
/// kernel crate's `Atomic` calls an out-of-line C helper for each, on the
/// guest entry path. Barriers stay the kernel's (`smp_mb()`).
///
/// # Safety
/// `p` is a naturally aligned u64 of a live object, for `'a`, only ever
/// accessed atomically.
unsafe fn word<'a>(p: *mut u64) -> &'a AtomicU64 {
    // SAFETY: per the function's contract.
    unsafe { AtomicU64::from_ptr(p) }
}

// ---------------------------------------------------------------------------
// The vCPU.

/// A vCPU, as the generic core owns it (`struct kvm_vcpu`).
///
/// Only ever seen behind a reference that [`Vcpu::from_raw`] made from the
/// pointer the generic core passed: the vCPU lives as long as that reference.
#[repr(transparent)]
pub(crate) struct Vcpu(Opaque<b::kvm_vcpu>);

/// The vCPU requests the backend makes and handles (`KVM_REQ_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Request {
    Sleep = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_SLEEP,
    VcpuReset = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_VCPU_RESET,
    UpdateHgatp = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_UPDATE_HGATP,
    FenceI = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_FENCE_I,
    HfenceVvmaAll = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_HFENCE_VVMA_ALL,
    Hfence = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_HFENCE,
    StealUpdate = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_STEAL_UPDATE,
    TlbFlush = b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_TLB_FLUSH,
}

impl Request {
    /// The bit of the request in `vcpu->requests`.
    fn bit(self) -> u32 {
        self.raw() & b::kvm_riscv_rs_const_KVM_RISCV_RS_REQUEST_MASK
    }

    /// The request with its flags, as `kvm_make_all_cpus_request()` takes it.
    pub(crate) fn raw(self) -> u32 {
        // CAST: the discriminant of a `repr(u32)` enum, the request's value.
        self as u32
    }
}

/// The vCPU statistics the backend counts (`struct kvm_vcpu_stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stat {
    Exits,
    EcallExits,
    WfiExits,
    WrsExits,
    MmioExitUser,
    MmioExitKernel,
    CsrExitUser,
    CsrExitKernel,
    InstrIllegalExits,
    LoadMisalignedExits,
    StoreMisalignedExits,
    LoadAccessExits,
    StoreAccessExits,
}

/// `vcpu->mode` values the run loop sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Mode {
    OutsideGuest = b::kvm_riscv_rs_const_KVM_RISCV_RS_OUTSIDE_GUEST_MODE,
    InGuest = b::kvm_riscv_rs_const_KVM_RISCV_RS_IN_GUEST_MODE,
}

impl Vcpu {
    /// The C pointer, for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut b::kvm_vcpu {
        self.0.get()
    }

    fn arch(&self) -> *mut b::kvm_vcpu_arch {
        field!(self, arch)
    }

    /// `vcpu->vcpu_id`, set at creation.
    pub(crate) fn id(&self) -> u32 {
        let id: c_int = read_once!(self.as_ptr(), vcpu_id);
        // CAST: the generic core checks that ids are not negative.
        id as u32
    }

    /// `vcpu->vcpu_idx`, the index in the VM's array, set at creation.
    pub(crate) fn idx(&self) -> u32 {
        let idx: c_int = read_once!(self.as_ptr(), vcpu_idx);
        // CAST: an array index, not negative.
        idx as u32
    }

    /// The CPU the vCPU is loaded on (`vcpu->cpu`), -1 when it is not.
    pub(crate) fn cpu(&self) -> c_int {
        read_once!(self.as_ptr(), cpu)
    }

    /// Sets `vcpu->cpu`; load and put do.
    pub(crate) fn set_cpu(&self, cpu: c_int) {
        write_once!(self.as_ptr(), cpu, cpu)
    }

    /// The VM the vCPU belongs to.
    pub(crate) fn vm(&self) -> &Vm {
        let kvm: *mut b::kvm = read_once!(self.as_ptr(), kvm);
        // SAFETY: a vCPU holds a reference on its VM for its whole life.
        unsafe { Vm::from_raw(kvm) }
    }

    /// `vcpu->run`, the page shared with userspace.
    pub(crate) fn run_page(&self) -> &Run {
        let run: *mut b::kvm_run = read_once!(self.as_ptr(), run);
        // SAFETY: allocated at creation, freed after the vCPU's last use.
        unsafe { Run::from_raw(run) }
    }

    // --- requests -------------------------------------------------------

    #[inline(always)]
    fn requests(&self) -> &AtomicU64 {
        let p = field!(self, requests);
        // SAFETY: `vcpu->requests` is a u64 of the live vCPU, only ever
        // accessed atomically.
        unsafe { word(p) }
    }

    /// `kvm_make_request()`: publishes what goes with the request, then sets it.
    #[inline]
    pub(crate) fn make_request(&self, req: Request) {
        smp_mb(Write);
        self.requests().fetch_or(1 << req.bit(), Relaxed);
    }

    /// `kvm_check_request()`: tests and clears, then sees what went with it.
    #[inline]
    pub(crate) fn check_request(&self, req: Request) -> bool {
        let bit = 1u64 << req.bit();
        if self.requests().load(Relaxed) & bit == 0 {
            return false;
        }
        self.requests().fetch_and(!bit, Relaxed);
        // smp_mb__after_atomic(), paired with the barrier of make_request.
        smp_mb(Full);
        true
    }

    /// `kvm_request_pending()`.
    #[inline]
    pub(crate) fn request_pending(&self) -> bool {
        self.requests().load(Relaxed) != 0
    }

    /// `kvm_vcpu_kick()`.
    pub(crate) fn kick(&self) {
        self.kick_wait(false)
    }

    /// `kvm_vcpu_wake_up()`.
    pub(crate) fn wake_up(&self) {
        self.wake_up_raw();
    }

    // --- interrupts, power state, reset state ---------------------------

    /// Runs `f` on the pending-interrupt bitmaps (`irqs_pending`,
    /// `irqs_pending_mask`) under their raw spinlock, interrupts off.
    pub(crate) fn with_irqs<R>(&self, f: impl FnOnce(&mut c_ulong, &mut c_ulong) -> R) -> R {
        let lock = field!(self, arch.irqs_pending_lock);
        let (pending, mask) = (
            field!(self, arch.irqs_pending[0]),
            field!(self, arch.irqs_pending_mask[0]),
        );
        // SAFETY: one critical section. The lock is initialised at vCPU
        // creation; while it is held, word 0 of both bitmaps (64 interrupts:
        // one word) is ours alone, since every access to them, C's included,
        // takes it, and `f` gets them for the section only; the lock is
        // released before returning (a panic in `f` stops the kernel anyway).
        unsafe {
            let flags = b::_raw_spin_lock_irqsave(lock);
            let r = f(&mut *pending, &mut *mask);
            b::_raw_spin_unlock_irqrestore(lock, flags);
            r
        }
    }

    /// Runs `f` under `mp_state_lock`; `f` gets the proof that it is held.
    pub(crate) fn with_mp_state_lock<R>(&self, f: impl FnOnce(&MpStateLocked<'_>) -> R) -> R {
        let lock = field!(self, arch.mp_state_lock);
        // SAFETY: one critical section: the lock is initialised at vCPU
        // creation, taken here and released before returning; `f` gets the
        // proof for the section only.
        unsafe {
            b::spin_lock(lock);
            let r = f(&MpStateLocked(self));
            b::spin_unlock(lock);
            r
        }
    }

    /// Whether the vCPU's thread is in `kvm_vcpu_block()`, as its
    /// statistics say (`vcpu->stat.generic.blocking`, which the thread sets
    /// around the wait; any thread may read it).
    pub(crate) fn blocking_stat(&self) -> bool {
        let blocking: u64 = read_once!(self.as_ptr(), stat.generic.blocking);
        blocking != 0
    }

    /// The power state (`READ_ONCE(vcpu->arch.mp_state.mp_state)`).
    pub(crate) fn mp_state(&self) -> u32 {
        read_once!(self.arch(), mp_state.mp_state)
    }

    /// The start state SBI HSM asked for, (pc, a1), read or written under its
    /// spinlock (`arch.reset_state`).
    pub(crate) fn with_reset_state<R>(&self, f: impl FnOnce(&mut c_ulong, &mut c_ulong) -> R) -> R {
        let lock = field!(self, arch.reset_state.lock);
        let (pc, a1) = (
            field!(self, arch.reset_state.pc),
            field!(self, arch.reset_state.a1),
        );
        // SAFETY: one critical section: the lock is initialised at vCPU
        // creation; it serialises every access to the two fields, which `f`
        // alone gets while it is held; released before returning.
        unsafe {
            b::spin_lock(lock);
            let r = f(&mut *pc, &mut *a1);
            b::spin_unlock(lock);
            r
        }
    }

    /// Runs `f` on the HFENCE request queue under `hfence_lock`: other
    /// vCPUs' threads enqueue, the vCPU's own dequeues.
    pub(crate) fn with_hfence_queue<R>(&self, f: impl FnOnce(HfenceQueue<'_>) -> R) -> R {
        let lock = field!(self, arch.hfence_lock);
        let (slots, head, tail) = (
            field!(self, arch.hfence_queue),
            field!(self, arch.hfence_head),
            field!(self, arch.hfence_tail),
        );
        // SAFETY: one critical section: the lock is initialised at vCPU
        // creation and serialises every access to the queue and its two
        // indices, which `f` alone gets while it is held; released before
        // returning.
        unsafe {
            b::spin_lock(lock);
            let r = f(HfenceQueue {
                slots: &mut *slots,
                head: &mut *head,
                tail: &mut *tail,
            });
            b::spin_unlock(lock);
            r
        }
    }

    /// `vcpu->arch.pause`.
    pub(crate) fn paused(&self) -> bool {
        read_once!(self.arch(), pause)
    }

    /// The guest's VSIE as last saved; racy outside the vCPU thread, as
    /// upstream's `kvm_riscv_vcpu_has_interrupts()` reads it.
    pub(crate) fn vsie(&self) -> c_ulong {
        read_once!(self.arch(), guest_csr.vsie)
    }

    /// The guest's SSTATUS as last saved (racy, as upstream's
    /// `kvm_arch_vcpu_in_kernel()`).
    pub(crate) fn guest_sstatus(&self) -> c_ulong {
        read_once!(self.arch(), guest_context.sstatus)
    }

    /// The guest's pc as last saved (racy, as upstream's
    /// `kvm_arch_vcpu_get_ip()`).
    pub(crate) fn guest_sepc(&self) -> c_ulong {
        read_once!(self.arch(), guest_context.sepc)
    }

    /// Whether the vCPU has run (`arch.ran_atleast_once`); others read it.
    pub(crate) fn ran_once(&self) -> bool {
        read_once!(self.arch(), ran_atleast_once)
    }

    /// `vcpu->wants_to_run`, set by the generic core around `KVM_RUN`.
    pub(crate) fn wants_to_run(&self) -> bool {
        read_once!(self.as_ptr(), wants_to_run)
    }

    /// The last CPU the guest left (`arch.last_exit_cpu`); the TLB code reads
    /// it from other threads.
    pub(crate) fn last_exit_cpu(&self) -> c_int {
        read_once!(self.arch(), last_exit_cpu)
    }

    /// `vcpu->guest_debug`.
    pub(crate) fn guest_debug(&self) -> c_ulong {
        read_once!(self.as_ptr(), guest_debug)
    }
}

vcpu_calls! {
    /// `__kvm_vcpu_kick()`, waiting for the vCPU to acknowledge if `wait`.
    fn kick_wait(wait: bool) = b::__kvm_vcpu_kick;
    /// `kvm_vcpu_wake_up()`: whether it woke the vCPU.
    fn wake_up_raw() -> bool = b::kvm_vcpu_wake_up;
    /// `kvm_vcpu_exiting_guest_mode()`: the mode before it became
    /// EXITING_GUEST_MODE (an atomic exchange on `vcpu->mode`).
    fn exiting_guest_mode() -> c_int = b::kvm_riscv_rs_vcpu_exiting_guest_mode;
}

/// A vCPU's HFENCE request queue, while `hfence_lock` is held
/// ([`Vcpu::with_hfence_queue`]): a ring of C `struct kvm_riscv_hfence`.
pub(crate) struct HfenceQueue<'a> {
    /// The ring.
    pub(crate) slots: &'a mut [b::kvm_riscv_hfence],
    /// The next slot to take.
    pub(crate) head: &'a mut c_ulong,
    /// The next slot to fill.
    pub(crate) tail: &'a mut c_ulong,
}

/// Proof that the vCPU's `mp_state_lock` is held.
pub(crate) struct MpStateLocked<'a>(&'a Vcpu);

impl<'a> MpStateLocked<'a> {
    /// The vCPU whose lock is held.
    pub(crate) fn vcpu(&self) -> &'a Vcpu {
        self.0
    }

    /// Sets the power state (`WRITE_ONCE()`, under the lock).
    pub(crate) fn set_mp_state(&self, s: u32) {
        write_once!(self.0.arch(), s, mp_state.mp_state)
    }
}

impl Handle for Vcpu {
    type C = b::kvm_vcpu;
    fn raw(&self) -> *mut b::kvm_vcpu {
        self.as_ptr()
    }
}

// ---------------------------------------------------------------------------
// The vCPU thread's context.

/// The vCPU as its own thread holds it: it runs `KVM_RUN` or another vCPU
/// ioctl with `vcpu->mutex` held, or is the preempt notifier's load/put on
/// that thread, or creates/destroys the vCPU before/after anyone else sees
/// it. Gives `&mut` access to the state that only that thread touches.
pub(crate) struct VcpuCtx<'a> {
    v: &'a Vcpu,
    /// Not `Send`: the context belongs to the thread that made it.
    _thread: PhantomData<*mut ()>,
}

/// The vCPU-thread-only state, borrowed from a [`VcpuCtx`] all at once so
/// that disjoint fields can be used together.
pub(crate) struct Parts<'a> {
    pub(crate) host: &'a mut b::kvm_cpu_context,
    pub(crate) guest: &'a mut b::kvm_cpu_context,
    pub(crate) csr: &'a mut b::kvm_vcpu_csr,
    pub(crate) smstateen: &'a mut b::kvm_vcpu_smstateen_csr,
    pub(crate) zicfiss: &'a mut b::kvm_vcpu_zicfiss_csr,
    pub(crate) cfg: &'a mut b::kvm_vcpu_config,
    pub(crate) isa: &'a mut [c_ulong],
    pub(crate) mmio_decode: &'a mut b::kvm_mmio_decode,
    pub(crate) csr_decode: &'a mut b::kvm_csr_decode,
    pub(crate) sbi: &'a mut b::kvm_vcpu_sbi_context,
    pub(crate) aia_csr: &'a mut b::kvm_vcpu_aia_csr,
    /// The host's SCOUNTEREN, SENVCFG and SSTATEEN0 while the guest runs.
    pub(crate) host_scounteren: &'a mut c_ulong,
    pub(crate) host_senvcfg: &'a mut c_ulong,
    pub(crate) host_sstateen0: &'a mut c_ulong,
    pub(crate) csr_dirty: &'a mut bool,
    /// mvendorid, marchid, mimpid.
    pub(crate) mvendorid: &'a mut c_ulong,
    pub(crate) marchid: &'a mut c_ulong,
    pub(crate) mimpid: &'a mut c_ulong,
}

impl<'a> VcpuCtx<'a> {
    /// The context of the vCPU's own thread.
    ///
    /// # Safety
    /// The caller is the vCPU's thread as described on [`VcpuCtx`], and no
    /// other `VcpuCtx` of this vCPU is in use while this one is (one made by
    /// the preempt notifier's put/load while the run loop holds one is not in
    /// use at the same time: the run loop holds no borrow of it across the
    /// call that schedules).
    pub(crate) unsafe fn new(v: &'a Vcpu) -> Self {
        VcpuCtx {
            v,
            _thread: PhantomData,
        }
    }

    /// The handle, for the shared state.
    pub(crate) fn vcpu(&self) -> &'a Vcpu {
        self.v
    }

    fn arch(&self) -> *mut b::kvm_vcpu_arch {
        self.v.arch()
    }

    /// All of the thread-only state, borrowed together.
    pub(crate) fn parts(&mut self) -> Parts<'_> {
        let a = self.arch();
        // SAFETY: disjoint fields of the live vCPU that only this thread
        // touches (the type's invariant); the borrows last as long as the
        // exclusive borrow of the context.
        unsafe {
            Parts {
                host: &mut *addr_of_mut!((*a).host_context),
                guest: &mut *addr_of_mut!((*a).guest_context),
                csr: &mut *addr_of_mut!((*a).guest_csr),
                smstateen: &mut *addr_of_mut!((*a).smstateen_csr),
                zicfiss: &mut *addr_of_mut!((*a).zicfiss_csr),
                cfg: &mut *addr_of_mut!((*a).cfg),
                isa: &mut *addr_of_mut!((*a).isa),
                mmio_decode: &mut *addr_of_mut!((*a).mmio_decode),
                csr_decode: &mut *addr_of_mut!((*a).csr_decode),
                sbi: &mut *addr_of_mut!((*a).sbi_context),
                aia_csr: &mut *addr_of_mut!((*a).aia_context.guest_csr),
                host_scounteren: &mut *addr_of_mut!((*a).host_scounteren),
                host_senvcfg: &mut *addr_of_mut!((*a).host_senvcfg),
                host_sstateen0: &mut *addr_of_mut!((*a).host_sstateen0),
                csr_dirty: &mut *addr_of_mut!((*a).csr_dirty),
                mvendorid: &mut *addr_of_mut!((*a).mvendorid),
                marchid: &mut *addr_of_mut!((*a).marchid),
                mimpid: &mut *addr_of_mut!((*a).mimpid),
            }
        }
    }

    /// The guest's registers (`arch.guest_context`).
    pub(crate) fn guest(&mut self) -> &mut b::kvm_cpu_context {
        self.parts().guest
    }

    /// The guest's shadow CSRs (`arch.guest_csr`).
    pub(crate) fn csr(&mut self) -> &mut b::kvm_vcpu_csr {
        self.parts().csr
    }

    /// The vCPU's configuration (`arch.cfg`).
    pub(crate) fn cfg(&mut self) -> &mut b::kvm_vcpu_config {
        self.parts().cfg
    }

    /// The guest's ISA bitmap (`arch.isa`).
    pub(crate) fn isa(&mut self) -> &[c_ulong] {
        self.parts().isa
    }

    /// Adds one to a statistic. Only the vCPU thread writes them; the stats
    /// file reads them racily, as upstream.
    pub(crate) fn stat_inc(&mut self, s: Stat) {
        let p: *mut u64 = match s {
            Stat::Exits => field!(self.v, stat.exits),
            Stat::EcallExits => field!(self.v, stat.ecall_exit_stat),
            Stat::WfiExits => field!(self.v, stat.wfi_exit_stat),
            Stat::WrsExits => field!(self.v, stat.wrs_exit_stat),
            Stat::MmioExitUser => field!(self.v, stat.mmio_exit_user),
            Stat::MmioExitKernel => field!(self.v, stat.mmio_exit_kernel),
            Stat::CsrExitUser => field!(self.v, stat.csr_exit_user),
            Stat::CsrExitKernel => field!(self.v, stat.csr_exit_kernel),
            Stat::InstrIllegalExits => field!(self.v, stat.instr_illegal_exits),
            Stat::LoadMisalignedExits => field!(self.v, stat.load_misaligned_exits),
            Stat::StoreMisalignedExits => field!(self.v, stat.store_misaligned_exits),
            Stat::LoadAccessExits => field!(self.v, stat.load_access_exits),
            Stat::StoreAccessExits => field!(self.v, stat.store_access_exits),
        };
        // SAFETY: `p` is a u64 of the live vCPU's stats; only this thread
        // writes it.
        unsafe { p.write_volatile(p.read_volatile().wrapping_add(1)) };
    }

    /// Marks that the run loop ran the vCPU (`arch.ran_atleast_once`).
    pub(crate) fn set_ran_once(&mut self) {
        write_once!(self.arch(), true, ran_atleast_once)
    }

    /// Sets `arch.last_exit_cpu` (the TLB code reads it).
    pub(crate) fn set_last_exit_cpu(&mut self, cpu: c_int) {
        write_once!(self.arch(), cpu, last_exit_cpu)
    }

    /// `vcpu->mode = mode`: a plain store, ordered by the barriers around it.
    #[inline(always)]
    pub(crate) fn set_mode(&mut self, mode: Mode) {
        // CAST: the modes are small enumerators.
        write_once!(self.v.as_ptr(), mode as c_int, mode)
    }

    /// Sets `vcpu->guest_debug` (`KVM_SET_GUEST_DEBUG`).
    pub(crate) fn set_guest_debug(&mut self, control: c_ulong) {
        write_once!(self.v.as_ptr(), control, guest_debug)
    }

    /// Empties the HFENCE request queue (reset).
    pub(crate) fn reset_hfence_queue(&mut self) {
        self.v.with_hfence_queue(|q| {
            *q.head = 0;
            *q.tail = 0;
            q.slots
                .iter_mut()
                .for_each(|s| *s = b::kvm_riscv_hfence::default());
        });
    }

    /// Sets the zero-fill flag of the MMU page cache (create).
    pub(crate) fn init_mmu_page_cache(&mut self) {
        write_once!(self.arch(), b::__GFP_ZERO, mmu_page_cache.gfp_zero)
    }

    /// Frees the MMU page cache (destroy).
    pub(crate) fn free_mmu_page_cache(&mut self) {
        self.mmu_page_cache().free()
    }

    /// Runs the guest until it traps (`__kvm_riscv_switch_to()` of
    /// `vcpu_switch.S`): host registers saved in `host_context`, guest ones
    /// loaded from `guest_context`, `sret` into the guest, and the other way
    /// when it traps back.
    #[inline(always)]
    pub(crate) fn switch_to_guest(&mut self, _irqs: &crate::irq::IrqsOff) {
        // SAFETY: the vCPU thread with interrupts off (the token); the asm
        // saves and restores every host register it uses and touches only
        // the contexts of the live vCPU's arch state, which no borrow holds.
        unsafe { b::__kvm_riscv_switch_to(self.arch()) }
    }

    /// As [`VcpuCtx::switch_to_guest`], entering the guest through the NACL
    /// `SYNC_SRET` call (`__kvm_riscv_nacl_switch_to()`), whose SRET area the
    /// caller has filled.
    #[inline(always)]
    pub(crate) fn nacl_switch_to_guest(&mut self, _irqs: &crate::irq::IrqsOff) {
        // CAST (both): SBI ids are XLEN values.
        let ext = b::sbi_ext_id_SBI_EXT_NACL as c_ulong;
        let fid = b::sbi_ext_nacl_fid_SBI_EXT_NACL_SYNC_SRET as c_ulong;
        // SAFETY: as in `switch_to_guest`, entering through the SBI call.
        unsafe { b::__kvm_riscv_nacl_switch_to(self.arch(), ext, fid) }
    }
}

// ---------------------------------------------------------------------------
// Calls into C that act on the vCPU, from its own thread.

vcpu_thread_calls! {
    /// `kvm_vcpu_srcu_read_lock()`; paired with `srcu_read_unlock`.
    fn srcu_read_lock() = b::kvm_riscv_rs_vcpu_srcu_read_lock;
    /// `kvm_vcpu_srcu_read_unlock()`; pairs a `srcu_read_lock`.
    fn srcu_read_unlock() = b::kvm_riscv_rs_vcpu_srcu_read_unlock;
    /// `vcpu_load()` of the generic core: loads the vCPU on this CPU (it calls
    /// back `kvm_arch_vcpu_load()`), with its preempt notifier; paired with
    /// `generic_put`.
    fn generic_load() = b::vcpu_load;
    /// `vcpu_put()` of the generic core; pairs `generic_load`.
    fn generic_put() = b::vcpu_put;
    /// `kvm_sigset_activate()`, in KVM_RUN; paired with the deactivate.
    fn sigset_activate() = b::kvm_sigset_activate;
    /// `kvm_sigset_deactivate()`.
    fn sigset_deactivate() = b::kvm_sigset_deactivate;
    /// `kvm_xfer_to_guest_mode_handle_work()`: signals, rescheduling,
    /// notifications before entering, interrupts on; 0 or a negative errno.
    fn handle_guest_mode_work() -> c_int = b::kvm_riscv_rs_xfer_to_guest_mode_handle_work;
    /// `kvm_dirty_ring_check_request()`: `true` to exit to userspace.
    fn dirty_ring_check_request() -> bool = b::kvm_dirty_ring_check_request;
    /// Initialises the vCPU's locks, each with its own lockdep class
    /// (`kvm_riscv_rs_vcpu_locks_init()`), at create.
    fn init_locks() = b::kvm_riscv_rs_vcpu_locks_init;
    /// Marks guest frame `gfn` dirty (`kvm_vcpu_mark_page_dirty()`), SRCU
    /// held.
    fn mark_page_dirty(gfn: u64) = b::kvm_vcpu_mark_page_dirty;
    /// `kvm_vcpu_halt()`, with no SRCU read lock held; it may sleep.
    fn vcpu_halt() = b::kvm_vcpu_halt;
    /// `kvm_vcpu_on_spin()`: yields to another vCPU of the VM (preferring
    /// one in kernel mode if `yield_to_kernel_mode`).
    fn on_spin(yield_to_kernel_mode: bool) = b::kvm_vcpu_on_spin;
}

impl VcpuCtx<'_> {
    /// Sleeps until the vCPU is neither stopped nor paused, or a signal
    /// comes (`rcuwait_wait_event()` on the vCPU's wait).
    pub(crate) fn wait_until_runnable(&mut self) {
        extern "C" fn done(vcpu: *mut b::kvm_vcpu) -> bool {
            // SAFETY: the wait below passes the live vCPU it waits for.
            let v = unsafe { Vcpu::from_raw(vcpu) };
            v.mp_state() != b::KVM_MP_STATE_STOPPED && !v.paused()
        }
        // SAFETY: the vCPU thread; the condition only reads shared state.
        unsafe { b::kvm_riscv_rs_wait_until(self.v.as_ptr(), Some(done)) }
    }
}

vcpu_trace_calls! {
    /// The `kvm_entry` trace event.
    fn trace_entry() = b::kvm_riscv_rs_trace_kvm_entry;
    /// The `kvm_riscv_vcpu_exit` trace event of `trap`.
    fn trace_vcpu_exit(trap: &b::kvm_cpu_trap) = b::kvm_riscv_rs_trace_kvm_vcpu_exit;
    /// The `kvm_mmio_emulate` trace event; the guest's pc is read by the C
    /// side.
    fn trace_mmio_emulate(insn: c_ulong, gpa: c_ulong, write: bool, len: u32)
        = b::kvm_riscv_rs_trace_kvm_mmio_emulate;
}

// ---------------------------------------------------------------------------
// Guest memory, from the vCPU thread (with the SRCU read lock held, as the
// run loop and the vCPU ioctls hold it).

impl VcpuCtx<'_> {
    /// Copies guest memory at `gpa` into `buf` (`kvm_vcpu_read_guest()`).
    // The SBI PMU (its snapshot area and event info) is the only reader so
    // far, and is compiled only with CONFIG_RISCV_PMU_SBI.
    #[cfg_attr(not(CONFIG_RISCV_PMU_SBI), allow(dead_code))]
    pub(crate) fn read_guest(&mut self, gpa: u64, buf: &mut [u8]) -> Result {
        // SAFETY: the vCPU thread; `buf` is valid for its length.
        let rc = unsafe {
            b::kvm_vcpu_read_guest(self.v.as_ptr(), gpa, buf.as_mut_ptr().cast(), buf.len())
        };
        kernel::error::to_result(rc)
    }

    /// Copies `buf` to guest memory at `gpa` (`kvm_vcpu_write_guest()`).
    pub(crate) fn write_guest(&mut self, gpa: u64, buf: &[u8]) -> Result {
        // SAFETY: the vCPU thread; `buf` is valid for its length.
        let rc = unsafe {
            b::kvm_vcpu_write_guest(self.v.as_ptr(), gpa, buf.as_ptr().cast(), buf.len())
        };
        kernel::error::to_result(rc)
    }

    /// The host virtual address of guest frame `gfn`, if a memslot backs it
    /// (`kvm_vcpu_gfn_to_hva()`).
    pub(crate) fn gfn_to_hva(&mut self, gfn: u64) -> Option<c_ulong> {
        // SAFETY: the vCPU thread, SRCU held.
        let hva = unsafe { b::kvm_vcpu_gfn_to_hva(self.v.as_ptr(), gfn) };
        (!crate::ffi::is_error_hva(hva)).then_some(hva)
    }

    /// The vCPU's FWFT feature configurations: what the `configs` pointer of
    /// `arch.fwft_context` holds, which only `vcpu_sbi_fwft.rs` sets (null,
    /// or an allocation of its own type; no C code reads it).
    pub(crate) fn fwft_configs(&mut self) -> &mut Option<KBox<crate::vcpu_sbi_fwft::Configs>> {
        let p = field!(self.v, arch.fwft_context.configs);
        // SAFETY: a field of the vCPU that only its thread touches, borrowed
        // as long as the context is; `Option<KBox<_>>` is a nullable pointer,
        // and the field is null or a box of `Configs` (see above).
        unsafe { &mut *p.cast::<Option<KBox<crate::vcpu_sbi_fwft::Configs>>>() }
    }

    /// The same context again, for a call: `self` cannot be used while it
    /// lives. What the callee does with its address is its own; the
    /// caller's context does not escape.
    pub(crate) fn reborrow(&mut self) -> VcpuCtx<'_> {
        VcpuCtx {
            v: self.v,
            _thread: PhantomData,
        }
    }

    /// The pointer-masking lengths HENVCFG takes, found by FWFT at vCPU
    /// creation (`arch.fwft_context`).
    pub(crate) fn fwft(&mut self) -> FwftPmlen<'_> {
        let (p7, p16) = (
            field!(self.v, arch.fwft_context.have_vs_pmlen_7),
            field!(self.v, arch.fwft_context.have_vs_pmlen_16),
        );
        // SAFETY: fields of the vCPU that only its thread touches, borrowed
        // as long as the context is.
        unsafe {
            FwftPmlen {
                have_vs_pmlen_7: &mut *p7,
                have_vs_pmlen_16: &mut *p16,
            }
        }
    }

    /// Whether a memslot backs guest frame `gfn`, read-only ones included
    /// (`kvm_vcpu_gfn_to_hva_prot()`, which [`Self::gfn_to_hva`] is not:
    /// it refuses read-only memslots).
    pub(crate) fn gfn_backed(&mut self, gfn: u64) -> bool {
        // SAFETY: the vCPU thread, SRCU held; no `writable` out-parameter.
        let hva =
            unsafe { b::kvm_vcpu_gfn_to_hva_prot(self.v.as_ptr(), gfn, core::ptr::null_mut()) };
        !crate::ffi::is_error_hva(hva)
    }
}

/// FWFT's pointer-masking lengths ([`VcpuCtx::fwft`]).
pub(crate) struct FwftPmlen<'a> {
    pub(crate) have_vs_pmlen_7: &'a mut bool,
    pub(crate) have_vs_pmlen_16: &'a mut bool,
}

// ---------------------------------------------------------------------------
// The kernel-mode-vector callback (the kernel has it only with
// CONFIG_RISCV_ISA_V).

/// What the kernel's vector code asks of the vCPU running on this CPU when
/// it wants the vector unit (`kvm_riscv_vcpu_flush_vector()`): `cx` is that
/// vCPU's context, `None` if none runs here.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) trait VectorFlush {
    /// Saves the guest's vector state.
    fn flush(cx: Option<&mut VcpuCtx<'_>>);
}

/// The C ABI of the callback `main.rs` registers
/// (`kvm_riscv_register_vctx_callback()`), calling `T::flush`.
///
/// # Safety
/// Called by the kernel's vector code on the running vCPU's own thread
/// (`RISCV_V_VCPU_CTX` is only set there, from guest entry to put), with the
/// vector context claimed, outside the vCPU's load and put.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) unsafe extern "C" fn vector_flush_entry<T: VectorFlush>() {
    // SAFETY: this CPU's running vCPU (`*this_cpu_ptr(kvm_get_running_vcpus())`),
    // read with preemption off (the vector context is claimed).
    let vcpu = unsafe { b::kvm_get_running_vcpu() };
    // SAFETY: null, or a live vCPU whose thread we are, per the contract.
    let mut cx = (!vcpu.is_null()).then(|| unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) });
    T::flush(cx.as_mut())
}

/// A saved register context (`struct kvm_cpu_context`), the guest's or the
/// host's.
impl b::kvm_cpu_context {
    /// Guest register `n` (x0..x31) of a saved context. x0 has a slot too,
    /// which the world switch never loads.
    pub(crate) fn gpr(&mut self, n: usize) -> &mut c_ulong {
        let c = self;
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
}

from_raw! {
    /// The handle of the vCPU behind `ptr` (alive from creation to
    /// destruction).
    Vcpu(*mut b::kvm_vcpu);
    /// The handle of the VM behind `ptr`.
    Vm(*mut b::kvm);
    /// The handle of a vCPU's run page (mapped while the vCPU lives).
    Run(*mut b::kvm_run);
    /// The handle of a memslot (alive while the SRCU read lock or
    /// `slots_lock` is held).
    Memslot(*const b::kvm_memory_slot);
}

// ---------------------------------------------------------------------------
// The VM.

/// A VM (`struct kvm`).
#[repr(transparent)]
pub(crate) struct Vm(Opaque<b::kvm>);

/// The words of a bitmap of every vCPU index (`KVM_MAX_VCPUS` bits).
pub(crate) const VCPU_BITMAP_WORDS: usize = kernel::num::casts::u32_as_usize(b::KVM_MAX_VCPUS)
    .div_ceil(kernel::num::casts::u32_as_usize(c_ulong::BITS));

impl Vm {
    /// The C pointer, for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut b::kvm {
        self.0.get()
    }

    /// `KVM_CAP_RISCV_MP_STATE_RESET` was enabled.
    pub(crate) fn mp_state_reset(&self) -> bool {
        read_once!(self.as_ptr(), arch.mp_state_reset)
    }

    /// The number of vCPUs created so far (`kvm->online_vcpus`).
    pub(crate) fn online_vcpus(&self) -> u32 {
        // SAFETY: the VM is live.
        let n = unsafe { b::kvm_riscv_rs_online_vcpus(self.as_ptr()) };
        // CAST: a count, not negative.
        n as u32
    }

    /// vCPU `i` (`kvm_get_vcpu()`), if created.
    pub(crate) fn vcpu(&self, i: u32) -> Option<&Vcpu> {
        // CAST: below online_vcpus, which fits in an int.
        // SAFETY: the VM is live.
        let p = unsafe { b::kvm_riscv_rs_get_vcpu(self.as_ptr(), i as c_int) };
        // SAFETY: a vCPU lives as long as its VM.
        (!p.is_null()).then(|| unsafe { Vcpu::from_raw(p) })
    }

    /// Makes `req` of every vCPU and kicks them (`kvm_make_all_cpus_request()`).
    pub(crate) fn make_all_cpus_request(&self, req: Request) -> bool {
        // SAFETY: the VM is live.
        unsafe { b::kvm_make_all_cpus_request(self.as_ptr(), req.raw()) }
    }

    /// The vCPU whose id is `id` (`kvm_get_vcpu_by_id()`), if any.
    pub(crate) fn vcpu_by_id(&self, id: u32) -> Option<&Vcpu> {
        self.vcpus().find(|v| v.id() == id)
    }

    /// Every vCPU of the VM (`kvm_for_each_vcpu()`).
    pub(crate) fn vcpus(&self) -> impl Iterator<Item = &Vcpu> {
        (0..self.online_vcpus()).filter_map(move |i| self.vcpu(i))
    }
}

impl Vm {
    /// The VM's current VMID (`READ_ONCE(kvm->arch.vmid.vmid)`), which the
    /// VMID allocator may change at any time.
    pub(crate) fn vmid(&self) -> c_ulong {
        read_once!(self.as_ptr(), arch.vmid.vmid)
    }

    /// The version of the VM's VMID (`READ_ONCE(kvm->arch.vmid.vmid_version)`).
    pub(crate) fn vmid_version(&self) -> c_ulong {
        read_once!(self.as_ptr(), arch.vmid.vmid_version)
    }

    /// Gives the VM VMID `vmid` of version `version`, under the VMID lock:
    /// the VMID first, then the version (`WRITE_ONCE()` each), so that a
    /// vCPU that reads the new version reads the new VMID.
    pub(crate) fn publish_vmid(&self, vmid: c_ulong, version: c_ulong) {
        write_once!(self.as_ptr(), vmid, arch.vmid.vmid);
        write_once!(self.as_ptr(), version, arch.vmid.vmid_version);
    }

    /// Makes `req` of the vCPUs whose index has its bit set in `mask` and
    /// kicks them (`kvm_make_vcpus_request_mask()`).
    pub(crate) fn make_vcpus_request_mask(
        &self,
        req: Request,
        mask: &[c_ulong; VCPU_BITMAP_WORDS],
    ) {
        // SAFETY: the VM is live; the bitmap has a bit for each of the
        // KVM_MAX_VCPUS indices the function may test, and is only read.
        unsafe {
            b::kvm_make_vcpus_request_mask(self.as_ptr(), req.raw(), mask.as_ptr().cast_mut())
        };
    }
}

// vm.rs: the VM's creation and destruction by C `mmu.c` and `aia_device.c`,
// and AIA injection (which never sleeps: irqfd calls it in atomic context).
vm_calls! {
    /// `kvm_destroy_vcpus()`, at VM destruction.
    pub(crate) fn destroy_vcpus() = b::kvm_destroy_vcpus;
    /// `kvm_flush_remote_tlbs()`.
    pub(crate) fn flush_remote_tlbs() = b::kvm_flush_remote_tlbs;
    /// `kvm_flush_remote_tlbs_range()`.
    pub(crate) fn flush_remote_tlbs_range(gfn: u64, pages: u64) = b::kvm_flush_remote_tlbs_range;
    /// `mmu_invalidate_retry_gfn()`, under `mmu_lock`.
    fn c_mmu_invalidate_retry_gfn(seq: c_ulong, gfn: u64) -> bool =
        b::kvm_riscv_rs_mmu_invalidate_retry_gfn;
    /// `need_resched() || rwlock_needbreak(&kvm->mmu_lock)`.
    fn c_mmu_lock_needbreak() -> bool = b::kvm_riscv_rs_mmu_lock_needbreak;
    /// `lockdep_assert_held_write(&kvm->mmu_lock)`.
    fn c_assert_mmu_write_locked() = b::kvm_riscv_rs_assert_mmu_write_locked;
    /// `kvm->lock`, then `kvm->slots_lock`.
    fn c_lock_slots() = b::kvm_riscv_rs_vm_lock_slots;
    /// Their release, in the other order.
    fn c_unlock_slots() = b::kvm_riscv_rs_vm_unlock_slots;
    /// `kvm_are_all_memslots_empty()`, under `slots_lock`.
    fn c_all_memslots_empty() -> bool = b::kvm_riscv_rs_all_memslots_empty;
}

impl Vm {
    /// Installs the routes `ents` (`kvm_set_irq_routing()`).
    pub(crate) fn set_irq_routing(&self, ents: &[b::kvm_irq_routing_entry], flags: u32) -> c_int {
        let Ok(n) = u32::try_from(ents.len()) else {
            return kernel::error::code::EINVAL.to_errno();
        };
        // SAFETY: a live VM; `n` entries, only read during the call.
        unsafe { b::kvm_set_irq_routing(self.as_ptr(), ents.as_ptr(), n, flags) }
    }

    /// A route of GSI `gsi` to pin `pin` of irqchip `irqchip`.
    pub(crate) fn irqchip_route(gsi: u32, irqchip: u32, pin: u32) -> b::kvm_irq_routing_entry {
        let mut e = b::kvm_irq_routing_entry {
            gsi,
            type_: b::KVM_IRQ_ROUTING_IRQCHIP,
            ..Default::default()
        };
        // SAFETY: writes the irqchip member of the union, which the type
        // above says is the one in use.
        unsafe { *e.u.irqchip.as_mut() = b::kvm_irq_routing_irqchip { irqchip, pin } };
        e
    }

    /// The in-kernel irqchip was created (`irqchip_in_kernel()`).
    pub(crate) fn irqchip_in_kernel(&self) -> bool {
        read_once!(self.as_ptr(), arch.aia.in_kernel)
    }

    /// The G-stage levels of the VM (`kvm->arch.pgd_levels`).
    pub(crate) fn pgd_levels(&self) -> usize {
        read_once!(self.as_ptr(), arch.pgd_levels)
    }

    /// Enables `KVM_CAP_RISCV_MP_STATE_RESET`.
    pub(crate) fn set_mp_state_reset(&self) {
        write_once!(self.as_ptr(), true, arch.mp_state_reset)
    }

    /// Runs `f` with `kvm->lock` and `kvm->slots_lock` held, in that order.
    pub(crate) fn with_lock_and_slots_lock<R>(&self, f: impl FnOnce(&VmSlotsLocked<'_>) -> R) -> R {
        // Both mutexes in KVM's order, released after `f`.
        self.c_lock_slots();
        let r = f(&VmSlotsLocked(self));
        self.c_unlock_slots();
        r
    }
}

/// A VM whose `kvm->lock` and `kvm->slots_lock` are held.
pub(crate) struct VmSlotsLocked<'a>(&'a Vm);

impl VmSlotsLocked<'_> {
    /// vCPUs created so far (`kvm->created_vcpus`, under `kvm->lock`).
    pub(crate) fn created_vcpus(&self) -> c_int {
        read_once!(self.0.as_ptr(), created_vcpus)
    }

    /// No memslot has pages (`kvm_are_all_memslots_empty()`, under
    /// `slots_lock`).
    pub(crate) fn all_memslots_empty(&self) -> bool {
        self.0.c_all_memslots_empty()
    }

    /// Sets the G-stage levels (no vCPU and no memslot yet: nothing uses them).
    pub(crate) fn set_pgd_levels(&self, levels: usize) {
        write_once!(self.0.as_ptr(), levels, arch.pgd_levels)
    }
}

impl Handle for Vm {
    type C = b::kvm;
    fn raw(&self) -> *mut b::kvm {
        self.as_ptr()
    }
}

// ---------------------------------------------------------------------------
// The run page.

/// `struct kvm_run`, the page shared with userspace: every access is
/// volatile, and none hands out a reference into it.
#[repr(transparent)]
pub(crate) struct Run(Opaque<b::kvm_run>);

/// The MMIO exit (`run->mmio`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MmioExit {
    pub(crate) phys_addr: u64,
    pub(crate) data: [u8; 8],
    pub(crate) len: u32,
    pub(crate) is_write: bool,
}

/// The SBI exit (`run->riscv_sbi`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SbiExit {
    pub(crate) extension_id: c_ulong,
    pub(crate) function_id: c_ulong,
    pub(crate) args: [c_ulong; 6],
    pub(crate) ret: [c_ulong; 2],
}

/// The CSR exit (`run->riscv_csr`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CsrExit {
    pub(crate) csr_num: c_ulong,
    pub(crate) new_value: c_ulong,
    pub(crate) write_mask: c_ulong,
    pub(crate) ret_value: c_ulong,
}

impl Run {
    /// The C pointer, for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut b::kvm_run {
        self.0.get()
    }

    /// `run->exit_reason`.
    pub(crate) fn exit_reason(&self) -> u32 {
        read_once!(self.as_ptr(), exit_reason)
    }

    /// Sets `run->exit_reason`.
    pub(crate) fn set_exit_reason(&self, r: u32) {
        write_once!(self.as_ptr(), r, exit_reason)
    }

    // The exit-data union's members (bindgen's `__BindgenUnionField`s are
    // zero-sized markers at the union's address).

    fn mmio_ptr(&self) -> *mut b::kvm_run__bindgen_ty_1__bindgen_ty_6 {
        field!(self, __bindgen_anon_1.mmio).cast()
    }

    fn sbi_ptr(&self) -> *mut b::kvm_run__bindgen_ty_1__bindgen_ty_24 {
        field!(self, __bindgen_anon_1.riscv_sbi).cast()
    }

    fn csr_ptr(&self) -> *mut b::kvm_run__bindgen_ty_1__bindgen_ty_25 {
        field!(self, __bindgen_anon_1.riscv_csr).cast()
    }

    /// Reads `run->mmio`.
    pub(crate) fn mmio(&self) -> MmioExit {
        let p = self.mmio_ptr();
        MmioExit {
            phys_addr: read_once!(p, phys_addr),
            data: read_once!(p, data),
            len: read_once!(p, len),
            is_write: read_once!(p, is_write) != 0,
        }
    }

    /// Writes `run->mmio`.
    pub(crate) fn set_mmio(&self, m: &MmioExit) {
        let p = self.mmio_ptr();
        write_once!(p, m.phys_addr, phys_addr);
        write_once!(p, m.data, data);
        write_once!(p, m.len, len);
        write_once!(p, u8::from(m.is_write), is_write);
    }

    /// Writes `run->fail_entry`.
    pub(crate) fn set_fail_entry(&self, reason: u64, cpu: u32) {
        let p: *mut b::kvm_run__bindgen_ty_1__bindgen_ty_2 =
            field!(self, __bindgen_anon_1.fail_entry).cast();
        write_once!(p, reason, hardware_entry_failure_reason);
        write_once!(p, cpu, cpu);
    }

    /// Writes `run->riscv_sbi`.
    pub(crate) fn set_sbi(&self, s: &SbiExit) {
        let p = self.sbi_ptr();
        write_once!(p, s.extension_id, extension_id);
        write_once!(p, s.function_id, function_id);
        write_once!(p, s.args, args);
        write_once!(p, s.ret, ret);
    }

    /// Reads `run->riscv_csr`.
    pub(crate) fn csr(&self) -> CsrExit {
        let p = self.csr_ptr();
        CsrExit {
            csr_num: read_once!(p, csr_num),
            new_value: read_once!(p, new_value),
            write_mask: read_once!(p, write_mask),
            ret_value: read_once!(p, ret_value),
        }
    }

    /// Writes `run->riscv_csr`.
    pub(crate) fn set_csr(&self, c: &CsrExit) {
        let p = self.csr_ptr();
        write_once!(p, c.csr_num, csr_num);
        write_once!(p, c.new_value, new_value);
        write_once!(p, c.write_mask, write_mask);
        write_once!(p, c.ret_value, ret_value);
    }
}

impl Handle for Run {
    type C = b::kvm_run;
    fn raw(&self) -> *mut b::kvm_run {
        self.as_ptr()
    }
}

// ---------------------------------------------------------------------------
// Accessors and C calls for vcpu_exit.rs, vcpu_insn.rs

impl<'a> VcpuCtx<'a> {
    /// Reads guest memory at `guest_addr` with the guest's translation: a
    /// doubleword (HLV.D) or, if `read_insn`, an instruction (HLVX.HU, twice
    /// for a 32-bit one) (`kvm_riscv_vcpu_unpriv_read()`).
    ///
    /// A fault of the access is not taken by the host: the trap vector
    /// `__kvm_riscv_unpriv_trap` records it in `vcpu_exit_logic` (SEPC, SCAUSE, STVAL,
    /// HTVAL, HTINST) and skips the access; the caller passes `vcpu_exit_logic` zeroed
    /// and tells success by `trap.scause == 0`. A fault of an instruction
    /// read is reported as an instruction page fault.
    pub(crate) fn unpriv_read(
        &mut self,
        read_insn: bool,
        guest_addr: c_ulong,
        trap: &mut b::kvm_cpu_trap,
    ) -> c_ulong {
        let hstatus = self.guest().hstatus;
        let trap_ptr: *mut b::kvm_cpu_trap = trap;
        // The trap vector's address, for STVEC.
        let vector = (b::__kvm_riscv_unpriv_trap as *const ()).addr();
        let val: c_ulong;
        let irqs = crate::irq::disable();
        // HLV/HLVX act as the guest would (SPVP, VSXL, ...).
        let old_hstatus = crate::csr::HSTATUS.swap(hstatus);
        // SAFETY: interrupts are off (`irqs`) for as long as STVEC points at
        // the unpriv trap vector, and the vector is put back before they are
        // unmasked; the only trap these instructions can take is a fault of
        // the guest access, which the vector records through `a0` (a valid,
        // exclusive `kvm_cpu_trap`) using `a1`, then resumes 4 bytes on (no
        // compressed instructions here). The host memory the asm writes is
        // `*trap` alone.
        unsafe {
            let old_stvec: usize;
            core::arch::asm!(
                "csrrw {old}, stvec, {new}",
                old = out(reg) old_stvec, new = in(reg) vector,
                options(nostack),
            );
            if read_insn {
                core::arch::asm!(
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
                    in("a0") trap_ptr, out("a1") _,
                    options(nostack),
                );
            } else {
                core::arch::asm!(
                    ".option push",
                    ".option norvc",
                    // hlv.d val, (addr)
                    ".insn r 0x73, 4, 0x36, {val}, {addr}, x0",
                    ".option pop",
                    val = out(reg) val, addr = in(reg) guest_addr,
                    in("a0") trap_ptr, out("a1") _,
                    options(nostack),
                );
            }
            core::arch::asm!("csrw stvec, {old}", old = in(reg) old_stvec, options(nostack));
        }
        crate::csr::HSTATUS.write(old_hstatus);
        drop(irqs);
        // A fault of the instruction fetch is an instruction page fault.
        // CAST (both): exception causes are small.
        if read_insn && trap.scause == b::EXC_LOAD_PAGE_FAULT as c_ulong {
            trap.scause = b::EXC_INST_PAGE_FAULT as c_ulong;
        }
        val
    }

    /// Reads `data.len()` bytes at `gpa` from a device on the in-kernel MMIO
    /// bus (`kvm_io_bus_read()`): `true` if one took the access.
    pub(crate) fn mmio_bus_read(&mut self, gpa: u64, data: &mut [u8]) -> bool {
        let Ok(len) = c_int::try_from(data.len()) else {
            return false;
        };
        // SAFETY: the vCPU thread with the SRCU read lock held (the run
        // loop's); `data` is valid for `len` bytes.
        let rc = unsafe {
            b::kvm_io_bus_read(
                self.v.as_ptr(),
                b::kvm_bus_KVM_MMIO_BUS,
                gpa,
                len,
                data.as_mut_ptr().cast(),
            )
        };
        rc == 0
    }

    /// Writes `data` at `gpa` to a device on the in-kernel MMIO bus
    /// (`kvm_io_bus_write()`): `true` if one took the access.
    pub(crate) fn mmio_bus_write(&mut self, gpa: u64, data: &[u8]) -> bool {
        let Ok(len) = c_int::try_from(data.len()) else {
            return false;
        };
        // SAFETY: as in `mmio_bus_read`; `data` is valid for `len` bytes.
        let rc = unsafe {
            b::kvm_io_bus_write(
                self.v.as_ptr(),
                b::kvm_bus_KVM_MMIO_BUS,
                gpa,
                len,
                data.as_ptr().cast(),
            )
        };
        rc == 0
    }

    /// The guest frame of `gpa`, if a memslot backs it
    /// (`gfn_to_memslot()`, `gfn_to_hva_memslot_prot()`), from the vCPU
    /// thread with the SRCU read lock held (as the run loop holds it).
    pub(crate) fn guest_frame(&mut self, gpa: u64) -> Option<GuestFrame<'_, 'a>> {
        let gfn = gpa >> b::PAGE_SHIFT;
        let mut writable = false;
        // SAFETY: the vCPU's VM is live; the memslots are read under the
        // SRCU read lock. A null memslot gives an error address.
        let (slot, hva) = unsafe {
            let slot = b::gfn_to_memslot(self.v.vm().as_ptr(), gfn);
            (slot, b::gfn_to_hva_memslot_prot(slot, gfn, &mut writable))
        };
        if crate::ffi::is_error_hva(hva) {
            return None;
        }
        Some(GuestFrame {
            cx: self,
            slot,
            gpa,
            hva,
            writable,
        })
    }

    /// `kvm_vcpu_halt()`, with the SRCU read lock the caller holds dropped
    /// around it (the WFI emulation).
    pub(crate) fn halt(&mut self) {
        self.srcu_read_unlock();
        self.vcpu_halt();
        self.srcu_read_lock();
    }
}

/// A guest frame that a memslot backs, found by [`VcpuCtx::guest_frame`].
/// It borrows the context exclusively: nothing can drop the SRCU read lock,
/// and with it the memslot, while it lives.
pub(crate) struct GuestFrame<'c, 'a> {
    cx: &'c mut VcpuCtx<'a>,
    slot: *mut b::kvm_memory_slot,
    gpa: u64,
    hva: c_ulong,
    writable: bool,
}

impl GuestFrame<'_, '_> {
    /// Whether the host mapping is writable.
    pub(crate) fn writable(&self) -> bool {
        self.writable
    }

    /// Maps the page into the G-stage (`kvm_riscv_mmu_map()`), writable if
    /// `write`: 0 or a negative errno.
    pub(crate) fn map(self, write: bool) -> c_int {
        // SAFETY: the memslot lives while the SRCU read lock is held, which
        // it is as long as the frame borrows the context.
        let slot = unsafe { Memslot::from_raw(self.slot) };
        crate::mmu::map(
            self.cx,
            slot,
            self.gpa,
            kernel::num::casts::usize_as_u64(self.hva),
            write,
        )
    }
}

// ---------------------------------------------------------------------------
// Accessors and C calls for onereg.rs, vcpu_config.rs, isa.rs

impl VcpuCtx<'_> {
    /// The guest's FP registers as F registers (`guest_context.fp.f`).
    pub(crate) fn guest_fp_f(&mut self) -> &mut b::__riscv_f_ext_state {
        let g = self.parts().guest;
        // SAFETY: both views of the FP union are plain integers, for which
        // any bit pattern is valid; the guest's ISA says which one holds its
        // state, as upstream reads it.
        unsafe { &mut g.fp.f }
    }

    /// The guest's FP registers as D registers (`guest_context.fp.d`).
    pub(crate) fn guest_fp_d(&mut self) -> &mut b::__riscv_d_ext_state {
        let g = self.parts().guest;
        // SAFETY: as in `guest_fp_f`.
        unsafe { &mut g.fp.d }
    }

    /// Vector register `n` (below 32) in the guest's register buffer,
    /// `vlenb` bytes; empty, with a WARN, if the vCPU has no buffer.
    pub(crate) fn guest_vector_reg(&mut self, n: usize) -> &mut [u8] {
        let len = crate::ffi::vlenb();
        let g = self.parts().guest;
        let datap = g.vector.datap;
        kernel::warn_on!(datap.is_null());
        if datap.is_null() || n >= 32 {
            return &mut [];
        }
        // SAFETY: a non-null `datap` of the guest context is its buffer of
        // `riscv_v_vsize` bytes (32 registers of `vlenb`), allocated with the
        // vCPU (`vcpu_vector::alloc_context`) and only reached through the
        // context, which `g` borrows exclusively for the slice's life; `n`
        // is below 32.
        unsafe { core::slice::from_raw_parts_mut(datap.cast::<u8>().add(n * len), len) }
    }
}

// ---------------------------------------------------------------------------
// Accessors and C calls for vcpu_sbi.rs, vcpu_sbi_sta.rs, vcpu_timer.rs

// --- The SBI extensions ------------------------------------------------------

/// An SBI extension of the vCPU's dispatch table described for C
/// (`struct kvm_vcpu_sbi_extension`): ours behind the C ABI (STA, PMU).
pub(crate) type SbiExt = b::kvm_vcpu_sbi_extension;

/// The callbacks of an SBI extension of ours whose state registers are
/// each an `unsigned long` (STA), called through its C description
/// ([`sbi_extension`]) by the dispatch (`vcpu_sbi.rs`), on the vCPU's
/// thread.
pub(crate) trait SbiExtCallbacks {
    /// The SBI call, on the run loop (`handler`): 0 or a negative errno;
    /// the SBI result goes into `ret`.
    fn handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int;
    /// Whether the vCPU can have the extension (`probe`).
    fn probe(cx: &mut VcpuCtx<'_>) -> bool;
    /// `reset`.
    fn reset(cx: &mut VcpuCtx<'_>);
    /// The number of state registers (`get_state_reg_count`).
    fn state_reg_count(cx: &mut VcpuCtx<'_>) -> c_ulong;
    /// GET of state register `num` (`get_state_reg`, once its size is
    /// checked).
    fn get_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<c_ulong>;
    /// SET of state register `num` to `val` (`set_state_reg`, once its size
    /// is checked).
    fn set_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong, val: c_ulong) -> Result;
}

/// The C description of an extension of ours with the callbacks of `C`:
/// SBI extension id `extid`, state registers of subtype `subtype`.
pub(crate) const fn sbi_extension<C: SbiExtCallbacks>(extid: c_ulong, subtype: c_ulong) -> SbiExt {
    SbiExt {
        extid_start: extid,
        extid_end: extid,
        default_disabled: false,
        handler: Some(sbi_cb_handler::<C>),
        probe: Some(sbi_cb_probe::<C>),
        init: None,
        deinit: None,
        reset: Some(sbi_cb_reset::<C>),
        validate: None,
        state_reg_subtype: subtype,
        get_state_reg_count: Some(sbi_cb_state_reg_count::<C>),
        get_state_reg_id: None,
        get_state_reg: Some(sbi_cb_get_state_reg::<C>),
        set_state_reg: Some(sbi_cb_set_state_reg::<C>),
    }
}

// The callbacks of `sbi_extension`, as C calls them. Their common contract:
// `vcpu` is live, the caller is its thread (the SBI dispatch, the SBI
// ONE_REG code, vCPU creation and reset, Base's probe) and holds no borrow
// of the thread's state across the call, so the context made here is the
// only one in use.

thread_callbacks! {
    /// The handler, on the run loop; `retdata` is the dispatch's return
    /// record.
    fn sbi_cb_handler<C: SbiExtCallbacks>(
        cx,
        _run: *mut b::kvm_run,
        retdata: *mut b::kvm_vcpu_sbi_return
    ) -> c_int {
        // SAFETY: the dispatch's record, valid and ours for the call.
        C::handler(cx, unsafe { &mut *retdata })
    }

    /// The probe.
    fn sbi_cb_probe<C: SbiExtCallbacks>(cx) -> c_ulong {
        c_ulong::from(C::probe(cx))
    }

    /// The reset.
    fn sbi_cb_reset<C: SbiExtCallbacks>(cx) {
        C::reset(cx)
    }

    /// The number of state registers.
    fn sbi_cb_state_reg_count<C: SbiExtCallbacks>(cx) -> c_ulong {
        C::state_reg_count(cx)
    }

    /// GET of a state register; `val` is valid for `size` bytes, aligned for
    /// an `unsigned long`.
    fn sbi_cb_get_state_reg<C: SbiExtCallbacks>(
        cx,
        num: c_ulong,
        size: c_ulong,
        val: *mut core::ffi::c_void
    ) -> c_int {
        // Each register is an `unsigned long`: another size is -EINVAL, first.
        if size != core::mem::size_of::<c_ulong>() {
            return kernel::error::code::EINVAL.to_errno();
        }
        match C::get_state_reg(cx, num) {
            Ok(v) => {
                // SAFETY: `val` holds an `unsigned long` (its size, checked).
                unsafe { val.cast::<c_ulong>().write(v) };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// SET of a state register; as the GET, `val` only read.
    fn sbi_cb_set_state_reg<C: SbiExtCallbacks>(
        cx,
        num: c_ulong,
        size: c_ulong,
        val: *const core::ffi::c_void
    ) -> c_int {
        // As in `sbi_cb_get_state_reg`.
        if size != core::mem::size_of::<c_ulong>() {
            return kernel::error::code::EINVAL.to_errno();
        }
        // SAFETY: `val` holds an `unsigned long` (its size, checked).
        let v = unsafe { val.cast::<c_ulong>().read() };
        match C::set_state_reg(cx, num, v) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}

/// What an SBI extension's handler left for the dispatch
/// (`struct kvm_vcpu_sbi_return`, and the trap it may have recorded).
#[derive(Default)]
pub(crate) struct SbiRet {
    /// The value for a1.
    pub(crate) out_val: c_ulong,
    /// The SBI error for a0.
    pub(crate) err_val: c_ulong,
    /// Userspace finishes the call.
    pub(crate) uexit: bool,
    /// A trap for the guest, if `scause` is not 0.
    pub(crate) utrap: b::kvm_cpu_trap,
}

// The callbacks of an extension, on the vCPU's thread. Each may come back
// into Rust (the extensions of ours, the C ABI entry points the C ones
// call), which makes its own context: none of these holds a borrow of the
// thread's state across the call.

/// Calls callback `$f` of an SBI extension description for the context's
/// vCPU, with the other arguments `$a`. Only for the callbacks of a
/// [`SbiExt`] (module-private): their common contract is a live vCPU, on its
/// own thread, pointer arguments valid for the call.
macro_rules! ext_call {
    ($cx:expr, $f:expr $(, $a:expr)*) => {{
        let (f, vcpu) = ($f, $cx.v.as_ptr());
        // SAFETY: an SBI extension's own callback (the macro's contract), for
        // the live vCPU of a context, on its thread; the arguments are valid
        // for the call.
        unsafe { f(vcpu $(, $a)*) }
    }};
}

impl VcpuCtx<'_> {
    /// `ext->probe(vcpu)`; `None` if it has no probe.
    pub(crate) fn sbi_ext_probe(&mut self, ext: &SbiExt) -> Option<c_ulong> {
        Some(ext_call!(self, ext.probe?))
    }

    /// `ext->init(vcpu)`: 0 or a negative errno; `None` if it has none.
    pub(crate) fn sbi_ext_init(&mut self, ext: &SbiExt) -> Option<c_int> {
        Some(ext_call!(self, ext.init?))
    }

    /// `ext->deinit(vcpu)`, if it has one.
    pub(crate) fn sbi_ext_deinit(&mut self, ext: &SbiExt) {
        if let Some(f) = ext.deinit {
            ext_call!(self, f)
        }
    }

    /// `ext->reset(vcpu)`, if it has one.
    pub(crate) fn sbi_ext_reset(&mut self, ext: &SbiExt) {
        if let Some(f) = ext.reset {
            ext_call!(self, f)
        }
    }

    /// `ext->validate(vcpu)`, if it has one.
    pub(crate) fn sbi_ext_validate(&mut self, ext: &SbiExt) {
        if let Some(f) = ext.validate {
            ext_call!(self, f)
        }
    }

    /// Calls the handler of `ext` for the guest's ecall, on the run loop;
    /// `ret` gets what it left. `None` if it has no handler.
    #[inline]
    pub(crate) fn call_sbi_handler(&mut self, ext: &SbiExt, ret: &mut SbiRet) -> Option<c_int> {
        let f = ext.handler?;
        let mut r = b::kvm_vcpu_sbi_return {
            out_val: ret.out_val,
            err_val: ret.err_val,
            utrap: &mut ret.utrap,
            uexit: ret.uexit,
        };
        // On the run loop, with its run page; `r` and the trap it points to
        // outlive the call.
        let rc = ext_call!(self, f, self.v.run_page().as_ptr(), &mut r);
        (ret.out_val, ret.err_val, ret.uexit) = (r.out_val, r.err_val, r.uexit);
        Some(rc)
    }

    /// `ext->get_state_reg_count(vcpu)`; `None` if the extension has no
    /// state registers.
    pub(crate) fn sbi_ext_state_reg_count(&mut self, ext: &SbiExt) -> Option<c_ulong> {
        Some(ext_call!(self, ext.get_state_reg_count?))
    }

    /// `ext->get_state_reg_id(vcpu, index, id)`: 0 or a negative errno;
    /// `None` if it has none.
    pub(crate) fn sbi_ext_state_reg_id(
        &mut self,
        ext: &SbiExt,
        index: c_int,
        id: &mut u64,
    ) -> Option<c_int> {
        Some(ext_call!(self, ext.get_state_reg_id?, index, id))
    }

    /// `ext->get_state_reg(vcpu, num, size, val)`: the register's first
    /// `size` bytes into `val`; 0 or a negative errno. `None` if it has
    /// none.
    pub(crate) fn sbi_ext_get_state_reg(
        &mut self,
        ext: &SbiExt,
        num: c_ulong,
        size: usize,
        val: &mut u64,
    ) -> Option<c_int> {
        let f = ext.get_state_reg?;
        if size > core::mem::size_of::<u64>() {
            return Some(kernel::error::code::EINVAL.to_errno());
        }
        // `val` holds `size` bytes, aligned for any register size.
        Some(ext_call!(
            self,
            f,
            num,
            size,
            core::ptr::from_mut(val).cast()
        ))
    }

    /// `ext->set_state_reg(vcpu, num, size, val)`: the register from the
    /// first `size` bytes of `val`; 0 or a negative errno. `None` if it has
    /// none.
    pub(crate) fn sbi_ext_set_state_reg(
        &mut self,
        ext: &SbiExt,
        num: c_ulong,
        size: usize,
        val: &u64,
    ) -> Option<c_int> {
        let f = ext.set_state_reg?;
        if size > core::mem::size_of::<u64>() {
            return Some(kernel::error::code::EINVAL.to_errno());
        }
        // As in `sbi_ext_get_state_reg`; the callback only reads.
        Some(ext_call!(
            self,
            f,
            num,
            size,
            core::ptr::from_ref(val).cast()
        ))
    }

    /// The vCPU's steal-time state (`arch.sta`): only its thread touches it.
    pub(crate) fn sta(&mut self) -> &mut b::kvm_vcpu_arch__bindgen_ty_1 {
        // SAFETY: a field of the live vCPU that only this thread touches;
        // the borrow is of the context.
        unsafe { &mut *addr_of_mut!((*self.arch()).sta) }
    }
}

// --- The run page: SBI answers and system events -----------------------------

impl Run {
    /// `run->riscv_sbi.ret`: userspace's answer to a forwarded SBI call.
    pub(crate) fn sbi_ret(&self) -> [c_ulong; 2] {
        read_once!(self.sbi_ptr(), ret)
    }

    /// Writes `run->system_event` (zeroed, then the event `type_` with one
    /// datum, `data`).
    pub(crate) fn set_system_event(&self, type_: u32, data: u64) {
        let mut ev = b::kvm_run__bindgen_ty_1__bindgen_ty_19 {
            type_,
            ndata: 1,
            ..Default::default()
        };
        // `data[0]`, the union's first word.
        ev.__bindgen_anon_1.bindgen_union_field[0] = data;
        let p = field!(self, __bindgen_anon_1.system_event);
        // SAFETY: a volatile write of the whole member.
        unsafe {
            p.cast::<b::kvm_run__bindgen_ty_1__bindgen_ty_19>()
                .write_volatile(ev)
        }
    }
}

// --- The timer ---------------------------------------------------------------

/// A vCPU's timer (`arch.timer`, `struct kvm_vcpu_timer`), shared by the
/// vCPU's thread and its hrtimer's callback (hard interrupt context), as
/// upstream shares it: each access is one `READ_ONCE()`/`WRITE_ONCE()` of a
/// field.
///
/// # Invariants
/// Inside a live vCPU, whose creation set the hrtimer up
/// ([`VcpuCtx::timer_setup`]) before anyone else could reach the vCPU, and
/// whose destruction cancels it.
#[repr(transparent)]
pub(crate) struct VcpuTimer(Opaque<b::kvm_vcpu_timer>);

/// A callback of a vCPU's timer, which the hrtimer core runs in hard
/// interrupt context when the timer expires.
pub(crate) trait VcpuTimerCallback {
    /// The timer of `v` expired: `Some(ns)` to run again `ns` after now
    /// (`hrtimer_forward_now()`, `HRTIMER_RESTART`), `None` to stop.
    fn expired(v: &Vcpu) -> Option<u64>;
}

/// The hrtimer callback of a vCPU timer set up with `C`.
///
/// # Safety
/// `h` is the `arch.timer.hrt` of a live vCPU, and the hrtimer core is
/// running its callback.
unsafe extern "C" fn vcpu_timer_expired<C: VcpuTimerCallback>(
    h: *mut b::hrtimer,
) -> b::hrtimer_restart {
    // SAFETY: `container_of()`: per the function's contract, `h` is that many
    // bytes into a live vCPU (destroy cancels the timer before it goes).
    let v = unsafe {
        Vcpu::from_raw(
            h.byte_sub(core::mem::offset_of!(b::kvm_vcpu, arch.timer.hrt))
                .cast(),
        )
    };
    match C::expired(v) {
        Some(ns) => {
            // SAFETY: the running callback's own hrtimer
            // (`hrtimer_forward_now()`). CAST: `ktime_set(0, ns)`, as
            // upstream.
            unsafe { b::hrtimer_forward(h, b::hrtimer_cb_get_time(h), ns as b::ktime_t) };
            b::hrtimer_restart::HRTIMER_RESTART
        }
        None => b::hrtimer_restart::HRTIMER_NORESTART,
    }
}

impl Vcpu {
    /// The vCPU's timer.
    pub(crate) fn timer(&self) -> &VcpuTimer {
        // SAFETY: in bounds of the live vCPU; a transparent wrapper, which
        // `Opaque` lets the callback change.
        unsafe { &*addr_of_mut!((*self.arch()).timer).cast::<VcpuTimer>() }
    }
}

vcpu_calls! {
    /// `kvm_vcpu_is_blocking()`: the vCPU's thread waits in `kvm_vcpu_block()`.
    fn is_blocking() -> bool = b::kvm_riscv_rs_vcpu_is_blocking;
}

impl Handle for VcpuTimer {
    type C = b::kvm_vcpu_timer;
    fn raw(&self) -> *mut b::kvm_vcpu_timer {
        self.as_ptr()
    }
}

impl VcpuTimer {
    fn as_ptr(&self) -> *mut b::kvm_vcpu_timer {
        self.0.get()
    }

    fn hrt(&self) -> *mut b::hrtimer {
        field!(self, hrt)
    }

    /// `init_done`: the timer was set up and not torn down.
    pub(crate) fn init_done(&self) -> bool {
        read_once!(self.as_ptr(), init_done)
    }

    pub(crate) fn set_init_done(&self, v: bool) {
        write_once!(self.as_ptr(), v, init_done)
    }

    /// `next_set`: the hrtimer is armed for the next event.
    pub(crate) fn next_set(&self) -> bool {
        read_once!(self.as_ptr(), next_set)
    }

    pub(crate) fn set_next_set(&self, v: bool) {
        write_once!(self.as_ptr(), v, next_set)
    }

    /// `next_cycles`: the next event, in guest cycles.
    pub(crate) fn next_cycles(&self) -> u64 {
        read_once!(self.as_ptr(), next_cycles)
    }

    pub(crate) fn set_next_cycles(&self, v: u64) {
        write_once!(self.as_ptr(), v, next_cycles)
    }

    /// `sstc_enabled`: the guest programs VSTIMECMP itself.
    pub(crate) fn sstc_enabled(&self) -> bool {
        read_once!(self.as_ptr(), sstc_enabled)
    }

    pub(crate) fn set_sstc_enabled(&self, v: bool) {
        write_once!(self.as_ptr(), v, sstc_enabled)
    }

    /// Arms the hrtimer `ns` from now (`hrtimer_start(..., HRTIMER_MODE_REL)`).
    pub(crate) fn start(&self, ns: u64) {
        // SAFETY: set up at creation (type invariant). CAST: `ktime_set(0,
        // ns)`, as upstream.
        unsafe {
            b::hrtimer_start_range_ns(
                self.hrt(),
                ns as b::ktime_t,
                0,
                b::hrtimer_mode_HRTIMER_MODE_REL,
            )
        };
    }

    /// Disarms the hrtimer, waiting for a running callback (`hrtimer_cancel()`).
    pub(crate) fn cancel(&self) {
        // SAFETY: set up at creation (type invariant).
        unsafe { b::hrtimer_cancel(self.hrt()) };
    }
}

impl VcpuCtx<'_> {
    /// Sets the vCPU's hrtimer up with the callback of `C`, relative and on
    /// CLOCK_MONOTONIC (`hrtimer_setup()`); vCPU creation does, before the
    /// timer can be armed.
    pub(crate) fn timer_setup<C: VcpuTimerCallback>(&mut self) {
        let f: unsafe extern "C" fn(*mut b::hrtimer) -> b::hrtimer_restart =
            vcpu_timer_expired::<C>;
        // SAFETY: the new vCPU's own hrtimer, not armed; the callback gets
        // the vCPU's `arch.timer.hrt`, as it requires. CAST: a small clock id.
        unsafe {
            b::hrtimer_setup(
                self.v.timer().hrt(),
                Some(f),
                b::CLOCK_MONOTONIC as b::clockid_t,
                b::hrtimer_mode_HRTIMER_MODE_REL,
            )
        };
    }
}

// --- The VM's guest clock -----------------------------------------------------

impl Vm {
    /// The guest's `time` offset from the host's (`arch.timer.time_delta`):
    /// userspace may set it through one vCPU while others read it, a word
    /// each way, as upstream allows.
    pub(crate) fn time_delta(&self) -> u64 {
        read_once!(self.as_ptr(), arch.timer.time_delta)
    }

    pub(crate) fn set_time_delta(&self, delta: u64) {
        write_once!(self.as_ptr(), delta, arch.timer.time_delta)
    }

    /// The clocksource's cycles-to-ns factors (mult, shift), set when the VM
    /// is created.
    pub(crate) fn timer_factors(&self) -> (u32, u32) {
        (
            read_once!(self.as_ptr(), arch.timer.nsec_mult),
            read_once!(self.as_ptr(), arch.timer.nsec_shift),
        )
    }

    /// Sets the guest clock of a new VM up: its factors and offset.
    pub(crate) fn init_guest_timer(&self, mult: u32, shift: u32, delta: u64) {
        write_once!(self.as_ptr(), mult, arch.timer.nsec_mult);
        write_once!(self.as_ptr(), shift, arch.timer.nsec_shift);
        self.set_time_delta(delta);
    }
}

// ---------------------------------------------------------------------------
// Accessors and C calls for pmu.rs

#[cfg(CONFIG_RISCV_PMU_SBI)]
pub(crate) use pmu_handle::{pmu_sbi_extension, Pmc, PmuCallbacks, PmuParts};

/// The vCPU's PMU (`arch.pmu_context`, `struct kvm_pmu`).
///
/// Only the vCPU's thread touches it ([`VcpuCtx::pmu`]), but for:
/// - `pmc_overflown`, which the perf overflow handler sets from interrupt
///   context: only atomic bit operations ([`Vcpu::pmc_overflown_set`], ...);
/// - each counter's `idx` and `vcpu`, which that handler reads: written with
///   `WRITE_ONCE()` before its event exists, read with `READ_ONCE()`, never
///   borrowed;
/// - `fw_event[]`, which other vCPUs' threads count into (SBI IPI's
///   `IPI_RCVD`): atomic accesses only ([`Vcpu::pmu_fw_event`]).
#[cfg(CONFIG_RISCV_PMU_SBI)]
mod pmu_handle {
    use super::{Vcpu, VcpuCtx};
    use crate::bindings as b;
    use crate::ffi::{OverflowEvent, PerfEvent};
    use crate::regs_logic::{u64_to_xlen, xlen_to_u64, CtrInfo};
    use core::marker::PhantomData;
    use core::ptr::addr_of_mut;
    use core::sync::atomic::Ordering::Relaxed as CoreRelaxed;
    use kernel::alloc::KBox;
    use kernel::ffi::{c_int, c_ulong, c_void};
    use kernel::prelude::*;
    use kernel::sync::atomic::Atomic;
    use kernel::transmute::{AsBytes, FromBytes};

    // SAFETY: `struct riscv_pmu_snapshot_data` is u64s only: no padding, any
    // bit pattern valid, all zeroes included.
    unsafe impl FromBytes for b::riscv_pmu_snapshot_data {}
    // SAFETY: as above.
    unsafe impl AsBytes for b::riscv_pmu_snapshot_data {}
    // SAFETY: as above.
    unsafe impl Zeroable for b::riscv_pmu_snapshot_data {}
    // SAFETY: `struct riscv_pmu_event_info` is two u32s then a u64: no
    // padding, any bit pattern valid.
    unsafe impl FromBytes for b::riscv_pmu_event_info {}
    // SAFETY: as above.
    unsafe impl AsBytes for b::riscv_pmu_event_info {}

    const _: () = {
        assert!(size_of::<b::riscv_pmu_event_info>() == 16);
        assert!(size_of::<Option<KBox<b::riscv_pmu_snapshot_data>>>() == size_of::<*mut c_void>());
        // One word of overflow bits holds every counter.
        assert!(b::RISCV_KVM_MAX_COUNTERS == c_ulong::BITS);
    };

    /// The counters one word of `pmc_overflown` holds: all of them.
    // CAST: 64.
    const OVERFLOWN_BITS: usize = c_ulong::BITS as usize;

    /// The PMU's callbacks that C calls: the SBI PMU extension's handler and
    /// probe, and the perf overflow handler of the counters' events. The
    /// logic implements them; the C ABI trampolines here call them.
    pub(crate) trait PmuCallbacks {
        /// The SBI extension's handler: fills `ret`, returns 0 or a
        /// negative errno for `KVM_RUN`.
        fn sbi_handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int;
        /// The SBI extension's probe: 0 when the guest does not have it.
        fn sbi_probe(cx: &mut VcpuCtx<'_>) -> c_ulong;
        /// Counter `idx` of `v` overflowed (interrupt context).
        fn overflow(v: &Vcpu, idx: usize, ev: &OverflowEvent<'_>);
    }

    thread_callbacks! {
        /// The SBI PMU handler, on the run loop; `retdata` is the
        /// dispatch's return record.
        fn sbi_handler<H: PmuCallbacks>(
            cx,
            _run: *mut b::kvm_run,
            retdata: *mut b::kvm_vcpu_sbi_return
        ) -> c_int {
            // SAFETY: the dispatch's record, valid and ours for the call.
            H::sbi_handler(cx, unsafe { &mut *retdata })
        }

        /// The SBI PMU probe (creation).
        fn sbi_probe<H: PmuCallbacks>(cx) -> c_ulong {
            H::sbi_probe(cx)
        }
    }

    /// The SBI extension `ext_id` with `H`'s handler and probe, for the
    /// table of `vcpu_sbi`.
    pub(crate) const fn pmu_sbi_extension<H: PmuCallbacks>(
        ext_id: c_ulong,
    ) -> b::kvm_vcpu_sbi_extension {
        b::kvm_vcpu_sbi_extension {
            extid_start: ext_id,
            extid_end: ext_id,
            handler: Some(sbi_handler::<H>),
            probe: Some(sbi_probe::<H>),
            // SAFETY: all-zero is a valid value of the other fields (no
            // callbacks, zero numbers).
            ..unsafe { core::mem::zeroed() }
        }
    }

    /// # Safety
    /// perf calls it, in interrupt context, for an event that
    /// [`Pmc::create_perf_event`] created.
    unsafe extern "C" fn overflow<H: PmuCallbacks>(
        event: *mut b::perf_event,
        _data: *mut b::perf_sample_data,
        _regs: *mut b::pt_regs,
    ) {
        // SAFETY: per the function's contract.
        let ev = unsafe { OverflowEvent::from_raw(event) };
        // The event's context is its counter, in its live vCPU (which
        // releases its events before it goes); `idx` and `vcpu` were set
        // before the event existed.
        let pmc: *mut b::kvm_pmc = ev.context().cast();
        let idx = read_once!(pmc, idx);
        let vcpu = read_once!(pmc, vcpu);
        // SAFETY: as above.
        let v = unsafe { Vcpu::from_raw(vcpu) };
        H::overflow(v, usize::from(idx), &ev)
    }

    /// The state of the vCPU's PMU that only its thread touches, borrowed
    /// all at once ([`VcpuCtx::pmu`]).
    pub(crate) struct PmuParts<'a> {
        /// Hardware counters (TIME's slot included), then firmware ones.
        pub(crate) num_hw_ctrs: &'a mut c_int,
        pub(crate) num_fw_ctrs: &'a mut c_int,
        pub(crate) init_done: &'a mut bool,
        /// The configured counters (word 0 of `pmc_in_use`: all of them).
        pub(crate) pmc_in_use: &'a mut c_ulong,
        /// The guest address of the snapshot area, `!0` without one.
        pub(crate) snapshot_addr: &'a mut u64,
        /// The snapshot area (`sdata`, null for `None`).
        pub(crate) sdata: &'a mut Option<KBox<b::riscv_pmu_snapshot_data>>,
        /// The counters.
        pub(crate) pmcs: Pmcs<'a>,
    }

    /// The counters (`pmc[]`): one at a time, through [`Pmcs::get`].
    pub(crate) struct Pmcs<'a> {
        pmu: *mut b::kvm_pmu,
        _borrow: PhantomData<&'a mut b::kvm_pmu>,
    }

    impl Pmcs<'_> {
        /// Counter `i`; panics past the last one, as an index does.
        pub(crate) fn get(&mut self, i: usize) -> Pmc<'_> {
            // An array index: bounds-checked.
            // SAFETY: in bounds of the live vCPU's PMU.
            let p = unsafe { addr_of_mut!((*self.pmu).pmc[i]) };
            // SAFETY: fields of the counter that only the vCPU thread
            // touches (the overflow handler reads only `idx` and `vcpu`),
            // borrowed as long as `self` is. `Option<PerfEvent>` is the
            // event pointer (null for `None`): null, or an event KVM created
            // and nothing else owns.
            unsafe {
                Pmc {
                    counter_val: &mut *addr_of_mut!((*p).counter_val),
                    started: &mut *addr_of_mut!((*p).started),
                    event_idx: &mut *addr_of_mut!((*p).event_idx),
                    cinfo: &mut *addr_of_mut!((*p).cinfo.value),
                    perf_event: &mut *addr_of_mut!((*p).perf_event).cast::<Option<PerfEvent>>(),
                    raw: p,
                }
            }
        }
    }

    /// A counter (`struct kvm_pmc`) as the vCPU thread uses it: its perf
    /// event lives and dies in it.
    pub(crate) struct Pmc<'a> {
        /// The value the counter had when last stopped or set.
        pub(crate) counter_val: &'a mut u64,
        /// A hardware counter's event is running.
        pub(crate) started: &'a mut bool,
        /// The SBI event it counts.
        pub(crate) event_idx: &'a mut c_ulong,
        cinfo: &'a mut c_ulong,
        perf_event: &'a mut Option<PerfEvent>,
        raw: *mut b::kvm_pmc,
    }

    impl Pmc<'_> {
        /// The counter info word (`cinfo`).
        pub(crate) fn cinfo(&self) -> CtrInfo {
            CtrInfo::from_raw(xlen_to_u64(*self.cinfo))
        }

        /// Sets the counter info word.
        pub(crate) fn set_cinfo(&mut self, info: CtrInfo) {
            *self.cinfo = u64_to_xlen(info.into_raw());
        }

        /// Sets the counter's index (`WRITE_ONCE()`: the overflow handler
        /// reads it).
        pub(crate) fn set_idx(&mut self, idx: u8) {
            write_once!(self.raw, idx, idx)
        }

        /// Sets the counter's vCPU (`WRITE_ONCE()`: the overflow handler
        /// reads it).
        pub(crate) fn set_vcpu(&mut self, v: &Vcpu) {
            write_once!(self.raw, v.as_ptr(), vcpu)
        }

        /// The counter's perf event, if it has one.
        pub(crate) fn perf_event(&self) -> Option<&PerfEvent> {
            self.perf_event.as_ref()
        }

        /// Disables and releases the counter's perf event, if it has one.
        pub(crate) fn release_perf_event(&mut self) {
            *self.perf_event = None;
        }

        /// Creates the counter's perf event with `attr`, for the current
        /// task, its overflows handled by `H`; it replaces any the counter
        /// had.
        pub(crate) fn create_perf_event<H: PmuCallbacks>(
            &mut self,
            attr: &mut b::perf_event_attr,
        ) -> Result<&PerfEvent> {
            self.release_perf_event();
            // SAFETY: the handler's context is this counter, inside its vCPU,
            // which releases its events (`pmu::deinit`) before it goes; the
            // handler only reads `idx` and `vcpu` of it, with READ_ONCE().
            let event = unsafe { PerfEvent::create(attr, Some(overflow::<H>), self.raw.cast()) }?;
            Ok(self.perf_event.insert(event))
        }
    }

    /// A firmware event's counter (`struct kvm_fw_event`), which other vCPUs
    /// count into too: atomic accesses only.
    pub(crate) struct FwEvent<'a> {
        pub(crate) value: &'a Atomic<u64>,
        pub(crate) started: &'a Atomic<bool>,
    }

    impl VcpuCtx<'_> {
        /// The thread-only state of the vCPU's PMU, borrowed together.
        pub(crate) fn pmu(&mut self) -> PmuParts<'_> {
            let k = field!(self.vcpu(), arch.pmu_context);
            // SAFETY: disjoint fields that only this thread touches (the
            // type's invariant), none of them one that other contexts reach
            // (`pmc_overflown`, `fw_event[]`, a counter's `idx` and `vcpu`);
            // borrowed as long as the context is. `sdata` is null or the
            // `KBox` the logic put there (no C code uses it):
            // `Option<KBox<_>>` is that pointer.
            unsafe {
                PmuParts {
                    num_hw_ctrs: &mut *addr_of_mut!((*k).num_hw_ctrs),
                    num_fw_ctrs: &mut *addr_of_mut!((*k).num_fw_ctrs),
                    init_done: &mut *addr_of_mut!((*k).init_done),
                    pmc_in_use: &mut *addr_of_mut!((*k).pmc_in_use[0]),
                    snapshot_addr: &mut *addr_of_mut!((*k).snapshot_addr),
                    sdata: &mut *addr_of_mut!((*k).sdata)
                        .cast::<Option<KBox<b::riscv_pmu_snapshot_data>>>(),
                    pmcs: Pmcs {
                        pmu: k,
                        _borrow: PhantomData,
                    },
                }
            }
        }
    }

    impl Vcpu {
        /// The counter of firmware event `code`; panics past the last one,
        /// as an index does.
        pub(crate) fn pmu_fw_event(&self, code: usize) -> FwEvent<'_> {
            // An array index: bounds-checked.
            let ev = field!(self, arch.pmu_context.fw_event[code]);
            // SAFETY: the fields are only ever accessed atomically, and live
            // as long as the vCPU.
            unsafe {
                FwEvent {
                    value: Atomic::from_ptr(addr_of_mut!((*ev).value)),
                    started: Atomic::from_ptr(addr_of_mut!((*ev).started)),
                }
            }
        }

        /// `pmc_overflown` (one word: every counter), which the perf
        /// overflow handler sets in interrupt context.
        fn pmc_overflown_word(&self) -> &core::sync::atomic::AtomicU64 {
            let p = field!(self, arch.pmu_context.pmc_overflown[0]).cast::<u64>();
            // SAFETY: an unsigned long (u64 here) of the live vCPU, only ever
            // accessed atomically (C's bit operations included).
            unsafe { super::word(p) }
        }

        /// Whether counter `idx` (below 64) overflowed (`test_bit()`).
        pub(crate) fn pmc_overflown(&self, idx: usize) -> bool {
            idx < OVERFLOWN_BITS && self.pmc_overflown_word().load(CoreRelaxed) & (1 << idx) != 0
        }

        /// Marks counter `idx` (below 64) overflowed (`set_bit()`).
        pub(crate) fn pmc_overflown_set(&self, idx: usize) {
            if idx < OVERFLOWN_BITS {
                self.pmc_overflown_word().fetch_or(1 << idx, CoreRelaxed);
            }
        }

        /// Clears counter `idx`'s overflow (`clear_bit()`).
        pub(crate) fn pmc_overflown_clear(&self, idx: usize) {
            if idx < OVERFLOWN_BITS {
                self.pmc_overflown_word()
                    .fetch_and(!(1 << idx), CoreRelaxed);
            }
        }

        /// Clears every counter's overflow (`bitmap_zero()`).
        pub(crate) fn pmc_overflown_clear_all(&self) {
            self.pmc_overflown_word().store(0, CoreRelaxed)
        }
    }
}

// ---------------------------------------------------------------------------
// Accessors and C calls for aia.rs, main.rs, vcpu_stats.rs

impl Vm {
    /// The VM's in-kernel AIA irqchip is set up
    /// (`kvm_riscv_aia_initialized()`; `aia_device.c` sets it once).
    pub(crate) fn aia_initialized(&self) -> bool {
        read_once!(self.as_ptr(), arch.aia.initialized)
    }
}

/// The vCPU that owns an HGEI line of a CPU (`aia_hgei_control.owners[]`),
/// kept by address: no borrow says how long it lives, but the vCPU's IMSIC
/// frees its lines before the vCPU goes away (`Vcpu::take_imsic`), and the
/// holder drops the value when the line is freed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct HgeiOwner(core::ptr::NonNull<Vcpu>);

// SAFETY: the address of a vCPU, whose shared state (`&Vcpu`) any CPU may
// use.
unsafe impl Send for HgeiOwner {}

impl HgeiOwner {
    /// The owner `v` of a line about to be allocated.
    ///
    /// # Safety
    /// `v` stays live until it frees the line it is given, and the value is
    /// dropped then.
    pub(crate) unsafe fn new(v: &Vcpu) -> Self {
        HgeiOwner(core::ptr::NonNull::from(v))
    }

    /// The owner's handle.
    pub(crate) fn vcpu(&self) -> &Vcpu {
        // SAFETY: the owner is live while it holds its line (`new`'s
        // contract), which it does while this value is kept.
        unsafe { self.0.as_ref() }
    }
}

// ---------------------------------------------------------------------------
// The G-stage MMU (mmu.rs): memslots, `mmu_lock`, the faulting-in of host
// pages.

/// A memslot (`struct kvm_memory_slot`). The fields read here do not change
/// once a memslot is published (a change makes a new one).
#[repr(transparent)]
pub(crate) struct Memslot(Opaque<b::kvm_memory_slot>);

impl Memslot {
    /// The C pointer, for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut b::kvm_memory_slot {
        self.0.get()
    }

    /// The first guest frame.
    pub(crate) fn base_gfn(&self) -> u64 {
        read_once!(self.as_ptr(), base_gfn)
    }

    /// The pages.
    pub(crate) fn npages(&self) -> u64 {
        kernel::num::casts::usize_as_u64(read_once!(self.as_ptr(), npages))
    }

    /// The userspace address of the first page.
    pub(crate) fn userspace_addr(&self) -> u64 {
        kernel::num::casts::usize_as_u64(read_once!(self.as_ptr(), userspace_addr))
    }

    /// `KVM_MEM_*` flags.
    pub(crate) fn flags(&self) -> u32 {
        read_once!(self.as_ptr(), flags)
    }

    /// Brings the host page of guest frame `gfn` in (`__kvm_faultin_pfn()`,
    /// `FOLL_WRITE` if `write`): its PFN (or a `KVM_PFN_ERR_*`), whether it
    /// is writable, and the page reference taken, if any.
    pub(crate) fn faultin_pfn(&self, gfn: u64, write: bool) -> (u64, bool, FaultinPage) {
        let mut writable = false;
        let mut page: *mut b::page = core::ptr::null_mut();
        let foll = if write { b::FOLL_WRITE } else { 0 };
        // SAFETY: a live memslot (the SRCU read lock of the vCPU thread);
        // the outputs are valid for writes.
        let pfn =
            unsafe { b::__kvm_faultin_pfn(self.as_ptr(), gfn, foll, &mut writable, &mut page) };
        (pfn, writable, FaultinPage(NonNull::new(page)))
    }
}

/// A page reference `__kvm_faultin_pfn()` took: released under `mmu_lock`
/// with [`FaultinPage::release`], or as unused when dropped.
pub(crate) struct FaultinPage(Option<NonNull<b::page>>);

impl FaultinPage {
    /// `kvm_release_faultin_page()`: unused, or marked dirty if `dirty`.
    pub(crate) fn release(mut self, locked: &MmuWriteLocked<'_>, unused: bool, dirty: bool) {
        let _ = locked;
        if let Some(p) = self.0.take() {
            // SAFETY: the reference `faultin_pfn` took, given back once,
            // under `mmu_lock` (`locked`) unless unused
            // (`kvm_release_faultin_page()`).
            unsafe {
                if unused {
                    b::kvm_riscv_rs_release_page_unused(p.as_ptr())
                } else if dirty {
                    b::kvm_release_page_dirty(p.as_ptr())
                } else {
                    b::kvm_release_page_clean(p.as_ptr())
                }
            };
        }
    }
}

impl Drop for FaultinPage {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // SAFETY: the reference `faultin_pfn` took, given back once
            // as unused, which needs no lock.
            unsafe { b::kvm_riscv_rs_release_page_unused(p.as_ptr()) };
        }
    }
}

/// A VM whose `mmu_lock` this thread holds for writing: from
/// [`Vm::mmu_write_lock`], or where the generic core holds it.
pub(crate) struct MmuWriteLocked<'a>(&'a Vm);

impl<'a> MmuWriteLocked<'a> {
    /// # Safety
    /// The caller holds `vm`'s `mmu_lock` for writing while the result
    /// lives.
    pub(crate) unsafe fn assume(vm: &'a Vm) -> Self {
        Self(vm)
    }

    /// The VM.
    pub(crate) fn vm(&self) -> &'a Vm {
        self.0
    }

    /// The VM's G-stage tables, with new tables from `cache`; `None` once
    /// they are freed (`kvm_riscv_gstage_init()`).
    pub(crate) fn gstage<'g>(&'g self, cache: Option<PageCache<'g>>) -> Option<GStage<'g>> {
        gstage_of(self.0, cache, true)
    }

    /// `mmu_invalidate_retry()`: an invalidation began or ended since
    /// `seq` was read.
    pub(crate) fn invalidate_retry(&self, seq: c_ulong) -> bool {
        // `mmu_invalidate_retry()`, inline: the fault path asks once a
        // fault. The count of invalidations in progress before the
        // sequence (`smp_rmb()`, pairing with the `smp_wmb()` of
        // `kvm_mmu_invalidate_end()`).
        let vm = self.0.as_ptr();
        let in_progress: kernel::ffi::c_long = read_once!(vm, mmu_invalidate_in_progress);
        if in_progress != 0 {
            return true;
        }
        smp_mb(kernel::sync::barrier::Read);
        let now: c_ulong = read_once!(vm, mmu_invalidate_seq);
        now != seq
    }

    /// Someone waits for `mmu_lock` or the CPU (`need_resched() ||
    /// rwlock_needbreak()`).
    pub(crate) fn needbreak(&self) -> bool {
        self.0.c_mmu_lock_needbreak()
    }

    /// `lockdep_assert_held_write(&kvm->mmu_lock)`.
    pub(crate) fn assert_held(&self) {
        self.0.c_assert_mmu_write_locked()
    }

    /// Takes the VM's G-stage root away, if it has one. The caller must
    /// have unlinked every table below it ([`crate::gstage_logic::free_all`]).
    pub(crate) fn take_pgd(&self) -> Option<crate::pgtable::Root> {
        let pgd: *mut b::pgd_t = read_once!(self.0.as_ptr(), arch.pgd);
        write_once!(self.0.as_ptr(), core::ptr::null_mut(), arch.pgd);
        write_once!(self.0.as_ptr(), 0, arch.pgd_phys);
        write_once!(self.0.as_ptr(), 0, arch.pgd_levels);
        // SAFETY: the root `Vm::set_pgd` gave the VM, taken back once under
        // `mmu_lock` for writing: no walk holds it (walks hold the lock),
        // and none finds it from now on.
        NonNull::new(pgd.cast()).map(|p| unsafe { crate::pgtable::Root::from_raw(p) })
    }
}

/// Methods of [`Vm`] on its `mmu_lock`, private to the guards of this
/// module, which pair them: without `CONFIG_PREEMPT_RT` the functions
/// `write_lock()` and kin call (the config inlines none of them), called
/// on the VM's lock directly; with it, `helpers.c`'s wrappers of the macros.
macro_rules! mmu_lock_calls {
    ($($(#[$m:meta])* fn $name:ident() = $raw:ident, $helper:ident;)*) => {
        impl Vm {$(
            $(#[$m])*
            #[inline]
            fn $name(&self) {
                #[cfg(not(CONFIG_PREEMPT_RT))]
                let lock = field!(self, mmu_lock);
                // SAFETY: the lock of the live VM; the guards pair each
                // lock with its unlock (see the macro).
                unsafe {
                    #[cfg(not(CONFIG_PREEMPT_RT))]
                    b::$raw(lock);
                    #[cfg(CONFIG_PREEMPT_RT)]
                    b::$helper(self.as_ptr());
                }
            }
        )*}
    };
}

mmu_lock_calls! {
    /// `write_lock(&kvm->mmu_lock)`.
    fn c_mmu_write_lock() = _raw_write_lock, kvm_riscv_rs_mmu_write_lock;
    /// `write_unlock(&kvm->mmu_lock)`.
    fn c_mmu_write_unlock() = _raw_write_unlock, kvm_riscv_rs_mmu_write_unlock;
    /// `read_lock(&kvm->mmu_lock)`.
    fn c_mmu_read_lock() = _raw_read_lock, kvm_riscv_rs_mmu_read_lock;
    /// `read_unlock(&kvm->mmu_lock)`.
    fn c_mmu_read_unlock() = _raw_read_unlock, kvm_riscv_rs_mmu_read_unlock;
}

/// The VM's tables, for a holder of `mmu_lock` (`write`: for writing).
fn gstage_of<'g>(vm: &'g Vm, cache: Option<PageCache<'g>>, write: bool) -> Option<GStage<'g>> {
    let pgd: *mut b::pgd_t = read_once!(vm.as_ptr(), arch.pgd);
    let cache = cache.map_or(core::ptr::null_mut(), |c| c.as_ptr());
    let locked = if write {
        vm.as_ptr()
    } else {
        core::ptr::null_mut()
    };
    // SAFETY: the VM's root, alive and serialised under `mmu_lock`, which
    // the caller holds (for writing if `write`) as long as the result
    // lives (it borrows the lock's token); `cache` is borrowed
    // exclusively for as long.
    let mem = unsafe { Tables::new(pgd.cast(), cache, locked) }?;
    // CAST: 3 to 5 levels.
    let levels = vm.pgd_levels() as u32;
    Some(GStage::new(mem, vm, levels, vm.vmid(), false))
}

/// `write_lock(&kvm->mmu_lock)`, released when dropped.
pub(crate) struct MmuWriteGuard<'a> {
    locked: MmuWriteLocked<'a>,
    /// Taken by this guard (else by the caller, who releases it).
    owned: bool,
    _not_send: PhantomData<*mut ()>,
}

impl<'a> core::ops::Deref for MmuWriteGuard<'a> {
    type Target = MmuWriteLocked<'a>;
    fn deref(&self) -> &MmuWriteLocked<'a> {
        &self.locked
    }
}

impl<'a> MmuWriteGuard<'a> {
    /// The `mmu_lock` the caller holds for writing, which it releases.
    ///
    /// # Safety
    /// The caller holds `vm`'s `mmu_lock` for writing while the result
    /// lives, and may have it released and taken again meanwhile
    /// ([`MmuWriteGuard::unlocked`]).
    pub(crate) unsafe fn held_by_caller(vm: &'a Vm) -> Self {
        Self {
            locked: MmuWriteLocked(vm),
            owned: false,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with `mmu_lock` released, then takes it again.
    pub(crate) fn unlocked<R>(&mut self, f: impl FnOnce() -> R) -> R {
        // Held by this guard; nothing borrows the token across (`&mut
        // self`); the guard holds the lock again after `f`.
        let vm = self.locked.0;
        vm.c_mmu_write_unlock();
        let r = f();
        vm.c_mmu_write_lock();
        r
    }
}

impl Drop for MmuWriteGuard<'_> {
    fn drop(&mut self) {
        if self.owned {
            self.locked.0.c_mmu_write_unlock();
        }
    }
}

/// `read_lock(&kvm->mmu_lock)`, released when dropped.
pub(crate) struct MmuReadGuard<'a> {
    vm: &'a Vm,
    _not_send: PhantomData<*mut ()>,
}

impl MmuReadGuard<'_> {
    /// The VM's G-stage tables, read and updated only by compare-exchange
    /// (other holders of the read lock do the same); `None` once freed.
    pub(crate) fn gstage(&self) -> Option<GStage<'_>> {
        gstage_of(self.vm, None, false)
    }

    /// `mmu_invalidate_retry_gfn()`: an invalidation of `gfn` began or
    /// ended since `seq` was read.
    pub(crate) fn invalidate_retry_gfn(&self, seq: c_ulong, gfn: u64) -> bool {
        self.vm.c_mmu_invalidate_retry_gfn(seq, gfn)
    }
}

impl Drop for MmuReadGuard<'_> {
    fn drop(&mut self) {
        self.vm.c_mmu_read_unlock();
    }
}

/// A VM whose `slots_lock` the generic core holds: the split page cache is
/// used only there.
pub(crate) struct SlotsLocked<'a>(&'a Vm);

impl<'a> SlotsLocked<'a> {
    /// # Safety
    /// The caller holds `vm`'s `slots_lock` while the result lives.
    pub(crate) unsafe fn assume(vm: &'a Vm) -> Self {
        Self(vm)
    }

    /// The VM.
    pub(crate) fn vm(&self) -> &'a Vm {
        self.0
    }

    /// The split page cache (`kvm->arch.pgd_split_page_cache`).
    pub(crate) fn split_cache(&mut self) -> PageCache<'_> {
        let p = field!(self.0, arch.pgd_split_page_cache);
        // SAFETY: a field of the live VM, so not null: a cache of zeroed
        // pages (set at creation) that only the holder of `slots_lock`
        // uses, borrowed exclusively from it.
        unsafe { PageCache::from_raw(NonNull::new_unchecked(p)) }
    }

    /// `kvm_flush_remote_tlbs_memslot()`.
    pub(crate) fn flush_remote_tlbs_memslot(&self, slot: &Memslot) {
        // SAFETY: a live VM and memslot, `slots_lock` held.
        unsafe { b::kvm_flush_remote_tlbs_memslot(self.0.as_ptr(), slot.as_ptr()) }
    }
}

/// The size of the host mapping of an address (`get_hva_mapping_size()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostLeaf {
    /// 4 KiB, or nothing mapped.
    Page,
    /// A PMD leaf (2 MiB).
    Pmd,
    /// A PUD leaf (1 GiB).
    Pud,
}

impl Vm {
    /// `write_lock(&kvm->mmu_lock)`.
    pub(crate) fn mmu_write_lock(&self) -> MmuWriteGuard<'_> {
        // The guard unlocks.
        self.c_mmu_write_lock();
        MmuWriteGuard {
            locked: MmuWriteLocked(self),
            owned: true,
            _not_send: PhantomData,
        }
    }

    /// `read_lock(&kvm->mmu_lock)`.
    pub(crate) fn mmu_read_lock(&self) -> MmuReadGuard<'_> {
        // The guard unlocks.
        self.c_mmu_read_lock();
        MmuReadGuard {
            vm: self,
            _not_send: PhantomData,
        }
    }

    /// `kvm->mmu_invalidate_seq`.
    pub(crate) fn mmu_invalidate_seq(&self) -> c_ulong {
        read_once!(self.as_ptr(), mmu_invalidate_seq)
    }

    /// The G-stage root's physical address (`kvm->arch.pgd_phys`).
    pub(crate) fn pgd_phys(&self) -> u64 {
        read_once!(self.as_ptr(), arch.pgd_phys)
    }

    /// The VM has a G-stage root.
    pub(crate) fn has_pgd(&self) -> bool {
        let pgd: *mut b::pgd_t = read_once!(self.as_ptr(), arch.pgd);
        !pgd.is_null()
    }

    /// Gives the new VM its G-stage root, of `levels` levels, and sets its
    /// split cache to zeroed pages (`kvm_riscv_mmu_alloc_pgd()`).
    pub(crate) fn set_pgd(&self, root: crate::pgtable::Root, levels: usize) {
        let (va, pa) = root.into_raw();
        write_once!(self.as_ptr(), va.as_ptr().cast(), arch.pgd);
        write_once!(self.as_ptr(), pa, arch.pgd_phys);
        write_once!(self.as_ptr(), levels, arch.pgd_levels);
        write_once!(
            self.as_ptr(),
            b::__GFP_ZERO,
            arch.pgd_split_page_cache.gfp_zero
        );
    }

    /// `kvm_dirty_log_manual_protect_and_init_set()`.
    pub(crate) fn manual_protect_and_init_set(&self) -> bool {
        let v: u64 = read_once!(self.as_ptr(), manual_dirty_log_protect);
        v & u64::from(b::KVM_DIRTY_LOG_INITIALLY_SET) != 0
    }

    /// `mark_page_dirty_in_slot()`.
    pub(crate) fn mark_page_dirty_in_slot(&self, slot: &Memslot, gfn: u64) {
        // SAFETY: a live VM and memslot.
        unsafe { b::mark_page_dirty_in_slot(self.as_ptr(), slot.as_ptr(), gfn) }
    }

    /// Frees the split page cache at VM teardown (`kvm_mmu_free_memory_cache()`).
    ///
    /// # Safety
    /// Nothing else uses the cache any more: the VM is being destroyed, or
    /// its mm went away.
    pub(crate) unsafe fn free_split_cache(&self) {
        // SAFETY: a live VM; the cache is unused (the caller's contract).
        unsafe {
            b::kvm_mmu_free_memory_cache(addr_of_mut!((*self.as_ptr()).arch.pgd_split_page_cache))
        }
    }

    /// The size of the host mapping of `hva` in the VM's mm
    /// (`get_hva_mapping_size()`): a walk of the host page tables with
    /// interrupts off, so that no table is freed under it, each entry read
    /// once.
    pub(crate) fn host_leaf(&self, hva: u64) -> HostLeaf {
        let mm: *mut b::mm_struct = read_once!(self.as_ptr(), mm);
        // CAST: an address of the 64-bit host.
        let hva = hva as c_ulong;
        let _irqs = crate::irq::disable();
        let mut pgd = b::pgd_t::default();
        let mut p4d = b::p4d_t::default();
        let mut pud = b::pud_t::default();
        let mut pmd = b::pmd_t::default();
        // SAFETY: the VM's mm lives as long as the VM; its tables are not
        // freed while interrupts are off; each step reads the entry the
        // previous one copied out.
        unsafe {
            if b::kvm_riscv_rs_host_pgd(mm, hva, &mut pgd) == 0
                || b::kvm_riscv_rs_host_p4d(&mut pgd, hva, &mut p4d) == 0
            {
                return HostLeaf::Page;
            }
            match b::kvm_riscv_rs_host_pud(&mut p4d, hva, &mut pud) {
                0 => return HostLeaf::Page,
                2 => return HostLeaf::Pud,
                _ => {}
            }
            match b::kvm_riscv_rs_host_pmd(&mut pud, hva, &mut pmd) {
                2 => HostLeaf::Pmd,
                _ => HostLeaf::Page,
            }
        }
    }
}

impl VcpuCtx<'_> {
    /// The vCPU's page cache (`vcpu->arch.mmu_page_cache`), of the vCPU
    /// thread alone.
    pub(crate) fn mmu_page_cache(&mut self) -> PageCache<'_> {
        let p = field!(self.v, arch.mmu_page_cache);
        // SAFETY: a field of the live vCPU, so not null: a cache of zeroed
        // pages (set at creation) that only the vCPU thread uses, borrowed
        // exclusively from its context.
        unsafe { PageCache::from_raw(NonNull::new_unchecked(p)) }
    }
}

// ---------------------------------------------------------------------------
// The emulated APLIC of a VM (aia_aplic.rs).

/// A VM's emulated APLIC (`kvm->arch.aia.aplic_state`): its sources, each
/// under its own interrupt-safe raw lock (KVM_IRQ_LINE, irqfd injection in
/// atomic context and guest MMIO reach them concurrently), `domaincfg` and
/// `genmsi` (plain words upstream, atomics here), and the MMIO device
/// registered on the VM's bus.
pub(crate) struct Aplic {
    /// The device on the MMIO bus (`struct kvm_io_device`), written before
    /// the registration and then read by C only.
    iodev: Opaque<b::kvm_io_device>,
    /// `domaincfg`'s IE bit.
    pub(crate) domaincfg: core::sync::atomic::AtomicU32,
    /// `genmsi`.
    pub(crate) genmsi: core::sync::atomic::AtomicU32,
    /// The sources, source 0 (which does not exist) included.
    pub(crate) irqs: KVec<crate::ffi::IrqRawSpinLock<crate::aia_aplic_logic::Source>>,
    /// 32-bit words of a bit per source.
    pub(crate) nr_words: u32,
}

// SAFETY: the device word is written once before the device is shared and
// only read afterwards (by the MMIO bus); everything else is atomics and
// locks.
unsafe impl Sync for Aplic {}
// SAFETY: as above; nothing in it belongs to a thread.
unsafe impl Send for Aplic {}

impl Aplic {
    /// A new APLIC of `nr_irqs` sources (source 0 included), every source
    /// inactive, whose MMIO accesses `ops` handles.
    pub(crate) fn new(nr_irqs: u32, ops: &'static b::kvm_io_device_ops) -> Result<KBox<Aplic>> {
        let n = usize::try_from(nr_irqs)?;
        let mut irqs = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..n {
            irqs.push(
                crate::ffi::IrqRawSpinLock::new(crate::aia_aplic_logic::Source::default()),
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        irqs.iter().for_each(|l| l.init());
        let a = KBox::new(
            Aplic {
                // `kvm_iodevice_init()`.
                iodev: Opaque::new(b::kvm_io_device {
                    ops: core::ptr::from_ref(ops),
                }),
                domaincfg: core::sync::atomic::AtomicU32::new(0),
                genmsi: core::sync::atomic::AtomicU32::new(0),
                irqs,
                nr_words: nr_irqs.div_ceil(32),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(a)
    }

    /// The sources, source 0 included.
    pub(crate) fn nr_irqs(&self) -> u32 {
        // CAST: at most 1024 sources, from a u32.
        self.irqs.len() as u32
    }
}

use kernel::alloc::flags::GFP_KERNEL_ACCOUNT;

impl Vm {
    /// The VM's APLIC, if the AIA device's init made one.
    pub(crate) fn aplic(&self) -> Option<&Aplic> {
        let p: *mut core::ffi::c_void = read_once!(self.as_ptr(), arch.aia.aplic_state);
        // SAFETY: set by `set_aplic` from a `KBox<Aplic>` and taken back by
        // `take_aplic`, at the AIA device's failed init or at VM
        // destruction, when nobody else uses the VM's APLIC: no MMIO access
        // (the device is unregistered first, which waits for them), no
        // injection (only after a successful init).
        unsafe { p.cast::<Aplic>().as_ref() }
    }

    /// The APLIC's guest physical address (`kvm->arch.aia.aplic_addr`).
    pub(crate) fn aplic_addr(&self) -> u64 {
        read_once!(self.as_ptr(), arch.aia.aplic_addr)
    }

    /// The interrupt sources the AIA device was configured with.
    pub(crate) fn aia_nr_sources(&self) -> u32 {
        read_once!(self.as_ptr(), arch.aia.nr_sources)
    }

    /// The interrupt identities of each IMSIC, identity 0 excluded
    /// (`kvm->arch.aia.nr_ids`).
    pub(crate) fn aia_nr_ids(&self) -> u32 {
        read_once!(self.as_ptr(), arch.aia.nr_ids)
    }

    /// The AIA device's mode (`kvm->arch.aia.mode`, a
    /// `KVM_DEV_RISCV_AIA_MODE_*`).
    pub(crate) fn aia_mode(&self) -> u32 {
        read_once!(self.as_ptr(), arch.aia.mode)
    }

    /// Gives the VM its APLIC and registers its device on the MMIO bus at
    /// the APLIC's address, under `slots_lock`
    /// (`kvm_io_bus_register_dev()`); the APLIC is dropped on failure.
    pub(crate) fn set_aplic(&self, a: KBox<Aplic>) -> Result {
        let iodev = a.iodev.get();
        let p = KBox::into_raw(a);
        write_once!(self.as_ptr(), p.cast(), arch.aia.aplic_state);
        let len = c_int::try_from(b::KVM_DEV_RISCV_APLIC_SIZE)?;
        let addr = self.aplic_addr();
        // SAFETY: a live VM; the device lives in the APLIC, which stays
        // until `take_aplic` unregisters it.
        let rc = self.with_slots_lock(|| unsafe {
            b::kvm_io_bus_register_dev(self.as_ptr(), b::kvm_bus_KVM_MMIO_BUS, addr, len, iodev)
        });
        if rc != 0 {
            write_once!(self.as_ptr(), core::ptr::null_mut(), arch.aia.aplic_state);
            // SAFETY: the box given up above, never registered, and no
            // reference to it is left (nothing finds it any more).
            drop(unsafe { KBox::from_raw(p) });
            return Err(Error::from_errno(rc));
        }
        Ok(())
    }

    /// Unregisters the APLIC's device and takes the APLIC away from the
    /// VM: it drops then (`kvm_riscv_aia_aplic_cleanup()`).
    pub(crate) fn take_aplic(&self) -> Option<KBox<Aplic>> {
        let p: *mut core::ffi::c_void = read_once!(self.as_ptr(), arch.aia.aplic_state);
        let p = NonNull::new(p.cast::<Aplic>())?;
        // SAFETY: the APLIC `set_aplic` gave the VM and registered;
        // unregistering waits for the MMIO accesses under way (SRCU).
        self.with_slots_lock(|| unsafe {
            b::kvm_io_bus_unregister_dev(
                self.as_ptr(),
                b::kvm_bus_KVM_MMIO_BUS,
                (*p.as_ptr()).iodev.get(),
            )
        });
        write_once!(self.as_ptr(), core::ptr::null_mut(), arch.aia.aplic_state);
        // SAFETY: the box `set_aplic` gave up, taken back once: nothing
        // finds it any more (see `aplic`).
        Some(unsafe { KBox::from_raw(p.as_ptr()) })
    }

    /// Runs `f` with `kvm->slots_lock` held.
    fn with_slots_lock<R>(&self, f: impl FnOnce() -> R) -> R {
        self.c_slots_lock();
        let r = f();
        self.c_slots_unlock();
        r
    }
}

vm_calls! {
    /// `mutex_lock(&kvm->slots_lock)`.
    fn c_slots_lock() = b::kvm_riscv_rs_slots_lock;
    /// `mutex_unlock(&kvm->slots_lock)`.
    fn c_slots_unlock() = b::kvm_riscv_rs_slots_unlock;
}

// ---------------------------------------------------------------------------
// The IMSIC of a vCPU (aia_imsic.rs).

/// Where a vCPU's IMSIC registers are while it has a guest interrupt file:
/// the CPU, the HGEI line (1 and up) and the file.
#[derive(Clone, Copy)]
pub(crate) struct VsFile {
    pub(crate) cpu: kernel::cpu::CpuId,
    pub(crate) hgei: u32,
    pub(crate) file: crate::ffi::HgeiFile,
}

/// No guest interrupt file, in [`Imsic`]'s lockless mirror.
const NO_VSFILE: u64 = u64::MAX;

/// A vCPU's in-kernel IMSIC (`vcpu->arch.aia_context.imsic_state`): its
/// size, its guest interrupt file when it has one (`vsfile_lock`), its
/// software file, and the MMIO device of its page, registered on the VM's
/// bus.
///
/// `vsfile` is an interrupt-safe raw lock, where upstream has a `rwlock_t`:
/// MSI injection takes it in atomic context. Put (from the preempt
/// notifier, under the scheduler's raw `rq` lock) and the WFI check read
/// the file's CPU and line from `vsfile_at`, a mirror written under the
/// lock, without taking it (upstream takes its `rwlock_t` there, which
/// lockdep reports as an invalid wait context).
pub(crate) struct Imsic {
    /// The device on the MMIO bus (`struct kvm_io_device`), written before
    /// the registration and then read by C only.
    iodev: Opaque<b::kvm_io_device>,
    /// Interrupt identities, identity 0 included.
    pub(crate) nr_msis: u32,
    /// 64-bit `eip` words of the guest's file and of a hardware file.
    pub(crate) nr_eix: u32,
    pub(crate) nr_hw_eix: u32,
    /// The guest interrupt file in use (`vsfile_lock`).
    pub(crate) vsfile: crate::ffi::IrqRawSpinLock<Option<VsFile>>,
    /// `(cpu << 32) | hgei` of `vsfile`, or [`NO_VSFILE`].
    vsfile_at: AtomicU64,
    /// The software file (`swfile`).
    pub(crate) swfile: crate::aia_imsic_logic::Mrif,
    /// Serialises the software file's `topei` check with the interrupt it
    /// raises or lowers (`swfile_extirq_lock`).
    pub(crate) extirq: crate::ffi::IrqRawSpinLock<()>,
}

// SAFETY: the device word is written once before the device is shared and
// only read afterwards (by the MMIO bus); everything else is atomics and
// locks.
unsafe impl Sync for Imsic {}
// SAFETY: as above; nothing in it belongs to a thread.
unsafe impl Send for Imsic {}

impl Imsic {
    /// A new IMSIC of `nr_msis` identities on a host whose files have
    /// `nr_hw_eix` words, with no guest file, whose MMIO accesses `ops`
    /// handles.
    pub(crate) fn new(
        nr_msis: u32,
        nr_hw_eix: u32,
        ops: &'static b::kvm_io_device_ops,
    ) -> Result<KBox<Imsic>> {
        let i = KBox::new(
            Imsic {
                // `kvm_iodevice_init()`.
                iodev: Opaque::new(b::kvm_io_device {
                    ops: core::ptr::from_ref(ops),
                }),
                nr_msis,
                nr_eix: crate::aia_imsic_logic::nr_eix(nr_msis),
                nr_hw_eix,
                vsfile: crate::ffi::IrqRawSpinLock::new(None),
                vsfile_at: AtomicU64::new(NO_VSFILE),
                swfile: Default::default(),
                extirq: crate::ffi::IrqRawSpinLock::new(()),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        i.vsfile
            .init_class(c"imsic->vsfile_lock", kernel::static_lock_class!());
        i.extirq
            .init_class(c"imsic->swfile_extirq_lock", kernel::static_lock_class!());
        Ok(i)
    }

    /// Sets the guest interrupt file, under `vsfile_lock` (`g` is its guard).
    pub(crate) fn set_vsfile(&self, g: &mut Option<VsFile>, f: Option<VsFile>) {
        *g = f;
        let at = f.map_or(NO_VSFILE, |f| {
            (u64::from(f.cpu.as_u32()) << 32) | u64::from(f.hgei)
        });
        self.vsfile_at.store(at, Relaxed);
    }

    /// The guest interrupt file's CPU and line as last set, read without
    /// `vsfile_lock`.
    pub(crate) fn vsfile_at(&self) -> Option<(u32, u32)> {
        let at = self.vsfile_at.load(Relaxed);
        // CAST: the two halves of the word.
        (at != NO_VSFILE).then_some(((at >> 32) as u32, at as u32))
    }

    /// Takes a free HGEI line of `cpu` for `v`'s guest file: see
    /// [`crate::aia::alloc_hgei`]. `v` must be this IMSIC's vCPU.
    pub(crate) fn alloc_hgei(&self, v: &Vcpu, cpu: c_int) -> (c_int, Option<crate::ffi::HgeiFile>) {
        if !v.imsic().is_some_and(|i| core::ptr::eq(i, self)) {
            return (ENODEV.to_errno(), None);
        }
        // SAFETY: `v` has this IMSIC, and the IMSIC is taken from its vCPU
        // (`Vcpu::take_imsic`, before the vCPU goes away) only after every
        // line `v` owns is freed (`crate::aia::free_lines_of`).
        let owner = unsafe { HgeiOwner::new(v) };
        crate::aia::alloc_hgei(cpu, owner)
    }
}

impl Vcpu {
    /// The vCPU's IMSIC, once the AIA device's init made it.
    pub(crate) fn imsic(&self) -> Option<&Imsic> {
        let p: *mut core::ffi::c_void = read_once!(self.as_ptr(), arch.aia_context.imsic_state);
        // SAFETY: set by `set_imsic` from a `KBox<Imsic>` (after a write
        // barrier: the address dependency orders the reads through it) and
        // taken back by `take_imsic`, at the AIA device's failed init or at
        // vCPU destruction, when nobody uses it any more: its MMIO device is
        // unregistered first (which waits for the accesses under way), and
        // everything else that reaches it checks that the AIA device's init
        // succeeded, which it did not, or runs before the vCPU is destroyed.
        unsafe { p.cast::<Imsic>().as_ref() }
    }

    /// The IMSIC's guest physical address (`imsic_addr`).
    pub(crate) fn imsic_addr(&self) -> u64 {
        read_once!(self.as_ptr(), arch.aia_context.imsic_addr)
    }

    /// Gives the vCPU its IMSIC and registers its device on the MMIO bus at
    /// the IMSIC's address, under `slots_lock`; the IMSIC is dropped on
    /// failure (`kvm_riscv_vcpu_aia_imsic_init()`).
    pub(crate) fn set_imsic(&self, i: KBox<Imsic>) -> Result {
        let iodev = i.iodev.get();
        let p = KBox::into_raw(i);
        smp_mb(Write);
        write_once!(self.as_ptr(), p.cast(), arch.aia_context.imsic_state);
        let len = c_int::try_from(b::KVM_DEV_RISCV_IMSIC_SIZE)?;
        let addr = self.imsic_addr();
        let vm = self.vm();
        // SAFETY: a live VM; the device lives in the IMSIC, which stays
        // until `take_imsic` unregisters it.
        let rc = vm.with_slots_lock(|| unsafe {
            b::kvm_io_bus_register_dev(vm.as_ptr(), b::kvm_bus_KVM_MMIO_BUS, addr, len, iodev)
        });
        if rc != 0 {
            write_once!(
                self.as_ptr(),
                core::ptr::null_mut(),
                arch.aia_context.imsic_state
            );
            // SAFETY: the box given up above, never registered, and no
            // reference to it is left: nothing uses an IMSIC before the AIA
            // device's init succeeds (see `imsic`).
            drop(unsafe { KBox::from_raw(p) });
            return Err(Error::from_errno(rc));
        }
        Ok(())
    }

    /// Unregisters the IMSIC's device, frees any HGEI line the vCPU still
    /// owns, and takes the IMSIC away from the vCPU: it drops then.
    pub(crate) fn take_imsic(&self) -> Option<KBox<Imsic>> {
        let p: *mut core::ffi::c_void = read_once!(self.as_ptr(), arch.aia_context.imsic_state);
        let p = NonNull::new(p.cast::<Imsic>())?;
        let vm = self.vm();
        // SAFETY: the IMSIC `set_imsic` gave the vCPU and registered;
        // unregistering waits for the MMIO accesses under way (SRCU).
        vm.with_slots_lock(|| unsafe {
            b::kvm_io_bus_unregister_dev(
                vm.as_ptr(),
                b::kvm_bus_KVM_MMIO_BUS,
                (*p.as_ptr()).iodev.get(),
            )
        });
        crate::aia::free_lines_of(self);
        write_once!(
            self.as_ptr(),
            core::ptr::null_mut(),
            arch.aia_context.imsic_state
        );
        // SAFETY: the box `set_imsic` gave up, taken back once: nothing
        // finds it any more (see `imsic`).
        Some(unsafe { KBox::from_raw(p.as_ptr()) })
    }

    /// Takes `vcpu->mutex` unless a fatal signal comes first (`EINTR`), for
    /// the guard's life (`mutex_lock_killable()`).
    pub(crate) fn lock_killable(&self) -> Result<VcpuMutexGuard<'_>> {
        if self.c_mutex_lock_killable() != 0 {
            return Err(EINTR);
        }
        Ok(VcpuMutexGuard(self, PhantomData))
    }
}

/// `vcpu->mutex`, held until the guard drops.
pub(crate) struct VcpuMutexGuard<'a>(&'a Vcpu, PhantomData<*mut ()>);

impl Drop for VcpuMutexGuard<'_> {
    fn drop(&mut self) {
        self.0.c_mutex_unlock()
    }
}

impl HgeiOwner {
    /// Whether `v` is the owner.
    pub(crate) fn is(&self, v: &Vcpu) -> bool {
        core::ptr::eq(self.0.as_ptr(), v)
    }
}

// ---------------------------------------------------------------------------
// The AIA device of a VM (aia_device.rs): `kvm->arch.aia`, each vCPU's
// `arch.aia_context`, the locks the device takes.

impl Vm {
    /// Configuration attribute `c` (`kvm->arch.aia.*`).
    pub(crate) fn aia_get(&self, c: crate::aia_device_logic::Config) -> u32 {
        use crate::aia_device_logic::Config::*;
        let p = self.as_ptr();
        match c {
            Mode => read_once!(p, arch.aia.mode),
            Ids => read_once!(p, arch.aia.nr_ids),
            Srcs => read_once!(p, arch.aia.nr_sources),
            GroupBits => read_once!(p, arch.aia.nr_group_bits),
            GroupShift => read_once!(p, arch.aia.nr_group_shift),
            HartBits => read_once!(p, arch.aia.nr_hart_bits),
            GuestBits => read_once!(p, arch.aia.nr_guest_bits),
        }
    }

    /// Sets configuration attribute `c` (under `kvm->lock`, before the
    /// device's init).
    pub(crate) fn aia_set(&self, c: crate::aia_device_logic::Config, v: u32) {
        use crate::aia_device_logic::Config::*;
        let p = self.as_ptr();
        match c {
            Mode => write_once!(p, v, arch.aia.mode),
            Ids => write_once!(p, v, arch.aia.nr_ids),
            Srcs => write_once!(p, v, arch.aia.nr_sources),
            GroupBits => write_once!(p, v, arch.aia.nr_group_bits),
            GroupShift => write_once!(p, v, arch.aia.nr_group_shift),
            HartBits => write_once!(p, v, arch.aia.nr_hart_bits),
            GuestBits => write_once!(p, v, arch.aia.nr_guest_bits),
        }
    }

    /// vCPUs created so far (`kvm->created_vcpus`; `kvm->lock` held).
    pub(crate) fn created_vcpus(&self) -> u32 {
        let n: c_int = read_once!(self.as_ptr(), created_vcpus);
        u32::try_from(n).unwrap_or(0)
    }

    /// Sets the APLIC's address (under `kvm->lock`, before the init).
    pub(crate) fn set_aplic_addr(&self, a: u64) {
        write_once!(self.as_ptr(), a, arch.aia.aplic_addr)
    }

    /// The in-kernel irqchip exists from now on (`aia_create()`).
    pub(crate) fn set_irqchip_in_kernel(&self) {
        write_once!(self.as_ptr(), true, arch.aia.in_kernel)
    }

    /// The in-kernel irqchip is initialised from now on: after a write
    /// barrier, so that what the init set up is seen first.
    pub(crate) fn set_aia_initialized(&self) {
        smp_mb(Write);
        write_once!(self.as_ptr(), true, arch.aia.initialized)
    }

    /// Runs `f` with `kvm->lock` held.
    pub(crate) fn with_kvm_lock<R>(&self, f: impl FnOnce() -> R) -> R {
        self.c_kvm_lock();
        let r = f();
        self.c_kvm_unlock();
        r
    }

    /// Takes every vCPU's mutex, if none is held (`kvm_trylock_all_vcpus()`),
    /// until the guard drops; `kvm->lock` is held (the caller's).
    pub(crate) fn trylock_all_vcpus(&self) -> Option<AllVcpusLocked<'_>> {
        (self.c_trylock_all_vcpus() == 0).then_some(AllVcpusLocked(self, PhantomData))
    }
}

vm_calls! {
    /// `mutex_lock(&kvm->lock)`.
    fn c_kvm_lock() = b::kvm_riscv_rs_kvm_lock;
    /// `mutex_unlock(&kvm->lock)`, taken by this thread.
    fn c_kvm_unlock() = b::kvm_riscv_rs_kvm_unlock;
    /// `kvm_trylock_all_vcpus()`: 0 if it took them all.
    fn c_trylock_all_vcpus() -> c_int = b::kvm_trylock_all_vcpus;
    /// `kvm_unlock_all_vcpus()`, taken by this thread.
    fn c_unlock_all_vcpus() = b::kvm_unlock_all_vcpus;
}

/// Every vCPU mutex of a VM, held until the guard drops.
pub(crate) struct AllVcpusLocked<'a>(&'a Vm, PhantomData<*mut ()>);

impl Drop for AllVcpusLocked<'_> {
    fn drop(&mut self) {
        self.0.c_unlock_all_vcpus()
    }
}

impl Vcpu {
    /// Sets the IMSIC's guest physical address (under `vcpu->mutex`, or
    /// at creation).
    pub(crate) fn set_imsic_addr(&self, a: u64) {
        write_once!(self.as_ptr(), a, arch.aia_context.imsic_addr)
    }

    /// The hart index of the vCPU's IMSIC.
    pub(crate) fn hart_index(&self) -> u32 {
        read_once!(self.as_ptr(), arch.aia_context.hart_index)
    }

    /// Sets the hart index (at creation, and at the AIA device's init).
    pub(crate) fn set_hart_index(&self, h: u32) {
        write_once!(self.as_ptr(), h, arch.aia_context.hart_index)
    }

    /// Runs `f` with `vcpu->mutex` held (`mutex_lock()`).
    pub(crate) fn with_mutex<R>(&self, f: impl FnOnce() -> R) -> R {
        self.c_mutex_lock();
        let r = f();
        self.c_mutex_unlock();
        r
    }
}

vcpu_calls! {
    /// `mutex_lock(&vcpu->mutex)`.
    fn c_mutex_lock() = b::kvm_riscv_rs_vcpu_mutex_lock;
    /// `mutex_lock_killable(&vcpu->mutex)`: 0 if it took it.
    fn c_mutex_lock_killable() -> c_int = b::kvm_riscv_rs_vcpu_mutex_lock_killable;
    /// `mutex_unlock(&vcpu->mutex)`, taken by this thread.
    fn c_mutex_unlock() = b::kvm_riscv_rs_vcpu_mutex_unlock;
}

// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers of kernel facilities the logic uses that the kernel
//! crate does not offer: preemption, the guest-state and guest-timing
//! context tracking, the entry-work check, tracepoints, and the current
//! task's vector-state flags. A boundary module: each wrapper is one call.
//!
//! Wrappers with the same safety contract are written by the macros below,
//! which state that contract once; a family member's documentation says
//! what the C side does.

use crate::bindings as b;
use crate::irq::IrqsOff;
use core::marker::PhantomData;
use kernel::num::casts::FromSafeCast;

// The vector buffers' allocation.
#[cfg(CONFIG_RISCV_ISA_V)]
use kernel::error::{code::ENOMEM, Result};

/// Safe functions that call a C function with no precondition: it accepts
/// any value of each argument, and its pointer arguments are references
/// here, valid for the call and not kept after it. Only the names of C
/// functions with that contract may be given. (The `__init` ones are placed
/// in `.ref.text` by their attributes: only module init calls them.)
macro_rules! plain_calls {
    ($($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {$(
        $(#[$m])*
        $vis fn $name($($a: $t),*) $(-> $ret)? {
            // SAFETY: `$cfn` has no precondition (see the macro); the
            // references are valid for the call.
            unsafe { $cfn($($a),*) }
        }
    )*};
}

/// Safe readers of kernel variables that are written only at boot or by
/// this module's init, before any reader here, and never afterwards
/// (`__ro_after_init` or set once): `$var` names such a variable of the
/// bindings, read by value.
macro_rules! boot_vars {
    ($($(#[$m:meta])* $vis:vis fn $name:ident() -> $ty:ty = $var:ident;)*) => {$(
        $(#[$m])*
        $vis fn $name() -> $ty {
            // SAFETY: a plain read of a variable that nothing writes any
            // more (see the macro).
            unsafe { crate::bindings::$var }
        }
    )*};
}

/// Safe functions, taking the [`IrqsOff`] token, that call a C function
/// whose only precondition is interrupts off.
macro_rules! irqs_off_calls {
    ($($(#[$m:meta])* fn $name:ident() $(-> $ret:ty)? = $cfn:path;)*) => {$(
        $(#[$m])*
        #[inline(always)]
        pub(crate) fn $name(_irqs: &IrqsOff) $(-> $ret)? {
            // SAFETY: interrupts are off (the token), the function's only
            // precondition.
            unsafe { $cfn() }
        }
    )*};
}

/// Preemption is off for as long as the guard lives (`preempt_disable()`,
/// `preempt_enable()` at drop).
pub(crate) struct PreemptOff(PhantomData<*mut ()>);

plain_calls! {
    /// `kvm_is_error_hva()`: `hva` is an error value, not an address.
    pub(crate) fn is_error_hva(hva: usize) -> bool = b::kvm_riscv_rs_is_error_hva;
    /// `preempt_disable()`, for [`preempt_disable`].
    #[inline(always)]
    fn c_preempt_disable() = b::kvm_riscv_rs_preempt_disable;
    /// `misaligned_traps_can_delegate()`: the firmware lets the kernel
    /// delegate misaligned load and store exceptions.
    pub(crate) fn misaligned_traps_can_delegate() -> bool =
        b::kvm_riscv_rs_misaligned_traps_can_delegate;
    /// The `kvm_riscv_vcpu_irq` tracepoint, for [`trace_vcpu_irq`].
    fn c_trace_vcpu_irq(id: usize, irq: u32, level: u32) = b::kvm_riscv_rs_trace_kvm_vcpu_irq;
    /// `cond_resched()`: lets other tasks run if this one should yield.
    pub(crate) fn cond_resched() = b::kvm_riscv_rs_cond_resched;
    /// `send_sig_mceerr(BUS_MCEERR_AR, addr, lsb, current)`: the address
    /// is a value, not dereferenced.
    fn c_send_sig_mceerr_ar(addr: usize, lsb: i16) = b::kvm_riscv_rs_send_sig_mceerr_ar;
}

/// Disables preemption until the guard drops.
#[inline(always)]
pub(crate) fn preempt_disable() -> PreemptOff {
    c_preempt_disable();
    PreemptOff(PhantomData)
}

impl Drop for PreemptOff {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: pairs the disable that made the guard.
        unsafe { b::kvm_riscv_rs_preempt_enable() };
    }
}

irqs_off_calls! {
    /// `guest_state_enter_irqoff()`: context tracking enters the guest.
    fn guest_state_enter() = b::kvm_riscv_rs_guest_state_enter_irqoff;
    /// `guest_state_exit_irqoff()`.
    fn guest_state_exit() = b::kvm_riscv_rs_guest_state_exit_irqoff;
    /// `guest_timing_enter_irqoff()`: time from here counts as guest time.
    fn guest_timing_enter() = b::kvm_riscv_rs_guest_timing_enter_irqoff;
    /// `guest_timing_exit_irqoff()`.
    fn guest_timing_exit() = b::kvm_riscv_rs_guest_timing_exit_irqoff;
    /// `xfer_to_guest_mode_work_pending()`: reads the current task's flags.
    fn guest_mode_work_pending() -> bool = b::kvm_riscv_rs_xfer_to_guest_mode_work_pending;
}

/// The `kvm_riscv_vcpu_irq` trace event.
pub(crate) fn trace_vcpu_irq(vcpu_id: u32, irq: u32, level: bool) {
    c_trace_vcpu_irq(usize::from_safe_cast(vcpu_id), irq, level.into());
}

plain_calls! {
    /// The `kvm_exit` tracepoint, for [`trace_exit`]; it only reads the trap.
    #[cfg(CONFIG_TRACEPOINTS)]
    fn c_trace_exit(trap: &b::kvm_cpu_trap) = b::kvm_riscv_rs_trace_kvm_exit;
}

/// The `kvm_exit` trace event (nothing without `CONFIG_TRACEPOINTS`).
#[inline(always)]
pub(crate) fn trace_exit(_trap: &b::kvm_cpu_trap) {
    #[cfg(CONFIG_TRACEPOINTS)]
    c_trace_exit(_trap);
}

/// Rewrites the current task's vector flags (`riscv_v_flags()`) to
/// `f(flags)` when that is `Some`, and says whether it did. (Only
/// `CONFIG_RISCV_ISA_V` kernels have the flags.)
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline(always)]
fn rewrite_v_flags(f: impl FnOnce(u32) -> Option<u32>) -> bool {
    // SAFETY: the helper has no precondition and returns null (without
    // CONFIG_RISCV_ISA_V) or the current task's flags, a word that lives as
    // long as the task and that only the task itself changes; they are read
    // and written through the pointer, no reference is made.
    unsafe {
        let p = b::kvm_riscv_rs_current_v_flags();
        if p.is_null() {
            return false;
        }
        let Some(v) = f(p.read_volatile()) else {
            return false;
        };
        p.write_volatile(v);
        true
    }
}

/// If the current task's vector state waits to be restored into the vCPU
/// context (`RISCV_V_VCPU_NEED_RESTORE`), marks it restored
/// (`RISCV_V_VCPU_CTX`) and says so.
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline(always)]
pub(crate) fn take_vector_restore(_irqs: &IrqsOff) -> bool {
    let need = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;
    let ctx = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX;
    // Interrupts are off: nothing on this CPU changes the flags between the
    // read and the write.
    rewrite_v_flags(|flags| (flags & need != 0).then_some((flags & !need) | ctx))
}

/// Safe queries of the host's ISA: the C function, given a null bitmap,
/// reads the host's (set at boot); it accepts any extension id (one it does
/// not know is absent).
macro_rules! host_isa_queries {
    ($($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) -> $ret:ty = $cfn:path;)*) => {$(
        $(#[$m])*
        pub(crate) fn $name($($a: $t),*) -> $ret {
            // SAFETY: a null bitmap asks about the host's ISA (see the
            // macro).
            unsafe { $cfn(core::ptr::null() $(, $a)*) }
        }
    )*};
}

host_isa_queries! {
    /// `riscv_isa_extension_available(NULL, ext)`: does every CPU have `ext`?
    fn host_isa_has(ext: u32) -> bool = b::__riscv_isa_extension_available;
}

// ---------------------------------------------------------------------------
// FP and vector registers: the copy routines of `vcpu_switch.S` and the
// kernel's vector interfaces.

/// Safe copies between the FP registers and `cntx`: `$cfn` is a routine of
/// `vcpu_switch.S` that stores f0-f31 and fcsr into the F or D state of the
/// context or loads them from it, and touches no other memory; it turns
/// SSTATUS.FS on only for the copy.
macro_rules! fp_copies {
    ($($(#[$m:meta])* fn $name:ident = $cfn:path;)*) => {$(
        $(#[$m])*
        pub(crate) fn $name(cntx: &mut b::kvm_cpu_context) {
            // SAFETY: the routine copies between the FP registers and the F
            // or D state of `cntx` (see the macro), which we hold uniquely.
            unsafe { $cfn(cntx) }
        }
    )*};
}

// The routines exist only with CONFIG_FPU (vcpu_switch.S, asm/kvm_vcpu_fp.h).
fp_copies! {
    /// Stores f0-f31 (32-bit) and fcsr into `cntx` (`__kvm_riscv_fp_f_save`).
    #[cfg(CONFIG_FPU)]
    fn fp_f_save = b::__kvm_riscv_fp_f_save;
    /// Stores f0-f31 (64-bit) and fcsr into `cntx` (`__kvm_riscv_fp_d_save`).
    #[cfg(CONFIG_FPU)]
    fn fp_d_save = b::__kvm_riscv_fp_d_save;
    /// Loads f0-f31 (32-bit) and fcsr from `cntx`.
    #[cfg(CONFIG_FPU)]
    fn fp_f_restore = b::__kvm_riscv_fp_f_restore;
    /// Loads f0-f31 (64-bit) and fcsr from `cntx`.
    #[cfg(CONFIG_FPU)]
    fn fp_d_restore = b::__kvm_riscv_fp_d_restore;
}

boot_vars! {
    /// The size of a whole vector register file (`riscv_v_vsize`).
    #[cfg(CONFIG_RISCV_ISA_V)]
    pub(crate) fn riscv_v_vsize() -> usize = riscv_v_vsize;
}

/// Changes the current task's vector flags (`riscv_v_flags_set(f(riscv_v_flags()))`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn update_v_flags(f: impl FnOnce(u32) -> u32) {
    // With CONFIG_RISCV_ISA_V there are always flags: `f` always runs.
    rewrite_v_flags(|flags| Some(f(flags)));
}

plain_calls! {
    /// `get_cpu_vector_context()`: claims the CPU's vector context for the
    /// kernel (softirqs or preemption off), until `put_cpu_vector_context()`.
    #[cfg(CONFIG_RISCV_ISA_V)]
    #[inline(always)]
    fn get_cpu_vector_context() = b::get_cpu_vector_context;
}

/// Runs `f` with the CPU's vector context claimed for the kernel
/// (`get_cpu_vector_context()` ... `put_cpu_vector_context()`).
#[cfg(CONFIG_RISCV_ISA_V)]
#[inline]
pub(crate) fn with_cpu_vector_context<R>(f: impl FnOnce() -> R) -> R {
    get_cpu_vector_context();
    let r = f();
    // SAFETY: pairs the claim above.
    unsafe { b::put_cpu_vector_context() };
    r
}

/// A vector register buffer of `riscv_v_vsize` bytes, as a context's
/// `vector.datap` holds it.
///
/// The `datap` of a vCPU context is written only by [`vector_buffer_alloc`]
/// and [`vector_buffer_free`] (a context reset keeps it): it is null or a
/// live buffer of that size.
#[cfg(CONFIG_RISCV_ISA_V)]
fn vector_buffer_layout() -> Option<core::alloc::Layout> {
    core::alloc::Layout::array::<u8>(riscv_v_vsize()).ok()
}

/// Gives `datap` a zeroed buffer, accounted to the VM's owner
/// (`kzalloc(riscv_v_vsize, GFP_KERNEL_ACCOUNT)`).
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_alloc(datap: &mut *mut kernel::ffi::c_void) -> Result {
    use kernel::alloc::{allocator::Kmalloc, flags, Allocator, NumaNode};
    let layout = vector_buffer_layout().ok_or(ENOMEM)?;
    let fl = flags::GFP_KERNEL_ACCOUNT | flags::__GFP_ZERO;
    let p = Kmalloc::alloc(layout, fl, NumaNode::NO_NODE).map_err(|_| ENOMEM)?;
    *datap = p.as_ptr().cast();
    Ok(())
}

/// Frees the buffer of `datap` (null: nothing) and leaves null in its place.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_free(datap: &mut *mut kernel::ffi::c_void) {
    use kernel::alloc::{allocator::Kmalloc, Allocator};
    let p = core::mem::replace(datap, core::ptr::null_mut());
    let (Some(p), Some(layout)) = (
        core::ptr::NonNull::new(p.cast::<u8>()),
        vector_buffer_layout(),
    ) else {
        return;
    };
    // SAFETY: `p` came from `vector_buffer_alloc()` with this layout
    // (`riscv_v_vsize` does not change after boot), and its only reference,
    // `datap`, is now null.
    unsafe { Kmalloc::free(p, layout) };
}

/// Zeroes the register buffer of `cntx`, if it has one.
#[cfg(CONFIG_RISCV_ISA_V)]
pub(crate) fn vector_buffer_zero(cntx: &mut b::kvm_cpu_context) {
    let Some(len) = (!cntx.vector.datap.is_null()).then(riscv_v_vsize) else {
        return;
    };
    // SAFETY: a non-null `datap` is the context's buffer of `riscv_v_vsize`
    // bytes (see `vector_buffer_layout`), referenced only through `cntx`,
    // which we hold uniquely.
    let regs = unsafe { core::slice::from_raw_parts_mut(cntx.vector.datap.cast::<u8>(), len) };
    regs.fill(0);
}

/// Safe copies between the vector registers and `cntx`, nothing without a
/// buffer: `$cfn` stores the vector CSRs into `cntx.vector` and the
/// registers into its buffer `datap`, or loads them from there, and
/// touches no other memory.
macro_rules! vector_copies {
    ($($(#[$m:meta])* fn $name:ident = $cfn:path;)*) => {$(
        $(#[$m])*
        pub(crate) fn $name(cntx: &mut b::kvm_cpu_context) {
            if !cntx.vector.datap.is_null() {
                // SAFETY: the routine copies between the vector registers
                // and `cntx.vector` with its non-null buffer, of
                // `riscv_v_vsize` bytes (see `vector_buffer_layout`); `cntx`
                // is ours alone.
                unsafe { $cfn(cntx) };
            }
        }
    )*};
}

vector_copies! {
    /// Stores the vector registers and CSRs into `cntx` (`__kvm_riscv_vector_save`);
    /// nothing without a buffer.
    #[cfg(CONFIG_RISCV_ISA_V)]
    fn vector_save = b::kvm_riscv_rs_vector_save;
    /// Loads the vector registers and CSRs from `cntx`; nothing without a
    /// buffer.
    #[cfg(CONFIG_RISCV_ISA_V)]
    #[inline(always)]
    fn vector_restore = b::kvm_riscv_rs_vector_restore;
}

/// `OPTIMIZER_HIDE_VAR()`: `v`, about which the compiler may no longer
/// assume anything (for `array_index_nospec`).
#[inline(always)]
pub(crate) fn hide_var(v: usize) -> usize {
    let mut v = v;
    // SAFETY: an empty asm statement: no instruction runs.
    unsafe {
        core::arch::asm!("/* {0} */", inout(reg) v, options(pure, nomem, nostack, preserves_flags))
    };
    v
}
// The host's ISA and memory parameters that ONE_REG reports.

host_isa_queries! {
    /// `riscv_isa_extension_base(NULL)`: the host's single-letter extensions.
    fn host_isa_base() -> usize = b::riscv_isa_extension_base;
}

boot_vars! {
    /// `satp_mode`, for [`satp_mode`].
    fn satp_mode_var() -> u64 = satp_mode;
    /// `riscv_cbom_block_size`, for [`cbo_block_sizes`].
    fn cbom_block_size() -> u32 = riscv_cbom_block_size;
    /// `riscv_cboz_block_size`, for [`cbo_block_sizes`].
    fn cboz_block_size() -> u32 = riscv_cboz_block_size;
    /// `riscv_cbop_block_size`, for [`cbo_block_sizes`].
    fn cbop_block_size() -> u32 = riscv_cbop_block_size;
}

/// The paging mode of the host and its guests (`satp_mode >>
/// SATP_MODE_SHIFT`).
pub(crate) fn satp_mode() -> usize {
    let mode = satp_mode_var() >> b::SATP_MODE_SHIFT;
    // CAST: the 4-bit MODE field.
    mode as usize
}

/// `riscv_cbom_block_size`, `riscv_cboz_block_size`, `riscv_cbop_block_size`:
/// the host's cache block sizes (0 when unknown).
pub(crate) fn cbo_block_sizes() -> [usize; 3] {
    [cbom_block_size(), cboz_block_size(), cbop_block_size()].map(usize::from_safe_cast)
}

/// The bytes of a vector register (`riscv_v_vsize / 32`; 0 without vector
/// support, where C's `riscv_v_vsize` is 0).
pub(crate) fn vlenb() -> usize {
    #[cfg(CONFIG_RISCV_ISA_V)]
    let vsize = riscv_v_vsize();
    #[cfg(not(CONFIG_RISCV_ISA_V))]
    let vsize = 0;
    vsize / 32
}

plain_calls! {
    /// `riscv_v_vstate_ctrl_user_allowed()`: may user space use the vector
    /// state (and so a guest)?
    #[cfg(CONFIG_RISCV_ISA_V)]
    pub(crate) fn vector_user_allowed() -> bool = b::riscv_v_vstate_ctrl_user_allowed;
}

/// Without vector support: never.
#[cfg(not(CONFIG_RISCV_ISA_V))]
pub(crate) fn vector_user_allowed() -> bool {
    false
}
// aia.rs, main.rs: the HGEI lock, the SGEI interrupt, IMSIC
// configuration, device ops, CPU PM notifier, KVM registration, init probes.

pub(crate) use aia_ffi::*;

mod aia_ffi {
    use crate::bindings as b;
    use crate::percpu::PerCpu;
    use core::cell::UnsafeCell;
    use core::ffi::c_void;
    use core::marker::PhantomData;
    use core::ops::{Deref, DerefMut};
    use kernel::cpu::CpuId;
    use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
    use kernel::num::casts::FromSafeCast;
    use kernel::sync::atomic::{Acquire, Atomic, Release};
    use kernel::types::Opaque;

    const LOCK_UNINIT: i32 = 0;
    const LOCK_INITIALISING: i32 = 1;
    const LOCK_READY: i32 = 2;

    /// A `raw_spinlock_t` and the data it guards, taken with interrupts off
    /// (`raw_spin_lock_irqsave()`): usable from a hard-IRQ handler, and
    /// const-constructible for a (per-CPU) static.
    ///
    /// The C lock is initialised once, by [`IrqRawSpinLock::init`] or by the
    /// first [`IrqRawSpinLock::lock`], at the one init site
    /// `kvm_riscv_rs_raw_spin_lock_init()`: every such lock is in that site's
    /// lockdep class (the vCPU locks have their own).
    pub(crate) struct IrqRawSpinLock<T> {
        state: Atomic<i32>,
        lock: Opaque<b::raw_spinlock>,
        data: UnsafeCell<T>,
    }

    // SAFETY: the data is only reached through a guard, which holds the lock;
    // the lock itself is made for sharing between CPUs.
    unsafe impl<T: Send> Sync for IrqRawSpinLock<T> {}

    impl<T> IrqRawSpinLock<T> {
        /// A lock around `v`, its C lock not yet initialised.
        pub(crate) const fn new(v: T) -> Self {
            Self {
                state: Atomic::new(LOCK_UNINIT),
                lock: Opaque::zeroed(),
                data: UnsafeCell::new(v),
            }
        }

        /// Initialises the C lock in lockdep class `key` named `name`,
        /// before anyone else may use the lock (its owner does it once, where
        /// the lock will stay); [`IrqRawSpinLock::init`] then does nothing.
        pub(crate) fn init_class(
            &self,
            name: &'static kernel::str::CStr,
            key: core::pin::Pin<&'static kernel::sync::LockClassKey>,
        ) {
            if self
                .state
                .cmpxchg(LOCK_UNINIT, LOCK_INITIALISING, Acquire)
                .is_ok()
            {
                // SAFETY: only the caller that won the race initialises the
                // lock, and nobody takes it before `state` is READY; the
                // name and the key are static.
                unsafe {
                    b::kvm_riscv_rs_raw_spin_lock_init_key(
                        self.lock.get(),
                        kernel::str::CStrExt::as_char_ptr(name).cast(),
                        key.as_ptr().cast(),
                    )
                };
                self.state.store(LOCK_READY, Release);
            }
        }

        /// Initialises the C lock, once (later calls do nothing).
        pub(crate) fn init(&self) {
            if self.state.load(Acquire) != LOCK_READY {
                self.init_slow();
            }
        }

        #[cold]
        fn init_slow(&self) {
            match self.state.cmpxchg(LOCK_UNINIT, LOCK_INITIALISING, Acquire) {
                Ok(_) => {
                    // SAFETY: nobody takes the lock before `state` is READY,
                    // and only this caller won the race to initialise it.
                    unsafe { b::kvm_riscv_rs_raw_spin_lock_init(self.lock.get()) };
                    self.state.store(LOCK_READY, Release);
                }
                Err(_) => {
                    while self.state.load(Acquire) != LOCK_READY {
                        kernel::processor::cpu_relax();
                    }
                }
            }
        }

        /// Takes the lock, interrupts off until the guard drops.
        #[inline]
        pub(crate) fn lock(&self) -> IrqRawSpinLockGuard<'_, T> {
            self.init();
            // SAFETY: the lock is initialised (above).
            let flags = unsafe { b::_raw_spin_lock_irqsave(self.lock.get()) };
            IrqRawSpinLockGuard {
                lock: self,
                flags,
                _not_send: PhantomData,
            }
        }
    }

    /// The data of an [`IrqRawSpinLock`], while it is held.
    pub(crate) struct IrqRawSpinLockGuard<'a, T> {
        lock: &'a IrqRawSpinLock<T>,
        flags: c_ulong,
        /// Released on the CPU that took it.
        _not_send: PhantomData<*mut ()>,
    }

    impl<T> Deref for IrqRawSpinLockGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard holds the lock, which serialises the data.
            unsafe { &*self.lock.data.get() }
        }
    }

    impl<T> DerefMut for IrqRawSpinLockGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and the guard is borrowed mutably.
            unsafe { &mut *self.lock.data.get() }
        }
    }

    impl<T> Drop for IrqRawSpinLockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: releases the lock the guard took, with its flags.
            unsafe { b::_raw_spin_unlock_irqrestore(self.lock.lock.get(), self.flags) };
        }
    }

    // --- the SGEI interrupt ---------------------------------------------

    plain_calls! {
        /// Maps the per-CPU SGEI interrupt of the INTC domain
        /// (`irq_create_mapping()`): the IRQ, 0 if it cannot be mapped, or
        /// `u32::MAX` without an INTC domain.
        pub(crate) fn map_sgei_irq() -> u32 = b::kvm_riscv_rs_map_sgei_irq;
        /// `enable_percpu_irq(irq, irq_get_trigger_type(irq))` on this CPU
        /// (an interrupt that is not per-CPU: nothing).
        pub(crate) fn enable_percpu_irq(irq: u32) = b::kvm_riscv_rs_enable_percpu_irq;
        /// `disable_percpu_irq()` on this CPU (an interrupt that is not
        /// per-CPU: nothing).
        pub(crate) fn disable_percpu_irq(irq: u32) = b::disable_percpu_irq;
    }

    /// The per-CPU "pointer" of a per-CPU variable: its address in the
    /// `.data..percpu` template.
    fn percpu_cookie<T>(dev: &'static PerCpu<T>) -> *mut c_void {
        core::ptr::from_ref(dev).cast_mut().cast()
    }

    /// Safe requests and frees of a per-CPU interrupt whose cookie is a
    /// per-CPU variable of the module, `dev`: the interrupt core checks
    /// `irq`, and on a free that the interrupt was requested with this
    /// cookie (a WARN otherwise).
    macro_rules! percpu_irq_calls {
        ($($(#[$m:meta])* fn $name:ident $(-> $ret:ty)? = $cfn:path;)*) => {$(
            $(#[$m])*
            pub(crate) fn $name<T>(irq: u32, dev: &'static PerCpu<T>) $(-> $ret)? {
                // SAFETY: `dev` is a per-CPU variable of the module, a valid
                // cookie that outlives the interrupt (freed at exit); the
                // handler does not use it; the core checks the rest (see the
                // macro).
                unsafe { $cfn(irq, percpu_cookie(dev)) }
            }
        )*};
    }

    percpu_irq_calls! {
        /// `request_percpu_irq(irq, <trampoline of kvm_riscv_aia_hgei_handler>,
        /// "riscv-kvm", dev)`: 0 or a negative errno.
        fn request_sgei_irq -> c_int = b::kvm_riscv_rs_request_sgei_irq;
        /// `free_percpu_irq()` of an interrupt [`request_sgei_irq`] requested.
        fn free_percpu_irq = b::free_percpu_irq;
    }

    // --- the IMSIC ------------------------------------------------------

    /// The IMSIC's global configuration: (guest files, guest ids), if there
    /// is an IMSIC.
    pub(crate) fn imsic_global() -> Option<(u32, u32)> {
        let (mut files, mut ids) = (0u32, 0u32);
        let gc = c_imsic_global(&mut files, &mut ids);
        gc.then_some((files, ids))
    }

    plain_calls! {
        /// `kvm_riscv_rs_imsic_global()`, for [`imsic_global`]: writes the
        /// outputs only when there is an IMSIC.
        fn c_imsic_global(files: &mut u32, ids: &mut u32) -> bool = b::kvm_riscv_rs_imsic_global;
    }

    /// The IMSIC of one CPU.
    #[derive(Clone, Copy)]
    pub(crate) struct ImsicLocal {
        pub(crate) nr_guest_files: u32,
        pub(crate) msi_pa: b::phys_addr_t,
        /// The `__iomem` mapping of the interrupt files (never dereferenced
        /// here).
        pub(crate) msi_va: *mut c_void,
    }

    /// The IMSIC configuration of `cpu`, if there is an IMSIC.
    pub(crate) fn imsic_local(cpu: CpuId) -> Option<ImsicLocal> {
        let mut l = ImsicLocal {
            nr_guest_files: 0,
            msi_pa: 0,
            msi_va: core::ptr::null_mut(),
        };
        // CAST: CPU ids are below nr_cpu_ids, which fits in an int.
        let c = cpu.as_u32() as c_int;
        // SAFETY: a valid CPU; the pointers are valid for the writes.
        let ok = unsafe {
            b::kvm_riscv_rs_imsic_local(c, &mut l.nr_guest_files, &mut l.msi_pa, &mut l.msi_va)
        };
        ok.then_some(l)
    }

    /// A guest interrupt file of a CPU's IMSIC: its page in the IMSIC
    /// driver's `__iomem` mapping of the CPU's interrupt files (made at boot,
    /// never unmapped) and its physical address.
    #[derive(Clone, Copy)]
    pub(crate) struct HgeiFile {
        va: *mut c_void,
        pa: b::phys_addr_t,
    }

    // SAFETY: the address of a mapping that every CPU may use, for good.
    unsafe impl Send for HgeiFile {}

    impl ImsicLocal {
        /// Guest interrupt file `line` (1 and up) of the CPU, at `page`
        /// bytes a file.
        pub(crate) fn guest_file(&self, line: usize, page: usize) -> Option<HgeiFile> {
            if line == 0 || self.msi_va.is_null() {
                return None;
            }
            let off = line.checked_mul(page)?;
            Some(HgeiFile {
                va: self.msi_va.cast::<u8>().wrapping_add(off).cast(),
                pa: self.msi_pa.checked_add(u64::from_safe_cast(off))?,
            })
        }
    }

    impl HgeiFile {
        /// The file's physical address.
        pub(crate) fn pa(&self) -> b::phys_addr_t {
            self.pa
        }

        /// Makes identity `id` pending in the file: a write of `id` to its
        /// `seteipnum_le` register, at offset 0 of its page (`writel()`).
        pub(crate) fn set_pending(&self, id: u32) {
            // SAFETY: `va` is the start of an interrupt file's page in the
            // IMSIC driver's mapping, live for good; a 32-bit MMIO write to
            // its first register.
            unsafe { kernel::bindings::writel(id, self.va.cast()) }
        }
    }

    /// Runs `f` on `cpu`, as `on_each_cpu_mask(cpumask_of(cpu), f, info, 1)`
    /// does: here, interrupts off, when `cpu` is this CPU; else in its
    /// interrupt context (`smp_call_function_single()`), waiting until it
    /// has run, which the caller may not do with interrupts off; nothing if
    /// `cpu` is offline.
    pub(crate) fn on_cpu<F: FnMut() + Send>(cpu: CpuId, mut f: F) {
        let _p = super::preempt_disable();
        if cpu == CpuId::current() {
            let _i = crate::irq::disable();
            f();
            return;
        }
        /// # Safety
        /// `info` points to a live `F`, borrowed for the call.
        unsafe extern "C" fn call<F: FnMut()>(info: *mut c_void) {
            // SAFETY: per the function's contract.
            let f = unsafe { &mut *info.cast::<F>() };
            f();
        }
        // CAST: CPU ids are below nr_cpu_ids, which fits in an int.
        let c = cpu.as_u32() as c_int;
        let info = core::ptr::from_mut(&mut f).cast::<c_void>();
        // SAFETY: `call::<F>` takes `info`, which points to `f`; `wait` is 1,
        // so the call returns only once `f` has run, and nothing keeps it.
        let _ =
            unsafe { kernel::bindings::smp_call_function_single(c, Some(call::<F>), info, true) };
    }

    // --- the AIA device -------------------------------------------------

    /// A device type's operations (`struct kvm_device_ops`), a static of
    /// the module.
    #[repr(transparent)]
    pub(crate) struct DeviceOps(pub(crate) b::kvm_device_ops);

    // SAFETY: read only, by any CPU: function pointers and a static name.
    unsafe impl Sync for DeviceOps {}

    /// Registers the AIA device (`kvm_register_device_ops()`).
    pub(crate) fn register_aia_device_ops(ops: &'static DeviceOps) -> c_int {
        // SAFETY: the operations are static, as the registration needs.
        unsafe {
            b::kvm_register_device_ops(&raw const ops.0, b::kvm_device_type_KVM_DEV_TYPE_RISCV_AIA)
        }
    }

    /// `kvm_unregister_device_ops()` of the AIA device.
    pub(crate) fn unregister_aia_device_ops() {
        // SAFETY: a table update under the generic core's lock.
        unsafe { b::kvm_unregister_device_ops(b::kvm_device_type_KVM_DEV_TYPE_RISCV_AIA) };
    }

    // --- the CPU PM notifier --------------------------------------------

    /// A CPU PM notifier: `event(cmd)` for each `CPU_PM_*` event, its return
    /// value the notifier's. (Without `CONFIG_CPU_PM` it is never registered.)
    #[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
    #[repr(C)]
    pub(crate) struct CpuPmNotifier {
        nb: Opaque<b::notifier_block>,
        event: fn(c_ulong) -> c_int,
    }

    // SAFETY: the notifier chain owns `nb` while it is registered and
    // serialises access to it; `event` is a plain function pointer.
    unsafe impl Sync for CpuPmNotifier {}

    #[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
    impl CpuPmNotifier {
        /// A notifier that calls `event`.
        pub(crate) const fn new(event: fn(c_ulong) -> c_int) -> Self {
            Self {
                nb: Opaque::new(b::notifier_block {
                    notifier_call: Some(Self::call),
                    next: core::ptr::null_mut(),
                    priority: 0,
                }),
                event,
            }
        }

        /// # Safety
        /// Called by the notifier chain with the `nb` of a [`CpuPmNotifier`].
        unsafe extern "C" fn call(
            nb: *mut b::notifier_block,
            cmd: c_ulong,
            _v: *mut c_void,
        ) -> c_int {
            // SAFETY: `nb` is the first field of a live (static)
            // `CpuPmNotifier` (`repr(C)`, `Opaque` is transparent).
            let this = unsafe { &*nb.cast::<CpuPmNotifier>() };
            (this.event)(cmd)
        }

        /// `cpu_pm_register_notifier()`.
        #[cfg(CONFIG_CPU_PM)]
        pub(crate) fn register(&'static self) -> c_int {
            // SAFETY: a static block; the chain refuses one already in it.
            unsafe { b::cpu_pm_register_notifier(self.nb.get()) }
        }

        /// `cpu_pm_unregister_notifier()`.
        #[cfg(CONFIG_CPU_PM)]
        pub(crate) fn unregister(&'static self) {
            // SAFETY: a static block; the chain ignores one not in it.
            unsafe { b::cpu_pm_unregister_notifier(self.nb.get()) };
        }
    }

    // --- registration with the generic core -----------------------------

    /// Proof that [`kvm_init`] succeeded; [`KvmRegistration::exit`] undoes it.
    pub(crate) struct KvmRegistration(());

    /// `kvm_init(sizeof(struct kvm_vcpu), 0, module)`.
    pub(crate) fn kvm_init(
        module: &'static kernel::ThisModule,
    ) -> kernel::error::Result<KvmRegistration> {
        // CAST: the vCPU struct size fits in u32.
        let vcpu_size = core::mem::size_of::<b::kvm_vcpu>() as c_uint;
        // SAFETY: `module` is this module; everything the core calls back is
        // set up before (the caller's order).
        let rc = unsafe { b::kvm_init(vcpu_size, 0, module.as_ptr().cast()) };
        kernel::error::to_result(rc).map(|()| KvmRegistration(()))
    }

    impl KvmRegistration {
        /// `kvm_exit()`.
        pub(crate) fn exit(self) {
            // SAFETY: `kvm_init()` succeeded (the value's invariant), once.
            unsafe { b::kvm_exit() };
        }
    }

    /// `kvm_register_perf_callbacks()`.
    pub(crate) fn register_perf_callbacks() {
        // SAFETY: no handlers; the core WARNs on a second registration.
        #[cfg(CONFIG_GUEST_PERF_EVENTS)]
        unsafe {
            b::__kvm_register_perf_callbacks(None, None)
        };
    }

    plain_calls! {
        /// `kvm_unregister_perf_callbacks()` (the core ignores, with a WARN,
        /// an unregistration that does not match).
        #[cfg(CONFIG_GUEST_PERF_EVENTS)]
        pub(crate) fn unregister_perf_callbacks() = b::kvm_unregister_perf_callbacks;
        /// `kvm_riscv_unregister_vctx_callback()`: clears the callback pointer.
        #[cfg(CONFIG_RISCV_ISA_V)]
        pub(crate) fn unregister_vctx_callback() = b::kvm_riscv_unregister_vctx_callback;
    }

    /// `kvm_unregister_perf_callbacks()`: nothing without
    /// `CONFIG_GUEST_PERF_EVENTS`.
    #[cfg(not(CONFIG_GUEST_PERF_EVENTS))]
    pub(crate) fn unregister_perf_callbacks() {}

    /// `kvm_riscv_register_vctx_callback()`: `f` runs when kernel-mode vector
    /// use finds a vCPU's vector state in the registers.
    #[cfg(CONFIG_RISCV_ISA_V)]
    pub(crate) fn register_vctx_callback(f: unsafe extern "C" fn()) {
        // SAFETY: `f` is a function of the module whose contract is the
        // callback's; unregistered at exit.
        unsafe { b::kvm_riscv_register_vctx_callback(Some(f)) };
    }

    // --- init probes ----------------------------------------------------

    boot_vars! {
        /// `sbi_spec_version`, set once at boot.
        pub(crate) fn sbi_spec_version() -> c_ulong = sbi_spec_version;
    }

    /// `sbi_probe_extension(ext)`: 0 when the extension is absent.
    pub(crate) fn sbi_probe_extension(ext: u32) -> c_long {
        // CAST: SBI extension ids are passed as an int, as C does.
        c_sbi_probe_extension(ext as c_int)
    }

    plain_calls! {
        /// `sbi_probe_extension()`, for [`sbi_probe_extension`]: probing has
        /// no side effect.
        fn c_sbi_probe_extension(ext: c_int) -> c_long = b::sbi_probe_extension;
    }

    /// CPU 0's (mvendorid, marchid), cached at boot.
    pub(crate) fn boot_cpu_vendor_arch() -> (c_ulong, c_ulong) {
        // SAFETY: CPU 0 always exists and its cached ids are set at boot.
        unsafe { (b::riscv_cached_mvendorid(0), b::riscv_cached_marchid(0)) }
    }
}

// The perf events of the virtual PMU's hardware counters, and the host PMU
// driver's queries.

#[cfg(CONFIG_RISCV_PMU_SBI)]
pub(crate) use perf::{
    perf_attr_set_config1, perf_attr_set_sample_period, riscv_pmu_event_info, riscv_pmu_hpm_info,
    OverflowEvent, PerfEvent,
};

#[cfg(CONFIG_RISCV_PMU_SBI)]
mod perf {
    use crate::bindings as b;
    use core::marker::PhantomData;
    use core::ptr::{addr_of_mut, null_mut, NonNull};
    use kernel::error::code::EINVAL;
    use kernel::ffi::{c_int, c_void};
    use kernel::prelude::*;

    /// A perf event that KVM created and owns (`struct perf_event`): it is
    /// disabled and released when dropped. A C struct may hold it as its
    /// `struct perf_event *` field: an `Option<PerfEvent>` is that pointer,
    /// null for `None`.
    #[repr(transparent)]
    pub(crate) struct PerfEvent(NonNull<b::perf_event>);

    const _: () = assert!(size_of::<Option<PerfEvent>>() == size_of::<*mut b::perf_event>());

    impl PerfEvent {
        /// `perf_event_create_kernel_counter()` for the current task, on
        /// any CPU, with overflow handler `overflow` and its context `ctx`.
        ///
        /// # Safety
        /// Until the event is dropped, perf may call `overflow` with it, in
        /// interrupt context: what `overflow` does with `ctx` must stay
        /// valid until then.
        pub(crate) unsafe fn create(
            attr: &mut b::perf_event_attr,
            overflow: b::perf_overflow_handler_t,
            ctx: *mut c_void,
        ) -> Result<Self> {
            // SAFETY: `attr` is initialised and outlives the call; the
            // handler and its context per the function's contract.
            let event = unsafe {
                b::perf_event_create_kernel_counter(
                    attr,
                    -1,
                    kernel::task::Task::current_raw().cast(),
                    overflow,
                    ctx,
                )
            };
            // Never null: an event or an error pointer.
            NonNull::new(kernel::error::from_err_ptr(event)?)
                .map(Self)
                .ok_or(EINVAL)
        }

        /// `perf_event_read_value()`: the event's count.
        pub(crate) fn read_value(&self) -> u64 {
            let (mut enabled, mut running) = (0u64, 0u64);
            self.c_read_value(&mut enabled, &mut running)
        }

        /// `perf_event_period()`; a period perf refuses is ignored, as
        /// upstream KVM ignores it.
        pub(crate) fn set_period(&self, period: u64) {
            let _ = self.c_period(period);
        }
    }

    /// Safe methods of [`PerfEvent`] that call a perf function on the
    /// event, which takes a live event and, besides it, plain values or
    /// outputs (references here, valid for the call).
    macro_rules! event_calls {
        ($($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {
            impl PerfEvent {$(
                $(#[$m])*
                $vis fn $name(&self $(, $a: $t)*) $(-> $ret)? {
                    // SAFETY: the event is live while owned (see the macro).
                    unsafe { $cfn(self.0.as_ptr() $(, $a)*) }
                }
            )*}
        };
    }

    event_calls! {
        /// `perf_event_enable()`.
        pub(crate) fn enable() = b::perf_event_enable;
        /// `perf_event_pause()`: stops the event and returns its count,
        /// which `reset` zeroes.
        pub(crate) fn pause(reset: bool) -> u64 = b::perf_event_pause;
        /// `perf_event_read_value()`, for [`PerfEvent::read_value`].
        fn c_read_value(enabled: &mut u64, running: &mut u64) -> u64 = b::perf_event_read_value;
        /// `perf_event_period()`, for [`PerfEvent::set_period`].
        fn c_period(period: u64) -> c_int = b::perf_event_period;
    }

    impl Drop for PerfEvent {
        fn drop(&mut self) {
            // SAFETY: the event is live and ours; nothing uses it after its
            // release.
            unsafe {
                b::perf_event_disable(self.0.as_ptr());
                b::perf_event_release_kernel(self.0.as_ptr());
            }
        }
    }

    /// A perf event whose overflow handler runs (interrupt context, on the
    /// CPU that counts it), as the handler sees it.
    pub(crate) struct OverflowEvent<'a>(NonNull<b::perf_event>, PhantomData<&'a b::perf_event>);

    impl OverflowEvent<'_> {
        /// # Safety
        /// `event` is the event whose overflow handler is running, and the
        /// result is used only in that handler.
        pub(crate) unsafe fn from_raw(event: *mut b::perf_event) -> Self {
            // SAFETY: perf calls the handler with its live event.
            Self(unsafe { NonNull::new_unchecked(event) }, PhantomData)
        }

        /// The context the event was created with.
        pub(crate) fn context(&self) -> *mut c_void {
            // SAFETY: the live event; set at creation, then read only.
            unsafe { (*self.0.as_ptr()).overflow_handler_context }
        }

        /// The event's count (`local64_read(&event->count)`).
        pub(crate) fn count(&self) -> u64 {
            // SAFETY: the live event; `local64_read()` is a single-word read.
            let c = unsafe { addr_of_mut!((*self.0.as_ptr()).count.a.a.counter).read_volatile() };
            // CAST: the count is a u64 kept in a signed local64.
            c as u64
        }

        /// Makes `period` the event's next period, from now
        /// (`hw.period_left` 0, `attr.sample_period` and `hw.sample_period`).
        pub(crate) fn set_period(&self, period: u64) {
            let e = self.0.as_ptr();
            // SAFETY: the live event, stopped by the handler, which perf
            // lets write these (`local64_set()` is a single-word write); the
            // unions hold plain integers.
            unsafe {
                let left = (*e).hw.__bindgen_anon_2.__bindgen_anon_1.as_mut();
                addr_of_mut!(left.period_left.a.a.counter).write_volatile(0);
                *(*e).attr.__bindgen_anon_1.sample_period.as_mut() = period;
                (*e).hw.sample_period = period;
            }
        }
    }

    /// Safe methods of [`OverflowEvent`] that call a callback of the event's
    /// PMU, `$op`, on the event with the flag `$flag`: perf lets the
    /// event's overflow handler call its PMU's `start` and `stop`.
    macro_rules! pmu_calls {
        ($($(#[$m:meta])* fn $name:ident() = $op:ident($flag:ident);)*) => {
            impl OverflowEvent<'_> {$(
                $(#[$m])*
                pub(crate) fn $name(&self) {
                    let e = self.0.as_ptr();
                    // CAST: a small flag.
                    let flags = b::$flag as c_int;
                    // SAFETY: the live event (the type's invariant) and its
                    // PMU, whose callback `$op` the handler may call (see the
                    // macro).
                    unsafe {
                        if let Some(op) = (*(*e).pmu).$op {
                            op(e, flags);
                        }
                    }
                }
            )*}
        };
    }

    pmu_calls! {
        /// Stops the counter, folding its count into the event
        /// (`pmu->stop(event, PERF_EF_UPDATE)`).
        fn stop_update() = stop(PERF_EF_UPDATE);
        /// Restarts the counter with the event's period
        /// (`pmu->start(event, PERF_EF_RELOAD)`).
        fn start_reload() = start(PERF_EF_RELOAD);
    }

    /// Safe setters of a member of one of the unions of a
    /// `perf_event_attr`, `$u.$f`: the union holds only plain integers of
    /// the member's type.
    macro_rules! attr_setters {
        ($($(#[$m:meta])* fn $name:ident($v:ident) = $u:ident.$f:ident;)*) => {$(
            $(#[$m])*
            pub(crate) fn $name(attr: &mut b::perf_event_attr, $v: u64) {
                // SAFETY: a view of a union of plain integers (see the
                // macro).
                unsafe { *attr.$u.$f.as_mut() = $v };
            }
        )*};
    }

    attr_setters! {
        /// Sets `attr.sample_period`.
        fn perf_attr_set_sample_period(period) = __bindgen_anon_1.sample_period;
        /// Sets `attr.config1`.
        fn perf_attr_set_config1(config1) = __bindgen_anon_3.config1;
    }

    /// `riscv_pmu_get_hpm_info()`: (counter width - 1, number of
    /// programmable counters) of the host, or `None` without an SBI PMU.
    pub(crate) fn riscv_pmu_hpm_info() -> Option<(u32, u32)> {
        let (mut width, mut num) = (0u32, 0u32);
        let ret = c_hpm_info(&mut width, &mut num);
        (ret >= 0).then_some((width, num))
    }

    plain_calls! {
        /// `riscv_pmu_get_hpm_info()`, for [`riscv_pmu_hpm_info`]: a query
        /// of the host PMU driver.
        fn c_hpm_info(width: &mut u32, num: &mut u32) -> c_int = b::riscv_pmu_get_hpm_info;
    }

    /// `riscv_pmu_get_event_info(type, config, NULL)`: > 0 when the host
    /// can count the event.
    pub(crate) fn riscv_pmu_event_info(type_: u32, config: u64) -> c_int {
        // SAFETY: a query of the host PMU driver; no output asked.
        unsafe { b::riscv_pmu_get_event_info(type_, config, null_mut()) }
    }
}

plain_calls! {
    /// How long the current task has waited to run, in ns
    /// (`READ_ONCE(current->sched_info.run_delay)`).
    pub(crate) fn current_run_delay() -> u64 = b::kvm_riscv_rs_current_run_delay;
    /// `sched_info_on()`: the scheduler keeps the statistics steal time needs.
    pub(crate) fn sched_info_on() -> bool = b::kvm_riscv_rs_sched_info_on;
    /// `riscv_cs_get_mult_shift()`, for [`cs_mult_shift`].
    fn c_cs_mult_shift(mult: &mut u32, shift: &mut u32) = b::riscv_cs_get_mult_shift;
}

boot_vars! {
    /// The host's timebase frequency (`riscv_timebase`).
    pub(crate) fn riscv_timebase() -> kernel::ffi::c_ulong = riscv_timebase;
}

/// The clocksource's cycles-to-ns factors, (mult, shift)
/// (`riscv_cs_get_mult_shift()`).
pub(crate) fn cs_mult_shift() -> (u32, u32) {
    let (mut mult, mut shift) = (0, 0);
    c_cs_mult_shift(&mut mult, &mut shift);
    (mult, shift)
}

// tlb.rs, vmid.rs: cross-CPU calls, the CPU count, the VMID lock.

pub(crate) use mmu_ffi::*;

mod mmu_ffi {
    use crate::vmid_logic::VmidAllocator;
    use core::ffi::c_void;
    use core::pin::Pin;
    use kernel::sync::atomic::{Acquire, Atomic, Release};
    use kernel::sync::lock::GlobalGuard;

    plain_calls! {
        /// The number of online CPUs (`num_online_cpus()`), now.
        pub(crate) fn num_online_cpus() -> u32 = crate::bindings::kvm_riscv_rs_num_online_cpus;
    }

    /// The number of possible CPUs (`num_possible_cpus()`), fixed at boot.
    pub(crate) fn num_possible_cpus() -> u32 {
        // SAFETY: set once during boot, before modules load; read only.
        unsafe { kernel::bindings::__num_possible_cpus }
    }

    /// Runs `f` on every online CPU, this one included, and waits until
    /// all have run it (`on_each_cpu_mask(cpu_online_mask, f, NULL, true)`).
    /// `f` runs in interrupt context on the other CPUs, with interrupts off
    /// here. The caller may not have interrupts off itself.
    #[cfg(CONFIG_SMP)]
    pub(crate) fn on_each_online_cpu(f: fn()) {
        /// # Safety
        /// `info` is a `fn()` cast to a data pointer.
        unsafe extern "C" fn call(info: *mut c_void) {
            // SAFETY: `info` is the `fn()` given below, passed as a data
            // pointer: the same size, and any function address round-trips.
            let f = unsafe { core::mem::transmute::<*mut c_void, fn()>(info) };
            f();
        }
        // CAST: a function address as the opaque argument of the call.
        let info = f as *mut c_void;
        // SAFETY: `call` is a function of the module that takes what is
        // given as `info`; the online mask is the kernel's, live forever;
        // `wait` is true, so nothing outlives the call.
        unsafe {
            kernel::bindings::on_each_cpu_cond_mask(
                None,
                Some(call),
                info,
                true,
                core::ptr::addr_of!(kernel::bindings::__cpu_online_mask),
            )
        };
    }

    /// Runs `f` on the one CPU, interrupts off, as `on_each_cpu_mask()`
    /// does without SMP.
    #[cfg(not(CONFIG_SMP))]
    pub(crate) fn on_each_online_cpu(f: fn()) {
        let _irqs = crate::irq::disable();
        f();
    }

    kernel::sync::global_lock! {
        // SAFETY: `vmid_lock()` initialises it, once, before its first use.
        pub(crate) unsafe(uninit) static VMID_LOCK: SpinLock<VmidAllocator> = VmidAllocator::new();
    }

    const UNINIT: i32 = 0;
    const INITIALISING: i32 = 1;
    const READY: i32 = 2;
    static VMID_LOCK_STATE: Atomic<i32> = Atomic::new(UNINIT);

    /// The VMID allocator, under its global spinlock (C's `vmid_lock`).
    pub(crate) fn vmid_lock() -> GlobalGuard<VMID_LOCK> {
        if VMID_LOCK_STATE.load(Acquire) != READY {
            vmid_lock_init();
        }
        VMID_LOCK.lock()
    }

    #[cold]
    fn vmid_lock_init() {
        match VMID_LOCK_STATE.cmpxchg(UNINIT, INITIALISING, Acquire) {
            Ok(_) => {
                // SAFETY: only the caller that won the race gets here, once;
                // nobody locks it before the state is READY.
                unsafe { VMID_LOCK.init() };
                VMID_LOCK_STATE.store(READY, Release);
            }
            Err(_) => {
                while VMID_LOCK_STATE.load(Acquire) != READY {
                    kernel::processor::cpu_relax();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The host mm of the G-stage fault path and of memslot checks (mmu.rs).

/// The current task's mm with its mmap lock held for reading
/// (`mmap_read_lock(current->mm)`), released when dropped.
pub(crate) struct MmapRead<'a> {
    mm: &'a kernel::mm::MmWithUser,
    _guard: kernel::mm::MmapReadGuard<'a>,
}

/// A VMA of an [`MmapRead`]: its flags and, for hugetlb, its page shift.
pub(crate) struct Vma<'g>(&'g kernel::mm::virt::VmaRef);

impl Vma<'_> {
    /// `vm_flags`.
    pub(crate) fn flags(&self) -> usize {
        self.0.flags()
    }

    /// `vm_end`.
    pub(crate) fn end(&self) -> u64 {
        kernel::num::casts::usize_as_u64(self.0.end())
    }

    /// `huge_page_shift(hstate_vma(vma))` of a hugetlb VMA
    /// (`is_vm_hugetlb_page()`), `None` for any other.
    pub(crate) fn hugetlb_shift(&self) -> Option<u32> {
        // `is_vm_hugetlb_page()` (with `CONFIG_HUGETLB_PAGE`; `VM_HUGETLB`
        // is 0 without), inline: the fault path asks for every fault.
        if self.0.flags() & b::VM_HUGETLB == 0 {
            return None;
        }
        // SAFETY: a live VMA, the mmap lock held (it borrows the guard).
        let s = unsafe { b::kvm_riscv_rs_vma_hugetlb_shift(self.0.as_ptr()) };
        (s != 0).then_some(s)
    }
}

impl MmapRead<'_> {
    /// The VMA that contains `addr` (`vma_lookup()`).
    pub(crate) fn vma_lookup(&self, addr: u64) -> Option<Vma<'_>> {
        // CAST: an address of the 64-bit host.
        self._guard.vma_lookup(addr as usize).map(Vma)
    }

    /// The first VMA that intersects `[start, end)` (`find_vma_intersection()`).
    pub(crate) fn find_vma_intersection(&self, start: u64, end: u64) -> Option<Vma<'_>> {
        // CAST: addresses of the 64-bit host.
        let (start, end) = (start as usize, end as usize);
        // SAFETY: the mm's mmap lock is held (the guard lives as long as
        // `self`); any addresses are accepted.
        let vma = unsafe { b::find_vma_intersection(self.mm.as_raw(), start, end) };
        if vma.is_null() {
            return None;
        }
        // SAFETY: a VMA of the mm, which stays while the mmap lock is held:
        // the result borrows `self`, which holds it.
        Some(Vma(unsafe { kernel::mm::virt::VmaRef::from_raw(vma) }))
    }
}

/// Runs `f` with the current task's mm locked for reading, `None` for a
/// task without one (a kernel thread).
pub(crate) fn with_current_mmap_read<R>(f: impl FnOnce(Option<&MmapRead<'_>>) -> R) -> R {
    let task = kernel::current!();
    match task.mm() {
        Some(mm) => {
            let m = MmapRead {
                mm,
                _guard: mm.mmap_read_lock(),
            };
            f(Some(&m))
        }
        None => f(None),
    }
}

/// Sends the current task `SIGBUS` for a memory error at `addr` of a page
/// of `1 << lsb` bytes (`send_sig_mceerr(BUS_MCEERR_AR, ...)`).
pub(crate) fn send_sig_mceerr_ar(addr: u64, lsb: u32) {
    // CAST: an address of the 64-bit host; a page shift below 64.
    c_send_sig_mceerr_ar(addr as usize, lsb as i16)
}

/// The `eager_page_split` module parameter (`READ_ONCE()`): sysfs writes
/// it at any time.
pub(crate) fn eager_page_split() -> bool {
    // SAFETY: a `bool` of modinfo.c for the module's life, which only the
    // parameter code writes, a byte at a time; read atomically.
    unsafe {
        core::sync::atomic::AtomicBool::from_ptr(core::ptr::addr_of_mut!(
            b::kvm_riscv_eager_page_split
        ))
        .load(core::sync::atomic::Ordering::Relaxed)
    }
}

/// `printk("kvm [%i]: %pA", pid, &args)` at `KERN_ERR` (`err`) or
/// `KERN_INFO`: `kvm_err()`, `kvm_info()` (`print.rs`).
pub(crate) fn printk_kvm(err: bool, pid: i32, args: core::fmt::Arguments<'_>) {
    let fmt: &'static core::ffi::CStr = if err {
        c"\x013kvm [%i]: %pA"
    } else {
        c"\x016kvm [%i]: %pA"
    };
    // SAFETY: the format takes one `int` and one `%pA`, which the kernel
    // formats from a `fmt::Arguments` that outlives the call.
    unsafe {
        kernel::bindings::_printk(
            kernel::str::CStrExt::as_char_ptr(fmt).cast(),
            pid,
            core::ptr::from_ref(&args).cast::<kernel::ffi::c_void>(),
        );
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The C ABI entry points of the backend: the `kvm_arch_*` functions the
//! generic KVM core calls, and the `kvm_riscv_*` functions the C objects of
//! the module that are not ported yet call.
//!
//! Each one turns the raw pointers it gets into a [`Vcpu`] (and, on the
//! vCPU's own thread, a [`VcpuCtx`]) once, then calls safe code. Every
//! function here is `unsafe extern "C"`: its contract is the C caller's, and
//! is written on it.

use crate::bindings as b;
use crate::handle::{MpStateLocked, Vcpu, VcpuCtx};
use crate::vcpu_irq::IRQ_VS_EXT;
use kernel::cpu::CpuId;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::num::casts::FromSafeCast;
use kernel::transmute::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

/// The vCPU ioctl numbers (macros of the uapi header, through `helpers.h`).
mod ioctl {
    use crate::bindings as b;
    pub(super) const INTERRUPT: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_INTERRUPT;
    pub(super) const SET_ONE_REG: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_SET_ONE_REG;
    pub(super) const GET_ONE_REG: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_GET_ONE_REG;
    pub(super) const GET_REG_LIST: u32 = b::kvm_riscv_rs_ioctl_KVM_RISCV_RS_GET_REG_LIST;
}

// SAFETY: `struct kvm_one_reg` is two u64s: no padding, any bits valid.
unsafe impl FromBytes for b::kvm_one_reg {}
// SAFETY: `struct kvm_reg_list`'s header is one u64 (the flexible array has
// no size): no padding, any bits valid.
unsafe impl FromBytes for b::kvm_reg_list {}
// SAFETY: as above.
unsafe impl AsBytes for b::kvm_reg_list {}
// SAFETY: `struct kvm_interrupt` is one u32: any bits valid.
unsafe impl FromBytes for b::kvm_interrupt {}

/// A C `int` result as the C `long` an ioctl returns.
fn long(rc: c_int) -> c_long {
    // CAST: sign-extending an int to a long (64-bit) loses nothing.
    rc as c_long
}

/// The C convention of a `Result`: 0 or a negative errno.
fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The vCPU of a vCPU file.
///
/// # Safety
/// `filp` is a vCPU's file, which holds a reference on the vCPU for the call.
unsafe fn vcpu_of_file<'a>(filp: *mut b::file) -> &'a Vcpu {
    // SAFETY: the file's private data is its vCPU (kvm_main.c), live while
    // the file is.
    unsafe { Vcpu::from_raw((*filp).private_data.cast()) }
}

// ---------------------------------------------------------------------------
// vCPU lifecycle (kvm_main.c calls these with the vCPU not yet visible, or
// with `vcpu->mutex` held).

/// # Safety
/// The generic core passes a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_precreate(_kvm: *mut b::kvm, _id: c_uint) -> c_int {
    0
}

/// # Safety
/// `vcpu` is a new, zeroed vCPU the generic core is setting up; nobody else
/// sees it yet.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_create(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU, ours alone (creation).
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    errno(crate::vcpu::create(&mut cx))
}

/// # Safety
/// `vcpu` is a live vCPU (and so below for every `vcpu`, unless said).
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_postcreate(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    crate::vcpu::postcreate(unsafe { Vcpu::from_raw(vcpu) })
}

/// # Safety
/// `vcpu` is a live vCPU going away; nobody else uses it any more.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_destroy(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU, ours alone (destruction).
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu::destroy(&mut cx)
}

/// # Safety
/// `vcpu` is live; preemption is off; the caller is the vCPU's thread (its
/// ioctl or its preempt notifier).
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_load(vcpu: *mut b::kvm_vcpu, _cpu: c_int) {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    // `cpu` is the current CPU, preemption off.
    crate::vcpu::load(&mut cx, CpuId::current())
}

/// # Safety
/// As for [`kvm_arch_vcpu_load`].
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_put(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu::put(&mut cx)
}

/// # Safety
/// `vcpu` is live; its thread, with `vcpu->mutex` held.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_ioctl_run(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu_run::run(&mut cx)
}

// ---------------------------------------------------------------------------
// Queries of the generic core, from any thread.

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_cpu_has_pending_timer(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    c_int::from(crate::vcpu_timer::pending(unsafe { Vcpu::from_raw(vcpu) }))
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_runnable(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    c_int::from(crate::vcpu::runnable(unsafe { Vcpu::from_raw(vcpu) }))
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_should_kick(vcpu: *mut b::kvm_vcpu) -> c_int {
    // SAFETY: a live vCPU.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    // CAST: a small enumerator.
    let in_guest = b::kvm_riscv_rs_const_KVM_RISCV_RS_IN_GUEST_MODE as c_int;
    c_int::from(v.exiting_guest_mode() == in_guest)
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_in_kernel(vcpu: *mut b::kvm_vcpu) -> bool {
    // CAST: a low bit of SSTATUS.
    let spp = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.guest_sstatus() & spp != 0
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_get_ip(vcpu: *mut b::kvm_vcpu) -> c_ulong {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.guest_sepc()
}

/// # Safety
/// Nothing is dereferenced.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_fault(
    _vcpu: *mut b::kvm_vcpu,
    _vmf: *mut b::vm_fault,
) -> b::vm_fault_t {
    b::vm_fault_reason_VM_FAULT_SIGBUS
}

// ---------------------------------------------------------------------------
// vCPU ioctls.

/// `KVM_INTERRUPT`, which does not take the vCPU mutex.
///
/// # Safety
/// `filp` is a vCPU's file.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_unlocked_ioctl(
    filp: *mut b::file,
    ioctl: c_uint,
    arg: c_ulong,
) -> c_long {
    if ioctl != ioctl::INTERRUPT {
        return long(ENOIOCTLCMD.to_errno());
    }
    // SAFETY: per the function's contract.
    let v = unsafe { vcpu_of_file(filp) };
    let r = (|| {
        let mut reader = UserSlice::new(UserPtr::from_addr(arg), size_of::<b::kvm_interrupt>()).reader();
        let irq: b::kvm_interrupt = reader.read()?;
        // CAST: KVM_INTERRUPT_SET is -1 as an unsigned int, as userspace passes it.
        if irq.irq == b::KVM_INTERRUPT_SET as u32 {
            crate::vcpu_irq::set_interrupt(v, IRQ_VS_EXT)
        } else {
            crate::vcpu_irq::unset_interrupt(v, IRQ_VS_EXT)
        }
    })();
    long(errno(r))
}

/// The vCPU ioctls of the architecture: ONE_REG and the register list.
///
/// # Safety
/// `filp` is a vCPU's file; the generic core holds the vCPU mutex.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_ioctl(filp: *mut b::file, ioctl: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: per the function's contract: the vCPU thread, mutex held.
    let mut cx = unsafe { VcpuCtx::new(vcpu_of_file(filp)) };
    let r: Result<c_int> = match ioctl {
        ioctl::SET_ONE_REG | ioctl::GET_ONE_REG => {
            UserSlice::new(UserPtr::from_addr(arg), size_of::<b::kvm_one_reg>())
                .reader()
                .read::<b::kvm_one_reg>()
                .map(|reg| {
                    if ioctl == ioctl::SET_ONE_REG {
                        crate::onereg::set_reg(&mut cx, &reg)
                    } else {
                        crate::onereg::get_reg(&mut cx, &reg)
                    }
                })
        }
        ioctl::GET_REG_LIST => reg_list(&mut cx, arg),
        _ => Err(EINVAL),
    };
    match r {
        Ok(rc) => long(rc),
        Err(e) => long(e.to_errno()),
    }
}

/// `KVM_GET_REG_LIST`: the count, then the ids if the user's array holds
/// them.
fn reg_list(cx: &mut VcpuCtx<'_>, arg: c_ulong) -> Result<c_int> {
    let header = size_of::<b::kvm_reg_list>();
    let mut list: b::kvm_reg_list = UserSlice::new(UserPtr::from_addr(arg), header).reader().read()?;
    // Upstream keeps the user's count in an unsigned int: only its low 32
    // bits count.
    // CAST: that truncation, on purpose.
    let room = list.n as u32;
    let n = crate::onereg::num_regs(cx);
    list.n = u64::from_safe_cast(n);
    UserSlice::new(UserPtr::from_addr(arg), header).writer().write(&list)?;
    if u64::from(room) < list.n {
        return Err(E2BIG);
    }
    // The ids follow the count (`struct kvm_reg_list.reg[]`).
    Ok(crate::onereg::copy_reg_indices(cx, arg + header))
}

macro_rules! unsupported {
    ($($name:ident($ty:ty)),* $(,)?) => {$(
        /// Not used by RISC-V: `-EINVAL`.
        ///
        /// # Safety
        /// Nothing is dereferenced.
        #[no_mangle]
        unsafe extern "C" fn $name(_vcpu: *mut b::kvm_vcpu, _arg: *mut $ty) -> c_int {
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
/// `vcpu` is live, with its mutex held; `mp_state` is a kernel copy.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_ioctl_get_mpstate(
    vcpu: *mut b::kvm_vcpu,
    mp_state: *mut b::kvm_mp_state,
) -> c_int {
    // SAFETY: a live vCPU and a kernel copy to fill.
    unsafe { (*mp_state).mp_state = Vcpu::from_raw(vcpu).mp_state() };
    0
}

/// # Safety
/// `vcpu` is live, its thread with its mutex held; `mp_state` is a kernel
/// copy.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_ioctl_set_mpstate(
    vcpu: *mut b::kvm_vcpu,
    mp_state: *mut b::kvm_mp_state,
) -> c_int {
    // SAFETY: per the function's contract.
    let (mut cx, want) = unsafe { (VcpuCtx::new(Vcpu::from_raw(vcpu)), (*mp_state).mp_state) };
    errno(crate::vcpu::set_mp_state(&mut cx, want))
}

/// # Safety
/// `vcpu` is live, its thread with its mutex held; `dbg` is a kernel copy.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_ioctl_set_guest_debug(
    vcpu: *mut b::kvm_vcpu,
    dbg: *mut b::kvm_guest_debug,
) -> c_int {
    // SAFETY: per the function's contract.
    let (mut cx, control) = unsafe { (VcpuCtx::new(Vcpu::from_raw(vcpu)), (*dbg).control) };
    crate::vcpu::set_guest_debug(&mut cx, control);
    0
}

// ---------------------------------------------------------------------------
// Called by the C objects not ported yet (AIA IMSIC, SBI extensions, timer
// users).

/// # Safety
/// `vcpu` is live; its thread.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_flush_interrupts(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu_irq::flush_interrupts(&mut cx)
}

/// # Safety
/// `vcpu` is live; its thread, the vCPU loaded.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_sync_interrupts(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu_irq::sync_interrupts(&mut cx)
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_set_interrupt(vcpu: *mut b::kvm_vcpu, irq: c_uint) -> c_int {
    // SAFETY: a live vCPU.
    errno(crate::vcpu_irq::set_interrupt(unsafe { Vcpu::from_raw(vcpu) }, irq))
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_unset_interrupt(vcpu: *mut b::kvm_vcpu, irq: c_uint) -> c_int {
    // SAFETY: a live vCPU.
    errno(crate::vcpu_irq::unset_interrupt(unsafe { Vcpu::from_raw(vcpu) }, irq))
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_has_interrupts(vcpu: *mut b::kvm_vcpu, mask: u64) -> bool {
    // SAFETY: a live vCPU.
    crate::vcpu_irq::has_interrupts(unsafe { Vcpu::from_raw(vcpu) }, mask)
}

/// # Safety
/// `vcpu` is live and the caller holds its `mp_state_lock`.
#[no_mangle]
unsafe extern "C" fn __kvm_riscv_vcpu_power_off(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    crate::vcpu::power_off_locked(&unsafe { MpStateLocked::assume(Vcpu::from_raw(vcpu)) })
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_power_off(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.with_mp_state_lock(crate::vcpu::power_off_locked)
}

/// # Safety
/// `vcpu` is live and the caller holds its `mp_state_lock`.
#[no_mangle]
unsafe extern "C" fn __kvm_riscv_vcpu_power_on(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    crate::vcpu::power_on_locked(&unsafe { MpStateLocked::assume(Vcpu::from_raw(vcpu)) })
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_power_on(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: a live vCPU.
    unsafe { Vcpu::from_raw(vcpu) }.with_mp_state_lock(crate::vcpu::power_on_locked)
}

/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_stopped(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: a live vCPU.
    crate::vcpu::stopped(unsafe { Vcpu::from_raw(vcpu) })
}

// ---------------------------------------------------------------------------
// C ABI entry points: vcpu_exit.rs, vcpu_insn.rs
// (area `exit`: begin)



// (area `exit`: end)

// ---------------------------------------------------------------------------
// C ABI entry points: onereg.rs, vcpu_config.rs, isa.rs
// (area `onereg`: begin)



// (area `onereg`: end)

// ---------------------------------------------------------------------------
// C ABI entry points: vcpu_sbi.rs, vcpu_sbi_sta.rs, vcpu_timer.rs
// (area `sbi`: begin)

// SBI: what the C extensions call (`vcpu_sbi_base.c`, `vcpu_sbi_forward.c`,
// `vcpu_sbi_hsm.c`, `vcpu_sbi_replace.c`, `vcpu_sbi_system.c`,
// `vcpu_sbi_v01.c`). They run inside the dispatch of `vcpu_sbi::ecall`,
// which holds no borrow of the vCPU thread's state across the handler: the
// context made here is the only one in use.

/// The handler of the forwarded extensions, and of calls other handlers
/// leave to userspace.
///
/// # Safety
/// `vcpu` is live and loaded, the caller its run loop inside the SBI
/// dispatch; `retdata` is the dispatch's return record.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_sbi_forward_handler(
    vcpu: *mut b::kvm_vcpu,
    _run: *mut b::kvm_run,
    retdata: *mut b::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: per the function's contract (`run` is the vCPU's run page).
    let (mut cx, ret) = unsafe { (VcpuCtx::new(Vcpu::from_raw(vcpu)), &mut *retdata) };
    crate::vcpu_sbi::forward_handler(&mut cx, ret)
}

/// # Safety
/// As for [`kvm_riscv_vcpu_sbi_forward_handler`].
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_sbi_system_reset(
    vcpu: *mut b::kvm_vcpu,
    _run: *mut b::kvm_run,
    type_: u32,
    reason: u64,
) {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu_sbi::system_reset(&mut cx, type_, reason)
}

/// SBI HSM start and system suspend: `vcpu` may be another vCPU than the
/// caller's.
///
/// # Safety
/// `vcpu` is live.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_sbi_request_reset(
    vcpu: *mut b::kvm_vcpu,
    pc: c_ulong,
    a1: c_ulong,
) {
    // SAFETY: a live vCPU.
    crate::vcpu_sbi::request_reset(unsafe { Vcpu::from_raw(vcpu) }, pc, a1)
}

/// Base's probe: the extension that serves `extid` if it is on; null else.
///
/// # Safety
/// As for [`kvm_riscv_vcpu_sbi_forward_handler`].
#[no_mangle]
unsafe extern "C" fn kvm_vcpu_sbi_find_ext(
    vcpu: *mut b::kvm_vcpu,
    extid: c_ulong,
) -> *const b::kvm_vcpu_sbi_extension {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    crate::vcpu_sbi::find_ext(&mut cx, extid).map_or(core::ptr::null(), core::ptr::from_ref)
}

// The guest timer (`vcpu_timer.rs`).

/// The SBI timer calls (`vcpu_sbi_replace.c`, `vcpu_sbi_v01.c`).
///
/// # Safety
/// As for [`kvm_riscv_vcpu_sbi_forward_handler`].
#[no_mangle]
unsafe extern "C" fn kvm_riscv_vcpu_timer_next_event(
    vcpu: *mut b::kvm_vcpu,
    ncycles: u64,
) -> c_int {
    // SAFETY: per the function's contract.
    let mut cx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
    errno(crate::vcpu_timer::next_event(&mut cx, ncycles))
}

/// Sets the clock of a new VM up (`vm.c`).
///
/// # Safety
/// `kvm` is a VM being created, by its creator.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_guest_timer_init(kvm: *mut b::kvm) {
    // SAFETY: a live VM.
    crate::vcpu_timer::guest_timer_init(unsafe { crate::handle::Vm::from_raw(kvm) })
}

// (area `sbi`: end)

// ---------------------------------------------------------------------------
// C ABI entry points: pmu.rs
// (area `pmu`: begin)



// (area `pmu`: end)

// ---------------------------------------------------------------------------
// C ABI entry points: aia.rs, main.rs, vcpu_stats.rs
// (area `aia`: begin)



// (area `aia`: end)

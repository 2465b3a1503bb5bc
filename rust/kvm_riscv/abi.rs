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
use crate::handle::{Memslot, MmuWriteGuard, SlotsLocked, Vcpu, VcpuCtx, Vm};
use crate::vcpu_irq::IRQ_VS_EXT;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::num::casts::{usize_as_u64, FromSafeCast};
use kernel::prelude::*;
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
// The two shapes of entry point that take a vCPU.

/// Entry points whose C caller passes a live vCPU, from any thread: the body
/// gets `$v: &Vcpu`, made once from the pointer.
macro_rules! shared_entry {
    ($($(#[$m:meta])* fn $name:ident($v:ident $(, $a:ident: $t:ty)*) $(-> $ret:ty)? $body:block)*) => {$(
        $(#[$m])*
        ///
        /// # Safety
        /// `vcpu` is a live vCPU for the whole call.
        #[no_mangle]
        unsafe extern "C" fn $name(vcpu: *mut b::kvm_vcpu $(, $a: $t)*) $(-> $ret)? {
            // SAFETY: per the function's contract.
            let $v: &Vcpu = unsafe { Vcpu::from_raw(vcpu) };
            $body
        }
    )*};
}

/// Entry points called on the vCPU's own thread, as [`VcpuCtx`] describes
/// it (a vCPU ioctl with `vcpu->mutex` held, `KVM_RUN`, load and put from it
/// or its preempt notifier, create before and destroy after anyone else sees
/// the vCPU): the body gets `$cx: &mut VcpuCtx`, made once.
macro_rules! thread_entry {
    ($($(#[$m:meta])* fn $name:ident($cx:ident $(, $a:ident: $t:ty)*) $(-> $ret:ty)? $body:block)*) => {$(
        $(#[$m])*
        ///
        /// # Safety
        /// `vcpu` is a live vCPU and the caller its own thread, as
        /// [`VcpuCtx`] describes, holding no other context of it.
        #[no_mangle]
        unsafe extern "C" fn $name(vcpu: *mut b::kvm_vcpu $(, $a: $t)*) $(-> $ret)? {
            // SAFETY: per the function's contract.
            let mut ctx = unsafe { VcpuCtx::new(Vcpu::from_raw(vcpu)) };
            let $cx = &mut ctx;
            $body
        }
    )*};
}

/// Entry points that take a VM (`kvm`) first, live for the whole call (the
/// generic core, or C `aia_*.c`, holds a reference on it): the body gets
/// `$vm: &Vm`, made once. Further pointer arguments are as each documents.
macro_rules! vm_entry {
    ($($(#[$m:meta])* fn $name:ident($vm:ident $(, $a:ident: $t:ty)*) $(-> $ret:ty)? $body:block)*) => {$(
        $(#[$m])*
        ///
        /// # Safety
        /// `kvm` is a live VM for the whole call; other pointers as above.
        #[no_mangle]
        unsafe extern "C" fn $name(kvm: *mut b::kvm $(, $a: $t)*) $(-> $ret)? {
            // SAFETY: per the function's contract.
            let $vm: &Vm = unsafe { Vm::from_raw(kvm) };
            $body
        }
    )*};
}

// ---------------------------------------------------------------------------
// vCPU lifecycle and the run loop.

/// # Safety
/// Nothing is dereferenced.
#[no_mangle]
unsafe extern "C" fn kvm_arch_vcpu_precreate(_kvm: *mut b::kvm, _id: c_uint) -> c_int {
    0
}

thread_entry! {
    /// `kvm_arch_vcpu_create()`: a new, zeroed vCPU nobody else sees yet.
    fn kvm_arch_vcpu_create(cx) -> c_int {
        errno(crate::vcpu::create(cx))
    }
    /// `kvm_arch_vcpu_destroy()`: nobody else uses the vCPU any more.
    fn kvm_arch_vcpu_destroy(cx) {
        crate::vcpu::destroy(cx)
    }
    /// `kvm_arch_vcpu_load()`, preemption off; `cpu` is the current CPU.
    fn kvm_arch_vcpu_load(cx, cpu: c_int) {
        crate::vcpu::load(cx, cpu)
    }
    /// `kvm_arch_vcpu_put()`, preemption off.
    fn kvm_arch_vcpu_put(cx) {
        crate::vcpu::put(cx)
    }
    /// `KVM_RUN`.
    fn kvm_arch_vcpu_ioctl_run(cx) -> c_int {
        crate::vcpu_run::run(cx)
    }
}

shared_entry! {
    /// `kvm_arch_vcpu_postcreate()`.
    fn kvm_arch_vcpu_postcreate(v) {
        crate::vcpu::postcreate(v)
    }
    /// `kvm_cpu_has_pending_timer()`.
    fn kvm_cpu_has_pending_timer(v) -> c_int {
        c_int::from(crate::vcpu_timer::pending(v))
    }
    /// `kvm_arch_vcpu_runnable()`.
    fn kvm_arch_vcpu_runnable(v) -> c_int {
        c_int::from(crate::vcpu_irq::runnable(v))
    }
    /// `kvm_arch_vcpu_should_kick()`.
    fn kvm_arch_vcpu_should_kick(v) -> c_int {
        // CAST: a small enumerator.
        let in_guest = b::kvm_riscv_rs_const_KVM_RISCV_RS_IN_GUEST_MODE as c_int;
        c_int::from(v.exiting_guest_mode() == in_guest)
    }
    /// `kvm_arch_vcpu_in_kernel()` (a racy read, as upstream's).
    fn kvm_arch_vcpu_in_kernel(v) -> bool {
        // CAST: a low bit of SSTATUS.
        let spp = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
        v.guest_sstatus() & spp != 0
    }
    /// `kvm_arch_vcpu_get_ip()` (a racy read, as upstream's).
    fn kvm_arch_vcpu_get_ip(v) -> c_ulong {
        v.guest_sepc()
    }
    /// Raises a guest interrupt (C: AIA IMSIC, SBI extensions, timer users).
    fn kvm_riscv_vcpu_set_interrupt(v, irq: c_uint) -> c_int {
        errno(crate::vcpu_irq::set_interrupt(v, irq))
    }
    /// Lowers a guest interrupt.
    fn kvm_riscv_vcpu_unset_interrupt(v, irq: c_uint) -> c_int {
        errno(crate::vcpu_irq::unset_interrupt(v, irq))
    }
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
        let mut reader =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<b::kvm_interrupt>()).reader();
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
unsafe extern "C" fn kvm_arch_vcpu_ioctl(
    filp: *mut b::file,
    ioctl: c_uint,
    arg: c_ulong,
) -> c_long {
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
    let mut list: b::kvm_reg_list = UserSlice::new(UserPtr::from_addr(arg), header)
        .reader()
        .read()?;
    // Upstream keeps the user's count in an unsigned int: only its low 32
    // bits count.
    // CAST: that truncation, on purpose.
    let room = list.n as u32;
    let n = crate::onereg::num_regs(cx);
    list.n = u64::from_safe_cast(n);
    UserSlice::new(UserPtr::from_addr(arg), header)
        .writer()
        .write(&list)?;
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
// C ABI entry points of vcpu_exit.rs, vcpu_insn.rs

thread_entry! {
    /// `kvm_riscv_vcpu_unpriv_read()`, for the SBI v0.1 extension (C): the
    /// vCPU loaded on this CPU; `vcpu_exit_logic` valid and zeroed.
    fn kvm_riscv_vcpu_unpriv_read(
        cx,
        read_insn: bool,
        guest_addr: c_ulong,
        trap: *mut b::kvm_cpu_trap
    ) -> c_ulong {
        // SAFETY: the caller's record, valid and ours for the call.
        cx.unpriv_read(read_insn, guest_addr, unsafe { &mut *trap })
    }
    /// `kvm_riscv_vcpu_wfi()`, for the SBI HSM extension (C), with the SRCU
    /// read lock held.
    fn kvm_riscv_vcpu_wfi(cx) {
        crate::vcpu_insn::wfi(cx)
    }
}

// ---------------------------------------------------------------------------
// C ABI entry points of onereg.rs, vcpu_config.rs, isa.rs

// ---------------------------------------------------------------------------
// C ABI entry points of vm.rs

vm_entry! {
    /// Sets a new VM up (the generic core, creating it); 0 or a negative
    /// errno.
    fn kvm_arch_init_vm(vm, _type: c_ulong) -> c_int {
        errno(crate::vm::init(vm))
    }

    /// Tears a VM down (the generic core, destroying it).
    fn kvm_arch_destroy_vm(vm) {
        crate::vm::destroy(vm)
    }

    /// `KVM_IRQ_LINE`; `irql` is readable.
    fn kvm_vm_ioctl_irq_line(vm, irql: *mut b::kvm_irq_level, _line_status: bool) -> c_int {
        // SAFETY: readable (the contract); the union's `irq` member is the
        // one KVM_IRQ_LINE uses.
        let (irq, level) = unsafe { (*(*irql).__bindgen_anon_1.irq.as_ref(), (*irql).level) };
        crate::vm::irq_line(vm, irq, level)
    }

    /// Routes GSI i to APLIC wire i for `lines` lines (`aia_device.c`).
    fn kvm_riscv_setup_default_irq_routing(vm, lines: u32) -> c_int {
        crate::vm::setup_default_irq_routing(vm, lines)
    }

    /// Userspace may set routes once the in-kernel irqchip exists.
    fn kvm_arch_can_set_irq_routing(vm) -> bool {
        vm.irqchip_in_kernel()
    }

    /// Whether the in-kernel irqchip exists.
    fn kvm_arch_irqchip_in_kernel(vm) -> bool {
        vm.irqchip_in_kernel()
    }

    /// `KVM_ENABLE_CAP` on a VM; `cap` is readable.
    fn kvm_vm_ioctl_enable_cap(vm, cap: *mut b::kvm_enable_cap) -> c_int {
        // SAFETY: readable (the contract).
        let c = unsafe { &*cap };
        errno(crate::vm::enable_cap(vm, c.cap, c.flags, c.args[0]))
    }
}

/// The MSI route of in-kernel routing entry `e`, whatever its type says:
/// the generic core's `KVM_SIGNAL_MSI` passes an entry of which only the
/// MSI member is filled.
///
/// # Safety
/// `e` is a routing entry whose MSI member is filled.
unsafe fn msi_route(e: *const b::kvm_kernel_irq_routing_entry) -> crate::vm::Route {
    // SAFETY: the MSI member is filled (the caller's contract).
    let m = unsafe { (*e).__bindgen_anon_1.msi.as_ref() };
    crate::vm::Route::Msi {
        address_lo: m.address_lo,
        address_hi: m.address_hi,
        data: m.data,
        flags: m.flags,
        devid: m.devid,
    }
}

/// The irqchip route of in-kernel routing entry `e`.
///
/// # Safety
/// `e` is a routing entry whose irqchip member is filled.
unsafe fn irqchip_route(e: *const b::kvm_kernel_irq_routing_entry) -> crate::vm::Route {
    // SAFETY: the irqchip member is filled (the caller's contract).
    let c = unsafe { (*e).__bindgen_anon_1.irqchip.as_ref() };
    crate::vm::Route::Irqchip {
        irqchip: c.irqchip,
        pin: c.pin,
    }
}

/// The route an in-kernel routing entry holds, by its type.
///
/// # Safety
/// `e` is a routing entry `kvm_set_routing_entry()` filled.
unsafe fn route_of(e: *const b::kvm_kernel_irq_routing_entry) -> Option<crate::vm::Route> {
    // SAFETY: a filled entry (the caller's contract): its type says which
    // union member is in use.
    unsafe {
        match (*e).type_ {
            b::KVM_IRQ_ROUTING_IRQCHIP => Some(irqchip_route(e)),
            b::KVM_IRQ_ROUTING_MSI => Some(msi_route(e)),
            _ => None,
        }
    }
}

/// The `set` of an MSI route (`kvm_set_msi()`; also the generic core's
/// `KVM_SIGNAL_MSI`).
///
/// # Safety
/// `e`'s MSI member is filled (its type may not be); `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_set_msi(
    e: *mut b::kvm_kernel_irq_routing_entry,
    kvm: *mut b::kvm,
    _irq_source_id: c_int,
    level: c_int,
    _line_status: bool,
) -> c_int {
    // SAFETY: the caller's contract.
    let (vm, r) = unsafe { (Vm::from_raw(kvm), msi_route(e)) };
    crate::vm::set_irq(vm, &r, level)
}

/// The `set` of an irqchip route (`kvm_riscv_set_irq()`).
///
/// # Safety
/// `e` is an irqchip routing entry; `kvm` is a live VM.
unsafe extern "C" fn kvm_riscv_set_irq(
    e: *mut b::kvm_kernel_irq_routing_entry,
    kvm: *mut b::kvm,
    _irq_source_id: c_int,
    level: c_int,
    _line_status: bool,
) -> c_int {
    // SAFETY: the caller's contract.
    let (vm, r) = unsafe { (Vm::from_raw(kvm), irqchip_route(e)) };
    crate::vm::set_irq(vm, &r, level)
}

/// Fills in-kernel route `e` from userspace's `ue`: 0, or -EINVAL for an
/// unknown type or a pin or irqchip out of range.
///
/// # Safety
/// `e` is writable, `ue` readable.
#[no_mangle]
unsafe extern "C" fn kvm_set_routing_entry(
    _kvm: *mut b::kvm,
    e: *mut b::kvm_kernel_irq_routing_entry,
    ue: *const b::kvm_irq_routing_entry,
) -> c_int {
    // SAFETY: readable and writable (the caller's contract); the user
    // entry's type says which union member it filled; the in-kernel
    // entry's member is written to match the `set` chosen.
    unsafe {
        let (e, ue) = (&mut *e, &*ue);
        let r = match ue.type_ {
            b::KVM_IRQ_ROUTING_IRQCHIP => {
                let c = ue.u.irqchip.as_ref();
                e.set = Some(kvm_riscv_set_irq);
                *e.__bindgen_anon_1.irqchip.as_mut() =
                    b::kvm_kernel_irq_routing_entry__bindgen_ty_1__bindgen_ty_1 {
                        irqchip: c.irqchip,
                        pin: c.pin,
                    };
                crate::vm::Route::Irqchip {
                    irqchip: c.irqchip,
                    pin: c.pin,
                }
            }
            b::KVM_IRQ_ROUTING_MSI => {
                let m = ue.u.msi.as_ref();
                e.set = Some(kvm_set_msi);
                let k = e.__bindgen_anon_1.msi.as_mut();
                k.address_lo = m.address_lo;
                k.address_hi = m.address_hi;
                k.data = m.data;
                k.flags = ue.flags;
                k.devid = *m.__bindgen_anon_1.devid.as_ref();
                crate::vm::Route::Msi {
                    address_lo: k.address_lo,
                    address_hi: k.address_hi,
                    data: k.data,
                    flags: k.flags,
                    devid: k.devid,
                }
            }
            _ => return EINVAL.to_errno(),
        };
        if crate::vm::route_valid(&r) {
            0
        } else {
            EINVAL.to_errno()
        }
    }
}

/// Injection from irqfd, in atomic context; -EWOULDBLOCK to be retried
/// where it may sleep.
///
/// # Safety
/// `e` is a filled routing entry; `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_arch_set_irq_inatomic(
    e: *mut b::kvm_kernel_irq_routing_entry,
    kvm: *mut b::kvm,
    _irq_source_id: c_int,
    level: c_int,
    _line_status: bool,
) -> c_int {
    // SAFETY: the caller's contract.
    let (vm, r) = unsafe { (Vm::from_raw(kvm), route_of(e)) };
    crate::vm::set_irq_inatomic(vm, r.as_ref(), level)
}

/// `KVM_CHECK_EXTENSION`, on a VM or (`kvm` null) on `/dev/kvm`.
///
/// # Safety
/// `kvm` is null or a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_vm_ioctl_check_extension(kvm: *mut b::kvm, ext: c_long) -> c_int {
    // SAFETY: null or a live VM (the caller's contract).
    let vm = (!kvm.is_null()).then(|| unsafe { Vm::from_raw(kvm) });
    crate::vm::check_extension(vm, ext)
}

/// The architecture's VM ioctls: none.
#[no_mangle]
extern "C" fn kvm_arch_vm_ioctl(_filp: *mut b::file, _ioctl: c_uint, _arg: c_ulong) -> c_long {
    long(EINVAL.to_errno())
}

// ---------------------------------------------------------------------------
// C ABI entry points of mmu.rs: the generic core's memslot and MMU notifier
// callbacks

vm_entry! {
    /// The generic core write-protects the pages `mask` selects from
    /// `gfn_offset` of `slot` (dirty log get or clear): `slot` is the VM's,
    /// and the caller holds `slots_lock` and `mmu_lock` for writing.
    fn kvm_arch_mmu_enable_log_dirty_pt_masked(
        vm,
        slot: *mut b::kvm_memory_slot,
        gfn_offset: u64,
        mask: c_ulong
    ) {
        // SAFETY: the VM's memslot, and both locks held for the call (the
        // contract).
        let (slot, mut slots, mut locked) = unsafe {
            (
                Memslot::from_raw(slot),
                SlotsLocked::assume(vm),
                MmuWriteGuard::held_by_caller(vm),
            )
        };
        let mask = usize_as_u64(mask);
        crate::mmu::enable_log_dirty_pt_masked(&mut slots, &mut locked, slot, gfn_offset, mask)
    }

    /// The VM's mm goes away, or the VM is destroyed: the whole G-stage
    /// goes, and nothing uses the split cache any more.
    fn kvm_arch_flush_shadow_all(vm) {
        crate::mmu::free_pgd(vm);
        // SAFETY: nothing uses the cache any more (the contract).
        unsafe { vm.free_split_cache() };
    }

    /// A memslot of the VM, `slot`, is deleted or moved: its mappings go.
    fn kvm_arch_flush_shadow_memslot(vm, slot: *mut b::kvm_memory_slot) {
        // SAFETY: a live memslot (the contract).
        crate::mmu::flush_shadow_memslot(vm, unsafe { Memslot::from_raw(slot) })
    }

    /// After a memslot update; `new` is null (a deletion) or the new
    /// memslot; the caller holds `slots_lock`.
    fn kvm_arch_commit_memory_region(
        vm,
        _old: *mut b::kvm_memory_slot,
        new: *const b::kvm_memory_slot,
        change: b::kvm_mr_change
    ) {
        // SAFETY: null or a live memslot, and `slots_lock` held for the
        // call (the contract).
        let (new, mut slots) =
            unsafe { (new.as_ref().map(|p| Memslot::from_raw(p)), SlotsLocked::assume(vm)) };
        if let Some(change) = change_of(change) {
            crate::mmu::commit_memory_region(&mut slots, new, change)
        }
    }

    /// Before a memslot update: 0 or a negative errno; `new` is null (a
    /// deletion) or the new memslot.
    fn kvm_arch_prepare_memory_region(
        vm,
        _old: *const b::kvm_memory_slot,
        new: *mut b::kvm_memory_slot,
        change: b::kvm_mr_change
    ) -> c_int {
        // SAFETY: null or a live memslot (the contract).
        let new = unsafe { new.as_ref().map(|p| Memslot::from_raw(p)) };
        match (change_of(change), new) {
            (Some(c), Some(new)) => crate::mmu::prepare_memory_region(vm, new, c),
            _ => 0,
        }
    }
}

/// MMU notifier callbacks: the generic core holds the VM's `mmu_lock` for
/// writing and passes a readable range; the body gets `$locked` and the
/// range's frames `$start`, `$end` and `$may_block`.
macro_rules! notifier_entry {
    ($($(#[$m:meta])* fn $name:ident($locked:ident, $start:ident, $end:ident, $mb:ident) -> bool $body:block)*) => {$(
        vm_entry! {
            $(#[$m])*
            fn $name(vm, range: *mut b::kvm_gfn_range) -> bool {
                // SAFETY: a readable range, and `mmu_lock` held for writing
                // for the call (the contract).
                let (r, $locked) = unsafe { (&*range, crate::handle::MmuWriteLocked::assume(vm)) };
                let ($start, $end, $mb) = (r.start, r.end, r.may_block);
                $body
            }
        }
    )*};
}

notifier_entry! {
    /// A range of host memory goes (`kvm_unmap_gfn_range()`).
    fn kvm_unmap_gfn_range(locked, start, end, may_block) -> bool {
        crate::mmu::unmap_gfn_range(&locked, start, end, may_block)
    }

    /// Ages a range (`kvm_age_gfn()`): whether it was young.
    fn kvm_age_gfn(locked, start, end, _may_block) -> bool {
        crate::mmu::age_gfn(&locked, start, end)
    }

    /// Whether a range is young (`kvm_test_age_gfn()`).
    fn kvm_test_age_gfn(locked, start, end, _may_block) -> bool {
        crate::mmu::test_age_gfn(&locked, start, end)
    }
}

/// Nothing to sync: dirty bits are tracked by write faults.
#[no_mangle]
extern "C" fn kvm_arch_sync_dirty_log(_kvm: *mut b::kvm, _slot: *mut b::kvm_memory_slot) {}

/// Nothing of the architecture in a memslot.
#[no_mangle]
extern "C" fn kvm_arch_free_memslot(_kvm: *mut b::kvm, _slot: *mut b::kvm_memory_slot) {}

/// Nothing to do when the memslots change generation.
#[no_mangle]
extern "C" fn kvm_arch_memslots_updated(_kvm: *mut b::kvm, _gen: u64) {}

/// `enum kvm_mr_change`, `None` for a value it does not have.
fn change_of(c: b::kvm_mr_change) -> Option<crate::mmu::Change> {
    use crate::mmu::Change;
    match c {
        b::kvm_mr_change_KVM_MR_CREATE => Some(Change::Create),
        b::kvm_mr_change_KVM_MR_DELETE => Some(Change::Delete),
        b::kvm_mr_change_KVM_MR_MOVE => Some(Change::Move),
        b::kvm_mr_change_KVM_MR_FLAGS_ONLY => Some(Change::FlagsOnly),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// C ABI entry points of tlb.rs

vm_entry! {
    /// Flushes `nr_pages` pages at `gfn` from every vCPU's G-stage TLB (the
    /// generic core, `KVM_HAVE_ARCH_FLUSH_REMOTE_TLBS_RANGE`); 0.
    fn kvm_arch_flush_remote_tlbs_range(vm, gfn: u64, nr_pages: u64) -> c_int {
        crate::tlb::flush_remote_tlbs_range(vm, gfn, nr_pages);
        0
    }
}

// ---------------------------------------------------------------------------
// C ABI entry points of aia_aplic.rs (C `aia_device.c` calls them) and the
// APLIC's MMIO device

/// The MMIO operations of an in-kernel device (`struct kvm_io_device_ops`),
/// a Rust static named `$ops`: 32-bit accesses only (`EOPNOTSUPP`
/// otherwise), given to `$read(vm, addr, len) -> Result<u32>` and
/// `$write(vm, addr, len, value) -> Result`.
macro_rules! mmio_ops {
    ($(#[$m:meta])* $ops:ident: $read:path, $write:path) => {
        $(#[$m])*
        static $ops: b::kvm_io_device_ops = {
            /// A guest load: 0 with the value in `*val`, or a negative
            /// errno.
            ///
            /// # Safety
            /// The MMIO bus calls it for a live vCPU on its thread; `val`
            /// is writable for `len` bytes.
            unsafe extern "C" fn read(
                vcpu: *mut b::kvm_vcpu,
                _dev: *mut b::kvm_io_device,
                addr: b::gpa_t,
                len: c_int,
                val: *mut core::ffi::c_void,
            ) -> c_int {
                if len != 4 {
                    return EOPNOTSUPP.to_errno();
                }
                // SAFETY: a live vCPU (the caller's contract).
                let vm = unsafe { Vcpu::from_raw(vcpu) }.vm();
                match $read(vm, addr, len) {
                    Ok(v) => {
                        // SAFETY: 4 writable bytes (the contract), maybe
                        // unaligned.
                        unsafe { val.cast::<u32>().write_unaligned(v) };
                        0
                    }
                    Err(e) => e.to_errno(),
                }
            }

            /// A guest store: 0 or a negative errno.
            ///
            /// # Safety
            /// As `read`; `val` is readable for `len` bytes.
            unsafe extern "C" fn write(
                vcpu: *mut b::kvm_vcpu,
                _dev: *mut b::kvm_io_device,
                addr: b::gpa_t,
                len: c_int,
                val: *const core::ffi::c_void,
            ) -> c_int {
                if len != 4 {
                    return EOPNOTSUPP.to_errno();
                }
                // SAFETY: a live vCPU (the caller's contract).
                let vm = unsafe { Vcpu::from_raw(vcpu) }.vm();
                // SAFETY: 4 readable bytes (the contract), maybe unaligned.
                let v = unsafe { val.cast::<u32>().read_unaligned() };
                errno($write(vm, addr, len, v))
            }

            b::kvm_io_device_ops {
                read: Some(read),
                write: Some(write),
                destructor: None,
            }
        };
    };
}

mmio_ops! {
    /// The APLIC's MMIO operations (`aplic_iodoev_ops`).
    APLIC_IODEV_OPS: crate::aia_aplic::mmio_read, crate::aia_aplic::mmio_write
}

// ---------------------------------------------------------------------------
// C ABI entry points of aia_imsic.rs and aia_device.rs: the IMSIC's MMIO,
// the AIA device.

mmio_ops! {
    /// The IMSIC's MMIO operations (`imsic_iodoev_ops`).
    IMSIC_IODEV_OPS: crate::aia_imsic::mmio_read, crate::aia_imsic::mmio_write
}

/// The AIA device's operations (`kvm_riscv_aia_device_ops`), registered
/// at module load.
pub(crate) static AIA_DEVICE_OPS: crate::ffi::DeviceOps =
    crate::ffi::DeviceOps(b::kvm_device_ops {
        name: kernel::str::as_char_ptr_in_const_context(c"kvm-riscv-aia").cast(),
        create: Some(aia_create),
        init: None,
        destroy: Some(aia_destroy),
        release: None,
        set_attr: Some(aia_set_attr),
        get_attr: Some(aia_get_attr),
        has_attr: Some(aia_has_attr),
        ioctl: None,
        mmap: None,
    });

/// The MMIO operations the AIA device's init gives the APLIC and IMSICs.
const IODEV_OPS: crate::aia_device::IodevOps = crate::aia_device::IodevOps {
    aplic: &APLIC_IODEV_OPS,
    imsic: &IMSIC_IODEV_OPS,
};

/// The VM of an AIA device.
///
/// # Safety
/// `dev` is a live device of a live VM, for `'a`.
unsafe fn device_vm<'a>(dev: *mut b::kvm_device) -> &'a Vm {
    // SAFETY: per the function's contract.
    unsafe { Vm::from_raw((*dev).kvm) }
}

/// `KVM_CREATE_DEVICE` of the AIA device, `kvm->lock` held.
///
/// # Safety
/// The generic core passes a new device of a live VM.
unsafe extern "C" fn aia_create(dev: *mut b::kvm_device, _type: u32) -> c_int {
    // SAFETY: per the function's contract.
    errno(crate::aia_device::create(unsafe { device_vm(dev) }))
}

/// The device's file is closed, or its creation failed: it is freed (as
/// the generic core allocated it, `kzalloc()`).
///
/// # Safety
/// The generic core passes the device, used by nobody any more.
unsafe extern "C" fn aia_destroy(dev: *mut b::kvm_device) {
    // SAFETY: per the function's contract; `kfree()` takes the allocation.
    unsafe { kernel::bindings::kfree(dev.cast()) }
}

/// `KVM_SET_DEVICE_ATTR`.
///
/// # Safety
/// The generic core passes a live device and its attribute, readable.
unsafe extern "C" fn aia_set_attr(dev: *mut b::kvm_device, attr: *mut b::kvm_device_attr) -> c_int {
    // SAFETY: per the function's contract.
    let (vm, a) = unsafe { (device_vm(dev), &*attr) };
    errno(crate::aia_device::set_attr(
        vm, &IODEV_OPS, a.group, a.attr, a.addr,
    ))
}

/// `KVM_GET_DEVICE_ATTR`.
///
/// # Safety
/// As [`aia_set_attr`].
unsafe extern "C" fn aia_get_attr(dev: *mut b::kvm_device, attr: *mut b::kvm_device_attr) -> c_int {
    // SAFETY: per the function's contract.
    let (vm, a) = unsafe { (device_vm(dev), &*attr) };
    errno(crate::aia_device::get_attr(vm, a.group, a.attr, a.addr))
}

/// `KVM_HAS_DEVICE_ATTR`.
///
/// # Safety
/// As [`aia_set_attr`].
unsafe extern "C" fn aia_has_attr(dev: *mut b::kvm_device, attr: *mut b::kvm_device_attr) -> c_int {
    // SAFETY: per the function's contract.
    let (vm, a) = unsafe { (device_vm(dev), &*attr) };
    errno(crate::aia_device::has_attr(vm, a.group, a.attr))
}

// ---------------------------------------------------------------------------
// C ABI entry points of aia.rs, main.rs, vcpu_stats.rs

/// Called by the generic KVM core on each CPU where virtualization starts.
///
/// # Safety
/// The generic core calls it on the CPU being enabled, preemption off.
#[no_mangle]
unsafe extern "C" fn kvm_arch_enable_virtualization_cpu() -> c_int {
    errno(crate::main::enable_virtualization_cpu())
}

/// Called by the generic KVM core on each CPU where virtualization stops.
///
/// # Safety
/// The generic core calls it on the CPU being disabled, preemption off.
#[no_mangle]
unsafe extern "C" fn kvm_arch_disable_virtualization_cpu() {
    crate::main::disable_virtualization_cpu()
}

/// The `/dev/kvm` ioctls the generic core does not know.
///
/// # Safety
/// Nothing is dereferenced.
#[no_mangle]
unsafe extern "C" fn kvm_arch_dev_ioctl(
    _filp: *mut b::file,
    ioctl: c_uint,
    arg: c_ulong,
) -> c_long {
    long(crate::main::dev_ioctl(ioctl, arg))
}

/// The SGEI interrupt, from the C trampoline of `helpers.c` (which returns
/// `IRQ_HANDLED`).
///
/// # Safety
/// Called in the hard-IRQ handler of the per-CPU SGEI interrupt.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_aia_hgei_handler() {
    crate::aia::hgei_interrupt()
}

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
use crate::handle::{Vcpu, VcpuCtx, Vm};
use crate::vcpu_irq::IRQ_VS_EXT;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::num::casts::FromSafeCast;
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

/// `__kvm_riscv_isa_check_host()` (`kvm_riscv_isa_check_host()` of the AIA
/// device): 0 with `*base` set to the host extension behind KVM extension
/// `ext` (if `base` is not null), or -ENOENT.
///
/// # Safety
/// `base` is null or valid for a write.
#[no_mangle]
unsafe extern "C" fn __kvm_riscv_isa_check_host(ext: c_ulong, base: *mut c_ulong) -> c_int {
    let Some(host) = crate::isa::host_base(ext) else {
        return ENOENT.to_errno();
    };
    // SAFETY: per the function's contract.
    if let Some(out) = unsafe { base.as_mut() } {
        *out = c_ulong::from_safe_cast(host);
    }
    0
}

// ---------------------------------------------------------------------------
// C ABI entry points of vm.rs

/// Sets a new VM up (the generic core, creating it); 0 or a negative errno.
///
/// # Safety
/// `kvm` is a VM being created, by its creator.
#[no_mangle]
unsafe extern "C" fn kvm_arch_init_vm(kvm: *mut b::kvm, _type: c_ulong) -> c_int {
    // SAFETY: a live VM (the caller's contract).
    errno(crate::vm::init(unsafe { Vm::from_raw(kvm) }))
}

/// Tears a VM down (the generic core, destroying it).
///
/// # Safety
/// `kvm` is a VM being destroyed, by its last user.
#[no_mangle]
unsafe extern "C" fn kvm_arch_destroy_vm(kvm: *mut b::kvm) {
    // SAFETY: a live VM (the caller's contract).
    crate::vm::destroy(unsafe { Vm::from_raw(kvm) })
}

/// `KVM_IRQ_LINE`.
///
/// # Safety
/// `kvm` is a live VM; `irql` is readable.
#[no_mangle]
unsafe extern "C" fn kvm_vm_ioctl_irq_line(
    kvm: *mut b::kvm,
    irql: *mut b::kvm_irq_level,
    _line_status: bool,
) -> c_int {
    // SAFETY: readable (the caller's contract); the union's `irq` member is
    // the one KVM_IRQ_LINE uses.
    let (irq, level) = unsafe { (*(*irql).__bindgen_anon_1.irq.as_ref(), (*irql).level) };
    // SAFETY: a live VM (the caller's contract).
    crate::vm::irq_line(unsafe { Vm::from_raw(kvm) }, irq, level)
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

/// Routes GSI i to APLIC wire i for `lines` lines (`aia_device.c`).
///
/// # Safety
/// `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_setup_default_irq_routing(kvm: *mut b::kvm, lines: u32) -> c_int {
    // SAFETY: a live VM (the caller's contract).
    crate::vm::setup_default_irq_routing(unsafe { Vm::from_raw(kvm) }, lines)
}

/// Userspace may set routes once the in-kernel irqchip exists.
///
/// # Safety
/// `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_arch_can_set_irq_routing(kvm: *mut b::kvm) -> bool {
    // SAFETY: a live VM (the caller's contract).
    unsafe { Vm::from_raw(kvm) }.irqchip_in_kernel()
}

/// Whether the in-kernel irqchip exists.
///
/// # Safety
/// `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_arch_irqchip_in_kernel(kvm: *mut b::kvm) -> bool {
    // SAFETY: a live VM (the caller's contract).
    unsafe { Vm::from_raw(kvm) }.irqchip_in_kernel()
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

/// `KVM_ENABLE_CAP` on a VM.
///
/// # Safety
/// `kvm` is a live VM; `cap` is readable.
#[no_mangle]
unsafe extern "C" fn kvm_vm_ioctl_enable_cap(
    kvm: *mut b::kvm,
    cap: *mut b::kvm_enable_cap,
) -> c_int {
    // SAFETY: readable (the caller's contract).
    let c = unsafe { &*cap };
    // SAFETY: a live VM (the caller's contract).
    errno(crate::vm::enable_cap(
        unsafe { Vm::from_raw(kvm) },
        c.cap,
        c.flags,
        c.args[0],
    ))
}

/// The architecture's VM ioctls: none.
#[no_mangle]
extern "C" fn kvm_arch_vm_ioctl(_filp: *mut b::file, _ioctl: c_uint, _arg: c_ulong) -> c_long {
    long(EINVAL.to_errno())
}

// ---------------------------------------------------------------------------
// C ABI entry points of gstage.rs (C `mmu.c` calls them, under `mmu_lock`
// or owning the VM, with its own `struct kvm_gstage` and page caches)

/// `KVM_GSTAGE_FLAGS_LOCAL`.
const GSTAGE_FLAGS_LOCAL: c_ulong = 1 << 0;

/// The walker of the tables `g` describes, with new tables from `pcache`
/// (may be null); `write_locked`: the caller holds `mmu_lock` for writing.
///
/// # Safety
/// `g` is a live `struct kvm_gstage` of a live VM whose tables the caller
/// keeps alive and serialised (`mmu_lock`, or owning the VM); `pcache` is
/// null or the caller's cache of zeroed pages; `write_locked` only if the
/// caller holds the VM's `mmu_lock` for writing.
unsafe fn gstage_of<'a>(
    g: *const b::kvm_gstage,
    pcache: *mut b::kvm_mmu_memory_cache,
    write_locked: bool,
) -> Option<crate::gstage::GStage<'a>> {
    // SAFETY: a live struct (the caller's contract).
    let g = unsafe { &*g };
    // SAFETY: the VM is live (the caller's contract).
    let vm = unsafe { crate::handle::Vm::from_raw(g.kvm) };
    let local = g.flags & GSTAGE_FLAGS_LOCAL != 0;
    let locked = if write_locked && !local {
        g.kvm
    } else {
        core::ptr::null_mut()
    };
    // SAFETY: the VM's root and the caller's cache and lock (the caller's
    // contract, as `Tables::new` requires).
    let mem = unsafe { crate::pgtable::Tables::new(g.pgd.cast(), pcache, locked) }?;
    // CAST: 3 to 5 levels.
    Some(crate::gstage::GStage::new(
        mem,
        vm,
        g.pgd_levels as u32,
        g.vmid,
        local,
    ))
}

/// The leaf that maps `addr`: its PTE in `*ptepp` and its level in
/// `*ptep_level` (where the walk stopped, when there is none).
///
/// # Safety
/// As [`gstage_of`]; `ptepp` and `ptep_level` are writable.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_get_leaf(
    gstage: *mut b::kvm_gstage,
    addr: u64,
    ptepp: *mut *mut b::pte_t,
    ptep_level: *mut u32,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(g) = (unsafe { gstage_of(gstage, core::ptr::null_mut(), false) }) else {
        return false;
    };
    let (found, level) = match crate::gstage::get_leaf(&g, addr) {
        Ok((p, level)) => (Some(p), level),
        Err(level) => (None, level),
    };
    // SAFETY: writable (the caller's contract).
    unsafe { ptep_level.write(level) };
    if let Some(p) = found {
        // SAFETY: writable (the caller's contract).
        unsafe { ptepp.write(p.table.entry_ptr(p.index).cast()) };
    }
    found.is_some()
}

/// Installs `*map`; 0, -EINVAL, -EEXIST or -ENOMEM.
///
/// # Safety
/// As [`gstage_of`]; `map` is readable.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_set_pte(
    gstage: *mut b::kvm_gstage,
    pcache: *mut b::kvm_mmu_memory_cache,
    map: *const b::kvm_gstage_mapping,
) -> c_int {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, pcache, false) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: readable (the caller's contract).
    let m = unsafe { &*map };
    let map = crate::gstage_logic::Mapping {
        addr: m.addr,
        pte: crate::regs_logic::xlen_to_u64(m.pte.pte),
        level: m.level,
    };
    map_errno(crate::gstage::set_pte(&mut g, &map))
}

/// The walker's failure as upstream's errno.
fn map_errno(r: core::result::Result<(), crate::gstage_logic::MapError>) -> c_int {
    use crate::gstage_logic::MapError;
    match r {
        Ok(()) => 0,
        Err(MapError::Invalid) => EINVAL.to_errno(),
        Err(MapError::Exists) => EEXIST.to_errno(),
        Err(MapError::NoMem) => ENOMEM.to_errno(),
    }
}

/// Replaces `old_pte` by `new_pte` at `ptep` (a leaf at `level` mapping
/// `addr`) if it still holds it.
///
/// # Safety
/// As [`gstage_of`]; `ptep` is a PTE `kvm_riscv_gstage_get_leaf()` gave
/// for these tables, under the same hold of `mmu_lock`.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_try_update_pte(
    gstage: *mut b::kvm_gstage,
    level: u32,
    addr: u64,
    ptep: *mut b::pte_t,
    old_pte: b::pte_t,
    new_pte: b::pte_t,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, core::ptr::null_mut(), false) }) else {
        return false;
    };
    // SAFETY: a PTE of these tables (the caller's contract).
    let Some(table) = (unsafe { crate::pgtable::Table::of_entry(ptep.cast()) }) else {
        return false;
    };
    let p = crate::gstage_logic::Ptep { table, index: 0 };
    let (old, new) = (
        crate::regs_logic::xlen_to_u64(old_pte.pte),
        crate::regs_logic::xlen_to_u64(new_pte.pte),
    );
    crate::gstage::try_update(&mut g, level, addr, p, old, new)
}

/// Maps `page_size` bytes at `gpa` to `hpa`; the mapping in `*out_map`
/// (address and level always, the PTE when one was installed); 0 or
/// upstream's errno.
///
/// # Safety
/// As [`gstage_of`]; `out_map` is writable.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_map_page(
    gstage: *mut b::kvm_gstage,
    pcache: *mut b::kvm_mmu_memory_cache,
    gpa: u64,
    hpa: u64,
    page_size: c_ulong,
    page_rdonly: bool,
    page_exec: bool,
    out_map: *mut b::kvm_gstage_mapping,
) -> c_int {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, pcache, false) }) else {
        return EINVAL.to_errno();
    };
    let size = kernel::num::casts::usize_as_u64(page_size);
    let (map, r) = crate::gstage::map_page(&mut g, gpa, hpa, size, page_rdonly, page_exec);
    // SAFETY: writable (the caller's contract).
    let out = unsafe { &mut *out_map };
    out.addr = map.addr;
    out.level = map.level;
    if map.pte != 0 {
        out.pte.pte = crate::regs_logic::u64_to_xlen(map.pte);
    }
    map_errno(r)
}

/// Splits the huge leaves that map `addr` down to `target_level`: whether
/// a TLB flush is still due (only when `flush` is false).
///
/// # Safety
/// As [`gstage_of`].
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_split_huge(
    gstage: *mut b::kvm_gstage,
    pcache: *mut b::kvm_mmu_memory_cache,
    addr: u64,
    target_level: u32,
    flush: bool,
) -> bool {
    // Without a cache nothing can be split (upstream returns first).
    if pcache.is_null() {
        return false;
    }
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, pcache, false) }) else {
        return false;
    };
    crate::gstage::split_huge(&mut g, addr, target_level, flush)
}

/// Unmaps `size` bytes at `start`: whether a TLB flush is due. With
/// `may_block` (and tables not `LOCAL`) the caller holds `mmu_lock` for
/// writing, which the walk may yield.
///
/// # Safety
/// As [`gstage_of`], and the `mmu_lock` hold just said.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_unmap_range(
    gstage: *mut b::kvm_gstage,
    start: u64,
    size: u64,
    may_block: bool,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, core::ptr::null_mut(), may_block) }) else {
        return false;
    };
    crate::gstage::unmap_range(&mut g, start, size, may_block)
}

/// Write-protects `[start, end)`: whether a TLB flush is due.
///
/// # Safety
/// As [`gstage_of`].
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_wp_range(
    gstage: *mut b::kvm_gstage,
    start: u64,
    end: u64,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, core::ptr::null_mut(), false) }) else {
        return false;
    };
    crate::gstage::wp_range(&mut g, start, end)
}

/// Write-protects the gfns of `mask` from `base_gfn`: whether a TLB flush
/// is due.
///
/// # Safety
/// As [`gstage_of`].
#[no_mangle]
unsafe extern "C" fn kvm_riscv_gstage_wp_pt_masked(
    gstage: *mut b::kvm_gstage,
    base_gfn: u64,
    mask: c_ulong,
) -> bool {
    // SAFETY: the caller's contract.
    let Some(mut g) = (unsafe { gstage_of(gstage, core::ptr::null_mut(), false) }) else {
        return false;
    };
    crate::gstage::wp_pt_masked(&mut g, base_gfn, kernel::num::casts::usize_as_u64(mask))
}

// ---------------------------------------------------------------------------
// C ABI entry points of tlb.rs and vmid.rs

/// Flushes this hart's G-stage entries of `vmid` for `gpsz` bytes at `gpa`
/// (`gstage.c`).
#[no_mangle]
extern "C" fn kvm_riscv_local_hfence_gvma_vmid_gpa(
    vmid: c_ulong,
    gpa: u64,
    gpsz: u64,
    order: c_ulong,
) {
    crate::tlb::local_hfence_gvma_vmid_gpa(vmid, gpa, gpsz, order)
}

/// Flushes every G-stage entry of this hart (`gstage.c`, `mmu.c`).
#[no_mangle]
extern "C" fn kvm_riscv_local_hfence_gvma_all() {
    crate::tlb::local_hfence_gvma_all()
}

/// Asks the vCPUs `hbase`/`hmask` name to flush their G-stage entries of
/// `vmid` for `gpsz` bytes at `gpa` (`gstage.c`).
///
/// # Safety
/// `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_hfence_gvma_vmid_gpa(
    kvm: *mut b::kvm,
    hbase: c_ulong,
    hmask: c_ulong,
    gpa: u64,
    gpsz: u64,
    order: c_ulong,
    vmid: c_ulong,
) {
    // SAFETY: a live VM (the caller's contract).
    let vm = unsafe { crate::handle::Vm::from_raw(kvm) };
    let harts = crate::tlb_logic::HartMask {
        base: hbase,
        mask: hmask,
    };
    crate::tlb::hfence_gvma_vmid_gpa(vm, harts, gpa, gpsz, order, vmid)
}

/// Flushes `nr_pages` pages at `gfn` from every vCPU's G-stage TLB (the
/// generic core, `KVM_HAVE_ARCH_FLUSH_REMOTE_TLBS_RANGE`); 0.
///
/// # Safety
/// `kvm` is a live VM.
#[no_mangle]
unsafe extern "C" fn kvm_arch_flush_remote_tlbs_range(
    kvm: *mut b::kvm,
    gfn: u64,
    nr_pages: u64,
) -> c_int {
    // SAFETY: a live VM (the caller's contract).
    crate::tlb::flush_remote_tlbs_range(unsafe { crate::handle::Vm::from_raw(kvm) }, gfn, nr_pages);
    0
}

/// The VMID width in use, 0 without VMIDs (`mmu.c`).
#[no_mangle]
extern "C" fn kvm_riscv_gstage_vmid_bits() -> c_ulong {
    kernel::num::casts::u32_as_usize(crate::vmid::bits())
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

/// `aia_imsic.c` takes a free HGEI line of `cpu` for `owner`'s guest
/// interrupt file: its number, or a negative errno. The file's mapping and
/// address go to `hgei_va`/`hgei_pa` when they are not null.
///
/// # Safety
/// `owner` is a live vCPU that frees the line (`kvm_riscv_aia_free_hgei()`)
/// before it goes away; `hgei_va`, `hgei_pa` are null or valid for a write.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_aia_alloc_hgei(
    cpu: c_int,
    owner: *mut b::kvm_vcpu,
    hgei_va: *mut *mut core::ffi::c_void,
    hgei_pa: *mut b::phys_addr_t,
) -> c_int {
    // SAFETY: per the function's contract, the owner outlives its line.
    let owner = unsafe { crate::handle::HgeiOwner::new(Vcpu::from_raw(owner)) };
    let (line, file) = crate::aia::alloc_hgei(cpu, owner);
    if let Some(file) = file {
        // SAFETY: per the function's contract, null or valid for a write.
        if let Some(out) = unsafe { hgei_va.as_mut() } {
            *out = file.va;
        }
        // SAFETY: as above.
        if let Some(out) = unsafe { hgei_pa.as_mut() } {
            *out = file.pa;
        }
    }
    line
}

/// `aia_imsic.c` gives HGEI line `hgei` of `cpu` back.
///
/// # Safety
/// Nothing is dereferenced; any values are checked.
#[no_mangle]
unsafe extern "C" fn kvm_riscv_aia_free_hgei(cpu: c_int, hgei: c_int) {
    crate::aia::free_hgei(cpu, hgei)
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

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/aia_device.c`: the in-kernel AIA irqchip as a
//! KVM device (`KVM_DEV_TYPE_RISCV_AIA`): its attributes (configuration,
//! addresses, init, the APLIC's and IMSICs' registers), its init, which
//! creates the APLIC and every vCPU's IMSIC, MSI and wire injection, and
//! the vCPU and VM hooks.
//!
//! `kvm->lock` serialises the attributes, as upstream; an IMSIC address is
//! also written under its vCPU's mutex.

use crate::aia_device_logic::{self as l, Config, Layout};
use crate::bindings as b;
use crate::handle::{VcpuCtx, Vm};
use crate::onereg::user;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;
use kernel::sync::atomic::Relaxed;

/// The MMIO operations of the APLIC and of an IMSIC page (C ABI statics).
pub(crate) struct IodevOps {
    pub(crate) aplic: &'static b::kvm_io_device_ops,
    pub(crate) imsic: &'static b::kvm_io_device_ops,
}

/// The host's guest files a hart, and IMSIC identities (0 included).
fn host_limits() -> (i32, u32) {
    (
        crate::aia::kvm_riscv_aia_nr_hgei.load(Relaxed),
        crate::aia::kvm_riscv_aia_max_ids.load(Relaxed),
    )
}

/// The VM's IMSIC address layout.
fn layout(vm: &Vm) -> Layout {
    Layout {
        group_bits: vm.aia_get(Config::GroupBits),
        group_shift: vm.aia_get(Config::GroupShift),
        hart_bits: vm.aia_get(Config::HartBits),
        guest_bits: vm.aia_get(Config::GuestBits),
    }
}

/// `KVM_CREATE_DEVICE` (`aia_create()`), `kvm->lock` held: `EEXIST` for a
/// second irqchip, `ENODEV` without Ssaia, `EBUSY` once a vCPU ran (or
/// while one is in an ioctl).
pub(crate) fn create(vm: &Vm) -> Result {
    if vm.irqchip_in_kernel() {
        return Err(EEXIST);
    }
    if !crate::isa::host_supports(crate::isa_logic::Ext::SSAIA) {
        return Err(ENODEV);
    }
    let _all = vm.trylock_all_vcpus().ok_or(EBUSY)?;
    if vm.vcpus().any(|v| v.ran_once()) {
        return Err(EBUSY);
    }
    vm.set_irqchip_in_kernel();
    Ok(())
}

/// A configuration attribute, read or written (`aia_config()`).
fn config(vm: &Vm, attr: u64, nr: &mut u32, write: bool) -> Result {
    if write && vm.aia_initialized() {
        return Err(EBUSY);
    }
    let c = Config::from_attr(attr).ok_or(ENXIO)?;
    if write {
        let (nr_hgei, max_ids) = host_limits();
        if !c.valid(*nr, nr_hgei, max_ids) {
            return Err(EINVAL);
        }
        vm.aia_set(c, *nr);
    } else {
        *nr = vm.aia_get(c);
    }
    Ok(())
}

/// The APLIC's address, read or written (`aia_aplic_addr()`).
fn aplic_addr(vm: &Vm, addr: &mut u64, write: bool) -> Result {
    if write {
        if vm.aia_initialized() {
            return Err(EBUSY);
        }
        if *addr & (l::APLIC_ALIGN - 1) != 0 {
            return Err(EINVAL);
        }
        vm.set_aplic_addr(*addr);
    } else {
        *addr = vm.aplic_addr();
    }
    Ok(())
}

/// The IMSIC address of the vCPU of index `idx`, read or written
/// (`aia_imsic_addr()`).
fn imsic_addr(vm: &Vm, addr: &mut u64, idx: u64, write: bool) -> Result {
    let v = u32::try_from(idx)
        .ok()
        .and_then(|i| vm.vcpu(i))
        .ok_or(EINVAL)?;
    if write {
        if vm.aia_initialized() {
            return Err(EBUSY);
        }
        if *addr & (l::IMSIC_ALIGN - 1) != 0 {
            return Err(EINVAL);
        }
    }
    v.with_mutex(|| {
        if write {
            v.set_imsic_addr(*addr);
        } else {
            *addr = v.imsic_addr();
        }
    });
    Ok(())
}

/// An address attribute, `kvm->lock` held: the APLIC's, or vCPU
/// `attr - 1`'s IMSIC's for the vCPUs online; `ENXIO` otherwise.
fn addr_attr(vm: &Vm, attr: u64, addr: &mut u64, write: bool, nr_vcpus: u32) -> Result {
    if attr == l::ADDR_APLIC {
        aplic_addr(vm, addr, write)
    } else if attr < 1 + u64::from(nr_vcpus) {
        imsic_addr(vm, addr, attr - 1, write)
    } else {
        Err(ENXIO)
    }
}

/// `KVM_DEV_RISCV_AIA_CTRL_INIT` (`aia_init()`), `kvm->lock` held: checks
/// the configuration, creates the APLIC and every vCPU's IMSIC, and marks
/// the irqchip initialised.
fn init(vm: &Vm, ops: &IodevOps) -> Result {
    if vm.aia_initialized() {
        return Err(EBUSY);
    }
    // A vCPU being created?
    if vm.created_vcpus() != vm.online_vcpus() {
        return Err(EBUSY);
    }
    if vm.aia_get(Config::Ids) < vm.aia_get(Config::Srcs) {
        return Err(EINVAL);
    }
    if vm.aia_get(Config::Srcs) != 0 && vm.aplic_addr() == l::UNDEF_ADDR {
        return Err(EINVAL);
    }
    let lay = layout(vm);
    if lay.overlaps() {
        return Err(EINVAL);
    }
    crate::aia_aplic::init(vm, ops.aplic)?;
    let mut base_ppn = None;
    let mut done = 0;
    let mut rc = Ok(());
    for v in vm.vcpus() {
        let addr = v.imsic_addr();
        if addr == l::UNDEF_ADDR {
            rc = Err(EINVAL);
            break;
        }
        // Every IMSIC in the same place, but for the index bits.
        let ppn = lay.imsic_ppn(addr);
        if *base_ppn.get_or_insert(ppn) != ppn {
            rc = Err(EINVAL);
            break;
        }
        v.set_hart_index(lay.hart_index(addr));
        rc = crate::aia_imsic::init(v, ops.imsic);
        if rc.is_err() {
            break;
        }
        done += 1;
    }
    if let Err(e) = rc {
        for v in vm.vcpus().take(done) {
            crate::aia_imsic::cleanup(v);
        }
        crate::aia_aplic::cleanup(vm);
        return Err(e);
    }
    vm.set_aia_initialized();
    Ok(())
}

/// Reads a `T` from userspace at `addr`: `EFAULT` if it cannot.
fn read_user<T: kernel::transmute::FromBytes>(addr: u64) -> Result<T> {
    user(addr, size_of::<T>()).reader().read::<T>()
}

/// Writes `v` to userspace at `addr`: `EFAULT` if it cannot.
fn write_user<T: kernel::transmute::AsBytes>(addr: u64, v: &T) -> Result {
    user(addr, size_of::<T>()).writer().write(v)
}

/// `KVM_SET_DEVICE_ATTR` (`aia_set_attr()`): `ENXIO` for what the device
/// does not have.
pub(crate) fn set_attr(vm: &Vm, ops: &IodevOps, group: u32, attr: u64, uaddr: u64) -> Result {
    match group {
        l::GRP_CONFIG => {
            let mut nr: u32 = read_user(uaddr)?;
            vm.with_kvm_lock(|| config(vm, attr, &mut nr, true))
        }
        l::GRP_ADDR => {
            let mut addr: u64 = read_user(uaddr)?;
            let nr_vcpus = vm.online_vcpus();
            vm.with_kvm_lock(|| addr_attr(vm, attr, &mut addr, true, nr_vcpus))
        }
        l::GRP_CTRL if attr == l::CTRL_INIT => vm.with_kvm_lock(|| init(vm, ops)),
        l::GRP_APLIC => {
            let nr: u32 = read_user(uaddr)?;
            vm.with_kvm_lock(|| crate::aia_aplic::set_attr(vm, attr, nr))
        }
        l::GRP_IMSIC => {
            let v: c_ulong = read_user(uaddr)?;
            let mut v64 = crate::regs_logic::xlen_to_u64(v);
            vm.with_kvm_lock(|| crate::aia_imsic::rw_attr(vm, attr, true, &mut v64))
        }
        _ => Err(ENXIO),
    }
}

/// `KVM_GET_DEVICE_ATTR` (`aia_get_attr()`): the user buffer is read
/// first, as upstream, then written with the value.
pub(crate) fn get_attr(vm: &Vm, group: u32, attr: u64, uaddr: u64) -> Result {
    match group {
        l::GRP_CONFIG => {
            let mut nr: u32 = read_user(uaddr)?;
            vm.with_kvm_lock(|| config(vm, attr, &mut nr, false))?;
            write_user(uaddr, &nr)
        }
        l::GRP_ADDR => {
            let mut addr: u64 = read_user(uaddr)?;
            let nr_vcpus = vm.online_vcpus();
            vm.with_kvm_lock(|| addr_attr(vm, attr, &mut addr, false, nr_vcpus))?;
            write_user(uaddr, &addr)
        }
        l::GRP_APLIC => {
            let _: u32 = read_user(uaddr)?;
            let nr = vm.with_kvm_lock(|| crate::aia_aplic::get_attr(vm, attr))?;
            write_user(uaddr, &nr)
        }
        l::GRP_IMSIC => {
            let v: c_ulong = read_user(uaddr)?;
            let mut v64 = crate::regs_logic::xlen_to_u64(v);
            vm.with_kvm_lock(|| crate::aia_imsic::rw_attr(vm, attr, false, &mut v64))?;
            write_user(uaddr, &crate::regs_logic::u64_to_xlen(v64))
        }
        _ => Err(ENXIO),
    }
}

/// `KVM_HAS_DEVICE_ATTR` (`aia_has_attr()`).
pub(crate) fn has_attr(vm: &Vm, group: u32, attr: u64) -> Result {
    match group {
        l::GRP_CONFIG if Config::from_attr(attr).is_some() => Ok(()),
        l::GRP_ADDR if attr == l::ADDR_APLIC || attr < 1 + u64::from(vm.online_vcpus()) => Ok(()),
        l::GRP_CTRL if attr == l::CTRL_INIT => Ok(()),
        l::GRP_APLIC => vm.with_kvm_lock(|| crate::aia_aplic::has_attr(vm, attr)),
        l::GRP_IMSIC => vm.with_kvm_lock(|| crate::aia_imsic::has_attr(vm, attr)),
        _ => Err(ENXIO),
    }
}

// ---------------------------------------------------------------------------
// The vCPU hooks.

/// Before entering the guest: the vCPU's IMSIC to a guest file of this CPU,
/// once the AIA device is initialised (`kvm_riscv_vcpu_aia_update()`),
/// preemption off. > 0 to enter.
pub(crate) fn vcpu_update(cx: &mut VcpuCtx<'_>) -> c_int {
    if !cx.vcpu().vm().aia_initialized() {
        return 1;
    }
    crate::aia_imsic::update(cx)
}

/// The vCPU's AIA reset: its AIA CSRs to 0, and its IMSIC
/// (`kvm_riscv_vcpu_aia_reset()`).
pub(crate) fn vcpu_reset(cx: &mut VcpuCtx<'_>) {
    if !crate::aia::available() {
        return;
    }
    *cx.parts().aia_csr = Default::default();
    if !cx.vcpu().vm().aia_initialized() {
        return;
    }
    crate::aia_imsic::reset(cx.vcpu());
}

/// A new vCPU: no IMSIC address yet, its index as hart index
/// (`kvm_riscv_vcpu_aia_init()`); nothing is allocated before the device's
/// init.
pub(crate) fn vcpu_init(cx: &mut VcpuCtx<'_>) {
    if !crate::aia::available() {
        return;
    }
    let v = cx.vcpu();
    v.set_imsic_addr(l::UNDEF_ADDR);
    v.set_hart_index(v.idx());
}

/// The vCPU's teardown frees its IMSIC (`kvm_riscv_vcpu_aia_deinit()`).
pub(crate) fn vcpu_deinit(cx: &mut VcpuCtx<'_>) {
    if !cx.vcpu().vm().aia_initialized() {
        return;
    }
    crate::aia_imsic::cleanup(cx.vcpu());
}

// ---------------------------------------------------------------------------
// Injection, and the VM hooks.

/// An MSI `iid` to guest file `guest` of the vCPU whose hart index is
/// `hart` (`kvm_riscv_aia_inject_msi_by_id()`): 0 (no such vCPU too), or a
/// negative errno (`EBUSY` before the init).
pub(crate) fn inject_msi_by_id(vm: &Vm, hart: u32, guest: u32, iid: u32) -> c_int {
    if !vm.aia_initialized() {
        return EBUSY.to_errno();
    }
    match vm.vcpus().find(|v| v.hart_index() == hart) {
        Some(v) => errno(crate::aia_imsic::inject(v, guest, 0, iid)),
        None => 0,
    }
}

/// An MSI to the IMSIC page its address names
/// (`kvm_riscv_aia_inject_msi()`): 0 (no such IMSIC too), or a negative
/// errno.
pub(crate) fn inject_msi(vm: &Vm, msi: &b::kvm_msi) -> c_int {
    if !vm.aia_initialized() {
        return EBUSY.to_errno();
    }
    let target = (u64::from(msi.address_hi) << 32) | u64::from(msi.address_lo);
    let (tppn, guest) = layout(vm).msi_target(target);
    let toff = target & ((1 << l::PAGE_SHIFT) - 1);
    match vm.vcpus().find(|v| v.imsic_addr() >> l::PAGE_SHIFT == tppn) {
        // CAST: a page offset, below 4096.
        Some(v) => errno(crate::aia_imsic::inject(v, guest, toff as u32, msi.data)),
        None => 0,
    }
}

/// Wire `irq` of the APLIC to `level` (`kvm_riscv_aia_inject_irq()`).
pub(crate) fn inject_irq(vm: &Vm, irq: u32, level: bool) -> c_int {
    if !vm.aia_initialized() {
        return EBUSY.to_errno();
    }
    crate::aia_aplic::inject(vm, irq, level)
}

/// A new VM's AIA defaults (`kvm_riscv_aia_init_vm()`): `auto` mode where
/// the host has guest files, else `emul`; every identity; no sources;
/// no index bits; no APLIC address.
pub(crate) fn init_vm(vm: &Vm) {
    if !crate::aia::available() {
        return;
    }
    let (nr_hgei, max_ids) = host_limits();
    let mode = if nr_hgei != 0 {
        l::MODE_AUTO
    } else {
        l::MODE_EMUL
    };
    vm.aia_set(Config::Mode, mode);
    vm.aia_set(Config::Ids, max_ids.wrapping_sub(1));
    vm.aia_set(Config::Srcs, 0);
    vm.aia_set(Config::GroupBits, 0);
    vm.aia_set(Config::GroupShift, l::GROUP_SHIFT_MIN);
    vm.aia_set(Config::HartBits, 0);
    vm.aia_set(Config::GuestBits, 0);
    vm.set_aplic_addr(l::UNDEF_ADDR);
}

/// The VM's teardown frees the APLIC (`kvm_riscv_aia_destroy_vm()`).
pub(crate) fn destroy_vm(vm: &Vm) {
    if !vm.aia_initialized() {
        return;
    }
    crate::aia_aplic::cleanup(vm);
}

/// The C convention of a `Result`.
fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vm.c`: the VM itself.
//!
//! VM creation and destruction (G-stage root, VMID, AIA and guest timer),
//! the VM statistics, the capabilities a VM reports and those userspace may
//! enable (`KVM_CAP_RISCV_MP_STATE_RESET`, `KVM_CAP_VM_GPA_BITS`), and the
//! interrupt routes of the in-kernel AIA: `KVM_IRQ_LINE`, irqchip and MSI
//! routing entries, and their injection (also from irqfd, in atomic
//! context: the AIA's injection never sleeps).

use crate::bindings as b;
use crate::handle::Vm;
use crate::vcpu_stats::{desc, header, Kind};
use core::mem::{offset_of, size_of};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_long};
use kernel::num::casts::u32_as_usize;
use kernel::prelude::*;

const NUM_DESC: usize = 2;

/// The VM statistics: the generic ones (`KVM_GENERIC_VM_STATS()`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_vm_stats_desc: [b::kvm_stats_desc; NUM_DESC] = [
    desc(
        Kind::Counter,
        "remote_tlb_flush",
        offset_of!(b::kvm_vm_stat, generic.remote_tlb_flush),
    ),
    desc(
        Kind::Counter,
        "remote_tlb_flush_requests",
        offset_of!(b::kvm_vm_stat, generic.remote_tlb_flush_requests),
    ),
];

/// The header that frames the VM statistics descriptors.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_vm_stats_header: b::kvm_stats_header = header(NUM_DESC);

// Every u64 of struct kvm_vm_stat is described, and nothing else.
const _: () = assert!(NUM_DESC * size_of::<u64>() == size_of::<b::kvm_vm_stat>());

/// Sets a new VM up (`kvm_arch_init_vm()`): its G-stage root, its VMID
/// (invalid until the first entry), its AIA and its guest timer.
pub(crate) fn init(vm: &Vm) -> Result {
    crate::mmu::alloc_pgd(vm)?;
    crate::vmid::init(vm);
    crate::aia_device::init_vm(vm);
    crate::vcpu_timer::guest_timer_init(vm);
    Ok(())
}

/// Tears a VM down (`kvm_arch_destroy_vm()`): its vCPUs, then its AIA.
pub(crate) fn destroy(vm: &Vm) {
    vm.destroy_vcpus();
    crate::aia_device::destroy_vm(vm);
}

/// `KVM_IRQ_LINE` (`kvm_vm_ioctl_irq_line()`): `ENXIO` without the
/// in-kernel irqchip.
pub(crate) fn irq_line(vm: &Vm, irq: u32, level: u32) -> c_int {
    if !vm.irqchip_in_kernel() {
        return ENXIO.to_errno();
    }
    crate::aia_device::inject_irq(vm, irq, level != 0)
}

/// An interrupt route, as userspace gives it (`struct kvm_irq_routing_entry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// A pin of an irqchip.
    Irqchip { irqchip: u32, pin: u32 },
    /// An MSI: address, data, flags and device id.
    Msi {
        address_lo: u32,
        address_hi: u32,
        data: u32,
        flags: u32,
        devid: u32,
    },
}

/// Whether an irqchip route names a pin of an irqchip that exists; MSI
/// routes are always accepted (`kvm_set_routing_entry()`).
pub(crate) fn route_valid(r: &Route) -> bool {
    match *r {
        Route::Irqchip { irqchip, pin } => {
            pin < b::KVM_IRQCHIP_NUM_PINS && irqchip < b::KVM_NR_IRQCHIPS
        }
        Route::Msi { .. } => true,
    }
}

/// Injects through route `r` at `level` (`kvm_set_msi()`,
/// `kvm_riscv_set_irq()`): an MSI only on a rising level (-1 otherwise,
/// as upstream).
pub(crate) fn set_irq(vm: &Vm, r: &Route, level: c_int) -> c_int {
    match *r {
        Route::Irqchip { pin, .. } => crate::aia_device::inject_irq(vm, pin, level != 0),
        Route::Msi {
            address_lo,
            address_hi,
            data,
            flags,
            devid,
        } => {
            if level == 0 {
                return -1;
            }
            let msi = b::kvm_msi {
                address_lo,
                address_hi,
                data,
                flags,
                devid,
                ..Default::default()
            };
            crate::aia_device::inject_msi(vm, &msi)
        }
    }
}

/// Injection from irqfd, in atomic context (`kvm_arch_set_irq_inatomic()`):
/// `EWOULDBLOCK` for a falling level, which needs no injection here.
pub(crate) fn set_irq_inatomic(vm: &Vm, r: Option<&Route>, level: c_int) -> c_int {
    match r {
        Some(r) if level != 0 => set_irq(vm, r, level),
        // EWOULDBLOCK is EAGAIN.
        _ => EAGAIN.to_errno(),
    }
}

/// Routes GSI `i` to pin `i` of irqchip 0, for `lines` lines
/// (`kvm_riscv_setup_default_irq_routing()`, by the AIA device).
pub(crate) fn setup_default_irq_routing(vm: &Vm, lines: u32) -> c_int {
    let mut ents = KVec::new();
    if ents.reserve(u32_as_usize(lines), GFP_KERNEL).is_err() {
        return ENOMEM.to_errno();
    }
    for i in 0..lines {
        if ents.push(Vm::irqchip_route(i, 0, i), GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
    }
    vm.set_irq_routing(&ents, 0)
}

/// `KVM_CHECK_EXTENSION` on the VM (`vm`) or on `/dev/kvm` (`None`)
/// (`kvm_vm_ioctl_check_extension()`).
pub(crate) fn check_extension(vm: Option<&Vm>, ext: c_long) -> c_int {
    let Ok(ext) = u32::try_from(ext) else {
        return 0;
    };
    // CAST (all): small positive constants.
    match ext {
        b::KVM_CAP_IRQCHIP => c_int::from(crate::aia::available()),
        b::KVM_CAP_IOEVENTFD
        | b::KVM_CAP_USER_MEMORY
        | b::KVM_CAP_DESTROY_MEMORY_REGION_WORKS
        | b::KVM_CAP_ONE_REG
        | b::KVM_CAP_READONLY_MEM
        | b::KVM_CAP_MP_STATE
        | b::KVM_CAP_IMMEDIATE_EXIT
        | b::KVM_CAP_SET_GUEST_DEBUG => 1,
        b::KVM_CAP_NR_VCPUS => crate::ffi::num_online_cpus().min(b::KVM_MAX_VCPUS) as c_int,
        b::KVM_CAP_MAX_VCPUS => b::KVM_MAX_VCPUS as c_int,
        b::KVM_CAP_NR_MEMSLOTS => b::kvm_riscv_rs_const_KVM_RISCV_RS_USER_MEM_SLOTS as c_int,
        b::KVM_CAP_VM_GPA_BITS => {
            let levels = match vm {
                None => crate::gstage::max_pgd_levels(),
                Some(vm) => vm.pgd_levels(),
            };
            // CAST: 3 to 5 levels (0 when the VM's root is gone).
            crate::gstage_logic::Shape {
                levels: levels as u32,
            }
            .gpa_bits() as c_int
        }
        _ => 0,
    }
}

/// G-stage levels for `gpa_bits` guest physical address bits: the
/// narrowest mode that holds them (`kvm_vm_ioctl_enable_cap()`).
pub(crate) const fn levels_for_gpa_bits(gpa_bits: u64) -> Option<usize> {
    match gpa_bits {
        0..=41 => Some(3),
        42..=50 => Some(4),
        51..=59 => Some(5),
        _ => None,
    }
}

/// `KVM_ENABLE_CAP` on the VM (`kvm_vm_ioctl_enable_cap()`).
pub(crate) fn enable_cap(vm: &Vm, cap: u32, flags: u32, arg0: u64) -> Result {
    if flags != 0 {
        return Err(EINVAL);
    }
    match cap {
        b::KVM_CAP_RISCV_MP_STATE_RESET => {
            vm.set_mp_state_reset();
            Ok(())
        }
        b::KVM_CAP_VM_GPA_BITS => {
            let levels = levels_for_gpa_bits(arg0).ok_or(EINVAL)?;
            if levels > crate::gstage::max_pgd_levels() {
                return Err(EINVAL);
            }
            vm.with_lock_and_slots_lock(|l| {
                if l.created_vcpus() != 0 || !l.all_memslots_empty() {
                    Err(EBUSY)
                } else {
                    l.set_pgd_levels(levels);
                    Ok(())
                }
            })
        }
        _ => Err(EINVAL),
    }
}

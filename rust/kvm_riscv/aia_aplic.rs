// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/aia_aplic.c`: the in-kernel AIA's emulated APLIC,
//! an MSI-mode interrupt domain.
//!
//! Each source's state is `aia_aplic_logic::Source`, under its own
//! interrupt-safe raw lock (`handle::Aplic`): `KVM_IRQ_LINE`, irqfd
//! injection (atomic context) and the guest's MMIO reach it concurrently.
//! A source that is enabled and pending while the domain's IE bit is set is
//! delivered as an MSI to the IMSIC its `target` names, after its lock is
//! dropped (`kvm_riscv_aia_inject_msi_by_id()` takes the IMSIC's locks).
//! The AIA device (`aia_device.c`, still C) creates and destroys the APLIC
//! and reaches its registers through the device attributes.

use crate::aia_aplic_logic::{domaincfg, genmsi_value, BadOffset, Msi, Reg, Source};
use crate::handle::{Aplic, Vm};
use crate::nospec::array_index_nospec;
use core::sync::atomic::Ordering::Relaxed;
use kernel::error::code::*;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Source `irq`, if the APLIC has it (source 0 does not exist), its index
/// clamped under speculation (`array_index_nospec()`).
fn source(a: &Aplic, irq: u32) -> Option<&crate::ffi::IrqRawSpinLock<Source>> {
    let n = a.irqs.len();
    let i = usize::try_from(irq).ok()?;
    if i == 0 || i >= n {
        return None;
    }
    a.irqs.get(array_index_nospec(i, n))
}

/// Runs `f` on source `irq` under its lock; `None` if it does not exist.
fn with_source<R>(a: &Aplic, irq: u32, f: impl FnOnce(&mut Source) -> R) -> Option<R> {
    source(a, irq).map(|l| f(&mut l.lock()))
}

/// Delivers an MSI (`aplic_inject_msi()`); the IMSIC's verdict is
/// dropped, as upstream.
fn inject_msi(vm: &Vm, m: Msi) {
    let _ = crate::aia_device::inject_msi_by_id(vm, m.hart, m.guest, m.eiid);
}

/// Delivers every source of `first..=last` that is enabled and pending,
/// if the domain's interrupts are enabled (`aplic_update_irq_range()`).
fn update_irq_range(vm: &Vm, a: &Aplic, first: u32, last: u32) {
    if a.domaincfg.load(Relaxed) & domaincfg::IE == 0 {
        return;
    }
    for irq in first..=last {
        if let Some(Some(t)) = with_source(a, irq, Source::deliver) {
            inject_msi(vm, Msi::of_target(t));
        }
    }
}

/// The wire of source `src` goes to `level` (`kvm_riscv_aia_aplic_inject()`):
/// 0, or `ENODEV` without an APLIC or such a source.
pub(crate) fn inject(vm: &Vm, src: u32, level: bool) -> c_int {
    let Some(a) = vm.aplic() else {
        return ENODEV.to_errno();
    };
    let ie = a.domaincfg.load(Relaxed) & domaincfg::IE != 0;
    match with_source(a, src, |s| s.set_wire(level, ie)) {
        None => ENODEV.to_errno(),
        Some(deliver) => {
            if let Some(t) = deliver {
                inject_msi(vm, Msi::of_target(t));
            }
            0
        }
    }
}

/// Bit `i` of `word` of a per-source bit array: what `f` says of each of
/// its 32 sources (none for those that do not exist).
fn read_word(a: &Aplic, word: u32, f: impl Fn(&Source) -> bool) -> u32 {
    (0..32u32).fold(0, |acc, i| {
        let irq = word.wrapping_mul(32).wrapping_add(i);
        if with_source(a, irq, |s| f(s)).unwrap_or(false) {
            acc | (1 << i)
        } else {
            acc
        }
    })
}

/// Applies `f` to each source whose bit is set in `val`, of `word`.
fn write_word(a: &Aplic, word: u32, val: u32, f: impl Fn(&mut Source)) {
    for i in 0..32u32 {
        if val & (1 << i) != 0 {
            let irq = word.wrapping_mul(32).wrapping_add(i);
            let _ = with_source(a, irq, |s| f(s));
        }
    }
}

/// The errno of an offset that names no register.
fn bad_offset(e: BadOffset) -> Error {
    match e {
        BadOffset::Misaligned => EOPNOTSUPP,
        BadOffset::Nothing => ENODEV,
    }
}

/// Reads the register at `off` (`aplic_mmio_read_offset()`).
fn read_offset(a: &Aplic, off: u64) -> Result<u32> {
    let reg = crate::aia_aplic_logic::decode(off, a.nr_irqs(), a.nr_words).map_err(bad_offset)?;
    Ok(match reg {
        Reg::Domaincfg => domaincfg::RDONLY | a.domaincfg.load(Relaxed) | domaincfg::DM,
        Reg::Sourcecfg(i) => with_source(a, i, |s| s.sourcecfg()).unwrap_or(0),
        Reg::Setip(w) => read_word(a, w, Source::pending),
        Reg::InClrip(w) => read_word(a, w, Source::input),
        Reg::Setie(w) => read_word(a, w, Source::enabled),
        Reg::Genmsi => a.genmsi.load(Relaxed),
        Reg::Target(i) => with_source(a, i, |s| s.target()).unwrap_or(0),
        Reg::Setipnum
        | Reg::Clripnum
        | Reg::Setienum
        | Reg::Clrie(_)
        | Reg::Clrienum
        | Reg::SetipnumLe
        | Reg::SetipnumBe => 0,
    })
}

/// Writes `v` to the register at `off`, then delivers what became
/// deliverable (`aplic_mmio_write_offset()`).
fn write_offset(vm: &Vm, a: &Aplic, off: u64, v: u32) -> Result {
    let reg = crate::aia_aplic_logic::decode(off, a.nr_irqs(), a.nr_words).map_err(bad_offset)?;
    let pend = |irq: u32, p: bool| {
        let _ = with_source(a, irq, |s| s.write_pending(p));
    };
    let enable = |irq: u32, e: bool| {
        let _ = with_source(a, irq, |s| s.write_enabled(e));
    };
    match reg {
        // Only IE is writable.
        Reg::Domaincfg => a.domaincfg.store(v & domaincfg::IE, Relaxed),
        Reg::Sourcecfg(i) => {
            let _ = with_source(a, i, |s| s.write_sourcecfg(v));
        }
        Reg::Setip(w) => write_word(a, w, v, |s| s.write_pending(true)),
        Reg::Setipnum | Reg::SetipnumLe => pend(v, true),
        Reg::SetipnumBe => pend(v.swap_bytes(), true),
        Reg::InClrip(w) => write_word(a, w, v, |s| s.write_pending(false)),
        Reg::Clripnum => pend(v, false),
        Reg::Setie(w) => write_word(a, w, v, |s| s.write_enabled(true)),
        Reg::Setienum => enable(v, true),
        Reg::Clrie(w) => write_word(a, w, v, |s| s.write_enabled(false)),
        Reg::Clrienum => enable(v, false),
        Reg::Genmsi => {
            a.genmsi.store(genmsi_value(v), Relaxed);
            inject_msi(vm, Msi::of_genmsi(v));
        }
        Reg::Target(i) => {
            let _ = with_source(a, i, |s| s.write_target(v));
        }
    }
    update_irq_range(vm, a, 1, a.nr_irqs().wrapping_sub(1));
    Ok(())
}

/// A guest load of `len` bytes at `addr`, in the APLIC's window
/// (`aplic_mmio_read()`): the 32-bit value, or an errno for the MMIO bus
/// (`EOPNOTSUPP` for another width).
pub(crate) fn mmio_read(vm: &Vm, addr: u64, len: c_int) -> Result<u32> {
    if len != 4 {
        return Err(EOPNOTSUPP);
    }
    let a = vm.aplic().ok_or(ENODEV)?;
    read_offset(a, addr.wrapping_sub(vm.aplic_addr()))
}

/// A guest store of `len` bytes of `v` at `addr` (`aplic_mmio_write()`).
pub(crate) fn mmio_write(vm: &Vm, addr: u64, len: c_int, v: u32) -> Result {
    if len != 4 {
        return Err(EOPNOTSUPP);
    }
    let a = vm.aplic().ok_or(ENODEV)?;
    write_offset(vm, a, addr.wrapping_sub(vm.aplic_addr()), v)
}

/// `KVM_SET_DEVICE_ATTR` of the APLIC group: the register at `off`
/// (`kvm_riscv_aia_aplic_set_attr()`).
pub(crate) fn set_attr(vm: &Vm, off: u64, v: u32) -> Result {
    let a = vm.aplic().ok_or(ENODEV)?;
    write_offset(vm, a, off, v)
}

/// `KVM_GET_DEVICE_ATTR` of the APLIC group (`kvm_riscv_aia_aplic_get_attr()`).
pub(crate) fn get_attr(vm: &Vm, off: u64) -> Result<u32> {
    let a = vm.aplic().ok_or(ENODEV)?;
    read_offset(a, off)
}

/// `KVM_HAS_DEVICE_ATTR` of the APLIC group (`kvm_riscv_aia_aplic_has_attr()`).
pub(crate) fn has_attr(vm: &Vm, off: u64) -> Result {
    get_attr(vm, off).map(|_| ())
}

/// Creates the APLIC of the VM's sources, registers it on the MMIO bus and
/// routes GSI i to source i (`kvm_riscv_aia_aplic_init()`); nothing with no
/// sources.
pub(crate) fn init(vm: &Vm, ops: &'static crate::bindings::kvm_io_device_ops) -> Result {
    let nr_sources = vm.aia_nr_sources();
    if nr_sources == 0 {
        return Ok(());
    }
    let nr_irqs = nr_sources.checked_add(1).ok_or(EINVAL)?;
    vm.set_aplic(Aplic::new(nr_irqs, ops)?)?;
    let rc = crate::vm::setup_default_irq_routing(vm, nr_irqs);
    if rc != 0 {
        cleanup(vm);
        return Err(Error::from_errno(rc));
    }
    Ok(())
}

/// Unregisters and frees the APLIC (`kvm_riscv_aia_aplic_cleanup()`).
pub(crate) fn cleanup(vm: &Vm) {
    drop(vm.take_aplic());
}

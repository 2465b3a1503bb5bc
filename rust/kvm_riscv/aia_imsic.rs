// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/aia_imsic.c`: each vCPU's in-kernel IMSIC.
//!
//! A vCPU's IMSIC registers are in one of two places (`handle::Imsic`):
//! - a guest interrupt file of the host CPU it runs on (`vsfile`, an HGEI
//!   line of that CPU), mapped into the guest at the IMSIC's address, which
//!   the hart delivers from by itself;
//! - the software file (`swfile`, `aia_imsic_logic::Mrif`), when it has no
//!   guest file: `emul` mode, or `auto` mode with every line taken. The
//!   guest's IMSIC accesses then trap and are emulated here, and a pending
//!   interrupt is raised as the VS external interrupt.
//!
//! Before each entry (`update`), a vCPU that moved to another CPU takes a
//! line there, in upstream's order: clear its HGEIE bit, zero the new file,
//! map it in the G-stage, publish it under `vsfile_lock`, then read and
//! clear the old file (by IPI to its CPU) or the software file, and OR the
//! state into the new file. A guest file's registers are reached only on
//! its CPU, by `on_cpu` (an IPI unless it is this CPU), with HSTATUS.VGEIN
//! and VSISELECT saved and restored around the access; upstream does the
//! zeroing and the final update "locally", on the CPU the vCPU thread was on
//! when it read `vcpu->cpu`, which it may have left (it is preemptible).
//!
//! Lock order, as upstream: `kvm->lock`, `vcpu->mutex`, `vsfile_lock`,
//! `swfile_extirq_lock`, `irqs_pending_lock`. No IPI is waited for under
//! `vsfile_lock`. MSI injection runs in atomic context (irqfd) and never
//! sleeps.

use crate::aia_imsic_logic::{self as l, BadIsel, Reg, Regs};
use crate::bindings as b;
use crate::csr;
use crate::ffi;
use crate::handle::{Imsic, Vcpu, VcpuCtx, Vm, VsFile};
use crate::nacl::{ncsr_clear_now, ncsr_read_now, ncsr_set_now, ncsr_write_now};
use crate::regs_logic::{u64_to_xlen, xlen_to_u64, Hstatus};
use crate::vcpu_irq::IRQ_VS_EXT;
use kernel::cpu::CpuId;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;

/// A guest interrupt file's page, and the guest's IMSIC window.
const PAGE_SZ: u64 = b::kvm_riscv_rs_const64_KVM_RISCV_RS_IMSIC_MMIO_PAGE_SZ;
/// `KVM_RISCV_AIA_IMSIC_TOPEI`: the pseudo-`iselect` of STOPEI.
const TOPEI: usize = u64_to_xlen(b::kvm_riscv_rs_const64_KVM_RISCV_RS_AIA_IMSIC_TOPEI);
// CAST: u32 constants of the kernel's headers, widening.
const INSN_NEXT: c_int = b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC as c_int;
const INSN_ILLEGAL: c_int = b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP as c_int;
const INSN_USER: c_int = b::kvm_insn_return_KVM_INSN_EXIT_TO_USER_SPACE as c_int;

// CAST (all): the kernel's u32 constants, widening.
const _: () = {
    assert!(l::EIDELIVERY == b::IMSIC_EIDELIVERY as usize);
    assert!(l::EITHRESHOLD == b::IMSIC_EITHRESHOLD as usize);
    assert!(l::EIP0 == b::IMSIC_EIP0 as usize && l::EIP63 == b::IMSIC_EIP63 as usize);
    assert!(l::EIE0 == b::IMSIC_EIE0 as usize && l::EIE63 == b::IMSIC_EIE63 as usize);
    assert!(l::MAX_ID == b::IMSIC_MAX_ID);
    assert!(l::SETIPNUM_LE == b::IMSIC_MMIO_SETIPNUM_LE);
    assert!(l::SETIPNUM_BE == b::IMSIC_MMIO_SETIPNUM_BE);
    assert!(PAGE_SZ == b::KVM_DEV_RISCV_IMSIC_SIZE as u64);
};

/// The errno of an `iselect` that names no register.
fn isel_err(e: BadIsel) -> Error {
    match e {
        BadIsel::NoEnt => ENOENT,
        BadIsel::Inval => EINVAL,
    }
}

/// A line number as a C `int`.
fn line_int(hgei: u32) -> c_int {
    c_int::try_from(hgei).unwrap_or(c_int::MAX)
}

/// A CPU number as the C `int` of `vcpu->cpu`.
fn cpu_int(cpu: CpuId) -> c_int {
    c_int::try_from(cpu.as_u32()).unwrap_or(c_int::MAX)
}

// ---------------------------------------------------------------------------
// A guest interrupt file, on its CPU.

/// Runs `f` with guest interrupt file `hgei` of this CPU selected
/// (HSTATUS.VGEIN), then restores HSTATUS and VSISELECT.
fn with_vgein<R>(hgei: u32, f: impl FnOnce() -> R) -> R {
    let old_vsiselect = ncsr_read_now(csr::VSISELECT);
    let old_hstatus = ncsr_read_now(csr::HSTATUS);
    // CAST: a line number, below 64.
    let sel = Hstatus::from_raw(xlen_to_u64(old_hstatus)).with_vgein(hgei as u8);
    ncsr_write_now(csr::HSTATUS, u64_to_xlen(sel.into_raw()));
    let r = f();
    ncsr_write_now(csr::HSTATUS, old_hstatus);
    ncsr_write_now(csr::VSISELECT, old_vsiselect);
    r
}

/// Selects register `r` of the selected file: VSIREG then reaches it. (No
/// NACL shared-memory slot exists for VSIREG, an indirect register: it is
/// always the CSR itself.)
fn select(r: Reg) {
    ncsr_write_now(csr::VSISELECT, r.isel());
}

fn ireg_read(r: Reg) -> u64 {
    select(r);
    xlen_to_u64(csr::VSIREG.read())
}

fn ireg_swap(r: Reg, v: u64) -> u64 {
    select(r);
    xlen_to_u64(csr::VSIREG.swap(u64_to_xlen(v)))
}

fn ireg_write(r: Reg, v: u64) {
    select(r);
    csr::VSIREG.write(u64_to_xlen(v));
}

fn ireg_set(r: Reg, v: u64) {
    select(r);
    csr::VSIREG.set(u64_to_xlen(v));
}

/// The first `nr_eix` words and the control registers of file `hgei` of
/// this CPU, zeroed after the read with `clear`
/// (`imsic_vsfile_local_read()`).
fn local_read(hgei: u32, nr_eix: u32, clear: bool) -> Regs {
    with_vgein(hgei, || {
        let get = |r: Reg| if clear { ireg_swap(r, 0) } else { ireg_read(r) };
        let mut out = Regs {
            eidelivery: get(Reg::Delivery),
            eithreshold: get(Reg::Threshold),
            ..Regs::default()
        };
        for k in 0..usize::from_safe_cast(nr_eix).min(l::MAX_EIX) {
            out.eip[k] = get(Reg::Eip(k));
            out.eie[k] = get(Reg::Eie(k));
        }
        out
    })
}

/// Clears file `hgei`'s HGEIE bit and zeroes its registers, on this CPU
/// (`csr_clear(CSR_HGEIE)`, `imsic_vsfile_local_clear()`).
fn local_clear(hgei: u32, nr_eix: u32) {
    ncsr_clear_now(csr::HGEIE, 1 << hgei);
    with_vgein(hgei, || {
        ireg_write(Reg::Delivery, 0);
        ireg_write(Reg::Threshold, 0);
        for k in 0..usize::from_safe_cast(nr_eix).min(l::MAX_EIX) {
            ireg_write(Reg::Eip(k), 0);
            ireg_write(Reg::Eie(k), 0);
        }
    });
}

/// ORs `r`'s pending and enabled bits into file `hgei` of this CPU, then
/// writes its threshold and delivery (`imsic_vsfile_local_update()`).
fn local_update(hgei: u32, nr_eix: u32, r: &Regs) {
    with_vgein(hgei, || {
        for k in 0..usize::from_safe_cast(nr_eix).min(l::MAX_EIX) {
            ireg_set(Reg::Eip(k), r.eip[k]);
            ireg_set(Reg::Eie(k), r.eie[k]);
        }
        ireg_write(Reg::Threshold, r.eithreshold);
        ireg_write(Reg::Delivery, r.eidelivery);
    });
}

/// [`local_read`] of guest file `f`, on its CPU (`imsic_vsfile_read()`).
fn vsfile_read(f: VsFile, nr_eix: u32, clear: bool) -> Regs {
    let mut out = Regs::default();
    ffi::on_cpu(f.cpu, || out = local_read(f.hgei, nr_eix, clear));
    out
}

/// Reads register `isel` of guest file `f`, or writes `write` to it, on
/// its CPU (`imsic_vsfile_rw()`): the value read.
fn vsfile_rw(f: VsFile, nr_eix: u32, isel: usize, write: Option<u64>) -> Result<u64> {
    let r = Reg::decode(nr_eix, isel).map_err(isel_err)?;
    let mut val = 0;
    ffi::on_cpu(f.cpu, || {
        with_vgein(f.hgei, || match write {
            Some(v) => ireg_write(r, v),
            None => val = ireg_read(r),
        })
    });
    Ok(val)
}

// ---------------------------------------------------------------------------
// The software file.

/// Raises the VS external interrupt if the software file delivers and has
/// an interrupt to take, else lowers it (`imsic_swfile_extirq_update()`).
fn swfile_extirq_update(v: &Vcpu, i: &Imsic) {
    // The check and the interrupt together, or an interrupt may be lost.
    let _g = i.extirq.lock();
    if i.swfile.delivery_on() && i.swfile.topei(i.nr_eix, i.nr_msis) != 0 {
        let _ = crate::vcpu_irq::set_interrupt(v, IRQ_VS_EXT);
    } else {
        let _ = crate::vcpu_irq::unset_interrupt(v, IRQ_VS_EXT);
    }
}

/// The software file's registers, zeroed after the read with `clear`
/// (`imsic_swfile_read()`); only when the vCPU does not use it.
fn swfile_read(v: &Vcpu, i: &Imsic, clear: bool) -> Regs {
    let r = i.swfile.snapshot();
    if clear {
        i.swfile.clear();
        let _ = crate::vcpu_irq::unset_interrupt(v, IRQ_VS_EXT);
    }
    r
}

/// Moves the registers of a file the vCPU leaves into the software file
/// (`imsic_swfile_update()`).
fn swfile_update(v: &Vcpu, i: &Imsic, r: &Regs) {
    i.swfile.merge(i.nr_eix, r);
    swfile_extirq_update(v, i);
}

// ---------------------------------------------------------------------------
// The vCPU's hooks.

/// Whether the vCPU's guest file has an interrupt for it, from any thread
/// (`kvm_riscv_vcpu_aia_imsic_has_interrupt()`). The software file raises
/// its interrupt itself: only a guest file is looked at. A vCPU whose file
/// is on another CPU than the one it was last loaded on is told yes, to go
/// back to the run loop and move it.
///
/// Preemption is off from the reading of `vcpu->cpu` to that of HGEIP
/// (upstream has interrupts off, under its read lock): the vCPU's thread,
/// in `kvm_vcpu_block()`, moved to another CPU in between would read that
/// CPU's HGEIP for its line, miss its interrupt and sleep, with HGEIE then
/// set on the wrong CPU (`aia_stress@migrate` saw a vCPU stop).
pub(crate) fn has_interrupt(v: &Vcpu) -> bool {
    let Some(i) = v.imsic() else {
        return false;
    };
    let _p = ffi::preempt_disable();
    match i.vsfile_at() {
        None => false,
        Some((cpu, hgei)) if c_int::try_from(cpu).ok() == Some(v.cpu()) => {
            ncsr_read_now(csr::HGEIP) & (1 << hgei) != 0
        }
        Some(_) => true,
    }
}

/// The vCPU is put while it blocks: the HGEI interrupt of its guest file
/// will wake it (`kvm_riscv_vcpu_aia_imsic_put()`). From the preempt
/// notifier too, under the scheduler's lock: no lock is taken here (see
/// `handle::Imsic`).
pub(crate) fn put(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let Some(i) = v.imsic() else {
        return;
    };
    if !v.is_blocking() {
        return;
    }
    if let Some((_, hgei)) = i.vsfile_at() {
        ncsr_set_now(csr::HGEIE, 1 << hgei);
    }
}

/// Takes the guest file away from the IMSIC, under `vsfile_lock`: from now
/// on injection goes to the software file.
fn take_vsfile(i: &Imsic) -> Option<VsFile> {
    let mut g = i.vsfile.lock();
    let old = *g;
    i.set_vsfile(&mut g, None);
    old
}

/// The vCPU loses its guest file (its CPU stops virtualization, or no line
/// is free where it runs now): its state goes to the software file
/// (`kvm_riscv_vcpu_aia_imsic_release()`). From the vCPU's thread or the
/// CPU going down.
pub(crate) fn release(v: &Vcpu) {
    let Some(i) = v.imsic() else {
        return;
    };
    let old = take_vsfile(i);
    let Some(old) = old else {
        return;
    };
    // Interrupt producers go to the software file from here on.
    crate::mmu::iounmap(v.vm(), v.imsic_addr(), PAGE_SZ);
    let r = vsfile_read(old, i.nr_hw_eix, true);
    swfile_update(v, i, &r);
    crate::aia::free_hgei(cpu_int(old.cpu), line_int(old.hgei));
}

/// Sets the guest's HSTATUS.VGEIN to line `hgei` (0: none).
fn set_vgein(cx: &mut VcpuCtx<'_>, hgei: u32) {
    let g = cx.guest();
    // CAST: a line number, below 64.
    let h = Hstatus::from_raw(xlen_to_u64(g.hstatus)).with_vgein(hgei as u8);
    g.hstatus = u64_to_xlen(h.into_raw());
}

/// Before entering the guest: gives the vCPU a guest file on the CPU it
/// runs on, if it moved (`kvm_riscv_vcpu_aia_imsic_update()`). 1 to go on,
/// 0 to exit to userspace (`hwaccel` and no line free: `run->fail_entry`
/// says so), or a negative errno. Out of line: inlined into the run loop,
/// it costs every exit some 8 instructions (`make bench`).
#[inline(never)]
pub(crate) fn update(cx: &mut VcpuCtx<'_>) -> c_int {
    let v = cx.vcpu();
    let vm = v.vm();
    let mode = vm.aia_mode();
    if mode == b::KVM_DEV_RISCV_AIA_MODE_EMUL {
        return 1;
    }
    let Some(i) = v.imsic() else {
        return 1;
    };
    let old = *i.vsfile.lock();
    let cpu = v.cpu();
    if old.map_or(-1, |o| cpu_int(o.cpu)) == cpu {
        return 1;
    }
    let (line, file) = i.alloc_hgei(v, cpu);
    let new = match (u32::try_from(line), file, CpuId::from_i32(cpu)) {
        (Ok(hgei), Some(file), Some(id)) if hgei > 0 => VsFile {
            cpu: id,
            hgei,
            file,
        },
        (ok, _, _) => {
            // A line without a file (the CPU's IMSIC has no guest files):
            // none, as upstream would not use it well either.
            if ok.is_ok_and(|l| l > 0) {
                crate::aia::free_hgei(cpu, line);
            }
            if mode == b::KVM_DEV_RISCV_AIA_MODE_HWACCEL {
                let run = v.run_page();
                run.set_fail_entry(
                    u64::from(b::KVM_EXIT_FAIL_ENTRY_NO_VSFILE),
                    u32::try_from(cpu).unwrap_or(u32::MAX),
                );
                run.set_exit_reason(b::KVM_EXIT_FAIL_ENTRY);
                return 0;
            }
            // `auto`: on with the software file.
            if old.is_some() {
                release(v);
            }
            set_vgein(cx, 0);
            return 1;
        }
    };
    let nr_hw_eix = i.nr_hw_eix;
    // Interrupt producers still use the old file: ready the new one.
    ffi::on_cpu(new.cpu, || local_clear(new.hgei, nr_hw_eix));
    let rc = crate::mmu::ioremap(vm, v.imsic_addr(), new.file.pa(), PAGE_SZ, true, true);
    if rc != 0 {
        crate::aia::free_hgei(cpu, line);
        return rc;
    }
    {
        let mut g = i.vsfile.lock();
        i.set_vsfile(&mut g, Some(new));
    }
    // Producers use the new file now: move the old state into it.
    let r = match old {
        Some(o) => {
            let r = vsfile_read(o, nr_hw_eix, true);
            crate::aia::free_hgei(cpu_int(o.cpu), line_int(o.hgei));
            r
        }
        None => swfile_read(v, i, true),
    };
    ffi::on_cpu(new.cpu, || local_update(new.hgei, nr_hw_eix, &r));
    set_vgein(cx, new.hgei);
    1
}

/// The guest's access to IMSIC register `isel` (or STOPEI), trapped while
/// it uses the software file (`kvm_riscv_vcpu_aia_imsic_rmw()`): a
/// `KVM_INSN_*` value.
pub(crate) fn rmw(
    cx: &mut VcpuCtx<'_>,
    isel: c_ulong,
    val: &mut c_ulong,
    new_val: c_ulong,
    wr_mask: c_ulong,
) -> c_int {
    let v = cx.vcpu();
    let Some(i) = v.imsic() else {
        return INSN_USER;
    };
    let mut rc = INSN_NEXT;
    if isel == TOPEI {
        let topei = i.swfile.topei(i.nr_eix, i.nr_msis);
        *val = u64_to_xlen(u64::from(topei));
        // A write clears the top interrupt, whatever its value.
        if topei != 0 && wr_mask != 0 {
            let id = topei >> l::TOPEI_ID_SHIFT;
            if id != 0 {
                i.swfile.clear_pending(id);
            }
        }
    } else {
        match i
            .swfile
            .rmw(i.nr_eix, isel, xlen_to_u64(new_val), xlen_to_u64(wr_mask))
        {
            Ok(old) => *val = u64_to_xlen(old),
            Err(BadIsel::NoEnt) => rc = INSN_USER,
            Err(BadIsel::Inval) => rc = INSN_ILLEGAL,
        }
    }
    if wr_mask != 0 {
        swfile_extirq_update(v, i);
    }
    rc
}

/// `KVM_{GET,SET}_DEVICE_ATTR` of the IMSIC group: register `isel` of the
/// vCPU's IMSIC, `attr` naming both (`kvm_riscv_aia_imsic_rw_attr()`).
pub(crate) fn rw_attr(vm: &Vm, attr: u64, write: bool, val: &mut u64) -> Result {
    if !vm.aia_initialized() {
        return Err(ENODEV);
    }
    let (id, isel) = l::attr_vcpu_isel(attr);
    let v = vm.vcpu_by_id(id).ok_or(ENODEV)?;
    let _m = v.lock_killable()?;
    let i = v.imsic().ok_or(ENODEV)?;
    let f = {
        let g = i.vsfile.lock();
        if g.is_none() {
            if write {
                let r = i.swfile.rmw(i.nr_eix, isel, *val, u64::MAX);
                swfile_extirq_update(v, i);
                r.map_err(isel_err)?;
            } else {
                *val = i.swfile.rmw(i.nr_eix, isel, 0, 0).map_err(isel_err)?;
            }
        }
        *g
    };
    if let Some(f) = f {
        let got = vsfile_rw(f, i.nr_eix, isel, write.then_some(*val))?;
        if !write {
            *val = got;
        }
    }
    Ok(())
}

/// `KVM_HAS_DEVICE_ATTR` of the IMSIC group (`kvm_riscv_aia_imsic_has_attr()`).
pub(crate) fn has_attr(vm: &Vm, attr: u64) -> Result {
    if !vm.aia_initialized() {
        return Err(ENODEV);
    }
    let (id, isel) = l::attr_vcpu_isel(attr);
    let v = vm.vcpu_by_id(id).ok_or(ENODEV)?;
    let i = v.imsic().ok_or(ENODEV)?;
    Reg::decode(i.nr_eix, isel).map(|_| ()).map_err(isel_err)
}

/// The vCPU's reset: no guest file, an empty software file
/// (`kvm_riscv_vcpu_aia_imsic_reset()`).
pub(crate) fn reset(v: &Vcpu) {
    let Some(i) = v.imsic() else {
        return;
    };
    release(v);
    i.swfile.clear();
}

/// Makes identity `iid` pending in the vCPU's IMSIC, an MSI written at
/// `offset` of guest file `guest_index`'s page; from any context, atomic
/// ones included (`kvm_riscv_vcpu_aia_imsic_inject()`).
pub(crate) fn inject(v: &Vcpu, guest_index: u32, offset: u32, iid: u32) -> Result {
    let i = v.imsic().ok_or(ENODEV)?;
    // Only guest file 0 is emulated.
    if guest_index != 0 {
        return Err(ENODEV);
    }
    let id = l::setipnum_id(offset, iid).ok_or(ENODEV)?;
    if id >= i.nr_msis {
        return Err(EINVAL);
    }
    let g = i.vsfile.lock();
    match *g {
        Some(f) => f.file.set_pending(id),
        None => {
            i.swfile.set_pending(id);
            swfile_extirq_update(v, i);
        }
    }
    Ok(())
}

/// A guest load from the IMSIC's page (`imsic_mmio_read()`): 0, for a
/// naturally aligned 32-bit access.
pub(crate) fn mmio_read(_vm: &Vm, addr: u64, len: c_int) -> Result<u32> {
    if len != 4 || addr & 3 != 0 {
        return Err(EOPNOTSUPP);
    }
    Ok(0)
}

/// A guest store to the IMSIC's page: an MSI to wherever the address
/// says, through the AIA device (`imsic_mmio_write()`).
pub(crate) fn mmio_write(vm: &Vm, addr: u64, len: c_int, data: u32) -> Result {
    if len != 4 || addr & 3 != 0 {
        return Err(EOPNOTSUPP);
    }
    let msi = b::kvm_msi {
        // CAST: the two halves of the address.
        address_hi: (addr >> 32) as u32,
        address_lo: addr as u32,
        data,
        ..Default::default()
    };
    let _ = crate::aia_device::inject_msi(vm, &msi);
    Ok(())
}

/// Creates the vCPU's IMSIC, with the VM's identities, and registers its
/// page on the MMIO bus (`kvm_riscv_vcpu_aia_imsic_init()`).
pub(crate) fn init(v: &Vcpu, ops: &'static b::kvm_io_device_ops) -> Result {
    let nr_ids = v.vm().aia_nr_ids();
    if nr_ids == 0 {
        return Err(EINVAL);
    }
    let nr_msis = nr_ids.checked_add(1).ok_or(EINVAL)?;
    let nr_hw_eix =
        l::nr_eix(crate::aia::kvm_riscv_aia_max_ids.load(kernel::sync::atomic::Relaxed));
    v.set_imsic(Imsic::new(nr_msis, nr_hw_eix, ops)?)
}

/// Frees the vCPU's guest file and IMSIC (`imsic_vsfile_cleanup()`,
/// `kvm_riscv_vcpu_aia_imsic_cleanup()`), at its destruction or at a
/// failed AIA device init.
pub(crate) fn cleanup(v: &Vcpu) {
    let Some(i) = v.imsic() else {
        return;
    };
    let old = take_vsfile(i);
    i.swfile.clear();
    if let Some(o) = old {
        crate::aia::free_hgei(cpu_int(o.cpu), line_int(o.hgei));
    }
    drop(v.take_imsic());
}

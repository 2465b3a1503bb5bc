// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/aia.c`: the per-vCPU AIA CSR state (load, put,
//! HVICTL/HVIP, the IPRIO array behind VSISELECT/VSIREG, the AIA ONE_REG
//! CSRs), the host's guest external interrupt (HGEI) lines and their
//! interrupt, and the per-CPU AIA enable/disable.
//!
//! Every H-level AIA CSR goes through the NACL accessors of `nacl.rs`:
//! `ncsr_*` on the vCPU paths, `ncsr_*_now` where the access must take
//! effect at once (host context). Without NACL they are one patched-out
//! branch and the CSR instruction.
//!
//! Rust on RISC-V Linux is 64-bit only, so only RV64 is here: no VSIEH,
//! HVIPH, HVIPRIO1H/2H, HIDELEGH, and no 32-bit flush/sync of the upper
//! interrupt bits. The IMSIC, APLIC and device code (`aia_imsic.c`,
//! `aia_aplic.c`, `aia_device.c`) are still C and use the C ABI kept here.

use crate::aia_logic::{self as l, Hviprio, IprioAccess, Ireg};
use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::csr;
use crate::isa::host_has_ext;
use crate::nacl::{ncsr_clear_now, ncsr_read, ncsr_read_now, ncsr_set_now, ncsr_write, ncsr_write_now};
use crate::nospec::array_index_nospec;
use crate::percpu::PerCpu;
use crate::print::kvm_err;
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use core::ffi::c_void;
use core::ptr::{addr_of_mut, null_mut};
use kernel::cpu::CpuId;
use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::sync::atomic::{Atomic, Relaxed};

// The constants of `aia_logic` must be the kernel's.
const _: () = {
    assert!(l::IRQ_S_EXT == b::IRQ_S_EXT as usize);
    assert!(l::HVICTL_IID_SHIFT == b::HVICTL_IID_SHIFT);
    assert!(l::ISELECT_IPRIO0 == b::ISELECT_IPRIO0 as usize);
    assert!(l::ISELECT_IPRIO15 == b::ISELECT_IPRIO15 as usize);
    assert!(l::IMSIC_FIRST == b::IMSIC_EIDELIVERY as usize);
    assert!(l::IMSIC_LAST == b::IMSIC_EIE63 as usize);
    assert!(l::HVICTL_IID == b::kvm_riscv_rs_const64_KVM_RISCV_RS_HVICTL_IID as usize);
    assert!(l::ISELECT_MASK == b::kvm_riscv_rs_const64_KVM_RISCV_RS_ISELECT_MASK as usize);
};

const INSN_NEXT: c_int = b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC as c_int;
const INSN_ILLEGAL: c_int = b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP as c_int;
const INSN_USER: c_int = b::kvm_insn_return_KVM_INSN_EXIT_TO_USER_SPACE as c_int;
const TOPEI: c_uint = b::kvm_riscv_rs_const64_KVM_RISCV_RS_AIA_IMSIC_TOPEI as c_uint;
const IMSIC_PAGE: usize = b::kvm_riscv_rs_const64_KVM_RISCV_RS_IMSIC_MMIO_PAGE_SZ as usize;
const HIE_SGEIE: usize = 1 << b::IRQ_S_GEXT;
const HVIEN_LCOFI: usize = 1 << b::IRQ_PMU_OVF;
const HVIP_VSEIP: c_ulong = 1 << b::IRQ_VS_EXT;

/// Is the AIA virtualized for guests (`kvm_riscv_aia_available()`)?
#[no_mangle]
pub(crate) static kvm_riscv_aia_available: StaticKeyFalse = StaticKeyFalse::new();

/// IMSIC guest files every hart has, the fewest of any (C: `atomic_t`).
#[no_mangle]
pub(crate) static kvm_riscv_aia_nr_hgei: Atomic<i32> = Atomic::new(0);

/// Guest MSI identities (C: `unsigned int`, written once at init).
#[no_mangle]
pub(crate) static kvm_riscv_aia_max_ids: Atomic<u32> = Atomic::new(0);

#[inline(always)]
pub(crate) fn available() -> bool {
    static_branch_unlikely!(kvm_riscv_aia_available)
}

/// The HGEI lines of a CPU: who owns which, which are free.
#[repr(C)]
struct HgeiControl {
    lock: b::raw_spinlock,
    free_bitmap_initialized: bool,
    free_bitmap: usize,
    owners: [*mut b::kvm_vcpu; 64],
    nr_hgei: usize,
    saved_hgeie: usize,
}

#[no_mangle]
#[link_section = ".data..percpu"]
static kvm_riscv_aia_hgei: PerCpu<HgeiControl> = PerCpu::new(HgeiControl {
    // SAFETY: an all-zero raw spinlock is re-initialised by `hgei_init`
    // before any use.
    lock: unsafe { core::mem::zeroed() },
    free_bitmap_initialized: false,
    free_bitmap: 0,
    owners: [null_mut(); 64],
    nr_hgei: 0,
    saved_hgeie: 0,
});

/// The Linux IRQ of the per-CPU SGEI interrupt.
static HGEI_PARENT_IRQ: Atomic<u32> = Atomic::new(0);

/// Runs `f` on `cpu`'s HGEI control under its lock, interrupts off.
fn with_hgei<R>(cpu: CpuId, f: impl FnOnce(&mut HgeiControl) -> R) -> R {
    let h = kvm_riscv_aia_hgei.ptr(cpu);
    // SAFETY: the lock was initialised by `hgei_init`.
    let flags = unsafe { b::_raw_spin_lock_irqsave(addr_of_mut!((*h).lock)) };
    // SAFETY: the lock serialises every access to the control.
    let r = f(unsafe { &mut *h });
    // SAFETY: releases the lock taken above.
    unsafe { b::_raw_spin_unlock_irqrestore(addr_of_mut!((*h).lock), flags) };
    r
}

fn cpu_id(cpu: c_int) -> Option<CpuId> {
    u32::try_from(cpu).ok().filter(|&c| c < kernel::cpu::nr_cpu_ids()).map(|c| {
        // SAFETY: below nr_cpu_ids.
        unsafe { CpuId::from_u32_unchecked(c) }
    })
}

/// The VM of a vCPU has an in-kernel AIA (`kvm_riscv_aia_initialized()`).
///
/// # Safety
/// `vcpu` is live.
unsafe fn vm_aia_initialized(vcpu: *mut b::kvm_vcpu) -> bool {
    // SAFETY: per the function's contract; a plain read of a flag.
    unsafe { addr_of_mut!((*(*vcpu).kvm).arch.aia.initialized).read_volatile() }
}

/// The vCPU's saved AIA CSRs.
///
/// # Safety
/// `vcpu` is live, and the caller its thread.
unsafe fn guest_aia<'a>(vcpu: *mut b::kvm_vcpu) -> &'a mut b::kvm_vcpu_aia_csr {
    // SAFETY: per the function's contract.
    unsafe { &mut (*vcpu).arch.aia_context.guest_csr }
}

/// Does the vCPU have an enabled, pending VS external interrupt in its
/// IMSIC file (`kvm_riscv_vcpu_aia_has_interrupts()`)?
///
/// # Safety
/// `vcpu` is live.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_aia_has_interrupts(vcpu: *mut b::kvm_vcpu, mask: u64) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: per the function's contract; a plain read.
    let vsie = unsafe { addr_of_mut!((*vcpu).arch.guest_csr.vsie).read_volatile() };
    let seip = vsie & mask as c_ulong & (1 << b::IRQ_S_EXT);
    // SAFETY (both): per the function's contract.
    if seip == 0 || !unsafe { vm_aia_initialized(vcpu) } {
        return false;
    }
    unsafe { b::kvm_riscv_vcpu_aia_imsic_has_interrupt(vcpu) }
}

/// Mirrors a pending VS external interrupt into HVICTL.
///
/// # Safety
/// `vcpu` is live and loaded on this CPU.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_aia_update_hvip(vcpu: *mut b::kvm_vcpu) {
    if !available() {
        return;
    }
    // SAFETY: per the function's contract.
    let hvip = unsafe { (*vcpu).arch.guest_csr.hvip };
    ncsr_write(csr::HVICTL, l::hvictl_value(hvip & HVIP_VSEIP != 0));
}

/// Loads the vCPU's AIA CSRs on this CPU (`kvm_riscv_vcpu_aia_load()`).
///
/// # Safety
/// `vcpu` is live and being loaded on `cpu`, this CPU.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_aia_load(vcpu: *mut b::kvm_vcpu, cpu: c_int) {
    if !available() {
        return;
    }
    // SAFETY: per the function's contract.
    let c = unsafe { guest_aia(vcpu) };
    ncsr_write(csr::VSISELECT, c.vsiselect as usize);
    ncsr_write(csr::HVIPRIO1, c.hviprio1 as usize);
    ncsr_write(csr::HVIPRIO2, c.hviprio2 as usize);
    // SAFETY (both): per the function's contract.
    if unsafe { vm_aia_initialized(vcpu) } {
        unsafe { b::kvm_riscv_vcpu_aia_imsic_load(vcpu, cpu) };
    }
}

/// Saves the vCPU's AIA CSRs (`kvm_riscv_vcpu_aia_put()`).
///
/// # Safety
/// `vcpu` is live and loaded on this CPU.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_aia_put(vcpu: *mut b::kvm_vcpu) {
    if !available() {
        return;
    }
    // SAFETY (both): per the function's contract.
    if unsafe { vm_aia_initialized(vcpu) } {
        unsafe { b::kvm_riscv_vcpu_aia_imsic_put(vcpu) };
    }
    // SAFETY: per the function's contract.
    let c = unsafe { guest_aia(vcpu) };
    c.vsiselect = ncsr_read(csr::VSISELECT) as c_ulong;
    c.hviprio1 = ncsr_read(csr::HVIPRIO1) as c_ulong;
    c.hviprio2 = ncsr_read(csr::HVIPRIO2) as c_ulong;
}

/// The AIA ONE_REG CSRs (`struct kvm_riscv_aia_csr`), by number: the saved
/// CSRs in the same order. RV64: the `h` halves read 0 and take any value.
fn aia_reg(c: &mut b::kvm_vcpu_aia_csr, n: usize) -> &mut c_ulong {
    match n {
        0 => &mut c.vsiselect,
        1 => &mut c.hviprio1,
        2 => &mut c.hviprio2,
        3 => &mut c.vsieh,
        4 => &mut c.hviph,
        5 => &mut c.hviprio1h,
        _ => &mut c.hviprio2h,
    }
}

const AIA_REGS: usize = core::mem::size_of::<b::kvm_riscv_aia_csr>() / core::mem::size_of::<c_ulong>();
const _: () = assert!(AIA_REGS == 7 && core::mem::size_of::<b::kvm_vcpu_aia_csr>() == 7 * 8);

/// Checks an AIA ONE_REG number: the vCPU must have Ssaia.
///
/// # Safety
/// `vcpu` is live.
unsafe fn aia_reg_num(vcpu: *mut b::kvm_vcpu, reg_num: c_ulong) -> Result<usize, c_int> {
    // SAFETY: the vCPU's ISA bitmap.
    let ssaia = unsafe { b::__riscv_isa_extension_available((*vcpu).arch.isa.as_ptr(), b::RISCV_ISA_EXT_SSAIA) };
    if !ssaia || reg_num as usize >= AIA_REGS {
        return Err(ENOENT.to_errno());
    }
    Ok(array_index_nospec(reg_num as usize, AIA_REGS))
}

/// The AIA ONE_REG CSR `reg_num` (`kvm_riscv_vcpu_aia_get_csr()`).
///
/// # Safety
/// `vcpu` is live; the caller holds its mutex.
pub(crate) unsafe fn get_csr(vcpu: *mut b::kvm_vcpu, reg_num: c_ulong) -> Result<c_ulong> {
    // SAFETY: per the function's contract.
    let n = unsafe { aia_reg_num(vcpu, reg_num) }.map_err(Error::from_errno)?;
    // SAFETY: per the function's contract.
    Ok(if available() { *aia_reg(unsafe { guest_aia(vcpu) }, n) } else { 0 })
}

/// Sets the AIA ONE_REG CSR `reg_num` (`kvm_riscv_vcpu_aia_set_csr()`).
///
/// # Safety
/// As for [`get_csr`].
pub(crate) unsafe fn set_csr(vcpu: *mut b::kvm_vcpu, reg_num: c_ulong, val: c_ulong) -> Result {
    // SAFETY: per the function's contract.
    let n = unsafe { aia_reg_num(vcpu, reg_num) }.map_err(Error::from_errno)?;
    if available() {
        // SAFETY: per the function's contract.
        *aia_reg(unsafe { guest_aia(vcpu) }, n) = val;
    }
    Ok(())
}

/// The guest's STOPEI CSR: the in-kernel IMSIC emulates it, else userspace.
///
/// # Safety
/// `vcpu` is live and loaded, on its thread.
pub(crate) unsafe fn rmw_topei(vcpu: *mut b::kvm_vcpu, _csr: c_uint, val: &mut c_ulong, new_val: c_ulong, wr_mask: c_ulong) -> c_int {
    if !available() {
        return INSN_ILLEGAL;
    }
    // SAFETY: per the function's contract.
    if !unsafe { vm_aia_initialized(vcpu) } {
        return INSN_USER;
    }
    // SAFETY: per the function's contract.
    unsafe { b::kvm_riscv_vcpu_aia_imsic_rmw(vcpu, TOPEI as c_ulong, val, new_val, wr_mask) }
}

/// The guest's SIREG CSR, as selected by VSISELECT: the IPRIO array here,
/// the IMSIC registers in the in-kernel IMSIC, anything else in userspace.
///
/// # Safety
/// As for [`rmw_topei`].
pub(crate) unsafe fn rmw_ireg(vcpu: *mut b::kvm_vcpu, _csr: c_uint, val: &mut c_ulong, new_val: c_ulong, wr_mask: c_ulong) -> c_int {
    if !available() {
        return INSN_ILLEGAL;
    }
    // SAFETY: per the function's contract.
    let imsic = unsafe { vm_aia_initialized(vcpu) };
    match l::classify_isel(ncsr_read(csr::VSISELECT), imsic) {
        Ireg::Iprio(isel) => {
            let hv = Hviprio([ncsr_read(csr::HVIPRIO1) as u64, ncsr_read(csr::HVIPRIO2) as u64]);
            match l::rmw_iprio(hv, isel, new_val as u64, wr_mask as u64) {
                IprioAccess::Illegal => INSN_ILLEGAL,
                IprioAccess::Done { old, new } => {
                    *val = old as c_ulong;
                    if wr_mask != 0 {
                        ncsr_write(csr::HVIPRIO1, new.0[0] as usize);
                        ncsr_write(csr::HVIPRIO2, new.0[1] as usize);
                    }
                    INSN_NEXT
                }
            }
        }
        // SAFETY: per the function's contract.
        Ireg::Imsic(isel) => unsafe { b::kvm_riscv_vcpu_aia_imsic_rmw(vcpu, isel as c_ulong, val, new_val, wr_mask) },
        Ireg::User => INSN_USER,
    }
}

/// Takes a free HGEI line of `cpu` for `owner`'s IMSIC guest file; its
/// line number, or -ENOENT (none free), -ENODEV (no AIA). The file's
/// address goes to `hgei_va`/`hgei_pa` when they are not null.
///
/// # Safety
/// `owner` is a live vCPU; `hgei_va`, `hgei_pa` null or valid.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_aia_alloc_hgei(
    cpu: c_int,
    owner: *mut b::kvm_vcpu,
    hgei_va: *mut *mut c_void,
    hgei_pa: *mut b::phys_addr_t,
) -> c_int {
    let Some(id) = cpu_id(cpu).filter(|_| available()) else {
        return ENODEV.to_errno();
    };
    let line = with_hgei(id, |h| {
        if h.free_bitmap == 0 {
            return ENOENT.to_errno();
        }
        let line = h.free_bitmap.trailing_zeros() as usize;
        h.free_bitmap &= !(1 << line);
        h.owners[line] = owner;
        line as c_int
    });
    let (mut files, mut pa, mut va) = (0u32, 0 as b::phys_addr_t, null_mut());
    // SAFETY: the pointers are valid for the writes.
    let local = unsafe { b::kvm_riscv_rs_imsic_local(cpu, &mut files, &mut pa, &mut va) };
    if local && line > 0 {
        let off = line as usize * IMSIC_PAGE;
        // SAFETY (both): per the function's contract.
        if let Some(out) = unsafe { hgei_va.as_mut() } {
            *out = va.cast::<u8>().wrapping_add(off).cast();
        }
        if let Some(out) = unsafe { hgei_pa.as_mut() } {
            *out = pa + off as b::phys_addr_t;
        }
    }
    line
}

/// Gives HGEI line `hgei` of `cpu` back.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_free_hgei(cpu: c_int, hgei: c_int) {
    let Some(id) = cpu_id(cpu).filter(|_| available()) else {
        return;
    };
    with_hgei(id, |h| {
        if hgei > 0 && hgei as usize <= h.nr_hgei && h.free_bitmap & (1 << hgei) == 0 {
            h.free_bitmap |= 1 << hgei;
            h.owners[hgei as usize] = null_mut();
        }
    });
}

/// The SGEI interrupt: a guest interrupt file of this CPU has an interrupt
/// for a vCPU that is not running; kick its owner. Called by the C
/// trampoline of `helpers.c`, which returns IRQ_HANDLED.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_hgei_handler() {
    let mask = ncsr_read_now(csr::HGEIP) & ncsr_read_now(csr::HGEIE);
    ncsr_clear_now(csr::HGEIE, mask);
    // The handler runs with preemption off, on the CPU of the lines.
    with_hgei(CpuId::current(), |h| {
        for i in crate::pmu_logic::bits(mask) {
            if !h.owners[i].is_null() {
                // SAFETY: an owner stays live while it holds its line.
                unsafe { b::__kvm_vcpu_kick(h.owners[i], false) };
            }
        }
    });
}

/// Sets up the HGEI lines and requests the per-CPU SGEI interrupt.
fn hgei_init() -> Result<(), c_int> {
    for cpu in crate::nacl::possible_cpus() {
        let h = kvm_riscv_aia_hgei.ptr(cpu);
        // SAFETY: nothing uses the control before the interrupt is set up.
        unsafe {
            b::kvm_riscv_rs_raw_spin_lock_init(addr_of_mut!((*h).lock));
            (*h).free_bitmap_initialized = false;
            (*h).free_bitmap = 0;
        }
    }
    // SAFETY: a lookup in the INTC domain.
    let irq = unsafe { b::kvm_riscv_rs_map_sgei_irq() };
    if irq == u32::MAX {
        kvm_err!("unable to find INTC domain\n");
        return Err(ENOENT.to_errno());
    }
    if irq == 0 {
        kvm_err!("unable to map SGEI IRQ\n");
        return Err(ENOMEM.to_errno());
    }
    HGEI_PARENT_IRQ.store(irq, Relaxed);
    // SAFETY: the handler and the per-CPU data live as long as the module;
    // `hgei_exit` frees the interrupt.
    let rc = unsafe { b::kvm_riscv_rs_request_sgei_irq(irq, (&raw const kvm_riscv_aia_hgei).cast_mut().cast()) };
    if rc != 0 {
        kvm_err!("failed to request SGEI IRQ\n");
        return Err(rc);
    }
    Ok(())
}

fn hgei_exit() {
    // SAFETY: the interrupt requested by `hgei_init`, disabled on every CPU.
    unsafe {
        b::free_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed), (&raw const kvm_riscv_aia_hgei).cast_mut().cast())
    };
}

/// Puts back the AIA state of this CPU after a low-power state.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_pm_exit() {
    if !available() {
        return;
    }
    let saved = with_hgei(CpuId::current(), |h| h.saved_hgeie);
    ncsr_write_now(csr::HGEIE, saved);
    reset_vs_interrupt_csrs();
    ncsr_set_now(csr::HIE, HIE_SGEIE);
    lcofi_filter(true);
}

/// Filters the counter-overflow interrupt through HVIEN, only with
/// Sscofpmf on the host.
fn lcofi_filter(on: bool) {
    if host_has_ext(b::RISCV_ISA_EXT_SSCOFPMF) {
        if on {
            ncsr_set_now(csr::HVIEN, HVIEN_LCOFI);
        } else {
            ncsr_clear_now(csr::HVIEN, HVIEN_LCOFI);
        }
    }
}

/// Saves what a low-power state loses of this CPU's AIA state.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_pm_enter() {
    if !available() {
        return;
    }
    lcofi_filter(false);
    ncsr_write_now(csr::HVICTL, l::hvictl_value(false));
    let hgeie = ncsr_read_now(csr::HGEIE);
    with_hgei(CpuId::current(), |h| h.saved_hgeie = hgeie);
}

/// HVICTL with no interrupt, all priorities 0.
fn reset_vs_interrupt_csrs() {
    ncsr_write_now(csr::HVICTL, l::hvictl_value(false));
    ncsr_write_now(csr::HVIPRIO1, 0);
    ncsr_write_now(csr::HVIPRIO2, 0);
}

/// Turns the AIA on for guests on this CPU: counts its HGEI lines, resets
/// the VS interrupt CSRs, enables the SGEI interrupt.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_enable() {
    if !available() {
        return;
    }
    let cpu = CpuId::current();
    // The HGEIE bits that stick are the hart's lines (and line 0).
    ncsr_write_now(csr::HGEIE, usize::MAX);
    let ones = ncsr_read_now(csr::HGEIE);
    ncsr_write_now(csr::HGEIE, 0);
    let (mut files, mut pa, mut va) = (0u32, 0 as b::phys_addr_t, null_mut());
    // SAFETY: the pointers are valid for the writes.
    let local = unsafe { b::kvm_riscv_rs_imsic_local(cpu.as_u32() as c_int, &mut files, &mut pa, &mut va) };
    let nr = l::usable_hgei(ones, local.then_some(files as usize));
    // The fewest lines of any hart is what every VM can count on.
    let mut cur = kvm_riscv_aia_nr_hgei.load(Relaxed);
    while cur > nr as i32 {
        match kvm_riscv_aia_nr_hgei.cmpxchg(cur, nr as i32, kernel::sync::atomic::Full) {
            Ok(_) => break,
            Err(now) => cur = now,
        }
    }
    with_hgei(cpu, |h| {
        h.nr_hgei = nr;
        if !h.free_bitmap_initialized {
            h.free_bitmap = l::hgei_free_bitmap(nr);
            h.free_bitmap_initialized = true;
        }
    });
    reset_vs_interrupt_csrs();
    // SAFETY: the interrupt requested by `hgei_init`.
    unsafe { b::kvm_riscv_rs_enable_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed)) };
    ncsr_set_now(csr::HIE, HIE_SGEIE);
    lcofi_filter(true);
}

/// Turns the AIA off for guests on this CPU, releasing the guest files of
/// the vCPUs that hold its lines.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_disable() {
    if !available() {
        return;
    }
    // Called on the CPU being disabled, preemption off.
    let cpu = CpuId::current();
    lcofi_filter(false);
    ncsr_clear_now(csr::HIE, HIE_SGEIE);
    // SAFETY: the interrupt requested by `hgei_init`.
    unsafe { b::disable_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed)) };
    ncsr_write_now(csr::HVICTL, l::hvictl_value(false));
    let nr = with_hgei(cpu, |h| h.nr_hgei);
    for i in 0..=nr.min(63) {
        let owner = with_hgei(cpu, |h| h.owners[i]);
        if owner.is_null() {
            continue;
        }
        // The IMSIC is told without the lock held, as upstream does.
        // SAFETY: the owner is live while it holds the line.
        unsafe { b::kvm_riscv_vcpu_aia_imsic_release(owner) };
        // Wake it up if it waits for this line, to run elsewhere.
        if ncsr_read_now(csr::HGEIE) & (1 << i) != 0 {
            ncsr_clear_now(csr::HGEIE, 1 << i);
            // SAFETY: as above.
            unsafe { b::__kvm_vcpu_kick(owner, false) };
        }
    }
}

/// Sets up guest AIA support at module load (`kvm_riscv_aia_init()`):
/// -ENODEV without Ssaia/Smaia on the host.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_init() -> c_int {
    if !host_has_ext(b::RISCV_ISA_EXT_SxAIA) {
        return ENODEV.to_errno();
    }
    let (mut files, mut ids) = (0u32, 0u32);
    // SAFETY: the pointers are valid for the writes.
    let gc = unsafe { b::kvm_riscv_rs_imsic_global(&mut files, &mut ids) };
    kvm_riscv_aia_nr_hgei.store(if gc { files as i32 } else { 0 }, Relaxed);
    kvm_riscv_aia_max_ids.store(if gc { ids + 1 } else { b::IMSIC_MAX_ID }, Relaxed);
    if let Err(e) = hgei_init() {
        return e;
    }
    // SAFETY: the device operations of aia_device.c live as long as the module.
    let rc = unsafe { b::kvm_register_device_ops(&raw const b::kvm_riscv_aia_device_ops, b::kvm_device_type_KVM_DEV_TYPE_RISCV_AIA) };
    if rc != 0 {
        hgei_exit();
        return rc;
    }
    kvm_riscv_aia_available.enable();
    0
}

/// Undoes [`kvm_riscv_aia_init`].
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_aia_exit() {
    if !available() {
        return;
    }
    // SAFETY: registered by `kvm_riscv_aia_init`.
    unsafe { b::kvm_unregister_device_ops(b::kvm_device_type_KVM_DEV_TYPE_RISCV_AIA) };
    hgei_exit();
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn load(cx: &mut VcpuCtx<'_>, cpu: c_int) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_aia_load(cx.vcpu().as_ptr(), cpu) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn put(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_aia_put(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn update_hvip(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_aia_update_hvip(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn has_interrupts(v: &crate::handle::Vcpu, mask: u64) -> bool {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { kvm_riscv_vcpu_aia_has_interrupts(v.as_ptr(), mask) }
}

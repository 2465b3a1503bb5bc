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
//! `aia_aplic.c`, `aia_device.c`) are still C: they read the statics below
//! and allocate/free HGEI lines through the entry points of `abi.rs`, which
//! call [`alloc_hgei`] and [`free_hgei`]; the SGEI interrupt reaches
//! [`hgei_interrupt`] the same way.

use crate::aia_logic::{self as l, Hviprio, IprioAccess, Ireg};
use crate::bindings as b;
use crate::csr;
use crate::ffi::{self, IrqRawSpinLock};
use crate::handle::{HgeiOwner, Vcpu, VcpuCtx};
use crate::isa::{bitmap_has, host_has_ext};
use crate::nacl::{
    ncsr_clear_now, ncsr_read, ncsr_read_now, ncsr_set_now, ncsr_write, ncsr_write_now,
};
use crate::nospec::array_index_nospec;
use crate::percpu::PerCpu;
use crate::print::kvm_err;
use crate::regs_logic::{bits, u64_to_xlen, xlen_to_u64, Hvip};
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use kernel::cpu::CpuId;
use kernel::error::{code::*, to_result, Result};
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::num::casts::{u32_as_usize, FromSafeCast};
use kernel::sync::atomic::{Atomic, Full, Relaxed};

// The constants of `aia_logic` must be the kernel's.
const _: () = {
    assert!(l::IRQ_S_EXT == u32_as_usize(b::IRQ_S_EXT));
    assert!(l::HVICTL_IID_SHIFT == b::HVICTL_IID_SHIFT);
    assert!(l::ISELECT_IPRIO0 == u32_as_usize(b::ISELECT_IPRIO0));
    assert!(l::ISELECT_IPRIO15 == u32_as_usize(b::ISELECT_IPRIO15));
    assert!(l::IMSIC_FIRST == u32_as_usize(b::IMSIC_EIDELIVERY));
    assert!(l::IMSIC_LAST == u32_as_usize(b::IMSIC_EIE63));
    assert!(l::HVICTL_IID == u64_to_xlen(b::kvm_riscv_rs_const64_KVM_RISCV_RS_HVICTL_IID));
    assert!(l::ISELECT_MASK == u64_to_xlen(b::kvm_riscv_rs_const64_KVM_RISCV_RS_ISELECT_MASK));
};

// CAST (the three): small enumerators.
const INSN_NEXT: c_int = b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC as c_int;
const INSN_ILLEGAL: c_int = b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP as c_int;
const INSN_USER: c_int = b::kvm_insn_return_KVM_INSN_EXIT_TO_USER_SPACE as c_int;
const TOPEI: c_ulong = u64_to_xlen(b::kvm_riscv_rs_const64_KVM_RISCV_RS_AIA_IMSIC_TOPEI);
const IMSIC_PAGE: usize = u64_to_xlen(b::kvm_riscv_rs_const64_KVM_RISCV_RS_IMSIC_MMIO_PAGE_SZ);
const HIE_SGEIE: usize = 1 << b::IRQ_S_GEXT;
const HVIEN_LCOFI: usize = 1 << b::IRQ_PMU_OVF;
const SEIP: c_ulong = 1 << b::IRQ_S_EXT;

/// Is the AIA virtualized for guests (`kvm_riscv_aia_available()`)?
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_aia_available: StaticKeyFalse = StaticKeyFalse::new();

/// IMSIC guest files every hart has, the fewest of any (C: `atomic_t`).
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_aia_nr_hgei: Atomic<i32> = Atomic::new(0);

/// Guest MSI identities (C: `unsigned int`, written once at init).
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_aia_max_ids: Atomic<u32> = Atomic::new(0);

#[inline(always)]
pub(crate) fn available() -> bool {
    static_branch_unlikely!(kvm_riscv_aia_available)
}

/// The number of IMSIC guest files every hart has (the fewest of any).
pub(crate) fn nr_hgei() -> i32 {
    kvm_riscv_aia_nr_hgei.load(Relaxed)
}

/// The HGEI lines of a CPU: who owns which, which are free.
struct HgeiControl {
    free_bitmap_initialized: bool,
    free_bitmap: usize,
    owners: [Option<HgeiOwner>; 64],
    nr_hgei: usize,
    saved_hgeie: usize,
}

/// Each CPU's HGEI lines, under a raw spinlock that the SGEI interrupt
/// takes too.
#[link_section = ".data..percpu"]
static AIA_HGEI: PerCpu<IrqRawSpinLock<HgeiControl>> =
    PerCpu::new(IrqRawSpinLock::new(HgeiControl {
        free_bitmap_initialized: false,
        free_bitmap: 0,
        owners: [None; 64],
        nr_hgei: 0,
        saved_hgeie: 0,
    }));

/// The Linux IRQ of the per-CPU SGEI interrupt.
static HGEI_PARENT_IRQ: Atomic<u32> = Atomic::new(0);

/// Runs `f` on `cpu`'s HGEI control under its lock, interrupts off.
fn with_hgei<R>(cpu: CpuId, f: impl FnOnce(&mut HgeiControl) -> R) -> R {
    f(&mut AIA_HGEI.get(cpu).lock())
}

/// Does the vCPU have an enabled, pending VS external interrupt in its
/// IMSIC file (`kvm_riscv_vcpu_aia_has_interrupts()`)? From any thread.
pub(crate) fn has_interrupts(v: &Vcpu, mask: u64) -> bool {
    if !available() {
        return false;
    }
    let seip = v.vsie() & u64_to_xlen(mask) & SEIP;
    if !v.vm().aia_initialized() || seip == 0 {
        return false;
    }
    crate::aia_imsic::has_interrupt(v)
}

/// Mirrors a pending VS external interrupt into HVICTL
/// (`kvm_riscv_vcpu_aia_update_hvip()`).
pub(crate) fn update_hvip(cx: &mut VcpuCtx<'_>) {
    if !available() {
        return;
    }
    let vseip = Hvip::from_raw(xlen_to_u64(cx.csr().hvip)).vseip();
    ncsr_write(csr::HVICTL, l::hvictl_value(vseip));
}

/// Loads the vCPU's AIA CSRs on this CPU (`kvm_riscv_vcpu_aia_load()`).
pub(crate) fn load(cx: &mut VcpuCtx<'_>, _cpu: c_int) {
    if !available() {
        return;
    }
    {
        let c = cx.parts().aia_csr;
        ncsr_write(csr::VSISELECT, c.vsiselect);
        ncsr_write(csr::HVIPRIO1, c.hviprio1);
        ncsr_write(csr::HVIPRIO2, c.hviprio2);
    }
    // `kvm_riscv_vcpu_aia_imsic_load()` does nothing: the HGEI interrupt
    // handler clears the HGEIE bits.
}

/// Saves the vCPU's AIA CSRs (`kvm_riscv_vcpu_aia_put()`).
pub(crate) fn put(cx: &mut VcpuCtx<'_>) {
    if !available() {
        return;
    }
    if cx.vcpu().vm().aia_initialized() {
        crate::aia_imsic::put(cx);
    }
    let c = cx.parts().aia_csr;
    c.vsiselect = ncsr_read(csr::VSISELECT);
    c.hviprio1 = ncsr_read(csr::HVIPRIO1);
    c.hviprio2 = ncsr_read(csr::HVIPRIO2);
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

const AIA_REGS: usize =
    core::mem::size_of::<b::kvm_riscv_aia_csr>() / core::mem::size_of::<c_ulong>();
const _: () = assert!(AIA_REGS == 7 && core::mem::size_of::<b::kvm_vcpu_aia_csr>() == 7 * 8);

/// Checks an AIA ONE_REG number: the vCPU must have Ssaia.
fn aia_reg_num(cx: &mut VcpuCtx<'_>, reg_num: c_ulong) -> Result<usize> {
    if !bitmap_has(cx.isa(), b::RISCV_ISA_EXT_SSAIA) || reg_num >= AIA_REGS {
        return Err(ENOENT);
    }
    Ok(array_index_nospec(reg_num, AIA_REGS))
}

/// The AIA ONE_REG CSR `reg_num` (`kvm_riscv_vcpu_aia_get_csr()`).
pub(crate) fn get_csr(cx: &mut VcpuCtx<'_>, reg_num: c_ulong) -> Result<c_ulong> {
    let n = aia_reg_num(cx, reg_num)?;
    Ok(if available() {
        *aia_reg(cx.parts().aia_csr, n)
    } else {
        0
    })
}

/// Sets the AIA ONE_REG CSR `reg_num` (`kvm_riscv_vcpu_aia_set_csr()`).
pub(crate) fn set_csr(cx: &mut VcpuCtx<'_>, reg_num: c_ulong, val: c_ulong) -> Result {
    let n = aia_reg_num(cx, reg_num)?;
    if available() {
        *aia_reg(cx.parts().aia_csr, n) = val;
    }
    Ok(())
}

/// The guest's STOPEI CSR: the in-kernel IMSIC emulates it, else userspace
/// (`kvm_riscv_vcpu_aia_rmw_topei()`).
pub(crate) fn rmw_topei(
    cx: &mut VcpuCtx<'_>,
    _csr_num: c_uint,
    val: &mut c_ulong,
    new_val: c_ulong,
    wr_mask: c_ulong,
) -> c_int {
    if !available() {
        return INSN_ILLEGAL;
    }
    if !cx.vcpu().vm().aia_initialized() {
        return INSN_USER;
    }
    crate::aia_imsic::rmw(cx, TOPEI, val, new_val, wr_mask)
}

/// The guest's SIREG CSR, as selected by VSISELECT: the IPRIO array here,
/// the IMSIC registers in the in-kernel IMSIC, anything else in userspace
/// (`kvm_riscv_vcpu_aia_rmw_ireg()`).
pub(crate) fn rmw_ireg(
    cx: &mut VcpuCtx<'_>,
    _csr_num: c_uint,
    val: &mut c_ulong,
    new_val: c_ulong,
    wr_mask: c_ulong,
) -> c_int {
    if !available() {
        return INSN_ILLEGAL;
    }
    let imsic = cx.vcpu().vm().aia_initialized();
    match l::classify_isel(ncsr_read(csr::VSISELECT), imsic) {
        Ireg::Iprio(isel) => {
            let hv = Hviprio([
                xlen_to_u64(ncsr_read(csr::HVIPRIO1)),
                xlen_to_u64(ncsr_read(csr::HVIPRIO2)),
            ]);
            match l::rmw_iprio(hv, isel, xlen_to_u64(new_val), xlen_to_u64(wr_mask)) {
                IprioAccess::Illegal => INSN_ILLEGAL,
                IprioAccess::Done { old, new } => {
                    *val = u64_to_xlen(old);
                    if wr_mask != 0 {
                        ncsr_write(csr::HVIPRIO1, u64_to_xlen(new.0[0]));
                        ncsr_write(csr::HVIPRIO2, u64_to_xlen(new.0[1]));
                    }
                    INSN_NEXT
                }
            }
        }
        Ireg::Imsic(isel) => crate::aia_imsic::rmw(cx, isel, val, new_val, wr_mask),
        Ireg::User => INSN_USER,
    }
}

/// Takes a free HGEI line of `cpu` for `owner`'s IMSIC guest file
/// (`kvm_riscv_aia_alloc_hgei()`): its line number, or -ENOENT (none free),
/// -ENODEV (no AIA); with the line's guest file when the CPU has an IMSIC.
pub(crate) fn alloc_hgei(cpu: c_int, owner: HgeiOwner) -> (c_int, Option<ffi::HgeiFile>) {
    let Some(id) = CpuId::from_i32(cpu).filter(|_| available()) else {
        return (ENODEV.to_errno(), None);
    };
    let line = with_hgei(id, |h| {
        if h.free_bitmap == 0 {
            return None;
        }
        let line = usize::from_safe_cast(h.free_bitmap.trailing_zeros());
        h.free_bitmap &= !(1 << line);
        h.owners[line] = Some(owner);
        Some(line)
    });
    let Some(line) = line else {
        return (ENOENT.to_errno(), None);
    };
    let file = ffi::imsic_local(id).and_then(|lc| lc.guest_file(line, IMSIC_PAGE));
    // CAST: a line number, below 64.
    (line as c_int, file)
}

/// Gives HGEI line `hgei` of `cpu` back (`kvm_riscv_aia_free_hgei()`).
pub(crate) fn free_hgei(cpu: c_int, hgei: c_int) {
    let Some(id) = CpuId::from_i32(cpu).filter(|_| available()) else {
        return;
    };
    with_hgei(id, |h| {
        if let Ok(i) = usize::try_from(hgei) {
            if i > 0 && i <= h.nr_hgei && h.free_bitmap & (1 << i) == 0 {
                h.free_bitmap |= 1 << i;
                h.owners[i] = None;
            }
        }
    });
}

/// Frees every HGEI line `v` owns, of any CPU: when its IMSIC goes, which
/// has given them all back already unless it lost one.
pub(crate) fn free_lines_of(v: &Vcpu) {
    if !available() {
        return;
    }
    for cpu in crate::nacl::possible_cpus() {
        with_hgei(cpu, |h| {
            for (i, o) in h.owners.iter_mut().enumerate() {
                if o.is_some_and(|o| o.is(v)) {
                    *o = None;
                    h.free_bitmap |= 1 << i;
                }
            }
        });
    }
}

/// The SGEI interrupt: a guest interrupt file of this CPU has an interrupt
/// for a vCPU that is not running; kick its owner.
pub(crate) fn hgei_interrupt() {
    let mask = ncsr_read_now(csr::HGEIP) & ncsr_read_now(csr::HGEIE);
    ncsr_clear_now(csr::HGEIE, mask);
    // The handler runs with preemption off, on the CPU of the lines.
    with_hgei(CpuId::current(), |h| {
        for i in bits(mask) {
            if let Some(owner) = &h.owners[i] {
                owner.vcpu().kick();
            }
        }
    });
}

/// Sets up the HGEI lines and requests the per-CPU SGEI interrupt.
fn hgei_init() -> Result {
    for cpu in crate::nacl::possible_cpus() {
        let lock = AIA_HGEI.get(cpu);
        lock.init();
        let mut h = lock.lock();
        h.free_bitmap_initialized = false;
        h.free_bitmap = 0;
    }
    let irq = ffi::map_sgei_irq();
    if irq == u32::MAX {
        kvm_err!("unable to find INTC domain\n");
        return Err(ENOENT);
    }
    if irq == 0 {
        kvm_err!("unable to map SGEI IRQ\n");
        return Err(ENOMEM);
    }
    HGEI_PARENT_IRQ.store(irq, Relaxed);
    let rc = ffi::request_sgei_irq(irq, &AIA_HGEI);
    if rc != 0 {
        kvm_err!("failed to request SGEI IRQ\n");
        return to_result(rc);
    }
    Ok(())
}

fn hgei_exit() {
    ffi::free_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed), &AIA_HGEI);
}

/// Puts back the AIA state of this CPU after a low-power state
/// (`kvm_riscv_aia_pm_exit()`).
pub(crate) fn pm_exit() {
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

/// Saves what a low-power state loses of this CPU's AIA state
/// (`kvm_riscv_aia_pm_enter()`).
pub(crate) fn pm_enter() {
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
/// the VS interrupt CSRs, enables the SGEI interrupt
/// (`kvm_riscv_aia_enable()`).
pub(crate) fn enable() {
    if !available() {
        return;
    }
    let cpu = CpuId::current();
    // The HGEIE bits that stick are the hart's lines (and line 0).
    ncsr_write_now(csr::HGEIE, usize::MAX);
    let ones = ncsr_read_now(csr::HGEIE);
    ncsr_write_now(csr::HGEIE, 0);
    let files = ffi::imsic_local(cpu).map(|lc| usize::from_safe_cast(lc.nr_guest_files));
    let nr = l::usable_hgei(ones, files);
    // CAST: at most 63 lines.
    let nr_i32 = nr as i32;
    // The fewest lines of any hart is what every VM can count on.
    let mut cur = kvm_riscv_aia_nr_hgei.load(Relaxed);
    while cur > nr_i32 {
        match kvm_riscv_aia_nr_hgei.cmpxchg(cur, nr_i32, Full) {
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
    ffi::enable_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed));
    ncsr_set_now(csr::HIE, HIE_SGEIE);
    lcofi_filter(true);
}

/// Turns the AIA off for guests on this CPU, releasing the guest files of
/// the vCPUs that hold its lines (`kvm_riscv_aia_disable()`).
pub(crate) fn disable() {
    if !available() {
        return;
    }
    // Called on the CPU being disabled, preemption off.
    let cpu = CpuId::current();
    lcofi_filter(false);
    ncsr_clear_now(csr::HIE, HIE_SGEIE);
    ffi::disable_percpu_irq(HGEI_PARENT_IRQ.load(Relaxed));
    ncsr_write_now(csr::HVICTL, l::hvictl_value(false));
    let nr = with_hgei(cpu, |h| h.nr_hgei);
    for i in 0..=nr.min(63) {
        let Some(owner) = with_hgei(cpu, |h| h.owners[i]) else {
            continue;
        };
        // The IMSIC is told without the lock held, as upstream does.
        crate::aia_imsic::release(owner.vcpu());
        // Wake it up if it waits for this line, to run elsewhere.
        if ncsr_read_now(csr::HGEIE) & (1 << i) != 0 {
            ncsr_clear_now(csr::HGEIE, 1 << i);
            owner.vcpu().kick();
        }
    }
}

/// Sets up guest AIA support at module load (`kvm_riscv_aia_init()`):
/// -ENODEV without Ssaia/Smaia on the host.
pub(crate) fn init() -> Result {
    if !host_has_ext(b::RISCV_ISA_EXT_SxAIA) {
        return Err(ENODEV);
    }
    let gc = ffi::imsic_global();
    // CAST: a count of guest files, at most 64 (C stores it in an atomic_t).
    kvm_riscv_aia_nr_hgei.store(gc.map_or(0, |(files, _)| files as i32), Relaxed);
    kvm_riscv_aia_max_ids.store(
        gc.map_or(b::IMSIC_MAX_ID, |(_, ids)| ids.wrapping_add(1)),
        Relaxed,
    );
    hgei_init()?;
    let rc = ffi::register_aia_device_ops(&crate::abi::AIA_DEVICE_OPS);
    if rc != 0 {
        hgei_exit();
        return to_result(rc);
    }
    kvm_riscv_aia_available.enable();
    Ok(())
}

/// Undoes [`init`] (`kvm_riscv_aia_exit()`).
pub(crate) fn exit() {
    if !available() {
        return;
    }
    ffi::unregister_aia_device_ops();
    hgei_exit();
}

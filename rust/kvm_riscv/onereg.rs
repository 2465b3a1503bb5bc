// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_onereg.c`: `KVM_GET_ONE_REG`,
//! `KVM_SET_ONE_REG` and `KVM_GET_REG_LIST`. A register id is decoded once
//! into a [`RegId`]; each class has its handler, with upstream's errno for
//! every invalid id, size or value. User memory is reached through the
//! kernel crate's `UserSlice`.
//!
//! The timer's registers are served by `vcpu_timer.rs`, the SBI classes by
//! `vcpu_sbi.rs`. RV64 only.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::isa::{self, host_supports};
use crate::isa_table::Ext;
use crate::nospec::array_index_nospec;
use crate::reg_id::{self as r, Class, CsrSub, ExtSub, RegId};
use core::mem::size_of;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

const ULONG: usize = size_of::<c_ulong>();
const SR_SPP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
const ISA_EXT_MAX: usize = crate::isa_table::ALL.len();

// The register layout of `reg_id` must be the uapi's.
const _: () = {
    assert!(r::KVM_REG_RISCV == b::KVM_REG_RISCV as u64);
    assert!(r::KVM_REG_SIZE_U32 == b::KVM_REG_SIZE_U32 as u64);
    assert!(r::KVM_REG_SIZE_U64 == b::KVM_REG_SIZE_U64 as u64);
    assert!(r::TYPE_MASK == b::KVM_REG_RISCV_TYPE_MASK as u64);
    assert!(r::SUBTYPE_MASK == b::KVM_REG_RISCV_SUBTYPE_MASK as u64);
    assert!(Class::Config.type_field() == b::KVM_REG_RISCV_CONFIG as u64);
    assert!(Class::Core.type_field() == b::KVM_REG_RISCV_CORE as u64);
    assert!(Class::Csr.type_field() == b::KVM_REG_RISCV_CSR as u64);
    assert!(Class::Timer.type_field() == b::KVM_REG_RISCV_TIMER as u64);
    assert!(Class::FpF.type_field() == b::KVM_REG_RISCV_FP_F as u64);
    assert!(Class::FpD.type_field() == b::KVM_REG_RISCV_FP_D as u64);
    assert!(Class::IsaExt.type_field() == b::KVM_REG_RISCV_ISA_EXT as u64);
    assert!(Class::SbiExt.type_field() == b::KVM_REG_RISCV_SBI_EXT as u64);
    assert!(Class::Vector.type_field() == b::KVM_REG_RISCV_VECTOR as u64);
    assert!(Class::SbiState.type_field() == b::KVM_REG_RISCV_SBI_STATE as u64);
    assert!(r::config::COUNT as usize == size_of::<b::kvm_riscv_config>() / ULONG);
    assert!(r::core_reg::COUNT as usize == size_of::<b::kvm_riscv_core>() / ULONG);
    assert!(r::CSR_GENERAL_COUNT as usize == size_of::<b::kvm_riscv_csr>() / ULONG);
    assert!(r::CSR_GENERAL_COUNT as usize == size_of::<b::kvm_vcpu_csr>() / ULONG);
    assert!(r::CSR_AIA_COUNT as usize == size_of::<b::kvm_riscv_aia_csr>() / ULONG);
    assert!(r::CSR_SMSTATEEN_COUNT as usize == size_of::<b::kvm_riscv_smstateen_csr>() / ULONG);
    assert!(r::CSR_SMSTATEEN_COUNT as usize == size_of::<b::kvm_vcpu_smstateen_csr>() / ULONG);
    assert!(r::CSR_ZICFISS_COUNT as usize == size_of::<b::kvm_riscv_zicfiss_csr>() / ULONG);
    assert!(r::CSR_ZICFISS_COUNT as usize == size_of::<b::kvm_vcpu_zicfiss_csr>() / ULONG);
    assert!(r::TIMER_COUNT as usize == size_of::<b::kvm_riscv_timer>() / size_of::<u64>());
    assert!(r::MODE_S == b::KVM_RISCV_MODE_S as usize && r::MODE_U == b::KVM_RISCV_MODE_U as usize);
    assert!(ISA_EXT_MAX == b::KVM_RISCV_ISA_EXT_ID_KVM_RISCV_ISA_EXT_MAX as usize);
};

/// The vector registers follow the vector CSRs' whole state structure.
const VECTOR_REG_BASE: u64 = (size_of::<b::__riscv_v_ext_state>() / ULONG) as u64;

/// The `len` bytes of userspace at `kvm_one_reg.addr` (or a register list).
pub(crate) fn user(addr: u64, len: usize) -> UserSlice {
    // CAST: a user address.
    UserSlice::new(UserPtr::from_addr(addr as usize), len)
}

fn put_user_ulong(addr: u64, v: c_ulong) -> Result {
    user(addr, ULONG).writer().write(&v)
}

fn get_user_ulong(addr: u64) -> Result<c_ulong> {
    user(addr, ULONG).reader().read::<c_ulong>()
}

/// Does the vCPU have ISA extension `ext` (`RISCV_ISA_EXT_*`)?
fn guest_has(arch: &b::kvm_vcpu_arch, ext: c_ulong) -> bool {
    // SAFETY: the vCPU's ISA bitmap; any id is accepted.
    unsafe { b::__riscv_isa_extension_available(arch.isa.as_ptr(), ext as u32) }
}

/// The host extension behind KVM ISA extension `kvm_ext`, if the host has
/// it; -ENOENT else.
fn host_base_ext(kvm_ext: u64) -> Result<c_ulong> {
    isa::host_base(kvm_ext as usize).map(|b| b as c_ulong).ok_or(ENOENT)
}

/// The vCPU's architecture state.
///
/// # Safety
/// `vcpu` is live; the caller holds its mutex.
unsafe fn arch<'a>(vcpu: *mut b::kvm_vcpu) -> &'a mut b::kvm_vcpu_arch {
    // SAFETY: per the function's contract.
    unsafe { &mut (*vcpu).arch }
}

fn ran(arch: &b::kvm_vcpu_arch) -> bool {
    arch.ran_atleast_once
}

/// Sets up the vCPU's ISA: every extension the host has and KVM may
/// enable (`kvm_riscv_vcpu_setup_isa()`).
///
/// # Safety
/// `vcpu` is being created, by its creator.
pub(crate) unsafe fn setup_isa_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    for id in 0..ISA_EXT_MAX as u64 {
        let Ok(base) = host_base_ext(id) else { continue };
        if isa::kvm_riscv_isa_enable_allowed(id as c_ulong) {
            // SAFETY: an atomic bit operation on the bitmap.
            unsafe { b::set_bit(base, arch.isa.as_mut_ptr()) };
        }
    }
}

// --- config ------------------------------------------------------------------

fn satp_mode() -> c_ulong {
    // SAFETY: a plain read of a variable set once at boot.
    (unsafe { b::satp_mode } >> b::SATP_MODE_SHIFT) as c_ulong
}

/// The cache block size of a Zicbo* extension: 0 when the host lacks it.
fn cbo_block_size(ext: Ext) -> c_ulong {
    if host_supports(ext) {
        cbo_block_size_unchecked(ext)
    } else {
        0
    }
}

fn get_config(arch: &b::kvm_vcpu_arch, reg: RegId) -> Result<c_ulong> {
    use r::config::*;
    Ok(match reg.number() {
        ISA => arch.isa[0] & r::BASE_ISA_MASK as c_ulong,
        ZICBOM_BLOCK_SIZE => cbo_block_size(Ext::ZICBOM),
        ZICBOZ_BLOCK_SIZE => cbo_block_size(Ext::ZICBOZ),
        ZICBOP_BLOCK_SIZE => cbo_block_size(Ext::ZICBOP),
        MVENDORID => arch.mvendorid,
        MARCHID => arch.marchid,
        MIMPID => arch.mimpid,
        SATP_MODE => satp_mode(),
        _ => return Err(ENOENT),
    })
}

/// Sets an identity register (mvendorid, marchid, mimpid): only before the
/// first run, unless the value does not change.
fn set_id_reg(ran: bool, field: &mut c_ulong, val: c_ulong) -> Result {
    if val == *field {
        return Ok(());
    }
    if ran {
        return Err(EBUSY);
    }
    *field = val;
    Ok(())
}

/// Sets the single-letter extensions (`isa` config register).
///
/// # Safety
/// As for [`arch`].
unsafe fn set_config_isa(vcpu: *mut b::kvm_vcpu, mut val: c_ulong) -> Result {
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    // Only single-letter extensions; upstream looks at the low 32 bits
    // (`fls()` of an int).
    if 32 - (val as u32).leading_zeros() >= b::RISCV_ISA_EXT_BASE {
        return Err(EINVAL);
    }
    let mask = r::BASE_ISA_MASK as c_ulong;
    if val == arch.isa[0] & mask {
        return Ok(());
    }
    if ran(arch) {
        return Err(EBUSY);
    }
    // Extensions that may not change keep their state.
    for i in 0..b::RISCV_ISA_EXT_BASE as c_ulong {
        let bit = 1 << i;
        let kvm_ext = isa::kvm_riscv_base2isa_ext(i);
        if kvm_ext as usize >= ISA_EXT_MAX {
            val &= !bit;
            continue;
        }
        if !isa::kvm_riscv_isa_enable_allowed(kvm_ext) && val & bit != 0 {
            val &= !bit;
        }
        if !isa::kvm_riscv_isa_disable_allowed(kvm_ext) && val & bit == 0 {
            val |= bit;
        }
    }
    // SAFETY: the host's base ISA.
    val &= unsafe { b::riscv_isa_extension_base(core::ptr::null()) };
    arch.isa[0] = (arch.isa[0] & !mask) | (val & mask);
    // The FP state follows the ISA.
    crate::vcpu_fp::reset(&mut arch.guest_context, &arch.isa);
    Ok(())
}

/// # Safety
/// As for [`arch`].
unsafe fn set_config(vcpu: *mut b::kvm_vcpu, reg: RegId, val: c_ulong) -> Result {
    use r::config::*;
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    let ran = ran(arch);
    let cbo = |ext| if val != 0 && val != cbo_block_size_unchecked(ext) { Err(EINVAL) } else { Ok(()) };
    match reg.number() {
        // SAFETY: per the function's contract.
        ISA => unsafe { set_config_isa(vcpu, val) },
        ZICBOM_BLOCK_SIZE => cbo(Ext::ZICBOM),
        ZICBOZ_BLOCK_SIZE => cbo(Ext::ZICBOZ),
        ZICBOP_BLOCK_SIZE => cbo(Ext::ZICBOP),
        MVENDORID => set_id_reg(ran, &mut arch.mvendorid, val),
        MARCHID => set_id_reg(ran, &mut arch.marchid, val),
        MIMPID => set_id_reg(ran, &mut arch.mimpid, val),
        SATP_MODE if val != satp_mode() => Err(EINVAL),
        SATP_MODE => Ok(()),
        _ => Err(ENOENT),
    }
}

/// The host's block size, whether or not the host has the extension (the
/// check of a write compares with it as it is).
fn cbo_block_size_unchecked(ext: Ext) -> c_ulong {
    // SAFETY: plain reads of variables set once at boot.
    unsafe {
        match ext {
            Ext::ZICBOM => b::riscv_cbom_block_size as c_ulong,
            Ext::ZICBOZ => b::riscv_cboz_block_size as c_ulong,
            _ => b::riscv_cbop_block_size as c_ulong,
        }
    }
}

// --- core --------------------------------------------------------------------

/// Guest register `n` (1..=31) of the context.
fn gpr(c: &mut b::kvm_cpu_context, n: u64) -> &mut c_ulong {
    crate::vcpu_insn::gpr(c, n as usize)
}

fn core_index(reg: RegId) -> Result<u64> {
    let n = reg.number();
    if n >= r::core_reg::COUNT {
        return Err(ENOENT);
    }
    Ok(array_index_nospec(n as usize, r::core_reg::COUNT as usize) as u64)
}

fn get_core(arch: &mut b::kvm_vcpu_arch, reg: RegId) -> Result<c_ulong> {
    let n = core_index(reg)?;
    let c = &mut arch.guest_context;
    Ok(match n {
        r::core_reg::PC => c.sepc,
        1..=r::core_reg::T6 => *gpr(c, n),
        r::core_reg::MODE => {
            (if c.sstatus & SR_SPP != 0 { r::MODE_S } else { r::MODE_U }) as c_ulong
        }
        _ => return Err(ENOENT),
    })
}

fn set_core(arch: &mut b::kvm_vcpu_arch, n: u64, val: c_ulong) -> Result {
    let c = &mut arch.guest_context;
    match n {
        r::core_reg::PC => c.sepc = val,
        1..=r::core_reg::T6 => *gpr(c, n) = val,
        r::core_reg::MODE => {
            if val as usize == r::MODE_S {
                c.sstatus |= SR_SPP;
            } else {
                c.sstatus &= !(SR_SPP);
            }
        }
        _ => return Err(ENOENT),
    }
    Ok(())
}

// --- CSRs --------------------------------------------------------------------

/// General CSR `n` of the guest's saved CSRs (`struct kvm_vcpu_csr`, in
/// the order of `struct kvm_riscv_csr`).
fn general_csr(c: &mut b::kvm_vcpu_csr, n: u64) -> &mut c_ulong {
    match n {
        0 => &mut c.vsstatus,
        1 => &mut c.vsie,
        2 => &mut c.vstvec,
        3 => &mut c.vsscratch,
        4 => &mut c.vsepc,
        5 => &mut c.vscause,
        6 => &mut c.vstval,
        7 => &mut c.hvip,
        8 => &mut c.vsatp,
        9 => &mut c.scounteren,
        _ => &mut c.senvcfg,
    }
}

fn csr_index(reg: RegId, count: u64) -> Result<u64> {
    let n = reg.index();
    if n >= count {
        return Err(ENOENT);
    }
    Ok(array_index_nospec(n as usize, count as usize) as u64)
}

/// # Safety
/// As for [`arch`].
unsafe fn get_csr(vcpu: *mut b::kvm_vcpu, reg: RegId) -> Result<c_ulong> {
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    match reg.csr_sub() {
        Some(CsrSub::General) => {
            let n = csr_index(reg, r::CSR_GENERAL_COUNT)?;
            if n == r::CSR_SIP {
                // SAFETY: per the function's contract.
                crate::vcpu_irq::flush_interrupts(&mut unsafe { VcpuCtx::new(crate::handle::Vcpu::from_raw(vcpu)) });
                return Ok(r::hvip_to_sip(arch.guest_csr.hvip as usize) as c_ulong);
            }
            Ok(*general_csr(&mut arch.guest_csr, n))
        }
        // SAFETY: per the function's contract.
        Some(CsrSub::Aia) => unsafe { crate::aia::get_csr(vcpu, reg.index() as c_ulong) },
        Some(CsrSub::Smstateen) => {
            if !guest_has(arch, b::RISCV_ISA_EXT_SMSTATEEN as c_ulong) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_SMSTATEEN_COUNT)?;
            Ok(arch.smstateen_csr.sstateen0)
        }
        Some(CsrSub::Zicfiss) => {
            if !guest_has(arch, b::RISCV_ISA_EXT_ZICFISS as c_ulong) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_ZICFISS_COUNT)?;
            Ok(arch.zicfiss_csr.ssp)
        }
        None => Err(ENOENT),
    }
}

/// # Safety
/// As for [`arch`].
unsafe fn set_csr(vcpu: *mut b::kvm_vcpu, reg: RegId, val: c_ulong) -> Result {
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    match reg.csr_sub() {
        Some(CsrSub::General) => {
            let n = csr_index(reg, r::CSR_GENERAL_COUNT)?;
            if n == r::CSR_SIP {
                arch.guest_csr.hvip = r::vsip_to_hvip(val as usize) as c_ulong;
                // Pending updates from before are superseded.
                // SAFETY: a live vCPU.
                unsafe { crate::handle::Vcpu::from_raw(vcpu) }.with_irqs(|_, mask| *mask = 0);
            } else {
                *general_csr(&mut arch.guest_csr, n) = val;
            }
        }
        // SAFETY: per the function's contract.
        Some(CsrSub::Aia) => unsafe { crate::aia::set_csr(vcpu, reg.index() as c_ulong, val) }?,
        Some(CsrSub::Smstateen) => {
            if !guest_has(arch, b::RISCV_ISA_EXT_SMSTATEEN as c_ulong) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_SMSTATEEN_COUNT)?;
            arch.smstateen_csr.sstateen0 = val;
        }
        Some(CsrSub::Zicfiss) => {
            if !guest_has(arch, b::RISCV_ISA_EXT_ZICFISS as c_ulong) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_ZICFISS_COUNT)?;
            arch.zicfiss_csr.ssp = val;
        }
        None => return Err(ENOENT),
    }
    arch.csr_dirty = true;
    Ok(())
}

// --- ISA extensions ----------------------------------------------------------

fn get_isa_single(arch: &b::kvm_vcpu_arch, id: u64) -> Result<c_ulong> {
    let base = host_base_ext(id)?;
    Ok(guest_has(arch, base) as c_ulong)
}

/// # Safety
/// As for [`arch`].
unsafe fn set_isa_single(vcpu: *mut b::kvm_vcpu, id: u64, val: c_ulong) -> Result {
    let base = host_base_ext(id)?;
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    if val == guest_has(arch, base) as c_ulong {
        return Ok(());
    }
    if ran(arch) {
        return Err(EBUSY);
    }
    let isa = arch.isa.as_mut_ptr();
    // SAFETY (both): atomic bit operations on the vCPU's bitmap.
    if val == 1 && isa::kvm_riscv_isa_enable_allowed(id as c_ulong) {
        unsafe { b::set_bit(base, isa) };
    } else if val == 0 && isa::kvm_riscv_isa_disable_allowed(id as c_ulong) {
        unsafe { b::clear_bit(base, isa) };
    } else {
        return Err(EINVAL);
    }
    // The FP state follows the ISA.
    crate::vcpu_fp::reset(&mut arch.guest_context, &arch.isa);
    Ok(())
}

fn get_isa_ext(arch: &b::kvm_vcpu_arch, reg: RegId) -> Result<c_ulong> {
    let n = reg.index();
    match reg.ext_sub() {
        Some(ExtSub::Single) => get_isa_single(arch, n),
        Some(sub) => get_multi(sub, n, ISA_EXT_MAX, |id| get_isa_single(arch, id).unwrap_or(0) != 0),
        None => Err(ENOENT),
    }
}

/// The value of multi-extension register `n` of `max` extensions, as
/// `sub` (MULTI_EN, or MULTI_DIS: inverted) shows it: a bit for each
/// extension `on` says is enabled. -ENOENT past the last register.
pub(crate) fn get_multi(sub: ExtSub, n: u64, max: usize, on: impl Fn(u64) -> bool) -> Result<c_ulong> {
    if n > r::multi_reg_last(max) {
        return Err(ENOENT);
    }
    let val = r::multi_ids(n, max).filter(|&(_, id)| on(id)).fold(0, |v: c_ulong, (bit, _)| v | 1 << bit);
    Ok(if sub == ExtSub::MultiDis { !val } else { val })
}

/// Writes multi-extension register `n` of `max` extensions: `set` gets
/// each extension whose bit is set in `val`, on its own (refusals are not
/// reported). -ENOENT past the last register.
pub(crate) fn set_multi(n: u64, max: usize, val: c_ulong, mut set: impl FnMut(u64)) -> Result {
    if n > r::multi_reg_last(max) {
        return Err(ENOENT);
    }
    r::multi_ids(n, max).filter(|&(bit, _)| val & (1 << bit) != 0).for_each(|(_, id)| set(id));
    Ok(())
}

/// # Safety
/// As for [`arch`].
unsafe fn set_isa_ext(vcpu: *mut b::kvm_vcpu, reg: RegId, val: c_ulong) -> Result {
    let n = reg.index();
    let enable = match reg.ext_sub() {
        // SAFETY: per the function's contract.
        Some(ExtSub::Single) => return unsafe { set_isa_single(vcpu, n, val) },
        Some(ExtSub::MultiEn) => 1,
        Some(ExtSub::MultiDis) => 0,
        None => return Err(ENOENT),
    };
    set_multi(n, ISA_EXT_MAX, val, |id| {
        // SAFETY: per the function's contract.
        let _ = unsafe { set_isa_single(vcpu, id, enable) };
    })
}

// --- FP and vector -----------------------------------------------------------

/// Where an FP register lives in the guest context, and its size.
enum FpSlot {
    F(usize),
    D(usize),
    Fcsr,
}

/// Decodes an FP register id of `class` (FP_F or FP_D): the vCPU must
/// have the extension; F registers and fcsr are 32-bit, D registers 64.
fn fp_slot(arch: &b::kvm_vcpu_arch, class: Class, reg: RegId) -> Result<FpSlot> {
    let n = reg.number();
    let letter = |l| guest_has(arch, l as c_ulong);
    match class {
        Class::FpF if letter(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_F) => {
            if reg.size() != 4 {
                return Err(EINVAL);
            }
            match n {
                32 => Ok(FpSlot::Fcsr),
                0..32 => Ok(FpSlot::F(array_index_nospec(n as usize, 32))),
                _ => Err(ENOENT),
            }
        }
        Class::FpD if letter(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_D) => match n {
            32 if reg.size() != 4 => Err(EINVAL),
            32 => Ok(FpSlot::Fcsr),
            0..32 if reg.size() != 8 => Err(EINVAL),
            0..32 => Ok(FpSlot::D(array_index_nospec(n as usize, 32))),
            _ => Err(ENOENT),
        },
        _ => Err(ENOENT),
    }
}

/// The FP state as F or D registers. The context holds one or the other,
/// per the guest's ISA, in the same union.
fn fp_f(c: &mut b::kvm_cpu_context) -> &mut b::__riscv_f_ext_state {
    // SAFETY: both views of the union are plain integers.
    unsafe { &mut c.fp.f }
}

fn fp_d(c: &mut b::kvm_cpu_context) -> &mut b::__riscv_d_ext_state {
    // SAFETY: both views of the union are plain integers.
    unsafe { &mut c.fp.d }
}

fn get_fp(arch: &mut b::kvm_vcpu_arch, class: Class, reg: RegId, addr: u64) -> Result {
    let slot = fp_slot(arch, class, reg)?;
    let c = &mut arch.guest_context;
    let w = || user(addr, reg.size()).writer();
    match slot {
        FpSlot::F(i) => w().write(&fp_f(c).f[i]),
        FpSlot::D(i) => w().write(&fp_d(c).f[i]),
        // fcsr is at the same place in both views only by layout; read the
        // view of the class asked for, as upstream does.
        FpSlot::Fcsr if class == Class::FpF => w().write(&fp_f(c).fcsr),
        FpSlot::Fcsr => w().write(&fp_d(c).fcsr),
    }
}

fn set_fp(arch: &mut b::kvm_vcpu_arch, class: Class, reg: RegId, addr: u64) -> Result {
    let slot = fp_slot(arch, class, reg)?;
    let c = &mut arch.guest_context;
    let mut r = user(addr, reg.size()).reader();
    match slot {
        FpSlot::F(i) => fp_f(c).f[i] = r.read()?,
        FpSlot::D(i) => fp_d(c).f[i] = r.read()?,
        FpSlot::Fcsr if class == Class::FpF => fp_f(c).fcsr = r.read()?,
        FpSlot::Fcsr => fp_d(c).fcsr = r.read()?,
    }
    Ok(())
}

/// Where a vector register id points: a CSR of the context, or register
/// `n` in the vector buffer.
enum VecSlot {
    Csr(usize),
    Reg(usize),
}

/// The bytes of a vector register (`riscv_v_vsize / 32`).
fn vlenb() -> usize {
    // SAFETY: a plain read of a variable set once at boot.
    (unsafe { b::riscv_v_vsize } / 32) as usize
}

fn vec_slot(reg: RegId) -> Result<VecSlot> {
    let n = reg.number();
    if n < VECTOR_REG_BASE {
        if reg.size() != ULONG {
            return Err(EINVAL);
        }
        // vstart, vl, vtype, vcsr, vlenb; datap is not a register.
        return if n < r::VECTOR_CSR_COUNT { Ok(VecSlot::Csr(n as usize)) } else { Err(ENOENT) };
    }
    if n <= VECTOR_REG_BASE + 31 {
        if reg.size() != vlenb() {
            return Err(EINVAL);
        }
        return Ok(VecSlot::Reg(array_index_nospec((n - VECTOR_REG_BASE) as usize, 32)));
    }
    Err(ENOENT)
}

fn vec_csr(v: &mut b::__riscv_v_ext_state, i: usize) -> &mut c_ulong {
    match i {
        0 => &mut v.vstart,
        1 => &mut v.vl,
        2 => &mut v.vtype,
        3 => &mut v.vcsr,
        _ => &mut v.vlenb,
    }
}

/// Vector register `n` in the context's buffer.
fn vec_reg(v: &mut b::__riscv_v_ext_state, n: usize) -> &mut [u8] {
    let len = vlenb();
    kernel::warn_on!(v.datap.is_null());
    if v.datap.is_null() {
        return &mut [];
    }
    // SAFETY: `datap` holds the 32 registers of `vlenb` bytes each
    // (`riscv_v_vsize`), allocated with the vCPU; `n` is below 32.
    unsafe { core::slice::from_raw_parts_mut(v.datap.cast::<u8>().add(n * len), len) }
}

fn has_v(arch: &b::kvm_vcpu_arch) -> bool {
    guest_has(arch, b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_V as c_ulong)
}

fn get_vector(arch: &mut b::kvm_vcpu_arch, reg: RegId, addr: u64) -> Result {
    if !has_v(arch) {
        return Err(ENOENT);
    }
    let v = &mut arch.guest_context.vector;
    let mut w = user(addr, reg.size()).writer();
    match vec_slot(reg)? {
        VecSlot::Csr(i) => w.write(vec_csr(v, i)),
        VecSlot::Reg(n) => w.write_slice(vec_reg(v, n)),
    }
}

fn set_vector(arch: &mut b::kvm_vcpu_arch, reg: RegId, addr: u64) -> Result {
    if !has_v(arch) {
        return Err(ENOENT);
    }
    let v = &mut arch.guest_context.vector;
    let mut rd = user(addr, reg.size()).reader();
    // vlenb is fixed by the host: writing it checks the value.
    if reg.number() == 4 {
        if reg.size() != ULONG {
            return Err(EINVAL);
        }
        let val: c_ulong = rd.read()?;
        return if val == v.vlenb { Ok(()) } else { Err(EINVAL) };
    }
    match vec_slot(reg)? {
        VecSlot::Csr(i) => *vec_csr(v, i) = rd.read()?,
        VecSlot::Reg(n) => rd.read_slice(vec_reg(v, n))?,
    }
    Ok(())
}

// --- the ioctls --------------------------------------------------------------

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Checks that the id asks for an XLEN-wide register.
fn ulong_sized(reg: RegId) -> Result {
    if reg.size() != ULONG {
        return Err(EINVAL);
    }
    Ok(())
}

/// `KVM_GET_ONE_REG` (`kvm_riscv_vcpu_get_reg()`).
///
/// # Safety
/// `vcpu` is live; the caller holds its mutex; `one` is a kernel copy.
pub(crate) unsafe fn get_reg_raw(vcpu: *mut b::kvm_vcpu, one: &b::kvm_one_reg) -> c_int {
    let reg = RegId::new(one.id);
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    let val = match reg.class {
        Some(c @ (Class::FpF | Class::FpD)) => return errno(get_fp(arch, c, reg, one.addr)),
        Some(Class::Vector) => return errno(get_vector(arch, reg, one.addr)),
        // SAFETY (the three classes below): per the function's contract.
        Some(Class::Timer) => return errno(unsafe { crate::vcpu_timer::get_reg(vcpu, reg, one.addr) }),
        Some(Class::SbiExt) => return errno(unsafe { crate::vcpu_sbi::get_reg_ext(vcpu, reg, one.addr) }),
        Some(Class::SbiState) => return errno(unsafe { crate::vcpu_sbi::get_reg_state(vcpu, reg, one.addr) }),
        None => return ENOENT.to_errno(),
        Some(Class::Config) => ulong_sized(reg).and_then(|()| get_config(arch, reg)),
        Some(Class::Core) => ulong_sized(reg).and_then(|()| get_core(arch, reg)),
        // SAFETY: per the function's contract.
        Some(Class::Csr) => ulong_sized(reg).and_then(|()| unsafe { get_csr(vcpu, reg) }),
        Some(Class::IsaExt) => ulong_sized(reg).and_then(|()| get_isa_ext(arch, reg)),
    };
    errno(val.and_then(|v| put_user_ulong(one.addr, v)))
}

/// `KVM_SET_ONE_REG` (`kvm_riscv_vcpu_set_reg()`).
///
/// # Safety
/// As for [`get_reg`].
pub(crate) unsafe fn set_reg_raw(vcpu: *mut b::kvm_vcpu, one: &b::kvm_one_reg) -> c_int {
    let reg = RegId::new(one.id);
    let class = match reg.class {
        // SAFETY (the five classes below): per the function's contract.
        Some(Class::Timer) => return errno(unsafe { crate::vcpu_timer::set_reg(vcpu, reg, one.addr) }),
        Some(c @ (Class::FpF | Class::FpD)) => return errno(set_fp(unsafe { arch(vcpu) }, c, reg, one.addr)),
        Some(Class::Vector) => return errno(set_vector(unsafe { arch(vcpu) }, reg, one.addr)),
        Some(Class::SbiExt) => return errno(unsafe { crate::vcpu_sbi::set_reg_ext(vcpu, reg, one.addr) }),
        Some(Class::SbiState) => return errno(unsafe { crate::vcpu_sbi::set_reg_state(vcpu, reg, one.addr) }),
        None => return ENOENT.to_errno(),
        Some(c) => c,
    };
    // The size, then the value, then the register: upstream's order.
    let r = ulong_sized(reg).and_then(|()| {
        // Core checks the number before reading the value.
        let core_n = if class == Class::Core { Some(core_index(reg)?) } else { None };
        let val = get_user_ulong(one.addr)?;
        // SAFETY (all): per the function's contract.
        match class {
            Class::Config => unsafe { set_config(vcpu, reg, val) },
            Class::Core => set_core(unsafe { arch(vcpu) }, core_n.unwrap_or(u64::MAX), val),
            Class::Csr => unsafe { set_csr(vcpu, reg, val) },
            _ => unsafe { set_isa_ext(vcpu, reg, val) },
        }
    });
    errno(r)
}

// --- KVM_GET_REG_LIST --------------------------------------------------------

/// Where the register list goes: counted only, or also written out.
pub(crate) struct RegList {
    out: Option<u64>,
    n: usize,
}

impl RegList {
    pub(crate) fn push(&mut self, id: u64) -> Result {
        if let Some(addr) = self.out {
            user(addr, 8).writer().write(&id)?;
            self.out = Some(addr + 8);
        }
        self.n += 1;
        Ok(())
    }

    fn push_range(&mut self, class: Class, sub: u64, count: u64, size: u64) -> Result {
        for i in 0..count {
            self.push(r::encode(class, sub, i, size))?;
        }
        Ok(())
    }

    /// Only counting: nothing is written.
    pub(crate) fn counting(&self) -> bool {
        self.out.is_none()
    }

    /// Counts `n` registers without listing them (when only counting).
    pub(crate) fn count(&mut self, n: usize) {
        self.n += n;
    }
}

/// Lists every register of the vCPU, in upstream's order.
///
/// # Safety
/// As for [`arch`].
unsafe fn list(vcpu: *mut b::kvm_vcpu, l: &mut RegList) -> Result {
    // SAFETY: per the function's contract.
    let arch = unsafe { arch(vcpu) };
    let has = |ext: u32| guest_has(arch, ext as c_ulong);
    let ul = r::size_field(ULONG);
    l.push_range(Class::Config, 0, r::config::COUNT, ul)?;
    l.push_range(Class::Core, 0, r::core_reg::COUNT, ul)?;
    l.push_range(Class::Csr, 0, r::CSR_GENERAL_COUNT, ul)?;
    if has(b::RISCV_ISA_EXT_SSAIA) {
        l.push_range(Class::Csr, 1, r::CSR_AIA_COUNT, ul)?;
    }
    if has(b::RISCV_ISA_EXT_SMSTATEEN) {
        l.push_range(Class::Csr, 2, r::CSR_SMSTATEEN_COUNT, ul)?;
    }
    if has(b::RISCV_ISA_EXT_ZICFISS) {
        l.push_range(Class::Csr, 3, r::CSR_ZICFISS_COUNT, ul)?;
    }
    l.push_range(Class::Timer, 0, r::TIMER_COUNT, r::KVM_REG_SIZE_U64)?;
    if has(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_F) {
        l.push_range(Class::FpF, 0, r::FP_COUNT, r::KVM_REG_SIZE_U32)?;
    }
    if has(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_D) {
        l.push_range(Class::FpD, 0, r::FP_COUNT - 1, r::KVM_REG_SIZE_U64)?;
        l.push(r::encode(Class::FpD, 0, r::FP_COUNT - 1, r::KVM_REG_SIZE_U32))?;
    }
    if has(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_V) {
        l.push_range(Class::Vector, 0, r::VECTOR_CSR_COUNT, ul)?;
        // The vector registers are vlenb bytes wide.
        let vlenb = arch.guest_context.vector.vlenb as usize;
        let size = (vlenb.trailing_zeros() as u64) << r::KVM_REG_SIZE_SHIFT;
        for i in 0..32 {
            l.push(r::encode(Class::Vector, 0, VECTOR_REG_BASE + i, size))?;
        }
    }
    for id in 0..ISA_EXT_MAX as u64 {
        if host_base_ext(id).is_ok() {
            l.push(r::encode(Class::IsaExt, 0, id, ul))?;
        }
    }
    // SAFETY: per the function's contract.
    unsafe { crate::vcpu_sbi::list_regs(vcpu, l) }
}

/// The number of registers `KVM_GET_REG_LIST` lists.
///
/// # Safety
/// As for [`arch`].
pub(crate) unsafe fn num_regs_raw(vcpu: *mut b::kvm_vcpu) -> usize {
    let mut l = RegList { out: None, n: 0 };
    // SAFETY: per the function's contract. Counting writes nothing, and the
    // C counters do not fail.
    let _ = unsafe { list(vcpu, &mut l) };
    l.n
}

/// Writes the register ids to the userspace array at `uindices`; 0 or
/// -EFAULT.
///
/// # Safety
/// As for [`arch`].
pub(crate) unsafe fn copy_reg_indices_raw(vcpu: *mut b::kvm_vcpu, uindices: u64) -> c_int {
    let mut l = RegList { out: Some(uindices), n: 0 };
    // SAFETY: per the function's contract.
    errno(unsafe { list(vcpu, &mut l) })
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn setup_isa(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { setup_isa_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn get_reg(cx: &mut VcpuCtx<'_>, one: &b::kvm_one_reg) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { get_reg_raw(cx.vcpu().as_ptr(), one) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn set_reg(cx: &mut VcpuCtx<'_>, one: &b::kvm_one_reg) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { set_reg_raw(cx.vcpu().as_ptr(), one) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn num_regs(cx: &mut VcpuCtx<'_>) -> usize {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { num_regs_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn copy_reg_indices(cx: &mut VcpuCtx<'_>, uindices: usize) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { copy_reg_indices_raw(cx.vcpu().as_ptr(), uindices as u64) }
}

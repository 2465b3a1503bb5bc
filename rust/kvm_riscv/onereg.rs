// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_onereg.c`: `KVM_GET_ONE_REG`,
//! `KVM_SET_ONE_REG` and `KVM_GET_REG_LIST`. A register id is decoded once
//! into a [`RegId`]; each class has its handler, with upstream's errno for
//! every invalid id, size or value. User memory is reached through the
//! kernel crate's `UserSlice`.
//!
//! The timer's registers are served by `vcpu_timer.rs`, the SBI classes by
//! `vcpu_sbi.rs`. RV64 only.

use crate::aia;
use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::isa::{self, host_supports};
use crate::isa_logic::{bitmap_assign, bitmap_has, Ext};
use crate::nospec::array_index_nospec;
use crate::onereg_logic::{self as r, Class, CsrSub, ExtSub, RegId};
use crate::regs_logic::{u64_to_xlen, xlen_to_u64};
use crate::{vcpu_sbi, vcpu_timer};
use core::mem::size_of;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

const ULONG: usize = size_of::<c_ulong>();
// CAST: a low bit of SSTATUS, a u32 constant.
const SR_SPP: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_SPP as c_ulong;
const ISA_EXT_MAX: usize = crate::isa_logic::ALL.len();

// The register layout of `onereg_logic` must be the uapi's.
// CAST (all): constants compared at build time.
const _: () = {
    assert!(r::KVM_REG_RISCV == b::KVM_REG_RISCV as u64);
    assert!(r::KVM_REG_SIZE_U32 == b::KVM_REG_SIZE_U32);
    assert!(r::KVM_REG_SIZE_U64 == b::KVM_REG_SIZE_U64);
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
const VECTOR_REG_BASE: u64 = xlen_to_u64(size_of::<b::__riscv_v_ext_state>() / ULONG);

/// The `len` bytes of userspace at `kvm_one_reg.addr` (or a register list).
pub(crate) fn user(addr: u64, len: usize) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(u64_to_xlen(addr)), len)
}

fn put_user_ulong(addr: u64, v: c_ulong) -> Result {
    user(addr, ULONG).writer().write(&v)
}

fn get_user_ulong(addr: u64) -> Result<c_ulong> {
    user(addr, ULONG).reader().read::<c_ulong>()
}

/// Does the vCPU's ISA bitmap `isa` have host extension `ext`
/// (`RISCV_ISA_EXT_*`)?
fn guest_has(isa: &[c_ulong], ext: u32) -> bool {
    bitmap_has(isa, ext)
}

/// The host extension behind KVM ISA extension `kvm_ext`, if the host has
/// it; -ENOENT else.
fn host_base_ext(kvm_ext: u64) -> Result<u32> {
    isa::host_base(u64_to_xlen(kvm_ext)).ok_or(ENOENT)
}

/// Sets up the vCPU's ISA: every extension the host has and KVM may
/// enable (`kvm_riscv_vcpu_setup_isa()`).
pub(crate) fn setup_isa(cx: &mut VcpuCtx<'_>) {
    let isa = cx.parts().isa;
    for id in 0..ISA_EXT_MAX {
        let Some(base) = isa::host_base(id) else {
            continue;
        };
        if isa::enable_allowed(id) {
            bitmap_assign(isa, base, true);
        }
    }
}

// --- config ------------------------------------------------------------------

/// The cache block size of a Zicbo* extension: 0 when the host lacks it.
fn cbo_block_size(ext: Ext) -> c_ulong {
    if host_supports(ext) {
        cbo_block_size_unchecked(ext)
    } else {
        0
    }
}

fn get_config(cx: &mut VcpuCtx<'_>, reg: RegId) -> Result<c_ulong> {
    use r::config::*;
    let p = cx.parts();
    Ok(match reg.number() {
        ISA => p.isa[0] & r::BASE_ISA_MASK,
        ZICBOM_BLOCK_SIZE => cbo_block_size(Ext::ZICBOM),
        ZICBOZ_BLOCK_SIZE => cbo_block_size(Ext::ZICBOZ),
        ZICBOP_BLOCK_SIZE => cbo_block_size(Ext::ZICBOP),
        MVENDORID => *p.mvendorid,
        MARCHID => *p.marchid,
        MIMPID => *p.mimpid,
        SATP_MODE => crate::ffi::satp_mode(),
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
fn set_config_isa(cx: &mut VcpuCtx<'_>, mut val: c_ulong) -> Result {
    // Only single-letter extensions; upstream looks at the low 32 bits
    // (`fls()` of an int).
    // CAST: that truncation, on purpose.
    if 32 - (val as u32).leading_zeros() >= b::RISCV_ISA_EXT_BASE {
        return Err(EINVAL);
    }
    let mask = r::BASE_ISA_MASK;
    if val == cx.isa()[0] & mask {
        return Ok(());
    }
    if cx.vcpu().ran_once() {
        return Err(EBUSY);
    }
    // Extensions that may not change keep their state.
    for i in 0..b::RISCV_ISA_EXT_BASE {
        let bit: c_ulong = 1 << i;
        let Some(ext) = isa::base2isa_ext(i) else {
            val &= !bit;
            continue;
        };
        // CAST: a discriminant, the KVM id.
        let id = ext as usize;
        if !isa::enable_allowed(id) && val & bit != 0 {
            val &= !bit;
        }
        if !isa::disable_allowed(id) && val & bit == 0 {
            val |= bit;
        }
    }
    val &= crate::ffi::host_isa_base();
    let p = cx.parts();
    p.isa[0] = (p.isa[0] & !mask) | (val & mask);
    // The FP state follows the ISA.
    crate::vcpu_fp::reset(p.guest, p.isa);
    Ok(())
}

fn set_config(cx: &mut VcpuCtx<'_>, reg: RegId, val: c_ulong) -> Result {
    use r::config::*;
    let ran = cx.vcpu().ran_once();
    let cbo = |ext| {
        if val != 0 && val != cbo_block_size_unchecked(ext) {
            Err(EINVAL)
        } else {
            Ok(())
        }
    };
    match reg.number() {
        ISA => set_config_isa(cx, val),
        ZICBOM_BLOCK_SIZE => cbo(Ext::ZICBOM),
        ZICBOZ_BLOCK_SIZE => cbo(Ext::ZICBOZ),
        ZICBOP_BLOCK_SIZE => cbo(Ext::ZICBOP),
        MVENDORID => set_id_reg(ran, cx.parts().mvendorid, val),
        MARCHID => set_id_reg(ran, cx.parts().marchid, val),
        MIMPID => set_id_reg(ran, cx.parts().mimpid, val),
        SATP_MODE if val != crate::ffi::satp_mode() => Err(EINVAL),
        SATP_MODE => Ok(()),
        _ => Err(ENOENT),
    }
}

/// The host's block size, whether or not the host has the extension (the
/// check of a write compares with it as it is).
fn cbo_block_size_unchecked(ext: Ext) -> c_ulong {
    let [cbom, cboz, cbop] = crate::ffi::cbo_block_sizes();
    match ext {
        Ext::ZICBOM => cbom,
        Ext::ZICBOZ => cboz,
        _ => cbop,
    }
}

// --- core --------------------------------------------------------------------

/// The core registers' numbers, as indices.
const CORE_PC: usize = u64_to_xlen(r::core_reg::PC);
const CORE_T6: usize = u64_to_xlen(r::core_reg::T6);
const CORE_MODE: usize = u64_to_xlen(r::core_reg::MODE);

fn core_index(reg: RegId) -> Result<usize> {
    let n = reg.number();
    if n >= r::core_reg::COUNT {
        return Err(ENOENT);
    }
    Ok(array_index_nospec(
        u64_to_xlen(n),
        u64_to_xlen(r::core_reg::COUNT),
    ))
}

/// The core register `n` (pc, x1..x31, mode) of the guest context.
fn get_core(c: &mut b::kvm_cpu_context, n: usize) -> Result<c_ulong> {
    Ok(match n {
        CORE_PC => c.sepc,
        1..=CORE_T6 => *c.gpr(n),
        CORE_MODE => {
            if c.sstatus & SR_SPP != 0 {
                r::MODE_S
            } else {
                r::MODE_U
            }
        }
        _ => return Err(ENOENT),
    })
}

fn set_core(c: &mut b::kvm_cpu_context, n: usize, val: c_ulong) -> Result {
    match n {
        CORE_PC => c.sepc = val,
        1..=CORE_T6 => *c.gpr(n) = val,
        CORE_MODE => {
            if val == r::MODE_S {
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
    Ok(xlen_to_u64(array_index_nospec(
        u64_to_xlen(n),
        u64_to_xlen(count),
    )))
}

fn get_csr(cx: &mut VcpuCtx<'_>, reg: RegId) -> Result<c_ulong> {
    match reg.csr_sub() {
        Some(CsrSub::General) => {
            let n = csr_index(reg, r::CSR_GENERAL_COUNT)?;
            if n == r::CSR_SIP {
                // The pending changes first, then HVIP as they left it.
                crate::vcpu_irq::flush_interrupts(cx);
                return Ok(r::hvip_to_sip(cx.csr().hvip));
            }
            Ok(*general_csr(cx.csr(), n))
        }
        Some(CsrSub::Aia) => aia::get_csr(cx, u64_to_xlen(reg.index())),
        Some(CsrSub::Smstateen) => {
            if !guest_has(cx.isa(), b::RISCV_ISA_EXT_SMSTATEEN) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_SMSTATEEN_COUNT)?;
            Ok(cx.parts().smstateen.sstateen0)
        }
        Some(CsrSub::Zicfiss) => {
            if !guest_has(cx.isa(), b::RISCV_ISA_EXT_ZICFISS) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_ZICFISS_COUNT)?;
            Ok(cx.parts().zicfiss.ssp)
        }
        None => Err(ENOENT),
    }
}

fn set_csr(cx: &mut VcpuCtx<'_>, reg: RegId, val: c_ulong) -> Result {
    match reg.csr_sub() {
        Some(CsrSub::General) => {
            let n = csr_index(reg, r::CSR_GENERAL_COUNT)?;
            if n == r::CSR_SIP {
                cx.csr().hvip = r::vsip_to_hvip(val);
                // Pending updates from before are superseded.
                cx.vcpu().with_irqs(|_, mask| *mask = 0);
            } else {
                *general_csr(cx.csr(), n) = val;
            }
        }
        Some(CsrSub::Aia) => aia::set_csr(cx, u64_to_xlen(reg.index()), val)?,
        Some(CsrSub::Smstateen) => {
            if !guest_has(cx.isa(), b::RISCV_ISA_EXT_SMSTATEEN) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_SMSTATEEN_COUNT)?;
            cx.parts().smstateen.sstateen0 = val;
        }
        Some(CsrSub::Zicfiss) => {
            if !guest_has(cx.isa(), b::RISCV_ISA_EXT_ZICFISS) {
                return Err(ENOENT);
            }
            csr_index(reg, r::CSR_ZICFISS_COUNT)?;
            cx.parts().zicfiss.ssp = val;
        }
        None => return Err(ENOENT),
    }
    *cx.parts().csr_dirty = true;
    Ok(())
}

// --- ISA extensions ----------------------------------------------------------

fn get_isa_single(isa: &[c_ulong], id: u64) -> Result<c_ulong> {
    let base = host_base_ext(id)?;
    Ok(c_ulong::from(guest_has(isa, base)))
}

fn set_isa_single(cx: &mut VcpuCtx<'_>, id: u64, val: c_ulong) -> Result {
    let base = host_base_ext(id)?;
    if val == c_ulong::from(guest_has(cx.isa(), base)) {
        return Ok(());
    }
    if cx.vcpu().ran_once() {
        return Err(EBUSY);
    }
    // Below ISA_EXT_MAX: the host has it.
    let id = u64_to_xlen(id);
    let on = if val == 1 && isa::enable_allowed(id) {
        true
    } else if val == 0 && isa::disable_allowed(id) {
        false
    } else {
        return Err(EINVAL);
    };
    let p = cx.parts();
    bitmap_assign(p.isa, base, on);
    // The FP state follows the ISA.
    crate::vcpu_fp::reset(p.guest, p.isa);
    Ok(())
}

fn get_isa_ext(cx: &mut VcpuCtx<'_>, reg: RegId) -> Result<c_ulong> {
    let n = reg.index();
    let isa = cx.isa();
    match reg.ext_sub() {
        Some(ExtSub::Single) => get_isa_single(isa, n),
        Some(sub) => get_multi(sub, n, ISA_EXT_MAX, |id| {
            get_isa_single(isa, id).unwrap_or(0) != 0
        }),
        None => Err(ENOENT),
    }
}

/// The value of multi-extension register `n` of `max` extensions, as
/// `sub` (MULTI_EN, or MULTI_DIS: inverted) shows it: a bit for each
/// extension `on` says is enabled. -ENOENT past the last register.
pub(crate) fn get_multi(
    sub: ExtSub,
    n: u64,
    max: usize,
    on: impl Fn(u64) -> bool,
) -> Result<c_ulong> {
    r::multi_get(sub, n, max, on).ok_or(ENOENT)
}

/// Writes multi-extension register `n` of `max` extensions: `set` gets
/// each extension whose bit is set in `val`, on its own (refusals are not
/// reported). -ENOENT past the last register.
pub(crate) fn set_multi(n: u64, max: usize, val: c_ulong, set: impl FnMut(u64)) -> Result {
    r::multi_set_ids(n, max, val).ok_or(ENOENT)?.for_each(set);
    Ok(())
}

fn set_isa_ext(cx: &mut VcpuCtx<'_>, reg: RegId, val: c_ulong) -> Result {
    let n = reg.index();
    let enable = match reg.ext_sub() {
        Some(ExtSub::Single) => return set_isa_single(cx, n, val),
        Some(ExtSub::MultiEn) => 1,
        Some(ExtSub::MultiDis) => 0,
        None => return Err(ENOENT),
    };
    set_multi(n, ISA_EXT_MAX, val, |id| {
        let _ = set_isa_single(cx, id, enable);
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
fn fp_slot(isa: &[c_ulong], class: Class, reg: RegId) -> Result<FpSlot> {
    let n = reg.number();
    let letter = |l| guest_has(isa, l);
    match class {
        Class::FpF if letter(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_F) => {
            if reg.size() != 4 {
                return Err(EINVAL);
            }
            match n {
                32 => Ok(FpSlot::Fcsr),
                0..32 => Ok(FpSlot::F(array_index_nospec(u64_to_xlen(n), 32))),
                _ => Err(ENOENT),
            }
        }
        Class::FpD if letter(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_D) => match n {
            32 if reg.size() != 4 => Err(EINVAL),
            32 => Ok(FpSlot::Fcsr),
            0..32 if reg.size() != 8 => Err(EINVAL),
            0..32 => Ok(FpSlot::D(array_index_nospec(u64_to_xlen(n), 32))),
            _ => Err(ENOENT),
        },
        _ => Err(ENOENT),
    }
}

fn get_fp(cx: &mut VcpuCtx<'_>, class: Class, reg: RegId, addr: u64) -> Result {
    let slot = fp_slot(cx.isa(), class, reg)?;
    let w = || user(addr, reg.size()).writer();
    match slot {
        FpSlot::F(i) => w().write(&cx.guest_fp_f().f[i]),
        FpSlot::D(i) => w().write(&cx.guest_fp_d().f[i]),
        // fcsr is at the same place in both views only by layout; read the
        // view of the class asked for, as upstream does.
        FpSlot::Fcsr if class == Class::FpF => w().write(&cx.guest_fp_f().fcsr),
        FpSlot::Fcsr => w().write(&cx.guest_fp_d().fcsr),
    }
}

fn set_fp(cx: &mut VcpuCtx<'_>, class: Class, reg: RegId, addr: u64) -> Result {
    let slot = fp_slot(cx.isa(), class, reg)?;
    let mut r = user(addr, reg.size()).reader();
    match slot {
        FpSlot::F(i) => cx.guest_fp_f().f[i] = r.read()?,
        FpSlot::D(i) => cx.guest_fp_d().f[i] = r.read()?,
        FpSlot::Fcsr if class == Class::FpF => cx.guest_fp_f().fcsr = r.read()?,
        FpSlot::Fcsr => cx.guest_fp_d().fcsr = r.read()?,
    }
    Ok(())
}

/// Where a vector register id points: a CSR of the context, or register
/// `n` in the vector buffer.
enum VecSlot {
    Csr(usize),
    Reg(usize),
}

fn vec_slot(reg: RegId) -> Result<VecSlot> {
    let n = reg.number();
    if n < VECTOR_REG_BASE {
        if reg.size() != ULONG {
            return Err(EINVAL);
        }
        // vstart, vl, vtype, vcsr, vlenb; datap is not a register.
        return if n < r::VECTOR_CSR_COUNT {
            Ok(VecSlot::Csr(u64_to_xlen(n)))
        } else {
            Err(ENOENT)
        };
    }
    if n <= VECTOR_REG_BASE + 31 {
        if reg.size() != crate::ffi::vlenb() {
            return Err(EINVAL);
        }
        return Ok(VecSlot::Reg(array_index_nospec(
            u64_to_xlen(n - VECTOR_REG_BASE),
            32,
        )));
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

fn has_v(isa: &[c_ulong]) -> bool {
    guest_has(isa, b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_V)
}

fn get_vector(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    if !has_v(cx.isa()) {
        return Err(ENOENT);
    }
    let mut w = user(addr, reg.size()).writer();
    match vec_slot(reg)? {
        VecSlot::Csr(i) => w.write(vec_csr(&mut cx.guest().vector, i)),
        VecSlot::Reg(n) => w.write_slice(cx.guest_vector_reg(n)),
    }
}

fn set_vector(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    if !has_v(cx.isa()) {
        return Err(ENOENT);
    }
    let mut rd = user(addr, reg.size()).reader();
    // vlenb is fixed by the host: writing it checks the value.
    if reg.number() == 4 {
        if reg.size() != ULONG {
            return Err(EINVAL);
        }
        let val: c_ulong = rd.read()?;
        return if val == cx.guest().vector.vlenb {
            Ok(())
        } else {
            Err(EINVAL)
        };
    }
    match vec_slot(reg)? {
        VecSlot::Csr(i) => *vec_csr(&mut cx.guest().vector, i) = rd.read()?,
        VecSlot::Reg(n) => rd.read_slice(cx.guest_vector_reg(n))?,
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

/// `KVM_GET_ONE_REG` (`kvm_riscv_vcpu_get_reg()`); `one` is a kernel copy.
pub(crate) fn get_reg(cx: &mut VcpuCtx<'_>, one: &b::kvm_one_reg) -> c_int {
    let reg = RegId::new(one.id);
    let val = match reg.class {
        Some(c @ (Class::FpF | Class::FpD)) => return errno(get_fp(cx, c, reg, one.addr)),
        Some(Class::Vector) => return errno(get_vector(cx, reg, one.addr)),
        Some(Class::Timer) => return errno(vcpu_timer::get_reg(cx, reg, one.addr)),
        Some(Class::SbiExt) => return errno(vcpu_sbi::get_reg_ext(cx, reg, one.addr)),
        Some(Class::SbiState) => return errno(vcpu_sbi::get_reg_state(cx, reg, one.addr)),
        None => return ENOENT.to_errno(),
        Some(Class::Config) => ulong_sized(reg).and_then(|()| get_config(cx, reg)),
        Some(Class::Core) => ulong_sized(reg)
            .and_then(|()| core_index(reg))
            .and_then(|n| get_core(cx.guest(), n)),
        Some(Class::Csr) => ulong_sized(reg).and_then(|()| get_csr(cx, reg)),
        Some(Class::IsaExt) => ulong_sized(reg).and_then(|()| get_isa_ext(cx, reg)),
    };
    errno(val.and_then(|v| put_user_ulong(one.addr, v)))
}

/// `KVM_SET_ONE_REG` (`kvm_riscv_vcpu_set_reg()`); `one` is a kernel copy.
pub(crate) fn set_reg(cx: &mut VcpuCtx<'_>, one: &b::kvm_one_reg) -> c_int {
    let reg = RegId::new(one.id);
    let class = match reg.class {
        Some(Class::Timer) => return errno(vcpu_timer::set_reg(cx, reg, one.addr)),
        Some(c @ (Class::FpF | Class::FpD)) => return errno(set_fp(cx, c, reg, one.addr)),
        Some(Class::Vector) => return errno(set_vector(cx, reg, one.addr)),
        Some(Class::SbiExt) => return errno(vcpu_sbi::set_reg_ext(cx, reg, one.addr)),
        Some(Class::SbiState) => return errno(vcpu_sbi::set_reg_state(cx, reg, one.addr)),
        None => return ENOENT.to_errno(),
        Some(c) => c,
    };
    // The size, then the value, then the register: upstream's order.
    let r = ulong_sized(reg).and_then(|()| {
        // Core checks the number before reading the value.
        let core_n = if class == Class::Core {
            Some(core_index(reg)?)
        } else {
            None
        };
        let val = get_user_ulong(one.addr)?;
        match class {
            Class::Config => set_config(cx, reg, val),
            Class::Core => set_core(cx.guest(), core_n.unwrap_or(usize::MAX), val),
            Class::Csr => set_csr(cx, reg, val),
            _ => set_isa_ext(cx, reg, val),
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
fn list(cx: &mut VcpuCtx<'_>, l: &mut RegList) -> Result {
    let isa = cx.isa();
    let has = |ext: u32| guest_has(isa, ext);
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
        l.push(r::encode(
            Class::FpD,
            0,
            r::FP_COUNT - 1,
            r::KVM_REG_SIZE_U32,
        ))?;
    }
    if has(b::kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_V) {
        l.push_range(Class::Vector, 0, r::VECTOR_CSR_COUNT, ul)?;
        // The vector registers are vlenb bytes wide.
        let size = r::size_field(cx.guest().vector.vlenb);
        for i in 0..32 {
            l.push(r::encode(Class::Vector, 0, VECTOR_REG_BASE + i, size))?;
        }
    }
    for id in 0..ISA_EXT_MAX {
        if isa::host_base(id).is_some() {
            l.push(r::encode(Class::IsaExt, 0, u64::from_safe_cast(id), ul))?;
        }
    }
    vcpu_sbi::list_regs(cx, l)
}

/// The number of registers `KVM_GET_REG_LIST` lists.
pub(crate) fn num_regs(cx: &mut VcpuCtx<'_>) -> usize {
    let mut l = RegList { out: None, n: 0 };
    // Counting writes nothing, and the C counters do not fail.
    let _ = list(cx, &mut l);
    l.n
}

/// Writes the register ids to the userspace array at `uindices`; 0 or
/// -EFAULT.
pub(crate) fn copy_reg_indices(cx: &mut VcpuCtx<'_>, uindices: usize) -> c_int {
    let mut l = RegList {
        out: Some(u64::from_safe_cast(uindices)),
        n: 0,
    };
    errno(list(cx, &mut l))
}

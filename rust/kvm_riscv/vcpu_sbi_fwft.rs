// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_fwft.c`: the SBI firmware features
//! extension (FWFT). The guest turns features on and off: misaligned
//! access exceptions delegated to it, landing pads and shadow stacks (CFI),
//! hardware A/D bit updates, pointer masking. A feature can be locked until
//! the next reset. Userspace sees each feature as three ONE_REG state
//! registers (enabled, flags, value) and may hide a feature from the guest.

use crate::bindings as b;
use crate::csr;
use crate::handle::{SbiRet, VcpuCtx};
use crate::isa_logic::bitmap_has;
use crate::onereg_logic as r;
use crate::sbi_logic::SbiError;
use crate::vcpu_sbi::{sbi_err, Extension, RustExt, StateRegs};
use core::mem::{offset_of, size_of};
use kernel::alloc::flags;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::arch::u64_as_usize;
use kernel::num::casts::{u32_as_usize, usize_as_u64, FromSafeCast};
use kernel::prelude::*;

/// A feature of ours (`enum sbi_fwft_feature_t`), in upstream's order: the
/// order of [`Configs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    MisalignedDeleg,
    LandingPad,
    ShadowStack,
    PteAdHwUpdating,
    PointerMaskingPmlen,
}

const FEATURES: [Feature; 5] = [
    Feature::MisalignedDeleg,
    Feature::LandingPad,
    Feature::ShadowStack,
    Feature::PteAdHwUpdating,
    Feature::PointerMaskingPmlen,
];

/// The vCPU's configuration of one feature.
#[derive(Clone, Copy, Default)]
pub(crate) struct Config {
    /// The host and the vCPU can have it (found at vCPU creation).
    supported: bool,
    /// Userspace lets the guest see it (ONE_REG).
    enabled: bool,
    /// `SBI_FWFT_SET_FLAG_LOCK` once the guest locked it.
    flags: c_ulong,
}

/// The configurations of every feature, by index of [`FEATURES`].
pub(crate) type Configs = [Config; FEATURES.len()];

/// `SBI_FWFT_SET_FLAG_LOCK` (bit 0 of `flags`).
const FLAG_LOCK: c_ulong = u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_SBI_FWFT_SET_FLAG_LOCK);

/// The misaligned load and store exceptions, in HEDELEG.
const MIS_DELEG: c_ulong = (1 << b::EXC_LOAD_MISALIGNED) | (1 << b::EXC_STORE_MISALIGNED);
/// The software-check exception (CFI), in HEDELEG.
const SW_CHECK: c_ulong = 1 << b::EXC_SOFTWARE_CHECK;

// CAST (both): u32 to u64, lossless.
const ENVCFG_LPE: u64 = b::kvm_riscv_rs_const_KVM_RISCV_RS_ENVCFG_LPE as u64;
const ENVCFG_SSE: u64 = b::kvm_riscv_rs_const_KVM_RISCV_RS_ENVCFG_SSE as u64;
const ENVCFG_ADUE: u64 = b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_ADUE;
const ENVCFG_PMM: u64 = b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_PMM;
const PMLEN_7: u64 = b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_PMM_PMLEN_7;
const PMLEN_16: u64 = b::kvm_riscv_rs_const64_KVM_RISCV_RS_ENVCFG_PMM_PMLEN_16;

/// The number of ONE_REG state registers: three a feature
/// (`struct kvm_riscv_sbi_fwft`).
const REG_COUNT: c_ulong = size_of::<b::kvm_riscv_sbi_fwft>() / size_of::<c_ulong>();

/// The register number of the first of a feature's three (`enable`).
macro_rules! first_reg {
    ($f:ident) => {
        offset_of!(b::kvm_riscv_sbi_fwft, $f) / size_of::<c_ulong>()
    };
}

impl Feature {
    /// The SBI feature id.
    const fn id(self) -> u32 {
        match self {
            Self::MisalignedDeleg => b::sbi_fwft_feature_t_SBI_FWFT_MISALIGNED_EXC_DELEG,
            Self::LandingPad => b::sbi_fwft_feature_t_SBI_FWFT_LANDING_PAD,
            Self::ShadowStack => b::sbi_fwft_feature_t_SBI_FWFT_SHADOW_STACK,
            Self::PteAdHwUpdating => b::sbi_fwft_feature_t_SBI_FWFT_PTE_AD_HW_UPDATING,
            Self::PointerMaskingPmlen => b::sbi_fwft_feature_t_SBI_FWFT_POINTER_MASKING_PMLEN,
        }
    }

    /// Its index in [`Configs`].
    fn index(self) -> usize {
        // CAST: the discriminant is the index in FEATURES (checked below).
        self as usize
    }

    /// The number of its first ONE_REG register (the layout of the UAPI
    /// struct, which is not the order of [`FEATURES`]).
    const fn first_reg(self) -> c_ulong {
        match self {
            Self::MisalignedDeleg => first_reg!(misaligned_deleg),
            Self::LandingPad => first_reg!(landing_pad),
            Self::ShadowStack => first_reg!(shadow_stack),
            Self::PteAdHwUpdating => first_reg!(pte_ad_hw_updating),
            Self::PointerMaskingPmlen => first_reg!(pointer_masking),
        }
    }

    /// The feature of ONE_REG register `num`, and which of its three it is.
    fn of_reg(num: c_ulong) -> Option<(Self, c_ulong)> {
        FEATURES
            .iter()
            .find(|f| (f.first_reg()..f.first_reg() + 3).contains(&num))
            .map(|&f| (f, num - f.first_reg()))
    }

    /// Whether the vCPU can have it now (its ISA may have changed since
    /// creation).
    fn supported(self, cx: &mut VcpuCtx<'_>) -> bool {
        let has = |cx: &mut VcpuCtx<'_>, ext| bitmap_has(cx.isa(), ext);
        match self {
            Self::MisalignedDeleg => crate::ffi::misaligned_traps_can_delegate(),
            Self::LandingPad => has(cx, b::RISCV_ISA_EXT_ZICFILP),
            Self::ShadowStack => has(cx, b::RISCV_ISA_EXT_ZICFISS),
            Self::PteAdHwUpdating => {
                has(cx, b::RISCV_ISA_EXT_SVADU) && has(cx, b::RISCV_ISA_EXT_SVADE)
            }
            Self::PointerMaskingPmlen => has(cx, b::RISCV_ISA_EXT_SMNPM),
        }
    }

    /// At vCPU creation, once supported: whether it works (pointer
    /// masking: which lengths HENVCFG takes).
    fn init(self, cx: &mut VcpuCtx<'_>) -> bool {
        if self != Self::PointerMaskingPmlen {
            return true;
        }
        let (pm7, pm16) = {
            let _p = crate::ffi::preempt_disable();
            (try_pmm(PMLEN_7), try_pmm(PMLEN_16))
        };
        let f = cx.fwft();
        (*f.have_vs_pmlen_7, *f.have_vs_pmlen_16) = (pm7, pm16);
        pm7 || pm16
    }

    /// Turns it off in the vCPU's configuration.
    fn reset(self, cx: &mut VcpuCtx<'_>) {
        let cfg = cx.cfg();
        match self {
            Self::MisalignedDeleg => cfg.hedeleg &= !MIS_DELEG,
            Self::LandingPad | Self::ShadowStack => {
                cfg.henvcfg &= !self.cfi_flag();
                if cfg.henvcfg & (ENVCFG_LPE | ENVCFG_SSE) == 0 {
                    cfg.hedeleg &= !SW_CHECK;
                }
            }
            Self::PteAdHwUpdating => {
                if self.supported(cx) {
                    cx.cfg().henvcfg &= !ENVCFG_ADUE;
                }
            }
            Self::PointerMaskingPmlen => cfg.henvcfg &= !ENVCFG_PMM,
        }
    }

    /// The HENVCFG bit of a CFI feature.
    fn cfi_flag(self) -> u64 {
        if self == Self::LandingPad {
            ENVCFG_LPE
        } else {
            ENVCFG_SSE
        }
    }

    /// Sets it to `value`. From the guest (`one_reg` false), the CSRs of
    /// the running vCPU change at once; from ONE_REG, at its next load.
    fn set(self, cx: &mut VcpuCtx<'_>, one_reg: bool, value: c_ulong) -> Result<(), SbiError> {
        let on = match value {
            0 => false,
            1 => true,
            _ if self == Self::PointerMaskingPmlen => return set_pmlen(cx, one_reg, value),
            _ => return Err(SbiError::InvalidParam),
        };
        let cfg = cx.cfg();
        match self {
            Self::MisalignedDeleg => {
                if on {
                    cfg.hedeleg |= MIS_DELEG;
                    if !one_reg {
                        csr::HEDELEG.set(MIS_DELEG);
                    }
                } else {
                    cfg.hedeleg &= !MIS_DELEG;
                    if !one_reg {
                        csr::HEDELEG.clear(MIS_DELEG);
                    }
                }
            }
            Self::LandingPad | Self::ShadowStack => {
                assign(&mut cfg.henvcfg, self.cfi_flag(), on);
                let cfi = cfg.henvcfg & (ENVCFG_LPE | ENVCFG_SSE) != 0;
                assign(&mut cfg.hedeleg, SW_CHECK, cfi);
                if !one_reg {
                    csr::HEDELEG.write(cfg.hedeleg);
                    // LPE and SSE are in the low half: RV64 writes it all.
                    csr::HENVCFG.write(u64_as_usize(cfg.henvcfg));
                }
            }
            Self::PteAdHwUpdating => {
                assign(&mut cfg.henvcfg, ENVCFG_ADUE, on);
                if !one_reg {
                    csr::HENVCFG.write(u64_as_usize(cfg.henvcfg));
                }
            }
            Self::PointerMaskingPmlen => return set_pmlen(cx, one_reg, value),
        }
        Ok(())
    }

    /// Its value.
    fn get(self, cx: &mut VcpuCtx<'_>) -> Result<c_ulong, SbiError> {
        let cfg = cx.cfg();
        let all = |v: u64, m: u64| c_ulong::from(v & m == m);
        Ok(match self {
            Self::MisalignedDeleg => all(u64::from_safe_cast(cfg.hedeleg), usize_as_u64(MIS_DELEG)),
            Self::LandingPad | Self::ShadowStack => all(cfg.henvcfg, self.cfi_flag()),
            Self::PteAdHwUpdating => all(cfg.henvcfg, ENVCFG_ADUE),
            Self::PointerMaskingPmlen => match cfg.henvcfg & ENVCFG_PMM {
                0 => 0,
                PMLEN_7 => 7,
                PMLEN_16 => 16,
                _ => return Err(SbiError::Failure),
            },
        })
    }
}

const _: () = {
    let mut i = 0;
    while i < FEATURES.len() {
        // CAST: the discriminant.
        assert!(FEATURES[i] as usize == i);
        i += 1;
    }
    assert!(REG_COUNT == 15);
};

/// Sets (`on`) or clears `mask` in `v`.
fn assign<T>(v: &mut T, mask: T, on: bool)
where
    T: Copy
        + core::ops::BitOr<Output = T>
        + core::ops::BitAnd<Output = T>
        + core::ops::Not<Output = T>,
{
    *v = if on { *v | mask } else { *v & !mask };
}

/// Whether HENVCFG.PMM takes `pmm`; HENVCFG is as before after. With
/// preemption off.
fn try_pmm(pmm: u64) -> bool {
    let (pmm, mask) = (u64_as_usize(pmm), u64_as_usize(ENVCFG_PMM));
    let prev = csr::HENVCFG.read();
    csr::HENVCFG.clear(mask);
    csr::HENVCFG.set(pmm);
    let took = csr::HENVCFG.read() & mask == pmm;
    csr::HENVCFG.write(prev);
    took
}

/// Pointer masking: the length of the masked upper bits, 0, 7 or 16 (when
/// HENVCFG takes it).
fn set_pmlen(cx: &mut VcpuCtx<'_>, one_reg: bool, value: c_ulong) -> Result<(), SbiError> {
    let f = cx.fwft();
    let pmm = match value {
        0 => 0,
        7 if *f.have_vs_pmlen_7 => PMLEN_7,
        16 if *f.have_vs_pmlen_16 => PMLEN_16,
        _ => return Err(SbiError::InvalidParam),
    };
    let cfg = cx.cfg();
    cfg.henvcfg = (cfg.henvcfg & !ENVCFG_PMM) | pmm;
    // From the guest, at once: the vCPU sees the new mode on return.
    if !one_reg {
        csr::HENVCFG.write(u64_as_usize(cfg.henvcfg));
    }
    Ok(())
}

/// The SBI error code of `e` (0 for none), for a0.
fn sbi_code(r: Result<(), SbiError>) -> c_ulong {
    // CAST: an SBI error, sign-extended to XLEN.
    r.err().map_or(0, |e| e.code() as c_ulong)
}

/// The configuration of `f`, if the vCPU has any (FWFT's init made them).
fn config(cx: &mut VcpuCtx<'_>, f: Feature) -> Option<Config> {
    cx.fwft_configs().as_ref().map(|c| c[f.index()])
}

fn with_config(cx: &mut VcpuCtx<'_>, f: Feature, op: impl FnOnce(&mut Config)) {
    if let Some(c) = cx.fwft_configs().as_mut() {
        op(&mut c[f.index()]);
    }
}

/// Whether feature `f` is there for the vCPU: supported at creation and
/// still now.
fn present(cx: &mut VcpuCtx<'_>, f: Feature) -> bool {
    config(cx, f).is_some_and(|c| c.supported) && f.supported(cx)
}

/// The feature a guest call names (`kvm_fwft_get_feature()`): ids of the
/// specification that KVM does not have are not supported, others denied.
fn guest_feature(cx: &mut VcpuCtx<'_>, id: u32) -> Result<Feature, SbiError> {
    let Some(f) = FEATURES.iter().copied().find(|f| f.id() == id) else {
        return Err(
            if id <= b::sbi_fwft_feature_t_SBI_FWFT_POINTER_MASKING_PMLEN {
                SbiError::NotSupported
            } else {
                SbiError::Denied
            },
        );
    };
    match config(cx, f) {
        Some(c) if c.supported && c.enabled && f.supported(cx) => Ok(f),
        // No configurations (FWFT's init failed) is as upstream's: none
        // of the features is found.
        None => Err(SbiError::Denied),
        Some(_) => Err(SbiError::NotSupported),
    }
}

/// `set(feature = a0, value = a1, flags = a2)`.
fn fwft_set(cx: &mut VcpuCtx<'_>, id: u32, value: c_ulong, fl: c_ulong) -> Result<(), SbiError> {
    let f = guest_feature(cx, id)?;
    if fl & !FLAG_LOCK != 0 {
        return Err(SbiError::InvalidParam);
    }
    if config(cx, f).is_some_and(|c| c.flags & FLAG_LOCK != 0) {
        return Err(SbiError::DeniedLocked);
    }
    f.set(cx, false, value)?;
    with_config(cx, f, |c| c.flags = fl);
    Ok(())
}

/// The functions of FWFT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Set,
    Get,
}

impl Function {
    fn decode(fid: c_ulong) -> Option<Self> {
        match u32::try_from(fid).ok()? {
            b::SBI_EXT_FWFT_SET => Some(Self::Set),
            b::SBI_EXT_FWFT_GET => Some(Self::Get),
            _ => None,
        }
    }
}

struct Fwft;

impl Extension for Fwft {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let g = cx.guest();
        let (fid, a0, a1, a2) = (g.a6, g.a0, g.a1, g.a2);
        // CAST: as upstream, the feature id is the low 32 bits of a0.
        let id = a0 as u32;
        ret.err_val = match Function::decode(fid) {
            Some(Function::Set) => sbi_code(fwft_set(cx, id, a1, a2)),
            Some(Function::Get) => {
                sbi_code(guest_feature(cx, id).and_then(|f| f.get(cx)).map(|v| {
                    ret.out_val = v;
                }))
            }
            None => sbi_err(b::SBI_ERR_NOT_SUPPORTED),
        };
        0
    }

    /// Finds which features the vCPU can have (`kvm_sbi_ext_fwft_init()`).
    fn init(&self, cx: &mut VcpuCtx<'_>) -> c_int {
        let Ok(configs) = KBox::new(Configs::default(), flags::GFP_KERNEL_ACCOUNT) else {
            return ENOMEM.to_errno();
        };
        *cx.fwft_configs() = Some(configs);
        for f in FEATURES {
            let supported = f.supported(cx) && f.init(cx);
            with_config(cx, f, |c| {
                c.supported = supported;
                c.enabled = supported;
            });
        }
        0
    }

    fn deinit(&self, cx: &mut VcpuCtx<'_>) {
        *cx.fwft_configs() = None;
    }

    /// Every feature off and unlocked.
    fn reset(&self, cx: &mut VcpuCtx<'_>) {
        for f in FEATURES {
            with_config(cx, f, |c| c.flags = 0);
            f.reset(cx);
        }
        *cx.parts().csr_dirty = true;
    }

    /// A feature the vCPU's final ISA no longer allows is turned off.
    fn validate(&self, cx: &mut VcpuCtx<'_>) {
        for f in FEATURES {
            if !config(cx, f).is_some_and(|c| c.supported) || f.supported(cx) {
                continue;
            }
            with_config(cx, f, |c| {
                c.enabled = false;
                c.flags = 0;
            });
            f.reset(cx);
        }
    }

    fn state(&self) -> Option<&'static dyn StateRegs> {
        Some(&Fwft)
    }
}

/// The vCPU's state registers, in register order: those of the features it
/// has.
fn regs(cx: &mut VcpuCtx<'_>) -> impl Iterator<Item = c_ulong> {
    let has = FEATURES.map(|f| present(cx, f));
    (0..REG_COUNT).filter(move |&n| Feature::of_reg(n).is_some_and(|(f, _)| has[f.index()]))
}

/// The feature of register `num`, if the vCPU has it, and which of its
/// three registers `num` is.
fn reg_feature(cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<(Feature, c_ulong)> {
    let (f, which) = Feature::of_reg(num).ok_or(ENOENT)?;
    if !present(cx, f) {
        return Err(ENOENT);
    }
    Ok((f, which))
}

/// An SBI error as the Linux error ONE_REG returns.
fn errno(r: Result<(), SbiError>) -> Result {
    r.map_err(|e| Error::from_errno(e.to_errno()))
}

impl StateRegs for Fwft {
    fn subtype(&self) -> c_ulong {
        u32_as_usize(b::KVM_REG_RISCV_SBI_FWFT)
    }

    fn count(&self, cx: &mut VcpuCtx<'_>) -> c_ulong {
        regs(cx).count()
    }

    fn id(&self, cx: &mut VcpuCtx<'_>, index: c_ulong) -> Result<u64> {
        let num = regs(cx).nth(index).ok_or(ENOENT)?;
        Ok(r::KVM_REG_RISCV
            | r::size_field(size_of::<c_ulong>())
            | r::Class::SbiState.type_field()
            | u64::from(b::KVM_REG_RISCV_SBI_FWFT)
            | usize_as_u64(num))
    }

    fn get(&self, cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<c_ulong> {
        let (f, which) = reg_feature(cx, num)?;
        let c = config(cx, f).ok_or(ENOENT)?;
        match which {
            0 => Ok(c_ulong::from(c.enabled)),
            1 => Ok(c.flags),
            _ => f.get(cx).map_err(|e| Error::from_errno(e.to_errno())),
        }
    }

    fn set(&self, cx: &mut VcpuCtx<'_>, num: c_ulong, val: c_ulong) -> Result {
        let (f, which) = reg_feature(cx, num)?;
        match which {
            0 => {
                let on = match val {
                    0 => false,
                    1 => true,
                    _ => return Err(EINVAL),
                };
                with_config(cx, f, |c| c.enabled = on);
                Ok(())
            }
            1 => {
                with_config(cx, f, |c| c.flags = val & FLAG_LOCK);
                Ok(())
            }
            _ => {
                let r = f.set(cx, true, val);
                *cx.parts().csr_dirty = true;
                errno(r)
            }
        }
    }
}

pub(crate) static VCPU_SBI_EXT_FWFT: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_FWFT, &Fwft);

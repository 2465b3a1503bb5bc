// SPDX-License-Identifier: GPL-2.0

//! ONE_REG register ids of RISC-V KVM (`include/uapi/linux/kvm.h` and
//! `arch/riscv/include/uapi/asm/kvm.h`), decoded once into a typed value,
//! and the register-list encodings. Only `core` is used: host `cargo test`
//! covers it; `onereg.rs` checks the constants against the uapi at build
//! time.
//!
//! Upstream reads a register number as the id with the architecture, size
//! and type fields cleared: bits 51:32 stay in the number, so an id with
//! any of them set names no register (-ENOENT). [`RegId::index`] keeps
//! that rule.

use crate::regs_logic::{u64_to_xlen, xlen_to_u64, Hvip, OneRegId};

/// The fields of an id, from [`OneRegId`].
pub(crate) const KVM_REG_ARCH_MASK: u64 = OneRegId::ARCH.mask();
pub(crate) const KVM_REG_RISCV: u64 = OneRegId::zeroed().with_arch(0x80).into_raw();
pub(crate) const KVM_REG_SIZE_MASK: u64 = OneRegId::SIZE.mask();
pub(crate) const KVM_REG_SIZE_SHIFT: u32 = OneRegId::SIZE.shift();
pub(crate) const KVM_REG_SIZE_U32: u64 = OneRegId::zeroed().with_size_log2(2).into_raw();
pub(crate) const KVM_REG_SIZE_U64: u64 = OneRegId::zeroed().with_size_log2(3).into_raw();
pub(crate) const TYPE_MASK: u64 = OneRegId::TYPE.mask();
pub(crate) const TYPE_SHIFT: u32 = OneRegId::TYPE.shift();
pub(crate) const SUBTYPE_MASK: u64 = OneRegId::SUBTYPE.mask();
pub(crate) const SUBTYPE_SHIFT: u32 = OneRegId::SUBTYPE.shift();

/// The register classes (`KVM_REG_RISCV_*` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Config,
    Core,
    Csr,
    Timer,
    FpF,
    FpD,
    IsaExt,
    SbiExt,
    Vector,
    SbiState,
}

impl Class {
    pub(crate) const fn type_field(self) -> u64 {
        (match self {
            Class::Config => 1,
            Class::Core => 2,
            Class::Csr => 3,
            Class::Timer => 4,
            Class::FpF => 5,
            Class::FpD => 6,
            Class::IsaExt => 7,
            Class::SbiExt => 8,
            Class::Vector => 9,
            Class::SbiState => 10,
        }) << TYPE_SHIFT
    }

    const fn from_type(t: u8) -> Option<Class> {
        Some(match t {
            1 => Class::Config,
            2 => Class::Core,
            3 => Class::Csr,
            4 => Class::Timer,
            5 => Class::FpF,
            6 => Class::FpD,
            7 => Class::IsaExt,
            8 => Class::SbiExt,
            9 => Class::Vector,
            10 => Class::SbiState,
            _ => return None,
        })
    }
}

/// CSR subtypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CsrSub {
    General,
    Aia,
    Smstateen,
    Zicfiss,
}

/// ISA (and SBI) extension subtypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtSub {
    Single,
    MultiEn,
    MultiDis,
}

/// A decoded register id. Only the type field picks the class: the
/// architecture bits are not looked at, as upstream does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RegId {
    pub(crate) id: u64,
    pub(crate) class: Option<Class>,
}

impl RegId {
    pub(crate) const fn new(id: u64) -> Self {
        RegId {
            id,
            class: Class::from_type(OneRegId::from_raw(id).reg_type()),
        }
    }

    /// The size in bytes the id asks for (`KVM_REG_SIZE()`).
    pub(crate) const fn size(&self) -> usize {
        1 << OneRegId::from_raw(self.id).size_log2()
    }

    /// The register number of a class without subtypes: everything but
    /// the architecture, size and type fields.
    pub(crate) const fn number(&self) -> u64 {
        self.id & !(KVM_REG_ARCH_MASK | KVM_REG_SIZE_MASK | TYPE_MASK)
    }

    /// The subtype field (bits 23:16).
    pub(crate) const fn subtype(&self) -> u64 {
        OneRegId::SUBTYPE.extract(self.id)
    }

    /// The register number within a subtype.
    pub(crate) const fn index(&self) -> u64 {
        self.number() & !SUBTYPE_MASK
    }

    pub(crate) fn csr_sub(&self) -> Option<CsrSub> {
        Some(match self.subtype() {
            0 => CsrSub::General,
            1 => CsrSub::Aia,
            2 => CsrSub::Smstateen,
            3 => CsrSub::Zicfiss,
            _ => return None,
        })
    }

    pub(crate) fn ext_sub(&self) -> Option<ExtSub> {
        Some(match self.subtype() {
            0 => ExtSub::Single,
            1 => ExtSub::MultiEn,
            2 => ExtSub::MultiDis,
            _ => return None,
        })
    }
}

/// The id of register `index` of `class` (and `subtype`), `size_field`
/// being `KVM_REG_SIZE_U32`/`U64`/...
pub(crate) const fn encode(class: Class, subtype: u64, index: u64, size_field: u64) -> u64 {
    KVM_REG_RISCV | size_field | class.type_field() | subtype << SUBTYPE_SHIFT | index
}

/// `KVM_REG_SIZE_*` of a `bytes`-byte register (a power of two).
pub(crate) const fn size_field(bytes: usize) -> u64 {
    // CAST: u32 to u64, widening.
    (bytes.trailing_zeros() as u64) << KVM_REG_SIZE_SHIFT
}

/// Config registers (`struct kvm_riscv_config`), by number.
pub(crate) mod config {
    pub(crate) const ISA: u64 = 0;
    pub(crate) const ZICBOM_BLOCK_SIZE: u64 = 1;
    pub(crate) const MVENDORID: u64 = 2;
    pub(crate) const MARCHID: u64 = 3;
    pub(crate) const MIMPID: u64 = 4;
    pub(crate) const ZICBOZ_BLOCK_SIZE: u64 = 5;
    pub(crate) const SATP_MODE: u64 = 6;
    pub(crate) const ZICBOP_BLOCK_SIZE: u64 = 7;
    pub(crate) const COUNT: u64 = 8;
}

/// Core registers (`struct kvm_riscv_core`): pc, x1..x31, mode.
pub(crate) mod core_reg {
    pub(crate) const PC: u64 = 0;
    pub(crate) const T6: u64 = 31;
    pub(crate) const MODE: u64 = 32;
    pub(crate) const COUNT: u64 = 33;
}

/// `KVM_RISCV_MODE_S` / `_U`.
pub(crate) const MODE_S: usize = 1;
pub(crate) const MODE_U: usize = 0;

/// General CSRs (`struct kvm_riscv_csr`): sstatus, sie, stvec, sscratch,
/// sepc, scause, stval, sip, satp, scounteren, senvcfg.
pub(crate) const CSR_GENERAL_COUNT: u64 = 11;
pub(crate) const CSR_SIP: u64 = 7;
/// AIA CSRs (`struct kvm_riscv_aia_csr`), Smstateen, Zicfiss.
pub(crate) const CSR_AIA_COUNT: u64 = 7;
pub(crate) const CSR_SMSTATEEN_COUNT: u64 = 1;
pub(crate) const CSR_ZICFISS_COUNT: u64 = 1;
/// Timer registers: frequency, time, compare, state.
pub(crate) const TIMER_COUNT: u64 = 4;
/// F: f0..f31 and fcsr (32-bit); D: f0..f31 (64-bit) and fcsr (32-bit).
pub(crate) const FP_COUNT: u64 = 33;
/// Vector: vstart, vl, vtype, vcsr, vlenb, then v0..v31 (numbered after
/// the kernel's whole vector state structure, see `onereg.rs`).
pub(crate) const VECTOR_CSR_COUNT: u64 = 5;

/// The interrupt bits of VSIP that HVIP holds one place up (SSIP, STIP,
/// SEIP as HVIP's VSSIP, VSTIP, VSEIP), and those it holds as they are
/// (LCOFIP).
const VSIP_BIAS_MASK: usize =
    u64_to_xlen(Hvip::VSSIP.mask() | Hvip::VSTIP.mask() | Hvip::VSEIP.mask()) >> 1;
const VSIP_NO_BIAS_MASK: usize = u64_to_xlen(Hvip::LCOFIP.mask());
/// The local interrupts, 0..=13.
const IRQ_LOCAL_MASK: usize = (1 << 14) - 1;

/// `vsip_to_hvip()`.
pub(crate) const fn vsip_to_hvip(vsip: usize) -> usize {
    (vsip & VSIP_BIAS_MASK) << 1 | vsip & VSIP_NO_BIAS_MASK
}

/// The `sip` a guest sees for HVIP: the VS-level bits at their S-level
/// places, and the non-local interrupts as they are.
pub(crate) const fn hvip_to_sip(hvip: usize) -> usize {
    ((hvip >> 1) & VSIP_BIAS_MASK) | hvip & VSIP_NO_BIAS_MASK | hvip & !IRQ_LOCAL_MASK
}

/// Bits 0..=25 of the `isa` config register: the single-letter extensions.
pub(crate) const BASE_ISA_MASK: usize = (1 << 26) - 1;

/// The extension ids of multi-extension register `n`, each with its bit:
/// those below `max`.
pub(crate) fn multi_ids(n: u64, max: usize) -> impl Iterator<Item = (usize, u64)> {
    (0..XLEN)
        .map(move |i| {
            (
                i,
                n.wrapping_mul(xlen_to_u64(XLEN))
                    .wrapping_add(xlen_to_u64(i)),
            )
        })
        .take_while(move |&(_, id)| id < xlen_to_u64(max))
}

/// The index of the last multi-extension register for `max` extensions.
pub(crate) const fn multi_reg_last(max: usize) -> u64 {
    xlen_to_u64((max - 1) / XLEN)
}

/// The value of multi-extension register `n` of `max` extensions, as `sub`
/// shows it: a bit for each extension `on` says is enabled (MULTI_EN), or
/// the same inverted (MULTI_DIS). `None` past the last register.
pub(crate) fn multi_get(
    sub: ExtSub,
    n: u64,
    max: usize,
    on: impl Fn(u64) -> bool,
) -> Option<usize> {
    if n > multi_reg_last(max) {
        return None;
    }
    let val = multi_ids(n, max)
        .filter(|&(_, id)| on(id))
        .fold(0, |v: usize, (bit, _)| v | 1 << bit);
    Some(if sub == ExtSub::MultiDis { !val } else { val })
}

/// The extension ids that a write of `val` to multi-extension register `n`
/// of `max` extensions names: those whose bit is set. `None` past the last
/// register.
pub(crate) fn multi_set_ids(n: u64, max: usize, val: usize) -> Option<impl Iterator<Item = u64>> {
    if n > multi_reg_last(max) {
        return None;
    }
    Some(
        multi_ids(n, max)
            .filter(move |&(bit, _)| val & (1 << bit) != 0)
            .map(|(_, id)| id),
    )
}

/// Extensions per multi-extension register: one per bit of an XLEN word.
// CAST: u32 to usize, widening.
const XLEN: usize = usize::BITS as usize;

// SPDX-License-Identifier: GPL-2.0

//! The guest ISA extensions KVM knows (the ids of `KVM_REG_RISCV_ISA_EXT`,
//! `enum KVM_RISCV_ISA_EXT_ID` of the uapi) and the policy of each: may
//! userspace enable it, may it disable it. Where a policy depends on the
//! host, it names the condition; `isa.rs` evaluates it and maps each id to
//! the host's extension. Upstream 7.3's `isa.c` is the reference, entry for
//! entry. Only `core` is used: host `cargo test` covers it.

/// A KVM ISA extension id. The discriminants are the uapi ABI.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Ext {
    A = 0,
    C = 1,
    D = 2,
    F = 3,
    H = 4,
    I = 5,
    M = 6,
    SVPBMT = 7,
    SSTC = 8,
    SVINVAL = 9,
    ZIHINTPAUSE = 10,
    ZICBOM = 11,
    ZICBOZ = 12,
    ZBB = 13,
    SSAIA = 14,
    V = 15,
    SVNAPOT = 16,
    ZBA = 17,
    ZBS = 18,
    ZICNTR = 19,
    ZICSR = 20,
    ZIFENCEI = 21,
    ZIHPM = 22,
    SMSTATEEN = 23,
    ZICOND = 24,
    ZBC = 25,
    ZBKB = 26,
    ZBKC = 27,
    ZBKX = 28,
    ZKND = 29,
    ZKNE = 30,
    ZKNH = 31,
    ZKR = 32,
    ZKSED = 33,
    ZKSH = 34,
    ZKT = 35,
    ZVBB = 36,
    ZVBC = 37,
    ZVKB = 38,
    ZVKG = 39,
    ZVKNED = 40,
    ZVKNHA = 41,
    ZVKNHB = 42,
    ZVKSED = 43,
    ZVKSH = 44,
    ZVKT = 45,
    ZFH = 46,
    ZFHMIN = 47,
    ZIHINTNTL = 48,
    ZVFH = 49,
    ZVFHMIN = 50,
    ZFA = 51,
    ZTSO = 52,
    ZACAS = 53,
    SSCOFPMF = 54,
    ZIMOP = 55,
    ZCA = 56,
    ZCB = 57,
    ZCD = 58,
    ZCF = 59,
    ZCMOP = 60,
    ZAWRS = 61,
    SMNPM = 62,
    SSNPM = 63,
    SVADE = 64,
    SVADU = 65,
    SVVPTC = 66,
    ZABHA = 67,
    ZICCRSE = 68,
    ZAAMO = 69,
    ZALRSC = 70,
    ZICBOP = 71,
    ZFBFMIN = 72,
    ZVFBFMIN = 73,
    ZVFBFWMA = 74,
    ZCLSD = 75,
    ZILSD = 76,
    ZALASR = 77,
    ZICFILP = 78,
    ZICFISS = 79,
}

/// Every id, in id order; `ALL.len()` is `KVM_RISCV_ISA_EXT_MAX`.
pub(crate) const ALL: [Ext; 80] = [
    Ext::A,
    Ext::C,
    Ext::D,
    Ext::F,
    Ext::H,
    Ext::I,
    Ext::M,
    Ext::SVPBMT,
    Ext::SSTC,
    Ext::SVINVAL,
    Ext::ZIHINTPAUSE,
    Ext::ZICBOM,
    Ext::ZICBOZ,
    Ext::ZBB,
    Ext::SSAIA,
    Ext::V,
    Ext::SVNAPOT,
    Ext::ZBA,
    Ext::ZBS,
    Ext::ZICNTR,
    Ext::ZICSR,
    Ext::ZIFENCEI,
    Ext::ZIHPM,
    Ext::SMSTATEEN,
    Ext::ZICOND,
    Ext::ZBC,
    Ext::ZBKB,
    Ext::ZBKC,
    Ext::ZBKX,
    Ext::ZKND,
    Ext::ZKNE,
    Ext::ZKNH,
    Ext::ZKR,
    Ext::ZKSED,
    Ext::ZKSH,
    Ext::ZKT,
    Ext::ZVBB,
    Ext::ZVBC,
    Ext::ZVKB,
    Ext::ZVKG,
    Ext::ZVKNED,
    Ext::ZVKNHA,
    Ext::ZVKNHB,
    Ext::ZVKSED,
    Ext::ZVKSH,
    Ext::ZVKT,
    Ext::ZFH,
    Ext::ZFHMIN,
    Ext::ZIHINTNTL,
    Ext::ZVFH,
    Ext::ZVFHMIN,
    Ext::ZFA,
    Ext::ZTSO,
    Ext::ZACAS,
    Ext::SSCOFPMF,
    Ext::ZIMOP,
    Ext::ZCA,
    Ext::ZCB,
    Ext::ZCD,
    Ext::ZCF,
    Ext::ZCMOP,
    Ext::ZAWRS,
    Ext::SMNPM,
    Ext::SSNPM,
    Ext::SVADE,
    Ext::SVADU,
    Ext::SVVPTC,
    Ext::ZABHA,
    Ext::ZICCRSE,
    Ext::ZAAMO,
    Ext::ZALRSC,
    Ext::ZICBOP,
    Ext::ZFBFMIN,
    Ext::ZVFBFMIN,
    Ext::ZVFBFWMA,
    Ext::ZCLSD,
    Ext::ZILSD,
    Ext::ZALASR,
    Ext::ZICFILP,
    Ext::ZICFISS,
];

impl Ext {
    /// The extension of id `id`, if KVM has one.
    pub(crate) fn from_id(id: usize) -> Option<Ext> {
        ALL.get(id).copied()
    }
}

/// Whether userspace may enable an extension the host has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enable {
    Yes,
    No,
    /// Sscofpmf: its interrupt filtering needs the host's Ssaia.
    IfHostSsaia,
    /// Svadu: HENVCFG.ADUE is read-only zero unless the host uses Svadu.
    IfHostSvadu,
    /// V: when the host lets user space use the vector state.
    IfVectorUserAllowed,
}

/// Whether userspace may disable an extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disable {
    Yes,
    /// Nothing can hide it from the guest.
    No,
    /// Ssaia: hidden through Smstateen, when the host has it.
    IfHostSmstateen,
    /// Svade: only when Svadu can take over.
    IfHostSvadu,
}

impl Ext {
    pub(crate) const fn enable(self) -> Enable {
        match self {
            Ext::H => Enable::No,
            Ext::SSCOFPMF => Enable::IfHostSsaia,
            Ext::SVADU => Enable::IfHostSvadu,
            Ext::V => Enable::IfVectorUserAllowed,
            _ => Enable::Yes,
        }
    }

    pub(crate) const fn disable(self) -> Disable {
        match self {
            // No mechanism disables these. Ziccrse (reservation set
            // forward progress) is a property of the harts, so it is
            // among them.
            Ext::A
            | Ext::C
            | Ext::I
            | Ext::M
            | Ext::SSCOFPMF
            | Ext::SSNPM
            | Ext::SSTC
            | Ext::SVINVAL
            | Ext::SVNAPOT
            | Ext::SVVPTC
            | Ext::ZAAMO
            | Ext::ZABHA
            | Ext::ZACAS
            | Ext::ZALASR
            | Ext::ZALRSC
            | Ext::ZAWRS
            | Ext::ZBA
            | Ext::ZBB
            | Ext::ZBC
            | Ext::ZBKB
            | Ext::ZBKC
            | Ext::ZBKX
            | Ext::ZBS
            | Ext::ZCA
            | Ext::ZCB
            | Ext::ZCD
            | Ext::ZCF
            | Ext::ZCMOP
            | Ext::ZFA
            | Ext::ZFBFMIN
            | Ext::ZFH
            | Ext::ZFHMIN
            | Ext::ZICBOP
            | Ext::ZICCRSE
            | Ext::ZICNTR
            | Ext::ZICOND
            | Ext::ZICSR
            | Ext::ZIFENCEI
            | Ext::ZIHINTNTL
            | Ext::ZIHINTPAUSE
            | Ext::ZIHPM
            | Ext::ZIMOP
            | Ext::ZKND
            | Ext::ZKNE
            | Ext::ZKNH
            | Ext::ZKR
            | Ext::ZKSED
            | Ext::ZKSH
            | Ext::ZKT
            | Ext::ZTSO
            | Ext::ZVBB
            | Ext::ZVBC
            | Ext::ZVFBFMIN
            | Ext::ZVFBFWMA
            | Ext::ZVFH
            | Ext::ZVFHMIN
            | Ext::ZVKB
            | Ext::ZVKG
            | Ext::ZVKNED
            | Ext::ZVKNHA
            | Ext::ZVKNHB
            | Ext::ZVKSED
            | Ext::ZVKSH
            | Ext::ZVKT => Disable::No,
            Ext::SSAIA => Disable::IfHostSmstateen,
            Ext::SVADE => Disable::IfHostSvadu,
            _ => Disable::Yes,
        }
    }
}

/// `riscv_isa_extension_available(isa, ext)` on a vCPU's ISA bitmap (words
/// of XLEN bits): is host extension `ext` (`RISCV_ISA_EXT_*`) set in `isa`?
/// Ids past the bitmap are not.
#[inline]
pub(crate) fn bitmap_has(isa: &[usize], ext: u32) -> bool {
    let (word, bit) = bitmap_pos(ext);
    isa.get(word).is_some_and(|w| (w >> bit) & 1 != 0)
}

/// Sets (`on`) or clears host extension `ext` in the ISA bitmap `isa`; ids
/// past the bitmap are not there to change.
#[inline]
pub(crate) fn bitmap_assign(isa: &mut [usize], ext: u32, on: bool) {
    let (word, bit) = bitmap_pos(ext);
    if let Some(w) = isa.get_mut(word) {
        if on {
            *w |= 1 << bit;
        } else {
            *w &= !(1 << bit);
        }
    }
}

/// The word and the bit of extension `ext` in a bitmap.
const fn bitmap_pos(ext: u32) -> (usize, u32) {
    // CAST: u32 to usize, widening (usize is at least 32 bits).
    ((ext / usize::BITS) as usize, ext % usize::BITS)
}

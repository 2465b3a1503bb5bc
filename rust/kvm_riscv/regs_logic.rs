// SPDX-License-Identifier: GPL-2.0

//! Typed registers: the CSRs and SBI words whose fields KVM reads and builds,
//! each a newtype over `u64` with a `const fn` getter and setter per field.
//!
//! The layouts come from the RISC-V privileged specification (`sstatus`, and
//! the hypervisor extension's `hstatus`, `hvip`, `henvcfg`), the Smstateen
//! extension (`hstateen0`), the Advanced Interrupt Architecture (`hvictl`),
//! the SBI specification (the PMU extension's event index and counter info,
//! the nested-acceleration HFENCE config word) and the KVM ONE_REG id of
//! `include/uapi/linux/kvm.h`.
//!
//! The kernel crate has a `bitfield!` macro of its own, but host `cargo test`
//! cannot use it; [`bitfield!`] here is a small one that only needs `core`,
//! shaped the same way (`hi:lo` ranges, `from_raw`/`into_raw`, getters named
//! after the field and `with_` setters). Without the kernel's `paste!` it
//! cannot derive names, so each field spells its constant, getter and setter.
//!
//! Rust on RISC-V Linux is 64-bit only: XLEN is 64, and a `usize` register
//! value converts to and from `u64` without loss ([`u64_to_xlen`],
//! [`xlen_to_u64`]).

use core::fmt;

// XLEN-wide values are `usize`; the registers here are `u64`.
const _: () = assert!(usize::BITS == u64::BITS);

/// A `u64` register value as the `usize` (XLEN) KVM keeps it in.
pub(crate) const fn u64_to_xlen(v: u64) -> usize {
    // CAST: usize is 64 bits wide (asserted above): lossless.
    v as usize
}

/// A `usize` (XLEN) register value as a `u64`.
pub(crate) const fn xlen_to_u64(v: usize) -> u64 {
    // CAST: usize is 64 bits wide (asserted above): lossless.
    v as u64
}

/// The set bits of the XLEN register value `mask`, lowest first.
pub(crate) fn bits(mask: usize) -> impl Iterator<Item = usize> {
    // CAST: 64.
    (0..usize::BITS as usize).filter(move |i| mask & (1 << i) != 0)
}

/// Bits `hi:lo` (inclusive) of a 64-bit register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    hi: u32,
    lo: u32,
}

// Not every register type uses every helper.
#[allow(dead_code)]
impl Field {
    /// Bits `hi:lo`; in a constant, a range that is upside down or outside
    /// 63:0 does not build.
    pub(crate) const fn new(hi: u32, lo: u32) -> Self {
        assert!(
            lo <= hi && hi < u64::BITS,
            "bit range upside down or past bit 63"
        );
        Field { hi, lo }
    }

    /// The highest bit.
    pub(crate) const fn hi(self) -> u32 {
        self.hi
    }

    /// The lowest bit: the field's shift.
    pub(crate) const fn shift(self) -> u32 {
        self.lo
    }

    /// The number of bits.
    pub(crate) const fn width(self) -> u32 {
        self.hi - self.lo + 1
    }

    /// The largest value the field holds.
    pub(crate) const fn max(self) -> u64 {
        u64::MAX >> (u64::BITS - self.width())
    }

    /// The field's bits in the register.
    pub(crate) const fn mask(self) -> u64 {
        self.max() << self.lo
    }

    /// The field's value in `raw`.
    pub(crate) const fn extract(self, raw: u64) -> u64 {
        (raw >> self.lo) & self.max()
    }

    /// `raw` with the field set to the low `width()` bits of `value`, and
    /// every other bit kept.
    pub(crate) const fn insert(self, raw: u64, value: u64) -> u64 {
        (raw & !self.mask()) | ((value & self.max()) << self.lo)
    }

    /// The union of the bits of `fields`; panics (in a constant: does not
    /// build) when two of them share a bit.
    pub(crate) const fn union(fields: &[Field]) -> u64 {
        let mut bits = 0;
        let mut i = 0;
        while i < fields.len() {
            assert!(bits & fields[i].mask() == 0, "two fields share a bit");
            bits |= fields[i].mask();
            i += 1;
        }
        bits
    }
}

/// What the host tests need to exercise one field's generated accessors
/// through a table: the getter and the setter, widened to `u64`.
#[cfg(test)]
pub(crate) struct Accessor<R> {
    pub(crate) name: &'static str,
    pub(crate) field: Field,
    pub(crate) get: fn(R) -> u64,
    pub(crate) with: fn(R, u64) -> R,
}

/// Declares a register type: a `u64` newtype with `zeroed`, `from_raw`,
/// `into_raw`, `From` both ways, a `Debug` that lists the fields, and for
/// each field `hi:lo NAME: type => getter, setter;`:
///
/// - `NAME`: the [`Field`] constant (its `mask()` and `shift()` are the
///   spec's);
/// - `getter(self) -> type`;
/// - `setter(self, type) -> Self`: the value cut to the field's width, every
///   other bit kept.
///
/// `type` is `bool` for a one-bit field or an unsigned integer the field
/// fits in; fields may not share bits. Both are checked at build time.
macro_rules! bitfield {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $hi:literal : $lo:literal $field:ident : $ty:ident => $get:ident, $with:ident;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, PartialEq, Eq)]
        #[repr(transparent)]
        $vis struct $name(u64);

        // A register type offers every field of its specification; KVM uses
        // some of them.
        #[allow(dead_code)]
        impl $name {
            $(
                $(#[$fmeta])*
                $vis const $field: Field = Field::new($hi, $lo);
            )*

            /// The bits that belong to a field.
            $vis const DEFINED: u64 = Field::union(&[$(Self::$field),*]);

            /// All fields 0.
            $vis const fn zeroed() -> Self {
                Self(0)
            }

            /// The register holding `raw`.
            $vis const fn from_raw(raw: u64) -> Self {
                Self(raw)
            }

            /// The register's value.
            $vis const fn into_raw(self) -> u64 {
                self.0
            }

            $(
                $(#[$fmeta])*
                $vis const fn $get(self) -> $ty {
                    bitfield!(@get $ty, Self::$field.extract(self.0))
                }

                $(#[$fmeta])*
                ///
                /// Setter: the value is cut to the field's width; the other
                /// bits are kept.
                $vis const fn $with(self, value: $ty) -> Self {
                    // CAST: bool or an unsigned integer of at most 64 bits
                    // (checked below) to u64: widening.
                    Self(Self::$field.insert(self.0, value as u64))
                }
            )*
        }

        // The fields fit their types, and no two fields share a bit.
        const _: () = {
            $(bitfield!(@check $ty, $name::$field);)*
            let _ = $name::DEFINED;
        };

        impl From<u64> for $name {
            fn from(raw: u64) -> Self {
                Self(raw)
            }
        }

        impl From<$name> for u64 {
            fn from(r: $name) -> u64 {
                r.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("raw", &format_args!("{:#x}", self.0))
                    $(.field(stringify!($get), &self.$get()))*
                    .finish()
            }
        }

        #[cfg(test)]
        impl $name {
            /// Every field with its accessors, in declaration order.
            pub(crate) const ACCESSORS: &'static [Accessor<$name>] = &[$(
                Accessor {
                    name: stringify!($field),
                    field: $name::$field,
                    get: |r| u64::from(r.$get()),
                    with: |r, v| r.$with(bitfield!(@from_u64 $ty, v)),
                },
            )*];
        }
    };
    (@get bool, $v:expr) => {
        $v != 0
    };
    (@get $ty:ident, $v:expr) => {{
        let v = $v;
        // CAST: v is masked to the field's width, which fits the type
        // (checked at build time).
        v as $ty
    }};
    (@check bool, $f:expr) => {
        assert!($f.width() == 1, "a bool field is one bit wide");
    };
    (@check $ty:ident, $f:expr) => {
        assert!($ty::MIN == 0 && $f.width() <= $ty::BITS, "the field does not fit its type");
    };
    (@from_u64 bool, $v:expr) => {
        $v & 1 != 0
    };
    (@from_u64 $ty:ident, $v:expr) => {{
        let v = $v;
        // CAST: the tests pass the field's own values; wider bits are cut
        // on purpose, as the setter cuts them.
        v as $ty
    }};
}

/// The values of the 2-bit FS, VS and XS fields of `sstatus`.
// The glue port (vcpu_fp.rs, vcpu_vector.rs) will use them.
#[allow(dead_code)]
pub(crate) mod ext_state {
    pub(crate) const OFF: u8 = 0;
    pub(crate) const INITIAL: u8 = 1;
    pub(crate) const CLEAN: u8 = 2;
    pub(crate) const DIRTY: u8 = 3;
}

bitfield! {
    /// `sstatus` (and `vsstatus`) with SXLEN 64 (privileged specification,
    /// "Supervisor Status Register").
    // The glue port (vcpu.rs, vcpu_fp.rs, vcpu_vector.rs) will use it.
    #[allow(dead_code)]
    pub(crate) struct Sstatus {
        /// Supervisor interrupts enabled.
        1:1 SIE: bool => sie, with_sie;
        /// SIE before the trap.
        5:5 SPIE: bool => spie, with_spie;
        /// U-mode explicit accesses are big-endian.
        6:6 UBE: bool => ube, with_ube;
        /// The trap came from S-mode (1) or U-mode (0).
        8:8 SPP: bool => spp, with_spp;
        /// Vector state ([`ext_state`]).
        10:9 VS: u8 => vs, with_vs;
        /// Floating-point state ([`ext_state`]).
        14:13 FS: u8 => fs, with_fs;
        /// Other extensions' state ([`ext_state`]).
        16:15 XS: u8 => xs, with_xs;
        /// S-mode may access user memory.
        18:18 SUM: bool => sum, with_sum;
        /// Loads from executable pages succeed.
        19:19 MXR: bool => mxr, with_mxr;
        /// A landing pad was expected at the trap (Zicfilp).
        23:23 SPELP: bool => spelp, with_spelp;
        /// Supervisor double-trap (Ssdbltrp).
        24:24 SDT: bool => sdt, with_sdt;
        /// U-mode XLEN (encoded as `misa.MXL`).
        33:32 UXL: u8 => uxl, with_uxl;
        /// FS, VS or XS is dirty.
        63:63 SD: bool => sd, with_sd;
    }
}

bitfield! {
    /// `hstatus` with HSXLEN 64 (privileged specification, hypervisor
    /// extension, "Hypervisor Status Register").
    // The glue port (vcpu.rs, vcpu_exit.rs, aia.rs) will use it.
    #[allow(dead_code)]
    pub(crate) struct Hstatus {
        /// VS-mode explicit accesses are big-endian.
        5:5 VSBE: bool => vsbe, with_vsbe;
        /// The trap wrote a guest virtual address to `stval`.
        6:6 GVA: bool => gva, with_gva;
        /// The trap came from a guest (V was 1).
        7:7 SPV: bool => spv, with_spv;
        /// The guest's privilege at the trap (HLV/HSV use it).
        8:8 SPVP: bool => spvp, with_spvp;
        /// HLV/HLVX/HSV are allowed in U-mode.
        9:9 HU: bool => hu, with_hu;
        /// The guest external interrupt line of VS-level external interrupts.
        17:12 VGEIN: u8 => vgein, with_vgein;
        /// SFENCE.VMA, SINVAL.VMA and `satp` trap in VS-mode.
        20:20 VTVM: bool => vtvm, with_vtvm;
        /// WFI traps in VS-mode.
        21:21 VTW: bool => vtw, with_vtw;
        /// SRET traps in VS-mode.
        22:22 VTSR: bool => vtsr, with_vtsr;
        /// VS-mode XLEN (encoded as `misa.MXL`).
        33:32 VSXL: u8 => vsxl, with_vsxl;
        /// Pointer masking of HLV/HSV in U-mode (Ssnpm).
        49:48 HUPMM: u8 => hupmm, with_hupmm;
    }
}

bitfield! {
    /// `hvictl` (Advanced Interrupt Architecture, "Interrupts for Virtual
    /// Machines (VS Level)").
    pub(crate) struct Hvictl {
        /// The priority of the interrupt `IID` names.
        7:0 IPRIO: u8 => iprio, with_iprio;
        /// IPRIO is used as it is (1) or as "no priority" (0).
        8:8 IPRIOM: bool => ipriom, with_ipriom;
        /// The interrupt of `IID` takes precedence over those of `hvip`.
        9:9 DPR: bool => dpr, with_dpr;
        /// The interrupt identity VS-level `stopi` reports.
        27:16 IID: u16 => iid, with_iid;
        /// VS-mode `sip`/`sie` accesses trap (virtual instruction).
        30:30 VTI: bool => vti, with_vti;
    }
}

bitfield! {
    /// The standard VS-level bits of `hvip` (privileged specification,
    /// hypervisor extension; LCOFIP from Sscofpmf with the AIA's `hvien`).
    pub(crate) struct Hvip {
        /// VS-level software interrupt.
        2:2 VSSIP: bool => vssip, with_vssip;
        /// VS-level timer interrupt.
        6:6 VSTIP: bool => vstip, with_vstip;
        /// VS-level external interrupt.
        10:10 VSEIP: bool => vseip, with_vseip;
        /// Local counter-overflow interrupt.
        13:13 LCOFIP: bool => lcofip, with_lcofip;
    }
}

/// The values of `henvcfg.CBIE`.
pub(crate) mod cbie {
    /// `cbo.inval` is illegal.
    pub(crate) const ILLEGAL: u8 = 0;
    /// `cbo.inval` flushes.
    #[allow(dead_code)] // The values of the field, not all chosen by KVM.
    pub(crate) const FLUSH: u8 = 1;
    /// `cbo.inval` invalidates.
    pub(crate) const INVALIDATE: u8 = 3;
}

bitfield! {
    /// `henvcfg` (privileged specification, hypervisor extension,
    /// "Hypervisor Environment Configuration Register").
    pub(crate) struct Henvcfg {
        /// FENCE of I/O implies memory.
        0:0 FIOM: bool => fiom, with_fiom;
        /// Landing pads in VS-mode (Zicfilp).
        2:2 LPE: bool => lpe, with_lpe;
        /// Shadow stacks in VS-mode (Zicfiss).
        3:3 SSE: bool => sse, with_sse;
        /// What `cbo.inval` does ([`cbie`]).
        5:4 CBIE: u8 => cbie, with_cbie;
        /// `cbo.clean` and `cbo.flush` are allowed.
        6:6 CBCFE: bool => cbcfe, with_cbcfe;
        /// `cbo.zero` is allowed.
        7:7 CBZE: bool => cbze, with_cbze;
        /// Pointer masking in VU-mode (Ssnpm).
        33:32 PMM: u8 => pmm, with_pmm;
        /// Double-trap in VS-mode (Ssdbltrp).
        59:59 DTE: bool => dte, with_dte;
        /// Hardware A/D updates in VS-stage translation (Svadu).
        61:61 ADUE: bool => adue, with_adue;
        /// Svpbmt in VS-stage translation.
        62:62 PBMTE: bool => pbmte, with_pbmte;
        /// `vstimecmp` (Sstc).
        63:63 STCE: bool => stce, with_stce;
    }
}

bitfield! {
    /// `hstateen0` (Smstateen): the state VS-mode may touch.
    pub(crate) struct Hstateen0 {
        /// Custom state.
        0:0 C: bool => c, with_c;
        /// `fcsr` with Zfinx.
        1:1 FCSR: bool => fcsr, with_fcsr;
        /// `jvt` (Zcmt).
        2:2 JVT: bool => jvt, with_jvt;
        /// `scontext` (Sdtrig).
        57:57 CONTEXT: bool => context, with_context;
        /// The IMSIC state: `stopei` and the guest file.
        58:58 IMSIC: bool => imsic, with_imsic;
        /// The AIA state other than the IMSIC's.
        59:59 AIA: bool => aia, with_aia;
        /// `siselect`/`sireg` (Sscsrind).
        60:60 CSRIND: bool => csrind, with_csrind;
        /// `senvcfg`.
        62:62 ENVCFG: bool => envcfg, with_envcfg;
        /// `sstateen0`.
        63:63 SE0: bool => se0, with_se0;
    }
}

bitfield! {
    /// An SBI PMU event index (SBI specification, "Performance Monitoring
    /// Unit Extension", "Event Index").
    pub(crate) struct EventIdx {
        /// The event code, read according to the type.
        15:0 CODE: u16 => code, with_code;
        /// The event type: 0 hardware, 1 cache, 2 raw, 3 raw v2, 15 firmware.
        19:16 TYPE: u8 => kind, with_kind;
    }
}

bitfield! {
    /// The event code of an SBI PMU cache event (type 1).
    pub(crate) struct CacheEvent {
        /// 0 access, 1 miss.
        0:0 RESULT: u8 => result, with_result;
        /// 0 read, 1 write, 2 prefetch.
        2:1 OP: u8 => op, with_op;
        /// Which cache (L1D, L1I, LL, DTLB, ITLB, BPU, NODE).
        15:3 ID: u16 => id, with_id;
    }
}

bitfield! {
    /// The counter info word of the SBI PMU (`sbi_pmu_counter_get_info`),
    /// XLEN 64.
    pub(crate) struct CtrInfo {
        /// The CSR of a hardware counter.
        11:0 CSR: u16 => csr, with_csr;
        /// The counter's width in bits, minus one.
        17:12 WIDTH: u8 => width, with_width;
        /// The counter type: 1 for a firmware counter, 0 for a hardware one.
        63:63 TYPE: bool => firmware, with_firmware;
    }
}

bitfield! {
    /// The config word of a nested HFENCE entry in the NACL shared memory,
    /// XLEN 64, as `nacl_logic.rs` places its fields.
    pub(crate) struct HfenceConfig {
        /// The address space.
        15:0 ASID: u16 => asid, with_asid;
        /// The guest.
        29:16 VMID: u16 => vmid, with_vmid;
        /// The page size, as a power of two, minus 12.
        54:48 ORDER: u8 => order, with_order;
        /// The kind of fence (`nacl_layout::HfenceType`).
        59:56 TYPE: u8 => kind, with_kind;
        /// The entry waits for the SBI implementation.
        63:63 PEND: bool => pending, with_pending;
    }
}

bitfield! {
    /// A KVM ONE_REG register id on RISC-V (`include/uapi/linux/kvm.h`,
    /// `arch/riscv/include/uapi/asm/kvm.h`). The register number below the
    /// subtype, and bits 51:32, are not a field: `onereg_logic.rs` reads them.
    pub(crate) struct OneRegId {
        /// The register's subtype, for the types that have them.
        23:16 SUBTYPE: u8 => subtype, with_subtype;
        /// The register class (`KVM_REG_RISCV_CONFIG`...).
        31:24 TYPE: u8 => reg_type, with_reg_type;
        /// log2 of the register's size in bytes.
        55:52 SIZE: u8 => size_log2, with_size_log2;
        /// The architecture (0x80: RISC-V).
        63:56 ARCH: u8 => arch, with_arch;
    }
}

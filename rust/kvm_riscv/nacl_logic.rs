// SPDX-License-Identifier: GPL-2.0

//! The layout of the SBI nested-acceleration (NACL) shared memory, from the
//! SBI specification (v3.0, chapter "Nested Acceleration Extension").
//!
//! Offsets are derived from the sizes of the consecutive areas, not listed by
//! hand. Only `core` is used: host `cargo test` covers this module, and the
//! kernel build checks it against `asm/sbi.h` at compile time (see `nacl.rs`).
//!
//! Rust on RISC-V Linux is 64-bit only, so XLEN is 64 here.

use crate::regs_logic::{u64_to_xlen, xlen_to_u64, HfenceConfig};

/// Bytes per XLEN word.
pub(crate) const XLEN_BYTES: usize = 8;

/// The scratch area, which overlays the SRET and AUTOSWAP areas.
pub(crate) const SCRATCH_OFFSET: usize = 0;
pub(crate) const SCRATCH_SIZE: usize = 0x1000;

/// Guest GPRs for `SYNC_SRET`: x1..x31 at `SRET_OFFSET + x * XLEN_BYTES`.
pub(crate) const SRET_OFFSET: usize = SCRATCH_OFFSET;
pub(crate) const SRET_SIZE: usize = 0x200;
/// The last GPR the SRET area holds (x31).
pub(crate) const SRET_X_LAST: usize = 31;

/// CSRs the SBI implementation swaps around `SYNC_SRET`.
pub(crate) const AUTOSWAP_OFFSET: usize = SRET_OFFSET + SRET_SIZE;
pub(crate) const AUTOSWAP_SIZE: usize = 0x80;
/// Word 0 of the autoswap area: which CSRs to swap.
pub(crate) const AUTOSWAP_FLAG_HSTATUS: usize = 1 << 0;
/// Word 1 of the autoswap area: the HSTATUS value to swap in.
pub(crate) const AUTOSWAP_HSTATUS: usize = XLEN_BYTES;

const UNUSED_OFFSET: usize = AUTOSWAP_OFFSET + AUTOSWAP_SIZE;
const UNUSED_SIZE: usize = 0x580;

/// HFENCE requests: entries of four words (config, page number, page count, reserved).
pub(crate) const HFENCE_OFFSET: usize = UNUSED_OFFSET + UNUSED_SIZE;
pub(crate) const HFENCE_SIZE: usize = 0x780;
pub(crate) const HFENCE_ENTRY_SIZE: usize = 4 * XLEN_BYTES;
pub(crate) const HFENCE_ENTRY_MAX: usize = HFENCE_SIZE / HFENCE_ENTRY_SIZE;

/// The dirty bitmap of the CSR area: one bit per CSR slot.
pub(crate) const DBITMAP_OFFSET: usize = HFENCE_OFFSET + HFENCE_SIZE;
pub(crate) const DBITMAP_SIZE: usize = 0x80;

/// The CSR area: 1024 XLEN slots.
pub(crate) const CSR_OFFSET: usize = DBITMAP_OFFSET + DBITMAP_SIZE;
pub(crate) const CSR_SLOTS: usize = 1024;
pub(crate) const CSR_SIZE: usize = CSR_SLOTS * XLEN_BYTES;

/// The whole shared memory.
pub(crate) const SHMEM_SIZE: usize = CSR_OFFSET + CSR_SIZE;

/// The slot of CSR `csr` in the CSR area: bits 11:10 of the number select a
/// quarter, bits 7:0 the slot in it (bits 9:8, the privilege level, are
/// always "hypervisor" for the CSRs that live here).
pub(crate) const fn csr_index(csr: u16) -> usize {
    // CAST: u16 to usize, widening.
    let c = csr as usize;
    ((c & 0xc00) >> 2) | (c & 0xff)
}

/// Byte offset of CSR `csr`'s slot in the shared memory.
pub(crate) const fn csr_offset(csr: u16) -> usize {
    CSR_OFFSET + csr_index(csr) * XLEN_BYTES
}

/// Byte offset and bit mask of CSR `csr` in the dirty bitmap.
pub(crate) const fn csr_dirty_bit(csr: u16) -> (usize, u8) {
    let i = csr_index(csr);
    (DBITMAP_OFFSET + (i >> 3), 1u8 << (i & 7))
}

/// Byte offset of guest GPR `x` (1..=31) in the SRET area.
pub(crate) const fn sret_x(x: usize) -> usize {
    SRET_OFFSET + x * XLEN_BYTES
}

/// Byte offsets of nested HFENCE entry `n`'s four words, in the order of
/// the specification's "Nested HFENCE entry format": Config, Page_Number,
/// Reserved (must be zero), Page_Count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HfenceEntry {
    pub(crate) config: usize,
    pub(crate) page_number: usize,
    pub(crate) reserved: usize,
    pub(crate) page_count: usize,
}

/// The words of HFENCE entry `n`.
pub(crate) const fn hfence_entry(n: usize) -> HfenceEntry {
    let base = HFENCE_OFFSET + n * HFENCE_ENTRY_SIZE;
    HfenceEntry {
        config: base,
        page_number: base + XLEN_BYTES,
        reserved: base + 2 * XLEN_BYTES,
        page_count: base + 3 * XLEN_BYTES,
    }
}

/// HFENCE request types (all of the specification's; until `tlb.c` is
/// ported, C queues the ranged ones itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
#[repr(u8)]
pub(crate) enum HfenceType {
    Gvma = 0,
    GvmaAll = 1,
    GvmaVmid = 2,
    GvmaVmidAll = 3,
    Vvma = 4,
    VvmaAll = 5,
    VvmaAsid = 6,
    VvmaAsidAll = 7,
}

impl HfenceType {
    /// The type in a config word's TYPE field; `None` for a reserved one.
    pub(crate) const fn from_bits(t: u8) -> Option<HfenceType> {
        Some(match t {
            0 => HfenceType::Gvma,
            1 => HfenceType::GvmaAll,
            2 => HfenceType::GvmaVmid,
            3 => HfenceType::GvmaVmidAll,
            4 => HfenceType::Vvma,
            5 => HfenceType::VvmaAll,
            6 => HfenceType::VvmaAsid,
            7 => HfenceType::VvmaAsidAll,
            _ => return None,
        })
    }

    /// A whole-space fence: Order, Page_Number and Page_Count are ignored
    /// and must be zero.
    pub(crate) const fn is_all(self) -> bool {
        matches!(
            self,
            HfenceType::GvmaAll
                | HfenceType::GvmaVmidAll
                | HfenceType::VvmaAll
                | HfenceType::VvmaAsidAll
        )
    }

    /// Whether the VMID field is used (it must be zero otherwise).
    pub(crate) const fn uses_vmid(self) -> bool {
        !matches!(self, HfenceType::Gvma | HfenceType::GvmaAll)
    }

    /// Whether the ASID field is used (it must be zero otherwise).
    pub(crate) const fn uses_asid(self) -> bool {
        matches!(self, HfenceType::VvmaAsid | HfenceType::VvmaAsidAll)
    }
}

/// Config word bit positions (XLEN 64), as [`HfenceConfig`] types them:
/// pending [63], reserved [62:60], type [59:56], reserved [55], order
/// [54:48], VMID [29:16], ASID [15:0].
pub(crate) const HFENCE_CONFIG_PEND: usize = u64_to_xlen(HfenceConfig::PEND.mask());
/// Orders are encoded relative to 4 KiB pages.
pub(crate) const HFENCE_ORDER_BASE: usize = 12;

/// The config word of a pending HFENCE request. The order is stored as
/// `order - 12`, cut to 7 bits; VMID and ASID are cut to their widths; the
/// fields the type ignores are zero, as the specification requires.
pub(crate) const fn hfence_config_word(
    ty: HfenceType,
    order: usize,
    vmid: usize,
    asid: usize,
) -> HfenceConfig {
    let c = HfenceConfig::zeroed()
        .with_pending(true)
        // CAST: the discriminant of a `repr(u8)` enum.
        .with_kind(ty as u8)
        // CAST: the field keeps the low 7 bits, all within the u8.
        .with_order(order.wrapping_sub(HFENCE_ORDER_BASE) as u8)
        // CAST: the field keeps the low 14 bits, all within the u16.
        .with_vmid(vmid as u16)
        // CAST: the field is the 16 bits of the u16.
        .with_asid(asid as u16);
    hfence_config_clean(c)
}

/// `c` with the fields its type ignores set to zero: Order for the
/// whole-space types, VMID for GVMA and GVMA_ALL, ASID for all but the
/// VVMA_ASID ones. The C callers (`tlb.c`, through `asm/kvm_nacl.h`) give
/// the whole-space fences order 0, which the field holds as
/// `(0 - 12) & 0x7f`; the specification says it MUST be zero. A reserved
/// type is left as it is.
pub(crate) const fn hfence_config_clean(c: HfenceConfig) -> HfenceConfig {
    let Some(ty) = HfenceType::from_bits(c.kind()) else {
        return c;
    };
    let mut c = c;
    if ty.is_all() {
        c = c.with_order(0);
    }
    if !ty.uses_vmid() {
        c = c.with_vmid(0);
    }
    if !ty.uses_asid() {
        c = c.with_asid(0);
    }
    c
}

/// The words written into an HFENCE entry for a request, config last:
/// `[page_number, reserved, page_count, config]`, with the config cleaned
/// ([`hfence_config_clean`]) and the page words of a whole-space fence
/// zero.
pub(crate) const fn hfence_entry_words(
    control: usize,
    page_num: usize,
    page_count: usize,
) -> [usize; 4] {
    let c = hfence_config_clean(HfenceConfig::from_raw(xlen_to_u64(control)));
    let all = match HfenceType::from_bits(c.kind()) {
        Some(ty) => ty.is_all(),
        None => false,
    };
    let (pn, pc) = if all { (0, 0) } else { (page_num, page_count) };
    [pn, 0, pc, u64_to_xlen(c.into_raw())]
}

/// [`hfence_config_word`] as the XLEN word written to the shared memory.
pub(crate) const fn hfence_config(ty: HfenceType, order: usize, vmid: usize, asid: usize) -> usize {
    u64_to_xlen(hfence_config_word(ty, order, vmid, asid).into_raw())
}

// SPDX-License-Identifier: GPL-2.0

//! The layout of the SBI nested-acceleration (NACL) shared memory, from the
//! SBI specification (v3.0, chapter "Nested Acceleration Extension").
//!
//! Offsets are derived from the sizes of the consecutive areas, not listed by
//! hand. Only `core` is used: host `cargo test` covers this module, and the
//! kernel build checks it against `asm/sbi.h` at compile time (see `nacl.rs`).
//!
//! Rust on RISC-V Linux is 64-bit only, so XLEN is 64 here.

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

/// Byte offsets of HFENCE entry `n`'s config, page-number and page-count words.
pub(crate) const fn hfence_entry(n: usize) -> (usize, usize, usize) {
    let base = HFENCE_OFFSET + n * HFENCE_ENTRY_SIZE;
    (base, base + XLEN_BYTES, base + 2 * XLEN_BYTES)
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

/// Config word bit positions (XLEN 64): pending [63], reserved [62:60],
/// type [59:56], reserved [55], order [54:48], VMID [29:16], ASID [15:0].
pub(crate) const HFENCE_CONFIG_PEND: usize = 1 << (64 - 1);
const HFENCE_TYPE_SHIFT: u32 = 64 - 1 - 3 - 4;
const HFENCE_TYPE_MASK: usize = (1 << 4) - 1;
const HFENCE_ORDER_SHIFT: u32 = HFENCE_TYPE_SHIFT - 1 - 7;
const HFENCE_ORDER_MASK: usize = (1 << 7) - 1;
/// Orders are encoded relative to 4 KiB pages.
pub(crate) const HFENCE_ORDER_BASE: usize = 12;
const HFENCE_ASID_BITS: u32 = 16;
const HFENCE_VMID_BITS: u32 = 14;
const HFENCE_VMID_SHIFT: u32 = HFENCE_ASID_BITS;
const HFENCE_ASID_MASK: usize = (1 << HFENCE_ASID_BITS) - 1;
const HFENCE_VMID_MASK: usize = (1 << HFENCE_VMID_BITS) - 1;

/// The config word of a pending HFENCE request.
pub(crate) const fn hfence_config(ty: HfenceType, order: usize, vmid: usize, asid: usize) -> usize {
    HFENCE_CONFIG_PEND
        | ((ty as usize & HFENCE_TYPE_MASK) << HFENCE_TYPE_SHIFT)
        | ((order.wrapping_sub(HFENCE_ORDER_BASE) & HFENCE_ORDER_MASK) << HFENCE_ORDER_SHIFT)
        | ((vmid & HFENCE_VMID_MASK) << HFENCE_VMID_SHIFT)
        | (asid & HFENCE_ASID_MASK)
}

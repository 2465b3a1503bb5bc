// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `mmu.rs` (upstream `mmu.c`): which mapping size a
//! G-stage fault may use, and the memslot checks. Only `core` is used:
//! host `cargo test` runs them.

/// 4 KiB.
pub(crate) const PAGE_SIZE: u64 = 1 << 12;
/// 2 MiB (`PMD_SIZE`).
pub(crate) const PMD_SIZE: u64 = 1 << 21;
/// 1 GiB (`PUD_SIZE`).
pub(crate) const PUD_SIZE: u64 = 1 << 30;

/// A memslot as the fault path sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Its first guest frame.
    pub(crate) base_gfn: u64,
    /// Its size in pages.
    pub(crate) npages: u64,
    /// Its userspace address.
    pub(crate) userspace_addr: u64,
}

/// Whether `hva` of `slot` may be mapped by a G-stage leaf of `map_size`
/// bytes (`fault_supports_gstage_huge_mapping()`): the slot's guest and
/// user addresses are equally aligned within such a leaf, and the leaf
/// around `hva` lies wholly inside the slot.
pub(crate) const fn supports_huge_mapping(slot: &Slot, hva: u64, map_size: u64) -> bool {
    let mask = map_size.wrapping_sub(1);
    let size = slot.npages.wrapping_mul(PAGE_SIZE);
    let uaddr_start = slot.userspace_addr;
    let uaddr_end = uaddr_start.wrapping_add(size);
    let gpa_start = slot.base_gfn.wrapping_shl(12);
    if gpa_start & mask != uaddr_start & mask {
        return false;
    }
    // ALIGN(uaddr_start, map_size) <= hva < ALIGN_DOWN(uaddr_end, map_size)
    let first = uaddr_start.wrapping_add(mask) & !mask;
    let last = uaddr_end & !mask;
    hva >= first && hva < last
}

/// The leaf size of a fault in a hugetlb VMA of `vma_size` pages
/// (`hugetlb_mapping_size()`): the largest of 1 GiB, 2 MiB and 4 KiB, at
/// most `vma_size`, that [`supports_huge_mapping`] allows; any other VMA
/// size as it is (the caller refuses it).
pub(crate) const fn hugetlb_mapping_size(slot: &Slot, hva: u64, vma_size: u64) -> u64 {
    if vma_size == PUD_SIZE && supports_huge_mapping(slot, hva, PUD_SIZE) {
        return PUD_SIZE;
    }
    if (vma_size == PUD_SIZE || vma_size == PMD_SIZE) && supports_huge_mapping(slot, hva, PMD_SIZE)
    {
        return PMD_SIZE;
    }
    match vma_size {
        PUD_SIZE | PMD_SIZE | PAGE_SIZE => PAGE_SIZE,
        other => other,
    }
}

/// A 2 MiB leaf for a THP fault (`transparent_hugepage_adjust()`): the
/// guest address and host frame rounded down to it.
pub(crate) const fn thp_adjust(gpa: u64, hfn: u64) -> (u64, u64) {
    (gpa & !(PMD_SIZE - 1), hfn & !((PMD_SIZE / PAGE_SIZE) - 1))
}

/// Whether a memslot of `npages` from `base_gfn` fits a G-stage of
/// `gpa_bits` address bits (`kvm_arch_prepare_memory_region()`: `EFAULT`
/// otherwise).
pub(crate) const fn slot_fits(base_gfn: u64, npages: u64, gpa_bits: u32) -> bool {
    let limit = 1u64.wrapping_shl(gpa_bits.wrapping_sub(12));
    base_gfn.wrapping_add(npages) <= limit
}

/// HGATP.VMID (bits 57..44, RV64).
const HGATP_VMID_MASK: u64 = ((1 << 14) - 1) << 44;
/// HGATP.PPN (bits 43..0, RV64).
const HGATP_PPN_MASK: u64 = (1 << 44) - 1;

/// The HGATP of a VM (`kvm_riscv_mmu_update_hgatp()`): G-stage `mode`, the
/// VMID (cut to the field), the root's PPN.
pub(crate) const fn hgatp(mode: u64, vmid: u64, pgd_phys: u64) -> u64 {
    (mode << 60) | ((vmid << 44) & HGATP_VMID_MASK) | ((pgd_phys >> 12) & HGATP_PPN_MASK)
}

/// The pages of the guest frames `mask` selects from `base_gfn`, as a
/// range of guest physical addresses: from the first set bit to the last
/// (`kvm_arch_mmu_enable_log_dirty_pt_masked()`). `mask` is not 0.
pub(crate) const fn masked_range(base_gfn: u64, mask: u64) -> (u64, u64) {
    // CAST: bit counts, below 65, widened.
    let first = mask.trailing_zeros() as u64;
    // CAST: as above.
    let last = 63 - mask.leading_zeros() as u64;
    (
        base_gfn.wrapping_add(first).wrapping_shl(12),
        base_gfn.wrapping_add(last).wrapping_add(1).wrapping_shl(12),
    )
}

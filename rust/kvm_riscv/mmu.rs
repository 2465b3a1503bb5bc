// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/mmu.c`: the G-stage MMU of a VM.
//!
//! The G-stage page fault (`kvm_riscv_mmu_map()`: the host page faulted
//! in, its size chosen from the memslot, hugetlb and THP, then mapped under
//! `mmu_lock` unless an invalidation ran meanwhile), the lockless-then-read-
//! locked dirty-log write fault, device mappings of the AIA (`ioremap`),
//! the memslot callbacks of the generic core (prepare, commit with dirty
//! logging, flush), the MMU notifier callbacks (unmap, age), the G-stage
//! root and HGATP.
//!
//! The `mmu_invalidate_seq` protocol is upstream's: the sequence is read
//! before the mmap lock is released (whose release orders it before the
//! fault-in), and rechecked under `mmu_lock` for writing before the
//! mapping is installed.

use crate::bindings as b;
use crate::ffi;
use crate::gstage::{self, GStage};
use crate::gstage_logic::{pte, MapError, Mapping};
use crate::handle::{HostLeaf, Memslot, MmuWriteLocked, SlotsLocked, VcpuCtx, Vm};
use crate::mmu_logic::{self as l, Slot, PAGE_SIZE, PMD_SIZE, PUD_SIZE};
use crate::pgtable::OwnedPageCache;
use crate::print::kvm_err;
use kernel::error::code::*;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// `KVM_MEM_LOG_DIRTY_PAGES`.
const LOG_DIRTY: u32 = b::KVM_MEM_LOG_DIRTY_PAGES;
/// `KVM_MEM_READONLY`.
const READONLY: u32 = b::KVM_MEM_READONLY;

/// A memslot as `mmu_logic` takes it.
fn slot_of(m: &Memslot) -> Slot {
    Slot {
        base_gfn: m.base_gfn(),
        npages: m.npages(),
        userspace_addr: m.userspace_addr(),
    }
}

/// The guest physical range of a memslot.
fn slot_range(m: &Memslot) -> (u64, u64) {
    let start = m.base_gfn() << PAGE_SHIFT;
    (start, start.wrapping_add(m.npages() << PAGE_SHIFT))
}

/// The page shift.
const PAGE_SHIFT: u32 = 12;

/// The levels of the VM's G-stage, as the walker and the caches count them.
fn levels(vm: &Vm) -> usize {
    vm.pgd_levels()
}

/// Write-protects a memslot (`mmu_wp_memory_region()`).
fn wp_memory_region(slots: &SlotsLocked<'_>, slot: &Memslot) {
    let vm = slots.vm();
    let (start, end) = slot_range(slot);
    let flush = {
        let locked = vm.mmu_write_lock();
        locked
            .gstage(None)
            .is_some_and(|mut g| gstage::wp_range(&mut g, start, end))
    };
    if flush {
        slots.flush_remote_tlbs_memslot(slot);
    }
}

/// Maps `size` bytes of device memory at `hpa` to `gpa`
/// (`kvm_riscv_mmu_ioremap()`), uncached, read-only unless `writable`;
/// `in_atomic`: table pages are allocated without sleeping.
pub(crate) fn ioremap(
    vm: &Vm,
    gpa: u64,
    hpa: u64,
    size: u64,
    writable: bool,
    in_atomic: bool,
) -> c_int {
    let mut cache = OwnedPageCache::new(in_atomic);
    let end = gpa.wrapping_add(size).wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let mut pfn = hpa >> PAGE_SHIFT;
    let mut addr = gpa;
    while addr < end {
        let levels = levels(vm);
        let mut c = cache.cache();
        if let Err(e) = c.topup_exact(levels) {
            return e.to_errno();
        }
        let locked = vm.mmu_write_lock();
        let r = match locked.gstage(Some(c)) {
            Some(mut g) => {
                let pte = crate::pgtable::format().io(pfn, writable);
                gstage::set_pte(
                    &mut g,
                    &Mapping {
                        addr,
                        pte,
                        level: 0,
                    },
                )
            }
            // Upstream walks a null root here; a VM without one has no
            // vCPU that could use the mapping.
            None => Err(MapError::Invalid),
        };
        drop(locked);
        if let Err(e) = r {
            return map_errno(e);
        }
        pfn = pfn.wrapping_add(1);
        addr = addr.wrapping_add(PAGE_SIZE);
    }
    0
}

/// The errno of a walker failure.
fn map_errno(e: MapError) -> c_int {
    match e {
        MapError::Invalid => EINVAL.to_errno(),
        MapError::Exists => EEXIST.to_errno(),
        MapError::NoMem => ENOMEM.to_errno(),
    }
}

/// Unmaps `size` bytes at `gpa` and flushes them from every vCPU's TLB
/// (`kvm_riscv_mmu_iounmap()`; a memslot's flush too).
pub(crate) fn iounmap(vm: &Vm, gpa: u64, size: u64) {
    let flush = {
        let locked = vm.mmu_write_lock();
        locked
            .gstage(None)
            .is_some_and(|mut g| gstage::unmap_range(&mut g, gpa, size, false))
    };
    if flush {
        vm.flush_remote_tlbs_range(gpa >> PAGE_SHIFT, size >> PAGE_SHIFT);
    }
}

/// Splits the huge leaves of `[start, end)` down to 4 KiB, with table pages
/// from the split cache, yielding `mmu_lock` to refill it
/// (`mmu_split_huge_pages()`): whether TLB entries must still be flushed.
fn split_huge_pages(
    slots: &mut SlotsLocked<'_>,
    locked: &mut crate::handle::MmuWriteGuard<'_>,
    start: u64,
    end: u64,
) -> bool {
    let vm = slots.vm();
    let mut addr = start & !(PMD_SIZE - 1);
    let mut last_flush_gfn = addr >> PAGE_SHIFT;
    let count = levels(vm);
    let mut flush = false;
    locked.assert_held();
    while addr < end {
        if locked.needbreak() || slots.split_cache().nr_free() < count {
            if flush {
                vm.flush_remote_tlbs_range(
                    last_flush_gfn,
                    (addr >> PAGE_SHIFT).wrapping_sub(last_flush_gfn),
                );
                last_flush_gfn = addr >> PAGE_SHIFT;
                flush = false;
            }
            let r = locked.unlocked(|| {
                ffi::cond_resched();
                slots.split_cache().topup(count)
            });
            if r.is_err() {
                kvm_err!("Failed to toup split page cache\n");
                return flush;
            }
        }
        let cache = slots.split_cache();
        let Some(mut g) = locked.gstage(Some(cache)) else {
            return flush;
        };
        flush |= gstage::split_huge(&mut g, addr, 0, false);
        addr = addr.wrapping_add(PMD_SIZE);
    }
    flush
}

/// Write-protects the pages `mask` selects from `gfn_offset` of `slot`,
/// and splits their huge leaves when userspace write-protects by hand
/// with `KVM_DIRTY_LOG_INITIALLY_SET` and `eager_page_split` is on
/// (`kvm_arch_mmu_enable_log_dirty_pt_masked()`). The caller flushes the
/// TLBs and holds `mmu_lock` for writing.
pub(crate) fn enable_log_dirty_pt_masked(
    slots: &mut SlotsLocked<'_>,
    locked: &mut crate::handle::MmuWriteGuard<'_>,
    slot: &Memslot,
    gfn_offset: u64,
    mask: u64,
) {
    let vm = slots.vm();
    let base_gfn = slot.base_gfn().wrapping_add(gfn_offset);
    if let Some(mut g) = locked.gstage(None) {
        gstage::wp_pt_masked(&mut g, base_gfn, mask);
    }
    if mask != 0 && vm.manual_protect_and_init_set() && ffi::eager_page_split() {
        let (start, end) = l::masked_range(base_gfn, mask);
        split_huge_pages(slots, locked, start, end);
    }
}

/// Frees the VM's G-stage: every mapping and table, then the root
/// (`kvm_riscv_mmu_free_pgd()`, `kvm_arch_flush_shadow_all()`). Unlike
/// upstream, the tables below the root are freed too (README, known
/// differences).
pub(crate) fn free_pgd(vm: &Vm) {
    let (flush, pgd) = {
        let locked = vm.mmu_write_lock();
        let flush = locked
            .gstage(None)
            .is_some_and(|mut g| gstage::free_all(&mut g));
        (flush, locked.take_pgd())
    };
    if flush {
        vm.flush_remote_tlbs();
    }
    // The root's pages go when it drops.
    drop(pgd);
}

/// Unmaps a memslot that goes away or moves (`kvm_arch_flush_shadow_memslot()`).
pub(crate) fn flush_shadow_memslot(vm: &Vm, slot: &Memslot) {
    let (gpa, end) = slot_range(slot);
    iounmap(vm, gpa, end.wrapping_sub(gpa));
}

/// What a memslot update does (`enum kvm_mr_change`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new memslot.
    Create,
    /// A memslot deleted.
    Delete,
    /// A memslot moved.
    Move,
    /// Only the flags changed.
    FlagsOnly,
}

/// After a memslot update: write-protect a memslot that logs dirty pages
/// (unless userspace protects by hand with `KVM_DIRTY_LOG_INITIALLY_SET`)
/// and split its huge leaves when `eager_page_split` is on
/// (`kvm_arch_commit_memory_region()`).
pub(crate) fn commit_memory_region(
    slots: &mut SlotsLocked<'_>,
    new: Option<&Memslot>,
    change: Change,
) {
    let Some(new) = new else {
        return;
    };
    if change == Change::Delete || new.flags() & LOG_DIRTY == 0 {
        return;
    }
    let vm = slots.vm();
    if vm.manual_protect_and_init_set() {
        return;
    }
    wp_memory_region(slots, new);
    if ffi::eager_page_split() {
        let (start, end) = slot_range(new);
        let flush = {
            let mut locked = vm.mmu_write_lock();
            split_huge_pages(slots, &mut locked, start, end)
        };
        if flush {
            slots.flush_remote_tlbs_memslot(new);
        }
    }
}

/// Before a memslot update: the memslot fits the VM's G-stage (`EFAULT`),
/// a writable one has no read-only VMA (`EPERM`), and one that logs dirty
/// pages has no `VM_PFNMAP` VMA (`EINVAL`)
/// (`kvm_arch_prepare_memory_region()`).
pub(crate) fn prepare_memory_region(vm: &Vm, new: &Memslot, change: Change) -> c_int {
    if !matches!(change, Change::Create | Change::Move | Change::FlagsOnly) {
        return 0;
    }
    let gpa_bits = gstage_shape(vm).gpa_bits();
    if !l::slot_fits(new.base_gfn(), new.npages(), gpa_bits) {
        return EFAULT.to_errno();
    }
    let mut hva = new.userspace_addr();
    let reg_end = hva.wrapping_add(new.npages() << PAGE_SHIFT);
    let writable = new.flags() & READONLY == 0;
    let logging = new.flags() & LOG_DIRTY != 0;
    ffi::with_current_mmap_read(|mm| {
        let Some(mm) = mm else {
            return 0;
        };
        // The memslot may cover several VMAs and holes between them.
        loop {
            let Some(vma) = mm.find_vma_intersection(hva, reg_end) else {
                return 0;
            };
            if writable && vma.flags() & VM_WRITE == 0 {
                return EPERM.to_errno();
            }
            if vma.flags() & VM_PFNMAP != 0 && logging {
                return EINVAL.to_errno();
            }
            hva = reg_end.min(vma.end());
            if hva >= reg_end {
                return 0;
            }
        }
    })
}

/// `VM_WRITE`.
const VM_WRITE: usize = kernel::mm::virt::flags::WRITE;
/// `VM_PFNMAP`.
const VM_PFNMAP: usize = kernel::mm::virt::flags::PFNMAP;

/// The shape of the VM's G-stage.
fn gstage_shape(vm: &Vm) -> crate::gstage_logic::Shape {
    crate::gstage_logic::Shape {
        // CAST: 3 to 5 levels.
        levels: levels(vm) as u32,
    }
}

/// The MMU notifier unmaps guest frames `[start, end)`
/// (`kvm_unmap_gfn_range()`): flushes what it unmapped; `false` (nothing
/// for the caller to flush).
pub(crate) fn unmap_gfn_range(
    locked: &MmuWriteLocked<'_>,
    start: u64,
    end: u64,
    may_block: bool,
) -> bool {
    let vm = locked.vm();
    let Some(mut g) = locked.gstage(None) else {
        return false;
    };
    locked.assert_held();
    let pages = end.wrapping_sub(start);
    let flush = gstage::unmap_range(&mut g, start << PAGE_SHIFT, pages << PAGE_SHIFT, may_block);
    if flush {
        vm.flush_remote_tlbs_range(start, pages);
    }
    false
}

/// The G-stage leaf that maps guest frame `start` of an aging range of
/// `end - start` frames, and the tables.
fn age_leaf<'g>(
    locked: &'g MmuWriteLocked<'_>,
    start: u64,
    end: u64,
) -> Option<(GStage<'g>, crate::gstage_logic::Ptep<crate::pgtable::Table>)> {
    let g = locked.gstage(None)?;
    let size = end.wrapping_sub(start) << PAGE_SHIFT;
    kernel::warn_on!(size != PAGE_SIZE && size != PMD_SIZE && size != PUD_SIZE);
    let (p, _) = gstage::get_leaf(&g, start << PAGE_SHIFT).ok()?;
    Some((g, p))
}

/// The MMU notifier ages guest frames `[start, end)` (`kvm_age_gfn()`):
/// whether the leaf was young, which it no longer is.
pub(crate) fn age_gfn(locked: &MmuWriteLocked<'_>, start: u64, end: u64) -> bool {
    age_leaf(locked, start, end).is_some_and(|(mut g, p)| g.test_and_clear_young(p))
}

/// Whether the leaf of guest frames `[start, end)` is young
/// (`kvm_test_age_gfn()`).
pub(crate) fn test_age_gfn(locked: &MmuWriteLocked<'_>, start: u64, end: u64) -> bool {
    age_leaf(locked, start, end).is_some_and(|(g, p)| g.pte(p) & pte::ACCESSED != 0)
}

/// The size of the host mapping of `hva`.
fn host_mapping_size(vm: &Vm, hva: u64) -> u64 {
    match vm.host_leaf(hva) {
        HostLeaf::Page => PAGE_SIZE,
        HostLeaf::Pmd => PMD_SIZE,
        HostLeaf::Pud => PUD_SIZE,
    }
}

/// A 2 MiB leaf for a fault of a THP-backed page, when the memslot allows
/// one (`transparent_hugepage_adjust()`): the size, and the guest address
/// and host frame rounded to it.
fn thp_adjust(vm: &Vm, slot: &Slot, hva: u64, hfn: u64, gpa: u64) -> (u64, u64, u64) {
    if !l::supports_huge_mapping(slot, hva, PMD_SIZE) {
        return (PAGE_SIZE, hfn, gpa);
    }
    let sz = host_mapping_size(vm, hva);
    if sz < PMD_SIZE {
        return (sz, hfn, gpa);
    }
    let (gpa, hfn) = l::thp_adjust(gpa, hfn);
    (PMD_SIZE, hfn, gpa)
}

/// The dirty-log write fault without the fault-in: under `mmu_lock` for
/// reading, makes the 4 KiB leaf of `gpa` writable and dirty by
/// compare-exchange, after marking the page dirty
/// (`kvm_riscv_mmu_dirty_log_write_fault_fast()`): whether it did.
fn dirty_log_write_fault_fast(vm: &Vm, slot: &Memslot, gpa: u64) -> bool {
    let gfn = gpa >> PAGE_SHIFT;
    let seq = vm.mmu_invalidate_seq();
    let locked = vm.mmu_read_lock();
    if locked.invalidate_retry_gfn(seq, gfn) {
        return false;
    }
    let Some(mut g) = locked.gstage() else {
        return false;
    };
    let Ok((p, 0)) = gstage::get_leaf(&g, gpa) else {
        return false;
    };
    let fmt = *crate::pgtable::format();
    let mut marked = false;
    loop {
        let old = g.pte(p);
        // Only a leaf whose host page is writable, which dirty logging
        // write-protected. Upstream makes any leaf writable here, the
        // read-only mapping of the host's zero page included (README,
        // known differences).
        if old & pte::LEAF == 0 || old & pte::HOST_WRITABLE == 0 {
            return false;
        }
        if !marked {
            vm.mark_page_dirty_in_slot(slot, gfn);
            marked = true;
        }
        if old & (pte::WRITE | pte::DIRTY) == pte::WRITE | pte::DIRTY {
            return true;
        }
        let new = old | pte::WRITE | fmt.dirty;
        if gstage::try_update(&mut g, 0, gpa, p, old, new) {
            return true;
        }
        core::hint::spin_loop();
    }
}

/// Maps the page of `gpa`, at `hva` of `slot`, into the G-stage for a
/// guest fault (`kvm_riscv_mmu_map()`): 0 or a negative errno. Out of
/// line: inlined into the run loop (through the exit handler) it costs
/// every exit a few instructions of register saves (`make bench`).
#[inline(never)]
pub(crate) fn map(
    cx: &mut VcpuCtx<'_>,
    slot: &Memslot,
    gpa: u64,
    hva: u64,
    is_write: bool,
) -> c_int {
    let vm = cx.vcpu().vm();
    let logging = slot.flags() & LOG_DIRTY != 0 && slot.flags() & READONLY == 0;
    if is_write && logging && dirty_log_write_fault_fast(vm, slot, gpa) {
        return 0;
    }
    let mut cache = cx.mmu_page_cache();
    // The tables of every level below the root.
    if let Err(e) = cache.topup(levels(vm)) {
        kvm_err!("Failed to topup G-stage cache\n");
        return e.to_errno();
    }
    let sl = slot_of(slot);
    let looked_up = ffi::with_current_mmap_read(|mm| {
        let vma = mm.and_then(|mm| mm.vma_lookup(hva))?;
        let hugetlb = vma.hugetlb_shift();
        let shift = hugetlb.unwrap_or(PAGE_SHIFT);
        let mut size = 1u64.wrapping_shl(shift);
        if logging || vma.flags() & VM_PFNMAP != 0 {
            size = PAGE_SIZE;
        } else if hugetlb.is_some() {
            size = l::hugetlb_mapping_size(&sl, hva, size);
        }
        // Read before the mmap lock goes: its release orders this read
        // before the fault-in (pairs with `kvm_mmu_invalidate_end()`).
        let seq = vm.mmu_invalidate_seq();
        Some((hugetlb.is_some(), shift, size, seq))
    });
    let Some((is_hugetlb, shift, mut size, seq)) = looked_up else {
        kvm_err!("Failed to find VMA for hva {:#x}\n", hva);
        return EFAULT.to_errno();
    };
    let mut gfn = gpa >> PAGE_SHIFT;
    if size == PMD_SIZE || size == PUD_SIZE {
        gfn = (gpa & !(size - 1)) >> PAGE_SHIFT;
    }
    if size != PUD_SIZE && size != PMD_SIZE && size != PAGE_SIZE {
        kvm_err!("Invalid VMA page size {:#x}\n", size);
        return EFAULT.to_errno();
    }
    let (mut hfn, host_writable, page) = slot.faultin_pfn(gfn, is_write);
    let mut writable = host_writable;
    if hfn == b::KVM_PFN_ERR_HWPOISON {
        ffi::send_sig_mceerr_ar(hva, shift);
        return 0;
    }
    if hfn == b::KVM_PFN_ERR_SIGPENDING {
        return EINTR.to_errno();
    }
    // `is_error_noslot_pfn()`.
    // CAST: the mask's bits, as the C macro spells them (a u64).
    if hfn & (b::KVM_PFN_ERR_NOSLOT_MASK as u64) != 0 {
        return EFAULT.to_errno();
    }
    // Logging maps writable only for write faults.
    if logging && !is_write {
        writable = false;
    }
    let locked = vm.mmu_write_lock();
    if locked.invalidate_retry(seq) {
        page.release(&locked, true, writable);
        return 0;
    }
    let mut gpa = gpa;
    // A THP may give a 2 MiB leaf; hugetlb chose its size above.
    if !logging && !is_hugetlb && size == PAGE_SIZE {
        (size, hfn, gpa) = thp_adjust(vm, &sl, hva, hfn, gpa);
    }
    if writable {
        vm.mark_page_dirty_in_slot(slot, gfn);
    }
    let r = match locked.gstage(Some(cache)) {
        Some(mut g) => {
            let soft = if host_writable { pte::HOST_WRITABLE } else { 0 };
            let hpa = hfn << PAGE_SHIFT;
            gstage::map_page(&mut g, gpa, hpa, size, !writable, true, soft).1
        }
        None => Err(MapError::Invalid),
    };
    let ret = r.err().map_or(0, map_errno);
    if ret != 0 {
        kvm_err!("Failed to map in G-stage\n");
    }
    page.release(&locked, ret != 0 && ret != EEXIST.to_errno(), writable);
    drop(locked);
    ret
}

/// Gives a new VM its G-stage root, of the most levels the hardware has
/// (`kvm_riscv_mmu_alloc_pgd()`).
pub(crate) fn alloc_pgd(vm: &Vm) -> Result {
    if vm.has_pgd() {
        kvm_err!("kvm_arch already initialized?\n");
        return Err(EINVAL);
    }
    let root = crate::pgtable::Root::alloc().ok_or(ENOMEM)?;
    vm.set_pgd(root, gstage::max_pgd_levels());
    Ok(())
}

/// Points HGATP at the VM's G-stage, with its VMID
/// (`kvm_riscv_mmu_update_hgatp()`); flushes this hart's G-stage TLB when
/// there are no VMIDs. Out of line and cold, like the other request
/// handlers: inlined into the run loop it costs every exit a few
/// instructions of register saves (`make bench`).
#[cold]
#[inline(never)]
pub(crate) fn update_hgatp(cx: &mut VcpuCtx<'_>) {
    let vm = cx.vcpu().vm();
    // CAST: a mode of 4 bits; a VMID, a usize as wide as u64.
    let mode = crate::gstage_logic::hgatp_mode(levels(vm)) as u64;
    let hgatp = l::hgatp(mode, vm.vmid() as u64, vm.pgd_phys());
    // CAST: the 64-bit host's CSR width.
    crate::nacl::ncsr_write(crate::csr::HGATP, hgatp as usize);
    if crate::vmid::bits() == 0 {
        crate::tlb::local_hfence_gvma_all();
    }
}

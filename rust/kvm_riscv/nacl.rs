// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/nacl.c` and of the accessors in `asm/kvm_nacl.h`:
//! SBI nested acceleration (NACL).
//!
//! When KVM itself runs as a guest hypervisor, the SBI implementation below
//! may offer a per-CPU shared memory through which H-level CSRs are read and
//! written, HFENCEs queued and `sret` performed, saving traps. Five static
//! keys say what it offers; all are false until [`init`] finds NACL. Without
//! NACL every accessor here costs one patched-out branch.
//!
//! The keys and the per-CPU state keep their C names. Those the C objects
//! of the module that are not ported yet use (`kvm_riscv_nacl_available`,
//! `kvm_riscv_nacl_sync_csr_available`, the per-CPU `kvm_riscv_nacl`, in
//! `tlb.c`, `mmu.c`, `gstage.c`, `vmid.c`) are exported under those names;
//! the other keys only Rust reads.

use crate::bindings as b;
use crate::csr::Csr;
use crate::nacl_logic::{self as layout, HfenceType};
use crate::percpu::PerCpu;
use crate::regs_logic::{u64_to_xlen, xlen_to_u64};
use crate::sbi;
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use core::ptr::NonNull;
use kernel::error::{code::*, Error};
use kernel::num::casts::{u32_as_usize, FromSafeCast};
use kernel::prelude::*;
use kernel::sync::barrier::{smp_mb, Write};

#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl_available: StaticKeyFalse = StaticKeyFalse::new();
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl_sync_csr_available: StaticKeyFalse = StaticKeyFalse::new();
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl_sync_hfence_available: StaticKeyFalse = StaticKeyFalse::new();
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl_sync_sret_available: StaticKeyFalse = StaticKeyFalse::new();
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl_autoswap_csr_available: StaticKeyFalse = StaticKeyFalse::new();

/// This CPU's shared memory (C's `struct kvm_riscv_nacl`, per CPU).
#[link_section = ".data..percpu"]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_nacl: PerCpu<b::kvm_riscv_nacl> = PerCpu::new(b::kvm_riscv_nacl {
    shmem: core::ptr::null_mut(),
    shmem_phys: 0,
});

// The layout computed in `nacl_logic` must be the one of `asm/sbi.h` (the
// sizes that depend on `__riscv_xlen` are checked by the host unit tests).
const _: () = {
    assert!(layout::CSR_OFFSET == u32_as_usize(b::SBI_NACL_SHMEM_CSR_OFFSET));
    assert!(layout::DBITMAP_OFFSET == u32_as_usize(b::SBI_NACL_SHMEM_DBITMAP_OFFSET));
    assert!(layout::HFENCE_OFFSET == u32_as_usize(b::SBI_NACL_SHMEM_HFENCE_OFFSET));
    assert!(layout::AUTOSWAP_OFFSET == u32_as_usize(b::SBI_NACL_SHMEM_AUTOSWAP_OFFSET));
    assert!(layout::SRET_OFFSET == u32_as_usize(b::SBI_NACL_SHMEM_SRET_OFFSET));
    assert!(layout::HFENCE_SIZE == u32_as_usize(b::SBI_NACL_SHMEM_HFENCE_SIZE));
    assert!(layout::SCRATCH_SIZE == u32_as_usize(b::SBI_NACL_SHMEM_SCRATCH_SIZE));
};

const EXT_NACL: u32 = b::sbi_ext_id_SBI_EXT_NACL;
const NACL_PROBE_FEATURE: u32 = b::sbi_ext_nacl_fid_SBI_EXT_NACL_PROBE_FEATURE;
const NACL_SET_SHMEM: u32 = b::sbi_ext_nacl_fid_SBI_EXT_NACL_SET_SHMEM;
const NACL_SYNC_CSR: u32 = b::sbi_ext_nacl_fid_SBI_EXT_NACL_SYNC_CSR;
const NACL_SYNC_HFENCE: u32 = b::sbi_ext_nacl_fid_SBI_EXT_NACL_SYNC_HFENCE;
const FEAT_SYNC_CSR: u32 = b::sbi_ext_nacl_feature_SBI_NACL_FEAT_SYNC_CSR;
const FEAT_SYNC_HFENCE: u32 = b::sbi_ext_nacl_feature_SBI_NACL_FEAT_SYNC_HFENCE;
const FEAT_SYNC_SRET: u32 = b::sbi_ext_nacl_feature_SBI_NACL_FEAT_SYNC_SRET;
const FEAT_AUTOSWAP_CSR: u32 = b::sbi_ext_nacl_feature_SBI_NACL_FEAT_AUTOSWAP_CSR;

/// NACL is there (`kvm_riscv_nacl_available()`).
#[inline(always)]
pub(crate) fn available() -> bool {
    static_branch_unlikely!(kvm_riscv_nacl_available)
}
/// CSRs may be synchronised through the shared memory.
#[inline(always)]
pub(crate) fn sync_csr_available() -> bool {
    static_branch_unlikely!(kvm_riscv_nacl_sync_csr_available)
}
/// HFENCEs may be queued in the shared memory.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn sync_hfence_available() -> bool {
    static_branch_unlikely!(kvm_riscv_nacl_sync_hfence_available)
}
/// The guest may be entered with the `SYNC_SRET` call.
#[inline(always)]
pub(crate) fn sync_sret_available() -> bool {
    static_branch_unlikely!(kvm_riscv_nacl_sync_sret_available)
}
/// The SBI implementation swaps HSTATUS around `SYNC_SRET`.
#[inline(always)]
pub(crate) fn autoswap_csr_available() -> bool {
    static_branch_unlikely!(kvm_riscv_nacl_autoswap_csr_available)
}

/// This CPU's shared memory, when NACL is available.
#[inline(always)]
pub(crate) fn shmem() -> Option<Shmem> {
    if available() {
        Shmem::this_cpu()
    } else {
        None
    }
}

/// This CPU's shared memory, when CSRs may be synchronised through it.
#[inline(always)]
pub(crate) fn sync_csr_shmem() -> Option<Shmem> {
    if sync_csr_available() {
        Shmem::this_cpu()
    } else {
        None
    }
}

/// This CPU's shared memory, when the guest may be entered through it.
#[inline(always)]
pub(crate) fn sync_sret_shmem() -> Option<Shmem> {
    if sync_sret_available() {
        Shmem::this_cpu()
    } else {
        None
    }
}

/// A CPU's NACL shared memory: `layout::SHMEM_SIZE` bytes, little endian
/// XLEN words, shared with the SBI implementation.
///
/// # Invariants
/// Points to a live shared memory of `layout::SHMEM_SIZE` bytes. Shared
/// memories live from [`init`] until [`exit`], while the module is loaded.
#[derive(Clone, Copy)]
pub(crate) struct Shmem(NonNull<u8>);

impl Shmem {
    /// The current CPU's shared memory (`nacl_shmem()`), if it has one.
    /// Callers have preemption off (or the memory is another CPU's, which
    /// is as live).
    #[inline(always)]
    fn this_cpu() -> Option<Shmem> {
        // SAFETY: this CPU's copy of the per-CPU variable; `init` writes it
        // before any key that leads here is enabled, `exit` after the last
        // user is gone.
        let p = unsafe { (*kvm_riscv_nacl.this_cpu_ptr()).shmem };
        // INVARIANT: a non-null slot is a live shared memory.
        NonNull::new(p.cast()).map(Shmem)
    }

    #[inline(always)]
    fn word(self, off: usize) -> *mut u64 {
        debug_assert!(off + 8 <= layout::SHMEM_SIZE && off % 8 == 0);
        self.0.as_ptr().wrapping_add(off).cast()
    }

    /// Reads the XLEN word at byte offset `off`.
    #[inline(always)]
    pub(crate) fn read_long(self, off: usize) -> usize {
        // SAFETY: in bounds and aligned (callers use layout offsets); the
        // memory is live per the type invariant.
        u64_to_xlen(u64::from_le(unsafe { self.word(off).read_volatile() }))
    }

    /// Writes the XLEN word at byte offset `off`.
    #[inline(always)]
    pub(crate) fn write_long(self, off: usize, val: usize) {
        // SAFETY: as in `read_long`.
        unsafe { self.word(off).write_volatile(xlen_to_u64(val).to_le()) }
    }

    /// Reads a word of the scratch area (`nacl_scratch_read_long()`).
    #[inline(always)]
    pub(crate) fn scratch_read(self, off: usize) -> usize {
        self.read_long(layout::SCRATCH_OFFSET + off)
    }

    /// Writes a word of the scratch area (`nacl_scratch_write_long()`).
    #[inline(always)]
    pub(crate) fn scratch_write(self, off: usize, val: usize) {
        self.write_long(layout::SCRATCH_OFFSET + off, val)
    }

    /// Writes consecutive words of the scratch area (`nacl_scratch_write_longs()`).
    #[inline(always)]
    pub(crate) fn scratch_write_all(self, off: usize, vals: &[usize]) {
        for (i, v) in vals.iter().enumerate() {
            self.scratch_write(off + i * layout::XLEN_BYTES, *v);
        }
    }

    fn mark_dirty(self, csr: u16) {
        let (off, bit) = layout::csr_dirty_bit(csr);
        let p = self.0.as_ptr().wrapping_add(off);
        // SAFETY: the dirty bitmap is inside the memory.
        unsafe { p.write_volatile(p.read_volatile() | bit) }
    }

    /// Reads CSR `N`'s slot (`nacl_csr_read()`).
    #[inline(always)]
    pub(crate) fn csr_read<const N: u16>(self, _csr: Csr<N>) -> usize {
        self.read_long(layout::csr_offset(N))
    }

    /// Writes CSR `N`'s slot and marks it dirty (`nacl_csr_write()`).
    #[inline(always)]
    pub(crate) fn csr_write<const N: u16>(self, _csr: Csr<N>, val: usize) {
        self.write_long(layout::csr_offset(N), val);
        self.mark_dirty(N);
    }

    /// Swaps CSR `N`'s slot with `val` (`nacl_csr_swap()`).
    #[inline(always)]
    pub(crate) fn csr_swap<const N: u16>(self, csr: Csr<N>, val: usize) -> usize {
        let old = self.csr_read(csr);
        self.csr_write(csr, val);
        old
    }

    /// Sets the bits of `mask` in CSR `N`'s slot.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn csr_set<const N: u16>(self, csr: Csr<N>, mask: usize) {
        let v = self.csr_read(csr);
        self.csr_write(csr, v | mask);
    }

    /// Clears the bits of `mask` in CSR `N`'s slot.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn csr_clear<const N: u16>(self, csr: Csr<N>, mask: usize) {
        let v = self.csr_read(csr);
        self.csr_write(csr, v & !mask);
    }

    /// Queues an HFENCE request (`__kvm_riscv_nacl_hfence()`).
    pub(crate) fn hfence(self, control: usize, page_num: usize, page_count: usize) {
        let mut tries = 5;
        let entry = loop {
            let free = (0..layout::HFENCE_ENTRY_MAX).find(|&i| {
                self.read_long(layout::hfence_entry(i).config) & layout::HFENCE_CONFIG_PEND == 0
            });
            match free {
                Some(i) => break i,
                None if tries > 0 => {
                    tries -= 1;
                    // Let the SBI implementation process every pending entry.
                    let _ = sbi::ecall(EXT_NACL, NACL_SYNC_HFENCE, [usize::MAX, 0, 0, 0, 0, 0]);
                }
                None => {
                    pr_warn!("KVM: No free entry in NACL shared memory\n");
                    return;
                }
            }
        };
        let e = layout::hfence_entry(entry);
        let [pnum, reserved, pcount, config] =
            layout::hfence_entry_words(control, page_num, page_count);
        // The page words must be visible before the config word with its
        // pending bit (SBI v3.0, 15.1.2).
        self.write_long(e.page_number, pnum);
        self.write_long(e.reserved, reserved);
        self.write_long(e.page_count, pcount);
        smp_mb(Write);
        self.write_long(e.config, config);
    }

    /// `nacl_hfence_gvma_vmid_all()`: flush a VMID's G-stage mappings.
    pub(crate) fn hfence_gvma_vmid_all(self, vmid: usize) {
        self.hfence(
            layout::hfence_config(HfenceType::GvmaVmidAll, 0, vmid, 0),
            0,
            0,
        )
    }

    /// `nacl_hfence_gvma_all()`: flush every G-stage mapping.
    #[allow(dead_code)]
    pub(crate) fn hfence_gvma_all(self) {
        self.hfence(layout::hfence_config(HfenceType::GvmaAll, 0, 0, 0), 0, 0)
    }

    /// `nacl_hfence_vvma_all()`: flush a VMID's VS-stage mappings.
    pub(crate) fn hfence_vvma_all(self, vmid: usize) {
        self.hfence(layout::hfence_config(HfenceType::VvmaAll, 0, vmid, 0), 0, 0)
    }

    /// A ranged request: `size` bytes at `addr`, as page number and count
    /// in pages of 2^`order` bytes (`nacl_hfence_mkpnum()`,
    /// `nacl_hfence_mkpcount()`).
    fn hfence_range(
        self,
        ty: HfenceType,
        vmid: usize,
        asid: usize,
        addr: u64,
        size: u64,
        order: usize,
    ) {
        let pages = |v: u64| {
            u64_to_xlen(
                u32::try_from(order)
                    .ok()
                    .and_then(|o| v.checked_shr(o))
                    .unwrap_or(0),
            )
        };
        self.hfence(
            layout::hfence_config(ty, order, vmid, asid),
            pages(addr),
            pages(size),
        )
    }

    /// `nacl_hfence_gvma_vmid()`: a VMID's G-stage mappings of a range.
    pub(crate) fn hfence_gvma_vmid(self, vmid: usize, gpa: u64, gpsz: u64, order: usize) {
        self.hfence_range(HfenceType::GvmaVmid, vmid, 0, gpa, gpsz, order)
    }

    /// `nacl_hfence_vvma()`: a VMID's VS-stage mappings of a range.
    pub(crate) fn hfence_vvma(self, vmid: usize, gva: u64, gvsz: u64, order: usize) {
        self.hfence_range(HfenceType::Vvma, vmid, 0, gva, gvsz, order)
    }

    /// `nacl_hfence_vvma_asid()`: an ASID's VS-stage mappings of a range.
    pub(crate) fn hfence_vvma_asid(
        self,
        vmid: usize,
        asid: usize,
        gva: u64,
        gvsz: u64,
        order: usize,
    ) {
        self.hfence_range(HfenceType::VvmaAsid, vmid, asid, gva, gvsz, order)
    }

    /// `nacl_hfence_vvma_asid_all()`: an ASID's VS-stage mappings.
    pub(crate) fn hfence_vvma_asid_all(self, vmid: usize, asid: usize) {
        self.hfence(
            layout::hfence_config(HfenceType::VvmaAsidAll, 0, vmid, asid),
            0,
            0,
        )
    }
}

/// Asks the SBI implementation to apply CSR `N`'s slot (`nacl_sync_csr()`).
#[inline]
#[allow(dead_code)]
pub(crate) fn sync_csr<const N: u16>(_csr: Csr<N>) {
    let _ = sbi::ecall(EXT_NACL, NACL_SYNC_CSR, [usize::from(N), 0, 0, 0, 0, 0]);
}

/// Reads an H-level CSR: from the shared memory when NACL is there.
#[inline(always)]
pub(crate) fn ncsr_read<const N: u16>(csr: Csr<N>) -> usize {
    if let Some(nsh) = shmem() {
        nsh.csr_read(csr)
    } else {
        csr.read()
    }
}

/// Writes an H-level CSR: through the shared memory with `sync_csr`.
#[inline(always)]
pub(crate) fn ncsr_write<const N: u16>(csr: Csr<N>, val: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        nsh.csr_write(csr, val)
    } else {
        csr.write(val)
    }
}

/// Swaps an H-level CSR: through the shared memory with `sync_csr`.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn ncsr_swap<const N: u16>(csr: Csr<N>, val: usize) -> usize {
    if let Some(nsh) = sync_csr_shmem() {
        nsh.csr_swap(csr, val)
    } else {
        csr.swap(val)
    }
}

/// Sets bits of an H-level CSR: through the shared memory with `sync_csr`.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn ncsr_set<const N: u16>(csr: Csr<N>, mask: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        nsh.csr_set(csr, mask)
    } else {
        csr.set(mask)
    }
}

/// Clears bits of an H-level CSR: through the shared memory with `sync_csr`.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn ncsr_clear<const N: u16>(csr: Csr<N>, mask: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        nsh.csr_clear(csr, mask)
    } else {
        csr.clear(mask)
    }
}

/// Makes the SBI implementation apply a CSR written through shared memory.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn nsync_csr<const N: u16>(csr: Csr<N>) {
    if sync_csr_available() {
        sync_csr(csr)
    }
}

/// Host-context access to an H-level CSR that must take effect (or be read)
/// at once, not at the next guest entry: through the shared memory and an
/// SBI sync when NACL can sync CSRs, else the CSR itself, as upstream does
/// for these accesses (AIA enable/disable, the HGEI interrupt).
#[inline(always)]
pub(crate) fn ncsr_read_now<const N: u16>(csr: Csr<N>) -> usize {
    if let Some(nsh) = sync_csr_shmem() {
        sync_csr(csr);
        nsh.csr_read(csr)
    } else {
        csr.read()
    }
}

/// See [`ncsr_read_now`].
#[inline(always)]
pub(crate) fn ncsr_write_now<const N: u16>(csr: Csr<N>, val: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        nsh.csr_write(csr, val);
        sync_csr(csr);
    } else {
        csr.write(val)
    }
}

/// See [`ncsr_read_now`].
#[inline(always)]
pub(crate) fn ncsr_set_now<const N: u16>(csr: Csr<N>, mask: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        sync_csr(csr);
        nsh.csr_set(csr, mask);
        sync_csr(csr);
    } else {
        csr.set(mask)
    }
}

/// See [`ncsr_read_now`].
#[inline(always)]
pub(crate) fn ncsr_clear_now<const N: u16>(csr: Csr<N>, mask: usize) {
    if let Some(nsh) = sync_csr_shmem() {
        sync_csr(csr);
        nsh.csr_clear(csr, mask);
        sync_csr(csr);
    } else {
        csr.clear(mask)
    }
}

fn probe_feature(feature: u32) -> bool {
    available()
        && matches!(sbi::ecall(EXT_NACL, NACL_PROBE_FEATURE,
                               [usize::from_safe_cast(feature), 0, 0, 0, 0, 0]), Ok(v) if v != 0)
}

fn shmem_order() -> u32 {
    (layout::SHMEM_SIZE.div_ceil(b::PAGE_SIZE))
        .next_power_of_two()
        .trailing_zeros()
}

/// Finds NACL, turns on its keys and gives every CPU a shared memory
/// (`kvm_riscv_nacl_init()`). `ENODEV` when there is no NACL.
pub(crate) fn init() -> Result {
    if sbi::spec_version() < (1, 0) || !sbi::probe_extension(EXT_NACL) {
        return Err(ENODEV);
    }
    kvm_riscv_nacl_available.enable();
    let features = [
        (FEAT_SYNC_CSR, &kvm_riscv_nacl_sync_csr_available),
        (FEAT_SYNC_HFENCE, &kvm_riscv_nacl_sync_hfence_available),
        (FEAT_SYNC_SRET, &kvm_riscv_nacl_sync_sret_available),
        (FEAT_AUTOSWAP_CSR, &kvm_riscv_nacl_autoswap_csr_available),
    ];
    for (feature, key) in features {
        if probe_feature(feature) {
            key.enable();
        }
    }
    for cpu in possible_cpus() {
        // SAFETY: allocates pages; checked for failure below.
        let page = unsafe { b::alloc_pages(b::GFP_KERNEL | b::__GFP_ZERO, shmem_order()) };
        if page.is_null() {
            exit();
            return Err(ENOMEM);
        }
        // SAFETY: `cpu` is a possible CPU; nothing uses its slot yet.
        unsafe {
            let slot = &mut *kvm_riscv_nacl.ptr(cpu);
            slot.shmem = b::kvm_riscv_rs_page_to_virt(page);
            slot.shmem_phys = b::kvm_riscv_rs_page_to_phys(page);
        }
    }
    Ok(())
}

/// Frees every CPU's shared memory (`kvm_riscv_nacl_exit()`).
pub(crate) fn exit() {
    if !available() {
        return;
    }
    for cpu in possible_cpus() {
        // SAFETY: `cpu` is a possible CPU; virtualization is off everywhere.
        unsafe {
            let slot = &mut *kvm_riscv_nacl.ptr(cpu);
            if slot.shmem.is_null() {
                continue;
            }
            b::free_pages(slot.shmem.expose_provenance(), shmem_order());
            slot.shmem = core::ptr::null_mut();
            slot.shmem_phys = 0;
        }
    }
}

/// Hands this CPU's shared memory to the SBI implementation (`kvm_riscv_nacl_enable()`).
pub(crate) fn enable() -> Result {
    if !available() {
        return Ok(());
    }
    // SAFETY: this CPU's slot, preemption off (CPU enable path).
    let phys = u64_to_xlen(unsafe { (*kvm_riscv_nacl.this_cpu_ptr()).shmem_phys });
    sbi::ecall(EXT_NACL, NACL_SET_SHMEM, [phys, 0, 0, 0, 0, 0])
        .map(|_| ())
        .map_err(|e| Error::from_errno(e.to_errno()))
}

/// Takes this CPU's shared memory back (`kvm_riscv_nacl_disable()`).
pub(crate) fn disable() {
    if !available() {
        return;
    }
    let off = usize::MAX; // SBI_SHMEM_DISABLE
    let _ = sbi::ecall(EXT_NACL, NACL_SET_SHMEM, [off, off, 0, 0, 0, 0]);
}

/// Every possible CPU (`for_each_possible_cpu`).
pub(crate) fn possible_cpus() -> impl Iterator<Item = kernel::cpu::CpuId> {
    // SAFETY: the possible mask is a static that is fixed after boot.
    let mask = unsafe { kernel::cpumask::Cpumask::from_raw(&raw const b::__cpu_possible_mask) };
    (0..kernel::cpu::nr_cpu_ids())
        .filter_map(kernel::cpu::CpuId::from_u32)
        .filter(move |c| mask.test(*c))
}

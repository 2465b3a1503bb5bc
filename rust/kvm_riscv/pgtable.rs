// SPDX-License-Identifier: GPL-2.0

//! The memory of the G-stage page tables: table pages, their PTEs, the page
//! cache new tables come from. A boundary module, like the NACL shared
//! memory: the walker (`gstage_logic`) reaches table memory only through
//! [`Tables`].
//!
//! A [`Table`] can only be made here: from a VM's root table (its creator's
//! promise) or from a non-leaf PTE read out of a table, which only the
//! walker writes, with the address of a table page it took from a cache.
//! Hardware changes only the A and D bits of leaves. Every PTE access is
//! single-copy atomic: `READ_ONCE()`, `WRITE_ONCE()` and a fully ordered
//! `cmpxchg()`, as upstream, because hardware and the vCPUs holding
//! `mmu_lock` for reading update PTEs concurrently.

use crate::bindings as b;
use crate::gstage_logic::{pte_pfn, PteFormat, PGD_XBITS, PTRS_PER_TABLE};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::sync::SetOnce;

/// A table page, by its linear-map address.
///
/// # Invariants
/// `ptr` is the address of a live table page of `len` 8-byte entries that
/// belongs to the tables being walked, and stays so while they are (the
/// caller of [`Tables::new`] holds what keeps them: `mmu_lock`, or owning
/// a VM being created or destroyed).
#[derive(Clone, Copy)]
pub(crate) struct Table {
    ptr: NonNull<u64>,
    len: usize,
}

impl Table {
    /// Entry `i`, if the table has it.
    fn entry(&self, i: usize) -> Option<&AtomicU64> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i` is in the live table (the invariant); an entry is a
        // naturally aligned u64, which `AtomicU64` may access.
        Some(unsafe { AtomicU64::from_ptr(self.ptr.as_ptr().add(i)) })
    }

    /// The one-entry table of the PTE at `ptep`, which a C caller got from
    /// [`Table::entry_ptr`] of a walk of the same tables.
    ///
    /// # Safety
    /// `ptep` is a PTE of tables the caller keeps alive as [`Tables::new`]
    /// requires, for as long as the result is used.
    pub(crate) unsafe fn of_entry(ptep: *mut u64) -> Option<Table> {
        // INVARIANT: one live entry (the caller's promise).
        Some(Table {
            ptr: NonNull::new(ptep)?,
            len: 1,
        })
    }

    /// The C address of entry `i` (`pte_t *`), for the C callers.
    pub(crate) fn entry_ptr(&self, i: usize) -> *mut u64 {
        self.ptr.as_ptr().wrapping_add(i)
    }
}

/// The host's PTE spelling, read once at module init ([`init_format`]).
static FORMAT: SetOnce<PteFormat> = SetOnce::new();

/// Reads the host's PTE spelling (errata and extension alternatives of
/// `pfn_pte()` and `pte_mkdirty()`), once, at module init.
pub(crate) fn init_format(svvptc: bool) {
    let mut v = [0 as kernel::ffi::c_ulong; 7];
    // SAFETY: the helper writes the 7 words of the array, nothing else.
    unsafe { b::kvm_riscv_rs_gstage_pte_format(v.as_mut_ptr()) };
    let u = |x: kernel::ffi::c_ulong| crate::regs_logic::xlen_to_u64(x);
    FORMAT.populate(PteFormat {
        table: u(v[0]),
        none: u(v[1]),
        prot: [u(v[2]), u(v[3]), u(v[4]), u(v[5])],
        dirty: u(v[6]),
        svvptc,
    });
}

/// The host's PTE spelling ([`init_format`]; the specification's before).
pub(crate) fn format() -> &'static PteFormat {
    FORMAT.as_ref().unwrap_or(&PteFormat::SPEC)
}

/// `kernel_map.va_pa_offset`: linear-map address minus physical address.
fn va_pa_offset() -> usize {
    // SAFETY: set at boot, read only since.
    unsafe { kernel::bindings::kernel_map.va_pa_offset }
}

/// The memory of one G-stage page table, and the page cache of the walk.
pub(crate) struct Tables {
    root: Table,
    cache: Option<NonNull<b::kvm_mmu_memory_cache>>,
    /// The VM whose `mmu_lock` the walk holds for writing, if it does.
    write_locked: Option<NonNull<b::kvm>>,
}

impl Tables {
    /// The tables whose root is `pgd`, with new tables from `cache`.
    ///
    /// # Safety
    /// `pgd` is a VM's G-stage root (4 pages, `kvm_riscv_gstage_pgd_size`)
    /// and the caller keeps the tables under it alive and serialised as the
    /// walker needs (`mmu_lock`, or owning the VM) while `Tables` lives;
    /// `cache`, when not null, is a page cache of zeroed pages (`gfp_zero`)
    /// only this walk uses meanwhile; `write_locked`, when not null, is the
    /// live VM whose `mmu_lock` the caller holds for writing meanwhile.
    pub(crate) unsafe fn new(
        pgd: *mut u64,
        cache: *mut b::kvm_mmu_memory_cache,
        write_locked: *mut b::kvm,
    ) -> Option<Self> {
        Some(Self {
            // INVARIANT: the root, of 2048 entries (the caller's promise).
            root: Table {
                ptr: NonNull::new(pgd)?,
                len: PTRS_PER_TABLE << PGD_XBITS,
            },
            cache: NonNull::new(cache),
            write_locked: NonNull::new(write_locked),
        })
    }

    /// `cond_resched_rwlock_write(&kvm->mmu_lock)`: lets others take the
    /// VM's `mmu_lock` between two steps of a long walk, when the walk holds
    /// it for writing; nothing otherwise.
    pub(crate) fn cond_resched(&mut self) {
        if let Some(kvm) = self.write_locked {
            // SAFETY: a live VM whose `mmu_lock` the walk holds for writing
            // (`new`'s contract); the tables are not borrowed across it.
            unsafe { b::kvm_riscv_rs_cond_resched_mmu_lock(kvm.as_ptr()) };
        }
    }

    /// The root table.
    pub(crate) fn root(&self) -> Table {
        self.root
    }

    /// `ptep_get()`; 0 past the table's end (never reached: indices are
    /// masked to the table's width).
    pub(crate) fn get(&self, t: Table, i: usize) -> u64 {
        t.entry(i).map_or(0, |e| e.load(Ordering::Relaxed))
    }

    /// `set_pte()`.
    pub(crate) fn set(&mut self, t: Table, i: usize, v: u64) {
        if let Some(e) = t.entry(i) {
            e.store(v, Ordering::Relaxed);
        }
    }

    /// `cmpxchg()`, fully ordered: whether the entry held `old`.
    pub(crate) fn cmpxchg(&mut self, t: Table, i: usize, old: u64, new: u64) -> bool {
        t.entry(i).is_some_and(|e| {
            e.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    }

    /// The table a valid non-leaf PTE `v` read from these tables points to
    /// (`gstage_pte_page_vaddr()`).
    pub(crate) fn table_of(&self, v: u64) -> Table {
        // CAST: a PFN of the 64-bit host fits a usize.
        let pa = (pte_pfn(v) as usize) << b::PAGE_SHIFT;
        let va = pa.wrapping_add(va_pa_offset());
        // INVARIANT: only `alloc_table` pages are linked as tables, by the
        // walker, which is the only writer of non-leaf PTEs; hardware
        // changes only leaves' A and D bits.
        Table {
            ptr: NonNull::new(va as *mut u64).unwrap_or(NonNull::dangling()),
            len: PTRS_PER_TABLE,
        }
    }

    /// A zeroed table page from the cache, and its PFN
    /// (`kvm_mmu_memory_cache_alloc()`); `None` without a cache.
    pub(crate) fn alloc_table(&mut self) -> Option<(Table, u64)> {
        let cache = self.cache?;
        // SAFETY: the cache is the walk's own (`new`'s contract); an empty
        // cache warns and allocates atomically, as upstream.
        let p = unsafe { b::kvm_mmu_memory_cache_alloc(cache.as_ptr()) }.cast::<u64>();
        let ptr = NonNull::new(p)?;
        // CAST: a linear-map address as a number.
        let pa = (p as usize).wrapping_sub(va_pa_offset());
        // INVARIANT: a fresh zeroed page of 512 entries, now the tables'.
        let t = Table {
            ptr,
            len: PTRS_PER_TABLE,
        };
        // CAST: a physical address of the 64-bit host, as wide as u64.
        Some((t, (pa >> b::PAGE_SHIFT) as u64))
    }

    /// Drops a table page the walker has unlinked (`put_page()`).
    pub(crate) fn free_table(&mut self, t: Table) {
        // SAFETY: a table page of these tables, unlinked by the caller and
        // not used again.
        unsafe { b::kvm_riscv_rs_put_table_page(t.ptr.as_ptr().cast()) };
    }
}

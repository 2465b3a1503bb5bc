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
use core::marker::PhantomData;
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
}

/// The host's PTE spelling, read once at module init ([`init_format`]).
static FORMAT: SetOnce<PteFormat> = SetOnce::new();

/// Reads the host's PTE spelling (errata and extension alternatives of
/// `pfn_pte()` and `pte_mkdirty()`), once, at module init.
pub(crate) fn init_format(svvptc: bool) {
    let mut v = [0 as kernel::ffi::c_ulong; 8];
    // SAFETY: the helper writes the 8 words of the array, nothing else.
    unsafe { b::kvm_riscv_rs_gstage_pte_format(v.as_mut_ptr()) };
    let u = |x: kernel::ffi::c_ulong| crate::regs_logic::xlen_to_u64(x);
    FORMAT.populate(PteFormat {
        table: u(v[0]),
        none: u(v[1]),
        prot: [u(v[2]), u(v[3]), u(v[4]), u(v[5])],
        dirty: u(v[6]),
        io: u(v[7]),
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

    /// `test_and_clear_bit()` of the bits `bits` (fully ordered): the
    /// entry before.
    pub(crate) fn fetch_clear(&mut self, t: Table, i: usize, bits: u64) -> u64 {
        t.entry(i)
            .map_or(0, |e| e.fetch_and(!bits, Ordering::SeqCst))
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

/// A cache of zeroed table pages (`struct kvm_mmu_memory_cache`), borrowed
/// exclusively: a vCPU's, the VM's split cache, or an [`OwnedPageCache`].
pub(crate) struct PageCache<'c> {
    ptr: NonNull<b::kvm_mmu_memory_cache>,
    _borrow: PhantomData<&'c mut b::kvm_mmu_memory_cache>,
}

impl PageCache<'_> {
    /// # Safety
    /// `ptr` is a live page cache with `gfp_zero` set, which only the
    /// holder of the result uses while it lives.
    pub(crate) unsafe fn from_raw(ptr: NonNull<b::kvm_mmu_memory_cache>) -> Self {
        Self {
            ptr,
            _borrow: PhantomData,
        }
    }

    /// The C pointer, for [`Tables::new`].
    pub(crate) fn as_ptr(&self) -> *mut b::kvm_mmu_memory_cache {
        self.ptr.as_ptr()
    }

    /// Fills the cache to at least `min` pages (`kvm_mmu_topup_memory_cache()`).
    pub(crate) fn topup(&mut self, min: usize) -> kernel::error::Result {
        let min = kernel::ffi::c_int::try_from(min)?;
        kernel::error::to_result(self.c_topup(min))
    }

    /// Fills the cache, whose capacity is `min`, to `min` pages
    /// (`__kvm_mmu_topup_memory_cache()`).
    pub(crate) fn topup_exact(&mut self, min: usize) -> kernel::error::Result {
        let min = kernel::ffi::c_int::try_from(min)?;
        kernel::error::to_result(self.c_topup_capacity(min, min))
    }

    /// The pages in the cache (`kvm_mmu_memory_cache_nr_free_objects()`).
    pub(crate) fn nr_free(&mut self) -> usize {
        usize::try_from(self.c_nr_free()).unwrap_or(0)
    }
}

/// Methods of [`PageCache`] that call a C function of the generic core on
/// the cache and values: the cache is live and its holder's alone
/// ([`PageCache::from_raw`]), which is all those functions need.
macro_rules! cache_calls {
    ($($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $ret:ty)? = $cfn:path;)*) => {
        impl PageCache<'_> {$(
            $(#[$m])*
            $vis fn $name(&mut self $(, $a: $t)*) $(-> $ret)? {
                // SAFETY: a live cache this holder alone uses (see the macro).
                unsafe { $cfn(self.as_ptr() $(, $a)*) }
            }
        )*}
    };
}

cache_calls! {
    /// `kvm_mmu_topup_memory_cache()`.
    fn c_topup(min: kernel::ffi::c_int) -> kernel::ffi::c_int = b::kvm_mmu_topup_memory_cache;
    /// `__kvm_mmu_topup_memory_cache()`.
    fn c_topup_capacity(capacity: kernel::ffi::c_int, min: kernel::ffi::c_int) -> kernel::ffi::c_int =
        b::__kvm_mmu_topup_memory_cache;
    /// `kvm_mmu_memory_cache_nr_free_objects()`.
    fn c_nr_free() -> kernel::ffi::c_int = b::kvm_mmu_memory_cache_nr_free_objects;
    /// Frees the pages of the cache (`kvm_mmu_free_memory_cache()`).
    pub(crate) fn free() = b::kvm_mmu_free_memory_cache;
}

/// A page cache of one operation (`kvm_riscv_mmu_ioremap()`'s), freed when
/// dropped.
pub(crate) struct OwnedPageCache(b::kvm_mmu_memory_cache);

impl OwnedPageCache {
    /// An empty cache of zeroed pages; `atomic`: allocated with
    /// `GFP_ATOMIC | __GFP_ACCOUNT` (the caller may not sleep).
    pub(crate) fn new(atomic: bool) -> Self {
        let mut c = b::kvm_mmu_memory_cache {
            gfp_zero: b::__GFP_ZERO,
            ..Default::default()
        };
        if atomic {
            // `__GFP_ACCOUNT`: what `GFP_KERNEL_ACCOUNT` adds to `GFP_KERNEL`.
            c.gfp_custom = b::GFP_ATOMIC | (b::GFP_KERNEL_ACCOUNT & !b::GFP_KERNEL);
        }
        Self(c)
    }

    /// The cache, borrowed.
    pub(crate) fn cache(&mut self) -> PageCache<'_> {
        let ptr = NonNull::from(&mut self.0);
        // SAFETY: a live cache of zeroed pages, borrowed exclusively.
        unsafe { PageCache::from_raw(ptr) }
    }
}

impl Drop for OwnedPageCache {
    fn drop(&mut self) {
        self.cache().free();
    }
}

/// The pages of a G-stage root (`kvm_riscv_gstage_pgd_size`, 16 KiB), as
/// the order `alloc_pages()` takes.
const ROOT_ORDER: u32 = PGD_XBITS;

/// A VM's G-stage root (`kvm_riscv_gstage_pgd_size`, 16 KiB), whose pages
/// are freed when it drops.
///
/// # Invariants
/// `va` is the linear-map address of pages of order [`ROOT_ORDER`] this
/// value owns; `pa` their physical address.
pub(crate) struct Root {
    va: NonNull<u64>,
    pa: u64,
}

impl Root {
    /// A zeroed root (`alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO)`).
    pub(crate) fn alloc() -> Option<Self> {
        // SAFETY: allocates (any order is checked by the allocator); the
        // addresses are those of the pages just allocated.
        let (va, pa) = unsafe {
            let page = b::alloc_pages(b::GFP_KERNEL_ACCOUNT | b::__GFP_ZERO, ROOT_ORDER);
            if page.is_null() {
                return None;
            }
            (
                b::kvm_riscv_rs_page_to_virt(page),
                b::kvm_riscv_rs_page_to_phys(page),
            )
        };
        // INVARIANT: fresh pages of the order, owned here.
        Some(Self {
            va: NonNull::new(va.cast())?,
            pa,
        })
    }

    /// Its linear-map and physical addresses, handed to the VM, which owns
    /// the pages from then on (until [`Root::from_raw`]).
    pub(crate) fn into_raw(self) -> (NonNull<u64>, u64) {
        let r = (self.va, self.pa);
        core::mem::forget(self);
        r
    }

    /// The root [`Root::into_raw`] gave.
    ///
    /// # Safety
    /// `va` came from [`Root::into_raw`] and is taken back once; no table
    /// is linked below it any more, and nothing walks it.
    pub(crate) unsafe fn from_raw(va: NonNull<u64>) -> Self {
        // INVARIANT: the caller's contract; the physical address is not
        // used again.
        Self { va, pa: 0 }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // SAFETY: pages of the order this value owns (the invariant).
        // CAST: the address of the pages.
        unsafe { b::free_pages(self.va.as_ptr() as usize, ROOT_ORDER) }
    }
}

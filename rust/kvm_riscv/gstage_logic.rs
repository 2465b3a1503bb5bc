// SPDX-License-Identifier: GPL-2.0

//! The pure parts of the G-stage page tables (upstream `gstage.c`). Only
//! `core` is used: host `cargo test` runs them.

/// HGATP.MODE of a G-stage table of `levels` levels
/// (`kvm_riscv_gstage_mode()`): Sv32x4 (2, RV32), Sv39x4 (3), Sv48x4 (4),
/// Sv57x4 (5); 0 (Bare) otherwise. The privileged specification's values.
pub(crate) const fn hgatp_mode(levels: usize) -> usize {
    match levels {
        2 => 1,
        3 => 8,
        4 => 9,
        5 => 10,
        _ => 0,
    }
}

// --- the page-table walker ---------------------------------------------------
//
// The G-stage page tables: `levels` levels of 512 8-byte entries, except
// the root, which is 4 pages (2 more index bits: the "x4" of Sv39x4 and
// its kin). A level's index takes 9 bits of the guest physical address
// from bit 12 + 9 * level; level 0 maps 4 KiB pages, level 1 2 MiB, level
// 2 1 GiB, and so on. The algorithms below are upstream `gstage.c`'s, over
// any table memory ([`PageTables`]): the kernel's (`gstage.rs`) or a
// simulated one (the host tests).

/// Index bits of a level (`kvm_riscv_gstage_index_bits`, 64-bit).
pub(crate) const INDEX_BITS: u32 = 9;
/// Entries of a table page (`PTRS_PER_PTE`).
pub(crate) const PTRS_PER_TABLE: usize = 1 << INDEX_BITS;
/// The root's extra index bits (`kvm_riscv_gstage_pgd_xbits`).
pub(crate) const PGD_XBITS: u32 = 2;
/// The page shift of HGATP and of every table (`HGATP_PAGE_SHIFT`).
pub(crate) const PAGE_SHIFT: u32 = 12;

/// PTE bits (privileged specification, "Sv39"; the kernel's `_PAGE_*`).
pub(crate) mod pte {
    /// V.
    pub(crate) const VALID: u64 = 1 << 0;
    /// R.
    pub(crate) const READ: u64 = 1 << 1;
    /// W.
    pub(crate) const WRITE: u64 = 1 << 2;
    /// X.
    pub(crate) const EXEC: u64 = 1 << 3;
    /// U.
    pub(crate) const USER: u64 = 1 << 4;
    /// A.
    pub(crate) const ACCESSED: u64 = 1 << 6;
    /// D.
    pub(crate) const DIRTY: u64 = 1 << 7;
    /// RSW bit 1, which the G-stage ignores and the host's PTEs of present
    /// pages do not use (bit 8 is `_PAGE_SPECIAL`): KVM's mark of a leaf
    /// whose host page is writable. Dirty logging write-protects such a
    /// leaf and keeps the mark, which is what lets the write fault's fast
    /// path make it writable again; a leaf of a page the host gave
    /// read-only (the shared zero page, a copy-on-write page) has none.
    pub(crate) const HOST_WRITABLE: u64 = 1 << 9;
    /// R, W or X: a leaf.
    pub(crate) const LEAF: u64 = READ | WRITE | EXEC;
    /// Where the PFN is (`_PAGE_PFN_MASK`: bits 53..10).
    pub(crate) const PFN_MASK: u64 = ((1 << 54) - 1) & !((1 << 10) - 1);
    /// The PFN's shift (`_PAGE_PFN_SHIFT`).
    pub(crate) const PFN_SHIFT: u32 = 10;
}

/// Whether `v` is a leaf PTE (`gstage_pte_leaf()`).
pub(crate) const fn is_leaf(v: u64) -> bool {
    v & pte::LEAF != 0
}

/// The PFN of PTE `v` (`__page_val_to_pfn()`; G-stage PTEs are never
/// NAPOT, so it is also `pte_pfn()`).
pub(crate) const fn pte_pfn(v: u64) -> u64 {
    (v & pte::PFN_MASK) >> pte::PFN_SHIFT
}

/// The protection of a G-stage leaf (`PAGE_READ`, `PAGE_WRITE`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prot {
    /// Read only.
    Read,
    /// Read and write.
    Write,
    /// Read and execute.
    ReadExec,
    /// Read, write and execute.
    WriteExec,
}

impl Prot {
    /// The protection of a mapping (`kvm_riscv_gstage_map_page()`).
    pub(crate) const fn of(rdonly: bool, exec: bool) -> Self {
        match (exec, rdonly) {
            (true, true) => Prot::ReadExec,
            (true, false) => Prot::WriteExec,
            (false, true) => Prot::Read,
            (false, false) => Prot::Write,
        }
    }

    /// Its bits as the specification names them: V, A and U (`_PAGE_BASE`),
    /// R, and W and X as asked.
    pub(crate) const fn bits(self) -> u64 {
        let base = pte::VALID | pte::ACCESSED | pte::USER | pte::READ;
        match self {
            Prot::Read => base,
            Prot::Write => base | pte::WRITE,
            Prot::ReadExec => base | pte::EXEC,
            Prot::WriteExec => base | pte::WRITE | pte::EXEC,
        }
    }
}

/// How the host kernel spells PTEs, fixed at boot (`pfn_pte()`,
/// `pte_mkdirty()` depend on CPU errata and extensions): what
/// `pfn_pte(0, prot)` gives for each protection the G-stage uses, and the
/// bits `pte_mkdirty()` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PteFormat {
    /// `pfn_pte(0, __pgprot(_PAGE_TABLE))`.
    pub(crate) table: u64,
    /// `pfn_pte(0, __pgprot(0))`.
    pub(crate) none: u64,
    /// `pfn_pte(0, prot)` of each [`Prot`], in its order.
    pub(crate) prot: [u64; 4],
    /// `pte_mkdirty(__pte(0))`.
    pub(crate) dirty: u64,
    /// `pfn_pte(0, pgprot_noncached(PAGE_WRITE))`: a device page
    /// (`kvm_riscv_mmu_ioremap()`).
    pub(crate) io: u64,
    /// The hart implements Svvptc: a new valid PTE needs no fence.
    pub(crate) svvptc: bool,
}

impl PteFormat {
    /// The specification's format, no errata, no soft-dirty bit.
    #[allow(dead_code)]
    pub(crate) const SPEC: PteFormat = PteFormat {
        table: pte::VALID,
        none: 0,
        prot: [
            Prot::Read.bits(),
            Prot::Write.bits(),
            Prot::ReadExec.bits(),
            Prot::WriteExec.bits(),
        ],
        dirty: pte::DIRTY,
        io: Prot::Write.bits(),
        svvptc: false,
    };

    /// `pfn_pte(pfn, prot)`.
    pub(crate) const fn leaf(&self, pfn: u64, prot: Prot) -> u64 {
        // CAST: the discriminant, an index of `prot`.
        (pfn << pte::PFN_SHIFT) | self.prot[prot as usize]
    }

    /// `pfn_pte(pfn, __pgprot(_PAGE_TABLE))`: a pointer to a table.
    pub(crate) const fn table(&self, pfn: u64) -> u64 {
        (pfn << pte::PFN_SHIFT) | self.table
    }

    /// `pte_mkdirty(pfn_pte(pfn, pgprot_noncached(PAGE_WRITE)))`, write
    /// protected unless `writable`: a device page.
    pub(crate) const fn io(&self, pfn: u64, writable: bool) -> u64 {
        let v = (pfn << pte::PFN_SHIFT) | self.io | self.dirty;
        if writable {
            v
        } else {
            v & !pte::WRITE
        }
    }

    /// `pte_pgprot(v)`: everything but the PFN (as `pfn_pte(pfn, 0)`
    /// spells it).
    pub(crate) const fn pgprot(&self, v: u64) -> u64 {
        ((pte_pfn(v) << pte::PFN_SHIFT) | self.none) ^ v
    }
}

/// A G-stage page table's shape: how many levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Levels (3: Sv39x4, 4: Sv48x4, 5: Sv57x4).
    pub(crate) levels: u32,
}

impl Shape {
    /// The root's level.
    pub(crate) const fn top(self) -> u32 {
        self.levels.wrapping_sub(1)
    }

    /// The index of `addr` in its table at `level` (`gstage_pte_index()`):
    /// 9 bits, 11 at the root.
    /// Levels are below 8, so the arithmetic cannot overflow; it wraps
    /// rather than check (the walk's hot path).
    #[inline]
    pub(crate) const fn index(self, addr: u64, level: u32) -> usize {
        let shift = PAGE_SHIFT.wrapping_add(INDEX_BITS.wrapping_mul(level));
        let mask = if level == self.top() {
            (PTRS_PER_TABLE << PGD_XBITS) - 1
        } else {
            PTRS_PER_TABLE - 1
        };
        // CAST: the index is masked to at most 11 bits.
        addr.wrapping_shr(shift) as usize & mask
    }

    /// log2 of the size a leaf at `level` maps (`gstage_level_to_page_order()`);
    /// `None` above the root.
    pub(crate) const fn order(self, level: u32) -> Option<u32> {
        if self.levels < level {
            None
        } else {
            Some(PAGE_SHIFT.wrapping_add(level.wrapping_mul(INDEX_BITS)))
        }
    }

    /// The size a leaf at `level` maps (`gstage_level_to_page_size()`).
    pub(crate) const fn page_size(self, level: u32) -> Option<u64> {
        match self.order(level) {
            Some(o) => Some(1u64.wrapping_shl(o)),
            None => None,
        }
    }

    /// The level whose leaves map `page_size` bytes
    /// (`gstage_page_size_to_level()`).
    pub(crate) const fn level_of(self, page_size: u64) -> Option<u32> {
        let mut i = 0;
        while i < self.levels {
            if page_size == 1u64.wrapping_shl(PAGE_SHIFT.wrapping_add(i.wrapping_mul(INDEX_BITS))) {
                return Some(i);
            }
            i = i.wrapping_add(1);
        }
        None
    }

    /// The guest physical address bits (`kvm_riscv_gstage_gpa_bits()`).
    pub(crate) const fn gpa_bits(self) -> u32 {
        PAGE_SHIFT
            .wrapping_add(self.levels.wrapping_mul(INDEX_BITS))
            .wrapping_add(PGD_XBITS)
    }
}

/// A PTE's place: a table and an index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ptep<T> {
    /// The table.
    pub(crate) table: T,
    /// The entry.
    pub(crate) index: usize,
}

/// What the walker does to a PTE (`enum kvm_riscv_gstage_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Unmap.
    Clear,
    /// Write-protect.
    WriteProtect,
}

/// The memory of a G-stage page table and what the walker needs of its
/// host: table pages, PTE accesses, TLB flushes.
///
/// PTE reads and writes are single-copy atomic (`READ_ONCE`/`WRITE_ONCE`):
/// hardware updates A and D, and other vCPUs update PTEs under the read
/// side of `mmu_lock`.
pub(crate) trait PageTables {
    /// A table page.
    type Table: Copy;
    /// The root table (`pgd`).
    fn root(&self) -> Self::Table;
    /// The tables' shape.
    fn shape(&self) -> Shape;
    /// How PTEs are spelt.
    fn format(&self) -> &PteFormat;
    /// `ptep_get()`.
    fn get(&self, p: Ptep<Self::Table>) -> u64;
    /// `set_pte()`.
    fn set(&mut self, p: Ptep<Self::Table>, v: u64);
    /// `cmpxchg()` of the PTE, fully ordered: whether it held `old`.
    fn cmpxchg(&mut self, p: Ptep<Self::Table>, old: u64, new: u64) -> bool;
    /// The table a non-leaf PTE points to (`gstage_pte_page_vaddr()`).
    fn table_of(&self, v: u64) -> Self::Table;
    /// A zeroed table page from the caller's cache, and its PFN; `None`
    /// without a cache or when it is empty.
    fn alloc_table(&mut self) -> Option<(Self::Table, u64)>;
    /// Drops a table page the walker unlinked (`put_page()`).
    fn free_table(&mut self, t: Self::Table);
    /// `smp_wmb()`: the new table's entries before the PTE that links it.
    fn wmb(&self);
    /// Flushes the TLB entries of the leaf at `level` that maps `addr`
    /// (`gstage_tlb_flush()`).
    fn flush(&mut self, order: u32, addr: u64);
    /// A point where a long unmap may yield `mmu_lock`
    /// (`cond_resched_rwlock_write()`), if the tables are the VM's.
    fn resched(&mut self) {}
    /// `WARN_ON()`/`WARN_ONCE()` of upstream: a misaligned operation.
    fn warn(&mut self, _what: Warning) {}
}

/// Upstream's warnings of the walker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Warning {
    /// An operation on a leaf at an address it does not start at.
    Misaligned { addr: u64, page_size: u64 },
    /// An unmap range that covers part of a huge leaf: skipped.
    SkipUnmap { addr: u64, end: u64, page_size: u64 },
}

/// Where a walk for an address ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk<T> {
    /// At the leaf that maps it, of this level.
    Leaf(Ptep<T>, u32),
    /// At this PTE of this level, which is empty (or, at level 0, not a
    /// leaf): nothing maps the address.
    Stop(Ptep<T>, u32),
}

/// Walks the tables for `addr` down to its leaf or to where the path ends.
pub(crate) fn walk<P: PageTables>(t: &P, addr: u64) -> Walk<P::Table> {
    let shape = t.shape();
    let mut level = shape.top();
    let mut p = Ptep {
        table: t.root(),
        index: shape.index(addr, level),
    };
    loop {
        let v = t.get(p);
        if v == 0 {
            return Walk::Stop(p, level);
        }
        if is_leaf(v) {
            return Walk::Leaf(p, level);
        }
        if level == 0 {
            return Walk::Stop(p, level);
        }
        level = level.wrapping_sub(1);
        p = Ptep {
            table: t.table_of(v),
            index: shape.index(addr, level),
        };
    }
}

/// The leaf that maps `addr`, and its level (`kvm_riscv_gstage_get_leaf()`):
/// `Err(level)` with the level where the walk stopped when there is none.
pub(crate) fn get_leaf<P: PageTables>(t: &P, addr: u64) -> Result<(Ptep<P::Table>, u32), u32> {
    match walk(t, addr) {
        Walk::Leaf(p, level) => Ok((p, level)),
        Walk::Stop(_, level) => Err(level),
    }
}

/// Flushes the leaf at `level` that maps `addr`.
fn tlb_flush<P: PageTables>(t: &mut P, level: u32, addr: u64) {
    let Some(order) = t.shape().order(level) else {
        return;
    };
    t.flush(order, addr & !1u64.wrapping_shl(order).wrapping_sub(1));
}

/// Replaces `old` by `new` at `p` if it still holds `old`, flushing the
/// leaf's TLB entries when it changed (`kvm_riscv_gstage_try_update_pte()`).
pub(crate) fn try_update<P: PageTables>(
    t: &mut P,
    level: u32,
    addr: u64,
    p: Ptep<P::Table>,
    old: u64,
    new: u64,
) -> bool {
    if !t.cmpxchg(p, old, new) {
        return false;
    }
    if old != new {
        tlb_flush(t, level, addr);
    }
    true
}

/// A mapping to install (`struct kvm_gstage_mapping`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// Its guest physical address.
    pub(crate) addr: u64,
    /// The leaf PTE.
    pub(crate) pte: u64,
    /// The level of the leaf.
    pub(crate) level: u32,
}

/// The walker's failures, as upstream's errnos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapError {
    /// `-EINVAL`: a level above the root, or a page size no level maps.
    Invalid,
    /// `-EEXIST`: a huge leaf is in the way.
    Exists,
    /// `-ENOMEM`: no table page in the cache.
    NoMem,
}

/// Installs `map`, allocating the tables on the way
/// (`kvm_riscv_gstage_set_pte()`).
pub(crate) fn set_pte<P: PageTables>(t: &mut P, map: &Mapping) -> Result<(), MapError> {
    let shape = t.shape();
    let level = shape.top();
    if level < map.level {
        return Err(MapError::Invalid);
    }
    let p = Ptep {
        table: t.root(),
        index: shape.index(map.addr, level),
    };
    install(t, map, p, level)
}

/// [`set_pte`] from PTE `p` of `level` (at or above `map.level`) on the
/// path of `map.addr`.
fn install<P: PageTables>(
    t: &mut P,
    map: &Mapping,
    mut p: Ptep<P::Table>,
    mut level: u32,
) -> Result<(), MapError> {
    let shape = t.shape();
    while level != map.level {
        let v = t.get(p);
        if is_leaf(v) {
            return Err(MapError::Exists);
        }
        let next = if v == 0 {
            let (table, pfn) = t.alloc_table().ok_or(MapError::NoMem)?;
            let link = t.format().table(pfn);
            t.set(p, link);
            table
        } else {
            t.table_of(v)
        };
        // Above `map.level`, so above 0.
        level = level.wrapping_sub(1);
        p = Ptep {
            table: next,
            index: shape.index(map.addr, level),
        };
    }
    let old = t.get(p);
    if old != map.pte {
        t.set(p, map.pte);
        if is_leaf(map.pte) && !(old == 0 && t.format().svvptc) {
            tlb_flush(t, level, map.addr);
        }
    }
    Ok(())
}

/// Sets the protection of the leaf at `p` to `prot`, keeping its PFN and
/// making it dirty (`kvm_riscv_gstage_update_pte_prot()`).
fn update_prot<P: PageTables>(
    t: &mut P,
    level: u32,
    addr: u64,
    p: Ptep<P::Table>,
    prot: Prot,
    soft: u64,
) {
    loop {
        let old = t.get(p);
        let f = *t.format();
        // As upstream: against the protection's own bits (`PAGE_*`), not
        // as `pfn_pte()` spells them.
        if f.pgprot(old) == prot.bits() {
            return;
        }
        let new = f.leaf(pte_pfn(old), prot) | f.dirty | soft;
        if try_update(t, level, addr, p, old, new) {
            return;
        }
        core::hint::spin_loop();
    }
}

/// Maps `page_size` bytes at `gpa` to host physical `hpa`
/// (`kvm_riscv_gstage_map_page()`), the leaf with the software bits `soft`
/// too ([`pte::HOST_WRITABLE`]): the mapping installed, or updated in place
/// when a leaf of the same page is there.
pub(crate) fn map_page<P: PageTables>(
    t: &mut P,
    gpa: u64,
    hpa: u64,
    page_size: u64,
    rdonly: bool,
    exec: bool,
    soft: u64,
) -> (Mapping, Result<(), MapError>) {
    let mut map = Mapping {
        addr: gpa,
        pte: 0,
        level: 0,
    };
    let Some(level) = t.shape().level_of(page_size) else {
        return (map, Err(MapError::Invalid));
    };
    map.level = level;
    // A and D are always set: hardware that does not update them would
    // fault otherwise; dirty logging write-protects instead.
    let prot = Prot::of(rdonly, exec);
    let f = *t.format();
    match walk(t, gpa) {
        Walk::Leaf(p, leaf_level) => {
            if leaf_level > level {
                // Dirty logging on a huge mapping: split it down.
                split_huge(t, gpa, level, true);
            } else if (pte_pfn(t.get(p)) << PAGE_SHIFT) & !page_size.wrapping_sub(1) == hpa {
                // The same page (or a smaller leaf of it, after a split):
                // only the protection changes.
                update_prot(t, leaf_level, gpa, p, prot, soft);
                return (map, Ok(()));
            }
        }
        Walk::Stop(p, stop_level) if stop_level >= level => {
            // Nothing maps the address: install from where the walk
            // stopped. Upstream walks again from the root, through the
            // same tables (its callers hold `mmu_lock` for writing, so
            // the path cannot change in between).
            map.pte = f.leaf(hpa >> PAGE_SHIFT, prot) | f.dirty | soft;
            let r = install(t, &map, p, stop_level);
            return (map, r);
        }
        Walk::Stop(..) => {}
    }
    map.pte = f.leaf(hpa >> PAGE_SHIFT, prot) | f.dirty | soft;
    let r = set_pte(t, &map);
    (map, r)
}

/// Splits the huge leaves that map `addr` down to `target` level
/// (`kvm_riscv_gstage_split_huge()`): whether TLB entries must still be
/// flushed (only when `flush` is false). Stops at the first missing table
/// page.
pub(crate) fn split_huge<P: PageTables>(t: &mut P, addr: u64, target: u32, flush: bool) -> bool {
    let shape = t.shape();
    let mut level = shape.top();
    let mut table = t.root();
    let mut need_flush = false;
    while level > target {
        let p = Ptep {
            table,
            index: shape.index(addr, level),
        };
        let v = t.get(p);
        if v == 0 {
            break;
        }
        if !is_leaf(v) {
            table = t.table_of(v);
            level -= 1;
            continue;
        }
        let Some(child_size) = shape.page_size(level - 1) else {
            return need_flush;
        };
        let Some((child, pfn)) = t.alloc_table() else {
            return need_flush;
        };
        let step = child_size >> PAGE_SHIFT;
        let none = t.format().none;
        for i in 0..PTRS_PER_TABLE {
            // The huge PTE has the base PFN; each child ORs in its offset
            // (`make_child_pte()`: `pfn_pte(offset, __pgprot(0))`).
            // CAST: an index below 512.
            let child_pte = v | ((i as u64 * step) << pte::PFN_SHIFT) | none;
            t.set(
                Ptep {
                    table: child,
                    index: i,
                },
                child_pte,
            );
        }
        // The children before the link to them.
        t.wmb();
        let link = t.format().table(pfn);
        t.set(p, link);
        if flush {
            tlb_flush(t, level, addr);
        } else {
            need_flush = true;
        }
        table = child;
        level -= 1;
    }
    need_flush
}

/// Applies `op` to the PTE at `p`, of `level`, which maps `addr`, and
/// below it (`kvm_riscv_gstage_op_pte()`): whether a leaf changed.
pub(crate) fn op_pte<P: PageTables>(
    t: &mut P,
    addr: u64,
    p: Ptep<P::Table>,
    level: u32,
    op: Op,
) -> bool {
    let shape = t.shape();
    let Some(page_size) = shape.page_size(level) else {
        return false;
    };
    if addr & (page_size - 1) != 0 {
        t.warn(Warning::Misaligned { addr, page_size });
    }
    let v = t.get(p);
    if v == 0 {
        return false;
    }
    let mut flush = false;
    if level != 0 && !is_leaf(v) {
        let next = t.table_of(v);
        let Some(next_size) = shape.page_size(level - 1) else {
            return false;
        };
        if op == Op::Clear {
            t.set(p, 0);
        }
        for i in 0..PTRS_PER_TABLE {
            let child = Ptep {
                table: next,
                index: i,
            };
            // CAST: an index below 512.
            flush |= op_pte(
                t,
                addr.wrapping_add(i as u64 * next_size),
                child,
                level - 1,
                op,
            );
        }
        if op == Op::Clear {
            t.free_table(next);
        }
    } else {
        let new = match op {
            Op::Clear => 0,
            Op::WriteProtect => v & !pte::WRITE,
        };
        t.set(p, new);
        flush = new != v;
    }
    flush
}

/// Unmaps everything and frees every table but the root: each root entry
/// is cleared with [`op_pte`], which frees the tables below it. Whether
/// TLB entries must be flushed.
///
/// Upstream's `kvm_riscv_mmu_free_pgd()` unmaps the whole space with
/// `kvm_riscv_gstage_unmap_range()` instead, which clears only leaves and
/// leaks every table below the root (README, known differences).
pub(crate) fn free_all<P: PageTables>(t: &mut P) -> bool {
    let shape = t.shape();
    let top = shape.top();
    let Some(order) = shape.order(top) else {
        return false;
    };
    let root = t.root();
    let mut flush = false;
    for index in 0..PTRS_PER_TABLE << PGD_XBITS {
        // CAST: an index below 2048.
        let addr = (index as u64).wrapping_shl(order);
        flush |= op_pte(t, addr, Ptep { table: root, index }, top, Op::Clear);
    }
    flush
}

/// The leaf that maps `addr` if any, the level where the walk ended, and
/// the size a leaf of that level maps: the step of the range walks
/// (`unmap_range`, `wp_range`, `wp_pt_masked`). `None` for a level above
/// the root.
fn leaf_at<P: PageTables>(t: &P, addr: u64) -> Option<Step<P::Table>> {
    let (found, level) = match get_leaf(t, addr) {
        Ok((p, level)) => (Some(p), level),
        Err(level) => (None, level),
    };
    Some(Step {
        found,
        level,
        page_size: t.shape().page_size(level)?,
    })
}

/// One step of a range walk ([`leaf_at`]).
struct Step<T> {
    found: Option<Ptep<T>>,
    level: u32,
    page_size: u64,
}

/// The next address after `addr` aligned to `size` (`ALIGN(addr + 1, size)`).
const fn align_up_next(addr: u64, size: u64) -> u64 {
    (addr.wrapping_add(1).wrapping_add(size - 1)) & !(size - 1)
}

/// Unmaps `size` bytes at `start` (`kvm_riscv_gstage_unmap_range()`):
/// whether TLB entries must be flushed. With `may_block`, yields
/// `mmu_lock` between leaves.
pub(crate) fn unmap_range<P: PageTables>(
    t: &mut P,
    start: u64,
    size: u64,
    may_block: bool,
) -> bool {
    let end = start.wrapping_add(size);
    let mut addr = start;
    let mut flush = false;
    while addr < end {
        let Some(Step {
            found,
            level,
            page_size,
        }) = leaf_at(t, addr)
        else {
            break;
        };
        match found {
            None => addr = align_up_next(addr, page_size),
            Some(p) => {
                if addr & (page_size - 1) == 0 && end - addr >= page_size {
                    flush |= op_pte(t, addr, p, level, Op::Clear);
                } else {
                    t.warn(Warning::SkipUnmap {
                        addr,
                        end,
                        page_size,
                    });
                }
                addr = addr.wrapping_add(page_size);
            }
        }
        if may_block && addr < end {
            t.resched();
        }
    }
    flush
}

/// Write-protects `[start, end)` (`kvm_riscv_gstage_wp_range()`): whether
/// TLB entries must be flushed.
pub(crate) fn wp_range<P: PageTables>(t: &mut P, start: u64, end: u64) -> bool {
    let mut addr = start;
    let mut flush = false;
    while addr < end {
        let Some(Step {
            found,
            level,
            page_size,
        }) = leaf_at(t, addr)
        else {
            break;
        };
        match found {
            None => addr = align_up_next(addr, page_size),
            Some(p) => {
                addr &= !(page_size - 1);
                flush |= op_pte(t, addr, p, level, Op::WriteProtect);
                addr = addr.wrapping_add(page_size);
            }
        }
    }
    flush
}

/// Clears from `mask` the bits of the gfns a huge leaf at `addr` of
/// `page_size` bytes covers (`clear_huge_mask()`); bit `i` is gfn
/// `base_gfn + i`.
pub(crate) fn clear_huge_mask(mask: &mut u64, page_size: u64, base_gfn: u64, addr: u64) {
    let mut start_index = 0;
    let mut end_index = u64::from(u64::BITS) - 1;
    let end_gfn = base_gfn.wrapping_add(end_index);
    let aligned_start_gfn = addr >> PAGE_SHIFT;
    let aligned_end_gfn = aligned_start_gfn
        .wrapping_add(page_size >> PAGE_SHIFT)
        .wrapping_sub(1);
    if aligned_start_gfn > base_gfn {
        start_index = aligned_start_gfn - base_gfn;
    }
    if aligned_end_gfn < end_gfn {
        end_index = aligned_end_gfn.wrapping_sub(base_gfn);
    }
    let nbits = end_index.wrapping_sub(start_index).wrapping_add(1);
    // bitmap_clear() of nbits from start_index, within the one word.
    for i in start_index..start_index.saturating_add(nbits).min(u64::from(u64::BITS)) {
        *mask &= !(1 << i);
    }
}

/// Write-protects the gfns of `mask` from `base_gfn`
/// (`kvm_riscv_gstage_wp_pt_masked()`), a huge leaf all at once: whether
/// TLB entries must be flushed.
pub(crate) fn wp_pt_masked<P: PageTables>(t: &mut P, base_gfn: u64, mut mask: u64) -> bool {
    let mut flush = false;
    while mask != 0 {
        let mut addr = base_gfn.wrapping_add(u64::from(mask.trailing_zeros())) << PAGE_SHIFT;
        let Some(Step {
            found,
            level,
            page_size,
        }) = leaf_at(t, addr)
        else {
            break;
        };
        if let Some(p) = found {
            if level != 0 {
                addr &= !(page_size - 1);
                clear_huge_mask(&mut mask, page_size, base_gfn, addr);
            }
            flush |= op_pte(t, addr, p, level, Op::WriteProtect);
            if level != 0 {
                continue;
            }
        }
        mask &= mask - 1;
    }
    flush
}

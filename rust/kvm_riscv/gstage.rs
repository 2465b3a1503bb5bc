// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/gstage.c`: the G-stage page tables of a VM.
//!
//! The walker is `gstage_logic`'s, over the VM's table memory
//! (`pgtable::Tables`); this module gives it what the kernel has: the
//! host's PTE spelling, TLB flushes of the VM's VMID (on this hart only for
//! the tables of a VM no vCPU runs yet, `KVM_GSTAGE_FLAGS_LOCAL`, else on
//! every vCPU), `mmu_lock` yields and upstream's warnings. It also finds
//! the G-stage modes the hardware has (`kvm_riscv_gstage_mode_detect()`).

use crate::bindings as b;
use crate::csr::HGATP;
use crate::gstage_logic::{self as l, hgatp_mode, PageTables, PteFormat, Ptep, Shape, Warning};
use crate::handle::Vm;
use crate::pgtable::{Table, Tables};
use crate::tlb;
use crate::tlb_logic::HartMask;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The most G-stage levels the hardware has: 5 (Sv57x4), 4, 3 (Sv39x4),
/// 0 without any (`kvm_riscv_gstage_max_pgd_levels`, `__ro_after_init`):
/// set by [`mode_detect`] in module init.
static MAX_PGD_LEVELS: AtomicUsize = AtomicUsize::new(3);

/// Finds the widest G-stage mode HGATP takes, Sv57x4 down to Sv39x4, and
/// the host's PTE spelling; returns the levels (0: none)
/// (`kvm_riscv_gstage_mode_detect()`).
pub(crate) fn mode_detect() -> usize {
    let mut levels = 0;
    for l in [5, 4, 3] {
        let mode = hgatp_mode(l);
        HGATP.write(mode << b::HGATP_MODE_SHIFT);
        if HGATP.read() >> b::HGATP_MODE_SHIFT == mode {
            levels = l;
            break;
        }
    }
    MAX_PGD_LEVELS.store(levels, Relaxed);
    HGATP.write(0);
    tlb::local_hfence_gvma_all();
    crate::pgtable::init_format(crate::isa::host_has_ext(b::RISCV_ISA_EXT_SVVPTC));
    levels
}

/// A VM's G-stage tables as C `struct kvm_gstage` describes them, ready for
/// the walker.
pub(crate) struct GStage<'a> {
    mem: Tables,
    fmt: &'static PteFormat,
    shape: Shape,
    vm: &'a Vm,
    vmid: usize,
    /// Flush this hart only (`KVM_GSTAGE_FLAGS_LOCAL`): no vCPU of the VM
    /// has run on another.
    local: bool,
}

impl<'a> GStage<'a> {
    /// The tables of `vm` in `mem`, of `levels` levels, tagged `vmid`.
    pub(crate) fn new(mem: Tables, vm: &'a Vm, levels: u32, vmid: usize, local: bool) -> Self {
        Self {
            mem,
            fmt: crate::pgtable::format(),
            shape: Shape { levels },
            vm,
            vmid,
            local,
        }
    }
}

impl PageTables for GStage<'_> {
    type Table = Table;

    #[inline]
    fn root(&self) -> Table {
        self.mem.root()
    }
    #[inline]
    fn shape(&self) -> Shape {
        self.shape
    }
    #[inline]
    fn format(&self) -> &PteFormat {
        self.fmt
    }
    #[inline]
    fn get(&self, p: Ptep<Table>) -> u64 {
        self.mem.get(p.table, p.index)
    }
    #[inline]
    fn set(&mut self, p: Ptep<Table>, v: u64) {
        self.mem.set(p.table, p.index, v)
    }
    #[inline]
    fn cmpxchg(&mut self, p: Ptep<Table>, old: u64, new: u64) -> bool {
        self.mem.cmpxchg(p.table, p.index, old, new)
    }
    #[inline]
    fn table_of(&self, v: u64) -> Table {
        self.mem.table_of(v)
    }
    #[inline]
    fn alloc_table(&mut self) -> Option<(Table, u64)> {
        self.mem.alloc_table()
    }
    fn free_table(&mut self, t: Table) {
        self.mem.free_table(t)
    }
    #[inline]
    fn wmb(&self) {
        kernel::sync::barrier::smp_mb(kernel::sync::barrier::Write);
    }
    fn flush(&mut self, order: u32, addr: u64) {
        let size = 1u64 << order;
        // CAST: an order below 64, as wide as a usize.
        let order = order as usize;
        if self.local {
            tlb::local_hfence_gvma_vmid_gpa(self.vmid, addr, size, order);
        } else {
            tlb::hfence_gvma_vmid_gpa(self.vm, HartMask::ALL, addr, size, order, self.vmid);
        }
    }
    fn resched(&mut self) {
        if !self.local {
            self.mem.cond_resched();
        }
    }
    fn warn(&mut self, w: Warning) {
        match w {
            Warning::Misaligned { addr, page_size } => {
                kernel::pr_warn!(
                    "kvm: G-stage op at {:#x} not aligned to {:#x}\n",
                    addr,
                    page_size
                );
                kernel::warn_on!(true);
            }
            Warning::SkipUnmap {
                addr,
                end,
                page_size,
            } => {
                kernel::pr_warn!(
                    "Skip unmap range addr: {:#x}, end: {:#x}, page_size: {:#x}\n",
                    addr,
                    end,
                    page_size
                );
                kernel::warn_on!(true);
            }
        }
    }
}

impl GStage<'_> {
    /// The PTE at `p` (`ptep_get()`).
    pub(crate) fn pte(&self, p: Ptep<Table>) -> u64 {
        self.mem.get(p.table, p.index)
    }

    /// Clears the A bit of the leaf at `p` (`ptep_test_and_clear_young()`):
    /// whether it was set.
    pub(crate) fn test_and_clear_young(&mut self, p: Ptep<Table>) -> bool {
        let a = crate::gstage_logic::pte::ACCESSED;
        if self.pte(p) & a == 0 {
            return false;
        }
        self.mem.fetch_clear(p.table, p.index, a) & a != 0
    }
}

/// The most G-stage levels the hardware has ([`mode_detect`]).
pub(crate) fn max_pgd_levels() -> usize {
    MAX_PGD_LEVELS.load(Relaxed)
}

pub(crate) use l::{
    free_all, get_leaf, map_page, set_pte, split_huge, try_update, unmap_range, wp_pt_masked,
    wp_range,
};

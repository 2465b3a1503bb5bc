// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `tlb.rs` (upstream `tlb.c`): the HFENCE requests a
//! vCPU queues for another, the queue itself, which vCPUs a hart mask
//! names, and how a ranged fence is split into per-page instructions.
//! Only `core` is used: host `cargo test` runs them.

/// What an HFENCE request flushes (C `enum kvm_riscv_hfence_type`, whose
/// values the per-vCPU queue stores; 0 marks a free slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum HfenceKind {
    /// G-stage mappings of a VMID in a guest-physical range.
    GvmaVmidGpa = 1,
    /// Every G-stage mapping of a VMID.
    GvmaVmidAll = 2,
    /// VS-stage mappings of an ASID in a guest-virtual range.
    VvmaAsidGva = 3,
    /// Every VS-stage mapping of an ASID.
    VvmaAsidAll = 4,
    /// VS-stage mappings of every ASID in a guest-virtual range.
    VvmaGva = 5,
    /// Every VS-stage mapping of a VMID.
    VvmaAll = 6,
}

impl HfenceKind {
    /// The kind stored as `raw` in a queue slot; `None` for a free slot (0)
    /// or a value no request has.
    pub(crate) const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Self::GvmaVmidGpa,
            2 => Self::GvmaVmidAll,
            3 => Self::VvmaAsidGva,
            4 => Self::VvmaAsidAll,
            5 => Self::VvmaGva,
            6 => Self::VvmaAll,
            _ => return None,
        })
    }

    /// The value a queue slot stores.
    pub(crate) const fn raw(self) -> u32 {
        // CAST: the discriminant of a `repr(u32)` enum.
        self as u32
    }

    /// Whether it flushes VS-stage mappings: the guest's SBI remote fence,
    /// counted as a received firmware event; the fallback request when the
    /// queue is full is then "every VS-stage mapping", not a G-stage flush.
    pub(crate) const fn is_vvma(self) -> bool {
        matches!(
            self,
            Self::VvmaAsidGva | Self::VvmaAsidAll | Self::VvmaGva | Self::VvmaAll
        )
    }

    /// The request made of a vCPU whose queue is full: a coarser flush
    /// that covers this one.
    pub(crate) const fn coarser(self) -> Coarser {
        if self.is_vvma() {
            Coarser::VvmaAll
        } else {
            Coarser::GvmaVmidAll
        }
    }

    /// Whether the request carries an ASID (its firmware event is the
    /// ASID one).
    pub(crate) const fn has_asid(self) -> bool {
        matches!(self, Self::VvmaAsidGva | Self::VvmaAsidAll)
    }
}

/// The request in place of one that did not fit a vCPU's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coarser {
    /// Every G-stage entry of the VM's VMID (`KVM_REQ_TLB_FLUSH`).
    GvmaVmidAll,
    /// Every VS-stage entry of the VM's VMID (`KVM_REQ_HFENCE_VVMA_ALL`).
    VvmaAll,
}

/// One HFENCE request (C `struct kvm_riscv_hfence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hfence {
    /// What to flush.
    pub(crate) kind: HfenceKind,
    /// The ASID (`VvmaAsid*`), else 0.
    pub(crate) asid: usize,
    /// The VMID.
    pub(crate) vmid: usize,
    /// log2 of the page size the range is flushed in.
    pub(crate) order: usize,
    /// The range's start (ranged kinds), else 0.
    pub(crate) addr: u64,
    /// The range's size in bytes (ranged kinds), else 0.
    pub(crate) size: u64,
}

/// A slot of an HFENCE queue: a request, or free.
pub(crate) trait Slot {
    /// The request in the slot, `None` if free.
    fn get(&self) -> Option<Hfence>;
    /// Puts `h` in the slot.
    fn put(&mut self, h: &Hfence);
    /// Frees the slot.
    fn free(&mut self);
}

/// Appends `h` at `*tail` of the ring `slots` (`vcpu_hfence_enqueue()`):
/// `false` when that slot is still taken (the queue is full) or `*tail` is
/// out of the ring.
pub(crate) fn enqueue<S: Slot>(slots: &mut [S], tail: &mut usize, h: &Hfence) -> bool {
    let n = slots.len();
    let Some(s) = slots.get_mut(*tail) else {
        return false;
    };
    if s.get().is_some() {
        return false;
    }
    s.put(h);
    *tail += 1;
    if *tail == n {
        *tail = 0;
    }
    true
}

/// Takes the request at `*head` of the ring `slots` (`vcpu_hfence_dequeue()`):
/// `None` when that slot is free (the queue is empty) or `*head` is out of
/// the ring.
pub(crate) fn dequeue<S: Slot>(slots: &mut [S], head: &mut usize) -> Option<Hfence> {
    let n = slots.len();
    let s = slots.get_mut(*head)?;
    let h = s.get()?;
    s.free();
    *head += 1;
    if *head == n {
        *head = 0;
    }
    Some(h)
}

/// The harts an SBI call names: `base` and a mask of the `XLEN` harts from
/// it, or every hart when `base` is `usize::MAX` (C's `-1UL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HartMask {
    /// The first hart id of the mask; `usize::MAX`: every hart.
    pub(crate) base: usize,
    /// Bit `i`: hart `base + i`.
    pub(crate) mask: usize,
}

impl HartMask {
    /// Every hart.
    pub(crate) const ALL: HartMask = HartMask {
        base: usize::MAX,
        mask: 0,
    };

    /// Whether the vCPU with id `id` is named. As upstream, `base + XLEN`
    /// wraps (an id is never at or above such a base anyway).
    pub(crate) const fn has(self, id: usize) -> bool {
        if self.base == usize::MAX {
            return true;
        }
        // CAST: XLEN (64) as a usize, widening.
        if id < self.base || id >= self.base.wrapping_add(usize::BITS as usize) {
            return false;
        }
        self.mask & (1 << (id - self.base)) != 0
    }
}

/// Pages a ranged fence may name before a whole-space fence is used
/// instead (`PTRS_PER_PTE` of 64-bit RISC-V: a page of 8-byte entries).
pub(crate) const MAX_RANGED_PAGES: u64 = 512;

/// The addresses a ranged fence of `size` bytes at `addr`, in pages of
/// 2^`order` bytes, names: one per page, `None` when the whole space must be
/// flushed instead (the range wraps, or has more than
/// [`MAX_RANGED_PAGES`] pages, or the order is not a shift of `u64`).
/// An empty range names no page.
pub(crate) fn fence_pages(addr: u64, size: u64, order: usize) -> Option<FencePages> {
    let end = addr.checked_add(size)?;
    let order = u32::try_from(order).ok().filter(|&o| o < u64::BITS)?;
    if MAX_RANGED_PAGES < (size >> order) {
        return None;
    }
    Some(FencePages {
        pos: addr,
        end,
        step: 1 << order,
    })
}

/// The page addresses of a ranged fence ([`fence_pages`]).
#[derive(Clone, Debug)]
pub(crate) struct FencePages {
    pos: u64,
    end: u64,
    step: u64,
}

impl Iterator for FencePages {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.pos >= self.end {
            return None;
        }
        let p = self.pos;
        // The last page: stop without computing an address past `end`,
        // which could wrap.
        self.pos = if self.end - p <= self.step {
            self.end
        } else {
            p + self.step
        };
        Some(p)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `vmid.rs` (upstream `vmid.c`): how many VMID bits are
//! used, and the allocator that hands VMIDs out in versions. Only `core` is
//! used: host `cargo test` runs them.

/// The VMID width to use, from the HGATP.VMID bits that read back as ones
/// after writing all ones (`vmid_mask`), on a host of `possible_cpus` CPUs:
/// 0 (VMIDs not used, every switch flushes the G-stage TLB) when there are
/// fewer VMIDs than CPUs.
pub(crate) const fn usable_vmid_bits(vmid_mask: usize, possible_cpus: u32) -> u32 {
    // fls_long(): the position of the highest set bit, 1-based.
    let bits = usize::BITS - vmid_mask.leading_zeros();
    // A full-width mask gives at most XLEN bits; `1 << XLEN` would not fit.
    // CAST: a CPU count (u32) as a usize, widening on 32 and 64 bits.
    if bits < usize::BITS && (1usize << bits) < possible_cpus as usize {
        0
    } else {
        bits
    }
}

/// The VMID allocator's state (C's `vmid_next`, guarded by `vmid_lock`).
///
/// VMIDs are handed out from 1 up in a *version*. When they run out, the
/// version moves on and numbering restarts at 1: every VM whose VMID is of
/// an older version takes a new one before it next enters the guest, and
/// the G-stage TLBs of every CPU are flushed (the old VMIDs are reused).
#[derive(Debug)]
pub(crate) struct VmidAllocator {
    /// The next VMID to hand out; 0: the current version has none left
    /// (the first allocation ever starts a version too).
    next: usize,
}

/// What [`VmidAllocator::alloc`] gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// The VMID.
    pub(crate) vmid: usize,
    /// Its version.
    pub(crate) version: usize,
    /// A new version started: every CPU must flush its G-stage TLB before
    /// the VMID is published.
    pub(crate) new_version: bool,
}

impl VmidAllocator {
    /// The state at load: the first allocation starts a version.
    pub(crate) const fn new() -> Self {
        Self { next: 0 }
    }

    /// A VMID of `bits` bits (1 or more), in the version after `version`
    /// when the current one (`version`) has run out.
    pub(crate) fn alloc(&mut self, bits: u32, version: usize) -> Allocation {
        let mut a = Allocation {
            vmid: 0,
            version,
            new_version: false,
        };
        if self.next == 0 {
            a.version = version.wrapping_add(1);
            a.new_version = true;
            self.next = 1;
        }
        a.vmid = self.next;
        let mask = 1usize.checked_shl(bits).map_or(usize::MAX, |v| v - 1);
        self.next = self.next.wrapping_add(1) & mask;
        a
    }
}

/// HGATP.VMID of RV64 (bits 57:44, VMIDLEN at most 14).
pub(crate) const HGATP_VMID_MASK: usize = 0x3fff << 44;

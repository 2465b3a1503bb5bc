// SPDX-License-Identifier: GPL-2.0

//! What the harts share: HSM state, IPIs and remote fences (through the
//! CLINT's machine software interrupt), and the timer.

use super::hw::{self, csr_clear, csr_set, csr_write};
use super::{enter_supervisor, MAX_HARTS};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use nacl_fw::sbi::{err, hsm};

/// Work one hart asks of another, bits of [`Hart::pending`].
pub mod work {
    /// Raise the supervisor software interrupt (SBI IPI).
    pub const SSIP: usize = 1 << 0;
    pub const FENCE_I: usize = 1 << 1;
    pub const SFENCE_VMA: usize = 1 << 2;
    pub const HFENCE: usize = 1 << 3;
    pub const FENCES: usize = FENCE_I | SFENCE_VMA | HFENCE;
}

/// A hart, as the others see it.
pub struct Hart {
    /// The HSM state (`nacl_fw::sbi::hsm`).
    pub hsm: AtomicUsize,
    pub start_addr: AtomicUsize,
    pub opaque: AtomicUsize,
    /// [`work`] bits asked of this hart.
    pub pending: AtomicUsize,
    /// Fence requests made of this hart, and the last one it performed.
    pub fence_req: AtomicUsize,
    pub fence_done: AtomicUsize,
}

impl Hart {
    const fn new() -> Hart {
        Hart {
            hsm: AtomicUsize::new(hsm::STOPPED),
            start_addr: AtomicUsize::new(0),
            opaque: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            fence_req: AtomicUsize::new(0),
            fence_done: AtomicUsize::new(0),
        }
    }
}

pub static HARTS: [Hart; MAX_HARTS] = [const { Hart::new() }; MAX_HARTS];
/// Harts of the machine (the device tree's CPUs), set at boot.
pub static NHARTS: AtomicUsize = AtomicUsize::new(1);
/// Whether the CPU has Sstc (the SBI timer then writes `stimecmp`).
pub static SSTC: AtomicBool = AtomicBool::new(false);

/// Performs the work other harts asked of `h`.
pub fn do_pending(h: usize) {
    hw::msip(h, false);
    let me = &HARTS[h];
    // The request count is read before the bits are taken: a request it
    // includes had set its bit before, so the fences below cover it.
    let req = me.fence_req.load(SeqCst);
    let bits = me.pending.swap(0, SeqCst);
    if bits & work::SSIP != 0 {
        csr_set!(mip, 1 << 1);
    }
    if bits & work::FENCE_I != 0 {
        hw::fence_i();
    }
    if bits & work::SFENCE_VMA != 0 {
        hw::sfence_vma_all();
    }
    if bits & work::HFENCE != 0 {
        hw::hfence_gvma_all();
        hw::hfence_vvma(None, None);
    }
    me.fence_done.fetch_max(req, SeqCst);
}

/// The machine software interrupt: another hart asked for work.
pub fn on_msi(h: usize) {
    do_pending(h);
}

/// The machine timer interrupt (SBI timer without Sstc): the supervisor's
/// timer fires.
pub fn on_mti() {
    csr_clear!(mie, 1 << 7);
    csr_set!(mip, 1 << 5);
}

/// SBI `set_timer`.
pub fn set_timer(h: usize, t: u64) {
    if SSTC.load(SeqCst) {
        csr_write!(0x14d, t as usize);
    } else {
        hw::mtimecmp(h, t);
        csr_clear!(mip, 1 << 5);
        csr_set!(mie, 1 << 7);
    }
}

/// The harts an SBI hart mask names, as a bit mask of hart ids; `None` for
/// one that does not exist.
pub fn decode_mask(mask: usize, base: usize) -> Option<usize> {
    let n = NHARTS.load(SeqCst);
    let all = (1usize << n) - 1;
    if base == usize::MAX {
        return Some(all);
    }
    if base >= n {
        return None;
    }
    let m = mask.checked_shl(base as u32)?;
    if m & !all != 0 || m >> base != mask {
        return None;
    }
    Some(m)
}

/// Asks `bits` of every started hart in `harts` (the caller `me` included:
/// done at once) and, for fences, waits until each has performed them.
pub fn send(me: usize, harts: usize, bits: usize) {
    let mut waits = [0usize; MAX_HARTS];
    for h in 0..MAX_HARTS {
        if harts >> h & 1 == 0 || HARTS[h].hsm.load(SeqCst) != hsm::STARTED {
            continue;
        }
        HARTS[h].pending.fetch_or(bits, SeqCst);
        if bits & work::FENCES != 0 {
            waits[h] = HARTS[h].fence_req.fetch_add(1, SeqCst) + 1;
        }
        if h == me {
            do_pending(me);
        } else {
            hw::msip(h, true);
        }
    }
    for (h, &w) in waits.iter().enumerate() {
        while w != 0 && HARTS[h].fence_done.load(SeqCst) < w {
            // Another hart may be waiting for this one.
            do_pending(me);
            core::hint::spin_loop();
        }
    }
}

/// HSM `hart_start`.
pub fn start(target: usize, addr: usize, opaque: usize) -> isize {
    if target >= NHARTS.load(SeqCst) {
        return err::INVALID_PARAM;
    }
    let t = &HARTS[target];
    t.start_addr.store(addr, SeqCst);
    t.opaque.store(opaque, SeqCst);
    if t.hsm
        .compare_exchange(hsm::STOPPED, hsm::START_PENDING, SeqCst, SeqCst)
        .is_err()
    {
        return err::ALREADY_AVAILABLE;
    }
    hw::msip(target, true);
    err::SUCCESS
}

/// A stopped hart: waits in M mode until `hart_start`, then enters S mode.
pub fn wait_for_start(h: usize) -> ! {
    let me = &HARTS[h];
    loop {
        do_pending(h);
        if me.hsm.load(SeqCst) == hsm::START_PENDING {
            let addr = me.start_addr.load(SeqCst);
            let opaque = me.opaque.load(SeqCst);
            me.hsm.store(hsm::STARTED, SeqCst);
            enter_supervisor(h, opaque, addr);
        }
        hw::wfi();
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Nested acceleration (SBI v2.0 chapter 15), all four features, and the
//! traps of the guest a `sync_sret` enters.
//!
//! The host kernel runs in real HS mode, so its H-extension CSRs are real;
//! "emulating" a CSR write means writing the CSR. What makes this an L0
//! hypervisor is the guest: while it runs, `medeleg` and the HS-level bits
//! of `mideleg` are narrowed and `mie.SGEIE` masked, so that every trap of
//! the guest comes to M mode first; the firmware then updates the shared
//! memory as virtualisation turns off and redirects the trap to HS mode (or
//! to VS mode, when `hedeleg` gives it to the guest) exactly as the
//! hardware would have taken it.

use super::console::say;
use super::hw::{self, csr_clear, csr_read, csr_set, csr_write};
use super::sbi::Ret;
use super::Frame;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use nacl_fw::csrs::{self, Access};
use nacl_fw::hfence::{self, Kind, Violation};
use nacl_fw::sbi::{err, nacl as fid, Counters};
use nacl_fw::shmem::{self as layout, SetShmem, SetShmemError};
use nacl_fw::trap::{self, Target};

/// One hart's nested acceleration state.
pub struct Local {
    /// The shared memory's physical address; 0 when there is none.
    pub shmem: usize,
    /// A guest entered by `sync_sret` runs (its traps come to M mode).
    pub in_guest: bool,
    /// `sync_sret` swapped HSTATUS from the autoswap context.
    swapped: bool,
    /// `mie.SGEIE` as it was before the guest ran.
    sgeie: bool,
}

impl Local {
    pub const fn new() -> Local {
        Local {
            shmem: 0,
            in_guest: false,
            swapped: false,
            sgeie: false,
        }
    }
}

/// The known H-extension CSRs this CPU implements, a bit per
/// [`csrs::ALL`] position; found at boot.
pub static IMPLEMENTED: AtomicU64 = AtomicU64::new(0);
/// The firmware's `medeleg` and `mideleg` outside guests.
pub static MEDELEG: AtomicUsize = AtomicUsize::new(0);
pub static MIDELEG: AtomicUsize = AtomicUsize::new(0);
/// RAM `[start, end)`, from the device tree, and the firmware's own part.
pub static RAM_START: AtomicUsize = AtomicUsize::new(0);
pub static RAM_END: AtomicUsize = AtomicUsize::new(0);
pub static FW_START: AtomicUsize = AtomicUsize::new(0);
pub static FW_END: AtomicUsize = AtomicUsize::new(0);
/// Harts whose shared memory is set.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The HS-level interrupts of `mideleg`: SSI, STI, SEI, LCOFI.
const MIDELEG_HS: usize = 1 << 1 | 1 << 5 | 1 << 9 | 1 << 13;
const MIE_SGEIE: usize = 1 << 12;

struct Count {
    set_shmem: AtomicU64,
    sync_csr: AtomicU64,
    sync_hfence: AtomicU64,
    hfence_entries: AtomicU64,
    hfence_ranged: AtomicU64,
    sync_sret: AtomicU64,
    redirects: AtomicU64,
    autoswap: AtomicU64,
    violations: AtomicU64,
    vs_redirects: AtomicU64,
    /// Entries processed, by type (0..=7; 8 for a reserved one).
    by_type: [AtomicU64; 9],
}

static COUNT: Count = Count {
    set_shmem: AtomicU64::new(0),
    sync_csr: AtomicU64::new(0),
    sync_hfence: AtomicU64::new(0),
    hfence_entries: AtomicU64::new(0),
    hfence_ranged: AtomicU64::new(0),
    sync_sret: AtomicU64::new(0),
    redirects: AtomicU64::new(0),
    autoswap: AtomicU64::new(0),
    violations: AtomicU64::new(0),
    vs_redirects: AtomicU64::new(0),
    by_type: [const { AtomicU64::new(0) }; 9],
};

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Prints the counters line, and takes the counters back to zero (each
/// line covers one session: from the first shared memory set to the last
/// one cleared, or to the reset).
pub fn print_counters(when: &str) {
    let take = |c: &AtomicU64| c.swap(0, Relaxed);
    let c = Counters {
        set_shmem: take(&COUNT.set_shmem),
        sync_csr: take(&COUNT.sync_csr),
        sync_hfence: take(&COUNT.sync_hfence),
        hfence_entries: take(&COUNT.hfence_entries),
        hfence_ranged: take(&COUNT.hfence_ranged),
        sync_sret: take(&COUNT.sync_sret),
        redirects: take(&COUNT.redirects),
        autoswap: take(&COUNT.autoswap),
        violations: take(&COUNT.violations),
    };
    let vs = take(&COUNT.vs_redirects);
    let t: [u64; 9] = core::array::from_fn(|i| take(&COUNT.by_type[i]));
    super::console::print_line(format_args!("{c}"));
    say!(
        "({when}; traps given to the guest itself: {vs}; hfence entries by type \
         GVMA={} GVMA_ALL={} GVMA_VMID={} GVMA_VMID_ALL={} VVMA={} VVMA_ALL={} VVMA_ASID={} \
         VVMA_ASID_ALL={} reserved={})",
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
        t[8]
    );
}

/// Counts and reports a violation of the specification.
macro_rules! violation {
    ($($t:tt)*) => {{
        bump(&COUNT.violations);
        say!("violation: {}", format_args!($($t)*));
    }};
}

/// Whether `[addr, addr + len)` is RAM the supervisor owns (not the
/// firmware's).
pub fn ram_range_ok(addr: usize, len: usize) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    addr >= RAM_START.load(Relaxed)
        && end <= RAM_END.load(Relaxed)
        && (end <= FW_START.load(Relaxed) || addr >= FW_END.load(Relaxed))
}

/// The shared memory of a hart.
#[derive(Clone, Copy)]
struct Shmem(usize);

impl Shmem {
    fn rd(self, off: usize) -> u64 {
        // SAFETY: the shared memory was checked to be supervisor RAM of
        // layout::SIZE bytes at set_shmem; `off` is within it.
        unsafe { core::ptr::read_volatile((self.0 + off) as *const u64) }
    }

    fn wr(self, off: usize, v: u64) {
        // SAFETY: as rd.
        unsafe { core::ptr::write_volatile((self.0 + off) as *mut u64, v) }
    }

    fn dirty(self, i: usize) -> bool {
        let (byte, bit) = layout::dirty_bit(i);
        // SAFETY: as rd; the bitmap is inside the scratch space.
        unsafe { core::ptr::read_volatile((self.0 + byte) as *const u8) & bit != 0 }
    }

    fn clear_dirty(self, i: usize) {
        let (byte, bit) = layout::dirty_bit(i);
        let p = (self.0 + byte) as *mut u8;
        // SAFETY: as dirty.
        unsafe { core::ptr::write_volatile(p, core::ptr::read_volatile(p) & !bit) }
    }

    fn csr_word(i: usize) -> usize {
        layout::csr_word_offset(i)
    }
}

fn implemented(pos: usize) -> bool {
    IMPLEMENTED.load(Relaxed) >> pos & 1 != 0
}

/// Finds the known H-extension CSRs this hart implements (boot hart).
pub fn probe_csrs() {
    let mut bits = 0u64;
    for (pos, c) in csrs::ALL.iter().enumerate() {
        if hw::hcsr_probe(c.num) {
            bits |= 1 << pos;
        }
    }
    IMPLEMENTED.store(bits, Relaxed);
    let mut missing = [""; 64];
    let mut n = 0;
    for (pos, c) in csrs::ALL.iter().enumerate() {
        if bits >> pos & 1 == 0 {
            missing[n] = c.name;
            n += 1;
        }
    }
    say!(
        "H-extension CSRs: {} known, missing: {:?}",
        csrs::ALL.len(),
        &missing[..n]
    );
}

/// Synchronises the known CSR at `pos`: writes it from the CSR space if
/// its dirty bit is set, then writes its value back.
fn sync_one(sh: Shmem, pos: usize) {
    let c = csrs::ALL[pos];
    let Some(i) = layout::csr_index(c.num as usize) else {
        return;
    };
    if sh.dirty(i) {
        match c.access {
            Access::ReadWrite => hw::hcsr_write(c.num, sh.rd(Shmem::csr_word(i)) as usize),
            Access::ReadOnly => violation!("sync_csr: {} is read-only but marked dirty", c.name),
        }
        sh.clear_dirty(i);
    }
    sh.wr(Shmem::csr_word(i), hw::hcsr_read(c.num) as u64);
}

/// `sync_csr(-1)`: every implemented CSR in dependency order; a dirty bit
/// of any other index is a violation.
fn sync_all_csrs(sh: Shmem) {
    for pos in 0..csrs::ALL.len() {
        if implemented(pos) {
            sync_one(sh, pos);
        }
    }
    for w in 0..layout::DBITMAP_SIZE / 8 {
        let word = sh.rd(layout::DBITMAP_OFFSET + 8 * w);
        if word == 0 {
            continue;
        }
        for b in 0..64 {
            if word >> b & 1 != 0 {
                let i = 64 * w + b;
                let csr = layout::csr_of_index(i);
                violation!("sync_csr: dirty bit of CSR {csr:#x}, which is not implemented");
                sh.clear_dirty(i);
            }
        }
    }
}

/// Which CSR-space words [`refresh_csrs`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Every known CSR's: the hardware value, 0 for one not implemented
    /// (`set_shmem`).
    All,
    /// The implemented CSRs whose dirty bit is clear (virtualisation
    /// turning off).
    Clean,
}

/// Writes the hardware's CSR values into the CSR space.
fn refresh_csrs(sh: Shmem, which: Refresh) {
    for (pos, c) in csrs::ALL.iter().enumerate() {
        let Some(i) = layout::csr_index(c.num as usize) else {
            continue;
        };
        let v = if implemented(pos) {
            hw::hcsr_read(c.num) as u64
        } else {
            0
        };
        if which == Refresh::All || implemented(pos) && !sh.dirty(i) {
            sh.wr(Shmem::csr_word(i), v);
        }
    }
}

/// Processes nested HFENCE entry `n` if it is pending.
fn sync_hfence_entry(sh: Shmem, n: usize) {
    let w = layout::hfence_entry(n);
    let config = sh.rd(w.config);
    if config & hfence::PENDING == 0 {
        return;
    }
    let d = hfence::decode(
        config,
        sh.rd(w.page_number),
        sh.rd(w.reserved),
        sh.rd(w.page_count),
    );
    bump(&COUNT.hfence_entries);
    bump(&COUNT.by_type[d.kind.map_or(8, |k| k as usize)]);
    for v in Violation::ALL {
        if d.has(v) {
            violation!(
                "hfence entry {n}: {} (config={config:#x} page_number={:#x} reserved={:#x} page_count={:#x})",
                v.describe(),
                d.page_number,
                sh.rd(w.reserved),
                d.page_count
            );
        }
    }
    match d.kind {
        Some(kind) => {
            if !kind.is_all() {
                bump(&COUNT.hfence_ranged);
            }
            do_hfence(kind, &d);
        }
        None => {
            // A reserved type: flush everything rather than nothing.
            hw::hfence_gvma_all();
            hw::hfence_vvma(None, None);
        }
    }
    sh.wr(w.config, config & !hfence::PENDING);
}

/// Range fences longer than this are done as whole-space ones.
const MAX_PAGES: u64 = 64;

fn do_hfence(kind: Kind, d: &hfence::Decoded) {
    let vmid = d.vmid as usize;
    let asid = d.asid as usize;
    let range = d.range().filter(|_| d.page_count <= MAX_PAGES);
    let step = d.page_size().unwrap_or(0) as usize;
    match kind {
        Kind::GvmaAll => hw::hfence_gvma_all(),
        Kind::GvmaVmidAll => hw::hfence_gvma_vmid_all(vmid),
        Kind::Gvma | Kind::GvmaVmid => match range {
            Some((start, end)) => {
                let mut a = start as usize;
                while a < end as usize {
                    if kind == Kind::Gvma {
                        hw::hfence_gvma(a >> 2, 0);
                    } else {
                        hw::hfence_gvma(a >> 2, vmid);
                    }
                    a += step;
                }
            }
            None if kind == Kind::Gvma => hw::hfence_gvma_all(),
            None => hw::hfence_gvma_vmid_all(vmid),
        },
        Kind::VvmaAll | Kind::Vvma | Kind::VvmaAsid | Kind::VvmaAsidAll => {
            // hfence.vvma acts on the VMID in hgatp.
            let hgatp = csr_read!(0x680);
            csr_write!(0x680, vmid << 44);
            let asid = kind.uses_asid().then_some(asid);
            match (kind.is_all(), range) {
                (false, Some((start, end))) => {
                    let mut a = start as usize;
                    while a < end as usize {
                        hw::hfence_vvma(Some(a), asid);
                        a += step;
                    }
                }
                _ => hw::hfence_vvma(None, asid),
            }
            csr_write!(0x680, hgatp);
        }
    }
}

fn sync_all_hfences(sh: Shmem) {
    for n in 0..layout::HFENCE_ENTRIES {
        sync_hfence_entry(sh, n);
    }
}

/// A NACL call.
pub fn call(f: &mut Frame, fid: usize, a: [usize; 6]) -> Ret {
    let sh = Shmem(f.nacl.shmem);
    // The sync calls: counted (sync_sret in sync_sret()), and refused
    // without shared memory.
    let sync = match fid {
        fid::SYNC_CSR => Some(("sync_csr", Some(&COUNT.sync_csr))),
        fid::SYNC_HFENCE => Some(("sync_hfence", Some(&COUNT.sync_hfence))),
        fid::SYNC_SRET => Some(("sync_sret", None)),
        _ => None,
    };
    if let Some((_, Some(c))) = sync {
        bump(c);
    }
    if let (Some((name, _)), 0) = (sync, f.nacl.shmem) {
        violation!("{name} without shared memory");
        return Ret::Value(err::NO_SHMEM, 0);
    }
    match fid {
        fid::PROBE_FEATURE => Ret::Value(err::SUCCESS, (a[0] < fid::FEATURES) as usize),
        fid::SET_SHMEM => set_shmem(f, a[0], a[1], a[2]),
        fid::SYNC_CSR => {
            if a[0] == usize::MAX {
                sync_all_csrs(sh);
                return Ret::Value(err::SUCCESS, 0);
            }
            match csrs::position(a[0]).filter(|&p| implemented(p)) {
                Some(p) if layout::is_h_csr(a[0]) => {
                    sync_one(sh, p);
                    Ret::Value(err::SUCCESS, 0)
                }
                _ => {
                    violation!(
                        "sync_csr of CSR {:#x}, not an implemented H-extension CSR",
                        a[0]
                    );
                    Ret::Value(err::INVALID_PARAM, 0)
                }
            }
        }
        fid::SYNC_HFENCE => {
            if a[0] == usize::MAX {
                sync_all_hfences(sh);
            } else if a[0] < layout::HFENCE_ENTRIES {
                sync_hfence_entry(sh, a[0]);
            } else {
                violation!("sync_hfence of entry {}, beyond the last", a[0]);
                return Ret::Value(err::INVALID_PARAM, 0);
            }
            Ret::Value(err::SUCCESS, 0)
        }
        fid::SYNC_SRET => {
            sync_sret(f, sh);
            Ret::Handled
        }
        _ => Ret::Value(err::NOT_SUPPORTED, 0),
    }
}

fn set_shmem(f: &mut Frame, lo: usize, hi: usize, flags: usize) -> Ret {
    bump(&COUNT.set_shmem);
    match layout::decode_set_shmem(lo as u64, hi as u64, flags as u64) {
        Ok(SetShmem::Disable) => {
            if f.nacl.shmem != 0 {
                f.nacl.shmem = 0;
                if ACTIVE.fetch_sub(1, SeqCst) == 1 {
                    print_counters("the last shared memory was cleared");
                }
            }
            Ret::Value(err::SUCCESS, 0)
        }
        Ok(SetShmem::Enable(addr)) => {
            let addr = addr as usize;
            if !ram_range_ok(addr, layout::SIZE) {
                violation!("set_shmem at {addr:#x}: not supervisor RAM");
                return Ret::Value(err::INVALID_ADDRESS, 0);
            }
            if f.nacl.shmem == 0 {
                ACTIVE.fetch_add(1, SeqCst);
            }
            f.nacl.shmem = addr;
            // The CSR space starts as the hardware's CSRs.
            refresh_csrs(Shmem(addr), Refresh::All);
            Ret::Value(err::SUCCESS, 0)
        }
        Err(e) => {
            violation!("set_shmem({lo:#x}, {hi:#x}, {flags:#x}): {e:?}");
            let code = match e {
                SetShmemError::InvalidParam => err::INVALID_PARAM,
                SetShmemError::InvalidAddress => err::INVALID_ADDRESS,
            };
            Ret::Value(code, 0)
        }
    }
}

/// `sync_sret`: synchronise the CSRs and HFENCEs, restore x1..x31, swap
/// HSTATUS from the autoswap context, then do SRET for the caller.
fn sync_sret(f: &mut Frame, sh: Shmem) {
    bump(&COUNT.sync_sret);
    sync_all_csrs(sh);
    sync_all_hfences(sh);
    if sh.rd(layout::SRET_OFFSET) != 0 {
        violation!(
            "sync_sret: reserved word 0 of the SRET context is {:#x}",
            sh.rd(0)
        );
    }
    for n in 1..32 {
        f.x[n] = sh.rd(layout::sret_gpr_offset(n)) as usize;
    }
    let flags = sh.rd(layout::AUTOSWAP_OFFSET);
    if flags & !layout::AUTOSWAP_FLAG_HSTATUS != 0 {
        violation!("sync_sret: reserved autoswap flags {flags:#x}");
    }
    f.nacl.swapped = flags & layout::AUTOSWAP_FLAG_HSTATUS != 0;
    if f.nacl.swapped {
        bump(&COUNT.autoswap);
        let new = sh.rd(layout::AUTOSWAP_HSTATUS_OFFSET) as usize;
        let old = hw::hcsr_read(0x600);
        hw::hcsr_write(0x600, new);
        sh.wr(layout::AUTOSWAP_HSTATUS_OFFSET, old as u64);
    }
    // SRET, as HS mode would have executed it.
    let r = trap::sret(csr_read!(mstatus) as u64, hw::hcsr_read(0x600) as u64);
    hw::hcsr_write(0x600, r.hstatus as usize);
    csr_write!(mepc, csr_read!(sepc));
    if r.virt {
        // The guest's traps come to M mode.
        f.nacl.in_guest = true;
        f.nacl.sgeie = csr_read!(mie) & MIE_SGEIE != 0;
        csr_clear!(mie, MIE_SGEIE);
        csr_write!(medeleg, 0);
        csr_write!(mideleg, MIDELEG.load(Relaxed) & !MIDELEG_HS);
    }
    csr_write!(mstatus, r.mstatus as usize);
}

/// A trap of the guest `sync_sret` entered, in M mode.
pub fn guest_trap(f: &mut Frame, mcause: u64) {
    let mstatus = csr_read!(mstatus) as u64;
    let mepc = csr_read!(mepc);
    let mtval = csr_read!(mtval);
    let medeleg = MEDELEG.load(Relaxed) as u64;
    if mstatus & trap::status::MPV == 0 {
        super::fatal(f, mcause, "trap from V=0 while a guest runs", mepc);
    }
    if trap::target(mcause, medeleg, hw::hcsr_read(0x602) as u64) == Target::Vs {
        // The guest's own trap: virtualisation stays on.
        bump(&COUNT.vs_redirects);
        let r = trap::to_vs(
            mstatus,
            hw::hcsr_read(0x200) as u64,
            mcause,
            hw::hcsr_read(0x205) as u64,
        );
        hw::hcsr_write(0x241, mepc);
        hw::hcsr_write(0x242, mcause as usize);
        hw::hcsr_write(0x243, mtval);
        hw::hcsr_write(0x200, r.vsstatus as usize);
        csr_write!(mstatus, r.mstatus as usize);
        csr_write!(mepc, r.pc as usize);
        return;
    }
    bump(&COUNT.redirects);
    let r = trap::to_hs(
        mstatus,
        hw::hcsr_read(0x600) as u64,
        mcause,
        csr_read!(stvec) as u64,
    );
    csr_write!(scause, mcause as usize);
    csr_write!(stval, mtval);
    csr_write!(sepc, mepc);
    hw::hcsr_write(0x643, csr_read!(0x34b));
    hw::hcsr_write(0x64a, csr_read!(0x34a));
    hw::hcsr_write(0x600, r.hstatus as usize);
    // Virtualisation turns off: the firmware's delegation comes back.
    f.nacl.in_guest = false;
    csr_write!(medeleg, medeleg as usize);
    csr_write!(mideleg, MIDELEG.load(Relaxed));
    if f.nacl.sgeie {
        csr_set!(mie, MIE_SGEIE);
    }
    let sh = Shmem(f.nacl.shmem);
    if f.nacl.swapped && f.nacl.shmem != 0 {
        f.nacl.swapped = false;
        let guest = hw::hcsr_read(0x600);
        hw::hcsr_write(0x600, sh.rd(layout::AUTOSWAP_HSTATUS_OFFSET) as usize);
        sh.wr(layout::AUTOSWAP_HSTATUS_OFFSET, guest as u64);
    }
    if f.nacl.shmem != 0 {
        refresh_csrs(sh, Refresh::Clean);
    }
    csr_write!(mstatus, r.mstatus as usize);
    csr_write!(mepc, r.pc as usize);
}

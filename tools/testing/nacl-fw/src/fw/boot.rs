// SPDX-License-Identifier: GPL-2.0

//! Boot: the boot hart sets the machine up (device tree, APLIC) and enters
//! the kernel; the others set themselves up and wait for HSM `hart_start`.

use super::console::say;
use super::hart::{self, HARTS, NHARTS, SSTC};
use super::hw::{self, csr_probe, csr_read, csr_set, csr_write, virt};
use super::nacl::{self, FW_END, FW_START, MEDELEG, MIDELEG, RAM_END, RAM_START};
use super::{enter_supervisor, own_frame, MAX_HARTS};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use nacl_fw::fdt;
use nacl_fw::sbi::hsm;

/// QEMU's `fw_dynamic_info` (the OpenSBI convention QEMU follows).
#[repr(C)]
struct DynamicInfo {
    magic: u64,
    version: u64,
    next_addr: u64,
    next_mode: u64,
    options: u64,
    boot_hart: u64,
}
const DYNAMIC_MAGIC: u64 = 0x4942_534f;

static BOOT_HART: AtomicUsize = AtomicUsize::new(usize::MAX);
static READY: AtomicBool = AtomicBool::new(false);

/// The firmware's memory: 2 MiB at 0x80000000, all of it below the kernel.
const FW_BASE: usize = 0x8000_0000;
const FW_SIZE: usize = 0x20_0000;

/// Exceptions the firmware gives to HS mode: every one but the ecalls from
/// HS and M mode.
const MEDELEG_WANT: usize = 0x1ff | 1 << 10 | 1 << 12 | 1 << 13 | 1 << 15 | 0x3f << 18;
/// SSI, STI, SEI, LCOFI.
const MIDELEG_WANT: usize = 1 << 1 | 1 << 5 | 1 << 9 | 1 << 13;
/// menvcfg: STCE, PBMTE, ADUE, CBZE, CBCFE, CBIE = 0b11.
const MENVCFG_WANT: usize = 1 << 63 | 1 << 62 | 1 << 61 | 1 << 7 | 1 << 6 | 3 << 4;
/// mstateen0: SE0, ENVCFG, CSRIND, AIA, IMSIC, CONTEXT.
const MSTATEEN0_WANT: usize = 1 << 63 | 1 << 62 | 1 << 60 | 1 << 59 | 1 << 58 | 1 << 57;

/// Every hart's first Rust code (from `_start`).
pub extern "C" fn start(hartid: usize, fdt: usize, info: usize) -> ! {
    if BOOT_HART
        .compare_exchange(usize::MAX, hartid, SeqCst, SeqCst)
        .is_ok()
    {
        boot_hart(hartid, fdt, info)
    }
    while !READY.load(SeqCst) {
        core::hint::spin_loop();
    }
    hart_init(hartid, false);
    hart::wait_for_start(hartid)
}

/// What each hart sets up for itself.
fn hart_init(h: usize, report: bool) {
    own_frame().hartid = h;
    // PMP: the firmware's 2 MiB closed to S and U mode, the rest open.
    csr_write!(pmpaddr0, (FW_BASE >> 2) | ((FW_SIZE >> 3) - 1));
    csr_write!(pmpaddr1, usize::MAX >> 10);
    csr_write!(pmpcfg0, 0x18 | 0x1f << 8);
    csr_write!(medeleg, MEDELEG_WANT);
    csr_write!(mideleg, MIDELEG_WANT);
    csr_write!(mcounteren, 0xffff_ffff);
    csr_write!(menvcfg, MENVCFG_WANT);
    let stateen = csr_probe!(0x30c);
    if stateen {
        csr_write!(0x30c, MSTATEEN0_WANT);
    }
    // Smrnmi: take the hart out of its NMI-only state.
    if csr_probe!(0x744) {
        csr_set!(0x744, 1 << 3);
    }
    // Zkr: the seed CSR for S mode (mseccfg.SSEED), as the kernel expects
    // when the ISA string lists Zkr.
    if csr_probe!(0x747) {
        csr_set!(0x747, 1 << 9);
    }
    csr_write!(mie, 1 << 3);
    if report {
        MEDELEG.store(csr_read!(medeleg), SeqCst);
        MIDELEG.store(csr_read!(mideleg), SeqCst);
        SSTC.store(csr_probe!(0x14d), SeqCst);
        say!(
            "hart {h}: medeleg={:#x} mideleg={:#x} menvcfg={:#x} mstateen0={:#x} mcounteren={:#x} sstc={}",
            csr_read!(medeleg),
            csr_read!(mideleg),
            csr_read!(menvcfg),
            if stateen { csr_read!(0x30c) } else { 0 },
            csr_read!(mcounteren),
            SSTC.load(SeqCst)
        );
    }
}

fn boot_hart(h: usize, fdt_addr: usize, info: usize) -> ! {
    say!("an M-mode firmware with SBI nested acceleration (a test device), boot hart {h}");
    // SAFETY: QEMU's reset vector passes its fw_dynamic_info in a2.
    let di = unsafe { core::ptr::read_volatile(info as *const DynamicInfo) };
    if di.magic != DYNAMIC_MAGIC || di.next_mode != 1 {
        say!(
            "no usable fw_dynamic_info at {info:#x} (magic {:#x}, mode {})",
            di.magic,
            di.next_mode
        );
        hw::test_device(0x1_3333);
    }
    let next = di.next_addr as usize;
    // SAFETY: QEMU's device tree; its header says how big it is.
    let total = unsafe { fdt::header(core::slice::from_raw_parts(fdt_addr as *const u8, 40)) }
        .map(|h| h.totalsize)
        .unwrap_or(0);
    // SAFETY: as above; room for the edits below is checked against RAM.
    let facts = unsafe { fdt::facts(core::slice::from_raw_parts(fdt_addr as *const u8, total)) };
    let Ok(facts) = facts else {
        say!("device tree at {fdt_addr:#x}: {facts:?}");
        hw::test_device(0x1_3333)
    };
    let (ram_start, ram_size) = facts.ram.unwrap_or((FW_BASE as u64, 0));
    let ram_end = (ram_start + ram_size) as usize;
    RAM_START.store(ram_start as usize, SeqCst);
    RAM_END.store(ram_end, SeqCst);
    FW_START.store(FW_BASE, SeqCst);
    FW_END.store(FW_BASE + FW_SIZE, SeqCst);
    NHARTS.store(facts.cpus.clamp(1, MAX_HARTS), SeqCst);
    if next < FW_BASE + FW_SIZE {
        say!("the kernel at {next:#x} overlaps the firmware's 2 MiB");
        hw::test_device(0x1_3333);
    }
    // The device tree: reserve the firmware's memory, hide the M-level
    // interrupt controllers (as OpenSBI does), so that Linux neither uses
    // the firmware's memory nor re-programs the root APLIC domain.
    let cap = (ram_end.saturating_sub(fdt_addr)).min(total + 4096);
    // SAFETY: the tree and the page after it are RAM QEMU gave the tree.
    let b = unsafe { core::slice::from_raw_parts_mut(fdt_addr as *mut u8, cap) };
    let r = fdt::add_memreserve(b, cap, FW_BASE as u64, FW_SIZE as u64);
    let m_aplic = fdt::nop_property(b, b"interrupt-controller@c000000", b"compatible");
    let m_imsic = fdt::nop_property(b, b"interrupt-controller@24000000", b"compatible");
    say!(
        "RAM {ram_start:#x}+{ram_size:#x}, {} harts, kernel at {next:#x}, device tree at {fdt_addr:#x}: \
         memreserve {r:?}, M-level APLIC hidden {m_aplic:?}, M-level IMSIC hidden {m_imsic:?}",
        facts.cpus
    );
    aplic_init();
    hart_init(h, true);
    nacl::probe_csrs();
    HARTS[h].hsm.store(hsm::STARTED, SeqCst);
    READY.store(true, SeqCst);
    enter_supervisor(h, fdt_addr, next)
}

/// The root APLIC domain: the MSI addresses of both levels' IMSICs (one
/// hart-index bit for two harts, three guest-index bits for the S level's
/// five guest files), and every source delegated to the S domain (child
/// 0).
fn aplic_init() {
    let a = virt::APLIC_M;
    let nharts = NHARTS.load(SeqCst);
    let lhxw = usize::BITS - (nharts.max(2) - 1).leading_zeros();
    hw::write32(a + 0x1bc0, (virt::IMSIC_M >> 12) as u32);
    hw::write32(a + 0x1bc4, lhxw << 12);
    hw::write32(a + 0x1bc8, (virt::IMSIC_S >> 12) as u32);
    hw::write32(a + 0x1bcc, 3 << 20 | lhxw << 12);
    for i in 1..=virt::APLIC_SOURCES {
        hw::write32(a + 4 * i, 1 << 10);
    }
    hw::write32(a, 1 << 8);
}

// SPDX-License-Identifier: GPL-2.0

//! The firmware: entry, trap vector and trap dispatch.
//!
//! - [`boot`]: the machine set-up, each hart's and the boot hart's.
//! - [`hart`]: the harts' shared state: HSM, IPIs and remote fences.
//! - [`sbi`]: the SBI calls of the host kernel.
//! - [`nacl`]: nested acceleration, and the guest's traps while a
//!   `sync_sret` runs it.

pub mod boot;
pub mod console;
pub mod hart;
pub mod hw;
pub mod nacl;
pub mod sbi;

use console::say;
use hw::{csr_read, csr_write};
use nacl_fw::trap::INTERRUPT;

/// Harts the firmware serves (hart ids below this).
pub const MAX_HARTS: usize = 8;
const STACK_SIZE: usize = 16 * 1024;

/// One hart's trap frame and the state only that hart touches. `mscratch`
/// points at it; the trap vector saves x1..x31 in `x` and runs the handler
/// on `stack_top`.
#[repr(C, align(512))]
pub struct Frame {
    /// x0..x31 of the interrupted context (x0 unused).
    pub x: [usize; 32],
    /// This hart's M-mode stack.
    pub stack_top: usize,
    /// This hart's id.
    pub hartid: usize,
    /// Nested acceleration state.
    pub nacl: nacl::Local,
}

/// Argument registers.
pub const A0: usize = 10;
pub const A1: usize = 11;
pub const A6: usize = 16;
pub const A7: usize = 17;

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; MAX_HARTS]);

/// The frames, one per hart; each hart reaches its own through `mscratch`.
#[allow(dead_code)] // Reached by the entry code, through its symbol.
struct Frames(core::cell::UnsafeCell<[Frame; MAX_HARTS]>);
// SAFETY: each hart touches only its own frame (through mscratch).
unsafe impl Sync for Frames {}

#[no_mangle]
static mut NACL_FW_STACKS: Stacks = Stacks([[0; STACK_SIZE]; MAX_HARTS]);
#[no_mangle]
static NACL_FW_FRAMES: Frames = Frames(core::cell::UnsafeCell::new(
    [const {
        Frame {
            x: [0; 32],
            stack_top: 0,
            hartid: 0,
            nacl: nacl::Local::new(),
        }
    }; MAX_HARTS],
));

const FRAME_SHIFT: usize = 9;
const _: () = assert!(core::mem::size_of::<Frame>() == 1 << FRAME_SHIFT);
const STACK_SHIFT: usize = 14;
const _: () = assert!(STACK_SIZE == 1 << STACK_SHIFT);
const STACK_TOP_OFF: usize = 32 * 8;
const HARTID_OFF: usize = 33 * 8;

// Entry: a0 = hart id, a1 = FDT, a2 = fw_dynamic_info. Every hart sets up
// its frame, stack, mscratch and mtvec, then enters `boot::start`. Harts
// beyond MAX_HARTS park.
core::arch::global_asm!(
    ".section .text.entry, \"ax\"",
    ".globl _start",
    "_start:",
    "csrw mie, zero",
    "li t0, {max}",
    "bgeu a0, t0, 2f",
    "la t0, NACL_FW_STACKS",
    "addi t1, a0, 1",
    "slli t1, t1, {stack}",
    "add sp, t0, t1",
    "la t0, NACL_FW_FRAMES",
    "slli t1, a0, {fsize}",
    "add t0, t0, t1",
    "sd sp, {stop}(t0)",
    "sd a0, {hid}(t0)",
    "csrw mscratch, t0",
    "la t0, nacl_fw_trap",
    "csrw mtvec, t0",
    "call {start}",
    "2:",
    "wfi",
    "j 2b",
    max = const MAX_HARTS,
    stack = const STACK_SHIFT,
    fsize = const FRAME_SHIFT,
    stop = const STACK_TOP_OFF,
    hid = const HARTID_OFF,
    start = sym boot::start,
);

// The trap vector: all traps come here (direct mode). x1..x31 go to the
// frame, the handler runs on the hart's M stack with a0 = the frame, and
// x1..x31 come back from the frame (the handler may have changed them).
core::arch::global_asm!(
    ".section .text",
    ".align 4",
    ".globl nacl_fw_trap",
    "nacl_fw_trap:",
    "csrrw t6, mscratch, t6",
    ".irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "sd x\\n, (\\n * 8)(t6)",
    ".endr",
    "csrr t5, mscratch",
    "sd t5, (31 * 8)(t6)",
    "csrw mscratch, t6",
    "mv a0, t6",
    "ld sp, {stop}(t6)",
    "call {handler}",
    "csrr t6, mscratch",
    ".irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "ld x\\n, (\\n * 8)(t6)",
    ".endr",
    "ld t6, (31 * 8)(t6)",
    "mret",
    // The probing vector of csr_probe!: skip the 4-byte instruction, flag
    // the trap in t1.
    ".align 4",
    ".globl nacl_fw_probe_vector",
    "nacl_fw_probe_vector:",
    "csrr t0, mepc",
    "addi t0, t0, 4",
    "csrw mepc, t0",
    "li t1, 1",
    "mret",
    stop = const STACK_TOP_OFF,
    handler = sym trap_handler,
);

extern "C" {
    #[link_name = "nacl_fw_probe_vector"]
    pub fn probe_vector();
}

/// Leaves M mode for S mode at `addr` with a0 = `a0`, a1 = `a1`, V = 0,
/// `sstatus.SIE` = 0, translation off. The M stack is abandoned: the next
/// trap starts on it afresh.
pub fn enter_supervisor(a0: usize, a1: usize, addr: usize) -> ! {
    csr_write!(satp, 0);
    // SAFETY: mret into S mode at the address the caller was given.
    unsafe {
        core::arch::asm!(
            "csrw mepc, {addr}",
            "li t0, (3 << 11) | (1 << 39) | (1 << 7) | (1 << 1) | (1 << 5) | (1 << 8)",
            "csrc mstatus, t0",
            "li t0, (1 << 11)",
            "csrs mstatus, t0",
            "mret",
            addr = in(reg) addr,
            in("a0") a0,
            in("a1") a1,
            options(noreturn)
        )
    }
}

/// The M-mode trap handler (`nacl_fw_trap`).
extern "C" fn trap_handler(f: &mut Frame) {
    let mcause = csr_read!(mcause) as u64;
    if mcause & INTERRUPT != 0 {
        match mcause & 0x3f {
            3 => hart::on_msi(f.hartid),
            7 => hart::on_mti(),
            1 | 5 | 9 | 13 if f.nacl.in_guest => nacl::guest_trap(f, mcause),
            code => fatal(f, mcause, "unexpected interrupt", code as usize),
        }
        return;
    }
    if f.nacl.in_guest {
        nacl::guest_trap(f, mcause);
        return;
    }
    match mcause {
        9 => sbi::call(f),
        _ => fatal(f, mcause, "unexpected exception", csr_read!(mtval)),
    }
}

/// A trap the firmware cannot handle: says what and ends QEMU with a
/// failure.
pub fn fatal(f: &Frame, mcause: u64, what: &str, detail: usize) -> ! {
    say!(
        "FATAL on hart {}: {} mcause={:#x} mepc={:#x} detail={:#x} mstatus={:#x}",
        f.hartid,
        what,
        mcause,
        csr_read!(mepc),
        detail,
        csr_read!(mstatus)
    );
    hw::test_device(0x1_3333)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("panic: {}", info);
    hw::test_device(0x1_3333)
}

/// The frame of the calling hart (outside the trap handler, which gets it
/// as an argument).
pub fn own_frame() -> &'static mut Frame {
    let p = csr_read!(mscratch) as *mut Frame;
    // SAFETY: mscratch holds this hart's frame, set by _start; only this
    // hart uses it, and not while the trap handler holds it.
    unsafe { &mut *p }
}

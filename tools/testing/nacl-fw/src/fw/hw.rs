// SPDX-License-Identifier: GPL-2.0

//! The hardware: CSRs by number, the QEMU virt machine's devices, fences.

use core::arch::asm;

/// Reads CSR `$n` (a number or a name the assembler knows).
macro_rules! csr_read {
    ($n:tt) => {{
        let v: usize;
        // SAFETY: reading a CSR has no side effect on memory.
        unsafe { core::arch::asm!(concat!("csrr {0}, ", stringify!($n)), out(reg) v) };
        v
    }};
}

/// Writes CSR `$n`.
macro_rules! csr_write {
    ($n:tt, $v:expr) => {{
        let v: usize = $v;
        // SAFETY: M-mode CSR write; the callers know what each one does.
        unsafe { core::arch::asm!(concat!("csrw ", stringify!($n), ", {0}"), in(reg) v) };
    }};
}

/// Sets bits of CSR `$n`.
macro_rules! csr_set {
    ($n:tt, $v:expr) => {{
        let v: usize = $v;
        // SAFETY: as csr_write.
        unsafe { core::arch::asm!(concat!("csrs ", stringify!($n), ", {0}"), in(reg) v) };
    }};
}

/// Clears bits of CSR `$n`.
macro_rules! csr_clear {
    ($n:tt, $v:expr) => {{
        let v: usize = $v;
        // SAFETY: as csr_write.
        unsafe { core::arch::asm!(concat!("csrc ", stringify!($n), ", {0}"), in(reg) v) };
    }};
}

/// Whether CSR `$n` exists: reads it under the probing trap vector, which
/// skips the instruction and flags it. Only during boot, before any trap
/// state is live (the probe trap rewrites `mepc` and `mstatus.MPP`).
macro_rules! csr_probe {
    ($n:tt) => {{
        let trapped: usize;
        // SAFETY: the probing vector only touches t0 and t1, both declared.
        unsafe {
            core::arch::asm!(
                "csrr {old}, mtvec",
                "csrw mtvec, {vec}",
                "li t1, 0",
                concat!("csrr t0, ", stringify!($n)),
                "csrw mtvec, {old}",
                old = out(reg) _,
                vec = in(reg) crate::fw::probe_vector as *const () as usize,
                out("t0") _,
                out("t1") trapped,
            )
        };
        trapped == 0
    }};
}

pub(crate) use {csr_clear, csr_probe, csr_read, csr_set, csr_write};

/// Reads, writes and probes a known H-extension CSR by number.
macro_rules! hcsr_fns {
    ($(($num:literal, $name:literal, $acc:ident)),* $(,)?) => {
        /// Reads H-extension CSR `n` (0 for one the firmware does not know).
        pub fn hcsr_read(n: u16) -> usize {
            match n {
                $($num => csr_read!($num),)*
                _ => 0,
            }
        }

        /// Writes H-extension CSR `n`; read-only and unknown ones are left.
        pub fn hcsr_write(n: u16, v: usize) {
            $(hcsr_write_one!($acc, $num, n, v);)*
        }

        /// Whether this hart implements H-extension CSR `n`.
        pub fn hcsr_probe(n: u16) -> bool {
            match n {
                $($num => csr_probe!($num),)*
                _ => false,
            }
        }
    };
}

macro_rules! hcsr_write_one {
    (ReadWrite, $num:literal, $n:ident, $v:ident) => {
        if $n == $num {
            csr_write!($num, $v);
        }
    };
    (ReadOnly, $num:literal, $n:ident, $v:ident) => {};
}

nacl_fw::for_each_hcsr!(hcsr_fns);

/// `hfence.gvma rs1, rs2`.
#[inline(always)]
pub fn hfence_gvma(gpa_shr2: usize, vmid: usize) {
    // SAFETY: a TLB fence.
    unsafe { asm!(".insn r 0x73, 0, 0x31, x0, {0}, {1}", in(reg) gpa_shr2, in(reg) vmid) };
}

/// `hfence.gvma x0, x0`.
#[inline(always)]
pub fn hfence_gvma_all() {
    // SAFETY: a TLB fence.
    unsafe { asm!(".insn r 0x73, 0, 0x31, x0, x0, x0") };
}

/// `hfence.gvma x0, rs2`.
#[inline(always)]
pub fn hfence_gvma_vmid_all(vmid: usize) {
    // SAFETY: a TLB fence.
    unsafe { asm!(".insn r 0x73, 0, 0x31, x0, x0, {0}", in(reg) vmid) };
}

/// `hfence.vvma rs1, rs2` (`rs1`/`rs2` x0 when `None`), for the VMID in
/// `hgatp`.
#[inline(always)]
pub fn hfence_vvma(va: Option<usize>, asid: Option<usize>) {
    // SAFETY: TLB fences.
    unsafe {
        match (va, asid) {
            (None, None) => asm!(".insn r 0x73, 0, 0x11, x0, x0, x0"),
            (None, Some(a)) => asm!(".insn r 0x73, 0, 0x11, x0, x0, {0}", in(reg) a),
            (Some(v), None) => asm!(".insn r 0x73, 0, 0x11, x0, {0}, x0", in(reg) v),
            (Some(v), Some(a)) => asm!(".insn r 0x73, 0, 0x11, x0, {0}, {1}", in(reg) v, in(reg) a),
        }
    }
}

/// `sfence.vma x0, x0`.
#[inline(always)]
pub fn sfence_vma_all() {
    // SAFETY: a TLB fence.
    unsafe { asm!("sfence.vma x0, x0") };
}

/// `fence.i`.
#[inline(always)]
pub fn fence_i() {
    // SAFETY: an instruction-fetch fence.
    unsafe { asm!("fence.i") };
}

/// `wfi`.
#[inline(always)]
pub fn wfi() {
    // SAFETY: waits for an interrupt; M-mode interrupts are off, so none is taken.
    unsafe { asm!("wfi") };
}

/// An MMIO register of 32 bits.
fn mmio32(addr: usize) -> *mut u32 {
    addr as *mut u32
}

/// Writes a 32-bit device register.
pub fn write32(addr: usize, v: u32) {
    // SAFETY: `addr` is a device register of the virt machine (callers).
    unsafe { core::ptr::write_volatile(mmio32(addr), v) }
}

/// The virt machine's devices.
pub mod virt {
    pub const UART: usize = 0x1000_0000;
    pub const TEST: usize = 0x10_0000;
    pub const CLINT: usize = 0x200_0000;
    pub const MSIP: usize = CLINT;
    pub const MTIMECMP: usize = CLINT + 0x4000;
    pub const APLIC_M: usize = 0xc00_0000;
    pub const IMSIC_M: usize = 0x2400_0000;
    pub const IMSIC_S: usize = 0x2800_0000;
    /// APLIC sources of the virt machine.
    pub const APLIC_SOURCES: usize = 96;
}

/// Raises or clears hart `h`'s machine software interrupt.
pub fn msip(h: usize, on: bool) {
    write32(virt::MSIP + 4 * h, on as u32);
}

/// Programs hart `h`'s `mtimecmp`.
pub fn mtimecmp(h: usize, t: u64) {
    // SAFETY: the CLINT's 64-bit comparator of hart `h`.
    unsafe { core::ptr::write_volatile((virt::MTIMECMP + 8 * h) as *mut u64, t) }
}

/// Ends QEMU through the `sifive,test` device: pass, fail (with code 1) or
/// reset.
pub fn test_device(code: u32) -> ! {
    write32(virt::TEST, code);
    loop {
        wfi();
    }
}

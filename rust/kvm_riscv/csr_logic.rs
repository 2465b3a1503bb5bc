// SPDX-License-Identifier: GPL-2.0

//! The encoding of the Zicsr instructions that the CSR accessors of `csr.rs`
//! emit (RISC-V unprivileged ISA, "Zicsr"): I-type, opcode SYSTEM, the CSR
//! number in the 12-bit immediate, the operation in funct3. The accessors
//! write them as `.insn i SYSTEM, funct3, rd, rs1, imm` from these values.
//! Only `core` is used: host `cargo test` checks them against known words.

/// The SYSTEM major opcode.
pub(crate) const SYSTEM: u32 = 0x73;

/// The register-operand CSR operations (funct3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum CsrOp {
    /// `csrrw`: write rs1, old value to rd.
    Rw = 1,
    /// `csrrs`: set the bits of rs1, old value to rd (`csrr` with rs1 = x0).
    Rs = 2,
    /// `csrrc`: clear the bits of rs1, old value to rd.
    Rc = 3,
}

/// funct3 of `op`, as `.insn` takes it.
pub(crate) const fn funct3(op: CsrOp) -> u32 {
    // CAST: the discriminant of a `repr(u32)` enum.
    op as u32
}

/// The immediate `.insn i` takes for CSR `csr`: the 12-bit number read as a
/// signed value (numbers from 0x800 up are negative).
pub(crate) const fn csr_imm(csr: u16) -> i32 {
    // CAST: u16 to i32, widening.
    ((csr as i32 & 0xfff) << 20) >> 20
}

/// The instruction word of `op rd, csr, rs1` (registers by number); the host
/// tests compare it with the assembler's words.
#[allow(dead_code)]
pub(crate) const fn encode(op: CsrOp, csr: u16, rd: u32, rs1: u32) -> u32 {
    // CAST: the immediate's bits as they are, cut to 12.
    ((csr_imm(csr) as u32 & 0xfff) << 20)
        | ((rs1 & 0x1f) << 15)
        | (funct3(op) << 12)
        | ((rd & 0x1f) << 7)
        | SYSTEM
}

/// The hypervisor fences and the Svinval instructions (privileged ISA,
/// "Hypervisor Memory-Management Fence Instructions" and "Svinval"): R-type,
/// opcode SYSTEM, funct3 0, rd x0, told apart by funct7 (and, for the two
/// Svinval ordering fences, by rs2). `csr.rs` emits them as
/// `.insn r SYSTEM, 0, funct7, x0, rs1, rs2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Fence {
    /// `hfence.vvma vaddr, asid`.
    HfenceVvma = 0x11,
    /// `hinval.vvma vaddr, asid`.
    HinvalVvma = 0x13,
    /// `hfence.gvma gaddr >> 2, vmid`.
    HfenceGvma = 0x31,
    /// `hinval.gvma gaddr >> 2, vmid`.
    HinvalGvma = 0x33,
    /// `sfence.w.inval` (rs2 = 0) and `sfence.inval.ir` (rs2 = 1).
    SfenceInval = 0x0c,
}

/// funct7 of `f`, as `.insn r` takes it.
pub(crate) const fn funct7(f: Fence) -> u32 {
    // CAST: the discriminant of a `repr(u32)` enum.
    f as u32
}

/// The instruction word of fence `f` with operands `rs1`, `rs2` (registers
/// by number); the host tests compare it with the specification's words.
#[allow(dead_code)]
pub(crate) const fn encode_fence(f: Fence, rs1: u32, rs2: u32) -> u32 {
    (funct7(f) << 25) | ((rs2 & 0x1f) << 20) | ((rs1 & 0x1f) << 15) | SYSTEM
}

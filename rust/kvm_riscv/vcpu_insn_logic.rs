// SPDX-License-Identifier: GPL-2.0

//! Decoding of the guest instructions KVM emulates: the SYSTEM-opcode ones
//! behind a virtual-instruction trap (CSR accesses, WFI, WRS.NTO) and the
//! loads and stores behind a G-stage fault on MMIO, 32-bit or compressed,
//! read from the guest or given by HTINST. Encodings: the RISC-V unprivileged
//! specification ("RV32I/RV64I Base Integer Instruction Set", "Zicsr",
//! "C Standard Extension") and the privileged one ("Transformed Instruction
//! or Pseudoinstruction for mtinst or htinst").
//!
//! Only `core` is used: host `cargo test` covers every form. The forms are
//! the ones upstream `vcpu_insn.c` emulates, no more: the Zcb compressed
//! loads and stores are not among them and stay unsupported.

/// The length in bytes of the instruction whose low bits are `insn`.
pub(crate) const fn insn_len(insn: usize) -> usize {
    if insn & 3 == 3 {
        4
    } else {
        2
    }
}

const fn field(insn: usize, shift: u32, bits: u32) -> usize {
    (insn >> shift) & ((1 << bits) - 1)
}

/// The rd field (bits 11:7), also rs1' base of some compressed forms.
pub(crate) const fn rd(insn: usize) -> usize {
    field(insn, 7, 5)
}

const fn rs1(insn: usize) -> usize {
    field(insn, 15, 5)
}

const fn rs2(insn: usize) -> usize {
    field(insn, 20, 5)
}

/// rs2' of the CL/CS formats: x8..x15.
const fn rs2_short(insn: usize) -> usize {
    8 + field(insn, 2, 3)
}

/// rs2 of the CSS format (bits 6:2).
const fn rs2_css(insn: usize) -> usize {
    field(insn, 2, 5)
}

const MASK_FUNCT3: usize = 0x707f;
const MASK_C_OP: usize = 0xe003;
const OPCODE_SYSTEM: usize = 0x73;
const INSN_WFI: usize = 0x1050_0073;
const INSN_WRS_NTO: usize = 0x00d0_0073;

/// The six Zicsr instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CsrOp {
    Rw,
    Rs,
    Rc,
    Rwi,
    Rsi,
    Rci,
}

/// A decoded CSR access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CsrInsn {
    pub(crate) op: CsrOp,
    /// The CSR number: the instruction's bits above rs1, as upstream takes
    /// them (`insn >> 20`).
    pub(crate) csr: u32,
    pub(crate) rd: usize,
    /// rs1, or the 5-bit immediate of the `i` forms.
    pub(crate) rs1: usize,
}

impl CsrInsn {
    /// Does the access read rs1 (as opposed to its immediate field)?
    pub(crate) fn reads_rs1(&self) -> bool {
        matches!(self.op, CsrOp::Rw | CsrOp::Rs | CsrOp::Rc)
    }

    /// `(new_value, write_mask)` of the access, given rs1's value: the
    /// CSR becomes `(old & !write_mask) | (new_value & write_mask)`.
    pub(crate) fn operands(&self, rs1_val: usize) -> (usize, usize) {
        let imm = self.rs1;
        match self.op {
            CsrOp::Rw => (rs1_val, usize::MAX),
            CsrOp::Rs => (usize::MAX, rs1_val),
            CsrOp::Rc => (0, rs1_val),
            CsrOp::Rwi => (imm, usize::MAX),
            CsrOp::Rsi => (usize::MAX, imm),
            CsrOp::Rci => (0, imm),
        }
    }
}

/// A SYSTEM-opcode instruction KVM emulates after a virtual-instruction
/// trap, or `Other`: one it does not, which the guest gets as illegal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SystemInsn {
    Csr(CsrInsn),
    Wfi,
    WrsNto,
    Other,
}

/// Decodes a SYSTEM-opcode instruction.
pub(crate) fn decode_system(insn: usize) -> SystemInsn {
    let op = match insn & MASK_FUNCT3 {
        0x1073 => Some(CsrOp::Rw),
        0x2073 => Some(CsrOp::Rs),
        0x3073 => Some(CsrOp::Rc),
        0x5073 => Some(CsrOp::Rwi),
        0x6073 => Some(CsrOp::Rsi),
        0x7073 => Some(CsrOp::Rci),
        _ => None,
    };
    if let Some(op) = op {
        return SystemInsn::Csr(CsrInsn {
            op,
            // CAST: instruction words (STVAL, HTINST, guest memory) have 32
            // bits, so insn >> 20 is at most 12 bits wide; u32 would only
            // cut bits 52 and up.
            csr: (insn >> 20) as u32,
            rd: rd(insn),
            rs1: rs1(insn),
        });
    }
    match insn & 0xffff_ffff {
        INSN_WFI => SystemInsn::Wfi,
        INSN_WRS_NTO => SystemInsn::WrsNto,
        _ => SystemInsn::Other,
    }
}

/// What to do with the instruction of a virtual-instruction trap (STVAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VirtualInsn {
    /// STVAL is 0: the instruction must be read from the guest, then
    /// classified again with `fetched` set.
    Fetch,
    /// Not an instruction KVM emulates: an illegal instruction for the guest.
    Illegal,
    System(SystemInsn),
}

/// Classifies the instruction of a virtual-instruction trap. A compressed
/// instruction is never one KVM emulates.
pub(crate) fn classify_virtual(insn: usize, fetched: bool) -> VirtualInsn {
    if insn_len(insn) == 2 {
        return if insn == 0 && !fetched {
            VirtualInsn::Fetch
        } else {
            VirtualInsn::Illegal
        };
    }
    if insn & 0x7f == OPCODE_SYSTEM {
        VirtualInsn::System(decode_system(insn))
    } else {
        VirtualInsn::Illegal
    }
}

/// The trapped instruction given by HTINST, and its length in the guest's
/// code: bit 0 set means a transformed (or custom) instruction, whose bit 1
/// tells whether the original was 32-bit. `None`: HTINST holds nothing
/// usable (zero or a pseudoinstruction) and the instruction must be read
/// from the guest.
pub(crate) fn from_htinst(htinst: usize) -> Option<(usize, usize)> {
    if htinst & 1 == 0 {
        return None;
    }
    let insn = htinst | 3;
    Some((insn, if htinst & 2 != 0 { insn_len(insn) } else { 2 }))
}

/// A decoded MMIO load: `len` bytes into register `rd`, sign-extended when
/// `signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Load {
    pub(crate) len: usize,
    pub(crate) signed: bool,
    pub(crate) rd: usize,
}

impl Load {
    /// The shift that sign-extends a `len`-byte value (0: no extension).
    pub(crate) fn shift(&self) -> u32 {
        if self.signed {
            // CAST: len is 1, 2, 4 or 8: at most 56.
            (8 * (8 - self.len)) as u32
        } else {
            0
        }
    }
}

/// Decodes a load; `None` for anything upstream does not emulate.
pub(crate) fn decode_load(insn: usize) -> Option<Load> {
    let full = |len, signed| {
        Some(Load {
            len,
            signed,
            rd: rd(insn),
        })
    };
    match insn & MASK_FUNCT3 {
        0x2003 => return full(4, true),  // lw
        0x0003 => return full(1, true),  // lb
        0x4003 => return full(1, false), // lbu
        0x3003 => return full(8, true),  // ld
        0x6003 => return full(4, false), // lwu
        0x1003 => return full(2, true),  // lh
        0x5003 => return full(2, false), // lhu
        _ => {}
    }
    let short = |len| {
        Some(Load {
            len,
            signed: true,
            rd: rs2_short(insn),
        })
    };
    // c.ldsp and c.lwsp with rd = x0 are reserved encodings.
    let sp = |len| {
        if rd(insn) != 0 {
            Some(Load {
                len,
                signed: true,
                rd: rd(insn),
            })
        } else {
            None
        }
    };
    match insn & MASK_C_OP {
        0x6000 => short(8), // c.ld
        0x6002 => sp(8),    // c.ldsp
        0x4000 => short(4), // c.lw
        0x4002 => sp(4),    // c.lwsp
        _ => None,
    }
}

/// A decoded MMIO store: the low `len` bytes of register `rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Store {
    pub(crate) len: usize,
    pub(crate) rs: usize,
}

/// Decodes a store; `None` for anything upstream does not emulate.
pub(crate) fn decode_store(insn: usize) -> Option<Store> {
    let full = |len| Some(Store { len, rs: rs2(insn) });
    match insn & MASK_FUNCT3 {
        0x2023 => return full(4), // sw
        0x0023 => return full(1), // sb
        0x3023 => return full(8), // sd
        0x1023 => return full(2), // sh
        _ => {}
    }
    // Upstream also requires bits 11:7 of c.sdsp/c.swsp (an offset field)
    // to be non-zero, as for c.ldsp/c.lwsp; so do we.
    let sp = |len| {
        if rd(insn) != 0 {
            Some(Store {
                len,
                rs: rs2_css(insn),
            })
        } else {
            None
        }
    };
    match insn & MASK_C_OP {
        0xe000 => Some(Store {
            len: 8,
            rs: rs2_short(insn),
        }), // c.sd
        0xe002 => sp(8), // c.sdsp
        0xc000 => Some(Store {
            len: 4,
            rs: rs2_short(insn),
        }), // c.sw
        0xc002 => sp(4), // c.swsp
        _ => None,
    }
}

/// The register value of a completed MMIO load of `len` bytes `data`
/// (little-endian), extended by `shift` as [`Load::shift`] gave it.
pub(crate) fn load_value(data: [u8; 8], len: usize, shift: u32) -> usize {
    let v = u64::from_le_bytes(data);
    // The low `len` bytes (len is 1, 2, 4 or 8).
    let v = if len >= 8 {
        v
    } else {
        v & ((1u64 << (8 * len)) - 1)
    };
    // CAST: the bits as signed, for an arithmetic shift that extends the
    // sign, then back as they are (usize is 64 bits).
    (((v << shift) as i64) >> shift) as usize
}

// SPDX-License-Identifier: GPL-2.0

//! The NACL shared memory of one hart, as the SBI specification lays it out
//! (chapter "Nested Acceleration Extension"), for XLEN 64.
//!
//! - Scratch space, 4096 bytes at offset 0, whose ranges the features own:
//!   the nested SRET context (`0x000-0x1ff`, synchronize SRET), the nested
//!   autoswap context (`0x200-0x27f`, autoswap CSR), the nested HFENCE
//!   entries (`0x800-0xf7f`, synchronize HFENCE) and the nested CSR dirty
//!   bitmap (`0xf80-0xfff`, synchronize CSR).
//! - CSR space at offset `0x1000`: 1024 XLEN-bit words, one per possible
//!   H-extension CSR.

/// Bytes of an XLEN-bit word.
pub const XLEN_BYTES: usize = 8;
/// Bits of an XLEN-bit word.
pub const XLEN: usize = XLEN_BYTES * 8;

/// The scratch space.
pub const SCRATCH_OFFSET: usize = 0x0000;
pub const SCRATCH_SIZE: usize = 4096;

/// The nested SRET context: word `i` holds GPR `x<i>` (word 0 reserved).
pub const SRET_OFFSET: usize = 0x0000;
pub const SRET_SIZE: usize = 0x200;

/// The nested autoswap context: word 0 the flags, word 1 HSTATUS.
pub const AUTOSWAP_OFFSET: usize = 0x0200;
pub const AUTOSWAP_SIZE: usize = 0x80;
/// `Autoswap_Flags.HSTATUS`; the other flag bits are reserved, zero.
pub const AUTOSWAP_FLAG_HSTATUS: u64 = 1;
/// The HSTATUS value to swap, word 1 of the autoswap context.
pub const AUTOSWAP_HSTATUS_OFFSET: usize = AUTOSWAP_OFFSET + XLEN_BYTES;

/// The nested HFENCE entries.
pub const HFENCE_OFFSET: usize = 0x0800;
pub const HFENCE_SIZE: usize = 1920;
/// Words of one nested HFENCE entry: Config, Page_Number, Reserved,
/// Page_Count.
pub const HFENCE_ENTRY_WORDS: usize = 4;
/// Entries: `3840 / XLEN`.
pub const HFENCE_ENTRIES: usize = 3840 / XLEN;

/// The nested CSR dirty bitmap: one bit per CSR-space index.
pub const DBITMAP_OFFSET: usize = 0x0f80;
pub const DBITMAP_SIZE: usize = 128;

/// The CSR space.
pub const CSR_OFFSET: usize = 0x1000;
pub const CSR_WORDS: usize = 1024;

/// The whole shared memory: `4096 + 1024 * (XLEN / 8)` bytes.
pub const SIZE: usize = SCRATCH_SIZE + CSR_WORDS * XLEN_BYTES;
/// Its required alignment.
pub const ALIGN: usize = 4096;

/// Whether `csr` is an H-extension CSR number (`(csr & 0x300) == 0x200`,
/// below `0x1000`), which the CSR space and `sync_csr` accept.
pub const fn is_h_csr(csr: usize) -> bool {
    csr < 0x1000 && csr & 0x300 == 0x200
}

/// The CSR-space index of H-extension CSR `csr`:
/// `((csr & 0xc00) >> 2) | (csr & 0xff)`; `None` for another number.
pub const fn csr_index(csr: usize) -> Option<usize> {
    if is_h_csr(csr) {
        Some(((csr & 0xc00) >> 2) | (csr & 0xff))
    } else {
        None
    }
}

/// The H-extension CSR number of CSR-space index `i` (below 1024): the
/// inverse of [`csr_index`].
pub const fn csr_of_index(i: usize) -> usize {
    ((i & 0x300) << 2) | 0x200 | (i & 0xff)
}

/// The byte offset of CSR-space index `i`'s word.
pub const fn csr_word_offset(i: usize) -> usize {
    CSR_OFFSET + i * XLEN_BYTES
}

/// The byte of the dirty bitmap that holds index `i`'s bit, and the bit in
/// it (the bitmap is an array of little-endian XLEN-bit words, bit `i` of
/// the whole).
pub const fn dirty_bit(i: usize) -> (usize, u8) {
    (DBITMAP_OFFSET + i / 8, 1 << (i % 8))
}

/// The byte offset of GPR `x<n>` (1..=31) in the nested SRET context.
pub const fn sret_gpr_offset(n: usize) -> usize {
    SRET_OFFSET + n * XLEN_BYTES
}

/// The byte offsets of nested HFENCE entry `n`'s four words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HfenceWords {
    pub config: usize,
    pub page_number: usize,
    pub reserved: usize,
    pub page_count: usize,
}

/// The words of nested HFENCE entry `n` (below [`HFENCE_ENTRIES`]).
pub const fn hfence_entry(n: usize) -> HfenceWords {
    let base = HFENCE_OFFSET + n * HFENCE_ENTRY_WORDS * XLEN_BYTES;
    HfenceWords {
        config: base,
        page_number: base + XLEN_BYTES,
        reserved: base + 2 * XLEN_BYTES,
        page_count: base + 3 * XLEN_BYTES,
    }
}

/// What `set_shmem(lo, hi, flags)` asks for (XLEN 64, so `hi` must be zero
/// for a real address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetShmem {
    /// Both halves all ones: disable NACL on the hart.
    Disable,
    /// Use the memory at this physical address.
    Enable(u64),
}

/// Why a `set_shmem` call is refused, with the SBI error it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetShmemError {
    /// `flags` is not zero, or `lo` is not page-aligned: `SBI_ERR_INVALID_PARAM`.
    InvalidParam,
    /// The address is not usable (`hi` not zero on a 64-bit hart):
    /// `SBI_ERR_INVALID_ADDRESS`.
    InvalidAddress,
}

/// Decodes the arguments of `sbi_nacl_set_shmem`.
pub const fn decode_set_shmem(lo: u64, hi: u64, flags: u64) -> Result<SetShmem, SetShmemError> {
    if flags != 0 {
        return Err(SetShmemError::InvalidParam);
    }
    if lo == u64::MAX && hi == u64::MAX {
        return Ok(SetShmem::Disable);
    }
    if !lo.is_multiple_of(ALIGN as u64) {
        return Err(SetShmemError::InvalidParam);
    }
    if hi != 0 {
        return Err(SetShmemError::InvalidAddress);
    }
    Ok(SetShmem::Enable(lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(SIZE, 4096 + 1024 * 8);
        assert_eq!(HFENCE_ENTRIES, 60);
        // The entries fill their range exactly.
        assert_eq!(
            HFENCE_ENTRIES * HFENCE_ENTRY_WORDS * XLEN_BYTES,
            HFENCE_SIZE
        );
        // 1024 bits of dirty bitmap.
        assert_eq!(DBITMAP_SIZE * 8, CSR_WORDS);
        // The scratch ranges do not overlap and stay in the scratch space.
        let ranges = [
            (SRET_OFFSET, SRET_SIZE),
            (AUTOSWAP_OFFSET, AUTOSWAP_SIZE),
            (HFENCE_OFFSET, HFENCE_SIZE),
            (DBITMAP_OFFSET, DBITMAP_SIZE),
        ];
        for (i, &(a, al)) in ranges.iter().enumerate() {
            assert!(a + al <= SCRATCH_SIZE);
            for &(b, bl) in &ranges[i + 1..] {
                assert!(a + al <= b || b + bl <= a);
            }
        }
        assert_eq!(HFENCE_OFFSET + HFENCE_SIZE, DBITMAP_OFFSET);
        assert_eq!(DBITMAP_OFFSET + DBITMAP_SIZE, CSR_OFFSET);
    }

    #[test]
    fn csr_index_ranges() {
        // The specification's table of index ranges.
        let table = [
            (0x200, 0x2ff, 0x000),
            (0x600, 0x67f, 0x100),
            (0x680, 0x6bf, 0x180),
            (0x6c0, 0x6ff, 0x1c0),
            (0xa00, 0xa7f, 0x200),
            (0xa80, 0xabf, 0x280),
            (0xac0, 0xaff, 0x2c0),
            (0xe00, 0xe7f, 0x300),
            (0xe80, 0xebf, 0x380),
            (0xec0, 0xeff, 0x3c0),
        ];
        for (lo, hi, first) in table {
            for csr in lo..=hi {
                assert_eq!(csr_index(csr), Some(first + (csr - lo)), "{csr:#x}");
                assert_eq!(csr_of_index(first + (csr - lo)), csr);
            }
        }
        // Named CSRs: hstatus, hvip, htval, htinst, vsstatus, vsatp.
        assert_eq!(csr_index(0x600), Some(0x100));
        assert_eq!(csr_index(0x645), Some(0x145));
        assert_eq!(csr_index(0x643), Some(0x143));
        assert_eq!(csr_index(0x64a), Some(0x14a));
        assert_eq!(csr_index(0x200), Some(0x000));
        assert_eq!(csr_index(0x280), Some(0x080));
        // Not H-extension CSRs.
        for csr in [0x100, 0x180, 0x300, 0x7ff, 0xc00, 0x1200, 0xfff] {
            assert_eq!(csr_index(csr), None, "{csr:#x}");
        }
        // Every index has exactly one CSR.
        let mut seen = [false; CSR_WORDS];
        for csr in 0..0x1000 {
            if let Some(i) = csr_index(csr) {
                assert!(!seen[i]);
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn words() {
        assert_eq!(csr_word_offset(0x100), 0x1000 + 0x800);
        assert_eq!(dirty_bit(0), (0xf80, 1));
        assert_eq!(dirty_bit(0x145), (0xf80 + 0x28, 1 << 5));
        assert_eq!(sret_gpr_offset(1), 8);
        assert_eq!(sret_gpr_offset(31), 248);
        assert_eq!(AUTOSWAP_HSTATUS_OFFSET, 0x208);
        let e = hfence_entry(0);
        assert_eq!(
            (e.config, e.page_number, e.reserved, e.page_count),
            (0x800, 0x808, 0x810, 0x818)
        );
        let last = hfence_entry(HFENCE_ENTRIES - 1);
        assert_eq!(last.page_count + XLEN_BYTES, DBITMAP_OFFSET);
    }

    #[test]
    fn set_shmem() {
        assert_eq!(decode_set_shmem(!0, !0, 0), Ok(SetShmem::Disable));
        assert_eq!(
            decode_set_shmem(0x8020_0000, 0, 0),
            Ok(SetShmem::Enable(0x8020_0000))
        );
        assert_eq!(
            decode_set_shmem(0x8020_0008, 0, 0),
            Err(SetShmemError::InvalidParam)
        );
        assert_eq!(
            decode_set_shmem(0x8020_0000, 0, 1),
            Err(SetShmemError::InvalidParam)
        );
        assert_eq!(
            decode_set_shmem(!0, !0, 1),
            Err(SetShmemError::InvalidParam)
        );
        assert_eq!(
            decode_set_shmem(0x8020_0000, 1, 0),
            Err(SetShmemError::InvalidAddress)
        );
        // One half all ones is an address, not "disable".
        assert_eq!(decode_set_shmem(!0, 0, 0), Err(SetShmemError::InvalidParam));
    }
}

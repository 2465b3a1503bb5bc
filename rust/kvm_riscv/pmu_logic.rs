// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of the virtual PMU (SBI specification, "Performance
//! Monitoring Unit Extension"): event index decoding, the perf event a guest
//! event becomes, counter selection and masks, counter info words. Only
//! `core` is used: host `cargo test` covers it; `pmu.rs` checks the
//! constants against the kernel's headers at build time.

use crate::regs_logic::{bits, u64_to_xlen, xlen_to_u64, CacheEvent, CtrInfo, EventIdx};

/// Counters a vCPU may have: 32 hardware (the CSR counter space) and 32
/// firmware ones, one bitmap word.
pub(crate) const MAX_HW_CTRS: usize = 32;
pub(crate) const MAX_FW_CTRS: usize = 32;
pub(crate) const MAX_COUNTERS: usize = MAX_HW_CTRS + MAX_FW_CTRS;

/// Firmware events of SBI (`SBI_PMU_FW_MAX`).
pub(crate) const FW_MAX: usize = 22;
/// Generic hardware events of SBI, 0 included (`SBI_PMU_HW_GENERAL_MAX`).
pub(crate) const HW_GENERAL_MAX: u32 = 11;
/// `SBI_PMU_EVENT_IDX_INVALID`.
pub(crate) const EVENT_IDX_INVALID: usize = 0xffff_ffff;

/// The type field of an event index (bits 19:16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Hw,
    Cache,
    Raw,
    RawV2,
    Fw,
    Other(u32),
}

pub(crate) fn event_type(eidx: usize) -> EventType {
    match EventIdx::from_raw(xlen_to_u64(eidx)).kind() {
        0x0 => EventType::Hw,
        0x1 => EventType::Cache,
        0x2 => EventType::Raw,
        0x3 => EventType::RawV2,
        0xf => EventType::Fw,
        t => EventType::Other(u32::from(t)),
    }
}

/// The code field of an event index (bits 15:0).
pub(crate) fn event_code(eidx: usize) -> u32 {
    u32::from(EventIdx::from_raw(xlen_to_u64(eidx)).code())
}

/// perf's `enum perf_type_id` values used here.
pub(crate) mod perf_type {
    pub(crate) const HARDWARE: u32 = 0;
    pub(crate) const HW_CACHE: u32 = 3;
    pub(crate) const RAW: u32 = 4;
    pub(crate) const MAX: u32 = 6;
}

/// perf's cache event limits (`PERF_COUNT_HW_CACHE_*_MAX`).
pub(crate) const CACHE_MAX: u32 = 7;
pub(crate) const CACHE_OP_MAX: u32 = 3;
pub(crate) const CACHE_RESULT_MAX: u32 = 2;

/// `RISCV_PMU_RAW_EVENT_MASK` and `RISCV_PMU_RAW_EVENT_V2_MASK`.
pub(crate) const RAW_EVENT_MASK: u64 = (1 << 48) - 1;
pub(crate) const RAW_EVENT_V2_MASK: u64 = (1 << 56) - 1;

/// The perf event type a guest event is created as; `perf_type::MAX` when
/// there is none.
pub(crate) fn perf_event_type(eidx: usize) -> u32 {
    match event_type(eidx) {
        EventType::Hw => perf_type::HARDWARE,
        EventType::Cache => perf_type::HW_CACHE,
        EventType::Raw | EventType::RawV2 | EventType::Fw => perf_type::RAW,
        EventType::Other(_) => perf_type::MAX,
    }
}

/// perf's `enum perf_hw_id` for SBI generic hardware event `code`, which
/// is below [`HW_GENERAL_MAX`]: SBI numbers them from 1, perf from 0. SBI's
/// "no event" (0) maps to perf's first, as upstream's table leaves it.
fn hw_config(code: u32) -> u64 {
    u64::from(code.saturating_sub(1))
}

/// A cache event: SBI packs the cache id, operation and result as
/// `id << 3 | op << 1 | result`, perf as `id | op << 8 | result << 16`.
fn cache_config(code: u32) -> u64 {
    let c = CacheEvent::from_raw(u64::from(code));
    let (id, op, result) = (u32::from(c.id()), u32::from(c.op()), u32::from(c.result()));
    if id >= CACHE_MAX || op >= CACHE_OP_MAX || result >= CACHE_RESULT_MAX {
        return u64::MAX;
    }
    u64::from(id) | u64::from(op) << 8 | u64::from(result) << 16
}

/// The perf `config` of a guest event; `u64::MAX` when there is none.
pub(crate) fn perf_event_config(eidx: usize, evt_data: u64) -> u64 {
    let code = event_code(eidx);
    match event_type(eidx) {
        EventType::Hw if code < HW_GENERAL_MAX => hw_config(code),
        EventType::Cache => cache_config(code),
        EventType::Raw => evt_data & RAW_EVENT_MASK,
        EventType::RawV2 => evt_data & RAW_EVENT_V2_MASK,
        EventType::Fw if usize::try_from(code).is_ok_and(|c| c < FW_MAX) => {
            1 << 63 | u64::from(code)
        }
        _ => u64::MAX,
    }
}

/// The perf sample period that makes a counter of `width + 1` bits at
/// `counter_val` overflow: all of it from 0.
pub(crate) fn sample_period(counter_val: u64, width: u32) -> u64 {
    let mask = if width >= 63 {
        u64::MAX
    } else {
        (1u64 << (width + 1)) - 1
    };
    if counter_val == 0 {
        mask
    } else {
        counter_val.wrapping_neg() & mask
    }
}

/// The counters a vCPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Hardware counters, the TIME slot (1) included.
    pub(crate) hw: usize,
    pub(crate) fw: usize,
}

impl Counters {
    pub(crate) fn total(&self) -> usize {
        self.hw + self.fw
    }

    /// Is `(base, mask)` a non-empty set of counters that all exist?
    pub(crate) fn valid_mask(&self, base: usize, mask: usize) -> bool {
        if mask == 0 || base >= self.total() {
            return false;
        }
        // CAST: a bit number, below 64.
        let top = (usize::BITS - 1 - mask.leading_zeros()) as usize;
        base.checked_add(top)
            .is_some_and(|last| last < self.total())
    }

    /// The counter for event `eidx` among `(base, mask)`: the fixed one of
    /// cycles (0) and instructions (2), else the first free one of the
    /// event's kind, firmware counters following the hardware ones.
    pub(crate) fn pick(&self, eidx: usize, base: usize, mask: usize, in_use: u64) -> Option<usize> {
        if event_type(eidx) == EventType::Hw {
            match event_code(eidx) {
                1 => return Some(0),
                2 => return Some(2),
                _ => {}
            }
        }
        let (min, max) = if event_type(eidx) == EventType::Fw {
            (self.hw, self.hw + self.fw)
        } else {
            // 0..2 are cycles, time and instructions.
            (3, self.hw)
        };
        bits(mask)
            .map(|i| base.wrapping_add(i))
            .find(|&idx| idx >= min && idx < max && in_use & (1 << idx) == 0)
    }
}

/// The counter info word (`union sbi_pmu_ctr_info`, RV64, [`CtrInfo`]):
/// CSR number in bits 11:0, width - 1 in 17:12, type (1: firmware) in bit
/// 63. Bits of `csr` and `width` past their fields are dropped.
pub(crate) const fn ctr_info_word(csr: u32, width: u32, firmware: bool) -> CtrInfo {
    CtrInfo::zeroed()
        // CAST: the field keeps the low 12 bits, all within the u16.
        .with_csr(csr as u16)
        // CAST: the field keeps the low 6 bits, all within the u8.
        .with_width(width as u8)
        .with_firmware(firmware)
}

/// [`ctr_info_word`] as the XLEN value the guest reads.
// The untyped views of the word: the host tests check them, the kernel
// keeps the typed word.
#[allow(dead_code)]
pub(crate) fn ctr_info(csr: u32, width: u32, firmware: bool) -> usize {
    u64_to_xlen(ctr_info_word(csr, width, firmware).into_raw())
}

/// The fields of a counter info word: `(csr, width, firmware)`.
#[allow(dead_code)]
pub(crate) fn ctr_info_fields(info: usize) -> (u32, u32, bool) {
    let c = CtrInfo::from_raw(xlen_to_u64(info));
    (u32::from(c.csr()), u32::from(c.width()), c.firmware())
}

/// The counter info of each counter of a vCPU with `ctrs` counters and
/// hardware counters `hpm_width + 1` bits wide: CYCLE + i for hardware
/// counter i (63 bits wide for 0 and 2), firmware ones after. Slot 1, TIME,
/// has none.
pub(crate) fn initial_ctr_info_word(
    ctrs: Counters,
    i: usize,
    hpm_width: u32,
    csr_cycle: u32,
) -> Option<CtrInfo> {
    if i == 1 || i >= ctrs.total() {
        return None;
    }
    Some(if i < ctrs.hw {
        ctr_info_word(
            // CAST: i is below ctrs.hw, at most MAX_HW_CTRS (32).
            csr_cycle + i as u32,
            if i < 3 { 63 } else { hpm_width },
            false,
        )
    } else {
        ctr_info_word(0, 63, true)
    })
}

/// [`initial_ctr_info_word`] as the XLEN value the guest reads.
#[allow(dead_code)]
pub(crate) fn initial_ctr_info(
    ctrs: Counters,
    i: usize,
    hpm_width: u32,
    csr_cycle: u32,
) -> Option<usize> {
    initial_ctr_info_word(ctrs, i, hpm_width, csr_cycle).map(|c| u64_to_xlen(c.into_raw()))
}

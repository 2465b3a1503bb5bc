// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_pmu.c` and `vcpu_sbi_pmu.c`: the virtual PMU
//! and the SBI PMU extension a guest drives it with.
//!
//! A vCPU has hardware counters, backed by host perf events created for the
//! guest (`exclude_host`), and firmware counters, which KVM counts itself:
//! the traps of `vcpu_exit`, the SBI calls of the replaced legacy extensions
//! and the remote fences. The state lives in the C `struct kvm_pmu` of the
//! vCPU (`vcpu->arch.pmu_context`), as the C side of KVM expects it; its
//! arithmetic is in [`crate::pmu_logic`].
//!
//! The handle splits that state by who touches it: the vCPU thread's part
//! through [`VcpuCtx::pmu`]; the overflow bits, which the perf overflow
//! handler sets from interrupt context, and the firmware counters, which
//! other vCPUs count into (SBI IPI), through atomic accessors of [`Vcpu`].
//! The perf events are [`PerfEvent`](crate::ffi::PerfEvent)s, owned by
//! their counter.
//!
//! Only built with `CONFIG_RISCV_PMU_SBI`, as upstream: without it the
//! guest has no SBI PMU and reads CYCLE and INSTRET as 0 (`vcpu_insn`).

use crate::bindings as b;
use crate::ffi::{self, OverflowEvent};
use crate::handle::{pmu_sbi_extension, Pmc, PmuCallbacks, PmuParts, Vcpu, VcpuCtx};
use crate::nospec::array_index_nospec;
use crate::pmu_logic::{self as l, Counters, EventType};
use crate::regs_logic::{bits, u64_to_xlen, xlen_to_u64};
use crate::sbi_logic::SbiError;
use crate::vcpu_irq::IRQ_PMU_OVF;
use kernel::alloc::{flags, KBox, KVVec};
use kernel::error::code::EINVAL;
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::num::casts::FromSafeCast;
use kernel::prelude::*;
use kernel::print::OnceLite;
use kernel::sync::atomic::Relaxed;
use kernel::transmute::AsBytes;

// The constants of `pmu_logic` must be the kernel's.
// CAST (all): the kernel's constants widened to compare them.
const _: () = {
    assert!(l::MAX_HW_CTRS == b::RISCV_KVM_MAX_HW_CTRS as usize);
    assert!(l::MAX_FW_CTRS == b::RISCV_KVM_MAX_FW_CTRS as usize);
    assert!(l::MAX_COUNTERS == b::RISCV_KVM_MAX_COUNTERS as usize);
    assert!(l::FW_MAX == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MAX as usize);
    assert!(l::HW_GENERAL_MAX == b::sbi_pmu_hw_generic_events_t_SBI_PMU_HW_GENERAL_MAX);
    assert!(
        l::EVENT_IDX_INVALID as u64
            == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SBI_PMU_EVENT_IDX_INVALID
    );
    assert!(l::RAW_EVENT_MASK == b::kvm_riscv_rs_const64_KVM_RISCV_RS_PMU_RAW_EVENT_MASK);
    assert!(l::RAW_EVENT_V2_MASK == b::kvm_riscv_rs_const64_KVM_RISCV_RS_PMU_RAW_EVENT_V2_MASK);
    assert!(l::perf_type::HARDWARE == b::perf_type_id_PERF_TYPE_HARDWARE);
    assert!(l::perf_type::HW_CACHE == b::perf_type_id_PERF_TYPE_HW_CACHE);
    assert!(l::perf_type::RAW == b::perf_type_id_PERF_TYPE_RAW);
    assert!(l::perf_type::MAX == b::perf_type_id_PERF_TYPE_MAX);
    assert!(l::CACHE_MAX == b::perf_hw_cache_id_PERF_COUNT_HW_CACHE_MAX);
    assert!(l::CACHE_OP_MAX == b::perf_hw_cache_op_id_PERF_COUNT_HW_CACHE_OP_MAX);
    assert!(l::CACHE_RESULT_MAX == b::perf_hw_cache_op_result_id_PERF_COUNT_HW_CACHE_RESULT_MAX);
    // SBI numbers its generic hardware events from 1, perf from 0.
    assert!(
        b::sbi_pmu_hw_generic_events_t_SBI_PMU_HW_CPU_CYCLES
            == b::perf_hw_id_PERF_COUNT_HW_CPU_CYCLES + 1
    );
    assert!(
        b::sbi_pmu_hw_generic_events_t_SBI_PMU_HW_REF_CPU_CYCLES
            == b::perf_hw_id_PERF_COUNT_HW_REF_CPU_CYCLES + 1
    );
    assert!(b::perf_hw_id_PERF_COUNT_HW_REF_CPU_CYCLES + 1 == b::perf_hw_id_PERF_COUNT_HW_MAX);
    assert!(b::sbi_pmu_ctr_type_SBI_PMU_CTR_TYPE_FW == 1);
};

/// The SBI PMU functions (`enum sbi_ext_pmu_fid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PmuFn {
    NumCounters,
    CounterGetInfo,
    CounterCfgMatch,
    CounterStart,
    CounterStop,
    CounterFwRead,
    CounterFwReadHi,
    SnapshotSetShmem,
    EventGetInfo,
}

impl PmuFn {
    fn decode(fid: c_ulong) -> Option<Self> {
        let fid = u32::try_from(fid).ok()?;
        Some(match fid {
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_NUM_COUNTERS => Self::NumCounters,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_GET_INFO => Self::CounterGetInfo,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_CFG_MATCH => Self::CounterCfgMatch,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_START => Self::CounterStart,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_STOP => Self::CounterStop,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_FW_READ => Self::CounterFwRead,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_COUNTER_FW_READ_HI => Self::CounterFwReadHi,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_SNAPSHOT_SET_SHMEM => Self::SnapshotSetShmem,
            b::sbi_ext_pmu_fid_SBI_EXT_PMU_EVENT_GET_INFO => Self::EventGetInfo,
            _ => return None,
        })
    }
}

/// The flags of the calls (`SBI_PMU_*_FLAG_*`).
// CAST (all): u32 flags widened to XLEN.
mod flag {
    use crate::bindings as b;
    use kernel::ffi::c_ulong;
    pub(super) const CFG_SKIP_MATCH: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SKIP_MATCH as c_ulong;
    pub(super) const CFG_CLEAR_VALUE: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_CLEAR_VALUE as c_ulong;
    pub(super) const CFG_AUTO_START: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_AUTO_START as c_ulong;
    pub(super) const CFG_SET_UINH: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SET_UINH as c_ulong;
    pub(super) const CFG_SET_SINH: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SET_SINH as c_ulong;
    pub(super) const START_SET_INIT_VALUE: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_START_SET_INIT_VALUE as c_ulong;
    pub(super) const START_INIT_SNAPSHOT: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_START_INIT_SNAPSHOT as c_ulong;
    pub(super) const STOP_RESET: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_STOP_RESET as c_ulong;
    pub(super) const STOP_TAKE_SNAPSHOT: c_ulong =
        b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_STOP_TAKE_SNAPSHOT as c_ulong;
}

const INVALID_GPA: u64 = !0;
const SBI_SHMEM_DISABLE: c_ulong = c_ulong::MAX;

fn counters(k: &PmuParts<'_>) -> Counters {
    // CAST (both): set by `init`, 0..=32, never negative.
    Counters {
        hw: *k.num_hw_ctrs as usize,
        fw: *k.num_fw_ctrs as usize,
    }
}

fn in_use(k: &PmuParts<'_>) -> u64 {
    xlen_to_u64(*k.pmc_in_use)
}

fn is_fw(pmc: &Pmc<'_>) -> bool {
    pmc.cinfo().firmware()
}

fn width(pmc: &Pmc<'_>) -> u32 {
    u32::from(pmc.cinfo().width())
}

/// The firmware event a firmware counter counts.
fn fw_code(pmc: &Pmc<'_>) -> Option<usize> {
    let code = usize::from_safe_cast(l::event_code(*pmc.event_idx));
    (code < l::FW_MAX).then_some(code)
}

/// Zeroes and stops every firmware event's counter.
fn reset_fw_events(v: &Vcpu) {
    for code in 0..l::FW_MAX {
        let ev = v.pmu_fw_event(code);
        ev.value.store(0, Relaxed);
        ev.started.store(false, Relaxed);
    }
}

/// The value of counter `cidx` (`pmu_ctr_read()`); `Err` is upstream's
/// -EINVAL.
fn ctr_read(cx: &mut VcpuCtx<'_>, cidx: c_ulong) -> Result<u64, ()> {
    let v = cx.vcpu();
    let mut k = cx.pmu();
    if cidx >= counters(&k).total() || cidx == 1 {
        // CAST: printed as upstream's signed long.
        pr_warn!("Invalid counter id [{}] during read\n", cidx as i64);
        return Err(());
    }
    let cidx = array_index_nospec(cidx, l::MAX_COUNTERS);
    let pmc = k.pmcs.get(cidx);
    if is_fw(&pmc) {
        if *pmc.event_idx == l::EVENT_IDX_INVALID {
            return Err(());
        }
        let Some(code) = fw_code(&pmc) else {
            // A firmware counter the guest reconfigured with a raw event
            // (SKIP_MATCH): a WARN, once, as upstream's WARN_ONCE.
            static ONCE: OnceLite = OnceLite::new();
            ONCE.call_once(|| {
                kernel::warn_on!(true);
            });
            return Err(());
        };
        *pmc.counter_val = v.pmu_fw_event(code).value.load(Relaxed);
        Ok(*pmc.counter_val)
    } else if let Some(ev) = pmc.perf_event() {
        Ok(pmc.counter_val.wrapping_add(ev.read_value()))
    } else {
        Err(())
    }
}

/// Counts firmware event `fid` of `v` when the guest has started its
/// counter (`kvm_riscv_vcpu_pmu_incr_fw()`); -EINVAL for an event SBI does
/// not have. Any thread may count into any vCPU (SBI IPI counts `IPI_RCVD`
/// into the receivers).
#[inline]
pub(crate) fn incr_fw_on(v: &Vcpu, fid: c_ulong) -> Result {
    if fid >= l::FW_MAX {
        return Err(EINVAL);
    }
    let ev = v.pmu_fw_event(fid);
    if ev.started.load(Relaxed) {
        ev.value.add(1, Relaxed);
    }
    Ok(())
}

/// [`incr_fw_on`] on the vCPU's own thread (the exits it counts).
#[inline]
pub(crate) fn incr_fw(cx: &mut VcpuCtx<'_>, fid: c_ulong) -> Result {
    incr_fw_on(cx.vcpu(), fid)
}

/// Emulates a read of a counter CSR (CYCLE + n), the in-kernel CSR
/// handler of `vcpu_insn` (`kvm_riscv_vcpu_pmu_read_hpm()`).
pub(crate) fn read_hpm(
    cx: &mut VcpuCtx<'_>,
    csr_num: c_uint,
    val: &mut c_ulong,
    _new_val: c_ulong,
    wr_mask: c_ulong,
) -> c_int {
    // CAST (both): small enumerators.
    const NEXT: c_int = b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC as c_int;
    const ILLEGAL: c_int = b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP as c_int;
    if !*cx.pmu().init_done {
        // Without a virtual PMU a guest may still read cycles and
        // instructions the legacy way: they read 0. Other counters are
        // only reachable through SBI PMU.
        return match csr_num {
            b::CSR_CYCLE | b::CSR_INSTRET => {
                *val = 0;
                NEXT
            }
            _ => ILLEGAL,
        };
    }
    // The counters are read-only.
    if wr_mask != 0 {
        return ILLEGAL;
    }
    match ctr_read(cx, c_ulong::from_safe_cast(csr_num - b::CSR_CYCLE)) {
        Ok(v) => {
            *val = u64_to_xlen(v);
            NEXT
        }
        Err(()) => ILLEGAL,
    }
}

/// The overflow handler of the perf events of hardware counters: marks the
/// counter overflown and raises the guest's counter-overflow interrupt.
fn overflow(v: &Vcpu, idx: usize, ev: &OverflowEvent<'_>) {
    // Stop the counter here rather than deferring it, or it would run on
    // past the overflow until the deferred stop.
    ev.stop_update();
    // The hardware counter restarts when this returns: make the next
    // period a whole wrap from the current count.
    ev.set_period(ev.count().wrapping_neg());
    v.pmc_overflown_set(idx);
    let _ = crate::vcpu_irq::set_interrupt(v, IRQ_PMU_OVF);
    ev.start_reload();
}

/// Creates the perf event of a hardware counter, replacing any it had.
fn create_perf_event(
    pmc: &mut Pmc<'_>,
    attr: &mut b::perf_event_attr,
    fl: c_ulong,
    eidx: c_ulong,
    evtdata: u64,
) -> Result {
    pmc.release_perf_event();
    attr.config = l::perf_event_config(eidx, evtdata);
    if fl & flag::CFG_CLEAR_VALUE != 0 {
        *pmc.counter_val = 0;
    }
    // The guest's own initial value is set when it starts the counter.
    ffi::perf_attr_set_sample_period(attr, l::sample_period(*pmc.counter_val, width(pmc)));
    let event = pmc.create_perf_event::<Callbacks>(attr).inspect_err(|e| {
        pr_debug!(
            "kvm pmu event creation failed for eidx {:x}: {}\n",
            eidx,
            e.to_errno()
        );
    })?;
    if fl & flag::CFG_AUTO_START != 0 {
        event.enable();
    }
    Ok(())
}

fn clear_snapshot(k: &mut PmuParts<'_>) {
    *k.sdata = None;
    *k.snapshot_addr = INVALID_GPA;
}

const _: () = assert!(size_of::<b::riscv_pmu_snapshot_data>() == 4096);

/// Copies the snapshot area to the guest (`to_guest`) or from it, at the
/// address the guest set.
fn snapshot_copy(cx: &mut VcpuCtx<'_>, to_guest: bool) -> Result {
    let addr = *cx.pmu().snapshot_addr;
    // Set together with the address.
    let Some(mut area) = cx.pmu().sdata.take() else {
        return Err(EINVAL);
    };
    let r = if to_guest {
        cx.write_guest(addr, area.as_bytes())
    } else {
        cx.read_guest(addr, area.as_bytes_mut())
    };
    *cx.pmu().sdata = Some(area);
    r
}

type SbiResult = Result<(), SbiError>;

/// `SNAPSHOT_SET_SHMEM`.
fn set_snapshot_shmem(cx: &mut VcpuCtx<'_>, lo: c_ulong, hi: c_ulong, fl: c_ulong) -> SbiResult {
    if fl != 0 {
        return Err(SbiError::InvalidParam);
    }
    if lo == SBI_SHMEM_DISABLE && hi == SBI_SHMEM_DISABLE {
        clear_snapshot(&mut cx.pmu());
        return Ok(());
    }
    // RV64: the address is in `lo` alone.
    if hi != 0 {
        return Err(SbiError::InvalidAddress);
    }
    // Drop an area set before, so a failure below leaves none.
    {
        let mut k = cx.pmu();
        if *k.snapshot_addr != INVALID_GPA {
            clear_snapshot(&mut k);
        }
    }
    // Upstream allocates atomically; this runs in the vCPU thread with
    // preemption on, where a sleeping, accounted allocation is fine.
    let area = KBox::<b::riscv_pmu_snapshot_data>::zeroed(flags::GFP_KERNEL_ACCOUNT)
        .map_err(|_| SbiError::Failure)?;
    // The write checks that the guest memory exists and is writable.
    let gpa = xlen_to_u64(lo);
    if cx.write_guest(gpa, area.as_bytes()).is_err() {
        return Err(SbiError::InvalidAddress);
    }
    let k = cx.pmu();
    *k.sdata = Some(area);
    *k.snapshot_addr = gpa;
    Ok(())
}

/// `EVENT_GET_INFO`: for each event in the guest's array, whether the host
/// can count it.
fn event_info(
    cx: &mut VcpuCtx<'_>,
    lo: c_ulong,
    hi: c_ulong,
    num: c_ulong,
    fl: c_ulong,
) -> SbiResult {
    let entry = size_of::<b::riscv_pmu_event_info>();
    if num.checked_mul(entry).is_none() || fl != 0 || lo % 16 != 0 || num == 0 {
        return Err(SbiError::InvalidParam);
    }
    if hi != 0 {
        return Err(SbiError::InvalidAddress);
    }
    let gfp = flags::GFP_KERNEL_ACCOUNT | flags::__GFP_NOWARN;
    let mut info =
        KVVec::<b::riscv_pmu_event_info>::with_capacity(num, gfp).map_err(|_| SbiError::Failure)?;
    for _ in 0..num {
        info.push(Default::default(), gfp)
            .map_err(|_| SbiError::Failure)?;
    }
    let gpa = xlen_to_u64(lo);
    // `info` holds the `num` entries: `num * entry` bytes.
    if cx
        .read_guest(gpa, info.as_mut_slice().as_bytes_mut())
        .is_err()
    {
        return Err(SbiError::Failure);
    }
    for e in info.iter_mut() {
        let eidx = usize::from_safe_cast(e.event_idx);
        let ty = l::perf_event_type(eidx);
        let config = l::perf_event_config(eidx, e.event_data);
        e.output = u32::from(ffi::riscv_pmu_event_info(ty, config) > 0);
    }
    if cx.write_guest(gpa, info.as_slice().as_bytes()).is_err() {
        return Err(SbiError::InvalidAddress);
    }
    Ok(())
}

/// `COUNTER_START`.
fn ctr_start(
    cx: &mut VcpuCtx<'_>,
    base: c_ulong,
    mask: c_ulong,
    fl: c_ulong,
    ival: u64,
) -> SbiResult {
    let v = cx.vcpu();
    let (ctrs, snapshot_addr) = {
        let k = cx.pmu();
        (counters(&k), *k.snapshot_addr)
    };
    if !ctrs.valid_mask(base, mask) {
        return Err(SbiError::InvalidParam);
    }
    let snapshot = fl & flag::START_INIT_SNAPSHOT != 0;
    if snapshot {
        if snapshot_addr == INVALID_GPA {
            return Err(SbiError::NoShmem);
        }
        if snapshot_copy(cx, false).is_err() {
            pr_warn!("Unable to read snapshot shared memory while starting counters\n");
            return Err(SbiError::Failure);
        }
    }
    let mut k = cx.pmu();
    let mut ret = Ok(());
    for i in bits(mask) {
        let idx = array_index_nospec(i + base, l::MAX_COUNTERS);
        if in_use(&k) & (1 << idx) == 0 {
            continue;
        }
        // The guest starts it again: it has not overflown since.
        v.pmc_overflown_clear(idx);
        let snap_val = k.sdata.as_ref().map(|s| s.ctr_values[i]);
        let pmc = k.pmcs.get(idx);
        if fl & flag::START_SET_INIT_VALUE != 0 {
            *pmc.counter_val = ival;
        } else if snapshot {
            // Snapshot values are indexed from the base counter.
            *pmc.counter_val = snap_val.unwrap_or(0);
        }
        if is_fw(&pmc) {
            let Some(code) = fw_code(&pmc) else {
                return Err(SbiError::InvalidParam);
            };
            let ev = v.pmu_fw_event(code);
            if ev.started.load(Relaxed) {
                ret = Err(SbiError::AlreadyStarted);
                continue;
            }
            ev.started.store(true, Relaxed);
            ev.value.store(*pmc.counter_val, Relaxed);
        } else if let Some(event) = pmc.perf_event() {
            if *pmc.started {
                ret = Err(SbiError::AlreadyStarted);
                continue;
            }
            event.set_period(l::sample_period(*pmc.counter_val, width(&pmc)));
            event.enable();
            *pmc.started = true;
        } else {
            ret = Err(SbiError::InvalidParam);
        }
    }
    ret
}

/// `COUNTER_STOP`.
fn ctr_stop(cx: &mut VcpuCtx<'_>, base: c_ulong, mask: c_ulong, fl: c_ulong) -> SbiResult {
    let v = cx.vcpu();
    let mut k = cx.pmu();
    if !counters(&k).valid_mask(base, mask) {
        return Err(SbiError::InvalidParam);
    }
    let snapshot = fl & flag::STOP_TAKE_SNAPSHOT != 0;
    if snapshot && *k.snapshot_addr == INVALID_GPA {
        return Err(SbiError::NoShmem);
    }
    let reset = fl & flag::STOP_RESET != 0;
    let mut ret = Ok(());
    let mut update_shmem = false;
    for i in bits(mask) {
        let idx = array_index_nospec(i + base, l::MAX_COUNTERS);
        if in_use(&k) & (1 << idx) == 0 {
            continue;
        }
        let mut pmc = k.pmcs.get(idx);
        if is_fw(&pmc) {
            let Some(code) = fw_code(&pmc) else {
                return Err(SbiError::InvalidParam);
            };
            let ev = v.pmu_fw_event(code);
            if !ev.started.load(Relaxed) {
                ret = Err(SbiError::AlreadyStopped);
            } else {
                ev.started.store(false, Relaxed);
                *pmc.counter_val = ev.value.load(Relaxed);
            }
        } else if let Some(event) = pmc.perf_event() {
            if *pmc.started {
                // Fold the count into the counter and reset the event.
                let count = event.pause(true);
                *pmc.counter_val = pmc.counter_val.wrapping_add(count);
                *pmc.started = false;
            } else {
                ret = Err(SbiError::AlreadyStopped);
            }
            if reset {
                pmc.release_perf_event();
            }
        } else {
            ret = Err(SbiError::InvalidParam);
        }
        let value = *pmc.counter_val;
        let was_overflown = v.pmc_overflown(idx);
        if snapshot && ret.is_ok() {
            if let Some(s) = k.sdata.as_mut() {
                // Snapshot indices are relative to the base counter.
                if was_overflown {
                    s.ctr_overflow_mask |= 1 << i;
                }
                s.ctr_values[i] = value;
                update_shmem = true;
            }
        }
        if reset {
            *pmc.event_idx = l::EVENT_IDX_INVALID;
            *k.pmc_in_use &= !(1 << idx);
            v.pmc_overflown_clear(idx);
            if snapshot {
                if let Some(s) = k.sdata.as_mut() {
                    s.ctr_overflow_mask &= !(1 << i);
                    update_shmem = true;
                }
            }
        }
    }
    if update_shmem && snapshot_copy(cx, true).is_err() {
        ret = Err(SbiError::Failure);
    }
    ret
}

/// `COUNTER_CONFIG_MATCHING`: finds (or takes, with SKIP_MATCH) a counter
/// for an event and configures it. Returns the counter index.
fn ctr_cfg_match(
    cx: &mut VcpuCtx<'_>,
    base: c_ulong,
    mask: c_ulong,
    fl: c_ulong,
    eidx: c_ulong,
    evtdata: u64,
) -> Result<c_ulong, SbiError> {
    let v = cx.vcpu();
    let mut k = cx.pmu();
    let ctrs = counters(&k);
    if !ctrs.valid_mask(base, mask) {
        return Err(SbiError::InvalidParam);
    }
    let code = usize::from_safe_cast(l::event_code(eidx));
    let is_fw = l::event_type(eidx) == EventType::Fw;
    if is_fw && code >= l::FW_MAX {
        return Err(SbiError::NotSupported);
    }
    let idx = if fl & flag::CFG_SKIP_MATCH != 0 {
        // The guest names the counter it configured before.
        let idx = base + usize::from_safe_cast(mask.trailing_zeros());
        if idx >= l::MAX_COUNTERS || in_use(&k) & (1 << idx) == 0 {
            return Err(SbiError::Failure);
        }
        idx
    } else {
        ctrs.pick(eidx, base, mask, in_use(&k))
            .ok_or(SbiError::NotSupported)?
    };
    let idx = array_index_nospec(idx, l::MAX_COUNTERS);
    let mut pmc = k.pmcs.get(idx);
    // CAST: below 64.
    pmc.set_idx(idx as u8);
    if is_fw {
        if fl & flag::CFG_AUTO_START != 0 {
            v.pmu_fw_event(code).started.store(true, Relaxed);
        }
    } else {
        let mut attr = b::perf_event_attr {
            type_: l::perf_event_type(eidx),
            // CAST: the struct's size, well below 4 GiB.
            size: size_of::<b::perf_event_attr>() as u32,
            ..Default::default()
        };
        // Guest events only: mode filtering (Sscofpmf) is required.
        ffi::perf_attr_set_config1(&mut attr, u64::from(b::RISCV_PMU_CONFIG1_GUEST_EVENTS));
        attr.set_pinned(1);
        attr.set_disabled(1);
        attr.set_exclude_host(1);
        attr.set_exclude_hv(1);
        attr.set_exclude_user(u64::from(fl & flag::CFG_SET_UINH != 0));
        attr.set_exclude_kernel(u64::from(fl & flag::CFG_SET_SINH != 0));
        create_perf_event(&mut pmc, &mut attr, fl, eidx, evtdata)
            .map_err(|_| SbiError::NotSupported)?;
    }
    *k.pmc_in_use |= 1 << idx;
    *pmc.event_idx = eidx;
    Ok(idx)
}

/// Sets up the vCPU's PMU (`kvm_riscv_vcpu_pmu_init()`): nothing when the
/// host cannot filter counting by privilege mode (no Sscofpmf), or has no
/// counters; else the hardware counters of the host, plus TIME's slot, and
/// one firmware counter per firmware event.
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    if !crate::isa::host_supports(crate::isa_logic::Ext::SSCOFPMF) {
        return;
    }
    let Some((hpm_width, num_hw)) = ffi::riscv_pmu_hpm_info() else {
        return;
    };
    if hpm_width == 0 || num_hw == 0 {
        return;
    }
    let v = cx.vcpu();
    let mut k = cx.pmu();
    let mut hw = usize::from_safe_cast(num_hw) + 1;
    if hw > l::MAX_HW_CTRS {
        static ONCE: OnceLite = OnceLite::new();
        ONCE.call_once(|| {
            pr_warn!("Limiting the hardware counters to 32 as specified by the ISA\n")
        });
        hw = l::MAX_HW_CTRS;
    }
    // CAST (both): at most 32.
    *k.num_hw_ctrs = hw as c_int;
    *k.num_fw_ctrs = l::FW_MAX as c_int;
    reset_fw_events(v);
    *k.snapshot_addr = INVALID_GPA;
    let ctrs = counters(&k);
    for i in 0..ctrs.total() {
        let Some(info) = l::initial_ctr_info_word(ctrs, i, hpm_width, b::CSR_CYCLE) else {
            continue;
        };
        let mut pmc = k.pmcs.get(i);
        // CAST: below 64.
        pmc.set_idx(i as u8);
        *pmc.event_idx = l::EVENT_IDX_INVALID;
        pmc.set_vcpu(v);
        pmc.set_cinfo(info);
    }
    *k.init_done = true;
}

/// Releases every counter and forgets the snapshot area
/// (`kvm_riscv_vcpu_pmu_deinit()`, also the reset).
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let mut k = cx.pmu();
    for i in bits(*k.pmc_in_use) {
        let mut pmc = k.pmcs.get(i);
        *pmc.counter_val = 0;
        pmc.release_perf_event();
        *pmc.event_idx = l::EVENT_IDX_INVALID;
    }
    *k.pmc_in_use = 0;
    v.pmc_overflown_clear_all();
    reset_fw_events(v);
    clear_snapshot(&mut k);
}

/// The SBI PMU extension's handler.
fn sbi_handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int {
    let (a0, a1, a2, a3, a4, a6) = {
        let g = cx.guest();
        (g.a0, g.a1, g.a2, g.a3, g.a4, g.a6)
    };
    let result: Result<Option<c_ulong>, SbiError> = if !*cx.pmu().init_done {
        Err(SbiError::NotSupported)
    } else {
        match PmuFn::decode(a6) {
            Some(PmuFn::NumCounters) => Ok(Some(counters(&cx.pmu()).total())),
            Some(PmuFn::CounterGetInfo) => {
                if a0 >= l::MAX_COUNTERS || a0 == 1 {
                    Err(SbiError::InvalidParam)
                } else {
                    let i = array_index_nospec(a0, l::MAX_COUNTERS);
                    Ok(Some(u64_to_xlen(cx.pmu().pmcs.get(i).cinfo().into_raw())))
                }
            }
            Some(PmuFn::CounterCfgMatch) => {
                ctr_cfg_match(cx, a0, a1, a2, a3, xlen_to_u64(a4)).map(Some)
            }
            Some(PmuFn::CounterStart) => ctr_start(cx, a0, a1, a2, xlen_to_u64(a3)).map(|()| None),
            Some(PmuFn::CounterStop) => ctr_stop(cx, a0, a1, a2).map(|()| None),
            Some(PmuFn::CounterFwRead) => match ctr_read(cx, a0) {
                Ok(v) => Ok(Some(u64_to_xlen(v))),
                Err(()) => Err(SbiError::InvalidParam),
            },
            // RV64: the whole value comes with COUNTER_FW_READ.
            Some(PmuFn::CounterFwReadHi) => Ok(Some(0)),
            Some(PmuFn::SnapshotSetShmem) => set_snapshot_shmem(cx, a0, a1, a2).map(|()| None),
            Some(PmuFn::EventGetInfo) => event_info(cx, a0, a1, a2, a3).map(|()| None),
            None => Err(SbiError::NotSupported),
        }
    };
    match result {
        Ok(Some(v)) => ret.out_val = v,
        Ok(None) => {}
        // CAST: the SBI error, a negative XLEN value.
        Err(e) => ret.err_val = e.code() as c_ulong,
    }
    0
}

/// The PMU's callbacks that C calls, through the trampolines of the handle.
struct Callbacks;

impl PmuCallbacks for Callbacks {
    fn sbi_handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int {
        sbi_handler(cx, ret)
    }

    /// Whether the guest has the SBI PMU: when its vCPU got a PMU.
    fn sbi_probe(cx: &mut VcpuCtx<'_>) -> c_ulong {
        c_ulong::from(*cx.pmu().init_done)
    }

    fn overflow(v: &Vcpu, idx: usize, ev: &OverflowEvent<'_>) {
        overflow(v, idx, ev)
    }
}

/// The SBI PMU extension, in the dispatch table of `vcpu_sbi` (upstream's
/// name).
#[allow(non_upper_case_globals)]
pub(crate) static vcpu_sbi_ext_pmu: b::kvm_vcpu_sbi_extension =
    // CAST: SBI extension ids are XLEN values.
    pmu_sbi_extension::<Callbacks>(b::sbi_ext_id_SBI_EXT_PMU as c_ulong);

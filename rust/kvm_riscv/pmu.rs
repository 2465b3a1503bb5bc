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
//! Only built with `CONFIG_RISCV_PMU_SBI`, as upstream: without it the
//! guest has no SBI PMU and reads CYCLE and INSTRET as 0 (`vcpu_insn`).

use crate::bindings as b;
use crate::handle::VcpuCtx;
use crate::nospec::array_index_nospec;
use crate::pmu_logic::{self as l, Counters, EventType};
use crate::sbi_err::SbiError;
use core::ffi::c_void;
use core::ptr::{addr_of_mut, null_mut};
use kernel::alloc::{flags, KBox, KVVec};
use kernel::error::code::EINVAL;
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::print::OnceLite;

const IRQ_PMU_OVF: c_uint = b::IRQ_PMU_OVF as c_uint;

// The constants of `pmu_logic` must be the kernel's.
const _: () = {
    assert!(l::MAX_HW_CTRS == b::RISCV_KVM_MAX_HW_CTRS as usize);
    assert!(l::MAX_FW_CTRS == b::RISCV_KVM_MAX_FW_CTRS as usize);
    assert!(l::MAX_COUNTERS == b::RISCV_KVM_MAX_COUNTERS as usize);
    assert!(l::FW_MAX == b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_MAX as usize);
    assert!(l::HW_GENERAL_MAX == b::sbi_pmu_hw_generic_events_t_SBI_PMU_HW_GENERAL_MAX as u32);
    assert!(l::EVENT_IDX_INVALID as u64 == b::kvm_riscv_rs_const64_KVM_RISCV_RS_SBI_PMU_EVENT_IDX_INVALID as u64);
    assert!(l::RAW_EVENT_MASK == b::kvm_riscv_rs_const64_KVM_RISCV_RS_PMU_RAW_EVENT_MASK as u64);
    assert!(l::RAW_EVENT_V2_MASK == b::kvm_riscv_rs_const64_KVM_RISCV_RS_PMU_RAW_EVENT_V2_MASK as u64);
    assert!(l::perf_type::HARDWARE == b::perf_type_id_PERF_TYPE_HARDWARE);
    assert!(l::perf_type::HW_CACHE == b::perf_type_id_PERF_TYPE_HW_CACHE);
    assert!(l::perf_type::RAW == b::perf_type_id_PERF_TYPE_RAW);
    assert!(l::perf_type::MAX == b::perf_type_id_PERF_TYPE_MAX);
    assert!(l::CACHE_MAX == b::perf_hw_cache_id_PERF_COUNT_HW_CACHE_MAX);
    assert!(l::CACHE_OP_MAX == b::perf_hw_cache_op_id_PERF_COUNT_HW_CACHE_OP_MAX);
    assert!(l::CACHE_RESULT_MAX == b::perf_hw_cache_op_result_id_PERF_COUNT_HW_CACHE_RESULT_MAX);
    // SBI numbers its generic hardware events from 1, perf from 0.
    assert!(b::sbi_pmu_hw_generic_events_t_SBI_PMU_HW_CPU_CYCLES == b::perf_hw_id_PERF_COUNT_HW_CPU_CYCLES + 1);
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
mod flag {
    use crate::bindings as b;
    use kernel::ffi::c_ulong;
    pub(super) const CFG_SKIP_MATCH: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SKIP_MATCH as c_ulong;
    pub(super) const CFG_CLEAR_VALUE: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_CLEAR_VALUE as c_ulong;
    pub(super) const CFG_AUTO_START: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_AUTO_START as c_ulong;
    pub(super) const CFG_SET_UINH: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SET_UINH as c_ulong;
    pub(super) const CFG_SET_SINH: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_CFG_SET_SINH as c_ulong;
    pub(super) const START_SET_INIT_VALUE: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_START_SET_INIT_VALUE as c_ulong;
    pub(super) const START_INIT_SNAPSHOT: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_START_INIT_SNAPSHOT as c_ulong;
    pub(super) const STOP_RESET: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_STOP_RESET as c_ulong;
    pub(super) const STOP_TAKE_SNAPSHOT: c_ulong = b::kvm_riscv_rs_const_KVM_RISCV_RS_PMU_STOP_TAKE_SNAPSHOT as c_ulong;
}

const INVALID_GPA: u64 = !0;
const SBI_SHMEM_DISABLE: c_ulong = c_ulong::MAX;

/// The vCPU's PMU state.
///
/// # Safety
/// `vcpu` is live, and the caller its thread (it holds `vcpu->mutex` or
/// runs the vCPU): nothing else touches the state but the overflow handler,
/// which only uses atomic bit operations on `pmc_overflown`.
unsafe fn pmu<'a>(vcpu: *mut b::kvm_vcpu) -> &'a mut b::kvm_pmu {
    // SAFETY: per the function's contract.
    unsafe { &mut (*vcpu).arch.pmu_context }
}

fn counters(k: &b::kvm_pmu) -> Counters {
    Counters { hw: k.num_hw_ctrs as usize, fw: k.num_fw_ctrs as usize }
}

fn in_use(k: &b::kvm_pmu) -> u64 {
    k.pmc_in_use[0] as u64
}

/// The counter info word of a counter.
fn cinfo(pmc: &b::kvm_pmc) -> usize {
    // SAFETY: the union is one word; every bit pattern is valid.
    unsafe { pmc.cinfo.value as usize }
}

fn is_fw(pmc: &b::kvm_pmc) -> bool {
    l::ctr_info_fields(cinfo(pmc)).2
}

fn width(pmc: &b::kvm_pmc) -> u32 {
    l::ctr_info_fields(cinfo(pmc)).1
}

/// Atomic `set_bit`/`clear_bit`/`test_bit` on `pmc_overflown`, which the
/// overflow handler sets from interrupt context.
fn overflown(k: &mut b::kvm_pmu) -> *mut c_ulong {
    k.pmc_overflown.as_mut_ptr()
}

fn release_perf_event(pmc: &mut b::kvm_pmc) {
    if !pmc.perf_event.is_null() {
        // SAFETY: the event was created by `create_perf_event` and is
        // owned by this counter; nothing uses it after the release.
        unsafe {
            b::perf_event_disable(pmc.perf_event);
            b::perf_event_release_kernel(pmc.perf_event);
        }
        pmc.perf_event = null_mut();
    }
}

/// The firmware event a firmware counter counts.
fn fw_code(pmc: &b::kvm_pmc) -> Option<usize> {
    let code = l::event_code(pmc.event_idx as usize) as usize;
    (code < l::FW_MAX).then_some(code)
}

/// The value of counter `cidx` (`pmu_ctr_read()`); `Err` is upstream's
/// -EINVAL.
fn ctr_read(k: &mut b::kvm_pmu, cidx: c_ulong) -> Result<u64, ()> {
    if cidx as usize >= counters(k).total() || cidx == 1 {
        pr_warn!("Invalid counter id [{}] during read\n", cidx as i64);
        return Err(());
    }
    let cidx = array_index_nospec(cidx as usize, l::MAX_COUNTERS);
    let pmc = &mut k.pmc[cidx];
    if is_fw(pmc) {
        if pmc.event_idx as usize == l::EVENT_IDX_INVALID {
            return Err(());
        }
        let Some(code) = fw_code(pmc) else {
            // A firmware counter the guest reconfigured with a raw event
            // (SKIP_MATCH): a WARN, once, as upstream's WARN_ONCE.
            static ONCE: OnceLite = OnceLite::new();
            ONCE.call_once(|| {
                kernel::warn_on!(true);
            });
            return Err(());
        };
        pmc.counter_val = k.fw_event[code].value;
        Ok(pmc.counter_val)
    } else if !pmc.perf_event.is_null() {
        let (mut enabled, mut running) = (0u64, 0u64);
        // SAFETY: the counter's live perf event.
        let v = unsafe { b::perf_event_read_value(pmc.perf_event, &mut enabled, &mut running) };
        Ok(pmc.counter_val.wrapping_add(v))
    } else {
        Err(())
    }
}

/// Counts firmware event `fid` when the guest has started its counter
/// (`kvm_riscv_vcpu_pmu_incr_fw()`); -EINVAL for an event SBI does not have.
///
/// # Safety
/// `vcpu` is a live vCPU, on its thread.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_pmu_incr_fw(vcpu: *mut b::kvm_vcpu, fid: c_ulong) -> c_int {
    if fid as usize >= l::FW_MAX {
        return EINVAL.to_errno();
    }
    // SAFETY: per the function's contract.
    let ev = &mut unsafe { pmu(vcpu) }.fw_event[fid as usize];
    if ev.started {
        ev.value = ev.value.wrapping_add(1);
    }
    0
}

/// Emulates a read of a counter CSR (CYCLE + n), the in-kernel CSR
/// handler of `vcpu_insn` (`kvm_riscv_vcpu_pmu_read_hpm()`).
///
/// # Safety
/// `vcpu` is a live vCPU, on its thread.
pub(crate) unsafe fn read_hpm(vcpu: *mut b::kvm_vcpu, csr_num: c_uint, val: &mut c_ulong, _new_val: c_ulong, wr_mask: c_ulong) -> c_int {
    const NEXT: c_int = b::kvm_insn_return_KVM_INSN_CONTINUE_NEXT_SEPC as c_int;
    const ILLEGAL: c_int = b::kvm_insn_return_KVM_INSN_ILLEGAL_TRAP as c_int;
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    if !k.init_done {
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
    match ctr_read(k, (csr_num - b::CSR_CYCLE) as c_ulong) {
        Ok(v) => {
            *val = v as c_ulong;
            NEXT
        }
        Err(()) => ILLEGAL,
    }
}

/// The overflow handler of the perf events of hardware counters: marks the
/// counter overflown and raises the guest's counter-overflow interrupt.
///
/// # Safety
/// Called by perf, in interrupt context, for an event created by
/// [`create_perf_event`], whose context is its `kvm_pmc`.
unsafe extern "C" fn overflow(event: *mut b::perf_event, _data: *mut b::perf_sample_data, _regs: *mut b::pt_regs) {
    // SAFETY: per the function's contract, the event and its counter are
    // live; the counter's `idx` and `vcpu` are set before the event exists.
    unsafe {
        let pmc = (*event).overflow_handler_context as *mut b::kvm_pmc;
        let vcpu = (*pmc).vcpu;
        let rpmu = kernel::container_of!((*event).pmu, b::riscv_pmu, pmu);
        let stop = (*rpmu).pmu.stop;
        let start = (*rpmu).pmu.start;
        // Stop the counter here rather than deferring it, or it would run
        // on past the overflow until the deferred stop.
        if let Some(stop) = stop {
            stop(event, b::PERF_EF_UPDATE as c_int);
        }
        // The hardware counter restarts when this returns: make the next
        // period a whole wrap from the current count.
        // local64_read()/local64_set(): single-word accesses.
        let count = addr_of_mut!((*event).count.a.a.counter).read_volatile();
        let period = (count as u64).wrapping_neg();
        let left = &mut (*event).hw.__bindgen_anon_2.__bindgen_anon_1.as_mut().period_left;
        addr_of_mut!(left.a.a.counter).write_volatile(0);
        *(*event).attr.__bindgen_anon_1.sample_period.as_mut() = period;
        (*event).hw.sample_period = period;
        b::set_bit((*pmc).idx as c_ulong, (*vcpu).arch.pmu_context.pmc_overflown.as_mut_ptr());
        let _ = crate::vcpu_irq::set_interrupt(crate::handle::Vcpu::from_raw(vcpu), IRQ_PMU_OVF);
        if let Some(start) = start {
            start(event, b::PERF_EF_RELOAD as c_int);
        }
    }
}

/// Creates the perf event of a hardware counter, replacing any it had.
fn create_perf_event(pmc: &mut b::kvm_pmc, attr: &mut b::perf_event_attr, fl: c_ulong, eidx: c_ulong, evtdata: u64) -> Result<(), c_int> {
    release_perf_event(pmc);
    attr.config = l::perf_event_config(eidx as usize, evtdata);
    if fl & flag::CFG_CLEAR_VALUE != 0 {
        pmc.counter_val = 0;
    }
    // The guest's own initial value is set when it starts the counter.
    // SAFETY: a view of a union of plain integers.
    unsafe { *attr.__bindgen_anon_1.sample_period.as_mut() = l::sample_period(pmc.counter_val, width(pmc)) };
    let ctx = pmc as *mut b::kvm_pmc as *mut c_void;
    // SAFETY: `attr` is initialised; the handler and its context (this
    // counter) outlive the event, which `release_perf_event` frees.
    let event = unsafe {
        b::perf_event_create_kernel_counter(attr, -1, kernel::task::Task::current_raw().cast(), Some(overflow), ctx)
    };
    let event = kernel::error::from_err_ptr(event).map_err(|e| {
        pr_debug!("kvm pmu event creation failed for eidx {:x}: {}\n", eidx, e.to_errno());
        e.to_errno()
    })?;
    pmc.perf_event = event;
    if fl & flag::CFG_AUTO_START != 0 {
        // SAFETY: the event just created.
        unsafe { b::perf_event_enable(event) };
    }
    Ok(())
}

/// The snapshot area, if the guest set one.
fn sdata(k: &mut b::kvm_pmu) -> Option<&mut b::riscv_pmu_snapshot_data> {
    // SAFETY: `sdata` is null or the `KBox` that `set_snapshot_shmem` leaked.
    unsafe { k.sdata.as_mut() }
}

fn clear_snapshot(k: &mut b::kvm_pmu) {
    if !k.sdata.is_null() {
        // SAFETY: the `KBox` that `set_snapshot_shmem` leaked, given back once.
        drop(unsafe { KBox::from_raw(k.sdata) });
    }
    k.sdata = null_mut();
    k.snapshot_addr = INVALID_GPA;
}

const SNAPSHOT_SIZE: usize = core::mem::size_of::<b::riscv_pmu_snapshot_data>();
const _: () = assert!(SNAPSHOT_SIZE == 4096);

/// Copies the snapshot area to the guest (`to_guest`) or from it.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn snapshot_copy(vcpu: *mut b::kvm_vcpu, gpa: u64, data: *mut b::riscv_pmu_snapshot_data, to_guest: bool) -> bool {
    // SAFETY: per the function's contract; `data` is a whole area.
    let rc = unsafe {
        if to_guest {
            b::kvm_vcpu_write_guest(vcpu, gpa, data.cast(), SNAPSHOT_SIZE as c_ulong)
        } else {
            b::kvm_vcpu_read_guest(vcpu, gpa, data.cast(), SNAPSHOT_SIZE as c_ulong)
        }
    };
    rc == 0
}

type SbiResult = Result<(), SbiError>;

/// `SNAPSHOT_SET_SHMEM`.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn set_snapshot_shmem(vcpu: *mut b::kvm_vcpu, lo: c_ulong, hi: c_ulong, fl: c_ulong) -> SbiResult {
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    if fl != 0 {
        return Err(SbiError::InvalidParam);
    }
    if lo == SBI_SHMEM_DISABLE && hi == SBI_SHMEM_DISABLE {
        clear_snapshot(k);
        return Ok(());
    }
    // RV64: the address is in `lo` alone.
    if hi != 0 {
        return Err(SbiError::InvalidAddress);
    }
    // Drop an area set before, so a failure below leaves none.
    if k.snapshot_addr != INVALID_GPA {
        clear_snapshot(k);
    }
    // Upstream allocates atomically; this runs in the vCPU thread with
    // preemption on, where a sleeping, accounted allocation is fine.
    let area = KBox::<b::riscv_pmu_snapshot_data>::new_uninit(flags::GFP_KERNEL_ACCOUNT | flags::__GFP_ZERO)
        .map_err(|_| SbiError::Failure)?;
    // SAFETY: zeroed memory is a valid snapshot area (integers only).
    let area = KBox::into_raw(unsafe { area.assume_init() });
    // The write checks that the guest memory exists and is writable.
    // SAFETY: per the function's contract; `area` is a whole area.
    if !unsafe { snapshot_copy(vcpu, lo as u64, area, true) } {
        // SAFETY: the box just leaked, given back.
        drop(unsafe { KBox::from_raw(area) });
        return Err(SbiError::InvalidAddress);
    }
    k.sdata = area;
    k.snapshot_addr = lo as u64;
    Ok(())
}

/// `EVENT_GET_INFO`: for each event in the guest's array, whether the host
/// can count it.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn event_info(vcpu: *mut b::kvm_vcpu, lo: c_ulong, hi: c_ulong, num: c_ulong, fl: c_ulong) -> SbiResult {
    let entry = core::mem::size_of::<b::riscv_pmu_event_info>();
    let size = (num as usize).checked_mul(entry);
    let Some(size) = size.filter(|_| fl == 0 && lo % 16 == 0 && num != 0) else {
        return Err(SbiError::InvalidParam);
    };
    if hi != 0 {
        return Err(SbiError::InvalidAddress);
    }
    let fl = flags::GFP_KERNEL_ACCOUNT | flags::__GFP_NOWARN;
    let mut info = KVVec::<b::riscv_pmu_event_info>::with_capacity(num as usize, fl).map_err(|_| SbiError::Failure)?;
    for _ in 0..num {
        info.push(Default::default(), fl).map_err(|_| SbiError::Failure)?;
    }
    // SAFETY: per the function's contract; `info` holds `size` bytes.
    if unsafe { b::kvm_vcpu_read_guest(vcpu, lo as u64, info.as_mut_ptr().cast(), size as c_ulong) } != 0 {
        return Err(SbiError::Failure);
    }
    for e in info.iter_mut() {
        let eidx = e.event_idx as usize;
        let ty = l::perf_event_type(eidx);
        let config = l::perf_event_config(eidx, e.event_data);
        // SAFETY: a query of the host PMU driver.
        let ret = unsafe { b::riscv_pmu_get_event_info(ty, config, null_mut()) };
        e.output = (ret > 0) as u32;
    }
    // SAFETY: as for the read.
    if unsafe { b::kvm_vcpu_write_guest(vcpu, lo as u64, info.as_ptr().cast(), size as c_ulong) } != 0 {
        return Err(SbiError::InvalidAddress);
    }
    Ok(())
}

/// `COUNTER_START`.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn ctr_start(vcpu: *mut b::kvm_vcpu, base: c_ulong, mask: c_ulong, fl: c_ulong, ival: u64) -> SbiResult {
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    if !counters(k).valid_mask(base as usize, mask as usize) {
        return Err(SbiError::InvalidParam);
    }
    let snapshot = fl & flag::START_INIT_SNAPSHOT != 0;
    if snapshot {
        if k.snapshot_addr == INVALID_GPA {
            return Err(SbiError::NoShmem);
        }
        // SAFETY: per the function's contract; `sdata` is a whole area.
        if !unsafe { snapshot_copy(vcpu, k.snapshot_addr, k.sdata, false) } {
            pr_warn!("Unable to read snapshot shared memory while starting counters\n");
            return Err(SbiError::Failure);
        }
    }
    let mut ret = Ok(());
    for i in l::bits(mask as usize) {
        let idx = array_index_nospec(i + base as usize, l::MAX_COUNTERS);
        if in_use(k) & (1 << idx) == 0 {
            continue;
        }
        // The guest starts it again: it has not overflown since.
        // SAFETY: an atomic bit operation on the bitmap word.
        unsafe { b::clear_bit(idx as c_ulong, overflown(k)) };
        let snap_val = sdata(k).map(|s| s.ctr_values[i]);
        let pmc = &mut k.pmc[idx];
        if fl & flag::START_SET_INIT_VALUE != 0 {
            pmc.counter_val = ival;
        } else if snapshot {
            // Snapshot values are indexed from the base counter.
            pmc.counter_val = snap_val.unwrap_or(0);
        }
        if is_fw(pmc) {
            let Some(code) = fw_code(pmc) else {
                return Err(SbiError::InvalidParam);
            };
            let value = pmc.counter_val;
            let ev = &mut k.fw_event[code];
            if ev.started {
                ret = Err(SbiError::AlreadyStarted);
                continue;
            }
            ev.started = true;
            ev.value = value;
        } else if !pmc.perf_event.is_null() {
            if pmc.started {
                ret = Err(SbiError::AlreadyStarted);
                continue;
            }
            // SAFETY: the counter's live perf event.
            unsafe {
                b::perf_event_period(pmc.perf_event, l::sample_period(pmc.counter_val, width(pmc)));
                b::perf_event_enable(pmc.perf_event);
            }
            pmc.started = true;
        } else {
            ret = Err(SbiError::InvalidParam);
        }
    }
    ret
}

/// `COUNTER_STOP`.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn ctr_stop(vcpu: *mut b::kvm_vcpu, base: c_ulong, mask: c_ulong, fl: c_ulong) -> SbiResult {
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    if !counters(k).valid_mask(base as usize, mask as usize) {
        return Err(SbiError::InvalidParam);
    }
    let snapshot = fl & flag::STOP_TAKE_SNAPSHOT != 0;
    if snapshot && k.snapshot_addr == INVALID_GPA {
        return Err(SbiError::NoShmem);
    }
    let reset = fl & flag::STOP_RESET != 0;
    let mut ret = Ok(());
    let mut update_shmem = false;
    for i in l::bits(mask as usize) {
        let idx = array_index_nospec(i + base as usize, l::MAX_COUNTERS);
        if in_use(k) & (1 << idx) == 0 {
            continue;
        }
        let pmc = &mut k.pmc[idx];
        if is_fw(pmc) {
            let Some(code) = fw_code(pmc) else {
                return Err(SbiError::InvalidParam);
            };
            let ev = &mut k.fw_event[code];
            if !ev.started {
                ret = Err(SbiError::AlreadyStopped);
            } else {
                ev.started = false;
                pmc.counter_val = ev.value;
            }
        } else if !pmc.perf_event.is_null() {
            if pmc.started {
                // Fold the count into the counter and reset the event.
                // SAFETY: the counter's live perf event.
                let count = unsafe { b::perf_event_pause(pmc.perf_event, true) };
                pmc.counter_val = pmc.counter_val.wrapping_add(count);
                pmc.started = false;
            } else {
                ret = Err(SbiError::AlreadyStopped);
            }
            if reset {
                release_perf_event(pmc);
            }
        } else {
            ret = Err(SbiError::InvalidParam);
        }
        let value = k.pmc[idx].counter_val;
        // SAFETY: a single-word read of the bitmap (`test_bit()`).
        let was_overflown = unsafe { overflown(k).read_volatile() } & (1 << idx) != 0;
        if snapshot && ret.is_ok() {
            if let Some(s) = sdata(k) {
                // Snapshot indices are relative to the base counter.
                if was_overflown {
                    s.ctr_overflow_mask |= 1 << i;
                }
                s.ctr_values[i] = value;
                update_shmem = true;
            }
        }
        if reset {
            k.pmc[idx].event_idx = l::EVENT_IDX_INVALID as c_ulong;
            k.pmc_in_use[0] &= !(1 << idx);
            // SAFETY: an atomic bit operation on the bitmap word.
            unsafe { b::clear_bit(idx as c_ulong, overflown(k)) };
            if snapshot {
                if let Some(s) = sdata(k) {
                    s.ctr_overflow_mask &= !(1 << i);
                    update_shmem = true;
                }
            }
        }
    }
    // SAFETY: per the function's contract; `sdata` is a whole area.
    if update_shmem && !unsafe { snapshot_copy(vcpu, k.snapshot_addr, k.sdata, true) } {
        ret = Err(SbiError::Failure);
    }
    ret
}

/// `COUNTER_CONFIG_MATCHING`: finds (or takes, with SKIP_MATCH) a counter
/// for an event and configures it. Returns the counter index.
///
/// # Safety
/// `vcpu` is live, on its thread with SRCU held.
unsafe fn ctr_cfg_match(vcpu: *mut b::kvm_vcpu, base: c_ulong, mask: c_ulong, fl: c_ulong, eidx: c_ulong, evtdata: u64) -> Result<c_ulong, SbiError> {
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    let ctrs = counters(k);
    if !ctrs.valid_mask(base as usize, mask as usize) {
        return Err(SbiError::InvalidParam);
    }
    let code = l::event_code(eidx as usize) as usize;
    let is_fw = l::event_type(eidx as usize) == EventType::Fw;
    if is_fw && code >= l::FW_MAX {
        return Err(SbiError::NotSupported);
    }
    let idx = if fl & flag::CFG_SKIP_MATCH != 0 {
        // The guest names the counter it configured before.
        let idx = base as usize + mask.trailing_zeros() as usize;
        if idx >= l::MAX_COUNTERS || in_use(k) & (1 << idx) == 0 {
            return Err(SbiError::Failure);
        }
        idx
    } else {
        ctrs.pick(eidx as usize, base as usize, mask as usize, in_use(k)).ok_or(SbiError::NotSupported)?
    };
    let idx = array_index_nospec(idx, l::MAX_COUNTERS);
    let pmc = &mut k.pmc[idx];
    pmc.idx = idx as u8;
    if is_fw {
        if fl & flag::CFG_AUTO_START != 0 {
            k.fw_event[code].started = true;
        }
    } else {
        let mut attr = b::perf_event_attr {
            type_: l::perf_event_type(eidx as usize),
            size: core::mem::size_of::<b::perf_event_attr>() as u32,
            ..Default::default()
        };
        // Guest events only: mode filtering (Sscofpmf) is required.
        // SAFETY: a view of a union of plain integers.
        unsafe { *attr.__bindgen_anon_3.config1.as_mut() = b::RISCV_PMU_CONFIG1_GUEST_EVENTS as u64 };
        attr.set_pinned(1);
        attr.set_disabled(1);
        attr.set_exclude_host(1);
        attr.set_exclude_hv(1);
        attr.set_exclude_user((fl & flag::CFG_SET_UINH != 0) as u64);
        attr.set_exclude_kernel((fl & flag::CFG_SET_SINH != 0) as u64);
        create_perf_event(pmc, &mut attr, fl, eidx, evtdata).map_err(|_| SbiError::NotSupported)?;
    }
    k.pmc_in_use[0] |= 1 << idx;
    k.pmc[idx].event_idx = eidx;
    Ok(idx as c_ulong)
}

/// Sets up the vCPU's PMU (`kvm_riscv_vcpu_pmu_init()`): nothing when the
/// host cannot filter counting by privilege mode (no Sscofpmf), or has no
/// counters; else the hardware counters of the host, plus TIME's slot, and
/// one firmware counter per firmware event.
///
/// # Safety
/// `vcpu` is being created, by its creator.
pub(crate) unsafe fn init_raw(vcpu: *mut b::kvm_vcpu) {
    if !crate::isa::host_supports(crate::isa_table::Ext::SSCOFPMF) {
        return;
    }
    let (mut hpm_width, mut num_hw) = (0u32, 0u32);
    // SAFETY: a query of the host PMU driver.
    let ret = unsafe { b::riscv_pmu_get_hpm_info(&mut hpm_width, &mut num_hw) };
    if ret < 0 || hpm_width == 0 || num_hw == 0 {
        return;
    }
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    let mut hw = num_hw as usize + 1;
    if hw > l::MAX_HW_CTRS {
        static ONCE: OnceLite = OnceLite::new();
        ONCE.call_once(|| pr_warn!("Limiting the hardware counters to 32 as specified by the ISA\n"));
        hw = l::MAX_HW_CTRS;
    }
    k.num_hw_ctrs = hw as c_int;
    k.num_fw_ctrs = l::FW_MAX as c_int;
    for ev in k.fw_event.iter_mut().take(l::FW_MAX) {
        *ev = Default::default();
    }
    k.snapshot_addr = INVALID_GPA;
    let ctrs = counters(k);
    for i in 0..ctrs.total() {
        let Some(info) = l::initial_ctr_info(ctrs, i, hpm_width, b::CSR_CYCLE) else {
            continue;
        };
        let pmc = &mut k.pmc[i];
        pmc.idx = i as u8;
        pmc.event_idx = l::EVENT_IDX_INVALID as c_ulong;
        pmc.vcpu = vcpu;
        pmc.cinfo.value = info as c_ulong;
    }
    k.init_done = true;
}

/// Releases every counter and forgets the snapshot area
/// (`kvm_riscv_vcpu_pmu_deinit()`, also the reset).
///
/// # Safety
/// `vcpu` is live, and the caller its thread or its destroyer.
pub(crate) unsafe fn deinit_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let k = unsafe { pmu(vcpu) };
    for i in l::bits(in_use(k) as usize) {
        let pmc = &mut k.pmc[i];
        pmc.counter_val = 0;
        release_perf_event(pmc);
        pmc.event_idx = l::EVENT_IDX_INVALID as c_ulong;
    }
    k.pmc_in_use[0] = 0;
    k.pmc_overflown[0] = 0;
    for ev in k.fw_event.iter_mut().take(l::FW_MAX) {
        *ev = Default::default();
    }
    clear_snapshot(k);
}

/// The SBI PMU extension's handler.
///
/// # Safety
/// Called by the SBI dispatch of the vCPU thread, SRCU held.
unsafe extern "C" fn sbi_handler(vcpu: *mut b::kvm_vcpu, _run: *mut b::kvm_run, retdata: *mut b::kvm_vcpu_sbi_return) -> c_int {
    // SAFETY: per the function's contract.
    let (k, cp, ret) = unsafe { (pmu(vcpu), &(*vcpu).arch.guest_context, &mut *retdata) };
    let (a0, a1, a2, a3, a4) = (cp.a0, cp.a1, cp.a2, cp.a3, cp.a4);
    let result: Result<Option<c_ulong>, SbiError> = if !k.init_done {
        Err(SbiError::NotSupported)
    } else {
        // SAFETY (all calls): per the function's contract.
        match PmuFn::decode(cp.a6) {
            Some(PmuFn::NumCounters) => Ok(Some(counters(k).total() as c_ulong)),
            Some(PmuFn::CounterGetInfo) => {
                if a0 as usize >= l::MAX_COUNTERS || a0 == 1 {
                    Err(SbiError::InvalidParam)
                } else {
                    Ok(Some(cinfo(&k.pmc[array_index_nospec(a0 as usize, l::MAX_COUNTERS)]) as c_ulong))
                }
            }
            Some(PmuFn::CounterCfgMatch) => unsafe { ctr_cfg_match(vcpu, a0, a1, a2, a3, a4 as u64) }.map(Some),
            Some(PmuFn::CounterStart) => unsafe { ctr_start(vcpu, a0, a1, a2, a3 as u64) }.map(|()| None),
            Some(PmuFn::CounterStop) => unsafe { ctr_stop(vcpu, a0, a1, a2) }.map(|()| None),
            Some(PmuFn::CounterFwRead) => match ctr_read(k, a0) {
                Ok(v) => Ok(Some(v as c_ulong)),
                Err(()) => Err(SbiError::InvalidParam),
            },
            // RV64: the whole value comes with COUNTER_FW_READ.
            Some(PmuFn::CounterFwReadHi) => Ok(Some(0)),
            Some(PmuFn::SnapshotSetShmem) => unsafe { set_snapshot_shmem(vcpu, a0, a1, a2) }.map(|()| None),
            Some(PmuFn::EventGetInfo) => unsafe { event_info(vcpu, a0, a1, a2, a3) }.map(|()| None),
            None => Err(SbiError::NotSupported),
        }
    };
    match result {
        Ok(Some(v)) => ret.out_val = v,
        Ok(None) => {}
        Err(e) => ret.err_val = e.code() as c_ulong,
    }
    0
}

/// Whether the guest has the SBI PMU: when its vCPU got a PMU.
///
/// # Safety
/// Called by the SBI code for a live vCPU.
unsafe extern "C" fn sbi_probe(vcpu: *mut b::kvm_vcpu) -> c_ulong {
    // SAFETY: per the function's contract; a plain read.
    unsafe { (*vcpu).arch.pmu_context.init_done as c_ulong }
}

/// The SBI PMU extension, in the C dispatch table of `vcpu_sbi.c`.
#[no_mangle]
pub(crate) static vcpu_sbi_ext_pmu: b::kvm_vcpu_sbi_extension = b::kvm_vcpu_sbi_extension {
    extid_start: b::sbi_ext_id_SBI_EXT_PMU as c_ulong,
    extid_end: b::sbi_ext_id_SBI_EXT_PMU as c_ulong,
    handler: Some(sbi_handler),
    probe: Some(sbi_probe),
    // SAFETY: all-zero is a valid value of the other fields (no callbacks,
    // zero numbers).
    ..unsafe { core::mem::zeroed() }
};

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { init_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { deinit_raw(cx.vcpu().as_ptr()) }
}

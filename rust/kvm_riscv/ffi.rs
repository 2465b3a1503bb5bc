// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers of kernel facilities the logic uses that the kernel
//! crate does not offer: preemption, the guest-state and guest-timing
//! context tracking, the entry-work check, tracepoints, and the current
//! task's vector-state flags. A boundary module: each wrapper is one call.

use crate::bindings as b;
use crate::irq::IrqsOff;
use core::marker::PhantomData;
use kernel::num::casts::FromSafeCast;

/// Preemption is off for as long as the guard lives (`preempt_disable()`,
/// `preempt_enable()` at drop).
pub(crate) struct PreemptOff(PhantomData<*mut ()>);

/// Disables preemption until the guard drops.
#[inline(always)]
pub(crate) fn preempt_disable() -> PreemptOff {
    // SAFETY: paired with the enable of the drop.
    unsafe { b::kvm_riscv_rs_preempt_disable() };
    PreemptOff(PhantomData)
}

impl Drop for PreemptOff {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: pairs the disable that made the guard.
        unsafe { b::kvm_riscv_rs_preempt_enable() };
    }
}

/// `guest_state_enter_irqoff()`: context tracking enters the guest.
#[inline(always)]
pub(crate) fn guest_state_enter(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_state_enter_irqoff() }
}

/// `guest_state_exit_irqoff()`.
#[inline(always)]
pub(crate) fn guest_state_exit(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_state_exit_irqoff() }
}

/// `guest_timing_enter_irqoff()`: time from here counts as guest time.
#[inline(always)]
pub(crate) fn guest_timing_enter(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_timing_enter_irqoff() }
}

/// `guest_timing_exit_irqoff()`.
#[inline(always)]
pub(crate) fn guest_timing_exit(_irqs: &IrqsOff) {
    // SAFETY: interrupts are off (the token).
    unsafe { b::kvm_riscv_rs_guest_timing_exit_irqoff() }
}

/// `xfer_to_guest_mode_work_pending()`.
#[inline(always)]
pub(crate) fn guest_mode_work_pending(_irqs: &IrqsOff) -> bool {
    // SAFETY: reads the current task's flags, interrupts off.
    unsafe { b::kvm_riscv_rs_xfer_to_guest_mode_work_pending() }
}

/// The `kvm_riscv_vcpu_irq` trace event.
pub(crate) fn trace_vcpu_irq(vcpu_id: u32, irq: u32, level: bool) {
    // SAFETY: a tracepoint call with plain values.
    unsafe { b::kvm_riscv_rs_trace_kvm_vcpu_irq(usize::from_safe_cast(vcpu_id), irq, level.into()) };
}

/// The `kvm_exit` trace event (nothing without `CONFIG_TRACEPOINTS`).
#[inline(always)]
pub(crate) fn trace_exit(_trap: &b::kvm_cpu_trap) {
    // SAFETY: a tracepoint call that only reads the trap.
    #[cfg(CONFIG_TRACEPOINTS)]
    unsafe {
        b::kvm_riscv_rs_trace_kvm_exit(core::ptr::from_ref(_trap).cast_mut())
    };
}

/// If the current task's vector state waits to be restored into the vCPU
/// context (`RISCV_V_VCPU_NEED_RESTORE`), marks it restored
/// (`RISCV_V_VCPU_CTX`) and says so.
#[inline(always)]
pub(crate) fn take_vector_restore(_irqs: &IrqsOff) -> bool {
    // SAFETY: null or the current task's flags, which only the task itself
    // changes; interrupts are off.
    let flags = unsafe { b::kvm_riscv_rs_current_v_flags() };
    let need = b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_NEED_RESTORE;
    // SAFETY: as above.
    if flags.is_null() || unsafe { *flags } & need == 0 {
        return false;
    }
    // SAFETY: as above.
    unsafe { *flags = (*flags & !need) | b::kvm_riscv_rs_const_KVM_RISCV_RS_V_VCPU_CTX };
    true
}

/// `riscv_isa_extension_available(NULL, ext)`: does every CPU have `ext`?
pub(crate) fn host_isa_has(ext: u32) -> bool {
    // SAFETY: a null bitmap asks about the host's ISA; any id is accepted.
    unsafe { b::__riscv_isa_extension_available(core::ptr::null(), ext) }
}

// ---------------------------------------------------------------------------
// (area pmu)
// The perf events of the virtual PMU's hardware counters, and the host PMU
// driver's queries.

#[cfg(CONFIG_RISCV_PMU_SBI)]
pub(crate) use perf::{
    perf_attr_set_config1, perf_attr_set_sample_period, riscv_pmu_event_info, riscv_pmu_hpm_info,
    OverflowEvent, PerfEvent,
};

#[cfg(CONFIG_RISCV_PMU_SBI)]
mod perf {
    use crate::bindings as b;
    use core::marker::PhantomData;
    use core::ptr::{addr_of_mut, null_mut, NonNull};
    use kernel::error::code::EINVAL;
    use kernel::ffi::{c_int, c_void};
    use kernel::prelude::*;

    /// A perf event that KVM created and owns (`struct perf_event`): it is
    /// disabled and released when dropped. A C struct may hold it as its
    /// `struct perf_event *` field: an `Option<PerfEvent>` is that pointer,
    /// null for `None`.
    #[repr(transparent)]
    pub(crate) struct PerfEvent(NonNull<b::perf_event>);

    const _: () = assert!(size_of::<Option<PerfEvent>>() == size_of::<*mut b::perf_event>());

    impl PerfEvent {
        /// `perf_event_create_kernel_counter()` for the current task, on
        /// any CPU, with overflow handler `overflow` and its context `ctx`.
        ///
        /// # Safety
        /// Until the event is dropped, perf may call `overflow` with it, in
        /// interrupt context: what `overflow` does with `ctx` must stay
        /// valid until then.
        pub(crate) unsafe fn create(
            attr: &mut b::perf_event_attr,
            overflow: b::perf_overflow_handler_t,
            ctx: *mut c_void,
        ) -> Result<Self> {
            // SAFETY: `attr` is initialised and outlives the call; the
            // handler and its context per the function's contract.
            let event = unsafe {
                b::perf_event_create_kernel_counter(
                    attr,
                    -1,
                    kernel::task::Task::current_raw().cast(),
                    overflow,
                    ctx,
                )
            };
            // Never null: an event or an error pointer.
            NonNull::new(kernel::error::from_err_ptr(event)?)
                .map(Self)
                .ok_or(EINVAL)
        }

        /// `perf_event_enable()`.
        pub(crate) fn enable(&self) {
            // SAFETY: the event is live while owned.
            unsafe { b::perf_event_enable(self.0.as_ptr()) }
        }

        /// `perf_event_read_value()`: the event's count.
        pub(crate) fn read_value(&self) -> u64 {
            let (mut enabled, mut running) = (0u64, 0u64);
            // SAFETY: the event is live while owned; the two outputs are
            // valid for the call.
            unsafe { b::perf_event_read_value(self.0.as_ptr(), &mut enabled, &mut running) }
        }

        /// `perf_event_period()`; a period perf refuses is ignored, as
        /// upstream KVM ignores it.
        pub(crate) fn set_period(&self, period: u64) {
            // SAFETY: the event is live while owned.
            let _ = unsafe { b::perf_event_period(self.0.as_ptr(), period) };
        }

        /// `perf_event_pause()`: stops the event and returns its count,
        /// which `reset` zeroes.
        pub(crate) fn pause(&self, reset: bool) -> u64 {
            // SAFETY: the event is live while owned.
            unsafe { b::perf_event_pause(self.0.as_ptr(), reset) }
        }
    }

    impl Drop for PerfEvent {
        fn drop(&mut self) {
            // SAFETY: the event is live and ours; nothing uses it after its
            // release.
            unsafe {
                b::perf_event_disable(self.0.as_ptr());
                b::perf_event_release_kernel(self.0.as_ptr());
            }
        }
    }

    /// A perf event whose overflow handler runs (interrupt context, on the
    /// CPU that counts it), as the handler sees it.
    pub(crate) struct OverflowEvent<'a>(NonNull<b::perf_event>, PhantomData<&'a b::perf_event>);

    impl OverflowEvent<'_> {
        /// # Safety
        /// `event` is the event whose overflow handler is running, and the
        /// result is used only in that handler.
        pub(crate) unsafe fn from_raw(event: *mut b::perf_event) -> Self {
            // SAFETY: perf calls the handler with its live event.
            Self(unsafe { NonNull::new_unchecked(event) }, PhantomData)
        }

        /// The context the event was created with.
        pub(crate) fn context(&self) -> *mut c_void {
            // SAFETY: the live event; set at creation, then read only.
            unsafe { (*self.0.as_ptr()).overflow_handler_context }
        }

        /// Stops the counter, folding its count into the event
        /// (`pmu->stop(event, PERF_EF_UPDATE)`).
        pub(crate) fn stop_update(&self) {
            let e = self.0.as_ptr();
            // SAFETY: the live event's PMU, whose callbacks perf allows in
            // the event's overflow handler.
            if let Some(stop) = unsafe { (*(*e).pmu).stop } {
                // SAFETY: as above. CAST: a small flag.
                unsafe { stop(e, b::PERF_EF_UPDATE as c_int) };
            }
        }

        /// Restarts the counter with the event's period
        /// (`pmu->start(event, PERF_EF_RELOAD)`).
        pub(crate) fn start_reload(&self) {
            let e = self.0.as_ptr();
            // SAFETY: as in `stop_update`.
            if let Some(start) = unsafe { (*(*e).pmu).start } {
                // SAFETY: as above. CAST: a small flag.
                unsafe { start(e, b::PERF_EF_RELOAD as c_int) };
            }
        }

        /// The event's count (`local64_read(&event->count)`).
        pub(crate) fn count(&self) -> u64 {
            // SAFETY: the live event; `local64_read()` is a single-word read.
            let c = unsafe { addr_of_mut!((*self.0.as_ptr()).count.a.a.counter).read_volatile() };
            // CAST: the count is a u64 kept in a signed local64.
            c as u64
        }

        /// Makes `period` the event's next period, from now
        /// (`hw.period_left` 0, `attr.sample_period` and `hw.sample_period`).
        pub(crate) fn set_period(&self, period: u64) {
            let e = self.0.as_ptr();
            // SAFETY: the live event, stopped by the handler, which perf
            // lets write these (`local64_set()` is a single-word write); the
            // unions hold plain integers.
            unsafe {
                let left = (*e).hw.__bindgen_anon_2.__bindgen_anon_1.as_mut();
                addr_of_mut!(left.period_left.a.a.counter).write_volatile(0);
                *(*e).attr.__bindgen_anon_1.sample_period.as_mut() = period;
                (*e).hw.sample_period = period;
            }
        }
    }

    /// Sets `attr.sample_period`.
    pub(crate) fn perf_attr_set_sample_period(attr: &mut b::perf_event_attr, period: u64) {
        // SAFETY: a view of a union of plain integers.
        unsafe { *attr.__bindgen_anon_1.sample_period.as_mut() = period };
    }

    /// Sets `attr.config1`.
    pub(crate) fn perf_attr_set_config1(attr: &mut b::perf_event_attr, config1: u64) {
        // SAFETY: a view of a union of plain integers.
        unsafe { *attr.__bindgen_anon_3.config1.as_mut() = config1 };
    }

    /// `riscv_pmu_get_hpm_info()`: (counter width - 1, number of
    /// programmable counters) of the host, or `None` without an SBI PMU.
    pub(crate) fn riscv_pmu_hpm_info() -> Option<(u32, u32)> {
        let (mut width, mut num) = (0u32, 0u32);
        // SAFETY: a query of the host PMU driver; the outputs are valid.
        let ret = unsafe { b::riscv_pmu_get_hpm_info(&mut width, &mut num) };
        (ret >= 0).then_some((width, num))
    }

    /// `riscv_pmu_get_event_info(type, config, NULL)`: > 0 when the host
    /// can count the event.
    pub(crate) fn riscv_pmu_event_info(type_: u32, config: u64) -> c_int {
        // SAFETY: a query of the host PMU driver; no output asked.
        unsafe { b::riscv_pmu_get_event_info(type_, config, null_mut()) }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The arithmetic and the ONE_REG map of the guest timer (`vcpu_timer.c`).
//! Only `core` is used: host `cargo test` covers it.

/// The registers of `struct kvm_riscv_timer` (each a u64), by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerReg {
    /// The timebase frequency: read-only, a write must repeat it.
    Frequency,
    /// The guest's `time`.
    Time,
    /// The next event, in guest cycles.
    Compare,
    /// Is the next event armed? ([`STATE_ON`] / [`STATE_OFF`]).
    State,
}

/// `KVM_RISCV_TIMER_STATE_OFF` / `_ON`.
pub(crate) const STATE_OFF: u64 = 0;
pub(crate) const STATE_ON: u64 = 1;

impl TimerReg {
    /// The register a ONE_REG number names: upstream's number keeps the
    /// subtype and bits 51:32, so any of them set names none.
    pub(crate) const fn from_number(n: u64) -> Option<Self> {
        Some(match n {
            0 => TimerReg::Frequency,
            1 => TimerReg::Time,
            2 => TimerReg::Compare,
            3 => TimerReg::State,
            _ => return None,
        })
    }
}

/// Nanoseconds from guest cycle `now` until cycle `next`, 0 once it has
/// passed, with the clocksource's `mult` and `shift`
/// (`kvm_riscv_delta_cycles2ns()`). The product wraps, as upstream's u64
/// arithmetic does.
pub(crate) fn cycles_to_ns(now: u64, next: u64, mult: u32, shift: u32) -> u64 {
    next.saturating_sub(now)
        .wrapping_mul(u64::from(mult))
        .checked_shr(shift)
        .unwrap_or(0)
}

// SPDX-License-Identifier: GPL-2.0

//! The vCPU statistics descriptors of `vcpu.c` (`kvm_vcpu_stats_desc` and
//! `kvm_vcpu_stats_header`), which the generic core serves through
//! `KVM_GET_STATS_FD`. Same names, types, units and order as upstream 7.3.

use crate::bindings as b;
use core::mem::{offset_of, size_of};
use kernel::ffi::c_char;
use kernel::num::casts::{u16_as_usize, u32_as_usize, u32_into_u16};

pub(crate) const NAME_SIZE: usize =
    u32_as_usize(b::kvm_riscv_rs_const_KVM_RISCV_RS_STATS_NAME_SIZE);
const HIST_COUNT: u16 = u32_into_u16::<{ b::HALT_POLL_HIST_COUNT }>();

/// What a statistic measures (type, unit and exponent of its descriptor).
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A cumulative counter.
    Counter,
    /// Cumulative nanoseconds.
    TimeNsec,
    /// A logarithmic histogram of nanoseconds, `HIST_COUNT` buckets.
    LogHistNsec,
    /// An instantaneous boolean.
    InstantBool,
}

const fn name(s: &str) -> [c_char; NAME_SIZE] {
    let mut out = [0; NAME_SIZE];
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < NAME_SIZE - 1 {
        // CAST: ASCII names.
        out[i] = bytes[i] as c_char;
        i += 1;
    }
    out
}

/// The descriptor of statistic `n` of kind `kind` at byte `offset` of its
/// statistics struct.
pub(crate) const fn desc(kind: Kind, n: &str, offset: usize) -> b::kvm_stats_desc {
    let (ty, unit, exponent, size) = match kind {
        Kind::Counter => (b::KVM_STATS_TYPE_CUMULATIVE, b::KVM_STATS_UNIT_NONE, 0, 1),
        Kind::TimeNsec => (
            b::KVM_STATS_TYPE_CUMULATIVE,
            b::KVM_STATS_UNIT_SECONDS,
            -9,
            1,
        ),
        Kind::LogHistNsec => (
            b::KVM_STATS_TYPE_LOG_HIST,
            b::KVM_STATS_UNIT_SECONDS,
            -9,
            HIST_COUNT,
        ),
        Kind::InstantBool => (b::KVM_STATS_TYPE_INSTANT, b::KVM_STATS_UNIT_BOOLEAN, 0, 1),
    };
    b::kvm_stats_desc {
        flags: ty | unit | b::KVM_STATS_BASE_POW10,
        exponent,
        size,
        // CAST: offsets inside struct kvm_vcpu_stat are small.
        offset: offset as u32,
        bucket_size: 0,
        name: name(n),
    }
}

macro_rules! generic {
    ($kind:ident, $field:ident) => {
        desc(
            Kind::$kind,
            stringify!($field),
            offset_of!(b::kvm_vcpu_stat, generic.$field),
        )
    };
}
macro_rules! riscv {
    ($kind:ident, $field:ident) => {
        desc(
            Kind::$kind,
            stringify!($field),
            offset_of!(b::kvm_vcpu_stat, $field),
        )
    };
}

const NUM_DESC: usize = 25;

/// The descriptors, in upstream's order: the generic vCPU statistics, then
/// RISC-V's.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_vcpu_stats_desc: [b::kvm_stats_desc; NUM_DESC] = [
    generic!(Counter, halt_successful_poll),
    generic!(Counter, halt_attempted_poll),
    generic!(Counter, halt_poll_invalid),
    generic!(Counter, halt_wakeup),
    generic!(TimeNsec, halt_poll_success_ns),
    generic!(TimeNsec, halt_poll_fail_ns),
    generic!(TimeNsec, halt_wait_ns),
    generic!(LogHistNsec, halt_poll_success_hist),
    generic!(LogHistNsec, halt_poll_fail_hist),
    generic!(LogHistNsec, halt_wait_hist),
    generic!(InstantBool, blocking),
    riscv!(Counter, ecall_exit_stat),
    riscv!(Counter, wfi_exit_stat),
    riscv!(Counter, wrs_exit_stat),
    riscv!(Counter, mmio_exit_user),
    riscv!(Counter, mmio_exit_kernel),
    riscv!(Counter, csr_exit_user),
    riscv!(Counter, csr_exit_kernel),
    riscv!(Counter, signal_exits),
    riscv!(Counter, exits),
    riscv!(Counter, instr_illegal_exits),
    riscv!(Counter, load_misaligned_exits),
    riscv!(Counter, store_misaligned_exits),
    riscv!(Counter, load_access_exits),
    riscv!(Counter, store_access_exits),
];

/// The header of a statistics file of `num_desc` descriptors: the id, the
/// descriptors, then the data (`kvm_vcpu_stats_header`,
/// `kvm_vm_stats_header`).
pub(crate) const fn header(num_desc: usize) -> b::kvm_stats_header {
    let header = size_of::<b::kvm_stats_header>();
    b::kvm_stats_header {
        flags: 0,
        // CAST: small sizes.
        name_size: NAME_SIZE as u32,
        num_desc: num_desc as u32,
        id_offset: header as u32,
        desc_offset: (header + NAME_SIZE) as u32,
        data_offset: (header + NAME_SIZE + num_desc * size_of::<b::kvm_stats_desc>()) as u32,
    }
}

/// The header that frames the descriptors in the statistics file.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_vcpu_stats_header: b::kvm_stats_header = header(NUM_DESC);

// Every u64 of struct kvm_vcpu_stat is described, and nothing else.
const _: () = {
    let mut words = 0;
    let mut i = 0;
    while i < NUM_DESC {
        words += u16_as_usize(kvm_vcpu_stats_desc[i].size);
        i += 1;
    }
    assert!(words * size_of::<u64>() == size_of::<b::kvm_vcpu_stat>());
};

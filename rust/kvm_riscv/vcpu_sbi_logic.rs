// SPDX-License-Identifier: GPL-2.0

//! The decisions of the vCPU's SBI dispatch (`vcpu_sbi.c`): the status of
//! an extension, and what an SBI call's outcome does to the guest. Only
//! `core` is used: host `cargo test` covers it.

/// The status of an SBI extension for a vCPU (`enum
/// kvm_riscv_sbi_ext_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtStatus {
    Uninitialized = 0,
    /// The host or KVM cannot offer it: it has no ONE_REG register.
    Unavailable = 1,
    Enabled = 2,
    /// Userspace turned it off.
    Disabled = 3,
}

impl ExtStatus {
    pub(crate) const fn from_raw(v: u32) -> Self {
        match v {
            1 => ExtStatus::Unavailable,
            2 => ExtStatus::Enabled,
            3 => ExtStatus::Disabled,
            _ => ExtStatus::Uninitialized,
        }
    }

    pub(crate) const fn raw(self) -> u32 {
        // CAST: the discriminant, 0 to 3.
        self as u32
    }
}

/// What an extension's handler came to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// The handler's return: negative for a Linux error, which ends
    /// `KVM_RUN` with it.
    pub(crate) ret: i32,
    /// It recorded a trap for the guest.
    pub(crate) trapped: bool,
    /// It wants userspace to finish the call.
    pub(crate) uexit: bool,
}

/// What the dispatch then does (`kvm_riscv_vcpu_sbi_ecall()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    /// Redirect the recorded trap to the guest (at the ecall).
    pub(crate) redirect: bool,
    /// a0 := the SBI error.
    pub(crate) set_error: bool,
    /// Step over the ecall.
    pub(crate) advance: bool,
    /// a1 := the value.
    pub(crate) set_value: bool,
    /// 1: back to the guest; 0: exit to userspace; < 0: the error.
    pub(crate) ret: i32,
}

/// The completion of a handled call; `v01`: a legacy (v0.1) call, which
/// returns no value in a1.
pub(crate) const fn complete(o: Outcome, v01: bool) -> Completion {
    let (redirect, set_error, advance, ret) = if o.ret < 0 {
        (false, false, false, o.ret)
    } else if o.trapped {
        (true, false, false, 1)
    } else if o.uexit {
        (false, false, false, 0)
    } else {
        (false, true, true, 1)
    };
    Completion {
        redirect,
        set_error,
        advance,
        set_value: !v01 && ret == 1,
        ret,
    }
}

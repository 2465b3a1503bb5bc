// SPDX-License-Identifier: GPL-2.0

//! SBI error codes (SBI specification, "Standard SBI Errors") and the Linux
//! errno each maps to (upstream's `sbi_err_map_linux_errno()`).
//! Only `core` is used: host `cargo test` covers this module.

/// An SBI error code, as returned in `a0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SbiError {
    Failure,
    NotSupported,
    InvalidParam,
    Denied,
    InvalidAddress,
    AlreadyAvailable,
    AlreadyStarted,
    AlreadyStopped,
    NoShmem,
    InvalidState,
    BadRange,
    Timeout,
    Io,
    DeniedLocked,
    /// A code this version of the specification does not define.
    Unknown(i64),
}

impl SbiError {
    /// Decodes `a0` of an SBI call: `Ok(())` for `SBI_SUCCESS`.
    pub(crate) const fn decode(code: i64) -> Result<(), SbiError> {
        Err(match code {
            0 => return Ok(()),
            -1 => Self::Failure,
            -2 => Self::NotSupported,
            -3 => Self::InvalidParam,
            -4 => Self::Denied,
            -5 => Self::InvalidAddress,
            -6 => Self::AlreadyAvailable,
            -7 => Self::AlreadyStarted,
            -8 => Self::AlreadyStopped,
            -9 => Self::NoShmem,
            -10 => Self::InvalidState,
            -11 => Self::BadRange,
            -12 => Self::Timeout,
            -13 => Self::Io,
            -14 => Self::DeniedLocked,
            c => Self::Unknown(c),
        })
    }

    /// The SBI error code of this error, for `a0`.
    // Its only kernel user is the SBI PMU, compiled only with
    // CONFIG_RISCV_PMU_SBI (this pure module names no kernel option: host
    // cargo test builds it too).
    #[allow(dead_code)]
    pub(crate) const fn code(self) -> i64 {
        match self {
            Self::Failure => -1,
            Self::NotSupported => -2,
            Self::InvalidParam => -3,
            Self::Denied => -4,
            Self::InvalidAddress => -5,
            Self::AlreadyAvailable => -6,
            Self::AlreadyStarted => -7,
            Self::AlreadyStopped => -8,
            Self::NoShmem => -9,
            Self::InvalidState => -10,
            Self::BadRange => -11,
            Self::Timeout => -12,
            Self::Io => -13,
            Self::DeniedLocked => -14,
            Self::Unknown(c) => c,
        }
    }

    /// The negative Linux errno the host kernel uses for this error.
    pub(crate) const fn to_errno(self) -> i32 {
        match self {
            Self::Denied | Self::DeniedLocked => -errno::EPERM,
            Self::InvalidParam | Self::InvalidState => -errno::EINVAL,
            Self::BadRange => -errno::ERANGE,
            Self::InvalidAddress => -errno::EFAULT,
            Self::NoShmem => -errno::ENOMEM,
            Self::Timeout => -errno::ETIMEDOUT,
            Self::Io => -errno::EIO,
            _ => -errno::ENOTSUPP,
        }
    }
}

/// The errno values used above (`uapi/asm-generic/errno*.h`, `linux/errno.h`).
pub(crate) mod errno {
    pub(crate) const EPERM: i32 = 1;
    pub(crate) const EIO: i32 = 5;
    pub(crate) const ENOMEM: i32 = 12;
    pub(crate) const EFAULT: i32 = 14;
    pub(crate) const EINVAL: i32 = 22;
    pub(crate) const ERANGE: i32 = 34;
    pub(crate) const ETIMEDOUT: i32 = 110;
    pub(crate) const ENOTSUPP: i32 = 524;
}

// SPDX-License-Identifier: GPL-2.0

//! `kvm_info!` and `kvm_err!`: the kernel's `kvm_info()`/`kvm_err()`, which
//! start each line with `kvm [<pid>]: `, so the log reads as upstream's.

use core::fmt;

/// Printk levels used by the backend.
#[derive(Clone, Copy)]
#[allow(dead_code)]
pub(crate) enum Level {
    Err,
    Info,
}

/// Prints `kvm [<pid of current>]: <args>` at `level`.
pub(crate) fn kvm_printk(level: Level, args: fmt::Arguments<'_>) {
    crate::ffi::printk_kvm(matches!(level, Level::Err), kernel::current!().pid(), args);
}

macro_rules! kvm_info {
    ($($arg:tt)*) => {
        $crate::print::kvm_printk($crate::print::Level::Info, ::core::format_args!($($arg)*))
    };
}
pub(crate) use kvm_info;

#[allow(unused_macros)]
macro_rules! kvm_err {
    ($($arg:tt)*) => {
        $crate::print::kvm_printk($crate::print::Level::Err, ::core::format_args!($($arg)*))
    };
}
#[allow(unused_imports)]
pub(crate) use kvm_err;

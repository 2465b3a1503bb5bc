// SPDX-License-Identifier: GPL-2.0

//! Bindings for KVM's C interfaces, generated at build time by
//! `rust/gen_bindings.sh` from `bindings_helper.h`.
//!
//! Types that `kernel::bindings` already defines are not generated again;
//! they come in through the glob import below, so that a `struct mutex` here
//! is the same type as the kernel crate's.

#![allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    clippy::all,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::cast_lossless,
    clippy::undocumented_unsafe_blocks
)]

#[allow(unused_imports)]
pub(crate) use kernel::bindings::*;

include!("bindings_generated.rs");

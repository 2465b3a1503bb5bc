// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_forward.c`: the extensions whose every
//! call userspace answers (`KVM_EXIT_RISCV_SBI`): the experimental and
//! vendor ranges, and the console (DBCN) and message proxy (MPXY), which
//! are off until userspace turns them on through ONE_REG.

use crate::bindings as b;
use crate::handle::{SbiRet, VcpuCtx};
use crate::vcpu_sbi::{forward_handler, Extension, RustExt};
use kernel::ffi::c_int;

/// Every call goes to userspace.
struct Forward;

impl Extension for Forward {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        forward_handler(cx, ret)
    }
}

/// An extension of extension ids `start..=end` that forwards every call.
const fn forward(start: b::sbi_ext_id, end: b::sbi_ext_id, default_disabled: bool) -> RustExt {
    RustExt::range(start, end, default_disabled, &Forward)
}

pub(crate) static VCPU_SBI_EXT_EXPERIMENTAL: RustExt = forward(
    b::sbi_ext_id_SBI_EXT_EXPERIMENTAL_START,
    b::sbi_ext_id_SBI_EXT_EXPERIMENTAL_END,
    false,
);

pub(crate) static VCPU_SBI_EXT_VENDOR: RustExt = forward(
    b::sbi_ext_id_SBI_EXT_VENDOR_START,
    b::sbi_ext_id_SBI_EXT_VENDOR_END,
    false,
);

pub(crate) static VCPU_SBI_EXT_DBCN: RustExt =
    forward(b::sbi_ext_id_SBI_EXT_DBCN, b::sbi_ext_id_SBI_EXT_DBCN, true);

pub(crate) static VCPU_SBI_EXT_MPXY: RustExt =
    forward(b::sbi_ext_id_SBI_EXT_MPXY, b::sbi_ext_id_SBI_EXT_MPXY, true);

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_base.c`: the SBI Base extension, which
//! every guest has and nobody can disable: the versions and ids of the
//! implementation and of the machine, and the probe of the other
//! extensions.

use crate::bindings as b;
use crate::handle::{SbiRet, VcpuCtx};
use crate::vcpu_sbi::{find_ext, forward_handler, sbi_err, Extension, RustExt};
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::{u32_as_usize, FromSafeCast};

/// The functions of Base (SBI specification, "Base Extension").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    GetSpecVersion,
    GetImpId,
    GetImpVersion,
    ProbeExtension,
    GetMvendorid,
    GetMarchid,
    GetMimpid,
}

impl Function {
    /// The function `fid` (a6) names, if any.
    fn decode(fid: c_ulong) -> Option<Self> {
        Some(match u32::try_from(fid).ok()? {
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_SPEC_VERSION => Self::GetSpecVersion,
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_IMP_ID => Self::GetImpId,
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_IMP_VERSION => Self::GetImpVersion,
            b::sbi_ext_base_fid_SBI_EXT_BASE_PROBE_EXT => Self::ProbeExtension,
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_MVENDORID => Self::GetMvendorid,
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_MARCHID => Self::GetMarchid,
            b::sbi_ext_base_fid_SBI_EXT_BASE_GET_MIMPID => Self::GetMimpid,
            _ => return None,
        })
    }
}

/// The SBI specification version KVM implements, as `get_spec_version`
/// returns it: major in bits 30:24, minor in 23:0.
const SPEC_VERSION: c_ulong = u32_as_usize(
    (b::KVM_SBI_VERSION_MAJOR << b::SBI_SPEC_VERSION_MAJOR_SHIFT) | b::KVM_SBI_VERSION_MINOR,
);

/// Whether extension id `id` is in the experimental or the vendor range,
/// whose calls (their probes included) userspace answers.
fn forwarded(id: c_ulong) -> bool {
    let r = |lo: b::sbi_ext_id, hi: b::sbi_ext_id| {
        (c_ulong::from_safe_cast(lo)..=c_ulong::from_safe_cast(hi)).contains(&id)
    };
    r(
        b::sbi_ext_id_SBI_EXT_EXPERIMENTAL_START,
        b::sbi_ext_id_SBI_EXT_EXPERIMENTAL_END,
    ) || r(
        b::sbi_ext_id_SBI_EXT_VENDOR_START,
        b::sbi_ext_id_SBI_EXT_VENDOR_END,
    )
}

/// `probe_extension(extension_id = a0)`: whether an extension is on, by
/// its probe if it has one. Out of line: the other functions stay a leaf
/// without a stack frame.
#[inline(never)]
fn probe_extension(cx: &mut VcpuCtx<'_>, id: c_ulong, ret: &mut SbiRet) -> c_int {
    if forwarded(id) {
        return forward_handler(cx, ret);
    }
    ret.out_val = match find_ext(cx, id) {
        Some(ext) => ext.probe(cx).unwrap_or(1),
        None => 0,
    };
    0
}

struct Base;

impl Extension for Base {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let (fid, a0) = {
            let g = cx.guest();
            (g.a6, g.a0)
        };
        ret.out_val = match Function::decode(fid) {
            Some(Function::GetSpecVersion) => SPEC_VERSION,
            Some(Function::GetImpId) => c_ulong::from_safe_cast(b::KVM_SBI_IMPID),
            Some(Function::GetImpVersion) => c_ulong::from_safe_cast(b::LINUX_VERSION_CODE),
            Some(Function::ProbeExtension) => return probe_extension(cx, a0, ret),
            Some(Function::GetMvendorid) => *cx.parts().mvendorid,
            Some(Function::GetMarchid) => *cx.parts().marchid,
            Some(Function::GetMimpid) => *cx.parts().mimpid,
            None => {
                ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
                return 0;
            }
        };
        0
    }
}

/// The Base extension: the table's entry without a status slot.
pub(crate) static VCPU_SBI_EXT_BASE: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_BASE, &Base);

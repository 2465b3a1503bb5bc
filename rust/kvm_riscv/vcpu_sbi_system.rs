// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_system.c`: the SBI system suspend
//! extension (SUSP), off until userspace turns it on through ONE_REG.
//! KVM checks the call, arranges for the vCPU to resume at the given
//! address, and userspace suspends the machine (`KVM_EXIT_RISCV_SBI`).

use crate::bindings as b;
use crate::handle::{SbiRet, VcpuCtx};
use crate::regs_logic::Sstatus;
use crate::vcpu_sbi::{forward_handler, request_reset, sbi_err, Extension, RustExt};
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::FromSafeCast;

/// The functions of SUSP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    SystemSuspend,
}

impl Function {
    fn decode(fid: c_ulong) -> Option<Self> {
        match u32::try_from(fid).ok()? {
            b::sbi_ext_susp_fid_SBI_EXT_SUSP_SYSTEM_SUSPEND => Some(Self::SystemSuspend),
            _ => None,
        }
    }
}

/// `system_suspend(sleep_type = a0, resume_addr = a1, opaque = a2)`: the
/// SBI error, or `None` when it goes to userspace.
fn system_suspend(cx: &mut VcpuCtx<'_>) -> Option<c_int> {
    let g = cx.guest();
    let (sleep_type, resume, opaque, sstatus) = (g.a0, g.a1, g.a2, g.sstatus);
    // The sleep type is 32 bits wide; only suspend-to-RAM is offered.
    // CAST: its low 32 bits, on purpose.
    if sleep_type as u32 != b::sbi_ext_susp_sleep_type_SBI_SUSP_SLEEP_TYPE_SUSPEND_TO_RAM {
        return Some(b::SBI_ERR_INVALID_PARAM);
    }
    // Only from S-mode.
    if !Sstatus::from_raw(u64::from_safe_cast(sstatus)).spp() {
        return Some(b::SBI_ERR_FAILURE);
    }
    if !cx.gfn_backed(u64::from_safe_cast(resume) >> b::PAGE_SHIFT) {
        return Some(b::SBI_ERR_INVALID_ADDRESS);
    }
    // Every other vCPU must be stopped. As upstream, a concurrent HSM
    // start by another vCPU can still race with this check: only the
    // guest's own state is at stake, and userspace can check again.
    let v = cx.vcpu();
    if v.vm()
        .vcpus()
        .any(|o| !core::ptr::eq(o, v) && !crate::vcpu::stopped(o))
    {
        return Some(b::SBI_ERR_DENIED);
    }
    request_reset(v, resume, opaque);
    None
}

struct Susp;

impl Extension for Susp {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let err = match Function::decode(cx.guest().a6) {
            Some(Function::SystemSuspend) => match system_suspend(cx) {
                Some(err) => err,
                // Userspace suspends the machine.
                None => return forward_handler(cx, ret),
            },
            None => b::SBI_ERR_NOT_SUPPORTED,
        };
        ret.err_val = sbi_err(err);
        0
    }
}

pub(crate) static VCPU_SBI_EXT_SUSP: RustExt = RustExt::range(
    b::sbi_ext_id_SBI_EXT_SUSP,
    b::sbi_ext_id_SBI_EXT_SUSP,
    true,
    &Susp,
);

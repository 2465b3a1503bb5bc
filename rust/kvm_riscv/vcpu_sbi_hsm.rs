// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_hsm.c`: the SBI hart state management
//! extension (HSM). A vCPU starts another (which then resets to the given
//! address and opaque value), stops itself, asks for a vCPU's state, or
//! suspends itself (retentively, as `wfi`).

use crate::bindings as b;
use crate::handle::{SbiRet, Vcpu, VcpuCtx};
use crate::vcpu::{power_off_locked, power_on_locked, stopped};
use crate::vcpu_sbi::{request_reset, sbi_err, Extension, RustExt};
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::u32_as_usize;

/// The functions of HSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Start,
    Stop,
    GetStatus,
    Suspend,
}

impl Function {
    fn decode(fid: c_ulong) -> Option<Self> {
        Some(match u32::try_from(fid).ok()? {
            b::sbi_ext_hsm_fid_SBI_EXT_HSM_HART_START => Self::Start,
            b::sbi_ext_hsm_fid_SBI_EXT_HSM_HART_STOP => Self::Stop,
            b::sbi_ext_hsm_fid_SBI_EXT_HSM_HART_STATUS => Self::GetStatus,
            b::sbi_ext_hsm_fid_SBI_EXT_HSM_HART_SUSPEND => Self::Suspend,
            _ => return None,
        })
    }
}

/// The target of a call: the vCPU whose id is `a0`. As upstream, the id is
/// taken as a C `int` (`kvm_get_vcpu_by_id()`): its upper 32 bits are
/// dropped, and a negative one names no vCPU.
fn target<'a>(cx: &VcpuCtx<'a>, a0: c_ulong) -> Option<&'a Vcpu> {
    // CAST: the low 32 bits, as a C int, on purpose (see above).
    let id = u32::try_from(a0 as u32 as i32).ok()?;
    cx.vcpu().vm().vcpu_by_id(id)
}

/// `hart_start(hartid = a0, start_addr = a1, opaque = a2)`.
fn hart_start(cx: &mut VcpuCtx<'_>) -> c_int {
    let g = cx.guest();
    let (id, pc, opaque) = (g.a0, g.a1, g.a2);
    let Some(t) = target(cx, id) else {
        return b::SBI_ERR_INVALID_PARAM;
    };
    t.with_mp_state_lock(|l| {
        if !stopped(l.vcpu()) {
            return b::SBI_ERR_ALREADY_AVAILABLE;
        }
        request_reset(l.vcpu(), pc, opaque);
        power_on_locked(l);
        0
    })
}

/// `hart_stop()`, by the calling vCPU.
fn hart_stop(cx: &mut VcpuCtx<'_>) -> c_int {
    cx.vcpu().with_mp_state_lock(|l| {
        if stopped(l.vcpu()) {
            return b::SBI_ERR_FAILURE;
        }
        power_off_locked(l);
        0
    })
}

/// `hart_get_status(hartid = a0)`: the state, or the SBI error.
fn hart_get_status(cx: &mut VcpuCtx<'_>) -> Result<b::sbi_hsm_hart_state, c_int> {
    let id = cx.guest().a0;
    let t = target(cx, id).ok_or(b::SBI_ERR_INVALID_PARAM)?;
    Ok(if stopped(t) {
        b::sbi_hsm_hart_state_SBI_HSM_STATE_STOPPED
    } else if t.blocking_stat() {
        b::sbi_hsm_hart_state_SBI_HSM_STATE_SUSPENDED
    } else {
        b::sbi_hsm_hart_state_SBI_HSM_STATE_STARTED
    })
}

/// `hart_suspend(suspend_type = a0, ...)`: only the default retentive
/// suspend, which is a `wfi`.
fn hart_suspend(cx: &mut VcpuCtx<'_>) -> c_int {
    // CAST: the suspend type is 32 bits wide; its low half, on purpose.
    match cx.guest().a0 as u32 {
        b::SBI_HSM_SUSPEND_RET_DEFAULT => {
            crate::vcpu_insn::wfi(cx);
            0
        }
        b::SBI_HSM_SUSPEND_NON_RET_DEFAULT => b::SBI_ERR_NOT_SUPPORTED,
        _ => b::SBI_ERR_INVALID_PARAM,
    }
}

struct Hsm;

impl Extension for Hsm {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let err = match Function::decode(cx.guest().a6) {
            Some(Function::Start) => hart_start(cx),
            Some(Function::Stop) => hart_stop(cx),
            Some(Function::GetStatus) => match hart_get_status(cx) {
                Ok(state) => {
                    ret.out_val = u32_as_usize(state);
                    0
                }
                Err(e) => e,
            },
            Some(Function::Suspend) => hart_suspend(cx),
            None => b::SBI_ERR_NOT_SUPPORTED,
        };
        ret.err_val = sbi_err(err);
        0
    }
}

pub(crate) static VCPU_SBI_EXT_HSM: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_HSM, &Hsm);

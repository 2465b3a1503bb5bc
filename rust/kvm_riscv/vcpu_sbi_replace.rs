// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_replace.c`: the SBI extensions that
//! replace the legacy (v0.1) calls: the timer (TIME), inter-processor
//! interrupts (IPI), remote fences (RFENCE) and system reset (SRST).
//!
//! Each call counts its firmware event into the SBI PMU, as upstream. The
//! remote fences are C `tlb.c`'s until the MMU is ported.

use crate::bindings as b;
use crate::handle::{SbiRet, VcpuCtx};
use crate::tlb;
use crate::tlb_logic::HartMask;
use crate::vcpu_sbi::{count_fw, sbi_err, system_reset, Extension, RustExt};
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::{u32_as_usize, usize_as_u64, FromSafeCast};

/// `fid` as a function number of an SBI extension, if it is one (they are
/// all below 2^32).
fn fid_u32(fid: c_ulong) -> Option<u32> {
    u32::try_from(fid).ok()
}

// --- TIME --------------------------------------------------------------------

struct Time;

impl Extension for Time {
    /// `set_timer(stime_value = a0)`, its only function.
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let g = cx.guest();
        let (fid, next) = (g.a6, g.a0);
        if fid_u32(fid) != Some(b::sbi_ext_time_fid_SBI_EXT_TIME_SET_TIMER) {
            ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
            return 0;
        }
        count_fw(
            cx.vcpu(),
            b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_SET_TIMER,
        );
        // RV64: the whole time value is in a0. As upstream, the call cannot
        // fail (the timer's error, if any, is not the guest's).
        let _ = crate::vcpu_timer::next_event(cx, u64::from_safe_cast(next));
        0
    }
}

pub(crate) static VCPU_SBI_EXT_TIME: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_TIME, &Time);

// --- IPI ---------------------------------------------------------------------

/// Whether the vCPU with hart id `id` is in the hart mask `hmask` based at
/// `hbase` (-1: every hart), and its bit in the mask (0 for -1).
fn in_mask(id: c_ulong, hmask: c_ulong, hbase: c_ulong) -> Option<u32> {
    if hbase == c_ulong::MAX {
        return Some(0);
    }
    // A hart below the base, or beyond the mask's width, is not named.
    let bit = u32::try_from(id.checked_sub(hbase)?).ok()?;
    (bit < c_ulong::BITS && hmask & (1 << bit) != 0).then_some(bit)
}

struct Ipi;

impl Extension for Ipi {
    /// `send_ipi(hart_mask = a0, hart_mask_base = a1)`, its only function:
    /// the VS-level software interrupt of every vCPU the mask names. An id
    /// in the mask without a vCPU is `SBI_ERR_INVALID_PARAM` (the others
    /// get theirs).
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let g = cx.guest();
        let (fid, hmask, hbase) = (g.a6, g.a0, g.a1);
        if fid_u32(fid) != Some(b::sbi_ext_ipi_fid_SBI_EXT_IPI_SEND_IPI) {
            ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
            return 0;
        }
        let v = cx.vcpu();
        count_fw(v, b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_IPI_SENT);
        let mut sent: c_ulong = 0;
        let mut rc = 0;
        // In the order the vCPUs were created, which has nothing to do with
        // their ids: a vCPU outside the mask is skipped, not the end.
        for t in v.vm().vcpus() {
            let Some(bit) = in_mask(u32_as_usize(t.id()), hmask, hbase) else {
                continue;
            };
            if let Err(e) = crate::vcpu_irq::set_interrupt(t, b::IRQ_VS_SOFT) {
                rc = e.to_errno();
                break;
            }
            sent |= 1 << bit;
            count_fw(t, b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_IPI_RCVD);
        }
        if hbase != c_ulong::MAX && hmask != sent {
            ret.err_val = sbi_err(b::SBI_ERR_INVALID_PARAM);
        }
        rc
    }
}

pub(crate) static VCPU_SBI_EXT_IPI: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_IPI, &Ipi);

// --- RFENCE ------------------------------------------------------------------

/// The functions of RFENCE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rfence {
    FenceI,
    SfenceVma,
    SfenceVmaAsid,
    /// The HFENCE functions, for a guest's own guests: not supported until
    /// KVM offers nested virtualization.
    Hfence,
}

impl Rfence {
    fn decode(fid: c_ulong) -> Option<Self> {
        Some(match fid_u32(fid)? {
            b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_FENCE_I => Self::FenceI,
            b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_SFENCE_VMA => Self::SfenceVma,
            b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID => Self::SfenceVmaAsid,
            b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA
            | b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID
            | b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA
            | b::sbi_ext_rfence_fid_SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA_ASID => Self::Hfence,
            _ => return None,
        })
    }
}

/// Whether a range (start, size) asks for the whole address space: 0 and
/// 0, or a size of all ones.
fn whole_space(start: c_ulong, size: c_ulong) -> bool {
    (start == 0 && size == 0) || size == c_ulong::MAX
}

struct RfenceExt;

impl Extension for RfenceExt {
    /// `remote_*(hart_mask = a0, hart_mask_base = a1, start = a2, size = a3,
    /// asid = a4)`. As upstream, hart ids without a vCPU are ignored.
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let g = cx.guest();
        let (fid, hmask, hbase, start, size, asid) = (g.a6, g.a0, g.a1, g.a2, g.a3, g.a4);
        let v = cx.vcpu();
        let vm = v.vm();
        let harts = HartMask {
            base: hbase,
            mask: hmask,
        };
        let range = (!whole_space(start, size)).then(|| {
            (
                usize_as_u64(start),
                usize_as_u64(size),
                u32_as_usize(b::PAGE_SHIFT),
            )
        });
        match Rfence::decode(fid) {
            Some(Rfence::FenceI) => {
                tlb::fence_i(vm, harts);
                count_fw(v, b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_FENCE_I_SENT);
            }
            Some(Rfence::SfenceVma) => {
                tlb::hfence_vvma(vm, harts, range, None, vm.vmid());
                count_fw(
                    v,
                    b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_HFENCE_VVMA_SENT,
                );
            }
            Some(Rfence::SfenceVmaAsid) => {
                tlb::hfence_vvma(vm, harts, range, Some(asid), vm.vmid());
                count_fw(
                    v,
                    b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_HFENCE_VVMA_ASID_SENT,
                );
            }
            Some(Rfence::Hfence) | None => ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED),
        }
        0
    }
}

pub(crate) static VCPU_SBI_EXT_RFENCE: RustExt =
    RustExt::one(b::sbi_ext_id_SBI_EXT_RFENCE, &RfenceExt);

// --- SRST --------------------------------------------------------------------

struct Srst;

impl Extension for Srst {
    /// `system_reset(reset_type = a0, reset_reason = a1)`, its only
    /// function: shutdown, or a cold or warm reboot, as a system event for
    /// userspace with the reason in its data. Other types are not
    /// supported; the reason is passed on as it is.
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let g = cx.guest();
        // CAST (both): 32-bit parameters; their low halves, on purpose.
        let (fid, type_, reason) = (g.a6, g.a0 as u32, g.a1 as u32);
        if fid_u32(fid) != Some(b::sbi_ext_srst_fid_SBI_EXT_SRST_RESET) {
            ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
            return 0;
        }
        let event = match type_ {
            b::sbi_srst_reset_type_SBI_SRST_RESET_TYPE_SHUTDOWN => b::KVM_SYSTEM_EVENT_SHUTDOWN,
            b::sbi_srst_reset_type_SBI_SRST_RESET_TYPE_COLD_REBOOT
            | b::sbi_srst_reset_type_SBI_SRST_RESET_TYPE_WARM_REBOOT => b::KVM_SYSTEM_EVENT_RESET,
            _ => {
                ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
                return 0;
            }
        };
        system_reset(cx, event, u64::from(reason));
        ret.uexit = true;
        0
    }
}

pub(crate) static VCPU_SBI_EXT_SRST: RustExt = RustExt::one(b::sbi_ext_id_SBI_EXT_SRST, &Srst);

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_sta.c`: the SBI steal-time accounting
//! extension (STA) and its ONE_REG state registers.
//!
//! The guest names a 64-byte `struct sbi_sta_struct` in its memory; KVM
//! adds the time the vCPU thread waited to run (the scheduler's
//! `run_delay`) to its `steal` field, under an odd `sequence`, each time
//! the vCPU is loaded (`KVM_REQ_STEAL_UPDATE`). RV64 only: the shared
//! memory's high half must be 0.
//!
//! The extension's C description ([`VCPU_SBI_EXT_STA`], in the table of
//! `vcpu_sbi.rs`) reaches the functions here through the handle's
//! [`SbiExtCallbacks`] trampolines.

use crate::bindings as b;
use crate::ffi;
use crate::handle::{sbi_extension, SbiExt, SbiExtCallbacks, VcpuCtx};
use core::mem::{offset_of, size_of};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::arch::u64_as_usize;
use kernel::num::casts::{usize_as_u64, FromSafeCast};
use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

/// `INVALID_GPA`: no shared memory.
const INVALID_GPA: u64 = u64::MAX;
/// The shared memory's size and alignment.
const STA_SIZE: usize = 64;
const SEQUENCE: usize = offset_of!(b::sbi_sta_struct, sequence);
const STEAL: usize = offset_of!(b::sbi_sta_struct, steal);

/// The number of STA state registers: shmem_lo, shmem_hi
/// (`struct kvm_riscv_sbi_sta`).
const STATE_REG_COUNT: c_ulong = 2;

const _: () = {
    assert!(size_of::<b::sbi_sta_struct>() == STA_SIZE);
    assert!(SEQUENCE == 0 && STEAL == 8);
    assert!(size_of::<b::kvm_riscv_sbi_sta>() / size_of::<c_ulong>() == STATE_REG_COUNT);
    assert!(b::SBI_SHMEM_DISABLE == -1);
};

/// The STA state registers, by number.
const REG_SHMEM_LO: c_ulong = 0;
const REG_SHMEM_HI: c_ulong = 1;

/// The user address `off` bytes into the page of guest memory at `hva`.
fn at(hva: c_ulong, off: usize, len: usize) -> UserSlice {
    UserSlice::new(UserPtr::from_addr(hva + off), len)
}

/// `kvm_riscv_vcpu_record_steal_time()`: adds the steal time since the
/// last update to the guest's record, under a sequence count the guest
/// reads around it. A shared memory that no memslot backs any more is
/// dropped. On the run loop.
///
/// A failed access to the record is skipped, as upstream does, but without
/// upstream's WARN_ON: the VMM makes it fail by changing the protection of
/// guest memory (kvm_fuzz, seed 2, cases 1 and 3), and a WARN that
/// userspace can raise takes the host down under `panic_on_warn` (README,
/// known differences).
#[inline]
pub(crate) fn record_steal_time(cx: &mut VcpuCtx<'_>) {
    if cx.sta().shmem != INVALID_GPA {
        record(cx);
    }
}

/// The update itself, out of line: the vCPU load path, where the check
/// above is inlined, stays small when the guest has no shared memory.
#[inline(never)]
fn record(cx: &mut VcpuCtx<'_>) {
    let sta = cx.sta();
    let (shmem, last_steal) = (sta.shmem, sta.last_steal);
    // The 64 bytes are 64-byte aligned: all in one page.
    let gfn = shmem >> b::PAGE_SHIFT;
    let Some(hva) = cx.gfn_to_hva(gfn) else {
        cx.sta().shmem = INVALID_GPA;
        return;
    };
    let base = u64_as_usize(shmem) & (b::PAGE_SIZE - 1);
    let seq_at = || at(hva, base + SEQUENCE, 4);
    let steal_at = || at(hva, base + STEAL, 8);
    let Ok(seq) = seq_at().reader().read::<u32>() else {
        return;
    };
    let seq = u32::from_le(seq).wrapping_add(1);
    if seq_at().writer().write(&seq.to_le()).is_err() {
        return;
    }
    if let Ok(steal) = steal_at().reader().read::<u64>() {
        let now = ffi::current_run_delay();
        cx.sta().last_steal = now;
        let steal = u64::from_le(steal).wrapping_add(now.wrapping_sub(last_steal));
        // Failures from here on leave the record as the guest sees it
        // half-way (an odd sequence count), as upstream.
        let _ = steal_at().writer().write(&steal.to_le());
    }
    let _ = seq_at().writer().write(&seq.wrapping_add(1).to_le());
    cx.mark_page_dirty(gfn);
}

/// `sbi_sta_steal_time_set_shmem(lo, hi, flags)`: the SBI error.
fn set_shmem(cx: &mut VcpuCtx<'_>, lo: c_ulong, hi: c_ulong, flags: c_ulong) -> c_int {
    // CAST: upstream takes the flags as a u32.
    if flags as u32 != 0 {
        return b::SBI_ERR_INVALID_PARAM;
    }
    // CAST: SBI_SHMEM_DISABLE is -1, all ones.
    let disable = b::SBI_SHMEM_DISABLE as c_ulong;
    if lo == disable && hi == disable {
        cx.sta().shmem = INVALID_GPA;
        return 0;
    }
    if lo & (STA_SIZE - 1) != 0 {
        return b::SBI_ERR_INVALID_PARAM;
    }
    // RV64: the address is all in `lo`.
    if hi != 0 {
        return b::SBI_ERR_INVALID_ADDRESS;
    }
    let shmem = u64::from_safe_cast(lo);
    // The write checks that a writable memslot backs the range.
    if cx.write_guest(shmem, &[0u8; STA_SIZE]).is_err() {
        return b::SBI_ERR_INVALID_ADDRESS;
    }
    let sta = cx.sta();
    sta.shmem = shmem;
    sta.last_steal = ffi::current_run_delay();
    0
}

/// The STA handler (`kvm_sbi_ext_sta_handler()`): one function,
/// set_shmem. On the run loop.
fn handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int {
    let g = cx.guest();
    let (fid, a0, a1, a2) = (g.a6, g.a0, g.a1, g.a2);
    let err = if fid == c_ulong::from_safe_cast(b::sbi_ext_sta_fid_SBI_EXT_STA_STEAL_TIME_SET_SHMEM)
    {
        set_shmem(cx, a0, a1, a2)
    } else {
        b::SBI_ERR_NOT_SUPPORTED
    };
    // CAST: an SBI error, sign-extended to XLEN.
    ret.err_val = err as c_ulong;
    0
}

/// No shared memory after a reset.
fn reset(cx: &mut VcpuCtx<'_>) {
    let sta = cx.sta();
    sta.shmem = INVALID_GPA;
    sta.last_steal = 0;
}

/// GET of shmem_lo (the address, or all ones) or shmem_hi (0 on RV64); the
/// caller checked that the register is an `unsigned long`.
fn get_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<c_ulong> {
    match num {
        REG_SHMEM_LO => Ok(u64_as_usize(cx.sta().shmem)),
        REG_SHMEM_HI => Ok(0),
        _ => Err(ENOENT),
    }
}

/// SET of shmem_lo (64-byte aligned, or all ones for none) or shmem_hi,
/// to `v`; the caller checked that the register is an `unsigned long`.
/// As upstream: on RV64, writing 0 to shmem_hi also drops the shared
/// memory (its new value starts as "none"), and any other value is -EINVAL.
fn set_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong, v: c_ulong) -> Result {
    let new = match num {
        REG_SHMEM_LO => u64::from_safe_cast(v),
        REG_SHMEM_HI if v != 0 => return Err(EINVAL),
        REG_SHMEM_HI => INVALID_GPA,
        _ => return Err(ENOENT),
    };
    if new != INVALID_GPA && new % usize_as_u64(STA_SIZE) != 0 {
        return Err(EINVAL);
    }
    cx.sta().shmem = new;
    Ok(())
}

/// The STA extension's callbacks.
struct Sta;

impl SbiExtCallbacks for Sta {
    fn handler(cx: &mut VcpuCtx<'_>, ret: &mut b::kvm_vcpu_sbi_return) -> c_int {
        handler(cx, ret)
    }

    /// STA is offered only with scheduler statistics (`sched_info_on()`).
    fn probe(_cx: &mut VcpuCtx<'_>) -> bool {
        ffi::sched_info_on()
    }

    fn reset(cx: &mut VcpuCtx<'_>) {
        reset(cx)
    }

    fn state_reg_count(_cx: &mut VcpuCtx<'_>) -> c_ulong {
        STATE_REG_COUNT
    }

    fn get_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<c_ulong> {
        get_state_reg(cx, num)
    }

    fn set_state_reg(cx: &mut VcpuCtx<'_>, num: c_ulong, val: c_ulong) -> Result {
        set_state_reg(cx, num, val)
    }
}

/// The STA extension, in the table of `vcpu_sbi.rs`.
pub(crate) static VCPU_SBI_EXT_STA: SbiExt = sbi_extension::<Sta>(
    // CAST: SBI extension ids are XLEN values.
    b::sbi_ext_id_SBI_EXT_STA as c_ulong,
    // CAST: a small subtype number.
    b::KVM_REG_RISCV_SBI_STA as c_ulong,
);

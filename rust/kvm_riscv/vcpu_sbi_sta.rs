// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_sta.c`: the SBI steal-time accounting
//! extension (STA) and its ONE_REG state registers.
//!
//! The guest names a 64-byte `struct sbi_sta_struct` in its memory; KVM
//! adds the time the vCPU thread waited to run (the scheduler's
//! `run_delay`) to its `steal` field, under an odd `sequence`, each time
//! the vCPU is loaded (`KVM_REQ_STEAL_UPDATE`). RV64 only: the shared
//! memory's high half must be 0.

use crate::bindings as b;
use crate::handle::VcpuCtx;
use core::mem::{offset_of, size_of};
use core::ptr::addr_of_mut;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::uaccess::{UserPtr, UserSlice};

/// `INVALID_GPA`: no shared memory.
const INVALID_GPA: u64 = u64::MAX;
/// The shared memory's size and alignment.
const STA_SIZE: usize = 64;
const SEQUENCE: usize = offset_of!(b::sbi_sta_struct, sequence);
const STEAL: usize = offset_of!(b::sbi_sta_struct, steal);

const _: () = {
    assert!(size_of::<b::sbi_sta_struct>() == STA_SIZE);
    assert!(SEQUENCE == 0 && STEAL == 8);
    // shmem_lo, shmem_hi
    assert!(size_of::<b::kvm_riscv_sbi_sta>() / size_of::<c_ulong>() == 2);
    assert!(b::SBI_SHMEM_DISABLE == -1);
};

/// The STA state registers, by number.
const REG_SHMEM_LO: c_ulong = 0;
const REG_SHMEM_HI: c_ulong = 1;

/// The vCPU's STA state (`vcpu->arch.sta`, an anonymous C struct), as a
/// mutable place; in an `unsafe` context where `$vcpu` is live and the
/// caller its own thread.
macro_rules! sta {
    ($vcpu:expr) => {
        (*addr_of_mut!((*$vcpu).arch.sta))
    };
}

/// How long the current task waited to run, in ns (`current->sched_info.run_delay`).
fn run_delay() -> u64 {
    // SAFETY: reads a counter of the current task.
    unsafe { b::kvm_riscv_rs_current_run_delay() }
}

/// The user address `off` bytes into the page of guest memory at `hva`.
fn at(hva: c_ulong, off: usize, len: usize) -> UserSlice {
    // CAST: a user address.
    UserSlice::new(UserPtr::from_addr(hva as usize + off), len)
}

/// `kvm_riscv_vcpu_record_steal_time()`: adds the steal time since the
/// last update to the guest's record, under a sequence count the guest
/// reads around it. A shared memory that no memslot backs any more is
/// dropped; a failed access to it WARNs, as upstream.
///
/// # Safety
/// `vcpu` is live and loaded, the caller its run loop.
#[inline]
pub(crate) unsafe fn record_steal_time_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    if unsafe { sta!(vcpu).shmem } != INVALID_GPA {
        // SAFETY: per the function's contract.
        unsafe { record(vcpu) };
    }
}

/// The update itself, out of line: the vCPU load path, where the check
/// above is inlined, stays small when the guest has no shared memory.
///
/// # Safety
/// As for [`record_steal_time`].
#[inline(never)]
unsafe fn record(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let (shmem, last_steal) = unsafe { (sta!(vcpu).shmem, sta!(vcpu).last_steal) };
    // The 64 bytes are 64-byte aligned: all in one page.
    let gfn = shmem >> b::PAGE_SHIFT;
    // SAFETY: the live vCPU's memslots.
    let hva = unsafe { b::kvm_vcpu_gfn_to_hva(vcpu, gfn) };
    // SAFETY: a pure check of the value.
    if unsafe { b::kvm_riscv_rs_is_error_hva(hva) } {
        // SAFETY: as above.
        unsafe { sta!(vcpu).shmem = INVALID_GPA };
        return;
    }
    // CAST: the offset in a page.
    let base = (shmem & (b::PAGE_SIZE as u64 - 1)) as usize;
    let seq_at = || at(hva, base + SEQUENCE, 4);
    let steal_at = || at(hva, base + STEAL, 8);
    let Ok(seq) = seq_at().reader().read::<u32>() else {
        kernel::warn_on!(true);
        return;
    };
    let seq = u32::from_le(seq).wrapping_add(1);
    if seq_at().writer().write(&seq.to_le()).is_err() {
        kernel::warn_on!(true);
        return;
    }
    match steal_at().reader().read::<u64>() {
        Ok(steal) => {
            let now = run_delay();
            // SAFETY: as above.
            unsafe { sta!(vcpu).last_steal = now };
            let steal = u64::from_le(steal).wrapping_add(now.wrapping_sub(last_steal));
            kernel::warn_on!(steal_at().writer().write(&steal.to_le()).is_err());
        }
        Err(_) => {
            kernel::warn_on!(true);
        }
    }
    kernel::warn_on!(seq_at().writer().write(&seq.wrapping_add(1).to_le()).is_err());
    // SAFETY: as above.
    unsafe { b::kvm_vcpu_mark_page_dirty(vcpu, gfn) };
}

/// `sbi_sta_steal_time_set_shmem(lo, hi, flags)`: the SBI error.
///
/// # Safety
/// As for [`record_steal_time`].
unsafe fn set_shmem(vcpu: *mut b::kvm_vcpu, lo: c_ulong, hi: c_ulong, flags: c_ulong) -> c_int {
    // CAST: upstream takes the flags as a u32.
    if flags as u32 != 0 {
        return b::SBI_ERR_INVALID_PARAM;
    }
    // CAST: SBI_SHMEM_DISABLE is -1, all ones.
    let disable = b::SBI_SHMEM_DISABLE as c_ulong;
    if lo == disable && hi == disable {
        // SAFETY: per the function's contract.
        unsafe { sta!(vcpu).shmem = INVALID_GPA };
        return 0;
    }
    if lo & (STA_SIZE as c_ulong - 1) != 0 {
        return b::SBI_ERR_INVALID_PARAM;
    }
    // RV64: the address is all in `lo`.
    if hi != 0 {
        return b::SBI_ERR_INVALID_ADDRESS;
    }
    let shmem = lo as u64;
    let zero = [0u8; STA_SIZE];
    // SAFETY: the live vCPU; `zero` is valid for its length. The write
    // checks that a writable memslot backs the range.
    // CAST: a small length.
    let rc = unsafe { b::kvm_vcpu_write_guest(vcpu, shmem, zero.as_ptr().cast::<c_void>(), STA_SIZE as c_ulong) };
    if rc != 0 {
        return b::SBI_ERR_INVALID_ADDRESS;
    }
    // SAFETY: per the function's contract.
    unsafe {
        sta!(vcpu).shmem = shmem;
        sta!(vcpu).last_steal = run_delay();
    }
    0
}

/// The STA handler: one function, set_shmem.
///
/// # Safety
/// Called by the SBI dispatch on the vCPU's run loop, with valid pointers.
unsafe extern "C" fn handler(vcpu: *mut b::kvm_vcpu, _run: *mut b::kvm_run, ret: *mut b::kvm_vcpu_sbi_return) -> c_int {
    // SAFETY: per the function's contract, the run loop owns the context.
    let cp = unsafe { &(*vcpu).arch.guest_context };
    let err = if cp.a6 == b::sbi_ext_sta_fid_SBI_EXT_STA_STEAL_TIME_SET_SHMEM as c_ulong {
        // SAFETY: as above.
        unsafe { set_shmem(vcpu, cp.a0, cp.a1, cp.a2) }
    } else {
        b::SBI_ERR_NOT_SUPPORTED
    };
    // SAFETY: per the function's contract. CAST: an SBI error, sign-extended.
    unsafe { (*ret).err_val = err as c_ulong };
    0
}

/// STA is offered only with scheduler statistics (`sched_info_on()`).
unsafe extern "C" fn probe(_vcpu: *mut b::kvm_vcpu) -> c_ulong {
    // SAFETY: reads a kernel configuration value.
    c_ulong::from(unsafe { b::kvm_riscv_rs_sched_info_on() })
}

/// No shared memory after a reset.
unsafe extern "C" fn reset(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: called on the vCPU's thread by the SBI code.
    unsafe {
        sta!(vcpu).shmem = INVALID_GPA;
        sta!(vcpu).last_steal = 0;
    }
}

unsafe extern "C" fn state_reg_count(_vcpu: *mut b::kvm_vcpu) -> c_ulong {
    2
}

/// GET of shmem_lo (the address, or all ones) or shmem_hi (0 on RV64).
///
/// # Safety
/// Called by the SBI ONE_REG code on the vCPU's thread; `val` is valid for
/// `size` bytes, aligned.
unsafe extern "C" fn get_state_reg(vcpu: *mut b::kvm_vcpu, num: c_ulong, size: c_ulong, val: *mut c_void) -> c_int {
    if size as usize != size_of::<c_ulong>() {
        return EINVAL.to_errno();
    }
    // SAFETY: per the function's contract.
    let shmem = unsafe { sta!(vcpu).shmem };
    let v = match num {
        // CAST: XLEN is 64.
        REG_SHMEM_LO => shmem as c_ulong,
        REG_SHMEM_HI => 0,
        _ => return ENOENT.to_errno(),
    };
    // SAFETY: per the function's contract.
    unsafe { val.cast::<c_ulong>().write(v) };
    0
}

/// SET of shmem_lo (64-byte aligned, or all ones for none) or shmem_hi.
/// As upstream: on RV64, writing 0 to shmem_hi also drops the shared
/// memory (its new value starts as "none"), and any other value is -EINVAL.
///
/// # Safety
/// As for [`get_state_reg`]; `val` is only read.
unsafe extern "C" fn set_state_reg(vcpu: *mut b::kvm_vcpu, num: c_ulong, size: c_ulong, val: *const c_void) -> c_int {
    if size as usize != size_of::<c_ulong>() {
        return EINVAL.to_errno();
    }
    // SAFETY: per the function's contract.
    let v = unsafe { val.cast::<c_ulong>().read() };
    let new = match num {
        // CAST: XLEN is 64.
        REG_SHMEM_LO => v as u64,
        REG_SHMEM_HI if v != 0 => return EINVAL.to_errno(),
        REG_SHMEM_HI => INVALID_GPA,
        _ => return ENOENT.to_errno(),
    };
    if new != INVALID_GPA && new % STA_SIZE as u64 != 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: per the function's contract.
    unsafe { sta!(vcpu).shmem = new };
    0
}

/// The STA extension, in the table of `vcpu_sbi.rs`.
pub(crate) static VCPU_SBI_EXT_STA: b::kvm_vcpu_sbi_extension = b::kvm_vcpu_sbi_extension {
    extid_start: b::sbi_ext_id_SBI_EXT_STA as c_ulong,
    extid_end: b::sbi_ext_id_SBI_EXT_STA as c_ulong,
    handler: Some(handler),
    probe: Some(probe),
    reset: Some(reset),
    state_reg_subtype: b::KVM_REG_RISCV_SBI_STA as c_ulong,
    get_state_reg_count: Some(state_reg_count),
    get_state_reg: Some(get_state_reg),
    set_state_reg: Some(set_state_reg),
    // SAFETY: all-zero is a valid value of the other fields (no callbacks).
    ..unsafe { core::mem::zeroed() }
};

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn record_steal_time(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { record_steal_time_raw(cx.vcpu().as_ptr()) }
}

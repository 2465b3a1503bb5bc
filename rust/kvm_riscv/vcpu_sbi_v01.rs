// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi_v01.c`: the legacy SBI calls of
//! specification v0.1 (`CONFIG_RISCV_SBI_V01`), one extension id each: the
//! timer, the console (which userspace answers), IPIs, remote fences and
//! shutdown. They return only an error, in a0; hart masks are passed by
//! address, in guest memory.

use crate::bindings as b;
use crate::handle::{SbiRet, VcpuCtx};
use crate::tlb;
use crate::tlb_logic::HartMask;
use crate::vcpu_sbi::{forward_handler, sbi_err, system_reset, Extension, RustExt};
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::{u32_as_usize, usize_as_u64, FromSafeCast};

/// The legacy calls, by extension id (a7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    SetTimer,
    ConsolePutchar,
    ConsoleGetchar,
    ClearIpi,
    SendIpi,
    RemoteFenceI,
    RemoteSfenceVma,
    RemoteSfenceVmaAsid,
    Shutdown,
}

impl Call {
    fn decode(extid: c_ulong) -> Option<Self> {
        Some(match u32::try_from(extid).ok()? {
            b::sbi_ext_id_SBI_EXT_0_1_SET_TIMER => Self::SetTimer,
            b::sbi_ext_id_SBI_EXT_0_1_CONSOLE_PUTCHAR => Self::ConsolePutchar,
            b::sbi_ext_id_SBI_EXT_0_1_CONSOLE_GETCHAR => Self::ConsoleGetchar,
            b::sbi_ext_id_SBI_EXT_0_1_CLEAR_IPI => Self::ClearIpi,
            b::sbi_ext_id_SBI_EXT_0_1_SEND_IPI => Self::SendIpi,
            b::sbi_ext_id_SBI_EXT_0_1_REMOTE_FENCE_I => Self::RemoteFenceI,
            b::sbi_ext_id_SBI_EXT_0_1_REMOTE_SFENCE_VMA => Self::RemoteSfenceVma,
            b::sbi_ext_id_SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID => Self::RemoteSfenceVmaAsid,
            b::sbi_ext_id_SBI_EXT_0_1_SHUTDOWN => Self::Shutdown,
            _ => return None,
        })
    }
}

/// An error as the handler returns it (0 or a negative errno).
fn rc(r: kernel::error::Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Reads the hart mask at guest address `addr`; `None` if the read
/// trapped (the trap is in `ret.utrap`, for the guest).
fn read_mask(cx: &mut VcpuCtx<'_>, addr: c_ulong, ret: &mut SbiRet) -> Option<c_ulong> {
    let mask = cx.unpriv_read(false, addr, &mut ret.utrap);
    (ret.utrap.scause == 0).then_some(mask)
}

/// `send_ipi(hart_mask *)`: the VS-level software interrupt of the vCPUs
/// the mask names (a null address: all); ids without a vCPU are ignored.
fn send_ipi(cx: &mut VcpuCtx<'_>, addr: c_ulong, ret: &mut SbiRet) -> c_int {
    let vm = cx.vcpu().vm();
    let set = |t| rc(crate::vcpu_irq::set_interrupt(t, b::IRQ_VS_SOFT));
    if addr == 0 {
        for t in vm.vcpus() {
            let r = set(t);
            if r < 0 {
                return r;
            }
        }
        return 0;
    }
    let Some(mask) = read_mask(cx, addr, ret) else {
        return 0;
    };
    for id in (0..c_ulong::BITS).filter(|i| mask & (1 << i) != 0) {
        let Some(t) = vm.vcpu_by_id(id) else {
            continue;
        };
        let r = set(t);
        if r < 0 {
            return r;
        }
    }
    0
}

/// The remote fences: `remote_fence_i(hart_mask *)`,
/// `remote_sfence_vma(hart_mask *, start, size)` and
/// `remote_sfence_vma_asid(hart_mask *, start, size, asid)`. A null mask
/// address names every vCPU.
fn remote_fence(cx: &mut VcpuCtx<'_>, call: Call, ret: &mut SbiRet) {
    let g = cx.guest();
    let (addr, start, size, asid) = (g.a0, g.a1, g.a2, g.a3);
    let harts = if addr == 0 {
        HartMask::ALL
    } else {
        match read_mask(cx, addr, ret) {
            Some(mask) => HartMask { base: 0, mask },
            None => return,
        }
    };
    let vm = cx.vcpu().vm();
    // Unlike RFENCE, only 0 and 0 is the whole address space.
    let range = (start != 0 || size != 0).then(|| {
        (
            usize_as_u64(start),
            usize_as_u64(size),
            u32_as_usize(b::PAGE_SHIFT),
        )
    });
    match call {
        Call::RemoteFenceI => tlb::fence_i(vm, harts),
        Call::RemoteSfenceVma => tlb::hfence_vvma(vm, harts, range, None, vm.vmid()),
        _ => tlb::hfence_vvma(vm, harts, range, Some(asid), vm.vmid()),
    }
}

struct V01;

impl Extension for V01 {
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
        let (a7, a0) = {
            let g = cx.guest();
            (g.a7, g.a0)
        };
        match Call::decode(a7) {
            // Userspace has the console.
            Some(Call::ConsolePutchar | Call::ConsoleGetchar) => forward_handler(cx, ret),
            // RV64: the whole time value is in a0.
            Some(Call::SetTimer) => rc(crate::vcpu_timer::next_event(cx, u64::from_safe_cast(a0))),
            Some(Call::ClearIpi) => rc(crate::vcpu_irq::unset_interrupt(cx.vcpu(), b::IRQ_VS_SOFT)),
            Some(Call::SendIpi) => send_ipi(cx, a0, ret),
            Some(Call::Shutdown) => {
                system_reset(cx, b::KVM_SYSTEM_EVENT_SHUTDOWN, 0);
                ret.uexit = true;
                0
            }
            Some(call) => {
                remote_fence(cx, call, ret);
                0
            }
            None => {
                ret.err_val = sbi_err(b::SBI_ERR_NOT_SUPPORTED);
                0
            }
        }
    }
}

/// The legacy calls: extension ids 0 (set_timer) to 8 (shutdown).
pub(crate) static VCPU_SBI_EXT_V01: RustExt = RustExt::range(
    b::sbi_ext_id_SBI_EXT_0_1_SET_TIMER,
    b::sbi_ext_id_SBI_EXT_0_1_SHUTDOWN,
    false,
    &V01,
);

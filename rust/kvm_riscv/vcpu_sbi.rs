// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi.c`: the vCPU's table of SBI extensions,
//! the ecall dispatch, the calls forwarded to userspace, system reset, and
//! the ONE_REG classes of the SBI extensions (single and multi) and of
//! their state (STA, FWFT).
//!
//! Each extension is a `struct kvm_vcpu_sbi_extension`: the PMU's is
//! Rust (`pmu.rs`), the others are still upstream C (`vcpu_sbi_*.c`),
//! reached through their callbacks. A vCPU keeps one [`ExtStatus`] per
//! extension in `arch.sbi_context`; only its own thread (ioctls under the
//! vCPU mutex, or the run loop) touches it.

use crate::bindings as b;
use crate::onereg::{get_multi, set_multi, user, RegList};
use crate::reg_id::{self as r, ExtSub, RegId};
use crate::sbi_logic::{complete, ExtStatus, Outcome};
use crate::handle::{Request, Vcpu, VcpuCtx};
use crate::vcpu_insn::next_insn;
use core::mem::size_of;
use core::ptr::addr_of_mut;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

/// `KVM_RISCV_SBI_EXT_MAX`: the number of SBI extension ids.
const EXT_MAX: usize = b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_MAX as usize;
const ULONG: usize = size_of::<c_ulong>();

const _: () = {
    assert!(ExtStatus::Uninitialized.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_UNINITIALIZED);
    assert!(ExtStatus::Unavailable.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_UNAVAILABLE);
    assert!(ExtStatus::Enabled.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_ENABLED);
    assert!(ExtStatus::Disabled.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_DISABLED);
    assert!(EXT_MAX <= usize::BITS as usize * (r::multi_reg_last(EXT_MAX) as usize + 1));
};

type Ext = b::kvm_vcpu_sbi_extension;

/// An extension of the table, with its status slot: `None` for Base,
/// which has none and is always on.
struct Entry {
    slot: Option<usize>,
    ext: &'static Ext,
}

const fn entry(id: b::KVM_RISCV_SBI_EXT_ID, ext: &'static Ext) -> Entry {
    // CAST: the ids are small.
    Entry { slot: Some(id as usize), ext }
}

/// An extension that is configured out: it claims only extension id -1
/// and has no handler (upstream's stand-ins).
#[cfg(any(not(CONFIG_RISCV_SBI_V01), not(CONFIG_RISCV_PMU_SBI)))]
static ABSENT: Ext = Ext {
    extid_start: c_ulong::MAX,
    extid_end: c_ulong::MAX,
    // SAFETY: all-zero is a valid value of the other fields (no callbacks).
    ..unsafe { core::mem::zeroed() }
};

macro_rules! ext {
    ($name:ident) => {
        // SAFETY: an immutable extension description defined by its C file.
        unsafe { &b::$name }
    };
}

/// The SBI extensions, in upstream's order (the dispatch takes the first
/// whose range holds the called id; the register lists follow this order).
static TABLE: [Entry; 15] = [
    #[cfg(CONFIG_RISCV_SBI_V01)]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_V01, ext!(vcpu_sbi_ext_v01)),
    #[cfg(not(CONFIG_RISCV_SBI_V01))]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_V01, &ABSENT),
    Entry { slot: None, ext: ext!(vcpu_sbi_ext_base) },
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_TIME, ext!(vcpu_sbi_ext_time)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_IPI, ext!(vcpu_sbi_ext_ipi)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_RFENCE, ext!(vcpu_sbi_ext_rfence)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_SRST, ext!(vcpu_sbi_ext_srst)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_HSM, ext!(vcpu_sbi_ext_hsm)),
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_PMU, &crate::pmu::vcpu_sbi_ext_pmu),
    #[cfg(not(CONFIG_RISCV_PMU_SBI))]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_PMU, &ABSENT),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_DBCN, ext!(vcpu_sbi_ext_dbcn)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_SUSP, ext!(vcpu_sbi_ext_susp)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_STA, &crate::vcpu_sbi_sta::VCPU_SBI_EXT_STA),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_FWFT, ext!(vcpu_sbi_ext_fwft)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_MPXY, ext!(vcpu_sbi_ext_mpxy)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_EXPERIMENTAL, ext!(vcpu_sbi_ext_experimental)),
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_VENDOR, ext!(vcpu_sbi_ext_vendor)),
];

// Every extension id but Base's has one entry.
const _: () = {
    let mut seen = [false; EXT_MAX];
    let mut i = 0;
    while i < TABLE.len() {
        if let Some(s) = TABLE[i].slot {
            assert!(s < EXT_MAX && !seen[s]);
            seen[s] = true;
        }
        i += 1;
    }
    let mut s = 0;
    while s < EXT_MAX {
        assert!(seen[s]);
        s += 1;
    }
};

/// The SBI state of a vCPU.
///
/// # Invariants
/// `vcpu` is live, and the caller is its own thread.
#[derive(Clone, Copy)]
struct Sbi {
    vcpu: *mut b::kvm_vcpu,
}

impl Sbi {
    /// # Safety
    /// `vcpu` is live, and the caller its thread (an ioctl under the vCPU
    /// mutex, or the run loop), for as long as the value is used.
    unsafe fn of(vcpu: *mut b::kvm_vcpu) -> Self {
        Sbi { vcpu }
    }

    fn ctx(self) -> *mut b::kvm_vcpu_sbi_context {
        // SAFETY: in bounds of the live vCPU.
        unsafe { addr_of_mut!((*self.vcpu).arch.sbi_context) }
    }

    /// The status of the extension with status slot `slot`; Base is
    /// always on.
    fn status(self, slot: Option<usize>) -> ExtStatus {
        match slot {
            // SAFETY: the vCPU thread's own state (type invariant); the
            // table's slots are below EXT_MAX (checked at build time).
            Some(s) => ExtStatus::from_raw(unsafe { (*self.ctx()).ext_status[s] }),
            None => ExtStatus::Enabled,
        }
    }

    fn set_status(self, slot: usize, s: ExtStatus) {
        // SAFETY: as in `status`.
        unsafe { (*self.ctx()).ext_status[slot] = s.raw() };
    }

    fn ran(self) -> bool {
        // SAFETY: the vCPU thread's own state.
        unsafe { (*self.vcpu).arch.ran_atleast_once }
    }

    /// The entry of extension id `idx` (`riscv_vcpu_get_sbi_ext()`); not
    /// Base.
    fn entry(idx: u64) -> Option<&'static Entry> {
        TABLE.iter().find(|e| e.slot.is_some_and(|s| s as u64 == idx))
    }

    /// The entry of extension id `idx` if the vCPU can have it.
    fn offered(self, idx: u64) -> Option<&'static Entry> {
        Self::entry(idx).filter(|e| self.status(e.slot) != ExtStatus::Unavailable)
    }

    /// The extension that serves SBI extension id `extid`, if it is on
    /// (`kvm_vcpu_sbi_find_ext()`): the first whose range holds it decides.
    fn find(self, extid: c_ulong) -> Option<&'static Ext> {
        let e = TABLE.iter().find(|e| e.ext.extid_start <= extid && extid <= e.ext.extid_end)?;
        (self.status(e.slot) == ExtStatus::Enabled).then_some(e.ext)
    }

    /// The enabled extension whose state registers have subtype `sub`
    /// (`kvm_vcpu_sbi_find_ext_withstate()`).
    fn find_with_state(self, sub: u64) -> Option<&'static Ext> {
        TABLE
            .iter()
            .find(|e| {
                e.ext.get_state_reg_count.is_some()
                    && e.ext.state_reg_subtype as u64 == sub
                    && self.status(e.slot) == ExtStatus::Enabled
            })
            .map(|e| e.ext)
    }

    /// Runs `f` on every entry with a status slot that is in state `want`
    /// (any state if `None`).
    fn for_each(self, want: Option<ExtStatus>, mut f: impl FnMut(usize, &'static Ext)) {
        for e in &TABLE {
            let Some(slot) = e.slot else { continue };
            if want.is_none_or(|w| self.status(Some(slot)) == w) {
                f(slot, e.ext);
            }
        }
    }
}

// --- the vCPU's side ----------------------------------------------------------

/// Probes and initialises every extension for a new vCPU
/// (`kvm_riscv_vcpu_sbi_init()`).
///
/// # Safety
/// `vcpu` is being created, by its creator.
pub(crate) unsafe fn init_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    sbi.for_each(None, |slot, ext| {
        // SAFETY (both): the extension's own callbacks, on the new vCPU.
        if ext.probe.is_some_and(|p| unsafe { p(vcpu) } == 0) {
            sbi.set_status(slot, ExtStatus::Unavailable);
            return;
        }
        sbi.set_status(slot, if ext.default_disabled { ExtStatus::Disabled } else { ExtStatus::Enabled });
        if ext.init.is_some_and(|i| unsafe { i(vcpu) } != 0) {
            sbi.set_status(slot, ExtStatus::Unavailable);
        }
    });
}

/// `kvm_riscv_vcpu_sbi_deinit()`: each available extension's deinit.
///
/// # Safety
/// `vcpu` is live; its destroyer calls.
pub(crate) unsafe fn deinit_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    sbi.for_each(None, |slot, ext| {
        if sbi.status(Some(slot)) != ExtStatus::Unavailable {
            if let Some(d) = ext.deinit {
                // SAFETY: the extension's own callback.
                unsafe { d(vcpu) };
            }
        }
    });
}

/// `kvm_riscv_vcpu_sbi_reset()`: each enabled extension's reset.
///
/// # Safety
/// `vcpu` is live; its own thread calls.
pub(crate) unsafe fn reset_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    sbi.for_each(Some(ExtStatus::Enabled), |_, ext| {
        if let Some(r) = ext.reset {
            // SAFETY: the extension's own callback.
            unsafe { r(vcpu) };
        }
    });
}

/// `kvm_riscv_vcpu_sbi_validate()`: each enabled extension corrects its
/// parameters before the first run.
///
/// # Safety
/// `vcpu` is live; its own thread calls.
pub(crate) unsafe fn validate(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    sbi.for_each(Some(ExtStatus::Enabled), |_, ext| {
        if let Some(v) = ext.validate {
            // SAFETY: the extension's own callback.
            unsafe { v(vcpu) };
        }
    });
}

/// The guest's `ecall` (`kvm_riscv_vcpu_sbi_ecall()`): 1 to go on, 0 to
/// exit to userspace, or a negative error for `KVM_RUN`.
///
/// # Safety
/// `vcpu` is live and loaded, the caller its run loop; `run` its run page.
pub(crate) unsafe fn ecall_raw(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run) -> c_int {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    // The guest context, reached through the pointer each time: the
    // handlers change it too.
    // SAFETY: in bounds of the live vCPU.
    let cp = unsafe { addr_of_mut!((*vcpu).arch.guest_context) };
    // SAFETY: the run loop owns the context.
    let a7 = unsafe { (*cp).a7 };
    let Some(handler) = sbi.find(a7).and_then(|e| e.handler) else {
        // Not supported: the error, the next instruction, and a1 = 0.
        // SAFETY: as above. CAST: the SBI error is a negative XLEN value.
        unsafe {
            (*cp).a0 = b::SBI_ERR_NOT_SUPPORTED as c_ulong;
            next_insn(&mut *cp, 4);
            (*cp).a1 = 0;
        }
        return 1;
    };
    let v01 = cfg!(CONFIG_RISCV_SBI_V01)
        && (b::sbi_ext_id_SBI_EXT_0_1_SET_TIMER as c_ulong..=b::sbi_ext_id_SBI_EXT_0_1_SHUTDOWN as c_ulong)
            .contains(&a7);
    let mut utrap = b::kvm_cpu_trap::default();
    let mut ret = b::kvm_vcpu_sbi_return { out_val: 0, err_val: 0, utrap: &mut utrap, uexit: false };
    // SAFETY: the extension's handler, on the run loop, with valid
    // pointers (`utrap` and `ret` outlive the call).
    let rc = unsafe { handler(vcpu, run, &mut ret) };
    let (out_val, err_val, uexit) = (ret.out_val, ret.err_val, ret.uexit);
    let c = complete(Outcome { ret: rc, trapped: utrap.scause != 0, uexit }, v01);
    // SAFETY (all): the run loop owns the context; `utrap` is valid.
    unsafe {
        if c.redirect {
            utrap.sepc = (*cp).sepc;
            crate::vcpu_exit::kvm_riscv_vcpu_trap_redirect(vcpu, &utrap);
        }
        if c.set_error {
            (*cp).a0 = err_val;
        }
        if c.advance {
            next_insn(&mut *cp, 4);
        }
        if c.set_value {
            (*cp).a1 = out_val;
        }
    }
    c.ret
}

/// Completes a call userspace handled (`kvm_riscv_vcpu_sbi_return()`):
/// its two return values, and the next instruction, once.
///
/// # Safety
/// As for [`ecall`].
pub(crate) unsafe fn sbi_return_raw(vcpu: *mut b::kvm_vcpu, run: *mut b::kvm_run) -> c_int {
    // SAFETY: per the function's contract, the run loop owns both.
    unsafe {
        let ctx = &mut (*vcpu).arch.sbi_context;
        if ctx.return_handled != 0 {
            return 0;
        }
        ctx.return_handled = 1;
        let sbi = (*run).__bindgen_anon_1.riscv_sbi.as_ref();
        let cp = &mut (*vcpu).arch.guest_context;
        cp.a0 = sbi.ret[0];
        cp.a1 = sbi.ret[1];
        next_insn(cp, 4);
    }
    0
}

/// Puts the state SBI HSM start (or a reset) asked for into the guest
/// context (`kvm_riscv_vcpu_sbi_load_reset_state()`).
///
/// # Safety
/// `vcpu` is live; its own thread calls, with the context being reset.
pub(crate) unsafe fn load_reset_state_raw(vcpu: *mut b::kvm_vcpu) {
    // SAFETY: per the function's contract.
    let (pc, a1) = unsafe { Vcpu::from_raw(vcpu) }.with_reset_state(|pc, a1| (*pc, *a1));
    // SAFETY: per the function's contract, the thread owns the context.
    unsafe {
        let a = &mut (*vcpu).arch;
        // CAST: vCPU ids are not negative.
        a.guest_context.a0 = (*vcpu).vcpu_id as c_ulong;
        a.guest_context.sepc = pc;
        a.guest_context.a1 = a1;
        // CAST: SR_IE is SR_SIE in S-mode, a low bit.
        a.guest_context.sstatus &= !(b::kvm_riscv_rs_const_KVM_RISCV_RS_SR_IE as c_ulong);
        a.guest_csr.vsatp = 0;
    }
}

// --- ONE_REG: SBI extensions --------------------------------------------------

fn get_single(sbi: Sbi, idx: u64) -> Result<c_ulong> {
    let e = sbi.offered(idx).ok_or(ENOENT)?;
    Ok(c_ulong::from(sbi.status(e.slot) == ExtStatus::Enabled))
}

fn set_single(sbi: Sbi, idx: u64, val: c_ulong) -> Result {
    if val > 1 {
        return Err(EINVAL);
    }
    let e = sbi.offered(idx).ok_or(ENOENT)?;
    let Some(slot) = e.slot else { return Err(ENOENT) };
    if val == 0 && sbi.status(e.slot) == ExtStatus::Enabled {
        if let Some(r) = e.ext.reset {
            // SAFETY: the extension's own callback, on the vCPU thread.
            unsafe { r(sbi.vcpu) };
        }
    }
    sbi.set_status(slot, if val != 0 { ExtStatus::Enabled } else { ExtStatus::Disabled });
    Ok(())
}

/// `KVM_GET_ONE_REG` of an SBI extension register
/// (`kvm_riscv_vcpu_get_reg_sbi_ext()`).
///
/// # Safety
/// `vcpu` is live; the caller holds its mutex.
pub(crate) unsafe fn get_reg_ext(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    if reg.size() != ULONG {
        return Err(EINVAL);
    }
    let n = reg.index();
    let val = match reg.ext_sub() {
        Some(ExtSub::Single) => get_single(sbi, n)?,
        Some(sub) => get_multi(sub, n, EXT_MAX, |id| get_single(sbi, id).unwrap_or(0) != 0)?,
        None => return Err(ENOENT),
    };
    user(addr, ULONG).writer().write(&val)
}

/// `KVM_SET_ONE_REG` of an SBI extension register
/// (`kvm_riscv_vcpu_set_reg_sbi_ext()`): before the first run only.
///
/// # Safety
/// As for [`get_reg_ext`].
pub(crate) unsafe fn set_reg_ext(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    if reg.size() != ULONG {
        return Err(EINVAL);
    }
    if sbi.ran() {
        return Err(EBUSY);
    }
    let val: c_ulong = user(addr, ULONG).reader().read()?;
    let n = reg.index();
    let enable = match reg.ext_sub() {
        Some(ExtSub::Single) => return set_single(sbi, n, val),
        Some(ExtSub::MultiEn) => 1,
        Some(ExtSub::MultiDis) => 0,
        None => return Err(ENOENT),
    };
    set_multi(n, EXT_MAX, val, |id| {
        let _ = set_single(sbi, id, enable);
    })
}

// --- ONE_REG: SBI state -------------------------------------------------------

/// A state register's size: 1, 2, 4 or 8 bytes.
fn state_size(reg: RegId) -> Result<usize> {
    match reg.size() {
        s @ (1 | 2 | 4 | 8) => Ok(s),
        _ => Err(EINVAL),
    }
}

/// The enabled extension that has the state register `reg`'s subtype.
fn state_ext(sbi: Sbi, reg: RegId) -> Option<&'static Ext> {
    sbi.find_with_state(reg.number() & r::SUBTYPE_MASK)
}

/// `KVM_GET_ONE_REG` of an SBI state register (`kvm_riscv_vcpu_get_reg_sbi()`).
///
/// # Safety
/// As for [`get_reg_ext`].
pub(crate) unsafe fn get_reg_state(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    let size = state_size(reg)?;
    let get = state_ext(sbi, reg).and_then(|e| e.get_state_reg).ok_or(EINVAL)?;
    let mut val: u64 = 0;
    // SAFETY: the extension's callback, on the vCPU thread; `val` holds
    // `size` (at most 8) bytes, aligned.
    // CAST: the index and size are what upstream passes.
    let rc = unsafe { get(vcpu, reg.index() as c_ulong, size as c_ulong, (&raw mut val).cast::<c_void>()) };
    if rc != 0 {
        return Err(Error::from_errno(rc));
    }
    user(addr, size).writer().write_slice(&val.to_ne_bytes()[..size])
}

/// `KVM_SET_ONE_REG` of an SBI state register (`kvm_riscv_vcpu_set_reg_sbi()`):
/// the size, the user copy, then the extension.
///
/// # Safety
/// As for [`get_reg_ext`].
pub(crate) unsafe fn set_reg_state(vcpu: *mut b::kvm_vcpu, reg: RegId, addr: u64) -> Result {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    let size = state_size(reg)?;
    let mut bytes = [0u8; 8];
    user(addr, size).reader().read_slice(&mut bytes[..size])?;
    let val = u64::from_ne_bytes(bytes);
    let set = state_ext(sbi, reg).and_then(|e| e.set_state_reg).ok_or(EINVAL)?;
    // SAFETY: as in `get_reg_state`; the callback only reads `val`.
    // CAST: as there.
    let rc = unsafe { set(vcpu, reg.index() as c_ulong, size as c_ulong, (&raw const val).cast::<c_void>()) };
    if rc != 0 {
        return Err(Error::from_errno(rc));
    }
    Ok(())
}

/// Lists the SBI registers for `KVM_GET_REG_LIST`, in upstream's order:
/// every offered extension's single register, then the state registers of
/// the enabled extensions that have some.
///
/// # Safety
/// As for [`get_reg_ext`].
pub(crate) unsafe fn list_regs(vcpu: *mut b::kvm_vcpu, l: &mut RegList) -> Result {
    // SAFETY: per the function's contract.
    let sbi = unsafe { Sbi::of(vcpu) };
    for idx in 0..EXT_MAX as u64 {
        if sbi.offered(idx).is_some() {
            l.push(r::encode(r::Class::SbiExt, 0, idx, r::size_field(ULONG)))?;
        }
    }
    for e in &TABLE {
        let Some(count) = e.ext.get_state_reg_count else { continue };
        if sbi.status(e.slot) != ExtStatus::Enabled {
            continue;
        }
        // SAFETY: the extension's own callback, on the vCPU thread.
        // CAST: a small count.
        let count = unsafe { count(vcpu) } as usize;
        if l.counting() {
            l.count(count);
            continue;
        }
        for j in 0..count {
            let id = match e.ext.get_state_reg_id {
                Some(f) => {
                    let mut id = 0u64;
                    // SAFETY: as above; `id` is valid. CAST: a small index.
                    let rc = unsafe { f(vcpu, j as c_int, &mut id) };
                    if rc != 0 {
                        return Err(Error::from_errno(rc));
                    }
                    id
                }
                // CAST (both): the subtype field and a small index.
                None => {
                    r::KVM_REG_RISCV
                        | r::size_field(ULONG)
                        | r::Class::SbiState.type_field()
                        | e.ext.state_reg_subtype as u64
                        | j as u64
                }
            };
            l.push(id)?;
        }
    }
    Ok(())
}

// --- C entry points -----------------------------------------------------------

/// Sends the call to userspace as `KVM_EXIT_RISCV_SBI`
/// (`kvm_riscv_vcpu_sbi_forward_handler()`): the handler of the forwarded
/// extensions, and of calls other handlers leave to userspace.
///
/// # Safety
/// `vcpu` is live and loaded, the caller its run loop; `run` is its run
/// page; `retdata` is valid.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_sbi_forward_handler(
    vcpu: *mut b::kvm_vcpu,
    run: *mut b::kvm_run,
    retdata: *mut b::kvm_vcpu_sbi_return,
) -> c_int {
    // SAFETY: per the function's contract, the run loop owns all three.
    unsafe {
        (*vcpu).arch.sbi_context.return_handled = 0;
        (*vcpu).stat.ecall_exit_stat += 1;
        let cp = &(*vcpu).arch.guest_context;
        (*run).exit_reason = b::KVM_EXIT_RISCV_SBI;
        let sbi = (*run).__bindgen_anon_1.riscv_sbi.as_mut();
        sbi.extension_id = cp.a7;
        sbi.function_id = cp.a6;
        sbi.args = [cp.a0, cp.a1, cp.a2, cp.a3, cp.a4, cp.a5];
        // CAST: the SBI error is a negative XLEN value.
        sbi.ret = [b::SBI_ERR_NOT_SUPPORTED as c_ulong, 0];
        (*retdata).uexit = true;
    }
    0
}

/// Stops every vCPU of the VM and exits to userspace with a system event
/// of `type_` (`kvm_riscv_vcpu_sbi_system_reset()`).
///
/// # Safety
/// As for [`kvm_riscv_vcpu_sbi_forward_handler`].
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_sbi_system_reset(
    vcpu: *mut b::kvm_vcpu,
    run: *mut b::kvm_run,
    type_: u32,
    reason: u64,
) {
    // SAFETY: per the function's contract.
    let kvm = unsafe { (*vcpu).kvm };
    // SAFETY: the VM is live while one of its vCPUs runs.
    let n = unsafe { b::kvm_riscv_rs_online_vcpus(kvm) };
    for i in 0..n {
        // SAFETY: as above; vCPUs are never removed from a live VM.
        let other = unsafe { b::kvm_riscv_rs_get_vcpu(kvm, i) };
        if other.is_null() {
            continue;
        }
        // SAFETY: a vCPU of the live VM.
        let v = unsafe { Vcpu::from_raw(other) };
        v.with_mp_state_lock(|l| l.set_mp_state(b::KVM_MP_STATE_STOPPED));
    }
    // SAFETY: as above.
    unsafe { b::kvm_make_all_cpus_request(kvm, b::kvm_riscv_rs_const_KVM_RISCV_RS_REQ_SLEEP) };
    // SAFETY: the run loop owns its run page.
    unsafe {
        let ev = (*run).__bindgen_anon_1.system_event.as_mut();
        *ev = Default::default();
        ev.type_ = type_;
        ev.ndata = 1;
        ev.__bindgen_anon_1.data.as_mut()[0] = reason;
        (*run).exit_reason = b::KVM_EXIT_SYSTEM_EVENT;
    }
}

/// Asks the vCPU to reset itself to start at `pc` with `a1`
/// (`kvm_riscv_vcpu_sbi_request_reset()`: SBI HSM start, system suspend).
///
/// # Safety
/// `vcpu` is live.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_riscv_vcpu_sbi_request_reset(vcpu: *mut b::kvm_vcpu, pc: c_ulong, a1: c_ulong) {
    // SAFETY: per the function's contract.
    let v = unsafe { Vcpu::from_raw(vcpu) };
    v.with_reset_state(|p, a| (*p, *a) = (pc, a1));
    v.make_request(Request::VcpuReset);
}

/// The extension that serves `extid` if it is on (`kvm_vcpu_sbi_find_ext()`,
/// for Base's probe); null else.
///
/// # Safety
/// `vcpu` is live, the caller its run loop.
#[no_mangle]
pub(crate) unsafe extern "C" fn kvm_vcpu_sbi_find_ext(vcpu: *mut b::kvm_vcpu, extid: c_ulong) -> *const Ext {
    // SAFETY: per the function's contract.
    unsafe { Sbi::of(vcpu) }.find(extid).map_or(core::ptr::null(), |e| e)
}

// ---------------------------------------------------------------------------
// Transitional entry points on the vCPU handle: the functions below them
// still take the raw vCPU; the port to the handle replaces them.

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { init_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { deinit_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn reset(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { reset_raw(cx.vcpu().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn ecall(cx: &mut VcpuCtx<'_>) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { ecall_raw(cx.vcpu().as_ptr(), cx.vcpu().run_page().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn sbi_return(cx: &mut VcpuCtx<'_>) -> c_int {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { sbi_return_raw(cx.vcpu().as_ptr(), cx.vcpu().run_page().as_ptr()) }
}

#[allow(clippy::undocumented_unsafe_blocks)]
pub(crate) fn load_reset_state(cx: &mut VcpuCtx<'_>) {
    // SAFETY: transitional: the context proves the vCPU thread.
    unsafe { load_reset_state_raw(cx.vcpu().as_ptr()) }
}

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/vcpu_sbi.c`: the vCPU's table of SBI extensions,
//! the ecall dispatch, the calls forwarded to userspace, system reset, and
//! the ONE_REG classes of the SBI extensions (single and multi) and of
//! their state (STA, FWFT).
//!
//! Each extension is an [`Ext`]: one of ours in Rust ([`RustExt`], an
//! [`Extension`]: `vcpu_sbi_base.rs`, `vcpu_sbi_forward.rs`,
//! `vcpu_sbi_fwft.rs`, `vcpu_sbi_hsm.rs`, `vcpu_sbi_replace.rs`,
//! `vcpu_sbi_system.rs`, `vcpu_sbi_v01.rs`), or a
//! `struct kvm_vcpu_sbi_extension` ([`SbiExt`]) whose callbacks are called
//! through the handle: the PMU's and STA's, Rust behind the C ABI
//! (`pmu.rs`, `vcpu_sbi_sta.rs`). A vCPU keeps one [`ExtStatus`] per
//! extension in `arch.sbi_context`; only its own thread (ioctls under the
//! vCPU mutex, or the run loop) touches it.

use crate::bindings as b;
use crate::handle::{Request, SbiExit, SbiExt, SbiRet, Stat, Vcpu, VcpuCtx};
use crate::onereg::{get_multi, set_multi, user, RegList};
use crate::onereg_logic::{self as r, ExtSub, RegId};
use crate::regs_logic::Sstatus;
use crate::vcpu_insn::{next_insn, trap_redirect};
use crate::vcpu_sbi_logic::{complete, ExtStatus, Outcome};
use kernel::error::code::*;
use kernel::ffi::{c_int, c_ulong};
use kernel::num::casts::arch::u64_as_usize;
use kernel::num::casts::{u32_as_usize, usize_as_u64, FromSafeCast};
use kernel::prelude::*;

/// `KVM_RISCV_SBI_EXT_MAX`: the number of SBI extension ids.
const EXT_MAX: usize = u32_as_usize(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_MAX);
const ULONG: usize = size_of::<c_ulong>();

/// The status of every extension with a slot (`sbi_context.ext_status`).
type Statuses = [b::kvm_riscv_sbi_ext_status; EXT_MAX];

const _: () = {
    assert!(
        ExtStatus::Uninitialized.raw()
            == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_UNINITIALIZED
    );
    assert!(
        ExtStatus::Unavailable.raw()
            == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_UNAVAILABLE
    );
    assert!(
        ExtStatus::Enabled.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_ENABLED
    );
    assert!(
        ExtStatus::Disabled.raw() == b::kvm_riscv_sbi_ext_status_KVM_RISCV_SBI_EXT_STATUS_DISABLED
    );
    assert!(EXT_MAX <= u32_as_usize(usize::BITS) * (u64_as_usize(r::multi_reg_last(EXT_MAX)) + 1));
};

/// An SBI extension of ours, in Rust: its callbacks, on the vCPU's
/// thread (the dispatch, vCPU creation, reset and ONE_REG). Those it does
/// not override do nothing; an extension without state registers has none.
pub(crate) trait Extension: Sync {
    /// The SBI call, on the run loop: 0, or a negative errno that ends
    /// `KVM_RUN`; the SBI result goes into `ret`.
    fn handler(&self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int;
    /// Whether the vCPU can have the extension: `None` when it has no
    /// probe (upstream's `probe` pointer left NULL: always).
    fn probe(&self, _cx: &mut VcpuCtx<'_>) -> Option<c_ulong> {
        None
    }
    /// Sets the vCPU's state of the extension up: 0, or a negative errno
    /// (the extension is then unavailable).
    fn init(&self, _cx: &mut VcpuCtx<'_>) -> c_int {
        0
    }
    /// Frees what `init` made.
    fn deinit(&self, _cx: &mut VcpuCtx<'_>) {}
    /// The vCPU resets.
    fn reset(&self, _cx: &mut VcpuCtx<'_>) {}
    /// Before the first run: corrects what the vCPU's final configuration
    /// no longer allows.
    fn validate(&self, _cx: &mut VcpuCtx<'_>) {}
    /// The extension's ONE_REG state registers, if it has some.
    fn state(&self) -> Option<&'static dyn StateRegs> {
        None
    }
}

/// The ONE_REG state registers of an extension of ours, each an `unsigned
/// long` (the dispatch checks the size), on the vCPU's thread.
pub(crate) trait StateRegs: Sync {
    /// Their subtype (`KVM_REG_RISCV_SBI_*`).
    fn subtype(&self) -> c_ulong;
    /// How many the vCPU has.
    fn count(&self, cx: &mut VcpuCtx<'_>) -> c_ulong;
    /// The id of the `index`th (-ENOENT past the last).
    fn id(&self, cx: &mut VcpuCtx<'_>, index: c_ulong) -> Result<u64>;
    /// GET of register `num`.
    fn get(&self, cx: &mut VcpuCtx<'_>, num: c_ulong) -> Result<c_ulong>;
    /// SET of register `num` to `val`.
    fn set(&self, cx: &mut VcpuCtx<'_>, num: c_ulong, val: c_ulong) -> Result;
}

/// An extension of ours: the extension ids it serves and its callbacks.
///
/// [`Ext`] calls them with a reborrowed context ([`VcpuCtx::reborrow`]):
/// an indirect call captures the address it is given, and the caller's
/// context escaping made LLVM reload the vCPU pointer and its field offsets
/// after every call in the run loop (`make bench`: 16 to 20 more
/// instructions an exit).
pub(crate) struct RustExt {
    /// The first and last extension ids it serves.
    pub(crate) extids: (c_ulong, c_ulong),
    /// Off until userspace turns it on through ONE_REG.
    pub(crate) default_disabled: bool,
    pub(crate) ops: &'static dyn Extension,
}

impl RustExt {
    /// An extension of extension ids `start..=end`.
    pub(crate) const fn range(
        start: b::sbi_ext_id,
        end: b::sbi_ext_id,
        default_disabled: bool,
        ops: &'static dyn Extension,
    ) -> Self {
        RustExt {
            extids: (u32_as_usize(start), u32_as_usize(end)),
            default_disabled,
            ops,
        }
    }

    /// An extension of one extension id, on by default.
    pub(crate) const fn one(id: b::sbi_ext_id, ops: &'static dyn Extension) -> Self {
        Self::range(id, id, false, ops)
    }
}

/// Counts SBI PMU firmware event `ev` into `v` (nothing without the SBI
/// PMU; upstream's `kvm_riscv_vcpu_pmu_incr_fw()`, whose result every
/// caller ignores: the events named are all SBI's).
pub(crate) fn count_fw(v: &Vcpu, ev: b::sbi_pmu_fw_generic_events_t) {
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    let _ = crate::pmu::incr_fw_on(v, u32_as_usize(ev));
    #[cfg(not(CONFIG_RISCV_PMU_SBI))]
    let _ = (v, ev);
}

/// SBI error `err` as the guest gets it in a0.
pub(crate) const fn sbi_err(err: c_int) -> c_ulong {
    // CAST: an SBI error, sign-extended to XLEN.
    err as c_ulong
}

/// An extension of the table: one of ours, or a C description (upstream's
/// C objects not ported yet, and ours behind the C ABI: PMU, STA).
#[derive(Clone, Copy)]
pub(crate) enum Ext {
    C(&'static SbiExt),
    Rust(&'static RustExt),
}

impl Ext {
    fn default_disabled(self) -> bool {
        match self {
            Ext::C(e) => e.default_disabled,
            Ext::Rust(e) => e.default_disabled,
        }
    }

    /// The subtype of its state registers, if it has some.
    fn state_subtype(self) -> Option<c_ulong> {
        match self {
            Ext::C(e) => e.get_state_reg_count.map(|_| e.state_reg_subtype),
            Ext::Rust(e) => e.ops.state().map(|s| s.subtype()),
        }
    }

    /// How many state registers the vCPU has.
    fn state_reg_count(self, cx: &mut VcpuCtx<'_>) -> Option<c_ulong> {
        match self {
            Ext::C(e) => cx.sbi_ext_state_reg_count(e),
            Ext::Rust(e) => e.ops.state().map(|s| s.count(&mut cx.reborrow())),
        }
    }

    /// The id of state register `j` of the vCPU's list.
    fn state_reg_id(self, cx: &mut VcpuCtx<'_>, j: c_ulong) -> Result<u64> {
        match self {
            Ext::C(e) => {
                let mut id = 0u64;
                // CAST: a small index.
                match cx.sbi_ext_state_reg_id(e, j as c_int, &mut id) {
                    Some(rc) => rc_result(rc).map(|()| id),
                    None => Ok(r::KVM_REG_RISCV
                        | r::size_field(ULONG)
                        | r::Class::SbiState.type_field()
                        | u64::from_safe_cast(e.state_reg_subtype)
                        | u64::from_safe_cast(j)),
                }
            }
            Ext::Rust(e) => e.ops.state().ok_or(ENOENT)?.id(&mut cx.reborrow(), j),
        }
    }

    /// GET of state register `num`, `size` bytes, into `val`.
    fn get_state_reg(
        self,
        cx: &mut VcpuCtx<'_>,
        num: c_ulong,
        size: usize,
        val: &mut u64,
    ) -> Result {
        match self {
            Ext::C(e) => rc_result(cx.sbi_ext_get_state_reg(e, num, size, val).ok_or(EINVAL)?),
            Ext::Rust(e) => {
                let s = e.ops.state().ok_or(EINVAL)?;
                if size != ULONG {
                    return Err(EINVAL);
                }
                *val = u64::from_safe_cast(s.get(&mut cx.reborrow(), num)?);
                Ok(())
            }
        }
    }

    /// SET of state register `num`, `size` bytes, from `val`.
    fn set_state_reg(self, cx: &mut VcpuCtx<'_>, num: c_ulong, size: usize, val: &u64) -> Result {
        match self {
            Ext::C(e) => rc_result(cx.sbi_ext_set_state_reg(e, num, size, val).ok_or(EINVAL)?),
            Ext::Rust(e) => {
                let s = e.ops.state().ok_or(EINVAL)?;
                if size != ULONG {
                    return Err(EINVAL);
                }
                s.set(&mut cx.reborrow(), num, u64_as_usize(*val))
            }
        }
    }

    /// Its probe: `None` if it has none.
    pub(crate) fn probe(self, cx: &mut VcpuCtx<'_>) -> Option<c_ulong> {
        match self {
            Ext::C(e) => cx.sbi_ext_probe(e),
            Ext::Rust(e) => e.ops.probe(&mut cx.reborrow()),
        }
    }

    fn init(self, cx: &mut VcpuCtx<'_>) -> Option<c_int> {
        match self {
            Ext::C(e) => cx.sbi_ext_init(e),
            Ext::Rust(e) => Some(e.ops.init(&mut cx.reborrow())),
        }
    }

    fn deinit(self, cx: &mut VcpuCtx<'_>) {
        match self {
            Ext::C(e) => cx.sbi_ext_deinit(e),
            Ext::Rust(e) => e.ops.deinit(&mut cx.reborrow()),
        }
    }

    fn reset(self, cx: &mut VcpuCtx<'_>) {
        match self {
            Ext::C(e) => cx.sbi_ext_reset(e),
            Ext::Rust(e) => e.ops.reset(&mut cx.reborrow()),
        }
    }

    fn validate(self, cx: &mut VcpuCtx<'_>) {
        match self {
            Ext::C(e) => cx.sbi_ext_validate(e),
            Ext::Rust(e) => e.ops.validate(&mut cx.reborrow()),
        }
    }

    /// Its handler for the guest's call: `None` if it has none.
    fn handler(self, cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> Option<c_int> {
        match self {
            Ext::C(e) => cx.call_sbi_handler(e, ret),
            Ext::Rust(e) => Some(e.ops.handler(&mut cx.reborrow(), ret)),
        }
    }
}

/// An extension of the table, with its status slot: `None` for Base,
/// which has none and is always on.
/// The extension ids it serves are copied in at build time, so that the
/// dispatch's search reads only the table.
struct Entry {
    slot: Option<usize>,
    start: c_ulong,
    end: c_ulong,
    ext: Ext,
}

const fn entry(id: b::KVM_RISCV_SBI_EXT_ID, ext: &'static SbiExt) -> Entry {
    // CAST: the ids are small.
    Entry {
        slot: Some(id as usize),
        start: ext.extid_start,
        end: ext.extid_end,
        ext: Ext::C(ext),
    }
}

const fn rust_entry(id: b::KVM_RISCV_SBI_EXT_ID, ext: &'static RustExt) -> Entry {
    // CAST: the ids are small.
    Entry {
        slot: Some(id as usize),
        start: ext.extids.0,
        end: ext.extids.1,
        ext: Ext::Rust(ext),
    }
}

/// An extension that is configured out: it claims only extension id -1
/// and has no callbacks (upstream's stand-ins).
#[cfg(any(not(CONFIG_RISCV_SBI_V01), not(CONFIG_RISCV_PMU_SBI)))]
static ABSENT: SbiExt = SbiExt {
    extid_start: c_ulong::MAX,
    extid_end: c_ulong::MAX,
    default_disabled: false,
    handler: None,
    probe: None,
    init: None,
    deinit: None,
    reset: None,
    validate: None,
    state_reg_subtype: 0,
    get_state_reg_count: None,
    get_state_reg_id: None,
    get_state_reg: None,
    set_state_reg: None,
};

/// The SBI extensions, in upstream's order (the dispatch takes the first
/// whose range holds the called id; the register lists follow this order).
static TABLE: [Entry; 15] = [
    #[cfg(CONFIG_RISCV_SBI_V01)]
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_V01,
        &crate::vcpu_sbi_v01::VCPU_SBI_EXT_V01,
    ),
    #[cfg(not(CONFIG_RISCV_SBI_V01))]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_V01, &ABSENT),
    Entry {
        slot: None,
        start: crate::vcpu_sbi_base::VCPU_SBI_EXT_BASE.extids.0,
        end: crate::vcpu_sbi_base::VCPU_SBI_EXT_BASE.extids.1,
        ext: Ext::Rust(&crate::vcpu_sbi_base::VCPU_SBI_EXT_BASE),
    },
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_TIME,
        &crate::vcpu_sbi_replace::VCPU_SBI_EXT_TIME,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_IPI,
        &crate::vcpu_sbi_replace::VCPU_SBI_EXT_IPI,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_RFENCE,
        &crate::vcpu_sbi_replace::VCPU_SBI_EXT_RFENCE,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_SRST,
        &crate::vcpu_sbi_replace::VCPU_SBI_EXT_SRST,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_HSM,
        &crate::vcpu_sbi_hsm::VCPU_SBI_EXT_HSM,
    ),
    #[cfg(CONFIG_RISCV_PMU_SBI)]
    entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_PMU,
        &crate::pmu::vcpu_sbi_ext_pmu,
    ),
    #[cfg(not(CONFIG_RISCV_PMU_SBI))]
    entry(b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_PMU, &ABSENT),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_DBCN,
        &crate::vcpu_sbi_forward::VCPU_SBI_EXT_DBCN,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_SUSP,
        &crate::vcpu_sbi_system::VCPU_SBI_EXT_SUSP,
    ),
    entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_STA,
        &crate::vcpu_sbi_sta::VCPU_SBI_EXT_STA,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_FWFT,
        &crate::vcpu_sbi_fwft::VCPU_SBI_EXT_FWFT,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_MPXY,
        &crate::vcpu_sbi_forward::VCPU_SBI_EXT_MPXY,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_EXPERIMENTAL,
        &crate::vcpu_sbi_forward::VCPU_SBI_EXT_EXPERIMENTAL,
    ),
    rust_entry(
        b::KVM_RISCV_SBI_EXT_ID_KVM_RISCV_SBI_EXT_VENDOR,
        &crate::vcpu_sbi_forward::VCPU_SBI_EXT_VENDOR,
    ),
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

// --- extension status ----------------------------------------------------------

/// The status of the extension with status slot `slot` in `st`; Base is
/// always on.
fn status_in(st: &Statuses, slot: Option<usize>) -> ExtStatus {
    match slot {
        // The table's slots are below EXT_MAX (checked at build time).
        Some(s) => ExtStatus::from_raw(st[s]),
        None => ExtStatus::Enabled,
    }
}

/// The status of the extension with status slot `slot`.
fn status(cx: &mut VcpuCtx<'_>, slot: Option<usize>) -> ExtStatus {
    status_in(&cx.parts().sbi.ext_status, slot)
}

fn set_status(cx: &mut VcpuCtx<'_>, slot: usize, s: ExtStatus) {
    cx.parts().sbi.ext_status[slot] = s.raw();
}

/// The entry of extension id `idx` (`riscv_vcpu_get_sbi_ext()`); not
/// Base.
fn entry_of(idx: u64) -> Option<&'static Entry> {
    TABLE
        .iter()
        .find(|e| e.slot.is_some_and(|s| u64::from_safe_cast(s) == idx))
}

/// The entry of extension id `idx` if the vCPU can have it.
fn offered(st: &Statuses, idx: u64) -> Option<&'static Entry> {
    entry_of(idx).filter(|e| status_in(st, e.slot) != ExtStatus::Unavailable)
}

/// The extension that serves SBI extension id `extid`, if it is on
/// (`kvm_vcpu_sbi_find_ext()`): the first whose range holds it decides.
pub(crate) fn find_ext(cx: &mut VcpuCtx<'_>, extid: c_ulong) -> Option<Ext> {
    let e = TABLE.iter().find(|e| e.start <= extid && extid <= e.end)?;
    (status(cx, e.slot) == ExtStatus::Enabled).then_some(e.ext)
}

/// The enabled extension whose state registers have subtype `sub`
/// (`kvm_vcpu_sbi_find_ext_withstate()`).
fn find_with_state(cx: &mut VcpuCtx<'_>, sub: u64) -> Option<Ext> {
    let st = &cx.parts().sbi.ext_status;
    TABLE
        .iter()
        .find(|e| {
            e.ext
                .state_subtype()
                .is_some_and(|t| u64::from_safe_cast(t) == sub)
                && status_in(st, e.slot) == ExtStatus::Enabled
        })
        .map(|e| e.ext)
}

// --- the vCPU's side ----------------------------------------------------------

/// Probes and initialises every extension for a new vCPU
/// (`kvm_riscv_vcpu_sbi_init()`).
pub(crate) fn init(cx: &mut VcpuCtx<'_>) {
    for e in &TABLE {
        let Some(slot) = e.slot else { continue };
        if e.ext.probe(cx) == Some(0) {
            set_status(cx, slot, ExtStatus::Unavailable);
            continue;
        }
        set_status(
            cx,
            slot,
            if e.ext.default_disabled() {
                ExtStatus::Disabled
            } else {
                ExtStatus::Enabled
            },
        );
        if e.ext.init(cx).is_some_and(|rc| rc != 0) {
            set_status(cx, slot, ExtStatus::Unavailable);
        }
    }
}

/// `kvm_riscv_vcpu_sbi_deinit()`: each available extension's deinit.
pub(crate) fn deinit(cx: &mut VcpuCtx<'_>) {
    for e in TABLE.iter().filter(|e| e.slot.is_some()) {
        if status(cx, e.slot) != ExtStatus::Unavailable {
            e.ext.deinit(cx);
        }
    }
}

/// `kvm_riscv_vcpu_sbi_reset()`: each enabled extension's reset.
pub(crate) fn reset(cx: &mut VcpuCtx<'_>) {
    for e in TABLE.iter().filter(|e| e.slot.is_some()) {
        if status(cx, e.slot) == ExtStatus::Enabled {
            e.ext.reset(cx);
        }
    }
}

/// `kvm_riscv_vcpu_sbi_validate()`: each enabled extension corrects its
/// parameters before the first run.
pub(crate) fn validate(cx: &mut VcpuCtx<'_>) {
    for e in TABLE.iter().filter(|e| e.slot.is_some()) {
        if status(cx, e.slot) == ExtStatus::Enabled {
            e.ext.validate(cx);
        }
    }
}

/// `SBI_ERR_NOT_SUPPORTED` as the XLEN value the guest gets in a0.
// CAST: the SBI error is a negative XLEN value.
const ERR_NOT_SUPPORTED: c_ulong = b::SBI_ERR_NOT_SUPPORTED as c_ulong;

/// The guest's `ecall` (`kvm_riscv_vcpu_sbi_ecall()`): 1 to go on, 0 to
/// exit to userspace, or a negative error for `KVM_RUN`. On the run loop.
pub(crate) fn ecall(cx: &mut VcpuCtx<'_>) -> c_int {
    let a7 = cx.guest().a7;
    let mut ret = SbiRet::default();
    let rc = match find_ext(cx, a7) {
        Some(ext) => ext.handler(cx, &mut ret),
        None => None,
    };
    let Some(rc) = rc else {
        // Not supported: the error, the next instruction, and a1 = 0.
        let g = cx.guest();
        g.a0 = ERR_NOT_SUPPORTED;
        next_insn(g, 4);
        g.a1 = 0;
        return 1;
    };
    let v01 = cfg!(CONFIG_RISCV_SBI_V01)
        && (c_ulong::from_safe_cast(b::sbi_ext_id_SBI_EXT_0_1_SET_TIMER)
            ..=c_ulong::from_safe_cast(b::sbi_ext_id_SBI_EXT_0_1_SHUTDOWN))
            .contains(&a7);
    let c = complete(
        Outcome {
            ret: rc,
            trapped: ret.utrap.scause != 0,
            uexit: ret.uexit,
        },
        v01,
    );
    if c.redirect {
        ret.utrap.sepc = cx.guest().sepc;
        trap_redirect(cx, &ret.utrap);
    }
    let g = cx.guest();
    if c.set_error {
        g.a0 = ret.err_val;
    }
    if c.advance {
        next_insn(g, 4);
    }
    if c.set_value {
        g.a1 = ret.out_val;
    }
    c.ret
}

/// Completes a call userspace handled (`kvm_riscv_vcpu_sbi_return()`):
/// its two return values, and the next instruction, once. On the run loop.
pub(crate) fn sbi_return(cx: &mut VcpuCtx<'_>) -> c_int {
    let run = cx.vcpu().run_page();
    let p = cx.parts();
    if p.sbi.return_handled != 0 {
        return 0;
    }
    p.sbi.return_handled = 1;
    let [a0, a1] = run.sbi_ret();
    p.guest.a0 = a0;
    p.guest.a1 = a1;
    next_insn(p.guest, 4);
    0
}

/// Puts the state SBI HSM start (or a reset) asked for into the guest
/// context (`kvm_riscv_vcpu_sbi_load_reset_state()`), on the vCPU's thread
/// with the context being reset.
pub(crate) fn load_reset_state(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    let (pc, a1) = v.with_reset_state(|pc, a1| (*pc, *a1));
    let p = cx.parts();
    p.guest.a0 = c_ulong::from_safe_cast(v.id());
    p.guest.sepc = pc;
    p.guest.a1 = a1;
    let sstatus = Sstatus::from_raw(u64::from_safe_cast(p.guest.sstatus));
    p.guest.sstatus = u64_as_usize(sstatus.with_sie(false).into_raw());
    p.csr.vsatp = 0;
}

// --- called by the extensions -----------------------------------------------------

/// Sends the call to userspace as `KVM_EXIT_RISCV_SBI`
/// (`kvm_riscv_vcpu_sbi_forward_handler()`): the handler of the forwarded
/// extensions, and of calls other handlers leave to userspace. On the run
/// loop.
pub(crate) fn forward_handler(cx: &mut VcpuCtx<'_>, ret: &mut SbiRet) -> c_int {
    cx.parts().sbi.return_handled = 0;
    cx.stat_inc(Stat::EcallExits);
    let v = cx.vcpu();
    let g = cx.guest();
    let exit = SbiExit {
        extension_id: g.a7,
        function_id: g.a6,
        args: [g.a0, g.a1, g.a2, g.a3, g.a4, g.a5],
        ret: [ERR_NOT_SUPPORTED, 0],
    };
    let run = v.run_page();
    run.set_exit_reason(b::KVM_EXIT_RISCV_SBI);
    run.set_sbi(&exit);
    ret.uexit = true;
    0
}

/// Stops every vCPU of the VM and exits to userspace with a system event
/// of `type_` (`kvm_riscv_vcpu_sbi_system_reset()`). On the run loop.
pub(crate) fn system_reset(cx: &mut VcpuCtx<'_>, type_: u32, reason: u64) {
    let v = cx.vcpu();
    let vm = v.vm();
    for other in vm.vcpus() {
        other.with_mp_state_lock(|l| l.set_mp_state(b::KVM_MP_STATE_STOPPED));
    }
    vm.make_all_cpus_request(Request::Sleep);
    let run = v.run_page();
    run.set_system_event(type_, reason);
    run.set_exit_reason(b::KVM_EXIT_SYSTEM_EVENT);
}

/// Asks the vCPU to reset itself to start at `pc` with `a1`
/// (`kvm_riscv_vcpu_sbi_request_reset()`: SBI HSM start, system suspend).
/// From any vCPU's thread.
pub(crate) fn request_reset(v: &Vcpu, pc: c_ulong, a1: c_ulong) {
    v.with_reset_state(|p, a| (*p, *a) = (pc, a1));
    v.make_request(Request::VcpuReset);
}

// --- ONE_REG: SBI extensions --------------------------------------------------

fn get_single(st: &Statuses, idx: u64) -> Result<c_ulong> {
    let e = offered(st, idx).ok_or(ENOENT)?;
    Ok(c_ulong::from(status_in(st, e.slot) == ExtStatus::Enabled))
}

fn set_single(cx: &mut VcpuCtx<'_>, idx: u64, val: c_ulong) -> Result {
    if val > 1 {
        return Err(EINVAL);
    }
    let e = offered(&cx.parts().sbi.ext_status, idx).ok_or(ENOENT)?;
    let Some(slot) = e.slot else {
        return Err(ENOENT);
    };
    if val == 0 && status(cx, e.slot) == ExtStatus::Enabled {
        e.ext.reset(cx);
    }
    set_status(
        cx,
        slot,
        if val != 0 {
            ExtStatus::Enabled
        } else {
            ExtStatus::Disabled
        },
    );
    Ok(())
}

/// `KVM_GET_ONE_REG` of an SBI extension register
/// (`kvm_riscv_vcpu_get_reg_sbi_ext()`).
pub(crate) fn get_reg_ext(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    if reg.size() != ULONG {
        return Err(EINVAL);
    }
    let st = cx.parts().sbi.ext_status;
    let n = reg.index();
    let val = match reg.ext_sub() {
        Some(ExtSub::Single) => get_single(&st, n)?,
        Some(sub) => get_multi(sub, n, EXT_MAX, |id| get_single(&st, id).unwrap_or(0) != 0)?,
        None => return Err(ENOENT),
    };
    user(addr, ULONG).writer().write(&val)
}

/// `KVM_SET_ONE_REG` of an SBI extension register
/// (`kvm_riscv_vcpu_set_reg_sbi_ext()`): before the first run only.
pub(crate) fn set_reg_ext(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    if reg.size() != ULONG {
        return Err(EINVAL);
    }
    if cx.vcpu().ran_once() {
        return Err(EBUSY);
    }
    let val: c_ulong = user(addr, ULONG).reader().read()?;
    let n = reg.index();
    let enable = match reg.ext_sub() {
        Some(ExtSub::Single) => return set_single(cx, n, val),
        Some(ExtSub::MultiEn) => 1,
        Some(ExtSub::MultiDis) => 0,
        None => return Err(ENOENT),
    };
    set_multi(n, EXT_MAX, val, |id| {
        let _ = set_single(cx, id, enable);
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
fn state_ext(cx: &mut VcpuCtx<'_>, reg: RegId) -> Option<Ext> {
    find_with_state(cx, reg.number() & r::SUBTYPE_MASK)
}

/// A callback's 0 or negative errno as a `Result`.
fn rc_result(rc: c_int) -> Result {
    if rc != 0 {
        return Err(Error::from_errno(rc));
    }
    Ok(())
}

/// `KVM_GET_ONE_REG` of an SBI state register (`kvm_riscv_vcpu_get_reg_sbi()`).
pub(crate) fn get_reg_state(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    let size = state_size(reg)?;
    let ext = state_ext(cx, reg).ok_or(EINVAL)?;
    let mut val: u64 = 0;
    ext.get_state_reg(cx, u64_as_usize(reg.index()), size, &mut val)?;
    user(addr, size)
        .writer()
        .write_slice(&val.to_ne_bytes()[..size])
}

/// `KVM_SET_ONE_REG` of an SBI state register (`kvm_riscv_vcpu_set_reg_sbi()`):
/// the size, the user copy, then the extension.
pub(crate) fn set_reg_state(cx: &mut VcpuCtx<'_>, reg: RegId, addr: u64) -> Result {
    let size = state_size(reg)?;
    let mut bytes = [0u8; 8];
    user(addr, size).reader().read_slice(&mut bytes[..size])?;
    let val = u64::from_ne_bytes(bytes);
    let ext = state_ext(cx, reg).ok_or(EINVAL)?;
    ext.set_state_reg(cx, u64_as_usize(reg.index()), size, &val)
}

/// Lists the SBI registers for `KVM_GET_REG_LIST`, in upstream's order:
/// every offered extension's single register, then the state registers of
/// the enabled extensions that have some.
pub(crate) fn list_regs(cx: &mut VcpuCtx<'_>, l: &mut RegList) -> Result {
    let st = cx.parts().sbi.ext_status;
    for idx in 0..usize_as_u64(EXT_MAX) {
        if offered(&st, idx).is_some() {
            l.push(r::encode(r::Class::SbiExt, 0, idx, r::size_field(ULONG)))?;
        }
    }
    for e in &TABLE {
        if e.ext.state_subtype().is_none() || status(cx, e.slot) != ExtStatus::Enabled {
            continue;
        }
        let Some(count) = e.ext.state_reg_count(cx) else {
            continue;
        };
        if l.counting() {
            l.count(count);
            continue;
        }
        for j in 0..count {
            let id = e.ext.state_reg_id(cx, j)?;
            l.push(id)?;
        }
    }
    Ok(())
}

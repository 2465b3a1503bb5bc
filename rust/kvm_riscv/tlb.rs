// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/tlb.c`: flushing guest translations.
//!
//! - Local fences: the G-stage (`hfence.gvma`) and VS-stage (`hfence.vvma`)
//!   TLB entries of this hart, of a VMID, an ASID or a range; with Svinval
//!   the ranged ones are `hinval.*` between `sfence.w.inval` and
//!   `sfence.inval.ir`. A range of more than [`MAX_RANGED_PAGES`] pages, or
//!   one that wraps, is flushed whole.
//! - Remote fences: a vCPU (an SBI RFENCE call) or the MMU asks other vCPUs
//!   to flush. Each named vCPU gets the request in its HFENCE queue and a
//!   `KVM_REQ_HFENCE`; when its queue is full, a coarser request instead
//!   (`KVM_REQ_TLB_FLUSH` for G-stage, `KVM_REQ_HFENCE_VVMA_ALL` for
//!   VS-stage). The vCPU runs them before it next enters the guest
//!   ([`hfence_process`] and friends), through the NACL shared memory when
//!   there is one.
//!
//! [`MAX_RANGED_PAGES`]: crate::tlb_logic::MAX_RANGED_PAGES

use crate::bindings as b;
use crate::csr::{fence, HGATP};
use crate::handle::{Request, Vcpu, VcpuCtx, Vm, VCPU_BITMAP_WORDS as BITMAP_WORDS};
use crate::isa::host_has_ext;
use crate::nacl;
use crate::static_key::{static_branch_unlikely, StaticKeyFalse};
use crate::tlb_logic::{self as l, Coarser, HartMask, Hfence, HfenceKind};
use crate::vcpu_sbi::count_fw;
use crate::vmid;
use kernel::ffi::c_ulong;
use kernel::num::casts::u32_as_usize;

// PTRS_PER_PTE of 64-bit RISC-V: 4 KiB pages of 8-byte entries.
const _: () = assert!(l::MAX_RANGED_PAGES == (1 << b::PAGE_SHIFT) / 8);

/// Set at init (`main.rs`) on hosts whose VS-stage TLB does not tag
/// entries with the guest physical address and VMID (upstream `main.c`'s
/// key); only this module reads it.
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_vsstage_tlb_no_gpa: StaticKeyFalse = StaticKeyFalse::new();

/// The hart implements Svinval (`has_svinval()`).
fn has_svinval() -> bool {
    host_has_ext(b::RISCV_ISA_EXT_SVINVAL)
}

/// The `hgatp` value that selects `vmid` for the VS-stage fences (they
/// apply to the VMID in HGATP).
fn hgatp_of_vmid(vmid: usize) -> usize {
    vmid << b::HGATP_VMID_SHIFT
}

/// Runs `one(addr)` for each page of a ranged fence, between the Svinval
/// ordering fences when `inval`; `false` when the range must be flushed
/// whole instead.
fn for_each_page(addr: u64, size: u64, order: usize, inval: bool, one: impl Fn(usize)) -> bool {
    let Some(pages) = l::fence_pages(addr, size, order) else {
        return false;
    };
    if inval {
        fence::sfence_w_inval();
    }
    for p in pages {
        // CAST: a guest address of the 64-bit host, as wide as usize.
        one(p as usize);
    }
    if inval {
        fence::sfence_inval_ir();
    }
    true
}

/// Flushes this hart's G-stage entries of `vmid` for `gpsz` bytes at `gpa`
/// (`kvm_riscv_local_hfence_gvma_vmid_gpa()`).
pub(crate) fn local_hfence_gvma_vmid_gpa(vmid: usize, gpa: u64, gpsz: u64, order: usize) {
    let done = if has_svinval() {
        for_each_page(gpa, gpsz, order, true, |p| {
            fence::hinval_gvma_vmid(p >> 2, vmid)
        })
    } else {
        for_each_page(gpa, gpsz, order, false, |p| {
            fence::hfence_gvma_vmid(p >> 2, vmid)
        })
    };
    if !done {
        local_hfence_gvma_vmid_all(vmid);
    }
}

/// Flushes this hart's G-stage entries of `vmid`
/// (`kvm_riscv_local_hfence_gvma_vmid_all()`).
pub(crate) fn local_hfence_gvma_vmid_all(vmid: usize) {
    fence::hfence_gvma_vmid_all(vmid);
}

/// Flushes this hart's G-stage entries of every VMID for `gpsz` bytes at
/// `gpa` (`kvm_riscv_local_hfence_gvma_gpa()`).
#[allow(dead_code)]
pub(crate) fn local_hfence_gvma_gpa(gpa: u64, gpsz: u64, order: usize) {
    let done = if has_svinval() {
        for_each_page(gpa, gpsz, order, true, |p| fence::hinval_gvma(p >> 2))
    } else {
        for_each_page(gpa, gpsz, order, false, |p| fence::hfence_gvma(p >> 2))
    };
    if !done {
        local_hfence_gvma_all();
    }
}

/// Flushes every G-stage entry of this hart (`kvm_riscv_local_hfence_gvma_all()`).
pub(crate) fn local_hfence_gvma_all() {
    fence::hfence_gvma_all();
}

/// Runs `f` with HGATP selecting `vmid` (VS-stage fences apply to the VMID
/// in HGATP), then puts HGATP back.
fn with_vmid(vmid: usize, f: impl FnOnce()) {
    let hgatp = HGATP.swap(hgatp_of_vmid(vmid));
    f();
    HGATP.write(hgatp);
}

/// Flushes this hart's VS-stage entries of `asid` in VMID `vmid` for
/// `gvsz` bytes at `gva` (`kvm_riscv_local_hfence_vvma_asid_gva()`).
pub(crate) fn local_hfence_vvma_asid_gva(
    vmid: usize,
    asid: usize,
    gva: u64,
    gvsz: u64,
    order: usize,
) {
    if l::fence_pages(gva, gvsz, order).is_none() {
        return local_hfence_vvma_asid_all(vmid, asid);
    }
    with_vmid(vmid, || {
        if has_svinval() {
            for_each_page(gva, gvsz, order, true, |p| fence::hinval_vvma_asid(p, asid));
        } else {
            for_each_page(gva, gvsz, order, false, |p| {
                fence::hfence_vvma_asid(p, asid)
            });
        }
    });
}

/// Flushes this hart's VS-stage entries of `asid` in VMID `vmid`
/// (`kvm_riscv_local_hfence_vvma_asid_all()`).
pub(crate) fn local_hfence_vvma_asid_all(vmid: usize, asid: usize) {
    with_vmid(vmid, || fence::hfence_vvma_asid_all(asid));
}

/// Flushes this hart's VS-stage entries of VMID `vmid` for `gvsz` bytes at
/// `gva` (`kvm_riscv_local_hfence_vvma_gva()`).
pub(crate) fn local_hfence_vvma_gva(vmid: usize, gva: u64, gvsz: u64, order: usize) {
    if l::fence_pages(gva, gvsz, order).is_none() {
        return local_hfence_vvma_all(vmid);
    }
    with_vmid(vmid, || {
        if has_svinval() {
            for_each_page(gva, gvsz, order, true, fence::hinval_vvma);
        } else {
            for_each_page(gva, gvsz, order, false, fence::hfence_vvma);
        }
    });
}

/// Flushes this hart's VS-stage entries of VMID `vmid`
/// (`kvm_riscv_local_hfence_vvma_all()`).
pub(crate) fn local_hfence_vvma_all(vmid: usize) {
    with_vmid(vmid, fence::hfence_vvma_all);
}

/// Before entering the guest, interrupts off: when the vCPU moved to this
/// CPU since it last ran, drops this CPU's entries of the VM's VMID, which
/// another vCPU of the VM may have left (`kvm_riscv_local_tlb_sanitize()`).
/// Nothing to do without VMIDs: every entry flushes then.
#[inline]
pub(crate) fn local_tlb_sanitize(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    if vmid::bits() == 0 || v.last_exit_cpu() == v.cpu() {
        return;
    }
    sanitize(v);
}

#[cold]
fn sanitize(v: &Vcpu) {
    let vmid = v.vm().vmid();
    local_hfence_gvma_vmid_all(vmid);
    // VS-stage TLBs that do not tag entries with the guest physical address
    // and VMID (`kvm_riscv_vsstage_tlb_no_gpa`) are flushed too.
    if static_branch_unlikely!(kvm_riscv_vsstage_tlb_no_gpa) {
        local_hfence_vvma_all(vmid);
    }
}

/// `KVM_REQ_FENCE_I` (`kvm_riscv_fence_i_process()`).
#[cold]
#[inline(never)]
pub(crate) fn fence_i_process(cx: &mut VcpuCtx<'_>) {
    count_fw(
        cx.vcpu(),
        b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_FENCE_I_RCVD,
    );
    fence::fence_i();
}

/// `KVM_REQ_TLB_FLUSH`: every G-stage entry of the VM's VMID
/// (`kvm_riscv_tlb_flush_process()`).
#[cold]
#[inline(never)]
pub(crate) fn tlb_flush_process(cx: &mut VcpuCtx<'_>) {
    let vmid = cx.vcpu().vm().vmid();
    match nacl::shmem() {
        Some(sh) => sh.hfence_gvma_vmid_all(vmid),
        None => local_hfence_gvma_vmid_all(vmid),
    }
}

/// `KVM_REQ_HFENCE_VVMA_ALL`: every VS-stage entry of the VM's VMID
/// (`kvm_riscv_hfence_vvma_all_process()`).
#[cold]
#[inline(never)]
pub(crate) fn hfence_vvma_all_process(cx: &mut VcpuCtx<'_>) {
    let vmid = cx.vcpu().vm().vmid();
    match nacl::shmem() {
        Some(sh) => sh.hfence_vvma_all(vmid),
        None => local_hfence_vvma_all(vmid),
    }
}

/// A queue slot is the C struct: its `type_` 0 marks it free.
impl l::Slot for b::kvm_riscv_hfence {
    fn get(&self) -> Option<Hfence> {
        Some(Hfence {
            kind: HfenceKind::from_raw(self.type_)?,
            asid: self.asid,
            vmid: self.vmid,
            order: self.order,
            addr: self.addr,
            size: self.size,
        })
    }

    fn put(&mut self, h: &Hfence) {
        *self = b::kvm_riscv_hfence {
            type_: h.kind.raw(),
            asid: h.asid,
            vmid: h.vmid,
            order: h.order,
            addr: h.addr,
            size: h.size,
        };
    }

    fn free(&mut self) {
        self.type_ = b::kvm_riscv_hfence_type_KVM_RISCV_HFENCE_UNKNOWN;
    }
}

/// `KVM_REQ_HFENCE`: runs the requests in the vCPU's queue
/// (`kvm_riscv_hfence_process()`).
#[cold]
#[inline(never)]
pub(crate) fn hfence_process(cx: &mut VcpuCtx<'_>) {
    let v = cx.vcpu();
    while let Some(d) = v.with_hfence_queue(|q| l::dequeue(q.slots, q.head)) {
        run_hfence(v, &d);
    }
}

/// Runs one queued request on this hart.
fn run_hfence(v: &Vcpu, d: &Hfence) {
    use HfenceKind::*;
    if d.kind.is_vvma() {
        count_fw(
            v,
            if d.kind.has_asid() {
                b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_HFENCE_VVMA_ASID_RCVD
            } else {
                b::sbi_pmu_fw_generic_events_t_SBI_PMU_FW_HFENCE_VVMA_RCVD
            },
        );
    }
    if let Some(sh) = nacl::shmem() {
        match d.kind {
            GvmaVmidGpa => sh.hfence_gvma_vmid(d.vmid, d.addr, d.size, d.order),
            GvmaVmidAll => sh.hfence_gvma_vmid_all(d.vmid),
            VvmaAsidGva => sh.hfence_vvma_asid(d.vmid, d.asid, d.addr, d.size, d.order),
            VvmaAsidAll => sh.hfence_vvma_asid_all(d.vmid, d.asid),
            VvmaGva => sh.hfence_vvma(d.vmid, d.addr, d.size, d.order),
            VvmaAll => sh.hfence_vvma_all(d.vmid),
        }
        return;
    }
    match d.kind {
        GvmaVmidGpa => local_hfence_gvma_vmid_gpa(d.vmid, d.addr, d.size, d.order),
        GvmaVmidAll => local_hfence_gvma_vmid_all(d.vmid),
        VvmaAsidGva => local_hfence_vvma_asid_gva(d.vmid, d.asid, d.addr, d.size, d.order),
        VvmaAsidAll => local_hfence_vvma_asid_all(d.vmid, d.asid),
        VvmaGva => local_hfence_vvma_gva(d.vmid, d.addr, d.size, d.order),
        VvmaAll => local_hfence_vvma_all(d.vmid),
    }
}

/// A bitmap of vCPU indices (C `DECLARE_BITMAP(, KVM_MAX_VCPUS)`).
struct VcpuBitmap([c_ulong; BITMAP_WORDS]);

impl VcpuBitmap {
    const fn new() -> Self {
        Self([0; BITMAP_WORDS])
    }

    fn set(&mut self, idx: u32) {
        let i = u32_as_usize(idx);
        let word_bits = u32_as_usize(c_ulong::BITS);
        if let Some(w) = self.0.get_mut(i / word_bits) {
            *w |= 1 << (i % word_bits);
        }
    }
}

/// Makes `req` of the vCPUs `harts` names (`make_xfence_request_nodata()`).
fn request_nodata(vm: &Vm, harts: HartMask, req: Request) {
    let mut mask = VcpuBitmap::new();
    for v in vm.vcpus().filter(|v| harts.has(u32_as_usize(v.id()))) {
        mask.set(v.idx());
    }
    vm.make_vcpus_request_mask(req, &mask.0);
}

/// Queues `h` for the vCPUs `harts` names and makes `KVM_REQ_HFENCE` of
/// them; of those whose queue is full, the coarser request of its kind
/// (`make_xfence_request()`).
pub(crate) fn remote_hfence(vm: &Vm, harts: HartMask, h: &Hfence) {
    let fallback = match h.kind.coarser() {
        Coarser::VvmaAll => Request::HfenceVvmaAll,
        Coarser::GvmaVmidAll => Request::TlbFlush,
    };
    let mut queued = VcpuBitmap::new();
    let mut full = VcpuBitmap::new();
    for v in vm.vcpus().filter(|v| harts.has(u32_as_usize(v.id()))) {
        if v.with_hfence_queue(|q| l::enqueue(q.slots, q.tail, h)) {
            queued.set(v.idx());
        } else {
            full.set(v.idx());
        }
    }
    vm.make_vcpus_request_mask(Request::Hfence, &queued.0);
    vm.make_vcpus_request_mask(fallback, &full.0);
}

/// A `fence.i` on each vCPU `harts` names (`kvm_riscv_fence_i()`).
pub(crate) fn fence_i(vm: &Vm, harts: HartMask) {
    request_nodata(vm, harts, Request::FenceI);
}

/// The G-stage entries of `vmid` for `gpsz` bytes at `gpa`, in pages of
/// 2^`order` bytes, on each vCPU `harts` names
/// (`kvm_riscv_hfence_gvma_vmid_gpa()`).
pub(crate) fn hfence_gvma_vmid_gpa(
    vm: &Vm,
    harts: HartMask,
    gpa: u64,
    gpsz: u64,
    order: usize,
    vmid: usize,
) {
    let h = Hfence {
        kind: HfenceKind::GvmaVmidGpa,
        asid: 0,
        vmid,
        order,
        addr: gpa,
        size: gpsz,
    };
    remote_hfence(vm, harts, &h);
}

/// The VS-stage entries of `vmid` (of `asid` when given) on each vCPU
/// `harts` names: for `gvsz` bytes at `gva` in pages of 2^`order` bytes,
/// or all of them when `range` is `None` (`kvm_riscv_hfence_vvma_gva()`,
/// `_all()`, `_asid_gva()`, `_asid_all()`).
pub(crate) fn hfence_vvma(
    vm: &Vm,
    harts: HartMask,
    range: Option<(u64, u64, usize)>,
    asid: Option<usize>,
    vmid: usize,
) {
    let kind = match (range.is_some(), asid.is_some()) {
        (true, true) => HfenceKind::VvmaAsidGva,
        (false, true) => HfenceKind::VvmaAsidAll,
        (true, false) => HfenceKind::VvmaGva,
        (false, false) => HfenceKind::VvmaAll,
    };
    let (addr, size, order) = range.unwrap_or((0, 0, 0));
    let h = Hfence {
        kind,
        asid: asid.unwrap_or(0),
        vmid,
        order,
        addr,
        size,
    };
    remote_hfence(vm, harts, &h);
}

/// Flushes `nr_pages` pages at `gfn` from the G-stage TLBs of every vCPU
/// (`kvm_arch_flush_remote_tlbs_range()`, the generic core's).
pub(crate) fn flush_remote_tlbs_range(vm: &Vm, gfn: u64, nr_pages: u64) {
    let shift = b::PAGE_SHIFT;
    hfence_gvma_vmid_gpa(
        vm,
        HartMask::ALL,
        gfn << shift,
        nr_pages << shift,
        u32_as_usize(shift),
        vm.vmid(),
    );
}

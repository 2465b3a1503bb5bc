// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/main.c`: module init and exit, and enabling and
//! disabling virtualization on each CPU.
//!
//! Init runs the same steps as upstream, in the same order, with the same
//! unwinding and log lines: hardware checks, NACL, G-stage mode, VMID, AIA,
//! vendor quirks, vector, perf callbacks, CPU PM notifier, `kvm_init()`.

use crate::bindings as b;
use crate::csr::{self, HCOUNTEREN_TM};
use crate::isa::host_has_ext;
use crate::nacl;
use crate::vcpu;
#[allow(unused_imports)]
use crate::print::{kvm_err, kvm_info};
use crate::report::{self, NaclFeatures};
use crate::static_key::StaticKeyFalse;
use kernel::error::{code::*, to_result};
use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

/// Set on CPUs whose VS-stage TLB does not cache guest physical addresses;
/// the TLB code (`tlb.c`) branches on it.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub(crate) static kvm_riscv_vsstage_tlb_no_gpa: StaticKeyFalse = StaticKeyFalse::new();

/// Whether virtualization is enabled, per CPU (upstream: a per-CPU bool).
/// Each slot is only touched by its own CPU, with preemption off.
static VIRT_ENABLED: [Atomic<bool>; b::NR_CPUS as usize] =
    [const { Atomic::new(false) }; b::NR_CPUS as usize];

fn this_cpu_virt_enabled() -> &'static Atomic<bool> {
    let cpu = kernel::cpu::CpuId::current().as_u32() as usize;
    // CAST: CPU ids are below NR_CPUS.
    &VIRT_ENABLED[cpu]
}

/// The H extension's id: `asm/hwcap.h` numbers single-letter extensions by
/// their letter (`'h' - 'a'`), which bindgen does not evaluate.
const RISCV_ISA_EXT_H: u32 = (b'h' - b'a') as u32;


/// Programs the hypervisor CSRs for a CPU that runs guests (CPU online, or
/// resume from a non-retention idle state).
fn csr_init() {
    csr::HEDELEG.write(0);
    csr::HIDELEG.write(0);
    // VS may read only the time counter directly; everything else traps.
    csr::HCOUNTEREN.write(HCOUNTEREN_TM);
    csr::HVIP.write(0);
}

/// Clears the hypervisor CSRs (CPU offline, or non-retention idle entry).
fn csr_cleanup() {
    // With HIDELEG cleared, the host would take spurious interrupts for any
    // bit pending in HVIP and enabled in VSIE: clear those two first.
    csr::VSIE.write(0);
    csr::HVIP.write(0);
    csr::HEDELEG.write(0);
    csr::HIDELEG.write(0);
    vcpu::clear_former_vcpu();
}

/// Called by the generic KVM core for the `/dev/kvm` ioctls it does not know.
#[no_mangle]
pub(crate) extern "C" fn kvm_arch_dev_ioctl(_filp: *mut b::file, _ioctl: c_uint, _arg: c_ulong) -> c_long {
    // CAST: errno values fit in any C integer type.
    EINVAL.to_errno() as c_long
}

/// Called by the generic KVM core on each CPU where virtualization starts.
#[no_mangle]
pub(crate) extern "C" fn kvm_arch_enable_virtualization_cpu() -> c_int {
    if let Err(e) = nacl::enable() {
        return e.to_errno();
    }
    csr_init();
    crate::aia::kvm_riscv_aia_enable();
    this_cpu_virt_enabled().store(true, Relaxed);
    0
}

/// Called by the generic KVM core on each CPU where virtualization stops.
#[no_mangle]
pub(crate) extern "C" fn kvm_arch_disable_virtualization_cpu() {
    // On the CPU being disabled, with preemption disabled.
    crate::aia::kvm_riscv_aia_disable();
    csr_cleanup();
    nacl::disable();
    this_cpu_virt_enabled().store(false, Relaxed);
}

/// What the CPU PM notifier does for one event (`CPU_PM_*`).
#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
fn cpu_pm_event(cmd: c_ulong) -> c_int {
    // CAST: the CPU_PM_* event ids are small enumerators.
    match cmd as u32 {
        b::cpu_pm_event_CPU_PM_EXIT | b::cpu_pm_event_CPU_PM_ENTER_FAILED => {
            // Restore hypervisor state only where KVM has it enabled, so that
            // resume never re-enables what was explicitly disabled.
            if this_cpu_virt_enabled().load(Relaxed) {
                csr_init();
                crate::aia::kvm_riscv_aia_pm_exit();
            }
            NOTIFY_OK
        }
        b::cpu_pm_event_CPU_PM_ENTER => {
            if this_cpu_virt_enabled().load(Relaxed) {
                crate::aia::kvm_riscv_aia_pm_enter();
                csr_cleanup();
            }
            NOTIFY_OK
        }
        _ => NOTIFY_DONE,
    }
}

#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
const NOTIFY_OK: c_int = b::NOTIFY_OK as c_int;
#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
const NOTIFY_DONE: c_int = b::NOTIFY_DONE as c_int;

#[cfg(CONFIG_CPU_PM)]
mod cpu_pm {
    //! Registration of the CPU PM notifier (only with `CONFIG_CPU_PM`).
    use super::*;
    use kernel::types::Opaque;

    struct NotifierBlock(Opaque<b::notifier_block>);
    // SAFETY: the notifier chain owns the block while it is registered and
    // serialises access to it.
    unsafe impl Sync for NotifierBlock {}

    static NB: NotifierBlock = NotifierBlock(Opaque::zeroed());

    /// # Safety
    /// Called by the CPU PM notifier chain.
    unsafe extern "C" fn notify(
        _nb: *mut b::notifier_block,
        cmd: c_ulong,
        _v: *mut kernel::ffi::c_void,
    ) -> c_int {
        cpu_pm_event(cmd)
    }

    pub(super) fn register() -> Result {
        // SAFETY: NB is static; it is set up here before it is registered.
        unsafe {
            (*NB.0.get()).notifier_call = Some(notify);
            to_result(b::cpu_pm_register_notifier(NB.0.get()))
        }
    }

    pub(super) fn unregister() {
        // SAFETY: NB was registered by `register`.
        unsafe { b::cpu_pm_unregister_notifier(NB.0.get()) };
    }
}

/// The NACL features that were found.
fn nacl_features() -> Option<NaclFeatures> {
    nacl::available().then(|| NaclFeatures {
        sync_csr: nacl::sync_csr_available(),
        sync_hfence: nacl::sync_hfence_available(),
        sync_sret: nacl::sync_sret_available(),
        autoswap_csr: nacl::autoswap_csr_available(),
    })
}

/// Undoes init from AIA down to the perf callbacks (upstream's teardown).
fn teardown() {
    crate::aia::kvm_riscv_aia_exit();
    // SAFETY: each undoes its init step, which ran before; all tolerate the
    // "not available" case.
    unsafe {
        nacl::exit();
        vector_exit();
        #[cfg(CONFIG_GUEST_PERF_EVENTS)]
        b::kvm_unregister_perf_callbacks();
    }
}

fn host_has_vector() -> bool {
    host_has_ext(b::RISCV_ISA_EXT_ZVE32X)
}

/// `kvm_riscv_v_init()`: flush the vCPU vector state on kernel-mode vector use.
fn vector_init() {
    #[cfg(CONFIG_RISCV_ISA_V)]
    if host_has_vector() {
        // SAFETY: registers a function of this module; unregistered at exit.
        unsafe { b::kvm_riscv_register_vctx_callback(Some(crate::abi::kvm_riscv_vcpu_flush_vector)) };
    }
}

fn vector_exit() {
    #[cfg(CONFIG_RISCV_ISA_V)]
    if host_has_vector() {
        // SAFETY: undoes `vector_init()`.
        unsafe { b::kvm_riscv_unregister_vctx_callback() };
    }
}

fn setup_vendor_features() {
    // SAFETY: CPU 0 always exists and its cached ids are set at boot.
    let (vendor, arch) = unsafe { (b::riscv_cached_mvendorid(0), b::riscv_cached_marchid(0)) };
    // CAST: `unsigned long` is 64-bit on riscv64, the only Rust target.
    if report::vsstage_tlb_no_gpa(vendor as u64, arch as u64) {
        kvm_riscv_vsstage_tlb_no_gpa.enable();
        kvm_info!("VS-stage TLB does not cache guest physical address and VMID\n");
    }
}

/// An SBI specification version as `sbi_spec_version` encodes it.
fn sbi_mk_version(major: c_ulong, minor: c_ulong) -> c_ulong {
    // CAST: the masks are small positive constants.
    let major_mask = b::SBI_SPEC_VERSION_MAJOR_MASK as c_ulong;
    let minor_mask = b::SBI_SPEC_VERSION_MINOR_MASK as c_ulong;
    ((major & major_mask) << b::SBI_SPEC_VERSION_MAJOR_SHIFT) | (minor & minor_mask)
}

/// The loaded backend. Dropping it unloads KVM.
pub(crate) struct KvmRiscv;

impl kernel::Module for KvmRiscv {
    fn init(module: &'static ThisModule) -> Result<Self> {
        riscv_kvm_init(module)
    }
}

/// Module init, upstream's `riscv_kvm_init()`.
///
/// It calls `__init` functions of the C side (G-stage and VMID detection), so
/// it lives in `.ref.text` (C's `__ref`): it runs only while the module loads.
#[link_section = ".ref.text"]
#[inline(never)]
fn riscv_kvm_init(module: &'static ThisModule) -> Result<KvmRiscv> {
    if !host_has_ext(RISCV_ISA_EXT_H) {
        kvm_info!("hypervisor extension not available\n");
        return Err(ENODEV);
    }
    // SAFETY: a plain read of a variable set once at boot.
    let sbi_version = unsafe { b::sbi_spec_version };
    if sbi_version == sbi_mk_version(0, 1) {
        kvm_info!("require SBI v0.2 or higher\n");
        return Err(ENODEV);
    }
    // SAFETY: probing an SBI extension has no side effect.
    if unsafe { b::sbi_probe_extension(b::sbi_ext_id_SBI_EXT_RFENCE as i32) } == 0 {
        kvm_info!("require SBI RFENCE extension\n");
        return Err(ENODEV);
    }

    match nacl::init() {
        Ok(()) => {}
        Err(e) if e == ENODEV => {}
        Err(e) => return Err(e),
    }

    // SAFETY: detection only reads hardware state.
    unsafe { b::kvm_riscv_gstage_mode_detect() };
    // SAFETY: set by the detection just above, read-only afterwards.
    let levels = unsafe { b::kvm_riscv_gstage_max_pgd_levels };
    let Some(mode) = report::gstage_mode_name(levels as u64) else {
        nacl::exit();
        return Err(ENODEV);
    };

    // SAFETY: detection only reads hardware state.
    unsafe { b::kvm_riscv_gstage_vmid_detect() };

    // Undone by `kvm_riscv_aia_exit()` in `teardown()`.
    match to_result(crate::aia::kvm_riscv_aia_init()) {
        Ok(()) => {}
        Err(e) if e == ENODEV => {}
        Err(e) => {
            nacl::exit();
            return Err(e);
        }
    }

    kvm_info!("hypervisor extension available\n");
    if let Some(features) = nacl_features() {
        kvm_info!("using SBI nested acceleration with {}\n", features);
    }
    kvm_info!("highest G-stage page table mode is {}\n", mode);
    // SAFETY: reads the detected VMID width.
    kvm_info!("VMID {} bits available\n", unsafe { b::kvm_riscv_gstage_vmid_bits() });

    setup_vendor_features();
    crate::vcpu_run::init();
    vector_init();
    #[cfg(CONFIG_GUEST_PERF_EVENTS)]
    // SAFETY: unregistered in `teardown()`.
    unsafe {
        b::__kvm_register_perf_callbacks(None, None)
    };

    #[cfg(CONFIG_CPU_PM)]
    if let Err(e) = cpu_pm::register() {
        kvm_err!("Failed to register CPU PM notifier: {}\n", e.to_errno());
        teardown();
        return Err(e);
    }

    // CAST: the vCPU struct size fits in u32.
    let vcpu_size = core::mem::size_of::<b::kvm_vcpu>() as u32;
    // SAFETY: `module` is this module; everything KVM calls back is set up.
    if let Err(e) = to_result(unsafe { b::kvm_init(vcpu_size, 0, module.as_ptr().cast()) }) {
        #[cfg(CONFIG_CPU_PM)]
        cpu_pm::unregister();
        teardown();
        return Err(e);
    }

    if crate::aia::available() {
        let nr = crate::aia::kvm_riscv_aia_nr_hgei.load(kernel::sync::atomic::Relaxed);
        kvm_info!("AIA available with {} guest external interrupts\n", nr);
    }

    Ok(KvmRiscv)
}

impl Drop for KvmRiscv {
    fn drop(&mut self) {
        // SAFETY: `kvm_init()` succeeded in `init`.
        unsafe { b::kvm_exit() };
        #[cfg(CONFIG_CPU_PM)]
        cpu_pm::unregister();
        teardown();
    }
}

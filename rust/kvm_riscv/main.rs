// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/main.c`: module init and exit, and enabling and
//! disabling virtualization on each CPU.
//!
//! Init runs the same steps as upstream, in the same order, with the same
//! unwinding and log lines: hardware checks, NACL, G-stage mode, VMID, AIA,
//! vendor quirks, vector, perf callbacks, CPU PM notifier, `kvm_init()`.

use crate::bindings as b;
use crate::csr::{self, HCOUNTEREN_TM};
use crate::ffi::{self, CpuPmNotifier, KvmRegistration};
use crate::isa::host_has_ext;
use crate::main_logic::{self as report, NaclFeatures};
use crate::nacl;
#[allow(unused_imports)]
use crate::print::{kvm_err, kvm_info};

use crate::vcpu;
use kernel::error::code::*;
use kernel::ffi::{c_int, c_uint, c_ulong};
use kernel::num::casts::{u32_as_usize, u8_as_u32, FromSafeCast};
use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};

/// The most CPUs the kernel supports (`NR_CPUS`).
const NR_CPUS: usize = u32_as_usize(b::NR_CPUS);

/// Whether virtualization is enabled, per CPU (upstream: a per-CPU bool).
/// Each slot is only touched by its own CPU, with preemption off.
static VIRT_ENABLED: [Atomic<bool>; NR_CPUS] = [const { Atomic::new(false) }; NR_CPUS];

fn this_cpu_virt_enabled() -> &'static Atomic<bool> {
    // CPU ids are below nr_cpu_ids, at most NR_CPUS.
    &VIRT_ENABLED[usize::from_safe_cast(kernel::cpu::CpuId::current().as_u32())]
}

/// The H extension's id: `asm/hwcap.h` numbers single-letter extensions by
/// their letter (`'h' - 'a'`), which bindgen does not evaluate.
const RISCV_ISA_EXT_H: u32 = u8_as_u32(b'h' - b'a');

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

/// The `/dev/kvm` ioctls the generic core does not know
/// (`kvm_arch_dev_ioctl()`): none.
pub(crate) fn dev_ioctl(_ioctl: c_uint, _arg: c_ulong) -> c_int {
    EINVAL.to_errno()
}

/// Starts virtualization on this CPU (`kvm_arch_enable_virtualization_cpu()`).
pub(crate) fn enable_virtualization_cpu() -> Result {
    nacl::enable()?;
    csr_init();
    crate::aia::enable();
    this_cpu_virt_enabled().store(true, Relaxed);
    Ok(())
}

/// Stops virtualization on this CPU (`kvm_arch_disable_virtualization_cpu()`).
pub(crate) fn disable_virtualization_cpu() {
    // On the CPU being disabled, with preemption disabled.
    crate::aia::disable();
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
                crate::aia::pm_exit();
            }
            NOTIFY_OK
        }
        b::cpu_pm_event_CPU_PM_ENTER => {
            if this_cpu_virt_enabled().load(Relaxed) {
                crate::aia::pm_enter();
                csr_cleanup();
            }
            NOTIFY_OK
        }
        _ => NOTIFY_DONE,
    }
}

// CAST (both): small notifier return values.
#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
const NOTIFY_OK: c_int = b::NOTIFY_OK as c_int;
#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
const NOTIFY_DONE: c_int = b::NOTIFY_DONE as c_int;

/// The CPU PM notifier, for CPU idle non-retention states (registered only
/// with `CONFIG_CPU_PM`).
#[cfg_attr(not(CONFIG_CPU_PM), allow(dead_code))]
static CPU_PM_NB: CpuPmNotifier = CpuPmNotifier::new(cpu_pm_event);

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
    crate::aia::exit();
    nacl::exit();
    vector_exit();
    ffi::unregister_perf_callbacks();
}

#[cfg(CONFIG_RISCV_ISA_V)]
fn host_has_vector() -> bool {
    host_has_ext(b::RISCV_ISA_EXT_ZVE32X)
}

/// `kvm_riscv_v_init()`: flush the vCPU vector state on kernel-mode vector use.
fn vector_init() {
    #[cfg(CONFIG_RISCV_ISA_V)]
    if host_has_vector() {
        ffi::register_vctx_callback(crate::handle::vector_flush_entry::<crate::vcpu_vector::Flush>);
    }
}

fn vector_exit() {
    #[cfg(CONFIG_RISCV_ISA_V)]
    if host_has_vector() {
        ffi::unregister_vctx_callback();
    }
}

fn setup_vendor_features() {
    let (vendor, arch) = ffi::boot_cpu_vendor_arch();
    if report::vsstage_tlb_no_gpa(u64::from_safe_cast(vendor), u64::from_safe_cast(arch)) {
        crate::tlb::kvm_riscv_vsstage_tlb_no_gpa.enable();
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
pub(crate) struct KvmRiscv {
    /// `kvm_init()` succeeded; taken by the drop.
    kvm: Option<KvmRegistration>,
}

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
    if ffi::sbi_spec_version() == sbi_mk_version(0, 1) {
        kvm_info!("require SBI v0.2 or higher\n");
        return Err(ENODEV);
    }
    if ffi::sbi_probe_extension(b::sbi_ext_id_SBI_EXT_RFENCE) == 0 {
        kvm_info!("require SBI RFENCE extension\n");
        return Err(ENODEV);
    }

    match nacl::init() {
        Ok(()) => {}
        Err(e) if e == ENODEV => {}
        Err(e) => return Err(e),
    }

    let levels = crate::gstage::mode_detect();
    let Some(mode) = report::gstage_mode_name(u64::from_safe_cast(levels)) else {
        nacl::exit();
        return Err(ENODEV);
    };

    crate::vmid::detect(levels);

    // Undone by `aia::exit()` in `teardown()`.
    match crate::aia::init() {
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
    kvm_info!("VMID {} bits available\n", crate::vmid::bits());

    setup_vendor_features();
    crate::vcpu_run::init();
    vector_init();
    ffi::register_perf_callbacks();

    #[cfg(CONFIG_CPU_PM)]
    if let Err(e) = kernel::error::to_result(CPU_PM_NB.register()) {
        kvm_err!("Failed to register CPU PM notifier: {}\n", e.to_errno());
        teardown();
        return Err(e);
    }

    let kvm = match ffi::kvm_init(module) {
        Ok(kvm) => kvm,
        Err(e) => {
            #[cfg(CONFIG_CPU_PM)]
            CPU_PM_NB.unregister();
            teardown();
            return Err(e);
        }
    };

    if crate::aia::available() {
        kvm_info!(
            "AIA available with {} guest external interrupts\n",
            crate::aia::nr_hgei()
        );
    }

    Ok(KvmRiscv { kvm: Some(kvm) })
}

impl Drop for KvmRiscv {
    fn drop(&mut self) {
        if let Some(kvm) = self.kvm.take() {
            kvm.exit();
        }
        #[cfg(CONFIG_CPU_PM)]
        CPU_PM_NB.unregister();
        teardown();
    }
}

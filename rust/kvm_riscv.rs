// SPDX-License-Identifier: GPL-2.0

//! The RISC-V architecture backend of KVM, written in Rust.
//!
//! `kvm.ko` is the generic KVM core (`virt/kvm`, C from the kernel tree), this
//! crate, and, while the port goes on, the upstream `arch/riscv/kvm` objects
//! that are not ported yet (the `Kbuild` names them). Each upstream file has
//! its Rust home in `kvm_riscv/` under the same name: `main.c` is `main.rs`.
//!
//! Layers, top to bottom (a module uses only its layer and those below):
//! - C ABI entry points: [`abi`], the only home of the `kvm_arch_*` and
//!   `kvm_riscv_*` functions C calls; each makes a handle of its pointers once;
//! - module init ([`main`]), the run loop ([`vcpu_run`]), the vCPU lifecycle
//!   ([`vcpu`]), then the per-concern logic, each module the Rust home of the
//!   upstream file of its name, and the pure `*_logic` modules (host-tested):
//!   safe Rust only;
//! - the vCPU and VM handles ([`handle`]): `Vcpu`, `VcpuCtx`, `Vm`, `Run`;
//! - hardware and kernel: [`ffi`], [`csr`], [`irq`], [`nacl`], [`percpu`],
//!   [`static_key`], [`sbi`], [`print`], [`bindings`].

#[path = "kvm_riscv/abi.rs"]
mod abi;
#[path = "kvm_riscv/aia.rs"]
mod aia;
#[path = "kvm_riscv/aia_aplic.rs"]
mod aia_aplic;
#[path = "kvm_riscv/aia_aplic_logic.rs"]
mod aia_aplic_logic;
#[path = "kvm_riscv/aia_device.rs"]
mod aia_device;
#[path = "kvm_riscv/aia_device_logic.rs"]
mod aia_device_logic;
#[path = "kvm_riscv/aia_imsic.rs"]
mod aia_imsic;
#[path = "kvm_riscv/aia_imsic_logic.rs"]
mod aia_imsic_logic;
#[path = "kvm_riscv/aia_logic.rs"]
mod aia_logic;
#[path = "kvm_riscv/bindings.rs"]
mod bindings;
#[path = "kvm_riscv/csr.rs"]
mod csr;
#[path = "kvm_riscv/csr_logic.rs"]
mod csr_logic;
#[path = "kvm_riscv/ffi.rs"]
mod ffi;
#[path = "kvm_riscv/gstage.rs"]
mod gstage;
#[path = "kvm_riscv/gstage_logic.rs"]
mod gstage_logic;
#[path = "kvm_riscv/handle.rs"]
mod handle;
#[path = "kvm_riscv/irq.rs"]
mod irq;
#[allow(special_module_name)]
#[path = "kvm_riscv/isa.rs"]
mod isa;
#[path = "kvm_riscv/isa_logic.rs"]
mod isa_logic;
#[path = "kvm_riscv/main.rs"]
mod main;
#[path = "kvm_riscv/main_logic.rs"]
mod main_logic;
#[path = "kvm_riscv/mmu.rs"]
mod mmu;
#[path = "kvm_riscv/mmu_logic.rs"]
mod mmu_logic;
#[path = "kvm_riscv/nacl.rs"]
mod nacl;
#[path = "kvm_riscv/nacl_logic.rs"]
mod nacl_logic;
#[path = "kvm_riscv/nospec.rs"]
mod nospec;
#[path = "kvm_riscv/onereg.rs"]
mod onereg;
#[path = "kvm_riscv/onereg_logic.rs"]
mod onereg_logic;
#[path = "kvm_riscv/percpu.rs"]
mod percpu;
#[path = "kvm_riscv/pgtable.rs"]
mod pgtable;
#[cfg(CONFIG_RISCV_PMU_SBI)]
#[path = "kvm_riscv/pmu.rs"]
mod pmu;
#[cfg(CONFIG_RISCV_PMU_SBI)]
#[path = "kvm_riscv/pmu_logic.rs"]
mod pmu_logic;
#[path = "kvm_riscv/print.rs"]
mod print;
#[path = "kvm_riscv/regs_logic.rs"]
mod regs_logic;
#[path = "kvm_riscv/sbi.rs"]
mod sbi;
#[path = "kvm_riscv/sbi_logic.rs"]
mod sbi_logic;
#[path = "kvm_riscv/static_key.rs"]
mod static_key;
#[path = "kvm_riscv/tlb.rs"]
mod tlb;
#[path = "kvm_riscv/tlb_logic.rs"]
mod tlb_logic;
#[path = "kvm_riscv/vcpu.rs"]
mod vcpu;
#[path = "kvm_riscv/vcpu_config.rs"]
mod vcpu_config;
#[path = "kvm_riscv/vcpu_config_logic.rs"]
mod vcpu_config_logic;
#[path = "kvm_riscv/vcpu_exit.rs"]
mod vcpu_exit;
#[path = "kvm_riscv/vcpu_exit_logic.rs"]
mod vcpu_exit_logic;
#[path = "kvm_riscv/vcpu_fp.rs"]
mod vcpu_fp;
#[path = "kvm_riscv/vcpu_insn.rs"]
mod vcpu_insn;
#[path = "kvm_riscv/vcpu_insn_logic.rs"]
mod vcpu_insn_logic;
#[path = "kvm_riscv/vcpu_irq.rs"]
mod vcpu_irq;
#[path = "kvm_riscv/vcpu_run.rs"]
mod vcpu_run;
#[path = "kvm_riscv/vcpu_sbi.rs"]
mod vcpu_sbi;
#[path = "kvm_riscv/vcpu_sbi_base.rs"]
mod vcpu_sbi_base;
#[path = "kvm_riscv/vcpu_sbi_forward.rs"]
mod vcpu_sbi_forward;
#[path = "kvm_riscv/vcpu_sbi_fwft.rs"]
mod vcpu_sbi_fwft;
#[path = "kvm_riscv/vcpu_sbi_hsm.rs"]
mod vcpu_sbi_hsm;
#[path = "kvm_riscv/vcpu_sbi_logic.rs"]
mod vcpu_sbi_logic;
#[path = "kvm_riscv/vcpu_sbi_replace.rs"]
mod vcpu_sbi_replace;
#[path = "kvm_riscv/vcpu_sbi_sta.rs"]
mod vcpu_sbi_sta;
#[path = "kvm_riscv/vcpu_sbi_system.rs"]
mod vcpu_sbi_system;
#[cfg(CONFIG_RISCV_SBI_V01)]
#[path = "kvm_riscv/vcpu_sbi_v01.rs"]
mod vcpu_sbi_v01;
#[path = "kvm_riscv/vcpu_stats.rs"]
mod vcpu_stats;
#[path = "kvm_riscv/vcpu_timer.rs"]
mod vcpu_timer;
#[path = "kvm_riscv/vcpu_timer_logic.rs"]
mod vcpu_timer_logic;
#[path = "kvm_riscv/vcpu_vector.rs"]
mod vcpu_vector;
#[path = "kvm_riscv/vm.rs"]
mod vm;
#[path = "kvm_riscv/vmid.rs"]
mod vmid;
#[path = "kvm_riscv/vmid_logic.rs"]
mod vmid_logic;

use kernel::prelude::*;
use main::KvmRiscv;

module! {
    type: KvmRiscv,
    name: "kvm",
    authors: ["kvm-riscv Rust port"],
    description: "Kernel-based Virtual Machine, RISC-V backend in Rust",
    license: "GPL",
}

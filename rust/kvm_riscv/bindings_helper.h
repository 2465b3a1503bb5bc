/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C interfaces the Rust backend uses: bindgen reads this header with the
 * kernel's own flags (see rust/gen_bindings.sh).
 */
#include <linux/kvm_host.h>
#include <kvm/iodev.h>
#include <linux/cpu_pm.h>
#include <linux/version.h>
#include <asm/cpufeature.h>
#include <asm/csr.h>
#include <asm/sbi.h>
#include <asm/vector.h>
#include <asm/vendorid_list.h>
#include <asm/kvm_aia.h>
#include <asm/kvm_gstage.h>
#include <asm/kvm_isa.h>
#include <asm/kvm_mmu.h>
#include <asm/kvm_nacl.h>
#include <asm/kvm_vcpu_sbi.h>
#include <asm/kvm_vcpu_vector.h>
#include <asm/kvm_vmid.h>
#include <clocksource/timer-riscv.h>
#include "helpers.h"

// SPDX-License-Identifier: GPL-2.0
/*
 * The module's version (modinfo's "version:"): dkms.conf's PACKAGE_VERSION,
 * passed in by Kbuild. The kernel's own kvm.ko has none, and DKMS installs a
 * module over the kernel's only when their versions differ.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

MODULE_VERSION(KVM_RISCV_VERSION);

/*
 * Whether enabling dirty logging splits the huge G-stage mappings of the
 * memslot at once (mmu.rs reads it, eager_page_split()). A writable
 * parameter, at /sys/module/kvm/parameters/eager_page_split as upstream's:
 * the module! macro of the kernel crate gives its parameters permission 0
 * and no way to write them after load.
 */
bool kvm_riscv_eager_page_split __read_mostly = true;
module_param_named(eager_page_split, kvm_riscv_eager_page_split, bool, 0644);

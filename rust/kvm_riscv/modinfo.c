// SPDX-License-Identifier: GPL-2.0
/*
 * The module's version (modinfo's "version:"): dkms.conf's PACKAGE_VERSION,
 * passed in by Kbuild. The kernel's own kvm.ko has none, and DKMS installs a
 * module over the kernel's only when their versions differ.
 */
#include <linux/module.h>

MODULE_VERSION(KVM_RISCV_VERSION);

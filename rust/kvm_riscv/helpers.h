/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line wrappers, for Rust, of static inline functions and macros of
 * the kernel's headers (the pattern of the kernel's rust/helpers).
 */
#ifndef KVM_RISCV_RS_HELPERS_H
#define KVM_RISCV_RS_HELPERS_H

#include <linux/types.h>

struct page;

void *kvm_riscv_rs_page_to_virt(struct page *page);
phys_addr_t kvm_riscv_rs_page_to_phys(struct page *page);

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers, for Rust, of static inline functions and macros of
 * the kernel's headers (the pattern of the kernel's rust/helpers). Each is
 * one call or one expression: the logic lives in Rust.
 */
#include <linux/mm.h>
#include "helpers.h"

void *kvm_riscv_rs_page_to_virt(struct page *page)
{
	return page_to_virt(page);
}

phys_addr_t kvm_riscv_rs_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

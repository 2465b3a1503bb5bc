// SPDX-License-Identifier: GPL-2.0

//! `nacl-fw`, the firmware: QEMU boots it with `-bios` in place of OpenSBI
//! (`-M virt,aia=aplic-imsic -cpu max`). It sets the machine up for an
//! HS-mode kernel, answers the SBI calls such a kernel makes, and offers
//! the nested acceleration extension with all four features, emulating the
//! L0 hypervisor from M mode. See `fw/` for the parts and the crate library
//! for the arithmetic they use.
//!
//! Built for `riscv64gc-unknown-none-elf` only; on the host this file is an
//! empty program, so that `cargo test` of the library works.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod fw;

#[cfg(not(target_os = "none"))]
fn main() {}

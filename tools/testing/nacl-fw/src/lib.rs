// SPDX-License-Identifier: GPL-2.0

//! `nacl-fw`: an M-mode firmware for the emulated RISC-V host that offers
//! the SBI Nested Acceleration extension (NACL, SBI v2.0, EID 0x4E41434C) to
//! the HS-mode host kernel, so that KVM's NACL paths (the `ncsr_*` accessors
//! through the shared memory, the HFENCE queue, the `sync_sret` world
//! switch) run for real, for our module and for upstream C.
//!
//! It is a test device, not a production SBI: it emulates an L0 hypervisor
//! from M mode and checks what the host kernel writes against the
//! specification, counting every violation.
//!
//! This library holds the parts that are pure arithmetic, written from the
//! specification text (never from the module's own `nacl_logic.rs`, whose
//! defects this firmware exists to find), and host-tested: the shared-memory
//! layout ([`shmem`]), the nested HFENCE entries ([`hfence`]), the
//! H-extension CSRs it mirrors ([`csrs`]), the SRET and trap-redirection
//! arithmetic ([`trap`]), the device-tree edits ([`fdt`]) and the SBI
//! numbers and counters ([`sbi`]). The firmware itself is `src/main.rs`.

#![cfg_attr(not(test), no_std)]

pub mod csrs;
pub mod fdt;
pub mod hfence;
pub mod sbi;
pub mod shmem;
pub mod trap;

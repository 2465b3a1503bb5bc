// SPDX-License-Identifier: GPL-2.0

//! The pure parts of the G-stage page tables (upstream `gstage.c`). Only
//! `core` is used: host `cargo test` runs them.

/// HGATP.MODE of a G-stage table of `levels` levels
/// (`kvm_riscv_gstage_mode()`): Sv32x4 (2, RV32), Sv39x4 (3), Sv48x4 (4),
/// Sv57x4 (5); 0 (Bare) otherwise. The privileged specification's values.
pub(crate) const fn hgatp_mode(levels: usize) -> usize {
    match levels {
        2 => 1,
        3 => 8,
        4 => 9,
        5 => 10,
        _ => 0,
    }
}

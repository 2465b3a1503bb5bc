// SPDX-License-Identifier: GPL-2.0

//! Typed access to the hypervisor (H) and virtual-supervisor (VS) CSRs.
//!
//! A CSR is a zero-sized value of type [`Csr<N>`], where `N` is the CSR number
//! taken from the kernel's `asm/csr.h` through the bindings. The number is a
//! `const` operand of the instruction, so every access is one `csr*`
//! instruction and nothing is looked up at run time.
//!
//! Only H and VS CSRs are named here. They configure the guest and traps
//! taken from it; writing them cannot break the memory safety of the host
//! kernel running in HS mode, so the accessors are safe functions.

use crate::bindings as b;
use core::arch::asm;

/// The CSR numbered `N`.
#[derive(Clone, Copy)]
pub(crate) struct Csr<const N: u16>;

impl<const N: u16> Csr<N> {
    /// The CSR's number.
    #[allow(dead_code)]
    pub(crate) const NUM: u16 = N;

    /// Reads the CSR.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn read(self) -> usize {
        let v: usize;
        // SAFETY: reading an H or VS CSR has no side effect on host memory.
        unsafe { asm!("csrr {v}, {n}", n = const N, v = out(reg) v, options(nomem, nostack)) };
        v
    }

    /// Writes `v` to the CSR.
    #[inline(always)]
    pub(crate) fn write(self, v: usize) {
        // SAFETY: see the module documentation: H and VS CSRs only.
        unsafe { asm!("csrw {n}, {v}", n = const N, v = in(reg) v, options(nomem, nostack)) };
    }

    /// Writes `v` to the CSR and returns the old value.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn swap(self, v: usize) -> usize {
        let old: usize;
        // SAFETY: see the module documentation: H and VS CSRs only.
        unsafe {
            asm!("csrrw {o}, {n}, {v}", n = const N, v = in(reg) v, o = out(reg) old,
                 options(nomem, nostack))
        };
        old
    }

    /// Sets the bits of `mask` in the CSR.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn set(self, mask: usize) {
        // SAFETY: see the module documentation: H and VS CSRs only.
        unsafe { asm!("csrs {n}, {v}", n = const N, v = in(reg) mask, options(nomem, nostack)) };
    }

    /// Clears the bits of `mask` in the CSR.
    #[inline(always)]
    #[allow(dead_code)]
    pub(crate) fn clear(self, mask: usize) {
        // SAFETY: see the module documentation: H and VS CSRs only.
        unsafe { asm!("csrc {n}, {v}", n = const N, v = in(reg) mask, options(nomem, nostack)) };
    }
}

macro_rules! csrs {
    ($($name:ident = $num:ident;)*) => {
        $(
            #[allow(dead_code)]
            pub(crate) const $name: Csr<{ b::$num as u16 }> = Csr;
        )*
    };
}

csrs! {
    HEDELEG = CSR_HEDELEG;
    HIDELEG = CSR_HIDELEG;
    HCOUNTEREN = CSR_HCOUNTEREN;
    HVIP = CSR_HVIP;
    VSIE = CSR_VSIE;
}

/// HCOUNTEREN.TM: VS and VU may read the `time` CSR directly.
pub(crate) const HCOUNTEREN_TM: usize = 1 << 1;

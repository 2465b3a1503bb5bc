// SPDX-License-Identifier: GPL-2.0

//! Per-CPU variables defined in Rust (C's `DEFINE_PER_CPU`), for state that
//! C code of the module shares through `per_cpu_ptr()`/`this_cpu_ptr()`.
//!
//! A `#[no_mangle]` static of type [`PerCpu<T>`] placed in `.data..percpu`
//! gets a per-CPU copy from the module loader; its address is the per-CPU
//! "pointer" that `__per_cpu_offset[cpu]` turns into the CPU's copy.

use crate::bindings as b;
use core::cell::UnsafeCell;
use kernel::cpu::CpuId;

/// A per-CPU `T`; only meaningful in the `.data..percpu` section.
#[repr(transparent)]
pub(crate) struct PerCpu<T>(UnsafeCell<T>);

// SAFETY: each CPU's copy is reached through `ptr()`; callers synchronise
// access to another CPU's copy, as C's per-CPU rules require.
unsafe impl<T> Sync for PerCpu<T> {}

impl<T> PerCpu<T> {
    /// A per-CPU variable whose every copy starts as `v`.
    pub(crate) const fn new(v: T) -> Self {
        Self(UnsafeCell::new(v))
    }

    /// The copy of `cpu`.
    pub(crate) fn ptr(&self, cpu: CpuId) -> *mut T {
        // CAST: CPU ids index `__per_cpu_offset`, which has NR_CPUS entries.
        let i = cpu.as_u32() as usize;
        // SAFETY: reading the offset table, set up before modules load.
        let off = unsafe { b::__per_cpu_offset[i] };
        self.0.get().cast::<u8>().wrapping_add(off).cast()
    }

    /// The copy of the current CPU; stable only while preemption is off.
    pub(crate) fn this_cpu_ptr(&self) -> *mut T {
        self.ptr(CpuId::current())
    }
}

impl<T: Sync> PerCpu<T> {
    /// The copy of `cpu`, for a `T` that is safe to share between CPUs
    /// (atomics, locks).
    pub(crate) fn get(&self, cpu: CpuId) -> &T {
        // SAFETY: every possible CPU's copy exists for the module's life,
        // and `T: Sync` makes shared access from any CPU sound.
        unsafe { &*self.ptr(cpu) }
    }

    /// The current CPU's copy (see [`PerCpu::get`]); which CPU that is can
    /// change unless preemption is off.
    pub(crate) fn this_cpu(&self) -> &T {
        self.get(CpuId::current())
    }
}

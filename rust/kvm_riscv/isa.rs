// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/isa.c`: the guest ISA extensions of
//! [`crate::isa_table`], mapped to the host's extensions, with their
//! enable/disable policies evaluated on this host. The C ABI of `isa.c` stays
//! for the C code that still calls it (ONE_REG, AIA device, FP, vector,
//! timer).

use crate::bindings as b;
use crate::isa_table::{Disable, Enable, Ext};
use crate::nospec::array_index_nospec;
use kernel::error::code::ENOENT;
use kernel::ffi::{c_int, c_ulong};
use kernel::macros::paste;

/// The host's extension ids: the bindings', and the single letters from
/// `helpers.h`.
mod host {
    pub(super) use crate::bindings::*;
    macro_rules! letters {
        ($($l:ident)*) => { kernel::macros::paste! { $(
            pub(super) const [<RISCV_ISA_EXT_ $l>]: u32 =
                crate::bindings::[<kvm_riscv_rs_isa_letter_KVM_RISCV_RS_ISA_EXT_ $l>];
        )* } };
    }
    letters!(A C D F H I M V);
}

/// Declares the host extension of every KVM id, and checks at build time
/// that the ids of `isa_table` are the uapi's.
macro_rules! host_exts {
    ($($name:ident)*) => { paste! {
        /// The host extension (`RISCV_ISA_EXT_*`) KVM id `ext` stands for.
        fn base_ext(ext: Ext) -> u32 {
            match ext { $(Ext::$name => host::[<RISCV_ISA_EXT_ $name>],)* }
        }
        const _: () = {
            $(assert!(Ext::$name as u32 == b::[<KVM_RISCV_ISA_EXT_ID_KVM_RISCV_ISA_EXT_ $name>]);)*
            assert!(crate::isa_table::ALL.len() == b::KVM_RISCV_ISA_EXT_ID_KVM_RISCV_ISA_EXT_MAX as usize);
        };
    } };
}

host_exts! {
    A C D F H I M SVPBMT SSTC SVINVAL ZIHINTPAUSE ZICBOM ZICBOZ ZBB SSAIA V SVNAPOT ZBA ZBS
    ZICNTR ZICSR ZIFENCEI ZIHPM SMSTATEEN ZICOND ZBC ZBKB ZBKC ZBKX ZKND ZKNE ZKNH ZKR ZKSED
    ZKSH ZKT ZVBB ZVBC ZVKB ZVKG ZVKNED ZVKNHA ZVKNHB ZVKSED ZVKSH ZVKT ZFH ZFHMIN ZIHINTNTL
    ZVFH ZVFHMIN ZFA ZTSO ZACAS SSCOFPMF ZIMOP ZCA ZCB ZCD ZCF ZCMOP ZAWRS SMNPM SSNPM SVADE
    SVADU SVVPTC ZABHA ZICCRSE ZAAMO ZALRSC ZICBOP ZFBFMIN ZVFBFMIN ZVFBFWMA ZCLSD ZILSD ZALASR
    ZICFILP ZICFISS
}

/// The host extension whose presence lets a guest have `ext`: Smnpm
/// (pointer masking in (H)S mode) is reported to the guest, but the host
/// configures VS-mode pointer masking with Ssnpm's CSR bits.
fn host_requirement(ext: Ext) -> u32 {
    match ext {
        Ext::SMNPM => b::RISCV_ISA_EXT_SSNPM,
        e => base_ext(e),
    }
}

/// `riscv_isa_extension_available(NULL, ext)`: does every CPU of the host
/// have `ext` (`RISCV_ISA_EXT_*`)?
pub(crate) fn host_has_ext(ext: u32) -> bool {
    crate::ffi::host_isa_has(ext)
}

/// Whether the host has what a guest needs for `ext`.
pub(crate) fn host_supports(ext: Ext) -> bool {
    host_has_ext(host_requirement(ext))
}

/// `riscv_isa_extension_available(isa, ext)` on a vCPU's ISA bitmap: is
/// host extension `ext` (`RISCV_ISA_EXT_*`) set in `isa`? Ids past the
/// bitmap are not.
#[inline]
pub(crate) fn bitmap_has(isa: &[c_ulong], ext: u32) -> bool {
    let bits = c_ulong::BITS as usize;
    // CAST: extension ids are small.
    let ext = ext as usize;
    isa.get(ext / bits).is_some_and(|w| (w >> (ext % bits)) & 1 != 0)
}

/// `kvm_riscv_base2isa_ext()`: the KVM id of host extension `base_ext`, or
/// `KVM_RISCV_ISA_EXT_MAX`.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_base2isa_ext(base: c_ulong) -> c_ulong {
    crate::isa_table::ALL
        .iter()
        .position(|&e| base_ext(e) as c_ulong == base)
        .unwrap_or(crate::isa_table::ALL.len()) as c_ulong
}

/// The host extension (`RISCV_ISA_EXT_*`) behind KVM extension id `id`,
/// when KVM has that id and the host supports it.
pub(crate) fn host_base(id: usize) -> Option<u32> {
    let all = &crate::isa_table::ALL;
    if id >= all.len() {
        return None;
    }
    let ext = all[array_index_nospec(id, all.len())];
    host_supports(ext).then(|| base_ext(ext))
}

/// `__kvm_riscv_isa_check_host()` for the C callers: [`host_base`], as 0
/// with `*base` set (if not null), or -ENOENT.
///
/// # Safety
/// `base` is null or valid for a write.
#[no_mangle]
pub(crate) unsafe extern "C" fn __kvm_riscv_isa_check_host(ext: c_ulong, base: *mut c_ulong) -> c_int {
    let Some(b) = host_base(ext as usize) else {
        return ENOENT.to_errno();
    };
    // SAFETY: per the function's contract.
    if let Some(out) = unsafe { base.as_mut() } {
        *out = b as c_ulong;
    }
    0
}

/// `kvm_riscv_isa_enable_allowed()`: may userspace enable KVM extension
/// `ext` (one the host has)? Unknown ids: yes, as upstream.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_isa_enable_allowed(ext: c_ulong) -> bool {
    let Some(ext) = Ext::from_id(ext as usize) else {
        return true;
    };
    match ext.enable() {
        Enable::Yes => true,
        Enable::No => false,
        Enable::IfHostSsaia => host_supports(Ext::SSAIA),
        Enable::IfHostSvadu => host_has_ext(b::RISCV_ISA_EXT_SVADU),
        // SAFETY: a query of the host's vector configuration.
        #[cfg(CONFIG_RISCV_ISA_V)]
        Enable::IfVectorUserAllowed => unsafe { b::riscv_v_vstate_ctrl_user_allowed() },
        #[cfg(not(CONFIG_RISCV_ISA_V))]
        Enable::IfVectorUserAllowed => false,
    }
}

/// `kvm_riscv_isa_disable_allowed()`: may userspace disable KVM extension
/// `ext`? Unknown ids: yes, as upstream.
#[no_mangle]
pub(crate) extern "C" fn kvm_riscv_isa_disable_allowed(ext: c_ulong) -> bool {
    let Some(ext) = Ext::from_id(ext as usize) else {
        return true;
    };
    match ext.disable() {
        Disable::Yes => true,
        Disable::No => false,
        Disable::IfHostSmstateen => host_has_ext(b::RISCV_ISA_EXT_SMSTATEEN),
        Disable::IfHostSvadu => host_has_ext(b::RISCV_ISA_EXT_SVADU),
    }
}

// Ziccrse is always visible to a guest whose host has it.
const _: () = assert!(matches!(Ext::ZICCRSE.disable(), Disable::No));

// SPDX-License-Identifier: GPL-2.0

//! Port of `arch/riscv/kvm/isa.c`: the guest ISA extensions of
//! [`crate::isa_logic`], mapped to the host's extensions, with their
//! enable/disable policies evaluated on this host. The one function of
//! `isa.c` that C still calls (the AIA device's `__kvm_riscv_isa_check_host()`)
//! is in `abi.rs`, on [`host_base`].

use crate::bindings as b;
use crate::isa_logic::{Disable, Enable, Ext};
use crate::nospec::array_index_nospec;
use kernel::macros::paste;
use kernel::num::casts::u32_as_usize;

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
/// that the ids of `isa_logic` are the uapi's.
macro_rules! host_exts {
    ($($name:ident)*) => { paste! {
        /// The host extension (`RISCV_ISA_EXT_*`) KVM id `ext` stands for.
        fn base_ext(ext: Ext) -> u32 {
            match ext { $(Ext::$name => host::[<RISCV_ISA_EXT_ $name>],)* }
        }
        const _: () = {
            // CAST (all): the discriminants of `Ext`, a `repr(u32)` enum.
            $(assert!(Ext::$name as u32 == b::[<KVM_RISCV_ISA_EXT_ID_KVM_RISCV_ISA_EXT_ $name>]);)*
            assert!(
                crate::isa_logic::ALL.len()
                    == u32_as_usize(b::KVM_RISCV_ISA_EXT_ID_KVM_RISCV_ISA_EXT_MAX)
            );
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

/// The test of a vCPU's ISA bitmap, for the callers that reach it here.
pub(crate) use crate::isa_logic::bitmap_has;

/// `kvm_riscv_base2isa_ext()`: the KVM extension that host extension
/// `base` (`RISCV_ISA_EXT_*`) stands for, if any.
pub(crate) fn base2isa_ext(base: u32) -> Option<Ext> {
    crate::isa_logic::ALL
        .iter()
        .copied()
        .find(|&e| base_ext(e) == base)
}

/// The host extension (`RISCV_ISA_EXT_*`) behind KVM extension id `id`,
/// when KVM has that id and the host supports it
/// (`__kvm_riscv_isa_check_host()`).
pub(crate) fn host_base(id: usize) -> Option<u32> {
    let all = &crate::isa_logic::ALL;
    if id >= all.len() {
        return None;
    }
    let ext = all[array_index_nospec(id, all.len())];
    host_supports(ext).then(|| base_ext(ext))
}

/// `kvm_riscv_isa_enable_allowed()`: may userspace enable KVM extension
/// `id` (one the host has)? Unknown ids: yes, as upstream.
pub(crate) fn enable_allowed(id: usize) -> bool {
    let Some(ext) = Ext::from_id(id) else {
        return true;
    };
    match ext.enable() {
        Enable::Yes => true,
        Enable::No => false,
        Enable::IfHostSsaia => host_supports(Ext::SSAIA),
        Enable::IfHostSvadu => host_has_ext(b::RISCV_ISA_EXT_SVADU),
        Enable::IfVectorUserAllowed => crate::ffi::vector_user_allowed(),
    }
}

/// `kvm_riscv_isa_disable_allowed()`: may userspace disable KVM extension
/// `id`? Unknown ids: yes, as upstream.
pub(crate) fn disable_allowed(id: usize) -> bool {
    let Some(ext) = Ext::from_id(id) else {
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

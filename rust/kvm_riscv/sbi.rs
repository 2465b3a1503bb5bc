// SPDX-License-Identifier: GPL-2.0

//! SBI calls from the host kernel to the SBI implementation below it.

use crate::bindings as b;
use crate::sbi_logic::errno;
pub(crate) use crate::sbi_logic::SbiError;

// The errno table of `sbi_logic` must agree with the kernel's headers.
const _: () = {
    // CAST (all): errno values are small positive numbers (below 4096),
    // which an i32 holds.
    assert!(errno::EPERM == b::EPERM as i32);
    assert!(errno::EIO == b::EIO as i32);
    assert!(errno::ENOMEM == b::ENOMEM as i32);
    assert!(errno::EFAULT == b::EFAULT as i32);
    assert!(errno::EINVAL == b::EINVAL as i32);
    assert!(errno::ERANGE == b::ERANGE as i32);
    assert!(errno::ETIMEDOUT == b::ETIMEDOUT as i32);
    assert!(errno::ENOTSUPP == b::ENOTSUPP as i32);
};

/// Calls function `fid` of SBI extension `ext` with `args` in a0..a5.
/// Returns the value (a1), or the error (a0).
#[inline]
pub(crate) fn ecall(ext: u32, fid: u32, args: [usize; 6]) -> Result<usize, SbiError> {
    // CAST (both): `__sbi_ecall()` takes the ids as int, as C converts
    // them; SBI extension and function ids are below 2^31.
    // SAFETY: an SBI call from S mode; the extensions used by this crate
    // (NACL) do not touch memory the kernel has not handed over to them.
    let ret = unsafe {
        b::__sbi_ecall(
            args[0], args[1], args[2], args[3], args[4], args[5], fid as i32, ext as i32,
        )
    };
    // CAST (both): 64-bit XLEN registers, `error` a signed SBI error code,
    // `value` the bits as they are.
    SbiError::decode(ret.error as i64).map(|()| ret.value as usize)
}

/// Whether the SBI implementation has extension `ext`.
pub(crate) fn probe_extension(ext: u32) -> bool {
    // CAST: `sbi_probe_extension()` takes the id as int, as C converts it;
    // SBI extension ids are below 2^31.
    // SAFETY: probing has no side effect.
    unsafe { b::sbi_probe_extension(ext as i32) > 0 }
}

/// The SBI specification version the implementation follows.
pub(crate) fn spec_version() -> (usize, usize) {
    // SAFETY: a plain read of a variable set once at boot.
    let v = unsafe { b::sbi_spec_version };
    // CAST: the masks and shift are small constants.
    let major = (v >> b::SBI_SPEC_VERSION_MAJOR_SHIFT) & b::SBI_SPEC_VERSION_MAJOR_MASK as usize;
    (major, v & b::SBI_SPEC_VERSION_MINOR_MASK as usize)
}

/// Declares safe readers of the machine ids the SBI implementation
/// reports: SBI base calls without arguments or side effects.
macro_rules! machine_ids {
    ($($(#[$m:meta])* fn $name:ident = $cfn:path;)*) => {$(
        $(#[$m])*
        pub(crate) fn $name() -> usize {
            // SAFETY: an SBI base call without arguments (see the macro).
            let v = unsafe { $cfn() };
            // CAST: an XLEN value the C API returns as a long.
            v as usize
        }
    )*};
}

machine_ids! {
    /// The machine vendor id (`sbi_get_mvendorid()`).
    fn mvendorid = b::sbi_get_mvendorid;
    /// The machine architecture id (`sbi_get_marchid()`).
    fn marchid = b::sbi_get_marchid;
    /// The machine implementation id (`sbi_get_mimpid()`).
    fn mimpid = b::sbi_get_mimpid;
}

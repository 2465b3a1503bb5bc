// SPDX-License-Identifier: GPL-2.0

//! Static keys owned by Rust (C code of the module branches on them too).
//!
//! A [`StaticKeyFalse`] has the layout of C's `struct static_key_false`, so a
//! `#[no_mangle]` static of this type is a key C code can branch on too.
//! Rust branches on it with [`static_branch_unlikely!`], which is one
//! patched `nop`/jump when `CONFIG_JUMP_LABEL` is on.

use crate::bindings as b;
use kernel::types::Opaque;

/// A static key that is false until enabled (C's `DEFINE_STATIC_KEY_FALSE`).
#[repr(transparent)]
pub(crate) struct StaticKeyFalse {
    /// The C key. Zeroed is `STATIC_KEY_FALSE_INIT`: count 0, `JUMP_TYPE_FALSE`.
    pub(crate) key: Opaque<b::static_key_false>,
}

// SAFETY: the jump-label core serialises every update of the key under its
// own mutex; readers only read the count atomically or run patched code.
unsafe impl Sync for StaticKeyFalse {}

impl StaticKeyFalse {
    /// A new key, false.
    pub(crate) const fn new() -> Self {
        Self {
            key: Opaque::zeroed(),
        }
    }

    fn as_key(&self) -> *mut b::static_key {
        self.key.get().cast()
    }

    /// Turns the key on (`static_branch_enable()`); may sleep.
    pub(crate) fn enable(&self) {
        // SAFETY: `self.key` is a valid, initialised key for its whole lifetime.
        unsafe { b::static_key_enable(self.as_key()) }
    }
}

/// Branch on a Rust-owned [`StaticKeyFalse`] static, `unlikely` direction.
#[allow(unused_macros)]
macro_rules! static_branch_unlikely {
    ($key:path) => {
        // SAFETY: the asm is a `nop` that the jump-label core patches into a
        // jump when the key turns on; its table entry names `$key`, a static
        // of the right type that lives as long as the module.
        unsafe {
            ::kernel::jump_label::arch_static_branch! {
                $key, $crate::static_key::StaticKeyFalse, key, false
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use static_branch_unlikely;

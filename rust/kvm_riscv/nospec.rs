// SPDX-License-Identifier: GPL-2.0

//! `array_index_nospec()`: clamps an index that came from the guest so that
//! even a mispredicted bounds check cannot use it out of bounds
//! (`include/linux/nospec.h`, generic mask).

/// `index` if it is below `size`, else 0, computed without a branch the
/// CPU could speculate past.
#[inline(always)]
pub(crate) fn array_index_nospec(index: usize, size: usize) -> usize {
    let index = crate::ffi::hide_var(index);
    // All ones when index < size, else zero.
    // CAST (both): the same bits as signed, for an arithmetic shift that
    // spreads the top bit, then back as they are.
    let mask = (!(index | size.wrapping_sub(1).wrapping_sub(index)) as isize >> (usize::BITS - 1))
        as usize;
    index & mask
}

// SPDX-License-Identifier: GPL-2.0

//! The pure parts of `aia_device.rs` (upstream `aia_device.c`): the AIA
//! device's attributes (`KVM_DEV_RISCV_AIA_*` of the uapi header), which
//! values a configuration write takes, and the IMSIC address layout (the
//! group, hart and guest index bits of an interrupt file's address). Only
//! `core` is used: host `cargo test` covers it.

/// Attribute groups.
pub(crate) const GRP_CONFIG: u32 = 0;
pub(crate) const GRP_ADDR: u32 = 1;
pub(crate) const GRP_CTRL: u32 = 2;
pub(crate) const GRP_APLIC: u32 = 3;
pub(crate) const GRP_IMSIC: u32 = 4;
/// `KVM_DEV_RISCV_AIA_ADDR_APLIC`; IMSIC `i` is at `1 + i`.
pub(crate) const ADDR_APLIC: u64 = 0;
/// `KVM_DEV_RISCV_AIA_CTRL_INIT`.
pub(crate) const CTRL_INIT: u64 = 0;
/// Modes.
pub(crate) const MODE_EMUL: u32 = 0;
pub(crate) const MODE_HWACCEL: u32 = 1;
pub(crate) const MODE_AUTO: u32 = 2;
/// Limits of the configuration.
pub(crate) const IDS_MIN: u32 = 63;
pub(crate) const IDS_MAX: u32 = 2048;
pub(crate) const SRCS_MAX: u32 = 1024;
pub(crate) const GROUP_BITS_MAX: u32 = 8;
pub(crate) const GROUP_SHIFT_MIN: u32 = 24;
pub(crate) const GROUP_SHIFT_MAX: u32 = 56;
pub(crate) const HART_BITS_MAX: u32 = 16;
pub(crate) const GUEST_BITS_MAX: u32 = 8;
/// Address alignment of the APLIC and of an IMSIC.
pub(crate) const APLIC_ALIGN: u64 = 0x1000;
pub(crate) const IMSIC_ALIGN: u64 = 0x1000;
/// An address not set yet (`KVM_RISCV_AIA_UNDEF_ADDR`).
pub(crate) const UNDEF_ADDR: u64 = u64::MAX;
/// An interrupt file's page.
pub(crate) const PAGE_SHIFT: u32 = 12;

/// A configuration attribute (`KVM_DEV_RISCV_AIA_CONFIG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Config {
    Mode,
    Ids,
    Srcs,
    GroupBits,
    GroupShift,
    HartBits,
    GuestBits,
}

impl Config {
    /// The attribute `attr` names, if any.
    pub(crate) const fn from_attr(attr: u64) -> Option<Config> {
        Some(match attr {
            0 => Config::Mode,
            1 => Config::Ids,
            2 => Config::Srcs,
            3 => Config::GroupBits,
            4 => Config::GroupShift,
            5 => Config::HartBits,
            6 => Config::GuestBits,
            _ => return None,
        })
    }

    /// Whether `nr` may be written to it, on a host with `nr_hgei` guest
    /// files a hart and IMSICs of `max_ids` identities (identity 0
    /// included) (`aia_config()`; otherwise `EINVAL`).
    pub(crate) const fn valid(self, nr: u32, nr_hgei: i32, max_ids: u32) -> bool {
        match self {
            Config::Mode => match nr {
                MODE_EMUL => true,
                // Guest files are needed.
                MODE_HWACCEL | MODE_AUTO => nr_hgei != 0,
                _ => false,
            },
            Config::Ids => nr >= IDS_MIN && nr < IDS_MAX && nr & IDS_MIN == IDS_MIN && nr < max_ids,
            Config::Srcs => nr < SRCS_MAX && nr < max_ids,
            Config::GroupBits => nr < GROUP_BITS_MAX,
            Config::GroupShift => nr >= GROUP_SHIFT_MIN && nr < GROUP_SHIFT_MAX,
            Config::HartBits => nr < HART_BITS_MAX,
            Config::GuestBits => nr < GUEST_BITS_MAX,
        }
    }
}

/// Bits `h..=l` of a u64 (`GENMASK_ULL(h, l)`), for `l <= h < 64`.
const fn genmask(h: u32, l: u32) -> u64 {
    (u64::MAX >> (63 - h)) & (u64::MAX << l)
}

/// How the IMSICs' addresses are laid out: above the page offset, the guest
/// index, then the hart index, and the group index at `group_shift`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) group_bits: u32,
    pub(crate) group_shift: u32,
    pub(crate) hart_bits: u32,
    pub(crate) guest_bits: u32,
}

impl Layout {
    /// The page number of `addr` with the index bits cleared: the same for
    /// every IMSIC of a VM (`aia_imsic_ppn()`).
    pub(crate) const fn imsic_ppn(&self, addr: u64) -> u64 {
        let h = self.hart_bits + self.guest_bits + PAGE_SHIFT - 1;
        let mut mask = genmask(h, 0);
        if self.group_bits != 0 {
            mask |= genmask(self.group_bits + self.group_shift - 1, self.group_shift);
        }
        (addr & !mask) >> PAGE_SHIFT
    }

    /// The hart index the address of an IMSIC gives
    /// (`aia_imsic_hart_index()`).
    pub(crate) const fn hart_index(&self, addr: u64) -> u32 {
        let mut hart = 0;
        let mut group = 0;
        if self.hart_bits != 0 {
            // CAST: at most 15 bits.
            hart =
                ((addr >> (self.guest_bits + PAGE_SHIFT)) & genmask(self.hart_bits - 1, 0)) as u32;
        }
        if self.group_bits != 0 {
            // CAST: at most 7 bits.
            group = ((addr >> self.group_shift) & genmask(self.group_bits - 1, 0)) as u32;
        }
        (group << self.hart_bits) | hart
    }

    /// An MSI's target address as the page number of its IMSIC (guest
    /// index cleared) and the guest index (`kvm_riscv_aia_inject_msi()`).
    pub(crate) const fn msi_target(&self, target: u64) -> (u64, u32) {
        let tppn = target >> PAGE_SHIFT;
        let gmask = (1u64 << self.guest_bits) - 1;
        // CAST: at most 7 bits.
        (tppn & !gmask, (tppn & gmask) as u32)
    }

    /// Whether the group index bits overlap the guest and hart index bits
    /// (`aia_init()`: `EINVAL`).
    pub(crate) const fn overlaps(&self) -> bool {
        self.group_bits != 0 && self.group_shift < PAGE_SHIFT + self.guest_bits + self.hart_bits
    }
}

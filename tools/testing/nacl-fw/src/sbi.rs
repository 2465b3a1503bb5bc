// SPDX-License-Identifier: GPL-2.0

//! SBI numbers (SBI specification v2.0) the firmware answers, and its
//! counters line.

/// Extension ids.
pub mod eid {
    pub const LEGACY_PUTCHAR: usize = 0x01;
    pub const LEGACY_GETCHAR: usize = 0x02;
    pub const BASE: usize = 0x10;
    pub const TIME: usize = 0x5449_4d45;
    pub const IPI: usize = 0x0073_5049;
    pub const RFENCE: usize = 0x5246_4e43;
    pub const HSM: usize = 0x0048_534d;
    pub const SRST: usize = 0x5352_5354;
    pub const DBCN: usize = 0x4442_434e;
    pub const NACL: usize = 0x4e41_434c;
}

/// Error codes.
pub mod err {
    pub const SUCCESS: isize = 0;
    pub const FAILED: isize = -1;
    pub const NOT_SUPPORTED: isize = -2;
    pub const INVALID_PARAM: isize = -3;
    pub const INVALID_ADDRESS: isize = -5;
    pub const ALREADY_AVAILABLE: isize = -6;
    pub const NO_SHMEM: isize = -9;
}

/// NACL function ids.
pub mod nacl {
    pub const PROBE_FEATURE: usize = 0;
    pub const SET_SHMEM: usize = 1;
    pub const SYNC_CSR: usize = 2;
    pub const SYNC_HFENCE: usize = 3;
    pub const SYNC_SRET: usize = 4;
    /// Feature ids 0..=3: SYNC_CSR, SYNC_HFENCE, SYNC_SRET, AUTOSWAP_CSR.
    pub const FEATURES: usize = 4;
}

/// HSM hart states.
pub mod hsm {
    pub const STARTED: usize = 0;
    pub const STOPPED: usize = 1;
    pub const START_PENDING: usize = 2;
}

/// The SBI specification version the firmware implements: 2.0.
pub const SPEC_VERSION: usize = 2 << 24;
/// Its implementation id (not one the specification assigns).
pub const IMPL_ID: usize = 0x4e41_4657;

/// Whether extension `eid` is implemented.
pub fn probe(eid: usize) -> bool {
    use eid::*;
    matches!(
        eid,
        LEGACY_PUTCHAR | BASE | TIME | IPI | RFENCE | HSM | SRST | DBCN | NACL
    )
}

/// What the firmware counts, printed at SRST and when the last hart turns
/// its shared memory off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub set_shmem: u64,
    pub sync_csr: u64,
    pub sync_hfence: u64,
    pub hfence_entries: u64,
    pub hfence_ranged: u64,
    pub sync_sret: u64,
    pub redirects: u64,
    pub autoswap: u64,
    pub violations: u64,
}

impl core::fmt::Display for Counters {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "nacl-fw: set_shmem={} sync_csr={} sync_hfence={} hfence_entries={} hfence_ranged={} \
             sync_sret={} redirects={} autoswap={} violations={}",
            self.set_shmem,
            self.sync_csr,
            self.sync_hfence,
            self.hfence_entries,
            self.hfence_ranged,
            self.sync_sret,
            self.redirects,
            self.autoswap,
            self.violations
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_line() {
        let c = Counters {
            set_shmem: 2,
            sync_sret: 7,
            violations: 1,
            ..Default::default()
        };
        assert_eq!(
            c.to_string(),
            "nacl-fw: set_shmem=2 sync_csr=0 sync_hfence=0 hfence_entries=0 hfence_ranged=0 \
             sync_sret=7 redirects=0 autoswap=0 violations=1"
        );
    }

    #[test]
    fn ids() {
        assert_eq!(&eid::NACL.to_be_bytes()[4..], b"NACL");
        assert_eq!(&eid::DBCN.to_be_bytes()[4..], b"DBCN");
        assert!(probe(eid::NACL) && !probe(0x504d55));
    }
}

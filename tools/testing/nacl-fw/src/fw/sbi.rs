// SPDX-License-Identifier: GPL-2.0

//! The SBI calls of the host kernel: base, TIME, IPI, RFENCE, HSM, SRST,
//! DBCN, the legacy console putchar, and NACL (in [`super::nacl`]).

use super::console::{self, say};
use super::hart::{self, work, HARTS};
use super::hw::{self, csr_read, csr_write};
use super::{nacl, Frame, A0, A1, A6, A7};
use core::sync::atomic::Ordering::SeqCst;
use nacl_fw::sbi::{eid, err, hsm, IMPL_ID, SPEC_VERSION};

/// What a call does to the caller.
pub enum Ret {
    /// Return `(error, value)` in a0/a1, after the `ecall`.
    Value(isize, usize),
    /// Return `error` in a0 only (legacy extensions).
    Legacy(isize),
    /// The handler set the return state itself (`sync_sret`).
    Handled,
}

fn ok(v: usize) -> Ret {
    Ret::Value(err::SUCCESS, v)
}

fn fail(e: isize) -> Ret {
    Ret::Value(e, 0)
}

/// Handles an `ecall` from S mode.
pub fn call(f: &mut Frame) {
    let mepc = csr_read!(mepc);
    let (ext, fid) = (f.x[A7], f.x[A6]);
    let a = [f.x[10], f.x[11], f.x[12], f.x[13], f.x[14], f.x[15]];
    let r = match ext {
        eid::BASE => base(fid, a[0]),
        eid::TIME if fid == 0 => {
            hart::set_timer(f.hartid, a[0] as u64);
            ok(0)
        }
        eid::IPI if fid == 0 => match hart::decode_mask(a[0], a[1]) {
            Some(m) => {
                hart::send(f.hartid, m, work::SSIP);
                ok(0)
            }
            None => fail(err::INVALID_PARAM),
        },
        eid::RFENCE => rfence(f.hartid, fid, a[0], a[1]),
        eid::HSM => hsm_call(f, fid, a),
        eid::SRST if fid == 0 => srst(a[0], a[1]),
        eid::DBCN => dbcn(fid, a),
        eid::LEGACY_PUTCHAR => {
            console::putb(a[0] as u8);
            Ret::Legacy(0)
        }
        eid::NACL => nacl::call(f, fid, a),
        _ => fail(err::NOT_SUPPORTED),
    };
    match r {
        Ret::Value(e, v) => {
            f.x[A0] = e as usize;
            f.x[A1] = v;
            csr_write!(mepc, mepc + 4);
        }
        Ret::Legacy(e) => {
            f.x[A0] = e as usize;
            csr_write!(mepc, mepc + 4);
        }
        Ret::Handled => {}
    }
}

fn base(fid: usize, arg: usize) -> Ret {
    match fid {
        0 => ok(SPEC_VERSION),
        1 => ok(IMPL_ID),
        2 => ok(1),
        3 => ok(nacl_fw::sbi::probe(arg) as usize),
        4 => ok(csr_read!(mvendorid)),
        5 => ok(csr_read!(marchid)),
        6 => ok(csr_read!(mimpid)),
        _ => fail(err::NOT_SUPPORTED),
    }
}

fn rfence(me: usize, fid: usize, mask: usize, base: usize) -> Ret {
    let bits = match fid {
        0 => work::FENCE_I,
        1 | 2 => work::SFENCE_VMA,
        3..=6 => work::HFENCE,
        _ => return fail(err::NOT_SUPPORTED),
    };
    match hart::decode_mask(mask, base) {
        Some(m) => {
            // Every range fence is performed as a whole-space one.
            hart::send(me, m, bits);
            ok(0)
        }
        None => fail(err::INVALID_PARAM),
    }
}

fn hsm_call(f: &mut Frame, fid: usize, a: [usize; 6]) -> Ret {
    match fid {
        0 => Ret::Value(hart::start(a[0], a[1], a[2]), 0),
        1 => {
            if f.nacl.shmem != 0 {
                say!(
                    "hart {} stops with its NACL shared memory still set",
                    f.hartid
                );
            }
            HARTS[f.hartid].hsm.store(hsm::STOPPED, SeqCst);
            hart::wait_for_start(f.hartid)
        }
        2 => match HARTS.get(a[0]) {
            Some(h) if a[0] < hart::NHARTS.load(SeqCst) => ok(h.hsm.load(SeqCst)),
            _ => fail(err::INVALID_PARAM),
        },
        _ => fail(err::NOT_SUPPORTED),
    }
}

fn srst(kind: usize, reason: usize) -> Ret {
    if kind > 2 && kind < 0xf000_0000 || reason > 1 && reason < 0xe000_0000 {
        return fail(err::INVALID_PARAM);
    }
    if kind > 2 || reason > 1 {
        return fail(err::NOT_SUPPORTED);
    }
    nacl::print_counters("at system reset");
    match (kind, reason) {
        (0, 0) => hw::test_device(0x5555),
        (0, _) => hw::test_device(0x1_3333),
        _ => hw::test_device(0x7777),
    }
}

fn dbcn(fid: usize, a: [usize; 6]) -> Ret {
    match fid {
        0 => {
            let (n, lo, hi) = (a[0], a[1], a[2]);
            if hi != 0 || !nacl::ram_range_ok(lo, n) {
                return fail(err::INVALID_PARAM);
            }
            let l = console::Locked::take();
            for i in 0..n {
                // SAFETY: [lo, lo + n) is RAM outside the firmware (checked).
                l.putb(unsafe { core::ptr::read_volatile((lo + i) as *const u8) });
            }
            ok(n)
        }
        1 => ok(0),
        2 => {
            console::putb(a[0] as u8);
            ok(0)
        }
        _ => fail(err::NOT_SUPPORTED),
    }
}

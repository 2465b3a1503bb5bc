// SPDX-License-Identifier: GPL-2.0

//! The little of the flattened device tree (devicetree specification,
//! chapter 5) the firmware needs: the RAM range and the number of CPUs that
//! QEMU's tree describes, and one more entry in the memory reservation block
//! for the firmware's own memory.

const MAGIC: u32 = 0xd00d_feed;
const HEADER_SIZE: usize = 40;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// What can be wrong with a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    BadMagic,
    Truncated,
    BadToken,
    NoRoom,
}

fn be32(b: &[u8], off: usize) -> Result<u32, Error> {
    let s = b.get(off..off + 4).ok_or(Error::Truncated)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], off: usize) -> Result<u64, Error> {
    Ok(u64::from(be32(b, off)?) << 32 | u64::from(be32(b, off + 4)?))
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// The header fields used here.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub totalsize: usize,
    pub off_struct: usize,
    pub off_strings: usize,
    pub off_rsvmap: usize,
    pub size_strings: usize,
    pub size_struct: usize,
}

/// Reads the header of the tree at the start of `b`.
pub fn header(b: &[u8]) -> Result<Header, Error> {
    if b.len() < HEADER_SIZE {
        return Err(Error::Truncated);
    }
    if be32(b, 0)? != MAGIC {
        return Err(Error::BadMagic);
    }
    let f = |i: usize| be32(b, 4 * i).map(|v| v as usize);
    Ok(Header {
        totalsize: f(1)?,
        off_struct: f(2)?,
        off_strings: f(3)?,
        off_rsvmap: f(4)?,
        size_strings: f(8)?,
        size_struct: f(9)?,
    })
}

/// What the firmware learns from the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The first `/memory` node's first range (two-cell address and size).
    pub ram: Option<(u64, u64)>,
    /// `/cpus/cpu@N` nodes.
    pub cpus: usize,
}

fn cstr_len(b: &[u8], off: usize) -> Result<usize, Error> {
    b.get(off..)
        .ok_or(Error::Truncated)?
        .iter()
        .position(|&c| c == 0)
        .ok_or(Error::Truncated)
}

/// Walks the structure block of the tree in `b`.
pub fn facts(b: &[u8]) -> Result<Facts, Error> {
    let h = header(b)?;
    let mut facts = Facts::default();
    let mut off = h.off_struct;
    let mut depth = 0usize;
    // Which node on the path we are in: /memory* at depth 1, /cpus at
    // depth 1, /cpus/cpu@* at depth 2.
    let mut in_memory = false;
    let mut in_cpus = false;
    loop {
        let tok = be32(b, off)?;
        off += 4;
        match tok {
            BEGIN_NODE => {
                let len = cstr_len(b, off)?;
                let name = &b[off..off + len];
                off = (off + len + 1 + 3) & !3;
                depth += 1;
                if depth == 2 {
                    in_memory = name.starts_with(b"memory");
                    in_cpus = name == b"cpus";
                } else if depth == 3 && in_cpus && name.starts_with(b"cpu@") {
                    facts.cpus += 1;
                }
            }
            END_NODE => {
                if depth == 2 {
                    in_memory = false;
                    in_cpus = false;
                }
                depth = depth.checked_sub(1).ok_or(Error::BadToken)?;
            }
            PROP => {
                let len = be32(b, off)? as usize;
                let nameoff = be32(b, off + 4)? as usize;
                let val = off + 8;
                let nlen = cstr_len(b, h.off_strings + nameoff)?;
                let pname = &b[h.off_strings + nameoff..h.off_strings + nameoff + nlen];
                if depth == 2 && in_memory && pname == b"reg" && len >= 16 && facts.ram.is_none() {
                    facts.ram = Some((be64(b, val)?, be64(b, val + 8)?));
                }
                off = (val + len + 3) & !3;
            }
            NOP => {}
            END => return Ok(facts),
            _ => return Err(Error::BadToken),
        }
    }
}

/// Adds `(addr, size)` to the memory reservation block of the tree in
/// `b[..capacity]`, moving the blocks behind it 16 bytes up and growing
/// `totalsize` when the tree has no free space for them.
pub fn add_memreserve(b: &mut [u8], capacity: usize, addr: u64, size: u64) -> Result<(), Error> {
    let h = header(b)?;
    // The terminating (0, 0) entry.
    let mut at = h.off_rsvmap;
    while be64(b, at)? != 0 || be64(b, at + 8)? != 0 {
        at += 16;
    }
    let ends = [
        h.off_struct + h.size_struct,
        h.off_strings + h.size_strings,
        at + 16,
    ];
    let used = ends.into_iter().max().unwrap_or(0);
    let total = h.totalsize.max((used + 16 + 7) & !7);
    if total > capacity.min(b.len()) {
        return Err(Error::NoRoom);
    }
    // Everything from the terminator on moves 16 bytes up.
    b.copy_within(at..used, at + 16);
    put64(b, at, addr);
    put64(b, at + 8, size);
    if h.off_struct >= at {
        put32(b, 8, (h.off_struct + 16) as u32);
    }
    if h.off_strings >= at {
        put32(b, 12, (h.off_strings + 16) as u32);
    }
    put32(b, 4, total as u32);
    Ok(())
}

/// Replaces property `prop` of every node named `node` (full name, unit
/// address included) by NOP tokens; returns how many it replaced. The
/// firmware takes the `compatible` of the M-level interrupt controllers
/// away from the supervisor this way: the tree keeps its size and shape.
pub fn nop_property(b: &mut [u8], node: &[u8], prop: &[u8]) -> Result<usize, Error> {
    let h = header(b)?;
    let mut off = h.off_struct;
    // Whether each open node on the path is `node`; deep trees are not
    // expected (QEMU's is four levels).
    let mut path = [false; 16];
    let mut depth = 0usize;
    let mut n = 0;
    loop {
        let tok = be32(b, off)?;
        let start = off;
        off += 4;
        match tok {
            BEGIN_NODE => {
                let len = cstr_len(b, off)?;
                let hit = &b[off..off + len] == node;
                off = (off + len + 1 + 3) & !3;
                depth += 1;
                *path.get_mut(depth).ok_or(Error::BadToken)? = hit;
            }
            END_NODE => depth = depth.checked_sub(1).ok_or(Error::BadToken)?,
            PROP => {
                let len = be32(b, off)? as usize;
                let nameoff = be32(b, off + 4)? as usize;
                let end = (off + 8 + len + 3) & !3;
                let so = h.off_strings + nameoff;
                let nlen = cstr_len(b, so)?;
                if path[depth] && &b[so..so + nlen] == prop {
                    let mut w = start;
                    while w < end {
                        put32(b, w, NOP);
                        w += 4;
                    }
                    n += 1;
                }
                off = end;
            }
            NOP => {}
            END => return Ok(n),
            _ => return Err(Error::BadToken),
        }
    }
}

/// The reservation entries of the tree in `b`.
pub fn memreserves(b: &[u8]) -> Result<([(u64, u64); 8], usize), Error> {
    let h = header(b)?;
    let mut out = [(0, 0); 8];
    let mut n = 0;
    let mut at = h.off_rsvmap;
    loop {
        let e = (be64(b, at)?, be64(b, at + 8)?);
        if e == (0, 0) || n == out.len() {
            return Ok((out, n));
        }
        out[n] = e;
        n += 1;
        at += 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree as QEMU lays it out: header, reservation block, structure,
    /// strings, free space.
    fn tree(free: usize) -> Vec<u8> {
        let strings = b"reg\0#address-cells\0".to_vec();
        let mut s = Vec::new();
        let tok = |s: &mut Vec<u8>, t: u32| s.extend_from_slice(&t.to_be_bytes());
        let node = |s: &mut Vec<u8>, name: &[u8]| {
            tok(s, BEGIN_NODE);
            s.extend_from_slice(name);
            s.push(0);
            while s.len() % 4 != 0 {
                s.push(0);
            }
        };
        node(&mut s, b"");
        tok(&mut s, PROP);
        tok(&mut s, 4);
        tok(&mut s, 4);
        tok(&mut s, 2);
        node(&mut s, b"cpus");
        for c in [b"cpu@0", b"cpu@1"] {
            node(&mut s, c);
            tok(&mut s, END_NODE);
        }
        node(&mut s, b"cpu-map");
        tok(&mut s, END_NODE);
        tok(&mut s, END_NODE);
        node(&mut s, b"memory@80000000");
        tok(&mut s, PROP);
        tok(&mut s, 16);
        tok(&mut s, 0);
        s.extend_from_slice(&0x8000_0000u64.to_be_bytes());
        s.extend_from_slice(&0x1_0000_0000u64.to_be_bytes());
        tok(&mut s, END_NODE);
        tok(&mut s, END_NODE);
        tok(&mut s, END);
        let rsv = HEADER_SIZE;
        let st = rsv + 16;
        let strs = st + s.len();
        let total = strs + strings.len() + free;
        let mut b = vec![0u8; total + 64];
        for (i, v) in [
            MAGIC,
            total as u32,
            st as u32,
            strs as u32,
            rsv as u32,
            17,
            16,
            0,
        ]
        .into_iter()
        .enumerate()
        {
            put32(&mut b, 4 * i, v);
        }
        put32(&mut b, 32, strings.len() as u32);
        put32(&mut b, 36, s.len() as u32);
        b[st..st + s.len()].copy_from_slice(&s);
        b[strs..strs + strings.len()].copy_from_slice(&strings);
        b
    }

    #[test]
    fn reads_ram_and_cpus() {
        let b = tree(0);
        let f = facts(&b).unwrap();
        assert_eq!(f.ram, Some((0x8000_0000, 0x1_0000_0000)));
        assert_eq!(f.cpus, 2);
    }

    #[test]
    fn memreserve_with_and_without_free_space() {
        for free in [0, 64] {
            let mut b = tree(free);
            let before = header(&b).unwrap().totalsize;
            let cap = b.len();
            add_memreserve(&mut b, cap, 0x8000_0000, 0x20_0000).unwrap();
            let h = header(&b).unwrap();
            if free == 0 {
                assert!(h.totalsize >= before + 16);
            } else {
                assert_eq!(h.totalsize, before);
            }
            let (e, n) = memreserves(&b).unwrap();
            assert_eq!(&e[..n], &[(0x8000_0000, 0x20_0000)]);
            // The structure still walks the same.
            let f = facts(&b).unwrap();
            assert_eq!(f.ram, Some((0x8000_0000, 0x1_0000_0000)));
            assert_eq!(f.cpus, 2);
            // A second one goes after the first.
            add_memreserve(&mut b, cap, 0x1000, 0x1000).unwrap();
            let (e, n) = memreserves(&b).unwrap();
            assert_eq!(&e[..n], &[(0x8000_0000, 0x20_0000), (0x1000, 0x1000)]);
            assert_eq!(facts(&b).unwrap().cpus, 2);
        }
    }

    #[test]
    fn nop_a_property() {
        let mut b = tree(0);
        assert_eq!(nop_property(&mut b, b"memory@80000000", b"reg").unwrap(), 1);
        let f = facts(&b).unwrap();
        assert_eq!(f.ram, None);
        assert_eq!(f.cpus, 2);
        assert_eq!(nop_property(&mut b, b"memory@80000000", b"reg").unwrap(), 0);
        // The root's property stays: it is not in the named node.
        assert_eq!(nop_property(&mut b, b"cpus", b"#address-cells").unwrap(), 0);
        assert_eq!(nop_property(&mut b, b"", b"#address-cells").unwrap(), 1);
    }

    #[test]
    fn no_room_and_bad_magic() {
        let mut b = tree(0);
        let total = header(&b).unwrap().totalsize;
        assert_eq!(add_memreserve(&mut b, total, 1, 1), Err(Error::NoRoom));
        b[0] = 0;
        assert_eq!(facts(&b), Err(Error::BadMagic));
    }
}

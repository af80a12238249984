//! A compact byte encoding of in-memory state, for a connection kept encoded while it waits out
//! its end (see `flow::connection::frozen`).
//!
//! Why not serde: postcard through serde's derived code took about 46,000 instructions to encode
//! and decode one connection (some 450 fields): a visitor and a `Result` at every field, and
//! the nested structs moved into place. A closed connection is encoded once and decoded once,
//! so at that price keeping every closed connection encoded cost a third more instructions.
//! The encoding here writes each field in straight-line code, with no error path (the bytes
//! are the table's own, never input), and reads it back the same way: about 24,000
//! instructions a connection, 10,000 to encode and 14,000 to decode (callgrind). Crates that
//! derive their own code were measured too, on one value of a like size: bincode 2 took 43,000
//! instructions and bitcode, built for many values at once, 110,000, against postcard's 55,000.
//!
//! The format: an unsigned integer as a byte counting its significant bytes, then those bytes
//! (little-endian: zero takes one byte, a port at most three); a signed one zigzagged first; a
//! time as its distance from the encoding's base time (the connection's first segment), so that
//! the dozens of times a connection holds take four to six bytes each rather than nine; an
//! option as a byte, 0 or 1, then the value; a sequence as its length, then its elements; an
//! enum as its variant's index, then its fields. Nothing names a field: the bytes are read back
//! by the same build that wrote them.
//!
//! Each type lists its fields once, in `pack_struct!`: the macro destructures the value
//! without `..` and builds it back with every field named, so a field added to a type and not
//! to its list does not compile.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use compact_str::CompactString;
use thin_vec::ThinVec;

/// Where an encoding is written.
#[derive(Debug, Default)]
pub struct Writer {
    /// Room for the encoding, zeros past `len` (grown ahead of the writing, so that each
    /// number is one fixed-size store rather than a copy of its own length).
    buf: Vec<u8>,
    /// Bytes written since [`Writer::start`].
    len: usize,
    /// The base time, in nanoseconds.
    base: i64,
}

impl Writer {
    /// An empty writer, its base time zero until [`Writer::start`].
    pub fn new() -> Self {
        Writer::default()
    }

    /// Starts a new encoding, its times written as their distance from `base` nanoseconds
    /// (the buffer's room is kept from the last encoding).
    pub fn start(&mut self, base: i64) {
        self.len = 0;
        self.base = base;
        self.int(base as u64);
    }

    /// The bytes written since [`Writer::start`].
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Room for `n` more bytes.
    #[inline]
    fn room(&mut self, n: usize) {
        if self.buf.len() < self.len + n {
            self.grow(n);
        }
    }

    #[cold]
    fn grow(&mut self, n: usize) {
        let want = (self.len + n).max(2 * self.buf.len()).max(4096);
        self.buf.resize(want, 0);
    }

    /// Writes an unsigned integer: a byte counting its significant bytes, then those bytes.
    #[inline]
    pub fn int(&mut self, v: u64) {
        let n = (71 - v.leading_zeros()) as usize / 8;
        self.room(9);
        let at = self.len;
        // SAFETY: `room(9)` made `buf.len() >= at + 9`, so the count's byte and the eight
        // after it are inside the buffer (the one bounds check, in `room`, instead of three).
        unsafe {
            let p = self.buf.as_mut_ptr().add(at);
            p.write(n as u8);
            // All eight bytes stored; the length moves past the significant ones only.
            p.add(1).cast::<[u8; 8]>().write_unaligned(v.to_le_bytes());
        }
        self.len = at + 1 + n;
    }

    /// Writes a signed integer, zigzagged so that small negative numbers stay short.
    #[inline]
    pub fn signed(&mut self, v: i64) {
        self.int(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Writes a time, `ns` nanoseconds, as its distance from the base time.
    #[inline]
    pub fn time(&mut self, ns: i64) {
        self.signed(ns.wrapping_sub(self.base));
    }

    /// Writes one byte as it is.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.room(1);
        // SAFETY: `room(1)` made `buf.len() > len`.
        unsafe { self.buf.as_mut_ptr().add(self.len).write(b) };
        self.len += 1;
    }

    /// Writes bytes as they are, after their length.
    pub fn raw(&mut self, b: &[u8]) {
        self.int(b.len() as u64);
        self.room(b.len());
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
}

/// Where an encoding is read back from.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    /// The next byte to read (past the end after a defect).
    pos: usize,
    /// The base time the writer started from, in nanoseconds.
    base: i64,
}

impl<'a> Reader<'a> {
    /// A reader of what a [`Writer`] wrote from its [`Writer::start`] on.
    pub fn new(bytes: &'a [u8]) -> Self {
        let mut r = Reader {
            bytes,
            pos: 0,
            base: 0,
        };
        r.base = r.int() as i64;
        r
    }

    /// Whether every byte was read: a reading that ends early or runs past the end read
    /// something other than what was written.
    pub fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// Reads an unsigned integer [`Writer::int`] wrote. Past the end it reads zeros (a defect
    /// that [`Reader::at_end`] reports, not undefined behaviour).
    #[inline]
    pub fn int(&mut self) -> u64 {
        let at = self.pos;
        // The count and eight bytes at hand (all but the encoding's last numbers): one load.
        if let Some(b) = self.bytes.get(at..at + 9) {
            let n = usize::from(b[0]).min(8);
            self.pos = at + 1 + n;
            let v = u64::from_le_bytes([b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8]]);
            return v & mask(n);
        }
        let n = usize::from(self.byte()).min(8);
        let start = self.pos;
        self.pos += n;
        let mut b = [0u8; 8];
        let have = self.bytes.get(start..).unwrap_or_default();
        let k = have.len().min(n);
        b[..k].copy_from_slice(&have[..k]);
        u64::from_le_bytes(b)
    }

    /// Reads a signed integer [`Writer::signed`] wrote.
    #[inline]
    pub fn signed(&mut self) -> i64 {
        let z = self.int();
        ((z >> 1) as i64) ^ -((z & 1) as i64)
    }

    /// Reads a time [`Writer::time`] wrote, in nanoseconds.
    #[inline]
    pub fn time(&mut self) -> i64 {
        self.signed().wrapping_add(self.base)
    }

    /// Reads one byte [`Writer::byte`] wrote (zero past the end).
    #[inline]
    pub fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// Reads bytes [`Writer::raw`] wrote.
    pub fn raw(&mut self) -> &'a [u8] {
        let n = self.int() as usize;
        let start = self.pos.min(self.bytes.len());
        let end = start.saturating_add(n).min(self.bytes.len());
        self.pos = self.pos.saturating_add(n);
        &self.bytes[start..end]
    }

    /// Reads a length [`Writer::int`] wrote, bounded by the bytes left (each element takes at
    /// least one), so that a defect cannot ask for a huge allocation.
    fn len(&mut self) -> usize {
        (self.int() as usize).min(self.bytes.len().saturating_sub(self.pos))
    }
}

/// The low `n` bytes of a word (`n` at most 8).
#[inline]
fn mask(n: usize) -> u64 {
    u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0)
}

/// A value written to a [`Writer`] and read back from a [`Reader`], exactly.
pub trait Pack: Sized {
    /// Writes the value.
    fn pack(&self, w: &mut Writer);
    /// Reads back a value [`Pack::pack`] wrote.
    fn unpack(r: &mut Reader<'_>) -> Self;
}

/// Implements [`Pack`] for a struct by its fields, written in the order listed. Every field
/// must be listed (the value is destructured without `..`), so a field added to the type and
/// not here does not compile. `Type { a, b }` for named fields, `Type(a, b)` for a tuple
/// struct.
macro_rules! pack_struct {
    ($ty:ident { $($f:ident),* $(,)? }) => {
        impl $crate::base::pack::Pack for $ty {
            #[inline]
            fn pack(&self, w: &mut $crate::base::pack::Writer) {
                let $ty { $($f),* } = self;
                $( $crate::base::pack::Pack::pack($f, w); )*
            }
            #[inline]
            fn unpack(r: &mut $crate::base::pack::Reader<'_>) -> Self {
                $( let $f = $crate::base::pack::Pack::unpack(r); )*
                $ty { $($f),* }
            }
        }
    };
    ($ty:ident ( $($f:ident),* $(,)? )) => {
        impl $crate::base::pack::Pack for $ty {
            #[inline]
            fn pack(&self, w: &mut $crate::base::pack::Writer) {
                let $ty ( $($f),* ) = self;
                $( $crate::base::pack::Pack::pack($f, w); )*
            }
            #[inline]
            fn unpack(r: &mut $crate::base::pack::Reader<'_>) -> Self {
                $( let $f = $crate::base::pack::Pack::unpack(r); )*
                $ty ( $($f),* )
            }
        }
    };
}

/// Implements [`Pack`] for a field-less enum by its variants, written as their index in the
/// list. Every variant must be listed (the match has no catch-all); an index past the list
/// (a defect) reads as the first variant.
macro_rules! pack_enum {
    ($ty:ident { $first:ident $(, $v:ident)* $(,)? }) => {
        impl $crate::base::pack::Pack for $ty {
            #[inline]
            fn pack(&self, w: &mut $crate::base::pack::Writer) {
                #[allow(unused_assignments)]
                let mut i = 0u8;
                if matches!(self, $ty::$first) {
                    w.byte(0);
                    return;
                }
                $(
                    i += 1;
                    if matches!(self, $ty::$v) {
                        w.byte(i);
                        return;
                    }
                )*
            }
            #[inline]
            fn unpack(r: &mut $crate::base::pack::Reader<'_>) -> Self {
                const ALL: &[$ty] = &[$ty::$first $(, $ty::$v)*];
                ALL.get(usize::from(r.byte())).copied().unwrap_or($ty::$first)
            }
        }
        // Every variant listed: a match over the list with no catch-all.
        const _: fn($ty) = |v| match v { $ty::$first $(| $ty::$v)* => {} };
    };
}

pub(crate) use {pack_enum, pack_struct};

/// [`Pack`] for integer types, through the writer's and reader's method for their kind
/// (`int` for unsigned, `signed` zigzagged) on the 64-bit type of that kind.
macro_rules! pack_ints {
    ($method:ident as $wide:ty: $($t:ty),*) => {$(
        impl Pack for $t {
            #[inline]
            fn pack(&self, w: &mut Writer) {
                w.$method(*self as $wide);
            }
            #[inline]
            fn unpack(r: &mut Reader<'_>) -> Self {
                r.$method() as $t
            }
        }
    )*};
}
pack_ints!(int as u64: u16, u32, u64, usize);
pack_ints!(signed as i64: i8, i32, i64);

impl Pack for u8 {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        w.byte(*self);
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        r.byte()
    }
}

impl Pack for bool {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        w.byte(u8::from(*self));
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        r.byte() != 0
    }
}

impl Pack for f64 {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        w.int(self.to_bits());
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        f64::from_bits(r.int())
    }
}

impl<T: Pack> Pack for Option<T> {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        match self {
            None => w.byte(0),
            Some(v) => {
                w.byte(1);
                v.pack(w);
            }
        }
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        (r.byte() != 0).then(|| T::unpack(r))
    }
}

impl<T: Pack> Pack for Box<T> {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        (**self).pack(w);
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        Box::new(T::unpack(r))
    }
}

impl<T: Pack, const N: usize> Pack for [T; N] {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        for v in self {
            v.pack(w);
        }
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        std::array::from_fn(|_| T::unpack(r))
    }
}

/// [`Pack`] for tuples, their elements in order (a tuple expression evaluates its elements
/// left to right, so they are read back in the order they were written).
macro_rules! pack_tuples {
    ($(($($t:ident . $i:tt),+))*) => {$(
        impl<$($t: Pack),+> Pack for ($($t,)+) {
            #[inline]
            fn pack(&self, w: &mut Writer) {
                $(self.$i.pack(w);)+
            }
            #[inline]
            fn unpack(r: &mut Reader<'_>) -> Self {
                ($($t::unpack(r),)+)
            }
        }
    )*};
}
pack_tuples!((A.0, B.1)(A.0, B.1, C.2)(A.0, B.1, C.2, D.3));

impl<K: Pack + Ord, V: Pack> Pack for BTreeMap<K, V> {
    fn pack(&self, w: &mut Writer) {
        w.int(self.len() as u64);
        for (k, v) in self {
            k.pack(w);
            v.pack(w);
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        unpack_seq(r)
    }
}

/// Writes a sequence: its length, then its elements.
fn pack_seq<'a, T: Pack + 'a>(w: &mut Writer, items: impl ExactSizeIterator<Item = &'a T>) {
    w.int(items.len() as u64);
    for v in items {
        v.pack(w);
    }
}

/// Reads a sequence [`pack_seq`] wrote into any collection.
fn unpack_seq<T: Pack, C: FromIterator<T>>(r: &mut Reader<'_>) -> C {
    let n = r.len();
    (0..n).map(|_| T::unpack(r)).collect()
}

/// [`Pack`] for sequence types: their length, then their elements.
macro_rules! pack_seqs {
    ($($seq:ident),*) => {$(
        impl<T: Pack> Pack for $seq<T> {
            fn pack(&self, w: &mut Writer) {
                pack_seq(w, self.iter());
            }
            fn unpack(r: &mut Reader<'_>) -> Self {
                unpack_seq(r)
            }
        }
    )*};
}
pack_seqs!(Vec, VecDeque, ThinVec);

impl Pack for String {
    fn pack(&self, w: &mut Writer) {
        w.raw(self.as_bytes());
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        String::from_utf8_lossy(r.raw()).into_owned()
    }
}

impl Pack for CompactString {
    fn pack(&self, w: &mut Writer) {
        w.raw(self.as_bytes());
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        CompactString::from_utf8_lossy(r.raw())
    }
}

impl Pack for IpAddr {
    #[inline]
    fn pack(&self, w: &mut Writer) {
        match self {
            IpAddr::V4(a) => {
                w.byte(4);
                w.int(u64::from(u32::from(*a)));
            }
            IpAddr::V6(a) => {
                w.byte(6);
                let v = u128::from(*a);
                w.int((v >> 64) as u64);
                w.int(v as u64);
            }
        }
    }
    #[inline]
    fn unpack(r: &mut Reader<'_>) -> Self {
        if r.byte() == 6 {
            let hi = u128::from(r.int());
            IpAddr::V6(Ipv6Addr::from(hi << 64 | u128::from(r.int())))
        } else {
            IpAddr::V4(Ipv4Addr::from(r.int() as u32))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Pack + PartialEq + std::fmt::Debug>(v: T) {
        let mut w = Writer::new();
        w.start(1_700_000_000_000_000_000);
        v.pack(&mut w);
        let mut r = Reader::new(w.bytes());
        assert_eq!(T::unpack(&mut r), v);
        assert!(r.at_end());
    }

    #[test]
    fn integers_take_their_significant_bytes() {
        for v in [0u64, 1, 255, 256, 65_535, 1 << 40, u64::MAX] {
            let mut w = Writer::new();
            w.start(0);
            let before = w.bytes().len();
            w.int(v);
            let want = 1 + (64 - v.leading_zeros() as usize).div_ceil(8);
            assert_eq!(w.bytes().len() - before, want, "{v}");
            round_trip(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            round_trip(v);
        }
    }

    #[test]
    fn times_are_written_from_the_base() {
        let base = 1_700_000_000_123_456_789i64;
        let mut w = Writer::new();
        w.start(base);
        let mut sizes = vec![];
        for t in [base + 2_500_000_000, base - 1, i64::MIN + 1] {
            let before = w.bytes().len();
            w.time(t);
            sizes.push(w.bytes().len() - before);
        }
        // 2.5 s after the base: a count and five bytes; just before it: two bytes.
        assert_eq!(sizes, [6, 2, 9]);
        let mut r = Reader::new(w.bytes());
        assert_eq!(r.time(), base + 2_500_000_000);
        assert_eq!(r.time(), base - 1);
        assert_eq!(r.time(), i64::MIN + 1);
        assert!(r.at_end());
    }

    #[test]
    fn compound_values_read_back() {
        round_trip(Some((3u32, vec![1u16, 2, 3])));
        round_trip(None::<u64>);
        round_trip([Some(true), None]);
        round_trip(VecDeque::from([(1u64, 2u8), (3, 4)]));
        round_trip(String::from("ShAdaDfF"));
        round_trip(Box::new(-7i32));
        round_trip(vec![
            IpAddr::from([10, 0, 0, 1]),
            "2001:db8::1".parse::<IpAddr>().unwrap(),
        ]);
        round_trip(std::f64::consts::PI);
    }

    /// Bytes that end early (a defect: never input) read as zeros and say so.
    #[test]
    fn a_short_encoding_reads_zeros_and_is_not_at_its_end() {
        let mut w = Writer::new();
        w.start(0);
        w.int(u64::MAX);
        let bytes = &w.bytes()[..w.bytes().len() - 3];
        let mut r = Reader::new(bytes);
        let _ = r.int();
        assert!(!r.at_end());
        assert_eq!(Vec::<u64>::unpack(&mut r), Vec::<u64>::new());
    }
}

//! The JSON lines of the records written by the thousand, connections and anomalies, written by
//! hand straight from the core's records into the line buffer.
//!
//! The serde path ([`super::ConnJson`] through [`super::line`]) builds a struct of some 150
//! fields per connection, then walks it field by field through serde's generic calls, each key
//! written as three pieces. Here each key is one constant together with the comma before it
//! (`,"prev_id":`), written with its value after one check of the room for both; numbers are
//! written in place by `itoa`'s method (what `serde_json` uses), and nothing is built in
//! between. The structs stay the schema's reference: the tests write every record of the
//! fixture captures both ways and compare the bytes, so the two cannot drift apart. Rare nested
//! objects (a story, a retransmission series, anomaly details) still go through serde, into the
//! same buffer.

mod anomaly;
mod conn;
mod half;

use std::net::IpAddr;

use serde::Serialize;

use super::Nanos;
use super::line;
use crate::report::iso_time::{self, IsoTime};

pub(super) use anomaly::write_anomaly;
pub(super) use conn::write_conn;

/// A key with the comma before it: `k!("id")` is `,"id":`, as bytes.
macro_rules! k {
    ($name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
}
pub(super) use k;

/// The decimal text of every byte value, padded to three bytes, and its length: an IPv4
/// address is four lookups (as [`crate::wire::ipv4_text`] writes it).
static OCTETS: [([u8; 3], u8); 256] = octets();

const fn octets() -> [([u8; 3], u8); 256] {
    let mut t = [([0u8; 3], 0u8); 256];
    let mut v = 0;
    while v < 256 {
        let (h, te, o) = ((v / 100) as u8, (v / 10 % 10) as u8, (v % 10) as u8);
        t[v] = if v >= 100 {
            ([b'0' + h, b'0' + te, b'0' + o], 3)
        } else if v >= 10 {
            ([b'0' + te, b'0' + o, 0], 2)
        } else {
            ([b'0' + o, 0, 0], 1)
        };
        v += 1;
    }
    t
}

/// 10 to the power of 0 to 19: where the digit count of a `u64` steps.
static POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The two-digit text of 0 to 99.
static PAIRS: [[u8; 2]; 100] = pairs();

const fn pairs() -> [[u8; 2]; 100] {
    let mut t = [[0u8; 2]; 100];
    let mut v = 0;
    while v < 100 {
        t[v] = [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        v += 1;
    }
    t
}

/// The most bytes [`digits`] writes: `u64::MAX` has 20 digits.
const MAX_U64: usize = 20;

/// The most bytes [`secs`] writes: a sign, the 10 digits of the largest whole seconds an `i64`
/// of nanoseconds holds, a point and 9 decimals.
const MAX_SECS: usize = 21;

/// Writes `v` in decimal at the start of `out` (at least [`MAX_U64`] bytes), as `itoa` (and so
/// `serde_json`) writes it, and returns its length.
#[inline(always)]
fn digits(out: &mut [u8], v: u64) -> usize {
    if v < 10 {
        out[0] = b'0' + v as u8;
        1
    } else {
        digits_long(out, v)
    }
}

/// [`digits`] of 10 and more: the digit count from the bit length, then the digits from the
/// last, four at a time (as `itoa` does).
fn digits_long(out: &mut [u8], mut v: u64) -> usize {
    // 1233 / 4096 is just above log10(2): the digit count of the bit length's lowest
    // value, which `v` may pass by one digit.
    let guess = (((64 - v.leading_zeros()) * 1233) >> 12) as usize;
    let n = (guess + usize::from(v >= POW10[guess])).max(1);
    let out = &mut out[..n];
    let mut i = n;
    while v >= 10_000 {
        let r = (v % 10_000) as usize;
        v /= 10_000;
        out[i - 4..i - 2].copy_from_slice(&PAIRS[r / 100]);
        out[i - 2..i].copy_from_slice(&PAIRS[r % 100]);
        i -= 4;
    }
    let mut v = v as usize;
    if v >= 100 {
        out[i - 2..i].copy_from_slice(&PAIRS[v % 100]);
        v /= 100;
        i -= 2;
    }
    if v >= 10 {
        out[i - 2..i].copy_from_slice(&PAIRS[v]);
    } else {
        out[i - 1] = b'0' + v as u8;
    }
    n
}

/// Writes `ns` nanoseconds as seconds at the start of `out` (at least [`MAX_SECS`] bytes), as
/// [`super::secs`] writes them (through [`crate::time::decimal_secs`]): the whole seconds,
/// then six decimals, or nine when the value has sub-microsecond precision. Returns the
/// length.
#[inline]
fn secs(out: &mut [u8], ns: i64) -> usize {
    let abs = ns.unsigned_abs();
    let sign = usize::from(ns < 0);
    // Written either way: the digits overwrite it when there is no sign.
    out[0] = b'-';
    let mut n = sign + digits(&mut out[sign..], abs / 1_000_000_000);
    let frac = abs % 1_000_000_000;
    let (mut v, places) = if frac.is_multiple_of(1000) {
        (frac / 1000, 6)
    } else {
        (frac, 9)
    };
    let out = &mut out[n..n + places + 1];
    out[0] = b'.';
    let mut i = places + 1;
    while i > 2 {
        i -= 2;
        out[i..i + 2].copy_from_slice(&PAIRS[(v % 100) as usize]);
        v /= 100;
    }
    if i == 2 {
        out[1] = b'0' + (v % 10) as u8;
    }
    n += places + 1;
    n
}

/// A line under construction, written at `at` into a buffer whose bytes are all scratch (it
/// keeps its length from line to line, so it is zero-filled once, not per line).
///
/// Writing into a slice of known room, not pushing onto the `Vec`, lets a key be a few moves
/// instead of a capacity check and a call to `memcpy`, and a number be written in place
/// instead of formatted aside and copied: a connection record has some 150 fields.
pub(in crate::report::json) struct Out<'b> {
    buf: &'b mut Vec<u8>,
    at: usize,
    /// Where what is written by other means goes first (see [`Out::spill`]).
    aside: &'b mut Vec<u8>,
}

impl<'b> Out<'b> {
    /// A line written from the start of `buf`, with `aside` for what is written by other
    /// means.
    pub(in crate::report::json) fn new(buf: &'b mut Vec<u8>, aside: &'b mut Vec<u8>) -> Self {
        Out { buf, at: 0, aside }
    }

    /// The length written: the line is the first that many bytes of the buffer.
    pub(in crate::report::json) fn len(&self) -> usize {
        self.at
    }

    /// The next `n` bytes of the buffer, which grows when they are not there.
    #[inline]
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.buf.len() - self.at < n {
            self.grow(n);
        }
        &mut self.buf[self.at..self.at + n]
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        let len = (self.at + n).max(2 * self.buf.len()).max(4096);
        self.buf.resize(len, 0);
    }

    /// Bytes as they are: keys, punctuation.
    #[inline]
    pub(in crate::report::json) fn raw(&mut self, b: &[u8]) {
        self.room(b.len()).copy_from_slice(b);
        self.at += b.len();
    }

    /// An unsigned integer, as `itoa` (and so `serde_json`) writes it.
    #[inline]
    fn u(&mut self, v: impl Into<u64>) {
        let n = digits(self.room(MAX_U64), v.into());
        self.at += n;
    }

    /// An unsigned integer, or null.
    #[inline]
    fn opt_u(&mut self, v: Option<impl Into<u64>>) {
        match v {
            Some(v) => self.u(v),
            None => self.null(),
        }
    }

    /// `null`.
    #[inline]
    fn null(&mut self) {
        self.raw(b"null");
    }

    /// `true` or `false`.
    #[inline]
    fn bool(&mut self, v: bool) {
        self.raw(if v { b"true" } else { b"false" });
    }

    /// A string, escaped as `serde_json` escapes it.
    #[inline]
    fn str(&mut self, s: &str) {
        let b = s.as_bytes();
        if b.iter().any(|&c| line::ESCAPE[usize::from(c)] != 0) {
            self.spill(|buf| line::push_str(buf, s));
            return;
        }
        let out = self.room(b.len() + 2);
        out[0] = b'"';
        out[1..=b.len()].copy_from_slice(b);
        out[b.len() + 1] = b'"';
        self.at += b.len() + 2;
    }

    /// A string, or null.
    #[inline]
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// A time or duration as a number of seconds, as [`super::secs`] writes it (through
    /// [`crate::time::decimal_secs`]): the whole seconds, then six decimals, or nine when the
    /// value has sub-microsecond precision.
    #[inline]
    fn secs(&mut self, t: impl Nanos) {
        let n = secs(self.room(MAX_SECS), t.nanos());
        self.at += n;
    }

    /// [`Out::secs`], or null.
    #[inline]
    fn opt_secs(&mut self, t: Option<impl Nanos>) {
        match t {
            Some(t) => self.secs(t),
            None => self.null(),
        }
    }

    /// A key (as [`k!`] makes it) and an unsigned integer, with one check of the room for
    /// both: most of a record's fields are written this way, and a check per piece cost as
    /// much as the writing.
    #[inline]
    fn key_u(&mut self, key: &[u8], v: impl Into<u64>) {
        let v = v.into();
        self.key_then(key, MAX_U64, |out| digits(out, v));
    }

    /// A key, then what `value` writes into the room after it (at most `most` bytes; it
    /// returns how many), with one check of the room for both.
    #[inline(always)]
    fn key_then(&mut self, key: &[u8], most: usize, value: impl FnOnce(&mut [u8]) -> usize) {
        let k = key.len();
        let out = self.room(k + most);
        out[..k].copy_from_slice(key);
        let n = value(&mut out[k..]);
        self.at += k + n;
    }

    /// A key and an unsigned integer or null (see [`Out::key_u`]).
    #[inline]
    fn key_opt_u(&mut self, key: &[u8], v: Option<impl Into<u64>>) {
        match v {
            Some(v) => self.key_u(key, v),
            None => self.key_raw(key, b"null"),
        }
    }

    /// A key and a number of seconds (see [`Out::key_u`] and [`Out::secs`]).
    #[inline]
    fn key_secs(&mut self, key: &[u8], t: impl Nanos) {
        let ns = t.nanos();
        self.key_then(key, MAX_SECS, |out| secs(out, ns));
    }

    /// A key and a number of seconds or null (see [`Out::key_secs`]).
    #[inline]
    fn key_opt_secs(&mut self, key: &[u8], t: Option<impl Nanos>) {
        match t {
            Some(t) => self.key_secs(key, t),
            None => self.key_raw(key, b"null"),
        }
    }

    /// A key and `true` or `false` (see [`Out::key_u`]).
    #[inline]
    fn key_bool(&mut self, key: &[u8], v: bool) {
        self.key_raw(key, if v { b"true" } else { b"false" });
    }

    /// A key and bytes as they are, in one piece of room. (Not through [`Out::key_then`]: the
    /// copy of a length known only here then costs a second bounds check, 1% more
    /// instructions for the JSON output.)
    #[inline]
    fn key_raw(&mut self, key: &[u8], v: &[u8]) {
        let (k, n) = (key.len(), v.len());
        let out = self.room(k + n);
        out[..k].copy_from_slice(key);
        out[k..].copy_from_slice(v);
        self.at += k + n;
    }

    /// A time as exact ISO 8601 text, as [`crate::report::iso_time::iso`] writes it: in place,
    /// between its quotes (digits and punctuation, nothing to escape).
    #[inline]
    fn iso(&mut self, t: impl Nanos) {
        let out = self.room(iso_time::MAX + 2);
        out[0] = b'"';
        let text: &mut [u8; iso_time::MAX] = (&mut out[1..=iso_time::MAX])
            .try_into()
            .unwrap_or_else(|_| unreachable!("a slice of MAX bytes"));
        let n = IsoTime::exact(t).bytes(text).len();
        out[n + 1] = b'"';
        self.at += n + 2;
    }

    /// An address as [`super::AddrText`] writes it.
    #[inline]
    fn addr(&mut self, a: IpAddr) {
        match a {
            // Digits and dots: nothing to escape.
            IpAddr::V4(a) => {
                let out = self.room(17);
                out[0] = b'"';
                let mut at = 1;
                for (octet, after) in a.octets().into_iter().zip(*b"...\"") {
                    let (text, len) = OCTETS[usize::from(octet)];
                    out[at..at + 3].copy_from_slice(&text);
                    out[at + usize::from(len)] = after;
                    at += usize::from(len) + 1;
                }
                self.at += at;
            }
            IpAddr::V6(_) => self.serde(&super::AddrText(a)),
        }
    }

    /// Writes what `f` appends to a `Vec`: for what is written by other means (a string to
    /// escape, the serde path). It goes aside first, then into place, so that the line's
    /// buffer keeps its length (cut short, it would be zero-filled again as it grows back).
    fn spill(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        self.aside.clear();
        f(self.aside);
        let aside = std::mem::take(self.aside);
        self.raw(&aside);
        *self.aside = aside;
    }

    /// Any value through the serde path, into the same buffer.
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        // The line serializer fails only on map keys that are not scalars, which no record
        // type has; the tests write every record both ways.
        self.spill(|buf| {
            let r = line::to_buf(buf, v);
            debug_assert!(r.is_ok(), "{r:?}");
        });
    }
}

#[cfg(test)]
mod tests;

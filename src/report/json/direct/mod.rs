//! The JSON lines of the records written by the thousand, connections and anomalies, written by
//! hand straight from the core's records into the line buffer.
//!
//! The serde path ([`super::ConnJson`] through [`super::line`]) builds a struct of some 150
//! fields per connection, then walks it field by field through serde's generic calls, each key
//! written as three pieces. Here each key is one constant together with the comma before it
//! (`,"prev_id":`), numbers go through `itoa` (what `serde_json` uses), and nothing is built in
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

/// The line under construction.
pub(super) struct Out<'b>(pub(super) &'b mut Vec<u8>);

impl Out<'_> {
    /// Bytes as they are: keys, punctuation.
    #[inline]
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    /// An unsigned integer.
    #[inline]
    fn u(&mut self, v: impl Into<u64>) {
        self.raw(itoa::Buffer::new().format(v.into()).as_bytes());
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
        line::push_str(self.0, s);
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
    /// [`crate::time::decimal_secs`]): the whole seconds through `itoa`, then six decimals, or
    /// nine when the value has sub-microsecond precision.
    #[inline]
    fn secs(&mut self, t: impl Nanos) {
        let ns = t.nanos();
        let abs = ns.unsigned_abs();
        let (whole, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
        if ns < 0 {
            self.raw(b"-");
        }
        self.u(whole);
        let (mut frac, places) = if frac.is_multiple_of(1000) {
            (frac / 1000, 6)
        } else {
            (frac, 9)
        };
        let mut buf = [b'.'; 10];
        for slot in buf[1..=places].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        self.raw(&buf[..=places]);
    }

    /// [`Out::secs`], or null.
    #[inline]
    fn opt_secs(&mut self, t: Option<impl Nanos>) {
        match t {
            Some(t) => self.secs(t),
            None => self.null(),
        }
    }

    /// A time as exact ISO 8601 text, as [`crate::report::iso_time::iso`] writes it.
    #[inline]
    fn iso(&mut self, t: impl Nanos) {
        // Digits and punctuation only: nothing to escape.
        self.raw(b"\"");
        self.raw(IsoTime::exact(t).bytes(&mut [0; iso_time::MAX]));
        self.raw(b"\"");
    }

    /// An address as [`super::AddrText`] writes it.
    #[inline]
    fn addr(&mut self, a: IpAddr) {
        match a {
            // Digits and dots: nothing to escape.
            IpAddr::V4(a) => {
                let [a, b, c, d] = a.octets();
                let mut buf = [0; 17];
                let mut at = 0;
                for (octet, after) in [(a, b'.'), (b, b'.'), (c, b'.'), (d, b'"')] {
                    let (text, len) = OCTETS[usize::from(octet)];
                    buf[at..at + 3].copy_from_slice(&text);
                    buf[at + usize::from(len)] = after;
                    at += usize::from(len) + 1;
                }
                self.raw(b"\"");
                self.raw(&buf[..at]);
            }
            IpAddr::V6(_) => self.serde(&super::AddrText(a)),
        }
    }

    /// Any value through the serde path, into the same buffer.
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        // The line serializer fails only on map keys that are not scalars, which no record
        // type has; the tests write every record both ways.
        let r = line::to_buf(self.0, v);
        debug_assert!(r.is_ok(), "{r:?}");
    }
}

#[cfg(test)]
mod tests;

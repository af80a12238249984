//! What the line-per-record formats need beside each record: a Zeek-style `uid` per
//! connection, and the four-tuple of the connection an anomaly concerns (an anomaly record
//! carries only the connection's id; Zeek's weird.log and Suricata's EVE anomaly records carry
//! its addresses and ports).

use std::hash::{BuildHasher, Hasher};

use hashbrown::HashMap;

use super::flat::ConnRef;
use super::json::Nanos;
use crate::event::Event;
use crate::time::Timestamp;
use crate::wire::Endpoint;

/// A connection's unique id in Zeek's form: `C` and 17 base-62 digits (Zeek draws 96 random
/// bits; this one is derived from the record's id, first time and four-tuple, so that runs over
/// the same capture agree and the `-f zeek`, `-f eve`, CSV and Parquet records of one run join
/// on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uid(u128);

impl Uid {
    /// Length of the text.
    pub const LEN: usize = 18;

    /// The uid of record `id`, first seen at `first_ts`, between `a` and `b` (in either
    /// order: a role flip keeps the uid).
    pub fn of(id: u64, first_ts: Timestamp, a: Endpoint, b: Endpoint) -> Self {
        let (lo, hi) = if (a.addr, a.port) <= (b.addr, b.port) {
            (a, b)
        } else {
            (b, a)
        };
        // A fixed-seed hasher: the uid must not change from run to run.
        let mix = |salt: u64| {
            let mut h = foldhash::fast::FixedState::with_seed(salt).build_hasher();
            h.write_u64(id);
            h.write_i64(first_ts.nanos());
            std::hash::Hash::hash(&lo, &mut h);
            std::hash::Hash::hash(&hi, &mut h);
            h.finish()
        };
        let bits = (u128::from(mix(0x7463_7061_7564_6974)) << 32) ^ u128::from(mix(0x5a65_656b));
        Uid(bits & ((1u128 << 96) - 1))
    }

    /// Its 96 bits.
    pub fn bits(&self) -> u128 {
        self.0
    }

    /// The text, written into `buf`.
    pub fn text<'b>(&self, buf: &'b mut [u8; Self::LEN]) -> &'b str {
        const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        buf[0] = b'C';
        let mut v = self.0;
        for slot in buf[1..].iter_mut().rev() {
            *slot = DIGITS[(v % 62) as usize];
            v /= 62;
        }
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

/// The connections open now, by record id, as their records last showed them: enough to name
/// the connection of an anomaly raised while it is open.
#[derive(Default)]
pub struct OpenConns {
    open: HashMap<u64, ConnRef>,
}

impl OpenConns {
    /// Follows connections opening, changing roles and closing. Call it before the event is
    /// written, so a record's own anomalies find it. Endpoints change only when the roles flip,
    /// so a state change of a record that never flipped costs no lookup.
    pub fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::StateChanged(r, _) if !r.flipped => {}
            Event::Opened(r) | Event::StateChanged(r, _) => {
                self.open.insert(
                    r.id,
                    ConnRef {
                        orig: r.orig,
                        resp: r.resp,
                        first_ts: r.first_ts,
                    },
                );
            }
            Event::Closed(r) => {
                self.open.remove(&r.id);
            }
            Event::Anomaly(_) | Event::Segment(..) | Event::App(_) => {}
        }
    }

    /// The open connection with record id `id`.
    pub fn get(&self, id: Option<u64>) -> Option<ConnRef> {
        self.open.get(&id?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_zeek_shaped_stable_and_order_free() {
        let a = Endpoint::new("10.0.0.1".parse().unwrap(), 40000);
        let b = Endpoint::new("10.0.0.2".parse().unwrap(), 80);
        let u = Uid::of(7, Timestamp(1_000), a, b);
        assert_eq!(u, Uid::of(7, Timestamp(1_000), b, a));
        assert_ne!(u, Uid::of(8, Timestamp(1_000), a, b));
        let mut buf = [0; Uid::LEN];
        let t = u.text(&mut buf);
        assert!(t.starts_with('C') && t.len() == 18, "{t}");
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}

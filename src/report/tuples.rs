//! What the line-per-record formats need beside each record: a Zeek-style `uid` per
//! connection, and the four-tuple of the connection an anomaly concerns (an anomaly record
//! carries only the connection's id; Zeek's weird.log and Suricata's EVE anomaly records carry
//! its addresses and ports).

use std::collections::VecDeque;
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
///
/// Record ids are given in order of first segment, so the open ones crowd at the end of the
/// ids given so far: they are kept in a window indexed by id, where opening one is a push at its
/// end and closing or finding one a single index. (A hash map of tens of thousands of open
/// connections cost two cache misses per insert and two per removal, a cost the JSON lines paid
/// for every connection.) A record still open when the window reaches `WINDOW` ids moves to a
/// map, so that a long-lived connection does not make the window grow with every connection
/// after it.
#[derive(Default)]
pub struct OpenConns {
    /// Records `base`, `base + 1`, …: `None` once closed (or never opened). Never starts with
    /// `None`.
    window: VecDeque<Option<ConnRef>>,
    /// The id of `window[0]`.
    base: u64,
    /// Open records below `base`.
    spilled: HashMap<u64, ConnRef>,
}

/// The most ids the window spans.
const WINDOW: usize = 1 << 16;

impl OpenConns {
    /// Follows connections opening, changing roles and closing. Call it before the event is
    /// written, so a record's own anomalies find it. Endpoints change only when the roles flip,
    /// so a state change of a record that never flipped costs no lookup.
    pub fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::StateChanged(r, _) if !r.flipped => {}
            Event::Opened(r) | Event::StateChanged(r, _) => self.insert(
                r.id,
                ConnRef {
                    orig: r.orig,
                    resp: r.resp,
                    first_ts: r.first_ts,
                },
            ),
            Event::Closed(r) => self.remove(r.id),
            Event::Anomaly(_) | Event::Segment(..) | Event::App(_) => {}
        }
    }

    /// The open connection with record id `id`.
    pub fn get(&self, id: Option<u64>) -> Option<ConnRef> {
        let id = id?;
        match self.slot(id) {
            Some(i) => self.window[i],
            None => self.spilled.get(&id).copied(),
        }
    }

    /// Where record `id` is in the window, if it falls in it.
    fn slot(&self, id: u64) -> Option<usize> {
        let i = usize::try_from(id.checked_sub(self.base)?).ok()?;
        (i < self.window.len()).then_some(i)
    }

    /// Record `id` is open, as `conn` shows it.
    fn insert(&mut self, id: u64, conn: ConnRef) {
        if let Some(i) = self.slot(id) {
            self.window[i] = Some(conn);
            return;
        }
        if self.window.is_empty() {
            self.base = id;
        }
        let Some(ahead) = id.checked_sub(self.base) else {
            // Below the window (ids out of order): kept aside.
            self.spilled.insert(id, conn);
            return;
        };
        // Ids skipped (records that never opened here) take an empty slot each; a jump of a
        // whole window or more empties it first.
        let gap = match usize::try_from(ahead) {
            Ok(at) if at - self.window.len() < WINDOW => at - self.window.len(),
            _ => {
                self.spill(self.window.len());
                self.base = id;
                0
            }
        };
        // An id is in one place only (only ids out of order can find an older copy).
        if !self.spilled.is_empty() {
            self.spilled.remove(&id);
        }
        self.window.extend(std::iter::repeat_n(None, gap));
        self.window.push_back(Some(conn));
        if self.window.len() > WINDOW {
            self.spill(self.window.len() - WINDOW);
        }
    }

    /// Record `id` closed.
    fn remove(&mut self, id: u64) {
        match self.slot(id) {
            Some(i) => {
                self.window[i] = None;
                self.trim();
            }
            None => {
                self.spilled.remove(&id);
            }
        }
    }

    /// Moves the first `n` slots of the window out of it, their open records to the map.
    fn spill(&mut self, n: usize) {
        for conn in self.window.drain(..n) {
            if let Some(conn) = conn {
                self.spilled.insert(self.base, conn);
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Drops the closed records at the front of the window.
    fn trim(&mut self) {
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// The window and its map against a plain map, through opens in id order with long-lived
    /// connections among them, role flips, jumps in the ids and ids out of order.
    #[test]
    fn open_connections_are_found_as_a_map_finds_them() {
        let conn = |n: u64| ConnRef {
            orig: Endpoint::new("10.0.0.1".parse().unwrap(), (n % 60_000) as u16),
            resp: Endpoint::new("10.0.0.2".parse().unwrap(), 80),
            first_ts: Timestamp::from_nanos(n as i64),
        };
        let same = |a: Option<ConnRef>, b: Option<&ConnRef>| match (a, b) {
            (Some(a), Some(b)) => a.orig == b.orig && a.first_ts == b.first_ts,
            (None, None) => true,
            _ => false,
        };
        let mut open = OpenConns::default();
        let mut model = std::collections::HashMap::new();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut next = 1u64;
        for step in 0..400_000u64 {
            let r = rng.next();
            match r % 16 {
                // Opens, some after a gap or a jump beyond the window, some out of order.
                0..=5 => {
                    next += match r % 1000 {
                        0 => WINDOW as u64 + 5,
                        1..=20 => 3,
                        _ => 1,
                    };
                    let id = if r.is_multiple_of(997) {
                        next / 2
                    } else {
                        next
                    };
                    open.insert(id, conn(step));
                    model.insert(id, conn(step));
                }
                // Closes, most of them among the recent ids; a few of the long-lived ones.
                6..=11 => {
                    let back = if r.is_multiple_of(50) {
                        r % next
                    } else {
                        r % 64
                    };
                    let id = next.saturating_sub(back);
                    open.remove(id);
                    model.remove(&id);
                }
                // Role flips.
                12 => {
                    let id = next.saturating_sub(r % 128);
                    if model.contains_key(&id) {
                        open.insert(id, conn(step + 1));
                        model.insert(id, conn(step + 1));
                    }
                }
                _ => {
                    let id = next.saturating_sub(r % (2 * WINDOW as u64));
                    assert!(same(open.get(Some(id)), model.get(&id)), "{step} {id}");
                }
            }
        }
        for (id, c) in &model {
            assert!(same(open.get(Some(*id)), Some(c)), "{id}");
        }
        assert!(!open.spilled.is_empty() && open.window.len() <= WINDOW);
    }

    #[test]
    fn uid_is_zeek_shaped_stable_and_order_free() {
        let a = Endpoint::new("10.0.0.1".parse().unwrap(), 40000);
        let b = Endpoint::new("10.0.0.2".parse().unwrap(), 80);
        let u = Uid::of(7, Timestamp::from_nanos(1_000), a, b);
        assert_eq!(u, Uid::of(7, Timestamp::from_nanos(1_000), b, a));
        assert_ne!(u, Uid::of(8, Timestamp::from_nanos(1_000), a, b));
        let mut buf = [0; Uid::LEN];
        let t = u.text(&mut buf);
        assert!(t.starts_with('C') && t.len() == 18, "{t}");
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}

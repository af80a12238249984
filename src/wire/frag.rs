//! IP fragment reassembly (IPv4 and IPv6), bounded: at most [`MAX_PENDING`] datagrams in flight,
//! each dropped [`FRAG_TIMEOUT`] after its first fragment (RFC 791's 15 s lower bound doubled, as
//! Linux's `ipfrag_time` of 30 s). Drops are counted.

use std::collections::VecDeque;
use std::net::IpAddr;

use hashbrown::HashMap;

use crate::time::{Duration, Timestamp};

/// Datagrams reassembled at once, at most.
pub const MAX_PENDING: usize = 1024;
/// How long an incomplete datagram is kept.
pub const FRAG_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_DATAGRAM: usize = 65_535 + 8;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

/// IP facts of the first fragment, carried to the reassembled segment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FragMeta {
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub ecn: u8,
    pub header_len: u32,
}

struct Datagram {
    first_ts: Timestamp,
    /// The frames its fragments came in, in their order (a second read of the capture writes
    /// them all out with the segment).
    frames: Vec<u64>,
    data: Vec<u8>,
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    meta: FragMeta,
}

/// Fragment counters for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct FragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete (timeout, table full, or still pending at the end).
    pub incomplete: u64,
    /// Fragments whose bytes were cut by the snaplen (cannot be reassembled).
    pub truncated: u64,
    /// Fragments with impossible offsets or lengths.
    pub invalid: u64,
}

#[derive(Default)]
pub(crate) struct FragTable {
    map: HashMap<FragKey, Datagram, foldhash::fast::RandomState>,
    /// The most datagrams pending at once, which the table is charged for (see
    /// [`super::table_bytes`]).
    most: usize,
    order: VecDeque<(FragKey, Timestamp)>,
    /// The last reassembled transport payload.
    pub out: Vec<u8>,
    /// The frames of the last reassembled datagram's fragments, the last one included.
    pub out_frames: Vec<u64>,
    pub stats: FragStats,
    /// Bytes of pending datagrams' buffers.
    held: usize,
}

impl Datagram {
    /// Its buffers' bytes, charged to the memory bound.
    fn bytes(&self) -> usize {
        self.data.capacity() + self.frames.capacity() * std::mem::size_of::<u64>()
    }
}

impl FragTable {
    /// Adds one fragment, which came in frame `frame`. Returns the datagram's metadata once it
    /// is complete; its transport payload is then in `self.out`, its fragments' frames in
    /// `self.out_frames`.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        key: FragKey,
        frame: u64,
        ts: Timestamp,
        offset: u32,
        more: bool,
        payload: &[u8],
        meta: FragMeta,
    ) -> Option<FragMeta> {
        self.stats.fragments += 1;
        self.expire(ts);
        let end = offset as usize + payload.len();
        if end > MAX_DATAGRAM || (more && !payload.len().is_multiple_of(8)) {
            self.stats.invalid += 1;
            return None;
        }
        if !self.map.contains_key(&key) {
            if self.map.len() >= MAX_PENDING {
                self.evict_oldest();
            }
            self.map.insert(
                key,
                Datagram {
                    first_ts: ts,
                    frames: Vec::new(),
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    meta,
                },
            );
            self.most = self.most.max(self.map.len());
            self.order.push_back((key, ts));
        }
        let dg = self.map.get_mut(&key)?;
        if offset == 0 {
            dg.meta = meta;
        }
        let before = dg.bytes();
        if dg.data.len() < end {
            dg.data.resize(end, 0);
        }
        dg.data[offset as usize..end].copy_from_slice(payload);
        dg.frames.push(frame);
        self.held += dg.bytes() - before;
        if !more {
            dg.total = Some(end as u32);
        }
        add_range(&mut dg.have, offset, end as u32);
        let complete = matches!((dg.total, dg.have.as_slice()), (Some(t), [(0, e)]) if *e >= t);
        if complete {
            let dg = self.map.remove(&key)?;
            self.held -= dg.bytes();
            let total = dg.total.unwrap_or(0) as usize;
            self.out.clear();
            self.out.extend_from_slice(&dg.data[..total]);
            self.out_frames = dg.frames;
            self.stats.reassembled += 1;
            return Some(dg.meta);
        }
        None
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(key, first)) = self.order.front() {
            if now.since(first) < FRAG_TIMEOUT {
                break;
            }
            self.order.pop_front();
            if self.map.get(&key).is_some_and(|d| d.first_ts == first) {
                self.drop_pending(&key);
            }
        }
    }

    /// Bytes held by pending datagrams (their buffers and table slots), charged to
    /// `--max-memory`.
    pub fn memory_bytes(&self) -> usize {
        self.held + super::table_bytes(self.most, std::mem::size_of::<(FragKey, Datagram)>())
    }

    /// Drops a pending datagram, incomplete.
    fn drop_pending(&mut self, key: &FragKey) {
        if let Some(dg) = self.map.remove(key) {
            self.held -= dg.bytes();
            self.stats.incomplete += 1;
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, first)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|d| d.first_ts == first) {
                self.drop_pending(&key);
                return;
            }
        }
    }

    /// Counts every datagram still pending as incomplete (end of capture).
    pub fn finish(&mut self) {
        self.stats.incomplete += self.map.len() as u64;
        self.map.clear();
        self.order.clear();
        self.held = 0;
    }
}

/// Merges `[start, end)` into a sorted list of disjoint ranges.
fn add_range(have: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    have.push((start, end));
    have.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(have.len());
    for &(s, e) in have.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *have = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> FragKey {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        FragKey {
            src: a,
            dst: a,
            id: 7,
            proto: 6,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut t = FragTable::default();
        let m = FragMeta::default();
        assert!(
            t.insert(key(), 0, Timestamp::EPOCH, 16, false, &[3; 4], m)
                .is_none()
        );
        assert!(
            t.insert(key(), 0, Timestamp::EPOCH, 0, true, &[1; 8], m)
                .is_none()
        );
        assert!(
            t.insert(key(), 0, Timestamp::EPOCH, 8, true, &[2; 8], m)
                .is_some()
        );
        assert_eq!(t.out.len(), 20);
        assert_eq!(&t.out[14..], &[2, 2, 3, 3, 3, 3]);
    }

    #[test]
    fn incomplete_datagrams_expire() {
        let mut t = FragTable::default();
        let m = FragMeta::default();
        t.insert(key(), 0, Timestamp::EPOCH, 0, true, &[1; 8], m);
        let mut k2 = key();
        k2.id = 8;
        t.insert(
            k2,
            0,
            Timestamp::EPOCH.add(Duration::from_secs(31)),
            0,
            true,
            &[1; 8],
            m,
        );
        assert_eq!(t.stats.incomplete, 1);
    }
}

//! The connection table: a seeded hash map from four-tuple to a slab slot, a lazy timer heap on
//! packet time, and a hard cap on tracked connections.
//!
//! Packets only touch `last_ts`; a timer entry is re-checked when it comes due and either expires
//! the connection or is pushed again at its real deadline (retina's lazy wheel, as a heap).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use hashbrown::HashMap;
use slab::Slab;

use super::{Connection, EndReason, Endpoint, FlowKey};
use crate::time::{Duration, Timestamp};
use crate::wire::Segment;

/// Limits and timeouts of the table. Defaults are documented in README and `tcpaudit --help`.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Maximum segment lifetime; closed connections are kept 2*MSL (TIME-WAIT) to catch reuse.
    /// Default 30 s (Linux's 60 s TIME-WAIT); RFC 9293 suggests 2 minutes.
    pub msl: Duration,
    /// Idle time after which an open connection is ended with reason `timeout`. Default 1 hour.
    pub idle_timeout: Duration,
    /// Idle time after which an unanswered attempt is ended. Default 130 s, past Linux's last SYN
    /// retransmission (tcp_syn_retries 6: 1+2+4+8+16+32+64 s).
    pub attempt_timeout: Duration,
    /// Connections tracked at once; beyond it the connection due soonest is evicted.
    pub max_connections: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            msl: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(3600),
            attempt_timeout: Duration::from_secs(130),
            max_connections: 1_000_000,
        }
    }
}

/// Table counters for the summary.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FlowStats {
    /// Connection records opened.
    pub connections: u64,
    /// Records opened because a four-tuple was reused by a new SYN.
    pub reused_tuples: u64,
    /// Records ended by idle timeout.
    pub timed_out: u64,
    /// Records evicted to respect the cap.
    pub evicted: u64,
    /// Most connections tracked at once.
    pub peak_tracked: u64,
}

/// The connection table.
pub struct FlowTable {
    cfg: FlowConfig,
    map: HashMap<FlowKey, usize, foldhash::fast::RandomState>,
    conns: Slab<Connection>,
    timers: BinaryHeap<Reverse<(i64, usize, u64)>>,
    next_id: u64,
    now: Timestamp,
    /// Counters.
    pub stats: FlowStats,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            map: HashMap::default(),
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            now: Timestamp(i64::MIN),
            stats: FlowStats::default(),
        }
    }

    /// Connections tracked now.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    fn timeout_for(&self, c: &Connection) -> Duration {
        if c.is_closed() {
            Duration(self.cfg.msl.0.saturating_mul(2))
        } else if c.half[1].packets == 0 {
            self.cfg.attempt_timeout
        } else {
            self.cfg.idle_timeout
        }
    }

    /// Accounts one segment; connections that end meanwhile are handed to `out`.
    pub fn process(&mut self, seg: &Segment<'_>, out: &mut impl FnMut(Connection)) {
        if seg.ts > self.now {
            self.now = seg.ts;
            self.expire(out);
        }
        let src = Endpoint::new(seg.src, seg.sport);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let key = FlowKey::new(src, dst);
        let (idx, side) = match self.map.get(&key) {
            Some(&idx) => {
                let c = &self.conns[idx];
                let side = c.side_of(seg);
                if seg.flags.is_syn_only() && c.is_new_incarnation(seg, side) {
                    let prev_id = c.id;
                    let mut old = self.conns.remove(idx);
                    old.finish(EndReason::Reused);
                    out(old);
                    self.stats.reused_tuples += 1;
                    let idx = self.open(seg, out);
                    self.conns[idx].prev_id = Some(prev_id);
                    self.map.insert(key, idx);
                    (idx, self.conns[idx].side_of(seg))
                } else {
                    (idx, side)
                }
            }
            None => {
                let idx = self.open(seg, out);
                self.map.insert(key, idx);
                (idx, self.conns[idx].side_of(seg))
            }
        };
        let c = &mut self.conns[idx];
        let was_closed = c.is_closed();
        c.update(seg, side);
        if !was_closed && c.is_closed() {
            // Closed connections only wait out TIME-WAIT: check again at close + 2*MSL rather
            // than at the (longer) deadline scheduled when the connection opened.
            let id = c.id;
            let deadline = seg.ts.add(Duration(self.cfg.msl.0.saturating_mul(2))).0;
            self.timers.push(Reverse((deadline, idx, id)));
        }
    }

    fn open(&mut self, seg: &Segment<'_>, out: &mut impl FnMut(Connection)) -> usize {
        if self.conns.len() >= self.cfg.max_connections {
            self.evict_one(out);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        let c = Connection::new(id, seg);
        let deadline = seg.ts.add(self.timeout_for(&c)).0;
        let idx = self.conns.insert(c);
        self.timers.push(Reverse((deadline, idx, id)));
        self.stats.peak_tracked = self.stats.peak_tracked.max(self.conns.len() as u64);
        idx
    }

    fn remove(&mut self, idx: usize) -> Connection {
        let c = self.conns.remove(idx);
        let key = FlowKey::new(c.orig, c.resp);
        if self.map.get(&key) == Some(&idx) {
            self.map.remove(&key);
        }
        c
    }

    /// Ends connections whose idle deadline has passed.
    fn expire(&mut self, out: &mut impl FnMut(Connection)) {
        while let Some(&Reverse((deadline, idx, id))) = self.timers.peek() {
            if deadline > self.now.0 {
                break;
            }
            self.timers.pop();
            let Some(c) = self.conns.get(idx).filter(|c| c.id == id) else {
                continue;
            };
            let real = c.last_ts.add(self.timeout_for(c)).0;
            if real > self.now.0 {
                self.timers.push(Reverse((real, idx, id)));
                continue;
            }
            let mut c = self.remove(idx);
            c.finish(EndReason::Timeout);
            if c.end_reason == Some(EndReason::Timeout) {
                self.stats.timed_out += 1;
            }
            out(c);
        }
    }

    /// Evicts the connection whose timer is due soonest.
    fn evict_one(&mut self, out: &mut impl FnMut(Connection)) {
        while let Some(Reverse((_, idx, id))) = self.timers.pop() {
            if self.conns.get(idx).is_some_and(|c| c.id == id) {
                let mut c = self.remove(idx);
                c.finish(EndReason::Evicted);
                self.stats.evicted += 1;
                out(c);
                return;
            }
        }
    }

    /// Ends every remaining connection (end of capture), in id order.
    pub fn finish(&mut self, out: &mut impl FnMut(Connection)) {
        let mut rest: Vec<Connection> = self.conns.drain().collect();
        self.map.clear();
        self.timers.clear();
        rest.sort_unstable_by_key(|c| c.id);
        for mut c in rest {
            c.finish(EndReason::CaptureEnd);
            out(c);
        }
    }
}

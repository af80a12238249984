//! The connection table: a seeded hash map from four-tuple to a slab slot, a lazy timer heap on
//! packet time, and a hard cap on tracked connections.
//!
//! Packets only touch `last_ts`; a timer entry is re-checked when it comes due and either expires
//! the connection or is pushed again at its real deadline (retina's lazy wheel, as a heap).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use hashbrown::HashMap;
use slab::Slab;

use super::{Connection, EndReason, Endpoint, FlowKey, Side};
use crate::detect::flood::Resolution;
use crate::detect::{Anomaly, DetectConfig, ListenerConfig, ListenerTracker};
use crate::event::Event;
use crate::tcp::reassembly::{Budget, OverlapPolicy, StreamSink};
use crate::time::{Duration, Timestamp};
use crate::wire::Segment;

/// Limits and timeouts of the table. Defaults are documented in README and `tcpaudit --help`.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Maximum segment lifetime; closed connections are kept 2*MSL (TIME-WAIT) to catch reuse.
    /// Default 30 s (Linux's 60 s TIME-WAIT); RFC 9293 suggests 2 minutes.
    pub msl: Duration,
    /// Idle time after which an established connection (or one seen midstream) is ended with
    /// reason `timeout`. Default 1 hour.
    pub idle_timeout: Duration,
    /// Idle time after which an unanswered attempt is ended. Default 130 s, past Linux's last SYN
    /// retransmission (tcp_syn_retries 6: 1+2+4+8+16+32+64 s).
    pub attempt_timeout: Duration,
    /// Idle time after which an answered handshake that never completed (SYN-RECEIVED) is ended.
    /// Default 75 s, past Linux's last SYN-ACK retransmission (tcp_synack_retries 5: 63 s).
    pub handshake_timeout: Duration,
    /// Idle time after which a half-closed connection (one FIN seen: FIN-WAIT, CLOSE-WAIT) is
    /// ended. Default 10 minutes.
    pub half_closed_timeout: Duration,
    /// Connections tracked at once; beyond it the connection due soonest is evicted.
    pub max_connections: usize,
    /// Which bytes win when a retransmission disagrees with bytes already seen.
    pub overlap_policy: OverlapPolicy,
    /// Bytes held per direction (out of order, or delivered and not yet acknowledged).
    pub max_stream_buffer: usize,
    /// Bytes held over all streams.
    pub max_reassembly_memory: usize,
    /// Keep stream bytes: compare retransmitted bytes (`overlap_conflict`) and feed the
    /// stream sink. Without it only ranges are tracked.
    pub keep_bytes: bool,
    /// Keep every segment's Wireshark classes on its connection record (for comparisons).
    pub segment_events: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            msl: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(3600),
            attempt_timeout: Duration::from_secs(130),
            handshake_timeout: Duration::from_secs(75),
            half_closed_timeout: Duration::from_secs(600),
            max_connections: 1_000_000,
            overlap_policy: OverlapPolicy::First,
            max_stream_buffer: 1 << 20,
            max_reassembly_memory: 256 << 20,
            keep_bytes: false,
            segment_events: false,
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
    /// Segments of attempts beyond the half-open caps, counted per listener instead of becoming
    /// connection records (a flood of spoofed SYNs cannot grow memory).
    pub aggregated_segments: u64,
    /// Segments whose bytes reassembly could not hold (a memory bound was reached).
    pub reassembly_cap_hits: u64,
    /// Most bytes reassembly held at once.
    pub reassembly_peak_bytes: u64,
}

/// The connection table.
pub struct FlowTable {
    cfg: FlowConfig,
    detect: DetectConfig,
    listeners: ListenerTracker,
    anomalies: Vec<Anomaly>,
    budget: Budget,
    sink: Option<Box<dyn StreamSink>>,
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
    pub fn new(cfg: FlowConfig, detect: DetectConfig, listeners: ListenerConfig) -> Self {
        FlowTable {
            cfg,
            detect,
            listeners: ListenerTracker::new(listeners),
            anomalies: Vec::new(),
            budget: Budget {
                per_stream_cap: cfg.max_stream_buffer,
                global_cap: cfg.max_reassembly_memory,
                ..Budget::default()
            },
            sink: None,
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

    /// How long `c` may stay idle in its current phase.
    fn timeout_for(&self, c: &Connection) -> Duration {
        if c.is_closed() {
            Duration(self.cfg.msl.0.saturating_mul(2))
        } else if c.half[1].packets == 0 {
            self.cfg.attempt_timeout
        } else if c.half[0].syns > 0 && !c.detect.established {
            self.cfg.handshake_timeout
        } else if c.first_fin.is_some() {
            self.cfg.half_closed_timeout
        } else {
            self.cfg.idle_timeout
        }
    }

    /// Sends every direction's in-order bytes to `sink` (`--write-streams`).
    pub fn set_stream_sink(&mut self, sink: Box<dyn StreamSink>) {
        self.sink = Some(sink);
    }

    /// The listener tracker (for its counters).
    pub fn listeners(&self) -> &ListenerTracker {
        &self.listeners
    }

    /// Accounts one segment; connections that end and anomalies decided meanwhile go to `out`.
    pub fn process(&mut self, seg: &Segment<'_>, out: &mut impl FnMut(Event<'_>)) {
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
                    self.map.remove(&key);
                    self.stats.reused_tuples += 1;
                    let opened = self.open(seg, dst, out);
                    if let Some(new) = opened {
                        let c = &mut self.conns[new];
                        c.prev_id = Some(prev_id);
                        crate::detect::reuse::on_new_incarnation(
                            &old,
                            c,
                            seg,
                            &self.detect,
                            &mut self.anomalies,
                        );
                    }
                    // The old incarnation's TIME-WAIT ends here (RFC 9293 §3.10.7.4, RFC 6191).
                    let transitions = &mut old.transitions;
                    old.tcp.supersede(seg.ts, &mut |_| *transitions += 1);
                    self.end(old, EndReason::Reused, out);
                    let Some(idx) = opened else { return };
                    self.map.insert(key, idx);
                    (idx, self.conns[idx].side_of(seg))
                } else {
                    (idx, side)
                }
            }
            None => {
                // Answers to attempts aggregated beyond the caps (SYN-ACKs to spoofed sources)
                // are aggregated too.
                if seg.flags.is_syn_ack() && self.listeners.aggregating(&src) {
                    self.stats.aggregated_segments += 1;
                    return;
                }
                let Some(idx) = self.open(seg, dst, out) else {
                    return;
                };
                self.map.insert(key, idx);
                (idx, self.conns[idx].side_of(seg))
            }
        };
        let timeout_before = self.timeout_for(&self.conns[idx]);
        let c = &mut self.conns[idx];
        let had_synack = c.half(Side::Resp).sent_synack;
        let mut reasm = crate::flow::ReasmCtx {
            budget: &mut self.budget,
            policy: self.cfg.overlap_policy,
            keep: self.cfg.keep_bytes || self.sink.is_some(),
            segment_events: self.cfg.segment_events,
            sink: &mut self.sink,
        };
        c.update(seg, side, &self.detect, &mut reasm, &mut self.anomalies);
        if c.attempt_open {
            if !had_synack && c.half(Side::Resp).sent_synack {
                self.listeners.answered(c.resp, seg.ts);
            }
            if c.detect.established || c.first_rst.is_some() {
                c.attempt_open = false;
                let (resp, r) = (c.resp, resolution(c, seg.ts));
                self.listeners
                    .resolve(resp, r, seg.frame, &mut self.anomalies);
            }
        }
        // A phase with a shorter timeout (handshake answered, half-closed, closed and waiting
        // out TIME-WAIT) is checked at its own deadline rather than at the longer one
        // scheduled before.
        let timeout = self.timeout_for(&self.conns[idx]);
        if timeout < timeout_before {
            let id = self.conns[idx].id;
            self.timers.push(Reverse((seg.ts.add(timeout).0, idx, id)));
        }
        self.flush_anomalies(out);
    }

    fn flush_anomalies(&mut self, out: &mut impl FnMut(Event<'_>)) {
        for a in self.anomalies.drain(..) {
            out(Event::Anomaly(&a));
        }
    }

    /// Opens a connection for `seg`, or aggregates it when it is an attempt beyond the caps.
    fn open(
        &mut self,
        seg: &Segment<'_>,
        dst: Endpoint,
        out: &mut impl FnMut(Event<'_>),
    ) -> Option<usize> {
        let attempt = seg.flags.is_syn_only();
        if attempt && !self.listeners.may_track(&dst) {
            self.listeners
                .aggregate(dst, seg.src, seg.frame, seg.ts, &mut self.anomalies);
            self.stats.aggregated_segments += 1;
            self.flush_anomalies(out);
            return None;
        }
        if self.conns.len() >= self.cfg.max_connections {
            self.evict_one(out);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        let mut c = Connection::new(id, seg, &self.detect);
        let deadline = seg.ts.add(self.timeout_for(&c)).0;
        if attempt {
            c.attempt_open = true;
            self.listeners
                .attempt(c.resp, seg.src, seg.frame, seg.ts, &mut self.anomalies);
        }
        let idx = self.conns.insert(c);
        self.timers.push(Reverse((deadline, idx, id)));
        self.stats.peak_tracked = self.stats.peak_tracked.max(self.conns.len() as u64);
        Some(idx)
    }

    fn remove(&mut self, idx: usize) -> Connection {
        let c = self.conns.remove(idx);
        let key = FlowKey::new(c.orig, c.resp);
        if self.map.get(&key) == Some(&idx) {
            self.map.remove(&key);
        }
        c
    }

    /// Runs a record's end rules, resolves its attempt and hands everything out.
    fn end(&mut self, mut c: Connection, why: EndReason, out: &mut impl FnMut(Event<'_>)) {
        let now = if why == EndReason::Timeout {
            c.last_ts.add(self.timeout_for(&c))
        } else {
            self.now
        };
        c.finish(why, now, &self.detect, &mut self.anomalies);
        let mut reasm = crate::flow::ReasmCtx {
            budget: &mut self.budget,
            policy: self.cfg.overlap_policy,
            keep: self.cfg.keep_bytes || self.sink.is_some(),
            segment_events: self.cfg.segment_events,
            sink: &mut self.sink,
        };
        c.finish_streams(&mut reasm);
        self.stats.reassembly_cap_hits = self.budget.cap_hits;
        self.stats.reassembly_peak_bytes = self.budget.peak as u64;
        if c.attempt_open {
            c.attempt_open = false;
            let r = resolution(&c, c.last_ts);
            self.listeners
                .resolve(c.resp, r, c.last_frame, &mut self.anomalies);
        }
        self.flush_anomalies(out);
        out(Event::Connection(&c));
    }

    /// Moves the table's clock to `now` without a packet (live capture on a quiet link), ending
    /// the connections whose idle deadline has passed.
    pub fn advance(&mut self, now: Timestamp, out: &mut impl FnMut(Event<'_>)) {
        if now > self.now {
            self.now = now;
            self.expire(out);
            self.flush_anomalies(out);
        }
    }

    /// Tracked connections, in no particular order.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.conns.iter().map(|(_, c)| c)
    }

    /// Entries in the timer heap (live and stale), for tests of its bound.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// The table's clock: the newest packet (or [`FlowTable::advance`]) time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Ends connections whose idle deadline has passed.
    fn expire(&mut self, out: &mut impl FnMut(Event<'_>)) {
        // Entries of connections that already ended wait in the heap until their deadline; on a
        // long run with many short connections, drop them once they outnumber the live ones.
        if self.timers.len() > 4 * self.conns.len() + 4096 {
            let conns = &self.conns;
            self.timers
                .retain(|Reverse((_, idx, id))| conns.get(*idx).is_some_and(|c| c.id == *id));
        }
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
            let c = self.remove(idx);
            if !c.is_closed() {
                self.stats.timed_out += 1;
            }
            self.end(c, EndReason::Timeout, out);
        }
    }

    /// Evicts the connection whose timer is due soonest.
    fn evict_one(&mut self, out: &mut impl FnMut(Event<'_>)) {
        while let Some(Reverse((_, idx, id))) = self.timers.pop() {
            if self.conns.get(idx).is_some_and(|c| c.id == id) {
                let c = self.remove(idx);
                self.stats.evicted += 1;
                self.end(c, EndReason::Evicted, out);
                return;
            }
        }
    }

    /// Ends every remaining connection (end of capture), in id order, then the listener
    /// episodes; returns the stream sink's error, if any.
    pub fn finish(&mut self, out: &mut impl FnMut(Event<'_>)) -> Result<(), String> {
        let mut rest: Vec<Connection> = self.conns.drain().collect();
        self.map.clear();
        self.timers.clear();
        rest.sort_unstable_by_key(|c| c.id);
        for c in rest {
            self.end(c, EndReason::CaptureEnd, out);
        }
        let now = self.now;
        self.listeners.finish(now, &mut self.anomalies);
        self.flush_anomalies(out);
        self.sink.as_mut().map_or(Ok(()), |s| s.finish())
    }
}

/// What the listener rules need to know about a finished attempt.
fn resolution(c: &Connection, at: Timestamp) -> Resolution {
    let (o, r) = (c.half[0].options, c.half[1].options);
    let options_stripped = match (o, r) {
        (Some(o), Some(r)) => {
            !o.timestamps
                && (o.wscale.is_some() || o.sack_permitted)
                && r.wscale.is_none()
                && !r.sack_permitted
        }
        _ => false,
    };
    Resolution {
        completed: c.detect.established,
        answered: c.half(Side::Resp).sent_synack || c.half(Side::Resp).rsts > 0,
        synack_repeated: c.detect.synacks.count > 1,
        options_stripped,
        started: c.first_ts,
        at,
    }
}

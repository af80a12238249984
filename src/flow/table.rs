//! The connection table: a seeded hash map from four-tuple to a slab slot, lazy timers on
//! packet time ([`super::timers`]), and a hard cap on tracked connections.
//!
//! Packets only touch `last_ts`; a timer entry is re-checked when it comes due and either expires
//! the connection or is pushed again at its real deadline (retina's lazy wheel).

use super::app::AppSide;

mod bad_header;
mod expiry;
mod incarnation;
mod keep;
mod memory;
#[cfg(test)]
mod memory_tests;
mod outlets;
mod shared;
mod slot;
mod slots;

pub use outlets::Spent;
use shared::SharedLog;
pub use shared::{SharedCall, SharedOut};
use slot::Slot;
use slots::Slots;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hashbrown::HashMap;

use super::attempt::resolution;
use super::connection::Found;
use super::limits::{FlowConfig, FlowStats};
use super::streams::{ReasmCtx, StreamSink};
use super::timers::Timers;
use super::{Connection, EndReason, Endpoint, FlowKey, Side};
use crate::detect::flood::ListenerCall;
use crate::detect::isn::IsnTracker;
use crate::detect::{Anomaly, DetectConfig, ListenerConfig, ListenerTracker};
use crate::event::{Event, Transition};
use crate::tcp::TcpState;
use crate::tcp::reassembly::Budget;
use crate::time::{Duration, Timestamp};
use crate::wire::{IcmpError, PerSide, Segment};

/// The idle phases of a connection, each with its own timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Closed and waiting out TIME-WAIT (2*MSL), to catch reuse.
    Closed,
    /// A SYN with no answer yet.
    Attempt,
    /// Answered, handshake not completed (SYN-RECEIVED).
    Handshake,
    /// One FIN seen (FIN-WAIT, CLOSE-WAIT).
    HalfClosed,
    /// Established, or picked up midstream (whether or not the other side has spoken).
    Open,
}

/// The connection table.
pub struct FlowTable {
    cfg: FlowConfig,
    detect: DetectConfig,
    listeners: ListenerTracker,
    /// ISN sketches per sending host (flow/isn.rs).
    pub(super) isn: IsnTracker,
    pub(super) anomalies: Vec<Anomaly>,
    /// State changes of the segment being accounted, announced after it.
    changes: Vec<Transition>,
    budget: Budget,
    sink: Option<Box<dyn StreamSink>>,
    /// Takes every connection once its record has been handed out ([`FlowTable::set_spent`]).
    spent: Option<Spent>,
    /// Takes the calls on state shared between connections, when the table is one shard of
    /// several ([`FlowTable::set_shared`]).
    shared: Option<SharedLog>,
    /// The application layer, when the run parses it.
    pub(super) app: Option<AppSide>,
    /// Stories are kept while this holds (see [`FlowTable::keep_stories_while`]).
    stories_wanted: Option<Arc<AtomicBool>>,
    pub(super) map: HashMap<FlowKey, usize, foldhash::fast::RandomState>,
    /// Boxed: a connection is a few KiB, and a slot moves only a pointer when it is inserted,
    /// removed or sorted (and the slab grows without copying them). Under a SYN flood, an
    /// attempt that has shown only its SYN is kept as that SYN, and so under a scan is a
    /// connection opened by a lone ACK or RST; when memory is short, closed connections are
    /// kept encoded ([`slot`]).
    pub(super) conns: Slots,
    timers: Timers,
    /// Heap size beyond which stale timer entries are dropped next.
    compact_at: usize,
    /// Times stale timer entries were dropped.
    compactions: u64,
    /// The connections a timer pass ends (kept for its capacity).
    due: Vec<(Timestamp, u64, usize)>,
    /// Where connections are encoded before they are frozen (kept for its capacity).
    freeze_buf: crate::base::pack::Writer,
    /// Connections that closed, in order (slot, id): frozen once settled from
    /// [`FlowConfig::freeze_from`] connections tracked, or when memory is short.
    closed: VecDeque<(u32, u64)>,
    next_id: u64,
    /// Bytes held before the table (IP fragments), charged to the same memory bound.
    outside_bytes: usize,
    pub(super) now: Timestamp,
    /// Counters.
    pub stats: FlowStats,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig, detect: DetectConfig, listeners: ListenerConfig) -> Self {
        FlowTable {
            cfg,
            detect,
            listeners: {
                let mut t = ListenerTracker::new(listeners);
                // Listener state may take half of the memory bound: past it, new listeners'
                // attempts are only counted (connections can be evicted; listeners cannot).
                t.set_memory_limit(cfg.max_memory / 2);
                t
            },
            isn: IsnTracker::default(),
            anomalies: Vec::new(),
            changes: Vec::new(),
            budget: Budget {
                per_stream_cap: cfg.max_stream_buffer,
                // Reassembly may take a quarter of the memory bound: the rest is what
                // evicting connections can free as connections arrive.
                global_cap: cfg.max_reassembly_memory.min(cfg.max_memory / 4),
                // Delivered bytes are compared with retransmissions when overlaps are checked
                // (and whenever a stream sink takes the bytes).
                retain: cfg.keep_bytes,
                ..Budget::default()
            },
            sink: None,
            spent: None,
            shared: None,
            app: None,
            stories_wanted: None,
            map: HashMap::default(),
            conns: Slots::default(),
            timers: Timers::default(),
            compact_at: 0,
            compactions: 0,
            due: Vec::new(),
            freeze_buf: crate::base::pack::Writer::new(),
            closed: VecDeque::new(),
            next_id: 1,
            outside_bytes: 0,
            now: Timestamp::MIN,
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

    /// The idle phase `c` is in.
    fn phase(c: &Connection) -> Phase {
        let r = c.record();
        if r.is_closed() {
            Phase::Closed
        } else if r.half(Side::Resp).packets == 0 && r.half(Side::Orig).syns > 0 {
            // Only a SYN makes an attempt: a connection picked up midstream whose other side
            // has not spoken yet is open (one-sided captures, a quiet peer).
            Phase::Attempt
        } else if r.half(Side::Orig).syns > 0 && !r.established() {
            Phase::Handshake
        } else if r.first_fin.is_some() {
            Phase::HalfClosed
        } else {
            Phase::Open
        }
    }

    /// How long `c` may stay idle in its current phase.
    pub(super) fn timeout_for(&self, c: &Connection) -> Duration {
        match Self::phase(c) {
            Phase::Closed => self.detect.two_msl(),
            Phase::Attempt => self.cfg.attempt_timeout,
            Phase::Handshake => self.cfg.handshake_timeout,
            Phase::HalfClosed => self.cfg.half_closed_timeout,
            Phase::Open => self.cfg.idle_timeout,
        }
    }

    /// The listener tracker (for its counters).
    pub fn listeners(&self) -> &ListenerTracker {
        &self.listeners
    }

    /// What reassembly needs, borrowed from the table.
    fn reasm(&mut self) -> ReasmCtx<'_> {
        let keep = self.reads_payload();
        ReasmCtx {
            budget: &mut self.budget,
            policy: self.cfg.overlap_policy,
            keep,
            sink: &mut self.sink,
            app: self.app.as_mut().map(|a| &mut a.layer),
        }
    }

    /// Accounts one segment; connections that open, change state and end, and anomalies
    /// decided meanwhile, go to `out`.
    pub fn process(&mut self, seg: &Segment<'_>, out: &mut impl FnMut(Event<'_>)) {
        if seg.ts > self.now {
            self.now = seg.ts;
            self.expire(out);
        }
        let src = Endpoint::new(seg.src, seg.sport);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let key = FlowKey::new(src, dst);
        // Whether the segment opened a record here (not a new incarnation of a tracked one,
        // which the table links to its predecessor).
        let (idx, side, opened) = match self.map.get(&key) {
            Some(&idx) => {
                let c = self.conn(idx);
                let side = c.side_of(seg);
                // Both checks look at SYN-only segments alone and return at once for the rest.
                let replay = c.is_replay(seg, side);
                if !(replay || c.is_new_incarnation(seg, side)) {
                    (idx, side, false)
                } else {
                    let next = if replay {
                        self.replay(idx, key, seg, out)
                    } else {
                        self.reincarnate(idx, key, seg, side, out)
                    };
                    let Some(idx) = next else {
                        return;
                    };
                    (idx, self.conn(idx).side_of(seg), false)
                }
            }
            None => {
                // Answers to attempts aggregated beyond the caps (SYN-ACKs to spoofed sources,
                // refusals, the sources' RSTs) are counted for them and aggregated too; the
                // initiator's ACK completing one opens a record as a connection picked up
                // midstream.
                let aggregated_answer = self.listener_call(ListenerCall::Untracked {
                    src,
                    dst,
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    frame: seg.frame,
                    ts: seg.ts,
                });
                if aggregated_answer {
                    self.stats.aggregated_segments += 1;
                    self.flush_anomalies(out);
                    return;
                }
                let Some(idx) = self.open(seg, dst, out) else {
                    return;
                };
                self.map.insert(key, idx);
                (idx, self.conn(idx).side_of(seg), true)
            }
        };
        let (keep, detect) = (self.keep(), self.detect);
        // Every arm above left the slot in full: this is never called.
        let (caps, zeek_view, policy) = (
            self.budget_caps(),
            self.cfg.zeek_view,
            self.cfg.overlap_policy,
        );
        let rebuild = || slot::Rebuild::of(&detect, zeek_view, policy, caps);
        let keep_bytes = self.reads_payload();
        let one_sided = self.capture_one_sided();
        let mut reasm = ReasmCtx {
            budget: &mut self.budget,
            policy: self.cfg.overlap_policy,
            keep: keep_bytes,
            sink: &mut self.sink,
            app: self.app.as_mut().map(|a| &mut a.layer),
        };
        let c = self.conns.full(idx, rebuild);
        c.capture_one_sided = one_sided;
        let (proved_before, two_before) = (c.proved_one_sided(), c.two_sided());
        let had_synack = c.record().half(Side::Resp).sent_synack;
        let closed_before = c.record().is_closed();
        let synacks_before = c.synack_copies();
        let mut found = Found {
            anomalies: &mut self.anomalies,
            changes: &mut self.changes,
        };
        c.update(seg, side, &detect, &mut reasm, keep, &mut found);
        // A closed connection's queues empty with its last segments; it waits out 2*MSL
        // without their room (cheap once given back: the queues are then unallocated).
        if c.record().is_closed() {
            c.release_spare();
        }
        let (proved, two) = (
            !proved_before && c.proved_one_sided(),
            !two_before && c.two_sided(),
        );
        self.stats.proved_one_sided += u64::from(proved);
        self.stats.two_sided += u64::from(two);
        let cookie = c.take_cookie_lag();
        // What the listener tracker is told, gathered while the connection is borrowed and told
        // after (most segments tell it nothing: a few flags, no call).
        let (resp, id, first_ts) = (c.record().resp, c.record().id, c.record().first_ts);
        let (mut synack, mut answered, mut resolved) = (None, false, None);
        if c.attempt_open {
            let synacks = c.synack_copies();
            synack = (synacks > synacks_before).then_some(synacks);
            answered = !had_synack && c.record().half(Side::Resp).sent_synack;
            if c.record().established() || c.record().first_rst.is_some() {
                c.attempt_open = false;
                resolved = Some(resolution(c, seg.ts, seg.ts));
            }
        }
        if proved || two {
            self.hand_on(SharedCall::Sides { proved, two });
        }
        let (frame, ts) = (seg.frame, seg.ts);
        if let Some((lag_ms, decoded)) = cookie {
            self.listener_call(ListenerCall::TimestampCookie {
                listener: resp,
                lag_ms,
                decoded,
                frame,
                ts,
            });
        }
        if let Some(copies) = synack {
            self.listener_call(ListenerCall::Synack {
                listener: resp,
                conn: id,
                copies,
                frame,
                ts,
            });
        }
        if answered {
            self.listener_call(ListenerCall::Answered {
                listener: resp,
                ts,
                syn_at: first_ts,
            });
        }
        if let Some(r) = resolved {
            self.listener_call(ListenerCall::Resolve {
                listener: resp,
                r,
                frame,
            });
        }
        self.note_isn(seg, idx);
        // A new connection gets its timer; a phase with a shorter timeout (handshake answered,
        // half-closed, closed and waiting out TIME-WAIT) is checked at its own deadline when
        // that comes before the one scheduled.
        let deadline = seg.ts.add(self.slot_timeout(&self.conns[idx]));
        let c = self.conns.full(idx, rebuild);
        if c.timer_at.is_none_or(|at| deadline < at) {
            let id = c.record().id;
            self.conns.set_timer_at(idx, deadline);
            self.push_timer(deadline, idx, id);
        }
        let rec = self.conns.full(idx, rebuild).record();
        let closed = !closed_before && rec.is_closed();
        for t in self.changes.drain(..) {
            out(Event::StateChanged(rec, &t));
        }
        if self.cfg.segment_stream {
            out(Event::Segment(rec, seg));
        }
        self.flush_anomalies(out);
        if opened {
            self.compact(idx, seg, keep);
        } else if closed {
            self.note_closed(idx);
        }
    }

    /// Links an ICMP error to the connection whose segment it quotes (the quoted segment's
    /// sender is one side of it) and reports it there; errors quoting no tracked connection are
    /// only counted.
    pub fn icmp_error(&mut self, e: &IcmpError, out: &mut impl FnMut(Event<'_>)) {
        if e.ts > self.now {
            self.now = e.ts;
            self.expire(out);
        }
        let src = Endpoint::new(e.src, e.sport);
        let key = FlowKey::new(src, Endpoint::new(e.dst, e.dport));
        let linked = self.map.get(&key).copied().filter(|&idx| {
            let c = self.conn(idx);
            c.sent_seq(c.view().side_of(src), e.seq)
        });
        let Some(idx) = linked else {
            self.stats.icmp_errors_unlinked += 1;
            return;
        };
        self.stats.icmp_errors_linked += 1;
        let rebuild = self.rebuild();
        let c = self.conns.full(idx, || rebuild);
        let side = c.view().side_of(src);
        c.icmp_error(e, side, &self.detect, &mut self.anomalies);
        self.flush_anomalies(out);
    }

    /// Opens a connection for `seg`, or aggregates it when it is an attempt beyond the caps.
    fn open(
        &mut self,
        seg: &Segment<'_>,
        dst: Endpoint,
        out: &mut impl FnMut(Event<'_>),
    ) -> Option<usize> {
        self.open_as(seg, dst, seg.flags.is_syn_only(), out)
    }

    /// Opens a connection for `seg`; with `attempt`, as a connection attempt of its listener
    /// (aggregated beyond the caps). An old duplicate SYN is no attempt: nobody is connecting.
    fn open_as(
        &mut self,
        seg: &Segment<'_>,
        dst: Endpoint,
        attempt: bool,
        out: &mut impl FnMut(Event<'_>),
    ) -> Option<usize> {
        // An attempt that would need a tracked connection evicted under the memory bound is
        // aggregated as beyond the half-open caps: a spoofed flood then costs a few bytes per
        // SYN instead of a record and an eviction each (which made a flood to random ports
        // under a small bound several times slower), and it cannot flush out the connections
        // the table holds.
        let room = self.freeze_for_room(self.cfg.connection_bytes());
        if attempt
            && (!self.may_track(dst, seg.ts)
                || self.listener_call(ListenerCall::IsAggregated {
                    listener: dst,
                    src: seg.src,
                    sport: seg.sport,
                    isn: seg.seq,
                })
                || !room)
        {
            // A shard assumes room for every attempt: this one was for want of memory.
            self.hand_on(SharedCall::Bounded);
            self.listener_room(0);
            self.listener_call(ListenerCall::Aggregate {
                listener: dst,
                src: seg.src,
                sport: seg.sport,
                isn: seg.seq,
                frame: seg.frame,
                ts: seg.ts,
            });
            self.stats.aggregated_segments += 1;
            let in_use = self.memory_in_use() as u64;
            self.stats.peak_memory_bytes = self.stats.peak_memory_bytes.max(in_use);
            self.flush_anomalies(out);
            return None;
        }
        if self.conns.len() >= self.cfg.max_connections {
            self.evict_one(out);
        }
        // Room for one more connection under the memory bound: end those due soonest (when
        // freezing closed ones above did not make it).
        while !room
            && self.committed() + self.cfg.connection_bytes() > self.cfg.max_memory
            && self.evict_one(out)
        {
            self.stats.evicted_memory += 1;
        }
        let in_use = self.memory_in_use() + super::CONNECTION_BYTES;
        self.stats.peak_memory_bytes = self.stats.peak_memory_bytes.max(in_use as u64);
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        // Its timer is set once its first segment is accounted (process), in the phase that
        // segment puts it in.
        let mut c = Box::new(Connection::new(id, seg, &self.detect, self.cfg.zeek_view));
        if attempt {
            c.attempt_open = true;
            self.listener_room(super::CONNECTION_BYTES);
            self.listener_call(ListenerCall::Attempt {
                listener: c.record().resp,
                src: seg.src,
                frame: seg.frame,
                ts: seg.ts,
            });
        }
        let idx = self.conns.insert(Slot::Full(c));
        self.stats.peak_tracked = self.stats.peak_tracked.max(self.conns.len() as u64);
        out(Event::Opened(self.conn(idx).record()));
        Some(idx)
    }

    fn remove(&mut self, idx: usize) -> Box<Connection> {
        let rebuild = self.rebuild();
        let c = self.conns.remove(idx).into_full(|| rebuild);
        let key = FlowKey::new(c.record().orig, c.record().resp);
        if self.map.get(&key) == Some(&idx) {
            self.map.remove(&key);
        }
        c
    }

    /// Runs a record's end rules, resolves its attempt and hands everything out.
    fn end(&mut self, mut c: Box<Connection>, why: EndReason, out: &mut impl FnMut(Event<'_>)) {
        c.capture_one_sided = self.capture_one_sided();
        let now = if why == EndReason::Timeout {
            c.record().last_ts.add(self.timeout_for(&c))
        } else {
            self.now
        };
        c.finish(why, now, &self.detect, &mut self.anomalies);
        // Before the streams end, while the application layer still knows the request under way.
        self.annotate_app();
        c.finish_streams(&mut self.reasm());
        self.stats.reassembly_cap_hits = self.budget.cap_hits;
        self.stats.reassembly_peak_bytes = self.budget.peak as u64;
        if c.attempt_open {
            c.attempt_open = false;
            self.listener_call(ListenerCall::Resolve {
                listener: c.record().resp,
                r: resolution(&c, c.record().last_ts, now),
                frame: c.record().last_frame,
            });
        }
        self.flush_ending(Some(&mut c), out);
        out(Event::Closed(c.finish_record()));
        if let Some(spent) = &mut self.spent {
            spent(c);
        }
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

    /// Both ends' states of each connection tracked now, in no particular order.
    pub fn states(&self) -> impl Iterator<Item = &PerSide<TcpState>> {
        self.conns.iter().map(Slot::states)
    }

    /// Timer entries (live and stale), for tests of its bound.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// Times stale timer entries were dropped, for tests that compaction stays rare.
    pub fn timer_compactions(&self) -> u64 {
        self.compactions
    }

    /// The table's clock: the newest packet (or [`FlowTable::advance`]) time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Ends every remaining connection (end of capture), in id order, then the listener
    /// episodes; returns the stream sink's error, if any.
    pub fn finish(&mut self, out: &mut impl FnMut(Event<'_>)) -> Result<(), String> {
        // Only the pointers are collected (8 bytes a connection; measured with 200,000 open
        // connections, RSS did not move while they were written out), and each connection is
        // freed as it is written. The map and the timers are given back first: nothing looks a
        // connection up any more.
        self.stats.thawed = self.conns.thawed();
        let mut rest = self.conns.drain();
        self.map = HashMap::default();
        self.timers = Timers::default();
        rest.sort_unstable_by_key(Slot::id);
        let rebuild = self.rebuild();
        for c in rest {
            self.hand_on(SharedCall::Ending {
                id: c.id(),
                at: None,
            });
            self.end(c.into_full(|| rebuild), EndReason::CaptureEnd, out);
        }
        // A shard's run ends the listeners' episodes itself.
        if !self.is_shard() {
            let now = self.now;
            self.listeners.finish(now, &mut self.anomalies);
        }
        if let Some(a) = self.app.as_mut() {
            a.finish(&mut self.anomalies);
        }
        self.flush_anomalies(out);
        self.sink.as_mut().map_or(Ok(()), |s| s.finish())
    }
}

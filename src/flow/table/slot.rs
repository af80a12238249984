//! A tracked connection as the table holds it: in full; under hostile traffic, a connection
//! that has shown nothing but the segment that opened it as that segment alone; when memory is
//! short, a closed connection encoded (frozen, below).
//!
//! A connection in full takes about 2.5 KiB (its record, the reference machine, both streams,
//! the Wireshark and Zeek emulations, the rules' state). A SYN flood to random ports holds
//! 65,536 attempts (`ListenerConfig::max_half_open_total`) and a scan or backscatter one record
//! per probe, most of which never see a second segment. Everything a connection knows after its
//! first segment follows from that segment and a few facts of the table at the time, so the
//! segment (a decoded header without payload) and those facts are kept instead, and the
//! connection is rebuilt from them, by the same code that built it, whenever it is next needed:
//! a segment of its four-tuple, an ICMP error about it, its timer, its eviction, the end of the
//! capture. Debug builds check at every compaction that the rebuilt connection is the one it
//! replaces, field for field.
//!
//! Rebuilding costs a connection's creation and one segment's accounting (about 1 µs), so it is
//! done only where traffic is hostile: for SYN attempts to a listener under a `syn_flood`, once
//! any attempt has been aggregated beyond a cap (half-open or listeners), or from
//! [`FlowConfig::compact_syns_from`](crate::flow::FlowConfig) half-open attempts at once,
//! which ordinary traffic does not reach, and for connections opened by any
//! other segment from [`FlowConfig::compact_from`](crate::flow::FlowConfig) connections tracked
//! at once (past the start of a capture, ordinary connections open with a SYN).
//!
//! A frozen connection is one whose ends have both closed, encoded whole (see
//! `flow::connection::frozen`: about 1.1 KB) while it waits out 2*MSL, and decoded, exactly, at
//! the same moments. Freezing and thawing one costs about 5 µs, so connections are frozen,
//! those that closed first first, only when a new one would not fit under `--max-memory`
//! (before any is evicted), or from [`FlowConfig::freeze_from`](crate::flow::FlowConfig)
//! connections tracked at once (off by default). A frozen connection is charged by its size.

use super::FlowTable;
use crate::detect::DetectConfig;
use crate::flow::Connection;
use crate::flow::connection::{Found, Keep};
use crate::flow::streams::ReasmCtx;
use crate::tcp::TcpState;
use crate::tcp::reassembly::Budget;
use crate::tcp::reassembly::OverlapPolicy;
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Segment, Side};

/// How long a closed connection stays in full before it is frozen: the last ACK of a close,
/// and the retransmissions of a FIN or RST whose answer was lost, come within a round trip or
/// a few; each segment of a frozen connection costs a decoding, and an encoding again.
const SETTLE: Duration = Duration::from_secs(1);

/// One slot of the table.
#[derive(Debug)]
pub(crate) enum Slot {
    /// The connection, in full.
    Full(Box<Connection>),
    /// A connection seen only as the segment that opened it.
    Lone(Box<Lone>),
    /// A closed connection, encoded while it waits out 2*MSL.
    Frozen(Box<Frozen>),
}

/// What a frozen connection takes beyond its encoded bytes: [`Frozen`], and what any connection
/// takes beside its state (as in [`crate::flow::CONNECTION_BYTES`]), with one more allocator's
/// header.
const FROZEN_BYTES: usize = std::mem::size_of::<Frozen>() + 312 + 16;

/// A closed connection, encoded (see `flow::connection::frozen`), with what the table reads of
/// it without decoding it.
#[derive(Debug)]
pub(crate) struct Frozen {
    /// The connection, encoded.
    bytes: Box<[u8]>,
    /// The record's id.
    id: u64,
    /// When the table's timer for it is due.
    timer_at: Option<Timestamp>,
    /// Its last segment's time.
    last_ts: Timestamp,
    /// Both ends' states (for the live view's counts).
    states: PerSide<TcpState>,
}

/// A connection that has shown only the segment that opened it: what rebuilding it takes.
#[derive(Debug)]
pub(crate) struct Lone {
    /// The segment (it carried no payload).
    seg: Segment<'static>,
    /// The record's id.
    id: u64,
    /// What the records kept beyond themselves when the segment was accounted.
    keep: Keep,
    /// The table's view of the capture's sidedness when the segment was accounted.
    capture_one_sided: bool,
    /// When the table's timer for it is due.
    timer_at: Option<Timestamp>,
    /// How long it may stay idle (its phase cannot change without a segment, which rebuilds
    /// it).
    idle: Duration,
    /// Both ends' states (for the live view's counts).
    states: PerSide<TcpState>,
    /// It counts as a half-open attempt of its listener.
    attempt: bool,
}

/// The table's settings a rebuild needs (copied, so that a slot can be rebuilt while other
/// parts of the table are borrowed).
#[derive(Clone, Copy)]
pub(in crate::flow) struct Rebuild {
    detect: DetectConfig,
    zeek_view: bool,
    policy: OverlapPolicy,
    budget: (usize, usize, bool),
}

impl Rebuild {
    /// What rebuilding a slot takes, from a table's detection settings, whether it keeps Zeek's
    /// view, its overlap policy and its reassembly bounds (global, per stream, bytes kept).
    pub(in crate::flow) fn of(
        detect: &DetectConfig,
        zeek_view: bool,
        policy: OverlapPolicy,
        budget: (usize, usize, bool),
    ) -> Self {
        Rebuild {
            detect: *detect,
            zeek_view,
            policy,
            budget,
        }
    }
}

impl Lone {
    /// The connection this segment built, built again: opened as it was (an attempt or not),
    /// the segment accounted with the table's facts of the time. What the segment decided then
    /// (anomalies, state changes) was handed out then, and is dropped here; reassembly's shared
    /// budget, which a segment without payload does not touch, is a scratch one.
    fn rebuild(&self, r: &Rebuild) -> Box<Connection> {
        let seg = &self.seg;
        let mut c = Box::new(Connection::new(self.id, seg, &r.detect, r.zeek_view));
        c.attempt_open = self.attempt;
        c.capture_one_sided = self.capture_one_sided;
        let (global_cap, per_stream_cap, retain) = r.budget;
        let mut budget = Budget {
            global_cap,
            per_stream_cap,
            retain,
            ..Budget::default()
        };
        let mut reasm = ReasmCtx {
            budget: &mut budget,
            policy: r.policy,
            keep: false,
            sink: &mut None,
            app: None,
        };
        let (mut anomalies, mut changes) = (Vec::new(), Vec::new());
        let mut found = Found {
            anomalies: &mut anomalies,
            changes: &mut changes,
        };
        let side = c.side_of(seg);
        c.update(seg, side, &r.detect, &mut reasm, self.keep, &mut found);
        c.take_cookie_lag();
        c.timer_at = self.timer_at;
        c
    }
}

impl Slot {
    /// Rebuilds the connection (with what `r` gives) if the slot holds its first segment, or
    /// decodes it if it was frozen; the slot then holds it in full. Out of line: nearly every
    /// slot met is in full already.
    #[cold]
    #[inline(never)]
    pub(in crate::flow) fn unfold(&mut self, r: impl FnOnce() -> Rebuild) {
        match self {
            Slot::Full(_) => {}
            Slot::Lone(s) => *self = Slot::Full(s.rebuild(&r())),
            Slot::Frozen(f) => {
                let mut c = Connection::decode(&f.bytes);
                // The timer may have moved since the connection was encoded (an entry that
                // surfaced before its real deadline is pushed again at that deadline).
                c.timer_at = f.timer_at;
                *self = Slot::Full(c);
            }
        }
    }

    /// The connection, out of its slot, rebuilt if the slot held its first segment or decoded
    /// if it was frozen.
    pub(in crate::flow) fn into_full(mut self, r: impl FnOnce() -> Rebuild) -> Box<Connection> {
        if !matches!(self, Slot::Full(_)) {
            self.unfold(r);
        }
        match self {
            Slot::Full(c) => c,
            Slot::Lone(_) | Slot::Frozen(_) => unreachable!("the slot was just unfolded"),
        }
    }

    /// What a frozen connection takes, as charged to `--max-memory`: its encoded bytes, its
    /// descriptor, and what every connection takes besides its state (allocators' headers,
    /// slab and map slots, timer entry: see [`crate::flow::CONNECTION_BYTES`]); 0 for a slot
    /// in another form.
    pub(in crate::flow) fn frozen_bytes(&self) -> usize {
        match self {
            Slot::Frozen(f) => f.bytes.len() + FROZEN_BYTES,
            Slot::Full(_) | Slot::Lone(_) => 0,
        }
    }

    /// The record's id.
    pub(in crate::flow) fn id(&self) -> u64 {
        match self {
            Slot::Full(c) => c.record().id,
            Slot::Lone(s) => s.id,
            Slot::Frozen(f) => f.id,
        }
    }

    /// When the table's timer for the connection is due.
    pub(in crate::flow) fn timer_at(&self) -> Option<Timestamp> {
        match self {
            Slot::Full(c) => c.timer_at,
            Slot::Lone(s) => s.timer_at,
            Slot::Frozen(f) => f.timer_at,
        }
    }

    /// Sets when the table's timer for the connection is due.
    pub(in crate::flow) fn set_timer_at(&mut self, at: Timestamp) {
        match self {
            Slot::Full(c) => c.timer_at = Some(at),
            Slot::Lone(s) => s.timer_at = Some(at),
            Slot::Frozen(f) => f.timer_at = Some(at),
        }
    }

    /// Both ends' states.
    pub(in crate::flow) fn states(&self) -> &PerSide<TcpState> {
        match self {
            Slot::Full(c) => &c.record().states,
            Slot::Lone(s) => &s.states,
            Slot::Frozen(f) => &f.states,
        }
    }

    /// The last time the connection was active.
    pub(in crate::flow) fn last_ts(&self) -> Timestamp {
        match self {
            Slot::Full(c) => c.record().last_ts,
            Slot::Lone(s) => s.seg.ts,
            Slot::Frozen(f) => f.last_ts,
        }
    }
}

impl FlowTable {
    /// What rebuilding a slot takes.
    pub(in crate::flow) fn rebuild(&self) -> Rebuild {
        Rebuild::of(
            &self.detect,
            self.cfg.zeek_view,
            self.cfg.overlap_policy,
            self.budget_caps(),
        )
    }

    /// How long the connection in `slot` may stay idle in its current phase (a held one's
    /// phase cannot change without a segment, which rebuilds it).
    pub(in crate::flow) fn slot_timeout(&self, slot: &Slot) -> Duration {
        match slot {
            Slot::Full(c) => self.timeout_for(c),
            Slot::Lone(s) => s.idle,
            // Only a closed connection is frozen, and its phase cannot change without a
            // segment, which decodes it.
            Slot::Frozen(_) => self.detect.two_msl(),
        }
    }

    /// The reassembly bounds a rebuild takes: global, per stream, and whether bytes are kept.
    pub(in crate::flow) fn budget_caps(&self) -> (usize, usize, bool) {
        let b = &self.budget;
        (b.global_cap, b.per_stream_cap, b.retain)
    }

    /// The connection in slot `idx`, rebuilt first if the slot holds its first segment, or
    /// decoded if it was frozen.
    #[inline(always)]
    pub(in crate::flow) fn conn(&mut self, idx: usize) -> &mut Connection {
        let (detect, caps) = (&self.detect, self.budget_caps());
        let (zeek_view, policy) = (self.cfg.zeek_view, self.cfg.overlap_policy);
        self.conns
            .full(idx, || Rebuild::of(detect, zeek_view, policy, caps))
    }

    /// Keeps the connection in slot `idx`, just opened by `seg`, as that segment alone when
    /// it has shown nothing else and the traffic looks hostile (see the module's comment). Not
    /// with the application layer or a stream sink, which keep state of their own by slot.
    pub(in crate::flow) fn compact(&mut self, idx: usize, seg: &Segment<'_>, keep: Keep) {
        if !self.cfg.compact
            || self.app.is_some()
            || self.sink.is_some()
            || seg.payload_len != 0
            || !seg.payload.is_empty()
        {
            return;
        }
        let (half_open, tracked) = (self.listeners.half_open_tracked(), self.conns.len());
        let Slot::Full(c) = &self.conns[idx] else {
            return;
        };
        let hostile = if c.attempt_open {
            // Once attempts have been aggregated beyond a cap (half-open, or listeners) the
            // traffic is hostile: a flood across a host's ports is aggregated long before any
            // listener is flooded or the half-open threshold is reached.
            half_open >= self.cfg.compact_syns_from
                || self.listeners.aggregated > 0
                || self.listeners.flooded(&c.record().resp)
        } else {
            !seg.flags.is_syn_only() && tracked >= self.cfg.compact_from as usize
        };
        let r = c.record();
        if !hostile || r.half(Side::Orig).packets + r.half(Side::Resp).packets != 1 {
            return;
        }
        let lone = Lone {
            seg: seg.with_payload(&[]),
            id: r.id,
            keep,
            capture_one_sided: c.capture_one_sided,
            timer_at: c.timer_at,
            idle: self.timeout_for(c),
            states: r.states,
            attempt: c.attempt_open,
        };
        #[cfg(debug_assertions)]
        assert_same(
            &lone.rebuild(&self.rebuild()),
            c,
            "rebuilt from its first segment",
        );
        self.conns.set(idx, Slot::Lone(Box::new(lone)));
        self.stats.lone_kept = self.stats.lone_kept.saturating_add(1);
    }

    /// Notes that the connection in slot `idx`, in full, has just closed: closed connections
    /// are frozen in the order they closed, once settled or when memory is short.
    pub(in crate::flow) fn note_closed(&mut self, idx: usize) {
        let id = self.conns[idx].id();
        // Entries of connections gone or no longer in full are dropped once they outnumber
        // the connections tracked, so the list stays within twice the table (and its cost
        // linear overall).
        if self.closed.len() > 2 * self.conns.len() + 1024 {
            let conns = &self.conns;
            self.closed.retain(
                |&(i, id)| matches!(conns.get(i as usize), Some(s @ Slot::Full(_)) if s.id() == id),
            );
        }
        // Slab indices stay below the number of connections tracked at once, which the
        // memory bound keeps far below 2^32.
        self.closed.push_back((idx as u32, id));
    }

    /// Whether closed connections are frozen once settled: from
    /// [`FlowConfig::freeze_from`](crate::flow::FlowConfig) connections tracked at once.
    #[inline]
    pub(in crate::flow) fn freezes_settled(&self) -> bool {
        self.conns.len() >= self.cfg.freeze_from as usize
    }

    /// From [`FlowConfig::freeze_from`](crate::flow::FlowConfig) connections tracked at once,
    /// freezes the connections that closed [`SETTLE`] ago or more.
    pub(in crate::flow) fn freeze_settled(&mut self) {
        while self.freezes_settled()
            && let Some(&(idx, id)) = self.closed.front()
        {
            if let Some(Slot::Full(c)) = self.conns.get(idx as usize)
                && c.record().id == id
                && c.record()
                    .closed_ts
                    .is_some_and(|at| at.add(SETTLE) > self.now)
            {
                break;
            }
            self.closed.pop_front();
            self.freeze(idx as usize, id);
        }
    }

    /// Freezes closed connections, those that closed first first, until `coming` more bytes
    /// fit under `--max-memory` (before anything is evicted to make room); false when none
    /// is left to freeze and they still do not fit.
    pub(in crate::flow) fn freeze_for_room(&mut self, coming: usize) -> bool {
        while self.committed() + coming > self.cfg.max_memory {
            let Some((idx, id)) = self.closed.pop_front() else {
                return false;
            };
            self.freeze(idx as usize, id);
        }
        true
    }

    /// Keeps connection `id`, in slot `idx`, encoded if it is still tracked there in full, both
    /// its ends have closed and its streams hold no bytes (see `flow::connection::frozen`).
    fn freeze(&mut self, idx: usize, id: u64) {
        let Some(Slot::Full(c)) = self.conns.get(idx) else {
            return;
        };
        let r = c.record();
        if r.id != id || !r.is_closed() || c.held_bytes() != 0 {
            return;
        }
        // One scratch buffer for every encoding, and one allocation of the exact size each.
        let frozen = Frozen {
            bytes: Box::from(c.encode(&mut self.freeze_buf)),
            id: r.id,
            timer_at: c.timer_at,
            last_ts: r.last_ts,
            states: r.states,
        };
        #[cfg(debug_assertions)]
        assert_same(&Connection::decode(&frozen.bytes), c, "decoded");
        self.conns.set(idx, Slot::Frozen(Box::new(frozen)));
        self.stats.frozen = self.stats.frozen.saturating_add(1);
    }
}

/// Debug builds check each compact form as it is made: what it gives back (`back`, `how`) is
/// the connection it replaces, field for field.
#[cfg(debug_assertions)]
fn assert_same(back: &Connection, original: &Connection, how: &str) {
    assert_eq!(
        format!("{back:?}"),
        format!("{original:?}"),
        "a connection {how} differs from the one it replaces"
    );
}

//! A tracked connection as the table holds it: in full, or, while half-open attempts are many
//! (a SYN flood), an attempt that has shown nothing but its first SYN as that SYN alone.
//!
//! A connection in full takes about 3 KiB (its record, the reference machine, both streams,
//! the Wireshark and Zeek emulations, the rules' state); a flood to random ports holds 65,536
//! such attempts (`ListenerConfig::max_half_open_total`), most of which never see a second
//! segment. Everything a connection knows after its first segment follows from that segment
//! and a few facts of the table at the time, so the SYN (a decoded header, no payload) and
//! those facts are kept instead, and the connection is rebuilt from them, by the same code
//! that built it, whenever it is next needed: a segment of its four-tuple, an ICMP error about
//! it, its timer, its eviction, the end of the capture. Debug builds check at every compaction
//! that the rebuilt connection is the one it replaces, field for field.
//!
//! Rebuilding costs a connection's creation and one segment's accounting (about 1 µs), so it
//! is done only past [`FlowConfig::compact_syns_from`](crate::flow::FlowConfig) half-open
//! attempts at once, which ordinary traffic (a handful per round trip) does not reach.

use super::FlowTable;
use crate::detect::DetectConfig;
use crate::flow::Connection;
use crate::flow::connection::{Found, Keep};
use crate::flow::streams::ReasmCtx;
use crate::tcp::TcpState;
use crate::tcp::reassembly::Budget;
use crate::tcp::reassembly::OverlapPolicy;
use crate::time::Timestamp;
use crate::wire::{PerSide, Segment, Side};

/// One slot of the table.
#[derive(Debug)]
pub(crate) enum Slot {
    /// The connection, in full.
    Full(Box<Connection>),
    /// An attempt seen only as its first SYN.
    Syn(Box<LoneSyn>),
}

/// An attempt that has shown only its first SYN: what rebuilding it takes.
#[derive(Debug)]
pub(crate) struct LoneSyn {
    /// The SYN (it carried no payload).
    seg: Segment<'static>,
    /// The record's id.
    id: u64,
    /// What the records kept beyond themselves when the SYN was accounted.
    keep: Keep,
    /// The table's view of the capture's sidedness when the SYN was accounted.
    capture_one_sided: bool,
    /// When the table's timer for it is due.
    timer_at: Option<Timestamp>,
    /// Both ends' states (for the live view's counts).
    states: PerSide<TcpState>,
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

impl LoneSyn {
    /// The connection this SYN built, built again: opened as an attempt, the SYN accounted
    /// with the table's facts of the time. What the SYN decided then (anomalies, state changes)
    /// was handed out then, and is dropped here; reassembly's shared budget, which a SYN
    /// without payload does not touch, is a scratch one.
    fn rebuild(&self, r: &Rebuild) -> Box<Connection> {
        let seg = &self.seg;
        let mut c = Box::new(Connection::new(self.id, seg, &r.detect, r.zeek_view));
        c.attempt_open = true;
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
    /// The connection, rebuilt first if the slot holds its SYN.
    pub(in crate::flow) fn full(&mut self, r: &Rebuild) -> &mut Connection {
        if let Slot::Syn(s) = self {
            *self = Slot::Full(s.rebuild(r));
        }
        match self {
            Slot::Full(c) => c,
            Slot::Syn(_) => unreachable!("the slot was just rebuilt"),
        }
    }

    /// The connection, out of its slot, rebuilt if the slot held its SYN.
    pub(in crate::flow) fn into_full(self, r: &Rebuild) -> Box<Connection> {
        match self {
            Slot::Full(c) => c,
            Slot::Syn(s) => s.rebuild(r),
        }
    }

    /// The record's id.
    pub(in crate::flow) fn id(&self) -> u64 {
        match self {
            Slot::Full(c) => c.record().id,
            Slot::Syn(s) => s.id,
        }
    }

    /// When the table's timer for the connection is due.
    pub(in crate::flow) fn timer_at(&self) -> Option<Timestamp> {
        match self {
            Slot::Full(c) => c.timer_at,
            Slot::Syn(s) => s.timer_at,
        }
    }

    /// Sets when the table's timer for the connection is due.
    pub(in crate::flow) fn set_timer_at(&mut self, at: Timestamp) {
        match self {
            Slot::Full(c) => c.timer_at = Some(at),
            Slot::Syn(s) => s.timer_at = Some(at),
        }
    }

    /// Both ends' states.
    pub(in crate::flow) fn states(&self) -> &PerSide<TcpState> {
        match self {
            Slot::Full(c) => &c.record().states,
            Slot::Syn(s) => &s.states,
        }
    }

    /// The last time the connection was active, and the connection unless the slot holds
    /// its SYN (whose idle phase is then an attempt's and its last time the SYN's).
    pub(in crate::flow) fn idle_since(&self) -> (Timestamp, Option<&Connection>) {
        match self {
            Slot::Full(c) => (c.record().last_ts, Some(c)),
            Slot::Syn(s) => (s.seg.ts, None),
        }
    }
}

impl FlowTable {
    /// What rebuilding a slot takes.
    pub(in crate::flow) fn rebuild(&self) -> Rebuild {
        Rebuild {
            detect: self.detect,
            zeek_view: self.cfg.zeek_view,
            policy: self.cfg.overlap_policy,
            budget: (
                self.budget.global_cap,
                self.budget.per_stream_cap,
                self.budget.retain,
            ),
        }
    }

    /// The connection in slot `idx`, rebuilt first if the slot holds its SYN.
    pub(in crate::flow) fn conn(&mut self, idx: usize) -> &mut Connection {
        let r = self.rebuild();
        self.conns[idx].full(&r)
    }

    /// Keeps the connection in slot `idx`, just opened by `seg`, as that SYN alone when it is
    /// an attempt that has shown nothing else and half-open attempts are many. Not with the
    /// application layer or a stream sink, which keep state of their own by slot.
    pub(in crate::flow) fn compact_syn(&mut self, idx: usize, seg: &Segment<'_>, keep: Keep) {
        if self.listeners.half_open_tracked() < self.cfg.compact_syns_from
            || self.app.is_some()
            || self.sink.is_some()
            || !seg.flags.is_syn_only()
            || seg.payload_len != 0
            || !seg.payload.is_empty()
        {
            return;
        }
        let Slot::Full(c) = &self.conns[idx] else {
            return;
        };
        let r = c.record();
        if !c.attempt_open
            || r.half(Side::Orig).packets != 1
            || r.half(Side::Resp).packets != 0
            || c.side_of(seg) != Side::Orig
        {
            return;
        }
        let syn = LoneSyn {
            seg: seg.with_payload(&[]),
            id: r.id,
            keep,
            capture_one_sided: c.capture_one_sided,
            timer_at: c.timer_at,
            states: r.states,
        };
        #[cfg(debug_assertions)]
        {
            let rebuilt = syn.rebuild(&self.rebuild());
            assert_eq!(
                format!("{rebuilt:?}"),
                format!("{c:?}"),
                "a connection rebuilt from its SYN differs from the one it replaces"
            );
        }
        self.conns[idx] = Slot::Syn(Box::new(syn));
        self.stats.syns_kept = self.stats.syns_kept.saturating_add(1);
    }
}

//! What a connection *is*, as it leaves the engine: endpoints, times, what each side sent,
//! both endpoints' states and the transitions that led there, the handshake, how it ended,
//! Zeek's view of it and its anomaly tally. How the engine got there (rule state, streams,
//! the emulations' scratch) stays in [`crate::flow::Connection`].

use crate::compat::wireshark::Classes;
use crate::detect::Tally;
use crate::tcp::{Half, Handshake, TcpState};
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, PerSide, SeqNum, Side, TcpFlags, TunnelKind};
use compact_str::CompactString;
use thin_vec::ThinVec;

/// How a connection record came to an end.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EndReason {
    /// Both sides sent FIN.
    Fin,
    /// A RST ended it.
    Rst,
    /// Still open when the capture ended.
    CaptureEnd,
    /// Idle longer than its timeout.
    Timeout,
    /// A new SYN with another ISN opened the next incarnation of the four-tuple while this one
    /// was still open.
    Reused,
    /// Dropped to respect `--max-connections`.
    Evicted,
}

crate::base::pack::pack_enum!(EndReason {
    Fin,
    Rst,
    CaptureEnd,
    Timeout,
    Reused,
    Evicted
});

impl EndReason {
    /// Number of reasons.
    pub const COUNT: usize = 6;
    /// All reasons in index order.
    pub const ALL: [EndReason; Self::COUNT] = [
        EndReason::Fin,
        EndReason::Rst,
        EndReason::CaptureEnd,
        EndReason::Timeout,
        EndReason::Reused,
        EndReason::Evicted,
    ];
    /// Stable name used in JSON and tables.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::CaptureEnd => "capture_end",
            EndReason::Timeout => "timeout",
            EndReason::Reused => "reused",
            EndReason::Evicted => "evicted",
        }
    }
}

/// The segment that caused a state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Its sender.
    pub from: Side,
    /// Its control bits.
    pub flags: TcpFlags,
    /// Its sequence number.
    pub seq: SeqNum,
    /// Its acknowledgment number.
    pub ack: SeqNum,
    /// Its payload length (from the IP header).
    pub len: u32,
}

crate::base::pack::pack_struct!(Cause {
    from,
    flags,
    seq,
    ack,
    len,
});

/// One endpoint's state change, with the segment that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The endpoint that changed state.
    pub side: Side,
    /// Its state before.
    pub from: TcpState,
    /// Its state after.
    pub to: TcpState,
    /// Frame number of the segment that caused it.
    pub frame: u64,
    /// Its time.
    pub ts: Timestamp,
    /// The segment that caused it.
    pub cause: Cause,
}

crate::base::pack::pack_struct!(Transition {
    side,
    from,
    to,
    frame,
    ts,
    cause,
});

/// Transitions kept per connection; a connection normally makes 6 to 10. Beyond this many only
/// the count goes on (a hostile exchange cannot grow a record without bound).
pub const MAX_TRANSITIONS: usize = 32;

/// The rows Zeek's conn.log would write for a connection (usually one; its timers or a SYN on
/// a closed four-tuple split some into several). Filled when the record leaves the table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZeekView {
    /// `(conn_state, history)` of every row, the current one last (a history of up to 24
    /// letters, nearly all of them, is kept inline: no allocation of its own).
    pub rows: ThinVec<(&'static str, CompactString)>,
}

/// Each state as its index in Zeek's list.
impl crate::base::pack::Pack for ZeekView {
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        crate::compat::pack_zeek_rows(&self.rows, w);
    }
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        ZeekView {
            rows: crate::compat::unpack_zeek_rows(r),
        }
    }
}

impl ZeekView {
    /// `conn_state` of the last row (`OTH` before the record was filled).
    pub fn conn_state(&self) -> &'static str {
        self.rows.last().map_or("OTH", |r| r.0)
    }

    /// `history` of the last row.
    pub fn history(&self) -> &str {
        self.rows.last().map_or("", |r| r.1.as_str())
    }

    /// Whether Zeek would log more than one row.
    pub fn split(&self) -> bool {
        self.rows.len() > 1
    }
}

/// One TCP connection incarnation.
#[derive(Clone, Debug)]
pub struct ConnRecord {
    /// 1-based id, in order of first segment.
    pub id: u64,
    /// Id of the previous incarnation of the same four-tuple, if this one reused it.
    pub prev_id: Option<u64>,
    /// The originator.
    pub orig: Endpoint,
    /// The responder.
    pub resp: Endpoint,
    /// First segment's timestamp.
    pub first_ts: Timestamp,
    /// Last segment's timestamp.
    pub last_ts: Timestamp,
    /// First segment's frame number.
    pub first_frame: u64,
    /// Last segment's frame number.
    pub last_frame: u64,
    /// What each side sent.
    pub halves: PerSide<Half>,
    /// Roles were decided against the first segment's direction (its sender was the responder).
    pub flipped: bool,
    /// Outermost VLAN id of the first segment.
    pub vlan: Option<u16>,
    /// Tunnel the connection was carried in.
    pub tunnel: Option<TunnelKind>,
    /// Handshake timing.
    pub handshake: Handshake,
    /// The side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// The side that sent the first RST.
    pub first_rst: Option<Side>,
    /// When the connection closed (both FINs, or the first RST).
    pub closed_ts: Option<Timestamp>,
    /// When the originator acknowledged the responder's SYN: the handshake completed then
    /// (the time of the segment that did, a pure ACK or data).
    pub established_at: Option<Timestamp>,
    /// Why the record ended; set when it leaves the table.
    pub end_reason: Option<EndReason>,
    /// Each endpoint's RFC 9293 state (at its latest segment; timers not applied).
    pub states: PerSide<TcpState>,
    /// The first [`MAX_TRANSITIONS`] state changes, in order, when the run keeps them (a story
    /// or ladder output asks for them; every change is also an [`super::Event::StateChanged`]).
    pub transitions: ThinVec<Transition>,
    /// State changes in all (beyond those kept).
    pub transition_count: u32,
    /// The moments of the connection's story, when the run keeps transitions.
    pub story: Option<Box<super::Milestones>>,
    /// Segments the receiver's state could not accept (state machine "unexpected segment"
    /// events).
    pub unexpected: u32,
    /// The first such segment's frame.
    pub first_unexpected: Option<u64>,
    /// Time of each side's latest segment.
    pub last_seen: PerSide<Timestamp>,
    /// Zeek's view: `conn_state` and `history` as Zeek's conn.log would print them (empty
    /// when the run does not emulate it: [`crate::flow::FlowConfig::zeek_view`]).
    pub zeek: ZeekView,
    /// Anomalies counted on this connection.
    pub tally: Tally,
    /// Per-frame Wireshark classes, kept only when segment events are asked for (tests,
    /// comparisons with tshark).
    pub segment_classes: ThinVec<(u64, Classes)>,
    /// The capture shows only this side's segments although the other side was talking
    /// (asymmetric routing, a tap on one direction): verdicts that need the other direction's
    /// evidence are not raised.
    pub one_sided: Option<Side>,
    /// The side holding TIME-WAIT and when its 2·MSL ends: its last segment (the last ACK,
    /// restarted by each answer to a repeated FIN) plus 2·MSL. Filled when the record is
    /// finished.
    pub time_wait_until: Option<(Side, Timestamp)>,
}

crate::base::pack::pack_struct!(ConnRecord {
    id,
    prev_id,
    orig,
    resp,
    first_ts,
    last_ts,
    first_frame,
    last_frame,
    halves,
    flipped,
    vlan,
    tunnel,
    handshake,
    first_fin,
    first_rst,
    closed_ts,
    established_at,
    end_reason,
    states,
    transitions,
    transition_count,
    story,
    unexpected,
    first_unexpected,
    last_seen,
    zeek,
    tally,
    segment_classes,
    one_sided,
    time_wait_until,
});

/// What a record holds when its first segment opens it, before that segment is accounted: all
/// a [`ConnRecord::opened`] record is made of. Small, so that an opening can be sent to another
/// thread and the record rebuilt there (a run that writes its records on a thread of its own
/// does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    /// The record's id.
    pub id: u64,
    /// The originator.
    pub orig: Endpoint,
    /// The responder.
    pub resp: Endpoint,
    /// Time of the first segment.
    pub ts: Timestamp,
    /// Frame number of the first segment.
    pub frame: u64,
    /// The first segment was a SYN-ACK: its receiver is the originator.
    pub flipped: bool,
    /// The first segment's VLAN id.
    pub vlan: Option<u16>,
    /// The tunnel the first segment came through.
    pub tunnel: Option<TunnelKind>,
    /// Both endpoints' states as the first segment found them.
    pub states: PerSide<TcpState>,
}

impl ConnRecord {
    /// The record `o` opens: nothing of its first segment accounted yet.
    pub fn opened(o: &Opening) -> ConnRecord {
        ConnRecord {
            id: o.id,
            prev_id: None,
            orig: o.orig,
            resp: o.resp,
            first_ts: o.ts,
            last_ts: o.ts,
            first_frame: o.frame,
            last_frame: o.frame,
            halves: PerSide::default(),
            flipped: o.flipped,
            vlan: o.vlan,
            tunnel: o.tunnel,
            handshake: Handshake::default(),
            first_fin: None,
            first_rst: None,
            closed_ts: None,
            established_at: None,
            end_reason: None,
            states: o.states,
            transitions: ThinVec::new(),
            transition_count: 0,
            story: None,
            unexpected: 0,
            first_unexpected: None,
            last_seen: PerSide::both(o.ts),
            zeek: ZeekView::default(),
            tally: Tally::default(),
            segment_classes: ThinVec::new(),
            one_sided: None,
            time_wait_until: None,
        }
    }

    /// What [`ConnRecord::opened`] made this record of (its state when it opened, whatever
    /// happened to it since).
    pub fn opening(&self) -> Opening {
        Opening {
            id: self.id,
            orig: self.orig,
            resp: self.resp,
            ts: self.first_ts,
            frame: self.first_frame,
            flipped: self.flipped,
            vlan: self.vlan,
            tunnel: self.tunnel,
            states: self.states,
        }
    }

    /// What `side` sent.
    #[inline]
    pub fn half(&self, side: Side) -> &Half {
        &self.halves[side]
    }

    /// Whether the handshake completed (the originator acknowledged the responder's SYN).
    pub fn established(&self) -> bool {
        self.established_at.is_some()
    }

    /// Whether the capture saw the connection open: a SYN from the originator.
    pub fn saw_start(&self) -> bool {
        self.halves[Side::Orig].sent_syn
    }

    /// Whether both sides have sent FIN or either sent RST.
    pub fn is_closed(&self) -> bool {
        self.closed_ts.is_some()
    }

    /// Duration from first to last segment.
    pub fn duration(&self) -> Duration {
        self.last_ts.since(self.first_ts)
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::Orig => self.orig,
            Side::Resp => self.resp,
        }
    }

    /// Swaps originator and responder, with everything recorded per side.
    pub(crate) fn swap_sides(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        self.halves.swap();
        self.states.swap();
        self.last_seen.swap();
        self.flipped = !self.flipped;
        self.first_fin = self.first_fin.map(Side::other);
        self.first_rst = self.first_rst.map(Side::other);
        self.one_sided = self.one_sided.map(Side::other);
        self.time_wait_until = self.time_wait_until.map(|(s, t)| (s.other(), t));
        for t in &mut self.transitions {
            t.side = t.side.other();
            t.cause.from = t.cause.from.other();
        }
    }

    /// Records a state change (and keeps it, with `keep`, while fewer than
    /// [`MAX_TRANSITIONS`] are).
    pub(crate) fn transition(&mut self, t: Transition, keep: bool) {
        self.states[t.side] = t.to;
        self.transition_count += 1;
        if keep && self.transitions.len() < MAX_TRANSITIONS {
            // Room for a whole handshake and close (ten changes), so that most records
            // allocate once: growing from 8 reallocated nearly every record.
            if self.transitions.capacity() == 0 {
                self.transitions.reserve_exact(12);
            }
            self.transitions.push(t);
        }
    }
}

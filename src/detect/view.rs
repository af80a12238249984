//! What a connection rule may read: the connection's facts as the table keeps them, and the
//! segment being judged. Rules never see the table, the streams or the emulations.

use crate::tcp::{Half, Handshake, Machine, SegFacts};
use crate::time::Timestamp;
use crate::wire::{Endpoint, PerSide, Segment, Side};

use super::tally::Owner;

/// A read-only view of one connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnView<'a> {
    /// The connection's id.
    pub id: u64,
    /// The originator.
    pub orig: Endpoint,
    /// The responder.
    pub resp: Endpoint,
    /// Frame number and time of its first segment.
    pub first: (u64, Timestamp),
    /// Frame number and time of its latest segment.
    pub last: (u64, Timestamp),
    /// What each side sent.
    pub halves: &'a PerSide<Half>,
    /// Handshake timing.
    pub handshake: &'a Handshake,
    /// Both endpoints' RFC 9293 states.
    pub machine: &'a Machine,
    /// Time of each side's previous segment (before the one being judged).
    pub last_seen: &'a PerSide<Timestamp>,
    /// When it closed (both FINs, or the first RST).
    pub closed_ts: Option<Timestamp>,
    /// The side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// The side that sent the first RST.
    pub first_rst: Option<Side>,
    /// The originator has acknowledged the responder's SYN.
    pub established: bool,
    /// The capture shows only this side's segments although the other side was talking
    /// (asymmetric routing, a tap on one direction).
    pub one_sided: Option<Side>,
}

impl ConnView<'_> {
    /// What `side` sent.
    #[inline]
    pub fn half(&self, side: Side) -> &Half {
        &self.halves[side]
    }

    /// Whether it has closed.
    pub fn is_closed(&self) -> bool {
        self.closed_ts.is_some()
    }

    /// Whether the responder has acknowledged nothing of the initiator beyond its SYN: the
    /// connection was never established for it, whatever the initiator believes (an expired
    /// or never-accepted half-open request answers the initiator's data with RST, as Linux
    /// does for a connection it does not hold). False when the initiator's SYN was not seen.
    pub fn responder_acked_only_syn(&self) -> bool {
        self.half(Side::Orig).isn.is_some_and(|isn| {
            self.machine
                .end(Side::Resp)
                .rcv_nxt
                .is_none_or(|n| n <= isn.add(1))
        })
    }

    /// Whom its anomalies concern.
    pub fn owner(&self) -> Owner {
        Owner {
            conn_id: self.id,
            listener: self.resp,
        }
    }

    /// The side that sent a segment from `addr`:`port`.
    pub fn side_of(&self, src: Endpoint) -> Side {
        if src == self.orig {
            Side::Orig
        } else {
            Side::Resp
        }
    }
}

/// The segment being judged, with what the state machine made of it.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a, 's> {
    /// The segment.
    pub seg: &'a Segment<'s>,
    /// Its sender.
    pub side: Side,
    /// The state machine's facts about it.
    pub facts: &'a SegFacts,
    /// The connection was closed before this segment.
    pub closed_before: bool,
    /// This segment completed the handshake (the originator's first acknowledgment of the
    /// responder's SYN).
    pub established_now: bool,
}

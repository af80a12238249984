//! The `story` object of a connection record (`--transitions`): every state change of both
//! endpoints with the segment that caused it, and the milestones of the connection.

use serde::Serialize;

use super::secs::secs;
use crate::detect::AnomalyKind;
use crate::event::{ConnRecord, Mark, Milestones, Transition};
use crate::time::Timestamp;
use crate::wire::Side;

/// A frame and its time.
#[derive(Serialize)]
pub struct MarkJson {
    /// Frame number.
    pub frame: u64,
    /// Capture time (seconds since the epoch).
    #[serde(serialize_with = "secs")]
    pub ts: Timestamp,
}

impl From<Mark> for MarkJson {
    fn from(m: Mark) -> Self {
        MarkJson {
            frame: m.frame,
            ts: m.ts,
        }
    }
}

/// A mark made by one side.
#[derive(Serialize)]
pub struct SideMarkJson {
    /// `orig` or `resp`.
    pub side: &'static str,
    /// Frame number.
    pub frame: u64,
    /// Capture time.
    #[serde(serialize_with = "secs")]
    pub ts: Timestamp,
}

/// TIME-WAIT: who held it, where it began and when its 2·MSL ends.
#[derive(Serialize)]
pub struct TimeWaitJson {
    /// `orig` or `resp`.
    pub side: &'static str,
    /// The frame that put the side in TIME-WAIT.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "secs")]
    pub ts: Timestamp,
    /// When 2·MSL after it ends (the endpoint then closes, unless a RST or a new SYN ended it
    /// earlier).
    #[serde(serialize_with = "secs")]
    pub until: Timestamp,
}

/// The segment that caused a state change.
#[derive(Serialize)]
pub struct CauseJson {
    /// Its sender.
    pub from: &'static str,
    /// tcpdump-like flags (`S`, `S.`, `F.`, `R`).
    pub flags: String,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Payload length.
    pub len: u32,
}

/// One endpoint's state change.
#[derive(Serialize)]
pub struct TransitionJson {
    /// `orig` or `resp`.
    pub side: &'static str,
    /// State before (RFC 9293 name).
    pub from: &'static str,
    /// State after.
    pub to: &'static str,
    /// Frame of the segment that caused it.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "secs")]
    pub ts: Timestamp,
    /// The segment.
    pub cause: CauseJson,
}

impl From<&Transition> for TransitionJson {
    fn from(t: &Transition) -> Self {
        TransitionJson {
            side: t.side.name(),
            from: t.from.name(),
            to: t.to.name(),
            frame: t.frame,
            ts: t.ts,
            cause: CauseJson {
                from: t.cause.from.name(),
                flags: t.cause.flags.to_string(),
                seq: t.cause.seq.0,
                ack: t.cause.ack.0,
                len: t.cause.len,
            },
        }
    }
}

/// The moments a person asks about; absent ones are null.
#[derive(Serialize)]
pub struct MilestonesJson {
    /// The originator's first SYN.
    pub syn: Option<MarkJson>,
    /// The responder's first SYN-ACK.
    pub synack: Option<MarkJson>,
    /// The segment that completed the handshake.
    pub third_ack: Option<MarkJson>,
    /// The originator's first data.
    pub first_data_orig: Option<MarkJson>,
    /// The responder's first data.
    pub first_data_resp: Option<MarkJson>,
    /// The originator's first FIN.
    pub first_fin_orig: Option<MarkJson>,
    /// The responder's first FIN.
    pub first_fin_resp: Option<MarkJson>,
    /// The first RST.
    pub rst: Option<SideMarkJson>,
    /// TIME-WAIT.
    pub time_wait: Option<TimeWaitJson>,
    /// The last segment.
    pub last: MarkJson,
}

/// A connection's story.
#[derive(Serialize)]
pub struct StoryJson {
    /// State changes in order (the first 32; `transitions_total` counts them all).
    pub transitions: Vec<TransitionJson>,
    /// State changes in all.
    pub transitions_total: u32,
    /// The milestones.
    pub milestones: MilestonesJson,
    /// The side that sent the first FIN (`orig`, `resp`), null without FIN.
    pub active_closer: Option<&'static str>,
    /// `four_way` (FIN, ACK, FIN, ACK), `three_way` (the second FIN rode on the ACK of the
    /// first) or `simultaneous`; null until both sides sent FIN.
    pub close: Option<&'static str>,
    /// Segments the close took: 4 or 3.
    pub close_segments: Option<u8>,
}

impl StoryJson {
    /// The story of `c`, when the run kept one.
    pub fn of(c: &ConnRecord) -> Option<Self> {
        let m: &Milestones = c.story.as_deref()?;
        let mark = |m: Option<Mark>| m.map(MarkJson::from);
        let simultaneous = c.tally.has(AnomalyKind::SimultaneousClose);
        let close = m.close(simultaneous);
        Some(StoryJson {
            transitions: c.transitions.iter().map(TransitionJson::from).collect(),
            transitions_total: c.transition_count,
            milestones: MilestonesJson {
                syn: mark(m.syn),
                synack: mark(m.synack),
                third_ack: mark(m.third_ack),
                first_data_orig: mark(m.first_data[Side::Orig]),
                first_data_resp: mark(m.first_data[Side::Resp]),
                first_fin_orig: mark(m.first_fin[Side::Orig]),
                first_fin_resp: mark(m.first_fin[Side::Resp]),
                rst: m.rst.map(|(side, at)| SideMarkJson {
                    side: side.name(),
                    frame: at.frame,
                    ts: at.ts,
                }),
                time_wait: m.time_wait.map(|(side, at, until)| TimeWaitJson {
                    side: side.name(),
                    frame: at.frame,
                    ts: at.ts,
                    until,
                }),
                last: MarkJson {
                    frame: c.last_frame,
                    ts: c.last_ts,
                },
            },
            active_closer: m.active_closer().map(Side::name),
            close: close.map(|k| k.name()),
            close_segments: close.map(|k| k.segments()),
        })
    }
}

//! A connection's story beyond its state changes: the moments a person asks about (SYN,
//! SYN-ACK, third ACK, first data and first FIN each way, RST, TIME-WAIT and its end) and how
//! the close went (who closed first; three segments with the FIN riding on the ACK, or four).
//! Kept only when a run asks for stories (`--transitions`, ladders): a few dozen bytes more per
//! record.

use crate::time::Timestamp;
use crate::wire::{PerSide, Segment, Side};

/// Where something happened: a frame and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Frame number.
    pub frame: u64,
    /// Capture time.
    pub ts: Timestamp,
}

crate::base::pack::pack_struct!(Mark { frame, ts });

impl Mark {
    fn of(seg: &Segment<'_>) -> Self {
        Mark {
            frame: seg.frame,
            ts: seg.ts,
        }
    }
}

/// What one segment means for the story, as the state machine read it.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoryStep {
    /// It completed the handshake (the originator's first acknowledgment of the SYN-ACK).
    pub completes_handshake: bool,
    /// It acknowledges the receiver's FIN.
    pub acks_fin: bool,
    /// A side entered TIME-WAIT with it, and when that TIME-WAIT ends (2·MSL later).
    pub time_wait: Option<(Side, Timestamp)>,
}

/// The milestones of one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Milestones {
    /// The originator's first SYN.
    pub syn: Option<Mark>,
    /// The responder's first SYN-ACK.
    pub synack: Option<Mark>,
    /// The segment that completed the handshake (a pure ACK, or data that carried it).
    pub third_ack: Option<Mark>,
    /// Each side's first segment with payload.
    pub first_data: PerSide<Option<Mark>>,
    /// Each side's first FIN.
    pub first_fin: PerSide<Option<Mark>>,
    /// The first RST and its sender.
    pub rst: Option<(Side, Mark)>,
    /// The side that entered TIME-WAIT, where, and when its 2·MSL ends (restarted by each
    /// segment it sends from TIME-WAIT).
    pub time_wait: Option<(Side, Mark, Timestamp)>,
    /// Each side's FIN was acknowledged by a segment that carried no FIN of the peer's own.
    fin_acked_alone: PerSide<bool>,
}

crate::base::pack::pack_struct!(Milestones {
    syn,
    synack,
    third_ack,
    first_data,
    first_fin,
    rst,
    time_wait,
    fin_acked_alone,
});

/// How the connection was closed with FINs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// FIN, ACK, FIN, ACK: the passive closer acknowledged the FIN before sending its own.
    FourWay,
    /// FIN, FIN+ACK, ACK: the passive closer's FIN rode on its acknowledgment.
    ThreeWay,
    /// Both FINs crossed: each was sent before the other was acknowledged.
    Simultaneous,
}

impl CloseKind {
    /// The name used in JSON and expectation files.
    pub const fn name(self) -> &'static str {
        match self {
            CloseKind::FourWay => "four_way",
            CloseKind::ThreeWay => "three_way",
            CloseKind::Simultaneous => "simultaneous",
        }
    }

    /// Segments the close took (both FINs and their acknowledgments).
    pub const fn segments(self) -> u8 {
        match self {
            CloseKind::FourWay | CloseKind::Simultaneous => 4,
            CloseKind::ThreeWay => 3,
        }
    }
}

impl Milestones {
    /// Notes segment `seg`, sent by `side`, with what the machine made of it.
    pub fn on_segment(&mut self, seg: &Segment<'_>, side: Side, step: StoryStep) {
        let f = seg.flags;
        let here = Mark::of(seg);
        if f.is_syn_only() && side == Side::Orig {
            self.syn.get_or_insert(here);
        }
        if f.is_syn_ack() && side == Side::Resp {
            self.synack.get_or_insert(here);
        }
        if step.completes_handshake {
            self.third_ack.get_or_insert(here);
        }
        if seg.payload_len > 0 {
            self.first_data[side].get_or_insert(here);
        }
        if f.fin() {
            self.first_fin[side].get_or_insert(here);
        }
        if f.rst() && self.rst.is_none() {
            self.rst = Some((side, here));
        }
        if step.acks_fin && !f.fin() {
            self.fin_acked_alone[side.other()] = true;
        }
        if let Some((s, until)) = step.time_wait {
            match &mut self.time_wait {
                None => self.time_wait = Some((s, here, until)),
                // The TIME-WAIT side answered again (a repeated FIN): its 2·MSL restarts.
                Some((held, _, end)) if *held == s && side == s => *end = until,
                Some(_) => {}
            }
        }
    }

    /// The side that sent the first FIN (both, when they crossed), if any did.
    pub fn active_closer(&self) -> Option<Side> {
        match (self.first_fin[Side::Orig], self.first_fin[Side::Resp]) {
            (Some(o), Some(r)) => Some(if r.frame < o.frame {
                Side::Resp
            } else {
                Side::Orig
            }),
            (Some(_), None) => Some(Side::Orig),
            (None, Some(_)) => Some(Side::Resp),
            (None, None) => None,
        }
    }

    /// How the close went, once both sides sent FIN.
    pub fn close(&self, simultaneous: bool) -> Option<CloseKind> {
        let active = self.active_closer()?;
        self.first_fin[active.other()]?;
        Some(if simultaneous {
            CloseKind::Simultaneous
        } else if self.fin_acked_alone[active] {
            CloseKind::FourWay
        } else {
            CloseKind::ThreeWay
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{c2s, s2c};

    fn story(segs: &[(Segment<'static>, Side, StoryStep)]) -> Milestones {
        let mut m = Milestones::default();
        for (s, side, step) in segs {
            m.on_segment(s, *side, *step);
        }
        m
    }

    #[test]
    fn a_four_way_and_a_three_way_close() {
        let none = StoryStep::default();
        let acks_fin = StoryStep {
            acks_fin: true,
            ..none
        };
        // Client FIN, server ACK, server FIN, client ACK (seed 001's four segments).
        let four = story(&[
            (c2s(0, "FA", 101, 501, 0), Side::Orig, none),
            (s2c(1, "A", 501, 102, 0), Side::Resp, acks_fin),
            (s2c(2, "FA", 501, 102, 0), Side::Resp, acks_fin),
            (c2s(3, "A", 102, 502, 0), Side::Orig, acks_fin),
        ]);
        assert_eq!(four.active_closer(), Some(Side::Orig));
        assert_eq!(four.close(false), Some(CloseKind::FourWay));
        // The server's FIN rides on its ACK of the client's FIN.
        let three = story(&[
            (c2s(0, "FA", 101, 501, 0), Side::Orig, none),
            (s2c(1, "FA", 501, 102, 0), Side::Resp, acks_fin),
            (c2s(2, "A", 102, 502, 0), Side::Orig, acks_fin),
        ]);
        assert_eq!(three.close(false), Some(CloseKind::ThreeWay));
        assert_eq!(three.close(false).map(CloseKind::segments), Some(3));
        // Only one FIN: no close yet.
        let half = story(&[(s2c(0, "FA", 501, 101, 0), Side::Resp, none)]);
        assert_eq!(half.active_closer(), Some(Side::Resp));
        assert_eq!(half.close(false), None);
    }
}

//! The lost final ACK, the first reason TIME-WAIT lasts 2*MSL (RFC 9293 §3.6): the passive
//! closer, in LAST-ACK, repeats its FIN because the active closer's last ACK never reached it,
//! and the active closer's TIME-WAIT acknowledges the FIN again and restarts its 2*MSL timer.
//! Also keeps the end of each TIME-WAIT as the wire shows it: the TIME-WAIT side's last
//! segment plus 2*MSL.

use super::anomaly::secs;
use super::judge::Judge;
use super::view::{ConnView, Step};
use super::{Anomaly, AnomalyKind};
use crate::tcp::TcpState;
use crate::time::Timestamp;
use crate::wire::{PerSide, Segment, Side};

/// A FIN repeated into a peer's TIME-WAIT, waiting for the peer's answer.
#[derive(Clone, Copy, Debug)]
struct Repeat {
    from: Side,
    frame: u64,
    ts: Timestamp,
}

crate::base::pack::pack_struct!(Repeat { from, frame, ts });

/// The final-ACK family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct FinalAckRules {
    /// Frame of each side's first FIN.
    fin_frame: PerSide<Option<u64>>,
    /// Frame of each side's first acknowledgment of the peer's FIN.
    fin_ack_frame: PerSide<Option<u64>>,
    pending: Option<Repeat>,
    reported: bool,
    /// The side in TIME-WAIT and when its 2*MSL ends.
    time_wait_until: Option<(Side, Timestamp)>,
}

crate::base::pack::pack_struct!(FinalAckRules {
    fin_frame,
    fin_ack_frame,
    pending,
    reported,
    time_wait_until,
});

impl FinalAckRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.fin_frame.swap();
        self.fin_ack_frame.swap();
        if let Some(p) = &mut self.pending {
            p.from = p.from.other();
        }
        if let Some((s, _)) = &mut self.time_wait_until {
            *s = s.other();
        }
    }

    /// The side holding TIME-WAIT and when its 2*MSL ends (its last segment plus 2*MSL, or the
    /// FIN that put it there if it answered nothing the capture saw).
    pub fn time_wait_until(&self) -> Option<(Side, Timestamp)> {
        self.time_wait_until
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let f = seg.flags;
        if f.fin() {
            self.fin_frame[side].get_or_insert(seg.frame);
        }
        if facts.acks_fin {
            self.fin_ack_frame[side].get_or_insert(seg.frame);
        }
        let two_msl = j.cfg.two_msl();
        let c = j.conn;
        for s in [Side::Orig, Side::Resp] {
            if c.machine.end(s).state != TcpState::TimeWait {
                // Left TIME-WAIT early (a RST, RFC 1337): no 2*MSL runs any more.
                if self.time_wait_until.is_some_and(|(held, _)| held == s) {
                    self.time_wait_until = None;
                }
                continue;
            }
            // Entered on the peer's FIN, or restarted by its own answer (RFC 9293 §3.10.7.4:
            // "restart the 2 MSL timeout").
            if s == side || self.time_wait_until.is_none_or(|(held, _)| held != s) {
                self.time_wait_until = Some((s, seg.ts.add(two_msl)));
            }
        }
        if self.reported {
            return;
        }
        if let Some(p) = self.pending
            && side == p.from.other()
            && f.ack()
            && !f.rst()
        {
            self.pending = None;
            self.report(j, p, Some((seg.frame, seg.ts)));
            return;
        }
        if self.pending.is_none() && repeated_fin_into_time_wait(c, seg, side) {
            self.pending = Some(Repeat {
                from: side,
                frame: seg.frame,
                ts: seg.ts,
            });
        }
    }

    /// A repeated FIN still unanswered when the record ends is reported without an answer.
    pub fn on_finish(&mut self, j: &mut Judge<'_>) {
        if let Some(p) = self.pending.take()
            && !self.reported
        {
            self.report(j, p, None);
        }
    }

    fn report(&mut self, j: &mut Judge<'_>, p: Repeat, answer: Option<(u64, Timestamp)>) {
        self.reported = true;
        let c = j.conn;
        let first_fin = c.half(p.from).fin_ts;
        let tw = p.from.other();
        let until = answer.map(|(_, ts)| ts.add(j.cfg.two_msl()));
        let (fin_frame, first_ack) = (self.fin_frame[p.from], self.fin_ack_frame[tw]);
        // The ACK the capture saw came before the repeat: it was lost beyond the capture point.
        let first_ack = first_ack.filter(|f| *f < p.frame);
        let k = AnomalyKind::FinalAckLost;
        j.raise(k, || {
            Anomaly::new(k, p.frame, p.ts)
                .with("from", p.from.name())
                .with("time_wait_side", tw.name())
                .with("fin_frame", fin_frame)
                .with("repeat_frame", p.frame)
                .with("repeat_after", first_fin.map(|t| secs(p.ts.since(t))))
                .with("first_ack_frame", first_ack)
                .with("answer_frame", answer.map(|a| a.0))
                .with("time_wait_until", until.map(|u| secs(u.since_epoch())))
                .with("two_msl", secs(j.cfg.two_msl()))
        });
    }
}

/// Whether `seg` from `side` is a repeat of its FIN (no data, a FIN sent before) reaching a
/// peer in TIME-WAIT: the story of a lost final ACK, told by the FIN and its answer rather than
/// as a retransmission and a duplicate ACK.
pub fn repeated_fin_into_time_wait(c: &ConnView<'_>, seg: &Segment<'_>, side: Side) -> bool {
    seg.flags.fin()
        && !seg.flags.rst()
        && seg.payload_len == 0
        && c.half(side).fins >= 2
        && c.machine.end(side.other()).state == TcpState::TimeWait
}

/// Whether `seg` from `side` is the TIME-WAIT side's answer to such a repeated FIN.
pub fn time_wait_answer(c: &ConnView<'_>, seg: &Segment<'_>, side: Side) -> bool {
    let f = seg.flags;
    f.ack()
        && !f.fin()
        && !f.rst()
        && seg.payload_len == 0
        && c.machine.end(side).state == TcpState::TimeWait
        && c.half(side.other()).fins >= 2
}

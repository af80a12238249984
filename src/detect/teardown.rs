//! Close and reset rules: aborts, RSTs after close, TIME-WAIT assassination, stuck CLOSE-WAIT,
//! half and simultaneous close, challenge ACKs.

use super::anomaly::secs;
use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind};
use crate::tcp::{RstFit, SegClass, TcpState};
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Side};

/// An in-window RST waiting for the challenge ACK of its receiver.
#[derive(Clone, Copy, Debug)]
struct PendingChallenge {
    rst_frame: u64,
    receiver: Side,
}

crate::base::pack::pack_struct!(PendingChallenge {
    rst_frame,
    receiver,
});

/// The teardown family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct TeardownRules {
    challenge: Option<PendingChallenge>,
    /// When each side entered CLOSE-WAIT (while it is there).
    close_wait_since: PerSide<Option<Timestamp>>,
}

crate::base::pack::pack_struct!(TeardownRules {
    challenge,
    close_wait_since,
});

impl TeardownRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.close_wait_since.swap();
        if let Some(p) = &mut self.challenge {
            p.receiver = p.receiver.other();
        }
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let peer = side.other();
        // challenge_ack: the receiver of an in-window, inexact RST answers with a pure ACK of
        // its current state (RFC 5961 §3.2) instead of resetting.
        if let Some(p) = self.challenge
            && p.receiver == side
        {
            self.challenge = None;
            if facts.class == SegClass::Ack && seg.payload_len == 0 {
                let k = AnomalyKind::ChallengeAck;
                j.raise(k, || {
                    Anomaly::new(k, seg.frame, seg.ts)
                        .with("answers", "rst")
                        .with("rst_frame", p.rst_frame)
                        .with("from", side.name())
                });
            }
        }

        if facts.class == SegClass::Rst {
            let fit = facts.rst_fit.unwrap_or(RstFit::Unknown);
            if fit == RstFit::InWindow && facts.receiver_before.is_synchronized() {
                self.challenge = Some(PendingChallenge {
                    rst_frame: seg.frame,
                    receiver: peer,
                });
            }
            match (facts.sender_before, facts.receiver_before) {
                // timewait_assassination: a RST reaches the endpoint holding TIME-WAIT and, as
                // Linux does by default (tcp_rfc1337 = 0), ends it before 2*MSL (RFC 1337).
                (_, TcpState::TimeWait) if fit != RstFit::OutOfWindow => {
                    let k = AnomalyKind::TimewaitAssassination;
                    j.raise(k, || {
                        // Read from before the segment: the RST has already moved the
                        // endpoint on.
                        let held = seg.ts.since(facts.receiver_since);
                        let remaining = (j.cfg.two_msl() - held).max(Duration::ZERO);
                        Anomaly::new(k, seg.frame, seg.ts)
                            .with("time_wait_side", peer.name())
                            .with("held", secs(held))
                            .with("cut_short_by", secs(remaining))
                            .with("rst_fit", fit.name())
                    });
                }
                // rst_after_close: the sender had already closed or aborted; the RST answers a
                // segment that reached an endpoint without connection state (RFC 9293
                // §3.10.7.1).
                // A RST refusing a retried SYN (the initiator back in SYN-SENT) is another
                // refusal, not a RST after close.
                (TcpState::Closed, r)
                    if (c.established || st.closed_before) && r != TcpState::SynSent =>
                {
                    let k = AnomalyKind::RstAfterClose;
                    j.raise(k, || {
                        Anomaly::new(k, seg.frame, seg.ts)
                            .with("from", side.name())
                            .with("rst_fit", fit.name())
                    });
                }
                // rst_abort: a synchronized connection ends by RST rather than the FIN exchange
                // (a RST the receiver does not accept, RFC 5961, ends nothing).
                (s, _)
                    if s.is_synchronized()
                        && s != TcpState::TimeWait
                        && matches!(fit, RstFit::Exact | RstFit::Unknown)
                        && !expired_request(c, side) =>
                {
                    let k = AnomalyKind::RstAbort;
                    j.raise(k, || {
                        Anomaly::new(k, seg.frame, seg.ts)
                            .with("from", side.name())
                            .with("sender_state", s.name())
                            .with("rst_fit", fit.name())
                            .with("orig_bytes", c.half(Side::Orig).payload_bytes)
                            .with("resp_bytes", c.half(Side::Resp).payload_bytes)
                    });
                }
                _ => {}
            }
        }

        // simultaneous_close: a FIN reaches an endpoint that has sent its own FIN and not yet
        // seen it acknowledged (FIN-WAIT-1 to CLOSING, RFC 9293 §3.6 figure 13).
        if facts.class == SegClass::Fin
            && facts.receiver_before == TcpState::FinWait1
            && !facts.acks_fin
        {
            let k = AnomalyKind::SimultaneousClose;
            j.raise(k, || Anomaly::new(k, seg.frame, seg.ts));
        }

        // half_close: data still flows from an endpoint after the peer's FIN (RFC 9293 §3.6: a
        // FIN closes one direction only).
        if seg.payload_len > 0
            && let Some(peer_fin) = c.half(peer).fin_ts
            && peer_fin < seg.ts
            && c.half(side).fin_ts.is_none_or(|t| t >= seg.ts)
        {
            let k = AnomalyKind::HalfClose;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("peer_fin_before", secs(seg.ts.since(peer_fin)))
            });
        }

        // close_wait_stuck (while the capture goes on): an endpoint in CLOSE-WAIT for longer
        // than --close-wait-timeout, judged at each segment, including its own late FIN.
        if facts.sender_before == TcpState::CloseWait
            && let Some(since) = self.close_wait_since[side]
            && seg.ts.since(since) >= j.cfg.close_wait_timeout
        {
            close_wait(j, side, since, (seg.frame, seg.ts), "timeout");
        }
        for s in [Side::Orig, Side::Resp] {
            let e = c.machine.end(s);
            if e.state == TcpState::CloseWait {
                let since = *self.close_wait_since[s].get_or_insert(e.since);
                if seg.ts.since(since) >= j.cfg.close_wait_timeout {
                    close_wait(j, s, since, (seg.frame, seg.ts), "timeout");
                }
            } else {
                self.close_wait_since[s] = None;
            }
        }
    }

    /// Rules evaluated when the connection leaves the table at time `now` (the end of the
    /// capture, or when it timed out): a side still in CLOSE-WAIT has held it at least until
    /// then.
    pub fn on_finish(&mut self, j: &mut Judge<'_>, now: Timestamp) {
        let c = j.conn;
        for s in [Side::Orig, Side::Resp] {
            let e = c.machine.end(s);
            if e.state == TcpState::CloseWait && now.since(e.since) >= j.cfg.close_wait_at_end {
                let at = (c.last.0, now);
                close_wait(j, s, e.since, at, "end_of_record");
            }
        }
    }
}

/// close_wait_stuck: `s` has been in CLOSE-WAIT since `since`, judged at frame and time `at`.
fn close_wait(
    j: &mut Judge<'_>,
    s: Side,
    since: Timestamp,
    at: (u64, Timestamp),
    why: &'static str,
) {
    let k = AnomalyKind::CloseWaitStuck;
    j.raise(k, || {
        Anomaly::new(k, at.0, at.1)
            .with("side", s.name())
            .with("held", secs(at.1.since(since)))
            .with("decided_at", why)
    });
}

/// A RST from the responder that never acknowledged any of the initiator's data: the
/// connection was never established for it (its half-open request expired, or was never taken
/// from a full accept queue), so the RST is no abort of an established connection.
fn expired_request(c: &crate::detect::ConnView<'_>, side: Side) -> bool {
    side == Side::Resp
        && c.half(Side::Orig).payload_bytes > 0
        && c.half(Side::Resp).payload_bytes == 0
        && c.responder_acked_only_syn()
}

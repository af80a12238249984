//! Close and reset rules: aborts, RSTs after close, TIME-WAIT assassination, stuck CLOSE-WAIT,
//! half and simultaneous close, challenge ACKs.

use super::{Anomaly, AnomalyKind, DetectConfig, secs};
use crate::flow::{Connection, Side};
use crate::tcp::{RstFit, SegClass, SegFacts, TcpState};
use crate::time::Timestamp;
use crate::wire::Segment;

/// Rules evaluated on each segment, after the state machine applied it.
pub(crate) fn on_segment(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    cfg: &DetectConfig,
    out: &mut Vec<Anomaly>,
) {
    let peer = side.other();
    // challenge_ack: the receiver of an in-window, inexact RST answers with a pure ACK of its
    // current state (RFC 5961 §3.2) instead of resetting.
    if let Some((frame, receiver)) = c.detect.rst_in_window
        && receiver == side.index()
    {
        c.detect.rst_in_window = None;
        if facts.class == SegClass::Ack && seg.payload_len == 0 {
            let a = Anomaly::new(AnomalyKind::ChallengeAck, seg.frame, seg.ts)
                .with("answers", "rst")
                .with("rst_frame", frame)
                .with("from", side.name());
            super::raise(c, a, out);
        }
    }

    if facts.class == SegClass::Rst {
        let fit = facts.rst_fit.unwrap_or(RstFit::Unknown);
        let fit_name = match fit {
            RstFit::Exact => "exact",
            RstFit::InWindow => "in_window",
            RstFit::OutOfWindow => "out_of_window",
            RstFit::Unknown => "unknown",
        };
        if fit == RstFit::InWindow && facts.receiver_before.is_synchronized() {
            c.detect.rst_in_window = Some((seg.frame, peer.index()));
        }
        if matches!(fit, RstFit::Exact | RstFit::Unknown | RstFit::InWindow) {
            c.detect
                .rst_accepted_from
                .get_or_insert((side.index(), seg.frame));
        }
        match (facts.sender_before, facts.receiver_before) {
            // timewait_assassination: a RST reaches the endpoint holding TIME-WAIT and, as
            // Linux does by default (tcp_rfc1337 = 0), ends it before 2*MSL (RFC 1337).
            (_, TcpState::TimeWait) if fit != RstFit::OutOfWindow => {
                let held = seg.ts.since(c.tcp.end(peer).since);
                let remaining = crate::time::Duration(
                    cfg.msl.0.saturating_mul(2).saturating_sub(held.0).max(0),
                );
                let a = Anomaly::new(AnomalyKind::TimewaitAssassination, seg.frame, seg.ts)
                    .with("time_wait_side", peer.name())
                    .with("held", secs(held))
                    .with("cut_short_by", secs(remaining))
                    .with("rst_fit", fit_name);
                super::raise(c, a, out);
            }
            // rst_after_close: the sender had already closed or aborted; the RST answers a
            // segment that reached an endpoint without connection state (RFC 9293 §3.10.7.1).
            (TcpState::Closed, _) if c.detect.established || c.detect.closed_before => {
                let a = Anomaly::new(AnomalyKind::RstAfterClose, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("rst_fit", fit_name);
                super::raise(c, a, out);
            }
            // rst_abort: a synchronized connection ends by RST rather than the FIN exchange (a
            // RST the receiver does not accept, RFC 5961, ends nothing).
            (s, _)
                if s.is_synchronized()
                    && s != TcpState::TimeWait
                    && matches!(fit, RstFit::Exact | RstFit::Unknown) =>
            {
                let a = Anomaly::new(AnomalyKind::RstAbort, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("sender_state", s.name())
                    .with("rst_fit", fit_name)
                    .with("orig_bytes", c.half(Side::Orig).payload_bytes)
                    .with("resp_bytes", c.half(Side::Resp).payload_bytes);
                super::raise(c, a, out);
            }
            _ => {}
        }
    }

    // simultaneous_close: a FIN reaches an endpoint that has sent its own FIN and not yet seen
    // it acknowledged (FIN-WAIT-1 to CLOSING, RFC 9293 §3.6 figure 13).
    if facts.class == SegClass::Fin
        && facts.receiver_before == TcpState::FinWait1
        && !facts.acks_fin
    {
        let a = Anomaly::new(AnomalyKind::SimultaneousClose, seg.frame, seg.ts);
        super::raise(c, a, out);
    }

    // half_close: data still flows from an endpoint after the peer's FIN (RFC 9293 §3.6: a
    // FIN closes one direction only).
    if seg.payload_len > 0
        && c.half(peer).fin_ts.is_some_and(|t| t < seg.ts)
        && c.half(side).fin_ts.is_none_or(|t| t >= seg.ts)
    {
        let a = Anomaly::new(AnomalyKind::HalfClose, seg.frame, seg.ts)
            .with("from", side.name())
            .with(
                "peer_fin_before",
                secs(seg.ts.since(c.half(peer).fin_ts.unwrap_or(seg.ts))),
            );
        super::raise(c, a, out);
    }

    // close_wait_stuck (while the capture goes on): an endpoint in CLOSE-WAIT for longer than
    // --close-wait-timeout, judged at each segment, including its own late FIN.
    if facts.sender_before == TcpState::CloseWait
        && let Some(since) = c.detect.close_wait_since[side.index()]
        && seg.ts.since(since) >= cfg.close_wait_timeout
    {
        close_wait(c, side, since, seg.frame, seg.ts, "timeout", out);
    }
    for s in [Side::Orig, Side::Resp] {
        let e = c.tcp.end(s);
        let since = &mut c.detect.close_wait_since[s.index()];
        if e.state == TcpState::CloseWait {
            let since = *since.get_or_insert(e.since);
            if seg.ts.since(since) >= cfg.close_wait_timeout {
                close_wait(c, s, since, seg.frame, seg.ts, "timeout", out);
            }
        } else {
            *since = None;
        }
    }
}

/// Rules evaluated when the connection leaves the table at time `now` (the end of the capture,
/// or when it timed out): a side still in CLOSE-WAIT has held it at least until then.
pub(crate) fn on_finish(
    c: &mut Connection,
    now: Timestamp,
    cfg: &DetectConfig,
    out: &mut Vec<Anomaly>,
) {
    for s in [Side::Orig, Side::Resp] {
        let e = c.tcp.end(s);
        if e.state == TcpState::CloseWait && now.since(e.since) >= cfg.close_wait_at_end {
            let (since, frame) = (e.since, c.last_frame);
            close_wait(c, s, since, frame, now, "end_of_record", out);
        }
    }
}

fn close_wait(
    c: &mut Connection,
    s: Side,
    since: Timestamp,
    frame: u64,
    ts: Timestamp,
    why: &str,
    out: &mut Vec<Anomaly>,
) {
    let a = Anomaly::new(AnomalyKind::CloseWaitStuck, frame, ts)
        .with("side", s.name())
        .with("held", secs(ts.since(since)))
        .with("decided_at", why);
    super::raise(c, a, out);
}

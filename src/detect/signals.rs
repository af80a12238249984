//! Findings from what the headers signalled over a whole connection: ECN congestion marks and
//! their echo (RFC 3168), a transfer held back by the receiver's window (RFC 9293 §3.8.6,
//! RFC 7323 §1.1), and headers whose data offset cannot be right (RFC 9293 §3.1).

use super::anomaly::secs;
use super::judge::Judge;
use super::{Anomaly, AnomalyKind, Value};
use crate::time::Duration;
use crate::wire::{BadTcpHeader, Side};

/// Round trips in which the sender must have filled the receiver's window before the
/// transfer counts as limited by it ("repeatedly": one full window is normal slow start).
pub const WINDOW_LIMITED_ROUNDS: u32 = 3;
/// The best round trip's throughput must reach at least this fraction (1/2) of one window
/// per RTT.
const WINDOW_PACE_DIVISOR: u64 = 2;

/// bad_data_offset: a header with an impossible data offset, tied to its connection.
pub fn bad_data_offset(j: &mut Judge<'_>, b: &BadTcpHeader, side: Side) {
    let k = AnomalyKind::BadDataOffset;
    j.raise(k, || {
        Anomaly::new(k, b.frame, b.ts)
            .with("from", side.name())
            .with("data_offset", b.data_offset)
            .with("header_len", b.header_len())
            .with("tcp_len", b.tcp_len)
            .with("reason", b.reason())
            .with("flags", b.flags.to_string())
            .with("ttl", b.ttl)
    });
}

/// The end-of-connection rules of this family.
pub fn on_finish(j: &mut Judge<'_>) {
    for side in [Side::Orig, Side::Resp] {
        ecn(j, side);
    }
    for side in [Side::Orig, Side::Resp] {
        window_limited(j, side);
    }
}

/// ecn_congestion and ecn_echo_missing for the packets `side` sent.
fn ecn(j: &mut Judge<'_>, side: Side) {
    let c = j.conn;
    let (h, peer) = (c.half(side), c.half(side.other()));
    let (hr, pr) = (h.signals.rare(), peer.signals.rare());
    let Some((frame, ts)) = hr.first_ce else {
        return;
    };
    let negotiated = c.halves[Side::Orig].options.is_some_and(|o| o.ecn)
        && c.halves[Side::Resp].options.is_some_and(|o| o.ecn);
    let (ce, echoed, cwr) = (hr.ip_ce, pr.ece, hr.cwr);
    let k = AnomalyKind::EcnCongestion;
    j.raise(k, || {
        Anomaly::new(k, frame, ts)
            .with("from", side.name())
            .with("ce_packets", ce)
            .with("ect_packets", hr.ip_ect)
            .with("negotiated", negotiated)
            .with("ece_echoes", echoed)
            .with("cwr", cwr)
    });
    // The peer must have spoken after the mark: otherwise the capture ended first.
    if negotiated && echoed == 0 && c.last_seen[side.other()] > ts {
        let k = AnomalyKind::EcnEchoMissing;
        j.raise(k, || {
            Anomaly::new(k, frame, ts)
                .with("from", side.name())
                .with("ce_packets", ce)
                .with(
                    "receiver_acks_after",
                    peer.signals.pure_acks + peer.signals.data_acks,
                )
        });
    }
}

/// receive_window_limited for the data `side` sent.
fn window_limited(j: &mut Judge<'_>, side: Side) {
    let c = j.conn;
    let (h, peer) = (c.half(side), c.half(side.other()));
    let (f, lim) = (&h.flow, h.flow.limits());
    if lim.window_limited_rounds < WINDOW_LIMITED_ROUNDS {
        return;
    }
    let Some((frame, ts)) = lim.first_window_limited else {
        return;
    };
    // Without both SYNs the window scale is unknown and a scaled window looks tiny.
    if h.options.is_none() || peer.options.is_none() {
        return;
    }
    let rtt = h.metrics.srtt.or(c.handshake.rtt);
    let win = lim.limiting_window;
    // The window must have been what set the pace: the best round trip's throughput comes
    // near one window per RTT. A sender far below it was held back by something else (the
    // application, a small RTT measured near the receiver), whatever its flight touched.
    // The best interval counts only when it spans about a round trip: one much shorter (fixed
    // at the first data from a handshake quicker than the data path) times a single burst.
    let spans_rtt = match (f.interval, rtt) {
        (Some(i), Some(r)) => i.saturating_mul(2) >= r,
        _ => false,
    };
    let peak = f.throughput_peak().filter(|_| spans_rtt);
    let achieved = peak.or(f.throughput_avg());
    let per_rtt = rtt.and_then(|r| rate(win as u64, r));
    match (achieved, per_rtt) {
        (Some(a), Some(p)) if a * WINDOW_PACE_DIVISOR >= p => {}
        _ => return,
    }
    let scaling = peer.options.is_some_and(|o| o.wscale.is_some())
        && h.options.is_some_and(|o| o.wscale.is_some());
    let k = AnomalyKind::ReceiveWindowLimited;
    j.raise(k, || {
        let bdp = match (f.burst_rate, rtt) {
            (Some(b), Some(r)) => {
                Value::U64((b as i128 * r.as_nanos() as i128 / 1_000_000_000) as u64)
            }
            _ => Value::Null,
        };
        Anomaly::new(k, frame, ts)
            .with("from", side.name())
            .with("window", win)
            .with("window_scaling", scaling)
            .with("receiver_raw_window_max", peer.flow.raw_window_max)
            .with("rtt", rtt.map_or(Value::Null, secs))
            .with("window_per_rtt", per_rtt)
            .with("throughput_avg", f.throughput_avg())
            .with("throughput_peak", f.throughput_peak())
            .with("burst_rate", f.burst_rate)
            .with("bdp_needed", bdp)
            .with("rounds", lim.window_limited_rounds)
            .with("segments", lim.window_limited_segments)
    });
}

/// `bytes` per `d`, in bytes per second.
fn rate(bytes: u64, d: Duration) -> Option<u64> {
    (d.as_nanos() > 0).then(|| (bytes as i128 * 1_000_000_000 / d.as_nanos() as i128) as u64)
}

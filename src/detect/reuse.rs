//! Four-tuple reuse: a new incarnation inside the previous one's TIME-WAIT.

use super::anomaly::secs;
use super::judge::Judge;
use super::view::ConnView;
use super::{Anomaly, AnomalyKind, Value};
use crate::tcp::TcpState;
use crate::wire::{Endpoint, Segment, Side};

/// premature_reuse_2msl: the connection opened by `syn` (judged by `j`) reuses the four-tuple of `old` less than 2*MSL after `old`
/// closed with the FIN exchange (RFC 9293 §3.4.2: TIME-WAIT lasts 2*MSL so that old duplicates
/// die out first). RFC 6191 makes the reuse safe when the new SYN's timestamp is greater than
/// the last one the old incarnation carried from that host, or, without timestamps, when its
/// ISN lies beyond the old incarnation's sequence space.
pub fn on_new_incarnation(old: &ConnView<'_>, syn: &Segment<'_>, j: &mut Judge<'_>) {
    let (new_orig, cfg) = (j.conn.orig, j.cfg);
    let Some(closed) = old.closed_ts else { return };
    if old.first_rst.is_some() {
        return; // an aborted connection leaves no TIME-WAIT behind
    }
    let gap = syn.ts.since(closed);
    if gap >= cfg.two_msl() {
        return;
    }
    // `orig` or `resp` of the new incarnation for a side of the old one.
    let new_name = |s: Side| {
        let ep = if s == Side::Orig { old.orig } else { old.resp };
        if ep == new_orig { "orig" } else { "resp" }
    };
    let k = AnomalyKind::PrematureReuse2msl;
    j.raise(k, || {
        // The SYN's sender, as the old incarnation knew it.
        let sender = old.side_of(Endpoint::new(syn.src, syn.sport));
        let tw = |s: Side| old.machine.end(s).state == TcpState::TimeWait;
        let holder = match (tw(Side::Orig), tw(Side::Resp)) {
            (true, true) => "both",
            (true, false) => new_name(Side::Orig),
            (false, true) => new_name(Side::Resp),
            (false, false) => old.first_fin.map_or("none", new_name),
        };
        let (safe, basis) = match (syn.options.timestamps, old.half(sender).last_tsval) {
            (Some((tsval, _)), Some(last)) => {
                let newer = tsval.wrapping_sub(last) as i32 > 0;
                let basis = if newer {
                    "timestamp_greater"
                } else {
                    "timestamp_not_greater"
                };
                (newer, basis)
            }
            _ => {
                let end = old.machine.end(sender).snd_nxt;
                let beyond = end.is_some_and(|e| syn.seq > e);
                let basis = if beyond {
                    "isn_greater"
                } else {
                    "isn_not_greater"
                };
                (beyond, basis)
            }
        };
        let mut a = Anomaly::new(k, syn.frame, syn.ts)
            .with("prev_id", old.id)
            .with("time_wait_side", holder)
            .with("gap", secs(gap))
            .with("two_msl", secs(cfg.two_msl()))
            .with("rfc6191_safe", safe)
            .with("basis", basis);
        // The ISN clock across incarnations (RFC 6528's M; seed 001): the step from the old
        // ISN of the same sender over the time between the two SYNs (Linux: 15.6 million a
        // second, one tick every 64 ns; the 32-bit space wraps in about 275 s).
        let old_syn = if sender == Side::Orig {
            old.handshake.syn_ts
        } else {
            old.handshake.synack_ts
        };
        if let (Some(isn), Some(at)) = (old.half(sender).isn, old_syn) {
            let step = syn.seq.0.wrapping_sub(isn.0);
            let dt = syn.ts.since(at).as_secs_f64();
            a = a.with("isn_step", step);
            if dt > 0.0 {
                a = a.with(
                    "isn_step_per_s",
                    Value::F64((f64::from(step) / dt).round(), 0),
                );
            }
        }
        if !safe {
            a = a.with(
                "risk",
                "old duplicates of the previous incarnation can be accepted",
            );
        }
        a
    });
}

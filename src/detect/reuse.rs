//! Four-tuple reuse: a new incarnation inside the previous one's TIME-WAIT.

use super::{Anomaly, AnomalyKind, DetectConfig, secs};
use crate::flow::{Connection, Side};
use crate::tcp::TcpState;
use crate::wire::Segment;

/// premature_reuse_2msl: `new` (opened by `syn`) reuses the four-tuple of `old` less than 2*MSL
/// after `old` closed with the FIN exchange (RFC 9293 §3.4.2: TIME-WAIT lasts 2*MSL so that old
/// duplicates die out first). RFC 6191 makes the reuse safe when the new SYN's timestamp is
/// greater than the last one the old incarnation carried from that host, or, without
/// timestamps, when its ISN lies beyond the old incarnation's sequence space.
pub(crate) fn on_new_incarnation(
    old: &Connection,
    new: &mut Connection,
    syn: &Segment<'_>,
    cfg: &DetectConfig,
    out: &mut Vec<Anomaly>,
) {
    let Some(closed) = old.closed_ts else { return };
    if old.first_rst.is_some() {
        return; // an aborted connection leaves no TIME-WAIT behind
    }
    let gap = syn.ts.since(closed);
    if gap.0 >= cfg.msl.0.saturating_mul(2) {
        return;
    }
    // The SYN's sender, as the old incarnation knew it.
    let sender = if syn.src == old.orig.addr && syn.sport == old.orig.port {
        Side::Orig
    } else {
        Side::Resp
    };
    let tw = |s: Side| old.tcp.end(s).state == TcpState::TimeWait;
    let holder = match (tw(Side::Orig), tw(Side::Resp)) {
        (true, true) => "both",
        (true, false) => old_side_name(old, Side::Orig, new),
        (false, true) => old_side_name(old, Side::Resp, new),
        (false, false) => old.first_fin.map_or("none", |s| old_side_name(old, s, new)),
    };
    let old_tsval = old.half(sender).last_tsval;
    let (safe, basis) = match (syn.options.timestamps, old_tsval) {
        (Some((tsval, _)), Some(last)) => {
            let newer = tsval.wrapping_sub(last) as i32 > 0;
            (
                newer,
                if newer {
                    "timestamp_greater"
                } else {
                    "timestamp_not_greater"
                },
            )
        }
        _ => {
            let end = old.tcp.end(sender).snd_nxt;
            let beyond = end.is_some_and(|e| syn.seq > e);
            (
                beyond,
                if beyond {
                    "isn_greater"
                } else {
                    "isn_not_greater"
                },
            )
        }
    };
    let mut a = Anomaly::new(AnomalyKind::PrematureReuse2msl, syn.frame, syn.ts)
        .with("prev_id", old.id)
        .with("time_wait_side", holder)
        .with("gap", secs(gap))
        .with(
            "two_msl",
            secs(crate::time::Duration(cfg.msl.0.saturating_mul(2))),
        )
        .with("rfc6191_safe", safe)
        .with("basis", basis);
    if !safe {
        a = a.with(
            "risk",
            "old duplicates of the previous incarnation can be accepted",
        );
    }
    super::raise(new, a, out);
}

/// `orig` or `resp` of the new incarnation for a side of the old one.
fn old_side_name(old: &Connection, s: Side, new: &Connection) -> &'static str {
    let ep = if s == Side::Orig { old.orig } else { old.resp };
    if ep == new.orig { "orig" } else { "resp" }
}

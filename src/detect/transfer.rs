//! Rules on an established connection's traffic: keep-alive probes and their timeout.

use super::{Anomaly, AnomalyKind, DetectConfig};
use crate::flow::{Connection, Side};
use crate::tcp::{SegClass, SegFacts};
use crate::wire::Segment;

/// Rules evaluated on each segment, after the state machine applied it.
pub(crate) fn on_segment(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    out: &mut Vec<Anomaly>,
) {
    let i = side.index();
    let peer = side.other().index();
    // Anything from the peer answers this side's outstanding probes.
    c.detect.unanswered_probes[peer] = 0;
    c.detect.first_probe[peer] = None;

    // keepalive: RFC 9293 §3.8.4 (RFC 1122 4.2.3.6): SEG.SEQ = SND.NXT - 1 with no data or one
    // garbage octet, no SYN/FIN/RST, on a synchronized connection. A zero-length probe while the
    // peer advertises a zero window is a zero-window probe (Linux sends those the same way).
    let is_probe = matches!(facts.class, SegClass::Ack)
        && seg.payload_len <= 1
        && facts.sender_before.is_synchronized()
        && facts.snd_nxt_before.is_some_and(|n| seg.seq.add(1) == n)
        && c.tcp.end(side.other()).window > 0;
    if is_probe {
        c.detect.unanswered_probes[i] += 1;
        c.detect.first_probe[i].get_or_insert((seg.frame, seg.ts));
        let a = Anomaly::new(AnomalyKind::Keepalive, seg.frame, seg.ts)
            .with("from", side.name())
            .with("probe_bytes", seg.payload_len)
            .with("idle", super::secs(seg.ts.since(c.last_seen[i])));
        super::raise(c, a, out);
    }
    // keepalive_timeout: the prober gives up (RST) after unanswered probes (Linux: after
    // tcp_keepalive_probes = 9 probes tcp_keepalive_intvl = 75 s apart).
    if facts.class == SegClass::Rst && c.detect.unanswered_probes[i] > 0 {
        timeout(c, side, "rst", out);
    }
}

/// Rules evaluated when the connection leaves the table.
pub(crate) fn on_finish(c: &mut Connection, cfg: &DetectConfig, out: &mut Vec<Anomaly>) {
    for s in [Side::Orig, Side::Resp] {
        if c.detect.unanswered_probes[s.index()] >= cfg.keepalive_unanswered {
            timeout(c, s, "end_of_record", out);
        }
    }
}

fn timeout(c: &mut Connection, s: Side, how: &str, out: &mut Vec<Anomaly>) {
    let i = s.index();
    let (frame, ts) = c.detect.first_probe[i].unwrap_or((c.last_frame, c.last_ts));
    let a = Anomaly::new(AnomalyKind::KeepaliveTimeout, frame, ts)
        .with("prober", s.name())
        .with("unanswered", c.detect.unanswered_probes[i])
        .with("ended_by", how);
    c.detect.unanswered_probes[i] = 0;
    super::raise(c, a, out);
}

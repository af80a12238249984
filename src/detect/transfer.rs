//! Rules on an established connection's traffic: keep-alive probes and their timeout.

use super::{Anomaly, AnomalyKind, DetectConfig, DupKey};
use crate::flow::{Connection, Side};
use crate::tcp::{SegClass, SegFacts, TcpState};
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
    zero_window_probes(c, seg, side, facts, out);
    // keepalive_timeout: the prober gives up (RST) after unanswered probes (Linux: after
    // tcp_keepalive_probes = 9 probes tcp_keepalive_intvl = 75 s apart).
    if facts.class == SegClass::Rst && c.detect.unanswered_probes[i] > 0 {
        timeout(c, side, "rst", out);
    }
}

/// Linux's zero-window probe: no payload, SEG.SEQ = SND.UNA - 1, while the peer advertises a
/// zero window (tcp_xmit_probe_skb). Wireshark calls it a keep-alive, its own zero-window probe
/// being one byte at SND.NXT (flagged by the Wireshark classes). The peer's next pure ACK
/// answers it.
fn zero_window_probes(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    out: &mut Vec<Anomaly>,
) {
    let (i, peer) = (side.index(), side.other());
    let pure_ack = matches!(facts.class, SegClass::Ack) && seg.payload_len == 0;
    if std::mem::take(&mut c.detect.zwp_pending[peer.index()]) && pure_ack {
        let a = Anomaly::new(AnomalyKind::ZeroWindowProbeAck, seg.frame, seg.ts)
            .with("seq", seg.seq.0)
            .with("len", 0)
            .with("window", c.tcp.end(side).window);
        super::raise_segment(c, side, a, out);
    }
    let receiver = c.tcp.end(peer);
    let probe = pure_ack
        && facts.sender_before.is_synchronized()
        && receiver.window == 0
        && receiver.rcv_nxt.is_some_and(|una| seg.seq.add(1) == una);
    if probe {
        c.detect.zwp_pending[i] = true;
        let a = Anomaly::new(AnomalyKind::ZeroWindowProbe, seg.frame, seg.ts)
            .with("seq", seg.seq.0)
            .with("len", 0)
            .with("style", "linux");
        super::raise_segment(c, side, a, out);
    }
}

/// Segment sanity rules with no Wireshark twin: window shrink, out of window, invalid ACK,
/// capture duplicates, bad checksums, segments above the MSS.
pub(crate) fn on_segment_sanity(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    out: &mut Vec<Anomaly>,
) {
    bad_checksum(c, seg, side, out);
    exceeds_mss(c, seg, side, out);
    capture_duplicate(c, seg, side, out);
    if seg.flags.syn() || seg.flags.rst() || !facts.sender_before.is_synchronized() {
        return;
    }
    if seg.flags.ack() {
        window_shrink(c, seg, side, facts, out);
        invalid_ack(c, seg, side, out);
    }
    out_of_window(c, seg, side, out);
}

fn bad_checksum(c: &mut Connection, seg: &Segment<'_>, side: Side, out: &mut Vec<Anomaly>) {
    if seg.checksum_ok != Some(false) {
        return;
    }
    let i = side.index();
    c.detect.bad_checksums[i] += 1;
    // Offload shows as every segment of one direction being bad; corruption as a few.
    let whole_direction = c.detect.bad_checksums[i] as u64 == c.half(side).packets;
    let mut a = Anomaly::new(AnomalyKind::BadChecksum, seg.frame, seg.ts)
        .with("offload_suspected", whole_direction);
    if whole_direction {
        a.severity = super::Severity::Notice;
    }
    super::raise_segment(c, side, a, out);
}

fn exceeds_mss(c: &mut Connection, seg: &Segment<'_>, side: Side, out: &mut Vec<Anomaly>) {
    if let Some(mss) = c.half(side.other()).options.and_then(|o| o.mss)
        && seg.payload_len > mss as u32
        && !seg.flags.syn()
    {
        let a = Anomaly::new(AnomalyKind::SegmentExceedsMss, seg.frame, seg.ts)
            .with("len", seg.payload_len)
            .with("mss", mss);
        super::raise_segment(c, side, a, out);
    }
}

/// The very same packet again (SPAN and tap copies). A retransmission gets a fresh IPv4
/// identification (or a new timestamp option, hence a new checksum); stacks sending ID 0 and
/// IPv6 have no usable ID, so there only an identical checksum within a millisecond counts.
fn capture_duplicate(c: &mut Connection, seg: &Segment<'_>, side: Side, out: &mut Vec<Anomaly>) {
    let i = side.index();
    let key = DupKey {
        seq: seg.seq.0,
        len: seg.payload_len,
        ack: seg.ack.0,
        flags: seg.flags.0,
        window: seg.window,
        checksum: seg.checksum,
        ip_id: seg.ip_id,
    };
    let limit = match seg.ip_id {
        Some(id) if id != 0 => 10_000_000,
        _ => 1_000_000,
    };
    if let Some((prev, at)) = c.detect.last_seg[i]
        && prev == key
        && seg.ts.since(at).0 < limit
    {
        let a = Anomaly::new(AnomalyKind::CaptureDuplicate, seg.frame, seg.ts)
            .with("seq", seg.seq.0)
            .with("len", seg.payload_len);
        super::raise_segment(c, side, a, out);
    }
    c.detect.last_seg[i] = Some((key, seg.ts));
}

/// Zeek's window_recision: the right edge ACK + window moved left by at least one unit of the
/// window scale. Only segments not older than the last accepted one (in both sequence and ACK)
/// count, so reordered or duplicated old ACKs do not; once the sender has sent its FIN,
/// shrinking is routine (the process is going away).
fn window_shrink(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    out: &mut Vec<Anomaly>,
) {
    let sent_fin = matches!(
        facts.sender_before,
        TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::LastAck
            | TcpState::TimeWait
    );
    if seg.flags.fin() || sent_fin {
        return;
    }
    let i = side.index();
    let me = c.tcp.end(side);
    let (window, unit) = (me.window, 1i32 << me.wscale);
    let edge = seg.ack.add(window);
    match c.detect.window_ref[i] {
        Some((seq, ack, _)) if seg.seq < seq || seg.ack < ack => return,
        Some((_, _, prev)) if prev.diff(edge) >= unit => {
            let a = Anomaly::new(AnomalyKind::WindowShrink, seg.frame, seg.ts)
                .with("by", prev.diff(edge));
            super::raise_segment(c, side, a, out);
        }
        _ => {}
    }
    c.detect.window_ref[i] = Some((seg.seq, seg.ack, edge));
}

/// RFC 5961 §5: an ACK below SND.UNA - MAX.SND.WND of the side acknowledged, where
/// MAX.SND.WND is the largest window the ACK's sender ever offered.
fn invalid_ack(c: &mut Connection, seg: &Segment<'_>, side: Side, out: &mut Vec<Anomaly>) {
    let i = side.index();
    let max_wnd = c.detect.max_window[i].max(c.tcp.end(side).window);
    c.detect.max_window[i] = max_wnd;
    if let Some(prev_ack) = c.detect.highest_ack[i]
        && max_wnd > 0
        && seg.ack.add(max_wnd) < prev_ack
    {
        let a = Anomaly::new(AnomalyKind::InvalidAck, seg.frame, seg.ts)
            .with("ack", seg.ack.0)
            .with("highest_ack", prev_ack.0);
        super::raise_segment(c, side, a, out);
    }
    if c.detect.highest_ack[i].is_none_or(|p| seg.ack > p) {
        c.detect.highest_ack[i] = Some(seg.ack);
    }
}

/// Data beyond the receiver's right edge (one MSS of slack for window probes). Only when both
/// SYNs were seen (otherwise the window scale is unknown and every window looks far too small)
/// and while the capture has lost nothing of the exchange (the receiver's latest ACKs may be
/// among the losses).
fn out_of_window(c: &mut Connection, seg: &Segment<'_>, side: Side, out: &mut Vec<Anomaly>) {
    use AnomalyKind as K;
    let (i, peer) = (side.index(), side.other());
    let scale_known = c.half(Side::Orig).options.is_some() && c.half(Side::Resp).options.is_some();
    let them = c.tcp.end(peer);
    let (Some(rcv), window) = (them.rcv_nxt, them.window) else {
        return;
    };
    if seg.payload_len == 0 || !scale_known || window == 0 || !them.state.is_synchronized() {
        return;
    }
    let lost = c.detect.seg_counts.iter().any(|(k, n)| {
        (*k == K::PreviousSegmentNotCaptured && n[i] > 0)
            || (*k == K::AckUnseenSegment && n[peer.index()] > 0)
    });
    if lost {
        return;
    }
    let slack = c.half(side).options.and_then(|o| o.mss).unwrap_or(1460) as u32;
    let end = seg.seq.add(seg.payload_len);
    if end > rcv.add(window.saturating_add(slack)) {
        let a = Anomaly::new(K::OutOfWindow, seg.frame, seg.ts)
            .with("beyond_by", end.diff(rcv.add(window)));
        super::raise_segment(c, side, a, out);
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

//! Handshake rules: retransmitted SYNs and SYN-ACKs, the missing third ACK, half-open and refused
//! attempts, simultaneous open, stale SYNs, SYNs with data, invalid flag combinations.

use serde_json::Value;

use super::{Anomaly, AnomalyKind, DetectConfig, Severity, secs};
use crate::flow::{Connection, Side};
use crate::tcp::{SegClass, SegFacts, TcpState};
use crate::wire::{Segment, TcpFlags};

/// Rules evaluated on each segment, after the state machine applied it.
pub(crate) fn on_segment(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    out: &mut Vec<Anomaly>,
) {
    let f = seg.flags;
    match facts.class {
        SegClass::Syn => {
            let isn = c.half(side).isn;
            let same_isn = isn == Some(seg.seq);
            if side == Side::Orig && same_isn && c.is_closed() {
                // stale_syn: the same SYN again after the connection finished: an old duplicate
                // (RFC 9293 §3.4: the reason the handshake needs its third step).
                if c.detect.stale.is_none() && !c.detect.has(AnomalyKind::StaleSyn) {
                    c.detect.stale = Some((seg.frame, seg.ts, side.index(), Vec::new()));
                }
            } else if side == Side::Orig && same_isn {
                c.detect.syns.see(seg.frame, seg.ts);
            }
            // simultaneous_open: the receiver had itself sent a SYN and was waiting in SYN-SENT
            // (RFC 9293 §3.5, figure 7; Zeek weird `simultaneous_open`).
            if facts.receiver_before == TcpState::SynSent {
                let a = Anomaly::new(AnomalyKind::SimultaneousOpen, seg.frame, seg.ts);
                super::raise(c, a, out);
            }
        }
        SegClass::SynAck if side == Side::Resp && c.half(Side::Resp).isn == Some(seg.seq) => {
            c.detect.synacks.see(seg.frame, seg.ts);
        }
        SegClass::Rst
            if side == Side::Resp && facts.receiver_before == TcpState::SynSent
            // connection_refused: SYN answered by an acceptable RST (RFC 9293 §3.10.7.3; Zeek
            // REJ). Linux answers a SYN to a closed port with RST+ACK, ack = ISN + 1.
            && facts.acks_syn =>
        {
            let waited = c.handshake.syn_ts.map(|t| seg.ts.since(t));
            let a = Anomaly::new(AnomalyKind::ConnectionRefused, seg.frame, seg.ts)
                .with("syns", c.half(Side::Orig).syns)
                .with("answer_after", waited.map_or(Value::Null, secs));
            super::raise(c, a, out);
        }
        SegClass::Invalid => {
            // invalid_flags: combinations RFC 9293 gives no meaning (Zeek `Q`/`I` history,
            // `TCP_christmas`; Suricata `fin_syn`).
            let (name, letters) = invalid_name(f);
            let a = Anomaly::new(AnomalyKind::InvalidFlags, seg.frame, seg.ts)
                .with("combination", name)
                .with("flags", letters)
                .with("from", side.name());
            super::raise(c, a, out);
        }
        _ => {}
    }

    if f.syn() && seg.payload_len > 0 {
        // syn_with_data: payload in a SYN (RFC 7413 TCP Fast Open with a cookie is benign).
        let tfo = seg.options.tfo.filter(|t| t.cookie_len > 0).is_some();
        let mut a = Anomaly::new(AnomalyKind::SynWithData, seg.frame, seg.ts)
            .with("bytes", seg.payload_len)
            .with("tfo_cookie", tfo)
            .with("from", side.name());
        if tfo {
            a.severity = Severity::Info;
        }
        super::raise(c, a, out);
    }

    // The originator's first acknowledgment of the responder's SYN completes the handshake; if
    // it carries data, the pure third ACK was never sent or was lost (implicit completion).
    if side == Side::Orig && facts.acks_syn && !f.syn() && !f.rst() && !c.detect.established {
        c.detect.established = true;
        if seg.payload_len == 0 && !f.fin() {
            c.detect.pure_third_ack = true;
        } else if c.half(Side::Resp).sent_synack {
            let a = Anomaly::new(AnomalyKind::MissingThirdAck, seg.frame, seg.ts)
                .with("completed_by", if f.fin() { "fin" } else { "data" })
                .with("data_bytes", seg.payload_len)
                .with("synacks", c.half(Side::Resp).syns);
            super::raise(c, a, out);
        }
        report_repeats(c, out);
    }

    // The peer's answers to a stale SYN (at most two segments are described).
    if let Some((frame, ts, from, answers)) = &mut c.detect.stale
        && seg.frame != *frame
        && answers.len() < 2
    {
        let who = if side.index() == *from {
            "syn_sender"
        } else {
            "peer"
        };
        answers.push(Value::String(format!("{who}: {}", answer_name(seg))));
        if answers.len() == 2 {
            let (frame, ts) = (*frame, *ts);
            emit_stale(c, frame, ts, out);
        }
    }
}

/// Rules evaluated when the connection leaves the table.
pub(crate) fn on_finish(c: &mut Connection, _cfg: &DetectConfig, out: &mut Vec<Anomaly>) {
    report_repeats(c, out);
    if let Some((frame, ts, _, _)) = c.detect.stale {
        emit_stale(c, frame, ts, out);
    }
    // half_open: the responder sent SYN-ACK and never saw the handshake complete: it is still
    // in SYN-RECEIVED (Linux gives up after tcp_synack_retries = 5, 63 s).
    if c.half(Side::Resp).sent_synack && c.tcp.end(Side::Resp).state == TcpState::SynReceived {
        let (frame, ts) = c
            .detect
            .synacks
            .first
            .unwrap_or((c.first_frame, c.first_ts));
        let a = Anomaly::new(AnomalyKind::HalfOpen, frame, ts)
            .with("synacks", c.half(Side::Resp).syns)
            .with("waited", secs(c.last_ts.since(c.first_ts)))
            .with("orig_state", c.tcp.end(Side::Orig).state.name());
        super::raise(c, a, out);
    }
}

/// Reports SYN and SYN-ACK retransmissions once, with the gaps between copies (Linux backs off
/// 1, 2, 4, 8, 16 s: RFC 6298 §5.5 and tcp_syn_retries / tcp_synack_retries).
fn report_repeats(c: &mut Connection, out: &mut Vec<Anomaly>) {
    for (kind, resp) in [
        (AnomalyKind::SynRetransmission, false),
        (AnomalyKind::SynackRetransmission, true),
    ] {
        let r = if resp {
            &mut c.detect.synacks
        } else {
            &mut c.detect.syns
        };
        if r.reported || r.count < 2 {
            continue;
        }
        r.reported = true;
        let Some((frame, ts)) = r.first_repeat else {
            continue;
        };
        let gaps: Vec<Value> = r.gaps.iter().map(|g| secs(*g)).collect();
        let copies = r.count;
        let a = Anomaly::new(kind, frame, ts)
            .with("copies", copies)
            .with("gaps", gaps);
        super::raise(c, a, out);
    }
}

fn emit_stale(c: &mut Connection, frame: u64, ts: crate::time::Timestamp, out: &mut Vec<Anomaly>) {
    let Some((_, _, from, answers)) = c.detect.stale.take() else {
        return;
    };
    let peer_answer = answers
        .first()
        .cloned()
        .unwrap_or(Value::String("none".into()));
    let side = if from == 0 { Side::Orig } else { Side::Resp };
    let time_wait = c.tcp.end(side.other()).state == TcpState::TimeWait
        || c.tcp.end(side).state == TcpState::TimeWait;
    let a = Anomaly::new(AnomalyKind::StaleSyn, frame, ts)
        .with(
            "after_close",
            c.closed_ts.map_or(Value::Null, |t| secs(ts.since(t))),
        )
        .with(
            "answers",
            Value::Array(if answers.is_empty() {
                vec![peer_answer]
            } else {
                answers
            }),
        )
        .with("time_wait_side", if time_wait { "present" } else { "none" });
    super::raise(c, a, out);
}

/// What a segment answering a stale SYN was.
fn answer_name(seg: &Segment<'_>) -> &'static str {
    match SegClass::of(seg.flags) {
        SegClass::SynAck => "syn_ack",
        SegClass::Rst => "rst",
        SegClass::Ack if seg.payload_len == 0 => "ack",
        SegClass::Ack => "data",
        SegClass::Fin => "fin",
        SegClass::Syn => "syn",
        SegClass::Invalid => "invalid",
    }
}

/// The name and tcpdump letters of an invalid flag combination.
pub(crate) fn invalid_name(f: TcpFlags) -> (&'static str, String) {
    let name = if f.syn() && f.fin() {
        "syn_fin"
    } else if f.syn() && f.rst() {
        "syn_rst"
    } else if f.fin() && f.rst() {
        "fin_rst"
    } else if f.0 & 0x3f == 0 {
        "null"
    } else if f.has(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG) && !f.ack() {
        "xmas"
    } else if f.fin() && !f.ack() {
        "fin_without_ack"
    } else {
        "no_ack"
    };
    (name, f.to_string())
}

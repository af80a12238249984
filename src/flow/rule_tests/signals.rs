//! ECN marks and their echo, a transfer held by the receiver's window, and headers with an
//! impossible data offset, driven through the table in virtual time.

use super::{handshake, kinds, run};
use crate::detect::{AnomalyKind, DetectConfig, ListenerConfig};
use crate::event::Event;
use crate::flow::{FlowConfig, FlowTable};
use crate::testutil::{c2s, s2c};
use crate::wire::{BadTcpHeader, Segment, SeqNum, Side, TcpFlags};

/// A handshake negotiating ECN: SYN with ECE and CWR, SYN-ACK with ECE (RFC 3168 §6.1.1).
fn ecn_handshake() -> Vec<Segment<'static>> {
    let mut s = handshake();
    s[0].flags = TcpFlags(s[0].flags.0 | TcpFlags::ECE | TcpFlags::CWR);
    s[1].flags = TcpFlags(s[1].flags.0 | TcpFlags::ECE);
    s
}

/// The server sends 3 segments, the second marked CE; the client ACKs each, with ECE on the
/// ACKs from the mark on when `echo`.
fn marked_transfer(echo: bool) -> Vec<Segment<'static>> {
    let mut s = ecn_handshake();
    for i in 0..3u32 {
        let mut d = s2c(30 + 10 * i as i64, "A", 501 + 1000 * i, 101, 1000);
        d.ip_ecn = if i == 1 { 3 } else { 2 };
        s.push(d);
        let mut a = c2s(31 + 10 * i as i64, "A", 101, 1501 + 1000 * i, 0);
        if echo && i >= 1 {
            a.flags = TcpFlags(a.flags.0 | TcpFlags::ECE);
        }
        s.push(a);
    }
    s
}

#[test]
fn a_ce_mark_echoed_is_congestion_and_nothing_more() {
    let k = kinds(&run(marked_transfer(true)));
    assert!(k.contains(&AnomalyKind::EcnCongestion), "{k:?}");
    assert!(!k.contains(&AnomalyKind::EcnEchoMissing), "{k:?}");
}

#[test]
fn a_ce_mark_never_echoed_is_a_missing_echo() {
    let a = run(marked_transfer(false));
    let k = kinds(&a);
    assert!(k.contains(&AnomalyKind::EcnEchoMissing), "{k:?}");
    let e = a
        .iter()
        .find(|a| a.kind == AnomalyKind::EcnEchoMissing)
        .unwrap();
    assert_eq!(e.frame, 40, "the marked segment");
}

#[test]
fn ce_marks_without_negotiated_ecn_raise_no_missing_echo() {
    let mut s = marked_transfer(false);
    s[0].flags = TcpFlags(s[0].flags.0 & !(TcpFlags::ECE | TcpFlags::CWR));
    let k = kinds(&run(s));
    assert!(k.contains(&AnomalyKind::EcnCongestion), "{k:?}");
    assert!(!k.contains(&AnomalyKind::EcnEchoMissing), "{k:?}");
}

/// The client sends `rounds` windows of 45 segments of 1448 bytes, 50 ms apart, each ACKed
/// whole by the server (window 65,535, no scaling) at the end of its round; `per_round`
/// segments when fewer.
fn upload(rounds: u32, per_round: u32) -> Vec<Segment<'static>> {
    let mut s = handshake();
    let mut next = 101u32;
    for r in 0..rounds as i64 {
        let t = 30 + 50 * r;
        for _ in 0..per_round {
            s.push(c2s(t, "A", next, 501, 1448));
            next += 1448;
        }
        s.push(s2c(t + 50, "A", 501, next, 0));
    }
    s
}

#[test]
fn a_sender_at_the_receivers_window_round_after_round_is_window_limited() {
    let a = run(upload(5, 45));
    let w = a
        .iter()
        .find(|a| a.kind == AnomalyKind::ReceiveWindowLimited)
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(w.detail.get("window").and_then(|v| v.as_u64()), Some(65535));
    assert_eq!(
        w.detail.get("window_scaling").and_then(|v| v.as_bool()),
        Some(false)
    );
}

#[test]
fn a_sender_well_inside_the_window_is_not_window_limited() {
    let k = kinds(&run(upload(5, 10)));
    assert!(!k.contains(&AnomalyKind::ReceiveWindowLimited), "{k:?}");
    // Two rounds at the window are slow start, not a limit.
    let k = kinds(&run(upload(2, 45)));
    assert!(!k.contains(&AnomalyKind::ReceiveWindowLimited), "{k:?}");
}

#[test]
fn a_bad_data_offset_is_tied_to_its_connection() {
    let mut t = FlowTable::new(
        FlowConfig::default(),
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let (mut raised, mut counted) = (Vec::new(), Vec::new());
    let mut keep = |e: Event<'_>| match e {
        Event::Anomaly(a) => raised.push((a.kind, a.frame)),
        Event::Closed(c) => counted.push(c.half(Side::Orig).signals.rare().bad_data_offsets),
        _ => {}
    };
    for s in handshake() {
        t.process(&s, &mut keep);
    }
    let d = c2s(25, "A", 101, 501, 0);
    let bad = |frame: u64, sport: u16| BadTcpHeader {
        ts: d.ts,
        frame,
        src: d.src,
        dst: d.dst,
        sport,
        dport: d.dport,
        seq: SeqNum(101),
        flags: d.flags,
        data_offset: 3,
        tcp_len: 20,
        ttl: 64,
    };
    t.bad_header(&bad(25, d.sport), &mut keep);
    // Another four-tuple: no connection to tie it to, nothing raised.
    t.bad_header(&bad(26, d.sport + 1), &mut keep);
    t.finish(&mut keep).unwrap();
    assert_eq!(raised, vec![(AnomalyKind::BadDataOffset, 25)]);
    assert_eq!(counted, vec![1]);
}

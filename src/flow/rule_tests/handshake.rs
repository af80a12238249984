//! The handshake rules on the cases real captures showed: the merged third segment, a lost
//! third ACK, a responder that gave its half-open connection up, acknowledgments of the wrong
//! number, window scales beyond 14.

use super::{handshake, kinds, run};
use crate::detect::AnomalyKind;
use crate::flow::testkit::{of_kind, replay};
use crate::testutil::{c2s, s2c};
use crate::wire::Side;

#[test]
fn data_riding_on_the_third_segment_is_no_missing_ack() {
    // The client's first segment after the SYN-ACK carries data, 5 ms later: the merged third
    // segment, legitimate (info), not a lost ACK.
    let a = run(vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(15, "PA", 101, 501, 20),
    ]);
    let k = kinds(&a);
    assert!(k.contains(&AnomalyKind::ThirdAckWithData), "{k:?}");
    assert!(!k.contains(&AnomalyKind::MissingThirdAck), "{k:?}");
}

#[test]
fn a_third_ack_lost_shows_as_a_repeated_synack_or_late_data() {
    // The server repeats its SYN-ACK: it never got the pure ACK.
    let a = run(vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        s2c(1010, "SA", 500, 101, 0),
        c2s(1020, "PA", 101, 501, 20),
    ]);
    assert!(kinds(&a).contains(&AnomalyKind::MissingThirdAck), "{a:?}");
    // No repeat yet, but the data came 300 ms after the SYN-ACK on a 10 ms path: a Linux
    // client would have sent its ACK at once (the recording missing_third_ack.pcap).
    let a = run(vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(310, "PA", 101, 501, 20),
    ]);
    let late = of_kind(&a, AnomalyKind::MissingThirdAck);
    assert_eq!(late.len(), 1, "{a:?}");
    assert_eq!(late[0].detail["evidence"], "late");
}

#[test]
fn a_responder_that_gave_up_answers_the_late_data_with_rst() {
    // SYN-ACK repeated, then nothing for 20 s: the server dropped its half-open connection; the
    // client's data is answered by RST (seq = the data's ACK, nothing acknowledged).
    let a = run(vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        s2c(1010, "SA", 500, 101, 0),
        c2s(20_000, "PA", 101, 501, 20),
        s2c(20_001, "R", 501, 0, 0),
    ]);
    let k = kinds(&a);
    for want in [AnomalyKind::MissingThirdAck, AnomalyKind::HalfOpen] {
        assert!(k.contains(&want), "{want:?} missing in {k:?}");
    }
    let half_open = of_kind(&a, AnomalyKind::HalfOpen);
    assert_eq!(half_open[0].detail["ended_by"], "data_answered_by_rst");
}

#[test]
fn a_handshake_step_acknowledging_the_wrong_number_does_not_complete() {
    // The third ACK acknowledges 505, not the server's ISN + 1 (501).
    let segs = vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 505, 0),
    ];
    let r = replay(&segs);
    assert!(
        kinds(&r.anomalies).contains(&AnomalyKind::HandshakeBadAck),
        "{:?}",
        r.anomalies
    );
    let rec = &r.records[0];
    assert!(!rec.established());
    assert_eq!(rec.handshake.rtt, None);
    assert_eq!(rec.states[Side::Resp], crate::tcp::TcpState::SynReceived);
    // A SYN-ACK acknowledging something other than the SYN.
    let a = run(vec![c2s(0, "S", 100, 0, 0), s2c(10, "SA", 500, 999, 0)]);
    let bad = of_kind(&a, AnomalyKind::HandshakeBadAck);
    assert_eq!(bad.len(), 1, "{a:?}");
    assert_eq!(bad[0].detail["step"], "syn_ack");
}

#[test]
fn a_window_scale_above_14_is_reported_and_clamped() {
    let mut syn = c2s(0, "S", 100, 0, 0);
    syn.options.wscale = Some(15);
    let mut synack = s2c(10, "SA", 500, 101, 0);
    synack.options.wscale = Some(7);
    let r = replay(&[syn, synack, c2s(20, "A", 101, 501, 0)]);
    let bad = of_kind(&r.anomalies, AnomalyKind::WindowScaleInvalid);
    assert_eq!(bad.len(), 1, "{:?}", r.anomalies);
    assert_eq!(bad[0].detail["shift"], 15);
}

#[test]
fn a_syn_retried_after_a_refusal_is_a_retransmission_not_a_stale_syn() {
    // Windows retries a refused connect with the same ISN, 0.5 s apart.
    let r = replay(&[
        c2s(0, "S", 100, 0, 0),
        s2c(1, "RA", 0, 101, 0),
        c2s(500, "S", 100, 0, 0),
        s2c(501, "RA", 0, 101, 0),
    ]);
    let k = kinds(&r.anomalies);
    assert!(k.contains(&AnomalyKind::ConnectionRefused), "{k:?}");
    assert!(k.contains(&AnomalyKind::SynRetransmission), "{k:?}");
    assert!(!k.contains(&AnomalyKind::StaleSyn), "{k:?}");
    assert!(!k.contains(&AnomalyKind::RstAfterClose), "{k:?}");
    assert_eq!(r.records.len(), 1);
}

#[test]
fn an_old_duplicate_syn_opens_a_record_of_its_own() {
    // A finished connection, then its SYN again: the listener answers with a new ISN and the
    // client resets it. The finished record keeps its states; the replay is record 2.
    let mut segs = handshake();
    segs.extend([
        c2s(30, "FA", 101, 501, 0),
        s2c(40, "FA", 501, 102, 0),
        c2s(50, "A", 102, 502, 0),
        c2s(550, "S", 100, 0, 0),
        s2c(551, "SA", 9000, 101, 0),
        c2s(552, "R", 101, 0, 0),
    ]);
    let r = replay(&segs);
    assert_eq!(r.records.len(), 2, "{:?}", r.anomalies);
    let (first, second) = (&r.records[0], &r.records[1]);
    assert_eq!(first.states[Side::Orig], crate::tcp::TcpState::TimeWait);
    assert_eq!(second.prev_id, Some(first.id));
    assert_eq!(second.half(Side::Resp).isn.map(|s| s.0), Some(9000));
    let stale = of_kind(&r.anomalies, AnomalyKind::StaleSyn);
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].conn_id, Some(second.id));
    assert_eq!(stale[0].detail["prev_id"], 1);
}

#[test]
fn a_synack_repeated_after_the_third_ack_is_an_accept_queue_overflow() {
    // The third ACK is on the wire, yet the server repeats its SYN-ACK (its full accept queue
    // ignored the ACK); the client's request 8 s later is answered by RST, nothing of it
    // acknowledged: the request expired, no abort of an established connection.
    let r = replay(&[
        c2s(0, "S", 100, 0, 0),
        s2c(1, "SA", 500, 101, 0),
        c2s(200, "A", 101, 501, 0),
        s2c(1_000, "SA", 500, 101, 0),
        c2s(1_001, "A", 101, 501, 0),
        c2s(8_500, "PA", 101, 501, 321),
        s2c(8_501, "R", 501, 0, 0),
    ]);
    let k = kinds(&r.anomalies);
    assert!(k.contains(&AnomalyKind::AcceptQueueOverflow), "{k:?}");
    assert!(k.contains(&AnomalyKind::HalfOpen), "{k:?}");
    assert!(!k.contains(&AnomalyKind::RstAbort), "{k:?}");
    assert!(!k.contains(&AnomalyKind::MissingThirdAck), "{k:?}");
}

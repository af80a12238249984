//! The retransmission timer's back-off and give-up, the lost final ACK and the ISN sketches,
//! driven through the connection table in virtual time (milliseconds). Client ISN 100, server
//! ISN 500.

use super::{handshake, kinds, run};
use crate::detect::AnomalyKind as K;
use crate::flow::testkit::replay;
use crate::tcp::backoff::{Resent, SeriesEnd};
use crate::testutil::{c2s, s2c, seg};
use crate::time::Duration;
use crate::wire::{Segment, Side};

/// 100 bytes at 30 ms, copied with a doubling timeout (200, 400, 800 ms).
fn backed_off() -> Vec<Segment<'static>> {
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 100),
        c2s(230, "PA", 101, 501, 100),
        c2s(630, "PA", 101, 501, 100),
        c2s(1430, "PA", 101, 501, 100),
    ]);
    s
}

/// The client's longest series of copies of one segment, on its record.
fn client_series(r: &crate::flow::testkit::Replayed) -> &crate::tcp::backoff::Backoff {
    let h = r.records[0].half(Side::Orig);
    h.rare().backoff.as_deref().expect("a series of copies")
}

#[test]
fn established_copies_then_silence_is_a_give_up() {
    let mut s = backed_off();
    // The server is still there (its window update at 5 s), the client has gone silent.
    s.push(s2c(5000, "A", 501, 101, 0));
    let r = replay(&s);
    let a = r
        .anomalies
        .iter()
        .find(|a| a.kind == K::RetransmissionGiveup);
    let a = a.expect("retransmission_giveup");
    assert_eq!(a.detail["copies"].as_u64(), Some(4));
    assert_eq!(a.detail["ended_by"], "silence");
    let b = client_series(&r);
    assert_eq!(
        (b.what, b.end, b.copies),
        (Resent::Data, SeriesEnd::GaveUpSilent, 4)
    );
    assert_eq!(b.gaps, [200, 400, 800].map(Duration::from_millis));
    // The test segments' frame numbers are their milliseconds.
    assert_eq!(b.original.map(|o| o.0), Some(30));
}

#[test]
fn copies_that_are_acknowledged_or_too_recent_are_no_give_up() {
    let mut acked = backed_off();
    acked.extend([s2c(1431, "A", 501, 201, 0), s2c(5000, "A", 501, 201, 0)]);
    let r = replay(&acked);
    assert!(!kinds(&r.anomalies).contains(&K::RetransmissionGiveup));
    let b = client_series(&r);
    assert_eq!(b.end, SeriesEnd::Acked);
    // The capture ends before the next, doubled timeout would have fired.
    let mut recent = backed_off();
    recent.push(s2c(2000, "A", 501, 101, 0));
    assert!(!kinds(&run(recent)).contains(&K::RetransmissionGiveup));
    // One copy is no back-off (a fast retransmit, a tail-loss probe).
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 100),
        c2s(230, "PA", 101, 501, 100),
        s2c(9000, "A", 501, 101, 0),
    ]);
    assert!(!kinds(&run(s)).contains(&K::RetransmissionGiveup));
}

#[test]
fn copies_ended_by_the_senders_rst_are_a_give_up() {
    let mut s = backed_off();
    s.push(c2s(3030, "R", 201, 0, 0));
    let a = run(s);
    let g = a.iter().find(|a| a.kind == K::RetransmissionGiveup);
    assert_eq!(g.expect("give-up").detail["ended_by"], "rst");
}

#[test]
fn syn_copies_are_a_series_of_their_own() {
    let other = |ms| {
        let ip = |x| std::net::IpAddr::from([10, 0, 0, x]);
        seg(ms, (ip(9), 4000), (ip(2), 81), "S", 7, 0, 0)
    };
    let s = vec![
        c2s(0, "S", 100, 0, 0),
        c2s(1000, "S", 100, 0, 0),
        c2s(2000, "S", 100, 0, 0),
        c2s(3000, "S", 100, 0, 0),
        other(9000),
    ];
    let r = replay(&s);
    let h = r.records[0].half(Side::Orig);
    let b = h.rare().syn_backoff.as_deref().expect("syn series");
    assert_eq!((b.what, b.copies), (Resent::Syn, 4));
    assert_eq!(b.gaps, [1000; 3].map(Duration::from_millis));
    assert!(h.rare().backoff.is_none());
    assert!(kinds(&r.anomalies).contains(&K::RetransmissionGiveup));
}

#[test]
fn a_fin_repeated_into_time_wait_is_a_lost_final_ack() {
    let mut s = handshake();
    s.extend([
        c2s(50, "FA", 101, 501, 0),
        s2c(60, "A", 501, 102, 0),
        s2c(70, "FA", 501, 102, 0),
        c2s(80, "A", 102, 502, 0),
        s2c(280, "FA", 501, 102, 0),
        c2s(281, "A", 102, 502, 0),
    ]);
    let r = replay(&s);
    assert_eq!(kinds(&r.anomalies), [K::FinalAckLost]);
    let d = &r.anomalies[0].detail;
    // Frame numbers are the segments' milliseconds.
    assert_eq!(d["first_ack_frame"].as_u64(), Some(80));
    assert_eq!(d["answer_frame"].as_u64(), Some(281));
    let rec = &r.records[0];
    let (side, until) = rec.time_wait_until.expect("TIME-WAIT");
    assert_eq!(side, Side::Orig);
    let answer = s[8].ts;
    assert_eq!(
        until,
        answer.add(crate::detect::DetectConfig::default().two_msl())
    );
    // Wireshark's classes are still counted on the record.
    assert_eq!(rec.half(Side::Resp).rare().retransmitted_packets, 1);
}

#[test]
fn isn_steps_of_one_across_four_tuples_are_predictable() {
    let ip = |x| std::net::IpAddr::from([10, 0, 0, x]);
    let s: Vec<_> = (0..4)
        .map(|i| {
            seg(
                i * 10,
                (ip(1), 5000 + i as u16),
                (ip(2), 80),
                "S",
                42 + i as u32,
                0,
                0,
            )
        })
        .collect();
    let a = run(s);
    assert_eq!(kinds(&a), [K::PredictableIsn]);
    assert_eq!(a[0].detail["pattern"], "small_steps");
    assert_eq!(a[0].conn_id, None);
}

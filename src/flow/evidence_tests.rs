//! The evidence rules driven through the connection table: IP-ID models behind
//! `rst_injection_suspected`, TTLs on the record, ICMP errors linked to their connection, and
//! one-sided connections and captures. Client ISN 100, server ISN 500 (as in `rule_tests`).

use std::net::{IpAddr, Ipv4Addr};

use crate::detect::{Anomaly, AnomalyKind, DetectConfig, ListenerConfig};
use crate::event::{ConnRecord, Event};
use crate::flow::testkit::{Replayed, of_kind, replay};
use crate::flow::{FlowConfig, FlowTable};
use crate::testutil::{c2s, s2c, seg};
use crate::time::Timestamp;
use crate::wire::{IcmpError, Segment, SeqNum, Side};

fn has(a: &[Anomaly], k: AnomalyKind) -> bool {
    a.iter().any(|a| a.kind == k)
}

/// A connection whose client numbers its IP IDs with `client_id(i)` for its i-th segment
/// (handshake, request, FIN when `client_fin`), then resets with `rst`.
fn exchange(
    client_id: impl Fn(u16) -> u16,
    client_fin: bool,
    rst: Segment<'static>,
) -> Vec<Segment<'static>> {
    let mut v = vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
        c2s(30, "PA", 101, 501, 100),
        s2c(40, "PA", 501, 201, 1000),
        c2s(50, "A", 201, 1501, 0),
    ];
    if client_fin {
        v.push(c2s(60, "FA", 201, 1501, 0));
    }
    let mut i = 0;
    for s in &mut v {
        if s.sport == 40000 {
            s.ip_id = Some(client_id(i));
            i += 1;
        }
    }
    v.push(rst);
    v
}

fn rst_with(ip_id: u16, ttl: u8) -> Segment<'static> {
    let mut r = c2s(70, "R", 202, 0, 0);
    r.ip_id = Some(ip_id);
    r.ttl = ttl;
    r
}

#[test]
fn an_rst_jumping_out_of_the_senders_counter_is_suspected() {
    let a = replay(&exchange(|i| 7000 + i, false, rst_with(30000, 64))).anomalies;
    let inj = a
        .iter()
        .find(|a| a.kind == AnomalyKind::RstInjectionSuspected)
        .expect("a counter jumping at the RST is evidence");
    assert_eq!(inj.detail["evidence"], "ip_id");
    assert_eq!(inj.detail["ip_id_model"], "counter");
}

#[test]
fn an_rst_after_the_senders_own_fin_is_not_judged_by_its_ip_id() {
    // Linux answers from a TIME-WAIT or control socket once its socket closed, with IDs of
    // their own: 34 of 37 IP-ID events on real captures were such RSTs.
    let a = replay(&exchange(|i| 7000 + i, true, rst_with(30000, 64))).anomalies;
    assert!(!has(&a, AnomalyKind::RstInjectionSuspected), "{a:?}");
}

#[test]
fn random_ip_ids_are_no_evidence() {
    // arkime/https2-301-get.pcap: the client's IDs jump between its own segments.
    let ids = [55901, 18693, 119, 51817, 13078];
    let a = replay(&exchange(|i| ids[i as usize], false, rst_with(47889, 64))).anomalies;
    assert!(!has(&a, AnomalyKind::RstInjectionSuspected), "{a:?}");
}

#[test]
fn a_forged_rst_with_another_ttl_raises_ttl_anomaly_too() {
    let Replayed { anomalies, records } = replay(&exchange(|i| 7000 + i, true, rst_with(7005, 40)));
    let inj = anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::RstInjectionSuspected)
        .expect("TTL evidence holds after the sender's FIN too");
    assert_eq!(inj.detail["evidence"], "ttl");
    let ttl = anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::TtlAnomaly)
        .expect("the forged RST is a TTL anomaly");
    assert_eq!(ttl.frame, 70);
    let c = records[0].half(Side::Orig);
    assert_eq!(
        (c.ttl_first, c.ttl_min, c.ttl_max),
        (Some(64), Some(40), Some(64))
    );
}

/// An ICMP error from `router` quoting a segment from `src` with sequence number `seq`.
fn icmp(ms: i64, router: [u8; 4], src: (IpAddr, u16), dst: (IpAddr, u16), seq: u32) -> IcmpError {
    IcmpError {
        ts: Timestamp::from_millis(ms),
        frame: ms as u64,
        reporter: IpAddr::from(router),
        v6: false,
        icmp_type: 11,
        code: 0,
        mtu: None,
        src: src.0,
        dst: dst.0,
        sport: src.1,
        dport: dst.1,
        seq: SeqNum(seq),
        flags: None,
    }
}

/// Segments and ICMP errors in time order.
enum Input {
    Seg(Segment<'static>),
    Icmp(IcmpError),
}

fn run_inputs(inputs: Vec<Input>) -> (Vec<Anomaly>, Vec<ConnRecord>, FlowTable) {
    let mut t = FlowTable::new(
        FlowConfig::default(),
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let (mut anomalies, mut records) = (Vec::new(), Vec::new());
    let mut keep = |e: Event<'_>| match e {
        Event::Anomaly(a) => anomalies.push(a.clone()),
        Event::Closed(c) => records.push(c.clone()),
        _ => {}
    };
    for i in &inputs {
        match i {
            Input::Seg(s) => t.process(s, &mut keep),
            Input::Icmp(e) => t.icmp_error(e, &mut keep),
        }
    }
    t.finish(&mut keep).unwrap();
    (anomalies, records, t)
}

#[test]
fn a_ttl_expired_syn_is_answered_by_the_network_not_left_unanswered() {
    // A listener answers five clients; five other SYNs (and their retransmissions) expire on
    // the way and a router says so. Without the ICMP errors this is listen_queue_overflow
    // (rule_tests::unanswered_attempts_while_others_are_answered_overflow_the_queue).
    let server = crate::testutil::B;
    let mut inputs = Vec::new();
    for i in 0..10u32 {
        let client = (
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            40000 + i as u16,
        );
        let ms = i as i64 * 100;
        inputs.push(Input::Seg(seg(ms, client, server, "S", 1000 + i, 0, 0)));
        if i % 2 == 0 {
            inputs.push(Input::Seg(seg(
                ms + 1,
                server,
                client,
                "SA",
                9000 + i,
                1001 + i,
                0,
            )));
        } else {
            inputs.push(Input::Icmp(icmp(
                ms + 1,
                [10, 9, 9, 1],
                client,
                server,
                1000 + i,
            )));
            inputs.push(Input::Seg(seg(
                ms + 50,
                client,
                server,
                "S",
                1000 + i,
                0,
                0,
            )));
            inputs.push(Input::Icmp(icmp(
                ms + 51,
                [10, 9, 9, 1],
                client,
                server,
                1000 + i,
            )));
        }
    }
    let (a, records, t) = run_inputs(inputs);
    assert!(!has(&a, AnomalyKind::ListenQueueOverflow), "{a:?}");
    let errs = of_kind(&a, AnomalyKind::IcmpError);
    assert_eq!(errs.len(), 5, "one report per connection");
    assert_eq!(errs[0].detail["name"], "ttl_exceeded");
    assert_eq!(errs[0].detail["router"], "10.9.9.1");
    assert_eq!(errs[0].detail["about"], "orig");
    assert_eq!(t.stats.icmp_errors_linked, 10);
    let expired = records.iter().find(|r| r.orig.port == 40001).unwrap();
    assert_eq!(expired.half(Side::Orig).rare().icmp_errors, 2);
    let n = expired
        .tally
        .counts
        .iter()
        .find(|(k, _)| *k == AnomalyKind::IcmpError);
    assert_eq!(n.map(|(_, n)| *n), Some(2));
}

#[test]
fn an_icmp_error_quoting_an_unsent_sequence_number_is_not_linked() {
    // RFC 5927 §4.1: a blind attacker does not know the sequence numbers in use.
    let (a, _, t) = run_inputs(vec![
        Input::Seg(c2s(0, "S", 100, 0, 0)),
        Input::Icmp(icmp(
            1,
            [10, 9, 9, 1],
            crate::testutil::A,
            crate::testutil::B,
            5000,
        )),
    ]);
    assert!(!has(&a, AnomalyKind::IcmpError));
    assert_eq!(
        (t.stats.icmp_errors_linked, t.stats.icmp_errors_unlinked),
        (0, 1)
    );
}

#[test]
fn a_responder_seen_alone_acknowledging_unseen_data_is_one_sided() {
    // The server's side only (a tap on one direction): its SYN-ACK, then ACKs of requests
    // the capture never showed. It is not half-open: it acknowledged the client's data.
    let segs = vec![
        s2c(10, "SA", 500, 101, 0),
        s2c(40, "PA", 501, 201, 1000),
        s2c(60, "FA", 1501, 202, 0),
    ];
    let Replayed { anomalies, records } = replay(&segs);
    assert_eq!(records[0].one_sided, Some(Side::Resp));
    assert!(!has(&anomalies, AnomalyKind::HalfOpen), "{anomalies:?}");
}

#[test]
fn a_client_seen_alone_is_one_sided_and_not_judged_on_its_peers_silence() {
    // The client's side only: SYN, the ACK of a SYN-ACK the capture never showed, a request,
    // its FIN, an RST after more data came back unseen.
    let segs = vec![
        c2s(0, "S", 100, 0, 0),
        c2s(20, "A", 101, 501, 0),
        c2s(30, "PA", 101, 501, 100),
        c2s(50, "A", 201, 1501, 0),
        c2s(3000, "RA", 201, 2501, 0),
    ];
    let Replayed { anomalies, records } = replay(&segs);
    assert_eq!(records[0].one_sided, Some(Side::Orig));
    for k in [AnomalyKind::RstAbort, AnomalyKind::RstInjectionSuspected] {
        assert!(!has(&anomalies, k), "{k}: {anomalies:?}");
    }
}

#[test]
fn a_two_sided_connection_is_not_one_sided() {
    let segs = exchange(|i| 7000 + i, true, rst_with(7005, 64));
    assert_eq!(replay(&segs).records[0].one_sided, None);
}

#[test]
fn on_a_one_sided_capture_a_lone_synack_is_one_sided_too() {
    // Five clients proved one-sided (their ACKs answer SYN-ACKs never seen), then a SYN-ACK
    // alone: on this capture its missing third ACK says nothing about the client.
    let server = crate::testutil::B;
    let mut segs = Vec::new();
    for i in 0..5u32 {
        let client = (
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
            40000 + i as u16,
        );
        segs.push(seg(i as i64 * 10, client, server, "S", 1000, 0, 0));
        segs.push(seg(i as i64 * 10 + 1, client, server, "A", 1001, 9001, 0));
    }
    segs.push(s2c(100, "SA", 500, 101, 0));
    segs.push(s2c(1100, "SA", 500, 101, 0));
    let Replayed { anomalies, records } = replay(&segs);
    let lone = records
        .iter()
        .find(|r| r.orig.port == 40000 && r.orig.addr == crate::testutil::A.0);
    assert_eq!(lone.unwrap().one_sided, Some(Side::Resp));
    assert!(!has(&anomalies, AnomalyKind::HalfOpen), "{anomalies:?}");
}

#[test]
fn an_injected_rst_ahead_of_the_synack_is_judged_by_the_synacks_ttl() {
    // Zeek's rst-inject-rae.pcap: an RST+ACK with TTL 46 arrives before the server's SYN-ACK
    // (TTL 49); the server's own later RST is not the suspect.
    let mut forged = s2c(5, "RA", 0, 101, 0);
    forged.ttl = 46;
    let mut synack = s2c(10, "SA", 500, 101, 0);
    synack.ttl = 49;
    let mut rst = s2c(40, "RA", 501, 101, 0);
    rst.ttl = 49;
    let segs = vec![
        c2s(0, "S", 100, 0, 0),
        forged,
        synack,
        c2s(20, "A", 101, 501, 0),
        rst,
    ];
    let a = replay(&segs).anomalies;
    let inj = of_kind(&a, AnomalyKind::RstInjectionSuspected);
    assert_eq!(inj.len(), 1, "{a:?}");
    assert_eq!(inj[0].frame, 5);
    assert!(
        a.iter()
            .any(|a| a.kind == AnomalyKind::TtlAnomaly && a.frame == 5)
    );
}

#[test]
fn backscatter_of_a_spoofed_syn_is_no_ttl_anomaly() {
    // A spoofed SYN (TTL 50, from whoever forged the address), the listener's SYN-ACK, and the
    // address's real owner resetting it (TTL 64): two hosts, not one host's TTL changing.
    let mut syn = c2s(0, "S", 100, 0, 0);
    syn.ttl = 50;
    let rst = c2s(20, "R", 101, 0, 0);
    let a = replay(&[syn, s2c(10, "SA", 500, 101, 0), rst]).anomalies;
    assert!(!has(&a, AnomalyKind::TtlAnomaly), "{a:?}");
    assert!(!has(&a, AnomalyKind::RstInjectionSuspected), "{a:?}");
}

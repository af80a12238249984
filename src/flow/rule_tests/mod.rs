//! The connection and listener rules the generator does not label, each driven through the
//! connection table with segments built in virtual time. Client ISN 100, server ISN 500.

mod handshake;
mod signals;
mod timers;

use crate::detect::{Anomaly, AnomalyKind, DetectConfig, ListenerConfig};
use crate::event::Event;
use crate::flow::testkit::{Replayed, of_kind, replay, replay_with};
use crate::flow::{FlowConfig, FlowTable};
use crate::testutil::{c2s, s2c, seg};
use crate::wire::{Segment, Side};

fn run_with(segs: Vec<Segment<'static>>, listeners: ListenerConfig) -> Vec<Anomaly> {
    replay_with(&segs, listeners).anomalies
}

pub(super) fn run(segs: Vec<Segment<'static>>) -> Vec<Anomaly> {
    run_with(segs, ListenerConfig::default())
}

pub(super) fn kinds(a: &[Anomaly]) -> Vec<AnomalyKind> {
    a.iter().map(|a| a.kind).collect()
}

/// The three-way handshake every connection test starts from.
pub(super) fn handshake() -> Vec<Segment<'static>> {
    vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
    ]
}

#[test]
fn clean_connection_raises_nothing() {
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 100),
        s2c(40, "PA", 501, 201, 1000),
        c2s(50, "FA", 201, 1501, 0),
        s2c(60, "FA", 1501, 202, 0),
        c2s(70, "A", 202, 1502, 0),
    ]);
    assert_eq!(kinds(&run(s)), vec![]);
}

#[test]
fn in_window_rst_answered_by_ack_is_a_challenge_ack() {
    let mut s = handshake();
    s.extend([c2s(30, "R", 1101, 0, 0), s2c(31, "A", 501, 101, 0)]);
    let a = run(s);
    assert!(kinds(&a).contains(&AnomalyKind::ChallengeAck), "{a:?}");
    assert!(
        !kinds(&a).contains(&AnomalyKind::RstAbort),
        "a challenged RST ends nothing"
    );
}

#[test]
fn close_wait_held_to_the_end_is_stuck() {
    let mut s = handshake();
    s.extend([
        c2s(30, "FA", 101, 501, 0),
        s2c(40, "A", 501, 102, 0),
        s2c(5000, "PA", 501, 102, 10),
    ]);
    let a = run(s);
    let cw = of_kind(&a, AnomalyKind::CloseWaitStuck);
    assert_eq!(cw.len(), 1, "{a:?}");
    assert_eq!(cw[0].detail["side"], "resp");
}

#[test]
fn close_wait_closed_promptly_is_fine() {
    let mut s = handshake();
    s.extend([
        c2s(30, "FA", 101, 501, 0),
        s2c(40, "FA", 501, 102, 0),
        c2s(50, "A", 102, 502, 0),
    ]);
    assert!(!kinds(&run(s)).contains(&AnomalyKind::CloseWaitStuck));
}

#[test]
fn ttl_change_and_forged_rst() {
    let mut s = handshake();
    let mut odd = s2c(30, "PA", 501, 101, 10);
    odd.ttl = 50;
    s.push(odd);
    assert!(kinds(&run(s)).contains(&AnomalyKind::TtlAnomaly));

    let mut s = handshake();
    s.push(s2c(30, "PA", 501, 101, 10));
    let mut rst = s2c(40, "R", 511, 0, 0);
    rst.ttl = 120;
    s.push(rst);
    let a = run(s);
    assert!(
        kinds(&a).contains(&AnomalyKind::RstInjectionSuspected),
        "{a:?}"
    );
    assert!(
        kinds(&a).contains(&AnomalyKind::TtlAnomaly),
        "a forged RST is a TTL anomaly too"
    );
}

#[test]
fn traffic_after_own_rst_means_the_rst_was_forged() {
    let mut s = handshake();
    s.extend([s2c(30, "R", 501, 0, 0), s2c(40, "PA", 501, 101, 100)]);
    let a = run(s);
    assert!(
        a.iter()
            .any(|x| x.kind == AnomalyKind::RstInjectionSuspected
                && x.detail["evidence"] == "traffic_after_rst")
    );
}

#[test]
fn rst_abort_then_rst_after_close() {
    let mut s = handshake();
    s.extend([
        c2s(30, "RA", 101, 501, 0),
        s2c(40, "PA", 501, 101, 10),
        c2s(50, "R", 101, 0, 0),
    ]);
    let k = kinds(&run(s));
    assert!(k.contains(&AnomalyKind::RstAbort), "{k:?}");
    assert!(k.contains(&AnomalyKind::RstAfterClose), "{k:?}");
}

#[test]
fn rst_into_time_wait_is_an_assassination() {
    let mut s = handshake();
    s.extend([
        c2s(30, "FA", 101, 501, 0),
        s2c(40, "FA", 501, 102, 0),
        c2s(50, "A", 102, 502, 0),
        s2c(1000, "R", 502, 0, 0),
    ]);
    let a = run(s);
    let tw = of_kind(&a, AnomalyKind::TimewaitAssassination);
    assert_eq!(tw.len(), 1, "{a:?}");
    assert_eq!(tw[0].detail["time_wait_side"], "orig");
}

#[test]
fn unanswered_keepalives_then_rst_is_a_keepalive_timeout() {
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 10),
        s2c(40, "A", 501, 111, 0),
        c2s(10_000, "A", 110, 501, 0),
        c2s(11_000, "A", 110, 501, 0),
        c2s(12_000, "A", 110, 501, 0),
        c2s(13_000, "RA", 111, 501, 0),
    ]);
    let k = kinds(&run(s));
    assert!(k.contains(&AnomalyKind::Keepalive), "{k:?}");
    assert!(k.contains(&AnomalyKind::KeepaliveTimeout), "{k:?}");
}

#[test]
fn answered_keepalives_are_not_a_timeout() {
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 10),
        s2c(40, "A", 501, 111, 0),
        c2s(10_000, "A", 110, 501, 0),
        s2c(10_010, "A", 501, 111, 0),
    ]);
    let k = kinds(&run(s));
    assert!(k.contains(&AnomalyKind::Keepalive));
    assert!(!k.contains(&AnomalyKind::KeepaliveTimeout));
}

#[test]
fn syn_with_data_and_invalid_flag_names() {
    let a = run(vec![c2s(0, "S", 100, 0, 40)]);
    assert!(kinds(&a).contains(&AnomalyKind::SynWithData));
    for (flags, name) in [
        ("SF", "syn_fin"),
        ("SR", "syn_rst"),
        ("", "null"),
        ("FPU", "xmas"),
        ("F", "fin_without_ack"),
    ] {
        let a = run(vec![c2s(0, flags, 100, 0, 0)]);
        let inv = of_kind(&a, AnomalyKind::InvalidFlags);
        assert_eq!(inv.len(), 1, "{flags}");
        assert_eq!(inv[0].detail["combination"], name);
    }
}

/// An attempt from client number `i` to the server, at `ms`.
fn attempt(i: u32, ms: i64, answered: bool) -> Vec<Segment<'static>> {
    let client = (
        std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)),
        40000 + (i % 20000) as u16,
    );
    let server = crate::testutil::B;
    let mut v = vec![seg(ms, client, server, "S", 1000 + i, 0, 0)];
    if answered {
        v.push(seg(ms + 1, server, client, "SA", 9000 + i, 1001 + i, 0));
    }
    v
}

#[test]
fn spoofed_flood_is_reported_once_with_its_sources() {
    let segs: Vec<_> = (0..200).flat_map(|i| attempt(i, i as i64, true)).collect();
    let a = run(segs);
    let floods = of_kind(&a, AnomalyKind::SynFlood);
    assert_eq!(floods.len(), 1, "{:?}", kinds(&a));
    let d = &floods[0].detail;
    assert_eq!(d["attempts"], 200);
    assert!(d["distinct_sources"].as_u64().unwrap() >= 190);
    assert_eq!(d["completion_ratio"], 0.0);
    assert!(kinds(&a).contains(&AnomalyKind::HalfOpenBacklog));
}

#[test]
fn busy_legitimate_clients_are_not_a_flood() {
    let mut segs = Vec::new();
    for i in 0..300u32 {
        let ms = i as i64 * 2;
        let client = (
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, (i % 3) as u8 + 1)),
            30000 + i as u16,
        );
        let server = crate::testutil::B;
        segs.push(seg(ms, client, server, "S", 1000 + i, 0, 0));
        segs.push(seg(ms, server, client, "SA", 9000 + i, 1001 + i, 0));
        segs.push(seg(ms + 1, client, server, "A", 1001 + i, 9001 + i, 0));
    }
    let k = kinds(&run(segs));
    assert!(!k.contains(&AnomalyKind::SynFlood), "{k:?}");
    assert!(!k.contains(&AnomalyKind::HalfOpenBacklog));
}

#[test]
fn unanswered_attempts_while_others_are_answered_overflow_the_queue() {
    let mut segs = Vec::new();
    for i in 0..10 {
        segs.extend(attempt(i, i as i64 * 100, i % 2 == 0));
    }
    // The unanswered initiators repeat their SYNs after the initial timeout (1 s).
    for i in (1..10).step_by(2) {
        segs.extend(attempt(i, 1000 + i as i64 * 100, false));
    }
    let a = run(segs);
    let o = of_kind(&a, AnomalyKind::ListenQueueOverflow);
    assert_eq!(o.len(), 1, "{:?}", kinds(&a));
    assert_eq!(o[0].detail["unanswered"], 5);
}

#[test]
fn syns_still_within_their_answer_time_at_the_end_are_no_overflow() {
    // The same attempts, but the capture ends 100 ms after the last SYN: the unanswered ones
    // were still within the listener's normal answer time, and nobody repeated a SYN.
    let mut segs = Vec::new();
    for i in 0..10 {
        segs.extend(attempt(i, i as i64 * 10, i % 2 == 0));
    }
    let k = kinds(&run(segs));
    assert!(!k.contains(&AnomalyKind::ListenQueueOverflow), "{k:?}");
}

#[test]
fn attempts_beyond_the_cap_are_aggregated_not_tracked() {
    let cfg = ListenerConfig {
        max_half_open_per_listener: 50,
        ..ListenerConfig::default()
    };
    let mut t = FlowTable::new(FlowConfig::default(), DetectConfig::default(), cfg);
    let mut floods = 0;
    let mut keep = |e: Event<'_>| {
        if let Event::Anomaly(a) = e {
            floods += (a.kind == AnomalyKind::SynFlood) as u32;
        }
    };
    for s in (0..1000).flat_map(|i| attempt(i, i as i64, true)) {
        t.process(&s, &mut keep);
    }
    assert_eq!(t.len(), 50, "only the capped number of attempts is tracked");
    assert_eq!(t.stats.aggregated_segments, 1900);
    t.finish(&mut keep).unwrap();
    assert_eq!(floods, 1);
}

#[test]
fn options_stripped_while_flooded_look_like_syncookies() {
    let mut segs = Vec::new();
    for i in 0..100u32 {
        let mut v = attempt(i, i as i64, true);
        v[0].options.wscale = Some(7);
        v[0].options.sack_permitted = true;
        segs.extend(v);
    }
    let a = run(segs);
    let c = of_kind(&a, AnomalyKind::Syncookies);
    assert_eq!(c.len(), 1, "{:?}", kinds(&a));
    assert_eq!(c[0].detail["heuristic"], true);
}

/// A flood of 100 answered attempts, then two clients with timestamps completing while it
/// lasts. Their SYN-ACK's TSval is `tsval` and the server's next segment, 1 ms later, carries
/// `tsval + jump`.
fn timestamp_clients_during_a_flood(tsval: u32, jump: u32) -> Vec<Anomaly> {
    let mut segs: Vec<_> = (0..100).flat_map(|i| attempt(i, i as i64, true)).collect();
    let server = crate::testutil::B;
    for k in 0..2u32 {
        let client = (
            std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + k)),
            50000 + k as u16,
        );
        let ms = 100 + 10 * k as i64;
        let (isn, sisn) = (7000 + k, 8000 + k);
        let mut syn = seg(ms, client, server, "S", isn, 0, 0);
        syn.options.wscale = Some(7);
        syn.options.sack_permitted = true;
        syn.options.timestamps = Some((100, 0));
        let mut sa = seg(ms + 1, server, client, "SA", sisn, isn + 1, 0);
        sa.options.wscale = Some(7);
        sa.options.sack_permitted = true;
        sa.options.timestamps = Some((tsval, 100));
        let mut ack = seg(ms + 2, client, server, "A", isn + 1, sisn + 1, 0);
        ack.options.timestamps = Some((101, tsval));
        let mut data = seg(ms + 2, server, client, "PA", sisn + 1, isn + 1, 10);
        data.options.timestamps = Some((tsval + jump, 101));
        segs.extend([syn, sa, ack, data]);
    }
    run(segs)
}

#[test]
fn a_synack_tsval_behind_the_clock_is_a_timestamp_cookie() {
    // 0x4017: a clock value rounded down to 64 plus the SYN's options (wscale 7, SACK).
    let a = timestamp_clients_during_a_flood(0x4017, 40);
    let c = of_kind(&a, AnomalyKind::Syncookies);
    assert_eq!(c.len(), 1, "{:?}", kinds(&a));
    let d = &c[0].detail;
    assert_eq!(d["timestamp_cookies"], 2, "{d:?}");
    assert_eq!(d["timestamp_cookie_max_lag_ms"], 39, "{d:?}");
    assert_eq!(d["timestamp_cookie_options_in_tsval"], 2, "{d:?}");
    // Other low bits: still cookies by the lag, but the options cannot be read back.
    let a = timestamp_clients_during_a_flood(0x4000, 40);
    let c = of_kind(&a, AnomalyKind::Syncookies);
    assert_eq!(c[0].detail["timestamp_cookie_options_in_tsval"], 0);
    // A TSval that follows the clock (a SYN-ACK from the request queue) is no evidence.
    let a = timestamp_clients_during_a_flood(0x4017, 1);
    assert!(
        of_kind(&a, AnomalyKind::Syncookies).is_empty(),
        "{:?}",
        kinds(&a)
    );
}

#[test]
fn rst_answering_an_unsolicited_synack_is_normal() {
    // SYN-ACK reflection: the victim never sent a SYN and resets the SYN-ACK (RFC 9293 §3.10.7.1).
    let a = run(vec![s2c(0, "SA", 500, 101, 0), c2s(1, "R", 101, 0, 0)]);
    assert!(
        !kinds(&a).contains(&AnomalyKind::RstAfterClose),
        "{:?}",
        kinds(&a)
    );
}

fn count(a: &[Anomaly], k: AnomalyKind) -> usize {
    of_kind(a, k).len()
}

#[test]
fn the_same_packet_twice_is_a_capture_duplicate_not_a_retransmission_by_us() {
    let mut s = handshake();
    let data = c2s(30, "PA", 101, 501, 100);
    let mut copy = data.clone();
    copy.ts = data.ts + crate::time::Duration::from_micros(50); // 50 µs later, same IP ID
    copy.frame += 1;
    s.extend([data, copy]);
    let a = run(s);
    assert_eq!(count(&a, AnomalyKind::CaptureDuplicate), 1, "{a:?}");
}

#[test]
fn a_resent_segment_with_a_new_ip_id_is_no_capture_duplicate() {
    let mut s = handshake();
    // Same bytes a second later with a fresh IP ID: the sender sent it again.
    s.extend([c2s(30, "PA", 101, 501, 100), c2s(1030, "PA", 101, 501, 100)]);
    let a = run(s);
    assert_eq!(count(&a, AnomalyKind::CaptureDuplicate), 0, "{a:?}");
    assert_eq!(count(&a, AnomalyKind::Retransmission), 1, "{a:?}");
}

#[test]
fn duplicate_acks_with_ip_id_zero_are_not_capture_duplicates() {
    let mut s = handshake();
    let mut acks: Vec<_> = (0..3).map(|i| s2c(30 + i, "A", 501, 101, 0)).collect();
    for (i, a) in acks.iter_mut().enumerate() {
        a.ip_id = Some(0);
        a.checksum = 0x1000 + i as u16; // different SACK blocks or timestamps
    }
    s.extend(acks);
    let a = run(s);
    assert_eq!(count(&a, AnomalyKind::CaptureDuplicate), 0, "{a:?}");
}

#[test]
fn bad_checksums_say_whether_the_whole_direction_is_bad() {
    let offload = |a: &[Anomaly]| -> Vec<Option<bool>> {
        a.iter()
            .filter(|a| a.kind == AnomalyKind::BadChecksum)
            .map(|a| a.detail.get("offload_suspected").and_then(|v| v.as_bool()))
            .collect()
    };
    // Every client segment bad: the capturing host's NIC fills checksums in (offload).
    let mut s = handshake();
    for x in s.iter_mut().filter(|x| x.src == crate::testutil::A.0) {
        x.checksum_ok = Some(false);
    }
    assert_eq!(offload(&run(s)), vec![Some(true)]);

    // One bad segment after a good one from the same side: corruption.
    let mut s = handshake();
    let mut ok = s2c(40, "PA", 501, 101, 10);
    ok.checksum_ok = Some(true);
    let mut bad = s2c(50, "PA", 511, 101, 10);
    bad.checksum_ok = Some(false);
    s.extend([ok, bad]);
    assert_eq!(offload(&run(s)), vec![Some(false)]);
}

#[test]
fn payload_above_the_peers_mss_is_an_offload_artefact() {
    let mut syn = c2s(0, "S", 100, 0, 0);
    syn.options.mss = Some(1460);
    let mut synack = s2c(10, "SA", 500, 101, 0);
    synack.options.mss = Some(1400);
    let s = vec![
        syn,
        synack,
        c2s(20, "A", 101, 501, 0),
        c2s(30, "PA", 101, 501, 1400),
        c2s(31, "PA", 1501, 501, 2800),
        s2c(40, "PA", 501, 4301, 1460),
    ];
    let a = run(s);
    let big = of_kind(&a, AnomalyKind::SegmentExceedsMss);
    assert_eq!(big.len(), 1, "{a:?}");
    assert_eq!(big[0].detail["len"], 2800);
    assert_eq!(big[0].detail["mss"], 1400);
}

#[test]
fn a_receiver_pulling_its_right_edge_back_shrinks_the_window() {
    let mut s = handshake();
    let mut small = s2c(40, "A", 501, 201, 0);
    small.window = 1000; // edge 1201, was 101 + 65535
    s.extend([
        s2c(25, "A", 501, 101, 0),
        c2s(30, "PA", 101, 501, 100),
        small,
    ]);
    let a = run(s);
    assert_eq!(count(&a, AnomalyKind::WindowShrink), 1, "{a:?}");
}

#[test]
fn an_old_ack_arriving_late_is_no_window_shrink() {
    let mut s = handshake();
    let fresh = s2c(50, "A", 501, 301, 0);
    let mut stale = s2c(40, "A", 501, 201, 0);
    stale.ts = crate::time::Timestamp::from_millis(55);
    stale.frame = 55;
    s.extend([c2s(30, "PA", 101, 501, 200), fresh, stale]);
    let a = run(s);
    assert_eq!(count(&a, AnomalyKind::WindowShrink), 0, "{a:?}");
}

#[test]
fn data_past_the_advertised_window_is_out_of_window() {
    let mut s = handshake();
    let mut ack = s2c(10, "SA", 500, 101, 0);
    ack.window = 2000;
    s[1] = ack;
    // Server offers 2000 bytes from 101: 101..2101. One MSS of slack (1460) still passes.
    s.extend([
        c2s(30, "PA", 101, 501, 1000),
        c2s(31, "PA", 1101, 501, 1000),
    ]);
    assert_eq!(count(&run(s.clone()), AnomalyKind::OutOfWindow), 0);
    s.push(c2s(32, "PA", 2101, 501, 2000));
    let a = run(s);
    let oow = of_kind(&a, AnomalyKind::OutOfWindow);
    assert_eq!(oow.len(), 1, "{a:?}");
    assert_eq!(oow[0].detail["beyond_by"], 2000);
}

#[test]
fn an_ack_older_than_a_whole_window_is_invalid() {
    let mut s = handshake();
    s.extend([
        c2s(30, "PA", 101, 501, 40_000),
        c2s(31, "PA", 40_101, 501, 40_000),
        s2c(40, "A", 501, 80_101, 0),
        // Within SND.UNA - MAX.SND.WND (80101 - 65535): an old but acceptable ACK.
        s2c(41, "A", 501, 40_101, 0),
        // Far below it: RFC 5961 drops it.
        s2c(42, "A", 501, 101, 0),
    ]);
    let a = run(s);
    let bad = of_kind(&a, AnomalyKind::InvalidAck);
    assert_eq!(bad.len(), 1, "{a:?}");
    assert_eq!(bad[0].frame, 42);
}

#[test]
fn both_styles_of_zero_window_probe_and_their_answers() {
    let style = |a: &[Anomaly]| -> Vec<String> {
        a.iter()
            .filter(|a| a.kind == AnomalyKind::ZeroWindowProbe)
            .map(|a| a.detail["style"].as_str().unwrap().to_string())
            .collect()
    };
    let closed = |ms, ack| {
        let mut s = s2c(ms, "A", 501, ack, 0);
        s.window = 0;
        s
    };
    // Windows/BSD (and Wireshark's rule): one new byte at SND.NXT into the zero window.
    let mut s = handshake();
    s.extend([c2s(30, "PA", 101, 501, 100), closed(40, 201)]);
    s.extend([c2s(240, "PA", 201, 501, 1), closed(241, 201)]);
    let a = run(s);
    assert_eq!(style(&a), vec!["one_byte"], "{a:?}");
    assert_eq!(count(&a, AnomalyKind::ZeroWindowProbeAck), 1, "{a:?}");
    assert_eq!(count(&a, AnomalyKind::Keepalive), 0, "{a:?}");

    // Linux: an empty segment at SND.UNA - 1, which Wireshark calls a keep-alive.
    let mut s = handshake();
    s.extend([c2s(30, "PA", 101, 501, 100), closed(40, 201)]);
    s.extend([c2s(240, "A", 200, 501, 0), closed(241, 201)]);
    let a = run(s);
    assert_eq!(style(&a), vec!["linux"], "{a:?}");
    assert_eq!(count(&a, AnomalyKind::ZeroWindowProbeAck), 1, "{a:?}");
    assert_eq!(count(&a, AnomalyKind::Keepalive), 0, "{a:?}");

    // The same empty segment into an open window is a keep-alive, not a probe.
    let mut s = handshake();
    s.extend([c2s(30, "PA", 101, 501, 100), s2c(40, "A", 501, 201, 0)]);
    s.extend([c2s(60_040, "A", 200, 501, 0), s2c(60_041, "A", 501, 201, 0)]);
    let a = run(s);
    assert_eq!(style(&a), Vec::<String>::new(), "{a:?}");
    assert_eq!(count(&a, AnomalyKind::Keepalive), 1, "{a:?}");
}

#[test]
fn a_role_flip_keeps_every_per_side_rule_on_its_side() {
    // The server speaks first (midstream, TTL 50, bad checksums as with offload on its host),
    // then its SYN-ACK shows the roles were the other way round. Every per-side fact gathered
    // before the flip must follow the server to the responder's side.
    let server = |mut s: Segment<'static>| {
        s.ttl = 50;
        s.checksum_ok = Some(false);
        s
    };
    let client = |mut s: Segment<'static>| {
        s.checksum_ok = Some(true);
        s
    };
    let mut segs = vec![
        server(s2c(0, "A", 501, 101, 0)),
        server(s2c(10, "SA", 500, 101, 0)),
        client(c2s(20, "A", 101, 501, 0)),
        client(c2s(30, "PA", 101, 501, 10)),
    ];
    segs.extend((0..8).map(|i| server(s2c(40 + i, "A", 501, 111, 0))));
    let Replayed { anomalies, records } = replay(&segs);
    assert!(
        !kinds(&anomalies).contains(&AnomalyKind::TtlAnomaly),
        "{anomalies:?}"
    );
    let r = &records[0];
    assert!(r.flipped);
    assert_eq!(r.tally.segments(AnomalyKind::BadChecksum, Side::Resp), 10);
    assert_eq!(r.tally.segments(AnomalyKind::BadChecksum, Side::Orig), 0);
    // The 10th bad checksum is reported after the flip: from the responder, whose every
    // segment was bad (offload).
    let tenth = anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::BadChecksum && a.detail["count"] == 10)
        .expect("the 10th bad checksum is reported");
    assert_eq!(tenth.detail["from"], "resp");
    assert_eq!(tenth.detail["offload_suspected"], true);
}

#[test]
fn occurrences_that_are_only_counted_build_no_anomaly() {
    // 250 copies of one segment: 249 capture duplicates, reported at the 1st, 10th and 100th.
    let mut s = handshake();
    for _ in 0..250 {
        s.push(c2s(30, "PA", 101, 501, 100));
    }
    let built = crate::detect::BUILT.with(|n| n.get());
    let a = run(s);
    let built = crate::detect::BUILT.with(|n| n.get()) - built;
    assert_eq!(
        count(&a, AnomalyKind::CaptureDuplicate),
        3,
        "{:?}",
        kinds(&a)
    );
    assert_eq!(
        built,
        a.len() as u64,
        "anomalies built {built}, reported {}",
        a.len()
    );
}

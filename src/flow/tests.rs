//! The table's timers: every phase of a connection has its own idle timeout, and the clock also
//! moves without packets (live capture on a quiet link).

use super::{ConnRecord, EndReason, FlowConfig, FlowTable};
use crate::detect::{DetectConfig, ListenerConfig};
use crate::event::Event;
use crate::testutil::{c2s, s2c};
use crate::time::{Duration, Timestamp};
use crate::wire::Segment;

/// Feeds `segs`, then advances the clock to `at_ms`; returns the records that ended.
fn ended_by(segs: &[Segment<'static>], at_ms: i64) -> Vec<ConnRecord> {
    let mut t = FlowTable::new(
        FlowConfig::default(),
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let mut out = Vec::new();
    let mut keep = |e: Event<'_>| {
        if let Event::Closed(c) = e {
            out.push(c.clone());
        }
    };
    for s in segs {
        t.process(s, &mut keep);
    }
    t.advance(Timestamp::from_millis(at_ms), &mut keep);
    out
}

/// `s` seconds in the milliseconds the segment builders take.
fn secs_in_ms(s: i64) -> i64 {
    s * 1000
}

#[test]
fn each_phase_ends_after_its_own_timeout() {
    let cfg = FlowConfig::default();
    let syn = c2s(0, "S", 100, 0, 0);
    let synack = s2c(10, "SA", 500, 101, 0);
    let ack = c2s(20, "A", 101, 501, 0);
    let fin = c2s(30, "FA", 101, 501, 0);
    let cases: Vec<(&str, Vec<Segment<'static>>, Duration)> = vec![
        ("unanswered attempt", vec![syn.clone()], cfg.attempt_timeout),
        (
            "answered, never completed",
            vec![syn.clone(), synack.clone()],
            cfg.handshake_timeout,
        ),
        (
            "established",
            vec![syn.clone(), synack.clone(), ack.clone()],
            cfg.idle_timeout,
        ),
        (
            "half-closed",
            vec![syn, synack, ack, fin],
            cfg.half_closed_timeout,
        ),
    ];
    for (what, segs, timeout) in cases {
        let last = segs.last().unwrap().ts;
        let due = last.add(timeout).since_epoch().whole_millis();
        assert!(ended_by(&segs, due - 1).is_empty(), "{what}: ended early");
        let ended = ended_by(&segs, due + 1);
        assert_eq!(ended.len(), 1, "{what}: not ended at its timeout");
        assert_eq!(ended[0].end_reason, Some(EndReason::Timeout), "{what}");
        assert_eq!(ended[0].last_ts, last, "{what}");
    }
}

#[test]
fn a_shorter_phase_is_checked_at_its_own_deadline() {
    // Established (1 h), then half-closed (10 min): gone after 10 min, not after the hour.
    let segs = vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
        c2s(30, "FA", 101, 501, 0),
    ];
    let ended = ended_by(&segs, secs_in_ms(601));
    assert_eq!(ended.len(), 1);
}

#[test]
fn closed_connections_wait_out_time_wait_then_leave() {
    let segs = crate::testutil::fin_closed();
    let two_msl = DetectConfig::default().two_msl().whole_millis();
    assert!(ended_by(&segs, 50 + two_msl - 1).is_empty());
    let ended = ended_by(&segs, 50 + two_msl + 1);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].end_reason, Some(EndReason::Fin));
}

#[test]
fn the_clock_never_runs_backwards() {
    let mut t = FlowTable::new(
        FlowConfig::default(),
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let mut n = 0;
    let mut ended = |e: Event<'_>| n += matches!(e, Event::Closed(_)) as u32;
    t.process(&c2s(secs_in_ms(1000), "S", 100, 0, 0), &mut ended);
    t.advance(Timestamp::EPOCH, &mut ended);
    assert_eq!(t.now(), Timestamp::from_millis(secs_in_ms(1000)));
    assert_eq!((n, t.len()), (0, 1));
}

#[test]
fn ended_connections_do_not_pile_up_in_the_timer_heap() {
    // MSL 0: a closed connection leaves at the next packet.
    let detect = DetectConfig {
        msl: Duration::ZERO,
        ..DetectConfig::default()
    };
    let mut t = FlowTable::new(FlowConfig::default(), detect, ListenerConfig::default());
    let mut ended = 0u64;
    // 20,000 short connections, each closed by RST: their idle deadlines (1 h) would otherwise
    // stay queued.
    for i in 0..20_000u32 {
        let ms = i as i64;
        let mut syn = c2s(ms, "S", 100, 0, 0);
        syn.sport = (i % 60_000) as u16 + 1024;
        syn.src = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i / 60_000));
        let mut rst = s2c(ms, "RA", 0, 101, 0);
        (rst.dport, rst.dst) = (syn.sport, syn.src);
        t.process(&syn, &mut |e| ended += matches!(e, Event::Closed(_)) as u64);
        t.process(&rst, &mut |e| ended += matches!(e, Event::Closed(_)) as u64);
    }
    assert!(ended > 19_000, "{ended} ended");
    assert!(
        t.timer_entries() <= 4 * t.len() + 4096 + 2,
        "{} timers for {} connections",
        t.timer_entries(),
        t.len()
    );
}

#[test]
fn a_midstream_connection_whose_peer_has_not_spoken_is_open_not_an_attempt() {
    // Data from one side only, no SYN: not an unanswered attempt (130 s) but an open
    // connection (the idle timeout).
    let segs = vec![
        c2s(0, "PA", 1000, 5000, 100),
        c2s(10, "PA", 1100, 5000, 100),
    ];
    let attempt = FlowConfig::default().attempt_timeout.whole_millis();
    assert!(ended_by(&segs, 10 + attempt + 1).is_empty());
    let idle = FlowConfig::default().idle_timeout.whole_millis();
    assert_eq!(ended_by(&segs, 10 + idle + 1).len(), 1);
}

#[test]
fn linux_default_keepalive_keeps_one_record() {
    // 7,200 s idle, then a probe every 75 s, each answered: one connection, not several.
    let mut segs = vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
        c2s(30, "PA", 101, 501, 10),
        s2c(40, "A", 501, 111, 0),
    ];
    let mut t = 40 + 7_200_000;
    for _ in 0..3 {
        segs.push(c2s(t, "A", 110, 501, 0));
        segs.push(s2c(t + 1, "A", 501, 111, 0));
        t += 75_000;
    }
    let r = crate::flow::testkit::replay(&segs);
    assert_eq!(r.records.len(), 1, "split into {} records", r.records.len());
    let probes = r.records[0]
        .tally
        .counts
        .iter()
        .find(|(k, _)| *k == crate::detect::AnomalyKind::Keepalive)
        .map_or(0, |(_, n)| *n);
    assert_eq!(probes, 3);
    // The record shows the probes and their interval.
    let client = r.records[0].half(crate::wire::Side::Orig);
    assert_eq!(client.rare().keepalive_probes, 3);
    assert_eq!(
        client.rare().keepalive_interval,
        Some(Duration::from_secs(75))
    );
}

#[test]
fn many_open_connections_with_several_timer_entries_compact_rarely() {
    // 20,000 connections that go through every phase (attempt, handshake, established,
    // half-closed, closed and waiting out TIME-WAIT) and are all still tracked: every one holds
    // several timer entries, which must not make the table drop stale entries at every packet
    // (quadratic time).
    let mut t = FlowTable::new(
        FlowConfig::default(),
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let mut segs = Vec::new();
    for i in 0..20_000u32 {
        let ms = i as i64;
        let port = (i % 60_000) as u16 + 1024;
        let host = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i / 60_000));
        for (k, mut s) in [
            c2s(ms, "S", 100, 0, 0),
            s2c(ms, "SA", 500, 101, 0),
            c2s(ms, "A", 101, 501, 0),
            c2s(ms, "FA", 101, 501, 0),
            s2c(ms, "FA", 501, 102, 0),
            c2s(ms, "A", 102, 502, 0),
        ]
        .into_iter()
        .enumerate()
        {
            if k == 1 || k == 4 {
                (s.dport, s.dst) = (port, host);
            } else {
                (s.sport, s.src) = (port, host);
            }
            segs.push(s);
        }
    }
    for s in &segs {
        t.process(s, &mut |_| {});
    }
    assert_eq!(t.len(), 20_000);
    assert!(
        t.timer_compactions() < 20,
        "{} compactions for {} segments",
        t.timer_compactions(),
        segs.len()
    );
}

/// An output that needs only some stories (the HTML report's ladders) clears the flag once it
/// has them: the connections after that keep none, and their records are otherwise the same.
#[test]
fn stories_stop_when_no_output_wants_them() {
    let cfg = FlowConfig {
        keep_transitions: true,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg, DetectConfig::default(), ListenerConfig::default());
    let wanted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    t.keep_stories_while(std::sync::Arc::clone(&wanted));
    let mut out = Vec::new();
    let mut keep = |e: Event<'_>| {
        if let Event::Closed(c) = e {
            out.push(c.clone());
        }
    };
    let fin_closed = crate::testutil::fin_closed();
    for s in &fin_closed {
        t.process(s, &mut keep);
    }
    wanted.store(false, std::sync::atomic::Ordering::Relaxed);
    // The same exchange later, from another client port.
    for s in &fin_closed {
        let mut s = s.clone();
        s.ts = s.ts.add(Duration::from_secs(1));
        if s.sport == fin_closed[0].sport {
            s.sport += 1;
        } else {
            s.dport += 1;
        }
        t.process(&s, &mut keep);
    }
    t.finish(&mut keep).unwrap();
    out.sort_by_key(|r| r.id);
    let [first, second] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(first.transitions.len(), 10);
    assert!(first.story.is_some());
    assert!(second.transitions.is_empty());
    assert!(second.story.is_none());
    assert_eq!(second.transition_count, 10);
    assert_eq!(first.states, second.states);
    assert_eq!(
        first.established_at.map(|t| t.add(Duration::from_secs(1))),
        second.established_at
    );
}

/// What few connections show is allocated only when shown: an ordinary exchange (handshake,
/// request, response, close) leaves both halves without their rare parts, and a retransmitted
/// request gives its sender's half its counters, read back through the same accessor.
#[test]
fn rare_parts_are_allocated_only_when_set() {
    use crate::wire::Side;
    const REQUEST: &[u8] = b"GET / HTTP";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\r\n";
    let data = |mut s: Segment<'static>, bytes: &'static [u8]| {
        s.payload = bytes;
        s
    };
    let exchange = |retransmit: bool| {
        let request = data(c2s(30, "PA", 101, 501, 10), REQUEST);
        let mut segs = vec![
            c2s(0, "S", 100, 0, 0),
            s2c(10, "SA", 500, 101, 0),
            c2s(20, "A", 101, 501, 0),
            request.clone(),
        ];
        if retransmit {
            let mut again = request;
            (again.ts, again.frame) = (Timestamp::from_millis(330), 330);
            segs.push(again);
        }
        segs.extend([
            data(s2c(340, "PA", 501, 111, 19), RESPONSE),
            c2s(350, "FA", 111, 520, 0),
            s2c(360, "FA", 520, 112, 0),
            c2s(370, "A", 112, 521, 0),
        ]);
        crate::flow::testkit::replay(&segs).records.remove(0)
    };
    let plain = exchange(false);
    for side in [Side::Orig, Side::Resp] {
        let h = plain.half(side);
        assert!(h.rare.is_none(), "{side:?}: {:?}", h.rare);
        assert!(h.signals.rare.is_none(), "{side:?}: {:?}", h.signals.rare);
        assert!(h.flow.limits.is_none(), "{side:?}: {:?}", h.flow.limits);
    }
    let lossy = exchange(true);
    let client = lossy.half(Side::Orig);
    assert_eq!(client.rare().retransmitted_packets, 1);
    assert_eq!(client.rare().retransmitted_bytes, 10);
    assert!(lossy.half(Side::Resp).rare.is_none());
}

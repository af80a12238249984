//! The memory bound: what the table holds is charged as it is held (timer entries included),
//! evictions take their timer entries along, and a flood of attempts is aggregated rather than
//! allowed to evict connections or grow past the bound.

use std::net::{IpAddr, Ipv4Addr};

use super::FlowTable;
use crate::detect::{DetectConfig, ListenerConfig};
use crate::flow::FlowConfig;
use crate::testutil::{c2s, s2c};
use crate::wire::Segment;

/// Segment `i` of its own four-tuple (its source address), `flags` from the client.
fn tuple(i: u32, flags: &str) -> Segment<'static> {
    let mut s = c2s(i64::from(i), flags, 1000 + i, 5000, 0);
    s.src = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i));
    s
}

fn table(max_memory: usize) -> FlowTable {
    let cfg = FlowConfig {
        max_memory,
        ..FlowConfig::default()
    };
    FlowTable::new(cfg, DetectConfig::default(), ListenerConfig::default())
}

#[test]
fn evicted_connections_leave_no_timer_entries_behind_and_timers_are_charged() {
    let bound = 300 * FlowConfig::default().connection_bytes();
    let mut t = table(bound);
    for i in 0..5_000 {
        t.process(&tuple(i, "A"), &mut |_| {});
        assert!(
            t.memory_in_use() <= bound,
            "segment {i}: {}",
            t.memory_in_use()
        );
    }
    assert!(t.stats.evicted_memory > 4_000, "{:?}", t.stats);
    // One entry per tracked connection: each evicted one took its own along.
    assert_eq!(t.timer_entries(), t.len());
    let entries = t.timer_entries() * std::mem::size_of::<crate::flow::timers::Timer>();
    assert!(t.timers.memory_bytes() >= entries);
    assert_eq!(
        t.memory_in_use(),
        t.len() * t.cfg.connection_bytes() + t.timers.memory_bytes() + t.listeners.memory_bytes()
    );
}

#[test]
fn a_flood_to_random_ports_is_aggregated_within_the_bound_without_evicting() {
    let bound = 4 << 20;
    let mut t = table(bound);
    let syns = 40_000u32;
    for i in 0..syns {
        let mut s = tuple(i, "S");
        s.src = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 ^ i.wrapping_mul(2_654_435_761)));
        s.dport = 1 + (i.wrapping_mul(40_503) % 65_535) as u16;
        t.process(&s, &mut |_| {});
        assert!(t.memory_in_use() <= bound, "SYN {i}: {}", t.memory_in_use());
    }
    // Attempts beyond what the bound holds are counted, not traded for tracked ones.
    assert_eq!(t.stats.evicted, 0, "{:?}", t.stats);
    assert!(t.stats.aggregated_segments > 30_000, "{:?}", t.stats);
    assert_eq!(
        t.stats.connections + t.stats.aggregated_segments,
        u64::from(syns)
    );
    assert!(t.stats.peak_memory_bytes <= bound as u64);
    assert!(t.listeners().memory_bytes() <= bound / 2);
}

/// A flood across the ports of one host takes at most `MAX_LISTENERS_PER_HOST` listeners: the
/// host's other ports are aggregated from their first attempt (no record, no listener state),
/// counted as untracked, and another host's listener is still tracked and judged afterwards
/// (its attempt held as its SYN: attempts have been aggregated, the traffic is hostile).
#[test]
fn a_flood_across_one_hosts_ports_takes_a_bounded_share_of_listeners() {
    use crate::detect::flood::MAX_LISTENERS_PER_HOST;
    let mut t = table(FlowConfig::default().max_memory);
    let ports = MAX_LISTENERS_PER_HOST + 1_000;
    for i in 0..ports {
        let mut s = tuple(i, "S");
        s.dport = 1 + i as u16;
        t.process(&s, &mut |_| {});
    }
    let cap = u64::from(MAX_LISTENERS_PER_HOST);
    assert_eq!(t.stats.connections, cap, "{:?}", t.stats);
    assert_eq!(t.stats.aggregated_segments, u64::from(ports) - cap);
    assert_eq!(
        t.listeners().untracked_listener_attempts,
        u64::from(ports) - cap
    );
    assert_eq!(t.listeners().half_open_tracked(), MAX_LISTENERS_PER_HOST);
    // Every record was made before the first attempt was aggregated: all are held in full.
    assert_eq!(t.stats.lone_kept, 0, "{:?}", t.stats);
    // Another host's listener; attempts having been aggregated, its SYN is held as itself.
    let mut s = tuple(ports, "S");
    s.dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    t.process(&s, &mut |_| {});
    assert_eq!(t.stats.connections, cap + 1, "{:?}", t.stats);
    assert_eq!(t.stats.lone_kept, 1, "{:?}", t.stats);
    assert_eq!(
        t.listeners().half_open_tracked(),
        MAX_LISTENERS_PER_HOST + 1
    );
    assert_eq!(
        t.listeners().untracked_listener_attempts,
        u64::from(ports) - cap
    );
}

/// Zeek's view is allocated only by runs that keep it, and charged only then.
#[test]
fn zeeks_view_is_charged_only_when_kept() {
    let charge = |zeek_view: bool| {
        let cfg = FlowConfig {
            zeek_view,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg, DetectConfig::default(), ListenerConfig::default());
        t.process(&tuple(1, "S"), &mut |_| {});
        t.memory_in_use() - t.timers.memory_bytes() - t.listeners.memory_bytes()
    };
    assert_eq!(charge(false), crate::flow::CONNECTION_BYTES);
    assert_eq!(charge(true), charge(false) + crate::flow::ZEEK_VIEW_BYTES);
}

/// A connection's state has a budget: every tracked connection pays for each byte, and a flood
/// holds 65,536 of them at once. A field that pushes it past this should be boxed, or allocated
/// when first needed (as the keep-alive probes, an early RST and the rare parts of each
/// direction are), or the budget raised with a reason. Optional times take 8 bytes (see
/// `time::Timestamp`).
#[test]
fn a_connection_stays_within_its_budget() {
    let size = std::mem::size_of::<crate::flow::Connection>();
    assert!(size <= 2_560, "a connection's state takes {size} bytes");
    assert_eq!(std::mem::size_of::<Option<crate::time::Timestamp>>(), 8);
}

/// Under a SYN flood, past 8,192 half-open attempts at once, an attempt that shows only its SYN
/// is held as that SYN; an answer brings it back in full, with both segments counted, and every
/// record comes out at the end whichever way it was held.
#[test]
fn a_flood_s_lone_syns_are_held_as_their_syn_until_answered() {
    use super::Slot;
    let mut t = table(1 << 30);
    let syns = 10_000u32;
    let flood = |i: u32| {
        let mut s = tuple(i, "S");
        s.src = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 ^ i.wrapping_mul(2_654_435_761)));
        s.dport = 1 + (i.wrapping_mul(40_503) % 65_535) as u16;
        // Over four hosts: fewer ports each than one host's listeners may take.
        s.dst = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 10 + (i % 4) as u8));
        s
    };
    for i in 0..syns {
        t.process(&flood(i), &mut |_| {});
    }
    let held = |t: &FlowTable| {
        t.conns
            .iter()
            .filter(|s| matches!(s, Slot::Lone(_)))
            .count() as u64
    };
    // From the 8,192nd on: it is half-open as it is accounted.
    let first = u64::from(syns) - 8_191;
    assert_eq!(t.stats.lone_kept, first, "{:?}", t.stats);
    assert_eq!(held(&t), first);
    // The last attempt's SYN-ACK.
    let syn = flood(syns - 1);
    let mut answer = crate::testutil::s2c(10_001, "SA", 7_000, syn.seq.0.wrapping_add(1), 0);
    (answer.src, answer.sport, answer.dst, answer.dport) = (syn.dst, syn.dport, syn.src, syn.sport);
    t.process(&answer, &mut |_| {});
    assert_eq!(held(&t), first - 1);
    let mut closed = Vec::new();
    t.finish(&mut |e| {
        if let crate::event::Event::Closed(r) = e {
            closed.push((r.id, r.half(crate::wire::Side::Resp).packets));
        }
    })
    .unwrap();
    assert_eq!(closed.len(), syns as usize);
    assert!(closed.windows(2).all(|w| w[0].0 < w[1].0), "in id order");
    assert_eq!(closed.last(), Some(&(u64::from(syns), 1)));
}

/// When a connection would not fit under the bound, closed connections are frozen, those that
/// closed first first, before any is evicted: the table then holds about twice as many, each
/// charged by its encoded size, and every record still comes out whole.
#[test]
fn closed_connections_are_frozen_before_any_is_evicted() {
    use super::Slot;
    let per = FlowConfig::default().connection_bytes();
    let bound = 300 * per;
    let mut t = table(bound);
    let n = 1_000u32;
    for i in 0..n {
        // Picked up midstream, then reset: closed.
        t.process(&tuple(i, "A"), &mut |_| {});
        t.process(&tuple(i, "R"), &mut |_| {});
        assert!(t.memory_in_use() <= bound, "{i}: {}", t.memory_in_use());
    }
    let frozen = t
        .conns
        .iter()
        .filter(|s| matches!(s, Slot::Frozen(_)))
        .count();
    assert!(t.stats.frozen > 0 && frozen as u64 <= t.stats.frozen);
    // Without freezing, 300 connections would fit (fewer with the timers).
    assert!(t.len() > 600, "{} tracked, {:?}", t.len(), t.stats);
    assert_eq!(
        t.memory_in_use(),
        (t.len() - frozen) * per
            + t.conns.frozen_bytes()
            + t.timers.memory_bytes()
            + t.closed.capacity() * std::mem::size_of::<(u32, u64)>()
            + t.listeners.memory_bytes()
    );
    let mut closed = Vec::new();
    t.finish(&mut |e| {
        if let crate::event::Event::Closed(r) = e {
            closed.push((
                r.half(crate::wire::Side::Orig).packets,
                r.first_rst.is_some(),
            ));
        }
    })
    .unwrap();
    assert_eq!(closed.len() as u64 + t.stats.evicted, u64::from(n));
    assert!(closed.iter().all(|&c| c == (2, true)), "{closed:?}");
}

/// The queues a connection's data fills (segments timed for RTT samples, Wireshark's
/// unacknowledged segments) are not charged to the bound: an idle connection gives back the
/// room of a burst once it is acknowledged, and a closed one, waiting out 2*MSL, gives back
/// the little left once its last segment empties them, instead of keeping it until it ends.
#[test]
fn a_closed_connection_keeps_no_room_for_segments_in_flight() {
    let mut t = table(1 << 30);
    let opening = [
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
    ];
    for s in &opening {
        t.process(s, &mut |_| {});
    }
    let idx = *t.map.values().next().expect("one connection");
    for i in 0..20u32 {
        t.process(
            &c2s(30 + i64::from(i), "PA", 101 + 100 * i, 501, 100),
            &mut |_| {},
        );
    }
    assert!(
        t.conn(idx).queue_capacity() >= 40,
        "20 segments in flight, both queues"
    );
    t.process(&s2c(60, "A", 501, 2101, 0), &mut |_| {});
    // Some room may stay (the SYN-ACK's entry grew the other direction's queue to 4), not
    // the burst's.
    let left = t.conn(idx).queue_capacity();
    assert!(
        left <= 8,
        "the burst acknowledged: room for {left} entries kept"
    );
    let segs = [c2s(70, "FA", 2101, 501, 0), s2c(80, "FA", 501, 2102, 0)];
    let last_ack = c2s(90, "A", 2102, 502, 0);
    for s in &segs {
        t.process(s, &mut |_| {});
    }
    // Both ends have closed, the server's FIN is not acknowledged yet: its queues hold it.
    assert!(t.conn(idx).record().is_closed());
    assert!(t.conn(idx).queue_capacity() > 0);
    t.process(&last_ack, &mut |_| {});
    assert_eq!(t.conn(idx).queue_capacity(), 0);
}

/// A frozen connection whose timer entry surfaced before its real deadline (it was pushed again
/// at that deadline, its encoding unchanged) keeps the moved timer when a late segment decodes
/// it: it still ends 2*MSL after its last segment, not at the end of the capture.
#[test]
fn a_decoded_connection_keeps_the_timer_moved_while_it_was_frozen() {
    use crate::event::{EndReason, Event};
    use crate::testutil::fin_closed;
    let mut t = FlowTable::new(
        FlowConfig {
            freeze_from: 0,
            ..FlowConfig::default()
        },
        DetectConfig::default(),
        ListenerConfig::default(),
    );
    let two_msl_ms = DetectConfig::default().two_msl().as_nanos() / 1_000_000;
    let ended = std::cell::RefCell::new(Vec::new());
    let mut out = |e: Event<'_>| {
        if let Event::Closed(r) = e {
            ended.borrow_mut().push((r.orig.addr, r.end_reason));
        }
    };
    // Another four-tuple's segment moves the clock to `ms`.
    let mut other = 0;
    let mut tick = |t: &mut FlowTable, ms: i64, out: &mut dyn FnMut(Event<'_>)| {
        other += 1;
        let mut s = tuple(other, "A");
        s.ts = crate::time::Timestamp::from_nanos(ms * 1_000_000);
        t.process(&s, &mut |e| out(e));
    };
    for s in fin_closed() {
        t.process(&s, &mut out);
    }
    // A late duplicate of the last ACK: the real deadline moves on, the timer entry does not.
    t.process(&c2s(500, "A", 102, 502, 0), &mut out);
    // Settled for a second: frozen.
    tick(&mut t, 2_000, &mut out);
    assert_eq!(t.stats.frozen, 1);
    // The entry surfaces at 50 ms + 2*MSL, before the real deadline (500 ms + 2*MSL), and is
    // pushed again at that one.
    tick(&mut t, 51 + two_msl_ms, &mut out);
    // A late segment decodes the connection.
    t.process(&c2s(52 + two_msl_ms, "A", 102, 502, 0), &mut out);
    assert_eq!(t.conns.thawed(), 1);
    let ours = fin_closed()[0].src;
    assert!(ended.borrow().iter().all(|&(a, _)| a != ours));
    // It ends 2*MSL after that segment, by timer.
    tick(&mut t, 53 + 2 * two_msl_ms, &mut out);
    assert!(
        ended
            .borrow()
            .iter()
            .any(|&(a, reason)| a == ours && reason == Some(EndReason::Fin)),
        "{:?}",
        ended.borrow()
    );
}

//! The listener tracker: bounds on listener state, forgetting idle listeners, held attempts,
//! charges that do not depend on the seeded hasher.

use super::*;

/// Listeners admitted while there was room keep counting sources afterwards (a flood to
/// random ports reaches every listener again and again): what they can grow to was charged
/// when they were admitted, so listener state never passes its limit.
#[test]
fn listener_state_stays_within_its_limit_however_its_sources_grow() {
    let limit = 1 << 20;
    let mut t = ListenerTracker::new(ListenerConfig::default());
    t.set_memory_limit(limit);
    let mut out = Vec::new();
    let ep = |i: u32| Endpoint::new(IpAddr::from([10, 0, 0, 1]), 1 + i as u16);
    for round in 0..300u32 {
        for i in 0..1_000u32 {
            let src = IpAddr::from((0x0b00_0000 + round * 1_000 + i).to_be_bytes());
            let at = Timestamp::from_millis(i64::from(round));
            t.aggregate(ep(i), src, 1_000, SeqNum(round), 0, at, &mut out);
        }
        assert!(
            t.memory_bytes() <= limit,
            "round {round}: {}",
            t.memory_bytes()
        );
    }
    assert!(t.untracked_listener_attempts > 0, "the limit was reached");
    let actual: usize = t.listeners.values().map(|l| l.actual_bytes()).sum();
    assert!(
        actual <= t.listeners_bytes(),
        "{actual} > {}",
        t.listeners_bytes()
    );
}

#[test]
fn idle_listeners_are_forgotten_so_new_ones_are_still_tracked() {
    use crate::time::{Duration, Timestamp};
    use crate::wire::Endpoint;
    let mut t = ListenerTracker::new(ListenerConfig::default());
    let mut out = Vec::new();
    let src: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let ep = |i: usize| {
        Endpoint::new(
            std::net::IpAddr::from((0x0a00_0000u32 + i as u32).to_be_bytes()),
            80,
        )
    };
    let done = |at: Timestamp| Resolution {
        watched: Duration::ZERO,
        syn_repeated: false,
        completed: true,
        responded: true,
        answered: true,
        reset_by_initiator: false,
        synack_repeated: false,
        options_stripped: false,
        started: at,
        at,
        conn: 0,
        reset: false,
    };
    // A day of clients, each connecting once to its own server, all answered at once.
    for i in 0..MAX_LISTENERS {
        let at = Timestamp::from_millis(i as i64);
        t.attempt(ep(i), src, i as u64, at, &mut out);
        t.resolve(ep(i), done(at), i as u64, &mut out);
    }
    // Later, a new listener: the idle ones make room.
    let later = Timestamp::from_millis(MAX_LISTENERS as i64).add(Duration::from_secs(60));
    t.attempt(ep(MAX_LISTENERS), src, 0, later, &mut out);
    assert_eq!(t.untracked_listener_attempts, 0);
    assert_eq!(t.busiest(later, 1).len(), 1, "the new listener is tracked");
}

/// A listener that never answered holds no SYN-RECEIVED bookkeeping (a spoofed flood to
/// many addresses has tens of thousands of them); its first SYN-ACK brings it, charged.
#[test]
fn held_attempts_are_kept_from_a_listeners_first_answer() {
    let mut t = ListenerTracker::new(ListenerConfig::default());
    let mut out = Vec::new();
    let ep = Endpoint::new(IpAddr::from([10, 0, 0, 1]), 80);
    let src = IpAddr::from([192, 0, 2, 1]);
    t.attempt(ep, src, 1, Timestamp::from_millis(0), &mut out);
    assert_eq!(t.listeners[&ep].held_bytes(), 0);
    assert_eq!(t.held_heap, 0);
    t.synack(ep, 1, 1, 2, Timestamp::from_millis(1));
    let charged = t.listeners[&ep].held_bytes();
    assert!(
        charged > std::mem::size_of::<super::held::Held>(),
        "{charged}"
    );
    assert_eq!(t.held_heap, charged);
}

/// What listener state is charged does not depend on the per-run seeded hasher: trackers
/// seeded differently, fed the same churn of listeners forgotten and new ones, and of
/// aggregated attempts remembered and forgotten, charge the same bytes at every step (the
/// maps' capacities after removals differ from seed to seed).
#[test]
fn listener_state_is_charged_the_same_whatever_the_seed() {
    let cfg = ListenerConfig {
        max_half_open_total: 512,
        ..ListenerConfig::default()
    };
    let mut trackers: Vec<_> = (0..8).map(|_| ListenerTracker::new(cfg)).collect();
    let mut out = Vec::new();
    let src = IpAddr::from([192, 0, 2, 1]);
    for step in 0..120u32 {
        // Each second a new set of listeners, of a size that moves up and down, each with
        // an attempt beyond the caps; the last second's go idle and are forgotten.
        let at = Timestamp::from_millis(i64::from(step) * 20_000);
        let n = 1_500 + (step * 7_919) % 1_600;
        let charged: Vec<usize> = trackers
            .iter_mut()
            .map(|t| {
                for i in 0..n {
                    let ep = Endpoint::new(
                        IpAddr::from((0x0a00_0000 + step * 4_096 + i).to_be_bytes()),
                        80,
                    );
                    t.aggregate(ep, src, 1_000 + i as u16, SeqNum(step), 0, at, &mut out);
                }
                t.memory_bytes()
            })
            .collect();
        assert!(
            charged.iter().all(|&c| c == charged[0]),
            "step {step}: {charged:?}"
        );
    }
}

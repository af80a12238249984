//! Initial sequence numbers per sending host: the ISN clock, estimated from incarnations of one
//! four-tuple, and ISNs another host could guess (predictable_isn).
//!
//! RFC 6528 makes an ISN `M + F`: `M` a clock, `F` a keyed hash of the four-tuple. On one
//! four-tuple `F` is constant, so the step between two incarnations' ISNs over the time between
//! their SYNs is the clock's rate (Linux: `ktime_get_real_ns() >> 6`, one tick every 64 ns).
//! Across four-tuples `F` differs, so the steps look random; a constant ISN or small steps there
//! mean no hash (or no clock either). Each host keeps a fixed-size sketch: no per-packet
//! allocation, at most [`MAX_ISN_HOSTS`] hosts.

use std::net::IpAddr;

use hashbrown::HashMap;

use super::anomaly::secs;
use super::{Anomaly, AnomalyKind, Value};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// Hosts tracked; ISNs of further hosts are only counted.
pub const MAX_ISN_HOSTS: usize = 4096;

/// A step below this (from one four-tuple's ISN to the next four-tuple's) is predictable: a
/// keyed hash lands there once in 4,096 pairs, a 4 µs clock without a hash stays there for 4 s.
pub const PREDICTABLE_STEP: u32 = 1 << 20;

/// Predictable steps a host needs before it is reported (and they must be three quarters of its
/// steps across four-tuples).
pub const MIN_PREDICTABLE_STEPS: u32 = 3;

/// Incarnation pairs further apart than this are no clock sample (a 64 ns clock wraps in 275 s).
const MAX_CLOCK_GAP: Duration = Duration::from_secs(100);

/// Recent four-tuples remembered per host for clock samples.
const RECENT: usize = 4;

/// ISNs kept per host as evidence.
const FIRST: usize = 4;

/// One ISN's four-tuple as its sender sees it: its own port and the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tuple {
    port: u16,
    peer: Endpoint,
}

/// What one host's ISNs showed (a fixed-size sketch).
#[derive(Clone, Debug, Default)]
pub struct HostIsn {
    /// ISNs seen (first copies of SYNs and SYN-ACKs).
    pub isns: u32,
    /// Steps from one four-tuple's ISN to the next one's, on a different four-tuple.
    pub steps: u32,
    /// Of those, predictable (0 to [`PREDICTABLE_STEP`] - 1 up).
    pub predictable_steps: u32,
    /// Of those, zero (the same ISN again).
    pub constant_steps: u32,
    /// ISNs equal to 0.
    pub zero_isns: u32,
    /// Largest predictable step.
    pub max_predictable_step: u32,
    /// Clock samples: incarnations of one four-tuple with a forward ISN step.
    pub clock_samples: u32,
    /// Sum of the samples' ISN steps.
    clock_ticks: u64,
    /// Sum of the samples' times between SYNs.
    clock_time: Duration,
    /// Smallest and largest sampled rate, ticks per second.
    clock_range: Option<(f64, f64)>,
    /// The host's first ISNs.
    first: [u32; FIRST],
    /// The previous ISN and its four-tuple.
    prev: Option<(Tuple, u32)>,
    /// Recent four-tuples with their ISN and SYN time, newest at `next - 1`.
    recent: [Option<(Tuple, u32, Timestamp)>; RECENT],
    next: usize,
    reported: bool,
}

impl HostIsn {
    /// The ISN clock's rate in ticks per second (total step over total time), if sampled.
    pub fn clock_rate(&self) -> Option<f64> {
        let t = self.clock_time.as_secs_f64();
        (self.clock_samples > 0 && t > 0.0).then(|| self.clock_ticks as f64 / t)
    }

    /// The smallest and largest single sample, ticks per second.
    pub fn clock_range(&self) -> Option<(f64, f64)> {
        self.clock_range
    }

    /// The first ISNs seen (at most 4).
    pub fn first_isns(&self) -> &[u32] {
        &self.first[..(self.isns as usize).min(FIRST)]
    }

    /// Whether the host's ISNs are predictable by the rule of predictable_isn.
    pub fn predictable(&self) -> bool {
        let p = self.predictable_steps + self.zero_isns;
        p >= MIN_PREDICTABLE_STEPS && p * 4 >= (self.steps + self.zero_isns) * 3
    }

    fn on_isn(&mut self, t: Tuple, isn: u32, ts: Timestamp) {
        if (self.isns as usize) < FIRST {
            self.first[self.isns as usize] = isn;
        }
        self.isns += 1;
        self.zero_isns += u32::from(isn == 0);
        // A newer incarnation of a recent four-tuple: a clock sample.
        if let Some((_, old, at)) = self.recent.iter().flatten().rev().find(|r| r.0 == t) {
            let (step, gap) = (isn.wrapping_sub(*old), ts.since(*at));
            if step != 0 && step < 1 << 31 && gap.as_nanos() > 0 && gap < MAX_CLOCK_GAP {
                self.clock_samples += 1;
                self.clock_ticks += u64::from(step);
                self.clock_time = self.clock_time.saturating_add(gap);
                let rate = f64::from(step) / gap.as_secs_f64();
                let (lo, hi) = self.clock_range.unwrap_or((rate, rate));
                self.clock_range = Some((lo.min(rate), hi.max(rate)));
            }
        }
        // Across four-tuples: how far above the previous ISN this one lies.
        if let Some((pt, pisn)) = self.prev
            && pt != t
        {
            self.steps += 1;
            let step = isn.wrapping_sub(pisn);
            if step < PREDICTABLE_STEP {
                self.predictable_steps += 1;
                self.constant_steps += u32::from(step == 0);
                self.max_predictable_step = self.max_predictable_step.max(step);
            }
        }
        self.prev = Some((t, isn));
        match self.recent.iter_mut().find(|r| r.is_some_and(|r| r.0 == t)) {
            Some(slot) => *slot = Some((t, isn, ts)),
            None => {
                self.recent[self.next % RECENT] = Some((t, isn, ts));
                self.next = (self.next + 1) % RECENT;
            }
        }
    }
}

/// ISN sketches of every sending host.
#[derive(Clone, Debug, Default)]
pub struct IsnTracker {
    hosts: HashMap<IpAddr, HostIsn, foldhash::fast::RandomState>,
    /// ISNs of hosts beyond [`MAX_ISN_HOSTS`], not tracked.
    pub untracked: u64,
}

impl IsnTracker {
    /// Notes the ISN of the first copy of a SYN or SYN-ACK from `src` to `dst`; raises
    /// predictable_isn into `out` the first time the host's ISNs turn out predictable.
    pub fn on_isn(
        &mut self,
        (src, dst): (Endpoint, Endpoint),
        isn: u32,
        (frame, ts): (u64, Timestamp),
        out: &mut Vec<Anomaly>,
    ) {
        let n = self.hosts.len();
        let h = match self.hosts.get_mut(&src.addr) {
            Some(h) => h,
            None if n < MAX_ISN_HOSTS => self.hosts.entry(src.addr).or_default(),
            None => {
                self.untracked += 1;
                return;
            }
        };
        h.on_isn(
            Tuple {
                port: src.port,
                peer: dst,
            },
            isn,
            ts,
        );
        if h.reported || !h.predictable() {
            return;
        }
        h.reported = true;
        let k = AnomalyKind::PredictableIsn;
        let pattern = if h.zero_isns * 2 >= h.isns {
            "zero"
        } else if h.constant_steps * 2 >= h.predictable_steps {
            "constant"
        } else {
            "small_steps"
        };
        let first: Vec<Value> = h
            .first_isns()
            .iter()
            .map(|i| Value::U64(u64::from(*i)))
            .collect();
        let mut a = Anomaly::new(k, frame, ts)
            .with("host", Value::Text(src.addr.to_string()))
            .with("pattern", pattern)
            .with("isns", h.isns)
            .with("steps", h.steps)
            .with("predictable_steps", h.predictable_steps)
            .with("constant_steps", h.constant_steps)
            .with("zero_isns", h.zero_isns)
            .with("max_predictable_step", h.max_predictable_step)
            .with("first_isns", first);
        a.listener = Some(Endpoint::new(src.addr, 0));
        out.push(a);
    }

    /// Every host's sketch.
    pub fn hosts(&self) -> impl Iterator<Item = (&IpAddr, &HostIsn)> {
        self.hosts.iter()
    }
}

/// A clock rate as a detail value (ticks per second, whole).
pub fn rate_value(rate: f64) -> Value {
    Value::F64(rate.round(), 0)
}

/// The duration of one tick of a clock running at `rate` per second.
pub fn tick(rate: f64) -> Value {
    secs(Duration::from_nanos((1e9 / rate).round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint::new(IpAddr::from(a), port)
    }

    fn feed(t: &mut IsnTracker, sport: u16, isn: u32, ms: i64, out: &mut Vec<Anomaly>) {
        let (c, s) = (ep([10, 0, 0, 1], sport), ep([10, 0, 0, 2], 80));
        t.on_isn((c, s), isn, (1, Timestamp::from_nanos(ms * 1_000_000)), out);
    }

    #[test]
    fn linux_isns_give_the_64_ns_clock_and_no_finding() {
        // isn_clock.pcap, 10.99.0.1: three incarnations of port 40131, then two other ports.
        let (mut t, mut out) = (IsnTracker::default(), Vec::new());
        feed(&mut t, 40131, 875_228_976, 0, &mut out);
        feed(&mut t, 40131, 886_407_195, 715, &mut out);
        feed(&mut t, 40132, 737_395_043, 3083, &mut out);
        feed(&mut t, 40133, 254_777_984, 3808, &mut out);
        let h = t.hosts().next().unwrap().1;
        let rate = h.clock_rate().unwrap();
        assert!((rate - 15.625e6).abs() < 0.02e6, "{rate}");
        assert_eq!((h.steps, h.predictable_steps), (2, 0));
        assert!(out.is_empty());
    }

    #[test]
    fn a_constant_isn_across_four_tuples_is_predictable_once() {
        let (mut t, mut out) = (IsnTracker::default(), Vec::new());
        for (i, port) in (40141..40146).enumerate() {
            feed(&mut t, port, 1000, i as i64 * 200, &mut out);
        }
        assert_eq!(out.len(), 1);
        let a = &out[0];
        assert_eq!(a.kind, AnomalyKind::PredictableIsn);
        assert_eq!(a.detail["pattern"], "constant");
        assert_eq!(a.detail["predictable_steps"].as_u64(), Some(3));
        assert_eq!(a.listener.map(|l| l.port), Some(0));
    }

    #[test]
    fn small_steps_of_a_clock_without_hash_are_predictable() {
        // RFC 793's 4 µs clock alone: 250,000 a second, 0.1 s apart.
        let (mut t, mut out) = (IsnTracker::default(), Vec::new());
        for i in 0..4u32 {
            feed(
                &mut t,
                50000 + i as u16,
                7 + 25_000 * i,
                i64::from(i) * 100,
                &mut out,
            );
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].detail["pattern"], "small_steps");
        assert_eq!(out[0].detail["max_predictable_step"].as_u64(), Some(25_000));
    }

    #[test]
    fn hosts_beyond_the_cap_are_counted_not_tracked() {
        let (mut t, mut out) = (IsnTracker::default(), Vec::new());
        for i in 0..MAX_ISN_HOSTS as u32 + 3 {
            let a = ep(i.to_be_bytes(), 1);
            t.on_isn(
                (a, ep([10, 0, 0, 2], 80)),
                i,
                (1, Timestamp::EPOCH),
                &mut out,
            );
        }
        assert_eq!(t.hosts().count(), MAX_ISN_HOSTS);
        assert_eq!(t.untracked, 3);
    }
}

//! Listener rules: SYN floods, half-open backlogs, listen-queue overflows and SYN cookies.
//!
//! A listener is a responder endpoint (address and port). Each connection attempt to it (a
//! connection opened by a SYN) counts as half-open from its SYN until it completes, is refused or
//! reset, or leaves the table; the rules look at that gauge, not at SYN packets, so a busy
//! legitimate client that completes its handshakes never looks like a flood (the false positive
//! ntopng#8631 fixed the same way). Attempts beyond the tracking caps are aggregated here
//! instead of becoming connection records, which bounds memory under a spoofed flood.

use std::net::IpAddr;

use hashbrown::HashMap;

use super::anomaly::{Value, secs};
use super::{Anomaly, AnomalyKind};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// Thresholds and caps of the listener rules.
#[derive(Clone, Copy, Debug)]
pub struct ListenerConfig {
    /// Sliding window for rates and completion ratios (default 10 s).
    pub window: Duration,
    /// Half-open attempts at which a flood may start (default 32: a quarter of Linux's minimum
    /// tcp_max_syn_backlog, so a flood is seen well before the smallest queue is full; the
    /// completion and source conditions keep busy legitimate clients out).
    pub flood_half_open: u32,
    /// Distinct sources needed in the window (default 16: floods come from many, often
    /// spoofed, addresses).
    pub flood_min_sources: u32,
    /// Highest share of completed attempts in the window for a flood (default 0.1).
    pub flood_max_completion: f64,
    /// Half-open count reported as a backlog (default 128, Linux's minimum tcp_max_syn_backlog).
    pub backlog: u32,
    /// Half-open attempts tracked as connection records per listener (default 4096).
    pub max_half_open_per_listener: u32,
    /// Half-open attempts tracked as connection records in total (default 65536).
    pub max_half_open_total: u32,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            window: Duration::from_secs(10),
            flood_half_open: 32,
            flood_min_sources: 16,
            flood_max_completion: 0.1,
            backlog: 128,
            max_half_open_per_listener: 4096,
            max_half_open_total: 65_536,
        }
    }
}

/// How a tracked attempt ended, with what the connection record knew.
#[derive(Clone, Copy, Debug)]
pub struct Resolution {
    /// The handshake completed.
    pub completed: bool,
    /// The responder sent a SYN-ACK.
    pub answered: bool,
    /// The responder repeated its SYN-ACK.
    pub synack_repeated: bool,
    /// The SYN offered window scaling or SACK and no timestamps, and the SYN-ACK carried neither
    /// (what Linux SYN cookies do: tcp_input.c clears options without timestamps).
    pub options_stripped: bool,
    /// When the attempt started.
    pub started: Timestamp,
    /// When it was resolved.
    pub at: Timestamp,
}

const BUCKETS: usize = 16;
const TOP: usize = 8;
const SKETCH_BITS: usize = 4096;

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    sec: i64,
    attempts: u32,
    completions: u32,
    aggregated: u32,
}

#[derive(Clone, Debug)]
struct Episode {
    start: (u64, Timestamp),
    peak: u32,
    peak_at: (u64, Timestamp),
    attempts: u64,
    completions: u64,
    aggregated: u64,
    synack_repeats: u64,
    stripped: u64,
    /// Answered attempts that waited 1.5 s or more with a single SYN-ACK (Linux would have
    /// retransmitted it after 1 s unless it kept no state: a cookie).
    long_single_synack: u64,
}

impl Episode {
    fn new(frame: u64, ts: Timestamp, gauge: u32) -> Self {
        Episode {
            start: (frame, ts),
            peak: gauge,
            peak_at: (frame, ts),
            attempts: 0,
            completions: 0,
            aggregated: 0,
            synack_repeats: 0,
            stripped: 0,
            long_single_synack: 0,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Listener {
    /// Attempts tracked as connection records and not yet resolved.
    tracked: u32,
    buckets: [Bucket; BUCKETS],
    sketch: Option<Box<[u64; SKETCH_BITS / 64]>>,
    top: [(Option<IpAddr>, u64); TOP],
    flood: Option<Episode>,
    backlog: Option<Episode>,
    last_answer: Option<Timestamp>,
    unanswered_while_answering: u64,
    first_overflow: Option<(u64, Timestamp)>,
    answered: u64,
    stripped: u64,
    cookie_reported: bool,
    overflow_reported: bool,
    capped: bool,
}

impl Listener {
    fn bucket(&mut self, ts: Timestamp) -> &mut Bucket {
        let sec = ts.whole_secs();
        let b = &mut self.buckets[sec.rem_euclid(BUCKETS as i64) as usize];
        if b.sec != sec {
            *b = Bucket {
                sec,
                ..Bucket::default()
            };
        }
        b
    }

    /// Attempts, completions and aggregated attempts in the window ending at `ts`.
    fn window(&self, ts: Timestamp, window: Duration) -> (u64, u64, u64) {
        let now = ts.whole_secs();
        let span = window.whole_secs().clamp(1, BUCKETS as i64);
        self.buckets
            .iter()
            .filter(|b| b.sec > now - span && b.sec <= now)
            .fold((0, 0, 0), |acc, b| {
                (
                    acc.0 + b.attempts as u64,
                    acc.1 + b.completions as u64,
                    acc.2 + b.aggregated as u64,
                )
            })
    }

    /// Half-open estimate: tracked attempts plus aggregated ones in the window.
    fn half_open(&self, ts: Timestamp, window: Duration) -> u32 {
        self.tracked
            .saturating_add(self.window(ts, window).2 as u32)
    }

    fn see_source(&mut self, src: IpAddr) {
        let sketch = self
            .sketch
            .get_or_insert_with(|| Box::new([0; SKETCH_BITS / 64]));
        let h = hash_ip(src) as usize % SKETCH_BITS;
        sketch[h / 64] |= 1 << (h % 64);
        // Space-saving top sources.
        if let Some(e) = self.top.iter_mut().find(|e| e.0 == Some(src)) {
            e.1 += 1;
        } else if let Some(e) = self.top.iter_mut().find(|e| e.0.is_none()) {
            *e = (Some(src), 1);
        } else if let Some(e) = self.top.iter_mut().min_by_key(|e| e.1) {
            *e = (Some(src), e.1 + 1);
        }
    }

    /// Distinct sources, by linear counting over the bitmap (exact for small counts).
    fn sources(&self) -> u64 {
        let Some(s) = &self.sketch else { return 0 };
        let zeros: u32 = s.iter().map(|w| w.count_zeros()).sum();
        let m = SKETCH_BITS as f64;
        if zeros == 0 {
            return SKETCH_BITS as u64;
        }
        (-m * (zeros as f64 / m).ln()).round() as u64
    }

    fn top_sources(&self) -> Value {
        let mut v: Vec<_> = self
            .top
            .iter()
            .filter_map(|(a, n)| a.map(|a| (a, *n)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Value::List(
            v.into_iter()
                .map(|(a, n)| {
                    Value::Map(vec![
                        ("addr", Value::Text(a.to_string())),
                        ("attempts", n.into()),
                    ])
                })
                .collect(),
        )
    }
}

fn hash_ip(a: IpAddr) -> u64 {
    let bytes = match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    };
    // FNV-1a: deterministic, so the estimate does not change between runs.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Listener state for the whole capture.
#[derive(Default)]
pub struct ListenerTracker {
    cfg: ListenerConfig,
    listeners: HashMap<Endpoint, Listener, foldhash::fast::RandomState>,
    tracked_total: u32,
    /// Attempts counted here instead of as connection records (a tracking cap was hit).
    pub aggregated: u64,
    /// Listeners whose attempts hit the per-listener cap at least once.
    pub capped_listeners: u64,
    /// Listeners beyond [`MAX_LISTENERS`] whose attempts are not tracked.
    pub untracked_listener_attempts: u64,
    /// Capture second of the last sweep of idle listeners.
    last_sweep: Option<i64>,
}

/// Listeners tracked at once.
pub const MAX_LISTENERS: usize = 65_536;

/// One listener's load right now, for the live view.
#[derive(Clone, Copy, Debug)]
pub struct ListenerLoad {
    /// The listening endpoint.
    pub listener: Endpoint,
    /// Attempts not yet answered or completed (tracked plus aggregated in the window).
    pub half_open: u32,
    /// Connection attempts per second over the window.
    pub syn_rate: f64,
    /// A `syn_flood` episode is under way.
    pub flood: bool,
    /// A `half_open_backlog` episode is under way.
    pub backlog: bool,
}

impl ListenerTracker {
    /// A tracker with the given thresholds.
    pub fn new(cfg: ListenerConfig) -> Self {
        ListenerTracker {
            cfg,
            ..Default::default()
        }
    }

    /// The `n` busiest listeners at `now`, by half-open attempts then attempt rate.
    pub fn busiest(&self, now: Timestamp, n: usize) -> Vec<ListenerLoad> {
        let w = self.cfg.window;
        let secs = w.whole_secs().clamp(1, BUCKETS as i64) as f64;
        let mut v: Vec<ListenerLoad> = self
            .listeners
            .iter()
            .map(|(ep, l)| ListenerLoad {
                listener: *ep,
                half_open: l.half_open(now, w),
                syn_rate: l.window(now, w).0 as f64 / secs,
                flood: l.flood.is_some(),
                backlog: l.backlog.is_some(),
            })
            .filter(|l| l.half_open > 0 || l.syn_rate > 0.0 || l.flood || l.backlog)
            .collect();
        v.sort_by(|a, b| {
            b.half_open
                .cmp(&a.half_open)
                .then(b.syn_rate.total_cmp(&a.syn_rate))
                .then(a.listener.cmp(&b.listener))
        });
        v.truncate(n);
        v
    }

    /// Whether a new attempt to `listener` may become a connection record, or must be aggregated.
    pub fn may_track(&self, listener: &Endpoint) -> bool {
        if self.tracked_total >= self.cfg.max_half_open_total {
            return false;
        }
        self.listeners
            .get(listener)
            .is_none_or(|l| l.tracked < self.cfg.max_half_open_per_listener)
    }

    /// Whether the listener is aggregating attempts (its answers to aggregated attempts, such as
    /// SYN-ACKs for spoofed sources, are aggregated too).
    pub fn aggregating(&self, listener: &Endpoint) -> bool {
        self.listeners
            .get(listener)
            .is_some_and(|l| l.tracked >= self.cfg.max_half_open_per_listener)
            || self.tracked_total >= self.cfg.max_half_open_total
    }

    fn listener(&mut self, ep: Endpoint, ts: Timestamp) -> Option<&mut Listener> {
        if self.listeners.len() >= MAX_LISTENERS && !self.listeners.contains_key(&ep) {
            self.forget_idle(ts);
            if self.listeners.len() >= MAX_LISTENERS {
                self.untracked_listener_attempts += 1;
                return None;
            }
        }
        Some(self.listeners.entry(ep).or_default())
    }

    /// Forgets listeners with nothing pending (no tracked attempt, no episode under way, no
    /// attempt in the window), at most once per second of capture time, so a run of days
    /// keeps tracking new listeners within the same memory.
    fn forget_idle(&mut self, ts: Timestamp) {
        let sec = ts.whole_secs();
        if self.last_sweep == Some(sec) {
            return;
        }
        self.last_sweep = Some(sec);
        let w = self.cfg.window;
        self.listeners.retain(|_, l| {
            l.tracked > 0
                || l.flood.is_some()
                || l.backlog.is_some()
                || l.window(ts, w) != (0, 0, 0)
        });
    }

    /// A connection attempt (a SYN opening a connection record) from `src`.
    pub fn attempt(
        &mut self,
        ep: Endpoint,
        src: IpAddr,
        frame: u64,
        ts: Timestamp,
        out: &mut Vec<Anomaly>,
    ) {
        let Some(l) = self.listener(ep, ts) else {
            return;
        };
        l.tracked += 1;
        l.bucket(ts).attempts += 1;
        l.see_source(src);
        self.tracked_total += 1;
        self.evaluate(ep, frame, ts, true, out);
    }

    /// An attempt beyond the tracking caps: counted here only.
    pub fn aggregate(
        &mut self,
        ep: Endpoint,
        src: IpAddr,
        frame: u64,
        ts: Timestamp,
        out: &mut Vec<Anomaly>,
    ) {
        self.aggregated += 1;
        let cap = self.cfg.max_half_open_per_listener;
        let Some(l) = self.listener(ep, ts) else {
            return;
        };
        let first_cap = l.tracked >= cap && !l.capped;
        l.capped |= first_cap;
        let b = l.bucket(ts);
        b.attempts += 1;
        b.aggregated += 1;
        l.see_source(src);
        if let Some(f) = &mut l.flood {
            f.aggregated += 1;
        }
        self.capped_listeners += first_cap as u64;
        self.evaluate(ep, frame, ts, true, out);
    }

    /// The listener answered a SYN with a SYN-ACK.
    pub fn answered(&mut self, ep: Endpoint, ts: Timestamp) {
        if let Some(l) = self.listeners.get_mut(&ep) {
            l.last_answer = Some(ts);
            l.answered += 1;
        }
    }

    /// A tracked attempt is over.
    pub fn resolve(&mut self, ep: Endpoint, r: Resolution, frame: u64, out: &mut Vec<Anomaly>) {
        let window = self.cfg.window;
        let Some(l) = self.listeners.get_mut(&ep) else {
            return;
        };
        l.tracked = l.tracked.saturating_sub(1);
        self.tracked_total = self.tracked_total.saturating_sub(1);
        if r.completed {
            l.bucket(r.at).completions += 1;
        }
        l.stripped += r.options_stripped as u64;
        let waited_long = r.at.since(r.started).0 >= 1_500_000_000;
        for e in [l.flood.as_mut(), l.backlog.as_mut()].into_iter().flatten() {
            e.completions += r.completed as u64;
            e.synack_repeats += r.synack_repeated as u64;
            e.stripped += r.options_stripped as u64;
            e.long_single_synack +=
                (r.answered && !r.completed && !r.synack_repeated && waited_long) as u64;
        }
        // listen_queue_overflow evidence: this attempt got no answer while the listener answered
        // others within the window (Linux drops SYNs when the accept or SYN queue is full).
        if !r.answered
            && !r.completed
            && let Some(last) = l.last_answer
            && r.started.since(last).0.abs() <= window.0
        {
            l.unanswered_while_answering += 1;
            l.first_overflow.get_or_insert((frame, r.started));
        }
        self.evaluate(ep, frame, r.at, false, out);
    }

    /// Starts and ends episodes for `ep` at time `ts`.
    fn evaluate(
        &mut self,
        ep: Endpoint,
        frame: u64,
        ts: Timestamp,
        new_attempt: bool,
        out: &mut Vec<Anomaly>,
    ) {
        let cfg = self.cfg;
        let Some(l) = self.listeners.get_mut(&ep) else {
            return;
        };
        let gauge = l.half_open(ts, cfg.window);
        let (attempts, completions, _) = l.window(ts, cfg.window);
        let ratio = if attempts == 0 {
            1.0
        } else {
            completions as f64 / attempts as f64
        };
        // Counting sources is the costly part: only when a flood is otherwise plausible.
        let flood_plausible =
            l.flood.is_none() && gauge >= cfg.flood_half_open && ratio <= cfg.flood_max_completion;
        let sources_ok = flood_plausible && l.sources() >= cfg.flood_min_sources as u64;

        // syn_flood: many half-open attempts, many sources, almost no completions (RFC 4987 §2).
        match &mut l.flood {
            None if sources_ok => {
                let mut e = Episode::new(frame, ts, gauge);
                e.attempts = attempts;
                l.flood = Some(e);
            }
            Some(e) => {
                if new_attempt {
                    e.attempts += 1;
                }
                if gauge > e.peak {
                    e.peak = gauge;
                    e.peak_at = (frame, ts);
                }
                if gauge < cfg.flood_half_open / 2 {
                    let e = l.flood.take().unwrap_or_else(|| Episode::new(frame, ts, 0));
                    out.push(flood_anomaly(ep, l, &e, ts));
                }
            }
            None => {}
        }
        // half_open_backlog: the gauge crosses the backlog threshold (Linux minimum
        // tcp_max_syn_backlog 128, Documentation/networking/ip-sysctl.rst).
        match &mut l.backlog {
            None if gauge >= cfg.backlog => l.backlog = Some(Episode::new(frame, ts, gauge)),
            Some(e) => {
                if gauge > e.peak {
                    e.peak = gauge;
                    e.peak_at = (frame, ts);
                }
                if gauge < cfg.backlog {
                    let e = l
                        .backlog
                        .take()
                        .unwrap_or_else(|| Episode::new(frame, ts, 0));
                    out.push(backlog_anomaly(ep, &e, ts));
                }
            }
            None => {}
        }
        syncookie_check(ep, l, frame, ts, out);
    }

    /// Ends every episode (end of capture) and reports queue overflows.
    pub fn finish(&mut self, ts: Timestamp, out: &mut Vec<Anomaly>) {
        let mut eps: Vec<Endpoint> = self.listeners.keys().copied().collect();
        eps.sort();
        for ep in eps {
            let Some(l) = self.listeners.get_mut(&ep) else {
                continue;
            };
            if let Some(e) = l.flood.take() {
                out.push(flood_anomaly(ep, l, &e, ts));
            }
            if let Some(e) = l.backlog.take() {
                out.push(backlog_anomaly(ep, &e, ts));
            }
            if l.unanswered_while_answering > 0 && !l.overflow_reported {
                l.overflow_reported = true;
                let (frame, at) = l.first_overflow.unwrap_or((0, ts));
                let mut a = Anomaly::new(AnomalyKind::ListenQueueOverflow, frame, at)
                    .with("unanswered", l.unanswered_while_answering)
                    .with("answered", l.answered);
                a.listener = Some(ep);
                out.push(a);
            }
        }
    }
}

fn flood_anomaly(ep: Endpoint, l: &Listener, e: &Episode, end: Timestamp) -> Anomaly {
    let dur = end.since(e.start.1);
    let rate = if dur.0 > 0 {
        e.attempts as f64 / dur.as_secs_f64()
    } else {
        e.attempts as f64
    };
    let ratio = if e.attempts == 0 {
        0.0
    } else {
        e.completions as f64 / e.attempts as f64
    };
    let mut a = Anomaly::new(AnomalyKind::SynFlood, e.start.0, e.start.1)
        .with("start", secs(e.start.1.since_epoch()))
        .with("end", secs(end.since_epoch()))
        .with("duration", secs(dur))
        .with("attempts", e.attempts)
        .with("rate_per_s", Value::F64(rate, 1))
        .with("distinct_sources", l.sources())
        .with("completion_ratio", Value::F64(ratio, 3))
        .with("peak_half_open", e.peak)
        .with("aggregated_attempts", e.aggregated)
        .with("top_sources", l.top_sources());
    a.listener = Some(ep);
    a
}

fn backlog_anomaly(ep: Endpoint, e: &Episode, end: Timestamp) -> Anomaly {
    let mut a = Anomaly::new(AnomalyKind::HalfOpenBacklog, e.start.0, e.start.1)
        .with("peak", e.peak)
        .with("peak_frame", e.peak_at.0)
        .with("peak_at", secs(e.peak_at.1.since_epoch()))
        .with("duration", secs(end.since(e.start.1)));
    a.listener = Some(ep);
    a
}

/// syncookies (a heuristic): while the listener is flooded or over its backlog, SYN-ACKs drop
/// the window-scale and SACK options a SYN without timestamps offered (Linux tcp_input.c clears
/// them for cookies) and unanswered SYN-ACKs are never repeated (a cookie keeps no state to
/// retransmit from).
fn syncookie_check(
    ep: Endpoint,
    l: &mut Listener,
    frame: u64,
    ts: Timestamp,
    out: &mut Vec<Anomaly>,
) {
    if l.cookie_reported {
        return;
    }
    let Some(e) = l.flood.as_ref().or(l.backlog.as_ref()) else {
        return;
    };
    if e.stripped >= 3 || (e.long_single_synack >= 16 && e.synack_repeats == 0) {
        l.cookie_reported = true;
        let mut a = Anomaly::new(AnomalyKind::Syncookies, frame, ts)
            .with("heuristic", true)
            .with("synacks_without_offered_options", l.stripped)
            .with("synack_repeats_while_full", e.synack_repeats)
            .with("unrepeated_synacks_after_1_5s", e.long_single_synack)
            .with("half_open_peak", e.peak);
        a.listener = Some(ep);
        out.push(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            completed: true,
            answered: true,
            synack_repeated: false,
            options_stripped: false,
            started: at,
            at,
        };
        // A day of clients, each connecting once to its own server, all answered at once.
        for i in 0..MAX_LISTENERS {
            let at = Timestamp(i as i64 * 1_000_000);
            t.attempt(ep(i), src, i as u64, at, &mut out);
            t.resolve(ep(i), done(at), i as u64, &mut out);
        }
        // Later, a new listener: the idle ones make room.
        let later = Timestamp(MAX_LISTENERS as i64 * 1_000_000).add(Duration::from_secs(60));
        t.attempt(ep(MAX_LISTENERS), src, 0, later, &mut out);
        assert_eq!(t.untracked_listener_attempts, 0);
        assert_eq!(t.busiest(later, 1).len(), 1, "the new listener is tracked");
    }
}

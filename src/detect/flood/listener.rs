//! One listener's state: per-second attempt buckets over the window, the `syn_flood` and
//! `half_open_backlog` episodes they start and end, and the anomalies those episodes (and the
//! SYN-cookie and listen-queue evidence gathered meanwhile) are reported as.

use std::net::IpAddr;

use super::sources::Sources;
use super::{ListenerConfig, ListenerLoad, Resolution};
use crate::detect::anomaly::{Value, secs};
use crate::detect::{Anomaly, AnomalyKind};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// Seconds of history kept: the longest window the rates and ratios can look at.
const BUCKETS: usize = 16;

/// Attempts within one second of capture time.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    sec: i64,
    attempts: u32,
    completions: u32,
    aggregated: u32,
}

/// A flood or backlog under way, with what happened during it.
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

    /// Notes the half-open gauge at `frame`, keeping the first frame of its highest value.
    fn observe(&mut self, gauge: u32, frame: u64, ts: Timestamp) {
        if gauge > self.peak {
            self.peak = gauge;
            self.peak_at = (frame, ts);
        }
    }
}

/// Everything known about one listening endpoint.
#[derive(Clone, Debug, Default)]
pub(super) struct Listener {
    /// Attempts tracked as connection records and not yet resolved.
    pub(super) tracked: u32,
    buckets: [Bucket; BUCKETS],
    sources: Sources,
    flood: Option<Episode>,
    backlog: Option<Episode>,
    last_answer: Option<Timestamp>,
    unanswered_while_answering: u64,
    first_overflow: Option<(u64, Timestamp)>,
    answered: u64,
    stripped: u64,
    cookie_reported: bool,
    overflow_reported: bool,
    /// The per-listener tracking cap was hit at least once.
    pub(super) capped: bool,
}

impl Listener {
    /// The bucket of `ts`'s second, emptied first if it last held an older second.
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

    /// The listener's load at `now`, for the live view.
    pub(super) fn load(
        &self,
        listener: Endpoint,
        now: Timestamp,
        window: Duration,
    ) -> ListenerLoad {
        let secs = window.whole_secs().clamp(1, BUCKETS as i64) as f64;
        ListenerLoad {
            listener,
            half_open: self.half_open(now, window),
            syn_rate: self.window(now, window).0 as f64 / secs,
            flood: self.flood.is_some(),
            backlog: self.backlog.is_some(),
        }
    }

    /// Nothing pending: no tracked attempt, no episode under way, no attempt in the window.
    pub(super) fn is_idle(&self, ts: Timestamp, window: Duration) -> bool {
        self.tracked == 0
            && self.flood.is_none()
            && self.backlog.is_none()
            && self.window(ts, window) == (0, 0, 0)
    }

    /// Counts an attempt from `src` at `ts`; an `aggregated` one (beyond the tracking caps, so
    /// no connection record will resolve it) also counts as half-open for the window and as
    /// aggregated in the flood under way.
    pub(super) fn count_attempt(&mut self, src: IpAddr, ts: Timestamp, aggregated: bool) {
        self.sources.see(src);
        let b = self.bucket(ts);
        b.attempts += 1;
        if aggregated {
            b.aggregated += 1;
            if let Some(f) = &mut self.flood {
                f.aggregated += 1;
            }
        }
    }

    /// The listener answered a SYN with a SYN-ACK.
    pub(super) fn answered(&mut self, ts: Timestamp) {
        self.last_answer = Some(ts);
        self.answered += 1;
    }

    /// A tracked attempt is over: its outcome counts for the window and the episodes under way.
    pub(super) fn resolve(&mut self, r: Resolution, frame: u64, window: Duration) {
        self.tracked = self.tracked.saturating_sub(1);
        if r.completed {
            self.bucket(r.at).completions += 1;
        }
        self.stripped += r.options_stripped as u64;
        let waited_long = r.at.since(r.started).0 >= 1_500_000_000;
        for e in [self.flood.as_mut(), self.backlog.as_mut()]
            .into_iter()
            .flatten()
        {
            e.completions += r.completed as u64;
            e.synack_repeats += r.synack_repeated as u64;
            e.stripped += r.options_stripped as u64;
            e.long_single_synack +=
                (r.responded && !r.completed && !r.synack_repeated && waited_long) as u64;
        }
        // listen_queue_overflow evidence: this attempt got no answer while the listener answered
        // others within the window (Linux drops SYNs when the accept or SYN queue is full).
        if !r.responded
            && !r.completed
            && let Some(last) = self.last_answer
            && r.started.since(last).0.abs() <= window.0
        {
            self.unanswered_while_answering += 1;
            self.first_overflow.get_or_insert((frame, r.started));
        }
    }

    /// Starts and ends this listener's episodes at time `ts`.
    pub(super) fn evaluate(
        &mut self,
        ep: Endpoint,
        cfg: &ListenerConfig,
        frame: u64,
        ts: Timestamp,
        new_attempt: bool,
        out: &mut Vec<Anomaly>,
    ) {
        let gauge = self.half_open(ts, cfg.window);
        let (attempts, completions, _) = self.window(ts, cfg.window);
        let ratio = if attempts == 0 {
            1.0
        } else {
            completions as f64 / attempts as f64
        };
        // Counting sources is the costly part: only when a flood is otherwise plausible.
        let flood_plausible = self.flood.is_none()
            && gauge >= cfg.flood_half_open
            && ratio <= cfg.flood_max_completion;
        let sources_ok = flood_plausible && self.sources.distinct() >= cfg.flood_min_sources as u64;

        // syn_flood: many half-open attempts, many sources, almost no completions (RFC 4987 §2).
        match &mut self.flood {
            None if sources_ok => {
                let mut e = Episode::new(frame, ts, gauge);
                e.attempts = attempts;
                self.flood = Some(e);
            }
            Some(e) => {
                if new_attempt {
                    e.attempts += 1;
                }
                e.observe(gauge, frame, ts);
                if gauge < cfg.flood_half_open / 2
                    && let Some(e) = self.flood.take()
                {
                    out.push(self.flood_anomaly(ep, &e, ts));
                }
            }
            None => {}
        }
        // half_open_backlog: the gauge crosses the backlog threshold (Linux minimum
        // tcp_max_syn_backlog 128, Documentation/networking/ip-sysctl.rst).
        match &mut self.backlog {
            None if gauge >= cfg.backlog => self.backlog = Some(Episode::new(frame, ts, gauge)),
            Some(e) => {
                e.observe(gauge, frame, ts);
                if gauge < cfg.backlog
                    && let Some(e) = self.backlog.take()
                {
                    out.push(backlog_anomaly(ep, &e, ts));
                }
            }
            None => {}
        }
        self.syncookie_check(ep, frame, ts, out);
    }

    /// Ends the episodes under way (end of capture) and reports a queue overflow once.
    pub(super) fn finish(&mut self, ep: Endpoint, ts: Timestamp, out: &mut Vec<Anomaly>) {
        if let Some(e) = self.flood.take() {
            out.push(self.flood_anomaly(ep, &e, ts));
        }
        if let Some(e) = self.backlog.take() {
            out.push(backlog_anomaly(ep, &e, ts));
        }
        if self.unanswered_while_answering > 0 && !self.overflow_reported {
            self.overflow_reported = true;
            let (frame, at) = self.first_overflow.unwrap_or((0, ts));
            let mut a = Anomaly::new(AnomalyKind::ListenQueueOverflow, frame, at)
                .with("unanswered", self.unanswered_while_answering)
                .with("answered", self.answered);
            a.listener = Some(ep);
            out.push(a);
        }
    }

    /// syncookies (a heuristic): while the listener is flooded or over its backlog, SYN-ACKs
    /// drop the window-scale and SACK options a SYN without timestamps offered (Linux
    /// tcp_input.c clears them for cookies) and unanswered SYN-ACKs are never repeated (a cookie
    /// keeps no state to retransmit from).
    fn syncookie_check(&mut self, ep: Endpoint, frame: u64, ts: Timestamp, out: &mut Vec<Anomaly>) {
        if self.cookie_reported {
            return;
        }
        let Some(e) = self.flood.as_ref().or(self.backlog.as_ref()) else {
            return;
        };
        if e.stripped >= 3 || (e.long_single_synack >= 16 && e.synack_repeats == 0) {
            self.cookie_reported = true;
            let mut a = Anomaly::new(AnomalyKind::Syncookies, frame, ts)
                .with("heuristic", true)
                .with("synacks_without_offered_options", self.stripped)
                .with("synack_repeats_while_full", e.synack_repeats)
                .with("unrepeated_synacks_after_1_5s", e.long_single_synack)
                .with("half_open_peak", e.peak);
            a.listener = Some(ep);
            out.push(a);
        }
    }

    /// The `syn_flood` anomaly of episode `e`, ended at `end`.
    fn flood_anomaly(&self, ep: Endpoint, e: &Episode, end: Timestamp) -> Anomaly {
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
            .with("distinct_sources", self.sources.distinct())
            .with("completion_ratio", Value::F64(ratio, 3))
            .with("peak_half_open", e.peak)
            .with("aggregated_attempts", e.aggregated)
            .with("top_sources", self.sources.top());
        a.listener = Some(ep);
        a
    }
}

/// The `half_open_backlog` anomaly of episode `e`, ended at `end`.
fn backlog_anomaly(ep: Endpoint, e: &Episode, end: Timestamp) -> Anomaly {
    let mut a = Anomaly::new(AnomalyKind::HalfOpenBacklog, e.start.0, e.start.1)
        .with("peak", e.peak)
        .with("peak_frame", e.peak_at.0)
        .with("peak_at", secs(e.peak_at.1.since_epoch()))
        .with("duration", secs(end.since(e.start.1)));
    a.listener = Some(ep);
    a
}

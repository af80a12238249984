//! One listener's state: per-second attempt buckets over the window, the `syn_flood` and
//! `half_open_backlog` episodes they start and end, and the anomalies those episodes (and the
//! SYN-cookie and listen-queue evidence gathered meanwhile) are reported as.

use std::net::IpAddr;

use super::buckets::{BUCKETS, Bucket, Buckets, slot_of};
use super::held::Held;
use super::pending::Told;
use super::sources::{DISTINCT_STD_ERROR, Sources};
use super::{ListenerConfig, ListenerLoad, Resolution};
use crate::detect::anomaly::{Value, secs};
use crate::detect::{Anomaly, AnomalyKind};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// How long an unanswered SYN must have waited, at least, to count as dropped by a full queue:
/// Linux's initial SYN retransmission timeout (RFC 6298 (2.1)), after which a live initiator
/// repeats it.
const OVERFLOW_WAIT: Duration = Duration::from_secs(1);
/// A flood or backlog under way, with what happened during it.
#[derive(Clone, Debug)]
struct Episode {
    /// Where the episode was recognised.
    start: (u64, Timestamp),
    /// The first and the last SYN of its attempts: the episode's extent on the wire, whatever
    /// was tracked, aggregated or resolved meanwhile.
    first_syn: Timestamp,
    last_syn: Timestamp,
    /// The most attempts pending at once (SYN seen, not yet resolved: the gauge the episode is
    /// recognised by), and where it was first reached.
    peak: u32,
    peak_at: (u64, Timestamp),
    /// The most attempts the listener held in SYN-RECEIVED at once (see `held.rs`), and the
    /// frame and time of the SYN-ACK that made it.
    held_peak: u32,
    held_peak_at: (u64, Timestamp),
    attempts: u64,
    completions: u64,
    aggregated: u64,
    synack_repeats: u64,
    stripped: u64,
    /// Answered attempts that waited 1.5 s or more with a single SYN-ACK (Linux would have
    /// retransmitted it after 1 s unless it kept no state: a cookie).
    long_single_synack: u64,
    /// Completed handshakes whose SYN-ACK carried a timestamp cookie, and the largest lag (ms).
    ts_cookies: u64,
    ts_cookie_max_lag: u32,
    /// Of those, SYN-ACKs whose TSval's low 6 bits held the SYN's options.
    ts_cookie_decoded: u64,
    /// Attempts the listener answered with a SYN-ACK.
    synacks: u64,
    /// Of those, attempts the initiator then reset: in a spoofed flood, the real owner of the
    /// address answering a SYN-ACK it never asked for (RFC 9293 §3.10.7.3: a SYN-ACK in a
    /// CLOSED or LISTEN state is answered by RST), i.e. backscatter, not a forged reset.
    synacks_reset: u64,
    /// Attempts the initiator reset, with or without a captured SYN-ACK (a capture of the
    /// inbound direction only shows the backscatter RSTs, not the SYN-ACKs they answer).
    source_resets: u64,
}

impl Episode {
    fn new(frame: u64, ts: Timestamp, gauge: u32) -> Self {
        Episode {
            start: (frame, ts),
            first_syn: ts,
            last_syn: ts,
            peak: gauge,
            peak_at: (frame, ts),
            held_peak: 0,
            held_peak_at: (frame, ts),
            attempts: 0,
            completions: 0,
            aggregated: 0,
            synack_repeats: 0,
            stripped: 0,
            long_single_synack: 0,
            ts_cookies: 0,
            ts_cookie_max_lag: 0,
            ts_cookie_decoded: 0,
            synacks: 0,
            synacks_reset: 0,
            source_resets: 0,
        }
    }

    /// Notes the half-open gauge at `frame`, keeping the first frame of its highest value.
    fn observe(&mut self, gauge: u32, frame: u64, ts: Timestamp) {
        if gauge > self.peak {
            self.peak = gauge;
            self.peak_at = (frame, ts);
        }
    }

    /// The half-open peak to report, with where it was reached and what it counts: attempts
    /// held in SYN-RECEIVED when the capture shows the listener's SYN-ACKs (`synacks_seen`)
    /// and every attempt was tracked; otherwise (a capture of the inbound direction, attempts
    /// aggregated beyond the caps) the attempts pending, which is all the capture can tell.
    fn half_open_peak(&self, synacks_seen: bool) -> (u32, (u64, Timestamp), &'static str) {
        if synacks_seen && self.aggregated == 0 {
            (self.held_peak, self.held_peak_at, "syn_received")
        } else {
            (self.peak, self.peak_at, "pending")
        }
    }

    /// Notes that the listener held `held` attempts from `t` on (the SYN-ACK of `frame`).
    fn observe_held(&mut self, held: u32, t: Timestamp, frame: u64) {
        if held > self.held_peak {
            self.held_peak = held;
            self.held_peak_at = (frame, t);
        }
    }
}

/// Everything known about one listening endpoint.
#[derive(Clone, Debug, Default)]
pub(super) struct Listener {
    /// Attempts tracked as connection records and not yet resolved.
    pub(super) tracked: u32,
    buckets: Buckets,
    sources: Sources,
    /// Boxed on the listener's first SYN-ACK: the listeners of a spoofed flood to many
    /// addresses never answer, and 65,536 may be tracked at once.
    held: Option<Box<Held>>,
    /// Boxed: an episode is about 200 bytes and most listeners never have one, while 65,536
    /// listeners may be tracked at once.
    flood: Option<Box<Episode>>,
    backlog: Option<Box<Episode>>,
    last_answer: Option<Timestamp>,
    /// The longest a SYN of this listener waited for its SYN-ACK.
    slowest_answer: Duration,
    unanswered_while_answering: u64,
    first_overflow: Option<(u64, Timestamp)>,
    answered: u64,
    stripped: u64,
    /// The newest time this listener heard of (resolutions at the end of a capture or of a
    /// timeout carry older times; the window is read at this one).
    latest: Timestamp,
    cookie_reported: bool,
    overflow_reported: bool,
    /// The per-listener tracking cap was hit at least once.
    pub(super) capped: bool,
}

impl Listener {
    /// Whether a `syn_flood` episode is under way.
    pub(super) fn flooded(&self) -> bool {
        self.flood.is_some()
    }

    /// What a listener is charged to `--max-memory` from its first attempt: its state, boxed
    /// (with the allocator's header), its buckets boxed, and the most its source bookkeeping
    /// can take. Held attempts come on top ([`Listener::held_bytes`]).
    pub(super) const FIXED_BYTES: usize = std::mem::size_of::<Listener>()
        + 16
        + Buckets::BOXED_BYTES
        + super::sources::MAX_HEAP_BYTES;

    /// Bytes this listener really holds: its boxed state and what its sources take.
    #[cfg(test)]
    pub(super) fn actual_bytes(&self) -> usize {
        std::mem::size_of::<Listener>()
            + self.buckets.heap_bytes()
            + self.sources.heap_bytes()
            + self.held_bytes()
    }

    /// Bytes the attempts this listener holds in SYN-RECEIVED take on the heap: their state,
    /// boxed once the listener has answered, and what it holds.
    pub(super) fn held_bytes(&self) -> usize {
        self.held
            .as_ref()
            .map_or(0, |h| std::mem::size_of::<Held>() + 16 + h.heap_bytes())
    }

    /// The bucket of `ts`'s second, emptied first if it last held an older second.
    fn bucket(&mut self, ts: Timestamp) -> &mut Bucket {
        self.buckets.of(ts.whole_secs())
    }

    /// The earliest SYN of the attempts in the window ending at `ts`.
    fn window_first(&self, ts: Timestamp, window: Duration) -> Option<Timestamp> {
        let now = ts.whole_secs();
        let span = window.whole_secs().clamp(1, BUCKETS as i64);
        self.buckets
            .held()
            .iter()
            .filter(|b| b.sec > now - span && b.sec <= now)
            .filter_map(Bucket::first)
            .min()
    }

    /// Notes that time `ts` was reached.
    fn saw(&mut self, ts: Timestamp) {
        self.latest = self.latest.max(ts);
    }

    /// The bucket of `ts`'s second, unless a newer second holds its slot (a resolution dated
    /// at a record's last segment, long before now, must not wipe the current window).
    fn bucket_at(&mut self, ts: Timestamp) -> Option<&mut Bucket> {
        let sec = ts.whole_secs();
        let held = self.buckets.sec_in(slot_of(sec));
        (held <= sec).then(|| self.bucket(ts))
    }

    /// Attempts, completions and aggregated attempts in the window ending at `ts`.
    fn window(&self, ts: Timestamp, window: Duration) -> (u64, u64, u64) {
        let now = ts.whole_secs();
        let span = window.whole_secs().clamp(1, BUCKETS as i64);
        self.buckets
            .held()
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
            && self.held.as_ref().is_none_or(|h| h.followed() == 0)
            && self.flood.is_none()
            && self.backlog.is_none()
            && self.window(ts, window) == (0, 0, 0)
    }

    /// Counts an attempt from `src` at `ts`; an `aggregated` one (beyond the tracking caps, so
    /// no connection record will resolve it) also counts as half-open for the window and as
    /// aggregated in the flood under way.
    pub(super) fn count_attempt(&mut self, src: IpAddr, ts: Timestamp, aggregated: bool) {
        self.saw(ts);
        self.sources.see(src);
        let b = self.bucket(ts);
        b.attempts += 1;
        b.note_syn(ts);
        b.aggregated += aggregated as u32;
        if let Some(f) = &mut self.flood {
            f.attempts += 1;
            f.last_syn = f.last_syn.max(ts);
            f.aggregated += aggregated as u64;
        }
    }

    /// The listener answered a SYN with a SYN-ACK.
    pub(super) fn answered(&mut self, ts: Timestamp, delay: Duration) {
        self.saw(ts);
        self.last_answer = Some(ts);
        self.slowest_answer = self.slowest_answer.max(delay);
        self.answered += 1;
        if let Some(f) = &mut self.flood {
            f.synacks += 1;
        }
    }

    /// What a segment of an aggregated attempt (no connection record) told, at `ts`.
    pub(super) fn aggregated_told(&mut self, told: Told, ts: Timestamp) {
        match told {
            // An aggregated attempt keeps no SYN time to measure the answer by.
            Told::Answered => self.answered(ts, Duration::ZERO),
            Told::Established => {
                self.saw(ts);
                if let Some(b) = self.bucket_at(ts) {
                    b.completions += 1;
                }
                for e in [self.flood.as_mut(), self.backlog.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    e.completions += 1;
                }
            }
            Told::SourceReset { after_synack } => {
                if let Some(f) = &mut self.flood {
                    f.source_resets += 1;
                    f.synacks_reset += after_synack as u64;
                }
            }
            Told::Refused | Told::Repeat | Told::Nothing => {}
        }
    }

    /// Copy number `copies` of the SYN-ACK of tracked attempt `conn` was sent at `ts`.
    pub(super) fn synack(&mut self, conn: u64, copies: u32, frame: u64, ts: Timestamp) {
        self.held
            .get_or_insert_default()
            .synack(conn, copies, ts, frame);
        self.advance_held(ts);
    }

    /// Brings the held count up to `now` into the episodes under way.
    fn advance_held(&mut self, now: Timestamp) {
        let Some(h) = &mut self.held else {
            return;
        };
        let (flood, backlog) = (&mut self.flood, &mut self.backlog);
        h.advance(now, self.cookie_reported, |held, t, frame| {
            for e in [flood.as_mut(), backlog.as_mut()].into_iter().flatten() {
                e.observe_held(held, t, frame);
            }
        });
    }

    /// A completed handshake showed a timestamp cookie (its SYN-ACK's TSval lagged by
    /// `lag_ms`): evidence for the episodes under way.
    pub(super) fn timestamp_cookie(&mut self, lag_ms: u32, decoded: bool) {
        for e in [self.flood.as_mut(), self.backlog.as_mut()]
            .into_iter()
            .flatten()
        {
            e.ts_cookies += 1;
            e.ts_cookie_max_lag = e.ts_cookie_max_lag.max(lag_ms);
            e.ts_cookie_decoded += decoded as u64;
        }
    }

    /// A tracked attempt is over: its outcome counts for the window and the episodes under way.
    pub(super) fn resolve(&mut self, r: Resolution, frame: u64, window: Duration) {
        self.tracked = self.tracked.saturating_sub(1);
        if let Some(h) = &mut self.held {
            if r.completed || r.reset {
                h.ended(r.conn, r.at);
            } else {
                h.gone(r.conn);
            }
        }
        if r.completed
            && let Some(b) = self.bucket_at(r.at)
        {
            b.completions += 1;
        }
        self.stripped += r.options_stripped as u64;
        if let Some(f) = &mut self.flood {
            f.source_resets += r.reset_by_initiator as u64;
            f.synacks_reset += (r.reset_by_initiator && r.answered) as u64;
        }
        // Watched, not only answered, for 1.5 s: the first SYN-ACK retransmission was due.
        let waited_long = r.watched >= Duration::from_millis(1500);
        for e in [self.flood.as_mut(), self.backlog.as_mut()]
            .into_iter()
            .flatten()
        {
            e.completions += r.completed as u64;
            e.synack_repeats += r.synack_repeated as u64;
            e.stripped += r.options_stripped as u64;
            // An initiator's RST (backscatter in a spoofed flood) ends the attempt before any
            // retransmission: no evidence either way.
            e.long_single_synack += (r.answered
                && !r.completed
                && !r.synack_repeated
                && !r.reset_by_initiator
                && waited_long) as u64;
        }
        // listen_queue_overflow evidence: this attempt got no answer while the listener answered
        // others within the window (Linux drops SYNs when the accept or SYN queue is full). The
        // attempt must have waited: its initiator repeated the SYN, or it was watched well
        // beyond the listener's slowest answer (a SYN still within its normal answer time when
        // the capture ended is no evidence).
        let waited =
            r.syn_repeated || r.watched >= OVERFLOW_WAIT.max(self.slowest_answer.saturating_mul(4));
        if !r.responded
            && !r.completed
            && waited
            && let Some(last) = self.last_answer
            && r.started.since(last).abs() <= window
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
        out: &mut Vec<Anomaly>,
    ) {
        // Resolutions are dated at a record's last segment, which may be long past (a timeout,
        // the end of the capture): the window is read at the newest time heard of.
        self.saw(ts);
        let ts = self.latest;
        self.advance_held(ts);
        let (attempts, completions, aggregated) = self.window(ts, cfg.window);
        let gauge = self.tracked.saturating_add(aggregated as u32);
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
                // The attempts in the window that made the flood count for it, from their
                // first SYN on.
                e.attempts = attempts;
                e.first_syn = self.window_first(ts, cfg.window).unwrap_or(ts);
                e.aggregated = aggregated;
                self.flood = Some(Box::new(e));
            }
            Some(e) => {
                e.observe(gauge, frame, ts);
                if gauge < cfg.flood_half_open / 2
                    && let Some(e) = self.flood.take()
                {
                    out.push(self.flood_anomaly(ep, &e));
                }
            }
            None => {}
        }
        // half_open_backlog: the gauge crosses the backlog threshold (Linux minimum
        // tcp_max_syn_backlog 128, Documentation/networking/ip-sysctl.rst).
        match &mut self.backlog {
            None if gauge >= cfg.backlog => {
                self.backlog = Some(Box::new(Episode::new(frame, ts, gauge)))
            }
            Some(e) => {
                e.observe(gauge, frame, ts);
                if gauge < cfg.backlog
                    && let Some(e) = self.backlog.take()
                {
                    out.push(backlog_anomaly(ep, &e, ts, self.answered > 0));
                }
            }
            None => {}
        }
        self.syncookie_check(ep, frame, ts, out);
    }

    /// Ends the episodes under way (end of capture) and reports a queue overflow once.
    pub(super) fn finish(&mut self, ep: Endpoint, ts: Timestamp, out: &mut Vec<Anomaly>) {
        // The capture is over: every attempt is as it was last seen.
        self.advance_held(Timestamp::MAX);
        if let Some(e) = self.flood.take() {
            out.push(self.flood_anomaly(ep, &e));
        }
        if let Some(e) = self.backlog.take() {
            out.push(backlog_anomaly(ep, &e, ts, self.answered > 0));
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
    /// tcp_input.c clears them for cookies), SYN-ACKs left unanswered are never repeated while
    /// those the request queue holds are (a cookie keeps no state to retransmit from), or
    /// clients with timestamps complete handshakes whose SYN-ACK TSval lagged the listener's
    /// clock as a cookie's does (see `detect::handshake`).
    fn syncookie_check(&mut self, ep: Endpoint, frame: u64, ts: Timestamp, out: &mut Vec<Anomaly>) {
        if self.cookie_reported {
            return;
        }
        let Some(e) = self.flood.as_ref().or(self.backlog.as_ref()) else {
            return;
        };
        if e.stripped >= 3 || e.long_single_synack >= 16 || e.ts_cookies >= 2 {
            self.cookie_reported = true;
            let mut a = Anomaly::new(AnomalyKind::Syncookies, frame, ts)
                .with("heuristic", true)
                .with("synacks_without_offered_options", self.stripped)
                .with("synack_repeats_while_full", e.synack_repeats)
                .with("unrepeated_synacks_after_1_5s", e.long_single_synack)
                .with("timestamp_cookies", e.ts_cookies)
                .with("timestamp_cookie_max_lag_ms", e.ts_cookie_max_lag)
                .with("timestamp_cookie_options_in_tsval", e.ts_cookie_decoded)
                .with("half_open_peak", e.peak);
            a.listener = Some(ep);
            out.push(a);
        }
    }

    /// The `syn_flood` anomaly of episode `e`. Its extent and rate come from the SYNs of its
    /// attempts (first to last), not from when it was recognised or ended, so they do not
    /// depend on how many attempts were tracked as records.
    fn flood_anomaly(&mut self, ep: Endpoint, e: &Episode) -> Anomaly {
        let (peak, _, basis) = e.half_open_peak(self.answered > 0);
        let dur = e.last_syn.since(e.first_syn);
        let rate = if dur.is_positive() {
            e.attempts as f64 / dur.as_secs_f64()
        } else {
            e.attempts as f64
        };
        let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let distinct = self.sources.distinct();
        let error = if self.sources.distinct_is_exact() {
            0
        } else {
            (distinct as f64 * DISTINCT_STD_ERROR).ceil() as u64
        };
        let mut a = Anomaly::new(AnomalyKind::SynFlood, e.start.0, e.start.1)
            .with("start", secs(e.first_syn.since_epoch()))
            .with("end", secs(e.last_syn.since_epoch()))
            .with("duration", secs(dur))
            .with("attempts", e.attempts)
            .with("rate_per_s", Value::F64(rate, 1))
            .with("distinct_sources", distinct)
            .with("distinct_sources_error", error)
            .with(
                "completion_ratio",
                Value::F64(share(e.completions, e.attempts), 3),
            )
            .with("peak_half_open", peak)
            .with("peak_basis", basis)
            .with("peak_pending", e.peak)
            .with("aggregated_attempts", e.aggregated)
            .with("top_sources", self.sources.top())
            .with("top_sources_max_overcount", self.sources.max_overcount())
            .with("synacks", e.synacks)
            .with("synacks_reset_by_source", e.synacks_reset)
            .with(
                "synack_reset_share",
                Value::F64(share(e.synacks_reset, e.synacks), 3),
            )
            .with("source_resets", e.source_resets);
        a.listener = Some(ep);
        a
    }
}

/// The `half_open_backlog` anomaly of episode `e`, ended at `end`.
fn backlog_anomaly(ep: Endpoint, e: &Episode, end: Timestamp, synacks_seen: bool) -> Anomaly {
    let (peak, at, basis) = e.half_open_peak(synacks_seen);
    let mut a = Anomaly::new(AnomalyKind::HalfOpenBacklog, e.start.0, e.start.1)
        .with("peak", peak)
        .with("peak_frame", at.0)
        .with("peak_at", secs(at.1.since_epoch()))
        .with("peak_basis", basis)
        .with("peak_pending", e.peak)
        .with("duration", secs(end.since(e.start.1)));
    a.listener = Some(ep);
    a
}

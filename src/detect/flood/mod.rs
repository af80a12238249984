//! Listener rules: SYN floods, half-open backlogs, listen-queue overflows and SYN cookies.
//!
//! A listener is a responder endpoint (address and port). Each connection attempt to it (a
//! connection opened by a SYN) counts as half-open from its SYN until it completes, is refused or
//! reset, or leaves the table; the rules look at that gauge, not at SYN packets, so a busy
//! legitimate client that completes its handshakes never looks like a flood (the false positive
//! ntopng#8631 fixed the same way). Attempts beyond the tracking caps are aggregated here
//! instead of becoming connection records, which bounds memory under a spoofed flood; they are
//! still remembered in a few bytes each, so every listener's attempt counts stay exact.
//!
//! This file admits attempts (the tracking caps and the listener registry); `listener.rs` holds
//! one listener's buckets and episodes and builds their anomalies; `sources.rs` estimates who
//! sends the attempts; `pending.rs` remembers the aggregated attempts and counts their outcomes.

mod buckets;
mod call;
mod distinct;
mod held;
mod listener;
mod pending;
mod sources;

use std::net::IpAddr;

use hashbrown::HashMap;

pub use self::call::ListenerCall;
use self::listener::Listener;
use self::pending::PendingAttempts;
pub use self::pending::{AttemptCounts, Told};
use super::Anomaly;
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, SeqNum, TcpFlags};

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
    /// Half-open attempts tracked as connection records in total (default 65536). Sixteen
    /// times as many attempts as this or the per-listener cap, whichever is larger, are
    /// remembered beyond them in about 50 bytes each (at most about 100 MiB at the default,
    /// with the hash table's slack), so counts stay exact until that many are outstanding.
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
    /// The responder answered the SYN at all: with a SYN-ACK or a RST (the summary's
    /// per-listener `answered` counts SYN-ACKs only).
    pub responded: bool,
    /// The responder answered the SYN with a SYN-ACK.
    pub answered: bool,
    /// The initiator sent a RST (after a SYN-ACK: in a spoofed flood, backscatter from the
    /// address's real owner).
    pub reset_by_initiator: bool,
    /// The responder repeated its SYN-ACK.
    pub synack_repeated: bool,
    /// The SYN offered window scaling or SACK and no timestamps, and the SYN-ACK carried neither
    /// (what Linux SYN cookies do: tcp_input.c clears options without timestamps).
    pub options_stripped: bool,
    /// When the attempt started.
    pub started: Timestamp,
    /// When it was resolved.
    pub at: Timestamp,
    /// How long the attempt was watched before it was resolved: until its answer, or until its
    /// record ended (the end of the capture, or its idle timeout).
    pub watched: Duration,
    /// The initiator repeated its SYN: its own retransmission timer said it had no answer.
    pub syn_repeated: bool,
    /// The connection record's id.
    pub conn: u64,
    /// Either side reset the attempt (at `at`, when it is resolved then).
    pub reset: bool,
}

/// Listener state for the whole capture.
#[derive(Default)]
pub struct ListenerTracker {
    cfg: ListenerConfig,
    /// Boxed: a listener's state is over a kilobyte, and up to [`MAX_LISTENERS`] of them (a
    /// flood to random ports creates them all) would otherwise fill twice as many map buckets,
    /// and be copied whenever the map grows.
    listeners: HashMap<Endpoint, Box<Listener>, foldhash::fast::RandomState>,
    tracked_total: u32,
    pending: PendingAttempts,
    /// Attempts counted here instead of as connection records (a tracking cap was hit).
    pub aggregated: u64,
    /// SYN retransmissions of aggregated attempts (same ISN), not counted as attempts.
    pub aggregated_syn_retransmissions: u64,
    /// Listeners whose attempts hit the per-listener cap at least once.
    pub capped_listeners: u64,
    /// Attempts to listeners that could not be tracked (beyond [`MAX_LISTENERS`],
    /// [`MAX_LISTENERS_PER_HOST`] on one address, or listener state's share of the memory
    /// bound): aggregated, so counted per listener, but judged by no listener rule.
    pub untracked_listener_attempts: u64,
    /// Listeners tracked now, per address ([`MAX_LISTENERS_PER_HOST`]).
    per_host: HashMap<IpAddr, u32, foldhash::fast::RandomState>,
    /// The most addresses `per_host` has held at once: what its table is charged from, as it
    /// loses entries when listeners are forgotten.
    per_host_most: usize,
    /// The most listeners tracked at once: their map is charged for this many, not by its
    /// capacity, which after idle listeners are forgotten depends on the per-run seeded hasher
    /// (see [`crate::wire::table_bytes`]).
    listeners_most: usize,
    /// The charge for `per_host`, kept: the table's memory is summed a few times per SYN under
    /// a flood.
    per_host_bytes: usize,
    /// Capture second of the last sweep of idle listeners.
    last_sweep: Option<i64>,
    /// What the listeners' held attempts (`held.rs`) take on the heap, kept up to date at every
    /// change: they grow with the attempts a listener answers, unlike the rest of a listener's
    /// state, which is charged at its largest from the start ([`Listener::FIXED_BYTES`]).
    held_heap: usize,
    /// Bytes listener state may take (half of `--max-memory`); no new listener is tracked
    /// beyond it (their attempts are counted as untracked).
    memory_limit: usize,
    /// Bytes of `--max-memory` the rest of the analysis leaves to listener state, as last told
    /// ([`ListenerTracker::set_room`]); none set, no limit.
    room: Option<usize>,
}

/// Listeners tracked at once.
pub const MAX_LISTENERS: usize = 65_536;

/// Listeners tracked at once on one address. A flood or a scan across the ports of one host
/// (every SYN to another port) would otherwise take all [`MAX_LISTENERS`], some 2 KB each with
/// their sources and counts, and leave no room for any other host's listeners; beyond it the
/// host's new ports are counted per listener, like attempts beyond the half-open caps, and
/// judged by no listener rule (the summary says how many attempts). A host serving more ports
/// than this within a window (10 s) is rare; the ports it is seen serving first are tracked,
/// and one idle for a window gives its place to the next.
pub const MAX_LISTENERS_PER_HOST: u32 = 4_096;

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

/// Aggregated attempts remembered (to attribute their answers), as a multiple of the larger
/// half-open cap: 262,144 at the defaults, about 15 MiB at most; beyond it the oldest are
/// forgotten early and counted.
const PENDING_PER_CAP: u32 = 4;

impl ListenerTracker {
    /// Bytes of listener state held now (charged to `--max-memory`): each tracked listener at
    /// the most its state and source bookkeeping can take, its map slot, the attempts it holds
    /// in SYN-RECEIVED, and the aggregated attempts.
    pub fn memory_bytes(&self) -> usize {
        self.listeners_bytes() + self.pending.memory_bytes()
    }

    /// Bytes of the listeners themselves.
    fn listeners_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Endpoint, Box<Listener>)>();
        self.listeners.len() * Listener::FIXED_BYTES
            + crate::wire::table_bytes(self.listeners_most, slot)
            + self.per_host_bytes
            + self.held_heap
    }

    /// Bounds the listener state to `bytes` (half of `--max-memory`): the aggregated attempts
    /// and their counts get a share of it that they never outgrow, listeners the rest.
    pub fn set_memory_limit(&mut self, bytes: usize) {
        self.memory_limit = bytes;
        self.pending.set_budget(bytes / 4);
    }

    /// Tells the tracker how many bytes of `--max-memory` the rest of the analysis leaves it
    /// now: a new listener must fit in them as well as in its own limit.
    pub fn set_room(&mut self, bytes: usize) {
        self.room = Some(bytes);
    }

    /// [`ListenerTracker::memory_bytes`] and the bytes the aggregated attempts may still take
    /// before they reach their share ([`ListenerTracker::set_memory_limit`]), reserved against
    /// the bound. The table asks for it before every new attempt, so the aggregated attempts'
    /// bytes are summed once for both.
    pub fn committed_bytes(&self) -> usize {
        let pending = self.pending.memory_bytes();
        let headroom = if self.memory_limit == 0 {
            0
        } else {
            self.pending.budget_bytes().saturating_sub(pending)
        };
        self.listeners_bytes() + pending + headroom
    }

    /// Whether listener `ep` cannot be tracked now: [`MAX_LISTENERS`] are, or
    /// [`MAX_LISTENERS_PER_HOST`] of its address, or one more would take listener state past
    /// its bound (the aggregated attempts' share counted in full, as they may still grow into
    /// it).
    fn full(&self, ep: &Endpoint) -> bool {
        if self.listeners.len() >= MAX_LISTENERS
            || self.per_host.get(&ep.addr).copied().unwrap_or(0) >= MAX_LISTENERS_PER_HOST
        {
            return true;
        }
        if self.memory_limit == 0 {
            return false;
        }
        let limit = self.memory_limit.min(self.room.unwrap_or(usize::MAX));
        self.listeners_bytes() + Listener::FIXED_BYTES
            > limit.saturating_sub(self.pending.budget_bytes())
    }

    /// Applies `f` to listener `ep`, if tracked, keeping the held attempts' bytes up to date.
    fn with<R>(&mut self, ep: &Endpoint, f: impl FnOnce(&mut Listener) -> R) -> Option<R> {
        let l = self.listeners.get_mut(ep)?;
        let before = l.held_bytes();
        let r = f(l);
        self.held_heap = self.held_heap + l.held_bytes() - before;
        Some(r)
    }

    /// A tracker with the given thresholds.
    pub fn new(cfg: ListenerConfig) -> Self {
        ListenerTracker {
            cfg,
            pending: PendingAttempts::new(
                cfg.max_half_open_total
                    .max(cfg.max_half_open_per_listener)
                    .saturating_mul(PENDING_PER_CAP) as usize,
            ),
            ..Default::default()
        }
    }

    /// Every listener's counts of aggregated attempts, and of those beyond [`MAX_LISTENERS`]
    /// (attempts tracked as connection records are counted from the records).
    pub fn aggregated_counts(
        &self,
    ) -> (
        impl Iterator<Item = (&Endpoint, &AttemptCounts)>,
        AttemptCounts,
    ) {
        let (map, other) = self.pending.all_counts();
        (map.iter(), other)
    }

    /// Aggregated attempts forgotten before their lifetime because too many were outstanding
    /// (later segments of those are not attributed to them).
    pub fn aggregated_forgotten_early(&self) -> u64 {
        self.pending.forgotten_early
    }

    /// The `n` busiest listeners at `now`, by half-open attempts then attempt rate.
    pub fn busiest(&self, now: Timestamp, n: usize) -> Vec<ListenerLoad> {
        let mut v: Vec<ListenerLoad> = self
            .listeners
            .iter()
            .map(|(ep, l)| l.load(*ep, now, self.cfg.window))
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

    /// Half-open attempts tracked as connection records now, over all listeners.
    pub fn half_open_tracked(&self) -> u32 {
        self.tracked_total
    }

    /// Whether `listener` is under a `syn_flood` episode now.
    pub fn flooded(&self, listener: &Endpoint) -> bool {
        self.listeners.get(listener).is_some_and(|l| l.flooded())
    }

    /// Whether a new attempt to `listener` may become a connection record, or must be
    /// aggregated (the half-open caps); `None` when that depends on whether the listener, not
    /// tracked yet, can be ([`ListenerTracker::track`]).
    pub fn may_track(&self, listener: &Endpoint) -> Option<bool> {
        if self.tracked_total >= self.cfg.max_half_open_total {
            return Some(false);
        }
        let cap = self.cfg.max_half_open_per_listener;
        self.listeners.get(listener).map(|l| l.tracked < cap)
    }

    /// Tracks `listener` from `ts` if there is room (idle listeners forgotten to make it);
    /// whether it is tracked and an attempt to it may become a connection record. An attempt
    /// no listener can judge is aggregated, so that the half-open caps bound those too.
    pub fn track(&mut self, listener: Endpoint, ts: Timestamp) -> bool {
        let cap = self.cfg.max_half_open_per_listener;
        self.listener(listener, ts).is_some_and(|l| l.tracked < cap)
    }

    /// Whether a SYN from `src` to `listener` retransmits an attempt that was aggregated (it
    /// stays aggregated even if the caps have room again, so it is counted once).
    pub fn is_aggregated(&self, listener: &Endpoint, src: IpAddr, sport: u16, isn: SeqNum) -> bool {
        self.pending.holds(*listener, (src, sport), isn)
    }

    /// Whether the listener is aggregating attempts (its answers to aggregated attempts, such as
    /// SYN-ACKs for spoofed sources, are aggregated too).
    pub fn aggregating(&self, listener: &Endpoint) -> bool {
        self.listeners
            .get(listener)
            .is_some_and(|l| l.tracked >= self.cfg.max_half_open_per_listener)
            || self.tracked_total >= self.cfg.max_half_open_total
    }

    /// The state of listener `ep`, created on its first attempt; none when it cannot be
    /// tracked ([`ListenerTracker::full`]) and no idle listener makes room.
    fn listener(&mut self, ep: Endpoint, ts: Timestamp) -> Option<&mut Listener> {
        if !self.listeners.contains_key(&ep) {
            if self.full(&ep) {
                self.forget_idle(ts);
                if self.full(&ep) {
                    return None;
                }
            }
            *self.per_host.entry(ep.addr).or_default() += 1;
            if self.per_host.len() > self.per_host_most {
                self.per_host_most = self.per_host.len();
                let entry = std::mem::size_of::<(IpAddr, u32)>();
                self.per_host_bytes = crate::wire::table_bytes(self.per_host_most, entry);
            }
            // The listener is added just below.
            self.listeners_most = self.listeners_most.max(self.listeners.len() + 1);
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
        let per_host = &mut self.per_host;
        self.listeners.retain(|ep, l| {
            let keep = !l.is_idle(ts, w);
            if !keep && let Some(n) = per_host.get_mut(&ep.addr) {
                *n -= 1;
                if *n == 0 {
                    per_host.remove(&ep.addr);
                }
            }
            keep
        });
        self.held_heap = self.listeners.values().map(|l| l.held_bytes()).sum();
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
            // Not reached from the table, which tracks an attempt only once its listener is
            // (`may_track`).
            self.untracked_listener_attempts += 1;
            return;
        };
        l.tracked += 1;
        l.count_attempt(src, ts, false);
        self.tracked_total += 1;
        self.evaluate(ep, frame, ts, out);
    }

    /// A SYN from `src` (port `sport`, ISN `isn`) beyond the tracking caps: counted here only,
    /// once per attempt (a retransmission of an aggregated attempt repeats its ISN).
    #[allow(clippy::too_many_arguments)]
    pub fn aggregate(
        &mut self,
        ep: Endpoint,
        src: IpAddr,
        sport: u16,
        isn: SeqNum,
        frame: u64,
        ts: Timestamp,
        out: &mut Vec<Anomaly>,
    ) {
        if !self.pending.syn(ep, (src, sport), isn, ts) {
            self.aggregated_syn_retransmissions += 1;
            return;
        }
        self.aggregated += 1;
        let cap = self.cfg.max_half_open_per_listener;
        let Some(l) = self.listener(ep, ts) else {
            self.untracked_listener_attempts += 1;
            return;
        };
        let first_cap = l.tracked >= cap && !l.capped;
        l.capped |= first_cap;
        l.count_attempt(src, ts, true);
        self.capped_listeners += first_cap as u64;
        self.evaluate(ep, frame, ts, out);
    }

    /// A segment no connection record holds, between `src` and `dst`: if it belongs to an
    /// aggregated attempt (a SYN-ACK, a refusal, the initiator's ACK or RST), counts what it
    /// tells and returns it.
    #[allow(clippy::too_many_arguments)]
    pub fn untracked(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        seq: SeqNum,
        ack: SeqNum,
        flags: TcpFlags,
        frame: u64,
        ts: Timestamp,
        out: &mut Vec<Anomaly>,
    ) -> Told {
        if self.pending.len() == 0 || flags.is_syn_only() {
            return Told::Nothing;
        }
        let seg = (seq, ack, flags);
        // Sent by the listener to the initiator, or the other way round.
        let (listener, told) = match self.pending.segment(src, (dst.addr, dst.port), true, seg) {
            Told::Nothing => (
                dst,
                self.pending.segment(dst, (src.addr, src.port), false, seg),
            ),
            t => (src, t),
        };
        if !matches!(told, Told::Nothing | Told::Repeat)
            && let Some(l) = self.listeners.get_mut(&listener)
        {
            l.aggregated_told(told, ts);
            self.evaluate(listener, frame, ts, out);
        }
        told
    }

    /// The listener answered a SYN with a SYN-ACK.
    pub fn answered(&mut self, ep: Endpoint, ts: Timestamp, syn_at: Timestamp) {
        if let Some(l) = self.listeners.get_mut(&ep) {
            l.answered(ts, ts.since(syn_at));
        }
    }

    /// Copy number `copies` of the SYN-ACK of tracked attempt `conn` to listener `ep`.
    pub fn synack(&mut self, ep: Endpoint, conn: u64, copies: u32, frame: u64, ts: Timestamp) {
        self.with(&ep, |l| l.synack(conn, copies, frame, ts));
    }

    /// A completed handshake with the listener showed a timestamp cookie: its SYN-ACK's TSval
    /// lagged the listener's clock by `lag_ms` (and its low bits held the SYN's options when
    /// `decoded`).
    pub fn timestamp_cookie(
        &mut self,
        ep: Endpoint,
        lag_ms: u32,
        decoded: bool,
        frame: u64,
        ts: Timestamp,
        out: &mut Vec<Anomaly>,
    ) {
        if let Some(l) = self.listeners.get_mut(&ep) {
            l.timestamp_cookie(lag_ms, decoded);
        }
        self.evaluate(ep, frame, ts, out);
    }

    /// A tracked attempt is over.
    pub fn resolve(&mut self, ep: Endpoint, r: Resolution, frame: u64, out: &mut Vec<Anomaly>) {
        let window = self.cfg.window;
        if self.with(&ep, |l| l.resolve(r, frame, window)).is_none() {
            return;
        }
        self.tracked_total = self.tracked_total.saturating_sub(1);
        self.evaluate(ep, frame, r.at, out);
    }

    /// Starts and ends episodes for `ep` at time `ts`.
    fn evaluate(&mut self, ep: Endpoint, frame: u64, ts: Timestamp, out: &mut Vec<Anomaly>) {
        let cfg = self.cfg;
        self.with(&ep, |l| l.evaluate(ep, &cfg, frame, ts, out));
    }

    /// Ends every episode (end of capture) and reports queue overflows, in listener order.
    pub fn finish(&mut self, ts: Timestamp, out: &mut Vec<Anomaly>) {
        let mut eps: Vec<Endpoint> = self.listeners.keys().copied().collect();
        eps.sort();
        for ep in eps {
            self.with(&ep, |l| l.finish(ep, ts, out));
        }
    }
}

#[cfg(test)]
mod tests;

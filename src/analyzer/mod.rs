//! The sans-IO core: packets in, finished connection records and a summary out.
//!
//! [`Analyzer::push`] takes one captured frame (with its timestamp), decodes it, accounts it to its
//! connection and hands every connection that ends meanwhile to the caller. Nothing here reads
//! files, sockets or clocks, so offline, live and CI runs share it unchanged.

use crate::proto::{AppConfig, AppRecord, AppStats};
use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::detect::flood::{AttemptCounts, MAX_LISTENERS};
use crate::detect::isn::HostIsn;
use crate::detect::{Anomaly, AnomalyKind, DetectConfig, ListenerConfig, ListenerLoad, Scope};
use crate::event::Event;
use crate::event::{ConnRecord, EndReason};
use crate::flow::{FlowConfig, FlowStats, FlowTable, Spent, StreamSink};
use crate::tcp::TcpState;
use crate::time::Timestamp;
use crate::wire::{DecodeStats, Endpoint, Packet, PerSide, Side};

mod batch;
mod intake;
mod joint;

pub use batch::Batch;
pub use intake::{Decoded, FrameCounts, Intake, Screen};
pub use joint::{Joint, ShardId};

/// Non-zero counts indexed by [`AnomalyKind::index`], keyed by id.
fn by_id(counts: &[u64; AnomalyKind::COUNT]) -> BTreeMap<&'static str, u64> {
    AnomalyKind::ALL
        .iter()
        .filter(|k| counts[k.index()] > 0)
        .map(|k| (k.id(), counts[k.index()]))
        .collect()
}

/// Connection attempts seen by one listening endpoint (the responder of connections whose SYN
/// was captured): those tracked as connection records plus those aggregated beyond the
/// half-open caps, so they add up to every attempt whatever the caps.
pub type ListenerCounts = AttemptCounts;

/// Everything counted over a run, besides the connection records themselves.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Frames read from the capture.
    pub packets: u64,
    /// Bytes of frames on the wire.
    pub wire_bytes: u64,
    /// Timestamp of the first frame.
    pub first_ts: Option<Timestamp>,
    /// Timestamp of the last frame.
    pub last_ts: Option<Timestamp>,
    /// Frames whose timestamp no capture clock can have given (before 1970, after 2099, or
    /// more than a year from the capture's time so far): analysed at the capture's time
    /// instead (see [`crate::time::CaptureClock`]), and the times above leave them out.
    pub clock_faults: u64,
    /// Decoder counters.
    pub decode: DecodeStats,
    /// Connection table counters.
    pub flows: FlowStats,
    /// Connections by end reason, indexed like [`EndReason::ALL`].
    pub end_reasons: [u64; EndReason::COUNT],
    /// Per-listener counts (tracked and aggregated attempts; at most [`MAX_LISTENERS`]).
    pub listeners: HashMap<Endpoint, ListenerCounts, foldhash::fast::RandomState>,
    /// Attempts to listeners beyond [`MAX_LISTENERS`].
    pub other_listeners: ListenerCounts,
    /// Anomaly events reported, by kind (indexed by [`AnomalyKind::index`]).
    pub anomaly_events: [u64; AnomalyKind::COUNT],
    /// Occurrences counted on connection records, by kind (a connection reports a kind once and
    /// counts the rest).
    pub anomaly_occurrences: [u64; AnomalyKind::COUNT],
    /// Anomaly events per listener and kind.
    pub anomalies_by_listener:
        HashMap<Endpoint, [u32; AnomalyKind::COUNT], foldhash::fast::RandomState>,
    /// Half-open attempts aggregated per listener instead of tracked (caps hit).
    pub aggregated_attempts: u64,
    /// Aggregated attempts forgotten early because too many were outstanding at once (their
    /// later answers are not counted; 0 unless far beyond the caps).
    pub aggregated_forgotten: u64,
    /// Attempts to listeners that could not be tracked (beyond 65,536 listeners, 4,096 on one
    /// address, or listener state's share of `--max-memory`): aggregated and counted per
    /// listener, judged by no listener rule.
    pub untracked_listener_attempts: u64,
    /// Errors writing streams (`--write-streams`).
    pub stream_error: Option<String>,
    /// Connection records marked one-sided, by the side the capture shows.
    pub one_sided: PerSide<u64>,
    /// The application layer's records and counters, when it was parsed.
    pub app: Option<AppSummary>,
    /// The hosts whose ISNs told something (a clock sample, or a predictable step), most ISNs
    /// first, at most [`MAX_ISN_SUMMARY`].
    pub isn_hosts: Vec<(std::net::IpAddr, HostIsn)>,
}

/// Hosts listed in [`Summary::isn_hosts`].
pub const MAX_ISN_SUMMARY: usize = 16;

/// What the application layer found in a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct AppSummary {
    /// DNS transactions (query and answer, or either alone).
    pub dns: u64,
    /// Of those, never answered.
    pub dns_unanswered: u64,
    /// TLS handshakes.
    pub tls: u64,
    /// HTTP transactions.
    pub http: u64,
    /// Sessions (requests sharing a session cookie value).
    pub sessions: u64,
    /// The parsers' counters.
    pub stats: AppStats,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            packets: 0,
            wire_bytes: 0,
            first_ts: None,
            last_ts: None,
            clock_faults: 0,
            decode: DecodeStats::default(),
            flows: FlowStats::default(),
            end_reasons: [0; EndReason::COUNT],
            listeners: HashMap::default(),
            other_listeners: ListenerCounts::default(),
            anomaly_events: [0; AnomalyKind::COUNT],
            anomaly_occurrences: [0; AnomalyKind::COUNT],
            anomalies_by_listener: HashMap::default(),
            aggregated_attempts: 0,
            aggregated_forgotten: 0,
            untracked_listener_attempts: 0,
            stream_error: None,
            one_sided: PerSide::default(),
            app: None,
            isn_hosts: Vec::new(),
        }
    }
}

impl Summary {
    /// The busiest listeners by attempts, at most `n`.
    pub fn top_listeners(&self, n: usize) -> Vec<(Endpoint, ListenerCounts)> {
        let mut v: Vec<_> = self.listeners.iter().map(|(e, c)| (*e, *c)).collect();
        v.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Anomaly events reported so far, by id (only ids that occurred).
    pub fn anomaly_events_by_id(&self) -> BTreeMap<&'static str, u64> {
        by_id(&self.anomaly_events)
    }

    /// The side the whole capture shows, when it looks one-sided: at least 3 connections prove
    /// a direction missing and they outnumber the connections that show both directions
    /// ([`FlowStats::capture_one_sided`]); the side is the one most one-sided records show.
    pub fn capture_one_sided(&self) -> Option<Side> {
        self.flows.capture_one_sided().then(|| {
            if self.one_sided[Side::Resp] > self.one_sided[Side::Orig] {
                Side::Resp
            } else {
                Side::Orig
            }
        })
    }

    /// Anomaly occurrences counted on connection records, by id (only ids that occurred).
    pub fn anomaly_occurrences_by_id(&self) -> BTreeMap<&'static str, u64> {
        by_id(&self.anomaly_occurrences)
    }

    /// Takes the intake's counts of the frames themselves.
    #[inline]
    fn set_frame_counts(&mut self, c: &FrameCounts) {
        self.packets = c.packets;
        self.wire_bytes = c.wire_bytes;
        self.first_ts = c.first_ts;
        self.last_ts = c.last_ts;
        self.clock_faults = c.clock_faults;
    }

    /// Counts what one event tells.
    fn record(&mut self, e: &Event<'_>) {
        match e {
            Event::Closed(c) => self.account(c),
            Event::Anomaly(a) => self.account_anomaly(a),
            Event::App(r) => {
                let a = self.app.get_or_insert_with(AppSummary::default);
                match r {
                    AppRecord::Dns(d) => {
                        a.dns += 1;
                        a.dns_unanswered += u64::from(d.status() == "unanswered");
                    }
                    AppRecord::Tls(_) => a.tls += 1,
                    AppRecord::Http(_) => a.http += 1,
                    AppRecord::Session(_) => a.sessions += 1,
                }
            }
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) => {}
        }
    }

    fn account_anomaly(&mut self, a: &Anomaly) {
        self.anomaly_events[a.kind.index()] += 1;
        // A host-scoped anomaly names its host in `listener` (port 0): no listener.
        if let Some(l) = a.listener.filter(|_| a.kind.scope() != Scope::Host) {
            let n = self.anomalies_by_listener.len();
            if n < MAX_LISTENERS || self.anomalies_by_listener.contains_key(&l) {
                self.anomalies_by_listener
                    .entry(l)
                    .or_insert([0; AnomalyKind::COUNT])[a.kind.index()] += 1;
            }
        }
    }

    fn account(&mut self, c: &ConnRecord) {
        if let Some(r) = c.end_reason {
            self.end_reasons[r as usize] += 1;
        }
        if let Some(side) = c.one_sided {
            self.one_sided[side] += 1;
        }
        for (k, n) in &c.tally.seg_counts {
            self.anomaly_occurrences[k.index()] += (n[Side::Orig] + n[Side::Resp]) as u64;
        }
        for (k, n) in &c.tally.counts {
            self.anomaly_occurrences[k.index()] += *n as u64;
        }
        if !c.saw_start() {
            return;
        }
        let resp = c.half(Side::Resp);
        let answered = resp.sent_synack;
        self.listener_counts(c.resp).add(&AttemptCounts {
            attempts: 1,
            answered: answered as u64,
            established: c.established() as u64,
            refused: (!answered && resp.rsts > 0) as u64,
            // An attempt a router answered with an ICMP error is not unanswered.
            unanswered: (resp.packets == 0 && c.half(Side::Orig).rare().icmp_errors == 0) as u64,
        });
    }

    /// Adds the attempts aggregated per listener. Busiest first, ties by endpoint: once
    /// [`MAX_LISTENERS`] listeners have counts of their own, the rest share one, and which
    /// listeners still get theirs must not depend on the order of the tracker's hash map
    /// (seeded anew by every run).
    fn add_aggregated<'a>(
        &mut self,
        per_listener: impl Iterator<Item = (&'a Endpoint, &'a ListenerCounts)>,
    ) {
        let mut per_listener: Vec<_> = per_listener.collect();
        per_listener.sort_unstable_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        for (ep, c) in per_listener {
            self.listener_counts(*ep).add(c);
        }
    }

    /// The counts of listener `ep` (those beyond [`MAX_LISTENERS`] are counted together).
    fn listener_counts(&mut self, ep: Endpoint) -> &mut ListenerCounts {
        if self.listeners.len() < MAX_LISTENERS {
            return self.listeners.entry(ep).or_default();
        }
        // One lookup: the map and the shared counts are different fields.
        self.listeners
            .get_mut(&ep)
            .unwrap_or(&mut self.other_listeners)
    }
}

/// The connections and listeners of a run at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Connections tracked.
    pub tracked: usize,
    /// Tracked connections by each endpoint's state, indexed like [`TcpState::ALL`].
    pub states: [PerSide<u64>; TcpState::ALL.len()],
    /// The busiest listeners, busiest first.
    pub listeners: Vec<ListenerLoad>,
}

/// Everything the core can be tuned with.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnalyzerConfig {
    /// Connection table limits and timeouts.
    pub flow: FlowConfig,
    /// Connection rule thresholds.
    pub detect: DetectConfig,
    /// Listener rule thresholds and caps.
    pub listeners: ListenerConfig,
    /// Verify TCP checksums (off by default: checksum offload makes locally captured segments
    /// look bad).
    pub verify_checksums: bool,
    /// The application layer (DNS, TLS, HTTP): off by default.
    pub app: AppConfig,
}

/// The intake (clock and decoder) plus the engine (connection table and summary).
pub struct Analyzer {
    intake: Intake,
    engine: Engine,
    cfg: AnalyzerConfig,
}

/// The analyzer's second half: the connection table and what it counts. It takes what the
/// [`Intake`] decoded, on the same thread or another one.
pub struct Engine {
    flows: FlowTable,
    summary: Summary,
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(cfg: AnalyzerConfig) -> Self {
        let mut flows = FlowTable::new(cfg.flow, cfg.detect, cfg.listeners);
        if cfg.app.enabled {
            flows.parse_app(cfg.app);
        }
        Analyzer {
            intake: Intake::new(cfg.verify_checksums, cfg.app.enabled),
            engine: Engine {
                flows,
                summary: Summary::default(),
            },
            cfg,
        }
    }

    /// Keeps connection stories only while `wanted` holds (see
    /// [`crate::flow::FlowTable::keep_stories_while`]).
    pub fn keep_stories_while(&mut self, wanted: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.engine.flows.keep_stories_while(wanted);
    }

    /// Sends every direction's in-order bytes to `sink` (`--write-streams`).
    pub fn set_stream_sink(&mut self, sink: Box<dyn StreamSink>) {
        self.engine.flows.set_stream_sink(sink);
    }

    /// Accounts one frame; connection records and anomalies decided meanwhile go to `out`.
    /// (How frame times are screened: [`Intake::push`].)
    #[inline]
    pub fn push(&mut self, pkt: &Packet<'_>, out: &mut impl FnMut(Event<'_>)) {
        let engine = &mut self.engine;
        self.intake
            .push(pkt, &mut |outside, d| engine.take(outside, d, out));
        engine.summary.set_frame_counts(&self.intake.counts());
    }

    /// The two halves, for a run that puts them on two threads; [`Analyzer::join`] puts them
    /// back together.
    pub fn split(self) -> (Intake, Engine) {
        (self.intake, self.engine)
    }

    /// The analyzer whose halves [`Analyzer::split`] gave (made with `cfg`).
    pub fn join(intake: Intake, engine: Engine, cfg: AnalyzerConfig) -> Self {
        Analyzer {
            intake,
            engine,
            cfg,
        }
    }

    /// What the analyzer was made with.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.cfg
    }

    /// Whether its connections may be split among shards ([`Joint`]): every connection's
    /// analysis is its own but for the state [`Joint`] keeps, which leaves out the
    /// application layer (DNS names and sessions span connections), stream files and
    /// stories kept for a report.
    pub fn shardable(&self) -> bool {
        self.engine.flows.shardable()
    }

    /// Moves the clock to `now` without a packet (live capture on a quiet link): connections
    /// idle past their timeout end and go to `out`.
    pub fn tick(&mut self, now: Timestamp, out: &mut impl FnMut(Event<'_>)) {
        let summary = &mut self.engine.summary;
        self.engine.flows.advance(now, &mut |e| {
            summary.record(&e);
            out(e);
        });
    }

    /// What is going on now, for a live view: connections tracked by each endpoint's state,
    /// and the `busiest` listeners by load.
    pub fn snapshot(&self, busiest: usize) -> Snapshot {
        let flows = &self.engine.flows;
        let mut states = [PerSide::<u64>::default(); TcpState::ALL.len()];
        for ends in flows.states() {
            for (side, state) in ends.iter() {
                states[*state as usize][side] += 1;
            }
        }
        Snapshot {
            tracked: flows.len(),
            states,
            listeners: flows.listeners().busiest(flows.now(), busiest),
        }
    }

    /// What has been counted so far (the decoder's and table's counters are filled in by
    /// [`Analyzer::finish`]).
    pub fn summary(&self) -> &Summary {
        &self.engine.summary
    }

    /// Frames decoded into TCP segments so far.
    pub fn tcp_segments(&self) -> u64 {
        self.intake.tcp_segments()
    }

    /// Frames pushed so far: the number of the last one.
    pub fn frames(&self) -> u64 {
        self.intake.frames()
    }

    /// Ends the run: every open connection and pending anomaly goes to `out`; returns the summary.
    pub fn finish(self, out: &mut impl FnMut(Event<'_>)) -> Summary {
        let Analyzer {
            mut intake,
            mut engine,
            ..
        } = self;
        intake.end(&mut |outside, d| engine.take(outside, d, out));
        engine.summary.set_frame_counts(&intake.counts());
        engine.summary.decode = intake.finish();
        engine.finish(out)
    }
}

impl Engine {
    /// Hands every connection to `spent` once its [`Event::Closed`] has been emitted (see
    /// [`FlowTable::set_spent`]).
    pub fn set_spent(&mut self, spent: Spent) {
        self.flows.set_spent(spent);
    }

    /// Whether the connection table reads segments' payload bytes (reassembly that keeps
    /// them, the application layer, stream files); without, headers and lengths are enough.
    pub fn reads_payload(&self) -> bool {
        self.flows.reads_payload()
    }

    /// Accounts what one frame carried; `outside` is what the intake held before it.
    #[inline]
    pub fn take(&mut self, outside: usize, d: Decoded<'_>, out: &mut impl FnMut(Event<'_>)) {
        self.flows.set_outside_bytes(outside);
        let summary = &mut self.summary;
        let out = &mut |e: Event<'_>| {
            summary.record(&e);
            out(e);
        };
        match d {
            Decoded::Segment(seg) => self.flows.process(seg, out),
            Decoded::Icmp(icmp) => self.flows.icmp_error(&icmp, out),
            Decoded::BadHeader(b) => self.flows.bad_header(&b, out),
            Decoded::Udp(d, payload) => self.flows.udp(&d, payload, out),
        }
    }

    /// Ends the table: every open connection and pending anomaly goes to `out`.
    fn finish(mut self, out: &mut impl FnMut(Event<'_>)) -> Summary {
        let summary = &mut self.summary;
        let sink_result = self.flows.finish(&mut |e| {
            summary.record(&e);
            out(e);
        });
        self.summary
            .add_shared(self.flows.listeners(), self.flows.isn());
        self.summary.stream_error = sink_result.err();
        self.summary.flows = self.flows.stats;
        if let Some(stats) = self.flows.app_stats() {
            self.summary
                .app
                .get_or_insert_with(AppSummary::default)
                .stats = stats;
        }
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::{ListenerCounts, MAX_LISTENERS, Summary};
    use crate::wire::Endpoint;

    /// Which listeners get counts of their own when only some can (the summary names at most
    /// [`MAX_LISTENERS`]) does not depend on the order the aggregated counts come in: the
    /// busiest do, ties broken by endpoint.
    #[test]
    fn aggregated_counts_name_the_busiest_listeners_whatever_their_order() {
        let ep = |i: u32| Endpoint::new(std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 80);
        let counts = |n: u64| ListenerCounts {
            attempts: n,
            unanswered: n,
            ..ListenerCounts::default()
        };
        let mut base = Summary::default();
        for i in 0..MAX_LISTENERS as u32 - 2 {
            *base.listener_counts(ep(1_000_000 + i)) = counts(1);
        }
        // Five more listeners, room for two: the two busiest (4 and 3 attempts) get counts
        // of their own, the other three (two of them tied at 2) share one.
        let more: Vec<_> = [(1, 2), (2, 4), (3, 2), (4, 3), (5, 1)]
            .map(|(i, n)| (ep(i), counts(n)))
            .into();
        let named = |order: &[usize]| {
            let mut s = base.clone();
            s.add_aggregated(order.iter().map(|&i| (&more[i].0, &more[i].1)));
            let mut mine: Vec<_> = (1..=5)
                .filter_map(|i| s.listeners.get(&ep(i)).map(|c| (i, c.attempts)))
                .collect();
            mine.sort();
            (mine, s.other_listeners.attempts)
        };
        let expected = (vec![(2, 4), (4, 3)], 5);
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]] {
            assert_eq!(named(&order), expected, "{order:?}");
        }
    }
}

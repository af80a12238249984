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
use crate::flow::{FlowConfig, FlowStats, FlowTable, StreamSink};
use crate::tcp::TcpState;
use crate::time::{CaptureClock, Timestamp, clock::Release};
use crate::wire::{DecodeStats, Decoder, Endpoint, LinkType, Packet, PerSide, Side};

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
    /// instead (see [`CaptureClock`]), and the times above leave them out.
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

    /// Widens the capture's time span to `ts`, a plausible frame time.
    fn saw_time(&mut self, ts: Timestamp) {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
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
            established: c.established as u64,
            refused: (!answered && resp.rsts > 0) as u64,
            // An attempt a router answered with an ICMP error is not unanswered.
            unanswered: (resp.packets == 0 && c.half(Side::Orig).icmp_errors == 0) as u64,
        });
    }

    /// The counts of listener `ep` (those beyond [`MAX_LISTENERS`] are counted together).
    fn listener_counts(&mut self, ep: Endpoint) -> &mut ListenerCounts {
        let n = self.listeners.len();
        match self.listeners.get_mut(&ep) {
            Some(_) => self.listeners.get_mut(&ep).expect("present"),
            None if n < MAX_LISTENERS => self.listeners.entry(ep).or_default(),
            None => &mut self.other_listeners,
        }
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

/// Decoder plus connection table plus summary.
pub struct Analyzer {
    decoder: Decoder,
    flows: FlowTable,
    clock: CaptureClock,
    /// Frames the clock holds until it knows their time.
    held: Vec<HeldFrame>,
    summary: Summary,
}

/// Frames held while the capture has no plausible time yet: past these, they are analysed at
/// the epoch (a capture whose every time is absurd still gets analysed, in order).
const MAX_HELD: usize = 16;

/// A frame held until the clock knows its time (see [`Analyzer::push`]).
struct HeldFrame {
    frame: u64,
    link_type: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(cfg: AnalyzerConfig) -> Self {
        let mut decoder = Decoder::with_checksums(cfg.verify_checksums);
        let mut flows = FlowTable::new(cfg.flow, cfg.detect, cfg.listeners);
        if cfg.app.enabled {
            decoder.keep_udp(true);
            flows.parse_app(cfg.app);
        }
        Analyzer {
            decoder,
            flows,
            clock: CaptureClock::new(),
            held: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Sends every direction's in-order bytes to `sink` (`--write-streams`).
    pub fn set_stream_sink(&mut self, sink: Box<dyn StreamSink>) {
        self.flows.set_stream_sink(sink);
    }

    /// Accounts one frame; connection records and anomalies decided meanwhile go to `out`.
    ///
    /// Frame times are screened by a [`CaptureClock`] first, so that no time difference the
    /// engine takes can be absurd (or overflow): a frame whose time is a fault is analysed at
    /// the capture's time; one that leaps years ahead, or comes before any plausible time, is
    /// held (copied) until a later frame tells which time it is to be analysed at.
    pub fn push(&mut self, pkt: &Packet<'_>, out: &mut impl FnMut(Event<'_>)) {
        let v = self.clock.check(pkt.ts);
        let s = &mut self.summary;
        s.packets += 1;
        s.wire_bytes += pkt.orig_len as u64;
        s.clock_faults = self.clock.faults();
        let frame = s.packets;
        if let Some(r) = v.release {
            self.release(r, out);
        }
        let Some(ts) = v.at else {
            if self.held.len() >= MAX_HELD {
                // Only frames before any plausible time pile up: analysed at the epoch.
                let r = self.clock.end();
                self.release(r, out);
            }
            self.held.push(HeldFrame {
                frame,
                link_type: pkt.link_type,
                orig_len: pkt.orig_len,
                data: pkt.data.to_vec(),
            });
            return;
        };
        if !v.fault {
            self.summary.saw_time(ts);
        }
        self.analyse(&Packet { ts, ..*pkt }, frame, out);
    }

    /// Analyses the frames held by the clock at the time it gives them, in their order.
    fn release(&mut self, r: Release, out: &mut impl FnMut(Event<'_>)) {
        if self.held.is_empty() {
            return;
        }
        if !r.fault {
            self.summary.saw_time(r.at);
        }
        for h in std::mem::take(&mut self.held) {
            let pkt = Packet {
                ts: r.at,
                link_type: h.link_type,
                data: &h.data,
                orig_len: h.orig_len,
            };
            self.analyse(&pkt, h.frame, out);
        }
    }

    /// Decodes frame number `frame` and hands what it holds to the connection table.
    fn analyse(&mut self, pkt: &Packet<'_>, frame: u64, out: &mut impl FnMut(Event<'_>)) {
        // What the decoder holds (IP fragments) as of the previous frame counts against the
        // memory bound with the table's own state.
        self.flows.set_outside_bytes(self.decoder.memory_bytes());
        if let Some(seg) = self.decoder.decode(pkt, frame) {
            let summary = &mut self.summary;
            self.flows.process(&seg, &mut |e| {
                summary.record(&e);
                out(e);
            });
            return;
        }
        if let Some(icmp) = self.decoder.take_icmp_error() {
            let summary = &mut self.summary;
            self.flows.icmp_error(&icmp, &mut |e| {
                summary.record(&e);
                out(e);
            });
        } else if let Some(b) = self.decoder.take_bad_header() {
            let summary = &mut self.summary;
            self.flows.bad_header(&b, &mut |e| {
                summary.record(&e);
                out(e);
            });
        } else if let Some((d, payload)) = self.decoder.take_udp() {
            let summary = &mut self.summary;
            self.flows.udp(&d, payload, &mut |e| {
                summary.record(&e);
                out(e);
            });
        }
    }

    /// Moves the clock to `now` without a packet (live capture on a quiet link): connections
    /// idle past their timeout end and go to `out`.
    pub fn tick(&mut self, now: Timestamp, out: &mut impl FnMut(Event<'_>)) {
        let summary = &mut self.summary;
        self.flows.advance(now, &mut |e| {
            summary.record(&e);
            out(e);
        });
    }

    /// What is going on now, for a live view: connections tracked by each endpoint's state,
    /// and the `busiest` listeners by load.
    pub fn snapshot(&self, busiest: usize) -> Snapshot {
        let mut states = [PerSide::<u64>::default(); TcpState::ALL.len()];
        for c in self.flows.records() {
            for (side, state) in c.states.iter() {
                states[*state as usize][side] += 1;
            }
        }
        Snapshot {
            tracked: self.flows.len(),
            states,
            listeners: self.flows.listeners().busiest(self.flows.now(), busiest),
        }
    }

    /// What has been counted so far (the decoder's and table's counters are filled in by
    /// [`Analyzer::finish`]).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Frames decoded into TCP segments so far.
    pub fn tcp_segments(&self) -> u64 {
        self.decoder.stats.tcp_segments
    }

    /// Ends the run: every open connection and pending anomaly goes to `out`; returns the summary.
    pub fn finish(mut self, out: &mut impl FnMut(Event<'_>)) -> Summary {
        let r = self.clock.end();
        self.release(r, out);
        self.summary.clock_faults = self.clock.faults();
        let summary = &mut self.summary;
        let sink_result = self.flows.finish(&mut |e| {
            summary.record(&e);
            out(e);
        });
        let tracker = self.flows.listeners();
        self.summary.aggregated_attempts = tracker.aggregated;
        self.summary.aggregated_forgotten = tracker.aggregated_forgotten_early();
        let (per_listener, other) = tracker.aggregated_counts();
        for (ep, c) in per_listener {
            self.summary.listener_counts(*ep).add(c);
        }
        self.summary.other_listeners.add(&other);
        let mut isn: Vec<_> = (self.flows.isn().hosts())
            .filter(|(_, h)| h.clock_samples > 0 || h.predictable_steps > 0)
            .map(|(a, h)| (*a, h.clone()))
            .collect();
        isn.sort_unstable_by(|a, b| b.1.isns.cmp(&a.1.isns).then(a.0.cmp(&b.0)));
        isn.truncate(MAX_ISN_SUMMARY);
        self.summary.isn_hosts = isn;
        self.summary.stream_error = sink_result.err();
        self.decoder.finish();
        self.summary.decode = self.decoder.stats.clone();
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

//! JSON lines: one `{"type":"connection"}` object per connection as it ends, then one
//! `{"type":"summary"}` object. Field meanings are documented in README.md.
//!
//! The JSON schema lives here and in the submodules, not on the core types: each record is a
//! struct whose field order is the output's, filled from the core's records and counters, with
//! enums written by their stable names (`name()`, `id()`).

mod anomaly;
mod app;
mod backoff;
mod counters;
mod direct;
mod eve;
mod line;
mod page;

pub(super) use self::page::PageJson;
mod secs;
mod side;
mod story;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

pub use self::anomaly::{AnomalyRecord, DetailJson};
pub use self::app::AppJson;
use self::counters::{FilterJson, FlowStatsJson, FragStatsJson, ListenerRecord};
pub use self::eve::EveSink;
pub use self::secs::Nanos;
use self::secs::opt_secs;
pub(super) use self::secs::secs;
use self::side::{HalfJson, HandshakeJson};
use self::story::StoryJson;
use super::community_id::{CommunityIds, TCP, community_id};
use super::iso_time::{iso, opt_iso};
use super::tuples::OpenConns;
use super::{InputFile, RunInfo, Sink};
use crate::analyzer::Summary;
use crate::detect::AnomalyKind;
use crate::event::{ConnRecord, EndReason, Event};
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Side};
use crate::wire::{SkipReason, TunnelKind, ipv4_text};
use std::net::IpAddr;

/// `serialize_with` helper: a value as the JSON string of its `Display` text, written straight
/// into the output (no `String` kept per value).
pub(super) fn as_text<T: std::fmt::Display, S: serde::Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// An address as the JSON string of its text, written straight into the output: IPv4 (nearly
/// every record, twice) without an allocation or the formatting machinery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrText(pub IpAddr);

impl Serialize for AddrText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            IpAddr::V4(a) => s.serialize_str(ipv4_text(a, &mut [0; 15])),
            IpAddr::V6(a) => s.collect_str(&a),
        }
    }
}

/// Options both sides agreed on (only when both SYN and SYN-ACK were seen).
#[derive(Serialize)]
pub struct Negotiated {
    /// Window scaling in effect (both sides sent the option, RFC 7323 §2.2).
    pub window_scaling: bool,
    /// SACK permitted by both sides (RFC 2018).
    pub sack: bool,
    /// Timestamps on both sides (RFC 7323 §3.2).
    pub timestamps: bool,
    /// ECN negotiated (RFC 3168 §6.1.1).
    pub ecn: bool,
    /// The SYN carried a TCP Fast Open option.
    pub tfo: bool,
}

/// The JSON form of a connection.
#[derive(Serialize)]
pub struct ConnJson<'a> {
    /// Always `connection`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// 1-based id in order of first segment.
    pub id: u64,
    /// Previous incarnation of the same four-tuple.
    pub prev_id: Option<u64>,
    /// Originator address.
    pub orig_addr: AddrText,
    /// Originator port.
    pub orig_port: u16,
    /// Responder address.
    pub resp_addr: AddrText,
    /// Responder port.
    pub resp_port: u16,
    /// The Community ID of the four-tuple (v1), to join with Zeek, Suricata, Arkime and
    /// Wireshark records.
    pub community_id: String,
    /// Outermost VLAN id.
    pub vlan: Option<u16>,
    /// Tunnel the connection was found in ([`TunnelKind::name`]).
    pub tunnel: Option<&'static str>,
    /// First segment time (seconds since the epoch).
    #[serde(serialize_with = "secs")]
    pub first_ts: Timestamp,
    /// Last segment time.
    #[serde(serialize_with = "secs")]
    pub last_ts: Timestamp,
    /// `first_ts` as ISO 8601 text in UTC, with every digit the capture has (JSON readers
    /// that parse numbers as doubles lose the nanoseconds of `first_ts`).
    #[serde(serialize_with = "iso")]
    pub first_time: Timestamp,
    /// `last_ts` as ISO 8601 text.
    #[serde(serialize_with = "iso")]
    pub last_time: Timestamp,
    /// `last_ts - first_ts`, seconds.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// First frame number.
    pub first_frame: u64,
    /// Last frame number.
    pub last_frame: u64,
    /// The originator's SYN was captured.
    pub saw_start: bool,
    /// Roles are opposite to the first segment's direction.
    pub flipped: bool,
    /// What the originator sent.
    pub orig: HalfJson,
    /// What the responder sent.
    pub resp: HalfJson,
    /// Options in effect, when both SYNs were seen.
    pub negotiated: Option<Negotiated>,
    /// Handshake timing.
    pub handshake: HandshakeJson,
    /// Side that sent the first FIN (`orig` or `resp`).
    pub first_fin: Option<&'static str>,
    /// Side that sent the first RST.
    pub first_rst: Option<&'static str>,
    /// How the record ended.
    pub end_reason: Option<&'static str>,
    /// The originator's final RFC 9293 state (at its last segment; timers not applied), as
    /// [`crate::tcp::TcpState::name`] spells it.
    pub orig_state: &'static str,
    /// The responder's final state.
    pub resp_state: &'static str,
    /// Zeek's `conn_state` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
    pub conn_state: &'static str,
    /// Zeek's `history` letters (uppercase: Zeek's originator).
    pub history: &'a str,
    /// Every row Zeek would log for this connection, when its timers or a SYN would split it
    /// (`conn_state` and `history` above are the last row's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zeek_rows: Option<Vec<ZeekRowRecord<'a>>>,
    /// Anomaly ids raised on this connection, in the order first seen.
    pub anomalies: TallyIds<'a>,
    /// Occurrences per anomaly id.
    pub anomaly_counts: ById<'a, u32>,
    /// Segment classes (Wireshark's) per id and direction.
    pub segment_counts: ById<'a, PerSide<u32>>,
    /// Segments the receiver's state could not accept (state-machine "unexpected segment").
    pub unexpected_segments: u32,
    /// `orig` or `resp` when the capture shows only that side's segments although the other
    /// side was talking (asymmetric routing, a one-direction tap); verdicts that need the
    /// other direction are then not raised.
    pub one_sided: Option<&'static str>,
    /// The side holding TIME-WAIT when the record ended, and when its 2·MSL ends (its last
    /// segment, an answer to a repeated FIN included, plus 2·MSL).
    pub time_wait_side: Option<&'static str>,
    /// See `time_wait_side`.
    #[serde(serialize_with = "opt_secs")]
    pub time_wait_until: Option<Timestamp>,
    /// The connection's story (`--transitions`): state changes and milestones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<StoryJson>,
}

impl<'a> From<&'a ConnRecord> for ConnJson<'a> {
    /// The record, its Community ID with seed 0.
    fn from(c: &'a ConnRecord) -> Self {
        ConnJson::with_seed(c, 0)
    }
}

impl<'a> ConnJson<'a> {
    /// The record, its Community ID with `seed`.
    pub fn with_seed(c: &'a ConnRecord, seed: u16) -> Self {
        let negotiated = match (c.half(Side::Orig).options, c.half(Side::Resp).options) {
            (Some(o), Some(r)) => Some(Negotiated {
                window_scaling: o.wscale.is_some() && r.wscale.is_some(),
                sack: o.sack_permitted && r.sack_permitted,
                timestamps: o.timestamps && r.timestamps,
                ecn: o.ecn && r.ecn,
                tfo: o.tfo.is_some(),
            }),
            _ => None,
        };
        ConnJson {
            kind: "connection",
            id: c.id,
            prev_id: c.prev_id,
            orig_addr: AddrText(c.orig.addr),
            orig_port: c.orig.port,
            resp_addr: AddrText(c.resp.addr),
            resp_port: c.resp.port,
            community_id: community_id(c.orig, c.resp, TCP, seed),
            vlan: c.vlan,
            tunnel: c.tunnel.map(TunnelKind::name),
            first_ts: c.first_ts,
            last_ts: c.last_ts,
            first_time: c.first_ts,
            last_time: c.last_ts,
            duration: c.duration(),
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            saw_start: c.saw_start(),
            flipped: c.flipped,
            orig: HalfJson::from(c.half(Side::Orig)),
            resp: HalfJson::from(c.half(Side::Resp)),
            negotiated,
            handshake: HandshakeJson::from(&c.handshake),
            first_fin: c.first_fin.map(Side::name),
            first_rst: c.first_rst.map(Side::name),
            end_reason: c.end_reason.map(EndReason::name),
            orig_state: c.states[Side::Orig].name(),
            resp_state: c.states[Side::Resp].name(),
            conn_state: c.zeek.conn_state(),
            history: c.zeek.history(),
            zeek_rows: c.zeek.split().then(|| {
                c.zeek
                    .rows
                    .iter()
                    .map(|(conn_state, history)| ZeekRowRecord {
                        conn_state,
                        history,
                    })
                    .collect()
            }),
            anomalies: TallyIds(&c.tally.counts),
            anomaly_counts: ById(&c.tally.counts),
            segment_counts: ById(&c.tally.seg_counts),
            unexpected_segments: c.unexpected,
            one_sided: c.one_sided.map(Side::name),
            time_wait_side: c.time_wait_until.map(|t| t.0.name()),
            time_wait_until: c.time_wait_until.map(|t| t.1),
            story: StoryJson::of(c),
        }
    }
}

/// The ids of a connection's tally, in its order (first seen), written without collecting them.
pub struct TallyIds<'a>(pub &'a [(AnomalyKind, u32)]);

impl Serialize for TallyIds<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(k, _)| k.id()))
    }
}

/// A connection's tally as an object keyed by id, the keys in alphabetical order (as a sorted
/// map writes them), without building one: the entries are few, their order is sorted on the
/// stack.
pub struct ById<'a, T>(pub &'a [(AnomalyKind, T)]);

impl<T> ById<'_, T> {
    /// Positions of the entries in id order.
    fn order(&self) -> ([u8; AnomalyKind::COUNT], usize) {
        let mut order = [0u8; AnomalyKind::COUNT];
        // A kind appears once in a tally, so there are at most COUNT entries.
        let n = self.0.len().min(AnomalyKind::COUNT);
        for (i, o) in order.iter_mut().enumerate().take(n) {
            *o = i as u8;
        }
        order[..n].sort_unstable_by_key(|&i| self.0[i as usize].0.id());
        (order, n)
    }
}

impl Serialize for ById<'_, u32> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (order, n) = self.order();
        s.collect_map(order[..n].iter().map(|&i| {
            let (k, v) = &self.0[i as usize];
            (k.id(), *v)
        }))
    }
}

impl Serialize for ById<'_, PerSide<u32>> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (order, n) = self.order();
        s.collect_map(order[..n].iter().map(|&i| {
            let (k, v) = &self.0[i as usize];
            (
                k.id(),
                SideCounts {
                    orig: v[Side::Orig],
                    resp: v[Side::Resp],
                },
            )
        }))
    }
}

/// A count per direction.
#[derive(Serialize)]
pub struct SideCounts {
    /// From the originator.
    pub orig: u32,
    /// From the responder.
    pub resp: u32,
}

/// One conn.log row Zeek would write.
#[derive(Serialize)]
pub struct ZeekRowRecord<'a> {
    /// Its conn_state.
    pub conn_state: &'static str,
    /// Its history.
    pub history: &'a str,
}

/// The JSON form of the run summary.
#[derive(Serialize)]
pub struct SummaryRecord<'a> {
    /// Always `summary`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Input files.
    pub files: &'a [InputFile],
    /// The live capture (`tcpaudit live`), or null.
    pub capture: Option<&'a super::LiveInfo>,
    /// The `--filter` applied to files and what it let through, or null.
    pub filter: Option<FilterJson<'a>>,
    /// Frames read.
    pub packets: u64,
    /// Frame bytes on the wire.
    pub wire_bytes: u64,
    /// First frame time.
    #[serde(serialize_with = "opt_secs")]
    pub first_ts: Option<Timestamp>,
    /// Last frame time.
    #[serde(serialize_with = "opt_secs")]
    pub last_ts: Option<Timestamp>,
    /// `first_ts` as ISO 8601 text in UTC, every digit kept.
    #[serde(serialize_with = "opt_iso")]
    pub first_time: Option<Timestamp>,
    /// `last_ts` as ISO 8601 text.
    #[serde(serialize_with = "opt_iso")]
    pub last_time: Option<Timestamp>,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// TCP segments whose payload the snaplen cut (analysed all the same).
    pub truncated_segments: u64,
    /// TCP segments with malformed options.
    pub malformed_options: u64,
    /// TCP segments with a wrong checksum (only with `--verify-checksums`).
    pub bad_checksums: u64,
    /// Frames skipped, by reason (only non-zero reasons).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Non-TCP frames, by protocol.
    pub non_tcp: BTreeMap<String, u64>,
    /// Frames of link types not decoded, by link type name and number.
    pub unsupported_link_types: BTreeMap<String, u64>,
    /// Segments found inside tunnels, by tunnel kind.
    pub tunnels: BTreeMap<&'static str, u64>,
    /// IP fragment reassembly counters.
    pub fragments: FragStatsJson,
    /// Records in capture files that could not become packets.
    pub skipped_records: u64,
    /// Frames whose timestamp was a capture clock fault (analysed at the capture's time).
    pub clock_faults: u64,
    /// Connection records.
    pub connections: u64,
    /// Connection records by end reason.
    pub end_reasons: BTreeMap<&'static str, u64>,
    /// Connection table counters.
    pub table: FlowStatsJson,
    /// Busiest listeners (at most 10).
    pub top_listeners: Vec<ListenerRecord>,
    /// Anomaly events reported, by id.
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Anomaly occurrences counted on connection records, by id.
    pub anomaly_occurrences: BTreeMap<&'static str, u64>,
    /// Half-open attempts counted per listener instead of tracked, because the caps were hit.
    pub aggregated_attempts: u64,
    /// Aggregated attempts forgotten early because too many were outstanding at once (their
    /// later segments, such as SYN retransmissions, are not attributed; 0 unless far beyond the
    /// caps).
    pub aggregated_forgotten: u64,
    /// Attempts to listeners that could not be tracked (beyond 65,536 listeners, 4,096 on one
    /// address, or listener state's share of `--max-memory`): counted in `top_listeners`,
    /// judged by no listener rule.
    pub untracked_listener_attempts: u64,
    /// Capture errors.
    pub errors: &'a [String],
    /// ICMP errors quoting a TCP segment (not in `non_tcp`), linked to a connection or not.
    pub icmp_errors: IcmpErrorsJson,
    /// Connections the capture shows one direction of, and whether the whole capture does.
    pub one_sided: OneSidedJson,
    /// The application layer (`--app`): records written and the parsers' counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<app::AppSummaryJson>,
    /// Hosts whose ISNs sampled their ISN clock or stepped predictably (at most 16).
    pub isn_hosts: Vec<backoff::IsnHostJson>,
}

/// ICMP errors quoting a TCP segment.
#[derive(Serialize)]
pub struct IcmpErrorsJson {
    /// Linked to the connection whose segment they quote (`icmp_error` on its record).
    pub linked: u64,
    /// Quoting a segment of no connection in the capture.
    pub unlinked: u64,
}

/// One-sided connections.
#[derive(Serialize)]
pub struct OneSidedJson {
    /// Records showing only the originator's segments.
    pub orig: u64,
    /// Records showing only the responder's segments.
    pub resp: u64,
    /// Connections that showed both directions.
    pub two_sided: u64,
    /// `orig` or `resp` when the whole capture looks one-sided (more connections prove a
    /// direction missing than show both), else null.
    pub capture: Option<&'static str>,
}

impl<'a> SummaryRecord<'a> {
    /// Builds the summary record.
    pub fn new(s: &Summary, run: &'a RunInfo) -> Self {
        let d = &s.decode;
        SummaryRecord {
            kind: "summary",
            files: &run.files,
            capture: run.capture.as_ref(),
            filter: run.filter.as_ref().map(FilterJson::from),
            packets: s.packets,
            wire_bytes: s.wire_bytes,
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            first_time: s.first_ts,
            last_time: s.last_ts,
            tcp_segments: d.tcp_segments,
            truncated_segments: d.truncated_segments,
            malformed_options: d.malformed_options,
            bad_checksums: d.bad_checksums,
            skipped: SkipReason::ALL
                .iter()
                .filter(|r| d.skipped[**r as usize] > 0)
                .map(|r| (r.name(), d.skipped[*r as usize]))
                .collect(),
            non_tcp: super::names::non_tcp(d),
            unsupported_link_types: d
                .unsupported_link_types
                .iter()
                .map(|(lt, n)| (crate::wire::LinkType(*lt).to_string(), *n))
                .collect(),
            tunnels: TunnelKind::ALL
                .iter()
                .filter(|k| d.tunnels[**k as usize] > 0)
                .map(|k| (k.name(), d.tunnels[*k as usize]))
                .collect(),
            fragments: FragStatsJson::from(d.fragments),
            skipped_records: run.skipped_records,
            clock_faults: s.clock_faults,
            connections: s.flows.connections,
            end_reasons: EndReason::ALL
                .iter()
                .map(|r| (r.name(), s.end_reasons[*r as usize]))
                .collect(),
            table: FlowStatsJson::from(s.flows),
            top_listeners: s
                .top_listeners(10)
                .into_iter()
                .map(|(e, counts)| ListenerRecord::new(e, counts))
                .collect(),
            anomalies: s.anomaly_events_by_id(),
            anomaly_occurrences: s.anomaly_occurrences_by_id(),
            aggregated_attempts: s.aggregated_attempts,
            aggregated_forgotten: s.aggregated_forgotten,
            untracked_listener_attempts: s.untracked_listener_attempts,
            errors: &run.errors,
            icmp_errors: IcmpErrorsJson {
                linked: s.flows.icmp_errors_linked,
                unlinked: s.flows.icmp_errors_unlinked,
            },
            one_sided: OneSidedJson {
                orig: s.one_sided[Side::Orig],
                resp: s.one_sided[Side::Resp],
                two_sided: s.flows.two_sided,
                capture: s.capture_one_sided().map(Side::name),
            },
            app: s.app.map(app::AppSummaryJson::from),
            isn_hosts: (s.isn_hosts.iter())
                .map(|(a, h)| backoff::IsnHostJson::new(*a, h))
                .collect(),
        }
    }
}

/// Writes JSON lines to any writer.
pub struct JsonSink<W: Write> {
    out: W,
    /// Seed of the records' Community IDs.
    seed: u16,
    /// Each line is built here, then written at once.
    line: Vec<u8>,
    /// Parts of a line written by other means before they join it.
    aside: Vec<u8>,
    /// Page loads, written at the end (with `--app`).
    pages: super::page::PageBuilder,
    /// The open connections, for the Community ID of their anomalies.
    open: OpenConns,
    /// Community IDs computed lately, for a connection's anomalies and record to share.
    ids: CommunityIds,
    /// Write the `story` of records that have one.
    stories: bool,
}

impl<W: Write> JsonSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        JsonSink {
            out,
            seed: 0,
            line: Vec::with_capacity(4096),
            aside: Vec::new(),
            pages: super::page::PageBuilder::default(),
            open: OpenConns::default(),
            ids: CommunityIds::new(0),
            stories: true,
        }
    }

    /// Whether records carry their `story` object when they have one (the default). Off, a
    /// story kept for another output (the HTML report's waterfall) stays out of the JSON, which
    /// shows it only when asked (`--transitions`, `--app`).
    pub fn stories(mut self, on: bool) -> Self {
        self.stories = on;
        self
    }

    /// Community IDs with `seed` instead of 0.
    pub fn community_id_seed(mut self, seed: u16) -> Self {
        self.seed = seed;
        self.ids = CommunityIds::new(seed);
        self
    }

    fn write<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        line::write_line(&mut self.out, &mut self.line, value)
    }

    /// Writes the line `f` builds (without its newline) at once; `f` takes the Community IDs
    /// remembered.
    fn write_direct(
        &mut self,
        f: impl FnOnce(&mut direct::Out<'_>, &mut CommunityIds),
    ) -> io::Result<()> {
        let mut o = direct::Out::new(&mut self.line, &mut self.aside);
        f(&mut o, &mut self.ids);
        o.raw(b"\n");
        let n = o.len();
        self.out.write_all(&self.line[..n])
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        self.pages.event(e);
        self.open.event(e);
        match e {
            // The records written by the thousand are written by hand (`direct`), the same
            // bytes as their structs serialize to.
            Event::Closed(c) => {
                let stories = self.stories;
                self.write_direct(|o, ids| direct::write_conn(o, c, ids, stories))
            }
            Event::Anomaly(a) => {
                let conn = self.open.get(a.conn_id);
                self.write_direct(|o, ids| direct::write_anomaly(o, a, conn, ids))
            }
            Event::App(r) => self.write(&app::AppJson::new(r, self.seed)),
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) => Ok(()),
        }
    }

    fn status(&mut self, status: &super::live::LiveStatus) -> io::Result<()> {
        self.write(status)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, summary: &Summary, run: &RunInfo) -> io::Result<()> {
        for p in self.pages.pages() {
            self.write(&page::PageJson::from(&p))?;
        }
        self.write(&SummaryRecord::new(summary, run))?;
        self.out.flush()
    }
}

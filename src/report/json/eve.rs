//! `-f eve`: records shaped like Suricata's EVE JSON, for pipelines built on it (Elastic,
//! Splunk, jq filters written for Suricata): one `flow` record per connection and one
//! `anomaly` record per anomaly, with Suricata's field names (`timestamp` in ISO 8601 with an
//! offset, `flow_id`, `src_ip`/`src_port`/`dest_ip`/`dest_port`, `proto`, `community_id`,
//! `flow.pkts_toserver` …) and tcpaudit's verdicts under `tcpaudit`.

use std::io::{self, Write};

use serde::Serialize;

use super::line::write_line;
use super::{AddrText, DetailJson, TallyIds};
use crate::analyzer::Summary;
use crate::detect::Anomaly;
use crate::event::{ConnRecord, EndReason, Event};
use crate::report::community_id::{TCP, community_id};
use crate::report::iso_time::IsoTime;
use crate::report::tuples::{OpenConns, Uid};
use crate::report::{RunInfo, Sink};
use crate::wire::{Endpoint, Side};

/// Suricata's `flow_id`: a number per flow. Here the low 51 bits of the connection's uid, so
/// that JSON readers with doubles keep it exact and EVE and Zeek records of one run join.
fn flow_id(uid: Uid) -> u64 {
    (uid.bits() & ((1 << 51) - 1)) as u64
}

#[derive(Serialize)]
struct FlowRecord<'a> {
    timestamp: IsoTime,
    flow_id: u64,
    event_type: &'static str,
    src_ip: AddrText,
    src_port: u16,
    dest_ip: AddrText,
    dest_port: u16,
    proto: &'static str,
    community_id: String,
    flow: FlowJson,
    tcp: TcpJson,
    tcpaudit: VerdictJson<'a>,
}

#[derive(Serialize)]
struct FlowJson {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    start: IsoTime,
    end: IsoTime,
    age: i64,
    state: &'static str,
    reason: &'static str,
    alerted: bool,
}

#[derive(Serialize)]
struct TcpJson {
    syn: bool,
    fin: bool,
    rst: bool,
}

#[derive(Serialize)]
struct VerdictJson<'a> {
    id: u64,
    conn_state: &'static str,
    history: &'a str,
    orig_state: &'static str,
    resp_state: &'static str,
    end_reason: Option<&'static str>,
    anomalies: TallyIds<'a>,
}

#[derive(Serialize)]
struct AnomalyEve<'a> {
    timestamp: IsoTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<u64>,
    pcap_cnt: u64,
    event_type: &'static str,
    src_ip: Option<AddrText>,
    src_port: Option<u16>,
    dest_ip: Option<AddrText>,
    dest_port: Option<u16>,
    proto: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<String>,
    anomaly: AnomalyJson<'a>,
}

#[derive(Serialize)]
struct AnomalyJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: &'static str,
    severity: &'static str,
    conn_id: Option<u64>,
    detail: DetailJson<'a>,
}

/// Writes EVE-style JSON lines.
pub struct EveSink<W: Write> {
    out: W,
    seed: u16,
    line: Vec<u8>,
    open: OpenConns,
}

impl<W: Write> EveSink<W> {
    /// A sink writing to `out`, Community IDs with `seed`.
    pub fn new(out: W, seed: u16) -> Self {
        EveSink {
            out,
            seed,
            line: Vec::with_capacity(1024),
            open: OpenConns::default(),
        }
    }

    fn flow(&mut self, c: &ConnRecord) -> io::Result<()> {
        let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
        let state = match c.end_reason {
            Some(EndReason::Fin | EndReason::Rst) => "closed",
            _ if r.packets == 0 => "new",
            _ => "established",
        };
        let reason = match c.end_reason {
            Some(EndReason::CaptureEnd) => "shutdown",
            Some(EndReason::Evicted) => "forced",
            _ => "timeout",
        };
        let rec = FlowRecord {
            timestamp: IsoTime::eve(c.first_ts),
            flow_id: flow_id(Uid::of(c.id, c.first_ts, c.orig, c.resp)),
            event_type: "flow",
            src_ip: AddrText(c.orig.addr),
            src_port: c.orig.port,
            dest_ip: AddrText(c.resp.addr),
            dest_port: c.resp.port,
            proto: "TCP",
            community_id: community_id(c.orig, c.resp, TCP, self.seed),
            flow: FlowJson {
                pkts_toserver: o.packets,
                pkts_toclient: r.packets,
                bytes_toserver: o.frame_bytes,
                bytes_toclient: r.frame_bytes,
                start: IsoTime::eve(c.first_ts),
                end: IsoTime::eve(c.last_ts),
                age: c.duration().whole_secs(),
                state,
                reason,
                alerted: false,
            },
            tcp: TcpJson {
                syn: o.syns + r.syns > 0,
                fin: o.fins + r.fins > 0,
                rst: o.rsts + r.rsts > 0,
            },
            tcpaudit: VerdictJson {
                id: c.id,
                conn_state: c.zeek.conn_state(),
                history: c.zeek.history(),
                orig_state: c.states[Side::Orig].name(),
                resp_state: c.states[Side::Resp].name(),
                end_reason: c.end_reason.map(EndReason::name),
                anomalies: TallyIds(&c.tally.counts),
            },
        };
        write_line(&mut self.out, &mut self.line, &rec)
    }

    fn anomaly(&mut self, a: &Anomaly) -> io::Result<()> {
        let conn = self.open.get(a.conn_id);
        // A listener's anomaly names the listener as its destination.
        let (src, dest): (Option<Endpoint>, Option<Endpoint>) = match conn {
            Some(c) => (Some(c.orig), Some(c.resp)),
            None => (None, a.listener),
        };
        let rec = AnomalyEve {
            timestamp: IsoTime::eve(a.ts),
            flow_id: match (a.conn_id, conn) {
                (Some(id), Some(c)) => Some(flow_id(Uid::of(id, c.first_ts, c.orig, c.resp))),
                _ => None,
            },
            pcap_cnt: a.frame,
            event_type: "anomaly",
            src_ip: src.map(|e| AddrText(e.addr)),
            src_port: src.map(|e| e.port),
            dest_ip: dest.map(|e| AddrText(e.addr)),
            dest_port: dest.map(|e| e.port),
            proto: "TCP",
            community_id: conn.map(|c| community_id(c.orig, c.resp, TCP, self.seed)),
            anomaly: AnomalyJson {
                kind: "tcp",
                event: a.kind.id(),
                severity: a.severity.name(),
                conn_id: a.conn_id,
                detail: DetailJson(&a.detail),
            },
        };
        write_line(&mut self.out, &mut self.line, &rec)
    }
}

impl<W: Write> Sink for EveSink<W> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        self.open.event(e);
        match e {
            Event::Closed(c) => self.flow(c),
            Event::Anomaly(a) => self.anomaly(a),
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) | Event::App(_) => {
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, _summary: &Summary, _run: &RunInfo) -> io::Result<()> {
        self.out.flush()
    }
}

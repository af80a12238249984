//! Flat tables of the records, for columnar and spreadsheet formats (Parquet, CSV): one schema
//! per record type, defined once as a list of columns, and a function that hands one record's
//! values, in column order, to any [`Row`] writer. The CSV and Parquet writers are two
//! implementations of [`Row`], so their columns cannot drift apart; README.md's tables of
//! columns are checked against these lists by a test.

use std::net::IpAddr;

use super::community_id::{TCP, community_id};
use super::json::{AnomalyRecord, Nanos};
use super::tuples::Uid;
use crate::detect::Anomaly;
use crate::event::{ConnRecord, EndReason};
use crate::time::Timestamp;
use crate::wire::{Endpoint, Side, TunnelKind, ipv4_text};

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// An unsigned count or id (Parquet INT64, unsigned).
    U64,
    /// A number of seconds (Parquet DOUBLE).
    F64,
    /// A flag.
    Bool,
    /// UTF-8 text.
    Str,
    /// A capture time, nanoseconds since the epoch in UTC (Parquet TIMESTAMP(NANOS, UTC);
    /// ISO 8601 text in CSV).
    Time,
}

/// One column of a flat table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name (the JSON field it comes from, with `_` for nesting).
    pub name: &'static str,
    /// Its type.
    pub ty: ColType,
    /// Whether it may be empty (null).
    pub nullable: bool,
    /// What it holds (README.md's schema tables repeat this).
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColType, nullable: bool, doc: &'static str) -> Column {
    Column {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColType::{Bool, F64, Str, Time, U64};

/// Receives one record's values in column order.
pub trait Row {
    /// A count or id.
    fn u64(&mut self, v: Option<u64>);
    /// A number of seconds.
    fn f64(&mut self, v: Option<f64>);
    /// A flag.
    fn bool(&mut self, v: bool);
    /// Text.
    fn str(&mut self, v: Option<&str>);
    /// A capture time.
    fn time(&mut self, v: Option<Timestamp>);
}

/// An address as text, written without allocating for IPv4.
fn with_addr<R: Row>(row: &mut R, a: Option<IpAddr>) {
    match a {
        Some(IpAddr::V4(v4)) => row.str(Some(ipv4_text(v4, &mut [0; 15]))),
        Some(IpAddr::V6(v6)) => row.str(Some(&v6.to_string())),
        None => row.str(None),
    }
}

/// The columns of the `connections` table.
pub const CONNECTION: &[Column] = &[
    col(
        "id",
        U64,
        false,
        "record id, 1-based, in order of first segment",
    ),
    col(
        "prev_id",
        U64,
        true,
        "previous incarnation of the four-tuple",
    ),
    col(
        "uid",
        Str,
        false,
        "Zeek-style unique id (the `uid` of `-f zeek`)",
    ),
    col(
        "community_id",
        Str,
        false,
        "Community ID v1 of the four-tuple",
    ),
    col("orig_addr", Str, false, "originator address"),
    col("orig_port", U64, false, "originator port"),
    col("resp_addr", Str, false, "responder address"),
    col("resp_port", U64, false, "responder port"),
    col("vlan", U64, true, "outermost VLAN id"),
    col("tunnel", Str, true, "tunnel the connection was found in"),
    col("first_ts", Time, false, "first segment"),
    col("last_ts", Time, false, "last segment"),
    col("duration", F64, false, "seconds from first to last segment"),
    col("first_frame", U64, false, "first frame number"),
    col("last_frame", U64, false, "last frame number"),
    col(
        "saw_start",
        Bool,
        false,
        "the originator's SYN was captured",
    ),
    col("orig_packets", U64, false, "segments from the originator"),
    col("orig_ip_bytes", U64, false, "IP bytes from the originator"),
    col(
        "orig_stream_bytes",
        U64,
        false,
        "payload bytes by sequence range, from the originator",
    ),
    col(
        "orig_missed_bytes",
        U64,
        false,
        "bytes never seen, from the originator",
    ),
    col(
        "orig_retransmitted_packets",
        U64,
        false,
        "retransmissions by the originator",
    ),
    col("resp_packets", U64, false, "segments from the responder"),
    col("resp_ip_bytes", U64, false, "IP bytes from the responder"),
    col(
        "resp_stream_bytes",
        U64,
        false,
        "payload bytes by sequence range, from the responder",
    ),
    col(
        "resp_missed_bytes",
        U64,
        false,
        "bytes never seen, from the responder",
    ),
    col(
        "resp_retransmitted_packets",
        U64,
        false,
        "retransmissions by the responder",
    ),
    col("handshake_rtt", F64, true, "SYN to third ACK, seconds"),
    col(
        "first_fin",
        Str,
        true,
        "side that sent the first FIN (orig, resp)",
    ),
    col("first_rst", Str, true, "side that sent the first RST"),
    col("end_reason", Str, true, "how the record ended"),
    col(
        "orig_state",
        Str,
        false,
        "the originator's final RFC 9293 state",
    ),
    col("resp_state", Str, false, "the responder's final state"),
    col("conn_state", Str, false, "Zeek's conn_state"),
    col("history", Str, false, "Zeek's history"),
    col(
        "anomalies",
        Str,
        false,
        "anomaly ids raised, comma-separated, first seen first",
    ),
    col("one_sided", Str, true, "side of a one-sided capture"),
    // Appended: what the headers said about the path, per side.
    col(
        "orig_hops",
        U64,
        true,
        "routers between the originator and the capture point (from its TTL)",
    ),
    col(
        "resp_hops",
        U64,
        true,
        "routers between the responder and the capture point",
    ),
    col(
        "orig_ip_ce",
        U64,
        false,
        "the originator's segments that arrived marked CE (ECN)",
    ),
    col(
        "resp_ip_ce",
        U64,
        false,
        "the responder's segments that arrived marked CE",
    ),
    col(
        "orig_throughput_avg",
        U64,
        true,
        "the originator's new bytes per second, first to last new data",
    ),
    col(
        "resp_throughput_avg",
        U64,
        true,
        "the responder's new bytes per second",
    ),
    col(
        "orig_window_limited_rounds",
        U64,
        false,
        "round trips in which the responder's window held the originator back",
    ),
    col(
        "resp_window_limited_rounds",
        U64,
        false,
        "round trips in which the originator's window held the responder back",
    ),
];

/// Hands the values of connection `c` to `row`, in [`CONNECTION`]'s order.
pub fn connection_row<R: Row>(c: &ConnRecord, seed: u16, row: &mut R) {
    let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
    row.u64(Some(c.id));
    row.u64(c.prev_id);
    row.str(Some(
        Uid::of(c.id, c.first_ts, c.orig, c.resp).text(&mut [0; Uid::LEN]),
    ));
    row.str(Some(&community_id(c.orig, c.resp, TCP, seed)));
    with_addr(row, Some(c.orig.addr));
    row.u64(Some(c.orig.port.into()));
    with_addr(row, Some(c.resp.addr));
    row.u64(Some(c.resp.port.into()));
    row.u64(c.vlan.map(u64::from));
    row.str(c.tunnel.map(TunnelKind::name));
    row.time(Some(c.first_ts));
    row.time(Some(c.last_ts));
    row.f64(Some(secs_f64(c.duration().nanos())));
    row.u64(Some(c.first_frame));
    row.u64(Some(c.last_frame));
    row.bool(c.saw_start());
    for h in [o, r] {
        row.u64(Some(h.packets));
        row.u64(Some(h.ip_bytes));
        row.u64(Some(h.stream_bytes));
        row.u64(Some(h.rare().missed_bytes));
        row.u64(Some(h.rare().retransmitted_packets.into()));
    }
    row.f64(c.handshake.rtt.map(|d| secs_f64(d.nanos())));
    row.str(c.first_fin.map(Side::name));
    row.str(c.first_rst.map(Side::name));
    row.str(c.end_reason.map(EndReason::name));
    row.str(Some(c.states[Side::Orig].name()));
    row.str(Some(c.states[Side::Resp].name()));
    row.str(Some(c.zeek.conn_state()));
    row.str(Some(c.zeek.history()));
    row.str(Some(&anomaly_ids(c)));
    row.str(c.one_sided.map(Side::name));
    for h in [o, r] {
        row.u64(h.initial_ttl().map(|t| t.1.into()));
    }
    for h in [o, r] {
        row.u64(Some(h.signals.rare().ip_ce.into()));
    }
    for h in [o, r] {
        row.u64(h.flow.throughput_avg());
    }
    for h in [o, r] {
        row.u64(Some(h.flow.limits().window_limited_rounds.into()));
    }
}

/// The anomaly ids of a record, comma-separated, in the order first seen.
pub fn anomaly_ids(c: &ConnRecord) -> String {
    let mut out = String::new();
    for (k, _) in &c.tally.counts {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(k.id());
    }
    out
}

/// The columns of the `anomalies` table.
pub const ANOMALY: &[Column] = &[
    col("kind", Str, false, "anomaly id (`tcpaudit explain ID`)"),
    col("severity", Str, false, "error, warning, notice or info"),
    col(
        "conn_id",
        U64,
        true,
        "record id of the connection concerned",
    ),
    col("uid", Str, true, "the connection's uid"),
    col("community_id", Str, true, "the connection's Community ID"),
    col(
        "orig_addr",
        Str,
        true,
        "the connection's originator address",
    ),
    col("orig_port", U64, true, "the connection's originator port"),
    col("resp_addr", Str, true, "the connection's responder address"),
    col("resp_port", U64, true, "the connection's responder port"),
    col(
        "listener_addr",
        Str,
        true,
        "listener address (the responder of a connection)",
    ),
    col("listener_port", U64, true, "listener port"),
    col("frame", U64, false, "first frame showing it"),
    col("ts", Time, false, "its time"),
    col(
        "detail",
        Str,
        false,
        "kind-specific facts, as a JSON object",
    ),
];

/// The connection an anomaly concerns, as known when it was raised.
#[derive(Clone, Copy, Debug)]
pub struct ConnRef {
    /// Its originator.
    pub orig: Endpoint,
    /// Its responder.
    pub resp: Endpoint,
    /// Its first segment's time.
    pub first_ts: Timestamp,
}

/// Hands the values of anomaly `a` (on connection `conn`, if any) to `row`, in [`ANOMALY`]'s
/// order.
pub fn anomaly_row<R: Row>(a: &Anomaly, conn: Option<ConnRef>, seed: u16, row: &mut R) {
    row.str(Some(a.kind.id()));
    row.str(Some(a.severity.name()));
    row.u64(a.conn_id);
    match (a.conn_id, conn) {
        (Some(id), Some(c)) => {
            row.str(Some(
                Uid::of(id, c.first_ts, c.orig, c.resp).text(&mut [0; Uid::LEN]),
            ));
            row.str(Some(&community_id(c.orig, c.resp, TCP, seed)));
        }
        _ => {
            row.str(None);
            row.str(None);
        }
    }
    for e in [conn.map(|c| c.orig), conn.map(|c| c.resp)] {
        with_addr(row, e.map(|e| e.addr));
        row.u64(e.map(|e| e.port.into()));
    }
    with_addr(row, a.listener.map(|l| l.addr));
    row.u64(a.listener.map(|l| l.port.into()));
    row.u64(Some(a.frame));
    row.time(Some(a.ts));
    let detail = serde_json::to_string(&AnomalyRecord::from(a).detail).unwrap_or_default();
    row.str(Some(&detail));
}

/// The columns of the `app` table (DNS, TLS, HTTP and session records with `--app`).
pub const APP: &[Column] = &[
    col("type", Str, false, "dns, tls, http or session"),
    col("ts", Time, true, "the record's time (sessions: none)"),
    col(
        "conn_id",
        U64,
        true,
        "record id of the TCP connection (DNS over UDP: none)",
    ),
    col("community_id", Str, true, "Community ID of the flow"),
    col("orig_addr", Str, true, "client address"),
    col("orig_port", U64, true, "client port"),
    col("resp_addr", Str, true, "server address"),
    col("resp_port", U64, true, "server port"),
    col(
        "record",
        Str,
        false,
        "the whole record, as the JSON line of `-f json`",
    ),
];

/// Hands the values of an application record (its JSON object, as `-f json` writes it) to
/// `row`, in [`APP`]'s order.
pub fn app_row<R: Row>(json: &serde_json::Value, text: &str, row: &mut R) {
    let s = |k: &str| json.get(k).and_then(|v| v.as_str());
    let n = |k: &str| json.get(k).and_then(|v| v.as_u64());
    row.str(s("type"));
    // The exact ISO text, not the double of `ts`, so nanoseconds survive.
    row.time(s("time").and_then(parse_iso));
    row.u64(n("conn_id"));
    row.str(s("community_id"));
    row.str(s("orig_addr"));
    row.u64(n("orig_port"));
    row.str(s("resp_addr"));
    row.u64(n("resp_port"));
    row.str(Some(text));
}

/// Seconds as a double, for columns in seconds.
fn secs_f64(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// Parses the exact ISO 8601 text [`super::iso_time::IsoTime::exact`] writes back into a time.
pub fn parse_iso(t: &str) -> Option<Timestamp> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { t.get(r)?.parse().ok() };
    if b.len() < 21 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = t.get(20..)?.trim_end_matches('Z');
    let ns_frac = frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len().min(9) as u32);
    // Days from civil (Hinnant), the inverse of the writer's conversion.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(Timestamp::from_nanos(
        secs.checked_mul(1_000_000_000)?.checked_add(ns_frac)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::iso_time::IsoTime;

    #[test]
    fn iso_text_reads_back_to_the_same_nanosecond() {
        for ns in [0i64, 1, 1_418_145_369_924_505_488, 951_782_400_000_001_000] {
            let t = IsoTime::exact(Timestamp::from_nanos(ns)).to_string();
            assert_eq!(parse_iso(&t), Some(Timestamp::from_nanos(ns)), "{t}");
        }
    }
}

//! Terminal report: a summary and a connection table (comfy-table), sized for a person to read.
//! Connections are shown in id order; past `limit` rows only the count of the rest is given.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::{RunInfo, Sink};
use crate::analyzer::Summary;
use crate::detect::AnomalyKind;
use crate::event::Event;
use crate::event::{ConnRecord, EndReason};
use crate::time::{Duration, Timestamp};
use crate::wire::Side;
use crate::wire::{SkipReason, TunnelKind};

/// Collects the first `limit` connections by id (or all) and prints tables at the end.
pub struct TableSink<W: Write> {
    out: W,
    limit: Option<usize>,
    rows: BTreeMap<u64, ConnRecord>,
    total: u64,
}

impl<W: Write> TableSink<W> {
    /// A sink printing to `out`, showing at most `limit` connections (`None`: all).
    pub fn new(out: W, limit: Option<usize>) -> Self {
        TableSink {
            out,
            limit,
            rows: BTreeMap::new(),
            total: 0,
        }
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        let Event::Closed(c) = e else {
            return Ok(());
        };
        self.total += 1;
        if let Some(limit) = self.limit
            && self.rows.len() >= limit
        {
            let &last = self.rows.keys().next_back().unwrap_or(&0);
            if c.id > last {
                return Ok(());
            }
            self.rows.pop_last();
        }
        self.rows.insert(c.id, (*c).clone());
        Ok(())
    }

    fn finish(&mut self, s: &Summary, run: &RunInfo) -> io::Result<()> {
        let start = s.first_ts.unwrap_or_default();
        writeln!(self.out, "{}", summary_table(s, run))?;
        let breakdown = breakdown_table(s, run);
        if let Some(t) = breakdown {
            writeln!(self.out, "\n{t}")?;
        }
        let listeners = s.top_listeners(10);
        if !listeners.is_empty() {
            let mut t = table(&[
                "listener",
                "attempts",
                "answered",
                "established",
                "refused",
                "unanswered",
            ]);
            for (e, c) in listeners {
                t.add_row(vec![
                    Cell::new(e),
                    num(c.attempts),
                    num(c.answered),
                    num(c.established),
                    num(c.refused),
                    num(c.unanswered),
                ]);
            }
            writeln!(self.out, "\nTop listeners\n{t}")?;
        }
        anomaly_tables(&mut self.out, s)?;
        if !self.rows.is_empty() {
            let titles: Vec<&str> = CONN_COLUMNS.iter().map(|c| c.title).collect();
            let mut t = table(&titles);
            for c in self.rows.values() {
                t.add_row(CONN_COLUMNS.iter().map(|col| (col.cell)(c, start)));
            }
            writeln!(self.out, "\nConnections\n{t}")?;
            let shown = self.rows.len() as u64;
            if shown < self.total {
                writeln!(
                    self.out,
                    "{} of {} connections shown (lowest ids); --all shows every one, --format json streams them.",
                    shown, self.total
                )?;
            }
        }
        for e in &run.errors {
            writeln!(self.out, "\nerror: {e}")?;
        }
        self.out.flush()
    }
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    // A pseudo-terminal that reports no size (script, some CI runners) would squeeze every
    // column to one character.
    if t.width().is_some_and(|w| w < 40) {
        t.set_width(120);
    }
    t.set_header(header.iter().map(Cell::new));
    t
}

fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn summary_table(s: &Summary, run: &RunInfo) -> Table {
    let mut t = table(&["capture", ""]);
    if let Some(c) = &run.capture {
        t.add_row(vec![
            Cell::new("interface"),
            Cell::new(format!(
                "{} ({}, {}, snaplen {})",
                c.interface, c.backend, c.link_type, c.snaplen
            )),
        ]);
        if let Some(f) = &c.filter {
            t.add_row(vec![Cell::new("filter"), Cell::new(f)]);
        }
        t.add_row(vec![
            Cell::new("captured"),
            Cell::new(format!(
                "{} received by filter, {} dropped by kernel, {} dropped by interface, in {:.1} s",
                c.received, c.dropped, c.if_dropped, c.duration
            )),
        ]);
        if c.unread > 0 {
            t.add_row(vec![
                Cell::new("  unread at stop"),
                Cell::new(format!("{} (still arriving when the run ended)", c.unread)),
            ]);
        }
        if c.loopback_copies > 0 {
            t.add_row(vec![
                Cell::new("  loopback copies"),
                Cell::new(format!(
                    "{} (each frame is seen sent and received; one copy is analysed)",
                    c.loopback_copies
                )),
            ]);
        }
        if let Some((file, frames)) = &c.written {
            t.add_row(vec![
                Cell::new("written"),
                Cell::new(format!("{frames} frames to {file}")),
            ]);
        }
    } else {
        let names: Vec<&str> = run.files.iter().map(|f| f.name.as_str()).collect();
        t.add_row(vec![Cell::new("files"), Cell::new(names.join(", "))]);
    }
    if let Some(f) = &run.filter {
        t.add_row(vec![
            Cell::new("filter"),
            Cell::new(format!(
                "{}: {} passed, {} rejected{}",
                f.expr,
                f.passed,
                f.rejected,
                if f.uncompilable > 0 {
                    format!(", {} of link types it cannot apply to", f.uncompilable)
                } else {
                    String::new()
                }
            )),
        ]);
    }
    if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
        t.add_row(vec![
            Cell::new("time span"),
            Cell::new(format!("{} → {} ({} s)", utc(a), utc(b), secs(b.since(a)))),
        ]);
    }
    let d = &s.decode;
    t.add_row(vec![Cell::new("packets read"), Cell::new(s.packets)]);
    t.add_row(vec![Cell::new("TCP segments"), Cell::new(d.tcp_segments)]);
    if d.truncated_segments > 0 {
        t.add_row(vec![
            Cell::new("  cut by snaplen"),
            Cell::new(format!(
                "{} (headers analysed, payload partly missing)",
                d.truncated_segments
            )),
        ]);
    }
    t.add_row(vec![
        Cell::new("non-TCP packets"),
        Cell::new(d.non_tcp_total()),
    ]);
    t.add_row(vec![
        Cell::new("skipped packets"),
        Cell::new(d.skipped_total()),
    ]);
    let f = &d.fragments;
    if f.fragments > 0 {
        t.add_row(vec![
            Cell::new("IP fragments"),
            Cell::new(format!(
                "{} fragments, {} datagrams reassembled, {} incomplete, {} truncated",
                f.fragments, f.reassembled, f.incomplete, f.truncated
            )),
        ]);
    }
    t.add_row(vec![
        Cell::new("connections"),
        Cell::new(s.flows.connections),
    ]);
    let ends: Vec<String> = EndReason::ALL
        .iter()
        .filter(|r| s.end_reasons[**r as usize] > 0)
        .map(|r| format!("{} {}", r.name(), s.end_reasons[*r as usize]))
        .collect();
    if !ends.is_empty() {
        t.add_row(vec![Cell::new("  by end"), Cell::new(ends.join(", "))]);
    }
    if s.flows.reused_tuples > 0 {
        t.add_row(vec![
            Cell::new("  reused four-tuples"),
            Cell::new(s.flows.reused_tuples),
        ]);
    }
    if s.flows.evicted > 0 {
        t.add_row(vec![
            Cell::new("  evicted (table full)"),
            Cell::new(format!("{} (raise --max-connections)", s.flows.evicted)),
        ]);
    }
    if s.aggregated_attempts > 0 {
        t.add_row(vec![
            Cell::new("  half-open cap hit"),
            Cell::new(format!(
                "{} attempts counted per listener, not tracked (raise --max-half-open)",
                s.aggregated_attempts
            )),
        ]);
    }
    if !run.errors.is_empty() {
        t.add_row(vec![Cell::new("errors"), Cell::new(run.errors.len())]);
    }
    t
}

fn breakdown_table(s: &Summary, run: &RunInfo) -> Option<Table> {
    let d = &s.decode;
    let mut t = table(&["not analysed as TCP", "packets"]);
    let mut any = false;
    for r in SkipReason::ALL {
        let n = d.skipped[r as usize];
        if n > 0 {
            t.add_row(vec![Cell::new(format!("skipped: {}", r.name())), num(n)]);
            any = true;
        }
    }
    for (lt, n) in &d.unsupported_link_types {
        t.add_row(vec![
            Cell::new(format!("  link type {}", crate::wire::LinkType(*lt))),
            num(*n),
        ]);
    }
    if run.skipped_records > 0 {
        t.add_row(vec![
            Cell::new("skipped: pcapng records without interface"),
            num(run.skipped_records),
        ]);
        any = true;
    }
    for (name, n) in super::names::non_tcp(d) {
        t.add_row(vec![Cell::new(format!("non-TCP: {name}")), num(n)]);
        any = true;
    }
    for k in TunnelKind::ALL {
        let n = d.tunnels[k as usize];
        if n > 0 {
            t.add_row(vec![Cell::new(format!("TCP inside {}", k.name())), num(n)]);
            any = true;
        }
    }
    any.then_some(t)
}

/// One column of the connection table: its title and how a record fills its cell (`start` is
/// the capture's first timestamp). Titles and cells come from one list, so they cannot drift.
pub(crate) struct Column {
    /// The column's title.
    pub title: &'static str,
    /// The cell of one connection.
    pub cell: fn(&ConnRecord, Timestamp) -> Cell,
}

/// The connection table's columns, in order.
pub(crate) const CONN_COLUMNS: &[Column] = &[
    Column {
        title: "id",
        cell: |c, _| match c.prev_id {
            Some(p) => Cell::new(format!("{} (reuses {p})", c.id)),
            None => Cell::new(c.id),
        },
    },
    Column {
        title: "originator",
        cell: |c, _| Cell::new(c.orig),
    },
    Column {
        title: "responder",
        cell: |c, _| Cell::new(c.resp),
    },
    Column {
        title: "start",
        cell: |c, start| right(secs(c.first_ts.since(start))),
    },
    Column {
        title: "duration",
        cell: |c, _| right(secs(c.duration())),
    },
    Column {
        title: "pkts →/←",
        cell: |c, _| {
            let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
            right(format!("{}/{}", o.packets, r.packets))
        },
    },
    Column {
        title: "bytes →/←",
        cell: |c, _| {
            let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
            right(format!("{}/{}", o.payload_bytes, r.payload_bytes))
        },
    },
    Column {
        title: "handshake ms",
        cell: |c, _| {
            let hs = &c.handshake;
            Cell::new(match (hs.syn_to_synack, hs.synack_to_ack) {
                (None, None) => "-".to_string(),
                (a, b) => format!("{} + {}", ms(a), ms(b)),
            })
        },
    },
    Column {
        title: "options",
        cell: |c, _| Cell::new(options(c)),
    },
    Column {
        title: "final states",
        cell: |c, _| {
            Cell::new(format!(
                "{}\n{}",
                c.states[Side::Orig],
                c.states[Side::Resp]
            ))
        },
    },
    Column {
        title: "end",
        cell: |c, _| {
            let mut end = c.end_reason.map_or("-", EndReason::name).to_string();
            if !c.saw_start() {
                end.push_str(", midstream");
            }
            Cell::new(end)
        },
    },
    Column {
        title: "anomalies",
        cell: |c, _| {
            let list: Vec<String> = c
                .tally
                .counts
                .iter()
                .map(|(k, n)| {
                    if *n > 1 {
                        format!("{k}×{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            Cell::new(list.join("\n"))
        },
    },
];

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// Anomalies by kind, by listener, and the worst connections.
fn anomaly_tables(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let kinds: Vec<AnomalyKind> = AnomalyKind::ALL
        .iter()
        .copied()
        .filter(|k| s.anomaly_events[k.index()] > 0 || s.anomaly_occurrences[k.index()] > 0)
        .collect();
    if kinds.is_empty() {
        return writeln!(out, "\nNo anomalies.");
    }
    let mut t = table(&["anomaly", "severity", "reported", "occurrences", "meaning"]);
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| {
        (
            std::cmp::Reverse(k.severity()),
            std::cmp::Reverse(s.anomaly_events[k.index()]),
        )
    });
    for k in sorted {
        t.add_row(vec![
            Cell::new(k.id()),
            Cell::new(k.severity()),
            num(s.anomaly_events[k.index()]),
            num(s.anomaly_occurrences[k.index()].max(s.anomaly_events[k.index()])),
            Cell::new(k.summary()),
        ]);
    }
    writeln!(
        out,
        "\nAnomalies (`tcpaudit explain <id>` for details)\n{t}"
    )?;
    let mut by_listener: Vec<_> = s.anomalies_by_listener.iter().collect();
    by_listener.sort_by_key(|(e, c)| {
        (
            std::cmp::Reverse(c.iter().map(|n| *n as u64).sum::<u64>()),
            **e,
        )
    });
    if !by_listener.is_empty() {
        let mut t = table(&["listener", "anomalies"]);
        for (e, counts) in by_listener.into_iter().take(10) {
            let list: Vec<String> = AnomalyKind::ALL
                .iter()
                .filter(|k| counts[k.index()] > 0)
                .map(|k| format!("{} {}", k.id(), counts[k.index()]))
                .collect();
            t.add_row(vec![Cell::new(e), Cell::new(list.join(", "))]);
        }
        writeln!(out, "\nAnomalies by listener\n{t}")?;
    }
    if !s.worst.is_empty() {
        let mut t = table(&[
            "id",
            "originator",
            "responder",
            "worst",
            "occurrences",
            "anomalies",
        ]);
        for (sev, n, id, o, r, kinds) in &s.worst {
            let list: Vec<&str> = kinds.iter().map(|k| k.id()).collect();
            t.add_row(vec![
                Cell::new(id),
                Cell::new(o),
                Cell::new(r),
                Cell::new(sev),
                num(*n),
                Cell::new(list.join(", ")),
            ]);
        }
        writeln!(out, "\nWorst connections\n{t}")?;
    }
    Ok(())
}

/// Compact option summary: `mss 1460/1448 ws 7/7 sack ts`.
fn options(c: &ConnRecord) -> String {
    let (Some(o), r) = (c.half(Side::Orig).options, c.half(Side::Resp).options) else {
        return c
            .half(Side::Resp)
            .options
            .map_or("-".into(), |r| format!("resp mss {}", opt(r.mss)));
    };
    let mut s = match r {
        Some(r) => format!("mss {}/{}", opt(o.mss), opt(r.mss)),
        None => format!("mss {}", opt(o.mss)),
    };
    let both = |f: fn(&crate::tcp::SynOptions) -> bool| f(&o) && r.as_ref().is_none_or(f);
    if let Some(w) = o.wscale {
        match r.and_then(|r| r.wscale) {
            Some(rw) => s.push_str(&format!(" ws {w}/{rw}")),
            None if r.is_none() => s.push_str(&format!(" ws {w}")),
            None => {}
        }
    }
    if both(|x| x.sack_permitted) {
        s.push_str(" sack");
    }
    if both(|x| x.timestamps) {
        s.push_str(" ts");
    }
    if both(|x| x.ecn) {
        s.push_str(" ecn");
    }
    if o.tfo.is_some() {
        s.push_str(" tfo");
    }
    s
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff UTC` without a date library (civil-from-days, H. Hinnant).
pub fn utc(ts: Timestamp) -> String {
    let secs = ts.0.div_euclid(1_000_000_000);
    let micros = ts.0.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06} UTC",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(
            utc(Timestamp::from_secs_nanos(1_700_000_000, 1_000)),
            "2023-11-14 22:13:20.000001 UTC"
        );
        assert_eq!(utc(Timestamp(0)), "1970-01-01 00:00:00.000000 UTC");
    }
    use crate::detect::{DetectConfig, ListenerConfig};
    use crate::flow::{FlowConfig, FlowTable};
    use crate::testutil::{c2s, s2c};

    /// A connection closed by the FIN exchange, as the table hands it out.
    fn closed_record() -> ConnRecord {
        let mut t = FlowTable::new(
            FlowConfig::default(),
            DetectConfig::default(),
            ListenerConfig::default(),
        );
        let segs = [
            c2s(0, "S", 100, 0, 0),
            s2c(10, "SA", 500, 101, 0),
            c2s(20, "A", 101, 501, 0),
            c2s(30, "FA", 101, 501, 0),
            s2c(40, "FA", 501, 102, 0),
            c2s(50, "A", 102, 502, 0),
        ];
        let mut out = None;
        let mut keep = |e: Event<'_>| {
            if let Event::Closed(c) = e {
                out = Some(c.clone());
            }
        };
        for s in &segs {
            t.process(s, &mut keep);
        }
        t.finish(&mut keep).unwrap();
        out.expect("the connection ends")
    }

    #[test]
    fn connection_table_titles_and_cells_line_up() {
        let c = closed_record();
        let cell = |title: &str| {
            let col = CONN_COLUMNS
                .iter()
                .find(|col| col.title == title)
                .unwrap_or_else(|| panic!("no column {title}"));
            (col.cell)(&c, c.first_ts).content()
        };
        assert_eq!(cell("id"), "1");
        assert_eq!(cell("originator"), "10.0.0.1:40000");
        assert_eq!(cell("responder"), "10.0.0.2:80");
        assert_eq!(cell("pkts →/←"), "4/2");
        assert_eq!(cell("handshake ms"), "10.00 + 10.00");
        assert_eq!(cell("final states"), "TIME-WAIT\nCLOSED");
        assert_eq!(cell("end"), "fin");
        assert_eq!(cell("anomalies"), "");
        // The rendered table has as many titles as each row has cells.
        let titles: Vec<&str> = CONN_COLUMNS.iter().map(|c| c.title).collect();
        let mut t = table(&titles);
        t.add_row(CONN_COLUMNS.iter().map(|col| (col.cell)(&c, c.first_ts)));
        let header = t.header().expect("a header").cell_count();
        let row = t.row(0).expect("a row").cell_count();
        assert_eq!((header, row), (titles.len(), titles.len()));
    }
}

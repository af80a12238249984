//! The tables before the connection list: the run summary, what was skipped or not TCP,
//! anomalies by kind and by listener, and the worst connections.

use std::io::{self, Write};

use comfy_table::{Cell, Table};

use super::fit::{Give, first_fitting, fit};
use super::{num, secs, severity_cell, table, utc};
use crate::analyzer::Summary;
use crate::detect::flood::{MAX_LISTENERS, MAX_LISTENERS_PER_HOST};
use crate::detect::{AnomalyKind, Severity};
use crate::event::{ConnRecord, EndReason};
use crate::report::RunInfo;
use crate::wire::{Endpoint, Side, SkipReason, TunnelKind};

/// The connections with the most severe and most numerous anomalies, at most ten.
#[derive(Default)]
pub(super) struct Worst(Vec<WorstConn>);

/// One of the worst connections.
struct WorstConn {
    severity: Severity,
    occurrences: u64,
    id: u64,
    orig: Endpoint,
    resp: Endpoint,
    kinds: Vec<AnomalyKind>,
}

impl WorstConn {
    /// Worse first: higher severity, then more occurrences, then the lower id.
    fn rank(&self) -> (Severity, u64, std::cmp::Reverse<u64>) {
        (self.severity, self.occurrences, std::cmp::Reverse(self.id))
    }
}

impl Worst {
    const KEEP: usize = 10;

    /// Considers a finished connection: ranks it first and builds its entry (its list of kinds)
    /// only when it enters the ten, kept in rank order by inserting in place.
    pub(super) fn consider(&mut self, c: &ConnRecord) {
        let counts = &c.tally.counts;
        if counts.is_empty() {
            return;
        }
        let severity = counts
            .iter()
            .map(|(k, _)| k.severity())
            .max()
            .unwrap_or(Severity::Info);
        let occurrences = counts.iter().map(|(_, n)| *n as u64).sum();
        let rank = (severity, occurrences, std::cmp::Reverse(c.id));
        // Worse first: the place is after every entry ranked higher.
        let at = self.0.partition_point(|w| w.rank() > rank);
        if at >= Self::KEEP {
            return;
        }
        self.0.insert(
            at,
            WorstConn {
                severity,
                occurrences,
                id: c.id,
                orig: c.orig,
                resp: c.resp,
                kinds: counts.iter().map(|(k, _)| *k).collect(),
            },
        );
        self.0.truncate(Self::KEEP);
    }
}

pub(super) fn summary_table(s: &Summary, run: &RunInfo) -> Table {
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
        // On one line the span needs about 110 columns; narrower, it breaks after the arrow
        // rather than inside a timestamp.
        let arrow = if t.width().is_some_and(|w| w < 110) {
            "→\n"
        } else {
            "→ "
        };
        t.add_row(vec![
            Cell::new("time span"),
            Cell::new(format!(
                "{} {arrow}{} ({} s)",
                utc(a),
                utc(b),
                secs(b.since(a))
            )),
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
    let by_count = s.flows.evicted - s.flows.evicted_memory;
    if by_count > 0 {
        t.add_row(vec![
            Cell::new("  evicted (table full)"),
            Cell::new(format!("{by_count} (raise --max-connections)")),
        ]);
    }
    if s.flows.frozen > 0 {
        t.add_row(vec![
            Cell::new("  frozen (memory bound)"),
            Cell::new(format!(
                "{} closed connections kept encoded (raise --max-memory)",
                s.flows.frozen
            )),
        ]);
    }
    if s.flows.evicted_memory > 0 {
        t.add_row(vec![
            Cell::new("  evicted (memory bound)"),
            Cell::new(format!("{} (raise --max-memory)", s.flows.evicted_memory)),
        ]);
    }
    if s.flows.reassembly_cap_hits > 0 {
        t.add_row(vec![
            Cell::new("  reassembly bound hit"),
            Cell::new(format!(
                "{} segments not held out of order or for overlap checks (raise \
                 --max-stream-buffer, --max-reassembly-memory)",
                s.flows.reassembly_cap_hits
            )),
        ]);
    }
    let f = &s.flows;
    if f.icmp_errors_linked + f.icmp_errors_unlinked > 0 {
        t.add_row(vec![
            Cell::new("ICMP errors about TCP"),
            Cell::new(format!(
                "{} linked to their connection, {} unlinked",
                f.icmp_errors_linked, f.icmp_errors_unlinked
            )),
        ]);
    }
    let one_sided = s.one_sided[Side::Orig] + s.one_sided[Side::Resp];
    if one_sided > 0 {
        let whole = match s.capture_one_sided() {
            Some(side) => format!(
                "; the capture shows one direction only ({} side)",
                side.name()
            ),
            None => String::new(),
        };
        t.add_row(vec![
            Cell::new("  one-sided"),
            Cell::new(format!(
                "{one_sided} connections show one direction only{whole}"
            )),
        ]);
    }
    // Attempts aggregated because their listener could not be tracked are told apart: raising
    // --max-half-open does nothing for them.
    let half_open_capped = s
        .aggregated_attempts
        .saturating_sub(s.untracked_listener_attempts);
    if half_open_capped > 0 {
        t.add_row(vec![
            Cell::new("  half-open cap hit"),
            Cell::new(format!(
                "{half_open_capped} attempts counted per listener, not tracked (raise \
                 --max-half-open)"
            )),
        ]);
    }
    if s.untracked_listener_attempts > 0 {
        // The row names the caps: it must change with them.
        const _: () = assert!(MAX_LISTENERS == 65_536 && MAX_LISTENERS_PER_HOST == 4_096);
        t.add_row(vec![
            Cell::new("  listener cap hit"),
            Cell::new(format!(
                "{} attempts counted per listener, not tracked: their listeners were beyond \
                 the caps (65,536; 4,096 on one address; half of --max-memory) and no listener \
                 rule judged them",
                s.untracked_listener_attempts
            )),
        ]);
    }
    if s.aggregated_forgotten > 0 {
        t.add_row(vec![
            Cell::new("  aggregated forgotten"),
            Cell::new(format!(
                "{} aggregated attempts forgotten early: their later segments are not attributed \
                 (raise --max-half-open)",
                s.aggregated_forgotten
            )),
        ]);
    }
    if let Some(a) = &s.app {
        let st = a.stats;
        let mut v = format!(
            "{} DNS ({} unanswered), {} TLS, {} HTTP, {} sessions",
            a.dns, a.dns_unanswered, a.tls, a.http, a.sessions
        );
        if st.http2 + st.quic > 0 {
            v += &format!(
                "; counted, not parsed: {} HTTP/2, {} QUIC",
                st.http2, st.quic
            );
        }
        if st.given_up > 0 {
            v += &format!(
                "; {} directions given up ({} oversized)",
                st.given_up, st.oversized
            );
        }
        t.add_row(vec![Cell::new("application layer"), Cell::new(v)]);
    }
    if !run.errors.is_empty() {
        t.add_row(vec![Cell::new("errors"), Cell::new(run.errors.len())]);
    }
    fit(&mut t, &[Give::Keep, Give::Wrap]);
    t
}

pub(super) fn breakdown_table(s: &Summary, run: &RunInfo) -> Option<Table> {
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
    if s.clock_faults > 0 {
        t.add_row(vec![
            Cell::new("capture clock faults (analysed at the capture's time)"),
            num(s.clock_faults),
        ]);
        any = true;
    }
    for (name, n) in crate::report::names::non_tcp(d) {
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
    fit(&mut t, &[Give::Wrap, Give::Keep]);
    any.then_some(t)
}

/// With `colour`, the table styles its cells into a pipe too (`--color always`). Without, no
/// cell carries a style, so none is written even on a terminal.
fn styled(t: &mut comfy_table::Table, colour: bool) {
    if colour {
        t.enforce_styling();
    }
}

/// Whether the meaning column of the anomaly table gets room for a few words (24 characters)
/// beside the other columns.
fn meaning_fits(t: &Table) -> bool {
    let Some(w) = t.width() else {
        return true;
    };
    let others: Vec<usize> = (0..4)
        .map(|i| {
            let cells: Vec<String> = t
                .column_cells_with_header_iter(i)
                .map(|c| c.map(|c| c.content()).unwrap_or_default())
                .collect();
            super::fit::min_width(cells.iter().map(String::as_str), Give::Keep)
        })
        .chain([24])
        .collect();
    super::fit::framed(others) <= w as usize
}

/// Anomalies by kind, by listener, and the worst connections.
pub(super) fn anomaly_tables(
    out: &mut impl Write,
    s: &Summary,
    worst: &Worst,
    colour: bool,
) -> io::Result<()> {
    let kinds: Vec<AnomalyKind> = AnomalyKind::ALL
        .iter()
        .copied()
        .filter(|k| s.anomaly_events[k.index()] > 0 || s.anomaly_occurrences[k.index()] > 0)
        .collect();
    if kinds.is_empty() {
        return writeln!(out, "\nNo anomalies.");
    }
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| {
        (
            std::cmp::Reverse(k.severity()),
            std::cmp::Reverse(s.anomaly_events[k.index()]),
        )
    });
    // Narrow, the meaning goes under its id instead of in a column of a few characters, and
    // lines between the rows keep each meaning with its id.
    // Narrow, the meaning goes under its id instead of in a column of a few characters, with
    // lines between the rows to keep each meaning with its id; narrower, the severity joins
    // the id too.
    let t = first_fitting(3, |variant| {
        let beside = variant == 0;
        let header: &[&str] = match variant {
            0 => &["anomaly", "severity", "reported", "occurrences", "meaning"],
            1 => &["anomaly", "severity", "reported", "occurrences"],
            _ => &["anomaly", "reported", "occurrences"],
        };
        let mut t = table(header);
        if !beside {
            t.load_style(comfy_table::presets::UTF8_FULL);
        }
        styled(&mut t, colour);
        for k in &sorted {
            let (id, summary, sev) = (k.id(), k.summary(), k.severity());
            let first = match variant {
                0 => id.to_string(),
                1 => format!("{id}\n{summary}"),
                _ => format!("{id} ({sev})\n{summary}"),
            };
            let mut row = vec![severity_cell(first, sev, colour)];
            if variant < 2 {
                row.push(severity_cell(sev, sev, colour));
            }
            row.extend([
                num(s.anomaly_events[k.index()]),
                num(s.anomaly_occurrences[k.index()].max(s.anomaly_events[k.index()])),
            ]);
            if beside {
                row.push(Cell::new(summary));
            }
            t.add_row(row);
        }
        let mut gives = vec![Give::Keep; t.column_count()];
        if beside {
            // A meaning column of a few characters reads worse than the meaning under its id:
            // without room for a few words the column is kept whole, so the layout does not fit.
            if meaning_fits(&t) {
                gives[4] = Give::Wrap;
            }
        } else {
            gives[0] = Give::Wrap;
        }
        (t, gives)
    });
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
        fit(&mut t, &[Give::Keep, Give::Wrap]);
        writeln!(out, "\nAnomalies by listener\n{t}")?;
    }
    if !worst.0.is_empty() {
        // Narrow, originator and responder share a column, one above the other; narrower,
        // the worst severity and the occurrences go above the anomalies.
        let t = first_fitting(3, |variant| {
            let header: &[&str] = match variant {
                0 => &[
                    "id",
                    "originator",
                    "responder",
                    "worst",
                    "occurrences",
                    "anomalies",
                ],
                1 => &[
                    "id",
                    "originator\nresponder",
                    "worst",
                    "occurrences",
                    "anomalies",
                ],
                _ => &["id", "originator\nresponder", "worst, anomalies"],
            };
            let mut t = table(header);
            styled(&mut t, colour);
            for w in &worst.0 {
                let list = w
                    .kinds
                    .iter()
                    .map(|k| k.id())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut row = vec![Cell::new(w.id)];
                if variant == 0 {
                    row.extend([Cell::new(w.orig), Cell::new(w.resp)]);
                } else {
                    row.push(Cell::new(format!("{}\n{}", w.orig, w.resp)));
                }
                if variant < 2 {
                    row.extend([
                        severity_cell(w.severity, w.severity, colour),
                        num(w.occurrences),
                        Cell::new(list),
                    ]);
                } else {
                    row.push(severity_cell(
                        format!("{} ×{}\n{list}", w.severity, w.occurrences),
                        w.severity,
                        colour,
                    ));
                }
                t.add_row(row);
            }
            let n = t.column_count();
            let mut gives = vec![Give::Keep; n];
            gives[n - 1] = Give::Wrap;
            (t, gives)
        });
        writeln!(out, "\nWorst connections\n{t}")?;
    }
    Ok(())
}

//! Terminal report: a summary and a connection table (comfy-table), sized for a person to read.
//! Connections are shown in id order; past `limit` rows only the count of the rest is given.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement, Table};

mod columns;
mod fit;
mod pages;
mod summary;

pub(crate) use fit::{Give, first_fitting, fit};

/// Titles of the top listeners table.
const LISTENER_TITLES: [&str; 6] = [
    "listener",
    "attempts",
    "answered",
    "established",
    "refused",
    "unanswered",
];
/// The same, abbreviated for a narrow screen.
const LISTENER_SHORT_TITLES: [&str; 6] =
    ["listener", "tries", "answ.", "estab.", "refused", "unansw."];
use summary::{Worst, anomaly_tables, breakdown_table, summary_table};

use super::{RunInfo, Sink};
use crate::analyzer::Summary;
use crate::detect::Severity;
use crate::event::{ConnRecord, Event};
use crate::time::{Duration, Timestamp};

/// Collects the first `limit` connections by id (or all) and prints tables at the end.
pub struct TableSink<W: Write> {
    out: W,
    /// Severities in colour.
    colour: bool,
    /// Every column of the connection table, however wide.
    wide: bool,
    limit: Option<usize>,
    rows: BTreeMap<u64, ConnRecord>,
    total: u64,
    worst: Worst,
    pages: super::page::PageBuilder,
}

impl<W: Write> TableSink<W> {
    /// A sink printing to `out`, showing at most `limit` connections (`None`: all).
    pub fn new(out: W, limit: Option<usize>) -> Self {
        TableSink {
            out,
            colour: false,
            wide: false,
            limit,
            rows: BTreeMap::new(),
            total: 0,
            worst: Worst::default(),
            pages: super::page::PageBuilder::default(),
        }
    }
}

impl<W: Write> TableSink<W> {
    /// Severities in colour (red errors, yellow warnings, cyan notices, dim info).
    pub fn colour(mut self, on: bool) -> Self {
        self.colour = on;
        self
    }

    /// Every column of the connection table whatever the width (`--wide`), instead of the
    /// columns that fit.
    pub fn wide(mut self, on: bool) -> Self {
        self.wide = on;
        self
    }
}

impl<W: Write> Sink for TableSink<W> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        self.pages.event(e);
        let Event::Closed(c) = e else {
            return Ok(());
        };
        self.total += 1;
        self.worst.consider(c);
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
            // Narrow, the titles are abbreviated (the counts themselves are short).
            let t = first_fitting(2, |variant| {
                let mut t = table(if variant == 0 {
                    &LISTENER_TITLES
                } else {
                    &LISTENER_SHORT_TITLES
                });
                for (e, c) in &listeners {
                    t.add_row(vec![
                        Cell::new(e),
                        num(c.attempts),
                        num(c.answered),
                        num(c.established),
                        num(c.refused),
                        num(c.unanswered),
                    ]);
                }
                (t, vec![Give::Keep; 6])
            });
            writeln!(self.out, "\nTop listeners\n{t}")?;
        }
        anomaly_tables(&mut self.out, s, &self.worst, self.colour)?;
        if !self.rows.is_empty() {
            let width = if self.wide { None } else { screen_width() };
            let columns = columns::layout(width, self.rows.values(), start);
            let titles: Vec<&str> = columns.iter().map(|c| c.title).collect();
            let mut t = table(&titles);
            if self.wide {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
            for c in self.rows.values() {
                t.add_row(columns.iter().map(|col| (col.cell)(c, start)));
            }
            let gives: Vec<Give> = columns.iter().map(|c| c.give).collect();
            fit(&mut t, &gives);
            // Say that columns gave way, and how to get them back.
            let narrowed = match width {
                Some(w) if columns.len() < columns::CONN_COLUMNS.len() => {
                    format!(" (fitted to {w} columns; --wide shows all)")
                }
                _ => String::new(),
            };
            writeln!(self.out, "\nConnections{narrowed}\n{t}")?;
            let shown = self.rows.len() as u64;
            if shown < self.total {
                let long = format!(
                    "{shown} of {} connections shown (lowest ids); --all shows all, -f json \
                     streams them.",
                    self.total
                );
                let short = format!(
                    "{shown} of {} connections shown; --all shows all.",
                    self.total
                );
                let fits = screen_width().is_none_or(|w| long.chars().count() <= w as usize);
                writeln!(self.out, "{}", if fits { long } else { short })?;
            }
        }
        pages::write_pages(&mut self.out, &self.pages.pages(), start)?;
        for e in &run.errors {
            writeln!(self.out, "\nerror: {e}")?;
        }
        self.out.flush()
    }
}

/// The width tables are drawn in: the terminal's, else (piped) `COLUMNS` when it is set
/// (`COLUMNS=80 tcpaudit ... | less`), else none (every column as wide as its content).
pub(crate) fn screen_width() -> Option<u16> {
    let w = Table::new().width().or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
    })?;
    // A pseudo-terminal that reports no size (script, some CI runners) would squeeze every
    // column to one character.
    Some(if w < 40 { 120 } else { w })
}

/// A table in the report's style, as wide as the screen ([`screen_width`]) at most; [`fit`]
/// then keeps its cells from being split inside a word.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = screen_width() {
        t.set_width(w);
    }
    t.set_header(header.iter().map(Cell::new));
    t
}

/// A severity (or what carries it) in its colour, when `colour`; the table then styles its
/// cells whether or not it writes to a terminal (the choice was made by `--color`).
pub(crate) fn severity_cell(text: impl std::fmt::Display, sev: Severity, colour: bool) -> Cell {
    let cell = Cell::new(text);
    if !colour {
        return cell;
    }
    match sev {
        Severity::Error => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Severity::Warning => cell.fg(Color::Yellow),
        Severity::Notice => cell.fg(Color::Cyan),
        Severity::Info => cell.add_attribute(Attribute::Dim),
    }
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

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// `YYYY-MM-DD HH:MM:SS.ffffff UTC` without a date library (the calendar arithmetic of
/// [`crate::report::iso_time`]).
pub fn utc(ts: Timestamp) -> String {
    let secs = ts.as_nanos().div_euclid(1_000_000_000);
    let micros = ts.as_nanos().rem_euclid(1_000_000_000) / 1000;
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = super::iso_time::civil_from_days(secs.div_euclid(86_400));
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
        assert_eq!(utc(Timestamp::EPOCH), "1970-01-01 00:00:00.000000 UTC");
    }
}

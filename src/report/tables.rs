//! A sink writing the flat tables of [`super::flat`] (connections, anomalies, application
//! records) through any table writer: Parquet files or CSV.

use std::io::{self, Write};

use super::csv::CsvTable;
use super::flat::{self, Row};
use super::json::AppJson;
use super::parquet::Table;
use super::tuples::OpenConns;
use super::{RunInfo, Sink};
use crate::analyzer::Summary;
use crate::event::Event;
use crate::time::Timestamp;

/// A writer of one flat table.
pub trait TableOut: Row {
    /// Starts a record at capture time `ts`.
    fn begin(&mut self, ts: Option<Timestamp>) -> io::Result<()>;
    /// Ends the record.
    fn end(&mut self) -> io::Result<()>;
    /// Writes what is left; the table is complete.
    fn finish(&mut self) -> io::Result<()>;
    /// Writes out the rows buffered so far (a file format that writes in row groups keeps
    /// them until a group is full).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TableOut for Table {
    fn begin(&mut self, ts: Option<Timestamp>) -> io::Result<()> {
        self.begin_row(ts)
    }
    fn end(&mut self) -> io::Result<()> {
        self.end_row()
    }
    fn finish(&mut self) -> io::Result<()> {
        Table::finish(self)
    }
}

impl<W: Write> TableOut for CsvTable<W> {
    fn begin(&mut self, _ts: Option<Timestamp>) -> io::Result<()> {
        self.begin_row()
    }
    fn end(&mut self) -> io::Result<()> {
        self.end_row()
    }
    fn finish(&mut self) -> io::Result<()> {
        CsvTable::finish(self)
    }
    fn flush(&mut self) -> io::Result<()> {
        CsvTable::flush(self)
    }
}

/// Writes connection records, and anomaly and application records when it has tables for them.
pub struct TablesSink<T: TableOut> {
    conns: T,
    anomalies: Option<T>,
    app: Option<T>,
    open: OpenConns,
    seed: u16,
    /// Records that had no table here (standard output holds one table).
    left_out: u64,
}

impl<T: TableOut> TablesSink<T> {
    /// A sink writing connections to `conns` and, if given, anomalies and application records
    /// to theirs; Community IDs with `seed`.
    pub fn new(conns: T, anomalies: Option<T>, app: Option<T>, seed: u16) -> Self {
        TablesSink {
            conns,
            anomalies,
            app,
            open: OpenConns::default(),
            seed,
            left_out: 0,
        }
    }

    /// Every table it writes: the connections', then the anomalies' and the application
    /// records' when it has them.
    fn tables(&mut self) -> impl Iterator<Item = &mut T> {
        std::iter::once(&mut self.conns)
            .chain(self.anomalies.as_mut().into_iter().chain(self.app.as_mut()))
    }
}

impl<T: TableOut> Sink for TablesSink<T> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        self.open.event(e);
        match e {
            Event::Closed(c) => {
                self.conns.begin(Some(c.last_ts))?;
                flat::connection_row(c, self.seed, &mut self.conns);
                self.conns.end()
            }
            Event::Anomaly(a) => match self.anomalies.as_mut() {
                Some(t) => {
                    t.begin(Some(a.ts))?;
                    flat::anomaly_row(a, self.open.get(a.conn_id), self.seed, t);
                    t.end()
                }
                None => {
                    self.left_out += 1;
                    Ok(())
                }
            },
            Event::App(r) => match self.app.as_mut() {
                Some(t) => {
                    let text = serde_json::to_string(&AppJson::new(r, self.seed))?;
                    let json: serde_json::Value = serde_json::from_str(&text)?;
                    let ts = json
                        .get("time")
                        .and_then(|v| v.as_str())
                        .and_then(flat::parse_iso);
                    t.begin(ts)?;
                    flat::app_row(&json, &text, t);
                    t.end()
                }
                None => {
                    self.left_out += 1;
                    Ok(())
                }
            },
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tables().try_for_each(TableOut::flush)
    }

    fn finish(&mut self, _summary: &Summary, _run: &RunInfo) -> io::Result<()> {
        self.tables().try_for_each(TableOut::finish)?;
        if self.left_out > 0 {
            eprintln!(
                "tcpaudit: note: {} anomaly and application records are not in this table \
                 (the connection rows list their anomaly ids); -o DIR writes every table",
                self.left_out
            );
        }
        Ok(())
    }
}

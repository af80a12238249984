//! The report's table and waterfall rows, written as JSON on a thread of their own while the
//! analysis runs: the page's data is ready when the run ends instead of being serialized after
//! it (the analysis thread only builds each row and hands it over).

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use serde::Serialize;

use super::super::json::{DetailJson, as_text};
use super::ConnRow;
use super::timeline::Attempt;
use crate::detect::{Anomaly, AnomalyKind, Value};
use crate::wire::Endpoint;

/// Attempts kept for the listener timelines at most (48 bytes each).
pub const MAX_ATTEMPTS: usize = 1_000_000;

/// One anomaly row as the page reads it.
#[derive(Serialize)]
struct AnomalyRow<'a> {
    frame: u64,
    /// Seconds since the capture's first packet.
    t: f64,
    id: &'static str,
    sev: &'static str,
    conn: Option<u64>,
    #[serde(serialize_with = "opt_text")]
    listener: Option<Endpoint>,
    /// As the JSON lines write it; the page shows it as `key=value` pairs.
    detail: DetailJson<'a>,
}

fn opt_text<S: serde::Serializer>(v: &Option<Endpoint>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(e) => as_text(e, s),
        None => s.serialize_none(),
    }
}

/// What the rows' writer is handed.
enum Row {
    /// An anomaly and its time in seconds since the capture's first packet.
    Anomaly(Anomaly, f64),
    /// A connection of the waterfall.
    Conn(ConnRow),
    /// A connection attempt, for the listener timelines.
    Attempt(Attempt),
}

/// The rows written: JSON arrays, the connection attempts (for the listener timelines), and the flood
/// episodes as (listener, start, end) in seconds since the capture's first packet.
#[derive(Default)]
pub(super) struct Written {
    pub(super) anomalies: Vec<u8>,
    pub(super) conns: Vec<u8>,
    pub(super) attempts: Vec<Attempt>,
    /// Attempts beyond [`MAX_ATTEMPTS`].
    pub(super) attempts_left_out: u64,
    pub(super) floods: Vec<(String, f64, f64)>,
}

impl Written {
    fn add(&mut self, row: Row, base: f64) {
        // Writing into a Vec cannot fail; a row that could not be serialized would be a bug
        // in its Serialize impl, and is left out rather than breaking the page.
        match row {
            Row::Anomaly(a, t) => {
                if a.kind == AnomalyKind::SynFlood
                    && let Some(l) = a.listener
                {
                    let num = |k: &str| a.detail.get(k).and_then(Value::as_f64);
                    let start = num("start").map_or(t, |s| s - base);
                    let end = num("end").map_or(t, |s| s - base);
                    self.floods.push((l.to_string(), start, end));
                }
                sep(&mut self.anomalies);
                let _ = serde_json::to_writer(
                    &mut self.anomalies,
                    &AnomalyRow {
                        frame: a.frame,
                        t,
                        id: a.kind.id(),
                        sev: a.severity.name(),
                        conn: a.conn_id,
                        listener: a.listener,
                        detail: DetailJson(&a.detail),
                    },
                );
            }
            Row::Conn(c) => {
                sep(&mut self.conns);
                c.write_json(&mut self.conns);
            }
            Row::Attempt(a) if self.attempts.len() < MAX_ATTEMPTS => self.attempts.push(a),
            Row::Attempt(_) => self.attempts_left_out += 1,
        }
    }
}

impl ConnRow {
    /// Writes the row as `serde_json` writes the struct (a test compares them), by hand: the
    /// waterfall's rows are the report's most numerous objects, and the generic path formats
    /// each endpoint through `collect_str` and an escaping pass it cannot need.
    fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Numbers and names through serde_json, so the text is its own.
        let num = |out: &mut Vec<u8>, key: &[u8], v: Option<f64>| {
            out.extend_from_slice(key);
            let _ = serde_json::to_writer(&mut *out, &v);
        };
        let name = |out: &mut Vec<u8>, v: &str| {
            let _ = serde_json::to_writer(&mut *out, v);
        };
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.id).as_bytes());
        // An endpoint's text has no character JSON escapes.
        let _ = write!(
            out,
            ",\"orig\":\"{}\",\"resp\":\"{}\"",
            self.orig, self.resp
        );
        num(out, b",\"start\":", Some(self.start));
        num(out, b",\"end\":", Some(self.end));
        num(out, b",\"hs\":", self.hs);
        num(out, b",\"fin\":", self.fin);
        num(out, b",\"tw\":", self.tw);
        out.extend_from_slice(b",\"reason\":");
        name(out, self.reason);
        out.extend_from_slice(b",\"states\":[");
        name(out, self.states[0]);
        out.push(b',');
        name(out, self.states[1]);
        out.push(b']');
        out.extend_from_slice(b",\"anomalies\":[");
        for (i, a) in self.anomalies.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            name(out, a);
        }
        out.extend_from_slice(if self.flagged {
            b"],\"flagged\":true}"
        } else {
            b"],\"flagged\":false}"
        });
    }
}

/// A comma before every element but the first.
fn sep(out: &mut Vec<u8>) {
    if !out.is_empty() {
        out.push(b',');
    }
}

/// Hands rows to the writer thread (or writes them here, if no thread could start).
pub(super) struct RowWriter {
    /// Rows go over in batches: a message per row would wake the thread per row, and the
    /// wakeups would cost the analysis more than the writing saves.
    batch: Batch,
    tx: Option<Sender<Batch>>,
    /// Batches the thread has emptied, to be filled again: a new one per batch would be a
    /// large allocation made here and freed there, each time.
    back: Option<Receiver<Batch>>,
    thread: Option<JoinHandle<Written>>,
    /// Rows written here when there is no thread.
    here: Written,
}

impl RowWriter {
    /// A writer with its thread started.
    pub(super) fn start() -> Self {
        let (tx, rx) = channel::<Batch>();
        let (back_tx, back) = channel::<Batch>();
        match std::thread::Builder::new()
            .name("tcpaudit-report".into())
            .spawn(move || {
                super::background();
                collect(rx, back_tx)
            }) {
            Ok(h) => RowWriter {
                batch: Vec::with_capacity(BATCH),
                tx: Some(tx),
                back: Some(back),
                thread: Some(h),
                here: Written::default(),
            },
            Err(_) => RowWriter {
                batch: Vec::new(),
                tx: None,
                back: None,
                thread: None,
                here: Written::default(),
            },
        }
    }
}

/// Rows per batch.
const BATCH: usize = 512;

/// Rows with the capture's start (seconds since the epoch), as handed over.
type Batch = Vec<(Row, f64)>;

/// The writer thread: writes every batch it receives and hands it back empty.
fn collect(rx: Receiver<Batch>, back: Sender<Batch>) -> Written {
    let mut w = Written::default();
    for mut batch in rx {
        for (row, base) in batch.drain(..) {
            w.add(row, base);
        }
        // The analysis may be done with batches: then this one is dropped.
        let _ = back.send(batch);
    }
    w
}

impl RowWriter {
    /// Writes anomaly `a`, raised `t` seconds after the capture's first packet (at `base`,
    /// in seconds since the epoch).
    pub(super) fn anomaly(&mut self, a: &Anomaly, t: f64, base: f64) {
        self.send(Row::Anomaly(a.clone(), t), base);
    }

    /// Keeps attempt `a` for the listener timelines.
    pub(super) fn attempt(&mut self, a: Attempt) {
        self.send(Row::Attempt(a), 0.0);
    }

    /// Writes connection row `c`.
    pub(super) fn conn(&mut self, c: ConnRow) {
        self.send(Row::Conn(c), 0.0);
    }

    fn send(&mut self, row: Row, base: f64) {
        if self.tx.is_none() {
            self.here.add(row, base);
            return;
        }
        self.batch.push((row, base));
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Hands the batch over (or writes it here, if the thread is gone).
    fn flush(&mut self) {
        let next = self
            .back
            .as_ref()
            .and_then(|b| b.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.batch, next);
        let Some(tx) = &self.tx else { return };
        if let Err(e) = tx.send(batch) {
            for (row, base) in e.0 {
                self.here.add(row, base);
            }
        }
    }

    /// Everything written.
    pub(super) fn finish(&mut self) -> Written {
        if !self.batch.is_empty() {
            self.flush();
        }
        drop(self.tx.take());
        // The thread stops only when the channel closes; had it panicked, the rows sent
        // since went to `here`, and those are what the page gets.
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(w)) => w,
            _ => std::mem::take(&mut self.here),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{A, B};

    #[test]
    fn conn_rows_are_written_as_serde_writes_them() {
        let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let rows = [
            ConnRow {
                id: 7,
                orig: Endpoint::new(A.0, A.1),
                resp: Endpoint::new(B.0, B.1),
                start: 0.0,
                end: 1.25e-7,
                hs: Some(0.000_123),
                fin: None,
                tw: Some(123_456.789),
                reason: "fin",
                states: ["TIME-WAIT", "CLOSED"],
                anomalies: vec!["rst_abort", "retransmission"],
                flagged: true,
            },
            ConnRow {
                id: u64::MAX,
                orig: Endpoint::new(v6, 0),
                resp: Endpoint::new(v6, 65_535),
                start: 1e21,
                end: f64::NAN,
                hs: None,
                fin: Some(-0.0),
                tw: None,
                reason: "open",
                states: ["SYN-SENT", "LISTEN"],
                anomalies: vec![],
                flagged: false,
            },
        ];
        for r in &rows {
            let mut mine = Vec::new();
            r.write_json(&mut mine);
            let theirs = serde_json::to_vec(r).unwrap();
            assert_eq!(
                String::from_utf8(mine).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}

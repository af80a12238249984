//! The HTML report (`analyze --html FILE`): one self-contained file that opens offline (inline
//! CSS, JavaScript and SVG; nothing fetched): the capture summary, the anomalies in a table that
//! sorts and filters, per-listener timelines, a waterfall of the connections, and the ladder
//! diagram of every flagged connection with the RFC state of each side beside the arrows.
//!
//! Bounded for big captures: the table holds the first [`MAX_ANOMALIES`] anomalies, the
//! waterfall the first [`MAX_CONNS`] connections, the ladders the first [`MAX_LADDERS`] flagged
//! connections; the report says when it left some out. The data goes into the page as JSON,
//! which the page's script draws; the ladders are drawn here, as SVG.

mod ladders;
mod rows;
mod timeline;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use self::ladders::Ladders;
pub use self::ladders::{MAX_LADDERS, Source};
use self::rows::{MAX_ATTEMPTS, RowWriter, Written};
use self::timeline::{Attempt, timelines};
use super::RunInfo;
use super::json::{PageJson, as_text};
use super::ladder::{LadderMark, esc};
use super::page::{Page, PageBuilder};
use crate::analyzer::Summary;
use crate::detect::{AnomalyKind, Severity};
use crate::event::{ConnRecord, Event};
use crate::time::Timestamp;
use crate::wire::{Endpoint, Side};

/// Anomalies listed in the table at most.
pub const MAX_ANOMALIES: usize = 20_000;
/// Connections in the waterfall at most.
pub const MAX_CONNS: usize = 20_000;
/// Page loads drawn at most.
pub const MAX_PAGES: usize = 200;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// One connection of the waterfall (times in seconds since the capture's first packet).
#[derive(Serialize)]
pub(super) struct ConnRow {
    pub(super) id: u64,
    #[serde(serialize_with = "as_text")]
    pub(super) orig: Endpoint,
    #[serde(serialize_with = "as_text")]
    pub(super) resp: Endpoint,
    pub(super) start: f64,
    pub(super) end: f64,
    /// The handshake completed.
    pub(super) hs: Option<f64>,
    /// The first FIN.
    pub(super) fin: Option<f64>,
    /// TIME-WAIT's end.
    pub(super) tw: Option<f64>,
    pub(super) reason: &'static str,
    /// Both endpoints' final RFC 9293 states, originator first.
    pub(super) states: [&'static str; 2],
    pub(super) anomalies: Vec<&'static str>,
    pub(super) flagged: bool,
}

/// What the report keeps of a run, from its events.
pub struct HtmlReport {
    first_ts: Option<Timestamp>,
    rows: RowWriter,
    anomalies: usize,
    anomalies_left_out: u64,
    conns: usize,
    conns_left_out: u64,
    /// Flagged connections whose ladders are drawn.
    ladders: Ladders,
    /// Page loads (with `--app`).
    pages: PageBuilder,
    marks: BTreeMap<u64, Vec<LadderMark>>,
    backlog: u32,
    /// How long an unanswered attempt stays in the table (it counts as pending until then).
    attempt_timeout: f64,
    /// Cleared once every ladder is picked: the report needs no more stories.
    stories_wanted: Arc<AtomicBool>,
}

impl HtmlReport {
    /// A report for a run with this configuration (the listener timelines mark its backlog,
    /// and count an attempt pending until its record left the table) over the capture
    /// `source`, which it reads again for the segments of the connections it draws.
    pub fn new(cfg: &crate::analyzer::AnalyzerConfig, source: Source) -> Self {
        HtmlReport {
            backlog: cfg.listeners.backlog,
            attempt_timeout: cfg.flow.attempt_timeout.as_secs_f64(),
            ladders: Ladders::new(source, cfg),
            first_ts: None,
            rows: RowWriter::start(),
            anomalies: 0,
            anomalies_left_out: 0,
            conns: 0,
            conns_left_out: 0,
            marks: BTreeMap::new(),
            pages: PageBuilder::default(),
            stories_wanted: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Holds while the report needs connection stories: the ladders draw the state changes of
    /// the first `MAX_LADDERS` flagged connections to close, and nothing else in the report reads
    /// them (the waterfall is drawn from the records' own fields). For
    /// [`crate::analyzer::Analyzer::keep_stories_while`].
    pub fn stories_wanted(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stories_wanted)
    }

    /// Keeps what the report needs of `e`.
    #[inline]
    pub fn event(&mut self, e: &Event<'_>) {
        // State changes are most of a run's events, and the report reads none: it draws the
        // ladders' states from the records.
        if !matches!(e, Event::StateChanged(..) | Event::Segment(..)) {
            self.keep(e);
        }
    }

    fn keep(&mut self, e: &Event<'_>) {
        self.pages.event(e);
        match *e {
            Event::Opened(r) => {
                self.first_ts = Some(self.first_ts.map_or(r.first_ts, |t| t.min(r.first_ts)));
            }
            Event::Anomaly(a) => {
                // Marks are kept for connections that may still get a ladder.
                if let Some(id) = a.conn_id
                    && !self.ladders.full()
                {
                    self.marks.entry(id).or_default().push(LadderMark::of(a));
                }
                if self.anomalies < MAX_ANOMALIES {
                    self.anomalies += 1;
                    let base = self.first_ts.unwrap_or(a.ts);
                    let t = a.ts.since(base).as_secs_f64();
                    self.rows.anomaly(a, t, base.as_secs_f64());
                } else {
                    self.anomalies_left_out += 1;
                }
            }
            Event::Closed(r) => self.closed(r),
            Event::StateChanged(..) | Event::Segment(..) | Event::App(_) => {}
        }
    }

    fn closed(&mut self, r: &ConnRecord) {
        let marks = self.marks.remove(&r.id).unwrap_or_default();
        let flag = r.tally.flagged();
        if flag {
            self.ladders.offer(r, marks);
            if self.ladders.full() {
                self.marks = BTreeMap::new();
                // The ladders are the first flagged connections to close (those that close
                // early span few frames: the second read stays short), so every connection
                // still open may get one until the last is picked.
                self.stories_wanted.store(false, Ordering::Relaxed);
            }
        }
        let base = self.first_ts.unwrap_or(r.first_ts);
        let rel = |t: Timestamp| t.since(base).as_secs_f64();
        // Drawn from the record's own fields: the analysis keeps no story for connections that
        // cannot get a ladder any more.
        let (start, end) = (rel(r.first_ts), rel(r.last_ts));
        let hs = r.established_at.map(rel);
        let reason = r.end_reason.map_or("open", |e| e.name());
        // Every attempt counts in the listener timelines, also beyond the waterfall's cap.
        if r.saw_start() {
            self.rows.attempt(Attempt {
                listener: r.resp,
                start,
                end,
                hs,
                reason,
            });
        }
        if self.conns >= MAX_CONNS {
            self.conns_left_out += 1;
            return;
        }
        self.conns += 1;
        self.rows.conn(ConnRow {
            id: r.id,
            orig: r.orig,
            resp: r.resp,
            start,
            end,
            hs,
            fin: r.halves.iter().filter_map(|(_, h)| h.fin_ts).min().map(rel),
            tw: r.time_wait_until.map(|(_, until)| rel(until)),
            reason,
            states: [r.states[Side::Orig].name(), r.states[Side::Resp].name()],
            anomalies: r.tally.counts.iter().map(|(k, _)| k.id()).collect(),
            flagged: flag,
        });
    }

    /// Writes the report to `path`, with the ladders (the second read of the capture for their
    /// segments may have started during the run: this waits for it).
    pub fn write_file(
        mut self,
        path: &Path,
        summary: &Summary,
        run: &RunInfo,
    ) -> Result<(), String> {
        let rows = self.rows.finish();
        let pages = self.pages.pages();
        let ladders = std::mem::take(&mut self.ladders);
        let left_out = ladders.left_out;
        let drawn = ladders.finish()?;
        let err = |e: io::Error| format!("{}: {e}", path.display());
        let mut out = io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
        self.write(&mut out, summary, run, (&rows, &pages), (&drawn, left_out))
            .map_err(err)?;
        out.flush().map_err(err)
    }

    /// Writes the page with the `ladders` drawn (and how many flagged connections were left out).
    fn write(
        &self,
        out: &mut impl Write,
        summary: &Summary,
        run: &RunInfo,
        (rows, pages): (&Written, &[Page]),
        (ladders, ladders_left_out): (&[String], u64),
    ) -> io::Result<()> {
        let base = self
            .first_ts
            .or(summary.first_ts)
            .unwrap_or(Timestamp::EPOCH);
        let capture_end = summary.last_ts.map_or(0.0, |t| t.since(base).as_secs_f64());
        let listeners = timelines(
            &rows.attempts,
            &rows.floods,
            self.backlog,
            (capture_end, self.attempt_timeout),
        );
        let explain: BTreeMap<_, _> = AnomalyKind::ALL
            .iter()
            .map(|k| (k.id(), (k.severity().name(), k.summary())))
            .collect();
        // The page's data follows the rows, which are written as they are (not copied into
        // one buffer first).
        let mut data = Vec::with_capacity(1 << 16);
        data.extend_from_slice(b"],\"listeners\":");
        serde_json::to_writer(&mut data, &listeners).map_err(io::Error::other)?;
        data.extend_from_slice(b",\"pages\":");
        let shown: Vec<PageJson> = pages.iter().take(MAX_PAGES).map(PageJson::from).collect();
        serde_json::to_writer(&mut data, &shown).map_err(io::Error::other)?;
        data.extend_from_slice(b",\"explain\":");
        serde_json::to_writer(&mut data, &explain).map_err(io::Error::other)?;
        data.push(b'}');

        let files: Vec<&str> = run.files.iter().map(|f| f.name.as_str()).collect();
        let title = format!("tcpaudit: {}", files.join(", "));
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
             <title>{}</title><style>{CSS}</style></head><body>\n",
            esc(&title)
        )?;
        self.header(out, summary, &files)?;
        writeln!(
            out,
            "<section id=\"anomalies\"><h2>Anomalies</h2>{}<div class=\"filters\">\
             <input id=\"q\" type=\"search\" placeholder=\"filter: id, address, connection, detail\">\
             <select id=\"sev\"><option value=\"\">any severity</option><option>error</option>\
             <option>warning</option><option>notice</option><option>info</option></select>\
             <select id=\"kind\"><option value=\"\">any anomaly</option></select>\
             <span id=\"count\"></span></div>\
             <div class=\"scroll\"><table id=\"atable\"><thead><tr><th data-k=\"frame\">frame</th><th data-k=\"t\">time (s)</th>\
             <th data-k=\"id\">anomaly</th><th data-k=\"sev\">severity</th><th data-k=\"conn\">connection</th>\
             <th data-k=\"listener\">listener</th><th data-k=\"detail\">detail</th></tr></thead><tbody></tbody></table></div>\
             <div id=\"pager\"></div></section>",
            left_out(self.anomalies_left_out, "anomalies", MAX_ANOMALIES)
        )?;
        writeln!(
            out,
            "<section id=\"listeners\"><h2>Listeners</h2><p class=\"note\">Attempts per second, \
             the attempts pending (SYN seen, not completed, still in the table) against the \
             backlog threshold, the share completed, flood episodes shaded; the busiest \
             listeners, from the connection records.</p>{}\
             <div id=\"lcharts\"></div></section>",
            [
                (summary.aggregated_attempts > 0).then(|| {
                    format!(
                        "<p class=\"note warn\">{} attempts beyond the tracking caps were \
                         counted per listener but kept no record: the timelines leave them out \
                         (the syn_flood anomaly counts them).</p>",
                        summary.aggregated_attempts
                    )
                }),
                (rows.attempts_left_out > 0).then(|| {
                    format!(
                        "<p class=\"note warn\">The timelines draw the first {MAX_ATTEMPTS} \
                         attempts; {} more are left out.</p>",
                        rows.attempts_left_out
                    )
                }),
            ]
            .into_iter()
            .flatten()
            .collect::<String>()
        )?;
        writeln!(
            out,
            "<section id=\"waterfall\"><h2>Connections</h2>{}<p class=\"note\">One bar per \
             connection from its first to its last segment: handshake, data, close, then \
             TIME-WAIT; coloured by how it ended; flagged connections link to their ladder.</p>\
             <div class=\"legend\"><span class=\"k hs\">handshake</span><span class=\"k data\">\
             open</span><span class=\"k close\">closing</span><span class=\"k tw\">TIME-WAIT</span>\
             <span class=\"k rst\">reset</span><span class=\"k to\">timeout / capture end</span></div>\
             <div id=\"wf\"></div><div id=\"wpager\"></div></section>",
            left_out(self.conns_left_out, "connections", MAX_CONNS)
        )?;
        if !pages.is_empty() {
            writeln!(
                out,
                "<section id=\"pages\"><h2>Page loads</h2>{}<p class=\"note\">Per client, a \
                 DNS lookup and the connections opened to the addresses it gave (within 30 s): \
                 connect, TLS, each request (light: waiting for the first byte, dark: \
                 downloading), close; hover for times.</p><div id=\"pg\"></div></section>",
                left_out(
                    pages.len().saturating_sub(MAX_PAGES) as u64,
                    "page loads",
                    MAX_PAGES
                )
            )?;
        }
        writeln!(
            out,
            "<section id=\"ladders\"><h2>Flagged connections</h2>{}",
            left_out(ladders_left_out, "flagged connections", MAX_LADDERS)
        )?;
        if ladders.is_empty() {
            writeln!(
                out,
                "<p class=\"note\">No connection raised a warning or an error.</p>"
            )?;
        }
        for l in ladders {
            writeln!(out, "{l}")?;
        }
        writeln!(out, "</section>")?;
        write!(
            out,
            "<footer>tcpaudit {} · self-contained: open offline, nothing is fetched</footer>\
             <script id=\"data\" type=\"application/json\">",
            env!("CARGO_PKG_VERSION")
        )?;
        // Each piece starts and ends with JSON punctuation, so no "</" straddles two of them.
        for piece in [
            &b"{\"anomalies\":["[..],
            &rows.anomalies,
            b"],\"conns\":[",
            &rows.conns,
            &data,
        ] {
            write_in_script(out, piece)?;
        }
        writeln!(out, "</script><script>{JS}</script></body></html>")
    }

    fn header(&self, out: &mut impl Write, s: &Summary, files: &[&str]) -> io::Result<()> {
        let dur = match (s.first_ts, s.last_ts) {
            (Some(a), Some(b)) => b.since(a).as_secs_f64(),
            _ => 0.0,
        };
        let mut by_sev = [0u64; 4];
        for k in AnomalyKind::ALL {
            by_sev[k.severity() as usize] += s.anomaly_events[k.index()];
        }
        let card = |label: &str, value: String, class: &str| {
            format!(
                "<div class=\"card {class}\"><div class=\"v\">{value}</div><div class=\"l\">{label}</div></div>"
            )
        };
        writeln!(
            out,
            "<header><h1>tcpaudit</h1><div class=\"files\">{}</div></header><section id=\"summary\" class=\"cards\">{}{}{}{}{}{}{}</section>",
            esc(&files.join(", ")),
            card("packets", s.packets.to_string(), ""),
            card("connections", s.flows.connections.to_string(), ""),
            card("seconds", format!("{dur:.3}"), ""),
            card(
                "errors",
                by_sev[Severity::Error as usize].to_string(),
                "error"
            ),
            card(
                "warnings",
                by_sev[Severity::Warning as usize].to_string(),
                "warning"
            ),
            card(
                "notices",
                by_sev[Severity::Notice as usize].to_string(),
                "notice"
            ),
            card("info", by_sev[Severity::Info as usize].to_string(), "info"),
        )
    }
}

/// "Only the first N ... are shown" when some were left out.
fn left_out(n: u64, what: &str, max: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("<p class=\"note warn\">The first {max} {what} are shown; {n} more are not.</p>")
    }
}

/// Lowers the calling thread's scheduling priority (nice 10; threads it starts inherit it):
/// the report's helper threads then use what the analysis leaves of the CPUs instead of taking
/// turns with it. Best effort: where the system refuses, the priority stays as it was.
fn background() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no arguments; setpriority with the calling thread's id changes only
    // that thread's nice value (Linux keeps it per thread).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Writes JSON `data` inside a `<script>` element, where "</" would end the element: it is
/// written "<\\/", the same JSON (every "</" in JSON is inside a string, where "\\/" means "/").
fn write_in_script(out: &mut impl Write, data: &[u8]) -> io::Result<()> {
    let mut from = 0;
    for i in memchr::memmem::find_iter(data, b"</") {
        out.write_all(&data[from..=i])?;
        out.write_all(b"\\")?;
        from = i + 1;
    }
    out.write_all(&data[from..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzer::AnalyzerConfig;
    use crate::flow::testkit::replay;
    use crate::testutil::fin_closed;

    #[test]
    fn data_in_the_script_element_cannot_end_it() {
        let mut out = Vec::new();
        write_in_script(&mut out, br#"{"a":"</script><b>","b":"x</"}<"#).unwrap();
        assert_eq!(out, br#"{"a":"<\/script><b>","b":"x<\/"}<"#);
    }

    /// The report wants stories until its last ladder is picked (the first `MAX_LADDERS`
    /// flagged connections to close); connections not flagged do not count.
    #[test]
    fn stories_are_wanted_until_the_last_ladder_is_picked() {
        let rec = replay(&fin_closed()).records.remove(0);
        let serious = AnomalyKind::ALL
            .iter()
            .find(|k| k.flags_connection())
            .unwrap();
        let mut report = HtmlReport::new(&AnalyzerConfig::default(), Source::default());
        let wanted = report.stories_wanted();
        for id in 1..=2 * MAX_LADDERS as u64 {
            let mut r = rec.clone();
            r.id = id;
            if id % 2 == 0 {
                r.tally.counts = thin_vec::thin_vec![(*serious, 1)];
            }
            assert!(wanted.load(Ordering::Relaxed), "{id}");
            report.event(&Event::Closed(&r));
        }
        assert!(!wanted.load(Ordering::Relaxed));
        assert!(report.ladders.full());
    }

    #[test]
    fn timelines_count_every_attempt_and_the_waterfall_stops_at_its_cap() {
        let rec = replay(&fin_closed()).records.remove(0);
        let mut report = HtmlReport::new(&AnalyzerConfig::default(), Source::default());
        let n = MAX_CONNS + 10;
        for id in 1..=n as u64 {
            let mut r = rec.clone();
            r.id = id;
            report.event(&Event::Opened(&r));
            report.event(&Event::Closed(&r));
        }
        let rows = report.rows.finish();
        assert_eq!(rows.attempts.len(), n);
        assert_eq!(report.conns, MAX_CONNS);
        assert_eq!(report.conns_left_out, 10);
        // The waterfall's rows are JSON objects, one per connection kept.
        let conns: Vec<serde_json::Value> =
            serde_json::from_slice(&[b"[", &rows.conns[..], b"]"].concat()).unwrap();
        assert_eq!(conns.len(), MAX_CONNS);
        assert_eq!(conns[0]["orig"], "10.0.0.1:40000");
        assert_eq!(conns[0]["end"], 0.05);
    }
}

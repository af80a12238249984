//! The HTML report (`analyze --html FILE`): one self-contained file that opens offline (inline
//! CSS, JavaScript and SVG; nothing fetched): the capture summary, the anomalies in a table that
//! sorts and filters, per-listener timelines, a waterfall of the connections, and the ladder
//! diagram of every flagged connection with the RFC state of each side beside the arrows.
//!
//! Bounded for big captures: the table holds the first [`MAX_ANOMALIES`] anomalies, the
//! waterfall the first [`MAX_CONNS`] connections, the ladders the first [`MAX_LADDERS`] flagged
//! connections; the report says when it left some out. The data goes into the page as JSON,
//! which the page's script draws; the ladders are drawn here, as SVG.

mod timeline;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use self::timeline::{ListenerTimeline, timelines};
use super::RunInfo;
use super::json::DetailJson;
use super::ladder::{self, LadderMark, LadderSegment, esc};
use super::reread::{self, Picked};
use crate::analyzer::Summary;
use crate::detect::{Anomaly, AnomalyKind, Severity, Value};
use crate::event::{ConnRecord, Event};
use crate::time::Timestamp;
use crate::wire::Side;

/// Anomalies listed in the table at most.
pub const MAX_ANOMALIES: usize = 20_000;
/// Connections in the waterfall at most.
pub const MAX_CONNS: usize = 20_000;
/// Ladders drawn at most.
pub const MAX_LADDERS: usize = 100;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// One anomaly row.
#[derive(Serialize)]
struct AnomalyRow<'a> {
    frame: u64,
    /// Seconds since the capture's first packet.
    t: f64,
    id: &'static str,
    sev: &'static str,
    conn: Option<u64>,
    listener: Option<String>,
    /// As the JSON lines write it; the page shows it as `key=value` pairs.
    detail: DetailJson<'a>,
}

/// One connection of the waterfall (times in seconds since the capture's first packet).
#[derive(Serialize)]
pub(super) struct ConnRow {
    pub(super) id: u64,
    pub(super) orig: String,
    pub(super) resp: String,
    pub(super) start: f64,
    pub(super) end: f64,
    /// The handshake completed.
    pub(super) hs: Option<f64>,
    /// The first FIN.
    pub(super) fin: Option<f64>,
    /// TIME-WAIT's end.
    pub(super) tw: Option<f64>,
    pub(super) reason: &'static str,
    pub(super) state: &'static str,
    pub(super) anomalies: Vec<&'static str>,
    pub(super) flagged: bool,
    /// Opened by a SYN.
    #[serde(skip)]
    pub(super) attempt: bool,
}

/// The page's data.
#[derive(Serialize)]
struct Data<'a> {
    anomalies: &'a [AnomalyRow<'a>],
    conns: &'a [ConnRow],
    listeners: &'a [ListenerTimeline],
    explain: BTreeMap<&'static str, (&'static str, &'static str)>,
}

/// What the report keeps of a run, from its events.
#[derive(Default)]
pub struct HtmlReport {
    first_ts: Option<Timestamp>,
    anomalies: Vec<(Anomaly, Option<String>)>,
    anomalies_left_out: u64,
    conns: Vec<ConnRow>,
    conns_left_out: u64,
    /// Flagged connections whose ladders are drawn, with the anomalies raised on them.
    ladders: Vec<(ConnRecord, Vec<LadderMark>)>,
    flagged_left_out: u64,
    marks: BTreeMap<u64, Vec<LadderMark>>,
    backlog: u32,
    /// How long an unanswered attempt stays in the table (it counts as pending until then).
    attempt_timeout: f64,
}

impl HtmlReport {
    /// A report for a run with this configuration (the listener timelines mark its backlog,
    /// and count an attempt pending until its record left the table).
    pub fn new(cfg: &crate::analyzer::AnalyzerConfig) -> Self {
        HtmlReport {
            backlog: cfg.listeners.backlog,
            attempt_timeout: cfg.flow.attempt_timeout.as_secs_f64(),
            ..Default::default()
        }
    }

    /// Keeps what the report needs of `e`.
    pub fn event(&mut self, e: &Event<'_>) {
        match *e {
            Event::Opened(r) => {
                self.first_ts = Some(self.first_ts.map_or(r.first_ts, |t| t.min(r.first_ts)));
            }
            Event::Anomaly(a) => {
                if let Some(id) = a.conn_id {
                    self.marks.entry(id).or_default().push(LadderMark::of(a));
                }
                if self.anomalies.len() < MAX_ANOMALIES {
                    let listener = a.listener.map(|l| l.to_string());
                    self.anomalies.push((a.clone(), listener));
                } else {
                    self.anomalies_left_out += 1;
                }
            }
            Event::Closed(r) => self.closed(r),
            Event::StateChanged(..) | Event::Segment(..) => {}
        }
    }

    fn closed(&mut self, r: &ConnRecord) {
        let marks = self.marks.remove(&r.id).unwrap_or_default();
        let flag = r.tally.flagged();
        if flag {
            if self.ladders.len() < MAX_LADDERS {
                self.ladders.push((r.clone(), marks));
            } else {
                self.flagged_left_out += 1;
            }
        }
        if self.conns.len() >= MAX_CONNS {
            self.conns_left_out += 1;
            return;
        }
        let base = self.first_ts.unwrap_or(r.first_ts);
        let rel = |t: Timestamp| t.since(base).as_secs_f64();
        let story = r.story.as_deref();
        self.conns.push(ConnRow {
            id: r.id,
            orig: r.orig.to_string(),
            resp: r.resp.to_string(),
            start: rel(r.first_ts),
            end: rel(r.last_ts),
            hs: story.and_then(|m| m.third_ack).map(|m| rel(m.ts)),
            fin: story
                .and_then(|m| {
                    [m.first_fin[Side::Orig], m.first_fin[Side::Resp]]
                        .into_iter()
                        .flatten()
                        .map(|m| m.ts)
                        .min()
                })
                .map(rel),
            tw: story
                .and_then(|m| m.time_wait)
                .map(|(_, _, until)| rel(until)),
            reason: r.end_reason.map_or("open", |e| e.name()),
            state: r.zeek.conn_state(),
            anomalies: r.tally.counts.iter().map(|(k, _)| k.id()).collect(),
            flagged: flag,
            attempt: r.saw_start(),
        });
    }

    /// Writes the report to `path`, reading `files` again (frames passing `filter`, up to the
    /// last frame drawn) for the segments of the connections whose ladders it draws.
    pub fn write_file(
        &self,
        path: &Path,
        summary: &Summary,
        run: &RunInfo,
        files: &[String],
        filter: Option<&str>,
    ) -> Result<(), String> {
        let recs: Vec<&ConnRecord> = self.ladders.iter().map(|(r, _)| r).collect();
        let mut segs: Vec<Vec<LadderSegment>> = vec![Vec::new(); recs.len()];
        let picked = Picked::new(recs.iter().copied());
        reread::replay(files, filter, &picked, |i, _, _, seg| {
            segs[i].push(LadderSegment::of(seg, reread::side_of(recs[i], seg)));
        })?;
        let err = |e: io::Error| format!("{}: {e}", path.display());
        let mut out = io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
        self.write(&mut out, summary, run, &segs).map_err(err)?;
        out.flush().map_err(err)
    }

    /// Writes the page; `segments[i]` are the segments of the `i`th ladder (read again from the
    /// capture: keeping every open connection's segments in case it gets flagged costs more than
    /// a second read up to the last frame drawn).
    fn write(
        &self,
        out: &mut impl Write,
        summary: &Summary,
        run: &RunInfo,
        segments: &[Vec<LadderSegment>],
    ) -> io::Result<()> {
        let base = self.first_ts.or(summary.first_ts).unwrap_or(Timestamp(0));
        let anomalies: Vec<AnomalyRow> = self
            .anomalies
            .iter()
            .map(|(a, listener)| AnomalyRow {
                frame: a.frame,
                t: a.ts.since(base).as_secs_f64(),
                id: a.kind.id(),
                sev: a.severity.name(),
                conn: a.conn_id,
                listener: listener.clone(),
                detail: DetailJson(&a.detail),
            })
            .collect();
        let capture_end = summary.last_ts.map_or(0.0, |t| t.since(base).as_secs_f64());
        let listeners = timelines(
            &self.conns,
            &anomalies_of(&self.anomalies, base),
            self.backlog,
            (capture_end, self.attempt_timeout),
        );
        let explain = AnomalyKind::ALL
            .iter()
            .map(|k| (k.id(), (k.severity().name(), k.summary())))
            .collect();
        let data = serde_json::to_string(&Data {
            anomalies: &anomalies,
            conns: &self.conns,
            listeners: &listeners,
            explain,
        })
        .map_err(io::Error::other)?
        // Inside a <script> element, "</" would end it.
        .replace("</", "<\\/");

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
            if summary.aggregated_attempts > 0 {
                format!(
                    "<p class=\"note warn\">{} attempts beyond the tracking caps were counted \
                     per listener but kept no record: the timelines leave them out (the \
                     syn_flood anomaly counts them).</p>",
                    summary.aggregated_attempts
                )
            } else {
                String::new()
            }
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
        writeln!(
            out,
            "<section id=\"ladders\"><h2>Flagged connections</h2>{}",
            left_out(self.flagged_left_out, "flagged connections", MAX_LADDERS)
        )?;
        if self.ladders.is_empty() {
            writeln!(
                out,
                "<p class=\"note\">No connection raised a warning or an error.</p>"
            )?;
        }
        for (i, (r, marks)) in self.ladders.iter().enumerate() {
            let segs = segments.get(i).map_or(&[][..], Vec::as_slice);
            let kinds: Vec<&str> = r.tally.counts.iter().map(|(k, _)| k.id()).collect();
            writeln!(
                out,
                "<details id=\"conn-{id}\" class=\"conn\"{open}><summary><b>#{id}</b> {o} → {p} \
                 <span class=\"cs\">{cs}</span> {k}</summary>{svg}</details>",
                id = r.id,
                open = if i < 3 { " open" } else { "" },
                o = esc(&r.orig.to_string()),
                p = esc(&r.resp.to_string()),
                cs = r.zeek.conn_state(),
                k = kinds
                    .iter()
                    .map(|k| format!("<span class=\"tag\">{k}</span>"))
                    .collect::<String>(),
                svg = ladder::svg(r, segs, marks),
            )?;
        }
        writeln!(out, "</section>")?;
        writeln!(
            out,
            "<footer>tcpaudit {} · self-contained: open offline, nothing is fetched</footer>\
             <script id=\"data\" type=\"application/json\">{data}</script><script>{JS}</script>\
             </body></html>",
            env!("CARGO_PKG_VERSION")
        )
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

/// The listener anomalies (floods) with their extent, in seconds since `base`.
fn anomalies_of(a: &[(Anomaly, Option<String>)], base: Timestamp) -> Vec<(String, f64, f64)> {
    a.iter()
        .filter(|(a, l)| a.kind == AnomalyKind::SynFlood && l.is_some())
        .map(|(a, l)| {
            let t = a.ts.since(base).as_secs_f64();
            let num = |k: &str| a.detail.get(k).and_then(Value::as_f64);
            let start = num("start").map_or(t, |s| s - base.as_secs_f64());
            let end = num("end").map_or(t, |s| s - base.as_secs_f64());
            (l.clone().unwrap_or_default(), start, end)
        })
        .collect()
}

/// "Only the first N ... are shown" when some were left out.
fn left_out(n: u64, what: &str, max: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("<p class=\"note warn\">The first {max} {what} are shown; {n} more are not.</p>")
    }
}

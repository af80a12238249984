//! What `check` needs to know about a capture: a compact record per connection and every
//! listener episode, gathered by running the ordinary analysis.

use std::collections::HashMap;
use std::path::Path;

use crate::analyzer::{Analyzer, AnalyzerConfig};
use crate::capture::{CaptureSet, FrameIndex, PacketFilter};
use crate::detect::{AnomalyKind, Scope};
use crate::event::Event;
use crate::event::{CloseKind, ConnRecord, EndReason};
use crate::report::{HtmlReport, HtmlSource, InputFile, RunInfo};
use crate::run::{self, RunOptions, run_offline};
use crate::tcp::Half;
use crate::tcp::TcpState;
use crate::time::Duration;
use crate::wire::{Endpoint, Side};

/// One anomaly kind on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindCount {
    /// The kind.
    pub kind: AnomalyKind,
    /// Occurrences (segment kinds: exact, both directions).
    pub count: u64,
    /// Frame of the first occurrence, when it was reported.
    pub first_frame: Option<u64>,
}

/// What `check` keeps of one connection.
#[derive(Clone, Debug)]
pub struct ConnFacts {
    /// Record id.
    pub id: u64,
    /// Originator.
    pub orig: Endpoint,
    /// Responder.
    pub resp: Endpoint,
    /// First and last frame.
    pub frames: (u64, u64),
    /// Zeek conn_state.
    pub conn_state: &'static str,
    /// Zeek history.
    pub history: String,
    /// How it ended.
    pub end_reason: EndReason,
    /// Final originator state.
    pub orig_state: TcpState,
    /// Final responder state.
    pub resp_state: TcpState,
    /// Anomaly kinds with their counts.
    pub kinds: Vec<KindCount>,
    /// Retransmitted payload bytes, both directions.
    pub retransmitted_bytes: u64,
    /// Retransmitted segments, both directions.
    pub retransmitted_packets: u64,
    /// Out-of-order segments, both directions.
    pub out_of_order_packets: u64,
    /// Duplicate ACKs, both directions.
    pub duplicate_acks: u64,
    /// Zero-window advertisements, both directions.
    pub zero_windows: u64,
    /// Handshake round trip (SYN to the third ACK), when the capture saw all three.
    pub handshake_rtt: Option<Duration>,
    /// The side that sent the first FIN (`orig`, `resp`, `none`).
    pub active_closer: &'static str,
    /// How the FINs went (`four_way`, `three_way`, `simultaneous`, `none`).
    pub close: &'static str,
}

impl ConnFacts {
    /// Occurrences of `kind` on this connection.
    pub fn count(&self, kind: AnomalyKind) -> u64 {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .map_or(0, |k| k.count)
    }

    /// "connection 3 10.0.0.1:40000 -> 10.0.0.2:80 (frames 5-20)".
    pub fn describe(&self) -> String {
        format!(
            "connection {} {} -> {} (frames {}-{})",
            self.id, self.orig, self.resp, self.frames.0, self.frames.1
        )
    }

    fn from(c: &ConnRecord, first_frames: &HashMap<AnomalyKind, u64>) -> ConnFacts {
        let mut kinds: Vec<KindCount> = c
            .tally
            .counts
            .iter()
            .map(|(k, n)| KindCount {
                kind: *k,
                count: *n as u64,
                first_frame: first_frames.get(k).copied(),
            })
            .collect();
        kinds.extend(c.tally.seg_counts.iter().map(|(k, n)| KindCount {
            kind: *k,
            count: n[Side::Orig] as u64 + n[Side::Resp] as u64,
            first_frame: first_frames.get(k).copied(),
        }));
        let both = |f: fn(&Half) -> u64| f(c.half(Side::Orig)) + f(c.half(Side::Resp));
        ConnFacts {
            id: c.id,
            orig: c.orig,
            resp: c.resp,
            frames: (c.first_frame, c.last_frame),
            conn_state: c.zeek.conn_state(),
            history: c.zeek.history().to_string(),
            end_reason: c.end_reason.unwrap_or(EndReason::CaptureEnd),
            orig_state: c.states[Side::Orig],
            resp_state: c.states[Side::Resp],
            kinds,
            retransmitted_bytes: both(|h| h.rare().retransmitted_bytes),
            retransmitted_packets: both(|h| h.rare().retransmitted_packets as u64),
            out_of_order_packets: both(|h| h.rare().out_of_order_packets as u64),
            duplicate_acks: both(|h| h.rare().duplicate_acks as u64),
            zero_windows: both(|h| h.metrics.zero_windows as u64),
            handshake_rtt: c.handshake.rtt,
            active_closer: c.first_fin.map_or("none", Side::name),
            close: c
                .story
                .as_deref()
                .and_then(|m| m.close(c.tally.has(AnomalyKind::SimultaneousClose)))
                .map_or("none", CloseKind::name),
        }
    }
}

/// A listener episode (`syn_flood`, `half_open_backlog`, ...).
#[derive(Clone, Debug)]
pub struct ListenerEvent {
    /// The kind.
    pub kind: AnomalyKind,
    /// The listener.
    pub listener: Endpoint,
    /// First frame showing it.
    pub frame: u64,
}

/// Everything `check` evaluates for one capture.
#[derive(Clone, Debug, Default)]
pub struct CaptureFacts {
    /// Frames read.
    pub packets: u64,
    /// Connections, in id order.
    pub conns: Vec<ConnFacts>,
    /// Listener episodes.
    pub listener_events: Vec<ListenerEvent>,
    /// Errors reading the capture (file and byte offset).
    pub errors: Vec<String>,
}

impl CaptureFacts {
    /// Occurrences of `kind` over the capture.
    pub fn total(&self, kind: AnomalyKind) -> u64 {
        match kind.scope() {
            Scope::Listener | Scope::Host => self
                .listener_events
                .iter()
                .filter(|e| e.kind == kind)
                .count() as u64,
            _ => self.conns.iter().map(|c| c.count(kind)).sum(),
        }
    }

    /// Kinds seen, in catalogue order.
    pub fn kinds(&self) -> Vec<AnomalyKind> {
        AnomalyKind::ALL
            .iter()
            .copied()
            .filter(|k| self.total(*k) > 0)
            .collect()
    }
}

/// Why a capture could not be analysed at all (errors reading it are kept in
/// [`CaptureFacts::errors`] instead, with what could be read).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The `[analysis] filter` expression could not be compiled.
    #[error("{0}")]
    Filter(#[from] crate::capture::FilterError),
    /// Handing out the analysis failed (cannot happen: facts are kept in memory).
    #[error("{0}")]
    Io(std::io::Error),
}

/// Analyses `path` (frames passing `filter`, if any) and keeps what `check` needs.
/// With `html`, the capture's HTML report is written there too (an error writing it is one of
/// the capture's errors). `threads` as [`crate::run::run_offline`] takes them.
pub fn gather(
    path: &Path,
    cfg: AnalyzerConfig,
    filter: Option<&str>,
    html: Option<&Path>,
    threads: usize,
) -> Result<CaptureFacts, GatherError> {
    let filter_text = filter;
    let mut filter = filter.map(PacketFilter::new).transpose()?;
    let ahead = run::read_ahead(threads);
    let mut set = CaptureSet::open_counted(&[path.to_string_lossy().into_owned()], None, ahead);
    // Stories give the close's shape; they cost a few dozen bytes per record.
    let mut cfg = cfg;
    cfg.flow.keep_transitions = true;
    // Expectations may name Zeek's conn_state and history.
    cfg.flow.zeek_view = true;
    let index = FrameIndex::default();
    let mut report = html.map(|_| {
        HtmlReport::new(
            &cfg,
            HtmlSource {
                files: vec![path.to_string_lossy().into_owned()],
                filter: filter_text.map(str::to_owned),
                index: index.clone(),
            },
        )
    });
    let analyzer = Analyzer::new(cfg);
    let mut facts = CaptureFacts::default();
    let mut first_frames: HashMap<u64, HashMap<AnomalyKind, u64>> = HashMap::new();
    let mut on_event = |e: Event<'_>| {
        if let Some(r) = report.as_mut() {
            r.event(&e);
        }
        match e {
            Event::Anomaly(a) => match a.conn_id {
                Some(id) => {
                    first_frames
                        .entry(id)
                        .or_default()
                        .entry(a.kind)
                        .or_insert(a.frame);
                }
                None => {
                    if let Some(l) = a.listener {
                        facts.listener_events.push(ListenerEvent {
                            kind: a.kind,
                            listener: l,
                            frame: a.frame,
                        });
                    }
                }
            },
            Event::Closed(c) => {
                let frames = first_frames.remove(&c.id).unwrap_or_default();
                facts.conns.push(ConnFacts::from(c, &frames));
            }
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) | Event::App(_) => {}
        }
        Ok(())
    };
    // Given three threads or more, the connections are split among shards as `analyze` splits
    // them (the facts come from records and anomalies alone); the report reads every event.
    let file = path.to_string_lossy().into_owned();
    let mut again = || CaptureSet::open(std::slice::from_ref(&file));
    let opts = RunOptions {
        filter: filter.as_mut(),
        frame_index: html.is_some().then_some(&index),
        records_only: html.is_none(),
        writes_little: true,
        again: Some(&mut again),
        ..RunOptions::default()
    };
    let finished =
        run_offline(&mut set, analyzer, &mut on_event, opts, threads).map_err(GatherError::Io)?;
    facts.conns.sort_by_key(|c| c.id);
    facts.packets = finished.summary.packets;
    facts.errors = set.errors().iter().map(|e| e.to_string()).collect();
    if let (Some(out), Some(report)) = (html, report) {
        let run = RunInfo {
            files: InputFile::all(&set),
            capture: None,
            filter: None,
            errors: facts.errors.clone(),
            skipped_records: 0,
        };
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = report.write_file(out, &finished.summary, &run) {
            facts.errors.push(format!("HTML report: {e}"));
        }
    }
    Ok(facts)
}

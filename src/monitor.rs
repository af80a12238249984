//! `tcpaudit live`: what a live run shows besides the analysis. The shared run loop
//! ([`crate::run`]) reads the capture; this module decides what the person sees: records
//! streamed as they are decided, a view redrawn (or a status record written) every refresh,
//! the `-w` copy, and the capture's counters in the final summary.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::analyzer::{Analyzer, Summary};
use crate::capture::live::LiveSource;
use crate::capture::{CaptureWriter, Live};
use crate::event::Event;
use crate::report::live::{LiveStatus, anomaly_line};
use crate::report::live_view::{Newest, render, screen_size};
use crate::report::{LiveInfo, OpenConns, RunInfo, Sink};
use crate::run::{self, RunOptions, wall_clock};

/// How a live run shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// JSON lines: records as they are decided, a status record every refresh.
    Json,
    /// A terminal: the view is redrawn every refresh, the final report printed at the end.
    Terminal,
    /// Not a terminal: one line per anomaly as it is decided, the final report at the end.
    Log,
}

/// What a live run does besides analysing.
pub struct MonitorConfig {
    /// Time between view refreshes (and status records).
    pub refresh: Duration,
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// How progress is shown.
    pub view: View,
    /// The -w file, already open.
    pub writer: Option<(PathBuf, CaptureWriter)>,
    /// The filter expression (for the summary).
    pub filter: Option<String>,
}

/// What a finished live run hands back.
pub struct Outcome {
    /// The analysis summary.
    pub summary: Summary,
    /// The capture facts and errors, as printed in the summary.
    pub run: RunInfo,
}

/// Longest a record waits in the sink's buffer while frames keep coming. The output is written
/// in batches, not one system call per record (at 200,000 frames a second a JSON run writes
/// about 9,000 lines a second), and a reader still sees each record within this, or as soon as
/// the capture goes idle.
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// Where events, status and the view go; the first write error is kept and stops the run.
struct Outputs<'a> {
    sink: &'a mut dyn Sink,
    screen: &'a mut dyn Write,
    view: View,
    newest: Newest,
    /// The endpoints of the connections tracked, by id: an anomaly names only its connection's
    /// id, and the view and the log lines name the four-tuple (only kept for those).
    open: OpenConns,
    error: Option<io::Error>,
    /// Written to the sink since its last flush, and when that flush was.
    unflushed: bool,
    flushed_at: Instant,
}

impl Outputs<'_> {
    fn keep(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    fn event(&mut self, e: Event<'_>) {
        if self.view != View::Json {
            // Anomalies come before the Closed event of their connection, so its endpoints
            // are still here for them.
            self.open.event(&e);
            if let Event::Anomaly(a) = e {
                let tuple = self.open.get(a.conn_id).map(|c| (c.orig, c.resp));
                self.newest.push(a, tuple);
                if self.view == View::Log {
                    let r = writeln!(self.screen, "{}", anomaly_line(a, tuple));
                    return self.keep(r);
                }
            }
        }
        let r = self.sink.event(&e);
        self.keep(r);
        self.unflushed = true;
        if self.flushed_at.elapsed() >= FLUSH_AFTER {
            self.flush();
        }
    }

    /// Writes out what the sink holds.
    fn flush(&mut self) {
        if self.unflushed {
            let r = self.sink.flush();
            self.keep(r);
            self.unflushed = false;
        }
        self.flushed_at = Instant::now();
    }

    fn status(&mut self, status: &LiveStatus, interface: &str, backend: &str) {
        let r = match self.view {
            View::Json => self.sink.status(status),
            View::Terminal => {
                // Redrawn at the terminal's size each time, so a resize takes effect at the
                // next refresh.
                let size = screen_size().unwrap_or((80, 24));
                let text = render(status, interface, backend, &self.newest, size);
                // Home the cursor and clear the screen, then draw.
                write!(self.screen, "\x1b[H\x1b[2J{text}").and_then(|_| self.screen.flush())
            }
            View::Log => Ok(()),
        };
        self.keep(r);
        self.unflushed = true;
        self.flush();
    }
}

/// Runs the capture until a stop condition; every event goes to `sink`, the view to `screen`.
pub fn run(
    source: &mut dyn LiveSource,
    analyzer: Analyzer,
    mut cfg: MonitorConfig,
    sink: &mut dyn Sink,
    screen: &mut dyn Write,
    stop: &AtomicBool,
) -> io::Result<Outcome> {
    let view = cfg.view;
    let outs = RefCell::new(Outputs {
        sink,
        screen,
        view,
        newest: Newest::default(),
        open: OpenConns::default(),
        error: None,
        unflushed: false,
        flushed_at: Instant::now(),
    });
    let mut errors = Vec::new();
    let mut on_frame = |pkt: &crate::wire::Packet<'_>| {
        if let Some((path, w)) = &mut cfg.writer
            && let Err(e) = w.write(pkt)
        {
            errors.push(format!("{}: {e}", path.display()));
            cfg.writer = None;
        }
    };
    let mut refresh = |a: &Analyzer,
                       src: &mut dyn crate::capture::PacketSource,
                       p: &run::Progress| {
        let rate = p.frames_since_last as f64 / p.secs_since_last.max(1e-3);
        let status = LiveStatus::collect(a, src.capture_stats(), p.started_at, wall_clock(), rate);
        if let Some(info) = src.source_info() {
            outs.borrow_mut()
                .status(&status, &info.interface, info.backend);
        }
        Ok(())
    };
    let mut emit = |e: Event<'_>| {
        let mut o = outs.borrow_mut();
        o.event(e);
        o.error.take().map_or(Ok(()), Err)
    };
    let mut idle = || {
        let mut o = outs.borrow_mut();
        o.flush();
        o.error.take().map_or(Ok(()), Err)
    };
    let opts = RunOptions {
        count: cfg.count,
        duration: cfg.duration,
        stop: Some(stop),
        live: true,
        on_frame: Some(&mut on_frame),
        every: Some((cfg.refresh, &mut refresh)),
        on_idle: Some(&mut idle),
        ..RunOptions::default()
    };
    let finished = run::run(&mut Live(&mut *source), analyzer, &mut emit, opts)?;
    let mut outs = outs.into_inner();
    if let Some(e) = outs.error.take() {
        return Err(e);
    }
    if view == View::Terminal {
        write!(outs.screen, "\x1b[H\x1b[2J")?;
        outs.screen.flush()?;
    }
    if let Some(e) = &finished.source_error {
        errors.push(format!("capture on {}: {e}", source.info().interface));
    }
    let written = match cfg.writer.take() {
        Some((path, mut w)) => {
            if let Err(e) = w.flush() {
                errors.push(format!("{}: {e}", path.display()));
            }
            Some((path.display().to_string(), w.frames))
        }
        None => None,
    };
    let summary = finished.summary;
    if let Some(e) = &summary.stream_error {
        errors.push(e.clone());
    }
    let stats = source.stats();
    let info = source.info();
    let run = RunInfo {
        capture: Some(LiveInfo {
            interface: info.interface.clone(),
            backend: info.backend,
            link_type: info.link_type.to_string(),
            snaplen: info.snaplen,
            filter: cfg.filter.clone(),
            duration: finished.elapsed.as_secs_f64(),
            received: stats.received,
            dropped: stats.dropped,
            if_dropped: stats.if_dropped,
            loopback_copies: stats.loopback_copies,
            unread: stats.received.saturating_sub(
                stats.dropped + stats.loopback_copies + stats.user_filtered + finished.frames,
            ),
            written,
        }),
        errors,
        ..RunInfo::default()
    };
    Ok(Outcome { summary, run })
}

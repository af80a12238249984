//! `tcpaudit live`: the capture loop. It feeds the same sans-IO analyzer as `analyze`, streams
//! anomalies and connection records as they are decided, redraws a view (or writes status
//! records) every few seconds, moves the connection timers on wall-clock time when the link is
//! quiet, and ends cleanly on Ctrl-C, SIGTERM, `--count` or `--duration`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::analyzer::{Analyzer, Summary};
use crate::capture::CaptureWriter;
use crate::capture::live::{CaptureStats, LiveSource};
use crate::event::Event;
use crate::report::live::{LiveStatus, Newest, anomaly_line, render};
use crate::report::{LiveInfo, RunInfo, Sink};
use crate::time::Timestamp;

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

/// Wall-clock now, in the kernel's capture clock (CLOCK_REALTIME).
pub fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos() as i64)
}

/// After a stop request the ring is read until it is empty and at least this long has passed,
/// so no frame captured before the request is lost (a TPACKET_V3 block is handed over within
/// 50 ms)...
const DRAIN: Duration = Duration::from_millis(200);
/// ...but never longer than this, should traffic keep the ring from ever emptying; what is left
/// is counted as `unread`.
const DRAIN_MAX: Duration = Duration::from_secs(3);
/// Timers run this far behind the wall clock, so a frame still waiting in the ring cannot find
/// its connection already expired.
const TIMER_LAG: crate::time::Duration = crate::time::Duration::from_secs(1);

/// Where events, status and the view go; the first write error is kept and stops the run.
struct Outputs<'a> {
    sink: &'a mut dyn Sink,
    screen: &'a mut dyn Write,
    view: View,
    newest: Newest,
    error: Option<io::Error>,
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
        if let Event::Anomaly(a) = e {
            self.newest.push(a);
        }
        let r = match (self.view, e) {
            (View::Log, Event::Anomaly(a)) => writeln!(self.screen, "{}", anomaly_line(a)),
            _ => self.sink.event(&e),
        };
        self.keep(r);
    }

    fn status(&mut self, status: &LiveStatus, interface: &str, backend: &str) {
        let r = match self.view {
            View::Json => self.sink.status(status),
            View::Terminal => {
                let text = render(status, interface, backend, &self.newest);
                // Home the cursor and clear the screen, then draw.
                write!(self.screen, "\x1b[H\x1b[2J{text}").and_then(|_| self.screen.flush())
            }
            View::Log => Ok(()),
        };
        self.keep(r);
    }
}

/// Runs the capture until a stop condition; every event goes to `sink`, the view to `screen`.
pub fn run(
    source: &mut dyn LiveSource,
    mut analyzer: Analyzer,
    mut cfg: MonitorConfig,
    sink: &mut dyn Sink,
    screen: &mut dyn Write,
    stop: &AtomicBool,
) -> io::Result<Outcome> {
    let started = wall_clock();
    let t0 = Instant::now();
    let mut frames = 0u64;
    let mut last_refresh = Instant::now();
    let mut frames_at_refresh = 0u64;
    let mut errors = Vec::new();
    let mut stopping_since: Option<Instant> = None;
    let mut drained = false;
    let view = cfg.view;

    let mut outs = Outputs {
        sink,
        screen,
        view,
        newest: Newest::default(),
        error: None,
    };

    loop {
        let now = Instant::now();
        let stop_asked = stop.load(Ordering::Relaxed)
            || cfg.count.is_some_and(|c| frames >= c)
            || cfg.duration.is_some_and(|d| now.duration_since(t0) >= d)
            || outs.error.is_some();
        if stop_asked && stopping_since.is_none() {
            stopping_since = Some(now);
        }
        if let Some(since) = stopping_since {
            let waited = now.duration_since(since);
            if cfg.count.is_some_and(|c| frames >= c)
                || outs.error.is_some()
                || (waited >= DRAIN && drained)
                || waited >= DRAIN_MAX
            {
                break;
            }
        }
        let until_refresh = cfg.refresh.saturating_sub(now.duration_since(last_refresh));
        let wait = if stopping_since.is_some() {
            Duration::from_millis(20)
        } else {
            until_refresh.min(Duration::from_millis(100))
        };
        let got = source.next_packet(wait);
        drained = matches!(got, Ok(None));
        match got {
            Ok(Some(pkt)) => {
                frames += 1;
                if let Some((path, w)) = &mut cfg.writer
                    && let Err(e) = w.write(&pkt)
                {
                    errors.push(format!("{}: {e}", path.display()));
                    cfg.writer = None;
                }
                analyzer.push(&pkt, &mut |e| outs.event(e));
            }
            Ok(None) => {
                let lagged = wall_clock().add(crate::time::Duration(-TIMER_LAG.0));
                analyzer.tick(lagged, &mut |e| outs.event(e));
            }
            Err(e) => {
                errors.push(format!("capture on {}: {e}", source.info().interface));
                break;
            }
        }
        if last_refresh.elapsed() >= cfg.refresh {
            let elapsed = last_refresh.elapsed().as_secs_f64();
            let rate = (frames - frames_at_refresh) as f64 / elapsed.max(1e-3);
            last_refresh = Instant::now();
            frames_at_refresh = frames;
            let status =
                LiveStatus::collect(&analyzer, source.stats(), started, wall_clock(), rate);
            outs.status(&status, &source.info().interface, source.info().backend);
        }
    }

    let stats: CaptureStats = source.stats();
    let summary = analyzer.finish(&mut |e| outs.event(e));
    if view == View::Terminal {
        write!(outs.screen, "\x1b[H\x1b[2J")?;
        outs.screen.flush()?;
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
    if let Some(e) = &summary.stream_error {
        errors.push(e.clone());
    }
    let run = RunInfo {
        capture: Some(LiveInfo {
            interface: source.info().interface.clone(),
            backend: source.info().backend,
            link_type: source.info().link_type.to_string(),
            snaplen: source.info().snaplen,
            filter: cfg.filter.clone(),
            duration: t0.elapsed().as_secs_f64(),
            received: stats.received,
            dropped: stats.dropped,
            if_dropped: stats.if_dropped,
            loopback_copies: stats.loopback_copies,
            unread: stats.received.saturating_sub(
                stats.dropped + stats.loopback_copies + stats.user_filtered + frames,
            ),
            written,
        }),
        errors,
        ..RunInfo::default()
    };
    if let Some(e) = outs.error {
        return Err(e);
    }
    Ok(Outcome { summary, run })
}

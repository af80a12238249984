//! The one loop that drives every run (`analyze`, `live`, `check`): frames from a
//! [`PacketSource`] through the optional filter into the [`Analyzer`], events to the caller,
//! until the source ends or a stop condition holds; then the analyzer's final records.
//!
//! Live sources add two things files do not need: on a quiet link the connection timers move
//! on the wall clock, and a stop request first drains what the kernel already captured.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::analyzer::{Analyzer, Summary};
use crate::capture::{FrameIndex, Next, PacketFilter, PacketSource, SourceError};
use crate::event::Event;
use crate::time::Timestamp;
use crate::wire::Packet;

mod copied;
mod reading;
mod sharded;
mod threaded;

pub use threaded::{read_ahead, run_offline};

/// After a stop request a live source is read until it is empty and at least this long has
/// passed, so no frame captured before the request is lost (a TPACKET_V3 block is handed over
/// within 50 ms)...
const DRAIN: Duration = Duration::from_millis(200);
/// ...but never longer than this, should traffic keep the ring from ever emptying; what is left
/// is counted by the source as unread.
const DRAIN_MAX: Duration = Duration::from_secs(3);
/// Timers run this far behind the wall clock, so a frame still waiting in the ring cannot find
/// its connection already expired.
const TIMER_LAG: crate::time::Duration = crate::time::Duration::from_secs(1);
/// Longest wait for a live frame, so stop requests and refreshes are noticed promptly.
pub(crate) const MAX_WAIT: Duration = Duration::from_millis(100);

/// Frames handled between two readings of the clock while the source hands over frames it
/// already holds (a ring block read without waiting): the time the run acts on (stop, refresh,
/// wait) is at most this many frames' work late. At about 0.7 µs a frame that is some 45 µs,
/// while reading the clock for each frame costs 25-39 ns of the 0.7 µs.
const CLOCK_FRAMES: u32 = 64;

/// Wall-clock now, in the kernel's capture clock (CLOCK_REALTIME).
pub fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos() as i64)
}

/// A periodic call with the analyzer and the run's progress (live views, status records).
pub type Periodic<'a> =
    &'a mut dyn FnMut(&Analyzer, &mut dyn PacketSource, &Progress) -> io::Result<()>;

/// How a run reads and when it stops. The default reads a finite source to its end.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Only frames matching it are analysed (`--filter`).
    pub filter: Option<&'a mut PacketFilter>,
    /// Stop after this many frames (`--count`).
    pub count: Option<u64>,
    /// Stop after this long (`--duration`).
    pub duration: Option<Duration>,
    /// Stop when this becomes true (signals).
    pub stop: Option<&'a AtomicBool>,
    /// The source is live: wait for frames, move timers on the wall clock, drain on stop.
    pub live: bool,
    /// Called with every frame read, before it is analysed (`-w`).
    pub on_frame: Option<&'a mut dyn FnMut(&Packet<'_>)>,
    /// Called every so often (live only).
    pub every: Option<(Duration, Periodic<'a>)>,
    /// Called when a live source had no frame for a while (its timers were moved on): the
    /// moment to write out buffered output.
    pub on_idle: Option<&'a mut dyn FnMut() -> io::Result<()>>,
    /// Frames read so far, published every [`PUBLISH_EVERY`] frames and at the end, for a
    /// progress display on another thread.
    pub frames_read: Option<&'a AtomicU64>,
    /// Where analysed frames start in the file, noted every so often for a second read
    /// (`--html`, `-w`).
    pub frame_index: Option<&'a FrameIndex>,
    /// The emitter writes line-per-record output: it ignores [`Event::Segment`] and the
    /// [`Event::StateChanged`] of records whose roles never flipped (their endpoints are those
    /// [`Event::Opened`] showed). A run on two or more threads may then call it with copies of
    /// the other events on another thread than the engine's (the reading thread's with two, a
    /// thread of its own with three), so that writing the output (a JSON record costs some
    /// 16,000 instructions) overlaps the analysis; the events it ignores are not passed on.
    pub records_only: bool,
    /// The emitter's work per event is small (the terminal tables): not worth writing apart
    /// from the engine.
    pub writes_little: bool,
    /// Opens the capture again from its start. With it, a run on three threads or more may
    /// split the connections among shards (`run_offline`), reading the capture a second time
    /// on one thread where the shards' assumptions turn out wrong.
    pub again: Option<&'a mut dyn FnMut() -> crate::capture::CaptureSet>,
}

/// How often [`RunOptions::frames_read`] is brought up to date: rarely enough that the store
/// costs nothing per packet, often enough for a rate shown ten times a second.
pub const PUBLISH_EVERY: u64 = 4096;

/// Counts one frame read, bringing [`RunOptions::frames_read`] up to date every
/// [`PUBLISH_EVERY`] frames.
#[inline]
fn count_frame(frames: &mut u64, published: Option<&AtomicU64>) {
    *frames += 1;
    if frames.is_multiple_of(PUBLISH_EVERY) {
        publish(published, *frames);
    }
}

/// Publishes `frames` as the frames read so far, when someone asked for them.
fn publish(published: Option<&AtomicU64>, frames: u64) {
    if let Some(f) = published {
        f.store(frames, Ordering::Relaxed);
    }
}

/// How far a run has got.
#[derive(Debug)]
pub struct Progress {
    /// Frames read (filtered out or not).
    pub frames: u64,
    /// When the run started.
    pub started: Instant,
    /// The same, on the capture clock.
    pub started_at: Timestamp,
    /// Frames read since the previous periodic call.
    pub frames_since_last: u64,
    /// Seconds since the previous periodic call.
    pub secs_since_last: f64,
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct Finished {
    /// The analysis summary.
    pub summary: Summary,
    /// Frames read.
    pub frames: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// The error that ended the source early, if any.
    pub source_error: Option<SourceError>,
    /// How the connections were split: among how many shards, and, where a shard's
    /// assumption turned out wrong and the capture was analysed again on one table, why.
    pub split: Split,
}

/// How a run's connections were split among connection tables ([`RunOptions::again`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Shards the output came from (1: one table).
    pub shards: usize,
    /// The shards' assumption found wrong, when the capture was analysed again on one table.
    pub undone: Option<&'static str>,
}

impl Split {
    /// A run on one table.
    pub const ONE: Split = Split {
        shards: 1,
        undone: None,
    };
}

/// The first error writing events; once there is one, the run stops and later events are
/// dropped.
pub(crate) struct Emitter<'e> {
    pub(crate) emit: &'e mut dyn FnMut(Event<'_>) -> io::Result<()>,
    pub(crate) error: Option<io::Error>,
}

impl Emitter<'_> {
    /// What a run that made `summary` finished with, unless writing failed: then the first
    /// write error.
    pub(crate) fn finished(
        self,
        summary: Summary,
        (frames, started): (u64, Instant),
        source_error: Option<SourceError>,
        split: Split,
    ) -> io::Result<Finished> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(Finished {
            summary,
            frames,
            elapsed: started.elapsed(),
            source_error,
            split,
        })
    }

    pub(crate) fn event(&mut self, e: Event<'_>) {
        if self.error.is_none()
            && let Err(err) = (self.emit)(e)
        {
            self.error = Some(err);
        }
    }
}

/// Runs `analyzer` over `src` until it ends or a stop condition holds; every event goes to
/// `emit`. The first error `emit` or the periodic call returns stops the run and is returned.
///
/// Generic over the source so that reading a frame is a direct call, not a virtual one: it
/// happens once per packet.
pub fn run<S: PacketSource>(
    src: &mut S,
    mut analyzer: Analyzer,
    emit: &mut dyn FnMut(Event<'_>) -> io::Result<()>,
    mut opts: RunOptions<'_>,
) -> io::Result<Finished> {
    let mut out = Emitter { emit, error: None };
    let mut progress = Progress {
        frames: 0,
        started: Instant::now(),
        started_at: wall_clock(),
        frames_since_last: 0,
        secs_since_last: 0.0,
    };
    let mut last_call = Instant::now();
    let mut frames_at_last_call = 0;
    let mut stopping_since: Option<Instant> = None;
    let mut drained = false;
    let mut source_error = None;
    // Reading the clock costs more than handling a packet of a file: only runs that wait,
    // refresh or stop after a time need it, and they need it again only once the source waited
    // (time passed) or after `CLOCK_FRAMES` frames taken from what it had already received.
    let timed = opts.live || opts.duration.is_some() || opts.every.is_some();
    let mut now = progress.started;
    let mut frames_since_clock = 0u32;
    loop {
        if timed && (src.waited() || frames_since_clock >= CLOCK_FRAMES) {
            now = Instant::now();
            frames_since_clock = 0;
        }
        let count_reached = opts.count.is_some_and(|c| progress.frames >= c);
        let stop_asked = count_reached
            || out.error.is_some()
            || opts.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            || opts
                .duration
                .is_some_and(|d| now.duration_since(progress.started) >= d);
        if stop_asked && stopping_since.is_none() {
            stopping_since = Some(now);
        }
        if let Some(since) = stopping_since {
            let waited = now.duration_since(since);
            if !opts.live
                || count_reached
                || out.error.is_some()
                || (waited >= DRAIN && drained)
                || waited >= DRAIN_MAX
            {
                break;
            }
        }
        let wait = match (&opts.every, stopping_since) {
            (_, Some(_)) => Duration::from_millis(20),
            (Some((every, _)), None) => every
                .saturating_sub(now.duration_since(last_call))
                .min(MAX_WAIT),
            (None, None) => MAX_WAIT,
        };
        let got = src.next(wait);
        drained = matches!(got, Ok(Next::Idle));
        match got {
            Ok(Next::Packet(pkt)) => {
                frames_since_clock += 1;
                count_frame(&mut progress.frames, opts.frames_read);
                if let Some(f) = opts.on_frame.as_mut() {
                    f(&pkt);
                }
                if opts.filter.as_mut().is_none_or(|f| f.matches(&pkt)) {
                    analyzer.push(&pkt, &mut |e| out.event(e));
                    if let Some(ix) = opts.frame_index {
                        ix.note(analyzer.frames(), || src.record_offset());
                    }
                }
            }
            Ok(Next::Idle) if opts.live => {
                let lagged = wall_clock().sub(TIMER_LAG);
                analyzer.tick(lagged, &mut |e| out.event(e));
                if let Some(idle) = opts.on_idle.as_mut()
                    && let Err(e) = idle()
                    && out.error.is_none()
                {
                    out.error = Some(e);
                }
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) => break,
            Err(e) => {
                source_error = Some(e);
                break;
            }
        }
        if let Some((every, call)) = opts.every.as_mut()
            && now.duration_since(last_call) >= *every
        {
            progress.secs_since_last = last_call.elapsed().as_secs_f64();
            progress.frames_since_last = progress.frames - frames_at_last_call;
            last_call = Instant::now();
            frames_at_last_call = progress.frames;
            if let Err(e) = call(&analyzer, src, &progress)
                && out.error.is_none()
            {
                out.error = Some(e);
            }
        }
    }
    publish(opts.frames_read, progress.frames);
    let summary = analyzer.finish(&mut |e| out.event(e));
    out.finished(
        summary,
        (progress.frames, progress.started),
        source_error,
        Split::ONE,
    )
}

/// A thread's result, its panic carried on.
fn joined<T>(r: std::thread::Result<T>) -> T {
    match r {
        Ok(done) => done,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Runs the analysis configured by `cfg` over capture `file`, every event to `on_event` (for
/// tests that sweep the fixtures); returns the summary.
#[cfg(test)]
pub(crate) fn run_capture(
    file: &std::path::Path,
    cfg: crate::analyzer::AnalyzerConfig,
    mut on_event: impl FnMut(Event<'_>),
) -> crate::analyzer::Summary {
    let mut set = crate::capture::CaptureSet::open(&[file.display().to_string()]);
    let mut emit = |e: Event<'_>| {
        on_event(e);
        Ok(())
    };
    run(
        &mut set,
        Analyzer::new(cfg),
        &mut emit,
        RunOptions::default(),
    )
    .unwrap()
    .summary
}

#[cfg(test)]
mod same_findings;

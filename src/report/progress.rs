//! The progress bar of a run over capture files, on standard error: bytes read of the total,
//! packets per second, time left (a spinner when the total is unknown: standard input).
//!
//! The run loop never touches the bar: a thread of its own reads the byte count the file
//! reader keeps (updated once per read of up to a megabyte) and the frame count the loop
//! publishes every few thousand frames, ten times a second, and draws from them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capture::BytesRead;

/// How often the bar is brought up to date.
const TICK: Duration = Duration::from_millis(100);
/// Runs shorter than this show no bar at all (no flicker before a small file's report).
const DELAY: Duration = Duration::from_millis(400);

/// A progress bar drawn while a run reads its files; erased by [`finish`](Self::finish) or
/// when dropped.
pub struct FileProgress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    bar: ProgressBar,
}

impl FileProgress {
    /// Starts drawing on standard error: `read` bytes of `total` (unknown: a spinner), `frames`
    /// frames read. The caller decides that standard error is a terminal worth drawing on.
    pub fn start(read: BytesRead, total: Option<u64>, frames: Arc<AtomicU64>) -> FileProgress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let style = match total {
            Some(_) => ProgressStyle::with_template(
                "{bytes:>10} of {total_bytes:<10} {wide_bar} {msg} · {eta} left",
            ),
            None => ProgressStyle::with_template("{spinner} {bytes:>10} read · {msg}"),
        }
        .expect("a valid template")
        .progress_chars("━╸ ");
        bar.set_style(style);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (bar, stop) = (bar.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || tick(&bar, &stop, &read, &frames))
                .ok()
        };
        FileProgress { stop, thread, bar }
    }

    /// Stops drawing and erases the bar, so the report starts on a clean line.
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for FileProgress {
    fn drop(&mut self) {
        self.end();
    }
}

/// The bar's thread: every [`TICK`] the position from the byte count and the rate from the
/// frame count (smoothed over about a second), until `stop`.
fn tick(bar: &ProgressBar, stop: &AtomicBool, read: &BytesRead, frames: &AtomicU64) {
    let started = Instant::now();
    let (mut last_at, mut last_frames, mut rate) = (started, 0u64, None::<f64>);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let now = Instant::now();
        let n = frames.load(Ordering::Relaxed);
        let secs = now.duration_since(last_at).as_secs_f64();
        // The frame count moves in steps of a few thousand: rate only once it has moved.
        if n > last_frames && secs > 0.0 {
            let instant = (n - last_frames) as f64 / secs;
            rate = Some(rate.map_or(instant, |r| 0.8 * r + 0.2 * instant));
            (last_at, last_frames) = (now, n);
        }
        if now.duration_since(started) < DELAY {
            continue;
        }
        bar.set_position(read.get());
        if bar.length().is_none() {
            // The spinner turns on ticks, not on position changes.
            bar.tick();
        }
        bar.set_message(format!(
            "{} packets, {}/s",
            HumanCount(n),
            HumanCount(rate.unwrap_or(0.0) as u64)
        ));
    }
}

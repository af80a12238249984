//! A run over capture files on two threads: one reads, screens and decodes frames (the
//! analyzer's [`Intake`]), the other accounts them to connections and writes the output (its
//! [`crate::analyzer::Engine`]). The halves meet only through [`Batch`]es handed over in order,
//! and nothing goes back from the engine to the intake, so the output is the one thread's, byte
//! for byte.
//!
//! More threads are not used: the engine is one thread, because what one connection's segment
//! does can depend on state shared between connections (a listener's flood verdict, a host's
//! ISN sketch, the capture's one-sidedness, the memory bound). Writing the output on a third
//! thread was measured to cost more than it saves: every event would be copied out with its
//! whole record.
//!
//! Live captures keep one thread: they wait on the ring, move timers on the wall clock and call
//! the live view in between, all of which wants the two halves together.

use std::io;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use crate::analyzer::{Analyzer, Batch, Intake};
use crate::capture::{FrameIndex, Next, PacketFilter, PacketSource, SourceError};
use crate::event::Event;

use super::{Emitter, Finished, MAX_WAIT, RunOptions, count_frame, publish};

/// Batches decoded ahead of the engine: enough to ride out a slow stretch on either side,
/// few enough that the memory they hold (about 200 KB each without payload) stays small.
const QUEUE: usize = 8;

/// Runs `analyzer` over `src` like [`super::run`], on `threads` threads: with two or more the
/// intake gets a thread of its own (more are not used: the module's documentation says why). Runs
/// that need the halves together (live sources, periodic calls, a callback per frame) use one.
pub fn run_offline<S: PacketSource + Send>(
    src: &mut S,
    analyzer: Analyzer,
    emit: &mut dyn FnMut(Event<'_>) -> io::Result<()>,
    opts: RunOptions<'_>,
    threads: usize,
) -> io::Result<Finished> {
    if threads < 2 || opts.live || opts.every.is_some() || opts.on_frame.is_some() {
        return super::run(src, analyzer, emit, opts);
    }
    let started = Instant::now();
    let mut out = Emitter { emit, error: None };
    let (intake, mut engine) = analyzer.split();
    let payload = engine.reads_payload();
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(QUEUE);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    let halt = AtomicBool::new(false);
    let front = Front {
        intake,
        filter: opts.filter,
        count: opts.count,
        stop: opts.stop,
        frames_read: opts.frames_read,
        frame_index: opts.frame_index,
        halt: &halt,
        full: full_tx,
        empty: empty_rx,
        payload,
    };
    let (intake, frames, source_error) = thread::scope(|s| {
        let reader = thread::Builder::new()
            .name("tcpaudit-decode".into())
            .spawn_scoped(s, || front.run(src))?;
        for mut batch in full_rx {
            batch.drain(&mut |outside, d| engine.take(outside, d, &mut |e| out.event(e)));
            if out.error.is_some() {
                halt.store(true, Ordering::Relaxed);
            }
            // The reader may have finished and gone: the batch is simply dropped then.
            let _ = empty_tx.send(batch);
        }
        match reader.join() {
            Ok(done) => Ok::<_, io::Error>(done),
            Err(p) => panic::resume_unwind(p),
        }
    })?;
    let summary = Analyzer::join(intake, engine).finish(&mut |e| out.event(e));
    if let Some(e) = out.error {
        return Err(e);
    }
    Ok(Finished {
        summary,
        frames,
        elapsed: started.elapsed(),
        source_error,
    })
}

/// The reading thread's part.
struct Front<'a> {
    intake: Intake,
    filter: Option<&'a mut PacketFilter>,
    count: Option<u64>,
    stop: Option<&'a AtomicBool>,
    frames_read: Option<&'a AtomicU64>,
    frame_index: Option<&'a FrameIndex>,
    /// Set by the engine when the output failed: reading stops.
    halt: &'a AtomicBool,
    full: mpsc::SyncSender<Batch>,
    empty: mpsc::Receiver<Batch>,
    payload: bool,
}

impl Front<'_> {
    /// Reads `src` to its end (or a stop condition), handing batches over; gives back the
    /// intake, the frames read and the error that ended the source early, if any.
    fn run<S: PacketSource>(mut self, src: &mut S) -> (Intake, u64, Option<SourceError>) {
        let mut batch = Batch::new(self.payload);
        let mut frames = 0u64;
        let mut source_error = None;
        loop {
            if self.count.is_some_and(|c| frames >= c)
                || self.halt.load(Ordering::Relaxed)
                || self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            {
                break;
            }
            match src.next(MAX_WAIT) {
                Ok(Next::Packet(pkt)) => {
                    count_frame(&mut frames, self.frames_read);
                    if self.filter.as_mut().is_none_or(|f| f.matches(&pkt)) {
                        self.intake
                            .push(&pkt, &mut |outside, d| batch.push(outside, d));
                        if let Some(ix) = self.frame_index {
                            ix.note(self.intake.frames(), || src.record_offset());
                        }
                        if batch.is_full() && !self.hand_over(&mut batch) {
                            break;
                        }
                    }
                }
                Ok(Next::Idle) => {}
                Ok(Next::End) => break,
                Err(e) => {
                    source_error = Some(e);
                    break;
                }
            }
        }
        publish(self.frames_read, frames);
        // Frames the clock still holds are the capture's last.
        self.intake.end(&mut |outside, d| batch.push(outside, d));
        if !batch.is_empty() {
            self.hand_over(&mut batch);
        }
        (self.intake, frames, source_error)
    }

    /// Hands `batch` to the engine and takes an emptied one back (or a new one); false when
    /// the engine has gone.
    fn hand_over(&self, batch: &mut Batch) -> bool {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Batch::new(self.payload));
        self.full.send(std::mem::replace(batch, next)).is_ok()
    }
}

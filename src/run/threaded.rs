//! A run over capture files on two threads: one reads, screens and decodes frames (the
//! analyzer's [`Intake`]), the other accounts them to connections (its
//! [`crate::analyzer::Engine`]) and writes the output, unless it is written apart (below). The
//! halves meet only through [`Batch`]es handed over in order, and nothing goes back from the
//! engine to the intake, so the output is the one thread's, byte for byte.
//!
//! A line-per-record output ([`super::RunOptions::records_only`], but for the terminal tables,
//! which write little) is written apart from the engine, which runs on a thread of its own
//! ([`copying`]): writing a JSON record costs as much as a few segments' analysis. With two
//! threads it is written on the reading thread, between the batches it hands over
//! ([`write_while_reading`]): reading and decoding take a third of the engine's time or less,
//! so that thread mostly waits. With a third thread and a run whose connections are not split,
//! it is written on the third (the caller's). What crosses is small: a record opening as its
//! [`crate::event::Opening`], a finished record as its connection itself (the table hands it
//! over instead of dropping it), an anomaly boxed. The writer takes them in the engine's order,
//! so the output is again the one thread's.
//!
//! Given three threads or more and a capture that can be read again, the engine itself is split
//! instead, its connections among shards ([`super::sharded`]), unless something in the run
//! spans connections beyond what the shards' merge keeps in one place (the application layer,
//! stream files, stories kept for a report): then the records are written apart as above.
//!
//! Live captures keep one thread: they wait on the ring, move timers on the wall clock and call
//! the live view in between, all of which wants the two halves together.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, ScopedJoinHandle};
use std::time::Instant;

use crate::analyzer::{Analyzer, AnalyzerConfig, Batch, Engine, Intake, Summary};
use crate::capture::{PacketSource, ReadAhead, SourceError};
use crate::event::Event;

use super::copied::{Copied, EVENTS};
use super::reading::{Hand, Reading};
use super::{Emitter, Finished, RunOptions, Split, joined};
use crate::flow::Connection;

/// Batches decoded ahead of the engine: enough to ride out a slow stretch on either side,
/// few enough that the memory they hold (about 200 KB each without payload) stays small.
const QUEUE: usize = 8;

/// Runs `analyzer` over `src` like [`super::run`], on `threads` threads: with two or more the
/// intake gets a thread of its own; with three or more the connections are split among
/// `threads - 1` shards where the run allows it (the module's documentation says when). A
/// records-only emitter writes on the reading thread with two, on a thread of its own with
/// three or more where the connections are not split. Runs that need the halves together
/// (live sources, periodic calls, a callback per frame) use one.
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
    // Given a third thread, the engine's own work is split (the reading thread and N - 1
    // shards), where every connection's analysis is its own and the capture can be read again.
    if threads >= 3
        && opts.records_only
        && opts.again.is_some()
        && opts.frame_index.is_none()
        && analyzer.shardable()
    {
        return super::sharded::run_sharded(src, analyzer, emit, opts, threads - 1);
    }
    let started = Instant::now();
    let mut out = Emitter { emit, error: None };
    let cfg = *analyzer.config();
    let (intake, mut engine) = analyzer.split();
    let payload = engine.reads_payload();
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(QUEUE);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    let halt = AtomicBool::new(false);
    let reading = Reading {
        intake,
        filter: opts.filter,
        count: opts.count,
        stop: opts.stop,
        frames_read: opts.frames_read,
        frame_index: opts.frame_index,
        halt: &halt,
    };
    let mut batches = Batches {
        batch: Batch::new(payload),
        full: full_tx,
        empty: empty_rx,
        payload,
    };
    // A line-per-record output is written apart from the engine: on a third thread when there
    // is one, else on the reading thread, which waits on the engine most of the time.
    let apart = writes_apart(opts.records_only, opts.writes_little);
    let (summary, frames, source_error) = thread::scope(|s| {
        if apart && threads == 2 {
            let engine = ((engine, cfg), (full_rx, empty_tx));
            return write_while_reading(s, reading, src, batches, engine, &mut out);
        }
        let reader = thread::Builder::new()
            .name("tcpaudit-decode".into())
            .spawn_scoped(s, move || reading.run(src, &mut batches))?;
        if apart {
            let read = move || Some(joined(reader.join()));
            let (copies, analysis) =
                copying(s, (engine, cfg), (full_rx, empty_tx), read, false, &halt)?;
            let mut writer = Writer {
                copies,
                out: &mut out,
                halt: &halt,
            };
            writer.write_all();
            return Ok(analysed(analysis));
        }
        for mut batch in full_rx {
            batch.drain(&mut |outside, d| engine.take(outside, d, &mut |e| out.event(e)));
            if out.error.is_some() {
                halt.store(true, Ordering::Relaxed);
            }
            // The reader may have finished and gone: the batch is simply dropped then.
            let _ = empty_tx.send(batch);
        }
        let (intake, frames, source_error) = joined(reader.join());
        let summary = Analyzer::join(intake, engine, cfg).finish(&mut |e| out.event(e));
        Ok::<_, io::Error>((summary, frames, source_error))
    })?;
    out.finished(summary, (frames, started), source_error, Split::ONE)
}

/// Whether a run's output is written apart from the engine's thread, given what its emitter
/// reads and writes ([`RunOptions::records_only`], [`RunOptions::writes_little`]).
fn writes_apart(records_only: bool, writes_little: bool) -> bool {
    records_only && !writes_little
}

/// Which files a run on `threads` threads reads ahead ([`ReadAhead`]): on two threads the
/// reading thread has time enough to spare to copy plain files out of the page cache itself,
/// whether the engine writes the output or the reading thread does (the line-per-record
/// formats), and a third thread copying them would compete with the two for two cores.
/// Measured on a generated capture of 2 million frames (1.69 GB, with payloads): with the table,
/// the same time or less for 6% less CPU on an idle machine, 0.83x the time beside a process
/// busy on one of two cores; with JSON, 0.90x the time for 0.87x the CPU beside a process busy
/// on one core (an earlier build took 1.07x the time on an idle machine, where a third thread
/// finds a core free; README, "Performance").
pub fn read_ahead(threads: usize) -> ReadAhead {
    if threads == 2 {
        ReadAhead::Compressed
    } else {
        ReadAhead::All
    }
}

/// What the reading thread hands back: the intake, the frames read and the error that ended the
/// source early, if any.
type Read = (Intake, u64, Option<SourceError>);

/// The engine on a thread of its own, copying out the events a records-only emitter writes
/// (see [`super::RunOptions::records_only`]) for another thread to write, in the engine's order.
/// `read` gives it the reading thread's result once the batches have ended (None: the reading
/// thread is unwinding); `to_reader`: the reading thread is the one that writes. Returns the
/// copies' side of the hand-over and the engine's thread.
fn copying<'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    (mut engine, cfg): (Engine, AnalyzerConfig),
    (full, empty): EngineBatches,
    read: impl FnOnce() -> Option<Read> + Send + 'scope,
    to_reader: bool,
    halt: &'scope AtomicBool,
) -> io::Result<(Copies, ScopedJoinHandle<'scope, Option<Analysed>>)> {
    let (copies_tx, copies_rx) = if to_reader {
        // Unbounded, so that the reading thread, which writes, never waits on the engine while
        // the engine waits on it. What it holds stays bounded all the same: the engine copies
        // only what the batches it was handed give, and the reading thread writes every copy
        // waiting before it hands over the next batch (at the end, the copies of the
        // connections still open, which the table held until then).
        let (tx, rx) = mpsc::channel::<Vec<Copied>>();
        (Handover::Unbounded(tx), rx)
    } else {
        // A thread that only writes: the engine waits when it is that far ahead.
        let (tx, rx) = mpsc::sync_channel::<Vec<Copied>>(QUEUE);
        (Handover::Bounded(tx), rx)
    };
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<Copied>>();
    let analysis = thread::Builder::new()
        .name("tcpaudit-engine".into())
        .spawn_scoped(s, move || {
            let (spent_tx, spent) = mpsc::channel();
            engine.set_spent(Box::new(move |c| {
                let _ = spent_tx.send(c);
            }));
            let mut copier = Copier {
                copies: Vec::with_capacity(EVENTS),
                waiting: false,
                spent,
                full: copies_tx,
                spare: spare_rx,
                halt,
            };
            for mut batch in full {
                batch.drain(&mut |outside, d| engine.take(outside, d, &mut |e| copier.push(&e)));
                let _ = empty.send(batch);
            }
            let (intake, frames, source_error) = read()?;
            let summary = Analyzer::join(intake, engine, cfg).finish(&mut |e| copier.push(&e));
            copier.finish();
            Some((summary, frames, source_error))
        })?;
    Ok((
        Copies {
            full: copies_rx,
            spare: spare_tx,
        },
        analysis,
    ))
}

/// The engine's side of the batches: full ones to take, emptied ones to give back.
type EngineBatches = (mpsc::Receiver<Batch>, mpsc::Sender<Batch>);

/// What the engine's thread of [`copying`] gives back: the run's summary, the frames read and
/// the error that ended the source early, if any.
type Analysed = (Summary, u64, Option<SourceError>);

/// The result of [`copying`]'s thread, its panic carried on.
fn analysed(analysis: ScopedJoinHandle<'_, Option<Analysed>>) -> Analysed {
    // None only when the reading thread unwound, which its own join carries on.
    joined(analysis.join())
        .unwrap_or_else(|| unreachable!("the engine ended without the reading thread's result"))
}

/// The copies of [`copying`], as they come, and the way their vectors go back.
struct Copies {
    full: mpsc::Receiver<Vec<Copied>>,
    spare: mpsc::Sender<Vec<Copied>>,
}

/// Writes the copies of [`copying`] with the run's emitter.
struct Writer<'a, 'e> {
    copies: Copies,
    out: &'a mut Emitter<'e>,
    /// Set once writing failed, for the reading and engine threads to stop.
    halt: &'a AtomicBool,
}

impl Writer<'_, '_> {
    /// Writes one hand-over of copies.
    fn write(&mut self, copies: Vec<Copied>) {
        for c in &copies {
            c.emit(&mut |e| self.out.event(e));
        }
        if self.out.error.is_some() {
            self.halt.store(true, Ordering::Relaxed);
        }
        // The copies go back whole, to be dropped by the thread that made them: memory freed
        // on another thread than the one that allocated it contends for the allocator's lock
        // (measured: 0.8% of the engine's time waking the lock's waiters). The engine may have
        // finished and gone: the vector is simply dropped here then.
        let _ = self.copies.spare.send(copies);
    }

    /// Writes the copies already handed over, without waiting for more.
    fn write_waiting(&mut self) {
        while let Ok(copies) = self.copies.full.try_recv() {
            self.write(copies);
        }
    }

    /// Writes every copy until the engine has finished.
    fn write_all(&mut self) {
        while let Ok(copies) = self.copies.full.recv() {
            self.write(copies);
        }
    }
}

/// A two-thread run whose records are written on the reading thread (this one) while the
/// engine runs on the other: reading and decoding take the engine a third of its time or less,
/// so the reading thread mostly waits, and writing a JSON record costs as much as a few
/// segments' analysis. The reading thread writes what has been copied each time it hands over
/// a batch, and everything left once the capture has been read.
fn write_while_reading<'scope, S: PacketSource>(
    s: &'scope thread::Scope<'scope, '_>,
    reading: Reading<'scope>,
    src: &mut S,
    batches: Batches,
    (engine, handed): ((Engine, AnalyzerConfig), EngineBatches),
    out: &mut Emitter<'_>,
) -> io::Result<Analysed> {
    let halt = reading.halt;
    let (read_tx, read_rx) = mpsc::sync_channel::<Read>(1);
    let read = move || read_rx.recv().ok();
    let (copies, analysis) = copying(s, engine, handed, read, true, halt)?;
    let mut hand = Writing {
        batches,
        writer: Writer { copies, out, halt },
    };
    let read = reading.run(src, &mut hand);
    let Writing {
        batches,
        mut writer,
    } = hand;
    // The engine's batches end here; the engine finishes with what was read.
    drop(batches);
    let _ = read_tx.send(read);
    writer.write_all();
    Ok(analysed(analysis))
}

/// The reading thread's hand of [`write_while_reading`]: the batches for the engine, and the
/// copies to write each time one is handed over.
struct Writing<'a, 'e> {
    batches: Batches,
    writer: Writer<'a, 'e>,
}

impl Hand for Writing<'_, '_> {
    #[inline]
    fn push(&mut self, outside: usize, d: crate::analyzer::Decoded<'_>) {
        self.batches.push(outside, d);
    }

    fn is_full(&self) -> bool {
        self.batches.is_full()
    }

    fn pass_on(&mut self, last: bool) -> bool {
        self.writer.write_waiting();
        self.batches.pass_on(last)
    }
}

/// The engine thread's side of [`copying`]: copies of events, handed over in order.
struct Copier<'a> {
    copies: Vec<Copied>,
    /// The last copy is a finished record whose connection has not been taken yet (the table
    /// hands it over right after the record's event).
    waiting: bool,
    /// The connections the table is done with, in the order of their records.
    spent: mpsc::Receiver<Box<Connection>>,
    full: Handover,
    spare: mpsc::Receiver<Vec<Copied>>,
    /// Set once writing failed: nothing more is copied.
    halt: &'a AtomicBool,
}

impl Copier<'_> {
    /// Copies `e` when it is one the emitter reads.
    fn push(&mut self, e: &Event<'_>) {
        if self.halt.load(Ordering::Relaxed) {
            // Nothing is written any more: the finished connections are only dropped.
            while self.spent.try_recv().is_ok() {}
            return;
        }
        let Some(c) = Copied::of(e) else {
            return;
        };
        // The table hands a connection over right after its record's event: those of the
        // records before this event are here.
        self.take_spent();
        if self.copies.len() >= EVENTS {
            self.hand_over();
        }
        self.waiting = matches!(c, Copied::Closed(_));
        self.copies.push(c);
    }

    /// Puts the connection the table handed over in place of its record.
    fn take_spent(&mut self) {
        if std::mem::take(&mut self.waiting)
            && let Some(c) = self.copies.last_mut()
        {
            c.take_spent(&self.spent);
        }
    }

    /// Hands the copies so far to the writing thread (every finished record taken).
    fn hand_over(&mut self) {
        if self.copies.is_empty() {
            return;
        }
        let next = match self.spare.try_recv() {
            Ok(mut written) => {
                written.clear();
                written
            }
            Err(_) => Vec::with_capacity(EVENTS),
        };
        self.full.send(std::mem::replace(&mut self.copies, next));
    }

    /// Hands everything over: the engine has finished.
    fn finish(&mut self) {
        if self.halt.load(Ordering::Relaxed) {
            return;
        }
        self.take_spent();
        self.hand_over();
    }
}

/// Where [`Copier`] hands its copies: a thread that only writes waits on a bounded queue, the
/// reading thread on none (see [`copying`]).
enum Handover {
    Bounded(mpsc::SyncSender<Vec<Copied>>),
    Unbounded(mpsc::Sender<Vec<Copied>>),
}

impl Handover {
    /// Sends `copies`. The writing side has gone only when it panicked: they are dropped then.
    fn send(&self, copies: Vec<Copied>) {
        let _ = match self {
            Handover::Bounded(tx) => tx.send(copies),
            Handover::Unbounded(tx) => tx.send(copies),
        };
    }
}

/// The reading thread's batches on their way to the engine.
struct Batches {
    batch: Batch,
    full: mpsc::SyncSender<Batch>,
    empty: mpsc::Receiver<Batch>,
    payload: bool,
}

impl Hand for Batches {
    #[inline]
    fn push(&mut self, outside: usize, d: crate::analyzer::Decoded<'_>) {
        self.batch.push(outside, d);
    }

    fn is_full(&self) -> bool {
        self.batch.is_full()
    }

    /// Hands the batch to the engine and takes an emptied one back (or a new one).
    fn pass_on(&mut self, _last: bool) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Batch::new(self.payload));
        self.full
            .send(std::mem::replace(&mut self.batch, next))
            .is_ok()
    }
}

#[cfg(test)]
mod tests;

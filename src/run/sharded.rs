//! A run over capture files with its connections split among shards, each a connection table
//! on a thread of its own, so that the analysis itself uses more than one core.
//!
//! - **Reading.** One thread reads, screens and decodes frames (the analyzer's [`Intake`]) and
//!   sends each decoded item to the shard its four-tuple hashes to, both directions alike. Items
//!   go in windows of a few thousand: every shard gets every window, with its own items, the
//!   capture's clock over the window (each item that moved it) and the window's end.
//! - **Shards.** A shard's table holds only its connections ([`FlowTable::set_shared`]). Its
//!   clock moves where one table's would, at every item that moved the capture's clock, its own
//!   or not, so its connections idle past their deadline end at the item one table ends them at
//!   (a table ends those of one pass in deadline order, ties by record). It hands on its calls
//!   on state shared between connections, and its output is cut into groups, each with its
//!   place in capture order: what an item did, or what one connection ending did when the clock
//!   passed its deadline (before that item's own output).
//! - **Merging.** This thread takes the shards' groups in that order and hands them to the
//!   [`Joint`] state, which numbers the records, makes the shared calls on one tracker and
//!   checks what the shards assumed, and then to the output. A group is taken once every shard
//!   has either a later one waiting or has passed its place.
//!
//! The output is then the one table's, byte for byte, but for the resource figures of the
//! summary (peak memory and connections tracked are the shards' sums). When a shard's
//! assumption turns out wrong (a flood that hits the listeners' caps, a capture that looks
//! one-sided, the memory bound), the output stops before anything that followed from it, and the
//! capture is analysed again on one thread from the start, its output written from where the
//! merged one stopped.

use std::io;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use crate::analyzer::{Analyzer, Batch, Decoded, Joint, ShardId};
use crate::capture::PacketSource;
use crate::event::Event;
use crate::flow::{Connection, FlowStats, FlowTable, SharedCall};
use crate::time::Timestamp;
use crate::wire::Endpoint;

use super::copied::Copied;
use super::reading::{Hand, Reading};
use super::{Emitter, Finished, RunOptions, Split, joined};

/// Items read before every shard is handed its part: enough that a window's bookkeeping costs
/// nothing per item, few enough that a shard waits little for its next.
const WINDOW: usize = 4096;
/// Windows queued ahead of a shard.
const QUEUE: usize = 4;

/// Items of one window for one shard.
struct Window {
    batch: Batch,
    /// Each item's place in capture order.
    seqs: Vec<u64>,
    /// The capture's clock over the window: each item that moved it, with the time.
    clock: Arc<Vec<(u64, Timestamp)>>,
    /// The window's last item.
    last: u64,
}

impl Window {
    fn new(payload: bool) -> Self {
        Window {
            batch: Batch::new(payload),
            seqs: Vec::new(),
            clock: Arc::default(),
            last: 0,
        }
    }
}

/// Where a group of a shard's output stands in capture order. Ordered as the fields go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    /// The item before which it stands (`u64::MAX`: at the end of the capture).
    at: u64,
    /// Idle connections ending (0) come before the item's own output (1); connections ending
    /// at the end of the capture come last (2).
    class: u8,
    /// The ending connection's deadline.
    deadline: i64,
    /// The ending connection, by the shard's number (the merge orders by the run's).
    conn: u64,
}

/// What a shard hands out.
enum Item {
    Event(Copied),
    Call(SharedCall),
}

/// A shard's output over one window.
struct Output {
    items: Vec<Item>,
    groups: Vec<(Place, Range<usize>)>,
    /// Every group still to come stands after this item.
    passed: u64,
    /// The shard's counters so far.
    stats: FlowStats,
    /// The shard has ended.
    done: bool,
}

/// Runs `analyzer` over `src` with its connections split among `shards` tables (see the
/// module's documentation); `again` opens the capture anew for a second analysis on one thread.
pub(super) fn run_sharded<S: PacketSource + Send>(
    src: &mut S,
    analyzer: Analyzer,
    emit: &mut dyn FnMut(Event<'_>) -> io::Result<()>,
    mut opts: RunOptions<'_>,
    shards: usize,
) -> io::Result<Finished> {
    let started = Instant::now();
    let cfg = *analyzer.config();
    let (intake, engine) = analyzer.split();
    let payload = engine.reads_payload();
    drop(engine);
    let halt = AtomicBool::new(false);
    let mut out = Emitter { emit, error: None };
    let mut written = 0u64;
    let again = opts.again.take();
    let merged = thread::scope(|s| -> io::Result<_> {
        let (outputs_tx, outputs_rx) = mpsc::sync_channel::<(ShardId, Output)>(QUEUE * shards);
        let mut windows = Vec::new();
        let mut spares = Vec::new();
        let (spare_tx, spare_rx) = mpsc::channel::<Window>();
        let mut workers = Vec::new();
        for k in 0..shards {
            let (tx, rx) = mpsc::sync_channel::<Window>(QUEUE);
            let (used_tx, used_rx) = mpsc::channel::<Output>();
            windows.push(tx);
            spares.push(used_tx);
            let (outputs, spare, halt) = (outputs_tx.clone(), spare_tx.clone(), &halt);
            let table = FlowTable::new(cfg.flow, cfg.detect, cfg.listeners);
            workers.push(
                thread::Builder::new()
                    .name(format!("tcpaudit-shard{k}"))
                    .spawn_scoped(s, move || {
                        shard(k as ShardId, table, rx, spare, outputs, used_rx, halt)
                    })?,
            );
        }
        drop((outputs_tx, spare_tx));
        let reading = Reading {
            intake,
            filter: opts.filter.as_deref_mut(),
            count: opts.count,
            stop: opts.stop,
            frames_read: opts.frames_read,
            frame_index: None,
            halt: &halt,
        };
        let mut fill = Filling {
            parts: (0..shards).map(|_| Window::new(payload)).collect(),
            clock: Vec::new(),
            now: Timestamp::MIN,
            seq: 0,
            items: 0,
            full: false,
            windows,
            spare: spare_rx,
            payload,
        };
        let reader = thread::Builder::new()
            .name("tcpaudit-decode".into())
            .spawn_scoped(s, move || {
                let (intake, frames, error) = reading.run(src, &mut fill);
                (intake, frames, error, fill.now)
            })?;
        let mut joint = Joint::new(&cfg);
        let mut merge = Merge {
            queues: (0..shards).map(|_| Queue::default()).collect(),
            spares,
        };
        let complete = merge.run(&outputs_rx, &mut joint, &mut out, &mut written);
        if !complete || out.error.is_some() {
            halt.store(true, Ordering::Relaxed);
        }
        // Whatever the shards still send is dropped (they stop at the halt).
        drop(outputs_rx);
        let mut flows = FlowStats::default();
        for w in workers {
            flows.add(&joined(w.join()));
        }
        let (intake, frames, source_error, now) = joined(reader.join());
        let undone = joint.wrong();
        let done = complete.then_some((joint, intake, flows, now));
        Ok((done, undone, frames, source_error))
    })?;
    if let Some(e) = out.error {
        return Err(e);
    }
    let (done, undone, frames, source_error) = merged;
    let Some((joint, intake, flows, now)) = done else {
        // A shard's assumption was wrong: one table from the start, writing from where the
        // merged output stopped.
        let mut src = again.expect("a sharded run can read its capture again")();
        let mut skip = written;
        let mut rest = |e: Event<'_>| {
            if skip > 0 {
                skip -= u64::from(Copied::written(&e));
                return Ok(());
            }
            emit(e)
        };
        let mut finished = super::run(&mut src, Analyzer::new(cfg), &mut rest, opts)?;
        finished.elapsed = started.elapsed();
        finished.split.undone = Some(undone.unwrap_or("the output stopped"));
        return Ok(finished);
    };
    let summary = joint.finish(intake, now, flows, &mut |e| {
        out.event(e);
    });
    let split = Split {
        shards,
        undone: None,
    };
    out.finished(summary, (frames, started), source_error, split)
}

/// An address folded to 64 bits.
fn fold(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(v) => u64::from(u32::from(v)),
        IpAddr::V6(v) => {
            let x = u128::from(v);
            x as u64 ^ (x >> 64) as u64
        }
    }
}

/// The shard a segment between `a` and `b` goes to: the same both ways (the endpoints are
/// combined by XOR, which needs no ordering), and for every run.
#[inline]
fn shard_of((a, b): (Endpoint, Endpoint), shards: usize) -> usize {
    let mut x = fold(a.addr) ^ fold(b.addr) ^ (u64::from(a.port ^ b.port) << 47);
    // A 64-bit finalizer (splitmix64's): every input bit moves every output bit.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((x >> 32) as usize * shards) >> 32
}

/// The endpoints and time of a decoded item.
fn ends_and_time(d: &Decoded<'_>) -> ((Endpoint, Endpoint), Timestamp) {
    let ends = |src, sport, dst, dport| (Endpoint::new(src, sport), Endpoint::new(dst, dport));
    match d {
        Decoded::Segment(s) => (ends(s.src, s.sport, s.dst, s.dport), s.ts),
        Decoded::Icmp(e) => (ends(e.src, e.sport, e.dst, e.dport), e.ts),
        Decoded::BadHeader(b) => (ends(b.src, b.sport, b.dst, b.dport), b.ts),
        Decoded::Udp(d, _) => ((d.src, d.dst), d.ts),
    }
}

/// The reading thread's window being filled.
struct Filling {
    parts: Vec<Window>,
    clock: Vec<(u64, Timestamp)>,
    now: Timestamp,
    seq: u64,
    items: usize,
    /// A part's batch is full.
    full: bool,
    /// Where each shard's windows go.
    windows: Vec<mpsc::SyncSender<Window>>,
    /// Windows the shards are done with.
    spare: mpsc::Receiver<Window>,
    payload: bool,
}

impl Hand for Filling {
    #[inline]
    fn push(&mut self, outside: usize, d: Decoded<'_>) {
        let (ends, ts) = ends_and_time(&d);
        self.seq += 1;
        if ts > self.now {
            self.now = ts;
            self.clock.push((self.seq, ts));
        }
        let k = shard_of(ends, self.parts.len());
        let part = &mut self.parts[k];
        part.batch.push(outside, d);
        part.seqs.push(self.seq);
        self.full |= part.batch.is_full();
        self.items += 1;
    }

    /// Whether the window should be handed over now.
    fn is_full(&self) -> bool {
        self.items >= WINDOW || self.full
    }

    /// Hands every shard its part of the window (at the end too: the window's end moves every
    /// shard's clock to the capture's last).
    fn pass_on(&mut self, _last: bool) -> bool {
        let clock = Arc::new(std::mem::take(&mut self.clock));
        (self.items, self.full) = (0, false);
        let mut sent = true;
        for (part, tx) in self.parts.iter_mut().zip(&self.windows) {
            let next = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Window::new(self.payload));
            let mut w = std::mem::replace(part, next);
            w.clock = Arc::clone(&clock);
            w.last = self.seq;
            sent &= tx.send(w).is_ok();
        }
        sent
    }
}

/// A shard's thread: its table over every window it is handed; its counters at the end.
fn shard(
    id: ShardId,
    mut table: FlowTable,
    windows: mpsc::Receiver<Window>,
    spare: mpsc::Sender<Window>,
    outputs: mpsc::SyncSender<(ShardId, Output)>,
    used: mpsc::Receiver<Output>,
    halt: &AtomicBool,
) -> FlowStats {
    let (spent_tx, spent) = mpsc::channel();
    table.set_spent(Box::new(move |c| {
        let _ = spent_tx.send(c);
    }));
    let (calls_tx, calls) = mpsc::channel();
    let called = Arc::new(AtomicBool::new(false));
    let noted = Arc::clone(&called);
    table.set_shared(Box::new(move |c| {
        let _ = calls_tx.send(c);
        // Read on this same thread: only so that the cut looks at the channel when there is
        // something in it.
        noted.store(true, Ordering::Relaxed);
    }));
    let mut cut = Cut {
        out: Output::new(),
        open: None,
        waiting: false,
        spent,
        calls,
        called,
        passing: 0,
    };
    for mut w in windows {
        if halt.load(Ordering::Relaxed) {
            continue;
        }
        let Window {
            batch, seqs, clock, ..
        } = &mut w;
        let mut i = 0;
        let mut moves = clock.iter().peekable();
        batch.drain(&mut |outside, d| {
            let seq = seqs[i];
            i += 1;
            // The clock moves as on one table: at every item that moved the capture's clock,
            // this shard's or not, and connections idle past their deadline end there.
            while let Some(&(at, now)) = moves.next_if(|(at, _)| *at <= seq) {
                cut.passing = at;
                table.advance(now, &mut |e| cut.push(&e));
            }
            table.set_outside_bytes(outside);
            cut.begin(Place {
                at: seq,
                class: 1,
                deadline: 0,
                conn: 0,
            });
            let emit = &mut |e: Event<'_>| cut.push(&e);
            match d {
                Decoded::Segment(s) => table.process(s, emit),
                Decoded::Icmp(e) => table.icmp_error(&e, emit),
                Decoded::BadHeader(b) => table.bad_header(&b, emit),
                // Not decoded without the application layer, which is not split.
                Decoded::Udp(..) => unreachable!("a datagram in a sharded run"),
            }
        });
        for &(at, now) in moves {
            cut.passing = at;
            table.advance(now, &mut |e| cut.push(&e));
        }
        seqs.clear();
        let passed = w.last;
        let _ = spare.send(w);
        let done = cut.hand_out(passed, table.stats, false, used.try_recv().ok());
        if outputs.send((id, done)).is_err() {
            break;
        }
    }
    if !halt.load(Ordering::Relaxed) {
        // No stream sink in a sharded run: nothing to fail.
        let _ = table.finish(&mut |e| cut.push(&e));
        let done = cut.hand_out(u64::MAX, table.stats, true, used.try_recv().ok());
        let _ = outputs.send((id, done));
    }
    table.stats
}

impl Output {
    fn new() -> Self {
        Output {
            items: Vec::new(),
            groups: Vec::new(),
            passed: 0,
            stats: FlowStats::default(),
            done: false,
        }
    }
}

/// A shard's output being cut into groups.
struct Cut {
    out: Output,
    /// The group being filled: where it stands, and its first item.
    open: Option<(Place, usize)>,
    /// The last item is a finished record whose connection has not been taken yet (the table
    /// hands it over right after the record's event).
    waiting: bool,
    spent: mpsc::Receiver<Box<Connection>>,
    calls: mpsc::Receiver<SharedCall>,
    /// Calls were handed on since the channel was last emptied.
    called: Arc<AtomicBool>,
    /// The item at which the table's clock is moving (connections idle past their deadline
    /// end before it).
    passing: u64,
}

impl Cut {
    /// Takes what the table handed over beside its events: the connection of the finished
    /// record just out, and the calls made since the last event (an ending opens a group).
    fn take_side(&mut self) {
        if std::mem::take(&mut self.waiting)
            && let Some(Item::Event(c)) = self.out.items.last_mut()
        {
            c.take_spent(&self.spent);
        }
        // Only this thread sets and clears it: a plain load, no read-modify-write.
        if !self.called.load(Ordering::Relaxed) {
            return;
        }
        self.called.store(false, Ordering::Relaxed);
        while let Ok(call) = self.calls.try_recv() {
            match call {
                SharedCall::Ending { id, at } => {
                    let place = match at {
                        Some(at) => Place {
                            at: self.passing,
                            class: 0,
                            deadline: at.as_nanos(),
                            conn: id,
                        },
                        None => Place {
                            at: u64::MAX,
                            class: 2,
                            deadline: 0,
                            conn: id,
                        },
                    };
                    self.start(place);
                }
                call => self.out.items.push(Item::Call(call)),
            }
        }
    }

    /// Ends the group being filled, if any, and opens one at `place`.
    fn start(&mut self, place: Place) {
        self.close();
        self.open = Some((place, self.out.items.len()));
    }

    /// Ends the group being filled, if any.
    fn close(&mut self) {
        if let Some((place, from)) = self.open.take() {
            self.out.groups.push((place, from..self.out.items.len()));
        }
    }

    /// Opens the group of an item's own output.
    fn begin(&mut self, place: Place) {
        self.take_side();
        self.start(place);
    }

    /// Copies `e` when it is one the output writes.
    fn push(&mut self, e: &Event<'_>) {
        self.take_side();
        let Some(c) = Copied::of(e) else {
            return;
        };
        debug_assert!(self.open.is_some(), "output outside a group");
        self.waiting = matches!(c, Copied::Closed(_));
        self.out.items.push(Item::Event(c));
    }

    /// The output so far, to be handed over (`reuse`: an output already merged, for its
    /// vectors).
    fn hand_out(
        &mut self,
        passed: u64,
        stats: FlowStats,
        done: bool,
        reuse: Option<Output>,
    ) -> Output {
        self.take_side();
        self.close();
        let next = match reuse {
            Some(mut o) => {
                o.items.clear();
                o.groups.clear();
                o
            }
            None => Output::new(),
        };
        let mut o = std::mem::replace(&mut self.out, next);
        o.passed = passed;
        o.stats = stats;
        o.done = done;
        o
    }
}

mod merge;
#[cfg(test)]
mod tests;

use merge::{Merge, Queue};

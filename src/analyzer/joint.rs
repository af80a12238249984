//! What a run split among shards keeps in one place, in capture order: the listener tracker,
//! the ISN sketches, the counts that say whether the capture looks one-sided, the records'
//! numbers and the summary.
//!
//! Each shard is a connection table holding the connections whose four-tuples hash to it
//! ([`FlowTable::set_shared`]). It numbers its records itself and hands on its calls on shared
//! state, going on with the answers ordinary traffic gets. The run hands [`Joint`] the shards'
//! output merged in capture order: it numbers the records as one table would (in the order they
//! opened), makes the calls on the one tracker, and checks every assumption a shard made. Once
//! one is found wrong ([`Joint::wrong`]), nothing a shard handed out after it may be written:
//! the run analyses the capture again on one table. Everything written before it is what one
//! table writes.

use hashbrown::HashMap;

use super::{Intake, MAX_ISN_SUMMARY, Summary};
use crate::detect::isn::IsnTracker;
use crate::detect::{Anomaly, ListenerTracker, Value};
use crate::event::{ConnRecord, Event, Opening};
use crate::flow::{CONNECTION_BYTES, FlowConfig, FlowStats, SharedCall};
use crate::time::Timestamp;

use super::AnalyzerConfig;

/// A shard's number.
pub type ShardId = u32;

/// A fixed hasher: what these maps hold never leaves them in their order.
type Fixed = foldhash::fast::FixedState;

/// The shared state of a run split among shards (see the module's documentation).
pub struct Joint {
    flow: FlowConfig,
    listeners: ListenerTracker,
    isn: IsnTracker,
    /// Connections proving a direction missing, and showing both, over every shard.
    proved_one_sided: u64,
    two_sided: u64,
    /// The number each shard's record has in the run, by the shard's number for it.
    ids: HashMap<(ShardId, u64), u64, Fixed>,
    /// The run's number of the record each new incarnation follows.
    prev: HashMap<(ShardId, u64), u64, Fixed>,
    /// Records that left in the group being merged: their numbers are kept until the group
    /// ends (their successor, opened in it, names them).
    leaving: Vec<(ShardId, u64)>,
    next_id: u64,
    summary: Summary,
    scratch: Vec<Anomaly>,
    wrong: Option<&'static str>,
}

impl Joint {
    /// The shared state of a run with `cfg`.
    pub fn new(cfg: &AnalyzerConfig) -> Self {
        let mut listeners = ListenerTracker::new(cfg.listeners);
        // As one table sets it (`FlowTable::new`); the room the rest of the table leaves it is
        // never less than this while the bounds hold ([`Joint::check_bounds`]).
        listeners.set_memory_limit(cfg.flow.max_memory / 2);
        Joint {
            flow: cfg.flow,
            listeners,
            isn: IsnTracker::default(),
            proved_one_sided: 0,
            two_sided: 0,
            ids: HashMap::default(),
            prev: HashMap::default(),
            leaving: Vec::new(),
            next_id: 1,
            summary: Summary::default(),
            scratch: Vec::new(),
            wrong: None,
        }
    }

    /// The first assumption of a shard found wrong: nothing handed out from then on may be
    /// written.
    pub fn wrong(&self) -> Option<&'static str> {
        self.wrong
    }

    /// Numbers the record `o` opens, as one table would: the next number.
    pub fn opened(&mut self, shard: ShardId, o: &mut Opening) {
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert((shard, o.id), id);
        o.id = id;
    }

    /// The run's number of `shard`'s record `id` (a record still tracked). A record the merge
    /// has not numbered would be a fault of the merge's order: it is taken as an assumption
    /// found wrong (the capture is analysed again on one table), not written with a number
    /// that means nothing.
    pub fn id(&mut self, shard: ShardId, id: u64) -> u64 {
        match self.ids.get(&(shard, id)) {
            Some(&n) => n,
            None => {
                self.wrong = Some("a record the merge had not numbered");
                0
            }
        }
    }

    /// The run's number of the record `shard`'s record `conn` follows, `prev` by the shard's
    /// number.
    fn prev_id(&mut self, shard: ShardId, conn: u64, prev: u64) -> u64 {
        match self.prev.get(&(shard, conn)) {
            Some(&p) => p,
            None => self.id(shard, prev),
        }
    }

    /// Gives `r`, of `shard`, the run's numbers.
    pub fn record(&mut self, shard: ShardId, r: &mut ConnRecord) {
        if let Some(p) = r.prev_id {
            r.prev_id = Some(self.prev_id(shard, r.id, p));
        }
        r.id = self.id(shard, r.id);
    }

    /// Gives `r`, of `shard`, leaving the table, the run's numbers.
    pub fn closed(&mut self, shard: ShardId, r: &mut ConnRecord) {
        self.leaving.push((shard, r.id));
        self.record(shard, r);
    }

    /// Gives `a`, of `shard`, the run's numbers.
    pub fn anomaly(&mut self, shard: ShardId, a: &mut Anomaly) {
        let Some(conn) = a.conn_id else {
            return;
        };
        if let Some(p) = a.detail.get("prev_id").and_then(Value::as_u64) {
            let p = self.prev_id(shard, conn, p);
            a.detail.insert("prev_id", Value::U64(p));
        }
        a.conn_id = Some(self.id(shard, conn));
    }

    /// A group of the merged output is over: the records that left in it are forgotten.
    pub fn end_group(&mut self) {
        for k in self.leaving.drain(..) {
            self.ids.remove(&k);
            self.prev.remove(&k);
        }
    }

    /// Counts what `e` tells in the summary.
    pub fn count(&mut self, e: &Event<'_>) {
        self.summary.record(e);
    }

    /// Makes `shard`'s `call` on the shared state and checks what the shard assumed; the
    /// anomalies it raises go to `out`.
    pub fn call(&mut self, shard: ShardId, call: SharedCall, out: &mut impl FnMut(Event<'_>)) {
        match call {
            SharedCall::Listener(mut c) => {
                if let Some(conn) = c.conn_mut() {
                    *conn = self.id(shard, *conn);
                }
                let answer = c.apply(&mut self.listeners, &mut self.scratch);
                if c.has_answer() && (answer != c.assumed() || !self.scratch.is_empty()) {
                    self.wrong = Some("a listener's caps or an aggregated attempt");
                    self.scratch.clear();
                    return;
                }
            }
            SharedCall::Isn {
                ends,
                isn,
                frame,
                ts,
            } => self.isn.on_isn(ends, isn, (frame, ts), &mut self.scratch),
            SharedCall::Sides { proved, two } => {
                self.proved_one_sided += u64::from(proved);
                self.two_sided += u64::from(two);
                let sides = FlowStats {
                    proved_one_sided: self.proved_one_sided,
                    two_sided: self.two_sided,
                    ..FlowStats::default()
                };
                if sides.capture_one_sided() {
                    self.wrong = Some("a capture that looks one-sided");
                }
            }
            SharedCall::Succeeds { id, prev } => {
                let p = self.id(shard, prev);
                self.prev.insert((shard, id), p);
            }
            SharedCall::Bounded => self.wrong = Some("the memory or connection bounds"),
            SharedCall::Ending { .. } => {}
        }
        for a in self.scratch.drain(..) {
            self.summary.record(&Event::Anomaly(&a));
            out(Event::Anomaly(&a));
        }
    }

    /// Checks that one table holding every connection would have stayed within its bounds,
    /// given each shard's figures so far (each a peak, so their sum bounds the one table's):
    /// within them it evicts nothing, aggregates no attempt for want of memory, and leaves the
    /// listener tracker the room it has here.
    pub fn check_bounds<'a>(&mut self, shards: impl Iterator<Item = &'a FlowStats>) {
        let (mut tracked, mut bytes, mut reassembly) = (0u64, 0u64, 0u64);
        for s in shards {
            tracked += s.peak_tracked;
            bytes += s.peak_memory_bytes + s.reassembly_peak_bytes;
            reassembly += s.reassembly_peak_bytes;
        }
        let f = &self.flow;
        // The largest one reservation of reassembly: a segment's bytes and a range's
        // bookkeeping.
        let one = (1 << 16) + crate::tcp::reassembly::RANGE_COST;
        let reassembly_cap = f.max_reassembly_memory.min(f.max_memory / 4);
        if tracked + 1 >= f.max_connections as u64
            || bytes as usize + f.connection_bytes() + CONNECTION_BYTES > f.max_memory / 2
            || reassembly as usize + one > reassembly_cap
        {
            self.wrong = Some("the memory or connection bounds");
        }
    }

    /// Ends the run: the listeners' episodes end at `now` (the capture's clock), their
    /// anomalies go to `out`; the summary, given the intake that read the capture (ended) and
    /// the shards' counters summed (`flows`).
    pub fn finish(
        mut self,
        mut intake: Intake,
        now: Timestamp,
        flows: FlowStats,
        out: &mut impl FnMut(Event<'_>),
    ) -> Summary {
        self.summary.set_frame_counts(&intake.counts());
        self.summary.decode = intake.finish();
        self.listeners.finish(now, &mut self.scratch);
        for a in self.scratch.drain(..) {
            self.summary.record(&Event::Anomaly(&a));
            out(Event::Anomaly(&a));
        }
        self.summary.flows = flows;
        self.summary.flows.peak_memory_bytes += self.listeners.memory_bytes() as u64;
        self.summary.add_shared(&self.listeners, &self.isn);
        self.summary
    }
}

impl Summary {
    /// Takes the listener tracker's counts of aggregated attempts and the hosts whose ISNs
    /// told something.
    pub(super) fn add_shared(&mut self, tracker: &ListenerTracker, isn: &IsnTracker) {
        self.aggregated_attempts = tracker.aggregated;
        self.aggregated_forgotten = tracker.aggregated_forgotten_early();
        self.untracked_listener_attempts = tracker.untracked_listener_attempts;
        let (per_listener, other) = tracker.aggregated_counts();
        self.add_aggregated(per_listener);
        self.other_listeners.add(&other);
        let mut hosts: Vec<_> = isn
            .hosts()
            .filter(|(_, h)| h.clock_samples > 0 || h.predictable_steps > 0)
            .map(|(a, h)| (*a, h.clone()))
            .collect();
        hosts.sort_unstable_by(|a, b| b.1.isns.cmp(&a.1.isns).then(a.0.cmp(&b.0)));
        hosts.truncate(MAX_ISN_SUMMARY);
        self.isn_hosts = hosts;
    }
}

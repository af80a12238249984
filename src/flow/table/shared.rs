//! A table holding one shard of a capture's connections ([`FlowTable::set_shared`]).
//!
//! Most of what a segment does concerns its connection alone, so a capture's connections can be
//! split by four-tuple among tables on several threads. A few things are shared between
//! connections: the listeners' verdicts, the hosts' ISN sketches, whether the capture looks
//! one-sided, the records' numbers. A shard's table does not make those calls; it hands them
//! on, in the order of its events, for the run to make on one tracker in capture order, and
//! goes on with the answer ordinary traffic gets ([`ListenerCall::assumed`]). The run checks
//! every assumption and, where one was wrong, analyses the capture again on one table.

use super::FlowTable;
use crate::detect::flood::ListenerCall;
use crate::event::Event;
use crate::time::Timestamp;
use crate::wire::Endpoint;

/// What a shard's table hands on, in the order of its events.
#[derive(Clone, Copy, Debug)]
pub enum SharedCall {
    /// A call on the listener tracker; its anomalies stand where it stands among the events.
    Listener(ListenerCall),
    /// A connection's first SYN (or SYN-ACK) from `ends.0`, for the ISN sketches; their
    /// anomalies stand where it stands.
    Isn {
        /// Sender and receiver.
        ends: (Endpoint, Endpoint),
        /// The ISN.
        isn: u32,
        /// Its frame.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// A connection proved a direction missing from the capture (`proved`), or showed both
    /// (`two`): the counts that decide whether the capture looks one-sided.
    Sides {
        /// One more connection proves a direction missing.
        proved: bool,
        /// One more connection shows both directions.
        two: bool,
    },
    /// Connection `id` ends next: idle past its deadline `at`, or, with none, at the end of
    /// the capture. What it hands out until its record follows.
    Ending {
        /// The connection.
        id: u64,
        /// Its idle deadline.
        at: Option<Timestamp>,
    },
    /// Connection `id` is the next incarnation of connection `prev` (its record's `prev_id`).
    Succeeds {
        /// The new incarnation.
        id: u64,
        /// The one it follows.
        prev: u64,
    },
    /// The table ended a connection to make room, or aggregated an attempt for want of it: one
    /// table holding every connection would have decided by its own bounds.
    Bounded,
}

/// What takes a shard's calls ([`FlowTable::set_shared`]).
pub type SharedOut = Box<dyn FnMut(SharedCall) + Send>;

/// The calls handed on, and those waiting for the anomalies they stand among.
pub(super) struct SharedLog {
    out: SharedOut,
    /// Calls whose anomalies stand among the anomalies pending, each with how many of those
    /// come before it.
    pending: Vec<(usize, SharedCall)>,
}

impl SharedLog {
    /// Hands out `anomalies` and the calls standing among them, in order.
    fn flush(
        &mut self,
        anomalies: &mut Vec<crate::detect::Anomaly>,
        out: &mut impl FnMut(Event<'_>),
    ) {
        let SharedLog {
            out: hand_on,
            pending,
        } = self;
        let mut calls = pending.drain(..).peekable();
        for (i, a) in anomalies.drain(..).enumerate() {
            while let Some((_, c)) = calls.next_if(|(at, _)| *at <= i) {
                hand_on(c);
            }
            out(Event::Anomaly(&a));
        }
        for (_, c) in calls {
            hand_on(c);
        }
    }
}

impl FlowTable {
    /// Makes this table one shard of several: the calls on state shared between connections
    /// go to `out` instead of being made (the module's documentation says which, and how the
    /// run makes them). The table's own listener tracker and ISN sketches then stay empty.
    pub fn set_shared(&mut self, out: SharedOut) {
        self.shared = Some(SharedLog {
            out,
            pending: Vec::new(),
        });
    }

    /// Whether the table is one shard of several.
    pub(super) fn is_shard(&self) -> bool {
        self.shared.is_some()
    }

    /// Makes `call` on the listener tracker, or hands it on (a shard); its answer, or the one
    /// assumed.
    pub(super) fn listener_call(&mut self, call: ListenerCall) -> bool {
        match self.shared.as_mut() {
            None => call.apply(&mut self.listeners, &mut self.anomalies),
            // A call with an answer goes at once: what the table does next follows from the
            // answer, and nothing of that may be written before the run has checked it. (It
            // raises no anomaly where the answer is the one assumed.)
            Some(s) if call.has_answer() => {
                (s.out)(SharedCall::Listener(call));
                call.assumed()
            }
            Some(s) => {
                s.pending
                    .push((self.anomalies.len(), SharedCall::Listener(call)));
                false
            }
        }
    }

    /// Hands `call` on at once (a shard; nothing otherwise).
    pub(super) fn hand_on(&mut self, call: SharedCall) {
        if let Some(s) = self.shared.as_mut() {
            (s.out)(call);
        }
    }

    /// Notes a connection's first SYN (or SYN-ACK) in the ISN sketches, or hands it on.
    pub(in crate::flow) fn isn_call(
        &mut self,
        ends: (Endpoint, Endpoint),
        isn: u32,
        frame: u64,
        ts: Timestamp,
    ) {
        match self.shared.as_mut() {
            None => self.isn.on_isn(ends, isn, (frame, ts), &mut self.anomalies),
            Some(s) => s.pending.push((
                self.anomalies.len(),
                SharedCall::Isn {
                    ends,
                    isn,
                    frame,
                    ts,
                },
            )),
        }
    }

    /// Whether anomalies, or calls standing among them, wait to be handed out.
    pub(in crate::flow) fn anything_pending(&self) -> bool {
        !self.anomalies.is_empty() || self.shared.as_ref().is_some_and(|s| !s.pending.is_empty())
    }

    /// Hands out the anomalies pending, and the calls standing among them.
    pub(in crate::flow) fn hand_out_anomalies(&mut self, out: &mut impl FnMut(Event<'_>)) {
        match self.shared.as_mut() {
            Some(s) if !s.pending.is_empty() => s.flush(&mut self.anomalies, out),
            _ => {
                for a in self.anomalies.drain(..) {
                    out(Event::Anomaly(&a));
                }
            }
        }
    }

    /// Whether the capture looks one-sided so far: a shard assumes not (ordinary traffic), and
    /// the run checks it on every connection's counts.
    pub(super) fn capture_one_sided(&self) -> bool {
        self.shared.is_none() && self.stats.capture_one_sided()
    }
}

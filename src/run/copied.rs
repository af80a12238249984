//! Events copied out of the engine, so they can be written on another thread (see
//! [`super::RunOptions::records_only`]).
//!
//! An [`Event`] borrows the engine's state; a copy owns what the event shows. Only the events
//! a line-per-record format reads are copied: finished records, anomalies, application records,
//! and what names the connection of an anomaly (a record opening, a state change of a record
//! whose roles flipped, when its endpoints change). A record opening travels as its
//! [`Opening`] (a tenth of the record) and is rebuilt on the other side; a finished record is
//! not copied at all (its connection is handed over); the rest are boxed, so that a copy moves a
//! pointer once made. Writing a record as JSON costs some 16,000 instructions; handing it over
//! a few dozen.

use std::sync::mpsc;

use crate::detect::Anomaly;
use crate::event::{ConnRecord, Event, Opening, Transition};
use crate::flow::Connection;
use crate::proto::AppRecord;

/// Copies handed over at once: enough that the hand-over costs nothing per event (a few
/// hundred instructions per 64), few enough that what they hold stays small. A vector of copies
/// keeps its finished connections (some 3.5 KB each) until the engine's thread reuses it, and
/// no more are made than the queue holds plus three (one being sent, one being written, one
/// being filled), so some 2.5 MB at most.
pub(super) const EVENTS: usize = 64;

/// An event the output thread writes.
#[derive(Debug)]
pub(super) enum Copied {
    Opened(Opening),
    StateChanged(Box<ConnRecord>, Transition),
    /// A finished record: its connection itself, which the table hands over once the event
    /// has been emitted ([`crate::flow::FlowTable::set_spent`]), so the record is not copied.
    Closed(Spent),
    Anomaly(Box<Anomaly>),
    App(Box<AppRecord>),
}

/// A finished connection of [`Copied::Closed`].
#[derive(Debug)]
pub(super) enum Spent {
    /// The record with this id was emitted; its connection comes next from the table.
    Waiting(u64),
    /// The connection.
    Here(Box<Connection>),
}

impl Copied {
    /// The copy of `e`, when `e` is one of the events a records-only emitter reads.
    pub(super) fn of(e: &Event<'_>) -> Option<Copied> {
        match e {
            Event::Opened(r) => Some(Copied::Opened(r.opening())),
            Event::StateChanged(r, t) if r.flipped => {
                Some(Copied::StateChanged(Box::new((*r).clone()), **t))
            }
            Event::Closed(r) => Some(Copied::Closed(Spent::Waiting(r.id))),
            Event::Anomaly(a) => Some(Copied::Anomaly(Box::new((*a).clone()))),
            Event::App(r) => Some(Copied::App(Box::new((*r).clone()))),
            Event::StateChanged(..) | Event::Segment(..) => None,
        }
    }

    /// Puts the connection the table handed over right after this finished record's event in
    /// place of the record's id (see [`crate::flow::FlowTable::set_spent`]); other copies are
    /// left as they are.
    pub(super) fn take_spent(&mut self, spent: &mpsc::Receiver<Box<Connection>>) {
        if let Copied::Closed(f) = self
            && let Spent::Waiting(id) = *f
        {
            let c = spent.try_recv().expect("a finished connection handed over");
            assert_eq!(c.record().id, id, "finished connections out of order");
            *f = Spent::Here(c);
        }
    }

    /// Whether `e` is one of the events a records-only emitter reads (those [`Copied::of`]
    /// copies).
    pub(super) fn written(e: &Event<'_>) -> bool {
        match e {
            Event::StateChanged(r, _) => r.flipped,
            Event::Segment(..) => false,
            Event::Opened(_) | Event::Closed(_) | Event::Anomaly(_) | Event::App(_) => true,
        }
    }

    /// Hands `out` the event as the engine emitted it.
    pub(super) fn emit(&self, out: &mut impl FnMut(Event<'_>)) {
        match self {
            Copied::Opened(o) => out(Event::Opened(&ConnRecord::opened(o))),
            Copied::StateChanged(r, t) => out(Event::StateChanged(r, t)),
            Copied::Closed(Spent::Here(c)) => out(Event::Closed(c.record())),
            // Never handed over: the engine's side fills every one first.
            Copied::Closed(Spent::Waiting(id)) => unreachable!("record {id} not handed over"),
            Copied::Anomaly(a) => out(Event::Anomaly(a)),
            Copied::App(r) => out(Event::App(r)),
        }
    }
}

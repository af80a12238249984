//! Events that own what they tell, so a run can write its output on a thread of its own.

use crate::detect::Anomaly;
use crate::proto::AppRecord;
use crate::wire::Segment;

use super::{ConnRecord, Event, Transition};

/// An [`Event`] with its record, transition, anomaly or segment copied out of the engine.
#[derive(Clone, Debug)]
pub enum OwnedEvent {
    /// [`Event::Opened`].
    Opened(Box<ConnRecord>),
    /// [`Event::StateChanged`].
    StateChanged(Box<ConnRecord>, Transition),
    /// [`Event::Segment`], without the payload bytes: no sink reads them (the segment still
    /// tells how many there were).
    Segment(Box<ConnRecord>, Box<Segment<'static>>),
    /// [`Event::Anomaly`].
    Anomaly(Box<Anomaly>),
    /// [`Event::Closed`].
    Closed(Box<ConnRecord>),
    /// [`Event::App`].
    App(Box<AppRecord>),
}

impl OwnedEvent {
    /// A copy of `e`.
    pub fn of(e: &Event<'_>) -> Self {
        match *e {
            Event::Opened(r) => OwnedEvent::Opened(Box::new(r.clone())),
            Event::StateChanged(r, t) => OwnedEvent::StateChanged(Box::new(r.clone()), *t),
            Event::Segment(r, s) => {
                OwnedEvent::Segment(Box::new(r.clone()), Box::new(s.with_payload(&[])))
            }
            Event::Anomaly(a) => OwnedEvent::Anomaly(Box::new(a.clone())),
            Event::Closed(r) => OwnedEvent::Closed(Box::new(r.clone())),
            Event::App(a) => OwnedEvent::App(Box::new(a.clone())),
        }
    }

    /// The event, lent.
    pub fn as_event(&self) -> Event<'_> {
        match self {
            OwnedEvent::Opened(r) => Event::Opened(r),
            OwnedEvent::StateChanged(r, t) => Event::StateChanged(r, t),
            OwnedEvent::Segment(r, s) => Event::Segment(r, s),
            OwnedEvent::Anomaly(a) => Event::Anomaly(a),
            OwnedEvent::Closed(r) => Event::Closed(r),
            OwnedEvent::App(a) => Event::App(a),
        }
    }
}

//! What the engine hands to its caller, in the order it is decided: connections opening, their
//! endpoints changing state, anomalies, connection records leaving the table
//! ([`ConnRecord`]). Sinks read these and nothing of the engine's insides.

mod record;
mod story;

pub use record::{Cause, ConnRecord, EndReason, MAX_TRANSITIONS, Opening, Transition, ZeekView};
pub use story::{CloseKind, Mark, Milestones, StoryStep};

use crate::detect::Anomaly;
use crate::proto::AppRecord;
use crate::wire::Segment;

/// One output of the analysis.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A connection was opened by its first segment (the record holds nothing of that segment
    /// yet).
    Opened(&'a ConnRecord),
    /// An endpoint of a connection changed state.
    StateChanged(&'a ConnRecord, &'a Transition),
    /// A segment of a connection, after it was accounted (only when the run asks for them:
    /// `FlowConfig::segment_stream`).
    Segment(&'a ConnRecord, &'a Segment<'a>),
    /// An anomaly, as soon as it is decided.
    Anomaly(&'a Anomaly),
    /// A connection record leaving the table (ended, timed out, reused, evicted or at the end
    /// of the capture).
    Closed(&'a ConnRecord),
    /// An application-layer record (DNS, TLS, HTTP), when the run parses them.
    App(&'a AppRecord),
}

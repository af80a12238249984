//! Where the table's output goes beside its events: the streams' bytes and the finished
//! connections themselves.

use super::FlowTable;
use crate::flow::{Connection, StreamSink};

/// What takes finished connections ([`FlowTable::set_spent`]).
pub type Spent = Box<dyn FnMut(Box<Connection>) + Send>;

impl FlowTable {
    /// Sends every direction's in-order bytes to `sink` (`--write-streams`).
    pub fn set_stream_sink(&mut self, sink: Box<dyn StreamSink>) {
        self.sink = Some(sink);
        self.budget.retain = true;
    }

    /// Hands every connection to `spent` once its [`crate::event::Event::Closed`] has been
    /// emitted, instead of dropping it: the record can then be written elsewhere without a
    /// copy.
    pub fn set_spent(&mut self, spent: Spent) {
        self.spent = Some(spent);
    }

    /// Whether segments' payload bytes are read (reassembly keeping them, the application
    /// layer, stream files); otherwise the table reads headers and how many payload bytes were
    /// captured, never the bytes themselves.
    pub fn reads_payload(&self) -> bool {
        self.budget.retain || self.app.is_some()
    }

    /// Whether the table's connections may be split among shards ([`FlowTable::set_shared`]):
    /// not with the application layer (DNS names and sessions span connections), a stream
    /// sink, or stories kept only while a report wants them.
    pub fn shardable(&self) -> bool {
        self.app.is_none() && self.sink.is_none() && self.stories_wanted.is_none()
    }
}

//! What the records keep beyond themselves (Wireshark classes, stories), and until when.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::FlowTable;
use crate::flow::connection::Keep;

impl FlowTable {
    /// Keeps the stories `FlowConfig::keep_transitions` asks for only while `wanted` holds: an
    /// output that needs some records' stories (the HTML report's ladders: the first flagged
    /// connections to close) clears it once it has them, and the segments after that tell none.
    pub fn keep_stories_while(&mut self, wanted: Arc<AtomicBool>) {
        self.stories_wanted = Some(wanted);
    }

    /// What the records keep beyond themselves.
    pub(super) fn keep(&mut self) -> Keep {
        if self
            .stories_wanted
            .as_ref()
            .is_some_and(|w| !w.load(Ordering::Relaxed))
        {
            self.cfg.keep_transitions = false;
            self.stories_wanted = None;
        }
        Keep {
            segment_classes: self.cfg.segment_events,
            transitions: self.cfg.keep_transitions,
        }
    }
}

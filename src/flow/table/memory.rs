//! What the table charges to `--max-memory`, and the room it leaves the listener tracker.

use super::FlowTable;
use crate::detect::flood::ListenerCall;
use crate::time::Timestamp;
use crate::wire::Endpoint;

impl FlowTable {
    /// Tells the table how many bytes are held before it (IP fragments waiting for the rest
    /// of their datagram), so they count against `--max-memory` with its own.
    pub fn set_outside_bytes(&mut self, bytes: usize) {
        self.outside_bytes = bytes;
    }

    /// Bytes held now, as charged to `--max-memory`: connections (frozen ones by their size),
    /// their timers (live and stale), the list of closed ones, reassembly, listener and
    /// application state, and what is held before the table.
    pub fn memory_in_use(&self) -> usize {
        self.others_bytes() + self.listeners.memory_bytes()
    }

    /// [`FlowTable::memory_in_use`] but for the listener tracker's state, which is what a SYN
    /// of a flood changes: the tracker is given its room from this, and under a flood (where
    /// the table is asked for its memory a few times per SYN) the listeners' part is summed
    /// only where it is needed.
    fn others_bytes(&self) -> usize {
        self.conns.unfrozen() * self.cfg.connection_bytes()
            + self.conns.frozen_bytes()
            + self.timers.memory_bytes()
            + self.closed.capacity() * std::mem::size_of::<(u32, u64)>()
            + self.budget.used
            + self.app.as_ref().map_or(0, |a| a.layer.memory_bytes())
            + self.outside_bytes
    }

    /// Bytes committed under `--max-memory`: those held now, and the room the aggregated
    /// attempts of a flood may still grow into (reserved, so that connections admitted before
    /// a flood cannot take it).
    pub(super) fn committed(&self) -> usize {
        self.others_bytes() + self.listeners.committed_bytes()
    }

    /// Tells the listener tracker how much of the memory bound the rest of the analysis leaves
    /// it, `coming` bytes about to be taken included: a listener admitted after connections
    /// filled the bound would take it past the bound.
    pub(super) fn listener_room(&mut self, coming: usize) {
        let others = self.others_bytes() + coming;
        self.listeners
            .set_room(self.cfg.max_memory.saturating_sub(others));
    }

    /// Whether an attempt to `listener` may become a connection record (the listener tracker's
    /// [`ListenerTracker::may_track`](crate::detect::ListenerTracker::may_track)); a listener
    /// it starts tracking for it must fit in the room the rest of the table leaves, the record
    /// included.
    pub(super) fn may_track(&mut self, listener: Endpoint, ts: Timestamp) -> bool {
        if self.is_shard() {
            return self.listener_call(ListenerCall::MayTrack { listener, ts });
        }
        // A listener already tracked answers at once (one lookup); a new one is given its
        // room first, which sums the table's memory.
        if let Some(may) = self.listeners.may_track(&listener) {
            return may;
        }
        self.listener_room(crate::flow::CONNECTION_BYTES);
        self.listeners.track(listener, ts)
    }
}

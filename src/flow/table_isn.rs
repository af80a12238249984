//! The table's part in the ISN sketches: every first SYN and SYN-ACK of a side goes to the
//! sending host's sketch (the rules are in `detect/isn.rs`).

use super::table::FlowTable;
use crate::detect::isn::IsnTracker;
use crate::wire::{Endpoint, Segment};

impl FlowTable {
    /// Feeds the ISN of `seg` to its sender's sketch when it is the first SYN or SYN-ACK its
    /// side of connection `idx` sent (retransmissions repeat the ISN and tell nothing new).
    /// Only the flags are looked at here, for every segment; the rest is out of line.
    #[inline]
    pub(super) fn note_isn(&mut self, seg: &Segment<'_>, idx: usize) {
        let f = seg.flags;
        if f.syn() && !f.rst() {
            self.note_syn_isn(seg, idx);
        }
    }

    /// [`Self::note_isn`] of a SYN or SYN-ACK.
    fn note_syn_isn(&mut self, seg: &Segment<'_>, idx: usize) {
        if !self.conns.contains(idx) {
            return;
        }
        let c = self.conn(idx);
        if c.record().half(c.side_of(seg)).syns != 1 {
            return;
        }
        let (src, dst) = (
            Endpoint::new(seg.src, seg.sport),
            Endpoint::new(seg.dst, seg.dport),
        );
        self.isn_call((src, dst), seg.seq.0, seg.frame, seg.ts);
    }

    /// ISN sketches of every sending host seen.
    pub fn isn(&self) -> &IsnTracker {
        &self.isn
    }
}

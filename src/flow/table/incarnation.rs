//! A tracked four-tuple's next incarnation: a SYN with a new ISN ends the tracked connection
//! and opens the next (linked to it), and an old duplicate of a finished connection's SYN opens
//! a record of its own.

use super::FlowTable;
use super::shared::SharedCall;
use crate::event::{EndReason, Event};
use crate::flow::FlowKey;
use crate::wire::{Endpoint, Segment, Side};

impl FlowTable {
    /// A SYN with a new ISN on the tracked four-tuple `key` (slot `idx`, sent by `side` as
    /// that incarnation knew it): the old incarnation ends, a new one opens. Returns the new
    /// one's slot, unless the attempt was aggregated.
    pub(super) fn reincarnate(
        &mut self,
        idx: usize,
        key: FlowKey,
        seg: &Segment<'_>,
        side: Side,
        out: &mut impl FnMut(Event<'_>),
    ) -> Option<usize> {
        let mut old = self.conns.remove(idx).into_full(|| self.rebuild());
        self.map.remove(&key);
        self.stats.reused_tuples += 1;
        let dst = Endpoint::new(seg.dst, seg.dport);
        let opened = self.open(seg, dst, out);
        if let Some(new) = opened {
            let rebuild = self.rebuild();
            let c = self.conns.full(new, || rebuild);
            c.record_mut().prev_id = Some(old.record().id);
            let succeeds = SharedCall::Succeeds {
                id: c.record().id,
                prev: old.record().id,
            };
            let old = old.view();
            c.judge(&self.detect, &mut self.anomalies, |j| {
                crate::detect::reuse::on_new_incarnation(&old, seg, j)
            });
            self.hand_on(succeeds);
        }
        // The old incarnation's TIME-WAIT ends here (RFC 9293 §3.10.7.4, RFC 6191).
        old.supersede(seg, side, self.cfg.keep_transitions, &mut self.changes);
        let rec = old.record();
        for t in self.changes.drain(..) {
            out(Event::StateChanged(rec, &t));
        }
        self.end(old, EndReason::Reused, out);
        let idx = opened?;
        self.map.insert(key, idx);
        Some(idx)
    }

    /// An old duplicate of the SYN of the finished connection in slot `idx` arrived: the
    /// finished record leaves the table as it was, and the duplicate, with whatever answers it
    /// draws (a new SYN-ACK from a listener, a re-sent ACK from TIME-WAIT, the initiator's RST),
    /// opens a record of its own linked to it. Returns the new record's slot, unless the
    /// attempt was aggregated.
    pub(super) fn replay(
        &mut self,
        idx: usize,
        key: FlowKey,
        seg: &Segment<'_>,
        out: &mut impl FnMut(Event<'_>),
    ) -> Option<usize> {
        let old = self.conns.remove(idx).into_full(|| self.rebuild());
        self.map.remove(&key);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let opened = self.open_as(seg, dst, false, out);
        if let Some(new) = opened {
            let c = self.conn(new);
            c.record_mut().prev_id = Some(old.record().id);
            c.mark_replay(seg, old.record());
            c.continue_from(&old);
            let id = c.record().id;
            self.hand_on(SharedCall::Succeeds {
                id,
                prev: old.record().id,
            });
        }
        self.end(old, EndReason::Reused, out);
        let idx = opened?;
        self.map.insert(key, idx);
        Some(idx)
    }
}

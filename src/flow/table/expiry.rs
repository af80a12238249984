//! Connections ending when idle past their deadline, or to make room.

use super::FlowTable;
use super::shared::SharedCall;
use crate::event::{EndReason, Event};
use crate::flow::timers::Timer;
use crate::time::Timestamp;

impl FlowTable {
    /// Schedules a check of connection `id`, in slot `slot`, at `deadline`.
    pub(super) fn push_timer(&mut self, deadline: Timestamp, slot: usize, id: u64) {
        self.timers.push(Timer {
            deadline: deadline.as_nanos(),
            slot,
            id,
        });
    }

    /// Whether `t` is the timer of the connection it was set for: that connection is still
    /// tracked and no earlier deadline replaced it.
    fn live(&self, t: &Timer) -> bool {
        self.conns.timer_is(t.slot, t.id, t.deadline)
    }

    /// Ends connections whose idle deadline has passed.
    #[inline]
    pub(in crate::flow) fn expire(&mut self, out: &mut impl FnMut(Event<'_>)) {
        // Most packets move the clock within a timer tick, with nothing else to do: that is
        // checked here, inline, and the pass itself is made only when something may be due.
        if self.app.is_some()
            || self.freezes_settled()
            || self.stale_timers_pile_up()
            || self.timers.may_be_due(self.now.as_nanos())
        {
            self.expire_due(out);
        }
    }

    /// [`FlowTable::expire`]'s pass: the application layer's clock, settled closed connections
    /// frozen, stale timer entries dropped, and every connection whose timer is due ended.
    #[inline(never)]
    fn expire_due(&mut self, out: &mut impl FnMut(Event<'_>)) {
        if let Some(a) = self.app.as_mut() {
            a.layer.advance(self.now);
        }
        self.freeze_settled();
        // Entries of connections that already ended wait among the timers until their deadline; on a
        // long run with many short connections, drop them once they outnumber the live ones.
        // The next compaction waits until the timers have doubled, so its cost stays linear
        // overall whatever the number of entries per live connection.
        if self.stale_timers_pile_up() {
            let mut timers = std::mem::take(&mut self.timers);
            timers.retain(|t| self.live(t));
            self.compact_at = 2 * timers.len();
            self.timers = timers;
            self.compactions += 1;
        }
        // The connections due end in the order of their real deadlines (ties by id), not of
        // the entries that surfaced them: an entry may be older than its connection's deadline
        // (it is pushed again at that deadline when it surfaces early), so which entry
        // surfaces a connection depends on the times the passes ran, and the order must not.
        let mut due = std::mem::take(&mut self.due);
        while let Some(t) = self.timers.pop_due(self.now.as_nanos()) {
            if !self.live(&t) {
                continue;
            }
            let slot = &self.conns[t.slot];
            let real = slot.last_ts().add(self.slot_timeout(slot));
            if real > self.now {
                self.conns.set_timer_at(t.slot, real);
                self.push_timer(real, t.slot, t.id);
                continue;
            }
            due.push((real, t.id, t.slot));
        }
        // Two entries at the same deadline surface a connection twice.
        due.sort_unstable();
        due.dedup();
        for &(real, _, slot) in &due {
            let c = self.remove(slot);
            let id = c.record().id;
            self.hand_on(SharedCall::Ending { id, at: Some(real) });
            if !c.record().is_closed() {
                self.stats.timed_out += 1;
            }
            self.end(c, EndReason::Timeout, out);
        }
        due.clear();
        self.due = due;
    }

    /// Whether the timer entries have grown past what compacting them waits for.
    #[inline]
    fn stale_timers_pile_up(&self) -> bool {
        self.timers.len() > self.compact_at.max(4 * self.conns.len() + 4096)
    }

    /// Evicts the connection whose timer is due soonest; false when none is left.
    pub(super) fn evict_one(&mut self, out: &mut impl FnMut(Event<'_>)) -> bool {
        while let Some(t) = self.timers.pop_first() {
            if self.live(&t) {
                self.hand_on(SharedCall::Bounded);
                let c = self.remove(t.slot);
                self.stats.evicted += 1;
                self.end(c, EndReason::Evicted, out);
                return true;
            }
        }
        false
    }
}

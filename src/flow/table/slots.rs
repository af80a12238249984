//! The table's slots, with what the frozen ones among them take: a frozen connection is charged
//! to `--max-memory` by its encoded size, so every change of a slot's form goes through here.

use super::slot::{Rebuild, Slot};
use crate::flow::Connection;
use crate::time::Timestamp;
use slab::Slab;

/// The slots of the table (a slab: a connection's index stays its own while it is tracked).
#[derive(Debug, Default)]
pub(crate) struct Slots {
    slab: Slab<Slot>,
    /// What the frozen slots take.
    frozen: Frozen,
    /// Times a frozen connection was decoded while tracked.
    thawed: u64,
    /// Each slot's connection and when its timer is due ([`Slots::timer_is`]), by slot index
    /// (a slot not in use holds [`NO_ID`]): what the table reads of a connection for each timer
    /// entry that comes due, most of them stale, kept apart so that it reads 16 bytes of a
    /// small array instead of a connection's record, some kilobytes away and mostly out of
    /// the cache by then.
    timers: Vec<(u64, Option<Timestamp>)>,
}

/// No record has this id (ids count up from 1): a slot not in use.
const NO_ID: u64 = u64::MAX;

/// The frozen slots, and what they take as charged (see [`Slot::frozen_bytes`]).
#[derive(Debug, Default)]
struct Frozen {
    slots: usize,
    bytes: usize,
}

impl Frozen {
    /// `slot` comes in (nothing unless it is frozen).
    fn add(&mut self, slot: &Slot) {
        if let Slot::Frozen(_) = slot {
            self.slots += 1;
            self.bytes += slot.frozen_bytes();
        }
    }

    /// `slot` goes out, or changes form (nothing unless it was frozen).
    fn remove(&mut self, slot: &Slot) {
        if let Slot::Frozen(_) = slot {
            self.slots -= 1;
            self.bytes -= slot.frozen_bytes();
        }
    }
}

impl Slots {
    /// Slots in use.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no slot is in use.
    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Slots in use that hold a connection in full or as its first segment (charged as one
    /// in full).
    pub(crate) fn unfrozen(&self) -> usize {
        self.slab.len() - self.frozen.slots
    }

    /// What the frozen slots take, as charged.
    pub(crate) fn frozen_bytes(&self) -> usize {
        self.frozen.bytes
    }

    /// Times a frozen connection was decoded while tracked (for a segment, an ICMP error or a
    /// new incarnation; not for its end).
    pub(crate) fn thawed(&self) -> u64 {
        self.thawed
    }

    /// Whether slot `idx` is in use.
    pub(crate) fn contains(&self, idx: usize) -> bool {
        self.slab.contains(idx)
    }

    /// Slot `idx`, if in use.
    pub(crate) fn get(&self, idx: usize) -> Option<&Slot> {
        self.slab.get(idx)
    }

    /// Every slot in use.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slab.iter().map(|(_, s)| s)
    }

    /// Puts `slot` in a free slot; returns its index.
    pub(crate) fn insert(&mut self, slot: Slot) -> usize {
        self.frozen.add(&slot);
        let timer = (slot.id(), slot.timer_at());
        let idx = self.slab.insert(slot);
        if idx >= self.timers.len() {
            self.timers.resize(idx + 1, (NO_ID, None));
        }
        self.timers[idx] = timer;
        idx
    }

    /// Replaces the slot `idx` holds (a change of form).
    pub(crate) fn set(&mut self, idx: usize, slot: Slot) {
        self.frozen.add(&slot);
        self.timers[idx] = (slot.id(), slot.timer_at());
        let old = std::mem::replace(&mut self.slab[idx], slot);
        self.frozen.remove(&old);
    }

    /// Takes slot `idx` out.
    pub(crate) fn remove(&mut self, idx: usize) -> Slot {
        self.timers[idx] = (NO_ID, None);
        let old = self.slab.remove(idx);
        self.frozen.remove(&old);
        old
    }

    /// Takes every slot out, in no order.
    pub(crate) fn drain(&mut self) -> Vec<Slot> {
        self.frozen = Frozen::default();
        self.timers.clear();
        self.slab.drain().collect()
    }

    /// The connection in slot `idx`, rebuilt or decoded first if it is not held in full.
    #[inline(always)]
    pub(crate) fn full(&mut self, idx: usize, r: impl FnOnce() -> Rebuild) -> &mut Connection {
        // Called several times for every segment, nearly always on a connection in full: the
        // slot is looked up once, and the rest kept out of the way.
        let slot = &mut self.slab[idx];
        if !matches!(slot, Slot::Full(_)) {
            self.thawed += u64::from(matches!(slot, Slot::Frozen(_)));
            self.frozen.remove(slot);
            slot.unfold(r);
        }
        match slot {
            Slot::Full(c) => c,
            Slot::Lone(_) | Slot::Frozen(_) => unreachable!("the slot was just unfolded"),
        }
    }

    /// Sets when the table's timer for the connection in slot `idx` is due.
    pub(crate) fn set_timer_at(&mut self, idx: usize, at: Timestamp) {
        self.slab[idx].set_timer_at(at);
        self.timers[idx].1 = Some(at);
    }

    /// Whether slot `idx` holds connection `id` with its timer due at `deadline` (nanoseconds).
    #[inline]
    pub(crate) fn timer_is(&self, idx: usize, id: u64, deadline: i64) -> bool {
        let is = self
            .timers
            .get(idx)
            .is_some_and(|&(i, at)| i == id && at.is_some_and(|at| at.as_nanos() == deadline));
        debug_assert_eq!(
            is,
            self.slab.get(idx).is_some_and(|c| {
                c.id() == id && c.timer_at().is_some_and(|at| at.as_nanos() == deadline)
            }),
            "the timers kept apart are the slots'"
        );
        is
    }
}

impl std::ops::Index<usize> for Slots {
    type Output = Slot;

    fn index(&self, idx: usize) -> &Slot {
        &self.slab[idx]
    }
}

//! The connection table's timers: a hashed timing wheel in front of a small heap.
//!
//! Every tracked connection has a deadline, and the table asks, for each newer packet time,
//! which deadlines have passed, in deadline order. One binary heap over all of them cost a
//! cache miss per level on every pop once it held a few hundred thousand entries. Here an
//! entry waits in the wheel's slot for its deadline's 134 ms tick and moves into the heap
//! (`near`) only when the clock reaches that tick, so the heap holds the entries of one tick
//! or so and every operation on the far entries is a push onto a vector. Pops come out in the
//! same order as from one heap: every entry due by the clock is in `near` when popped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A timer entry: connection `id` in slab slot `slot` is due at `deadline` (nanoseconds).
/// Ordered by deadline first, so the heap's top is the entry due soonest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timer {
    pub deadline: i64,
    pub slot: usize,
    pub id: u64,
}

/// Nanoseconds per tick, as a shift: 2^27 ns, about 134 ms.
const TICK_SHIFT: u32 = 27;
/// Slots in the wheel: 4,096 ticks, about 550 s, longer than every default timeout, so an
/// entry usually waits in its slot for one turn only.
const SLOTS: usize = 4096;

/// The tick a deadline falls in (floor, also for times before the epoch).
fn tick(deadline: i64) -> i64 {
    deadline >> TICK_SHIFT
}

/// Pending timers, due soonest first.
pub(super) struct Timers {
    /// Entries whose tick the clock has reached.
    near: BinaryHeap<Reverse<Timer>>,
    /// Entries of later ticks, in slot `tick % SLOTS` (entries more than a turn ahead share a
    /// slot with nearer ones and stay there until their own tick).
    slots: Vec<Vec<Timer>>,
    /// The last tick whose entries were moved into `near`.
    cursor: i64,
    /// Entries in the wheel's slots.
    far: usize,
    /// Entries the wheel's slots have room for (their capacities, kept up to date: summing
    /// 4,096 slots whenever the memory bound is checked would cost more than the check).
    far_capacity: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            near: BinaryHeap::new(),
            slots: Vec::new(),
            cursor: i64::MIN,
            far: 0,
            far_capacity: 0,
        }
    }
}

impl Timers {
    /// Entries held, live or stale.
    pub fn len(&self) -> usize {
        self.near.len() + self.far
    }

    /// Bytes the entries take, live or stale, with the room their vectors hold for more.
    pub fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Timer>();
        (self.near.capacity() + self.far_capacity) * entry
            + self.slots.capacity() * std::mem::size_of::<Vec<Timer>>()
    }

    /// Adds an entry.
    pub fn push(&mut self, t: Timer) {
        let at = tick(t.deadline);
        if at <= self.cursor {
            self.near.push(Reverse(t));
        } else {
            if self.slots.is_empty() {
                self.slots = vec![Vec::new(); SLOTS];
            }
            let slot = &mut self.slots[at.rem_euclid(SLOTS as i64) as usize];
            let before = slot.capacity();
            slot.push(t);
            self.far_capacity += slot.capacity() - before;
            self.far += 1;
        }
    }

    /// Whether an entry may be due at or before `now` (nanoseconds): false when the clock is
    /// still within the last tick moved into `near` and nothing there is due yet, which is
    /// the case for most packets (a tick is 134 ms), so the table can skip its timer pass.
    #[inline]
    pub fn may_be_due(&self, now: i64) -> bool {
        tick(now) > self.cursor || self.near.peek().is_some_and(|Reverse(t)| t.deadline <= now)
    }

    /// The entry due soonest among those due at or before `now` (nanoseconds), removed.
    pub fn pop_due(&mut self, now: i64) -> Option<Timer> {
        self.advance(tick(now));
        match self.near.peek() {
            Some(Reverse(t)) if t.deadline <= now => self.near.pop().map(|Reverse(t)| t),
            _ => None,
        }
    }

    /// The entry due soonest, removed, however far ahead it is.
    pub fn pop_first(&mut self) -> Option<Timer> {
        // Tick by tick for up to a turn (cheap, and the clock would get there anyway); past
        // that, or before the clock has started, straight to the nearest tick held.
        let mut steps = 0;
        while self.near.is_empty() && self.far > 0 {
            if self.cursor == i64::MIN || steps == SLOTS {
                let nearest = self.slots.iter().flatten().map(|t| tick(t.deadline)).min();
                self.advance(nearest.unwrap_or(self.cursor));
            } else {
                self.advance(self.cursor + 1);
                steps += 1;
            }
        }
        self.near.pop().map(|Reverse(t)| t)
    }

    /// Keeps only the entries `keep` accepts, and gives back the room of those dropped when
    /// they were most of it (the memory bound charges the room, not the entries).
    pub fn retain(&mut self, mut keep: impl FnMut(&Timer) -> bool) {
        self.near.retain(|Reverse(t)| keep(t));
        if self.near.capacity() > 2 * self.near.len() {
            self.near.shrink_to_fit();
        }
        for s in &mut self.slots {
            s.retain(&mut keep);
            if s.capacity() > 2 * s.len() {
                s.shrink_to_fit();
            }
        }
        self.far = self.slots.iter().map(Vec::len).sum();
        self.far_capacity = self.slots.iter().map(Vec::capacity).sum();
    }

    /// Moves the entries of every tick up to `to` into `near`.
    fn advance(&mut self, to: i64) {
        if to <= self.cursor {
            return;
        }
        if self.far == 0 {
            self.cursor = to;
            return;
        }
        // A jump of a turn or more visits every slot once; a shorter one only the slots of the
        // ticks passed.
        let from = self
            .cursor
            .saturating_add(1)
            .max(to.saturating_sub(SLOTS as i64 - 1));
        let mut at = from;
        while at <= to && self.far > 0 {
            let slot = &mut self.slots[at.rem_euclid(SLOTS as i64) as usize];
            let before = slot.len();
            let near = &mut self.near;
            slot.retain(|t| {
                let due = tick(t.deadline) <= to;
                if due {
                    near.push(Reverse(*t));
                }
                !due
            });
            self.far -= before - slot.len();
            // A drained slot fills again only over the next turn: give its memory back, or every
            // slot would keep the most it ever held.
            if slot.is_empty() {
                self.far_capacity -= slot.capacity();
                *slot = Vec::new();
            }
            at += 1;
        }
        self.cursor = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// The wheel pops exactly what one binary heap pops, for random pushes, clock steps
    /// (small, a turn and more, none), evictions and compactions.
    #[test]
    fn pops_what_one_heap_pops() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut wheel = Timers::default();
        let mut heap = BinaryHeap::new();
        let mut now: i64 = 1_700_000_000_000_000_000;
        let mut id = 0;
        for round in 0..20_000 {
            let r = rng.next();
            match r % 16 {
                0..=8 => {
                    // Deadlines from the past to well over a turn ahead.
                    let ahead = (rng.next() % 1_400_000_000_000) as i64 - 5_000_000_000;
                    id += 1;
                    let t = Timer {
                        deadline: now + ahead,
                        slot: (rng.next() % 64) as usize,
                        id,
                    };
                    wheel.push(t);
                    heap.push(Reverse(t));
                }
                9..=12 => {
                    now += (rng.next() % 400_000_000) as i64;
                }
                13 => now += 700_000_000_000,
                14 => assert_eq!(wheel.pop_first(), heap.pop().map(|Reverse(t)| t)),
                _ => {
                    if round % 7 == 0 {
                        let m = rng.next() % 5;
                        wheel.retain(|t| t.id % 5 != m);
                        heap.retain(|Reverse(t)| t.id % 5 != m);
                    }
                }
            }
            loop {
                let expected = match heap.peek() {
                    Some(Reverse(t)) if t.deadline <= now => heap.pop().map(|Reverse(t)| t),
                    _ => None,
                };
                // The table skips its pass when nothing may be due: nothing must be then.
                assert!(wheel.may_be_due(now) || expected.is_none(), "round {round}");
                assert_eq!(wheel.pop_due(now), expected, "round {round}");
                if expected.is_none() {
                    break;
                }
            }
            assert_eq!(wheel.len(), heap.len());
            let capacity: usize = wheel.slots.iter().map(Vec::capacity).sum();
            assert_eq!(wheel.far_capacity, capacity, "round {round}");
            assert!(wheel.memory_bytes() >= wheel.len() * std::mem::size_of::<Timer>());
        }
        while let Some(Reverse(t)) = heap.pop() {
            assert_eq!(wheel.pop_first(), Some(t));
        }
        assert_eq!(wheel.pop_first(), None);
        assert_eq!(wheel.len(), 0);
    }
}

//! What a hash table costs, as charged to `--max-memory`, and how a queue gives its room back.

use std::collections::VecDeque;

use thin_vec::ThinVec;

/// A queue whose room [`give_back_room`] can give back: a new one holds none.
pub trait Room: Default {
    /// Whether it holds no entry.
    fn is_empty(&self) -> bool;
    /// Entries it has room for.
    fn capacity(&self) -> usize;
}

impl<T> Room for VecDeque<T> {
    fn is_empty(&self) -> bool {
        VecDeque::is_empty(self)
    }
    fn capacity(&self) -> usize {
        VecDeque::capacity(self)
    }
}

impl<T> Room for ThinVec<T> {
    fn is_empty(&self) -> bool {
        ThinVec::is_empty(self)
    }
    fn capacity(&self) -> usize {
        ThinVec::capacity(self)
    }
}

/// Gives back the room of `q` if it is empty and has room for more than `keep` entries: a
/// queue that empties and fills again each exchange keeps a little room (no allocation per
/// exchange), and one that held a burst does not keep the burst's room while its connection
/// idles or waits out its end.
#[inline]
pub fn give_back_room<Q: Room>(q: &mut Q, keep: usize) {
    if q.is_empty() && q.capacity() > keep {
        *q = Q::default();
    }
}

/// Bytes a hashbrown table sized for `most` entries of `entry` bytes takes: its buckets (a
/// power of two, at most 7/8 full from 8 on) with a control byte each, and a group's worth of
/// trailing control bytes.
///
/// A table that loses entries is best charged from the most entries it held rather than its
/// `capacity()`: after removals, when a table grows depends on where its tombstones fell, so on
/// the per-run seeded hasher, and a charge taken from it can make the peak memory differ from
/// run to run (rounding to whole buckets hides most of that, not all).
pub fn table_bytes(most: usize, entry: usize) -> usize {
    if most == 0 {
        return 0;
    }
    let buckets = if most < 8 {
        (most + 1).next_power_of_two()
    } else {
        (most * 8 / 7).next_power_of_two()
    };
    buckets * (entry + 1) + 16
}

//! The out-of-order buffer of one stream direction: the byte ranges waiting beyond a hole.
//!
//! Ranges live in an ordered map keyed by their start and are kept disjoint and non-adjacent: a
//! segment that overlaps or touches held ranges is merged with them when it arrives, so the map
//! holds one entry per run of contiguous held bytes whatever the arrival order (a million
//! one-byte segments sent backwards are one entry, not a million), and the run is delivered in
//! one piece when the hole before it fills.
//!
//! Work per segment is bounded. With `n` ranges held, a segment that touches `k` of them costs
//! O(log n) to find its neighbours and O(k log n) to merge them away; a range is merged away at
//! most once after it is made, and each segment makes at most one, so over a stream `k` is O(1)
//! per segment amortised. A segment the budget refuses is only looked at: it visits its
//! neighbours and at most one range per [`RANGE_COST`] of its bytes (a segment touching more
//! ranges frees more bookkeeping than its bytes cost, so it is always accepted). Kept bytes are
//! copied once on arrival, and on a merge the smaller side is copied into the larger, so a byte
//! is copied at most log2(per-direction bound) more times. In test builds `Ahead::steps` counts
//! these operations so tests can hold them to the bound.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};

/// What one held range costs the reassembly budget besides its bytes: its map slot (start, end
/// and the byte buffer's header: 48 bytes) and its share of the map's nodes. B-tree nodes hold
/// up to 11 slots and ranges arriving in ascending order (the usual case: everything after one
/// lost segment) leave them about half full: measured, a million such ranges take 94 bytes
/// each. At the default 1 MiB per direction (`--max-stream-buffer`) a direction holds at most
/// 10,922 separate ranges.
pub const RANGE_COST: usize = 96;

/// Contiguous held bytes: where they end, and the bytes themselves when bytes are kept.
#[derive(Clone, Debug, Default)]
struct Run {
    end: u64,
    data: VecDeque<u8>,
}

crate::base::pack::pack_struct!(Run { end, data });

/// One direction's held ranges, beyond the next expected byte.
#[derive(Clone, Debug, Default)]
pub struct Ahead {
    /// Start offset → run; disjoint, and never touching (touching runs are one run). No
    /// running totals beside it: every connection carries two of these, idle or not, so the
    /// map is boxed when a range is first held (8 bytes, not 24, for the many streams that
    /// never hold one) and freed when the last one leaves.
    #[allow(
        clippy::box_collection,
        reason = "the box is the point: 8 bytes in every stream, the collection only in the few that use it"
    )]
    runs: Option<Box<BTreeMap<u64, Run>>>,
    /// Map operations and ranges visited so far (see the module's bound).
    #[cfg(test)]
    steps: std::cell::Cell<u64>,
}

/// The runs, and in tests the count of steps.
impl crate::base::pack::Pack for Ahead {
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        self.runs.pack(w);
        #[cfg(test)]
        self.steps.get().pack(w);
    }
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        Ahead {
            runs: Option::unpack(r),
            #[cfg(test)]
            steps: std::cell::Cell::new(u64::unpack(r)),
        }
    }
}

/// What a stream holding no range reads.
static NO_RUNS: BTreeMap<u64, Run> = BTreeMap::new();

impl Ahead {
    /// The held runs (an empty map while none is held).
    #[inline]
    fn map(&self) -> &BTreeMap<u64, Run> {
        self.runs.as_deref().unwrap_or(&NO_RUNS)
    }

    /// Bytes held beyond holes (each offset once). Walks the ranges: asked once, when the
    /// stream ends.
    pub fn pending(&self) -> u64 {
        self.map().iter().map(|(s, r)| r.end - s).sum()
    }

    /// Separate ranges held.
    pub fn ranges(&self) -> usize {
        self.map().len()
    }

    /// What the held ranges cost the budget: their kept bytes and [`RANGE_COST`] per range.
    #[cfg(test)]
    pub fn charged(&self) -> usize {
        let kept: usize = self.map().values().map(|r| r.data.len()).sum();
        kept + self.map().len() * RANGE_COST
    }

    /// Start of the first held range.
    pub fn first_start(&self) -> Option<u64> {
        self.step(1);
        self.map().first_key_value().map(|(s, _)| *s)
    }

    /// Map operations and ranges visited since the buffer was made.
    #[cfg(test)]
    pub fn steps(&self) -> u64 {
        self.steps.get()
    }

    #[inline]
    fn step(&self, _n: u64) {
        #[cfg(test)]
        self.steps.set(self.steps.get() + _n);
    }

    /// The held run overlapping or touching `start` from below, if any: its start.
    fn touching_below(&self, start: u64) -> Option<u64> {
        self.step(1);
        match self.map().range(..=start).next_back() {
            Some((s, r)) if r.end >= start => Some(*s),
            _ => None,
        }
    }

    /// How much the charge ([`Ahead::charged`]) would grow (or, negative, shrink) if the range
    /// `start..start + len` were held: bytes not already held (when kept) plus one range, less
    /// the ranges it would merge.
    pub fn growth(&self, start: u64, len: u64, keep: bool) -> i64 {
        let end = start + len;
        let mut merged = 0i64;
        let mut covered = 0u64;
        if let Some(s) = self.touching_below(start)
            && let Some(r) = self.map().get(&s)
        {
            merged += 1;
            covered += r.end.min(end) - start;
        }
        self.step(1);
        // Ranges starting inside the new one or right at its end.
        for (s, r) in self.map().range((Excluded(start), Unbounded)) {
            if *s > end {
                break;
            }
            self.step(1);
            merged += 1;
            covered += r.end.min(end) - s;
        }
        let new_bytes = if keep { len - covered } else { 0 };
        new_bytes as i64 + RANGE_COST as i64 * (1 - merged)
    }

    /// Holds `bytes` at `start` (only their range unless `keep`), merged with every held range
    /// they overlap or touch. Where they overlap held bytes, the held bytes stay unless `last`
    /// (the overlap policy: the first copy wins, or the last).
    pub fn insert(&mut self, start: u64, bytes: &[u8], keep: bool, last: bool) {
        let end = start + bytes.len() as u64;
        let below = self.touching_below(start);
        let (at, mut acc) = match below.and_then(|s| self.take(s).map(|r| (s, r))) {
            Some(found) => found,
            None => (
                start,
                Run {
                    end: start,
                    data: VecDeque::new(),
                },
            ),
        };
        if keep && last {
            overwrite(&mut acc, at, start, bytes);
        }
        loop {
            self.step(1);
            let next = self.map().range(acc.end..).next().map(|(s, _)| *s);
            // New bytes up to the next held range (or the segment's end).
            let fill_to = next.map_or(end, |n| n.min(end));
            if fill_to > acc.end {
                if keep {
                    let from = (acc.end - start) as usize;
                    acc.data.extend(&bytes[from..(fill_to - start) as usize]);
                }
                acc.end = fill_to;
            }
            match next {
                Some(n) if n <= acc.end => {
                    let Some(mut right) = self.take(n) else {
                        break;
                    };
                    if keep && last {
                        overwrite(&mut right, n, start, bytes);
                    }
                    join(&mut acc, right);
                }
                _ => break,
            }
        }
        self.step(1);
        self.runs.get_or_insert_default().insert(at, acc);
    }

    /// Removes the run starting at `s`.
    fn take(&mut self, s: u64) -> Option<Run> {
        self.step(1);
        self.runs.as_mut()?.remove(&s)
    }

    /// Removes the first held range: its start, end and kept bytes.
    pub fn pop_first(&mut self) -> Option<(u64, u64, VecDeque<u8>)> {
        self.step(1);
        let map = self.runs.as_mut()?;
        let (s, r) = map.pop_first()?;
        if map.is_empty() {
            // The last range delivered: the stream goes back to holding nothing.
            self.runs = None;
        }
        Some((s, r.end, r.data))
    }

    /// Forgets every held range (and frees the map).
    pub fn clear(&mut self) {
        self.runs = None;
    }
}

/// Appends `right` (which starts where `acc` ends) to `acc`, copying the smaller byte buffer
/// into the larger: each copied byte lands in a buffer at least twice as large as the one it
/// left, which bounds how often a byte is copied.
fn join(acc: &mut Run, mut right: Run) {
    acc.end = right.end;
    if acc.data.len() >= right.data.len() {
        acc.data.append(&mut right.data);
    } else {
        right.data.reserve(acc.data.len());
        for b in acc.data.iter().rev() {
            right.data.push_front(*b);
        }
        acc.data = right.data;
    }
}

/// Writes the new bytes (`bytes` at `start`) over the part of `run` (at `at`) they overlap.
fn overwrite(run: &mut Run, at: u64, start: u64, bytes: &[u8]) {
    let from = at.max(start);
    let to = run.end.min(start + bytes.len() as u64);
    for off in from..to {
        if let (Some(d), Some(b)) = (
            run.data.get_mut((off - at) as usize),
            bytes.get((off - start) as usize),
        ) {
            *d = *b;
        }
    }
}

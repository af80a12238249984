//! One direction's byte stream, rebuilt from its segments.
//!
//! Offsets are 64-bit and relative to the stream's first byte, so sequence-number wrap-around
//! is invisible above this file. Segments ahead of the next expected byte wait in an
//! out-of-order buffer of merged ranges (`Ahead`: O(log n) per segment, whatever the arrival
//! order) bounded per direction and globally ([`Budget`]), which is charged for each held
//! range's bookkeeping ([`RANGE_COST`]) as well as for kept bytes; hitting a bound is counted
//! and the segment is not held (never unbounded memory, never a crash). A hole
//! is given up as missed bytes (Zeek's `missed_bytes`) when the peer acknowledges data beyond it
//! or the stream ends. Retransmitted bytes are compared with the bytes already seen while those
//! are still unacknowledged; when they differ the overlap is a conflict, resolved by
//! [`OverlapPolicy`].

use std::collections::VecDeque;

use super::ahead::Ahead;
pub use super::ahead::RANGE_COST;
use crate::wire::SeqNum;

/// Which bytes win when a retransmission disagrees with bytes already seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverlapPolicy {
    /// The first bytes seen win (Suricata's `first`; what a receiver that already delivered
    /// the data to its application effectively keeps). Default.
    #[default]
    First,
    /// The last bytes seen win (Suricata's `last`).
    Last,
}

/// Memory shared by every stream: the bytes held out of order or for overlap checks, and
/// [`RANGE_COST`] for each range held out of order.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Bytes held now, over all streams.
    pub used: usize,
    /// Most bytes held at once.
    pub peak: usize,
    /// Bound over all streams (default 256 MiB, Suricata's reassembly memcap).
    pub global_cap: usize,
    /// Bound per direction (default 1 MiB).
    pub per_stream_cap: usize,
    /// Segments not held (bytes or range) because a bound was reached.
    pub cap_hits: u64,
    /// Delivered bytes are kept until acknowledged, for overlap checks (on by default); off,
    /// bytes are still held out of order and delivered, but not compared (the application
    /// layer alone needs no overlap checks, and the copy is most of its cost).
    pub retain: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            used: 0,
            peak: 0,
            global_cap: 256 << 20,
            per_stream_cap: 1 << 20,
            cap_hits: 0,
            retain: true,
        }
    }
}

impl Budget {
    fn take(&mut self, n: usize, stream_held: usize) -> bool {
        if stream_held + n > self.per_stream_cap || self.used + n > self.global_cap {
            self.cap_hits += 1;
            return false;
        }
        self.used += n;
        self.peak = self.peak.max(self.used);
        true
    }

    fn give(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }
}

/// What a stream hands on, in stream order: bytes, or a hole the capture never filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The next bytes.
    Bytes(&'a [u8]),
    /// So many bytes are missing before what follows.
    Gap(u64),
}

/// What one segment did to the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// New in-order bytes delivered.
    pub delivered: u32,
    /// Bytes that had been seen before (retransmitted).
    pub repeated: u32,
    /// The segment lies (partly) beyond the next expected byte.
    pub ahead: bool,
    /// Repeated bytes that differ from the bytes seen first: (stream offset, length).
    pub conflict: Option<(u64, u32)>,
}

/// One direction's stream.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Sequence number of stream offset 0.
    base: Option<SeqNum>,
    /// Offset of the next expected byte.
    next: u64,
    /// Offset the peer acknowledged.
    acked: u64,
    /// Out-of-order ranges above `next`, merged.
    ahead: Ahead,
    /// Furthest offset a held segment reached (a segment the snaplen cut to nothing marks it
    /// without holding a range): the end of the stream finishes there.
    furthest: u64,
    /// Delivered bytes not yet acknowledged, kept for overlap checks (contiguous, ending at
    /// `next`); boxed when first kept (only `--check-overlaps` keeps any), so that a stream
    /// that keeps none carries 8 bytes for it, not 32.
    #[allow(
        clippy::box_collection,
        reason = "the box is the point: 8 bytes in every stream, the collection only in the few that use it"
    )]
    recent: Option<Box<VecDeque<u8>>>,
    /// What this stream is charged in the budget: `recent`, and the held ranges.
    held: usize,
    /// Bytes skipped over as holes.
    pub missed: u64,
    /// Bytes delivered in order.
    pub delivered: u64,
    /// Overlaps whose bytes differed.
    pub conflicts: u32,
    /// Segments not held because a memory bound was reached.
    pub cap_hits: u32,
    /// The stream's FIN offset, once seen.
    fin: Option<u64>,
}

crate::base::pack::pack_struct!(Stream {
    base,
    next,
    acked,
    ahead,
    furthest,
    recent,
    held,
    missed,
    delivered,
    conflicts,
    cap_hits,
    fin,
});

impl Stream {
    /// Offset of the next expected byte.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Bytes waiting beyond a hole (each offset once).
    pub fn pending(&self) -> u64 {
        self.ahead.pending()
    }

    /// Bytes the stream holds, as charged to the budget: out-of-order ranges, and delivered
    /// bytes kept for overlap checks.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Separate ranges waiting beyond holes.
    pub fn held_ranges(&self) -> usize {
        self.ahead.ranges()
    }

    /// The stream offset of `seq`, unwrapped around the next expected byte.
    pub fn offset(&self, seq: SeqNum) -> Option<u64> {
        let base = self.base?;
        let next_seq = base.add(self.next as u32);
        let off = self.next as i64 + seq.diff(next_seq) as i64;
        (off >= 0).then_some(off as u64)
    }

    /// Sets the stream's start from the sender's SYN (data starts one after it) or, for a
    /// stream picked up midstream, from its first segment.
    pub fn start(&mut self, seq: SeqNum, syn: bool) {
        if self.base.is_none() {
            self.base = Some(if syn { seq.add(1) } else { seq });
        }
    }

    /// Accounts one segment: `payload` are the captured bytes, `len` its length on the wire
    /// (bytes beyond the captured ones are unknown and end up as missed). With `keep`, bytes
    /// are held (out of order, and delivered until acknowledged, for overlap checks) and `emit`
    /// receives the bytes delivered in order; without it only ranges are tracked, which costs
    /// no copies.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: SeqNum,
        syn: bool,
        fin: bool,
        payload: &[u8],
        len: u32,
        keep: bool,
        policy: OverlapPolicy,
        budget: &mut Budget,
        emit: &mut impl FnMut(Piece<'_>),
    ) -> Outcome {
        self.start(seq, syn);
        let mut out = Outcome::default();
        let data_seq = if syn { seq.add(1) } else { seq };
        let Some(start) = self.offset(data_seq) else {
            // Before the stream's start (a segment older than the ISN): ignore its bytes.
            out.repeated = len;
            return out;
        };
        if fin {
            self.fin = Some(start + len as u64);
        }
        if len == 0 {
            return out;
        }
        let end = start + len as u64;
        let known = payload.len().min(len as usize);
        // Bytes below `next` were seen already: compare what is still held.
        if start < self.next {
            let rep_end = end.min(self.next);
            out.repeated = (rep_end - start) as u32;
            let recent_start = self.next - self.recent_len();
            let cmp_start = start.max(recent_start);
            let cmp_end = rep_end.min(start + known as u64);
            // Nothing kept (`recent_start` is `next`): nothing to compare.
            if cmp_start < cmp_end
                && let Some(recent) = self.recent.as_deref_mut()
            {
                let old = recent
                    .range((cmp_start - recent_start) as usize..(cmp_end - recent_start) as usize);
                let new = &payload[(cmp_start - start) as usize..(cmp_end - start) as usize];
                if !old.clone().eq(new.iter()) {
                    out.conflict = Some((cmp_start, (cmp_end - cmp_start) as u32));
                    self.conflicts += 1;
                    if policy == OverlapPolicy::Last {
                        let at = (cmp_start - recent_start) as usize;
                        for (i, b) in new.iter().enumerate() {
                            recent[at + i] = *b;
                        }
                    }
                }
            }
        }
        if end <= self.next {
            return out;
        }
        // The part at or beyond `next`.
        let from = start.max(self.next);
        let skip = (from - start) as usize;
        let bytes = if skip < known {
            &payload[skip..known]
        } else {
            &[][..]
        };
        let span = end - from;
        if from == self.next {
            if keep {
                self.deliver(bytes, budget, emit);
            }
            // Captured bytes arrive; bytes the snaplen cut are missed either way (as in Zeek).
            let got = bytes.len() as u64;
            if !keep {
                self.next += got;
                self.delivered += got;
            }
            let lost = span - got;
            if lost > 0 {
                self.missed += lost;
                self.next += lost;
                self.forget_recent(budget);
                if keep {
                    emit(Piece::Gap(lost));
                }
            }
            // Held ranges the cut bytes passed are dropped by the drain.
            let n = got + self.drain_ahead(keep, budget, emit);
            out.delivered = u32::try_from(n).unwrap_or(u32::MAX);
        } else {
            out.ahead = true;
            self.hold(from, bytes, keep, policy, budget);
        }
        out
    }

    /// Holds the captured bytes at `from` out of order (only their range unless `keep`), if
    /// the budget allows what they add (bytes not held yet, one range less the ranges they
    /// merge with); a segment that merges ranges away gives memory back.
    fn hold(
        &mut self,
        from: u64,
        bytes: &[u8],
        keep: bool,
        policy: OverlapPolicy,
        budget: &mut Budget,
    ) {
        if bytes.is_empty() {
            // Nothing captured to hold, but the stream reached `from`.
            self.furthest = self.furthest.max(from);
            return;
        }
        let growth = self.ahead.growth(from, bytes.len() as u64, keep);
        if growth > 0 {
            if !budget.take(growth as usize, self.held) {
                self.cap_hits += 1;
                return;
            }
            self.held += growth as usize;
        } else {
            self.held -= growth.unsigned_abs() as usize;
            budget.give(growth.unsigned_abs() as usize);
        }
        self.ahead
            .insert(from, bytes, keep, policy == OverlapPolicy::Last);
        self.furthest = self.furthest.max(from + bytes.len() as u64);
    }

    fn deliver(&mut self, bytes: &[u8], budget: &mut Budget, emit: &mut impl FnMut(Piece<'_>)) {
        if bytes.is_empty() {
            return;
        }
        emit(Piece::Bytes(bytes));
        self.next += bytes.len() as u64;
        self.delivered += bytes.len() as u64;
        if !budget.retain {
            return;
        }
        // Keep delivered bytes until acknowledged, as far as the budget allows.
        if budget.take(bytes.len(), self.held) {
            self.held += bytes.len();
            self.recent.get_or_insert_default().extend(bytes);
        } else {
            // Overlap checks restart after this point.
            self.forget_recent(budget);
        }
    }

    /// Delivered bytes kept for overlap checks.
    #[inline]
    fn recent_len(&self) -> u64 {
        self.recent.as_ref().map_or(0, |r| r.len() as u64)
    }

    /// Drops the delivered bytes kept for overlap checks. They are compared by their distance
    /// from `next`, so they must go whenever `next` jumps over bytes never delivered (a hole,
    /// bytes the snaplen cut); kept across the jump they would be compared with the wrong
    /// offsets and raise false conflicts.
    fn forget_recent(&mut self, budget: &mut Budget) {
        let n = self.recent.take().map_or(0, |r| r.len());
        self.held -= n;
        budget.give(n);
    }

    /// Delivers held ranges that became contiguous, each in one piece (held ranges never
    /// touch, so this is one range unless a segment covered several); ranges wholly below
    /// `next` are dropped. Returns the bytes delivered.
    fn drain_ahead(
        &mut self,
        keep: bool,
        budget: &mut Budget,
        emit: &mut impl FnMut(Piece<'_>),
    ) -> u64 {
        let mut n = 0;
        while self.ahead.first_start().is_some_and(|s| s <= self.next) {
            let Some((start, end, data)) = self.ahead.pop_first() else {
                break;
            };
            // Given back first, so that keeping the delivered bytes can reuse the memory.
            let cost = data.len() + RANGE_COST;
            self.held -= cost;
            budget.give(cost);
            if end > self.next {
                let skip = (self.next - start) as usize;
                if keep {
                    let (a, b) = data.as_slices();
                    let skip_a = skip.min(a.len());
                    let skip_b = (skip - skip_a).min(b.len());
                    for part in [&a[skip_a..], &b[skip_b..]] {
                        n += part.len() as u64;
                        self.deliver(part, budget, emit);
                    }
                } else {
                    let got = end - self.next;
                    n += got;
                    self.next = end;
                    self.delivered += got;
                }
            }
        }
        n
    }

    /// The peer acknowledged up to `seq`: bytes below it no longer need keeping, and a hole
    /// below it will never be filled (the receiver has those bytes; the capture missed them).
    pub fn ack(
        &mut self,
        seq: SeqNum,
        keep: bool,
        budget: &mut Budget,
        emit: &mut impl FnMut(Piece<'_>),
    ) {
        let Some(mut off) = self.offset(seq) else {
            return;
        };
        if let Some(fin) = self.fin {
            off = off.min(fin);
        }
        if off <= self.acked {
            return;
        }
        self.acked = off;
        if off > self.next {
            self.skip_to(off, keep, budget, emit);
        }
        // Drop acknowledged bytes kept for overlap checks.
        let recent_start = self.next - self.recent_len();
        if off > recent_start
            && let Some(recent) = self.recent.as_deref_mut()
        {
            let n = ((off - recent_start) as usize).min(recent.len());
            recent.drain(..n);
            self.held -= n;
            budget.give(n);
            // Idle connections should not keep a buffer around.
            crate::wire::give_back_room(recent, 4 << 10);
        }
    }

    /// Gives up the hole before `off` as missed and delivers what waits beyond it.
    fn skip_to(
        &mut self,
        off: u64,
        keep: bool,
        budget: &mut Budget,
        emit: &mut impl FnMut(Piece<'_>),
    ) {
        while self.next < off {
            let target = match self.ahead.first_start() {
                Some(s) if s < off => s.max(self.next),
                _ => off,
            };
            if target > self.next {
                self.missed += target - self.next;
                if keep {
                    emit(Piece::Gap(target - self.next));
                }
                self.next = target;
                self.forget_recent(budget);
            }
            self.drain_ahead(keep, budget, emit);
            if self.ahead.first_start().is_none_or(|s| s >= off) && self.next < off {
                self.missed += off - self.next;
                if keep {
                    emit(Piece::Gap(off - self.next));
                }
                self.next = off;
                self.forget_recent(budget);
            }
        }
    }

    /// The stream ends: waiting segments are delivered across their holes, which count as
    /// missed; every held byte goes back to the budget.
    pub fn finish(&mut self, keep: bool, budget: &mut Budget, emit: &mut impl FnMut(Piece<'_>)) {
        if self.furthest > self.next {
            self.skip_to(self.furthest, keep, budget, emit);
        }
        budget.give(self.held);
        self.held = 0;
        self.recent = None;
        self.ahead.clear();
    }
}

#[cfg(test)]
#[path = "reassembly_tests.rs"]
mod tests;

//! One direction's byte stream, rebuilt from its segments.
//!
//! Offsets are 64-bit and relative to the stream's first byte, so sequence-number wrap-around
//! is invisible above this file. Segments ahead of the next expected byte wait in an
//! out-of-order buffer bounded per direction and globally ([`Budget`]); hitting a bound is
//! counted and the segment's bytes are dropped (never unbounded memory, never a crash). A hole
//! is given up as missed bytes (Zeek's `missed_bytes`) when the peer acknowledges data beyond it
//! or the stream ends. Retransmitted bytes are compared with the bytes already seen while those
//! are still unacknowledged; when they differ the overlap is a conflict, resolved by
//! [`OverlapPolicy`].

use std::collections::VecDeque;

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

/// Memory shared by every stream: the bytes held out of order or for overlap checks.
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
    /// Segments whose bytes were not held because a bound was reached.
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

/// A segment waiting beyond a hole: its range, and its bytes when bytes are kept.
#[derive(Clone, Debug)]
struct Held {
    start: u64,
    len: u64,
    data: Vec<u8>,
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
    /// Out-of-order segments above `next`, sorted by start, possibly overlapping.
    ahead: Vec<Held>,
    /// Delivered bytes not yet acknowledged, kept for overlap checks (contiguous, ending at
    /// `next`).
    recent: VecDeque<u8>,
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

impl Stream {
    /// Offset of the next expected byte.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Bytes waiting beyond a hole.
    pub fn pending(&self) -> u64 {
        self.ahead.iter().map(|h| h.len).sum()
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
            let recent_start = self.next - self.recent.len() as u64;
            let cmp_start = start.max(recent_start);
            let cmp_end = rep_end.min(start + known as u64);
            if cmp_start < cmp_end {
                let old = self
                    .recent
                    .range((cmp_start - recent_start) as usize..(cmp_end - recent_start) as usize);
                let new = &payload[(cmp_start - start) as usize..(cmp_end - start) as usize];
                if !old.clone().eq(new.iter()) {
                    out.conflict = Some((cmp_start, (cmp_end - cmp_start) as u32));
                    self.conflicts += 1;
                    if policy == OverlapPolicy::Last {
                        let at = (cmp_start - recent_start) as usize;
                        for (i, b) in new.iter().enumerate() {
                            self.recent[at + i] = *b;
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
            self.missed += lost;
            self.next += lost;
            if keep && lost > 0 {
                emit(Piece::Gap(lost));
            }
            out.delivered = got as u32;
            if lost > 0 {
                self.ahead.retain(|h| h.start + h.len > self.next);
            }
            out.delivered += self.drain_ahead(keep, budget, emit);
        } else {
            out.ahead = true;
            let hold = if keep { bytes.len() } else { 0 };
            if budget.take(hold, self.held) {
                self.held += hold;
                let pos = self.ahead.partition_point(|h| h.start <= from);
                let data = if keep { bytes.to_vec() } else { Vec::new() };
                self.ahead.insert(
                    pos,
                    Held {
                        start: from,
                        len: bytes.len() as u64,
                        data,
                    },
                );
            } else {
                self.cap_hits += 1;
            }
        }
        out
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
            self.recent.extend(bytes);
        } else {
            // Overlap checks restart after this point.
            let n = self.recent.len();
            self.recent.clear();
            self.held -= n;
            budget.give(n);
        }
    }

    /// Delivers buffered segments that became contiguous.
    fn drain_ahead(
        &mut self,
        keep: bool,
        budget: &mut Budget,
        emit: &mut impl FnMut(Piece<'_>),
    ) -> u32 {
        let mut n = 0;
        while let Some(h) = self.ahead.first() {
            if h.start > self.next {
                break;
            }
            let h = self.ahead.remove(0);
            self.held -= h.data.len();
            budget.give(h.data.len());
            let end = h.start + h.len;
            if end > self.next {
                let skip = (self.next - h.start) as usize;
                if keep {
                    let bytes = &h.data[skip.min(h.data.len())..];
                    n += bytes.len() as u32;
                    self.deliver(bytes, budget, emit);
                } else {
                    let got = end - self.next;
                    n += got as u32;
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
        let recent_start = self.next - self.recent.len() as u64;
        if off > recent_start {
            let n = ((off - recent_start) as usize).min(self.recent.len());
            self.recent.drain(..n);
            self.held -= n;
            budget.give(n);
            // Idle connections should not keep a buffer around.
            if self.recent.is_empty() && self.recent.capacity() > 4 << 10 {
                self.recent = VecDeque::new();
            }
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
            let target = match self.ahead.first() {
                Some(h) if h.start < off => h.start.max(self.next),
                _ => off,
            };
            if target > self.next {
                self.missed += target - self.next;
                if keep {
                    emit(Piece::Gap(target - self.next));
                }
                self.next = target;
                let n = self.recent.len();
                self.recent.clear();
                self.held -= n;
                budget.give(n);
            }
            self.drain_ahead(keep, budget, emit);
            if self.ahead.first().is_none_or(|h| h.start >= off) && self.next < off {
                self.missed += off - self.next;
                if keep {
                    emit(Piece::Gap(off - self.next));
                }
                self.next = off;
            }
        }
    }

    /// The stream ends: waiting segments are delivered across their holes, which count as
    /// missed; every held byte goes back to the budget.
    pub fn finish(&mut self, keep: bool, budget: &mut Budget, emit: &mut impl FnMut(Piece<'_>)) {
        if let Some(last) = self.ahead.last() {
            let end = self
                .ahead
                .iter()
                .map(|h| h.start + h.len)
                .max()
                .unwrap_or(last.start);
            self.skip_to(end, keep, budget, emit);
        }
        budget.give(self.held);
        self.held = 0;
        self.recent.clear();
        self.ahead.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed(s: &mut Stream, b: &mut Budget, out: &mut Vec<u8>, seq: u32, data: &[u8]) -> Outcome {
        s.segment(
            SeqNum(seq),
            false,
            false,
            data,
            data.len() as u32,
            true,
            OverlapPolicy::First,
            b,
            &mut |p| {
                if let Piece::Bytes(d) = p {
                    out.extend_from_slice(d)
                }
            },
        )
    }

    /// Ranges only: the segment's bytes are looked at, not kept.
    fn feed_ranges(
        s: &mut Stream,
        b: &mut Budget,
        out: &mut Vec<u8>,
        seq: u32,
        data: &[u8],
    ) -> Outcome {
        s.segment(
            SeqNum(seq),
            false,
            false,
            data,
            data.len() as u32,
            false,
            OverlapPolicy::First,
            b,
            &mut |p| {
                if let Piece::Bytes(d) = p {
                    out.extend_from_slice(d)
                }
            },
        )
    }

    #[test]
    fn in_order_out_of_order_and_wraparound() {
        let mut s = Stream::default();
        let mut b = Budget::default();
        let mut out = Vec::new();
        let base = u32::MAX - 3;
        s.segment(
            SeqNum(base),
            true,
            false,
            &[],
            0,
            true,
            OverlapPolicy::First,
            &mut b,
            &mut |_| {},
        );
        feed(&mut s, &mut b, &mut out, base.wrapping_add(5), b"efgh");
        assert!(out.is_empty());
        feed(&mut s, &mut b, &mut out, base.wrapping_add(1), b"abcd");
        assert_eq!(out, b"abcdefgh");
        let o = feed(&mut s, &mut b, &mut out, base.wrapping_add(3), b"cd");
        assert_eq!(o.repeated, 2);
        assert_eq!(o.conflict, None);
        let o = feed(&mut s, &mut b, &mut out, base.wrapping_add(3), b"XX");
        assert_eq!(o.conflict, Some((2, 2)));
        assert_eq!(out, b"abcdefgh");
    }

    #[test]
    fn acked_hole_counts_as_missed() {
        let mut s = Stream::default();
        let mut b = Budget::default();
        let mut out = Vec::new();
        s.start(SeqNum(0), true);
        feed(&mut s, &mut b, &mut out, 11, b"klmn");
        s.ack(SeqNum(15), true, &mut b, &mut |p| {
            if let Piece::Bytes(d) = p {
                out.extend_from_slice(d)
            }
        });
        assert_eq!(out, b"klmn");
        assert_eq!(s.missed, 10);
        s.finish(true, &mut b, &mut |_| {});
        assert_eq!(b.used, 0);
    }

    #[test]
    fn buffer_bounds_are_counted_not_exceeded() {
        let mut s = Stream::default();
        let mut b = Budget {
            per_stream_cap: 10,
            ..Budget::default()
        };
        let mut out = Vec::new();
        s.start(SeqNum(0), true);
        for i in 0..5u32 {
            feed(&mut s, &mut b, &mut out, 100 + i * 6, b"abcdef");
        }
        assert!(b.used <= 10);
        assert!(s.cap_hits >= 3);
        s.finish(true, &mut b, &mut |_| {});
        assert_eq!(b.used, 0);
    }

    proptest! {
        /// Any order (with duplicates) of a stream's segments delivers the same bytes.
        #[test]
        fn any_order_gives_the_same_stream(
            cuts in proptest::collection::btree_set(1usize..200, 0..20),
            order in proptest::collection::vec(0usize..64, 1..80),
        ) {
            let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
            let mut bounds: Vec<usize> = std::iter::once(0).chain(cuts).chain(std::iter::once(200)).collect();
            bounds.dedup();
            let segs: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
            let mut s = Stream::default();
            let mut b = Budget::default();
            let mut out = Vec::new();
            s.start(SeqNum(1000), true);
            // Send in the shuffled order (indices may repeat), then every segment once in order.
            for i in order.iter().map(|i| i % segs.len()).chain(0..segs.len()) {
                let (a, e) = segs[i];
                feed(&mut s, &mut b, &mut out, 1001 + a as u32, &data[a..e]);
            }
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(s.missed, 0);
            prop_assert_eq!(s.conflicts, 0);
        }

        /// Segments repacketized on retransmission (arbitrary overlapping ranges, as TCP
        /// senders coalesce or split data when they resend) deliver the same bytes, with or
        /// without keeping them.
        #[test]
        fn overlapping_resegmentation_gives_the_same_stream(
            ranges in proptest::collection::vec((0usize..300, 1usize..120), 0..40),
            keep in any::<bool>(),
        ) {
            let data: Vec<u8> = (0..300u32).map(|i| (i * 13 + 5) as u8).collect();
            let mut s = Stream::default();
            let mut b = Budget::default();
            let mut out = Vec::new();
            s.start(SeqNum(u32::MAX - 150), true);
            let base = u32::MAX - 149; // the stream wraps around zero halfway
            let whole = (0..300).step_by(100).map(|a| (a, 100));
            for (a, len) in ranges.into_iter().chain(whole) {
                let e = (a + len).min(300);
                let seq = base.wrapping_add(a as u32);
                if keep {
                    feed(&mut s, &mut b, &mut out, seq, &data[a..e]);
                } else {
                    feed_ranges(&mut s, &mut b, &mut out, seq, &data[a..e]);
                }
            }
            prop_assert_eq!(s.delivered, 300);
            if keep {
                prop_assert_eq!(&out, &data);
            }
            prop_assert_eq!(s.missed, 0);
            prop_assert_eq!(s.conflicts, 0);
        }
    }
}

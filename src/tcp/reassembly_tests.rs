//! Reassembly of one direction: delivery in any order, holes, bounds and the work done.

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

/// Feeds `data` at `seq` with `len` bytes on the wire (beyond `data`, the snaplen cut them).
#[allow(clippy::too_many_arguments)]
fn feed_cut(
    s: &mut Stream,
    b: &mut Budget,
    pieces: &mut Vec<(bool, u64)>,
    out: &mut Vec<u8>,
    seq: u32,
    data: &[u8],
    len: u32,
    keep: bool,
    policy: OverlapPolicy,
) -> Outcome {
    s.segment(
        SeqNum(seq),
        false,
        false,
        data,
        len,
        keep,
        policy,
        b,
        &mut |p| record(pieces, out, p),
    )
}

/// Keeps each piece's kind and length (`true` for a gap), and the bytes handed on.
fn record(pieces: &mut Vec<(bool, u64)>, out: &mut Vec<u8>, p: Piece<'_>) {
    match p {
        Piece::Bytes(d) => {
            out.extend_from_slice(d);
            pieces.push((false, d.len() as u64));
        }
        Piece::Gap(n) => pieces.push((true, n)),
    }
}

/// What the stream is charged equals what it holds: kept bytes, and each held range.
fn accounted(s: &Stream) -> bool {
    s.held == s.recent_len() as usize + s.ahead.charged()
}

#[test]
fn descending_one_byte_segments_are_one_range_and_linear_work() {
    const N: u32 = 20_000;
    let data: Vec<u8> = (0..=N).map(|i| (i * 31 + 7) as u8).collect();
    for keep in [false, true] {
        let mut s = Stream::default();
        let mut b = Budget::default();
        let (mut pieces, mut out) = (Vec::new(), Vec::new());
        s.start(SeqNum(0), true);
        // Bytes N down to 1; byte 0 comes last.
        for i in (1..=N).rev() {
            let d = &data[i as usize..=i as usize];
            let o = feed_cut(
                &mut s,
                &mut b,
                &mut pieces,
                &mut out,
                1 + i,
                d,
                1,
                keep,
                OverlapPolicy::First,
            );
            assert!(o.ahead);
            assert_eq!(s.held_ranges(), 1);
            assert!(accounted(&s));
        }
        assert_eq!(s.pending(), N as u64);
        let kept = if keep { N as usize } else { 0 };
        assert_eq!(b.used, kept + RANGE_COST);
        assert_eq!(b.peak, kept + RANGE_COST);
        let o = feed_cut(
            &mut s,
            &mut b,
            &mut pieces,
            &mut out,
            1,
            &data[..1],
            1,
            keep,
            OverlapPolicy::First,
        );
        assert_eq!(o.delivered, N + 1);
        assert_eq!(s.delivered, N as u64 + 1);
        assert_eq!(s.held_ranges(), 0);
        // Held bytes leave in bulk: the first byte, then the run (a ring buffer's two halves).
        if keep {
            assert_eq!(out, data);
            assert!(pieces.len() <= 3, "{} pieces", pieces.len());
        }
        // Map operations stay proportional to the segments, not to their square.
        assert!(s.ahead.steps() <= 8 * N as u64, "{} steps", s.ahead.steps());
        s.finish(keep, &mut b, &mut |_| {});
        assert_eq!(b.used, 0);
    }
}

#[test]
fn held_ranges_are_charged_and_capped_per_direction() {
    // One direction of a bulk transfer at a snaplen that keeps 30 payload bytes of each
    // 1448-byte segment, the first segment missing: every later segment is a separate range.
    const SEGS: u32 = 40_000;
    let mut s = Stream::default();
    let mut b = Budget::default();
    let (mut pieces, mut out) = (Vec::new(), Vec::new());
    s.start(SeqNum(0), true);
    let payload = [0x61u8; 30];
    for i in 1..SEGS {
        feed_cut(
            &mut s,
            &mut b,
            &mut pieces,
            &mut out,
            1 + i * 1448,
            &payload,
            1448,
            false,
            OverlapPolicy::First,
        );
        assert!(s.held_ranges() * RANGE_COST <= b.per_stream_cap);
    }
    let max = b.per_stream_cap / RANGE_COST;
    assert_eq!(s.held_ranges(), max);
    assert_eq!(s.cap_hits as usize, SEGS as usize - 1 - max);
    assert_eq!(b.cap_hits, s.cap_hits as u64);
    assert_eq!(b.peak, max * RANGE_COST);
    assert!(accounted(&s));
    s.finish(false, &mut b, &mut |_| {});
    assert_eq!(b.used, 0);
    assert_eq!(s.delivered, 30 * max as u64);
    assert_eq!(s.delivered + s.missed, 1448 * max as u64 + 30);
}

#[test]
fn held_overlaps_follow_the_overlap_policy() {
    for (policy, want) in [
        (OverlapPolicy::First, b"0123456789BBBBBAAAAAxyz".as_slice()),
        (OverlapPolicy::Last, b"0123456789BBBBBCCCCCxyz".as_slice()),
    ] {
        let mut s = Stream::default();
        let mut b = Budget::default();
        let (mut pieces, mut out) = (Vec::new(), Vec::new());
        s.start(SeqNum(0), true);
        let mut f = |s: &mut Stream, b: &mut Budget, off: u32, d: &[u8]| {
            feed_cut(
                s,
                b,
                &mut pieces,
                &mut out,
                1 + off,
                d,
                d.len() as u32,
                true,
                policy,
            );
        };
        f(&mut s, &mut b, 15, b"AAAAA");
        f(&mut s, &mut b, 10, b"BBBBBCCCCC");
        f(&mut s, &mut b, 20, b"xyz");
        assert_eq!(s.held_ranges(), 1);
        f(&mut s, &mut b, 0, b"0123456789");
        assert_eq!(out, want);
        assert_eq!(s.conflicts, 0);
    }
}

#[test]
fn bytes_after_a_cut_are_compared_at_their_own_offsets() {
    let data = b"0123456789abcdefghij";
    for ack_gap in [false, true] {
        let mut s = Stream::default();
        let mut b = Budget::default();
        let (mut pieces, mut out) = (Vec::new(), Vec::new());
        s.start(SeqNum(0), true);
        let first = OverlapPolicy::First;
        if ack_gap {
            // Bytes 10..15 wait beyond a hole the peer then acknowledges past (up to 20).
            feed_cut(
                &mut s,
                &mut b,
                &mut pieces,
                &mut out,
                11,
                &data[10..15],
                5,
                true,
                first,
            );
            s.ack(SeqNum(21), true, &mut b, &mut |_| {});
        } else {
            // The snaplen kept 5 of 20 bytes.
            feed_cut(
                &mut s,
                &mut b,
                &mut pieces,
                &mut out,
                1,
                &data[..5],
                20,
                true,
                first,
            );
        }
        assert_eq!(s.next_offset(), 20);
        // The whole range again, with the true bytes.
        let o = feed_cut(
            &mut s,
            &mut b,
            &mut pieces,
            &mut out,
            1,
            data,
            20,
            true,
            first,
        );
        assert_eq!((o.repeated, o.conflict), (20, None));
        assert_eq!(s.conflicts, 0);
    }
}

#[test]
fn segment_cut_to_nothing_ahead_still_ends_the_stream_there() {
    let mut s = Stream::default();
    let mut b = Budget::default();
    let (mut pieces, mut out) = (Vec::new(), Vec::new());
    s.start(SeqNum(0), true);
    feed_cut(
        &mut s,
        &mut b,
        &mut pieces,
        &mut out,
        101,
        &[],
        50,
        true,
        OverlapPolicy::First,
    );
    assert_eq!(s.held_ranges(), 0);
    assert_eq!(b.used, 0);
    s.finish(true, &mut b, &mut |p| record(&mut pieces, &mut out, p));
    assert_eq!(s.missed, 100);
    assert_eq!(pieces, [(true, 100)]);
}

proptest! {
    /// Whatever the order, the cuts, the acknowledgments and the bound: held ranges never
    /// cost more than the per-direction bound, the charge matches what is held, every byte
    /// handed on is the right byte at the right offset, and the work stays proportional to the
    /// segments.
    #[test]
    fn held_ranges_stay_bounded_and_true(
        segs in proptest::collection::vec((0u32..2000, 1u32..200, 0u32..200), 1..120),
        acks in proptest::collection::vec(0u32..2200, 0..6),
        cap in 0usize..2000,
        keep in any::<bool>(),
        last in any::<bool>(),
    ) {
        let data: Vec<u8> = (0..2200u32).map(|i| (i * 11 + 1) as u8).collect();
        let policy = if last { OverlapPolicy::Last } else { OverlapPolicy::First };
        let mut s = Stream::default();
        let mut b = Budget { per_stream_cap: cap, ..Budget::default() };
        let (mut pieces, mut out) = (Vec::new(), Vec::new());
        s.start(SeqNum(u32::MAX - 1000), true);
        let base = u32::MAX - 999;
        let every = segs.len() / (acks.len() + 1) + 1;
        let mut acks = acks.into_iter();
        for (i, (a, len, cut)) in segs.iter().copied().enumerate() {
            let got = cut.min(len) as usize;
            let d = &data[a as usize..a as usize + got];
            feed_cut(&mut s, &mut b, &mut pieces, &mut out, base.wrapping_add(a), d, len, keep, policy);
            if i % every == every - 1 && let Some(k) = acks.next() {
                s.ack(SeqNum(base.wrapping_add(k)), keep, &mut b, &mut |p| record(&mut pieces, &mut out, p));
            }
            prop_assert!(s.held_ranges() * RANGE_COST <= cap.max(1));
            prop_assert!(b.used <= cap);
            prop_assert_eq!(b.used, s.held);
            prop_assert!(accounted(&s));
            prop_assert_eq!(s.delivered + s.missed, s.next_offset());
        }
        prop_assert!(s.ahead.steps() <= 10 * segs.len() as u64 + 10, "{} steps", s.ahead.steps());
        s.finish(keep, &mut b, &mut |p| record(&mut pieces, &mut out, p));
        prop_assert_eq!(b.used, 0);
        prop_assert_eq!(s.delivered + s.missed, s.next_offset());
        // Every segment carries the true bytes: no overlap may look like a conflict.
        prop_assert_eq!(s.conflicts, 0);
        if keep {
            // Bytes handed on are the data at their offset; gaps skip.
            let (mut at, mut pos) = (0usize, 0usize);
            for &(gap, n) in &pieces {
                let n = n as usize;
                if !gap {
                    prop_assert_eq!(&out[pos..pos + n], &data[at..at + n]);
                    pos += n;
                }
                at += n;
            }
            prop_assert_eq!(pos as u64, s.delivered);
            prop_assert_eq!(at as u64, s.next_offset());
        }
    }
}

//! Reading a capture again for the frames of connections picked after a first analysis
//! (`analyze -w`, the ladders of the HTML report): frames are numbered as the analysis numbered them (those passing
//! the filter, from 1) and decoded the same way, so a record's frame range and four-tuple find
//! exactly its segments.

use std::collections::HashMap;

use crate::capture::{CaptureSet, PacketFilter};
use crate::event::ConnRecord;
use crate::wire::{Decoder, Endpoint, FlowKey, Packet, Segment, Side};

/// Where a connection is in the capture: its endpoints and frame range (and its id).
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub id: u64,
    pub orig: Endpoint,
    pub resp: Endpoint,
    pub first_frame: u64,
    pub last_frame: u64,
}

impl Span {
    pub fn of(r: &ConnRecord) -> Self {
        Span {
            id: r.id,
            orig: r.orig,
            resp: r.resp,
            first_frame: r.first_frame,
            last_frame: r.last_frame,
        }
    }
}

/// The connections picked, by four-tuple.
pub struct Picked {
    by_key: HashMap<FlowKey, Vec<(u64, u64, usize)>, foldhash::fast::RandomState>,
    /// The frames some picked connection spans, as sorted disjoint ranges: frames outside
    /// them are not even decoded. Reading stops after the last.
    ranges: Vec<(u64, u64)>,
}

impl Picked {
    /// `recs[i]` is picked as number `i`.
    pub fn new<'a>(recs: impl IntoIterator<Item = &'a ConnRecord>) -> Self {
        Self::of_spans(recs.into_iter().map(Span::of))
    }

    /// `spans[i]` is picked as number `i`.
    pub fn of_spans(spans: impl IntoIterator<Item = Span>) -> Self {
        let mut by_key: HashMap<FlowKey, Vec<(u64, u64, usize)>, foldhash::fast::RandomState> =
            HashMap::default();
        let mut ranges = Vec::new();
        for (i, s) in spans.into_iter().enumerate() {
            ranges.push((s.first_frame, s.last_frame));
            by_key
                .entry(FlowKey::new(s.orig, s.resp))
                .or_default()
                .push((s.first_frame, s.last_frame, i));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Picked {
            by_key,
            ranges: merged,
        }
    }

    /// The picked connection segment `seg` (frame `frame`) belongs to, if any.
    fn find(&self, seg: &Segment<'_>, frame: u64) -> Option<usize> {
        let key = FlowKey::new(
            Endpoint::new(seg.src, seg.sport),
            Endpoint::new(seg.dst, seg.dport),
        );
        self.by_key
            .get(&key)?
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&frame))
            .map(|(_, _, i)| *i)
    }
}

/// Reads `files` again (frames passing `filter`, up to the last frame of a picked connection)
/// and calls `f` with the number of the picked
/// connection, the frame's number, the frame and its segment, for every segment of a picked
/// connection. Errors are the capture's (the first one met) or the filter's.
pub fn replay(
    files: &[String],
    filter: Option<&str>,
    picked: &Picked,
    mut f: impl FnMut(usize, u64, &Packet<'_>, &Segment<'_>),
) -> Result<(), String> {
    let mut filter = filter
        .map(PacketFilter::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut set = CaptureSet::open(files);
    let mut decoder = Decoder::new();
    let mut frame = 0u64;
    // The range the next frames may fall in.
    let mut range = 0;
    while let Some(pkt) = set.next_packet() {
        if filter.as_mut().is_some_and(|f| !f.matches(&pkt)) {
            continue;
        }
        frame += 1;
        while picked.ranges.get(range).is_some_and(|r| r.1 < frame) {
            range += 1;
        }
        let Some(&(from, _)) = picked.ranges.get(range) else {
            break;
        };
        if frame < from {
            continue;
        }
        let Some(seg) = decoder.decode(&pkt, frame) else {
            continue;
        };
        if let Some(i) = picked.find(&seg, frame) {
            f(i, frame, &pkt, &seg);
        }
    }
    match set.errors().first() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

/// Which side of `r` sent `seg`.
pub fn side_of(r: &ConnRecord, seg: &Segment<'_>) -> Side {
    if Endpoint::new(seg.src, seg.sport) == r.orig {
        Side::Orig
    } else {
        Side::Resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{A, B};

    #[test]
    fn frames_outside_every_picked_range_are_skipped() {
        let span = |id, first_frame, last_frame| Span {
            id,
            orig: Endpoint::new(A.0, A.1),
            resp: Endpoint::new(B.0, B.1),
            first_frame,
            last_frame,
        };
        let p = Picked::of_spans([
            span(1, 30, 40),
            span(2, 5, 10),
            span(3, 8, 20),
            span(4, 21, 22),
        ]);
        // Overlapping and adjacent ranges merge; the gap 23..=29 stays.
        assert_eq!(p.ranges, vec![(5, 22), (30, 40)]);
    }
}

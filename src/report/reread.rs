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
    /// The first frame of any of them: frames before it are not looked up.
    first: u64,
    /// The last frame of any of them: reading stops there.
    last: u64,
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
        let (mut first, mut last) = (u64::MAX, 0);
        for (i, s) in spans.into_iter().enumerate() {
            first = first.min(s.first_frame);
            last = last.max(s.last_frame);
            by_key
                .entry(FlowKey::new(s.orig, s.resp))
                .or_default()
                .push((s.first_frame, s.last_frame, i));
        }
        Picked {
            by_key,
            first,
            last,
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
    while let Some(pkt) = set.next_packet() {
        if filter.as_mut().is_some_and(|f| !f.matches(&pkt)) {
            continue;
        }
        frame += 1;
        if frame > picked.last {
            break;
        }
        if frame < picked.first {
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

//! Reading a capture again for the frames of connections picked after a first analysis
//! (`analyze -w`, the ladders of the HTML report): frames are numbered as the analysis numbered them (those passing
//! the filter, from 1) and decoded the same way, so a record's frame range and four-tuple find
//! exactly its segments.

use std::collections::HashMap;

use crate::capture::{CaptureSet, FrameIndex, PacketFilter};
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

    /// The frame ranges and numbers of the picked connections between `a` and `b`.
    fn spans(&self, a: Endpoint, b: Endpoint) -> Option<&[(u64, u64, usize)]> {
        self.by_key.get(&FlowKey::new(a, b)).map(Vec::as_slice)
    }

    /// The picked connection among `spans` whose range holds frame `frame`, if any.
    fn at(spans: &[(u64, u64, usize)], frame: u64) -> Option<usize> {
        spans
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&frame))
            .map(|(_, _, i)| *i)
    }
}

/// Reads `files` again (frames passing `filter`, up to the last frame of a picked connection)
/// and calls `f` with the number of the picked
/// connection, the frame's number, the frame and its segment, for every segment of a picked
/// connection. Errors are the capture's (the first one met) or the filter's. With an `index`
/// of where the analysis found its frames, stretches of the file before a picked connection's
/// first frame are skipped by seeking.
pub fn replay(
    files: &[String],
    filter: Option<&str>,
    picked: &Picked,
    index: Option<&FrameIndex>,
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
            // Far from the next range: start reading again at the last indexed frame before
            // it (the frames skipped are outside every range, as the ones skipped here are).
            if let (Some(ix), [file]) = (index, files)
                && let Some((at, offset)) = ix.at_or_before(from)
                && at > frame + FrameIndex::EVERY / 2
                && let Ok(resumed) = CaptureSet::resume_at(file, offset)
            {
                set = resumed;
                frame = at - 1;
            }
            continue;
        }
        // Most frames in range belong to other connections: a plain TCP frame's endpoints
        // say so without decoding it (the decoder keeps no state for such frames).
        let plain = match Decoder::plain_endpoints(&pkt) {
            Some((src, dst)) => match picked.spans(src, dst) {
                Some(spans) => Some(spans),
                None => continue,
            },
            None => None,
        };
        let Some(seg) = decoder.decode(&pkt, frame) else {
            continue;
        };
        let spans = plain.or_else(|| {
            picked.spans(
                Endpoint::new(seg.src, seg.sport),
                Endpoint::new(seg.dst, seg.dport),
            )
        });
        if let Some(i) = spans.and_then(|s| Picked::at(s, frame)) {
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

    /// The shortcut that skips frames of other connections names the endpoints the full decode
    /// finds, on every frame of every fixture (and applies to most of them).
    #[test]
    fn plain_endpoints_agree_with_the_decoder() {
        let (mut plain, mut frames) = (0u64, 0u64);
        for file in crate::testutil::fixture_captures() {
            let name = file.display().to_string();
            let mut set = CaptureSet::open(std::slice::from_ref(&name));
            let mut decoder = Decoder::new();
            while let Some(pkt) = set.next_packet() {
                frames += 1;
                let quick = Decoder::plain_endpoints(&pkt);
                let full = decoder
                    .decode(&pkt, frames)
                    .map(|s| (Endpoint::new(s.src, s.sport), Endpoint::new(s.dst, s.dport)));
                if let Some(q) = quick {
                    plain += 1;
                    assert!(
                        full.is_none_or(|f| f == q),
                        "{name}: frame {frames}: {q:?} against {full:?}"
                    );
                }
            }
        }
        assert!(plain * 2 > frames, "{plain} of {frames} frames plain");
    }

    /// A pcap of 30,000 raw IPv4 frames: connection `k` (source port 10,000 + k) sends frames
    /// 30k+1 to 30k+30, with sequence numbers counting frames.
    fn many_frames(path: &std::path::Path) {
        use crate::capture::{CaptureWriter, LinkType};
        let mut w = CaptureWriter::create(path, LinkType::RAW, 65_535, "t").unwrap();
        for i in 0..30_000u32 {
            let port = 10_000 + (i / 30) as u16;
            let mut f = vec![
                0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            f.extend_from_slice(&port.to_be_bytes());
            f.extend_from_slice(&80u16.to_be_bytes());
            f.extend_from_slice(&i.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
            w.write(&Packet {
                ts: crate::time::Timestamp::from_nanos(i64::from(i) * 1_000),
                link_type: LinkType::RAW,
                data: &f,
                orig_len: 40,
            })
            .unwrap();
        }
        w.flush().unwrap();
    }

    /// With the index of where frames start, the second read seeks past most of the file and
    /// finds exactly the frames it finds by reading everything.
    #[test]
    fn seeking_with_the_index_finds_the_same_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.pcap");
        many_frames(&path);
        let file = path.to_str().unwrap().to_string();
        let index = FrameIndex::default();
        let mut set = CaptureSet::open(std::slice::from_ref(&file));
        let mut frame = 0;
        while set.next_packet().is_some() {
            frame += 1;
            index.note(frame, || crate::capture::PacketSource::record_offset(&set));
        }
        assert_eq!(frame, 30_000);
        // Read again from an indexed frame: it is the frame the index says.
        let (at, offset) = index.at_or_before(20_000).unwrap();
        assert_eq!(at, 16_385);
        let mut resumed = CaptureSet::resume_at(&file, offset).unwrap();
        let p = resumed.next_packet().unwrap();
        assert_eq!(p.data[24..28], (at as u32 - 1).to_be_bytes());

        let conn = |k: u64| Span {
            id: k,
            orig: Endpoint::new(A.0, 10_000 + k as u16),
            resp: Endpoint::new(B.0, 80),
            first_frame: 30 * k + 1,
            last_frame: 30 * k + 30,
        };
        let picked = Picked::of_spans([conn(3), conn(600), conn(990)]);
        let found = |index: Option<&FrameIndex>| {
            let mut v = Vec::new();
            replay(
                std::slice::from_ref(&file),
                None,
                &picked,
                index,
                |i, frame, _, seg| {
                    v.push((i, frame, seg.seq.0));
                },
            )
            .unwrap();
            v
        };
        let all = found(None);
        assert_eq!(all.len(), 90);
        assert_eq!(all[30], (1, 18_001, 18_000));
        assert_eq!(found(Some(&index)), all);
    }

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

//! Reading a capture again for the frames of connections picked after a first analysis
//! (`analyze -w`, the ladders of the HTML report): frames are numbered as the analysis numbered them (those passing
//! the filter, from 1) and decoded the same way, so a record's frame range and four-tuple find
//! exactly its segments.

use std::collections::{HashMap, VecDeque};

use crate::analyzer::Screen;
use crate::capture::{CaptureSet, FrameIndex, PacketFilter};
use crate::event::ConnRecord;
use crate::time::Timestamp;
use crate::wire::{Decoder, Endpoint, FlowKey, OwnedPacket, Packet, Segment, Side};

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

    /// Whether some picked connection spans frame `frame`.
    fn covers(&self, frame: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < frame);
        self.ranges.get(i).is_some_and(|r| r.0 <= frame)
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
/// and calls `f` with the number of the picked connection, the frame's number, the frame (as
/// captured) and its segment (at the time the analysis gave it), for every segment of a picked
/// connection. A segment reassembled from IP fragments comes after its earlier fragments'
/// frames, each given without a segment (the frame that completed it is the segment's). Errors
/// are the capture's (the first one met) or the filter's. With an `index` of where the
/// analysis found its frames, stretches of the file before a picked connection's first frame
/// are skipped by seeking. `checksums`: verify TCP checksums, as the analysis did when asked (a
/// segment's verdict is part of what it tells Zeek's view).
pub fn replay(
    files: &[String],
    filter: Option<&str>,
    picked: &Picked,
    index: Option<&FrameIndex>,
    checksums: bool,
    mut f: impl FnMut(usize, u64, &Packet<'_>, Option<&Segment<'_>>),
) -> Result<(), String> {
    let mut filter = filter
        .map(PacketFilter::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut set = CaptureSet::open(files);
    let mut decoder = Decoder::with_checksums(checksums);
    // Frame times screened as the analysis screened them, so a segment has the time it had
    // there (frames skipped by seeking are not screened: the clock only misjudges a leap of
    // years that straddles the skip).
    let mut screen = Screen::default();
    let mut fragments = Fragments::default();
    let mut visit = |pkt: &Packet<'_>, frame: u64, _: bool, own: Timestamp| {
        // Most frames belong to other connections or fall outside every picked range: a plain
        // TCP frame's endpoints say so without decoding it (it is no fragment, and the decoder
        // keeps no state for it). Any other frame is decoded, in range or not: it may be an IP
        // fragment of a segment that completes in a range.
        let plain = match Decoder::plain_endpoints(pkt) {
            Some(_) if !picked.covers(frame) => return,
            Some((src, dst)) => match picked.spans(src, dst) {
                Some(spans) => Some(spans),
                None => return,
            },
            None => None,
        };
        let taken = decoder.fragments_taken();
        let Some(seg) = decoder.decode(pkt, frame) else {
            fragments.keep(&decoder, taken, pkt, frame, own);
            return;
        };
        let pick = plain
            .or_else(|| {
                picked.spans(
                    Endpoint::new(seg.src, seg.sport),
                    Endpoint::new(seg.dst, seg.dport),
                )
            })
            .and_then(|s| Picked::at(s, frame));
        // The frame as captured, its segment at the analysis's time.
        let captured = Packet { ts: own, ..*pkt };
        // A payload among the frame's bytes is the frame's own (always so for a plain frame);
        // one outside them is the decoder's, reassembled from fragments.
        let bytes = pkt.data.as_ptr_range();
        let at = seg.payload.as_ptr();
        if bytes.start <= at && at <= bytes.end {
            if let Some(i) = pick {
                f(i, frame, &captured, Some(&seg));
            }
            return;
        }
        // Copied, so that the decoder can then say which frames the fragments came in (their
        // copies go, picked or not).
        let payload = seg.payload.to_vec();
        let seg = seg.with_payload(&payload);
        let earlier = fragments.take(decoder.reassembled_from(frame));
        if let Some(i) = pick {
            for (n, copy) in &earlier {
                f(i, *n, &copy.packet(), None);
            }
            f(i, frame, &captured, Some(&seg));
        }
    };
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
        screen.push(&pkt, frame, &mut visit);
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
        }
    }
    screen.end(&mut visit);
    match set.errors().first() {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

/// Copies of the frames that carried IP fragments, as captured, until the segment they make
/// up is found (a picked connection's frames include them all). Bounded in number and bytes:
/// the oldest go first (a segment whose earlier fragments went is written without them).
#[derive(Default)]
struct Fragments {
    kept: VecDeque<(u64, OwnedPacket)>,
    /// Bytes of the frames kept.
    bytes: usize,
}

impl Fragments {
    /// Fragment frames kept at most: four per datagram the decoder holds in flight.
    const MAX: usize = 4 * crate::wire::MAX_PENDING_FRAGMENTS;
    /// Their bytes at most.
    const MAX_BYTES: usize = 16 << 20;

    /// Keeps frame `frame` (`own`: its own time) when decoding it took a fragment (`taken`:
    /// the decoder's count before).
    fn keep(
        &mut self,
        decoder: &Decoder,
        taken: u64,
        pkt: &Packet<'_>,
        frame: u64,
        own: Timestamp,
    ) {
        if decoder.fragments_taken() == taken {
            return;
        }
        while self.kept.len() >= Self::MAX || self.bytes + pkt.data.len() > Self::MAX_BYTES {
            let Some((_, old)) = self.kept.pop_front() else {
                break;
            };
            self.bytes -= old.data.len();
        }
        // As captured: with its own time.
        let copy = OwnedPacket::of(&Packet { ts: own, ..*pkt });
        self.bytes += copy.data.len();
        self.kept.push_back((frame, copy));
    }

    /// The kept frames among `frames` (a reassembled segment's, its own last), in order.
    fn take(&mut self, frames: &[u64]) -> Vec<(u64, OwnedPacket)> {
        let Some((_, earlier)) = frames.split_last() else {
            return Vec::new();
        };
        let (mut mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.kept)
            .into_iter()
            .partition(|(n, _)| earlier.contains(n));
        self.kept = rest.into();
        self.bytes -= mine.iter().map(|(_, p)| p.data.len()).sum::<usize>();
        mine.sort_by_key(|(n, _)| *n);
        mine
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
    use crate::analyzer::AnalyzerConfig;
    use crate::compat::{LIKELY_SERVER_PORTS, ZeekConn};
    use crate::event::Event;
    use crate::testutil::{A, B};
    use crate::wire::FlowKey;

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
                false,
                |i, frame, _, seg| {
                    v.push((i, frame, seg.map(|s| s.seq.0)));
                },
            )
            .unwrap();
            v
        };
        let all = found(None);
        assert_eq!(all.len(), 90);
        assert_eq!(all[30], (1, 18_001, Some(18_000)));
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

    /// The copies of fragment frames stay under both bounds, oldest out first, and a
    /// reassembled segment takes its own in frame order.
    #[test]
    fn fragment_copies_are_bounded() {
        let decoder = Decoder::new();
        // The decoder took no fragment: `taken` other than its count says it took one.
        let took = decoder.fragments_taken() + 1;
        let big = vec![0u8; 9_000];
        let pkt = Packet {
            ts: Timestamp::EPOCH,
            link_type: crate::wire::LinkType(1),
            data: &big,
            orig_len: 9_000,
        };
        let mut f = Fragments::default();
        for frame in 1..=5_000 {
            f.keep(&decoder, took, &pkt, frame, Timestamp::EPOCH);
            assert!(f.kept.len() <= Fragments::MAX);
            assert!(f.bytes <= Fragments::MAX_BYTES);
        }
        let n = Fragments::MAX_BYTES / 9_000;
        assert_eq!(f.kept.len(), n);
        assert_eq!(f.kept.front().unwrap().0, 5_001 - n as u64);
        // Not taken: a frame that took no fragment.
        f.keep(
            &decoder,
            decoder.fragments_taken(),
            &pkt,
            6_000,
            Timestamp::EPOCH,
        );
        assert_eq!(f.kept.back().unwrap().0, 5_000);
        let mine = f.take(&[4_999, 4_998, 5_000, 7_000]);
        assert_eq!(
            mine.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [4_998, 4_999, 5_000]
        );
        assert_eq!(f.bytes, (n - 3) * 9_000);
        assert!(f.take(&[]).is_empty());
    }

    // Zeek's view rebuilt from a second read of the capture (what the HTML report's ladders
    // show) against the view the analysis keeps.

    /// The records of a run over `file`, with Zeek's view.
    fn records(file: &str) -> Vec<ConnRecord> {
        let mut cfg = AnalyzerConfig::default();
        cfg.flow.zeek_view = true;
        let mut out = Vec::new();
        crate::run::run_capture(std::path::Path::new(file), cfg, |e| {
            if let Event::Closed(c) = e {
                out.push(c.clone());
            }
        });
        out
    }

    /// Every record's Zeek rows, as the analysis kept them and as rebuilt from its segments read
    /// again; `(records, records whose four-tuple another record of the capture shares)`.
    fn compare(file: &str) -> (usize, usize) {
        let recs = records(file);
        let picked = Picked::new(&recs);
        let mut rebuilt: Vec<Option<ZeekConn>> = vec![None; recs.len()];
        replay(
            &[file.to_string()],
            None,
            &picked,
            None,
            false,
            |i, _, _, seg| {
                let Some(seg) = seg else { return };
                let from_orig = side_of(&recs[i], seg) == Side::Orig;
                ZeekConn::follow(&mut rebuilt[i], seg, from_orig, LIKELY_SERVER_PORTS);
            },
        )
        .unwrap();
        let mut shared = 0;
        for (r, z) in recs.iter().zip(&rebuilt) {
            let kept: Vec<(&str, &str)> =
                r.zeek.rows.iter().map(|(s, h)| (*s, h.as_str())).collect();
            let again: Vec<_> = z.iter().flat_map(ZeekConn::rows).collect();
            let key = FlowKey::new(r.orig, r.resp);
            shared += usize::from(
                recs.iter()
                    .any(|o| o.id != r.id && FlowKey::new(o.orig, o.resp) == key),
            );
            assert_eq!(
                kept, again,
                "{file}: connection {} ({} -> {})",
                r.id, r.orig, r.resp
            );
        }
        (recs.len(), shared)
    }

    /// The report's ladders name Zeek's conn_state from the segments they read again; the
    /// analysis need not emulate Zeek for them. On every fixture, every record's rows agree (also
    /// on records whose four-tuple is reused, on IP fragments and on frames whose time is a clock
    /// fault, which the second read screens as the analysis does).
    #[test]
    fn zeeks_view_rebuilt_from_a_second_read_is_the_analysis_view() {
        let (mut n, mut shared) = (0, 0);
        for file in crate::testutil::fixture_captures() {
            let (a, b) = compare(&file.display().to_string());
            n += a;
            shared += b;
        }
        assert!(n > 1_500, "{n} records");
        assert!(shared > 10, "{shared} records share their four-tuple");
    }
}

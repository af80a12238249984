//! Ladder (sequence) diagrams of connections, drawn as the TCP textbooks draw them: the
//! originator's and the responder's lifelines side by side, one arrow per segment in time order,
//! each endpoint's RFC 9293 state written beside its lifeline where it changes, times in the
//! margin, anomalies marked on the segment that raised them, and long runs of uneventful data
//! folded into one line so that a connection of thousands of segments fits a screen.
//!
//! This file holds what a diagram is made of (segments, marks, which rows are drawn and which
//! folded); `text.rs` draws it for a terminal, `svg.rs` as SVG for the HTML report.

mod svg;
mod text;

pub(crate) use svg::esc;
pub use svg::svg;
pub use text::render;

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::detect::{Anomaly, AnomalyKind, Severity};
use crate::event::ConnRecord;
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, Segment, SeqNum, Side, TcpFlags};

/// One segment of the connection, as the diagram needs it.
#[derive(Clone, Debug)]
pub struct LadderSegment {
    /// Frame number (as the analysis numbered it).
    pub frame: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// Its sender.
    pub side: Side,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number.
    pub ack: SeqNum,
    /// Payload length.
    pub len: u32,
    /// Advertised window (unscaled, as on the wire).
    pub window: u16,
    /// The options of a SYN or SYN-ACK, written out (`mss 1460 ws 7 sack ts`).
    pub options: Option<String>,
}

impl LadderSegment {
    /// What the diagram shows of `seg`, sent by `side`.
    pub fn of(seg: &Segment<'_>, side: Side) -> Self {
        let options = seg.flags.syn().then(|| {
            let o = &seg.options;
            let mut s = format!("win {} ", seg.window);
            if let Some(m) = o.mss {
                let _ = write!(s, "mss {m} ");
            }
            if let Some(w) = o.wscale {
                let _ = write!(s, "ws {w} ");
            }
            if o.sack_permitted {
                s.push_str("sack ");
            }
            if o.timestamps.is_some() {
                s.push_str("ts ");
            }
            if o.tfo.is_some() {
                s.push_str("tfo ");
            }
            if seg.payload_len > 0 {
                let _ = write!(s, "data {} ", seg.payload_len);
            }
            s.trim_end().to_string()
        });
        LadderSegment {
            frame: seg.frame,
            ts: seg.ts,
            side,
            flags: seg.flags,
            seq: seg.seq,
            ack: seg.ack,
            len: seg.payload_len,
            window: seg.window,
            options,
        }
    }

    /// Its sequence and acknowledgment numbers relative to each side's first (`isn`, indexed
    /// by side): `(seq, ack)`.
    pub fn relative(&self, isn: [Option<SeqNum>; 2]) -> (u32, u32) {
        let rel = |n: SeqNum, side: Side| isn[side.index()].map_or(n.0, |i| n.0.wrapping_sub(i.0));
        (rel(self.seq, self.side), rel(self.ack, self.side.other()))
    }
}

/// Segments kept per connection for its diagram; beyond, the diagram says how many more there
/// were.
pub const MAX_SEGMENTS: usize = 20_000;

/// The segments of open connections, kept while an output may still draw them: handed over
/// when a connection ends ([`SegmentCollector::take`]), forgotten for the rest. One pass over
/// the capture is enough to draw any connection.
#[derive(Default)]
pub struct SegmentCollector {
    /// Per open connection: its segments with their senders, and how many more were not kept.
    open: HashMap<u64, Kept, foldhash::fast::RandomState>,
    stopped: bool,
}

/// One connection's kept segments (each with its sender) and the count of those not kept.
type Kept = (Vec<(Endpoint, LadderSegment)>, u64);

impl SegmentCollector {
    /// Notes segment `seg` of connection `rec`.
    pub fn segment(&mut self, rec: &ConnRecord, seg: &Segment<'_>) {
        if self.stopped {
            return;
        }
        let (segs, more) = self.open.entry(rec.id).or_default();
        if segs.len() < MAX_SEGMENTS {
            let src = Endpoint::new(seg.src, seg.sport);
            segs.push((src, LadderSegment::of(seg, Side::Orig)));
        } else {
            *more += 1;
        }
    }

    /// The segments of `rec`, which has ended, each with its side as the record has it (the
    /// roles may have been decided after its first segment), and how many were not kept.
    pub fn take(&mut self, rec: &ConnRecord) -> (Vec<LadderSegment>, u64) {
        let (segs, more) = self.open.remove(&rec.id).unwrap_or_default();
        let segs = segs
            .into_iter()
            .map(|(src, mut s)| {
                s.side = if src == rec.orig {
                    Side::Orig
                } else {
                    Side::Resp
                };
                s
            })
            .collect();
        (segs, more)
    }

    /// Keeps nothing more (every diagram wanted is drawn), and frees what is kept.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.open = HashMap::default();
    }
}

/// An anomaly raised on a segment.
#[derive(Clone, Copy, Debug)]
pub struct LadderMark {
    /// The frame that raised it.
    pub frame: u64,
    /// Which anomaly.
    pub kind: AnomalyKind,
    /// How severe (as raised: some kinds are milder in some cases).
    pub severity: Severity,
}

impl LadderMark {
    /// The mark of anomaly `a`.
    pub fn of(a: &Anomaly) -> Self {
        LadderMark {
            frame: a.frame,
            kind: a.kind,
            severity: a.severity,
        }
    }
}

/// How to draw.
#[derive(Clone, Copy, Debug)]
pub struct LadderStyle {
    /// Plain ASCII instead of box-drawing characters and arrows.
    pub ascii: bool,
    /// ANSI colours (severity of anomalies, states).
    pub color: bool,
}

/// Width of the time column (seconds since the connection's first segment).
pub(super) const TIME_W: usize = 10;
/// Width of the delta column.
pub(super) const DELTA_W: usize = 8;
/// Width of each state column ("SYN-RECEIVED").
pub(super) const STATE_W: usize = 12;
/// Width of the arrow, lifelines included.
pub(super) const ARROW_W: usize = 33;
/// Runs of uneventful segments longer than this are folded...
pub(super) const FOLD_OVER: usize = 8;
/// ...keeping this many at the start and at the end.
pub(super) const KEEP_HEAD: usize = 3;
pub(super) const KEEP_TAIL: usize = 2;

/// A row of a diagram: one segment, or a folded run of uneventful ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    /// The segment at this index.
    Segment(usize),
    /// The segments in this range, folded into one line.
    Fold(std::ops::Range<usize>),
}

/// The rows of `rec`'s diagram: every segment that changed a state, carries SYN, FIN or RST,
/// raised a warning or worse, or is its side's first data; runs of more than `FOLD_OVER`
/// others keep their first `KEEP_HEAD` and last `KEEP_TAIL` segments around a fold.
pub fn plan(rec: &ConnRecord, segs: &[LadderSegment], marks: &[LadderMark]) -> Vec<Row> {
    let mut seen_data = [false; 2];
    let notable: Vec<bool> = segs
        .iter()
        .map(|s| {
            let first_data = s.len > 0 && !std::mem::replace(&mut seen_data[s.side.index()], true);
            s.flags.syn()
                || s.flags.fin()
                || s.flags.rst()
                || first_data
                || rec.transitions.iter().any(|t| t.frame == s.frame)
                || marks.iter().any(|m| {
                    m.frame == s.frame && matches!(m.severity, Severity::Warning | Severity::Error)
                })
        })
        .collect();
    let mut rows = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        if notable[i] {
            rows.push(Row::Segment(i));
            i += 1;
            continue;
        }
        let run = notable[i..].iter().take_while(|n| !**n).count();
        if run <= FOLD_OVER {
            rows.extend((i..i + run).map(Row::Segment));
        } else {
            rows.extend((i..i + KEEP_HEAD).map(Row::Segment));
            rows.push(Row::Fold(i + KEEP_HEAD..i + run - KEEP_TAIL));
            rows.extend((i + run - KEEP_TAIL..i + run).map(Row::Segment));
        }
        i += run;
    }
    rows
}

/// The sequence number relative numbers count from: the side's SYN, else its first segment.
pub fn first_seq(segs: &[LadderSegment], side: Side) -> Option<SeqNum> {
    let mine = || segs.iter().filter(|s| s.side == side);
    mine()
        .find(|s| s.flags.syn())
        .or_else(|| mine().next())
        .map(|s| s.seq)
}

/// `SYN`, `SYN+ACK`, `PSH+ACK`, `FIN+ACK`, `RST`, ... (`none` for a null segment).
pub fn flag_names(f: TcpFlags) -> String {
    let names: Vec<&str> = [
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
        (TcpFlags::ACK, "ACK"),
    ]
    .into_iter()
    .filter(|(bit, _)| f.has(*bit))
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("+")
    }
}

/// At most `n` characters, the last one `cut` when cut.
pub(super) fn trim(s: &str, n: usize, cut: &str) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push_str(cut);
    t
}

/// `s` in lines of at most `n` characters, broken at spaces where it can be.
pub(super) fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split(' ') {
        let cur = lines.last_mut().expect("one line at least");
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > n {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

pub(super) fn secs6(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

pub(super) fn secs3(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `+120µs`, `+1.2ms`, `+3.4s`, `+2m05s`.
pub fn human_delta(d: Duration, mu: &str) -> String {
    let ns = d.as_nanos().max(0);
    if ns < 1_000_000 {
        format!("+{}{mu}", ns / 1_000)
    } else if ns < 1_000_000_000 {
        format!("+{:.1}ms", ns as f64 / 1e6)
    } else if ns < 120_000_000_000 {
        format!("+{:.1}s", ns as f64 / 1e9)
    } else {
        format!("+{}m{:02}s", ns / 60_000_000_000, ns / 1_000_000_000 % 60)
    }
}

/// `512 B`, `12.3 kB`, `1.7 MB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

//! The report's ladder diagrams: the first [`MAX_LADDERS`] flagged connections, drawn as SVG
//! from their segments, which a second read of the capture finds by four-tuple and frame range.
//!
//! The second read starts on its own thread as soon as the last ladder is picked, while the
//! analysis goes on: on a big capture the picks are made early, and the reread (up to the last
//! frame drawn) is done by the time the analysis ends. Keeping every open connection's segments
//! in case it gets flagged costs far more than reading the capture twice.

use std::fmt::Write as _;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::super::ladder::{self, LadderMark, LadderSegment, esc};
use super::super::reread::{self, Picked};
use crate::capture::FrameIndex;
use crate::compat::ZeekConn;
use crate::event::ConnRecord;
use crate::wire::Side;

/// Ladders drawn at most.
pub const MAX_LADDERS: usize = 100;

/// Where the capture is read again from.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// The capture files, as the analysis read them.
    pub files: Vec<String>,
    /// The packet filter the analysis applied, if any.
    pub filter: Option<String>,
    /// Where the analysis found its frames, noted as it read them.
    pub index: FrameIndex,
}

/// How the capture is read again: where from, and what the analysis decoded the way it did.
#[derive(Clone, Debug, Default)]
struct Reread {
    source: Source,
    /// TCP checksums were verified (a segment's verdict is part of what Zeek's view sees).
    checksums: bool,
    /// Zeek's `likely_server_ports`, as the analysis was given them.
    zeek_ports: &'static [u16],
}

/// The connections picked for ladders, and the drawing once it started.
#[derive(Default)]
pub(super) struct Ladders {
    reread: Reread,
    picks: Vec<(ConnRecord, Vec<LadderMark>)>,
    /// Flagged connections beyond the cap.
    pub(super) left_out: u64,
    /// Drawing the picks (reading the capture again), started when the last one was picked.
    drawing: Option<JoinHandle<Result<Vec<String>, String>>>,
    /// How many were picked (the picks move to the drawing thread).
    picked: usize,
}

impl Ladders {
    /// Ladders read from `source` again, decoded as the analysis configured by `cfg` decoded it.
    pub(super) fn new(source: Source, cfg: &crate::analyzer::AnalyzerConfig) -> Self {
        Ladders {
            reread: Reread {
                source,
                checksums: cfg.verify_checksums,
                zeek_ports: cfg.detect.zeek_server_ports,
            },
            ..Default::default()
        }
    }

    /// Whether every ladder is picked (later connections are only counted).
    pub(super) fn full(&self) -> bool {
        self.picked >= MAX_LADDERS
    }

    /// Offers flagged connection `r` with the anomalies raised on it.
    pub(super) fn offer(&mut self, r: &ConnRecord, marks: Vec<LadderMark>) {
        if self.full() {
            self.left_out += 1;
            return;
        }
        self.picks.push((r.clone(), marks));
        self.picked += 1;
        if self.picked == MAX_LADDERS {
            let picks = Arc::new(std::mem::take(&mut self.picks));
            let (reread, shared) = (self.reread.clone(), Arc::clone(&picks));
            // A thread that cannot start leaves the drawing to the end of the run (the closure
            // it was given is dropped by then: the picks are this thread's alone again).
            match std::thread::Builder::new()
                .name("tcpaudit-ladders".into())
                .spawn(move || {
                    super::background();
                    draw(&reread, &shared)
                }) {
                Ok(h) => self.drawing = Some(h),
                Err(_) => self.picks = Arc::try_unwrap(picks).unwrap_or_else(|p| (*p).clone()),
            }
        }
    }

    /// The drawn ladders, one `<details>` element each, in the order picked.
    pub(super) fn finish(self) -> Result<Vec<String>, String> {
        match self.drawing {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err("drawing the ladders failed".into())),
            None => draw(&self.reread, &self.picks),
        }
    }
}

/// What the second read finds of one picked connection.
#[derive(Default)]
struct Found {
    segs: Vec<LadderSegment>,
    /// Zeek's view, rebuilt from the same segments: the analysis leaves it out for the report
    /// (the only place the report names it is here, for at most [`MAX_LADDERS`] connections).
    zeek: Option<ZeekConn>,
}

/// Reads the capture again for the segments of `picks` and draws each.
fn draw(how: &Reread, picks: &[(ConnRecord, Vec<LadderMark>)]) -> Result<Vec<String>, String> {
    if picks.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: Vec<Found> = std::iter::repeat_with(Found::default)
        .take(picks.len())
        .collect();
    let picked = Picked::new(picks.iter().map(|(r, _)| r));
    let source = &how.source;
    reread::replay(
        &source.files,
        source.filter.as_deref(),
        &picked,
        Some(&source.index),
        how.checksums,
        |i, _, _, seg| {
            // Earlier fragments' frames come without a segment: the segment is the last's.
            let Some(seg) = seg else { return };
            let side = reread::side_of(&picks[i].0, seg);
            let f = &mut found[i];
            f.segs.push(LadderSegment::of(seg, side));
            ZeekConn::follow(&mut f.zeek, seg, side == Side::Orig, how.zeek_ports);
        },
    )?;
    Ok(picks
        .iter()
        .zip(&found)
        .enumerate()
        .map(|(i, ((r, marks), f))| details(i, r, f, marks))
        .collect())
}

/// One connection's collapsible ladder (the first three open), with Zeek's `conn_state` (its
/// `history` on hover).
fn details(i: usize, r: &ConnRecord, found: &Found, marks: &[LadderMark]) -> String {
    let mut tags = String::new();
    for (k, _) in r.tally.counts.iter() {
        let _ = write!(tags, "<span class=\"tag\">{}</span>", k.id());
    }
    let (cs, history) = found
        .zeek
        .as_ref()
        .map_or(("OTH", ""), |z| (z.conn_state(), z.history()));
    format!(
        "<details id=\"conn-{id}\" class=\"conn\"{open}><summary><b>#{id}</b> {o} → {p} \
         <span class=\"cs\" title=\"Zeek conn_state {cs}, history {h}\">{cs}</span> {tags}\
         </summary>{svg}</details>",
        id = r.id,
        open = if i < 3 { " open" } else { "" },
        o = esc(&r.orig.to_string()),
        p = esc(&r.resp.to_string()),
        h = esc(history),
        svg = ladder::svg(r, &found.segs, marks),
    )
}

//! The report's ladder diagrams: the first [`MAX_LADDERS`] flagged connections, drawn as SVG
//! from their segments, which a second read of the capture finds by four-tuple and frame range.
//!
//! The second read starts on its own thread as soon as the last ladder is picked, while the
//! analysis goes on: on a big capture the picks are made early, and the reread (up to the last
//! frame drawn) is done by the time the analysis ends. Keeping every open connection's segments
//! in case it gets flagged costs far more than reading the capture twice.

use std::fmt::Write as _;
use std::thread::JoinHandle;

use super::super::ladder::{self, LadderMark, LadderSegment, esc};
use super::super::reread::{self, Picked};
use crate::capture::FrameIndex;
use crate::event::ConnRecord;

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

/// The connections picked for ladders, and the drawing once it started.
#[derive(Default)]
pub(super) struct Ladders {
    source: Source,
    picks: Vec<(ConnRecord, Vec<LadderMark>)>,
    /// Flagged connections beyond the cap.
    pub(super) left_out: u64,
    /// Drawing the picks (reading the capture again), started when the last one was picked.
    drawing: Option<JoinHandle<Result<Vec<String>, String>>>,
    /// How many were picked (the picks move to the drawing thread).
    picked: usize,
}

impl Ladders {
    pub(super) fn new(source: Source) -> Self {
        Ladders {
            source,
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
            let picks = std::mem::take(&mut self.picks);
            let source = self.source.clone();
            // A thread that cannot start leaves the drawing to the end of the run.
            match std::thread::Builder::new()
                .name("tcpaudit-ladders".into())
                .spawn(move || {
                    super::background();
                    draw(&source, &picks)
                }) {
                Ok(h) => self.drawing = Some(h),
                Err(_) => self.picks = Vec::new(),
            }
        }
    }

    /// The drawn ladders, one `<details>` element each, in the order picked.
    pub(super) fn finish(self) -> Result<Vec<String>, String> {
        match self.drawing {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err("drawing the ladders failed".into())),
            None => draw(&self.source, &self.picks),
        }
    }
}

/// Reads the capture again for the segments of `picks` and draws each.
fn draw(source: &Source, picks: &[(ConnRecord, Vec<LadderMark>)]) -> Result<Vec<String>, String> {
    if picks.is_empty() {
        return Ok(Vec::new());
    }
    let mut segs: Vec<Vec<LadderSegment>> = vec![Vec::new(); picks.len()];
    let picked = Picked::new(picks.iter().map(|(r, _)| r));
    reread::replay(
        &source.files,
        source.filter.as_deref(),
        &picked,
        Some(&source.index),
        |i, _, _, seg| {
            segs[i].push(LadderSegment::of(seg, reread::side_of(&picks[i].0, seg)));
        },
    )?;
    Ok(picks
        .iter()
        .zip(&segs)
        .enumerate()
        .map(|(i, ((r, marks), segs))| details(i, r, segs, marks))
        .collect())
}

/// One connection's collapsible ladder (the first three open).
fn details(i: usize, r: &ConnRecord, segs: &[LadderSegment], marks: &[LadderMark]) -> String {
    let mut tags = String::new();
    for (k, _) in r.tally.counts.iter() {
        let _ = write!(tags, "<span class=\"tag\">{}</span>", k.id());
    }
    format!(
        "<details id=\"conn-{id}\" class=\"conn\"{open}><summary><b>#{id}</b> {o} → {p} \
         <span class=\"cs\">{cs}</span> {tags}</summary>{svg}</details>",
        id = r.id,
        open = if i < 3 { " open" } else { "" },
        o = esc(&r.orig.to_string()),
        p = esc(&r.resp.to_string()),
        cs = r.zeek.conn_state(),
        svg = ladder::svg(r, segs, marks),
    )
}

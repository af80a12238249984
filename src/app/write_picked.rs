//! `analyze -w FILE`: the frames of the connections `--select` picks, written out so that an
//! analyst can open them in Wireshark, each pcapng frame commented with its frame number in the
//! analysis and its connection.

use std::path::Path;

use crate::capture::{CaptureWriter, FrameIndex, LinkType};
use crate::detect::AnomalyKind;
use crate::event::ConnRecord;
use crate::report::reread::{self as select, Picked, Span};

/// What `--select` asks for; a connection is picked if any of them picks it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Selection {
    /// A connection with a warning or an error.
    Flagged,
    /// Every connection.
    All,
    /// Connections that raised one of these ids.
    Anomaly(Vec<AnomalyKind>),
    /// These record ids.
    Conn(Vec<u64>),
}

impl Selection {
    /// Parses `--select` values; none means [`Selection::Flagged`].
    pub(crate) fn parse_all(specs: &[String]) -> Result<Vec<Selection>, String> {
        if specs.is_empty() {
            return Ok(vec![Selection::Flagged]);
        }
        specs.iter().map(|s| Self::parse(s)).collect()
    }

    fn parse(spec: &str) -> Result<Selection, String> {
        match spec.split_once('=') {
            None if spec == "flagged" => Ok(Selection::Flagged),
            None if spec == "all" => Ok(Selection::All),
            Some(("anomaly", ids)) => ids
                .split(',')
                .map(|id| {
                    AnomalyKind::from_id(id.trim())
                        .ok_or_else(|| format!("--select: {}", AnomalyKind::unknown(id.trim())))
                })
                .collect::<Result<_, _>>()
                .map(Selection::Anomaly),
            Some(("conn", ids)) => ids
                .split(',')
                .map(|id| {
                    id.trim()
                        .parse()
                        .map_err(|_| format!("--select: '{id}' is not a connection id"))
                })
                .collect::<Result<_, _>>()
                .map(Selection::Conn),
            _ => Err(format!(
                "--select: '{spec}' (flagged, all, anomaly=ID[,ID...] or conn=ID[,ID...])"
            )),
        }
    }

    /// Whether this selection picks `r`.
    pub(crate) fn picks(&self, r: &ConnRecord) -> bool {
        match self {
            Selection::All => true,
            Selection::Flagged => r.tally.flagged(),
            Selection::Anomaly(kinds) => kinds.iter().any(|k| r.tally.has(*k)),
            Selection::Conn(ids) => ids.contains(&r.id),
        }
    }
}

/// Writes the frames of `spans` (from `files`, frames passing `filter`) to `path`; returns the
/// frames written.
pub(crate) fn write_picked(
    path: &Path,
    files: &[String],
    filter: Option<&str>,
    index: Option<&FrameIndex>,
    spans: &[Span],
) -> Result<u64, String> {
    let picked = Picked::of_spans(spans.iter().copied());
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut writer: Option<CaptureWriter> = None;
    let mut failed: Option<String> = None;
    select::replay(files, filter, &picked, index, false, |i, frame, pkt, _| {
        if failed.is_some() {
            return;
        }
        if writer.is_none() {
            match CaptureWriter::create(path, pkt.link_type, 262_144, "tcpaudit") {
                Ok(w) => writer = Some(w),
                Err(e) => {
                    failed = Some(err(e));
                    return;
                }
            }
        }
        let comment = format!("tcpaudit frame {frame}, connection #{}", spans[i].id);
        if let Some(w) = writer.as_mut()
            && let Err(e) = w.write_with_comment(pkt, Some(&comment))
        {
            failed = Some(err(e));
        }
    })?;
    if let Some(f) = failed {
        return Err(f);
    }
    let mut w = match writer {
        Some(w) => w,
        // Nothing picked: an empty capture, so that the file exists as asked.
        None => CaptureWriter::create(path, LinkType(1), 262_144, "tcpaudit").map_err(err)?,
    };
    w.flush().map_err(err)?;
    Ok(w.frames)
}

//! `tcpaudit ladder`: connections drawn as ladder diagrams. One pass of the ordinary analysis,
//! with stories kept and segments handed out: the segments of open connections are kept until
//! each ends, for those picked, and no longer once every diagram wanted is known.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use super::{fail, fail_input};
use crate::analyzer::Analyzer;
use crate::capture::{CaptureSet, PacketFilter};
use crate::cli::LadderArgs;
use crate::config::Format;
use crate::detect::AnomalyKind;
use crate::event::{ConnRecord, Event};
use crate::report::ladder::{self, LadderMark, LadderSegment, LadderStyle, SegmentCollector};
use crate::run::{self, RunOptions};

/// `tcpaudit ladder FILE...`.
pub fn ladder(args: &LadderArgs) -> io::Result<ExitCode> {
    if args.opts.format != Format::Table {
        return fail(
            "ladder draws text; for the story as JSON use `analyze -f json --transitions`",
        );
    }
    if let Err(msg) = crate::cli::stdin_once(&args.files) {
        return fail(msg);
    }
    let mut cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    cfg.flow.keep_transitions = true;
    // The ladder's heading gives Zeek's conn_state and history.
    cfg.flow.zeek_view = true;
    cfg.flow.segment_stream = true;
    let mut kinds = Vec::new();
    for id in &args.anomaly {
        match AnomalyKind::from_id(id) {
            Some(k) => kinds.push(k),
            None => {
                return fail(AnomalyKind::unknown(id));
            }
        }
    }
    let mut filter = match args.filter.as_deref().map(PacketFilter::new).transpose() {
        Ok(f) => f,
        Err(msg) => return fail(msg),
    };
    let limit = if args.opts.all {
        usize::MAX
    } else {
        args.opts.limit
    };
    let wanted = |r: &ConnRecord| {
        (args.conn.is_empty() || args.conn.contains(&r.id))
            && (kinds.is_empty() || kinds.iter().any(|k| r.tally.has(*k)))
    };

    let mut chosen: Vec<(ConnRecord, Vec<LadderSegment>, u64)> = Vec::new();
    let mut segments = SegmentCollector::default();
    let mut marks: HashMap<u64, Vec<LadderMark>> = HashMap::new();
    let mut set = CaptureSet::open(&args.files);
    let mut on_event = |e: Event<'_>| {
        match e {
            Event::Anomaly(a) => {
                if let Some(id) = a.conn_id
                    && (args.conn.is_empty() || args.conn.contains(&id))
                {
                    marks.entry(id).or_default().push(LadderMark::of(a));
                }
            }
            Event::Segment(r, seg) => {
                if args.conn.is_empty() || args.conn.contains(&r.id) {
                    segments.segment(r, seg);
                }
            }
            Event::Closed(r) => {
                let (segs, more) = segments.take(r);
                if chosen.len() < limit && wanted(r) {
                    chosen.push((r.clone(), segs, more));
                    if chosen.len() == limit {
                        segments.stop();
                    }
                } else {
                    marks.remove(&r.id);
                }
            }
            Event::Opened(_) | Event::StateChanged(..) | Event::App(_) => {}
        }
        Ok(())
    };
    let opts = RunOptions {
        filter: filter.as_mut(),
        ..RunOptions::default()
    };
    run::run(&mut set, Analyzer::new(cfg), &mut on_event, opts)?;
    if let Some(e) = set.errors().first() {
        return fail_input(e);
    }
    if chosen.is_empty() {
        eprintln!("tcpaudit: no connection matches");
        return Ok(ExitCode::from(1));
    }
    chosen.sort_by_key(|(r, _, _)| r.id);

    let style = LadderStyle {
        ascii: args.ascii,
        color: !args.ascii && args.opts.color.enabled(io::stdout().is_terminal()),
    };
    let mut text = String::new();
    for (i, (r, segs, more)) in chosen.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let m = marks.remove(&r.id).unwrap_or_default();
        ladder::render(r, segs, &m, style, &mut text);
        if *more > 0 {
            let _ = writeln!(text, "  ({more} more segments were not kept)");
        }
    }
    if !args.opts.all && chosen.len() == limit {
        let _ = writeln!(
            text,
            "\n(the first {limit} connections; --all or --limit N for more)"
        );
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

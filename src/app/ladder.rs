//! `tcpaudit ladder`: connections drawn as ladder diagrams. Two passes over the capture: the
//! ordinary analysis (with stories kept) picks the connections and gives their states and
//! anomalies; a second read collects the selected connections' segments, numbered as the
//! analysis numbered them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use super::fail;
use super::select::{self, Picked};
use crate::analyzer::Analyzer;
use crate::capture::{CaptureSet, PacketFilter};
use crate::cli::LadderArgs;
use crate::config::Format;
use crate::detect::AnomalyKind;
use crate::event::{ConnRecord, Event};
use crate::report::ladder::{self, LadderMark, LadderSegment, LadderStyle};
use crate::run::{self, RunOptions};

/// `tcpaudit ladder FILE...`.
pub fn ladder(args: &LadderArgs) -> io::Result<ExitCode> {
    if args.opts.format != Format::Table {
        return fail(
            "ladder draws text; for the story as JSON use `analyze -f json --transitions`",
        );
    }
    let mut cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    cfg.flow.keep_transitions = true;
    let mut kinds = Vec::new();
    for id in &args.anomaly {
        match AnomalyKind::from_id(id) {
            Some(k) => kinds.push(k),
            None => {
                return fail(format!(
                    "unknown anomaly id '{id}' (tcpaudit explain lists them)"
                ));
            }
        }
    }
    let new_filter = || args.filter.as_deref().map(PacketFilter::new).transpose();
    let mut filter = match new_filter() {
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

    // Pass 1: the analysis picks the connections.
    let mut chosen: Vec<ConnRecord> = Vec::new();
    let mut marks: HashMap<u64, Vec<LadderMark>> = HashMap::new();
    let mut set = CaptureSet::open(&args.files);
    let mut on_event = |e: Event<'_>| {
        match e {
            Event::Anomaly(a) => {
                if let Some(id) = a.conn_id
                    && (args.conn.is_empty() || args.conn.contains(&id))
                {
                    marks.entry(id).or_default().push(LadderMark {
                        frame: a.frame,
                        kind: a.kind,
                        severity: a.severity,
                    });
                }
            }
            Event::Closed(r) => {
                if chosen.len() < limit && wanted(r) {
                    chosen.push(r.clone());
                } else {
                    marks.remove(&r.id);
                }
            }
            Event::Opened(_) | Event::StateChanged(..) => {}
        }
        Ok(())
    };
    let opts = RunOptions {
        filter: filter.as_mut(),
        ..RunOptions::default()
    };
    run::run(&mut set, Analyzer::new(cfg), &mut on_event, opts)?;
    if let Some(e) = set.errors().first() {
        return fail(e);
    }
    if chosen.is_empty() {
        eprintln!("tcpaudit: no connection matches");
        return Ok(ExitCode::from(1));
    }
    chosen.sort_by_key(|r| r.id);

    // Pass 2: their segments.
    let mut segs: Vec<Vec<LadderSegment>> = vec![Vec::new(); chosen.len()];
    let picked = Picked::new(&chosen);
    let read = select::replay(
        &args.files,
        args.filter.as_deref(),
        &picked,
        |i, _, _, seg| {
            segs[i].push(LadderSegment::of(seg, select::side_of(&chosen[i], seg)));
        },
    );
    if let Err(msg) = read {
        return fail(msg);
    }

    let style = LadderStyle {
        ascii: args.ascii,
        color: !args.ascii && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut text = String::new();
    for (i, r) in chosen.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let m = marks.remove(&r.id).unwrap_or_default();
        ladder::render(r, &segs[i], &m, style, &mut text);
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

//! `tcpaudit analyze`: capture files through the run loop into a sink.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::write_picked::{Selection, write_picked};
use super::{Named, exit, fail, fail_output, report_errors, sink_for, stream_files};
use crate::analyzer::Analyzer;
use crate::capture::{BytesRead, CaptureSet, FrameIndex, PacketFilter};
use crate::cli::AnalyzeArgs;
use crate::config::Format;
use crate::event::Event;
use crate::report::progress::FileProgress;
use crate::report::reread::Span;
use crate::report::{HtmlReport, HtmlSource as Source, InputFile, RunInfo};
use crate::run::{self, RunOptions};

/// `tcpaudit analyze FILE...`.
pub fn analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let (files, filter_expr) = match args.inputs() {
        Ok(x) => x,
        Err(msg) => return fail(msg),
    };
    let mut cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    // The report's ladders and -w read the capture again: standard input cannot be.
    if (args.html.is_some() || args.write.is_some()) && files.iter().any(|f| f == "-") {
        return fail("--html and -w read the capture twice: give a file, not standard input");
    }
    // Both read the capture a second time, seeking to the frames they want.
    let index = (args.html.is_some() || args.write.is_some()).then(FrameIndex::default);
    // The report's ladders need the connections' stories. (They name Zeek's conn_state: they
    // rebuild Zeek's view from the segments they read again, so the analysis emulates Zeek
    // only when the output format shows it.)
    let mut html = args.html.as_ref().map(|_| {
        cfg.flow.keep_transitions = true;
        HtmlReport::new(
            &cfg,
            Source {
                files: files.clone(),
                filter: filter_expr.clone(),
                index: index.clone().unwrap_or_default(),
            },
        )
    });
    let selections = match Selection::parse_all(&args.select) {
        Ok(s) => s,
        Err(msg) => return fail(msg),
    };
    let mut filter = match &filter_expr {
        Some(expr) => match PacketFilter::new(expr) {
            Ok(f) => Some(f),
            Err(msg) => return fail(msg),
        },
        None => None,
    };
    let stdout = io::stdout();
    let mut sink = match sink_for(
        &args.opts,
        &args.output,
        args.wide,
        Named::new(
            io::BufWriter::with_capacity(1 << 16, stdout.lock()),
            "standard output",
        ),
    ) {
        Ok(s) => s,
        Err(f) => return f.exit(),
    };
    // A bar on standard error while reading, unless it would be drawn between records on the
    // same terminal.
    let records_on_terminal = args.opts.format.is_records() && io::stdout().is_terminal();
    let show_progress = !args.quiet && io::stderr().is_terminal() && !records_on_terminal;
    let read = show_progress.then(BytesRead::default);
    // Every format but the report reads only the records and anomalies; the line-per-record
    // formats are worth writing apart from the engine, the tables cost too little for the copies.
    let (records_only, writes_little) = (html.is_none(), matches!(args.opts.format, Format::Table));
    let threads = crate::config::threads(args.threads);
    let ahead = run::read_ahead(threads);
    let mut set = CaptureSet::open_counted(&files, read.as_ref(), ahead);
    // Nothing to read: the reasons alone, not an empty report before them.
    if set.files().is_empty() {
        for e in set.errors() {
            eprintln!("tcpaudit: error: {e}");
        }
        return Ok(ExitCode::from(exit::INPUT));
    }
    let mut analyzer = Analyzer::new(cfg);
    // Unless the records show them, stories are kept only until the report's ladders are picked.
    if let Some(h) = &html
        && !args.opts.stories_asked()
    {
        analyzer.keep_stories_while(h.stories_wanted());
    }
    match stream_files(&args.opts) {
        Ok(Some(s)) => analyzer.set_stream_sink(Box::new(s)),
        Ok(None) => {}
        Err(f) => return f.exit(),
    }
    // A failed write (closed pipe) stops reading; the error is returned after the run.
    let frames = Arc::new(AtomicU64::new(0));
    let progress = read.map(|r| FileProgress::start(r, total_size(&files), Arc::clone(&frames)));
    // A run split among shards may have to read the capture again (standard input cannot be).
    let mut again = || CaptureSet::open(&files);
    let again: Option<&mut dyn FnMut() -> CaptureSet> =
        (!files.iter().any(|f| f == "-")).then_some(&mut again);
    let opts = RunOptions {
        filter: filter.as_mut(),
        count: args.count,
        frames_read: progress.is_some().then_some(&*frames),
        frame_index: index.as_ref(),
        records_only,
        writes_little,
        again,
        ..RunOptions::default()
    };
    // With -w, the connections to write are remembered as they end.
    let mut spans: Vec<Span> = Vec::new();
    let mut emit = |e: Event<'_>| {
        if args.write.is_some()
            && let Event::Closed(r) = e
            && selections.iter().any(|s| s.picks(r))
        {
            spans.push(Span::of(r));
        }
        if let Some(h) = html.as_mut() {
            h.event(&e);
        }
        sink.event(&e)
    };
    let finished = run::run_offline(&mut set, analyzer, &mut emit, opts, threads);
    if let Some(p) = progress {
        p.finish();
    }
    let summary = match finished {
        Ok(finished) => {
            if let Some(why) = finished.split.undone
                && !args.quiet
            {
                eprintln!(
                    "tcpaudit: note: the connections could not be analysed apart ({why}): \
                     the capture was analysed again on one thread"
                );
            }
            finished.summary
        }
        Err(e) => return output_stopped(e, &mut set),
    };
    if let Some(f) = &filter {
        for w in f.errors() {
            eprintln!("tcpaudit: warning: {w}");
        }
    }
    let run = RunInfo {
        files: InputFile::all(&set),
        capture: None,
        filter: filter.map(|f| f.stats),
        errors: set
            .errors()
            .iter()
            .map(|e| e.to_string())
            .chain(summary.stream_error.clone())
            .collect(),
        skipped_records: set.files().iter().map(|f| f.skipped_records()).sum(),
    };
    if let Err(e) = sink.finish(&summary, &run) {
        drop(sink);
        return output_stopped(e, &mut set);
    }
    drop(sink);
    let _ = io::stdout().flush();
    if let (Some(path), Some(h)) = (&args.html, html)
        && let Err(msg) = h.write_file(path, &summary, &run)
    {
        return fail_output(msg);
    }
    if let Some(path) = &args.write {
        match write_picked(path, &files, filter_expr.as_deref(), index.as_ref(), &spans) {
            Ok(n) => eprintln!(
                "tcpaudit: wrote {n} frames of {} connection{} to {}",
                spans.len(),
                if spans.len() == 1 { "" } else { "s" },
                path.display()
            ),
            Err(msg) => return fail_output(msg),
        }
    }
    report_errors(&run)
}

/// The output stopped before the run finished: a closed standard output (`| head`) is no
/// error, another write error is one (exit status 4). Either way the rest of the input is
/// still read (not analysed), so that a damaged capture is reported and its exit status is 3
/// whatever happened to the output.
fn output_stopped(e: io::Error, set: &mut CaptureSet) -> io::Result<ExitCode> {
    while set.next_packet().is_some() {}
    let closed = e.kind() == io::ErrorKind::BrokenPipe;
    if !closed {
        eprintln!("tcpaudit: error: {e}");
    }
    for err in set.errors() {
        eprintln!("tcpaudit: error: {err}");
    }
    Ok(ExitCode::from(match (set.errors().is_empty(), closed) {
        (false, _) => exit::INPUT,
        (true, false) => exit::OUTPUT,
        (true, true) => 0,
    }))
}

/// The size of the capture files together, when every one is a file whose size is known (not
/// standard input or a pipe); gzip files count their compressed size, as the bar does.
fn total_size(files: &[String]) -> Option<u64> {
    files
        .iter()
        .map(|f| {
            let m = (f != "-").then(|| std::fs::metadata(f).ok()).flatten()?;
            m.is_file().then_some(m.len())
        })
        .sum()
}

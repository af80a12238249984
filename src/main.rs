//! The `tcpaudit` binary: parses arguments and runs the library. Exit codes: 0 clean, 2 when a
//! capture could not be read (completely or in part), a live capture could not be opened, or
//! the arguments are invalid.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use tcpaudit::analyzer::Analyzer;
use tcpaudit::capture::live;
use tcpaudit::capture::{CaptureSet, CaptureWriter, PacketFilter};
use tcpaudit::cli::{AnalyzeArgs, CheckArgs, Cli, Command, LiveArgs};
use tcpaudit::config::{self, AnalysisOpts, Format};
use tcpaudit::detect::{AnomalyKind, explain};
use tcpaudit::event::Event;
use tcpaudit::monitor::{self, MonitorConfig, View};
use tcpaudit::report::{InputFile, JsonSink, RunInfo, Sink, StreamFiles, TableSink};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(&args),
        Command::Live(args) => live_cmd(&args),
        Command::Interfaces => interfaces_cmd(),
        Command::Check(args) => check_cmd(&args),
        Command::Explain { id } => explain_cmd(id.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcpaudit: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn fail(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    eprintln!("tcpaudit: error: {msg}");
    Ok(ExitCode::from(2))
}

/// The sink for an output format.
fn sink_for<'w>(opts: &AnalysisOpts, out: impl Write + 'w) -> Box<dyn Sink + 'w> {
    match opts.format {
        Format::Json => Box::new(JsonSink::new(out)),
        Format::Table => Box::new(TableSink::new(out, (!opts.all).then_some(opts.limit))),
    }
}

/// The reassembled-stream writer for --write-streams, if asked for.
fn stream_files(opts: &AnalysisOpts) -> Result<Option<StreamFiles>, String> {
    match &opts.write_streams {
        Some(dir) => StreamFiles::new(dir.clone())
            .map(Some)
            .map_err(|e| format!("{}: {e}", dir.display())),
        None => Ok(None),
    }
}

fn analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let mut filter = match &args.filter {
        Some(expr) => match PacketFilter::new(expr) {
            Ok(f) => Some(f),
            Err(msg) => return fail(msg),
        },
        None => None,
    };
    let stdout = io::stdout();
    let mut sink = sink_for(
        &args.opts,
        io::BufWriter::with_capacity(1 << 16, stdout.lock()),
    );

    let mut set = CaptureSet::open(&args.files);
    let mut analyzer = Analyzer::new(cfg);
    match stream_files(&args.opts) {
        Ok(Some(s)) => analyzer.set_stream_sink(Box::new(s)),
        Ok(None) => {}
        Err(msg) => return fail(msg),
    }
    // A failed write (closed pipe) stops reading; the error is returned after the loop.
    let failed = std::cell::Cell::new(false);
    let mut write_err: Option<io::Error> = None;
    let mut emit = |e: Event<'_>| {
        if write_err.is_none()
            && let Err(e) = sink.event(&e)
        {
            write_err = Some(e);
            failed.set(true);
        }
    };
    while let Some(pkt) = set.next_packet() {
        if let Some(f) = &mut filter
            && !f.matches(&pkt)
        {
            continue;
        }
        analyzer.push(&pkt, &mut emit);
        if failed.get() {
            break;
        }
    }
    let summary = analyzer.finish(&mut emit);
    if let Some(e) = write_err {
        return Err(e);
    }
    if let Some(f) = &filter {
        for w in f.errors() {
            eprintln!("tcpaudit: warning: {w}");
        }
    }
    let run = RunInfo {
        files: set
            .files()
            .iter()
            .map(|f| InputFile::new(f.name(), f.format(), f.compressed()))
            .collect(),
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
    sink.finish(&summary, &run)?;
    drop(sink);
    let _ = io::stdout().flush();
    report_errors(&run)
}

fn report_errors(run: &RunInfo) -> io::Result<ExitCode> {
    if run.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &run.errors {
            eprintln!("tcpaudit: error: {e}");
        }
        Ok(ExitCode::from(2))
    }
}

/// `tcpaudit live`.
fn live_cmd(args: &LiveArgs) -> io::Result<ExitCode> {
    let cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let config::LiveSettings {
        capture: live_cfg,
        refresh,
        duration,
    } = match args.request().resolve() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let filter = live_cfg.filter.clone();
    let mut source = match live::open(&live_cfg) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Files are opened while still privileged; the analysis then runs as --user.
    let writer = match &args.write {
        Some(path) => {
            match CaptureWriter::create(
                path,
                source.info().link_type,
                source.info().snaplen,
                &args.interface,
            ) {
                Ok(w) => Some((path.clone(), w)),
                Err(e) => return fail(format!("{}: {e}", path.display())),
            }
        }
        None => None,
    };
    let streams = match stream_files(&args.opts) {
        Ok(s) => s,
        Err(msg) => return fail(msg),
    };
    if live::is_root() && args.user != "root" {
        if let Err(msg) = live::drop_privileges(&args.user) {
            return fail(msg);
        }
        if let Some(dir) = &args.opts.write_streams
            && let Err(e) = config::probe_streams_dir(dir, &args.user)
        {
            return fail(e);
        }
    }
    let mut analyzer = Analyzer::new(cfg);
    if let Some(s) = streams {
        analyzer.set_stream_sink(Box::new(s));
    }
    eprintln!(
        "tcpaudit: listening on {} ({}), link-type {}, snaplen {} bytes{}",
        source.info().interface,
        source.info().backend,
        source.info().link_type,
        source.info().snaplen,
        filter
            .as_deref()
            .map(|f| format!(", filter '{f}'"))
            .unwrap_or_default()
    );

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the final report is being written ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let view = match args.opts.format {
        Format::Json => View::Json,
        Format::Table if io::stdout().is_terminal() => View::Terminal,
        Format::Table => View::Log,
    };
    // Standard output is line-buffered: every JSON record is flushed as it is written.
    let mut sink = sink_for(&args.opts, io::stdout());
    let mut screen = io::stdout();
    let cfg = MonitorConfig {
        refresh,
        count: args.count,
        duration,
        view,
        writer,
        filter,
    };
    let outcome = monitor::run(
        source.as_mut(),
        analyzer,
        cfg,
        sink.as_mut(),
        &mut screen,
        &stop,
    )?;
    sink.finish(&outcome.summary, &outcome.run)?;
    drop(sink);
    let _ = io::stdout().flush();
    if let Some(c) = &outcome.run.capture {
        eprintln!(
            "tcpaudit: {} packets received by filter, {} dropped by kernel, {} dropped by interface",
            c.received, c.dropped, c.if_dropped
        );
    }
    report_errors(&outcome.run)
}

/// `tcpaudit check`.
fn check_cmd(args: &CheckArgs) -> io::Result<ExitCode> {
    let tolerance = match config::tolerance(args.tolerance) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let opts = tcpaudit::check::CheckOptions {
        paths: args.paths.clone(),
        expect: args.expect.clone(),
        baseline: args.baseline.clone(),
        update: args.update,
        tolerance,
        junit: args.junit.clone(),
        verbose: args.verbose,
    };
    let mut out = io::stdout().lock();
    match tcpaudit::check::run(&opts, &mut out) {
        Ok(report) => Ok(ExitCode::from(report.exit_code())),
        Err(e) => {
            drop(out);
            fail(e)
        }
    }
}

/// `tcpaudit interfaces`.
fn interfaces_cmd() -> io::Result<ExitCode> {
    let list = match live::interfaces() {
        Ok(l) => l,
        Err(msg) => return fail(msg),
    };
    let mut out = io::stdout().lock();
    for (i, itf) in list.iter().enumerate() {
        let desc = itf
            .description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}.{}{desc} [{}]",
            i + 1,
            itf.name,
            itf.flags.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tcpaudit explain [ID]`.
fn explain_cmd(id: Option<&str>) -> io::Result<ExitCode> {
    let mut out = io::stdout().lock();
    let Some(id) = id else {
        writeln!(
            out,
            "{:<24} {:<8} {:<10} summary",
            "id", "severity", "scope"
        )?;
        for k in AnomalyKind::ALL {
            let scope = match k.scope() {
                tcpaudit::detect::Scope::Segment => "segment",
                tcpaudit::detect::Scope::Connection => "connection",
                tcpaudit::detect::Scope::Listener => "listener",
            };
            writeln!(
                out,
                "{:<24} {:<8} {:<10} {}",
                k.id(),
                k.severity(),
                scope,
                k.summary()
            )?;
        }
        writeln!(
            out,
            "\n`tcpaudit explain <id>` tells what an anomaly means, why it matters and how it is decided."
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let Some(k) = AnomalyKind::from_id(id) else {
        eprintln!("tcpaudit: error: unknown anomaly id '{id}'; `tcpaudit explain` lists them");
        return Ok(ExitCode::from(2));
    };
    let e = explain(k);
    writeln!(
        out,
        "{} ({}, {})\n",
        k.id(),
        k.severity(),
        match k.scope() {
            tcpaudit::detect::Scope::Segment => "per segment",
            tcpaudit::detect::Scope::Connection => "per connection",
            tcpaudit::detect::Scope::Listener => "per listener",
        }
    )?;
    for (title, text) in [
        ("What it means", e.meaning),
        ("Why it matters", e.why),
        ("How it is decided", e.rule),
    ] {
        writeln!(out, "{title}\n{}\n", wrap(text, 96))?;
    }
    if !e.tuning.is_empty() {
        writeln!(out, "Tuned by\n  {}", e.tuning)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Wraps `text` at `width` columns with a two-space indent.
fn wrap(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    let mut line = String::from(" ");
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > width {
            lines.push(std::mem::replace(&mut line, String::from(" ")));
        }
        line.push(' ');
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

//! The `tcpaudit` binary: parses arguments and runs the library. Exit codes: 0 clean, 2 when a
//! capture could not be read (completely or in part) or the arguments are invalid.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use tcpaudit::analyzer::Analyzer;
use tcpaudit::capture::CaptureSet;
use tcpaudit::cli::{AnalyzeArgs, Cli, Command, Format};
use tcpaudit::detect::{AnomalyKind, explain};
use tcpaudit::event::Event;
use tcpaudit::report::{InputFile, JsonSink, RunInfo, Sink, TableSink};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(&args),
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

fn analyze(args: &AnalyzeArgs) -> io::Result<ExitCode> {
    let cfg = match args.config() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("tcpaudit: error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut sink: Box<dyn Sink> = match args.format {
        Format::Json => Box::new(JsonSink::new(out)),
        Format::Table => Box::new(TableSink::new(out, (!args.all).then_some(args.limit))),
    };

    let mut set = CaptureSet::open(&args.files);
    let mut analyzer = Analyzer::new(cfg);
    if let Some(dir) = &args.write_streams {
        match tcpaudit::report::StreamFiles::new(dir.clone()) {
            Ok(sink) => analyzer.set_stream_sink(Box::new(sink)),
            Err(e) => {
                eprintln!("tcpaudit: error: {}: {e}", dir.display());
                return Ok(ExitCode::from(2));
            }
        }
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
        analyzer.push(&pkt, &mut emit);
        if failed.get() {
            break;
        }
    }
    let summary = analyzer.finish(&mut emit);
    if let Some(e) = write_err {
        return Err(e);
    }
    let run = RunInfo {
        files: set
            .files()
            .iter()
            .map(|f| InputFile::new(f.name(), f.format(), f.compressed()))
            .collect(),
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
    if run.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &run.errors {
            eprintln!("tcpaudit: error: {e}");
        }
        Ok(ExitCode::from(2))
    }
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

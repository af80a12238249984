//! The `tcpaudit` binary: parses arguments and runs the library. Exit codes: 0 clean, 2 when a
//! capture could not be read (completely or in part) or the arguments are invalid.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use tcpaudit::analyzer::Analyzer;
use tcpaudit::capture::CaptureSet;
use tcpaudit::cli::{AnalyzeArgs, Cli, Command, Format};
use tcpaudit::report::{InputFile, JsonSink, RunInfo, Sink, TableSink};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(&args),
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
    let cfg = match args.flow_config() {
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
    // A failed write (closed pipe) stops reading; the error is returned after the loop.
    let failed = std::cell::Cell::new(false);
    let mut write_err: Option<io::Error> = None;
    let mut emit = |c: &tcpaudit::flow::Connection| {
        if write_err.is_none()
            && let Err(e) = sink.connection(c)
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
        errors: set.errors().iter().map(|e| e.to_string()).collect(),
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

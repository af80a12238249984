//! The commands of the `tcpaudit` binary, each from resolved arguments to an exit code: what
//! `main` dispatches to. Exit codes: 0 clean, 1 when `check` finds an expectation broken, 2 when
//! a capture could not be read (completely or in part), a live capture could not be opened, or
//! the arguments are invalid.

mod analyze;
mod glossary;
mod info;
mod ladder;
mod live;
mod write_picked;

pub use analyze::analyze;
pub use info::{explain, interfaces};
pub use ladder::ladder;
pub use live::live;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::config::{self, AnalysisOpts, Format};
use crate::monitor::View;
use crate::report::{JsonSink, RunInfo, Sink, StreamFiles, TableSink};

/// Prints `msg` as an error; the run failed (exit status 2).
pub(crate) fn fail(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    eprintln!("tcpaudit: error: {msg}");
    Ok(ExitCode::from(2))
}

/// The sink for an output format (`wide`: every column of the connection table).
pub(crate) fn sink_for<'w>(
    opts: &AnalysisOpts,
    wide: bool,
    out: impl Write + 'w,
) -> Box<dyn Sink + 'w> {
    match opts.format {
        Format::Json => Box::new(JsonSink::new(out).community_id_seed(opts.community_id_seed)),
        Format::Table => Box::new(
            TableSink::new(out, (!opts.all).then_some(opts.limit))
                .colour(opts.color.enabled(io::stdout().is_terminal()))
                .wide(wide),
        ),
    }
}

/// How a live run in `format` shows its progress (`terminal`: standard output is one).
pub(crate) fn view_for(format: Format, terminal: bool) -> View {
    match format {
        Format::Json => View::Json,
        Format::Table if terminal => View::Terminal,
        Format::Table => View::Log,
    }
}

/// The reassembled-stream writer for --write-streams, if asked for.
pub(crate) fn stream_files(opts: &AnalysisOpts) -> Result<Option<StreamFiles>, String> {
    match &opts.write_streams {
        Some(dir) => StreamFiles::new(dir.clone())
            .map(Some)
            .map_err(|e| format!("{}: {e}", dir.display())),
        None => Ok(None),
    }
}

/// Prints the run's errors; exit status 2 if there were any.
pub(crate) fn report_errors(run: &RunInfo) -> io::Result<ExitCode> {
    if run.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &run.errors {
            eprintln!("tcpaudit: error: {e}");
        }
        Ok(ExitCode::from(2))
    }
}

/// `tcpaudit check`.
pub fn check(args: &crate::cli::CheckArgs) -> io::Result<ExitCode> {
    let tolerance = match config::tolerance(args.tolerance) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let opts = crate::check::CheckOptions {
        paths: args.paths.clone(),
        expect: args.expect.clone(),
        baseline: args.baseline.clone(),
        update: args.update,
        tolerance,
        junit: args.junit.clone(),
        html: args.html.clone(),
        verbose: args.verbose,
    };
    let mut out = io::stdout().lock();
    match crate::check::run(&opts, &mut out) {
        Ok(report) => Ok(ExitCode::from(report.exit_code())),
        Err(e) => {
            drop(out);
            fail(e)
        }
    }
}

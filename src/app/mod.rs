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

use std::fs;
use std::path::{Path, PathBuf};

use crate::config::{self, AnalysisOpts, Format, OutputOpts};
use crate::monitor::View;
use crate::report::{
    ANOMALY, APP, CONNECTION, CsvTable, EveSink, JsonSink, ParquetTable, Rotation, RunInfo, Sink,
    StreamFiles, TableSink, TablesSink, ZeekSink,
};

/// Prints `msg` as an error; the run failed (exit status 2).
pub(crate) fn fail(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    eprintln!("tcpaudit: error: {msg}");
    Ok(ExitCode::from(2))
}

/// The sink for an output format, writing records to `out` and, for the file-writing formats
/// given `-o DIR`, into files there.
pub(crate) fn sink_for<'w>(
    opts: &AnalysisOpts,
    output: &OutputOpts,
    out: impl Write + 'w,
) -> Result<Box<dyn Sink + 'w>, String> {
    let seed = opts.community_id_seed;
    let dir = output_dir(opts.format, output)?;
    let file = |name: &str| -> Result<Box<dyn Write + 'w>, String> {
        let path = dir.as_deref().unwrap_or(Path::new(".")).join(name);
        fs::File::create(&path)
            .map(|f| Box::new(io::BufWriter::with_capacity(1 << 16, f)) as Box<dyn Write + 'w>)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    Ok(match opts.format {
        Format::Json => Box::new(JsonSink::new(out).community_id_seed(seed)),
        Format::Table => Box::new(
            TableSink::new(out, (!opts.all).then_some(opts.limit))
                .colour(opts.color.enabled(io::stdout().is_terminal())),
        ),
        Format::Eve => Box::new(EveSink::new(out, seed)),
        Format::Zeek if dir.is_some() => Box::new(ZeekSink::new(
            file("conn.log")?,
            Some(file("anomaly.log")?),
            seed,
        )),
        Format::Zeek => Box::new(ZeekSink::new(out, None, seed)),
        Format::Csv if dir.is_some() => Box::new(TablesSink::new(
            CsvTable::new(file("connections.csv")?, CONNECTION),
            Some(CsvTable::new(file("anomalies.csv")?, ANOMALY)),
            opts.app
                .then(|| file("app.csv").map(|f| CsvTable::new(f, APP)))
                .transpose()?,
            seed,
        )),
        Format::Csv => Box::new(TablesSink::new(
            CsvTable::new(out, CONNECTION),
            None,
            None,
            seed,
        )),
        Format::Parquet => {
            let dir = dir.as_deref().unwrap_or(Path::new("."));
            let rotation = Rotation {
                records: output.rotate_records.max(1),
                seconds: output.rotate_seconds,
            };
            let table = |name, columns| {
                ParquetTable::new(dir, name, columns, rotation)
                    .map_err(|e| format!("{}: {e}", dir.display()))
            };
            Box::new(TablesSink::new(
                table("connections", CONNECTION)?,
                Some(table("anomalies", ANOMALY)?),
                opts.app.then(|| table("app", APP)).transpose()?,
                seed,
            ))
        }
    })
}

/// The `-o` directory, created if missing; an error when the format does not write files, or
/// writes only files and has none.
pub(crate) fn output_dir(format: Format, output: &OutputOpts) -> Result<Option<PathBuf>, String> {
    match (&output.output_dir, format) {
        (Some(dir), Format::Zeek | Format::Csv | Format::Parquet) => {
            fs::create_dir_all(dir).map_err(|e| format!("-o {}: {e}", dir.display()))?;
            Ok(Some(dir.clone()))
        }
        (Some(_), _) => Err(
            "-o DIR is for -f zeek, csv and parquet (table, json and eve \
                             records go to standard output)"
                .into(),
        ),
        (None, Format::Parquet) => {
            Err("-f parquet writes files: give their directory with -o DIR".into())
        }
        (None, _) => Ok(None),
    }
}

/// How a live run in `format` shows its progress (`terminal`: standard output is one).
pub(crate) fn view_for(format: Format, terminal: bool) -> View {
    match format {
        Format::Table if terminal => View::Terminal,
        Format::Table => View::Log,
        // Records for other tools: every event to the sink (JSON adds status records).
        _ => View::Json,
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

//! The commands of the `tcpaudit` binary, each from resolved arguments to an exit code: what
//! `main` dispatches to. Exit codes ([`exit`]): 0 clean, 1 when `check` finds an expectation
//! broken, 2 for invalid arguments, 3 when an input could not be read (a capture completely or
//! in part, a live capture that could not be opened), 4 when an output could not be written.

mod analyze;
mod glossary;
mod info;
mod ladder;
mod live;
mod manual;
mod write_picked;

pub use analyze::analyze;
pub use info::{explain, interfaces};
pub use ladder::ladder;
pub use live::live;
pub use manual::man_page;

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{self, AnalysisOpts, Format, OutputOpts};
use crate::monitor::View;
use crate::report::{
    ANOMALY, APP, CONNECTION, CsvTable, EveSink, JsonSink, ParquetTable, Rotation, RunInfo, Sink,
    StreamFiles, TableSink, TablesSink, ZeekSink,
};

/// The exit statuses, documented in README.md and the man page.
pub mod exit {
    /// `check`: an expectation does not hold (and `ladder`: no connection matches).
    pub const BROKEN: u8 = 1;
    /// The arguments are invalid (also what clap exits with).
    pub const USAGE: u8 = 2;
    /// An input could not be read: a capture file, completely or in part, or a live capture
    /// that could not be opened.
    pub const INPUT: u8 = 3;
    /// An output could not be written (a closed standard output is not an error).
    pub const OUTPUT: u8 = 4;
}

/// Why a command stopped early: the message, and with it the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Invalid arguments.
    Usage(String),
    /// An input could not be read or opened.
    Input(String),
    /// An output could not be written.
    Output(String),
}

impl Failure {
    /// Prints the message; the exit status that goes with it.
    pub(crate) fn exit(self) -> io::Result<ExitCode> {
        let (code, msg) = match self {
            Failure::Usage(m) => (exit::USAGE, m),
            Failure::Input(m) => (exit::INPUT, m),
            Failure::Output(m) => (exit::OUTPUT, m),
        };
        eprintln!("tcpaudit: error: {msg}");
        Ok(ExitCode::from(code))
    }
}

/// Prints `msg` as an error about the arguments (exit status 2).
pub(crate) fn fail(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    Failure::Usage(msg.to_string()).exit()
}

/// Prints `msg` as an error reading an input (exit status 3).
pub(crate) fn fail_input(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    Failure::Input(msg.to_string()).exit()
}

/// Prints `msg` as an error writing an output (exit status 4).
pub(crate) fn fail_output(msg: impl std::fmt::Display) -> io::Result<ExitCode> {
    Failure::Output(msg.to_string()).exit()
}

/// A writer whose errors name where it writes (`standard output`, a file's path), so that a
/// full disk says which output it stopped.
pub(crate) struct Named<W> {
    inner: W,
    name: String,
}

impl<W: Write> Named<W> {
    /// `inner`, called `name` in its errors.
    pub(crate) fn new(inner: W, name: impl Into<String>) -> Self {
        Named {
            inner,
            name: name.into(),
        }
    }

    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.name))
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

/// The sink for an output format, writing records to `out` and, for the file-writing formats
/// given `-o DIR`, into files there.
pub(crate) fn sink_for<'w>(
    opts: &AnalysisOpts,
    output: &OutputOpts,
    wide: bool,
    out: impl Write + 'w,
) -> Result<Box<dyn Sink + 'w>, Failure> {
    let seed = opts.community_id_seed;
    let dir = output_dir(opts.format, output)?;
    let file = |name: &str| -> Result<Box<dyn Write + 'w>, Failure> {
        let path = dir.as_deref().unwrap_or(Path::new(".")).join(name);
        let named = |f| {
            Named::new(
                io::BufWriter::with_capacity(1 << 16, f),
                path.display().to_string(),
            )
        };
        fs::File::create(&path)
            .map(|f| Box::new(named(f)) as Box<dyn Write + 'w>)
            .map_err(|e| Failure::Output(format!("{}: {e}", path.display())))
    };
    Ok(match opts.format {
        Format::Json => Box::new(
            JsonSink::new(out)
                .community_id_seed(seed)
                .stories(opts.stories_asked()),
        ),
        Format::Table => Box::new(
            TableSink::new(out, (!opts.all).then_some(opts.limit))
                .colour(opts.color.enabled(io::stdout().is_terminal()))
                .wide(wide),
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
                    .map_err(|e| Failure::Output(format!("{}: {e}", dir.display())))
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
pub(crate) fn output_dir(format: Format, output: &OutputOpts) -> Result<Option<PathBuf>, Failure> {
    match (&output.output_dir, format) {
        (Some(dir), Format::Zeek | Format::Csv | Format::Parquet) => {
            fs::create_dir_all(dir)
                .map_err(|e| Failure::Output(format!("-o {}: {e}", dir.display())))?;
            Ok(Some(dir.clone()))
        }
        (Some(_), _) => Err(Failure::Usage(
            "-o DIR is for -f zeek, csv and parquet (table, json and eve records go to standard \
             output)"
                .into(),
        )),
        (None, Format::Parquet) => Err(Failure::Usage(
            "-f parquet writes files: give their directory with -o DIR".into(),
        )),
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
pub(crate) fn stream_files(opts: &AnalysisOpts) -> Result<Option<StreamFiles>, Failure> {
    match &opts.write_streams {
        Some(dir) => StreamFiles::new(dir.clone())
            .map(Some)
            .map_err(|e| Failure::Output(format!("{}: {e}", dir.display()))),
        None => Ok(None),
    }
}

/// Prints the run's errors; exit status 3 if there were any.
pub(crate) fn report_errors(run: &RunInfo) -> io::Result<ExitCode> {
    if run.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for e in &run.errors {
            eprintln!("tcpaudit: error: {e}");
        }
        Ok(ExitCode::from(exit::INPUT))
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
        threads: crate::config::threads(args.threads),
    };
    // A reader that stops early (`| head`) does not change the verdict: the checks go on,
    // their output is dropped, and the exit status is the gate's.
    let mut out = Named::new(UntilClosed::new(io::stdout().lock()), "standard output");
    match crate::check::run(&opts, &mut out) {
        Ok(report) => Ok(ExitCode::from(report.exit_code())),
        Err(e) => {
            drop(out);
            use crate::check::CheckError as E;
            match e {
                E::Expect(_) | E::NoExpectations { .. } | E::NothingToCheck { .. } => {
                    Failure::Usage(e.to_string())
                }
                E::Walk { .. } | E::NotFound { .. } | E::Baseline(_) => {
                    Failure::Input(e.to_string())
                }
                E::Junit { .. } | E::Output(_) => Failure::Output(e.to_string()),
            }
            .exit()
        }
    }
}

/// A writer that drops what is written once its reader has gone (a closed pipe), instead of
/// failing: for output that is a courtesy beside an exit status that matters.
pub(crate) struct UntilClosed<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> UntilClosed<W> {
    /// `inner`, until its reader goes.
    pub(crate) fn new(inner: W) -> Self {
        UntilClosed {
            inner,
            closed: false,
        }
    }

    fn absorb(&mut self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}

impl<W: Write> Write for UntilClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write_all(buf);
        self.absorb(r).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r)
    }
}

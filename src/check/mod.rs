//! `tcpaudit check`: a regression gate. Each capture is analysed and held against its
//! expectations (a TOML file beside it, one for its directory, or `--expect`) and, optionally,
//! against a baseline snapshot; failures name the capture, the connections and frames that break
//! them and the command that shows the details. Exit status: 0 everything holds, 1 something
//! failed, 2 the run itself failed.

mod baseline;
mod discover;
pub mod evaluate;
pub mod expect;
pub mod facts;
pub mod junit;
mod parallel;
mod print;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use baseline::{Baseline, BaselineError, Snapshot};
pub use evaluate::Outcome;
pub use expect::{ExpectError, Expectations};
pub use junit::JunitError;

use discover::Job;
use facts::CaptureFacts;

/// What to check and how.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Capture files and directories (searched recursively).
    pub paths: Vec<PathBuf>,
    /// One expectation file for every capture, instead of the files beside them.
    pub expect: Option<PathBuf>,
    /// A baseline file to compare with (or write, with `update`).
    pub baseline: Option<PathBuf>,
    /// Write the baseline instead of comparing with it.
    pub update: bool,
    /// How much an anomaly count may grow over the baseline (a fraction).
    pub tolerance: f64,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Write each capture's HTML report into this directory.
    pub html: Option<PathBuf>,
    /// List expectations that hold too.
    pub verbose: bool,
    /// Threads: up to this many captures are analysed at once, and threads left over go to
    /// each capture's analysis (see [`crate::run::run_offline`]).
    pub threads: usize,
}

/// One capture's results.
#[derive(Clone, Debug)]
pub struct CaptureResult {
    /// The capture as found.
    pub capture: String,
    /// The expectation file used, if any.
    pub expect: Option<PathBuf>,
    /// Outcomes, expectations first, then the baseline comparison.
    pub outcomes: Vec<Outcome>,
    /// Errors that kept the capture from being checked fully (unreadable bytes, a bad filter).
    pub errors: Vec<String>,
    /// Seconds spent.
    pub seconds: f64,
}

/// The whole run.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Per capture, in the order found.
    pub captures: Vec<CaptureResult>,
    /// Captures found in directories without any expectations (and no baseline).
    pub skipped: Vec<String>,
}

impl CheckReport {
    /// Failed expectations over all captures.
    pub fn failed(&self) -> usize {
        self.captures
            .iter()
            .flat_map(|c| &c.outcomes)
            .filter(|o| !o.passed)
            .count()
    }

    /// Whether any capture could not be checked.
    pub fn errored(&self) -> bool {
        self.captures.iter().any(|c| !c.errors.is_empty())
    }

    /// 0 everything holds, 1 an expectation failed, 3 a capture could not be checked (read).
    pub fn exit_code(&self) -> u8 {
        if self.errored() {
            3
        } else if self.failed() > 0 {
            1
        } else {
            0
        }
    }
}

/// Why a check run could not start, or could not finish its report.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// An expectation file is wrong (every one found is listed, a line each).
    #[error("{}", lines(.0))]
    Expect(Vec<ExpectError>),
    /// A directory could not be searched for captures.
    #[error("{}: {source}", path.display())]
    Walk {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A capture given by name has neither expectations nor a baseline to be held against.
    #[error(
        "{}: no expectations: write {}.expect.toml beside it, pass --expect FILE, or use --baseline",
        path.display(),
        path.display()
    )]
    NoExpectations {
        /// The capture.
        path: PathBuf,
    },
    /// No capture found has expectations (and no `--expect` or baseline applies): a gate that
    /// checks nothing would pass for ever.
    #[error(
        "nothing to check: {}: write expect.toml in the directory or CAPTURE.expect.toml beside \
         a capture, pass --expect FILE, or use --baseline",
        match *found {
            0 => "no capture found".to_string(),
            1 => "the capture found has no expectations".to_string(),
            n => format!("none of the {n} captures found has expectations"),
        }
    )]
    NothingToCheck {
        /// Captures found (all without expectations).
        found: usize,
    },
    /// A path that is neither a file nor a directory.
    #[error("{}: no such file or directory", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The baseline could not be read or written.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// The JUnit report could not be written.
    #[error("{}: {source}", path.display())]
    Junit {
        /// The report file.
        path: PathBuf,
        /// Why.
        source: JunitError,
    },
    /// Progress could not be written to the output.
    #[error(transparent)]
    Output(io::Error),
}

/// The errors, a line each.
fn lines(errors: &[ExpectError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The baseline a run compares with (or refreshes), and where it is kept.
struct BaselineFile<'a> {
    path: &'a Path,
    baseline: Baseline,
}

/// Runs the checks; progress and failures go to `out`.
pub fn run(opts: &CheckOptions, out: &mut dyn Write) -> Result<CheckReport, CheckError> {
    let plan = discover::plan(opts)?;
    if plan.jobs.is_empty() {
        return Err(CheckError::NothingToCheck {
            found: plan.skipped.len(),
        });
    }
    let mut report = CheckReport {
        captures: Vec::with_capacity(plan.jobs.len()),
        skipped: plan.skipped,
    };
    let mut base = match (&opts.baseline, opts.update) {
        (Some(path), false) => Some(BaselineFile {
            path,
            baseline: Baseline::load(path)?,
        }),
        (Some(path), true) => Some(BaselineFile {
            path,
            baseline: Baseline::load(path).unwrap_or_default(),
        }),
        (None, _) => None,
    };
    parallel::check_all(&plan.jobs, opts, &mut |a| {
        let result = finish_capture(a, opts, base.as_mut());
        print::capture(out, &result, opts.verbose).map_err(CheckError::Output)?;
        report.captures.push(result);
        Ok(())
    })?;
    if let Some(BaselineFile { path, baseline: b }) = &mut base
        && opts.update
    {
        b.version = 1;
        b.tool = format!("tcpaudit {}", env!("CARGO_PKG_VERSION"));
        b.save(path)?;
        let _ = writeln!(
            out,
            "baseline written: {} ({} captures)",
            path.display(),
            b.captures.len()
        );
    }
    if let Some(path) = &opts.junit {
        junit::write(&report, path).map_err(|source| CheckError::Junit {
            path: path.clone(),
            source,
        })?;
    }
    print::summary(out, &report, opts.verbose).map_err(CheckError::Output)?;
    Ok(report)
}

/// A capture analysed and held against its expectations, not yet against the baseline.
struct Analysed {
    result: CaptureResult,
    /// Its facts, kept for the baseline when the run has one.
    facts: Option<CaptureFacts>,
}

/// Analyses one capture on `threads` threads and holds it against its expectations. The part
/// of a capture's check that captures do not share, so that several can run at once.
fn analyse_capture(job: &Job, opts: &CheckOptions, threads: usize) -> Analysed {
    let started = Instant::now();
    let name = job.capture.display().to_string();
    let no_file = Expectations::default();
    let x = job.expect.as_deref().unwrap_or(&no_file);
    let mut result = CaptureResult {
        capture: name.clone(),
        expect: job.expect.as_ref().map(|x| x.file.clone()),
        outcomes: Vec::new(),
        errors: Vec::new(),
        seconds: 0.0,
    };
    let html = opts.html.as_deref().map(|dir| html_path(dir, &job.capture));
    let mut facts = None;
    match facts::gather(
        &job.capture,
        x.analysis,
        x.filter.as_deref(),
        html.as_deref(),
        threads,
    ) {
        Err(e) => result.errors.push(e.to_string()),
        Ok(f) => {
            result.errors.extend(f.errors.iter().cloned());
            if job.expect.is_some() {
                let rerun = evaluate::Rerun {
                    capture: &name,
                    args: &x.analysis_args,
                    filter: x.filter.as_deref(),
                };
                result.outcomes = evaluate::evaluate(x, &f, &rerun);
            }
            facts = opts.baseline.is_some().then_some(f);
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    Analysed { result, facts }
}

/// Holds an analysed capture against the baseline (or records it there, with `--update`):
/// captures share the baseline, so this part runs one capture at a time, in order.
fn finish_capture(
    a: Analysed,
    opts: &CheckOptions,
    base: Option<&mut BaselineFile>,
) -> CaptureResult {
    let Analysed { mut result, facts } = a;
    if let (Some(base), Some(f)) = (base, facts) {
        let started = Instant::now();
        against_baseline(base, &f, opts, &mut result);
        result.seconds += started.elapsed().as_secs_f64();
    }
    result
}

/// Where a capture's HTML report goes in `dir`: its path with separators as `_`.
fn html_path(dir: &Path, capture: &Path) -> PathBuf {
    let name: String = capture
        .to_string_lossy()
        .trim_start_matches(['.', '/'])
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    dir.join(format!("{name}.html"))
}

/// A capture's key in a baseline: its path relative to the baseline file's directory (`/`
/// separators, `..` where it lies outside), so that `x`, `./x` and an absolute path name the
/// same capture wherever `check` runs from. The path as given when either cannot be resolved.
fn baseline_key(capture: &Path, baseline: &Path) -> String {
    let dir = match baseline.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (Ok(capture), Ok(dir)) = (std::fs::canonicalize(capture), std::fs::canonicalize(dir))
    else {
        return capture.display().to_string();
    };
    let (c, d): (Vec<_>, Vec<_>) = (capture.components().collect(), dir.components().collect());
    let common = c.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), d.len() - common)
        .chain(
            c[common..]
                .iter()
                .map(|p| p.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    parts.join("/")
}

/// Compares a capture's facts with its baseline snapshot, or records them with `--update`.
fn against_baseline(
    base: &mut BaselineFile,
    f: &CaptureFacts,
    opts: &CheckOptions,
    result: &mut CaptureResult,
) {
    let name = &result.capture;
    let key = baseline_key(Path::new(name), base.path);
    let now = baseline::snapshot(f);
    if opts.update {
        // A key written by an older release (the path as given) gives way to the new one.
        base.baseline.captures.remove(name);
        base.baseline.captures.insert(key, now);
        return;
    }
    let old = base
        .baseline
        .captures
        .get(&key)
        .or_else(|| base.baseline.captures.get(name));
    match old {
        Some(old) => {
            let hint = format!(
                "tcpaudit check {} --baseline {} --update   # if the change is intended",
                name,
                base.path.display()
            );
            let outcomes = baseline::compare(old, &now, opts.tolerance, &hint);
            result.outcomes.extend(outcomes);
        }
        None => result.errors.push(format!(
            "{name} is not in the baseline {} (add it with --update)",
            base.path.display()
        )),
    }
}

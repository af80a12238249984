//! `tcpaudit check`: a regression gate. Each capture is analysed and held against its
//! expectations (a TOML file beside it, one for its directory, or `--expect`) and, optionally,
//! against a baseline snapshot; failures name the capture, the connections and frames that break
//! them and the command that shows the details. Exit status: 0 everything holds, 1 something
//! failed, 2 the run itself failed.

mod baseline;
pub mod evaluate;
pub mod expect;
pub mod facts;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use baseline::{Baseline, Snapshot};
pub use evaluate::Outcome;
pub use expect::{ExpectError, Expectations};

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
    /// List expectations that hold too.
    pub verbose: bool,
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

    /// 0 everything holds, 1 an expectation failed, 2 a capture could not be checked.
    pub fn exit_code(&self) -> u8 {
        if self.errored() {
            2
        } else if self.failed() > 0 {
            1
        } else {
            0
        }
    }
}

/// File names taken for captures when walking directories.
fn is_capture(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".pcap", ".pcapng", ".cap"]
        .iter()
        .any(|e| name.ends_with(e))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_capture(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The expectation file for `capture`: `<capture>.expect.toml`, else the nearest `expect.toml`
/// from its directory up to `root`.
fn expectation_file(capture: &Path, root: Option<&Path>) -> Option<PathBuf> {
    let mut own = capture.as_os_str().to_owned();
    own.push(".expect.toml");
    let own = PathBuf::from(own);
    if own.is_file() {
        return Some(own);
    }
    let mut dir = capture.parent();
    while let Some(d) = dir {
        let f = d.join("expect.toml");
        if f.is_file() {
            return Some(f);
        }
        if root.is_none_or(|r| d == r) {
            break;
        }
        dir = d.parent();
    }
    None
}

/// Why a check run could not start.
#[derive(Debug)]
pub enum CheckError {
    /// An expectation file is wrong (every one found is listed).
    Expect(Vec<ExpectError>),
    /// Something else: a missing path, an unreadable baseline, a capture without expectations.
    Other(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Expect(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            CheckError::Other(m) => f.write_str(m),
        }
    }
}

/// Runs the checks; progress and failures go to `out`.
pub fn run(opts: &CheckOptions, out: &mut dyn Write) -> Result<CheckReport, CheckError> {
    // Captures, and the expectation file of each.
    let mut jobs: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let mut report = CheckReport::default();
    for p in &opts.paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| CheckError::Other(format!("{}: {e}", p.display())))?;
            for c in found {
                let x = opts
                    .expect
                    .clone()
                    .or_else(|| expectation_file(&c, Some(p)));
                if x.is_none() && opts.baseline.is_none() {
                    report.skipped.push(c.display().to_string());
                } else {
                    jobs.push((c, x));
                }
            }
        } else if p.is_file() {
            let x = opts.expect.clone().or_else(|| expectation_file(p, None));
            if x.is_none() && opts.baseline.is_none() {
                return Err(CheckError::Other(format!(
                    "{}: no expectations: write {}.expect.toml beside it, pass --expect FILE, or use --baseline",
                    p.display(),
                    p.display()
                )));
            }
            jobs.push((p.clone(), x));
        } else {
            return Err(CheckError::Other(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    // Every expectation file is read and checked before any capture is analysed.
    let mut loaded: Vec<(PathBuf, Expectations)> = Vec::new();
    let mut errors = Vec::new();
    for (_, x) in &jobs {
        if let Some(x) = x
            && !loaded.iter().any(|(p, _)| p == x)
        {
            match expect::load(x) {
                Ok(e) => loaded.push((x.clone(), e)),
                Err(e) => {
                    if !errors.contains(&e) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(CheckError::Expect(errors));
    }
    let mut base = match (&opts.baseline, opts.update) {
        (Some(b), false) => Some(Baseline::load(b).map_err(CheckError::Other)?),
        (Some(b), true) => Some(Baseline::load(b).unwrap_or_default()),
        (None, _) => None,
    };

    for (capture, xfile) in jobs {
        let started = Instant::now();
        let name = capture.display().to_string();
        let x = xfile
            .as_ref()
            .and_then(|f| loaded.iter().find(|(p, _)| p == f))
            .map(|(_, x)| x);
        let default_x = Expectations::default();
        let xe = x.unwrap_or(&default_x);
        let mut result = CaptureResult {
            capture: name.clone(),
            expect: xfile.clone(),
            outcomes: Vec::new(),
            errors: Vec::new(),
            seconds: 0.0,
        };
        match facts::gather(&capture, xe.analysis, xe.filter.as_deref()) {
            Err(e) => result.errors.push(e),
            Ok(f) => {
                result.errors.extend(f.errors.iter().cloned());
                let rerun = evaluate::Rerun {
                    capture: &name,
                    args: &xe.analysis_args,
                    filter: xe.filter.as_deref(),
                };
                if x.is_some() {
                    result.outcomes = evaluate::evaluate(xe, &f, &rerun);
                }
                if let Some(b) = &mut base {
                    let now = baseline::snapshot(&f);
                    if opts.update {
                        b.captures.insert(name.clone(), now);
                    } else {
                        match b.captures.get(&name) {
                            Some(old) => {
                                let hint = format!(
                                    "tcpaudit check {} --baseline {} --update   # if the change is intended",
                                    name,
                                    opts.baseline.as_ref().unwrap().display()
                                );
                                result.outcomes.extend(baseline::compare(
                                    old,
                                    &now,
                                    opts.tolerance,
                                    &hint,
                                ));
                            }
                            None => result.errors.push(format!(
                                "{name} is not in the baseline {} (add it with --update)",
                                opts.baseline.as_ref().unwrap().display()
                            )),
                        }
                    }
                }
            }
        }
        result.seconds = started.elapsed().as_secs_f64();
        print_capture(out, &result, opts.verbose).map_err(|e| CheckError::Other(e.to_string()))?;
        report.captures.push(result);
    }
    if let (Some(path), Some(b), true) = (&opts.baseline, &mut base, opts.update) {
        b.version = 1;
        b.tool = format!("tcpaudit {}", env!("CARGO_PKG_VERSION"));
        b.save(path).map_err(CheckError::Other)?;
        let _ = writeln!(
            out,
            "baseline written: {} ({} captures)",
            path.display(),
            b.captures.len()
        );
    }
    if let Some(path) = &opts.junit {
        junit(&report)
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()))
            .map_err(|e| CheckError::Other(format!("{}: {e}", path.display())))?;
    }
    print_summary(out, &report, opts.verbose).map_err(|e| CheckError::Other(e.to_string()))?;
    Ok(report)
}

fn print_capture(out: &mut dyn Write, r: &CaptureResult, verbose: bool) -> io::Result<()> {
    let failed: Vec<&Outcome> = r.outcomes.iter().filter(|o| !o.passed).collect();
    let source = r
        .expect
        .as_ref()
        .map(|e| format!(" (expectations: {})", e.display()))
        .unwrap_or_default();
    if !r.errors.is_empty() {
        writeln!(out, "ERROR {}{source}", r.capture)?;
        for e in &r.errors {
            writeln!(out, "      {e}")?;
        }
    } else if failed.is_empty() {
        writeln!(
            out,
            "ok    {}: {} expectation{} hold{}",
            r.capture,
            r.outcomes.len(),
            if r.outcomes.len() == 1 { "" } else { "s" },
            if r.outcomes.len() == 1 { "s" } else { "" }
        )?;
    } else {
        writeln!(
            out,
            "FAIL  {}{source}: {} of {} expectations failed",
            r.capture,
            failed.len(),
            r.outcomes.len()
        )?;
    }
    for o in &r.outcomes {
        if o.passed && !verbose {
            continue;
        }
        let mark = if o.passed { "ok  " } else { "FAIL" };
        writeln!(out, "  {mark} {}: {}", o.name, o.message)?;
        for d in &o.details {
            writeln!(out, "         {d}")?;
        }
        if let Some(h) = &o.hint
            && !o.passed
        {
            writeln!(out, "         see: {h}")?;
        }
    }
    Ok(())
}

fn print_summary(out: &mut dyn Write, r: &CheckReport, verbose: bool) -> io::Result<()> {
    let total: usize = r.captures.iter().map(|c| c.outcomes.len()).sum();
    let errored = r.captures.iter().filter(|c| !c.errors.is_empty()).count();
    write!(
        out,
        "\ntcpaudit check: {} capture{}, {total} expectations, {} failed",
        r.captures.len(),
        if r.captures.len() == 1 { "" } else { "s" },
        r.failed()
    )?;
    if errored > 0 {
        write!(out, ", {errored} could not be checked")?;
    }
    if !r.skipped.is_empty() {
        write!(
            out,
            ", {} skipped (no expectations{})",
            r.skipped.len(),
            if verbose { ":" } else { "; -v lists them" }
        )?;
    }
    writeln!(out)?;
    if verbose {
        for s in &r.skipped {
            writeln!(out, "  skipped {s}")?;
        }
    }
    Ok(())
}

/// The report as JUnit XML: a test suite per capture, a test case per expectation.
pub fn junit(r: &CheckReport) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("tcpaudit check");
    for c in &r.captures {
        let mut suite = TestSuite::new(c.capture.as_str());
        suite.set_time(std::time::Duration::from_secs_f64(c.seconds));
        for e in &c.errors {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(e.as_str()).set_type("capture error");
            let mut tc = TestCase::new("capture", st);
            tc.set_classname(c.capture.as_str());
            suite.add_test_case(tc);
        }
        for o in &c.outcomes {
            let st = if o.passed {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut body = o.details.join("\n");
                if let Some(h) = &o.hint {
                    body.push_str(&format!("\nsee: {h}"));
                }
                st.set_message(o.message.as_str())
                    .set_type("expectation")
                    .set_description(body.trim_start());
                st
            };
            let mut tc = TestCase::new(o.name.as_str(), st);
            tc.set_classname(c.capture.as_str());
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}

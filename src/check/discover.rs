//! What a check run covers: the captures named or found in directories, the expectation file
//! of each, and those files read and validated, all before any capture is analysed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::expect::{self, Expectations};
use super::{CheckError, CheckOptions};

/// One capture to check and what it is held against.
pub(super) struct Job {
    /// The capture, as found.
    pub(super) capture: PathBuf,
    /// Its expectations, validated (one file may serve a whole directory); `None` when only a
    /// baseline holds it.
    pub(super) expect: Option<Arc<Expectations>>,
}

/// The captures of a run.
pub(super) struct Plan {
    /// Captures to check, in the order found.
    pub(super) jobs: Vec<Job>,
    /// Captures found in directories without any expectations (and no baseline).
    pub(super) skipped: Vec<String>,
}

/// Finds the captures and reads their expectations. Every faulty expectation file is reported
/// at once, so that one run shows every mistake.
pub(super) fn plan(opts: &CheckOptions) -> Result<Plan, CheckError> {
    let (found, skipped) = find(opts)?;
    Ok(Plan {
        jobs: load(found)?,
        skipped,
    })
}

/// Captures with the expectation file each is held against, and the captures skipped.
type Found = (Vec<(PathBuf, Option<PathBuf>)>, Vec<String>);

/// The captures `opts.paths` name, directories searched recursively.
fn find(opts: &CheckOptions) -> Result<Found, CheckError> {
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for p in &opts.paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|source| CheckError::Walk {
                path: p.clone(),
                source,
            })?;
            for c in found {
                let x = opts
                    .expect
                    .clone()
                    .or_else(|| expectation_file(&c, Some(p)));
                if x.is_none() && opts.baseline.is_none() {
                    skipped.push(c.display().to_string());
                } else {
                    jobs.push((c, x));
                }
            }
        } else if p.is_file() {
            let x = opts.expect.clone().or_else(|| expectation_file(p, None));
            if x.is_none() && opts.baseline.is_none() {
                return Err(CheckError::NoExpectations { path: p.clone() });
            }
            jobs.push((p.clone(), x));
        } else {
            return Err(CheckError::NotFound { path: p.clone() });
        }
    }
    Ok((jobs, skipped))
}

/// Reads each expectation file once, however many captures it serves.
fn load(found: Vec<(PathBuf, Option<PathBuf>)>) -> Result<Vec<Job>, CheckError> {
    // `None` for a file that failed: its error is reported once.
    let mut read: HashMap<PathBuf, Option<Arc<Expectations>>> = HashMap::new();
    let mut errors = Vec::new();
    let mut jobs = Vec::with_capacity(found.len());
    for (capture, file) in found {
        let expect = match file.map(|f| read.entry(f)) {
            None => None,
            Some(Entry::Occupied(known)) => known.get().clone(),
            Some(Entry::Vacant(new)) => {
                let loaded = match expect::load(new.key()) {
                    Ok(x) => Some(Arc::new(x)),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                };
                new.insert(loaded).clone()
            }
        };
        jobs.push(Job { capture, expect });
    }
    if errors.is_empty() {
        Ok(jobs)
    } else {
        Err(CheckError::Expect(errors))
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

/// The captures under `dir`, in name order.
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

//! Baselines: a snapshot of what tcpaudit reported on each capture, and the comparison that
//! fails on new anomaly kinds, counts grown beyond a tolerance, or connections whose outcome
//! changed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::evaluate::Outcome;
use super::facts::CaptureFacts;
use crate::detect::AnomalyKind;

/// Connections whose outcome is kept one by one; beyond this only the counts are compared.
const MAX_OUTCOMES: usize = 10_000;

/// How one connection ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnOutcome {
    /// Originator `addr:port`.
    pub orig: String,
    /// Responder `addr:port`.
    pub resp: String,
    /// Which incarnation of this four-tuple (1 for the first).
    pub n: u32,
    /// Zeek conn_state.
    pub conn_state: String,
    /// End reason.
    pub end_reason: String,
    /// Final originator state.
    pub orig_state: String,
    /// Final responder state.
    pub resp_state: String,
}

/// What was reported on one capture.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Frames read.
    pub packets: u64,
    /// Connection records.
    pub connections: u64,
    /// Connections by Zeek conn_state.
    pub conn_state: BTreeMap<String, u64>,
    /// Connections by end reason.
    pub end_reason: BTreeMap<String, u64>,
    /// Occurrences by anomaly id.
    pub anomalies: BTreeMap<String, u64>,
    /// Each connection's outcome (when there are at most 10,000).
    pub outcomes: Vec<ConnOutcome>,
}

/// Why a baseline could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read (it may not have been written yet).
    #[error("{}: {source} (write it with --update)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error(
        "{}:{}:{}: not a tcpaudit baseline: {source}",
        path.display(),
        source.line(),
        source.column()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The baseline could not be turned into JSON.
    #[error("{0}")]
    Serialize(serde_json::Error),
    /// The file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A baseline file: snapshots by capture path (as given on the command line).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// Format version.
    pub version: u32,
    /// The tcpaudit that wrote it.
    pub tool: String,
    /// Snapshots.
    pub captures: BTreeMap<String, Snapshot>,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| BaselineError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the baseline (pretty JSON, stable order, so that it diffs well).
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let mut text = serde_json::to_string_pretty(self).map_err(BaselineError::Serialize)?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| BaselineError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The snapshot of a capture's facts.
pub fn snapshot(f: &CaptureFacts) -> Snapshot {
    let mut s = Snapshot {
        packets: f.packets,
        connections: f.conns.len() as u64,
        ..Snapshot::default()
    };
    for c in &f.conns {
        *s.conn_state.entry(c.conn_state.to_string()).or_default() += 1;
        *s.end_reason
            .entry(c.end_reason.name().to_string())
            .or_default() += 1;
    }
    for k in f.kinds() {
        s.anomalies.insert(k.id().to_string(), f.total(k));
    }
    if f.conns.len() <= MAX_OUTCOMES {
        let mut seen: HashMap<(String, String), u32> = HashMap::new();
        for c in &f.conns {
            let (orig, resp) = (c.orig.to_string(), c.resp.to_string());
            let n = seen.entry((orig.clone(), resp.clone())).or_default();
            *n += 1;
            s.outcomes.push(ConnOutcome {
                orig,
                resp,
                n: *n,
                conn_state: c.conn_state.to_string(),
                end_reason: c.end_reason.name().to_string(),
                orig_state: c.orig_state.name().to_string(),
                resp_state: c.resp_state.name().to_string(),
            });
        }
    }
    s
}

fn outcome(name: &str, ok_msg: String, problems: Vec<String>, hint: &str) -> Outcome {
    let count = problems.len();
    let mut details = problems;
    if count > 10 {
        details.truncate(10);
        details.push(format!("... and {} more", count - 10));
    }
    Outcome {
        name: format!("baseline.{name}"),
        passed: count == 0,
        message: if count == 0 {
            ok_msg
        } else {
            format!(
                "{count} change{} from the baseline",
                if count == 1 { "" } else { "s" }
            )
        },
        details,
        hint: (count > 0).then(|| hint.to_string()),
    }
}

/// Compares a capture's snapshot now with its baseline; counts may grow by `tolerance` (a
/// fraction: 0.1 lets 10 become 11).
pub fn compare(old: &Snapshot, now: &Snapshot, tolerance: f64, hint: &str) -> Vec<Outcome> {
    let mut out = Vec::new();
    let new_kinds: Vec<String> = now
        .anomalies
        .iter()
        .filter(|(k, _)| !old.anomalies.contains_key(*k))
        .map(|(k, n)| {
            let sev =
                AnomalyKind::from_id(k).map_or(String::new(), |k| format!(" ({})", k.severity()));
            format!(
                "{k}{sev}: {n} occurrence{} (none in the baseline)",
                if *n == 1 { "" } else { "s" }
            )
        })
        .collect();
    out.push(outcome(
        "new_anomalies",
        format!(
            "no anomaly kind beyond the baseline's {}",
            old.anomalies.len()
        ),
        new_kinds,
        hint,
    ));
    let grown: Vec<String> = now
        .anomalies
        .iter()
        .filter_map(|(k, &n)| {
            let &o = old.anomalies.get(k)?;
            let allowed = (o as f64 * (1.0 + tolerance)).floor() as u64;
            (n > allowed.max(o)).then(|| {
                format!(
                    "{k}: {o} -> {n} (+{:.0}%, tolerance {:.0}%)",
                    (n - o) as f64 * 100.0 / o.max(1) as f64,
                    tolerance * 100.0
                )
            })
        })
        .collect();
    out.push(outcome(
        "anomaly_counts",
        "no anomaly count grew beyond the tolerance".into(),
        grown,
        hint,
    ));
    let mut changed = Vec::new();
    if !old.outcomes.is_empty() || !now.outcomes.is_empty() {
        let key = |o: &ConnOutcome| (o.orig.clone(), o.resp.clone(), o.n);
        let before: HashMap<_, _> = old.outcomes.iter().map(|o| (key(o), o)).collect();
        let after: HashMap<_, _> = now.outcomes.iter().map(|o| (key(o), o)).collect();
        for o in &now.outcomes {
            match before.get(&key(o)) {
                None => changed.push(format!(
                    "new connection {} -> {} (#{}): {}, {}",
                    o.orig, o.resp, o.n, o.conn_state, o.end_reason
                )),
                Some(b) if *b != o => changed.push(format!(
                    "{} -> {} (#{}): was {} {} ({} / {}), now {} {} ({} / {})",
                    o.orig,
                    o.resp,
                    o.n,
                    b.conn_state,
                    b.end_reason,
                    b.orig_state,
                    b.resp_state,
                    o.conn_state,
                    o.end_reason,
                    o.orig_state,
                    o.resp_state
                )),
                Some(_) => {}
            }
        }
        for o in &old.outcomes {
            if !after.contains_key(&key(o)) {
                changed.push(format!(
                    "connection {} -> {} (#{}) is gone (was {}, {})",
                    o.orig, o.resp, o.n, o.conn_state, o.end_reason
                ));
            }
        }
    } else {
        for (what, a, b) in [
            ("conn_state", &old.conn_state, &now.conn_state),
            ("end_reason", &old.end_reason, &now.end_reason),
        ] {
            if a != b {
                changed.push(format!("connections by {what}: was {a:?}, now {b:?}"));
            }
        }
    }
    out.push(outcome(
        "connection_outcomes",
        format!(
            "all {} connection outcomes as in the baseline",
            now.connections
        ),
        changed,
        hint,
    ));
    out
}

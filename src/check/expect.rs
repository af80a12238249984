//! Expectation files (TOML): what must hold for a capture. Parsed with serde, then checked
//! (anomaly ids, endpoints, durations, analysis options) so that every mistake is reported with
//! the file, line and column it is at.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range as Span;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::detect::AnomalyKind;
use crate::flow::{EndReason, Endpoint};
use crate::tcp::TcpState;
use crate::time::Duration;

/// A mistake in an expectation file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ExpectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A count that must be exact or within bounds: `3` or `{ min = 1, max = 5 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CountRange {
    /// Exactly this many.
    Exact(u64),
    /// Within these bounds (both optional).
    Bounds {
        /// At least.
        #[serde(default)]
        min: Option<u64>,
        /// At most.
        #[serde(default)]
        max: Option<u64>,
    },
}

impl CountRange {
    /// Whether `n` is in range.
    pub fn contains(self, n: u64) -> bool {
        let (lo, hi) = self.bounds();
        n >= lo && hi.is_none_or(|h| n <= h)
    }

    /// (min, max).
    pub fn bounds(self) -> (u64, Option<u64>) {
        match self {
            CountRange::Exact(n) => (n, Some(n)),
            CountRange::Bounds { min, max } => (min.unwrap_or(0), max),
        }
    }

    /// "exactly 3", "at least 1", "between 1 and 5", "at most 0".
    pub fn describe(self) -> String {
        match self.bounds() {
            (lo, Some(hi)) if lo == hi => format!("exactly {lo}"),
            (0, Some(hi)) => format!("at most {hi}"),
            (lo, None) => format!("at least {lo}"),
            (lo, Some(hi)) => format!("between {lo} and {hi}"),
        }
    }
}

/// A duration: seconds as a number, or a string with a unit (`"250us"`, `"5ms"`, `"1.5s"`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Seconds(f64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    analysis: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    anomalies: Option<RawAnomalies>,
    connections: Option<RawConnections>,
    budgets: Option<RawBudgets>,
    #[serde(default)]
    connection: Vec<RawNamed>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnomalies {
    #[serde(default)]
    require: Vec<Spanned<String>>,
    #[serde(default)]
    forbid: Vec<Spanned<String>>,
    only: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    count: Vec<RawCount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCount {
    kind: Spanned<String>,
    min: Option<u64>,
    max: Option<u64>,
    listener: Option<Spanned<String>>,
    orig: Option<Spanned<String>>,
    resp: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnections {
    total: Option<CountRange>,
    #[serde(default)]
    conn_state: BTreeMap<String, Spanned<CountRange>>,
    #[serde(default)]
    end_reason: BTreeMap<String, Spanned<CountRange>>,
    #[serde(default)]
    orig_state: BTreeMap<String, Spanned<CountRange>>,
    #[serde(default)]
    resp_state: BTreeMap<String, Spanned<CountRange>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    retransmitted_bytes: Option<u64>,
    retransmitted_packets: Option<u64>,
    out_of_order_packets: Option<u64>,
    duplicate_acks: Option<u64>,
    zero_windows: Option<u64>,
    handshake_rtt_p50: Option<Spanned<DurationValue>>,
    handshake_rtt_p90: Option<Spanned<DurationValue>>,
    handshake_rtt_p95: Option<Spanned<DurationValue>>,
    handshake_rtt_p99: Option<Spanned<DurationValue>>,
    handshake_rtt_max: Option<Spanned<DurationValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    name: Option<String>,
    id: Option<u64>,
    orig: Option<Spanned<String>>,
    resp: Option<Spanned<String>>,
    nth: Option<usize>,
    conn_state: Option<String>,
    history: Option<String>,
    end_reason: Option<Spanned<String>>,
    orig_state: Option<Spanned<String>>,
    resp_state: Option<Spanned<String>>,
    #[serde(default)]
    require: Vec<Spanned<String>>,
    #[serde(default)]
    forbid: Vec<Spanned<String>>,
}

/// An address with an optional port; `*` matches any address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointPattern {
    /// The address, or any.
    pub addr: Option<IpAddr>,
    /// The port, or any.
    pub port: Option<u16>,
}

impl EndpointPattern {
    /// Whether `e` matches.
    pub fn matches(&self, e: Endpoint) -> bool {
        self.addr.is_none_or(|a| a == e.addr) && self.port.is_none_or(|p| p == e.port)
    }

    fn parse(s: &str) -> Option<EndpointPattern> {
        let s = s.trim();
        let addr = |a: &str| -> Option<Option<IpAddr>> {
            if a == "*" {
                Some(None)
            } else {
                a.parse().ok().map(Some)
            }
        };
        if let Ok(a) = s.parse::<IpAddr>() {
            return Some(EndpointPattern {
                addr: Some(a),
                port: None,
            });
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (a, p) = rest.split_once("]:")?;
            return Some(EndpointPattern {
                addr: addr(a)?,
                port: Some(p.parse().ok()?),
            });
        }
        let (a, p) = s.rsplit_once(':')?;
        Some(EndpointPattern {
            addr: addr(a)?,
            port: Some(p.parse().ok()?),
        })
    }
}

impl std::fmt::Display for EndpointPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.addr.map_or("*".to_string(), |a| a.to_string());
        match (self.port, self.addr) {
            (Some(p), Some(IpAddr::V6(_))) => write!(f, "[{a}]:{p}"),
            (Some(p), _) => write!(f, "{a}:{p}"),
            (None, _) => f.write_str(&a),
        }
    }
}

/// Which connections (or listener episodes) an expectation looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// The listener (responder) endpoint.
    pub listener: Option<EndpointPattern>,
    /// The originator.
    pub orig: Option<EndpointPattern>,
    /// The responder.
    pub resp: Option<EndpointPattern>,
}

impl Scope {
    /// Whether the scope is everything.
    pub fn is_all(&self) -> bool {
        self.listener.is_none() && self.orig.is_none() && self.resp.is_none()
    }

    /// " to 10.0.0.2:80", " from 10.0.0.1" ...
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(l) = &self.listener {
            s.push_str(&format!(" at listener {l}"));
        }
        if let Some(o) = &self.orig {
            s.push_str(&format!(" from {o}"));
        }
        if let Some(r) = &self.resp {
            s.push_str(&format!(" to {r}"));
        }
        s
    }
}

/// A count range on one anomaly kind.
#[derive(Clone, Debug)]
pub struct CountExpect {
    /// The kind.
    pub kind: AnomalyKind,
    /// The range of occurrences.
    pub range: CountRange,
    /// Where.
    pub scope: Scope,
}

/// Expectations on one named connection.
#[derive(Clone, Debug, Default)]
pub struct NamedExpect {
    /// Name for messages (default: how it is matched).
    pub name: String,
    /// Match by id.
    pub id: Option<u64>,
    /// Match by originator.
    pub orig: Option<EndpointPattern>,
    /// Match by responder.
    pub resp: Option<EndpointPattern>,
    /// Among the matches, only the nth (1-based).
    pub nth: Option<usize>,
    /// Zeek conn_state.
    pub conn_state: Option<String>,
    /// Zeek history.
    pub history: Option<String>,
    /// End reason.
    pub end_reason: Option<EndReason>,
    /// Final originator state.
    pub orig_state: Option<TcpState>,
    /// Final responder state.
    pub resp_state: Option<TcpState>,
    /// Kinds it must show.
    pub require: Vec<AnomalyKind>,
    /// Kinds it must not show.
    pub forbid: Vec<AnomalyKind>,
}

/// Per-connection budgets and handshake percentiles.
#[derive(Clone, Debug, Default)]
pub struct Budgets {
    /// Most retransmitted payload bytes per connection (both directions).
    pub retransmitted_bytes: Option<u64>,
    /// Most retransmitted segments per connection.
    pub retransmitted_packets: Option<u64>,
    /// Most out-of-order segments per connection.
    pub out_of_order_packets: Option<u64>,
    /// Most duplicate ACKs per connection.
    pub duplicate_acks: Option<u64>,
    /// Most zero-window advertisements per connection.
    pub zero_windows: Option<u64>,
    /// Handshake RTT percentiles (percentile, most): p50, p90, p95, p99, 100 for the maximum.
    pub handshake_rtt: Vec<(u8, Duration)>,
}

/// A validated expectation file.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// The file it came from.
    pub file: PathBuf,
    /// Analysis options, as command-line arguments (`--msl`, `60`, ...).
    pub analysis_args: Vec<String>,
    /// `[analysis] filter`.
    pub filter: Option<String>,
    /// Kinds that must appear.
    pub require: Vec<AnomalyKind>,
    /// Kinds that must not appear.
    pub forbid: Vec<AnomalyKind>,
    /// When set, no other kind may appear.
    pub only: Option<Vec<AnomalyKind>>,
    /// Count ranges.
    pub counts: Vec<CountExpect>,
    /// Total connections.
    pub total: Option<CountRange>,
    /// Connections by Zeek conn_state.
    pub conn_state: Vec<(String, CountRange)>,
    /// Connections by end reason.
    pub end_reason: Vec<(EndReason, CountRange)>,
    /// Connections by final originator state.
    pub orig_state: Vec<(TcpState, CountRange)>,
    /// Connections by final responder state.
    pub resp_state: Vec<(TcpState, CountRange)>,
    /// Budgets.
    pub budgets: Budgets,
    /// Named connections.
    pub named: Vec<NamedExpect>,
}

const CONN_STATES: &[&str] = &[
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];

/// Where a byte offset of `text` is: (line, column), 1-based.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Span<usize>, message: impl Into<String>) -> ExpectError {
        let (line, column) = line_col(self.text, span.start);
        ExpectError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    fn kind(&self, s: &Spanned<String>) -> Result<AnomalyKind, ExpectError> {
        AnomalyKind::from_id(s.get_ref()).ok_or_else(|| {
            self.err(
                s.span(),
                format!(
                    "unknown anomaly id '{}' (`tcpaudit explain` lists them)",
                    s.get_ref()
                ),
            )
        })
    }

    fn kinds(&self, v: &[Spanned<String>]) -> Result<Vec<AnomalyKind>, ExpectError> {
        v.iter().map(|s| self.kind(s)).collect()
    }

    fn endpoint(
        &self,
        s: &Option<Spanned<String>>,
    ) -> Result<Option<EndpointPattern>, ExpectError> {
        match s {
            None => Ok(None),
            Some(s) => EndpointPattern::parse(s.get_ref())
                .map(Some)
                .ok_or_else(|| {
                    self.err(
                        s.span(),
                        format!(
                            "'{}' is not an address, address:port, [v6]:port or *:port",
                            s.get_ref()
                        ),
                    )
                }),
        }
    }

    fn state(&self, s: &Spanned<String>) -> Result<TcpState, ExpectError> {
        TcpState::from_name(s.get_ref()).ok_or_else(|| {
            self.err(
                s.span(),
                format!(
                    "unknown TCP state '{}' (CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT)",
                    s.get_ref()
                ),
            )
        })
    }

    fn end_reason(&self, s: &Spanned<String>) -> Result<EndReason, ExpectError> {
        EndReason::ALL
            .iter()
            .copied()
            .find(|r| r.name() == s.get_ref())
            .ok_or_else(|| {
                self.err(
                    s.span(),
                    format!(
                        "unknown end reason '{}' (fin, rst, capture_end, timeout, reused, evicted)",
                        s.get_ref()
                    ),
                )
            })
    }

    fn duration(&self, v: &Spanned<DurationValue>) -> Result<Duration, ExpectError> {
        let bad = || {
            self.err(
                v.span(),
                "a duration is a number of seconds or a string like \"250us\", \"5ms\", \"1.5s\"",
            )
        };
        let secs = match v.get_ref() {
            DurationValue::Seconds(s) => *s,
            DurationValue::Text(t) => {
                let t = t.trim();
                let (num, scale) = if let Some(n) = t.strip_suffix("us") {
                    (n, 1e-6)
                } else if let Some(n) = t.strip_suffix("ms") {
                    (n, 1e-3)
                } else if let Some(n) = t.strip_suffix('s') {
                    (n, 1.0)
                } else {
                    return Err(bad());
                };
                num.trim().parse::<f64>().map_err(|_| bad())? * scale
            }
        };
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(bad());
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn range(&self, r: &Spanned<CountRange>) -> Result<CountRange, ExpectError> {
        match *r.get_ref() {
            CountRange::Bounds {
                min: Some(lo),
                max: Some(hi),
            } if lo > hi => Err(self.err(r.span(), format!("min {lo} is above max {hi}"))),
            c => Ok(c),
        }
    }
}

/// Analysis options an expectation file may set, as in `tcpaudit analyze --help`.
const ANALYSIS_KEYS: &[&str] = &[
    "msl",
    "idle_timeout",
    "attempt_timeout",
    "handshake_timeout",
    "half_closed_timeout",
    "max_connections",
    "close_wait_timeout",
    "ttl_tolerance",
    "flood_half_open",
    "flood_min_sources",
    "flood_max_completion",
    "flood_window",
    "backlog",
    "max_half_open",
    "overlap_policy",
    "max_stream_buffer",
    "max_reassembly_memory",
    "check_overlaps",
    "verify_checksums",
    "zeek_server_ports",
];

/// Reads and validates an expectation file.
pub fn load(path: &Path) -> Result<Expectations, ExpectError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExpectError {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Validates expectation `text` read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Expectations, ExpectError> {
    let cx = Ctx { file: path, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        cx.err(span, e.message().trim().to_string())
    })?;
    let mut x = Expectations {
        file: path.to_path_buf(),
        ..Expectations::default()
    };
    if let Some(a) = &raw.analysis {
        for (key, value) in a {
            let span = key.span();
            let key = key.get_ref();
            if key == "filter" {
                match value.get_ref().as_str() {
                    Some(f) => x.filter = Some(f.to_string()),
                    None => return Err(cx.err(value.span(), "[analysis] filter must be a string")),
                }
                continue;
            }
            if !ANALYSIS_KEYS.contains(&key.as_str()) {
                return Err(cx.err(
                    span,
                    format!(
                        "[analysis] has no option '{key}' (known: filter, {})",
                        ANALYSIS_KEYS.join(", ")
                    ),
                ));
            }
            let flag = format!("--{}", key.replace('_', "-"));
            // `--flag=value`, so that negative numbers are values, not options.
            let arg = match value.get_ref() {
                toml::Value::Boolean(true) => Some(flag.clone()),
                toml::Value::Boolean(false) => None,
                toml::Value::Integer(n) => Some(format!("{flag}={n}")),
                toml::Value::Float(f) => Some(format!("{flag}={f}")),
                toml::Value::String(s) => Some(format!("{flag}={s}")),
                toml::Value::Array(v) => {
                    let items: Vec<String> = v
                        .iter()
                        .map(|i| match i {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    Some(format!("{flag}={}", items.join(",")))
                }
                _ => {
                    return Err(
                        cx.err(value.span(), format!("[analysis] {key}: unsupported value"))
                    );
                }
            };
            if let Some(arg) = arg {
                // Each option on its own, so a mistake points at its line.
                if let Err(e) = crate::config::AnalysisOpts::from_args(std::slice::from_ref(&arg)) {
                    return Err(cx.err(value.span(), format!("[analysis] {key}: {e}")));
                }
                x.analysis_args.push(arg);
            }
        }
        if let Err(e) = crate::config::AnalysisOpts::from_args(&x.analysis_args) {
            let at = a.keys().next().map_or(0..0, |k| k.span());
            return Err(cx.err(at, format!("[analysis]: {e}")));
        }
    }
    if let Some(a) = &raw.anomalies {
        x.require = cx.kinds(&a.require)?;
        x.forbid = cx.kinds(&a.forbid)?;
        if let Some(only) = &a.only {
            x.only = Some(cx.kinds(only)?);
        }
        for (k, &kind) in a.require.iter().zip(&x.require) {
            if x.forbid.contains(&kind) {
                return Err(cx.err(
                    k.span(),
                    format!("'{}' is both required and forbidden", kind.id()),
                ));
            }
        }
        for c in &a.count {
            let kind = cx.kind(&c.kind)?;
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                return Err(cx.err(c.kind.span(), format!("min {lo} is above max {hi}")));
            }
            x.counts.push(CountExpect {
                kind,
                range: CountRange::Bounds {
                    min: c.min,
                    max: c.max,
                },
                scope: Scope {
                    listener: cx.endpoint(&c.listener)?,
                    orig: cx.endpoint(&c.orig)?,
                    resp: cx.endpoint(&c.resp)?,
                },
            });
        }
    }
    if let Some(c) = &raw.connections {
        x.total = c.total;
        for (k, v) in &c.conn_state {
            if !CONN_STATES.contains(&k.as_str()) {
                return Err(cx.err(
                    v.span(),
                    format!("unknown Zeek conn_state '{k}' ({})", CONN_STATES.join(", ")),
                ));
            }
            x.conn_state.push((k.clone(), cx.range(v)?));
        }
        for (k, v) in &c.end_reason {
            let r = cx.end_reason(&Spanned::new(v.span(), k.clone()))?;
            x.end_reason.push((r, cx.range(v)?));
        }
        for (k, v) in &c.orig_state {
            let st = cx.state(&Spanned::new(v.span(), k.clone()))?;
            x.orig_state.push((st, cx.range(v)?));
        }
        for (k, v) in &c.resp_state {
            let st = cx.state(&Spanned::new(v.span(), k.clone()))?;
            x.resp_state.push((st, cx.range(v)?));
        }
    }
    if let Some(b) = &raw.budgets {
        x.budgets = Budgets {
            retransmitted_bytes: b.retransmitted_bytes,
            retransmitted_packets: b.retransmitted_packets,
            out_of_order_packets: b.out_of_order_packets,
            duplicate_acks: b.duplicate_acks,
            zero_windows: b.zero_windows,
            handshake_rtt: Vec::new(),
        };
        for (p, v) in [
            (50, &b.handshake_rtt_p50),
            (90, &b.handshake_rtt_p90),
            (95, &b.handshake_rtt_p95),
            (99, &b.handshake_rtt_p99),
            (100, &b.handshake_rtt_max),
        ] {
            if let Some(v) = v {
                x.budgets.handshake_rtt.push((p, cx.duration(v)?));
            }
        }
    }
    for (i, n) in raw.connection.iter().enumerate() {
        let orig = cx.endpoint(&n.orig)?;
        let resp = cx.endpoint(&n.resp)?;
        if n.id.is_none() && orig.is_none() && resp.is_none() {
            let at = text
                .match_indices("[[connection]]")
                .nth(i)
                .map_or(0, |(o, _)| o);
            return Err(cx.err(
                at..at,
                "a [[connection]] needs an id, an orig or a resp to match",
            ));
        }
        if let Some(cs) = &n.conn_state
            && !CONN_STATES.contains(&cs.as_str())
        {
            let at = text.find(&format!("\"{cs}\"")).unwrap_or(0);
            return Err(cx.err(at..at, format!("unknown Zeek conn_state '{cs}'")));
        }
        let name = n.name.clone().unwrap_or_else(|| match (n.id, orig, resp) {
            (Some(id), _, _) => format!("connection {id}"),
            (None, o, r) => format!(
                "connection {} -> {}",
                o.map_or("*".into(), |o| o.to_string()),
                r.map_or("*".into(), |r| r.to_string())
            ),
        });
        x.named.push(NamedExpect {
            name,
            id: n.id,
            orig,
            resp,
            nth: n.nth,
            conn_state: n.conn_state.clone(),
            history: n.history.clone(),
            end_reason: n
                .end_reason
                .as_ref()
                .map(|r| cx.end_reason(r))
                .transpose()?,
            orig_state: n.orig_state.as_ref().map(|s| cx.state(s)).transpose()?,
            resp_state: n.resp_state.as_ref().map(|s| cx.state(s)).transpose()?,
            require: cx.kinds(&n.require)?,
            forbid: cx.kinds(&n.forbid)?,
        });
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_patterns() {
        let p = |s: &str| EndpointPattern::parse(s);
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            p("10.0.0.1"),
            Some(EndpointPattern {
                addr: Some(v4),
                port: None
            })
        );
        assert_eq!(
            p("10.0.0.1:80"),
            Some(EndpointPattern {
                addr: Some(v4),
                port: Some(80)
            })
        );
        assert_eq!(
            p("*:443"),
            Some(EndpointPattern {
                addr: None,
                port: Some(443)
            })
        );
        assert_eq!(
            p("2001:db8::1"),
            Some(EndpointPattern {
                addr: Some(v6),
                port: None
            })
        );
        assert_eq!(
            p("[2001:db8::1]:80"),
            Some(EndpointPattern {
                addr: Some(v6),
                port: Some(80)
            })
        );
        for bad in [
            "",
            "10.0.0.1:",
            "10.0.0.1:99999",
            "host:80",
            "[2001:db8::1]",
            "10.0.0.256",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        let e = Endpoint::new(v6, 80);
        assert!(p("[2001:db8::1]:80").unwrap().matches(e));
        assert!(!p("[2001:db8::1]:81").unwrap().matches(e));
        assert_eq!(
            p("[2001:db8::1]:80").unwrap().to_string(),
            "[2001:db8::1]:80"
        );
    }

    #[test]
    fn count_ranges() {
        assert!(CountRange::Exact(3).contains(3) && !CountRange::Exact(3).contains(4));
        let r = CountRange::Bounds {
            min: Some(1),
            max: None,
        };
        assert!(r.contains(1) && r.contains(1000) && !r.contains(0));
        assert_eq!(r.describe(), "at least 1");
        assert_eq!(
            CountRange::Bounds {
                min: None,
                max: Some(3)
            }
            .describe(),
            "at most 3"
        );
        assert_eq!(
            CountRange::Bounds {
                min: Some(2),
                max: Some(5)
            }
            .describe(),
            "between 2 and 5"
        );
    }

    #[test]
    fn positions_are_lines_and_columns() {
        let t = "a\nbc\n\u{e9}x";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 2));
        assert_eq!(line_col(t, 7), (3, 2), "columns count characters");
    }
}

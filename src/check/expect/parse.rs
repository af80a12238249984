//! The validator: an expectation file's raw tables are checked one section at a time into
//! [`Expectations`], and every mistake points at its line and column.

use std::ops::Range as Span;
use std::path::Path;

use toml::Spanned;

use super::model::{ACTIVE_CLOSERS, CLOSES};
use super::raw::{DurationValue, RawAnomalies, RawBudgets, RawConnections, RawFile, RawNamed};
use super::{
    Budgets, ConnSelector, CountExpect, CountRange, CountScope, EndpointPattern, ExpectError,
    Expectations, NamedExpect,
};
use crate::analyzer::AnalyzerConfig;
use crate::config::AnalysisOpts;
use crate::detect::AnomalyKind;
use crate::flow::EndReason;
use crate::tcp::TcpState;
use crate::time::Duration;

use crate::compat::ZEEK_CONN_STATES as CONN_STATES;

/// Where a byte offset of `text` is: (line, column), 1-based.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The file being validated: where its mistakes are reported, and the text their spans index.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

/// Single values: each checked and typed, or an error at its span.
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
        AnomalyKind::from_id(s.get_ref())
            .ok_or_else(|| self.err(s.span(), AnomalyKind::unknown(s.get_ref())))
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

    /// One of `allowed`, as the `'static` name it is kept by.
    fn one_of(
        &self,
        what: &str,
        s: &Spanned<String>,
        allowed: &[&'static str],
    ) -> Result<&'static str, ExpectError> {
        allowed
            .iter()
            .copied()
            .find(|v| *v == s.get_ref())
            .ok_or_else(|| {
                self.err(
                    s.span(),
                    format!("unknown {what} '{}' ({})", s.get_ref(), allowed.join(", ")),
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
    "app",
];

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
        cx.analysis(a, &mut x)?;
    }
    if let Some(a) = &raw.anomalies {
        cx.anomalies(a, &mut x)?;
    }
    if let Some(c) = &raw.connections {
        x.total = c.total;
        x.connections = cx.connections(c)?;
    }
    if let Some(b) = &raw.budgets {
        x.budgets = cx.budgets(b)?;
    }
    for (i, n) in raw.connection.iter().enumerate() {
        x.named.push(cx.named(i, n)?);
    }
    Ok(x)
}

/// The `[analysis]` table.
type RawAnalysis = std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// Sections: each checked into its part of [`Expectations`].
impl Ctx<'_> {
    /// `[analysis]`: the filter, and the options as command-line words, resolved with the
    /// command line's own parser and checks.
    fn analysis(&self, a: &RawAnalysis, x: &mut Expectations) -> Result<(), ExpectError> {
        for (key, value) in a {
            if key.get_ref() == "filter" {
                match value.get_ref().as_str() {
                    Some(f) => x.filter = Some(f.to_string()),
                    None => {
                        return Err(self.err(value.span(), "[analysis] filter must be a string"));
                    }
                }
                continue;
            }
            if let Some(arg) = self.analysis_arg(key, value)? {
                x.analysis_args.push(arg);
            }
        }
        x.analysis = resolve(&x.analysis_args).map_err(|e| {
            let at = a.keys().next().map_or(0..0, |k| k.span());
            self.err(at, format!("[analysis]: {e}"))
        })?;
        Ok(())
    }

    /// One `[analysis]` option as a command-line word (`--msl=60`), checked on its own so that a
    /// mistake points at its line; `None` for a flag set to `false`.
    fn analysis_arg(
        &self,
        key: &Spanned<String>,
        value: &Spanned<toml::Value>,
    ) -> Result<Option<String>, ExpectError> {
        let name = key.get_ref();
        if !ANALYSIS_KEYS.contains(&name.as_str()) {
            return Err(self.err(
                key.span(),
                format!(
                    "[analysis] has no option '{name}' (known: filter, {})",
                    ANALYSIS_KEYS.join(", ")
                ),
            ));
        }
        let flag = format!("--{}", name.replace('_', "-"));
        // `--flag=value`, so that negative numbers are values, not options.
        let arg = match value.get_ref() {
            toml::Value::Boolean(true) => flag,
            toml::Value::Boolean(false) => return Ok(None),
            toml::Value::Integer(n) => format!("{flag}={n}"),
            toml::Value::Float(f) => format!("{flag}={f}"),
            toml::Value::String(s) => format!("{flag}={s}"),
            toml::Value::Array(v) => {
                let items: Vec<String> = v
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                format!("{flag}={}", items.join(","))
            }
            _ => {
                return Err(self.err(
                    value.span(),
                    format!("[analysis] {name}: unsupported value"),
                ));
            }
        };
        if let Err(e) = AnalysisOpts::from_args(std::slice::from_ref(&arg)) {
            return Err(self.err(value.span(), format!("[analysis] {name}: {e}")));
        }
        Ok(Some(arg))
    }

    /// `[anomalies]`: require, forbid, only and the count ranges.
    fn anomalies(&self, a: &RawAnomalies, x: &mut Expectations) -> Result<(), ExpectError> {
        x.require = self.kinds(&a.require)?;
        x.forbid = self.kinds(&a.forbid)?;
        if let Some(only) = &a.only {
            x.only = Some(self.kinds(only)?);
        }
        for (k, &kind) in a.require.iter().zip(&x.require) {
            if x.forbid.contains(&kind) {
                return Err(self.err(
                    k.span(),
                    format!("'{}' is both required and forbidden", kind.id()),
                ));
            }
        }
        for c in &a.count {
            let kind = self.kind(&c.kind)?;
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                return Err(self.err(c.kind.span(), format!("min {lo} is above max {hi}")));
            }
            x.counts.push(CountExpect {
                kind,
                range: CountRange::Bounds {
                    min: c.min,
                    max: c.max,
                },
                scope: CountScope {
                    listener: self.endpoint(&c.listener)?,
                    orig: self.endpoint(&c.orig)?,
                    resp: self.endpoint(&c.resp)?,
                },
            });
        }
        Ok(())
    }

    /// `[connections]` by conn_state, end reason and final states (`total` needs no check).
    fn connections(
        &self,
        c: &RawConnections,
    ) -> Result<Vec<(ConnSelector, CountRange)>, ExpectError> {
        let mut out = Vec::new();
        for (k, v) in &c.conn_state {
            if !CONN_STATES.contains(&k.as_str()) {
                return Err(self.err(
                    v.span(),
                    format!("unknown Zeek conn_state '{k}' ({})", CONN_STATES.join(", ")),
                ));
            }
            out.push((ConnSelector::ConnState(k.clone()), self.range(v)?));
        }
        // The keys carry no span of their own; their values' spans stand in for them.
        let key = |k: &String, v: &Spanned<CountRange>| Spanned::new(v.span(), k.clone());
        for (k, v) in &c.end_reason {
            let r = self.end_reason(&key(k, v))?;
            out.push((ConnSelector::EndReason(r), self.range(v)?));
        }
        for (k, v) in &c.orig_state {
            let st = self.state(&key(k, v))?;
            out.push((ConnSelector::OrigState(st), self.range(v)?));
        }
        for (k, v) in &c.resp_state {
            let st = self.state(&key(k, v))?;
            out.push((ConnSelector::RespState(st), self.range(v)?));
        }
        for (k, v) in &c.active_closer {
            let a = self.one_of("active closer", &key(k, v), &ACTIVE_CLOSERS)?;
            out.push((ConnSelector::ActiveCloser(a), self.range(v)?));
        }
        for (k, v) in &c.close {
            let a = self.one_of("close", &key(k, v), &CLOSES)?;
            out.push((ConnSelector::Close(a), self.range(v)?));
        }
        Ok(out)
    }

    /// `[budgets]`.
    fn budgets(&self, b: &RawBudgets) -> Result<Budgets, ExpectError> {
        let mut budgets = Budgets {
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
                budgets.handshake_rtt.push((p, self.duration(v)?));
            }
        }
        Ok(budgets)
    }

    /// The `i`th `[[connection]]`.
    fn named(&self, i: usize, n: &RawNamed) -> Result<NamedExpect, ExpectError> {
        let orig = self.endpoint(&n.orig)?;
        let resp = self.endpoint(&n.resp)?;
        if n.id.is_none() && orig.is_none() && resp.is_none() {
            let at = self
                .text
                .match_indices("[[connection]]")
                .nth(i)
                .map_or(0, |(o, _)| o);
            return Err(self.err(
                at..at,
                "a [[connection]] needs an id, an orig or a resp to match",
            ));
        }
        if let Some(cs) = &n.conn_state
            && !CONN_STATES.contains(&cs.as_str())
        {
            let at = self.text.find(&format!("\"{cs}\"")).unwrap_or(0);
            return Err(self.err(at..at, format!("unknown Zeek conn_state '{cs}'")));
        }
        let name = n.name.clone().unwrap_or_else(|| match (n.id, orig, resp) {
            (Some(id), _, _) => format!("connection {id}"),
            (None, o, r) => format!(
                "connection {} -> {}",
                o.map_or("*".into(), |o| o.to_string()),
                r.map_or("*".into(), |r| r.to_string())
            ),
        });
        let outcome = [
            n.conn_state.clone().map(ConnSelector::ConnState),
            n.history.clone().map(ConnSelector::History),
            n.end_reason
                .as_ref()
                .map(|r| self.end_reason(r).map(ConnSelector::EndReason))
                .transpose()?,
            n.orig_state
                .as_ref()
                .map(|s| self.state(s).map(ConnSelector::OrigState))
                .transpose()?,
            n.resp_state
                .as_ref()
                .map(|s| self.state(s).map(ConnSelector::RespState))
                .transpose()?,
            n.active_closer
                .as_ref()
                .map(|s| {
                    self.one_of("active closer", s, &ACTIVE_CLOSERS)
                        .map(ConnSelector::ActiveCloser)
                })
                .transpose()?,
            n.close
                .as_ref()
                .map(|s| self.one_of("close", s, &CLOSES).map(ConnSelector::Close))
                .transpose()?,
        ];
        Ok(NamedExpect {
            name,
            id: n.id,
            orig,
            resp,
            nth: n.nth,
            outcome: outcome.into_iter().flatten().collect(),
            require: self.kinds(&n.require)?,
            forbid: self.kinds(&n.forbid)?,
        })
    }
}

/// The configuration `[analysis]` options resolve to.
fn resolve(args: &[String]) -> Result<AnalyzerConfig, crate::config::ConfigError> {
    AnalysisOpts::from_args(args)?.config()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_lines_and_columns() {
        let t = "a\nbc\n\u{e9}x";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 2));
        assert_eq!(line_col(t, 7), (3, 2), "columns count characters");
    }
}

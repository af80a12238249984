//! Expectations against a capture's facts: one outcome per expectation, with the connections and
//! frames that break it and the command that shows them in detail.

use super::expect::{
    ConnSelector, CountRange, CountScope, EndpointPattern, Expectations, NamedExpect,
};
use super::facts::{CaptureFacts, ConnFacts};
use crate::detect::AnomalyKind;
use crate::time::Duration;

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Which expectation (`anomalies.forbid[syn_flood]`).
    pub name: String,
    /// Whether it holds.
    pub passed: bool,
    /// One line saying what was found.
    pub message: String,
    /// The connections, listeners and frames involved (failures only).
    pub details: Vec<String>,
    /// A command that shows the details.
    pub hint: Option<String>,
}

/// Connections listed in a failure before "... and N more".
const SHOWN: usize = 5;

/// How to rerun the analysis of this capture, for hints.
pub struct Rerun<'a> {
    /// The capture as given.
    pub capture: &'a str,
    /// The expectation file's analysis options.
    pub args: &'a [String],
    /// Its filter.
    pub filter: Option<&'a str>,
}

impl Rerun<'_> {
    fn base(&self) -> String {
        let mut s = format!("tcpaudit analyze {}", shell(self.capture));
        for a in self.args {
            s.push(' ');
            s.push_str(&shell(a));
        }
        if let Some(f) = self.filter {
            s.push_str(&format!(" --filter {}", shell(f)));
        }
        s
    }

    fn kind(&self, k: AnomalyKind) -> String {
        format!(
            "{} -f json | jq -c 'select(.kind == \"{}\")'",
            self.base(),
            k.id()
        )
    }

    fn conn(&self, id: u64) -> String {
        format!(
            "{} -f json | jq -c 'select(.type == \"connection\" and .id == {id})'",
            self.base()
        )
    }

    fn table(&self) -> String {
        format!("{} --all", self.base())
    }
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn in_scope(c: &ConnFacts, s: &CountScope) -> bool {
    s.listener.is_none_or(|l| l.matches(c.resp))
        && s.orig.is_none_or(|o| o.matches(c.orig))
        && s.resp.is_none_or(|r| r.matches(c.resp))
}

/// Occurrences of `kind` within `scope`, and where they are.
fn occurrences(f: &CaptureFacts, kind: AnomalyKind, scope: &CountScope) -> (u64, Vec<String>) {
    let mut n = 0;
    let mut where_ = Vec::new();
    if kind.scope().beyond_connections() {
        for e in f.listener_events.iter().filter(|e| e.kind == kind) {
            let ok = scope.orig.is_none()
                && scope.listener.is_none_or(|l| l.matches(e.listener))
                && scope.resp.is_none_or(|r| r.matches(e.listener));
            if ok {
                n += 1;
                where_.push(format!("listener {}, from frame {}", e.listener, e.frame));
            }
        }
        return (n, where_);
    }
    for c in f.conns.iter().filter(|c| in_scope(c, scope)) {
        let k = c.count(kind);
        if k > 0 {
            n += k;
            let first = c
                .kinds
                .iter()
                .find(|x| x.kind == kind)
                .and_then(|x| x.first_frame)
                .map(|fr| format!(", first at frame {fr}"))
                .unwrap_or_default();
            where_.push(format!(
                "{}: {k} occurrence{}{first}",
                c.describe(),
                if k == 1 { "" } else { "s" }
            ));
        }
    }
    (n, where_)
}

fn limit(mut v: Vec<String>) -> Vec<String> {
    if v.len() > SHOWN {
        let more = v.len() - SHOWN;
        v.truncate(SHOWN);
        v.push(format!("... and {more} more"));
    }
    v
}

fn times(n: u64) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Evaluates every expectation of `x` on `f`.
pub fn evaluate(x: &Expectations, f: &CaptureFacts, rerun: &Rerun<'_>) -> Vec<Outcome> {
    let mut out = Vec::new();
    let all = CountScope::default();
    for &k in &x.require {
        let (n, _) = occurrences(f, k, &all);
        out.push(Outcome {
            name: format!("anomalies.require[{}]", k.id()),
            passed: n > 0,
            message: if n > 0 {
                format!("{} raised {}", k.id(), times(n))
            } else {
                format!("{} is required but was never raised", k.id())
            },
            details: Vec::new(),
            hint: (n == 0).then(|| rerun.table()),
        });
    }
    for &k in &x.forbid {
        let (n, where_) = occurrences(f, k, &all);
        out.push(Outcome {
            name: format!("anomalies.forbid[{}]", k.id()),
            passed: n == 0,
            message: if n == 0 {
                format!("{} not raised", k.id())
            } else {
                format!("{} is forbidden but was raised {}", k.id(), times(n))
            },
            details: limit(where_),
            hint: (n > 0).then(|| rerun.kind(k)),
        });
    }
    if let Some(only) = &x.only {
        let extra: Vec<AnomalyKind> = f
            .kinds()
            .into_iter()
            .filter(|k| !only.contains(k))
            .collect();
        let mut details = Vec::new();
        for &k in &extra {
            let (n, where_) = occurrences(f, k, &all);
            details.push(format!("{} ({})", k.id(), times(n)));
            details.extend(limit(where_).into_iter().map(|w| format!("  {w}")));
        }
        out.push(Outcome {
            name: "anomalies.only".into(),
            passed: extra.is_empty(),
            message: if extra.is_empty() {
                format!(
                    "only allowed kinds raised ({})",
                    only.iter().map(|k| k.id()).collect::<Vec<_>>().join(", ")
                )
            } else {
                format!(
                    "kinds outside `only` were raised: {}",
                    extra.iter().map(|k| k.id()).collect::<Vec<_>>().join(", ")
                )
            },
            details,
            hint: extra.first().map(|k| rerun.kind(*k)),
        });
    }
    for c in &x.counts {
        let (n, where_) = occurrences(f, c.kind, &c.scope);
        let ok = c.range.contains(n);
        out.push(Outcome {
            name: format!("anomalies.count[{}{}]", c.kind.id(), c.scope.describe()),
            passed: ok,
            message: format!(
                "{}{}: {n} occurrence{}, expected {}",
                c.kind.id(),
                c.scope.describe(),
                if n == 1 { "" } else { "s" },
                c.range.describe()
            ),
            details: if ok { Vec::new() } else { limit(where_) },
            hint: (!ok).then(|| rerun.kind(c.kind)),
        });
    }
    connection_counts(x, f, rerun, &mut out);
    budgets(x, f, rerun, &mut out);
    for n in &x.named {
        out.push(named(n, f, rerun));
    }
    out
}

/// A count of connections in a category against its range, listing the connections that make
/// the difference.
fn category(
    name: String,
    what: String,
    range: CountRange,
    f: &CaptureFacts,
    is_in: impl Fn(&ConnFacts) -> bool,
    value: impl Fn(&ConnFacts) -> String,
    rerun: &Rerun<'_>,
) -> Outcome {
    let inside: Vec<&ConnFacts> = f.conns.iter().filter(|c| is_in(c)).collect();
    let n = inside.len() as u64;
    let ok = range.contains(n);
    let details = if ok {
        Vec::new()
    } else if range.bounds().1.is_some_and(|hi| n > hi) {
        limit(inside.iter().map(|c| c.describe()).collect())
    } else {
        limit(
            f.conns
                .iter()
                .filter(|c| !is_in(c))
                .map(|c| format!("{} is {}", c.describe(), value(c)))
                .collect(),
        )
    };
    Outcome {
        name,
        passed: ok,
        message: format!("{what}: {n}, expected {}", range.describe()),
        details,
        hint: (!ok).then(|| rerun.table()),
    }
}

fn connection_counts(
    x: &Expectations,
    f: &CaptureFacts,
    rerun: &Rerun<'_>,
    out: &mut Vec<Outcome>,
) {
    if let Some(r) = x.total {
        out.push(category(
            "connections.total".into(),
            "connections".into(),
            r,
            f,
            |_| true,
            |_| String::new(),
            rerun,
        ));
    }
    for (sel, r) in &x.connections {
        out.push(category(
            format!("connections.{}[{}]", sel.key(), sel.value()),
            counted(sel),
            *r,
            f,
            |c| picks(sel, c),
            |c| shown(sel, c),
            rerun,
        ));
    }
}

/// Whether `c` is among the connections `s` picks.
fn picks(s: &ConnSelector, c: &ConnFacts) -> bool {
    match s {
        ConnSelector::ConnState(v) => c.conn_state == v,
        ConnSelector::History(h) => &c.history == h,
        ConnSelector::EndReason(r) => c.end_reason == *r,
        ConnSelector::OrigState(st) => c.orig_state == *st,
        ConnSelector::RespState(st) => c.resp_state == *st,
        ConnSelector::ActiveCloser(v) => c.active_closer == *v,
        ConnSelector::Close(v) => c.close == *v,
    }
}

/// What `c` shows of the property `s` is about (`SF`, `rst`, `TIME-WAIT`).
fn actual<'a>(s: &ConnSelector, c: &'a ConnFacts) -> &'a str {
    match s {
        ConnSelector::ConnState(_) => c.conn_state,
        ConnSelector::History(_) => &c.history,
        ConnSelector::EndReason(_) => c.end_reason.name(),
        ConnSelector::OrigState(_) => c.orig_state.name(),
        ConnSelector::RespState(_) => c.resp_state.name(),
        ConnSelector::ActiveCloser(_) => c.active_closer,
        ConnSelector::Close(_) => c.close,
    }
}

/// "connections in conn_state SF": what `[connections]` counts for `s`.
fn counted(s: &ConnSelector) -> String {
    let v = s.value();
    match s {
        ConnSelector::ConnState(_) => format!("connections in conn_state {v}"),
        ConnSelector::History(_) => format!("connections with history {v}"),
        ConnSelector::EndReason(_) => format!("connections ended by {v}"),
        ConnSelector::OrigState(_) => format!("originators left in {v}"),
        ConnSelector::RespState(_) => format!("responders left in {v}"),
        ConnSelector::ActiveCloser(_) => format!("connections whose active closer is {v}"),
        ConnSelector::Close(_) => format!("connections with close {v}"),
    }
}

/// "ended by rst": how a connection `s` does not pick differs, after "connection N ... is".
fn shown(s: &ConnSelector, c: &ConnFacts) -> String {
    let v = actual(s, c);
    match s {
        ConnSelector::ConnState(_) => v.to_string(),
        ConnSelector::History(_) => format!("of history {v}"),
        ConnSelector::EndReason(_) => format!("ended by {v}"),
        ConnSelector::OrigState(_) => format!("left by its originator in {v}"),
        ConnSelector::RespState(_) => format!("left by its responder in {v}"),
        ConnSelector::ActiveCloser(_) => format!("with active closer {v}"),
        ConnSelector::Close(_) => format!("with close {v}"),
    }
}

/// "ended by rst (expected fin)": how a named connection differs from `s`.
fn differs(s: &ConnSelector, c: &ConnFacts) -> String {
    let v = actual(s, c);
    let found = match s {
        ConnSelector::ConnState(_) => format!("conn_state {v}"),
        ConnSelector::History(_) => format!("history {v}"),
        ConnSelector::EndReason(_) => format!("ended by {v}"),
        ConnSelector::OrigState(_) => format!("originator in {v}"),
        ConnSelector::RespState(_) => format!("responder in {v}"),
        ConnSelector::ActiveCloser(_) => format!("active closer {v}"),
        ConnSelector::Close(_) => format!("close {v}"),
    };
    format!("{found} (expected {})", s.value())
}

/// A per-connection budget: its name, its limit, and the value it limits.
type PerConnBudget<'a> = (&'a str, Option<u64>, fn(&ConnFacts) -> u64);

fn budgets(x: &Expectations, f: &CaptureFacts, rerun: &Rerun<'_>, out: &mut Vec<Outcome>) {
    let b = &x.budgets;
    let per_conn: [PerConnBudget; 5] = [
        ("retransmitted_bytes", b.retransmitted_bytes, |c| {
            c.retransmitted_bytes
        }),
        ("retransmitted_packets", b.retransmitted_packets, |c| {
            c.retransmitted_packets
        }),
        ("out_of_order_packets", b.out_of_order_packets, |c| {
            c.out_of_order_packets
        }),
        ("duplicate_acks", b.duplicate_acks, |c| c.duplicate_acks),
        ("zero_windows", b.zero_windows, |c| c.zero_windows),
    ];
    for (name, budget, get) in per_conn {
        let Some(max) = budget else { continue };
        let mut over: Vec<&ConnFacts> = f.conns.iter().filter(|c| get(c) > max).collect();
        over.sort_by_key(|c| std::cmp::Reverse(get(c)));
        let worst = f.conns.iter().map(get).max().unwrap_or(0);
        let what = name.replace('_', " ");
        out.push(Outcome {
            name: format!("budgets.{name}"),
            passed: over.is_empty(),
            message: if over.is_empty() {
                format!("{what} per connection at most {worst}, budget {max}")
            } else {
                format!(
                    "{} connection{} over the budget of {max} {what}",
                    over.len(),
                    if over.len() == 1 { "" } else { "s" }
                )
            },
            details: limit(
                over.iter()
                    .map(|c| format!("{}: {} {what}", c.describe(), get(c)))
                    .collect(),
            ),
            hint: over.first().map(|c| rerun.conn(c.id)),
        });
    }
    if b.handshake_rtt.is_empty() {
        return;
    }
    let mut rtts: Vec<(Duration, &ConnFacts)> = f
        .conns
        .iter()
        .filter_map(|c| c.handshake_rtt.map(|r| (r, c)))
        .collect();
    rtts.sort_by_key(|(r, _)| *r);
    for &(p, max) in &b.handshake_rtt {
        let label = if p == 100 {
            "handshake_rtt_max".to_string()
        } else {
            format!("handshake_rtt_p{p}")
        };
        let Some(value) = percentile(&rtts, p) else {
            out.push(Outcome {
                name: format!("budgets.{label}"),
                passed: false,
                message: "no complete handshake in the capture to measure".into(),
                details: Vec::new(),
                hint: Some(rerun.table()),
            });
            continue;
        };
        let ok = value <= max;
        out.push(Outcome {
            name: format!("budgets.{label}"),
            passed: ok,
            message: format!(
                "handshake RTT {} {} over {} handshakes, budget {}",
                if p == 100 {
                    "max".to_string()
                } else {
                    format!("p{p}")
                },
                ms(value),
                rtts.len(),
                ms(max)
            ),
            details: if ok {
                Vec::new()
            } else {
                limit(
                    rtts.iter()
                        .rev()
                        .filter(|(r, _)| *r > max)
                        .map(|(r, c)| format!("{}: {}", c.describe(), ms(*r)))
                        .collect(),
                )
            },
            hint: (!ok)
                .then(|| rtts.last().map(|(_, c)| rerun.conn(c.id)))
                .flatten(),
        });
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[(Duration, &ConnFacts)], p: u8) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p as f64 / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1].0)
}

fn matches_named(n: &NamedExpect, c: &ConnFacts) -> bool {
    let ep = |p: &Option<EndpointPattern>, e| p.is_none_or(|p| p.matches(e));
    n.id.is_none_or(|id| id == c.id) && ep(&n.orig, c.orig) && ep(&n.resp, c.resp)
}

fn named(n: &NamedExpect, f: &CaptureFacts, rerun: &Rerun<'_>) -> Outcome {
    let mut found: Vec<&ConnFacts> = f.conns.iter().filter(|c| matches_named(n, c)).collect();
    if let Some(k) = n.nth {
        found = found
            .into_iter()
            .nth(k.saturating_sub(1))
            .into_iter()
            .collect();
    }
    let name = format!("connection[{}]", n.name);
    if found.is_empty() {
        return Outcome {
            name,
            passed: false,
            message: format!("{}: no connection matches", n.name),
            details: Vec::new(),
            hint: Some(rerun.table()),
        };
    }
    let mut problems = Vec::new();
    for c in &found {
        let mut p = Vec::new();
        for sel in &n.outcome {
            if !picks(sel, c) {
                p.push(differs(sel, c));
            }
        }
        for k in &n.require {
            if c.count(*k) == 0 {
                p.push(format!("no {}", k.id()));
            }
        }
        for k in &n.forbid {
            let m = c.count(*k);
            if m > 0 {
                p.push(format!("{} {}", k.id(), times(m)));
            }
        }
        if !p.is_empty() {
            problems.push((c, p.join(", ")));
        }
    }
    Outcome {
        name,
        passed: problems.is_empty(),
        message: if problems.is_empty() {
            format!(
                "{}: {} matching connection{} as expected",
                n.name,
                found.len(),
                if found.len() == 1 { "" } else { "s" }
            )
        } else {
            format!("{}: {}", n.name, problems[0].1)
        },
        details: limit(
            problems
                .iter()
                .map(|(c, p)| format!("{}: {p}", c.describe()))
                .collect(),
        ),
        hint: problems.first().map(|(c, _)| rerun.conn(c.id)),
    }
}

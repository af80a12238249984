//! A validated expectation file: what must hold for a capture, with every id, endpoint, state
//! and duration already checked and typed.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::analyzer::AnalyzerConfig;
use crate::detect::AnomalyKind;
use crate::flow::{EndReason, Endpoint};
use crate::tcp::TcpState;
use crate::time::Duration;

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

    /// Reads `10.0.0.1`, `10.0.0.1:80`, `*:443`, `2001:db8::1` or `[2001:db8::1]:80`.
    pub(super) fn parse(s: &str) -> Option<EndpointPattern> {
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

/// Where an anomaly count is taken: which connections (or listener episodes) it looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountScope {
    /// The listener (responder) endpoint.
    pub listener: Option<EndpointPattern>,
    /// The originator.
    pub orig: Option<EndpointPattern>,
    /// The responder.
    pub resp: Option<EndpointPattern>,
}

impl CountScope {
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
    pub scope: CountScope,
}

/// One property of how a connection ended, which picks the connections showing it.
/// `[connections]` counts the connections each one picks; a `[[connection]]` requires each of
/// its own to pick every connection it matches. One type, so both read and report a property
/// the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnSelector {
    /// Zeek conn_state (`SF`, `REJ`, ...).
    ConnState(String),
    /// Zeek history (`ShADadFf`).
    History(String),
    /// Why the record ended.
    EndReason(EndReason),
    /// The originator's final state.
    OrigState(TcpState),
    /// The responder's final state.
    RespState(TcpState),
    /// The side that sent the first FIN: `orig`, `resp` or `none` (`ACTIVE_CLOSERS`).
    ActiveCloser(&'static str),
    /// How the FINs went: `four_way`, `three_way`, `simultaneous` or `none` (`CLOSES`).
    Close(&'static str),
}

/// Values of `active_closer`.
pub const ACTIVE_CLOSERS: [&str; 3] = ["orig", "resp", "none"];
/// Values of `close`.
pub const CLOSES: [&str; 4] = ["four_way", "three_way", "simultaneous", "none"];

impl ConnSelector {
    /// The key it is written with in an expectation file.
    pub fn key(&self) -> &'static str {
        match self {
            ConnSelector::ConnState(_) => "conn_state",
            ConnSelector::History(_) => "history",
            ConnSelector::EndReason(_) => "end_reason",
            ConnSelector::OrigState(_) => "orig_state",
            ConnSelector::RespState(_) => "resp_state",
            ConnSelector::ActiveCloser(_) => "active_closer",
            ConnSelector::Close(_) => "close",
        }
    }

    /// The value it picks, as written (`SF`, `rst`, `TIME-WAIT`).
    pub fn value(&self) -> &str {
        match self {
            ConnSelector::ConnState(s) | ConnSelector::History(s) => s,
            ConnSelector::EndReason(r) => r.name(),
            ConnSelector::OrigState(s) | ConnSelector::RespState(s) => s.name(),
            ConnSelector::ActiveCloser(v) | ConnSelector::Close(v) => v,
        }
    }
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
    /// How every match must have ended: conn_state, history, end reason, final states, active
    /// closer and close, in that order (the order its problems are listed in).
    pub outcome: Vec<ConnSelector>,
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
    /// The configuration `analysis_args` resolve to. Resolved when the file is read, so that a
    /// file that loads can always be run (without a file: the defaults).
    pub analysis: AnalyzerConfig,
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
    /// Connections by how they ended: by conn_state, then end reason, then final originator
    /// and responder states.
    pub connections: Vec<(ConnSelector, CountRange)>,
    /// Budgets.
    pub budgets: Budgets,
    /// Named connections.
    pub named: Vec<NamedExpect>,
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
}

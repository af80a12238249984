//! The schema of an expectation file as serde reads it: every table and key, with the spans the
//! validator needs to point at a mistake. Nothing here is checked beyond its TOML type; that is
//! `parse`'s work.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::CountRange;

/// A duration: seconds as a number, or a string with a unit (`"250us"`, `"5ms"`, `"1.5s"`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum DurationValue {
    /// A number of seconds.
    Seconds(f64),
    /// A number with a unit.
    Text(String),
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    /// `[analysis]`: options as on the command line, and `filter`.
    pub(super) analysis: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// `[anomalies]`.
    pub(super) anomalies: Option<RawAnomalies>,
    /// `[connections]`.
    pub(super) connections: Option<RawConnections>,
    /// `[budgets]`.
    pub(super) budgets: Option<RawBudgets>,
    /// `[[connection]]` tables.
    #[serde(default)]
    pub(super) connection: Vec<RawNamed>,
}

/// `[anomalies]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnomalies {
    /// Ids that must appear.
    #[serde(default)]
    pub(super) require: Vec<Spanned<String>>,
    /// Ids that must not appear.
    #[serde(default)]
    pub(super) forbid: Vec<Spanned<String>>,
    /// The only ids that may appear.
    pub(super) only: Option<Vec<Spanned<String>>>,
    /// `[[anomalies.count]]` tables.
    #[serde(default)]
    pub(super) count: Vec<RawCount>,
}

/// `[[anomalies.count]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCount {
    /// The anomaly id.
    pub(super) kind: Spanned<String>,
    /// At least.
    pub(super) min: Option<u64>,
    /// At most.
    pub(super) max: Option<u64>,
    /// Only at this listener.
    pub(super) listener: Option<Spanned<String>>,
    /// Only from this originator.
    pub(super) orig: Option<Spanned<String>>,
    /// Only to this responder.
    pub(super) resp: Option<Spanned<String>>,
}

/// `[connections]`: counts of connections, in total and by how they ended.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnections {
    /// All connections.
    pub(super) total: Option<CountRange>,
    /// By Zeek conn_state.
    #[serde(default)]
    pub(super) conn_state: BTreeMap<String, Spanned<CountRange>>,
    /// By end reason.
    #[serde(default)]
    pub(super) end_reason: BTreeMap<String, Spanned<CountRange>>,
    /// By final originator state.
    #[serde(default)]
    pub(super) orig_state: BTreeMap<String, Spanned<CountRange>>,
    /// By final responder state.
    #[serde(default)]
    pub(super) resp_state: BTreeMap<String, Spanned<CountRange>>,
    /// By the side that sent the first FIN.
    #[serde(default)]
    pub(super) active_closer: BTreeMap<String, Spanned<CountRange>>,
    /// By how the FINs went.
    #[serde(default)]
    pub(super) close: BTreeMap<String, Spanned<CountRange>>,
}

/// `[budgets]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudgets {
    /// Per connection, both directions.
    pub(super) retransmitted_bytes: Option<u64>,
    /// Per connection, both directions.
    pub(super) retransmitted_packets: Option<u64>,
    /// Per connection, both directions.
    pub(super) out_of_order_packets: Option<u64>,
    /// Per connection, both directions.
    pub(super) duplicate_acks: Option<u64>,
    /// Per connection, both directions.
    pub(super) zero_windows: Option<u64>,
    /// Handshake RTT percentiles over the capture.
    pub(super) handshake_rtt_p50: Option<Spanned<DurationValue>>,
    /// See `handshake_rtt_p50`.
    pub(super) handshake_rtt_p90: Option<Spanned<DurationValue>>,
    /// See `handshake_rtt_p50`.
    pub(super) handshake_rtt_p95: Option<Spanned<DurationValue>>,
    /// See `handshake_rtt_p50`.
    pub(super) handshake_rtt_p99: Option<Spanned<DurationValue>>,
    /// The largest handshake RTT.
    pub(super) handshake_rtt_max: Option<Spanned<DurationValue>>,
}

/// `[[connection]]`: one connection picked by id or endpoints, and what it must show.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNamed {
    /// Name for messages.
    pub(super) name: Option<String>,
    /// Record id.
    pub(super) id: Option<u64>,
    /// Originator pattern.
    pub(super) orig: Option<Spanned<String>>,
    /// Responder pattern.
    pub(super) resp: Option<Spanned<String>>,
    /// Among the matches, only the nth (1-based).
    pub(super) nth: Option<usize>,
    /// Zeek conn_state.
    pub(super) conn_state: Option<String>,
    /// Zeek history.
    pub(super) history: Option<String>,
    /// End reason.
    pub(super) end_reason: Option<Spanned<String>>,
    /// Final originator state.
    pub(super) orig_state: Option<Spanned<String>>,
    /// Final responder state.
    pub(super) resp_state: Option<Spanned<String>>,
    /// The side that sent the first FIN.
    pub(super) active_closer: Option<Spanned<String>>,
    /// How the FINs went.
    pub(super) close: Option<Spanned<String>>,
    /// Ids it must show.
    #[serde(default)]
    pub(super) require: Vec<Spanned<String>>,
    /// Ids it must not show.
    #[serde(default)]
    pub(super) forbid: Vec<Spanned<String>>,
}

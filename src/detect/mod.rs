//! Anomaly detection: one file per family, each rule named by its stable id and citing its
//! source. Connection rules run on every segment after the state machine, and once when the
//! connection ends; listener rules ([`flood`]) aggregate over time per listening endpoint.

mod explain;
pub(crate) mod flood;
pub(crate) mod handshake;
mod kind;
pub(crate) mod reuse;
pub(crate) mod sanity;
pub(crate) mod teardown;
#[cfg(test)]
mod tests;
pub(crate) mod transfer;

pub use explain::{Explanation, explain};
pub use flood::{ListenerConfig, ListenerLoad, ListenerTracker};
pub use kind::{AnomalyKind, Scope, Severity};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// One reported anomaly.
#[derive(Clone, Debug, Serialize)]
pub struct Anomaly {
    /// Stable id.
    pub kind: AnomalyKind,
    /// Severity (usually the kind's default).
    pub severity: Severity,
    /// The connection it concerns (connection-scoped anomalies).
    pub conn_id: Option<u64>,
    /// The listener it concerns (listener-scoped anomalies, and the responder of a connection).
    #[serde(skip)]
    pub listener: Option<Endpoint>,
    /// First frame showing it.
    pub frame: u64,
    /// Time of that frame.
    pub ts: Timestamp,
    /// Kind-specific facts.
    pub detail: Map<String, Value>,
}

impl Anomaly {
    /// A new anomaly with the kind's default severity and an empty detail.
    pub fn new(kind: AnomalyKind, frame: u64, ts: Timestamp) -> Self {
        Anomaly {
            kind,
            severity: kind.severity(),
            conn_id: None,
            listener: None,
            frame,
            ts,
            detail: Map::new(),
        }
    }

    /// Adds a detail field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_string(), value.into());
        self
    }
}

/// Reports `a` for connection `c`: the first anomaly of its kind on the connection goes to
/// `out`, later ones are only counted on the record.
pub(crate) fn raise(c: &mut crate::flow::Connection, mut a: Anomaly, out: &mut Vec<Anomaly>) {
    a.conn_id = Some(c.id);
    a.listener = Some(c.resp);
    if c.detect.count(a.kind) {
        out.push(a);
    }
}

/// Reports a segment-scoped anomaly of `side`: counted exactly per direction, reported as an
/// event at the 1st, 10th, 100th ... occurrence on the connection (as Zeek scales its history
/// letters and Suricata backs off its stream events).
pub(crate) fn raise_segment(
    c: &mut crate::flow::Connection,
    side: crate::wire::Side,
    mut a: Anomaly,
    out: &mut Vec<Anomaly>,
) {
    let n = match c.detect.seg_counts.iter_mut().find(|(k, _)| *k == a.kind) {
        Some((_, n)) => {
            n[side.index()] += 1;
            n[0] + n[1]
        }
        None => {
            let mut n = [0; 2];
            n[side.index()] = 1;
            c.detect.seg_counts.push((a.kind, n));
            1
        }
    };
    if n == 1 || (n >= 10 && power_of_ten(n)) {
        a.conn_id = Some(c.id);
        a.listener = Some(c.resp);
        a.detail.insert("count".into(), n.into());
        a.detail.insert("from".into(), side.name().into());
        out.push(a);
    }
}

fn power_of_ten(mut n: u32) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

/// Seconds as a JSON number with microsecond precision.
pub(crate) fn secs(d: Duration) -> Value {
    let us = d.0 / 1000;
    serde_json::Number::from_f64(us as f64 / 1e6).map_or(Value::Null, Value::Number)
}

/// Thresholds of the connection rules. Defaults are documented with their sources in
/// `tcpaudit explain`.
#[derive(Clone, Copy, Debug)]
pub struct DetectConfig {
    /// Maximum segment lifetime: TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Time in CLOSE-WAIT after which `close_wait_stuck` is raised while the capture goes on
    /// (default 60 s, the mirror image of Linux's `tcp_fin_timeout` for FIN-WAIT-2).
    pub close_wait_timeout: Duration,
    /// Time in CLOSE-WAIT at the end of the capture that counts as stuck (default 1 s).
    pub close_wait_at_end: Duration,
    /// TTL difference from a direction's first TTL tolerated before `ttl_anomaly` (default 1).
    pub ttl_tolerance: u8,
    /// Unanswered keep-alive probes after which ending the connection is `keepalive_timeout`
    /// (default 2; Linux gives up after `tcp_keepalive_probes` = 9).
    pub keepalive_unanswered: u32,
    /// Zeek's `likely_server_ports`, which orient connections that do not start with a SYN in
    /// the Zeek-compatible `conn_state` and `history` (default: Zeek's default scripts).
    pub zeek_server_ports: &'static [u16],
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            msl: Duration::from_secs(30),
            close_wait_timeout: Duration::from_secs(60),
            close_wait_at_end: Duration::from_secs(1),
            ttl_tolerance: 1,
            keepalive_unanswered: 2,
            zeek_server_ports: crate::compat::LIKELY_SERVER_PORTS,
        }
    }
}

/// A repeated handshake segment: when it was first repeated and the gaps between repeats.
#[derive(Clone, Debug, Default)]
pub struct Repeats {
    /// Copies seen, the original included.
    pub count: u32,
    /// Time of the previous copy.
    pub last_ts: Option<Timestamp>,
    /// Frame and time of the first copy.
    pub first: Option<(u64, Timestamp)>,
    /// Frame of the first repeat.
    pub first_repeat: Option<(u64, Timestamp)>,
    /// Gaps between consecutive copies, seconds (at most 8 kept).
    pub gaps: Vec<Duration>,
    /// Already reported.
    pub reported: bool,
}

impl Repeats {
    fn see(&mut self, frame: u64, ts: Timestamp) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((frame, ts));
        }
        if let Some(prev) = self.last_ts {
            if self.first_repeat.is_none() {
                self.first_repeat = Some((frame, ts));
            }
            if self.gaps.len() < 8 {
                self.gaps.push(ts.since(prev));
            }
        }
        self.last_ts = Some(ts);
    }
}

/// What makes two segments the same packet for capture-duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DupKey {
    /// Sequence number.
    pub seq: u32,
    /// Payload length.
    pub len: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits.
    pub flags: u16,
    /// Raw window field.
    pub window: u16,
    /// TCP checksum field as captured.
    pub checksum: u16,
    /// IPv4 identification (None for IPv6).
    pub ip_id: Option<u16>,
}

/// Per-connection detector state.
#[derive(Clone, Debug, Default)]
pub struct ConnDetect {
    /// Copies of the originator's SYN (same ISN).
    pub syns: Repeats,
    /// Copies of the responder's SYN-ACK (same ISN).
    pub synacks: Repeats,
    /// The handshake completed (the originator acknowledged the responder's SYN).
    pub established: bool,
    /// The originator sent a pure ACK of the SYN-ACK.
    pub pure_third_ack: bool,
    /// First TTL and IPv4 ID seen per side.
    pub ttl: [Option<u8>; 2],
    /// Last IPv4 ID per side.
    pub ip_id: [Option<u16>; 2],
    /// A stale SYN waiting for the peer's answer: (frame, ts, sender side index, answers so far).
    pub stale: Option<(u64, Timestamp, usize, Vec<Value>)>,
    /// An in-window RST waiting for a challenge ACK: (frame, receiver side index).
    pub rst_in_window: Option<(u64, usize)>,
    /// Keep-alive probes per side left unanswered so far.
    pub unanswered_probes: [u32; 2],
    /// First unanswered probe per side.
    pub first_probe: [Option<(u64, Timestamp)>; 2],
    /// An accepted RST from this side was seen (index), with its frame.
    pub rst_accepted_from: Option<(usize, u64)>,
    /// The connection was already closed before the segment being evaluated.
    pub closed_before: bool,
    /// When each side entered CLOSE-WAIT (while it is there).
    pub close_wait_since: [Option<Timestamp>; 2],
    /// Each side's last segment was a Linux zero-window probe awaiting its answer.
    pub zwp_pending: [bool; 2],
    /// Bad checksums per side.
    pub bad_checksums: [u32; 2],
    /// The previous segment of each side, for capture duplicates.
    pub last_seg: [Option<(DupKey, Timestamp)>; 2],
    /// Sequence, ACK and right window edge of each side's last window-bearing segment.
    pub window_ref: [Option<(
        crate::wire::SeqNum,
        crate::wire::SeqNum,
        crate::wire::SeqNum,
    )>; 2],
    /// Highest ACK each side sent.
    pub highest_ack: [Option<crate::wire::SeqNum>; 2],
    /// Largest window each side advertised.
    pub max_window: [u32; 2],
    /// Per-kind counts for this connection (kinds in first-seen order).
    pub counts: Vec<(AnomalyKind, u32)>,
    /// Segment classes counted per direction (orig, resp).
    pub seg_counts: Vec<(AnomalyKind, [u32; 2])>,
}

impl ConnDetect {
    /// Counts one occurrence; true if it is the first of its kind on this connection.
    pub fn count(&mut self, kind: AnomalyKind) -> bool {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                self.counts.push((kind, 1));
                true
            }
        }
    }

    /// Whether this connection raised `kind`.
    pub fn has(&self, kind: AnomalyKind) -> bool {
        self.counts.iter().any(|(k, _)| *k == kind)
    }
}

//! What `tcpaudit live` shows while it runs: a status snapshot (JSON `"type": "status"` records,
//! and the terminal view drawn from it in [`super::live_view`]) and anomalies in words.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analyzer::Analyzer;
use crate::capture::live::CaptureStats;
use crate::detect::{Anomaly, Detail, Value};
use crate::tcp::TcpState;
use crate::time::Timestamp;
use crate::wire::{Endpoint, Side};

/// Connections per endpoint state.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct StateCount {
    /// Originators in this state.
    pub orig: u64,
    /// Responders in this state.
    pub resp: u64,
}

/// One listener's load.
#[derive(Clone, Debug, Serialize)]
pub struct ListenerStatus {
    /// Address.
    pub addr: String,
    /// Port.
    pub port: u16,
    /// Attempts waiting for an answer or for their third ACK.
    pub half_open: u32,
    /// Connection attempts per second over the flood window.
    pub syn_rate: f64,
    /// A `syn_flood` episode is under way.
    pub flood: bool,
    /// A `half_open_backlog` episode is under way.
    pub backlog: bool,
}

/// A snapshot of a live run (JSON `"type": "status"`).
#[derive(Clone, Debug, Serialize)]
pub struct LiveStatus {
    /// Always `status`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Wall-clock time of the snapshot.
    #[serde(serialize_with = "super::json::secs")]
    pub ts: Timestamp,
    /// Seconds since the capture started.
    pub uptime: f64,
    /// Frames analysed.
    pub packets: u64,
    /// Frames per second since the previous snapshot.
    pub packets_per_s: f64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Frames the kernel passed the filter.
    pub received: u64,
    /// Frames the kernel dropped (ring or buffer full).
    pub dropped: u64,
    /// Frames the interface dropped, where known.
    pub if_dropped: u64,
    /// Connections tracked now.
    pub tracked: usize,
    /// Connection records ended so far.
    pub ended: u64,
    /// Tracked connections by each endpoint's RFC 9293 state.
    pub states: BTreeMap<&'static str, StateCount>,
    /// The busiest listeners (at most 5).
    pub listeners: Vec<ListenerStatus>,
    /// Anomaly events so far, by id.
    pub anomalies: BTreeMap<&'static str, u64>,
}

impl LiveStatus {
    /// Takes a snapshot of `a` at wall-clock `now`.
    pub fn collect(
        a: &Analyzer,
        capture: CaptureStats,
        started: Timestamp,
        now: Timestamp,
        packets_per_s: f64,
    ) -> LiveStatus {
        let now_state = a.snapshot(5);
        let mut states: BTreeMap<&'static str, StateCount> = BTreeMap::new();
        for st in TcpState::ALL {
            let n = now_state.states[st as usize];
            let (orig, resp) = (n[Side::Orig], n[Side::Resp]);
            if orig + resp > 0 {
                states.insert(st.name(), StateCount { orig, resp });
            }
        }
        let s = a.summary();
        LiveStatus {
            kind: "status",
            ts: now,
            uptime: now.since(started).as_secs_f64().max(0.0),
            packets: s.packets,
            packets_per_s,
            tcp_segments: a.tcp_segments(),
            received: capture.received,
            dropped: capture.dropped,
            if_dropped: capture.if_dropped,
            tracked: now_state.tracked,
            ended: s.end_reasons.iter().sum(),
            states,
            listeners: now_state
                .listeners
                .into_iter()
                .map(|l| ListenerStatus {
                    addr: l.listener.addr.to_string(),
                    port: l.listener.port,
                    half_open: l.half_open,
                    syn_rate: (l.syn_rate * 10.0).round() / 10.0,
                    flood: l.flood,
                    backlog: l.backlog,
                })
                .collect(),
            anomalies: s.anomaly_events_by_id(),
        }
    }
}

/// `HH:MM:SS.mmm` of a timestamp (UTC).
pub(crate) fn clock(t: Timestamp) -> String {
    let s = t.as_nanos().div_euclid(1_000_000_000).rem_euclid(86_400);
    let ms = t.as_nanos().rem_euclid(1_000_000_000) / 1_000_000;
    format!("{:02}:{:02}:{:02}.{ms:03}", s / 3600, s / 60 % 60, s % 60)
}

/// Whom an anomaly concerns: its connection's four-tuple (`orig → resp`) when known (the
/// anomaly record carries only the connection's id), else "connection 3" (with `to_listener`:
/// "connection 3 to 10.0.0.2:80"), or "listener ...".
pub(crate) fn whom(a: &Anomaly, tuple: Option<(Endpoint, Endpoint)>, to_listener: bool) -> String {
    match (a.conn_id, a.listener, tuple) {
        (Some(_), _, Some((o, r))) => format!("{o} → {r}"),
        (Some(id), Some(l), None) if to_listener => format!("connection {id} to {l}"),
        (Some(id), _, None) => format!("connection {id}"),
        (None, Some(l), _) => format!("listener {l}"),
        (None, None, _) => String::new(),
    }
}

/// One line per anomaly, for a live run whose output is not a terminal; `tuple` is its
/// connection's endpoints, when known.
pub fn anomaly_line(a: &Anomaly, tuple: Option<(Endpoint, Endpoint)>) -> String {
    let whom = whom(a, tuple, true);
    let conn = match (a.conn_id, tuple) {
        (Some(id), Some(_)) => format!(" (connection {id})"),
        _ => String::new(),
    };
    format!(
        "{} {:<7} {} {whom}{conn} frame {} {}",
        clock(a.ts),
        a.kind.severity().to_string(),
        a.kind.id(),
        a.frame,
        detail_words(&a.detail, usize::MAX)
    )
}

/// An anomaly's details in words, `key=value` in the rule's order (lists comma-separated,
/// durations in seconds), as many whole pairs as fit in `max` characters, then `...`.
pub fn detail_words(d: &Detail, max: usize) -> String {
    fn value(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push('-'),
            Value::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
            Value::U64(n) => out.push_str(&n.to_string()),
            Value::I64(n) => out.push_str(&n.to_string()),
            Value::F64(x, decimals) => out.push_str(&format!("{x:.*}", *decimals as usize)),
            Value::Secs(d) => out.push_str(&format!("{}s", d.as_secs_f64())),
            Value::Str(t) => out.push_str(t),
            Value::Text(t) => out.push_str(t),
            Value::List(items) => {
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(x, out);
                }
            }
            Value::Map(entries) => {
                for (i, (k, x)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push(':');
                    value(x, out);
                }
            }
        }
    }
    let mut out = String::new();
    for (k, v) in d.iter() {
        let mut pair = format!("{k}=");
        value(v, &mut pair);
        let sep = usize::from(!out.is_empty());
        if out.chars().count() + sep + pair.chars().count() > max {
            out.push_str(if out.is_empty() { "..." } else { " ..." });
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(&pair);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AnomalyKind;
    use crate::time::Duration;

    #[test]
    fn details_read_as_words_and_are_cut_between_pairs() {
        let a = Anomaly::new(AnomalyKind::RstAbort, 7, Timestamp::EPOCH)
            .with("count", 3u64)
            .with("ratio", Value::F64(0.4567, 2))
            .with("after", Value::Secs(Duration::from_millis(1500)))
            .with("evidence", Value::Str("late"))
            .with(
                "sources",
                Value::List(vec![Value::Text("10.0.0.1".into()), Value::U64(4)]),
            );
        let all = detail_words(&a.detail, usize::MAX);
        assert_eq!(
            all,
            "count=3 ratio=0.46 after=1.5s evidence=late sources=10.0.0.1,4"
        );
        // Cut before the pair that does not fit, never inside one.
        assert_eq!(detail_words(&a.detail, 20), "count=3 ratio=0.46 ...");
        assert_eq!(detail_words(&a.detail, 3), "...");
        assert!(
            !anomaly_line(&a, None).contains('{'),
            "{}",
            anomaly_line(&a, None)
        );
    }

    #[test]
    fn anomalies_name_their_connection_by_its_four_tuple() {
        let mut a = Anomaly::new(AnomalyKind::ConnectionRefused, 9, Timestamp::EPOCH);
        a.conn_id = Some(77);
        a.listener = Some(Endpoint::new([10, 0, 0, 2].into(), 81));
        let tuple = (
            Endpoint::new([10, 0, 0, 1].into(), 40000),
            Endpoint::new([10, 0, 0, 2].into(), 81),
        );
        let line = anomaly_line(&a, Some(tuple));
        assert!(
            line.contains(
                "connection_refused 10.0.0.1:40000 → 10.0.0.2:81 (connection 77) frame 9"
            ),
            "{line}"
        );
        // Without the endpoints (a connection the view never saw open): its id and listener.
        let line = anomaly_line(&a, None);
        assert!(line.contains("connection 77 to 10.0.0.2:81"), "{line}");
    }
}

//! The JSON form of an anomaly: its record, and its details as an object.

use serde::Serialize;

use super::AddrText;
use super::secs::secs;
use crate::detect::{Anomaly, Detail, Value, secs_f64};
use crate::report::community_id::{TCP, community_id};
use crate::report::flat::ConnRef;
use crate::report::iso_time::iso;
use crate::time::Timestamp;

/// The JSON form of an anomaly.
#[derive(Serialize)]
pub struct AnomalyRecord<'a> {
    /// Always `anomaly`.
    #[serde(rename = "type")]
    pub kind_type: &'static str,
    /// Stable id ([`crate::detect::AnomalyKind::id`]).
    pub kind: &'static str,
    /// Severity ([`crate::detect::Severity::name`]).
    pub severity: &'static str,
    /// Connection concerned.
    pub conn_id: Option<u64>,
    /// The connection's Community ID (null for a listener's anomaly).
    pub community_id: Option<String>,
    /// Listener address (the responder for connection anomalies).
    pub listener_addr: Option<AddrText>,
    /// Listener port.
    pub listener_port: Option<u16>,
    /// First frame showing it.
    pub frame: u64,
    /// Its time.
    #[serde(serialize_with = "secs")]
    pub ts: Timestamp,
    /// `ts` as ISO 8601 text in UTC, every digit kept.
    #[serde(serialize_with = "iso")]
    pub time: Timestamp,
    /// Kind-specific facts (documented in `tcpaudit explain <id>`).
    pub detail: DetailJson<'a>,
}

impl<'a> From<&'a Anomaly> for AnomalyRecord<'a> {
    /// The anomaly, without the Community ID of its connection.
    fn from(a: &'a Anomaly) -> Self {
        AnomalyRecord::new(a, None, 0)
    }
}

impl<'a> AnomalyRecord<'a> {
    /// The anomaly of connection `conn` (if it concerns one), its Community ID with `seed`.
    pub fn new(a: &'a Anomaly, conn: Option<ConnRef>, seed: u16) -> Self {
        AnomalyRecord {
            kind_type: "anomaly",
            kind: a.kind.id(),
            severity: a.severity.name(),
            conn_id: a.conn_id,
            community_id: conn.map(|c| community_id(c.orig, c.resp, TCP, seed)),
            listener_addr: a.listener.map(|l| AddrText(l.addr)),
            listener_port: a.listener.map(|l| l.port),
            frame: a.frame,
            ts: a.ts,
            time: a.ts,
            detail: DetailJson(&a.detail),
        }
    }
}

/// An anomaly's details as a JSON object, keys in alphabetical order.
pub struct DetailJson<'a>(pub &'a Detail);

impl Serialize for DetailJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut entries: Vec<_> = self.0.iter().collect();
        entries.sort_by_key(|(k, _)| *k);
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, &ValueJson(v))?;
        }
        m.end()
    }
}

/// One detail value as JSON: durations and times in seconds with microsecond precision, ratios
/// rounded to the decimals worth showing.
struct ValueJson<'a>(&'a Value);

impl Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::U64(n) => s.serialize_u64(*n),
            Value::I64(n) => s.serialize_i64(*n),
            Value::F64(x, decimals) => {
                let scale = 10f64.powi(*decimals as i32);
                finite(s, (x * scale).round() / scale)
            }
            Value::Secs(d) => finite(s, secs_f64(*d)),
            Value::Str(t) => s.serialize_str(t),
            Value::Text(t) => s.serialize_str(t),
            Value::List(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(&ValueJson(x))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut sorted: Vec<_> = entries.iter().collect();
                sorted.sort_by_key(|(k, _)| *k);
                let mut m = s.serialize_map(Some(sorted.len()))?;
                for (k, v) in sorted {
                    m.serialize_entry(k, &ValueJson(v))?;
                }
                m.end()
            }
        }
    }
}

/// A number, or null when it is not finite (JSON has no NaN).
fn finite<S: serde::Serializer>(s: S, x: f64) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(x)
    } else {
        s.serialize_none()
    }
}

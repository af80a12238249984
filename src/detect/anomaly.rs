//! One reported anomaly and its kind-specific facts.
//!
//! Details are plain values (numbers, names, durations), not JSON: how they are printed is the
//! business of the sinks in `report/`. They are only built for occurrences that are reported
//! (see [`super::Tally`]); an occurrence that is only counted costs no allocation.

use super::{AnomalyKind, Severity};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// One kind-specific fact of an anomaly.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value (an optional fact that is absent).
    Null,
    /// Yes or no.
    Bool(bool),
    /// A count, a number of bytes, a frame or sequence number.
    U64(u64),
    /// A signed difference.
    I64(i64),
    /// A ratio or rate, with the number of decimals worth showing.
    F64(f64, u8),
    /// A duration or a point in time, in seconds (microsecond precision).
    Secs(Duration),
    /// A name from a fixed vocabulary (`orig`, `rst`, `in_window`, ...).
    Str(&'static str),
    /// Free text (addresses, composed descriptions).
    Text(String),
    /// Several values.
    List(Vec<Value>),
    /// Named values (one entry of a list of sources, for example).
    Map(Vec<(&'static str, Value)>),
}

impl Value {
    /// The value as an unsigned number, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(n) => Some(n),
            Value::I64(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// The value as a signed number, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U64(n) => i64::try_from(n).ok(),
            Value::I64(n) => Some(n),
            _ => None,
        }
    }

    /// The value as a floating-point number (durations in seconds), if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::U64(n) => Some(n as f64),
            Value::I64(n) => Some(n as f64),
            Value::F64(x, _) => Some(x),
            Value::Secs(d) => Some(secs_f64(d)),
            _ => None,
        }
    }

    /// The value as a yes or no, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The value as text, if it is a name or text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Seconds with microsecond precision, as details show durations.
pub fn secs_f64(d: Duration) -> f64 {
    d.whole_micros() as f64 / 1e6
}

/// A duration as a detail value.
pub(crate) fn secs(d: Duration) -> Value {
    Value::Secs(d)
}

macro_rules! value_from {
    ($($t:ty => $v:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v(x as $as)
            }
        }
    )*};
}
value_from!(u8 => U64 as u64, u16 => U64 as u64, u32 => U64 as u64, u64 => U64 as u64,
    usize => U64 as u64, i32 => I64 as i64, i64 => I64 as i64);

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::List(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<i32> for Value {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(*other as i64)
    }
}

impl PartialEq<f64> for Value {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}

/// The facts of one anomaly, in the order the rule gave them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail(Vec<(&'static str, Value)>);

impl Detail {
    /// The value of `key`, if the rule gave one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every fact, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// Whether there are no facts.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets `key` (replacing an earlier value of the same key).
    pub fn insert(&mut self, key: &'static str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }
}

impl std::ops::Index<&str> for Detail {
    type Output = Value;
    /// The value of `key`, or [`Value::Null`] when absent.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// One reported anomaly.
#[derive(Clone, Debug)]
pub struct Anomaly {
    /// Stable id.
    pub kind: AnomalyKind,
    /// Severity (usually the kind's default).
    pub severity: Severity,
    /// The connection it concerns (connection-scoped anomalies).
    pub conn_id: Option<u64>,
    /// The listener it concerns (listener-scoped anomalies, and the responder of a connection).
    pub listener: Option<Endpoint>,
    /// First frame showing it.
    pub frame: u64,
    /// Time of that frame.
    pub ts: Timestamp,
    /// Kind-specific facts.
    pub detail: Detail,
}

#[cfg(test)]
thread_local! {
    /// Anomalies built on this thread (tests check that unreported occurrences build none).
    pub(crate) static BUILT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Anomaly {
    /// A new anomaly with the kind's default severity and no details.
    pub fn new(kind: AnomalyKind, frame: u64, ts: Timestamp) -> Self {
        #[cfg(test)]
        BUILT.with(|n| n.set(n.get() + 1));
        Anomaly {
            kind,
            severity: kind.severity(),
            conn_id: None,
            listener: None,
            frame,
            ts,
            detail: Detail::default(),
        }
    }

    /// Adds a detail.
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.detail.insert(key, value.into());
        self
    }
}

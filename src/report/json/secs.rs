//! Times and durations in JSON: a number of seconds written with exact decimals (six, or nine
//! when the value carries sub-microsecond precision), never rounded through an `f64`.

use serde::Serializer;
use serde_json::value::RawValue;

use crate::time::{Duration, Timestamp};

/// A capture time or span, as the nanoseconds JSON writes in seconds.
pub trait Nanos: Copy {
    /// The value's decimal text in seconds (`Display` of the core types already writes it
    /// exactly).
    fn decimal(self) -> String;
}

impl Nanos for Timestamp {
    fn decimal(self) -> String {
        self.to_string()
    }
}

impl Nanos for Duration {
    fn decimal(self) -> String {
        self.to_string()
    }
}

/// `serialize_with` helper: a time or duration as a JSON number of seconds. The decimal text goes
/// out as a raw number, so `1700000000.123456` keeps every digit.
pub fn secs<T: Nanos, S: Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    let raw = RawValue::from_string(t.decimal()).map_err(serde::ser::Error::custom)?;
    serde::Serialize::serialize(&raw, s)
}

/// `serialize_with` helper: [`secs`], or null.
pub fn opt_secs<T: Nanos, S: Serializer>(t: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => secs(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Probe {
        #[serde(serialize_with = "secs")]
        ts: Timestamp,
        #[serde(serialize_with = "opt_secs")]
        d: Option<Duration>,
        #[serde(serialize_with = "opt_secs")]
        none: Option<Duration>,
    }

    #[test]
    fn seconds_keep_exact_decimals() {
        let json = serde_json::to_string(&Probe {
            ts: Timestamp(5_000_001_000),
            d: Some(Duration(-1_500_001)),
            none: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"ts":5.000001,"d":-0.001500001,"none":null}"#);
    }
}

//! Times and durations in JSON: a number of seconds written with exact decimals (six, or nine
//! when the value carries sub-microsecond precision), never rounded through an `f64`.

use serde::Serializer;
use serde::ser::SerializeStruct;

use crate::time::{DECIMAL_SECS_MAX, Duration, Timestamp, decimal_secs};

/// A capture time or span, as the nanoseconds JSON writes in seconds.
pub trait Nanos: Copy {
    /// The value in nanoseconds.
    fn nanos(self) -> i64;
}

impl Nanos for Timestamp {
    fn nanos(self) -> i64 {
        self.as_nanos()
    }
}

impl Nanos for Duration {
    fn nanos(self) -> i64 {
        self.as_nanos()
    }
}

/// The struct name serde_json writes as the raw JSON text of its one field: what its own
/// `RawValue` serializes as (serde_json's `raw_value` feature). `RawValue::from_string` would
/// allocate the text and parse it again to validate it, for every time of every record; the
/// text here is a number by construction. `seconds_keep_exact_decimals` below fails should
/// serde_json ever stop honouring the name.
pub(super) const RAW_JSON: &str = "$serde_json::private::RawValue";

/// `serialize_with` helper: a time or duration as a JSON number of seconds. The decimal text goes
/// out as a raw number, so `1700000000.123456` keeps every digit.
pub fn secs<T: Nanos, S: Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0; DECIMAL_SECS_MAX];
    let text = decimal_secs(t.nanos(), &mut buf);
    let mut raw = s.serialize_struct(RAW_JSON, 1)?;
    raw.serialize_field(RAW_JSON, text)?;
    raw.end()
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
            ts: Timestamp::from_nanos(5_000_001_000),
            d: Some(Duration::from_nanos(-1_500_001)),
            none: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"ts":5.000001,"d":-0.001500001,"none":null}"#);
    }
}

//! Packet time: nanoseconds since the Unix epoch, taken from the capture, never from the wall clock.
//!
//! Every timer in tcpaudit (idle timeouts, 2MSL, handshake legs) runs on these timestamps, so an
//! offline run is deterministic and a replay gives the same answer as the live run did.

use std::fmt;

/// A point in capture time, in nanoseconds since the Unix epoch (may be negative for odd files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A span of capture time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Timestamp {
    /// Builds a timestamp from whole seconds and nanoseconds.
    pub const fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Time elapsed from `earlier` to `self` (negative if `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// This timestamp moved forward by `d`.
    pub const fn add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn whole_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration(self.0)
    }

    /// Seconds since the epoch as a float (for display only; JSON uses exact decimals).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl Duration {
    /// A duration of whole seconds.
    pub const fn from_secs(s: i64) -> Self {
        Duration(s.saturating_mul(1_000_000_000))
    }

    /// A duration of milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Duration(ms.saturating_mul(1_000_000))
    }

    /// A duration from fractional seconds (command-line options).
    pub fn from_secs_f64(s: f64) -> Self {
        Duration((s * 1e9).round() as i64)
    }

    /// The duration in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Whole seconds (rounded toward zero).
    pub const fn whole_secs(self) -> i64 {
        self.0 / 1_000_000_000
    }

    /// `n` times this duration, saturating.
    pub const fn saturating_mul(self, n: i64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }
}

/// The longest text [`decimal_secs`] writes: a sign, 10 digits of seconds (`i64::MAX` ns is
/// 9,223,372,036 s), the point and 9 decimals.
pub const DECIMAL_SECS_MAX: usize = 21;

/// `ns` nanoseconds as a decimal number of seconds, written into `buf`: six decimals, or nine
/// when the value carries sub-microsecond precision. Exact, unlike going through `f64`, and
/// without the formatting machinery: JSON output writes a few of these per record.
pub fn decimal_secs(ns: i64, buf: &mut [u8; DECIMAL_SECS_MAX]) -> &str {
    let abs = ns.unsigned_abs();
    let (mut whole, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
    let (mut frac, places) = if frac.is_multiple_of(1000) {
        (frac / 1000, 6)
    } else {
        (frac, 9)
    };
    // Written backwards from the end: decimals, the point, the whole seconds, the sign.
    let mut at = buf.len();
    for _ in 0..places {
        at -= 1;
        buf[at] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    at -= 1;
    buf[at] = b'.';
    loop {
        at -= 1;
        buf[at] = b'0' + (whole % 10) as u8;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    if ns < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits, '.' and '-' were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

fn write_decimal_secs(f: &mut impl fmt::Write, ns: i64) -> fmt::Result {
    f.write_str(decimal_secs(ns, &mut [0; DECIMAL_SECS_MAX]))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal_secs(f, self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal_secs(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_are_exact() {
        assert_eq!(
            Timestamp(1_700_000_000_123_456_000).to_string(),
            "1700000000.123456"
        );
        assert_eq!(
            Timestamp(1_700_000_000_123_456_789).to_string(),
            "1700000000.123456789"
        );
        assert_eq!(Duration(-1_500_000).to_string(), "-0.001500");
        assert_eq!(Duration(0).to_string(), "0.000000");
        assert_eq!(Duration(999).to_string(), "0.000000999");
        assert_eq!(Timestamp(i64::MIN).to_string(), "-9223372036.854775808");
        assert_eq!(Timestamp(i64::MAX).to_string(), "9223372036.854775807");
    }
}

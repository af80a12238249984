//! Capture times as calendar text: ISO 8601 in UTC for JSON (`2014-12-09T17:16:09.924505488Z`,
//! every digit the capture has, for consumers whose JSON numbers are doubles), Suricata's EVE
//! form (`2014-12-09T17:16:09.924505+0000`) and the Parquet/CSV form.
//!
//! Written by hand into a stack buffer: a record carries two or three of these, and the
//! conversion from days to a civil date is a dozen lines of integer arithmetic (Howard Hinnant's
//! `civil_from_days`), where a date crate would go through its formatting machinery per value.

use std::fmt;

use serde::{Serialize, Serializer};

use super::json::Nanos;

/// How the fraction and the zone of an [`IsoTime`] are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsoStyle {
    /// Six decimals, or nine when the time has sub-microsecond precision; `Z`.
    Exact,
    /// Six decimals (microseconds, truncated) and `+0000`, as Suricata's EVE records write.
    Eve,
}

/// A capture time (nanoseconds since the epoch) written as ISO 8601 text in UTC.
#[derive(Clone, Copy, Debug)]
pub struct IsoTime {
    ns: i64,
    style: IsoStyle,
}

/// The longest text: `-YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` fits in 40 bytes.
pub(super) const MAX: usize = 40;

impl IsoTime {
    /// `t` in the exact style.
    pub fn exact(t: impl Nanos) -> Self {
        IsoTime {
            ns: t.nanos(),
            style: IsoStyle::Exact,
        }
    }

    /// `t` in the EVE style.
    pub fn eve(t: impl Nanos) -> Self {
        IsoTime {
            ns: t.nanos(),
            style: IsoStyle::Eve,
        }
    }

    /// The text, written into `buf`.
    pub fn write<'b>(&self, buf: &'b mut [u8; MAX]) -> &'b str {
        // Only ASCII digits and punctuation are written.
        std::str::from_utf8(self.bytes(buf)).unwrap_or_default()
    }

    /// The text as bytes, written into `buf`: for writers of bytes, which need not check that
    /// they are UTF-8.
    pub fn bytes<'b>(&self, buf: &'b mut [u8; MAX]) -> &'b [u8] {
        let secs = self.ns.div_euclid(1_000_000_000);
        let frac = self.ns.rem_euclid(1_000_000_000) as u64;
        let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut w = Cursor { buf, at: 0 };
        if y < 0 {
            w.byte(b'-');
        }
        w.digits(y.unsigned_abs(), 4);
        w.byte(b'-');
        w.digits(m as u64, 2);
        w.byte(b'-');
        w.digits(d as u64, 2);
        w.byte(b'T');
        w.digits((day_secs / 3600) as u64, 2);
        w.byte(b':');
        w.digits((day_secs / 60 % 60) as u64, 2);
        w.byte(b':');
        w.digits((day_secs % 60) as u64, 2);
        w.byte(b'.');
        match self.style {
            IsoStyle::Exact if !frac.is_multiple_of(1000) => w.digits(frac, 9),
            _ => w.digits(frac / 1000, 6),
        }
        match self.style {
            IsoStyle::Exact => w.byte(b'Z'),
            IsoStyle::Eve => {
                for &b in b"+0000" {
                    w.byte(b);
                }
            }
        }
        let end = w.at;
        &buf[..end]
    }
}

impl fmt::Display for IsoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write(&mut [0; MAX]))
    }
}

impl Serialize for IsoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.write(&mut [0; MAX]))
    }
}

/// `serialize_with` helper: a time as an exact ISO 8601 string.
pub fn iso<T: Nanos, S: Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    IsoTime::exact(*t).serialize(s)
}

/// `serialize_with` helper: [`iso`], or null.
pub fn opt_iso<T: Nanos, S: Serializer>(t: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => iso(t, s),
        None => s.serialize_none(),
    }
}

/// Year, month (1–12) and day (1–31) of a day count from 1970-01-01 in the proleptic Gregorian
/// calendar (Hinnant, "chrono-Compatible Low-Level Date Algorithms").
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes ASCII into a fixed buffer.
struct Cursor<'b> {
    buf: &'b mut [u8; MAX],
    at: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.at) {
            *slot = b;
            self.at += 1;
        }
    }

    /// `v` in exactly `width` digits (its lowest ones when it has more, which the callers'
    /// ranges rule out).
    fn digits(&mut self, mut v: u64, width: usize) {
        let end = (self.at + width).min(MAX);
        for i in (self.at..end).rev() {
            self.buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn exact_keeps_nanoseconds_and_eve_writes_microseconds() {
        let t = Timestamp::from_nanos(1_418_145_369_924_505_488);
        assert_eq!(
            IsoTime::exact(t).to_string(),
            "2014-12-09T17:16:09.924505488Z"
        );
        assert_eq!(
            IsoTime::eve(t).to_string(),
            "2014-12-09T17:16:09.924505+0000"
        );
        let micro = Timestamp::from_nanos(1_529_347_003_923_524_000);
        assert_eq!(
            IsoTime::exact(micro).to_string(),
            "2018-06-18T18:36:43.923524Z"
        );
    }

    #[test]
    fn dates_around_the_epoch_leap_days_and_centuries() {
        let day = 86_400_000_000_000i64;
        let cases = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (11_016 * day, "2000-02-29T00:00:00.000000Z"),
            (11_017 * day, "2000-03-01T00:00:00.000000Z"),
            (47_541 * day + 1_000, "2100-03-01T00:00:00.000001Z"),
            (i64::MAX, "2262-04-11T23:47:16.854775807Z"),
            (i64::MIN + 1, "1677-09-21T00:12:43.145224193Z"),
        ];
        for (ns, want) in cases {
            assert_eq!(
                IsoTime::exact(Timestamp::from_nanos(ns)).to_string(),
                want,
                "{ns}"
            );
        }
    }

    #[test]
    fn agrees_with_the_day_count_of_every_day_over_four_centuries() {
        // Walks day by day from 1900 to 2300 checking that the date advances by one calendar
        // day each time (month lengths, leap years, century rules).
        let mut prev = civil_from_days(-25_567); // 1900-01-01
        assert_eq!(prev, (1900, 1, 1));
        for days in -25_566..120_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let leap = (py % 4 == 0 && py % 100 != 0) || py % 400 == 0;
            let len = match pm {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let want = if pd < len {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), want, "day {days}");
            prev = (y, m, d);
        }
    }
}

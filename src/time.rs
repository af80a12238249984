//! Packet time: nanoseconds since the Unix epoch, taken from the capture, never from the wall clock.
//!
//! Every timer in tcpaudit (idle timeouts, 2MSL, handshake legs) runs on these timestamps, so an
//! offline run is deterministic and a replay gives the same answer as the live run did.

use std::fmt;
use std::num::NonZeroI64;

pub mod clock;

pub use clock::CaptureClock;

/// A point in capture time, in nanoseconds since the Unix epoch (may be negative for odd files).
///
/// Arithmetic goes through the methods and operators below, which saturate at the ends of the
/// range instead of overflowing: a capture can carry any 64-bit timestamp, and one frame with
/// an extreme time must not abort a debug build nor wrap into nonsense in a release build.
/// The nanoseconds are read with [`Timestamp::as_nanos`].
///
/// The nanoseconds are stored with their sign bit flipped in a non-zero integer, so that
/// `Option<Timestamp>` takes 8 bytes, not 16; `i64::MIN` nanoseconds saturates to
/// [`Timestamp::MIN`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Nanos);

/// A span of capture time, in nanoseconds; saturating like [`Timestamp`], and stored like it
/// (`Option<Duration>` takes 8 bytes; `i64::MIN` nanoseconds saturates to `-MAX`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(Nanos);

/// Nanoseconds stored with the sign bit flipped in a non-zero integer, so that an optional
/// time or span takes 8 bytes, not 16: a connection holds dozens of them, and a flood holds
/// tens of thousands of connections. The one value given up, `i64::MIN`, saturates to the next.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Nanos(NonZeroI64);

impl Nanos {
    const fn new(ns: i64) -> Self {
        // The sign bit flipped is zero only for `i64::MIN`, which is not stored.
        let ns = if ns == i64::MIN { i64::MIN + 1 } else { ns };
        match NonZeroI64::new(ns ^ i64::MIN) {
            Some(v) => Nanos(v),
            None => Nanos(NonZeroI64::MAX),
        }
    }

    const fn get(self) -> i64 {
        self.0.get() ^ i64::MIN
    }
}

/// Zero.
impl Default for Nanos {
    fn default() -> Self {
        Nanos::new(0)
    }
}

/// The plain integer it stands for.
impl fmt::Debug for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// The stored bits, read unsigned, sort as the values do (the flipped sign bit maps signed
/// order onto unsigned order): no conversion back.
impl Ord for Nanos {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.get() as u64).cmp(&(other.0.get() as u64))
    }
}

impl PartialOrd for Nanos {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Nanoseconds in a second.
const NANOS: i64 = 1_000_000_000;

/// Saturates an `i128` intermediate back into the `i64` nanosecond range.
const fn clamp_i128(v: i128) -> i64 {
    if v > i64::MAX as i128 {
        i64::MAX
    } else if v < i64::MIN as i128 {
        i64::MIN
    } else {
        v as i64
    }
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01 00:00:00 UTC.
    pub const EPOCH: Timestamp = Timestamp::from_nanos(0);
    /// The earliest representable time (about 1677), before any real capture: `i64::MIN + 1`
    /// nanoseconds.
    pub const MIN: Timestamp = Timestamp::from_nanos(i64::MIN + 1);
    /// The latest representable time (about 2262), after any real capture.
    pub const MAX: Timestamp = Timestamp::from_nanos(i64::MAX);

    /// A timestamp `ns` nanoseconds after the epoch (`i64::MIN` saturates to [`Timestamp::MIN`]).
    pub const fn from_nanos(ns: i64) -> Self {
        Timestamp(Nanos::new(ns))
    }

    /// Builds a timestamp from whole seconds and nanoseconds.
    pub const fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        Timestamp::from_nanos(secs.saturating_mul(NANOS).saturating_add(nanos))
    }

    /// A timestamp `ms` milliseconds after the epoch (tests and synthetic traffic).
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp::from_nanos(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0.get()
    }

    /// Time elapsed from `earlier` to `self` (negative if `earlier` is later), saturating.
    pub const fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_sub(earlier.as_nanos()))
    }

    /// Time elapsed from `earlier` to `self`, or `None` when it does not fit in a [`Duration`]
    /// (the two are more than 292 years apart).
    pub const fn checked_since(self, earlier: Timestamp) -> Option<Duration> {
        match self.as_nanos().checked_sub(earlier.as_nanos()) {
            Some(d) => Some(Duration::from_nanos(d)),
            None => None,
        }
    }

    /// Nanoseconds from `earlier` to `self` as C's unsigned 64-bit arithmetic gives them: an
    /// earlier `self` wraps to a huge value. Only for emulating tools that compare times that
    /// way (Wireshark's `guint64` differences); everything else uses [`Timestamp::since`].
    pub const fn wrapping_since_unsigned(self, earlier: Timestamp) -> u64 {
        self.as_nanos().wrapping_sub(earlier.as_nanos()) as u64
    }

    /// This timestamp moved forward by `d` (backward if `d` is negative), saturating.
    pub const fn add(self, d: Duration) -> Timestamp {
        Timestamp::from_nanos(self.as_nanos().saturating_add(d.as_nanos()))
    }

    /// This timestamp moved back by `d`, saturating.
    pub const fn sub(self, d: Duration) -> Timestamp {
        Timestamp::from_nanos(self.as_nanos().saturating_sub(d.as_nanos()))
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn whole_secs(self) -> i64 {
        self.as_nanos().div_euclid(NANOS)
    }

    /// Nanoseconds past the whole second ([`Timestamp::whole_secs`]), in `0..1_000_000_000`.
    pub const fn subsec_nanos(self) -> i64 {
        self.as_nanos().rem_euclid(NANOS)
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.as_nanos())
    }

    /// Seconds since the epoch as a float (for display only; JSON uses exact decimals).
    pub fn as_secs_f64(self) -> f64 {
        self.as_nanos() as f64 / 1e9
    }
}

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration::from_nanos(0);
    /// The longest span (about 292 years).
    pub const MAX: Duration = Duration::from_nanos(i64::MAX);

    /// A duration of `ns` nanoseconds (`i64::MIN` saturates to `-MAX`).
    pub const fn from_nanos(ns: i64) -> Self {
        Duration(Nanos::new(ns))
    }

    /// A duration of microseconds.
    pub const fn from_micros(us: i64) -> Self {
        Duration::from_nanos(us.saturating_mul(1_000))
    }

    /// A duration of whole seconds.
    pub const fn from_secs(s: i64) -> Self {
        Duration::from_nanos(s.saturating_mul(NANOS))
    }

    /// A duration of milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Duration::from_nanos(ms.saturating_mul(1_000_000))
    }

    /// A duration from fractional seconds (command-line options); NaN gives zero and values
    /// beyond the range saturate, as Rust's float-to-integer conversion does.
    pub fn from_secs_f64(s: f64) -> Self {
        Duration::from_nanos((s * 1e9).round() as i64)
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0.get()
    }

    /// Whole milliseconds (rounded toward zero).
    pub const fn whole_millis(self) -> i64 {
        self.as_nanos() / 1_000_000
    }

    /// Whole microseconds (rounded toward zero).
    pub const fn whole_micros(self) -> i64 {
        self.as_nanos() / 1_000
    }

    /// The duration in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.as_nanos() as f64 / 1e9
    }

    /// Whole seconds (rounded toward zero).
    pub const fn whole_secs(self) -> i64 {
        self.as_nanos() / NANOS
    }

    /// Whether the span is longer than zero.
    pub const fn is_positive(self) -> bool {
        self.as_nanos() > 0
    }

    /// Whether the span runs backwards.
    pub const fn is_negative(self) -> bool {
        self.as_nanos() < 0
    }

    /// The length of the span whichever way it runs, saturating (`MIN` gives `MAX`).
    pub const fn abs(self) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_abs())
    }

    /// The sum, saturating.
    pub const fn saturating_add(self, other: Duration) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_add(other.as_nanos()))
    }

    /// The difference, saturating.
    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_sub(other.as_nanos()))
    }

    /// `n` times this duration, saturating.
    pub const fn saturating_mul(self, n: i64) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_mul(n))
    }

    /// This duration divided by `n` (rounded toward zero); zero when `n` is zero, so an empty
    /// average is zero rather than a panic.
    pub const fn div(self, n: i64) -> Duration {
        match self.as_nanos().checked_div(n) {
            Some(d) => Duration::from_nanos(d),
            // Only `n == 0`, or `MIN / -1`, whose true value saturates.
            None if n == 0 => Duration::ZERO,
            None => Duration::MAX,
        }
    }

    /// `self * num / den`, computed without intermediate overflow and saturating; zero when
    /// `den` is zero. For scaling by a fraction such as RFC 6298's 1/8.
    pub const fn mul_div(self, num: i64, den: i64) -> Duration {
        if den == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(clamp_i128(
            self.as_nanos() as i128 * num as i128 / den as i128,
        ))
    }

    /// The weighted mean `(self * weight + other * (den - weight)) / den` (rounded toward
    /// zero), without intermediate overflow: an exponentially weighted moving average step
    /// such as RFC 6298's `SRTT <- 7/8 SRTT + 1/8 R'` is `srtt.blend(7, r, 8)`.
    pub const fn blend(self, weight: i64, other: Duration, den: i64) -> Duration {
        if den == 0 {
            return Duration::ZERO;
        }
        let sum = self.as_nanos() as i128 * weight as i128
            + other.as_nanos() as i128 * (den as i128 - weight as i128);
        Duration::from_nanos(clamp_i128(sum / den as i128))
    }

    /// The duration limited to `lo..=hi` (`lo` wins should they cross, unlike `Ord::clamp`,
    /// which panics).
    pub fn clamp_to(self, lo: Duration, hi: Duration) -> Duration {
        self.min(hi).max(lo)
    }
}

/// `a - b`: the span from `b` to `a`, saturating (see [`Timestamp::since`]).
/// Written as its distance from the encoding's base time (a connection's first segment).
impl crate::base::pack::Pack for Timestamp {
    #[inline]
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        w.time(self.as_nanos());
    }
    #[inline]
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        Timestamp::from_nanos(r.time())
    }
}

impl crate::base::pack::Pack for Duration {
    #[inline]
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        w.signed(self.as_nanos());
    }
    #[inline]
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        Duration::from_nanos(r.signed())
    }
}

impl std::ops::Sub for Timestamp {
    type Output = Duration;
    fn sub(self, earlier: Timestamp) -> Duration {
        self.since(earlier)
    }
}

/// `t + d`, saturating.
impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp::add(self, d)
    }
}

/// `t - d`, saturating.
impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp::sub(self, d)
    }
}

/// `a + b`, saturating.
impl std::ops::Add for Duration {
    type Output = Duration;
    fn add(self, other: Duration) -> Duration {
        self.saturating_add(other)
    }
}

/// `a - b`, saturating.
impl std::ops::Sub for Duration {
    type Output = Duration;
    fn sub(self, other: Duration) -> Duration {
        self.saturating_sub(other)
    }
}

/// `-d`, saturating (`-MIN` is `MAX`).
impl std::ops::Neg for Duration {
    type Output = Duration;
    fn neg(self) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_neg())
    }
}

/// `d * n`, saturating.
impl std::ops::Mul<i64> for Duration {
    type Output = Duration;
    fn mul(self, n: i64) -> Duration {
        self.saturating_mul(n)
    }
}

/// `a += b`, saturating.
impl std::ops::AddAssign for Duration {
    fn add_assign(&mut self, other: Duration) {
        *self = *self + other;
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
        write_decimal_secs(f, self.as_nanos())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal_secs(f, self.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_are_exact() {
        assert_eq!(
            Timestamp::from_nanos(1_700_000_000_123_456_000).to_string(),
            "1700000000.123456"
        );
        assert_eq!(
            Timestamp::from_nanos(1_700_000_000_123_456_789).to_string(),
            "1700000000.123456789"
        );
        assert_eq!(Duration::from_nanos(-1_500_000).to_string(), "-0.001500");
        assert_eq!(Duration::from_nanos(0).to_string(), "0.000000");
        assert_eq!(Duration::from_nanos(999).to_string(), "0.000000999");
        assert_eq!(
            Timestamp::from_nanos(i64::MIN).to_string(),
            "-9223372036.854775807"
        );
        assert_eq!(
            Timestamp::from_nanos(i64::MAX).to_string(),
            "9223372036.854775807"
        );
    }

    #[test]
    fn optional_times_take_one_word_and_sort_as_the_times_do() {
        assert_eq!(std::mem::size_of::<Option<Timestamp>>(), 8);
        assert_eq!(std::mem::size_of::<Option<Duration>>(), 8);
        let ns = [i64::MIN + 1, -1_000, -1, 0, 1, 1_000, i64::MAX];
        for &n in &ns {
            assert_eq!(Timestamp::from_nanos(n).as_nanos(), n);
            assert_eq!(Duration::from_nanos(n).as_nanos(), n);
        }
        for w in ns.windows(2) {
            assert!(
                Timestamp::from_nanos(w[0]) < Timestamp::from_nanos(w[1]),
                "{w:?}"
            );
            assert!(
                Duration::from_nanos(w[0]) < Duration::from_nanos(w[1]),
                "{w:?}"
            );
        }
        // The one value not stored saturates to its neighbour.
        assert_eq!(Timestamp::from_nanos(i64::MIN), Timestamp::MIN);
        assert_eq!(Duration::from_nanos(i64::MIN), -Duration::MAX);
        assert_eq!(Timestamp::default(), Timestamp::EPOCH);
        assert_eq!(Duration::default(), Duration::ZERO);
        assert_eq!(format!("{:?}", Timestamp::from_nanos(-5)), "Timestamp(-5)");
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let (lo, hi) = (Timestamp::MIN, Timestamp::MAX);
        assert_eq!(hi - lo, Duration::MAX);
        assert_eq!(lo - hi, Duration::from_nanos(i64::MIN));
        assert_eq!(hi.checked_since(lo), None);
        assert_eq!(hi + Duration::MAX, hi);
        assert_eq!(lo - Duration::MAX, lo);
        assert_eq!(lo.since(hi).abs(), Duration::MAX);
        assert_eq!(-Duration::from_nanos(i64::MIN), Duration::MAX);
        assert_eq!(Duration::MAX * 4 + Duration::MAX, Duration::MAX);
        assert_eq!(Duration::from_secs(i64::MAX), Duration::MAX);
        assert_eq!(Duration::from_secs_f64(f64::NAN), Duration::ZERO);
        assert_eq!(Duration::from_secs_f64(1e300), Duration::MAX);
        assert_eq!(Duration::MAX.div(0), Duration::ZERO);
        assert_eq!(Duration::from_nanos(i64::MIN).div(-1), Duration::MAX);
        assert_eq!(Duration::MAX.mul_div(3, 2), Duration::MAX);
        assert_eq!(
            Duration::MAX.mul_div(3, 4),
            Duration::from_nanos(i64::MAX / 4 * 3 + 2)
        );
        assert_eq!(
            Duration::from_millis(10).clamp_to(Duration::from_secs(1), Duration::ZERO),
            Duration::from_secs(1)
        );
        // `MIN` is one nanosecond above `i64::MIN` (see `Timestamp`).
        assert_eq!(hi.wrapping_since_unsigned(lo), u64::MAX - 1);
        assert_eq!(
            lo.wrapping_since_unsigned(lo.add(Duration::from_nanos(1))),
            u64::MAX
        );
    }

    #[test]
    fn blend_is_the_integer_weighted_mean_without_overflow() {
        let (s, r) = (Duration::from_nanos(800), Duration::from_nanos(17));
        assert_eq!(s.blend(7, r, 8), Duration::from_nanos((7 * 800 + 17) / 8));
        assert_eq!(s.blend(3, r, 4), Duration::from_nanos((3 * 800 + 17) / 4));
        assert_eq!(Duration::MAX.blend(7, Duration::MAX, 8), Duration::MAX);
        let min = Duration::from_nanos(i64::MIN);
        assert_eq!(min.blend(7, min, 8), min);
        assert_eq!(s.blend(7, r, 0), Duration::ZERO);
    }

    #[test]
    fn parts_of_a_timestamp_round_down() {
        let t = Timestamp::from_nanos(-1);
        assert_eq!((t.whole_secs(), t.subsec_nanos()), (-1, 999_999_999));
        let t = Timestamp::from_secs_nanos(5, 7);
        assert_eq!((t.whole_secs(), t.subsec_nanos()), (5, 7));
        assert_eq!(Timestamp::from_millis(i64::MAX), Timestamp::MAX);
    }
}

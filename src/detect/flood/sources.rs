//! Who is sending a listener its attempts, in fixed memory whatever the number of (often
//! spoofed) addresses in a flood: the number of distinct sources by HyperLogLog++ (an estimate
//! with a stated error) and the busiest sources by Space-Saving (each with a guaranteed bound on
//! how much it may be over-counted).

use std::net::{IpAddr, Ipv6Addr};

#[cfg(test)]
use super::distinct::LIST_MAX;
use super::distinct::{Distinct, EXACT_MAX, SKETCH_BYTES};
use crate::detect::Value;

/// Relative standard error of the distinct-source estimate beyond 128 sources: 1.04/√(2^p)
/// (Flajolet et al., "HyperLogLog", 2007, §4; 1.6% at p = 12).
pub(super) const DISTINCT_STD_ERROR: f64 = 0.01625;

/// Counters kept by Space-Saving. Any source that sent more than 1/`HEAVY` of the attempts is
/// among them, and each counter over-counts by at most attempts/`HEAVY` (Metwally, Agrawal and
/// El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data Streams", ICDT 2005,
/// Lemmas 3.3 and 3.4).
const HEAVY: usize = 64;
const _: () = assert!(HEAVY <= 64, "Sources::at_least holds one bit per counter");

/// The most [`Sources::heap_bytes`] can be, whatever the attempts: the estimate's registers and
/// [`HEAVY`] counters with their 16-byte keys. Charged for every listener from its first
/// attempt, so that listeners already tracked can never grow their state past the memory bound.
pub(super) const MAX_HEAP_BYTES: usize =
    SKETCH_BYTES + HEAVY * (std::mem::size_of::<Counter>() + std::mem::size_of::<[u8; 16]>());

/// Sources reported in an anomaly's detail.
const REPORTED: usize = 8;

/// One Space-Saving counter: its counted attempts and how many of them may belong to the
/// sources it replaced. The source it counts is in [`Keys`], at the same position. Kept in
/// [`Counts`]; charged at this size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counter {
    count: u64,
    over: u64,
}

/// The counters' counts and over-counts, in 4-byte words: one word each while the listener
/// has counted at most `u32::MAX` attempts (the counts add up to the attempts, so none can be
/// larger), two beyond (the low halves, then the high ones). A flood to random ports fills
/// 65,536 listeners' 64 counters: 8 bytes a counter instead of 16 is 34 MB. Whether the words
/// are wide is kept by [`Sources`] (in what was its padding), so a listener's state keeps its
/// size.
#[derive(Clone, Debug, Default)]
struct Counts(Vec<u32>);

impl Counts {
    /// Words per counter.
    fn stride(wide: bool) -> usize {
        if wide { 4 } else { 2 }
    }

    fn len(&self, wide: bool) -> usize {
        self.0.len() / Self::stride(wide)
    }

    fn get(&self, wide: bool, i: usize) -> Counter {
        Self::decode(wide, &self.0[i * Self::stride(wide)..])
    }

    /// The counter whose words `w` starts with: the count's and over-count's low halves, then
    /// (wide) their high halves.
    #[inline]
    fn decode(wide: bool, w: &[u32]) -> Counter {
        let high = |j: usize| if wide { u64::from(w[j]) << 32 } else { 0 };
        Counter {
            count: u64::from(w[0]) | high(2),
            over: u64::from(w[1]) | high(3),
        }
    }

    fn iter(&self, wide: bool) -> impl Iterator<Item = Counter> + '_ {
        (self.0.chunks_exact(Self::stride(wide))).map(move |w| Self::decode(wide, w))
    }

    /// Sets counter `i` (`None`: a new one at the end). Narrow words keep the low halves
    /// only: the caller has widened the counts once the attempts passed `u32::MAX`.
    fn set(&mut self, wide: bool, i: Option<usize>, c: Counter) {
        let low = [c.count as u32, c.over as u32];
        if wide {
            self.put(
                i,
                [
                    low[0],
                    low[1],
                    (c.count >> 32) as u32,
                    (c.over >> 32) as u32,
                ],
            );
        } else {
            self.put(i, low);
        }
    }

    /// Puts the `N` words of counter `i` (`None`: a new one at the end). `N` is known where
    /// it is called, so the words are moved in place rather than through `memcpy`.
    #[inline]
    fn put<const N: usize>(&mut self, i: Option<usize>, w: [u32; N]) {
        match i {
            Some(i) => self.0[i * N..(i + 1) * N].copy_from_slice(&w),
            None => self.0.extend_from_slice(&w),
        }
    }

    /// Counter `i` counts one more attempt.
    fn bump(&mut self, wide: bool, i: usize) {
        if !wide {
            self.0[2 * i] += 1;
            return;
        }
        let c = self.get(wide, i);
        self.set(
            wide,
            Some(i),
            Counter {
                count: c.count + 1,
                ..c
            },
        );
    }

    /// The same counts in wide words.
    fn widened(&self) -> Self {
        let mut w = Counts(Vec::with_capacity(self.0.len() * 2));
        for c in self.iter(false) {
            w.set(true, None, c);
        }
        w
    }

    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.0.capacity() * 4
    }
}

/// The first 12 bytes of an IPv4 address's [`key`] (an IPv4-mapped IPv6 address).
const MAPPED: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// The sources the counters count, as their [`key`]s: the last 4 bytes while every one is an
/// IPv4 address (or IPv4-mapped), all 16 once one is not. A flood to random ports fills 65,536
/// listeners' counters: 20 bytes a counter for IPv4 sources instead of 32.
#[derive(Clone, Debug)]
enum Keys {
    /// The last 4 bytes as a number (compared in one instruction, eight at a time).
    V4(Vec<u32>),
    /// The whole key.
    V6(Vec<[u8; 16]>),
}

impl Default for Keys {
    fn default() -> Self {
        Keys::V4(Vec::new())
    }
}

impl Keys {
    /// Key number `i`.
    fn get(&self, i: usize) -> [u8; 16] {
        match self {
            Keys::V4(v) => widen(v[i]),
            Keys::V6(v) => v[i],
        }
    }

    /// The counter whose source's key is `k`, if one is. The counters are at most [`HEAVY`],
    /// so a scan costs about what a hash lookup did (2% more instructions under a one-listener
    /// flood, 4% fewer under a random-port one) and needs no index beside them (a hash table of
    /// 64 entries took 528 bytes a listener).
    fn find(&self, k: &[u8; 16]) -> Option<usize> {
        match self {
            Keys::V4(v) if k[..12] == MAPPED => position(v, narrow(*k)),
            Keys::V4(_) => None,
            Keys::V6(v) => v.iter().position(|y| y == k),
        }
    }

    /// Makes room for `k`: the keys become 16 bytes when `k` is no IPv4 address.
    fn widen_for(&mut self, k: &[u8; 16]) {
        if let Keys::V4(v) = self
            && k[..12] != MAPPED
        {
            let mut wide = Vec::with_capacity(v.capacity());
            wide.extend(v.iter().map(|&a| widen(a)));
            *self = Keys::V6(wide);
        }
    }

    /// Adds `k`.
    fn push(&mut self, k: [u8; 16]) {
        self.widen_for(&k);
        match self {
            Keys::V4(v) => v.push(narrow(k)),
            Keys::V6(v) => v.push(k),
        }
    }

    /// Puts `k` in place of key number `i`.
    fn set(&mut self, i: usize, k: [u8; 16]) {
        self.widen_for(&k);
        match self {
            Keys::V4(v) => v[i] = narrow(k),
            Keys::V6(v) => v[i] = k,
        }
    }

    /// Bytes held on the heap.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        match self {
            Keys::V4(v) => v.capacity() * 4,
            Keys::V6(v) => v.capacity() * 16,
        }
    }
}

/// The key of an IPv4 address from its last 4 bytes.
fn widen(a: u32) -> [u8; 16] {
    let mut k = [0; 16];
    k[..12].copy_from_slice(&MAPPED);
    k[12..].copy_from_slice(&a.to_ne_bytes());
    k
}

/// The last 4 bytes of an IPv4 address's key.
fn narrow(k: [u8; 16]) -> u32 {
    u32::from_ne_bytes([k[12], k[13], k[14], k[15]])
}

/// Where IPv4 key `x` is in `v`, compared eight keys at a time into a bit mask without a branch
/// per key, which the compiler makes vector compares: in a spoofed flood nearly every source is
/// new, so the keys are scanned whole at every attempt.
fn position(v: &[u32], x: u32) -> Option<usize> {
    let mut chunks = v.chunks_exact(8);
    for (c, chunk) in (&mut chunks).enumerate() {
        let mut hits = 0u32;
        for (j, &y) in chunk.iter().enumerate() {
            hits |= u32::from(y == x) << j;
        }
        if hits != 0 {
            return Some(c * 8 + hits.trailing_zeros() as usize);
        }
    }
    let done = v.len() - chunks.remainder().len();
    (chunks.remainder().iter().position(|&y| y == x)).map(|j| done + j)
}

/// The sources of one listener's attempts.
#[derive(Clone, Debug, Default)]
pub(super) struct Sources {
    /// Distinct sources: HyperLogLog++ at the crate's default precision 12 with 6-bit registers
    /// (3 KiB once a listener has seen more than [`LIST_MAX`](super::distinct::LIST_MAX) sources or an estimate beyond 128
    /// was asked for, a list of hashes before that), hashed by WyHash with a fixed seed so
    /// estimates are reproducible.
    distinct: Distinct,
    /// Space-Saving counters, grown up to [`HEAVY`] (a listener with few sources holds few).
    heavy: Counts,
    /// The source each counter counts.
    keys: Keys,
    /// The counters (bit i for `heavy[i]`) known to hold the least count, `least`; empty when
    /// it must be found again. A counter leaves it when counted again, so finding the least
    /// counter scans all of them once per [`HEAVY`] replacements at most in a spoofed flood.
    at_least: u64,
    least: u64,
    /// Attempts counted.
    total: u64,
    /// The sources are IPv6 addresses (a listener's sources share its family): how a
    /// counter's key reads back.
    v6: bool,
    /// The counts are in wide words ([`Counts`]).
    wide: bool,
}

impl Sources {
    /// Bytes this listener's source bookkeeping holds on the heap (at most [`MAX_HEAP_BYTES`]).
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.distinct.heap_bytes() + self.heavy.heap_bytes() + self.keys.heap_bytes()
    }

    /// Counts one attempt from `src`.
    pub(super) fn see(&mut self, src: IpAddr) {
        self.total += 1;
        if self.total > u64::from(u32::MAX) && !self.wide {
            self.heavy = self.heavy.widened();
            self.wide = true;
        }
        let wide = self.wide;
        self.v6 = src.is_ipv6();
        let k = key(src);
        if let Some(i) = self.keys.find(&k) {
            // A source with a counter was inserted into the estimate when it got the counter.
            self.at_least &= !(1 << i);
            self.heavy.bump(wide, i);
            return;
        }
        self.distinct.insert(&k);
        if self.heavy.len(wide) < HEAVY {
            self.keys.push(k);
            self.heavy.set(wide, None, Counter { count: 1, over: 0 });
            return;
        }
        if self.at_least == 0 {
            self.least = self.heavy.iter(wide).map(|c| c.count).min().unwrap_or(0);
            for (i, c) in self.heavy.iter(wide).enumerate() {
                self.at_least |= u64::from(c.count == self.least) << i;
            }
        }
        // Space-Saving: the new source takes the least counter over (the first of them),
        // inheriting its count as the bound on its own over-count.
        let i = self.at_least.trailing_zeros() as usize;
        self.at_least &= !(1 << i);
        let count = self.least;
        self.keys.set(i, k);
        self.heavy.set(
            wide,
            Some(i),
            Counter {
                count: count + 1,
                over: count,
            },
        );
    }

    /// The source counter `i` counts.
    fn addr(&self, i: usize) -> IpAddr {
        let v6 = Ipv6Addr::from(self.keys.get(i));
        match v6.to_ipv4_mapped() {
            Some(v4) if !self.v6 => IpAddr::V4(v4),
            _ => IpAddr::V6(v6),
        }
    }

    /// Distinct sources: exact up to 128, then a HyperLogLog++ estimate within
    /// ±[`DISTINCT_STD_ERROR`] (one standard error).
    pub(super) fn distinct(&mut self) -> u64 {
        self.distinct.estimate()
    }

    /// Whether [`Sources::distinct`] is exact (at most 128 sources, kept as a list).
    pub(super) fn distinct_is_exact(&mut self) -> bool {
        self.distinct() <= EXACT_MAX as u64
    }

    /// The most any Space-Saving counter over-counts (0 while every source has its own counter).
    pub(super) fn max_overcount(&self) -> u64 {
        if self.heavy.len(self.wide) < HEAVY {
            0
        } else {
            self.heavy
                .iter(self.wide)
                .map(|c| c.count)
                .min()
                .unwrap_or(0)
        }
    }

    /// The busiest sources whose attempts are known within a factor of two: at least one
    /// attempt is certain, and the certain part (count minus over-count) is at least the
    /// over-count. Busiest first, as `[{addr, attempts_max, attempts_min}]`.
    pub(super) fn top(&self) -> Value {
        let mut v: Vec<(usize, Counter)> = (self.heavy.iter(self.wide).enumerate())
            .filter(|(_, c)| c.count > c.over && c.count - c.over >= c.over)
            .collect();
        v.sort_by(|(i, a), (j, b)| {
            (b.count - b.over)
                .cmp(&(a.count - a.over))
                .then(b.count.cmp(&a.count))
                .then(self.keys.get(*i).cmp(&self.keys.get(*j)))
        });
        Value::List(
            v.into_iter()
                .take(REPORTED)
                .map(|(i, c)| {
                    Value::Map(vec![
                        ("addr", Value::Text(self.addr(i).to_string())),
                        ("attempts_max", c.count.into()),
                        ("attempts_min", (c.count - c.over).into()),
                    ])
                })
                .collect(),
        )
    }
}

/// The address as 16 bytes (IPv4 mapped into IPv6), so both families hash alike.
pub(super) fn key(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> IpAddr {
        IpAddr::from((0xc000_0200u32 + i).to_be_bytes())
    }

    fn addr6(i: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv6Addr::from(
            (0x2001_0db8_u128 << 96) + u128::from(i),
        ))
    }

    fn top(s: &Sources) -> Vec<Value> {
        let Value::List(top) = s.top() else {
            panic!("top is a list")
        };
        top
    }

    #[test]
    fn few_sources_are_counted_exactly_and_the_busiest_come_first() {
        let mut s = Sources::default();
        assert_eq!(s.distinct(), 0);
        for i in 0..5 {
            for _ in 0..=i {
                s.see(addr(i));
            }
        }
        assert_eq!(s.distinct(), 5);
        assert!(s.distinct_is_exact());
        assert_eq!(s.max_overcount(), 0);
        let top = top(&s);
        assert_eq!(top.len(), 5);
        assert_eq!(
            top[0],
            Value::Map(vec![
                ("addr", Value::Text("192.0.2.4".into())),
                ("attempts_max", Value::U64(5)),
                ("attempts_min", Value::U64(5)),
            ])
        );
    }

    #[test]
    fn a_listener_with_150_sources_keeps_them_in_a_kibibyte() {
        let mut s = Sources::default();
        for i in 0..150 {
            s.see(addr(i));
        }
        // 150 hashes of 4 bytes in a list grown by quarters to 150 places (doubling would
        // have made 256), not 3 KiB of registers.
        assert_eq!(s.distinct.heap_bytes(), 600);
        for i in 150..LIST_MAX as u32 {
            s.see(addr(i));
        }
        assert!(s.distinct.heap_bytes() <= SKETCH_BYTES);
        assert!(matches!(s.distinct, Distinct::List(_)));
        s.see(addr(LIST_MAX as u32));
        assert!(matches!(s.distinct, Distinct::Sketch(_)));
        // Asking for more than 128 makes the registers at once: asking again costs nothing.
        let mut s = Sources::default();
        for i in 0..150 {
            s.see(addr(i));
        }
        let n = s.distinct();
        assert!(!s.distinct_is_exact());
        assert!(matches!(s.distinct, Distinct::Sketch(_)));
        assert_eq!(s.distinct(), n);
    }

    /// The counts are kept in 4 bytes until the attempts pass `u32::MAX`, then widened with
    /// every count kept, and a count beyond `u32` is kept exactly.
    #[test]
    fn counters_widen_before_a_count_could_pass_u32() {
        let mut s = Sources::default();
        for i in 0..100 {
            s.see(addr(i % 70));
        }
        assert!(!s.wide);
        assert_eq!(s.heavy.heap_bytes(), 64 * 8);
        let i = s.keys.find(&key(addr(0))).unwrap();
        let mut want: Vec<Counter> = s.heavy.iter(false).collect();
        s.total = u64::from(u32::MAX) - 1;
        s.see(addr(0));
        assert!(!s.wide, "at u32::MAX attempts");
        s.see(addr(0));
        assert!(s.wide, "past u32::MAX attempts");
        want[i].count += 2;
        assert_eq!(s.heavy.iter(true).collect::<Vec<_>>(), want);
        let big = Counter {
            count: (1 << 40) + 7,
            over: (1 << 33) + 3,
        };
        s.heavy.set(true, Some(i), big);
        assert_eq!(s.heavy.get(true, i), big);
        s.heavy.bump(true, i);
        assert_eq!(s.heavy.get(true, i).count, (1 << 40) + 8);
    }

    #[test]
    fn sources_read_back_in_their_listeners_family() {
        assert_eq!(std::mem::size_of::<Counter>(), 16);
        let mut s = Sources::default();
        // An IPv4-mapped address on an IPv6 listener stays an IPv6 address.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let plain: IpAddr = "2001:db8::1".parse().unwrap();
        for a in [mapped, mapped, plain] {
            s.see(a);
        }
        let names: Vec<Value> = top(&s)
            .into_iter()
            .map(|e| match e {
                Value::Map(m) => m[0].1.clone(),
                other => panic!("an entry is a map: {other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                Value::Text("::ffff:192.0.2.1".into()),
                Value::Text("2001:db8::1".into())
            ]
        );
    }

    #[test]
    fn a_spoofed_flood_names_no_source_and_estimates_the_rest_within_the_error() {
        let mut s = Sources::default();
        for i in 0..40_000 {
            s.see(addr(i));
        }
        // Every source sent one attempt: no counter has a certain part above its over-count.
        assert!(top(&s).is_empty(), "{:?}", s.top());
        assert!(s.max_overcount() <= 40_000 / HEAVY as u64);
        let n = s.distinct() as f64;
        assert!(!s.distinct_is_exact());
        assert!(
            (n - 40_000.0).abs() <= 3.0 * DISTINCT_STD_ERROR * 40_000.0,
            "estimated {n} of 40000"
        );
    }

    #[test]
    fn a_listener_never_holds_more_than_its_reserve() {
        let most = |addr: fn(u32) -> IpAddr| {
            let mut s = Sources::default();
            let mut most = 0;
            for i in 0..100_000 {
                s.see(addr(i));
                s.see(addr(i / 3));
                most = most.max(s.heap_bytes());
            }
            most
        };
        let (v4, v6) = (most(addr), most(addr6));
        assert!(v6 <= MAX_HEAP_BYTES, "{v6} > {MAX_HEAP_BYTES}");
        // The reserve is what a flood's listener takes, not a multiple of it.
        assert!(v6 * 10 >= MAX_HEAP_BYTES * 9, "{v6} of {MAX_HEAP_BYTES}");
        // IPv4 sources take 12 bytes less a counter.
        assert_eq!(v6 - v4, HEAVY * 12);
    }

    #[test]
    fn a_heavy_source_in_a_spoofed_flood_is_named_with_its_bounds() {
        let mut s = Sources::default();
        let heavy = addr(1_000_000);
        for i in 0..20_000 {
            s.see(addr(i));
            if i % 4 == 0 {
                s.see(heavy);
            }
        }
        let top = top(&s);
        assert_eq!(top.len(), 1, "{top:?}");
        let Value::Map(m) = &top[0] else {
            panic!("an entry is a map")
        };
        assert_eq!(m[0].1, Value::Text(heavy.to_string()));
        let (Value::U64(max), Value::U64(min)) = (&m[1].1, &m[2].1) else {
            panic!("bounds are numbers")
        };
        // The true count (5,000) lies between the bounds.
        assert!(*min <= 5_000 && 5_000 <= *max, "{min}..{max}");
    }

    proptest::proptest! {
        /// The counters are those of the textbook algorithm (a linear search for the source, the
        /// first least counter replaced) whatever the stream: the index and the least-counter
        /// set only make it faster.
        #[test]
        fn counters_match_the_textbook_space_saving(
            stream in proptest::collection::vec(0u32..400, 0..3_000),
            v6_from in 0usize..4_000,
        ) {
            let mut s = Sources::default();
            // (source, count, over-count)
            let mut naive: Vec<([u8; 16], u64, u64)> = Vec::new();
            for (n, &i) in stream.iter().enumerate() {
                // IPv4 sources, then (from some point on, if at all) IPv6 ones as well: the
                // counters' keys widen without changing what they count.
                let pick = i % 7 * 50 + i % 61;
                let src = if n >= v6_from && i % 2 == 0 { addr6(pick) } else { addr(pick) };
                s.see(src);
                if let Some(c) = naive.iter_mut().find(|c| c.0 == key(src)) {
                    c.1 += 1;
                } else if naive.len() < HEAVY {
                    naive.push((key(src), 1, 0));
                } else if let Some(c) = naive.iter_mut().min_by_key(|c| c.1) {
                    *c = (key(src), c.1 + 1, c.1);
                }
            }
            let counters: Vec<_> = (s.heavy.iter(s.wide).enumerate())
                .map(|(i, c)| (s.keys.get(i), c.count, c.over))
                .collect();
            proptest::prop_assert_eq!(counters, naive);
            proptest::prop_assert_eq!(matches!(s.keys, Keys::V6(_)), v6_from < stream.len() && stream[v6_from..].iter().any(|i| i % 2 == 0));
        }
    }
}

//! Who is sending a listener its attempts, in fixed memory whatever the number of (often
//! spoofed) addresses in a flood: the number of distinct sources by HyperLogLog++ (an estimate
//! with a stated error) and the busiest sources by Space-Saving (each with a guaranteed bound on
//! how much it may be over-counted).

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};

use hashbrown::HashTable;

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

/// The most [`Sources::heap_bytes`] can be, whatever the attempts: the estimate's registers,
/// [`HEAVY`] counters and their index's 256 buckets with its control bytes (64 entries need
/// 128, but hashbrown doubles a table that runs out of room to deleted markers while more than
/// half full, and Space-Saving replaces counters at every new source once all are taken).
/// Charged for every listener from its first attempt, so that listeners already tracked can
/// never grow their state past the memory bound.
pub(super) const MAX_HEAP_BYTES: usize =
    SKETCH_BYTES + HEAVY * std::mem::size_of::<Counter>() + 256 * 2 + 16;

/// Sources reported in an anomaly's detail.
const REPORTED: usize = 8;

/// One Space-Saving counter: a source, its counted attempts and how many of them may belong to
/// the sources it replaced. The source is kept as its 16-byte [`key`] (32 bytes a counter, not
/// the 40 an `IpAddr` takes with its tag): a flood to random ports fills 65,536 listeners'
/// counters.
#[derive(Clone, Copy, Debug)]
struct Counter {
    key: [u8; 16],
    count: u64,
    over: u64,
}

/// The sources of one listener's attempts.
#[derive(Clone, Debug, Default)]
pub(super) struct Sources {
    /// Distinct sources: HyperLogLog++ at the crate's default precision 12 with 6-bit registers
    /// (3 KiB once a listener has seen more than [`LIST_MAX`] sources or an estimate beyond 128
    /// was asked for, a list of hashes before that), hashed by WyHash with a fixed seed so
    /// estimates are reproducible.
    distinct: Distinct,
    /// Space-Saving counters, grown up to [`HEAVY`] (a listener with few sources holds few).
    heavy: Vec<Counter>,
    /// Which counter each source in `heavy` has, hashed by its [`key`], so that counting an
    /// attempt is one lookup however many counters there are. One byte per entry (the counter's
    /// position), not the 16-byte key and a word: a flood to random ports fills 65,536
    /// listeners' tables, where a map of keys took 3 KiB each.
    slot: HashTable<u8>,
    hasher: foldhash::fast::FixedState,
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
}

impl Sources {
    /// Bytes this listener's source bookkeeping holds on the heap (at most [`MAX_HEAP_BYTES`]).
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        self.distinct.heap_bytes()
            + self.heavy.capacity() * std::mem::size_of::<Counter>()
            + crate::wire::table_bytes(self.slot.capacity(), std::mem::size_of::<u8>())
    }

    /// The counter of the source with key `k`, hashed `h`.
    fn find(&self, h: u64, k: &[u8; 16]) -> Option<usize> {
        let heavy = &self.heavy;
        self.slot
            .find(h, |&i| heavy[i as usize].key == *k)
            .map(|&i| i as usize)
    }

    /// Files counter `i` under hash `h`.
    fn file(&mut self, h: u64, i: usize) {
        let (heavy, hasher) = (&self.heavy, &self.hasher);
        self.slot
            .insert_unique(h, i as u8, |&j| hasher.hash_one(heavy[j as usize].key));
    }

    /// Counts one attempt from `src`.
    pub(super) fn see(&mut self, src: IpAddr) {
        self.total += 1;
        self.v6 = src.is_ipv6();
        let k = key(src);
        let h = self.hasher.hash_one(k);
        if let Some(i) = self.find(h, &k) {
            // A source with a counter was inserted into the estimate when it got the counter.
            self.at_least &= !(1 << i);
            self.heavy[i].count += 1;
            return;
        }
        self.distinct.insert(&k);
        if self.heavy.len() < HEAVY {
            self.file(h, self.heavy.len());
            self.heavy.push(Counter {
                key: k,
                count: 1,
                over: 0,
            });
            return;
        }
        if self.at_least == 0 {
            self.least = self.heavy.iter().map(|c| c.count).min().unwrap_or(0);
            for (i, c) in self.heavy.iter().enumerate() {
                self.at_least |= u64::from(c.count == self.least) << i;
            }
        }
        // Space-Saving: the new source takes the least counter over (the first of them),
        // inheriting its count as the bound on its own over-count.
        let i = self.at_least.trailing_zeros() as usize;
        self.at_least &= !(1 << i);
        let count = self.least;
        let old = self.heavy[i].key;
        let old_h = self.hasher.hash_one(old);
        if let Ok(e) = self.slot.find_entry(old_h, |&j| j as usize == i) {
            e.remove();
        }
        self.heavy[i] = Counter {
            key: k,
            count: count + 1,
            over: count,
        };
        self.file(h, i);
    }

    /// The source counter `c` counts.
    fn addr(&self, c: &Counter) -> IpAddr {
        let v6 = Ipv6Addr::from(c.key);
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
        if self.heavy.len() < HEAVY {
            0
        } else {
            self.heavy.iter().map(|c| c.count).min().unwrap_or(0)
        }
    }

    /// The busiest sources whose attempts are known within a factor of two: at least one
    /// attempt is certain, and the certain part (count minus over-count) is at least the
    /// over-count. Busiest first, as `[{addr, attempts_max, attempts_min}]`.
    pub(super) fn top(&self) -> Value {
        let mut v: Vec<&Counter> = self
            .heavy
            .iter()
            .filter(|c| c.count > c.over && c.count - c.over >= c.over)
            .collect();
        v.sort_by(|a, b| {
            (b.count - b.over)
                .cmp(&(a.count - a.over))
                .then(b.count.cmp(&a.count))
                .then(a.key.cmp(&b.key))
        });
        Value::List(
            v.into_iter()
                .take(REPORTED)
                .map(|c| {
                    Value::Map(vec![
                        ("addr", Value::Text(self.addr(c).to_string())),
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
    fn a_listener_with_a_few_hundred_sources_keeps_them_in_a_kibibyte() {
        let mut s = Sources::default();
        for i in 0..150 {
            s.see(addr(i));
        }
        // 150 hashes of 4 bytes in a list grown to 256, not 3 KiB of registers.
        assert_eq!(s.distinct.heap_bytes(), 1_024);
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

    #[test]
    fn sources_read_back_in_their_listeners_family() {
        assert_eq!(std::mem::size_of::<Counter>(), 32);
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
        let mut s = Sources::default();
        let mut most = 0;
        for i in 0..100_000 {
            s.see(addr(i));
            s.see(addr(i / 3));
            most = most.max(s.heap_bytes());
        }
        assert!(most <= MAX_HEAP_BYTES, "{most} > {MAX_HEAP_BYTES}");
        // The reserve is what a flood's listener takes, not a multiple of it.
        assert!(
            most * 10 >= MAX_HEAP_BYTES * 9,
            "{most} of {MAX_HEAP_BYTES}"
        );
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
        fn counters_match_the_textbook_space_saving(stream in proptest::collection::vec(0u32..400, 0..3_000)) {
            let mut s = Sources::default();
            let mut naive: Vec<Counter> = Vec::new();
            for &i in &stream {
                let src = addr(i % 7 * 50 + i % 61);
                s.see(src);
                if let Some(c) = naive.iter_mut().find(|c| c.key == key(src)) {
                    c.count += 1;
                } else if naive.len() < HEAVY {
                    naive.push(Counter { key: key(src), count: 1, over: 0 });
                } else if let Some(c) = naive.iter_mut().min_by_key(|c| c.count) {
                    *c = Counter { key: key(src), count: c.count + 1, over: c.count };
                }
            }
            let key = |c: &Counter| (c.key, c.count, c.over);
            proptest::prop_assert_eq!(
                s.heavy.iter().map(key).collect::<Vec<_>>(),
                naive.iter().map(key).collect::<Vec<_>>()
            );
        }
    }
}

//! Who is sending a listener its attempts: an estimate of the distinct sources and the busiest
//! few, in fixed memory whatever the number of (often spoofed) addresses in a flood.

use std::net::IpAddr;

use crate::detect::Value;

/// Sources remembered by count ("space-saving": a new source replaces the least counted one).
const TOP: usize = 8;
/// Bits of the distinct-source bitmap (512 bytes, allocated at a listener's first attempt).
const SKETCH_BITS: usize = 4096;

/// The sources of one listener's attempts.
#[derive(Clone, Debug, Default)]
pub(super) struct Sources {
    /// One bit per hashed address, for linear counting.
    sketch: Option<Box<[u64; SKETCH_BITS / 64]>>,
    /// The busiest sources and their (over-)estimated attempt counts.
    top: [(Option<IpAddr>, u64); TOP],
}

impl Sources {
    /// Counts one attempt from `src`.
    pub(super) fn see(&mut self, src: IpAddr) {
        let sketch = self
            .sketch
            .get_or_insert_with(|| Box::new([0; SKETCH_BITS / 64]));
        let h = hash_ip(src) as usize % SKETCH_BITS;
        sketch[h / 64] |= 1 << (h % 64);
        if let Some(e) = self.top.iter_mut().find(|e| e.0 == Some(src)) {
            e.1 += 1;
        } else if let Some(e) = self.top.iter_mut().find(|e| e.0.is_none()) {
            *e = (Some(src), 1);
        } else if let Some(e) = self.top.iter_mut().min_by_key(|e| e.1) {
            *e = (Some(src), e.1 + 1);
        }
    }

    /// Distinct sources, by linear counting over the bitmap (exact for small counts).
    pub(super) fn distinct(&self) -> u64 {
        let Some(s) = &self.sketch else { return 0 };
        let zeros: u32 = s.iter().map(|w| w.count_zeros()).sum();
        let m = SKETCH_BITS as f64;
        if zeros == 0 {
            return SKETCH_BITS as u64;
        }
        (-m * (zeros as f64 / m).ln()).round() as u64
    }

    /// The busiest sources, most attempts first, as `[{addr, attempts}]`.
    pub(super) fn top(&self) -> Value {
        let mut v: Vec<_> = self
            .top
            .iter()
            .filter_map(|(a, n)| a.map(|a| (a, *n)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Value::List(
            v.into_iter()
                .map(|(a, n)| {
                    Value::Map(vec![
                        ("addr", Value::Text(a.to_string())),
                        ("attempts", n.into()),
                    ])
                })
                .collect(),
        )
    }
}

fn hash_ip(a: IpAddr) -> u64 {
    let bytes = match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    };
    // FNV-1a: deterministic, so the estimate does not change between runs.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> IpAddr {
        IpAddr::from((0xc000_0200u32 + i).to_be_bytes())
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
        let Value::List(top) = s.top() else {
            panic!("top is a list")
        };
        assert_eq!(top.len(), 5);
        assert_eq!(
            top[0],
            Value::Map(vec![
                ("addr", Value::Text("192.0.2.4".into())),
                ("attempts", Value::U64(5)),
            ])
        );
    }

    #[test]
    fn many_sources_keep_a_fixed_top_and_a_close_estimate() {
        let mut s = Sources::default();
        for i in 0..1000 {
            s.see(addr(i));
        }
        let Value::List(top) = s.top() else {
            panic!("top is a list")
        };
        assert_eq!(top.len(), TOP);
        // An estimate (FNV over consecutive addresses is not a perfect hash): within 20%.
        let n = s.distinct();
        assert!((800..=1200).contains(&n), "estimated {n} of 1000");
    }
}

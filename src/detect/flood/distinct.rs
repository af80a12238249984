//! How many distinct sources a listener's attempts came from: exact while few, then the
//! HyperLogLog++ estimate of Cloudflare's cardinality-estimator (precision 12, a 1.6% standard
//! error), kept as a list of 4-byte hashes until the estimate's 3 KiB of registers are needed.

use std::hash::{BuildHasher, BuildHasherDefault};

use cardinality_estimator::CardinalityEstimator;

/// Bytes of the distinct-source estimate at its largest: HyperLogLog++ registers at precision
/// 12 (4,096 of 6 bits, and 3 words of bookkeeping: 771 words) and the pointer to them.
pub(super) const SKETCH_BYTES: usize = (4096 * 6 / 32 + 3) * 4 + 8;

/// Distinct sources kept as a list of the estimate's encoded hashes before the
/// HyperLogLog++ registers are made: 4 bytes a source, so the list stays below the registers' 3 KiB
/// ([`SKETCH_BYTES`]) up to here. A flood to random ports gives 65,536 listeners about 150
/// sources each; as registers that was 200 MB, as lists it is about 65 MB.
pub(super) const LIST_MAX: usize = 768;
const _: () = assert!(LIST_MAX * 4 <= SKETCH_BYTES);

/// The estimate's sources are exact up to here (the crate keeps a list of hashes), its
/// registers' estimate beyond.
pub(super) const EXACT_MAX: usize = 128;

/// The crate's precision and register width (its defaults): the encoding below is its own.
const P: u32 = 12;
const W: u32 = 6;

/// A source's hash as the estimate encodes it (cardinality-estimator's `encode_hash`): the
/// hash's low 25 bits and the rank of its bits above the precision. Two sources whose encodings
/// are equal count once, in the crate's list as in its registers.
fn encode(hash: u64) -> u32 {
    let idx = (hash as u32) & ((1 << (32 - W - 1)) - 1);
    let rank = (!hash >> P).trailing_zeros() + 1;
    (idx << W) | rank
}

/// A hash that [`encode`]s to `e`, so a listed source can be handed to the registers: the low
/// 25 bits are the encoding's, and the run of one bits from bit 12 that the rank counts is
/// continued above bit 24 when the low bits cannot hold it. (The one hash in 2^52 whose bits
/// above the precision are all ones overflows the crate's 6-bit rank into its index; its
/// encoding decodes to another hash, as the crate itself files it under another register.)
fn decode(e: u32) -> u64 {
    let idx = u64::from(e >> W);
    let ones = (e & ((1 << W) - 1)).saturating_sub(1);
    let low_ones = 32 - W - 1 - P;
    if ones <= low_ones {
        idx
    } else {
        idx | (((1u64 << (ones - low_ones)) - 1) << (32 - W - 1))
    }
}

/// The estimator's hasher, applied the way it applies it, so a listed source's hash is the one
/// the crate would have computed.
fn hash(k: &[u8; 16]) -> u64 {
    BuildHasherDefault::<wyhash::WyHash>::default().hash_one(k)
}

/// A listener's distinct sources: their encoded hashes in the order first seen while few; the
/// HyperLogLog++ registers past [`LIST_MAX`], or once an estimate of more than 128 is asked for
/// (then the registers are made from the list, so asking again costs nothing). The estimate is
/// the crate's in both forms: a list of up to 128 is its count, and the registers are made by
/// inserting in the order the sources came. (The registers keep maxima, which no order changes,
/// but the crate keeps their harmonic sum as an `f32` updated at each insertion, whose rounding
/// the order can change: the same order gives the same estimate to the last digit.)
#[derive(Clone, Debug)]
pub(super) enum Distinct {
    /// The encoded hashes, each once, in the order their sources first came.
    List(Vec<u32>),
    /// The registers.
    Sketch(CardinalityEstimator<[u8; 16]>),
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct::List(Vec::new())
    }
}

impl Distinct {
    /// Registers made from `hashes`.
    fn sketch(hashes: &[u32]) -> CardinalityEstimator<[u8; 16]> {
        let mut s = CardinalityEstimator::new();
        for &e in hashes {
            s.insert_hash(decode(e));
        }
        s
    }

    /// Counts the source whose [`super::sources::key`] is `k`.
    pub(super) fn insert(&mut self, k: &[u8; 16]) {
        let h = hash(k);
        match self {
            Distinct::Sketch(s) => s.insert_hash(h),
            Distinct::List(hashes) => {
                let e = encode(h);
                if hashes.contains(&e) {
                    return;
                }
                if hashes.len() == LIST_MAX {
                    let mut s = Self::sketch(hashes);
                    s.insert_hash(h);
                    *self = Distinct::Sketch(s);
                    return;
                }
                if hashes.len() == hashes.capacity() {
                    // By a quarter (at least 8), never past the list's largest: a flood to
                    // random ports leaves 65,536 lists of about 150, and doubling left 40% of
                    // each unused (256 places for 150: 26 MB in all).
                    let cap = hashes.capacity();
                    let want = (cap + (cap / 4).max(8)).min(LIST_MAX);
                    hashes.reserve_exact(want - hashes.len());
                }
                hashes.push(e);
            }
        }
    }

    /// The number of distinct sources: exact up to [`EXACT_MAX`], the registers' estimate
    /// beyond (made now from the list if need be, and kept).
    pub(super) fn estimate(&mut self) -> u64 {
        match self {
            Distinct::Sketch(s) => s.estimate() as u64,
            Distinct::List(hashes) if hashes.len() <= EXACT_MAX => hashes.len() as u64,
            Distinct::List(hashes) => {
                let s = Self::sketch(hashes);
                let n = s.estimate() as u64;
                *self = Distinct::Sketch(s);
                n
            }
        }
    }

    /// Bytes held on the heap.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Distinct::Sketch(s) => s.size_of(),
            Distinct::List(hashes) => hashes.capacity() * 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::flood::sources::key;
    use crate::testutil::Rng;
    use std::net::IpAddr;

    fn addr(i: u32) -> IpAddr {
        IpAddr::from((0xc000_0200u32 + i).to_be_bytes())
    }

    #[test]
    fn the_list_of_sources_estimates_what_the_crate_estimates_at_every_size() {
        // Encoding and decoding agree on hashes of every rank, the long runs of ones included.
        // (A hash whose 52 bits above the precision are all ones overflows the crate's rank
        // field; one in 2^52, and the crate mixes it into another register itself.)
        for h in [
            0,
            u64::MAX >> 1,
            0x01ff_f000,
            0x7fff_ffff_ffff_f000,
            0x0000_00ff_ffff_f123,
        ] {
            assert_eq!(encode(decode(encode(h))), encode(h), "{h:#x}");
        }
        // Sources coming back as well as new ones.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let stream: Vec<[u8; 16]> = (0..3_000u32)
            .map(|i| {
                key(addr(if rng.next().is_multiple_of(4) {
                    i / 2
                } else {
                    i
                }))
            })
            .collect();
        let mut crate_own = CardinalityEstimator::<[u8; 16]>::new();
        let mut asked_each_time = Distinct::default();
        for (i, k) in stream.iter().enumerate() {
            assert_eq!(encode(decode(encode(hash(k)))), encode(hash(k)));
            crate_own.insert(k);
            asked_each_time.insert(k);
            let expected = crate_own.estimate() as u64;
            assert_eq!(asked_each_time.estimate(), expected, "after {i}");
            // Asked only now: a list of every size up to the largest, then the registers.
            if i % 97 == 0 || (120..140).contains(&i) || (760..790).contains(&i) {
                let mut asked_once = Distinct::default();
                for k in &stream[..=i] {
                    asked_once.insert(k);
                }
                assert_eq!(asked_once.estimate(), expected, "after {i}");
            }
        }
        assert!(matches!(asked_each_time, Distinct::Sketch(_)));
    }
}

//! A listener's attempts by second of capture time, over the longest window its rates and
//! ratios look at.

use crate::time::Timestamp;

/// Seconds of history kept: the longest window the rates and ratios can look at.
pub(super) const BUCKETS: usize = 16;

/// Attempts within one second of capture time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Bucket {
    pub(super) sec: i64,
    /// The first attempt's SYN in this second, as nanoseconds past the second ([`NO_SYN`]:
    /// none yet): a bucket takes 24 bytes so, 32 with an optional timestamp, and there are 16
    /// a listener and up to 65,536 listeners.
    first_ns: u32,
    pub(super) attempts: u32,
    pub(super) completions: u32,
    pub(super) aggregated: u32,
}

/// [`Bucket::first_ns`] of a second without an attempt.
const NO_SYN: u32 = u32::MAX;

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            sec: 0,
            first_ns: NO_SYN,
            attempts: 0,
            completions: 0,
            aggregated: 0,
        }
    }
}

impl Bucket {
    /// The first attempt's SYN in this second.
    pub(super) fn first(&self) -> Option<Timestamp> {
        (self.first_ns != NO_SYN)
            .then(|| Timestamp::from_secs_nanos(self.sec, i64::from(self.first_ns)))
    }

    /// An attempt's SYN at `ts`, within this bucket's second.
    pub(super) fn note_syn(&mut self, ts: Timestamp) {
        if self.first_ns == NO_SYN {
            // In 0..1e9: fits, and is never NO_SYN.
            self.first_ns = ts.subsec_nanos() as u32;
        }
    }
}

/// A listener's buckets, one a second over the last [`BUCKETS`] seconds, second `sec` in slot
/// `sec % BUCKETS`. Most listeners of a flood to many addresses see one attempt, in one
/// second, and 65,536 may be tracked at once: until a listener needs a second slot, its one
/// bucket is kept inline, and the slots are boxed from then on (384 bytes a listener).
#[derive(Clone, Debug)]
pub(super) enum Buckets {
    /// This bucket in its second's slot, every other slot empty (the default bucket).
    One(Bucket),
    /// Every slot.
    All(Box<[Bucket; BUCKETS]>),
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::One(Bucket::default())
    }
}

/// The slot of second `sec`.
pub(super) fn slot_of(sec: i64) -> usize {
    sec.rem_euclid(BUCKETS as i64) as usize
}

impl Buckets {
    /// The second slot `slot` holds (0 when it is empty, as the default bucket says).
    pub(super) fn sec_in(&self, slot: usize) -> i64 {
        match self {
            Buckets::One(b) if slot_of(b.sec) == slot => b.sec,
            Buckets::One(_) => Bucket::default().sec,
            Buckets::All(all) => all[slot].sec,
        }
    }

    /// The buckets that may hold anything: an empty slot counts nothing and has no SYN.
    pub(super) fn held(&self) -> &[Bucket] {
        match self {
            Buckets::One(b) => std::slice::from_ref(b),
            Buckets::All(all) => &all[..],
        }
    }

    /// The bucket of second `sec`, emptied first if its slot last held another second.
    pub(super) fn of(&mut self, sec: i64) -> &mut Bucket {
        let slot = slot_of(sec);
        if let Buckets::One(b) = self
            && slot_of(b.sec) != slot
            && *b != Bucket::default()
        {
            let mut all = Box::new([Bucket::default(); BUCKETS]);
            all[slot_of(b.sec)] = *b;
            *self = Buckets::All(all);
        }
        let b = match self {
            // Its own slot, or an empty bucket, which may stand for any slot.
            Buckets::One(b) => b,
            Buckets::All(all) => &mut all[slot],
        };
        if b.sec != sec {
            *b = Bucket {
                sec,
                ..Bucket::default()
            };
        }
        b
    }

    /// Bytes the boxed slots take, with the allocator's header, when they are boxed.
    pub(super) const BOXED_BYTES: usize = std::mem::size_of::<[Bucket; BUCKETS]>() + 16;

    /// Bytes they take on the heap.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Buckets::One(_) => 0,
            Buckets::All(_) => Self::BOXED_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BUCKETS, Bucket, Buckets, slot_of};
    use crate::testutil::Rng;

    /// The slots as an array, as they were held before one bucket was kept inline.
    struct Array([Bucket; BUCKETS]);

    impl Array {
        fn of(&mut self, sec: i64) -> &mut Bucket {
            let b = &mut self.0[slot_of(sec)];
            if b.sec != sec {
                *b = Bucket {
                    sec,
                    ..Bucket::default()
                };
            }
            b
        }
    }

    /// Whatever seconds come, in any order (older ones included, negative ones too), the
    /// buckets read as the plain array of slots reads: every slot's second, and every bucket
    /// that holds anything. One bucket stays inline until a second slot is needed.
    #[test]
    fn buckets_read_as_the_array_of_slots() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        // Per run: the first second, how far the seconds spread, the step its slots were
        // boxed at.
        let mut boxed = Vec::new();
        for run in 0..300 {
            let (base, spread) = [(0i64, 1u64), (1_700_000_000, 3), (-40, 40)][run % 3];
            let (mut b, mut a) = (Buckets::default(), Array([Bucket::default(); BUCKETS]));
            let mut boxed_at = None;
            for step in 0..60i64 {
                let seed = rng.next();
                // Within `spread` seconds of a clock moving one second every 20 steps.
                let sec = base + step / 20 + (seed % spread) as i64;
                let what = (seed >> 32) % 3;
                for x in [b.of(sec), a.of(sec)] {
                    match what {
                        0 => x.attempts += 1,
                        1 => x.completions += 1,
                        _ => {}
                    }
                }
                for slot in 0..BUCKETS {
                    assert_eq!(b.sec_in(slot), a.0[slot].sec, "run {run} step {step}");
                }
                let nonempty = |x: &&Bucket| **x != Bucket::default();
                let mut held: Vec<Bucket> = b.held().iter().filter(nonempty).copied().collect();
                let mut want: Vec<Bucket> = a.0.iter().filter(nonempty).copied().collect();
                held.sort_by_key(|x| x.sec);
                want.sort_by_key(|x| x.sec);
                assert_eq!(held, want, "run {run} step {step}");
                if boxed_at.is_none() && matches!(b, Buckets::All(_)) {
                    boxed_at = Some(step);
                }
            }
            boxed.push((spread, boxed_at));
        }
        // Seconds one at a time never box the slots before the second second; spread ones do.
        assert!(
            boxed
                .iter()
                .filter(|b| b.0 == 1)
                .all(|b| b.1.is_none_or(|s| s >= 20))
        );
        assert!(boxed.iter().filter(|b| b.0 == 40).all(|b| b.1 < Some(20)));
    }
}

//! Zeek's log-scale history counters: a repeated event (retransmission, zero window, bad
//! checksum, content gap) adds its history letter at the 1st, 10th, 100th … occurrence only, so
//! a long, lossy connection shows a few `T`s rather than thousands
//! (`Session::ScaledHistoryEntry`, and the `*_cnt`/`*_thresh` pairs of `TCP_Endpoint`).

/// The events an endpoint counts on a log scale, each with its letter.
#[derive(Clone, Copy, Debug)]
pub(super) enum Counter {
    /// Retransmissions, the `T` letter (`rxmt_cnt`/`rxmt_thresh`).
    Retransmission,
    /// Zero windows, the `W` letter (`win0_cnt`/`win0_thresh`).
    ZeroWindow,
    /// Bad checksums, the `C` letter (`chk_cnt`/`chk_thresh`).
    BadChecksum,
    /// Content gaps, the `G` letter (`gap_cnt`/`gap_thresh`).
    Gap,
}

/// The thresholds a count passes in turn: Zeek multiplies the threshold by 10 at each, which
/// saturates here (Zeek's multiplication wraps: the two part only after 10^9 occurrences).
const THRESHOLDS: [u32; 11] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    u32::MAX,
];

/// One endpoint's log-scale counters, one per [`Counter`]: each count since its last reset
/// (Zeek's `*_cnt`) and the index in [`THRESHOLDS`] of the occurrence reported next (Zeek's
/// `*_thresh`). Kept together, the four take 20 bytes rather than 32 as four pairs of words.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Scaled {
    counts: [u32; 4],
    next: [u8; 4],
}

crate::base::pack::pack_struct!(Scaled { counts, next });

impl Scaled {
    /// Counts one occurrence of `c`; true if it is one whose letter is recorded. Once the
    /// threshold cannot grow any further the count restarts, as in Zeek.
    pub(super) fn hit(&mut self, c: Counter) -> bool {
        let i = c as usize;
        self.counts[i] += 1;
        let at = usize::from(self.next[i]);
        if self.counts[i] != THRESHOLDS[at] {
            return false;
        }
        if at + 1 == THRESHOLDS.len() {
            self.counts[i] = 0;
        } else {
            self.next[i] += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_letters_at_powers_of_ten() {
        let mut s = Scaled::default();
        let hits: Vec<u32> = (1..=1000).filter(|_| s.hit(Counter::Gap)).collect();
        assert_eq!(hits, [1, 10, 100, 1000]);
        // The other counters are apart.
        assert!(s.hit(Counter::Retransmission));
        assert!(!s.hit(Counter::Retransmission));
    }

    /// Past 10^9 the next letter comes at the largest count, after which the count restarts
    /// and only that threshold is left, as Zeek's saturating threshold gave.
    #[test]
    fn the_last_threshold_restarts_the_count() {
        let mut s = Scaled::default();
        s.counts[0] = 1_000_000_000 - 1;
        s.next[0] = 9;
        assert!(s.hit(Counter::Retransmission));
        s.counts[0] = u32::MAX - 1;
        assert!(s.hit(Counter::Retransmission));
        assert_eq!((s.counts[0], s.next[0]), (0, 10));
        s.counts[0] = u32::MAX - 1;
        assert!(s.hit(Counter::Retransmission));
        assert_eq!((s.counts[0], s.next[0]), (0, 10));
    }
}

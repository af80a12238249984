//! Zeek's log-scale history counters: a repeated event (retransmission, zero window, bad
//! checksum, content gap) adds its history letter at the 1st, 10th, 100th … occurrence only, so
//! a long, lossy connection shows a few `T`s rather than thousands
//! (`Session::ScaledHistoryEntry`, and the `*_cnt`/`*_thresh` pairs of `TCP_Endpoint`).

/// A log-scale counter: [`Scaled::hit`] is true at the 1st, 10th, 100th … occurrence.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scaled {
    /// Occurrences since the last reset (Zeek's `*_cnt`).
    count: u32,
    /// The occurrence that is reported next (Zeek's `*_thresh`).
    threshold: u32,
}

crate::base::pack::pack_struct!(Scaled { count, threshold });

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    /// Counts one occurrence; true if it is one whose letter is recorded. Once the threshold
    /// cannot grow any further the count restarts, as in Zeek. (Zeek's multiplication wraps
    /// where this one saturates: the two part only after 10^9 occurrences.)
    pub(super) fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count == self.threshold {
            let next = self.threshold.saturating_mul(10);
            if next <= self.threshold {
                self.count = 0;
            } else {
                self.threshold = next;
            }
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_letters_at_powers_of_ten() {
        let mut s = Scaled::default();
        let hits: Vec<u32> = (1..=1000).filter(|_| s.hit()).collect();
        assert_eq!(hits, [1, 10, 100, 1000]);
    }
}

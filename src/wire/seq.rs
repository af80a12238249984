//! TCP sequence numbers with serial-number arithmetic (RFC 1982, RFC 9293 §3.4).

use std::cmp::Ordering;
use std::fmt;

/// A 32-bit TCP sequence or acknowledgment number. Comparisons wrap: `a < b` means `b` lies less
/// than 2^31 ahead of `a`. Never compare the raw `u32`s.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

crate::base::pack::pack_struct!(SeqNum(s0));

impl SeqNum {
    /// This number advanced by `n` (wrapping).
    #[inline]
    pub const fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self` (positive if `self` is ahead).
    #[inline]
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNum {
    #[inline]
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_around() {
        let a = SeqNum(u32::MAX - 10);
        let b = a.add(20);
        assert_eq!(b, SeqNum(9));
        assert!(a < b);
        assert_eq!(b.diff(a), 20);
        assert_eq!(a.diff(b), -20);
    }

    proptest! {
        #[test]
        fn add_then_diff_is_identity(x: u32, n in 0u32..(1 << 31)) {
            let a = SeqNum(x);
            prop_assert_eq!(a.add(n).diff(a), n as i32);
            prop_assert!(n == 0 || a < a.add(n));
        }
    }
}

//! What a hash table costs, as charged to `--max-memory`.

/// Bytes a hashbrown table sized for `most` entries of `entry` bytes takes: its buckets (a
/// power of two, at most 7/8 full from 8 on) with a control byte each, and a group's worth of
/// trailing control bytes.
///
/// A table that loses entries is best charged from the most entries it held rather than its
/// `capacity()`: after removals, when a table grows depends on where its tombstones fell, so on
/// the per-run seeded hasher, and a charge taken from it can make the peak memory differ from
/// run to run (rounding to whole buckets hides most of that, not all).
pub fn table_bytes(most: usize, entry: usize) -> usize {
    if most == 0 {
        return 0;
    }
    let buckets = if most < 8 {
        (most + 1).next_power_of_two()
    } else {
        (most * 8 / 7).next_power_of_two()
    };
    buckets * (entry + 1) + 16
}

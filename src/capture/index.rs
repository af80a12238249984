//! Where analysed frames start in the capture file, every [`FrameIndex::EVERY`]th frame, so that
//! a second read of the capture (the HTML report's ladders, `analyze -w`) can seek close to the
//! frames it wants instead of reading every byte before them. Kept only for one uncompressed
//! pcap file, the format whose records can be resumed from an offset with nothing but the file
//! header (a pcapng file's interfaces are described by blocks anywhere before).

use std::sync::{Arc, Mutex, PoisonError};

/// Frame numbers (as the analysis numbered them: frames passing the filter, from 1) and the byte
/// offsets of their records, shared by the run that writes it and the reader that seeks with it
/// (the ladders' reread starts while the analysis still runs).
#[derive(Clone, Debug, Default)]
pub struct FrameIndex(Arc<Mutex<Vec<(u64, u64)>>>);

impl FrameIndex {
    /// Frames between two entries (about 100 KB of capture at 250-byte frames; 8 KB of index
    /// per 4 M frames).
    pub const EVERY: u64 = 4096;

    /// Notes that frame `frame` starts at byte `offset`, if `frame` is one the index keeps.
    #[inline]
    pub fn note(&self, frame: u64, offset: impl FnOnce() -> Option<u64>) {
        if frame % Self::EVERY == 1
            && let Some(offset) = offset()
        {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((frame, offset));
        }
    }

    /// The last entry at or before frame `frame`: (its frame, its offset).
    pub fn at_or_before(&self, frame: u64) -> Option<(u64, u64)> {
        let v = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let i = v.partition_point(|&(f, _)| f <= frame);
        i.checked_sub(1).map(|i| v[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_every_4096_frames_are_found_at_or_before() {
        let ix = FrameIndex::default();
        for frame in 1..=10_000u64 {
            ix.note(frame, || Some(frame * 100));
        }
        assert_eq!(ix.at_or_before(0), None);
        assert_eq!(ix.at_or_before(1), Some((1, 100)));
        assert_eq!(ix.at_or_before(4096), Some((1, 100)));
        assert_eq!(ix.at_or_before(4097), Some((4097, 409_700)));
        assert_eq!(ix.at_or_before(9_999), Some((8193, 819_300)));
        // A source that cannot say where a frame starts leaves no entry.
        let none = FrameIndex::default();
        none.note(1, || None);
        assert_eq!(none.at_or_before(5), None);
    }
}

//! The reading thread of a run on several threads: frames from the source through the filter
//! into the analyzer's [`Intake`], whose decoded items go to a [`Hand`] that passes them on in
//! batches (to the engine, or split among shards).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::analyzer::{Decoded, Intake};
use crate::capture::{FrameIndex, Next, PacketFilter, PacketSource, SourceError};

use super::{MAX_WAIT, count_frame, publish};

/// Where a reading thread's decoded items go.
pub(super) trait Hand {
    /// Takes one item; `outside` is what the intake held before it.
    fn push(&mut self, outside: usize, d: Decoded<'_>);
    /// Whether what it holds should be passed on now.
    fn is_full(&self) -> bool;
    /// Passes on what it holds (at the end: whatever it holds); false when the other side has
    /// gone.
    fn pass_on(&mut self, last: bool) -> bool;
}

/// The reading thread: the intake and what the run reads with.
pub(super) struct Reading<'a> {
    pub intake: Intake,
    pub filter: Option<&'a mut PacketFilter>,
    pub count: Option<u64>,
    pub stop: Option<&'a AtomicBool>,
    pub frames_read: Option<&'a AtomicU64>,
    pub frame_index: Option<&'a FrameIndex>,
    /// Set when the output failed (or a split run stopped): reading stops.
    pub halt: &'a AtomicBool,
}

impl Reading<'_> {
    /// Reads `src` to its end (or a stop condition), its items to `hand`; gives back the
    /// intake, the frames read and the error that ended the source early, if any.
    pub(super) fn run<S: PacketSource>(
        mut self,
        src: &mut S,
        hand: &mut impl Hand,
    ) -> (Intake, u64, Option<SourceError>) {
        let mut frames = 0u64;
        let mut source_error = None;
        loop {
            if self.count.is_some_and(|c| frames >= c)
                || self.halt.load(Ordering::Relaxed)
                || self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
            {
                break;
            }
            match src.next(MAX_WAIT) {
                Ok(Next::Packet(pkt)) => {
                    count_frame(&mut frames, self.frames_read);
                    if self.filter.as_mut().is_none_or(|f| f.matches(&pkt)) {
                        self.intake
                            .push(&pkt, &mut |outside, d| hand.push(outside, d));
                        if let Some(ix) = self.frame_index {
                            ix.note(self.intake.frames(), || src.record_offset());
                        }
                        if hand.is_full() && !hand.pass_on(false) {
                            break;
                        }
                    }
                }
                Ok(Next::Idle) => {}
                Ok(Next::End) => break,
                Err(e) => {
                    source_error = Some(e);
                    break;
                }
            }
        }
        publish(self.frames_read, frames);
        // Frames the clock still holds are the capture's last.
        self.intake.end(&mut |outside, d| hand.push(outside, d));
        hand.pass_on(true);
        (self.intake, frames, source_error)
    }
}

//! One interface for every packet source: capture files (one or several, merged in time
//! order) and live captures. The run loop reads any of them the same way.

use std::time::Duration;

use super::CaptureSet;
use super::live::{CaptureStats, LiveError, LiveSource, SourceInfo};
use crate::wire::Packet;

/// What a source gave when asked for the next frame.
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Packet(Packet<'a>),
    /// No frame within the time allowed (a quiet link); more may come.
    Idle,
    /// No frame will come any more (every file is read).
    End,
}

/// Why a source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The live capture failed.
    #[error(transparent)]
    Live(#[from] LiveError),
}

/// A source of captured frames.
pub trait PacketSource {
    /// The next frame, waiting at most `wait` for one (files never wait). Errors that end only
    /// part of a source (one file of several) are kept by the source and reported with the
    /// run; an error returned here ends the source.
    fn next(&mut self, wait: Duration) -> Result<Next<'_>, SourceError>;

    /// Whether the last [`Self::next`] waited for frames, so that the run must read the clock
    /// again to know the time; a source that cannot tell says it waited. Files never wait.
    fn waited(&self) -> bool {
        true
    }

    /// What the kernel counted so far (live captures; files count nothing).
    fn capture_stats(&mut self) -> CaptureStats {
        CaptureStats::default()
    }

    /// The interface, backend, link type and snaplen of a live capture.
    fn source_info(&self) -> Option<&SourceInfo> {
        None
    }

    /// Where the frame last read starts, if it can be read again from there (one uncompressed
    /// pcap file): for a [`FrameIndex`](super::FrameIndex).
    fn record_offset(&self) -> Option<u64> {
        None
    }
}

impl PacketSource for CaptureSet {
    fn next(&mut self, _wait: Duration) -> Result<Next<'_>, SourceError> {
        Ok(self.next_packet().map_or(Next::End, Next::Packet))
    }

    fn waited(&self) -> bool {
        false
    }

    fn record_offset(&self) -> Option<u64> {
        match self.files() {
            [one] => one.record_offset(),
            _ => None,
        }
    }
}

impl<T: LiveSource + ?Sized> PacketSource for T {
    fn next(&mut self, wait: Duration) -> Result<Next<'_>, SourceError> {
        Ok(self.next_packet(wait)?.map_or(Next::Idle, Next::Packet))
    }

    fn waited(&self) -> bool {
        LiveSource::waited(self)
    }

    fn capture_stats(&mut self) -> CaptureStats {
        self.stats()
    }

    fn source_info(&self) -> Option<&SourceInfo> {
        Some(self.info())
    }
}

/// A live capture chosen at run time (`Box<dyn LiveSource>`), read as a packet source.
pub struct Live<'a>(pub &'a mut dyn LiveSource);

impl PacketSource for Live<'_> {
    fn next(&mut self, wait: Duration) -> Result<Next<'_>, SourceError> {
        self.0.next(wait)
    }

    fn waited(&self) -> bool {
        LiveSource::waited(&*self.0)
    }

    fn capture_stats(&mut self) -> CaptureStats {
        self.0.stats()
    }

    fn source_info(&self) -> Option<&SourceInfo> {
        Some(self.0.info())
    }
}

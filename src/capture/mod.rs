//! Packet sources: capture files (pcap, pcapng, gzip, standard input), merged in time order, and
//! live capture (AF_PACKET, libpcap); BPF filters; writing what was captured.
//!
//! A source yields borrowed [`Packet`]s; nothing is copied per packet. Errors name the file and the
//! byte offset, and everything read before the error has already been delivered.

mod counting;
mod file;
mod filter;
mod index;
pub mod libpcap;
pub mod live;
mod merge;
mod pcap;
mod pcapng;
mod prefetch;
mod source;
mod write;

pub use counting::BytesRead;
pub use file::{CaptureFile, FileFormat};
pub use filter::{FilterError, FilterStats, PacketFilter};
pub use index::FrameIndex;
pub use merge::{CaptureSet, ReadAhead};
pub use source::{Live, Next, PacketSource, SourceError};
pub use write::{CaptureWriter, WriteFormat};

// The frame and link-type vocabulary lives in `wire`, below every layer that uses it.
pub use crate::wire::{LinkType, Packet};

/// Asks the CPU to start loading the three cache lines at `at` (a frame's record header and the
/// protocol headers after it) while the frame before is analysed: they were written by another
/// core (the reader thread, or the kernel for a live ring) and waiting for them is one of the
/// largest costs of reading a frame. Only a hint: nothing happens off x86-64.
#[inline]
pub(crate) fn prefetch_frame(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        for off in [0usize, 64, 128] {
            // SAFETY: a prefetch never faults, whatever the address, and `wrapping_add` forms
            // the address without claiming it is inside any object.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(off).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Why reading a capture failed. Every variant names the file; most name the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Open {
        /// File name as given.
        file: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Reading failed part-way.
    #[error("{file}: read error at byte offset {offset}: {source}")]
    Io {
        /// File name as given.
        file: String,
        /// Byte offset (of the uncompressed stream) where reading failed.
        offset: u64,
        /// The operating system's (or decompressor's) error.
        source: std::io::Error,
    },
    /// The file holds no bytes at all.
    #[error("{file}: empty file, not a capture")]
    Empty {
        /// File name as given.
        file: String,
    },
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error(
        "{file}: not a capture file: starts with bytes {magic} at byte offset 0 (expected a pcap or pcapng header)"
    )]
    NotCapture {
        /// File name as given.
        file: String,
        /// The first bytes, in hex.
        magic: String,
    },
    /// The file ends inside a header or record.
    #[error(
        "{file}: truncated {what} at byte offset {offset}: needs {needed} bytes, only {have} left"
    )]
    Truncated {
        /// File name as given.
        file: String,
        /// Offset of the incomplete record.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes that remained in the file.
        have: u64,
    },
    /// A record declares a length that cannot be right.
    #[error("{file}: absurd {what} length {len} at byte offset {offset}")]
    BadLength {
        /// File name as given.
        file: String,
        /// Offset of the record.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// The declared length.
        len: u64,
    },
    /// A block or header is malformed in another way.
    #[error("{file}: malformed {what} at byte offset {offset}")]
    Malformed {
        /// File name as given.
        file: String,
        /// Offset of the record.
        offset: u64,
        /// What is wrong.
        what: String,
    },
}

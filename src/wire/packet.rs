//! One captured frame as every packet source yields it.

use super::LinkType;
use crate::time::Timestamp;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link-layer header type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than `orig_len` when the snaplen cut the frame).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// One captured frame copied out of the reader's buffer: kept past the next read (a frame the
/// capture clock holds, an IP fragment waiting for the rest of its datagram).
#[derive(Clone, Debug)]
pub struct OwnedPacket {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link-layer header type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The frame's length on the wire.
    pub orig_len: u32,
}

impl OwnedPacket {
    /// A copy of `p`.
    pub fn of(p: &Packet<'_>) -> Self {
        OwnedPacket {
            ts: p.ts,
            link_type: p.link_type,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
        }
    }

    /// The copy, lent as a frame.
    pub fn packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            link_type: self.link_type,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

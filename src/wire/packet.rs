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

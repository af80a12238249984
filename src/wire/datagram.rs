//! UDP datagrams, kept for the application layer when it asks (DNS rides on UDP): the decoder
//! copies the last one's payload into a buffer it reuses, so a frame costs no allocation and
//! a run that does not ask pays nothing.

use std::net::IpAddr;

use super::Endpoint;
use crate::time::Timestamp;

/// Largest UDP payload kept (the length field's own bound).
const MAX_PAYLOAD: usize = 65_535;

/// A UDP datagram met by the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Capture time.
    pub ts: Timestamp,
    /// Frame number.
    pub frame: u64,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
}

/// The last datagram and its payload, while the application layer wants them.
#[derive(Debug, Default)]
pub(super) struct UdpKeep {
    pub(super) on: bool,
    pub(super) last: Option<Datagram>,
    pub(super) payload: Vec<u8>,
}

impl UdpKeep {
    /// Keeps the datagram whose UDP header and payload are `udp`, between `src` and `dst`.
    pub(super) fn keep(
        &mut self,
        udp: &[u8],
        (src, dst): (IpAddr, IpAddr),
        ts: Timestamp,
        frame: u64,
    ) {
        if !self.on {
            return;
        }
        let Some(h) = udp.get(..8) else { return };
        let port = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let declared = usize::from(port(4)).saturating_sub(8);
        let body = &udp[8..];
        let body = &body[..body.len().min(declared).min(MAX_PAYLOAD)];
        self.payload.clear();
        self.payload.extend_from_slice(body);
        self.last = Some(Datagram {
            ts,
            frame,
            src: Endpoint::new(src, port(0)),
            dst: Endpoint::new(dst, port(2)),
        });
    }
}

//! What the intake decoded from a run of frames, owned, so it can cross to another thread.
//!
//! A batch keeps each [`Decoded`] item with its payload bytes copied into one buffer, and only
//! when the connection table reads payload bytes at all (reassembly that keeps them, the
//! application layer, stream files): the default audit reads headers and how many payload bytes
//! were captured, not the bytes, so those of a 1.5 KB segment are never copied; the engine is
//! lent that many zeros instead. Batches are refilled, not reallocated, so a run
//! reaches a steady state without allocating.

use std::ops::Range;

use crate::wire::{BadTcpHeader, Datagram, IcmpError, Segment};

use super::intake::Decoded;

/// Items a batch takes before it is handed over.
const ITEMS: usize = 1024;
/// Payload bytes a batch takes before it is handed over.
const BYTES: usize = 1 << 20;

/// What an engine that does not read payload bytes is lent in their place: as many zeros as
/// were captured. A longer payload (an IPv6 jumbogram) is copied instead.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// One decoded item and the intake's fragment memory before it; payload as a range of the
/// batch's buffer.
#[derive(Debug)]
enum Item {
    /// A segment lent zeros for its payload (the bytes were not kept).
    Segment(Segment<'static>, usize),
    /// A segment whose payload bytes are this range of the buffer.
    Kept(Segment<'static>, Range<usize>, usize),
    Icmp(IcmpError, usize),
    BadHeader(BadTcpHeader, usize),
    Udp(Datagram, Range<usize>, usize),
}

/// Decoded items of consecutive frames, in order.
#[derive(Debug)]
pub struct Batch {
    items: Vec<Item>,
    bytes: Vec<u8>,
    /// Whether segments' payload bytes are kept.
    payload: bool,
}

impl Batch {
    /// An empty batch; `payload` tells whether segments' payload bytes are kept (see
    /// [`super::Engine::reads_payload`]).
    pub fn new(payload: bool) -> Self {
        Batch {
            items: Vec::with_capacity(ITEMS),
            bytes: Vec::new(),
            payload,
        }
    }

    /// Adds one item.
    #[inline]
    pub fn push(&mut self, outside: usize, d: Decoded<'_>) {
        let item = match d {
            Decoded::Segment(s) => {
                if self.payload || s.payload.len() > ZEROS.len() {
                    let r = self.keep(s.payload);
                    Item::Kept(s.with_payload(&[]), r, outside)
                } else {
                    Item::Segment(s.with_payload(&ZEROS[..s.payload.len()]), outside)
                }
            }
            Decoded::Icmp(e) => Item::Icmp(e, outside),
            Decoded::BadHeader(b) => Item::BadHeader(b, outside),
            Decoded::Udp(d, payload) => {
                let r = self.keep(payload);
                Item::Udp(d, r, outside)
            }
        };
        self.items.push(item);
    }

    /// Copies `bytes` into the buffer; their range there.
    fn keep(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        start..self.bytes.len()
    }

    /// Whether the batch should be handed over now.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.items.len() >= ITEMS || self.bytes.len() >= BYTES
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every item in order, lent out as the intake gave it; the batch is empty afterwards
    /// (its memory is kept for the next use).
    pub fn drain(&mut self, f: &mut impl FnMut(usize, Decoded<'_>)) {
        let bytes = &self.bytes;
        for item in &self.items {
            match item {
                Item::Segment(s, outside) => f(*outside, Decoded::Segment(s)),
                Item::Kept(s, r, outside) => {
                    f(
                        *outside,
                        Decoded::Segment(&s.with_payload(&bytes[r.clone()])),
                    );
                }
                Item::Icmp(e, outside) => f(*outside, Decoded::Icmp(*e)),
                Item::BadHeader(b, outside) => f(*outside, Decoded::BadHeader(*b)),
                Item::Udp(d, r, outside) => f(*outside, Decoded::Udp(*d, &bytes[r.clone()])),
            }
        }
        self.items.clear();
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::c2s;

    #[test]
    fn payload_bytes_are_kept_only_when_asked_and_their_count_always() {
        let data = [7u8; 40];
        for keep in [false, true] {
            let mut b = Batch::new(keep);
            let mut s = c2s(1, "PA", 100, 200, 40);
            s.payload = &data;
            s.frame = 4;
            b.push(5, Decoded::Segment(&s));
            assert!(!b.is_empty());
            let mut seen = Vec::new();
            b.drain(&mut |outside, d| {
                let Decoded::Segment(s) = d else {
                    panic!("a segment")
                };
                seen.push((outside, s.payload.len(), s.payload_len, s.frame));
                // Zeros stand in for bytes that were not kept.
                assert_eq!(s.payload[0], if keep { 7 } else { 0 });
            });
            assert_eq!(seen, vec![(5, 40, 40, 4)]);
            assert!(b.is_empty());
        }
    }
}

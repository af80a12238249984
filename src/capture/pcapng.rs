//! The pcapng format (draft-ietf-opsawg-pcapng): blocks of a type, a length and a body, in
//! sections of their own byte order, with packets naming an interface that sets their link type
//! and timestamp unit. Block bodies are parsed by pcap-parser; this file keeps the interface table
//! and turns timestamps into nanoseconds.

use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};

use super::file::{InputBuffer, MAX_RECORD, Pending, read_u32};
use super::{CaptureError, LinkType};
use crate::time::Timestamp;

/// Block type of the Section Header Block, the same in both byte orders; it starts every file.
pub(super) const SECTION_HEADER: u32 = 0x0A0D_0D0A;
/// Length of the block type and length fields plus the section header's byte-order magic.
const BLOCK_HEAD: usize = 12;

/// What an Interface Description Block says about the packets captured on it.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    /// `if_tsresol`: bit 7 clear = 10^-n seconds, set = 2^-n seconds.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

/// The state carried from block to block: the section's byte order and interfaces.
#[derive(Debug)]
pub(super) struct PcapNgParser {
    big_endian: bool,
    /// The current section's interfaces, by interface id.
    interfaces: Vec<Interface>,
    /// Timestamp of the last packet, inherited by Simple Packet Blocks (which carry none).
    last_ts: Timestamp,
}

/// What one block turned out to be.
enum Step {
    Packet(Pending),
    /// A block that is not a packet (or a packet that cannot be used, counted as skipped).
    Other,
    End,
}

impl PcapNgParser {
    /// A parser at the start of the file, before its first section header.
    pub(super) fn new() -> Self {
        PcapNgParser {
            big_endian: false,
            interfaces: Vec::new(),
            last_ts: Timestamp::EPOCH,
        }
    }

    /// Reads blocks up to the next packet; `None` at the end of the file. Packets that cannot
    /// be used are counted in `skipped`.
    pub(super) fn next(
        &mut self,
        input: &mut InputBuffer,
        skipped: &mut u64,
    ) -> Result<Option<Pending>, CaptureError> {
        loop {
            match self.block(input, skipped)? {
                Step::Packet(p) => return Ok(Some(p)),
                Step::Other => {}
                Step::End => return Ok(None),
            }
        }
    }

    /// Reads one block. A packet's block stays in the buffer until the reader hands it out;
    /// any other block is consumed.
    fn block(&mut self, input: &mut InputBuffer, skipped: &mut u64) -> Result<Step, CaptureError> {
        input.fill(BLOCK_HEAD)?;
        let avail = input.available();
        if avail == 0 {
            return Ok(Step::End);
        }
        if avail < BLOCK_HEAD {
            return Err(input.truncated("pcapng block header", BLOCK_HEAD));
        }
        let b = input.bytes(BLOCK_HEAD);
        let block_type = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let big_endian = if block_type == SECTION_HEADER {
            // Byte-order magic decides the new section's endianness.
            u32::from_le_bytes([b[8], b[9], b[10], b[11]]) != 0x1A2B_3C4D
        } else {
            self.big_endian
        };
        let block_len = read_u32(&b[4..8], big_endian) as usize;
        if block_len < BLOCK_HEAD || !block_len.is_multiple_of(4) || block_len > MAX_RECORD {
            return Err(input.bad_length("pcapng block", block_len));
        }
        input.fill(block_len)?;
        if input.available() < block_len {
            return Err(input.truncated("pcapng block", block_len));
        }
        let block_start = input.pos();
        let rec = input.bytes(block_len);
        let parsed = if block_type == SECTION_HEADER {
            parse_sectionheaderblock(rec).map(|(r, shb)| (r, Block::SectionHeader(shb)))
        } else if big_endian {
            parse_block_be(rec)
        } else {
            parse_block_le(rec)
        };
        let Ok((_, block)) = parsed else {
            return Err(input.malformed(format!("pcapng block of type 0x{block_type:08x}")));
        };
        let record_end = block_start + block_len;
        // Packet data is found by pointer: pcap-parser returns it as a slice of `rec`.
        let position = |data: &[u8]| block_start + (data.as_ptr() as usize - rec.as_ptr() as usize);
        let mut packet = None;
        match block {
            Block::SectionHeader(_) => {
                self.big_endian = big_endian;
                self.interfaces.clear();
            }
            Block::InterfaceDescription(idb) => self.interfaces.push(Interface {
                link_type: LinkType(idb.linktype.0 as u32 & 0xffff),
                tsresol: idb.if_tsresol,
                tsoffset: idb.if_tsoffset,
            }),
            Block::EnhancedPacket(epb) => match self.interfaces.get(epb.if_id as usize) {
                Some(iface) => {
                    let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                    let ts = Timestamp::from_nanos(
                        units_to_nanos(units, iface.tsresol)
                            .saturating_add(iface.tsoffset.saturating_mul(1_000_000_000)),
                    );
                    let data_start = position(epb.data);
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    packet = Some(Pending {
                        ts,
                        link_type: iface.link_type,
                        data_start,
                        data_end: data_start + caplen,
                        orig_len: epb.origlen,
                        record_end,
                    });
                }
                None => *skipped += 1,
            },
            Block::SimplePacket(spb) => match self.interfaces.first() {
                Some(iface) => {
                    let data_start = position(spb.data);
                    // A simple packet block has no timestamp: it inherits the previous one.
                    packet = Some(Pending {
                        ts: self.last_ts,
                        link_type: iface.link_type,
                        data_start,
                        data_end: data_start + spb.data.len(),
                        orig_len: spb.origlen,
                        record_end,
                    });
                }
                None => *skipped += 1,
            },
            Block::Unknown(u) if u.block_type == 2 => {
                // Obsolete Packet Block: counted, not decoded.
                *skipped += 1;
            }
            _ => {}
        }
        match packet {
            Some(p) => {
                // The reader consumes the record when it hands the packet out.
                self.last_ts = p.ts;
                Ok(Step::Packet(p))
            }
            None => {
                input.advance(block_len);
                Ok(Step::Other)
            }
        }
    }
}

/// Converts a pcapng timestamp in interface units to nanoseconds. Values with the top bit set
/// (beyond the year 292,000 in microseconds) are a writer's negative clock stored unsigned; read
/// as negative, their intervals stay right.
fn units_to_nanos(units: u64, tsresol: u8) -> i64 {
    let signed = units as i64;
    let magnitude = signed.unsigned_abs();
    let ns = magnitude_to_nanos(magnitude, tsresol);
    if signed < 0 { -ns } else { ns }
}

/// Nanoseconds in `units` of 10^-n (bit 7 of `tsresol` clear) or 2^-n seconds (set), saturated;
/// resolutions too fine to express give 0.
fn magnitude_to_nanos(units: u64, tsresol: u8) -> i64 {
    let ns: u128 = if tsresol & 0x80 == 0 {
        let exp = tsresol as u32;
        if exp <= 9 {
            units as u128 * 10u128.pow(9 - exp)
        } else if exp <= 38 {
            units as u128 / 10u128.pow(exp - 9)
        } else {
            0
        }
    } else {
        let exp = (tsresol & 0x7f) as u32;
        if exp >= 64 {
            0
        } else {
            ((units as u128) * 1_000_000_000) >> exp
        }
    };
    ns.min(i64::MAX as u128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_resolutions() {
        assert_eq!(units_to_nanos(1_500_000, 6), 1_500_000_000);
        assert_eq!(units_to_nanos(1_500_000_000, 9), 1_500_000_000);
        assert_eq!(units_to_nanos(15, 1), 1_500_000_000);
        assert_eq!(units_to_nanos(1 << 20, 0x80 | 20), 1_000_000_000);
        assert_eq!(units_to_nanos(123_456_789_012, 12), 123_456_789);
        // A negative clock stored unsigned keeps its intervals.
        let a = units_to_nanos(0u64.wrapping_sub(505_000_000), 6);
        let b = units_to_nanos(0u64.wrapping_sub(504_995_283), 6);
        assert_eq!(a, -505_000_000_000);
        assert_eq!(b - a, 4_717_000);
        assert_eq!(units_to_nanos(1 << 63, 6), -(i64::MAX));
    }
}

#[cfg(test)]
mod robustness {
    use super::super::file::testing::read_all;
    use proptest::prelude::*;

    /// A little-endian section header block with no options.
    const SHB: [u8; 28] = [
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255,
        255, 255, 255, 255, 255, 28, 0, 0, 0,
    ];

    proptest! {
        /// Random bytes after a valid section header: an error or packets, never a panic.
        #[test]
        fn arbitrary_blocks_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = SHB.to_vec();
            bytes.extend_from_slice(&body);
            let _ = read_all(bytes);
        }
    }

    #[test]
    fn truncated_pcapng_block_is_reported() {
        let mut b = SHB.to_vec();
        b.extend_from_slice(&[1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0]);
        let e = read_all(b).unwrap_err().to_string();
        assert!(
            e.contains("truncated pcapng block at byte offset 28"),
            "{e}"
        );
    }
}

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
/// Blocks up to this length are parsed by pcap-parser. Longer ones (a packet beyond 64 KiB, or
/// a block stuffed with options) are read here, fixed fields only: pcap-parser builds a vector
/// of every option, which made a 60 MB block of 4-byte options cost five times its size.
const PARSED_BLOCK_MAX: usize = 64 << 10;
/// Block types read here for long blocks.
const INTERFACE_DESCRIPTION: u32 = 1;
const OBSOLETE_PACKET: u32 = 2;
const SIMPLE_PACKET: u32 = 3;
const ENHANCED_PACKET: u32 = 6;

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
        if block_len > PARSED_BLOCK_MAX {
            let (step, be) = self.long_block(rec, block_type, big_endian, block_start, skipped);
            let Some(step) = step else {
                return Err(input.malformed(format!("pcapng block of type 0x{block_type:08x}")));
            };
            self.big_endian = be;
            if matches!(step, Step::Other) {
                input.advance(block_len);
            }
            return Ok(step);
        }
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
            Block::EnhancedPacket(epb) => {
                let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                let caplen = (epb.caplen as usize).min(epb.data.len());
                let at = position(epb.data);
                packet = self.enhanced(epb.if_id, units, at..at + caplen, epb.origlen, record_end);
                if packet.is_none() {
                    *skipped += 1;
                }
            }
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

impl PcapNgParser {
    /// The packet of an Enhanced Packet Block on interface `if_id` at `units` of its clock,
    /// its bytes at `data` in the buffer; `None` when no such interface was described.
    fn enhanced(
        &self,
        if_id: u32,
        units: u64,
        data: std::ops::Range<usize>,
        orig_len: u32,
        record_end: usize,
    ) -> Option<Pending> {
        let iface = self.interfaces.get(if_id as usize)?;
        let ts = Timestamp::from_nanos(
            units_to_nanos(units, iface.tsresol)
                .saturating_add(iface.tsoffset.saturating_mul(1_000_000_000)),
        );
        Some(Pending {
            ts,
            link_type: iface.link_type,
            data_start: data.start,
            data_end: data.end,
            orig_len,
            record_end,
        })
    }

    /// A block longer than [`PARSED_BLOCK_MAX`], `rec` its bytes at `start` in the buffer: its
    /// fixed fields, options skipped (an interface's `if_tsresol` and `if_tsoffset` found by a
    /// scan that keeps nothing). The step and the byte order from here on; `None` when the
    /// block is malformed.
    fn long_block(
        &mut self,
        rec: &[u8],
        block_type: u32,
        big_endian: bool,
        start: usize,
        skipped: &mut u64,
    ) -> (Option<Step>, bool) {
        let n = rec.len();
        let u32_at = |i: usize| read_u32(&rec[i..i + 4], big_endian);
        let u16_at = |i: usize| {
            let b = [rec[i], rec[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        // The length is repeated at the end of every block.
        if u32_at(n - 4) as usize != n {
            return (None, self.big_endian);
        }
        let step = match block_type {
            SECTION_HEADER => {
                self.interfaces.clear();
                return (Some(Step::Other), big_endian);
            }
            INTERFACE_DESCRIPTION => {
                let mut iface = Interface {
                    link_type: LinkType(u32::from(u16_at(8))),
                    tsresol: 6,
                    tsoffset: 0,
                };
                let mut at = 16;
                while at + 4 <= n - 4 {
                    let (code, len) = (u16_at(at), u16_at(at + 2) as usize);
                    let value = at + 4;
                    if code == 0 || value + len > n - 4 {
                        break;
                    }
                    match (code, len) {
                        (9, 1) => iface.tsresol = rec[value],
                        (14, 8) => {
                            let v = u64::from(u32_at(value)) | (u64::from(u32_at(value + 4)) << 32);
                            let v = if big_endian { v.rotate_left(32) } else { v };
                            iface.tsoffset = v as i64;
                        }
                        _ => {}
                    }
                    at = value + len.div_ceil(4) * 4;
                }
                self.interfaces.push(iface);
                Step::Other
            }
            ENHANCED_PACKET => {
                let (caplen, origlen) = (u32_at(20) as usize, u32_at(24));
                let units = (u64::from(u32_at(12)) << 32) | u64::from(u32_at(16));
                let data = start + 28..start + 28 + caplen.min(n - 32);
                match self.enhanced(u32_at(8), units, data, origlen, start + n) {
                    Some(p) => Step::Packet(p),
                    None => {
                        *skipped += 1;
                        Step::Other
                    }
                }
            }
            SIMPLE_PACKET => match self.interfaces.first() {
                Some(iface) => Step::Packet(Pending {
                    ts: self.last_ts,
                    link_type: iface.link_type,
                    data_start: start + 12,
                    data_end: start + 12 + (u32_at(8) as usize).min(n - 16),
                    orig_len: u32_at(8),
                    record_end: start + n,
                }),
                None => {
                    *skipped += 1;
                    Step::Other
                }
            },
            OBSOLETE_PACKET => {
                *skipped += 1;
                Step::Other
            }
            _ => Step::Other,
        };
        if let Step::Packet(p) = &step {
            self.last_ts = p.ts;
        }
        (Some(step), self.big_endian)
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

#[cfg(test)]
mod long_blocks {
    use super::super::file::CaptureFile;
    use super::*;

    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        let mut b = block_type.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    /// An interface block of `fill` bytes of 4-byte options, then `if_tsresol` = 9, and an
    /// enhanced packet of `payload` bytes at 1.5 s, then a short one at 2 s.
    fn capture(fill: usize, payload: usize) -> Vec<u8> {
        let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut out = block(SECTION_HEADER, &shb);
        let mut idb = vec![101, 0, 0, 0, 0, 0, 4, 0];
        for _ in 0..fill / 4 {
            idb.extend_from_slice(&[0x80, 0x00, 0, 0]); // a custom option code, no value
        }
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(block(INTERFACE_DESCRIPTION, &idb));
        for (ts, len) in [(1_500_000_000u64, payload), (2_000_000_000, 40)] {
            let mut epb = 0u32.to_le_bytes().to_vec();
            epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ts as u32).to_le_bytes());
            epb.extend_from_slice(&(len as u32).to_le_bytes());
            epb.extend_from_slice(&(len as u32).to_le_bytes());
            epb.extend(std::iter::repeat_n(0x45u8, len.div_ceil(4) * 4));
            out.extend(block(ENHANCED_PACKET, &epb));
        }
        out
    }

    fn packets(bytes: Vec<u8>) -> Vec<(i64, usize, u32)> {
        let mut f =
            CaptureFile::from_reader("t", Box::new(std::io::Cursor::new(bytes)), false).unwrap();
        let mut out = Vec::new();
        while let Some(p) = f.next_packet().unwrap() {
            out.push((p.ts.as_nanos(), p.data.len(), p.link_type.0));
        }
        out
    }

    /// Long blocks read here give what short ones parsed by pcap-parser give: the interface's
    /// link type and resolution found behind a megabyte of options, a packet beyond 64 KiB.
    #[test]
    fn long_blocks_read_like_short_ones() {
        let want = |big: usize| vec![(1_500_000_000, big, 101), (2_000_000_000, 40, 101)];
        assert_eq!(packets(capture(64, 100)), want(100));
        assert_eq!(packets(capture(1 << 20, 100)), want(100));
        assert_eq!(packets(capture(64, 70_000)), want(70_000));
        assert_eq!(packets(capture(1 << 20, 70_000)), want(70_000));
    }

    /// A long block whose trailing length disagrees is malformed, as a short one is.
    #[test]
    fn a_long_block_with_a_wrong_trailing_length_is_malformed() {
        let mut bytes = capture(1 << 17, 100);
        let idb_end = 28 + 12 + 8 + (1 << 17) + 12;
        bytes[idb_end - 1] ^= 1;
        let mut f =
            CaptureFile::from_reader("t", Box::new(std::io::Cursor::new(bytes)), false).unwrap();
        let e = f.next_packet().unwrap_err().to_string();
        assert!(e.contains("pcapng block of type 0x00000001"), "{e}");
    }
}

//! The classic libpcap file format (pcap-savefile(5)): a 24-byte file header, then one record per
//! packet, a 16-byte header (24 in the "modified" format) and the captured bytes. Both byte
//! orders, microsecond and nanosecond timestamps.

use super::file::{InputBuffer, MAX_RECORD, Pending, read_u32};
use super::{CaptureError, LinkType};
use crate::time::Timestamp;

/// Length of the file header.
pub(super) const FILE_HEADER: usize = 24;

/// What the file header says about every record that follows.
#[derive(Clone, Copy, Debug)]
pub(super) struct PcapParser {
    big_endian: bool,
    /// Timestamp fractions are nanoseconds (otherwise microseconds).
    nanos: bool,
    /// Alexey Kuznetsov's "modified" format: 8 more bytes in every record header.
    modified: bool,
    link_type: LinkType,
}

impl PcapParser {
    /// Reads the file header if `magic` (the first four bytes, little-endian) is a pcap magic
    /// number; `None` if it is not.
    pub(super) fn from_header(
        input: &mut InputBuffer,
        magic: u32,
    ) -> Result<Option<Self>, CaptureError> {
        if !matches!(
            magic,
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1
        ) {
            return Ok(None);
        }
        input.fill(FILE_HEADER)?;
        if input.available() < FILE_HEADER {
            return Err(input.truncated("pcap file header", FILE_HEADER));
        }
        let h = input.bytes(FILE_HEADER);
        let big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1);
        let rd = |o: usize| read_u32(&h[o..o + 4], big_endian);
        // The link type's upper 16 bits hold FCS information (pcap-linktype.txt).
        let link_type = LinkType(rd(20) & 0x03ff_ffff);
        let parser = PcapParser {
            big_endian,
            nanos: matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1),
            modified: matches!(magic, 0xa1b2_cd34 | 0x34cd_b2a1),
            link_type,
        };
        input.advance(FILE_HEADER);
        Ok(Some(parser))
    }

    /// Locates the next packet record; `None` at the end of the file. The record stays in the
    /// buffer until the reader hands the packet out.
    pub(super) fn next(&self, input: &mut InputBuffer) -> Result<Option<Pending>, CaptureError> {
        let hdr_len = if self.modified { 24 } else { 16 };
        input.fill(hdr_len)?;
        let avail = input.available();
        if avail == 0 {
            return Ok(None);
        }
        if avail < hdr_len {
            return Err(input.truncated("packet record header", hdr_len));
        }
        let caplen = read_u32(&input.bytes(16)[8..12], self.big_endian) as usize;
        if caplen > MAX_RECORD {
            return Err(input.bad_length("packet record", caplen));
        }
        let need = hdr_len + caplen;
        input.fill(need)?;
        if input.available() < need {
            return Err(input.truncated("packet record", need));
        }
        // The record is complete: read its header in place (the layout of pcap-parser's
        // LegacyPcapBlock; the "modified" format adds 8 bytes after these 16).
        let h = input.bytes(16);
        let rd = |o: usize| read_u32(&h[o..o + 4], self.big_endian);
        let (ts_sec, ts_frac, orig_len) = (rd(0), rd(4), rd(12));
        let frac = if self.nanos {
            ts_frac as i64
        } else {
            ts_frac as i64 * 1000
        };
        let start = input.pos();
        let data_start = start + hdr_len;
        Ok(Some(Pending {
            ts: Timestamp::from_secs_nanos(ts_sec as i64, frac),
            link_type: self.link_type,
            data_start,
            data_end: data_start + caplen,
            orig_len,
            record_end: start + need,
        }))
    }
}

#[cfg(test)]
mod robustness {
    use super::super::file::testing::read_all;
    use proptest::prelude::*;

    /// A little-endian, microsecond pcap file header for Ethernet.
    const HEADER: [u8; 24] = [
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 1, 0, 0, 0,
    ];

    proptest! {
        /// Random bytes after a valid pcap file header: an error or packets, never a panic.
        #[test]
        fn arbitrary_records_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = HEADER.to_vec();
            bytes.extend_from_slice(&body);
            let _ = read_all(bytes);
        }
    }

    #[test]
    fn truncated_record_is_reported() {
        let mut b = HEADER.to_vec();
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0, 1, 2, 3]);
        let e = read_all(b).unwrap_err().to_string();
        assert_eq!(
            e,
            "t: truncated packet record at byte offset 24: needs 76 bytes, only 19 left"
        );
    }
}

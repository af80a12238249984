//! Streaming reader for pcap (both byte orders, µs/ns, "modified") and pcapng (many sections and
//! interfaces), plain or gzip-compressed, from a file or standard input.
//!
//! The reader owns one buffer (1 MiB, grown only for a larger record) and hands out packets that
//! borrow it, so memory does not depend on the file size. Block parsing is pcap-parser's; this file
//! only manages the buffer, the interface table and timestamp units.

use std::fs::File;
use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};

use super::prefetch::{self, Prefetcher};
use super::{CaptureError, LinkType, Packet};
use crate::time::Timestamp;

/// Read size and initial buffer size.
const BUF_SIZE: usize = 1 << 20;
/// Largest record accepted; anything longer is reported as an absurd length (libpcap's own
/// limit is 256 KiB per packet, pcapng blocks may carry large options).
const MAX_RECORD: usize = 64 << 20;
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    /// `if_tsresol`: bit 7 clear = 10^-n seconds, set = 2^-n seconds.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: i64,
}

#[derive(Debug)]
enum State {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link_type: LinkType,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
    Done,
}

/// A packet located in the buffer but not yet handed out.
#[derive(Clone, Copy, Debug)]
struct Pending {
    ts: Timestamp,
    link_type: LinkType,
    data_start: usize,
    data_end: usize,
    orig_len: u32,
    record_end: usize,
}

/// Where the bytes come from: read in place, or chunks from a reader thread.
enum Input {
    Direct(Box<dyn Read + Send>),
    Threaded(Prefetcher),
}

/// One capture file being read.
pub struct CaptureFile {
    name: String,
    input: Input,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the (uncompressed) stream of `buf[0]` (negative while headroom precedes it).
    base: i64,
    eof: bool,
    state: State,
    format: FileFormat,
    compressed: bool,
    pending: Option<Pending>,
    last_ts: Timestamp,
    /// Packets with no usable interface or timestamp (pcapng), counted rather than dropped silently.
    skipped_records: u64,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("name", &self.name)
            .field("format", &self.format)
            .finish()
    }
}

impl CaptureFile {
    /// Opens a file by path; `-` means standard input. With `prefetch`, a second thread reads
    /// ahead while packets are parsed.
    pub fn open(path: &str, prefetch: bool) -> Result<Self, CaptureError> {
        let input: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            let f = File::open(path).map_err(|source| CaptureError::Open {
                file: path.to_string(),
                source,
            })?;
            Box::new(f)
        };
        Self::from_reader(path, input, prefetch)
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        input: Box<dyn Read + Send>,
        prefetch: bool,
    ) -> Result<Self, CaptureError> {
        let mut me = CaptureFile {
            name: name.to_string(),
            input: Input::Direct(input),
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            state: State::Done,
            format: FileFormat::Pcap,
            compressed: false,
            pending: None,
            last_ts: Timestamp(0),
            skipped_records: 0,
        };
        me.fill(4)?;
        if me.end == 0 {
            return Err(CaptureError::Empty { file: me.name });
        }
        if me.buf[..me.end].starts_with(&[0x1f, 0x8b]) {
            // gzip: decompress what was already read followed by the rest of the stream.
            let head = me.buf[..me.end].to_vec();
            let Input::Direct(rest) =
                std::mem::replace(&mut me.input, Input::Direct(Box::new(io::empty())))
            else {
                unreachable!("the input is direct until the header has been read")
            };
            me.input = Input::Direct(Box::new(MultiGzDecoder::new(Cursor::new(head).chain(rest))));
            me.end = 0;
            me.eof = false;
            me.compressed = true;
            me.fill(4)?;
            if me.end == 0 {
                return Err(CaptureError::Empty { file: me.name });
            }
        }
        me.read_header()?;
        if prefetch
            && !me.eof
            && let Input::Direct(rest) =
                std::mem::replace(&mut me.input, Input::Direct(Box::new(io::empty())))
        {
            match Prefetcher::spawn(rest) {
                Ok(p) => me.input = Input::Threaded(p),
                Err(source) => {
                    return Err(CaptureError::Open {
                        file: me.name,
                        source,
                    });
                }
            }
        }
        Ok(me)
    }

    /// The name given when opening.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// pcap or pcapng.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Whether the file was gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Records that could not become packets (pcapng packets naming a missing interface, obsolete
    /// packet blocks); counted for the summary.
    pub fn skipped_records(&self) -> u64 {
        self.skipped_records
    }

    fn offset(&self, pos: usize) -> u64 {
        (self.base + pos as i64).max(0) as u64
    }

    /// Makes at least `need` bytes available from `start`, unless the stream ends first.
    #[inline]
    fn fill(&mut self, need: usize) -> Result<(), CaptureError> {
        if self.end - self.start >= need || self.eof {
            return Ok(());
        }
        self.refill(need)
    }

    #[cold]
    fn refill(&mut self, need: usize) -> Result<(), CaptureError> {
        match &self.input {
            Input::Direct(_) => self.refill_direct(need),
            Input::Threaded(_) => self.refill_threaded(need),
        }
    }

    fn refill_direct(&mut self, need: usize) -> Result<(), CaptureError> {
        let Input::Direct(input) = &mut self.input else {
            return Ok(());
        };
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as i64;
            self.end -= self.start;
            self.start = 0;
        }
        if need > self.buf.len() {
            self.buf.resize(need.next_power_of_two(), 0);
        }
        while self.end < need && !self.eof {
            match input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        file: self.name.clone(),
                        offset: (self.base + self.end as i64).max(0) as u64,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Moves on to the reader thread's next chunk, carrying the unfinished record over into its
    /// headroom (or, for a record longer than the headroom, into a joined buffer).
    fn refill_threaded(&mut self, need: usize) -> Result<(), CaptureError> {
        let Input::Threaded(p) = &self.input else {
            return Ok(());
        };
        while self.end - self.start < need && !self.eof {
            let chunk = p.next().map_err(|source| CaptureError::Io {
                file: self.name.clone(),
                offset: (self.base + self.end as i64).max(0) as u64,
                source,
            })?;
            let n = chunk.len() - prefetch::HEAD;
            if n == 0 {
                self.eof = true;
                p.recycle(chunk);
                break;
            }
            let tail = self.end - self.start;
            let (buf, start) = if tail <= prefetch::HEAD {
                let mut c = chunk;
                let at = prefetch::HEAD - tail;
                c[at..prefetch::HEAD].copy_from_slice(&self.buf[self.start..self.end]);
                (c, at)
            } else {
                let mut v = Vec::with_capacity(tail + n);
                v.extend_from_slice(&self.buf[self.start..self.end]);
                v.extend_from_slice(&chunk[prefetch::HEAD..]);
                p.recycle(chunk);
                (v, 0)
            };
            self.base += self.start as i64 - start as i64;
            self.start = start;
            self.end = buf.len();
            p.recycle(std::mem::replace(&mut self.buf, buf));
        }
        Ok(())
    }

    fn truncated(&self, what: &'static str, needed: usize) -> CaptureError {
        CaptureError::Truncated {
            file: self.name.clone(),
            offset: self.offset(self.start),
            what,
            needed: needed as u64,
            have: (self.end - self.start) as u64,
        }
    }

    fn read_header(&mut self) -> Result<(), CaptureError> {
        let head = &self.buf[self.start..self.end];
        if head.len() < 4 {
            return Err(self.not_capture());
        }
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1 => {
                self.fill(24)?;
                if self.end - self.start < 24 {
                    return Err(self.truncated("pcap file header", 24));
                }
                let h = &self.buf[self.start..self.start + 24];
                let big_endian = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1);
                let rd = |o: usize| read_u32(&h[o..o + 4], big_endian);
                // The link type's upper 16 bits hold FCS information (pcap-linktype.txt).
                let link_type = LinkType(rd(20) & 0x03ff_ffff);
                self.state = State::Pcap {
                    big_endian,
                    nanos: matches!(magic, 0xa1b2_3c4d | 0x4d3c_b2a1),
                    modified: matches!(magic, 0xa1b2_cd34 | 0x34cd_b2a1),
                    link_type,
                };
                self.format = FileFormat::Pcap;
                self.start += 24;
                Ok(())
            }
            PCAPNG_SHB => {
                self.format = FileFormat::PcapNg;
                self.state = State::PcapNg {
                    big_endian: false,
                    interfaces: Vec::new(),
                };
                Ok(())
            }
            _ => Err(self.not_capture()),
        }
    }

    fn not_capture(&self) -> CaptureError {
        let head = &self.buf[self.start..self.end.min(self.start + 4)];
        let magic = head
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        CaptureError::NotCapture {
            file: self.name.clone(),
            magic,
        }
    }

    /// Asks the CPU to start loading the next record's header and first bytes while this packet
    /// is analysed: they were written by the reader thread on the other core, and waiting for
    /// them was the largest single cost of the parsing thread.
    #[inline]
    fn prefetch_next(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let next = self.start;
            for off in [0usize, 64, 128] {
                if let Some(b) = self.buf.get(next + off) {
                    // SAFETY: a prefetch is only a hint: it never faults, and the pointer is
                    // within the buffer anyway.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>((b as *const u8).cast::<i8>()) };
                }
            }
        }
    }

    /// The timestamp of the next packet, reading ahead as needed; `None` at the end.
    pub fn peek_ts(&mut self) -> Result<Option<Timestamp>, CaptureError> {
        if self.pending.is_none() {
            match self.locate_next() {
                Ok(p) => self.pending = p,
                Err(e) => {
                    self.state = State::Done;
                    return Err(e);
                }
            }
        }
        Ok(self.pending.map(|p| p.ts))
    }

    /// The next packet; `None` at the end of the file. After an error the file yields nothing more.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.peek_ts()?;
        let Some(p) = self.pending.take() else {
            return Ok(None);
        };
        self.start = p.record_end;
        self.prefetch_next();
        Ok(Some(Packet {
            ts: p.ts,
            link_type: p.link_type,
            data: &self.buf[p.data_start..p.data_end],
            orig_len: p.orig_len,
        }))
    }

    fn locate_next(&mut self) -> Result<Option<Pending>, CaptureError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Pcap {
                    big_endian,
                    nanos,
                    modified,
                    link_type,
                } => {
                    return self.locate_pcap(big_endian, nanos, modified, link_type);
                }
                State::PcapNg { .. } => {
                    if let Some(p) = self.locate_pcapng()? {
                        return Ok(Some(p));
                    }
                    if matches!(self.state, State::Done) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    fn locate_pcap(
        &mut self,
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link_type: LinkType,
    ) -> Result<Option<Pending>, CaptureError> {
        let hdr_len = if modified { 24 } else { 16 };
        self.fill(hdr_len)?;
        let avail = self.end - self.start;
        if avail == 0 {
            self.state = State::Done;
            return Ok(None);
        }
        if avail < hdr_len {
            return Err(self.truncated("packet record header", hdr_len));
        }
        let h = &self.buf[self.start..self.start + 16];
        let caplen = read_u32(&h[8..12], big_endian) as usize;
        if caplen > MAX_RECORD {
            return Err(CaptureError::BadLength {
                file: self.name.clone(),
                offset: self.offset(self.start),
                what: "packet record",
                len: caplen as u64,
            });
        }
        let need = hdr_len + caplen;
        self.fill(need)?;
        if self.end - self.start < need {
            return Err(self.truncated("packet record", need));
        }
        // The record is complete: read its header in place (the layout of pcap-parser's
        // LegacyPcapBlock; the "modified" format adds 8 bytes after these 16).
        let h = &self.buf[self.start..self.start + 16];
        let rd = |o: usize| read_u32(&h[o..o + 4], big_endian);
        let (ts_sec, ts_frac, orig_len) = (rd(0), rd(4), rd(12));
        let frac = if nanos {
            ts_frac as i64
        } else {
            ts_frac as i64 * 1000
        };
        let ts = Timestamp::from_secs_nanos(ts_sec as i64, frac);
        self.last_ts = ts;
        let data_start = self.start + hdr_len;
        Ok(Some(Pending {
            ts,
            link_type,
            data_start,
            data_end: data_start + caplen,
            orig_len,
            record_end: self.start + need,
        }))
    }

    /// Reads one pcapng block; returns a packet if it was one.
    fn locate_pcapng(&mut self) -> Result<Option<Pending>, CaptureError> {
        self.fill(12)?;
        let avail = self.end - self.start;
        if avail == 0 {
            self.state = State::Done;
            return Ok(None);
        }
        if avail < 12 {
            return Err(self.truncated("pcapng block header", 12));
        }
        let b = &self.buf[self.start..self.start + 12];
        let block_type = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let big_endian = if block_type == PCAPNG_SHB {
            // Byte-order magic decides the new section's endianness.
            u32::from_le_bytes([b[8], b[9], b[10], b[11]]) != 0x1A2B_3C4D
        } else {
            match &self.state {
                State::PcapNg { big_endian, .. } => *big_endian,
                _ => false,
            }
        };
        let block_len = read_u32(&b[4..8], big_endian) as usize;
        if block_len < 12 || !block_len.is_multiple_of(4) || block_len > MAX_RECORD {
            return Err(CaptureError::BadLength {
                file: self.name.clone(),
                offset: self.offset(self.start),
                what: "pcapng block",
                len: block_len as u64,
            });
        }
        self.fill(block_len)?;
        if self.end - self.start < block_len {
            return Err(self.truncated("pcapng block", block_len));
        }
        let block_start = self.start;
        let rec = &self.buf[block_start..block_start + block_len];
        let parsed = if block_type == PCAPNG_SHB {
            parse_sectionheaderblock(rec).map(|(r, shb)| (r, Block::SectionHeader(shb)))
        } else if big_endian {
            parse_block_be(rec)
        } else {
            parse_block_le(rec)
        };
        let malformed = |me: &Self, what: &str| CaptureError::Malformed {
            file: me.name.clone(),
            offset: me.offset(block_start),
            what: what.to_string(),
        };
        let block = match parsed {
            Ok((_, block)) => block,
            Err(_) => {
                return Err(malformed(
                    self,
                    &format!("pcapng block of type 0x{block_type:08x}"),
                ));
            }
        };
        let record_end = block_start + block_len;
        let base_ptr = rec.as_ptr() as usize;
        let mut result = None;
        match block {
            Block::SectionHeader(_) => {
                self.state = State::PcapNg {
                    big_endian,
                    interfaces: Vec::new(),
                };
            }
            Block::InterfaceDescription(idb) => {
                let iface = Interface {
                    link_type: LinkType(idb.linktype.0 as u32 & 0xffff),
                    tsresol: idb.if_tsresol,
                    tsoffset: idb.if_tsoffset,
                };
                if let State::PcapNg { interfaces, .. } = &mut self.state {
                    interfaces.push(iface);
                }
            }
            Block::EnhancedPacket(epb) => {
                let iface = match &self.state {
                    State::PcapNg { interfaces, .. } => interfaces.get(epb.if_id as usize).copied(),
                    _ => None,
                };
                match iface {
                    Some(iface) => {
                        let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                        let ts = Timestamp(
                            units_to_nanos(units, iface.tsresol)
                                .saturating_add(iface.tsoffset.saturating_mul(1_000_000_000)),
                        );
                        let data_start = block_start + (epb.data.as_ptr() as usize - base_ptr);
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        result = Some(Pending {
                            ts,
                            link_type: iface.link_type,
                            data_start,
                            data_end: data_start + caplen,
                            orig_len: epb.origlen,
                            record_end,
                        });
                    }
                    None => self.skipped_records += 1,
                }
            }
            Block::SimplePacket(spb) => {
                let iface = match &self.state {
                    State::PcapNg { interfaces, .. } => interfaces.first().copied(),
                    _ => None,
                };
                match iface {
                    Some(iface) => {
                        let data_start = block_start + (spb.data.as_ptr() as usize - base_ptr);
                        // A simple packet block has no timestamp: it inherits the previous one.
                        result = Some(Pending {
                            ts: self.last_ts,
                            link_type: iface.link_type,
                            data_start,
                            data_end: data_start + spb.data.len(),
                            orig_len: spb.origlen,
                            record_end,
                        });
                    }
                    None => self.skipped_records += 1,
                }
            }
            Block::Unknown(u) if u.block_type == 2 => {
                // Obsolete Packet Block: counted, not decoded.
                self.skipped_records += 1;
            }
            _ => {}
        }
        self.start = record_end;
        if let Some(p) = &mut result {
            // The caller consumes the record; keep the buffer position at the record's start.
            self.start = block_start;
            self.last_ts = p.ts;
            p.record_end = record_end;
        }
        Ok(result)
    }
}

/// A 32-bit field in the file's byte order (`b` holds exactly four bytes).
#[inline]
fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
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
    use super::*;
    use proptest::prelude::*;

    fn read_all(bytes: Vec<u8>) -> Result<u64, CaptureError> {
        let direct = read_all_with(bytes.clone(), false);
        let threaded = read_all_with(bytes, true);
        assert_eq!(
            direct.as_ref().map_err(|e| e.to_string()),
            threaded.as_ref().map_err(|e| e.to_string()),
            "reading in place and on a thread must agree"
        );
        direct
    }

    fn read_all_with(bytes: Vec<u8>, prefetch: bool) -> Result<u64, CaptureError> {
        let mut f = CaptureFile::from_reader("t", Box::new(std::io::Cursor::new(bytes)), prefetch)?;
        let mut n = 0;
        while f.next_packet()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    proptest! {
        /// Random bytes after a valid pcap or pcapng magic: an error or packets, never a panic.
        #[test]
        fn arbitrary_files_never_panic(ng: bool, body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = if ng {
                vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 28, 0, 0, 0]
            } else {
                vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 1, 0, 0, 0]
            };
            bytes.extend_from_slice(&body);
            let _ = read_all(bytes);
        }
    }

    /// Packets (timestamp, length, byte sum) of a capture read in place or on a thread.
    fn digest(bytes: &[u8], prefetch: bool) -> Vec<(i64, usize, u64)> {
        let mut f = CaptureFile::from_reader(
            "t",
            Box::new(std::io::Cursor::new(bytes.to_vec())),
            prefetch,
        )
        .unwrap();
        let mut v = Vec::new();
        while let Some(p) = f.next_packet().unwrap() {
            v.push((p.ts.0, p.data.len(), p.data.iter().map(|&b| b as u64).sum()));
        }
        v
    }

    #[test]
    fn records_spanning_chunks_are_joined() {
        // 5 MiB of records of varied sizes, one larger than the chunk headroom.
        let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0, 0, 4, 0, 1, 0, 0, 0]);
        let mut i: u32 = 0;
        while b.len() < 5 << 20 {
            let len = if i == 700 {
                300_000
            } else {
                (i as usize * 7919) % 9000 + 1
            };
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&(len as u32).to_le_bytes());
            b.extend_from_slice(&(len as u32).to_le_bytes());
            b.extend((0..len).map(|k| (k as u32).wrapping_mul(i) as u8));
            i += 1;
        }
        let direct = digest(&b, false);
        assert_eq!(direct.len(), i as usize);
        assert_eq!(direct, digest(&b, true));
    }

    #[test]
    fn truncated_pcapng_block_is_reported() {
        let shb = vec![
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255,
            255, 255, 255, 255, 255, 28, 0, 0, 0,
        ];
        let mut b = shb.clone();
        b.extend_from_slice(&[1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0]);
        let e = read_all(b).unwrap_err().to_string();
        assert!(
            e.contains("truncated pcapng block at byte offset 28"),
            "{e}"
        );
    }
}

//! Streaming reader for capture files: pcap or pcapng, plain or gzip-compressed, from a file or
//! standard input. This file holds the reader and its buffer; the record formats are parsed in
//! `pcap.rs` and `pcapng.rs`, which locate each packet inside the buffer.
//!
//! The reader owns one buffer (1 MiB, grown only for a larger record) and hands out packets that
//! borrow it, so memory does not depend on the file size.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};

use flate2::read::MultiGzDecoder;

use super::pcap::PcapParser;
use super::pcapng::{self, PcapNgParser};
use super::prefetch::{self, Prefetcher};
use super::{CaptureError, Packet};
use crate::time::Timestamp;

/// Read size and initial buffer size.
const BUF_SIZE: usize = 1 << 20;
/// Largest record accepted; anything longer is reported as an absurd length (libpcap's own
/// limit is 256 KiB per packet, pcapng blocks may carry large options).
pub(super) const MAX_RECORD: usize = 64 << 20;

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Which format's parser reads the records, and what it has learned from the headers so far.
#[derive(Debug)]
enum State {
    Pcap(PcapParser),
    PcapNg(PcapNgParser),
    Done,
}

/// A packet located in the buffer but not yet handed out. Positions index the buffer, so a
/// parser can find a packet before the reader lends it out.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    /// Capture time.
    pub(super) ts: Timestamp,
    /// Link-layer type of the frame.
    pub(super) link_type: super::LinkType,
    /// Buffer position of the frame's first byte.
    pub(super) data_start: usize,
    /// Buffer position just past the frame's captured bytes.
    pub(super) data_end: usize,
    /// Length of the frame on the wire.
    pub(super) orig_len: u32,
    /// Buffer position just past the record, where reading resumes once the packet is handed out.
    pub(super) record_end: usize,
}

/// Where the bytes come from: read in place, or chunks from a reader thread.
enum Input {
    Direct(Box<dyn Read + Send>),
    Threaded(Prefetcher),
}

/// The part of the input stream held in memory: `buf[start..end]` was read and not yet consumed.
/// The parsers see only this window; how it is refilled (in place or from a reader thread) is
/// hidden from them.
pub(super) struct InputBuffer {
    /// File name as given, for messages.
    name: String,
    input: Input,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the (uncompressed) stream of `buf[0]` (negative while headroom precedes it).
    base: i64,
    eof: bool,
}

/// One capture file being read.
pub struct CaptureFile {
    input: InputBuffer,
    state: State,
    format: FileFormat,
    compressed: bool,
    pending: Option<Pending>,
    /// Packets with no usable interface or timestamp (pcapng), counted rather than dropped silently.
    skipped_records: u64,
    /// Opened by path (not standard input): records can be read again from their offset.
    seekable: bool,
    /// Byte offset of the record of the packet handed out last.
    last_record: u64,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("name", &self.input.name)
            .field("format", &self.format)
            .finish()
    }
}

impl CaptureFile {
    /// Opens a file by path; `-` means standard input. With `prefetch`, a second thread reads
    /// ahead while packets are parsed.
    pub fn open(path: &str, prefetch: bool) -> Result<Self, CaptureError> {
        let mut me = Self::open_counted(path, None)?;
        if prefetch {
            me.read_ahead()?;
        }
        Ok(me)
    }

    /// [`open`](Self::open) without reading ahead (see [`CaptureFile::read_ahead`]), adding the
    /// bytes read from the file (compressed, if it is) to `read`.
    pub fn open_counted(path: &str, read: Option<&super::BytesRead>) -> Result<Self, CaptureError> {
        let input: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            let f = File::open(path).map_err(|source| CaptureError::Open {
                file: path.to_string(),
                source,
            })?;
            Box::new(f)
        };
        let input = match read {
            Some(r) => r.wrap(input),
            None => input,
        };
        let mut me = Self::from_reader(path, input, false)?;
        me.seekable = path != "-";
        Ok(me)
    }

    /// `path`, an uncompressed pcap file, read from the record at byte `offset` (as
    /// [`record_offset`](Self::record_offset) gave it) on, as if that record followed the file
    /// header.
    pub fn resume_at(path: &str, offset: u64) -> Result<Self, CaptureError> {
        let open = |source| CaptureError::Open {
            file: path.to_string(),
            source,
        };
        let mut f = File::open(path).map_err(open)?;
        let mut header = [0u8; super::pcap::FILE_HEADER];
        f.read_exact(&mut header).map_err(open)?;
        f.seek(SeekFrom::Start(offset)).map_err(open)?;
        let me = Self::from_reader(path, Box::new(Cursor::new(header).chain(f)), true)?;
        if me.format != FileFormat::Pcap || me.compressed {
            return Err(open(io::Error::other(
                "only a pcap file is read from an offset",
            )));
        }
        Ok(me)
    }

    /// Where the record of the packet handed out last starts, if the file can be read again
    /// from there ([`resume_at`](Self::resume_at)): an uncompressed pcap file opened by path.
    pub fn record_offset(&self) -> Option<u64> {
        (self.seekable && self.format == FileFormat::Pcap && !self.compressed)
            .then_some(self.last_record)
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        input: Box<dyn Read + Send>,
        prefetch: bool,
    ) -> Result<Self, CaptureError> {
        let mut me = CaptureFile {
            input: InputBuffer {
                name: name.to_string(),
                input: Input::Direct(input),
                buf: vec![0; BUF_SIZE],
                start: 0,
                end: 0,
                base: 0,
                eof: false,
            },
            state: State::Done,
            format: FileFormat::Pcap,
            compressed: false,
            pending: None,
            skipped_records: 0,
            seekable: false,
            last_record: 0,
        };
        let b = &mut me.input;
        b.fill(4)?;
        if b.end == 0 {
            return Err(CaptureError::Empty {
                file: me.input.name,
            });
        }
        if b.buf[..b.end].starts_with(&[0x1f, 0x8b]) {
            // gzip: decompress what was already read followed by the rest of the stream.
            let head = b.buf[..b.end].to_vec();
            let Input::Direct(rest) =
                std::mem::replace(&mut b.input, Input::Direct(Box::new(io::empty())))
            else {
                unreachable!("the input is direct until the header has been read")
            };
            b.input = Input::Direct(Box::new(MultiGzDecoder::new(Cursor::new(head).chain(rest))));
            b.end = 0;
            b.eof = false;
            me.compressed = true;
            b.fill(4)?;
            if b.end == 0 {
                return Err(CaptureError::Empty {
                    file: me.input.name,
                });
            }
        }
        me.read_header()?;
        if prefetch {
            me.read_ahead()?;
        }
        Ok(me)
    }

    /// Reads the rest of the file ahead on a thread of its own (see `capture::prefetch`), if it
    /// is not read so already and has more to read.
    pub fn read_ahead(&mut self) -> Result<(), CaptureError> {
        let b = &mut self.input;
        if !b.eof
            && let Input::Direct(rest) =
                std::mem::replace(&mut b.input, Input::Direct(Box::new(io::empty())))
        {
            match Prefetcher::spawn(rest) {
                Ok(p) => b.input = Input::Threaded(p),
                Err(source) => {
                    return Err(CaptureError::Open {
                        file: b.name.clone(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether the file is read ahead on a thread of its own.
    pub fn reads_ahead(&self) -> bool {
        matches!(self.input.input, Input::Threaded(_))
    }

    /// The name given when opening.
    pub fn name(&self) -> &str {
        &self.input.name
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

    /// Recognises the format by its magic number and reads the file header.
    fn read_header(&mut self) -> Result<(), CaptureError> {
        let head = self.input.bytes(self.input.available().min(4));
        let Ok(head) = <[u8; 4]>::try_from(head) else {
            return Err(self.input.not_capture());
        };
        let magic = u32::from_le_bytes(head);
        if let Some(pcap) = PcapParser::from_header(&mut self.input, magic)? {
            self.format = FileFormat::Pcap;
            self.state = State::Pcap(pcap);
        } else if magic == pcapng::SECTION_HEADER {
            self.format = FileFormat::PcapNg;
            self.state = State::PcapNg(PcapNgParser::new());
        } else {
            return Err(self.input.not_capture());
        }
        Ok(())
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
        self.last_record = self.input.offset(self.input.start);
        self.input.start = p.record_end;
        self.input.prefetch_next();
        Ok(Some(Packet {
            ts: p.ts,
            link_type: p.link_type,
            data: &self.input.buf[p.data_start..p.data_end],
            orig_len: p.orig_len,
        }))
    }

    fn locate_next(&mut self) -> Result<Option<Pending>, CaptureError> {
        let next = match &mut self.state {
            State::Done => return Ok(None),
            State::Pcap(p) => p.next(&mut self.input)?,
            State::PcapNg(p) => p.next(&mut self.input, &mut self.skipped_records)?,
        };
        if next.is_none() {
            self.state = State::Done;
        }
        Ok(next)
    }
}

impl InputBuffer {
    /// Bytes read and not yet consumed.
    #[inline]
    pub(super) fn available(&self) -> usize {
        self.end - self.start
    }

    /// Buffer position of the first unconsumed byte (positions stay valid until the next `fill`).
    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.start
    }

    /// The next `len` unconsumed bytes; `len` must not exceed [`available`](Self::available).
    #[inline]
    pub(super) fn bytes(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    /// Consumes `len` bytes.
    #[inline]
    pub(super) fn advance(&mut self, len: usize) {
        self.start += len;
    }

    fn offset(&self, pos: usize) -> u64 {
        (self.base + pos as i64).max(0) as u64
    }

    /// Makes at least `need` bytes available from `start`, unless the stream ends first.
    #[inline]
    pub(super) fn fill(&mut self, need: usize) -> Result<(), CaptureError> {
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

    /// The stream ends inside the `what` that starts here and needs `needed` bytes.
    pub(super) fn truncated(&self, what: &'static str, needed: usize) -> CaptureError {
        CaptureError::Truncated {
            file: self.name.clone(),
            offset: self.offset(self.start),
            what,
            needed: needed as u64,
            have: (self.end - self.start) as u64,
        }
    }

    /// The `what` that starts here declares an impossible length.
    pub(super) fn bad_length(&self, what: &'static str, len: usize) -> CaptureError {
        CaptureError::BadLength {
            file: self.name.clone(),
            offset: self.offset(self.start),
            what,
            len: len as u64,
        }
    }

    /// The record that starts here is malformed in the way `what` says.
    pub(super) fn malformed(&self, what: String) -> CaptureError {
        CaptureError::Malformed {
            file: self.name.clone(),
            offset: self.offset(self.start),
            what,
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
        if let Some(next) = self.buf.get(self.start) {
            super::prefetch_frame(next);
        }
    }
}

/// A 32-bit field in the file's byte order (`b` holds exactly four bytes).
#[inline]
pub(super) fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Reading whole captures from memory, for the tests of every format.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    /// Packets read from `bytes`, in place and on a reader thread; both ways must agree.
    pub(in crate::capture) fn read_all(bytes: Vec<u8>) -> Result<u64, CaptureError> {
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
}

#[cfg(test)]
mod robustness {
    use super::*;

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
            v.push((
                p.ts.as_nanos(),
                p.data.len(),
                p.data.iter().map(|&b| b as u64).sum(),
            ));
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
    fn empty_and_foreign_files_are_refused() {
        let e = testing::read_all(Vec::new()).unwrap_err().to_string();
        assert_eq!(e, "t: empty file, not a capture");
        let e = testing::read_all(b"GIF89a".to_vec())
            .unwrap_err()
            .to_string();
        assert!(e.contains("starts with bytes 47 49 46 38"), "{e}");
    }
}

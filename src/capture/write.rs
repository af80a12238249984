//! Writing frames (`live -w FILE`, and `analyze -w FILE` for the frames of picked connections):
//! pcapng by default, classic pcap when the file name ends in `.pcap`. Timestamps keep
//! nanosecond precision in both.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{LinkType, Packet};

/// The file format written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFormat {
    /// pcapng: one section, one interface with nanosecond resolution.
    PcapNg,
    /// Classic pcap with the nanosecond magic number.
    Pcap,
}

impl WriteFormat {
    /// pcap for `*.pcap`, pcapng otherwise.
    pub fn for_path(path: &Path) -> WriteFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("pcap") => WriteFormat::Pcap,
            _ => WriteFormat::PcapNg,
        }
    }
}

/// A capture file being written.
pub struct CaptureWriter<W: Write = BufWriter<File>> {
    out: W,
    format: WriteFormat,
    /// The link type of each interface described so far (pcapng: one interface block per link
    /// type met; classic pcap: the file's only one).
    links: Vec<LinkType>,
    snaplen: u32,
    interface: String,
    /// Frames written.
    pub frames: u64,
}

impl CaptureWriter {
    /// Creates `path` for frames of `link` captured with `snaplen`, on `interface`.
    pub fn create(path: &Path, link: LinkType, snaplen: u32, interface: &str) -> io::Result<Self> {
        let out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        CaptureWriter::new(out, WriteFormat::for_path(path), link, snaplen, interface)
    }
}

fn option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&(value.len() as u16).to_le_bytes());
    b.extend_from_slice(value);
    b.resize(b.len().next_multiple_of(4), 0);
}

/// A pcapng interface description block for frames of `link`, with nanosecond timestamps.
fn interface_block(
    out: &mut impl Write,
    link: LinkType,
    snaplen: u32,
    interface: &str,
) -> io::Result<()> {
    let mut idb = Vec::new();
    idb.extend_from_slice(&(link.0 as u16).to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&snaplen.to_le_bytes());
    option(&mut idb, 2, interface.as_bytes()); // if_name
    option(&mut idb, 9, &[9]); // if_tsresol: nanoseconds
    option(&mut idb, 0, &[]);
    block(out, 1, &idb)
}

fn block(out: &mut impl Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let len = (12 + body.len()) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&len.to_le_bytes())
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the file header to `out`.
    pub fn new(
        mut out: W,
        format: WriteFormat,
        link: LinkType,
        snaplen: u32,
        interface: &str,
    ) -> io::Result<Self> {
        match format {
            WriteFormat::Pcap => {
                let mut h = Vec::with_capacity(24);
                h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&4u16.to_le_bytes());
                h.extend_from_slice(&[0; 8]);
                h.extend_from_slice(&snaplen.to_le_bytes());
                h.extend_from_slice(&link.0.to_le_bytes());
                out.write_all(&h)?;
            }
            WriteFormat::PcapNg => {
                let mut shb = Vec::new();
                shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
                shb.extend_from_slice(&1u16.to_le_bytes());
                shb.extend_from_slice(&0u16.to_le_bytes());
                shb.extend_from_slice(&(-1i64).to_le_bytes());
                let app = format!("tcpaudit {}", env!("CARGO_PKG_VERSION"));
                option(&mut shb, 4, app.as_bytes()); // shb_userappl
                option(&mut shb, 0, &[]);
                block(&mut out, 0x0A0D_0D0A, &shb)?;
                interface_block(&mut out, link, snaplen, interface)?;
            }
        }
        Ok(CaptureWriter {
            out,
            format,
            links: vec![link],
            snaplen,
            interface: interface.to_string(),
            frames: 0,
        })
    }

    /// Appends one frame.
    pub fn write(&mut self, pkt: &Packet<'_>) -> io::Result<()> {
        self.write_with_comment(pkt, None)
    }

    /// Appends one frame with a comment (pcapng `opt_comment`, shown by Wireshark; classic pcap
    /// has no place for it). A frame of another link type than the first gets an interface of
    /// its own in pcapng, and is refused in classic pcap.
    pub fn write_with_comment(
        &mut self,
        pkt: &Packet<'_>,
        comment: Option<&str>,
    ) -> io::Result<()> {
        let iface = match self.links.iter().position(|l| *l == pkt.link_type) {
            Some(i) => i,
            None if self.format == WriteFormat::PcapNg => {
                interface_block(&mut self.out, pkt.link_type, self.snaplen, &self.interface)?;
                self.links.push(pkt.link_type);
                self.links.len() - 1
            }
            None => {
                return Err(io::Error::other(format!(
                    "a classic pcap file holds one link type ({}), this frame is {}: write pcapng",
                    self.links[0].0, pkt.link_type.0
                )));
            }
        };
        let ns = pkt.ts.as_nanos();
        let caplen = pkt.data.len() as u32;
        match self.format {
            WriteFormat::Pcap => {
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&(ns.div_euclid(1_000_000_000) as u32).to_le_bytes());
                h[4..8].copy_from_slice(&(ns.rem_euclid(1_000_000_000) as u32).to_le_bytes());
                h[8..12].copy_from_slice(&caplen.to_le_bytes());
                h[12..16].copy_from_slice(&pkt.orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(pkt.data)?;
            }
            WriteFormat::PcapNg => {
                let pad = (4 - pkt.data.len() % 4) % 4;
                let mut opts = Vec::new();
                if let Some(c) = comment {
                    option(&mut opts, 1, c.as_bytes()); // opt_comment
                    option(&mut opts, 0, &[]);
                }
                let len = (32 + pkt.data.len() + pad + opts.len()) as u32;
                let units = ns as u64;
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&len.to_le_bytes());
                h[8..12].copy_from_slice(&(iface as u32).to_le_bytes());
                h[12..16].copy_from_slice(&((units >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(units as u32).to_le_bytes());
                h[20..24].copy_from_slice(&caplen.to_le_bytes());
                h[24..28].copy_from_slice(&pkt.orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(pkt.data)?;
                self.out.write_all(&[0u8; 3][..pad])?;
                self.out.write_all(&opts)?;
                self.out.write_all(&len.to_le_bytes())?;
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Flushes buffered frames to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureFile;
    use crate::time::Timestamp;

    fn roundtrip(format: WriteFormat) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(match format {
            WriteFormat::Pcap => "x.pcap",
            WriteFormat::PcapNg => "x.pcapng",
        });
        assert_eq!(WriteFormat::for_path(&path), format);
        let frames: Vec<(i64, Vec<u8>, u32)> = vec![
            (1_700_000_000_123_456_789, vec![1, 2, 3, 4, 5], 60),
            (1_700_000_001_000_000_001, vec![9; 64], 64),
            (1_700_000_002_999_999_999, vec![7; 1], 1),
        ];
        let mut w = CaptureWriter::create(&path, LinkType::ETHERNET, 262_144, "veth0").unwrap();
        for (ts, data, len) in &frames {
            w.write(&Packet {
                ts: Timestamp::from_nanos(*ts),
                link_type: LinkType::ETHERNET,
                data,
                orig_len: *len,
            })
            .unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let mut f = CaptureFile::open(path.to_str().unwrap(), false).unwrap();
        for (ts, data, len) in &frames {
            let p = f.next_packet().unwrap().expect("a frame");
            assert_eq!(p.ts, Timestamp::from_nanos(*ts), "{format:?}");
            assert_eq!(p.data, &data[..]);
            assert_eq!(p.orig_len, *len);
            assert_eq!(p.link_type, LinkType::ETHERNET);
        }
        assert!(f.next_packet().unwrap().is_none());
    }

    #[test]
    fn written_pcap_and_pcapng_read_back_exactly() {
        roundtrip(WriteFormat::Pcap);
        roundtrip(WriteFormat::PcapNg);
    }

    #[test]
    fn pcapng_takes_several_link_types_and_comments_pcap_refuses_a_second_type() {
        let dir = tempfile::tempdir().unwrap();
        let pkt = |ts: i64, link_type: LinkType| Packet {
            ts: Timestamp::from_nanos(ts),
            link_type,
            data: &[0x45, 0, 0, 20],
            orig_len: 4,
        };
        let path = dir.path().join("mixed.pcapng");
        let mut w = CaptureWriter::create(&path, LinkType::ETHERNET, 65_535, "x").unwrap();
        w.write_with_comment(&pkt(1, LinkType::ETHERNET), Some("first"))
            .unwrap();
        w.write_with_comment(&pkt(2, LinkType::RAW), Some("a comment of odd length"))
            .unwrap();
        w.write(&pkt(3, LinkType::ETHERNET)).unwrap();
        w.flush().unwrap();
        drop(w);
        let mut f = CaptureFile::open(path.to_str().unwrap(), false).unwrap();
        let types: Vec<(i64, LinkType)> = std::iter::from_fn(|| {
            f.next_packet()
                .unwrap()
                .map(|p| (p.ts.as_nanos(), p.link_type))
        })
        .collect();
        assert_eq!(
            types,
            [
                (1, LinkType::ETHERNET),
                (2, LinkType::RAW),
                (3, LinkType::ETHERNET)
            ]
        );
        let path = dir.path().join("one.pcap");
        let mut w = CaptureWriter::create(&path, LinkType::ETHERNET, 65_535, "x").unwrap();
        let e = w.write(&pkt(1, LinkType::RAW)).unwrap_err();
        assert!(e.to_string().contains("write pcapng"), "{e}");
    }
}

//! Segment builders for unit tests in virtual time (no capture files, no clock), and the list of
//! fixture captures for tests that sweep them all.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::time::Timestamp;
use crate::wire::{Segment, SeqNum, TcpFlags, TcpOptions};

/// The client, 10.0.0.1:40000.
pub const A: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
/// The server, 10.0.0.2:80.
pub const B: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);

/// A segment from `from` to `to` at `ms` milliseconds with tcpdump-like `flags` ("S", "SA",
/// "A", "FA", "RA", "R", "PA", "" for none), sequence and acknowledgment numbers and payload
/// length.
#[allow(clippy::too_many_arguments)]
pub fn seg(
    ms: i64,
    from: (IpAddr, u16),
    to: (IpAddr, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    len: u32,
) -> Segment<'static> {
    let mut f = 0;
    for c in flags.chars() {
        f |= match c {
            'S' => TcpFlags::SYN,
            'A' => TcpFlags::ACK,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            'U' => TcpFlags::URG,
            _ => 0,
        };
    }
    Segment {
        ts: Timestamp::from_millis(ms),
        frame: ms as u64,
        src: from.0,
        dst: to.0,
        sport: from.1,
        dport: to.1,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags: TcpFlags(f),
        window: 65535,
        urgent: 0,
        data_offset: 5,
        checksum: 0,
        options: TcpOptions::default(),
        payload: &[],
        payload_len: len,
        ip_len: 40 + len,
        frame_len: 54 + len,
        ttl: 64,
        ip_id: Some(ms as u16),
        ip_ecn: 0,
        truncated: false,
        header_cut: false,
        checksum_ok: None,
        vlan: None,
        tunnel: None,
    }
}

/// A deterministic pseudo-random sequence (xorshift64), no dependency: the same on every run,
/// for tests that sweep many generated cases.
pub struct Rng(pub u64);

impl Rng {
    /// The next value of the sequence.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next value, below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Client to server.
pub fn c2s(ms: i64, flags: &str, seq: u32, ack: u32, len: u32) -> Segment<'static> {
    seg(ms, A, B, flags, seq, ack, len)
}

/// Server to client.
pub fn s2c(ms: i64, flags: &str, seq: u32, ack: u32, len: u32) -> Segment<'static> {
    seg(ms, B, A, flags, seq, ack, len)
}

/// A connection opened by the three-way handshake and closed by the four-way FIN exchange,
/// the client closing first (A is the client, B the server).
pub fn fin_closed() -> Vec<Segment<'static>> {
    vec![
        c2s(0, "S", 100, 0, 0),
        s2c(10, "SA", 500, 101, 0),
        c2s(20, "A", 101, 501, 0),
        c2s(30, "FA", 101, 501, 0),
        s2c(40, "FA", 501, 102, 0),
        c2s(50, "A", 102, 502, 0),
    ]
}

/// Every capture file under `fixtures/` (pcap, pcapng, gzip), sorted; asserts there are many.
pub fn fixture_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.to_string_lossy();
            if p.is_dir() {
                walk(&p, out);
            } else if name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".gz")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    files.sort();
    assert!(files.len() > 50, "{} captures", files.len());
    files
}

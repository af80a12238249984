//! Helpers shared by the integration tests: running the binary, fixture paths, JSON lines, a
//! minimal pcap writer for synthetic frames, and [`require`] for tests that need something the
//! machine may lack.

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// Whether a test's prerequisite (a tool, a privilege, a corpus) is there; call it as
/// `if !require(have_x, "why") { return; }`, or guard only the part of a test that needs it.
///
/// A missing prerequisite must not pass unnoticed where it is expected to be present: under
/// `CI=true` (or `CI=1`) this panics with `why`, so the test fails. Elsewhere it prints
/// `SKIPPED: <test>: <why>` and returns false.
pub fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("<unnamed test>");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{test}: {why} (a missing prerequisite fails the test under CI)");
    }
    // Written straight to stderr so that the test harness's output capture does not hide it.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    false
}

/// The `tcpaudit` binary under test.
pub fn tcpaudit() -> Command {
    Command::cargo_bin("tcpaudit").expect("binary built")
}

/// The terminal tables of `tcpaudit analyze ARGS FILE`, 200 columns wide (so that no line of
/// the summary is wrapped).
pub fn table_text(args: &[&str], file: &Path) -> String {
    let out = tcpaudit()
        .arg("analyze")
        .args(args)
        .arg(file)
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file under fixtures/.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Runs `tcpaudit analyze -f json` on the given files; returns (exit code, records, stderr).
pub fn analyze_json(files: &[&Path]) -> (i32, Vec<Value>, String) {
    let out = tcpaudit()
        .arg("analyze")
        .arg("-f")
        .arg("json")
        .args(files)
        .output()
        .unwrap();
    let records = json_lines(&out.stdout);
    (
        out.status.code().unwrap_or(-1),
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses JSON lines, panicking on any line that is not a JSON object.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"))
        })
        .collect()
}

/// The connection records among JSON lines, sorted by id.
pub fn connections(records: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = records
        .iter()
        .filter(|r| r["type"] == "connection")
        .cloned()
        .collect();
    v.sort_by_key(|r| r["id"].as_u64());
    v
}

/// The summary record among JSON lines.
pub fn summary(records: &[Value]) -> Value {
    let s: Vec<&Value> = records.iter().filter(|r| r["type"] == "summary").collect();
    assert_eq!(s.len(), 1, "exactly one summary record");
    s[0].clone()
}

/// Writes a little-endian microsecond pcap with the given link type and (µs timestamp, frame).
pub fn write_pcap(path: &Path, link_type: u32, frames: &[(u64, Vec<u8>)]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&0i32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&link_type.to_le_bytes());
    for (ts, f) in frames {
        b.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

/// An IPv4/TCP datagram from etherparse's builder (no link layer).
#[allow(clippy::too_many_arguments)]
pub fn ipv4_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, seq, 64240);
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            _ => b,
        };
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// A SYN, SYN-ACK, ACK exchange between 10.0.0.1:40000 and 10.0.0.2:80 as IP datagrams.
pub fn handshake() -> Vec<Vec<u8>> {
    vec![
        ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 1000, 0, "S", &[]),
        ipv4_tcp(
            [10, 0, 0, 2],
            [10, 0, 0, 1],
            80,
            40000,
            5000,
            1001,
            "SA",
            &[],
        ),
        ipv4_tcp(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            40000,
            80,
            1001,
            5001,
            "A",
            &[],
        ),
    ]
}

/// The states an active closer's endpoint goes through, as the seeds draw them.
pub const SEED_CLIENT: [&str; 6] = [
    "CLOSED",
    "SYN-SENT",
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
];

/// The states a passive opener and closer goes through, as the seeds draw them.
pub const SEED_SERVER: [&str; 6] = [
    "LISTEN",
    "SYN-RECEIVED",
    "ESTABLISHED",
    "CLOSE-WAIT",
    "LAST-ACK",
    "CLOSED",
];

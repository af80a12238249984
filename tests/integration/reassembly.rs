//! Reassembled streams against PcapPlusPlus's expected payloads (fixtures/reassembly, copied from
//! PcapPlusPlus's TcpReassembly tests): the bytes each connection delivers, in delivery order
//! over both directions, equal the expected file.

use std::sync::{Arc, Mutex};

use tcpaudit::analyzer::{Analyzer, AnalyzerConfig};
use tcpaudit::capture::CaptureSet;
use tcpaudit::flow::StreamSink;
use tcpaudit::flow::{Endpoint, Side};

use crate::util::*;

type Deliveries = Arc<Mutex<Vec<(u64, Side, Vec<u8>)>>>;

struct Collect(Deliveries);

impl StreamSink for Collect {
    fn data(&mut self, id: u64, _: Endpoint, _: Endpoint, side: Side, bytes: &[u8]) {
        self.0.lock().unwrap().push((id, side, bytes.to_vec()));
    }
    fn close(&mut self, _: u64) {}
}

/// Each connection's deliveries concatenated in delivery order.
fn streams(path: &std::path::Path) -> Vec<Vec<u8>> {
    let got: Deliveries = Arc::default();
    let mut a = Analyzer::new(AnalyzerConfig::default());
    a.set_stream_sink(Box::new(Collect(got.clone())));
    let mut set = CaptureSet::open(&[path.to_string_lossy().into_owned()]);
    while let Some(p) = set.next_packet() {
        a.push(&p, &mut |_| {});
    }
    a.finish(&mut |_| {});
    let mut by_conn: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
    for (id, _, bytes) in got.lock().unwrap().iter() {
        by_conn.entry(*id).or_default().extend_from_slice(bytes);
    }
    by_conn.into_values().collect()
}

#[test]
fn streams_equal_pcapplusplus_expected_payloads() {
    let dir = fixture("reassembly");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((capture, _)) = name.split_once(".pcpp-") else {
            continue;
        };
        let expected = std::fs::read(&path).unwrap();
        let ours = streams(&dir.join(capture));
        assert!(
            ours.contains(&expected),
            "{name}: no connection delivers the expected {} bytes (ours: {:?})",
            expected.len(),
            ours.iter().map(|s| s.len()).collect::<Vec<_>>()
        );
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn write_streams_names_files_by_id_direction_and_tuple() {
    let dir = tempfile::tempdir().unwrap();
    tcpaudit()
        .args(["analyze", "--write-streams"])
        .arg(dir.path())
        .arg(fixture("reassembly/one_http_stream_fin.pcap"))
        .assert()
        .success();
    let orig = std::fs::read(
        dir.path()
            .join("000001-orig-192.168.1.2_49486-77.67.44.206_80.bin"),
    )
    .unwrap();
    let resp = std::fs::read(
        dir.path()
            .join("000001-resp-77.67.44.206_80-192.168.1.2_49486.bin"),
    )
    .unwrap();
    assert!(orig.starts_with(b"GET /softw/90/update/avg9infoavi.ctf HTTP/1.1"));
    assert!(resp.starts_with(b"HTTP/1.1 200 OK"));
    assert_eq!(orig.len() + resp.len(), 3916);
}

#[test]
fn conflicting_overlap_is_reported_with_check_overlaps() {
    // suricata-verify eve-overlap-payload-01: "GOOD" and "EVIL" sent for the same bytes.
    let f = fixture("reassembly/tcp-overlap.pcap");
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--check-overlaps"])
        .arg(&f)
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    let a: Vec<_> = recs
        .iter()
        .filter(|r| r["kind"] == "overlap_conflict")
        .collect();
    assert_eq!(a.len(), 1, "{recs:?}");
    assert_eq!(a[0]["detail"]["kept"], "first");
    assert_eq!(connections(&recs)[0]["orig"]["overlap_conflicts"], 1);
    // Without the flag only ranges are tracked: nothing to compare.
    let (_, recs, _) = analyze_json(&[&f]);
    assert!(recs.iter().all(|r| r["kind"] != "overlap_conflict"));
}

/// The handshake, then one-byte client segments at the given stream offsets.
fn one_byte_segments(offsets: impl Iterator<Item = u32>) -> Vec<(u64, Vec<u8>)> {
    let mut frames: Vec<Vec<u8>> = handshake();
    for off in offsets {
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        frames.push(ipv4_tcp(
            a,
            b,
            40000,
            80,
            1001 + off,
            5001,
            "AP",
            &[off as u8],
        ));
    }
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (1_000_000 + i as u64 * 10, f))
        .collect()
}

#[test]
fn descending_segments_are_held_as_one_range() {
    // 3,000 one-byte segments sent backwards: every one but the last waits beyond a hole.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("descending.pcap");
    write_pcap(&f, 101, &one_byte_segments((0..3000).rev()));
    let (code, recs, err) = analyze_json(&[&f]);
    assert_eq!(code, 0, "{err}");
    let c = &connections(&recs)[0];
    assert_eq!(c["orig"]["stream_bytes"], 3000);
    assert_eq!(c["orig"]["missed_bytes"], 0);
    assert_eq!(c["orig"]["reassembly_cap_hits"], 0);
    let table = &summary(&recs)["table"];
    assert_eq!(table["reassembly_cap_hits"], 0);
    // One merged range, charged its bookkeeping (ranges only: no bytes kept).
    assert_eq!(table["reassembly_peak_bytes"], 96);
}

#[test]
fn held_ranges_beyond_the_stream_buffer_are_counted() {
    // Every other byte beyond a hole: separate ranges of 96 bytes' bookkeeping each, 10 of
    // which fit in 960 bytes; the other 90 are refused and counted.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sparse.pcap");
    write_pcap(&f, 101, &one_byte_segments((1..=100).map(|i| i * 2)));
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--max-stream-buffer", "960"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = json_lines(&out.stdout);
    assert_eq!(connections(&recs)[0]["orig"]["reassembly_cap_hits"], 90);
    let table = &summary(&recs)["table"];
    assert_eq!(table["reassembly_cap_hits"], 90);
    assert_eq!(table["reassembly_peak_bytes"], 960);
    let text = table_text(&["--max-stream-buffer", "960"], &f);
    assert!(
        text.contains("reassembly bound hit") && text.contains("90 segments not held"),
        "{text}"
    );
}

//! Segment sanity kinds on real captures: SPAN-port duplicates and checksum verification
//! against tshark's own checksum validation.

use serde_json::Value;

use crate::util::*;

/// One pcap record: its 16-byte header and its data.
type Record<'a> = (&'a [u8], &'a [u8]);

/// Little-endian classic pcap records after the 24-byte file header.
fn records(pcap: &[u8]) -> (&[u8], Vec<Record<'_>>) {
    assert_eq!(
        &pcap[..4],
        &0xa1b2c3d4u32.to_le_bytes(),
        "LE microsecond pcap"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((&pcap[at..at + 16], &pcap[at + 16..at + 16 + caplen]));
        at += 16 + caplen;
    }
    (&pcap[..24], out)
}

fn counts(conn: &Value, kind: &str) -> (u64, u64) {
    let c = &conn["segment_counts"][kind];
    (
        c["orig"].as_u64().unwrap_or(0),
        c["resp"].as_u64().unwrap_or(0),
    )
}

#[test]
fn every_packet_twice_is_a_capture_duplicate_and_changes_nothing_else() {
    let original = fixture("recordings/normal_http.pcap");
    let bytes = std::fs::read(&original).unwrap();
    let (file_header, recs) = records(&bytes);
    // A SPAN port copying every frame: the copy 3 µs after the original.
    let mut doubled = file_header.to_vec();
    for (h, d) in &recs {
        doubled.extend_from_slice(h);
        doubled.extend_from_slice(d);
        let mut h2 = h.to_vec();
        let usec = u32::from_le_bytes(h[4..8].try_into().unwrap()) + 3;
        h2[4..8].copy_from_slice(&usec.to_le_bytes());
        doubled.extend_from_slice(&h2);
        doubled.extend_from_slice(d);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("span.pcap");
    std::fs::write(&path, doubled).unwrap();

    let (_, before, _) = analyze_json(&[&original]);
    let (code, after, _) = analyze_json(&[&path]);
    assert_eq!(code, 0);
    let (b, a) = (&connections(&before)[0], &connections(&after)[0]);
    let (o, r) = counts(a, "capture_duplicate");
    assert_eq!(o, b["orig"]["packets"].as_u64().unwrap());
    assert_eq!(r, b["resp"]["packets"].as_u64().unwrap());
    for k in ["orig_state", "resp_state", "conn_state", "end_reason"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    for side in ["orig", "resp"] {
        assert_eq!(a[side]["stream_bytes"], b[side]["stream_bytes"], "{side}");
        assert_eq!(a[side]["missed_bytes"], 0);
    }
    assert_eq!(counts(b, "capture_duplicate"), (0, 0));
}

/// Bad TCP checksums per corpus fixture, as `tshark -o tcp.check_checksum:TRUE -Y
/// tcp.checksum.status==0` (4.0.17) counts them. Loopback and host-side captures carry the
/// partial checksums of offload, so all of one direction is bad there.
const BAD_CHECKSUMS: &[(&str, u64)] = &[
    ("80211http", 0),
    ("bug-3844", 0),
    ("bug-5437-02", 60),
    ("frag-ip-tcp", 0),
    ("nanosecs_big_endian", 10),
    ("nflog", 10),
    ("null_loopback", 1),
    ("payload-syn", 0),
    ("simple_http_sll2", 24),
    ("tcp-handshake-nano", 0),
    ("vntag_vlan_sandwich_clean", 0),
];

#[test]
fn verified_checksums_agree_with_tshark() {
    for (name, want) in BAD_CHECKSUMS {
        let out = tcpaudit()
            .args(["analyze", "-f", "json", "--verify-checksums"])
            .arg(fixture(&format!("corpus/{name}.pcap")))
            .output()
            .unwrap();
        let recs = json_lines(&out.stdout);
        let s = summary(&recs);
        assert_eq!(s["bad_checksums"], *want, "{name}");
        let occurrences = s["anomaly_occurrences"]["bad_checksum"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(occurrences, *want, "{name}: every bad segment is counted");
    }
    // Without the option nothing is verified.
    let (_, recs, _) = analyze_json(&[&fixture("corpus/simple_http_sll2.pcap")]);
    assert_eq!(summary(&recs)["bad_checksums"], 0);
}

#[test]
fn a_loopback_capture_is_recognised_as_checksum_offload() {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--verify-checksums"])
        .arg(fixture("corpus/simple_http_sll2.pcap"))
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    let reported: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "anomaly" && r["kind"] == "bad_checksum")
        .collect();
    assert!(!reported.is_empty());
    for r in reported {
        assert_eq!(r["detail"]["offload_suspected"], true, "{r}");
        assert_eq!(r["severity"], "notice");
    }
}

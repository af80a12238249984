//! Real captures in fixtures/corpus (copied from public test suites, see fixtures/README.md):
//! conversations equal tshark's references shipped beside them, and format-specific facts hold.

use std::path::Path;

use crate::oracle::{conv_agree, our_rows, parse_tshark_conv};
use crate::util::*;

/// Fixtures whose tshark conversation table differs on purpose (options cut by the snaplen: tshark
/// drops the frame, tcpaudit analyses its intact fixed header).
const CONV_DIFFERENCES: &[&str] = &["vntag_vlan_sandwich_clean.pcap", "truncated-header.pcap"];

#[test]
fn every_corpus_fixture_matches_its_tshark_conversations() {
    let dir = fixture("corpus");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let conv = std::fs::read_to_string(dir.join(format!("{name}.tshark-conv.txt"))).unwrap();
        let (conns, _, errors) = crate::oracle::analyse(&path);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let r = conv_agree(&parse_tshark_conv(&conv), &our_rows(&conns));
        if CONV_DIFFERENCES.contains(&name.as_str()) {
            assert!(
                r.is_err(),
                "{name} now agrees with tshark; drop it from CONV_DIFFERENCES"
            );
        } else {
            r.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures");
}

fn only_connection(path: &Path) -> serde_json::Value {
    let (code, recs, err) = analyze_json(&[path]);
    assert_eq!(code, 0, "{err}");
    let c = connections(&recs);
    assert_eq!(c.len(), 1, "{c:?}");
    c[0].clone()
}

#[test]
fn handshake_legs_options_and_close_are_reported() {
    let c = only_connection(&fixture("corpus/miss_end_data.pcap"));
    assert_eq!(c["orig_addr"], "192.168.122.230");
    assert_eq!(c["resp_port"], 80);
    assert_eq!(c["orig"]["packets"], 5);
    assert_eq!(c["resp"]["packets"], 4);
    // Zeek's conn.log for this trace: orig_ip_bytes 750, resp_ip_bytes 172.
    assert_eq!(c["orig"]["ip_bytes"], 750);
    assert_eq!(c["resp"]["ip_bytes"], 172);
    assert_eq!(c["handshake"]["syn_to_synack"].to_string(), "0.005552");
    assert_eq!(c["handshake"]["synack_to_ack"].to_string(), "0.000174");
    assert_eq!(c["orig"]["options"]["mss"], 1460);
    assert_eq!(c["orig"]["options"]["wscale"], 2);
    assert_eq!(c["resp"]["options"]["wscale"], 9);
    assert_eq!(c["negotiated"]["sack"], true);
    assert_eq!(c["first_fin"], "resp");
    assert_eq!(c["end_reason"], "fin");
    assert_eq!(c["saw_start"], true);
    assert_eq!(c["first_ts"].to_string(), "1331764471.664131");
}

#[test]
fn nanosecond_timestamps_keep_their_digits() {
    // serde_json would round the value to an f64: look at the text itself.
    let out = tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(fixture("corpus/tcp-handshake-nano.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let ts = text
        .split("\"first_ts\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    assert_eq!(
        ts, "1418145369.924505488",
        "tshark: frame.time_epoch 1418145369.924505488"
    );
    let be = only_connection(&fixture("corpus/nanosecs_big_endian.pcap"));
    assert!(be["first_ts"].as_f64().unwrap() > 1e9);
}

#[test]
fn link_types_are_decoded() {
    for (name, link) in [
        ("simple_http_sll2.pcap", "linux_sll2"),
        ("nflog.pcap", "nflog"),
        ("null_loopback.pcap", "null"),
        ("ipoib.pcap", "ipoib"),
        ("80211http.pcap", "ieee802_11_radiotap"),
        ("payload-syn.pcap", "raw"),
        ("frag-ppp-ip-tcp-syn.pcap", "ppp"),
    ] {
        let (code, recs, err) = analyze_json(&[&fixture(&format!("corpus/{name}"))]);
        assert_eq!(code, 0, "{name}: {err}");
        let s = summary(&recs);
        assert!(
            s["tcp_segments"].as_u64().unwrap() > 0,
            "{name} ({link}) yielded no TCP"
        );
        assert_eq!(
            s["unsupported_link_types"].as_object().unwrap().len(),
            0,
            "{name}"
        );
        assert_eq!(
            s["skipped"].as_object().unwrap().len(),
            0,
            "{name}: {}",
            s["skipped"]
        );
    }
}

#[test]
fn pcapng_with_many_interfaces_and_sections() {
    let (code, recs, _) = analyze_json(&[&fixture("corpus/many_interfaces-1.pcapng")]);
    assert_eq!(code, 0);
    let s = summary(&recs);
    assert_eq!(s["files"][0]["format"], "pcapng");
    assert_eq!(s["packets"], 64);
    assert!(s["tcp_segments"].as_u64().unwrap() > 0);
}

#[test]
fn ip_fragments_are_reassembled() {
    for name in ["frag-ppp-ip-tcp-syn.pcap", "frag-ip-tcp.pcap"] {
        let (_, recs, _) = analyze_json(&[&fixture(&format!("corpus/{name}"))]);
        let s = summary(&recs);
        assert_eq!(
            s["fragments"]["reassembled"], 1,
            "{name}: {}",
            s["fragments"]
        );
        assert_eq!(s["tcp_segments"], 1, "{name}");
    }
}

#[test]
fn tunnels_are_looked_through() {
    let (_, recs, _) = analyze_json(&[&fixture("corpus/gtp-iphone.pcap")]);
    let s = summary(&recs);
    assert_eq!(s["tunnels"]["gtp_u"], 58);
    let c = connections(&recs);
    assert!(c.iter().all(|c| c["tunnel"] == "gtp_u"));
    // The four-tuple is reused three times: four incarnations linked by prev_id.
    let linked = c.iter().filter(|c| !c["prev_id"].is_null()).count();
    assert_eq!(linked, 3);
    let (_, recs, _) = analyze_json(&[&fixture("corpus/bug-5437-02.pcap")]);
    assert_eq!(summary(&recs)["tunnels"]["gre"], 60);
}

#[test]
fn snaplen_cut_segments_are_still_analysed() {
    let (code, recs, _) = analyze_json(&[&fixture("corpus/tcp_rst_diag_payload-trunc.pcap")]);
    assert_eq!(code, 0);
    let s = summary(&recs);
    assert_eq!(s["truncated_segments"], 1);
    let c = connections(&recs);
    assert_eq!(
        c[0]["orig"]["truncated"].as_u64().unwrap() + c[0]["resp"]["truncated"].as_u64().unwrap(),
        1
    );
    let (_, recs, _) = analyze_json(&[&fixture("corpus/vntag_vlan_sandwich_clean.pcap")]);
    let c = connections(&recs);
    assert_eq!(c[0]["vlan"], 250);
    assert_eq!(
        c[0]["orig_port"], 56960,
        "a lone SYN-ACK makes its receiver the originator"
    );
    assert_eq!(c[0]["flipped"], true);
}

#[test]
fn pcapng_with_several_sections() {
    // Two pcapng files back to back are one file with two sections (each with its own
    // interfaces and link types).
    let a = std::fs::read(fixture("corpus/many_interfaces-1.pcapng")).unwrap();
    let b = std::fs::read(fixture("corpus/pcapng-example.pcapng")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sections.pcapng");
    std::fs::write(&f, [a, b].concat()).unwrap();
    let (code, recs, err) = analyze_json(&[&f]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&recs);
    assert_eq!(s["packets"], 64 + 159);
    assert_eq!(s["skipped_records"], 0);
}

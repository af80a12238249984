//! `analyze -w FILE`: the frames of the connections `--select` picks, written out for
//! Wireshark. Analysed again, they give the same connections as they had in the whole capture.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as Std;

use serde_json::Value;

use crate::util::*;

/// What a connection is, as both analyses should agree.
fn outcome(r: &Value) -> (String, String, String, String, String, String) {
    let s = |k: &str| r[k].to_string();
    (
        format!(
            "{}:{} {}:{} {}",
            r["orig_addr"], r["orig_port"], r["resp_addr"], r["resp_port"], r["first_ts"]
        ),
        s("conn_state"),
        s("history"),
        format!("{} {}", r["orig_state"], r["resp_state"]),
        s("anomalies"),
        s("end_reason"),
    )
}

fn write(capture: &Path, out: &Path, extra: &[&str]) -> (Vec<Value>, String) {
    let o = tcpaudit()
        .args(["analyze", "-f", "json", "-w"])
        .arg(out)
        .args(extra)
        .arg(capture)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        json_lines(&o.stdout),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn written_connections_analyse_as_they_did_in_the_whole_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("picked.pcapng");
    let ids = ["rst_abort", "half_open", "missing_third_ack"];
    let (recs, err) = write(
        &fixture("generated/mixed.pcap"),
        &out,
        &["--select", &format!("anomaly={}", ids.join(","))],
    );
    let picked: Vec<&Value> = connections(&recs)
        .into_iter()
        .filter(|r| {
            r["anomalies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| ids.contains(&a.as_str().unwrap()))
        })
        .map(|r| {
            recs.iter()
                .find(|x| x["type"] == "connection" && x["id"] == r["id"])
                .unwrap()
        })
        .collect();
    assert!(picked.len() > 100, "{}", picked.len());
    assert!(
        err.contains(&format!("of {} connections", picked.len())),
        "{err}"
    );
    let (code, again, _) = analyze_json(&[&out]);
    assert_eq!(code, 0);
    let before: BTreeMap<_, _> = picked.iter().map(|r| (outcome(r).0, outcome(r))).collect();
    let after: BTreeMap<_, _> = connections(&again)
        .iter()
        .map(|r| (outcome(r).0, outcome(r)))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn frames_keep_their_numbers_in_comments_and_tshark_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flagged.pcapng");
    // By default the flagged connections: challenge_ack's has a warning
    // (rst_injection_suspected).
    let (_, err) = write(&fixture("recordings/challenge_ack.pcap"), &out, &[]);
    assert!(err.contains("wrote 14 frames of 1 connection"), "{err}");
    if !require(
        Std::new("tshark").arg("-v").output().is_ok(),
        "tshark is not installed (apt-get install tshark)",
    ) {
        return;
    }
    let o = Std::new("tshark")
        .args(["-r"])
        .arg(&out)
        .args(["-T", "fields", "-e", "frame.number", "-e", "frame.comment"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 14, "{text}");
    assert_eq!(lines[0], "1\ttcpaudit frame 1, connection #1");
    assert_eq!(lines[13], "14\ttcpaudit frame 14, connection #1");
}

/// A segment reassembled from IP fragments is written as all the frames that carried them, so
/// the connection analyses again as it did (one fragment alone could not be reassembled).
#[test]
fn fragmented_segments_are_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["frag-ip-tcp.pcap", "frag-ppp-ip-tcp-syn.pcap"] {
        let out = dir.path().join(format!("{name}.pcapng"));
        let (recs, err) = write(
            &fixture(&format!("corpus/{name}")),
            &out,
            &["--select", "conn=1"],
        );
        assert!(
            err.contains("wrote 3 frames of 1 connection"),
            "{name}: {err}"
        );
        let (code, again, _) = analyze_json(&[&out]);
        assert_eq!(code, 0);
        let outcomes = |r: &[Value]| connections(r).iter().map(outcome).collect::<Vec<_>>();
        assert_eq!(outcomes(&again), outcomes(&recs), "{name}");
    }
}

/// Frames are written with the times they were captured at, also where the analysis took
/// another (frame 2 of pcapng-example is dated 2061: a clock fault the analysis screens), and
/// the written connection analyses as it did.
#[test]
fn frames_keep_their_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.pcapng");
    let capture = fixture("corpus/pcapng-example.pcapng");
    let (recs, err) = write(&capture, &out, &["--select", "conn=1"]);
    assert!(err.contains("wrote 59 frames of 1 connection"), "{err}");
    let again = json_lines(
        &tcpaudit()
            .args(["analyze", "-f", "json"])
            .arg(&out)
            .output()
            .unwrap()
            .stdout,
    );
    let first = |recs: &[Value]| outcome(&connections(recs)[0]);
    assert_eq!(first(&again), first(&recs));
    if !require(
        Std::new("tshark").arg("-v").output().is_ok(),
        "tshark is not installed (apt-get install tshark)",
    ) {
        return;
    }
    let times = |f: &Path| {
        let o = Std::new("tshark")
            .arg("-r")
            .arg(f)
            .args(["-c", "3", "-T", "fields", "-e", "frame.time_epoch"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let written = times(&out);
    assert!(written.contains("2894531997.938836488"), "{written}");
    assert_eq!(written, times(&capture));
}

#[test]
fn selections_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let cap = fixture("recordings/reuse_time_wait.pcap");
    // Classic pcap by name; conn= picks by id.
    let out = dir.path().join("second.pcap");
    let (_, err) = write(&cap, &out, &["--select", "conn=2"]);
    assert!(err.contains("wrote 10 frames of 1 connection"), "{err}");
    let (code, again, _) = analyze_json(&[&out]);
    assert_eq!(code, 0);
    assert_eq!(connections(&again).len(), 1);
    // Nothing flagged: an empty but valid capture.
    let out = dir.path().join("none.pcapng");
    let (_, err) = write(&fixture("recordings/normal_http.pcap"), &out, &[]);
    assert!(err.contains("wrote 0 frames of 0 connections"), "{err}");
    let (code, again, _) = analyze_json(&[&out]);
    assert_eq!((code, connections(&again).len()), (0, 0));
    // A selection that means nothing is refused.
    let o = tcpaudit()
        .args(["analyze", "-w"])
        .arg(dir.path().join("x.pcapng"))
        .args(["--select", "anomaly=nope"])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown anomaly id 'nope'"));
}

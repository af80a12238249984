//! The TCP notes' facts on real Linux captures (fixtures/recordings, made by record_seeds.sh):
//! the ISN clock, the retransmission timer's back-off and give-up, and the lost final ACK that
//! TIME-WAIT exists for. Ground truth: the kernel's own view recorded beside each capture
//! (NAME.kernel.txt: ss -tin, nstat) and tshark 4.0.17's `tcp.analysis.rto`.

use std::process::Command as Std;

use serde_json::Value;

use crate::util::*;

fn records(name: &str) -> Vec<Value> {
    let (code, recs, _) = analyze_json(&[&fixture(&format!("recordings/{name}.pcap"))]);
    assert_eq!(code, 0, "{name}");
    recs
}

fn anomaly<'a>(recs: &'a [Value], kind: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["type"] == "anomaly" && r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn gaps(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_f64().unwrap())
        .collect()
}

/// tshark's `tcp.analysis.rto` (seconds since the original transmission) per retransmitted
/// frame of `name`, made into gaps between consecutive copies; None without tshark.
fn tshark_gaps(name: &str, port: u16) -> Option<Vec<f64>> {
    let out = Std::new("tshark")
        .arg("-r")
        .arg(fixture(&format!("recordings/{name}.pcap")))
        .args(["-Y", &format!("tcp.srcport == {port} && tcp.analysis.rto")])
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.analysis.rto",
        ])
        .output()
        .ok()?;
    let rows: Vec<(u64, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (s, r) = l.split_once('\t')?;
            Some((s.parse().ok()?, r.parse().ok()?))
        })
        .collect();
    // The longest run of one sequence number (a tail-loss probe of another segment aside).
    let seq = rows
        .iter()
        .map(|r| r.0)
        .max_by_key(|s| rows.iter().filter(|r| r.0 == *s).count())?;
    let rto: Vec<f64> = rows.iter().filter(|r| r.0 == seq).map(|r| r.1).collect();
    Some(
        rto.iter()
            .enumerate()
            .map(|(i, r)| r - if i == 0 { 0.0 } else { rto[i - 1] })
            .collect(),
    )
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn the_isn_clock_of_linux_ticks_every_64_ns() {
    // Four incarnations of 10.99.0.1:40131 -> :8080 with no TIME-WAIT kept: both hosts' ISNs
    // advance by the elapsed time over 64 ns (secure_tcp_seq: ktime_get_real_ns() >> 6).
    // tshark's raw sequence numbers give 15,625,153, 15,624,972 and 15,624,995 a second for the
    // client, 15,625,060, 15,625,012, 15,624,991 for the server.
    let recs = records("isn_clock");
    let hosts = summary(&recs)["isn_hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    for h in &hosts {
        assert_eq!(h["clock_samples"], 3, "{h}");
        let rate = h["clock_rate_per_s"].as_f64().unwrap();
        assert!((rate - 15_625_000.0).abs() < 200.0, "{h}");
        assert_eq!(h["tick_ns"], 64.0, "{h}");
        let [lo, hi] = [0, 1].map(|i| h["clock_rate_range"][i].as_f64().unwrap());
        assert!(lo > 15_624_900.0 && hi < 15_625_200.0, "{h}");
        // Other four-tuples: the hash part makes the steps look random.
        assert_eq!(
            (h["steps"].as_u64(), h["predictable_steps"].as_u64()),
            (Some(2), Some(0))
        );
        assert_eq!(h["predictable"], false);
    }
    assert!(!recs.iter().any(|r| r["kind"] == "predictable_isn"));
    // The reuse rule says how far the ISN moved since the previous incarnation.
    let reuse = anomaly(&recs, "premature_reuse_2msl");
    assert_eq!(reuse["detail"]["isn_step"], 11_178_219);
    let per_s = reuse["detail"]["isn_step_per_s"].as_f64().unwrap();
    assert!((per_s - 15_625_153.0).abs() < 2.0, "{per_s}");
}

#[test]
fn the_same_isn_on_four_four_tuples_is_predictable() {
    // hping3 -M 1000 from ports 40141-40144; the listener's SYN-ACK ISNs stay random.
    let recs = records("isn_predictable");
    let a = anomaly(&recs, "predictable_isn");
    assert_eq!(a["conn_id"], Value::Null);
    assert_eq!(a["listener_addr"], "10.99.0.1");
    assert_eq!(a["frame"], 10);
    let d = &a["detail"];
    assert_eq!(d["host"], "10.99.0.1");
    assert_eq!(d["pattern"], "constant");
    assert_eq!(
        (d["steps"].as_u64(), d["constant_steps"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(d["first_isns"], serde_json::json!([1000, 1000, 1000, 1000]));
    let hosts = summary(&recs)["isn_hosts"].as_array().unwrap().clone();
    assert_eq!(
        hosts.len(),
        1,
        "only the client stepped predictably: {hosts:?}"
    );
    // A host-scoped finding names no listener in the summary.
    assert!(
        summary(&recs)["top_listeners"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["port"] != 0)
    );
}

#[test]
fn a_sender_whose_acks_are_blackholed_backs_off_and_gives_up() {
    // The client (tcp_retries2=3) sends 3,000 bytes; the server's ACKs are dropped. Kernel:
    // rto 408, 816, 1632, 3264 ms with backoff 1-4 (ss -tin), TcpRetransSegs 5 (a tail-loss
    // probe and 4 timeouts), TcpExtTCPAbortOnTimeout 1. tshark's tcp.analysis.rto for frames
    // 8-11 (from the original, frame 4): 0.219967, 0.659938, 1.495910, 3.155914.
    let recs = records("retransmission_giveup");
    let conn = &connections(&recs)[0];
    let b = &conn["orig"]["retransmission_backoff"];
    assert_eq!(b["what"], "data");
    assert_eq!(
        (b["original_frame"].as_u64(), b["first_copy_frame"].as_u64()),
        (Some(4), Some(8))
    );
    assert_eq!(b["copies"], 5);
    assert_eq!(b["end"], "gave_up_silent");
    let want = [0.219967, 0.439971, 0.835972, 1.660004];
    assert!(close(&gaps(&b["gaps"]), &want, 1e-6), "{}", b["gaps"]);
    assert!((b["span"].as_f64().unwrap() - 3.155914).abs() < 1e-6);
    // Each gap about twice the one before, as the kernel's rto doubled.
    let g = gaps(&b["gaps"]);
    assert!(
        g.windows(2).all(|w| (1.8..2.2).contains(&(w[1] / w[0]))),
        "{g:?}"
    );
    let a = anomaly(&recs, "retransmission_giveup");
    assert_eq!(a["frame"], 11, "reported at the last copy");
    let d = &a["detail"];
    assert_eq!(d["first_copy_frame"], 8);
    assert_eq!(
        (d["from"].as_str(), d["what"].as_str()),
        (Some("orig"), Some("data"))
    );
    assert_eq!(d["copies"], 5);
    assert_eq!(d["ended_by"], "silence");
    assert_eq!(d["linux_tcp_retries2"], serde_json::json!([3, 4]));
    assert_eq!(d["linux_default_giveup"], 924.6);
    assert!(d["silent_for"].as_f64().unwrap() > 8.0);
    if require(
        Std::new("tshark").arg("-v").output().is_ok(),
        "tshark is not installed (apt-get install tshark)",
    ) {
        let t = tshark_gaps("retransmission_giveup", 40151).expect("tshark's rto");
        assert!(close(&g, &t, 2e-6), "ours {g:?}, tshark {t:?}");
    }
}

#[test]
fn an_unanswered_syn_is_repeated_1_s_apart_then_given_up() {
    // tcp_syn_retries=2, tcp_syn_linear_timeouts=4 (Linux 6.18): 5 retransmissions with rto
    // 1000 ms (ss -tin: no backoff until the last), TcpExtTCPSynRetrans 5, the sixth timeout
    // (rto 2000, backoff 1) gives up: TcpExtTCPAbortOnTimeout 1, connect() ETIMEDOUT.
    let recs = records("syn_giveup");
    let conn = &connections(&recs)[0];
    let b = &conn["orig"]["syn_backoff"];
    assert_eq!(
        (b["what"].as_str(), b["copies"].as_u64()),
        (Some("syn"), Some(6))
    );
    assert_eq!(b["end"], "gave_up_silent");
    let g = gaps(&b["gaps"]);
    assert!(
        g.iter().all(|x| (1.0..1.03).contains(x)),
        "linear, not doubling: {g:?}"
    );
    assert_eq!(conn["orig"]["retransmission_backoff"], Value::Null);
    let syn = anomaly(&recs, "syn_retransmission");
    assert!(close(&gaps(&syn["detail"]["gaps"]), &g, 0.0));
    let d = &anomaly(&recs, "retransmission_giveup")["detail"];
    assert_eq!(
        (d["what"].as_str(), d["copies"].as_u64()),
        (Some("syn"), Some(6))
    );
    assert!(d.get("linux_tcp_retries2").is_none());
    if require(
        Std::new("tshark").arg("-v").output().is_ok(),
        "tshark is not installed (apt-get install tshark)",
    ) {
        let t = tshark_gaps("syn_giveup", 40161).expect("tshark's rto");
        assert!(close(&g, &t, 2e-6), "ours {g:?}, tshark {t:?}");
    }
}

#[test]
fn a_lost_final_ack_is_told_as_such_and_restarts_time_wait() {
    // nft drops the client's last ACK (frame 11) at the server: the server, in LAST-ACK,
    // repeats its FIN 0.208 s later (frame 12; TcpRetransSegs 1) and the client's TIME-WAIT
    // answers it (frame 13), restarting its 2*MSL.
    let recs = records("final_ack_lost");
    let a = anomaly(&recs, "final_ack_lost");
    let d = &a["detail"];
    assert_eq!(a["frame"], 12);
    assert_eq!(
        (d["from"].as_str(), d["time_wait_side"].as_str()),
        (Some("resp"), Some("orig"))
    );
    let frames = [
        "fin_frame",
        "first_ack_frame",
        "repeat_frame",
        "answer_frame",
    ];
    assert_eq!(frames.map(|k| d[k].as_u64().unwrap()), [10, 11, 12, 13]);
    assert!((d["repeat_after"].as_f64().unwrap() - 0.207954).abs() < 1e-6);
    // Told once, not as a retransmission plus a duplicate ACK.
    let kinds: Vec<&str> = recs
        .iter()
        .filter(|r| r["type"] == "anomaly")
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["final_ack_lost"]);
    let conn = &connections(&recs)[0];
    // Wireshark's classes are still counted on the record.
    assert_eq!(conn["resp"]["retransmitted_packets"], 1);
    assert_eq!(conn["orig"]["duplicate_acks"], 1);
    // The TIME-WAIT ends 2*MSL (60 s) after the answer, not after the first final ACK.
    let answer_ts = 1796518943.617094;
    assert_eq!(conn["time_wait_side"], "orig");
    assert!((conn["time_wait_until"].as_f64().unwrap() - (answer_ts + 60.0)).abs() < 1e-6);
    assert_eq!(d["time_wait_until"], conn["time_wait_until"]);
    let fin = &conn["resp"]["retransmission_backoff"];
    assert_eq!(
        (fin["what"].as_str(), fin["end"].as_str()),
        (Some("fin"), Some("acked"))
    );
    assert_eq!(fin["original_frame"], 10);
}

#[test]
fn the_story_restarts_time_wait_at_the_answer() {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--transitions"])
        .arg(fixture("recordings/final_ack_lost.pcap"))
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    let tw = &connections(&recs)[0]["story"]["milestones"]["time_wait"];
    assert_eq!(tw["side"], "orig");
    assert_eq!(
        tw["frame"], 11,
        "entered with its ACK of the server's FIN: {tw}"
    );
    assert!((tw["until"].as_f64().unwrap() - (1796518943.617094 + 60.0)).abs() < 1e-6);
}

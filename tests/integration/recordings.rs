//! Real Linux TCP recorded in network namespaces (fixtures/recordings, made by record.sh there):
//! each capture raises exactly the anomalies its scenario produces.

use std::collections::BTreeSet;

use crate::util::*;

/// (capture, extra arguments, anomaly ids expected, Zeek conn_state of the first connection).
const EXPECTED: &[(&str, &[&str], &[&str], &str)] = &[
    ("normal_http", &[], &[], "SF"),
    ("refused", &[], &["connection_refused"], "REJ"),
    ("missing_third_ack", &[], &["missing_third_ack"], "SF"),
    (
        "half_open",
        &[],
        // The responder repeats its SYN-ACK for a third ACK that never comes.
        &["half_open", "missing_third_ack", "synack_retransmission"],
        "S1",
    ),
    (
        "syn_flood",
        &[],
        &[
            "half_open",
            "half_open_backlog",
            "listen_queue_overflow",
            "missing_third_ack",
            "syn_flood",
            "synack_retransmission",
        ],
        "S1",
    ),
    (
        "syn_flood_syncookies",
        &[],
        &["half_open", "half_open_backlog", "syn_flood", "syncookies"],
        "S1",
    ),
    ("rst_abort", &[], &["rst_abort"], "RSTO"),
    // The capture stops at the server's ACK of the FIN: no time in CLOSE-WAIT is on the wire.
    ("close_wait_stuck", &[], &[], "S2"),
    (
        "close_wait_late_close",
        &["--close-wait-timeout", "2"],
        &["close_wait_stuck"],
        "SF",
    ),
    ("close_wait_late_close", &[], &[], "SF"),
    ("half_close", &[], &["half_close"], "SF"),
    ("simultaneous_close", &[], &["simultaneous_close"], "SF"),
    ("keepalive", &[], &["keepalive"], "SF"),
    (
        "keepalive_timeout",
        &[],
        &["keepalive", "keepalive_timeout", "rst_abort"],
        "RSTO",
    ),
    ("reuse_time_wait", &[], &["premature_reuse_2msl"], "SF"),
    (
        "reuse_time_wait_client",
        &[],
        &["premature_reuse_2msl"],
        "SF",
    ),
    ("simultaneous_open", &[], &["simultaneous_open"], "SF"),
    ("zero_window", &[], &["half_close"], "SF"),
    ("retransmission", &[], &[], "SF"),
    ("retransmission_random", &[], &[], "SF"),
    ("retransmission_after_capture", &[], &[], "SF"),
    (
        "challenge_ack",
        &[],
        &["challenge_ack", "half_close", "rst_injection_suspected"],
        // As Zeek sees it: a RST from the originator, whatever followed.
        "RSTO",
    ),
    (
        "timewait_assassination",
        &[],
        &["timewait_assassination"],
        "SF",
    ),
    // Recorded with the kernel's view beside them (NAME.kernel.txt). Pinned to what tcpaudit
    // reports today; recordings/README.md says, per capture, what it should report instead.
    (
        "syn_cookies_timestamps",
        &[],
        &[
            "half_open",
            "half_open_backlog",
            "missing_third_ack",
            "syn_flood",
            "synack_retransmission",
            "syncookies",
        ],
        "S1",
    ),
    (
        "accept_queue_overflow",
        &[],
        // Two third ACKs ignored by a full accept queue: the requests expire, and the
        // listener's RSTs are no aborts of established connections.
        &[
            "accept_queue_overflow",
            "close_wait_stuck",
            "half_open",
            "synack_retransmission",
        ],
        "S2",
    ),
    (
        "replayed_syn_listen",
        &[],
        // The replayed SYN opens a record of its own (prev_id 1): the original stays SF.
        &["stale_syn"],
        "SF",
    ),
    (
        "replayed_syn_timewait",
        &[],
        // The client's RST at the TIME-WAIT's re-sent ACK ends the server's TIME-WAIT.
        &["stale_syn", "timewait_assassination"],
        "SF",
    ),
    (
        "third_ack_dropped_then_data",
        &[],
        &["missing_third_ack", "synack_retransmission"],
        "SF",
    ),
    (
        "third_ack_dropped_no_data",
        &[],
        // The server gave its half-open connection up and answers the late data with RST: the
        // answer of a listener with no connection, not an abort.
        &["half_open", "missing_third_ack", "synack_retransmission"],
        "RSTR",
    ),
    (
        "third_ack_with_data_clean",
        &[],
        // The legitimate merged third segment: information, not a warning.
        &["third_ack_with_data"],
        "SF",
    ),
    (
        "forged_rst_ttl",
        &[],
        // The forged RST's TTL is off: it is also a TTL anomaly.
        &[
            "rst_abort",
            "rst_after_close",
            "rst_injection_suspected",
            "ttl_anomaly",
        ],
        "RSTR",
    ),
    (
        "forged_rst_ipid",
        &[],
        &["rst_abort", "rst_after_close", "rst_injection_suspected"],
        "RSTR",
    ),
    ("rst_after_fin", &[], &["half_close", "rst_abort"], "RSTR"),
    // The router's ICMP time exceeded answers the SYN: no unanswered attempt, no overflow.
    ("ttl_expired_syn", &[], &["icmp_error"], "S0"),
    ("one_sided", &[], &[], "SH"),
    // record_seeds.sh. No TIME-WAIT is kept (tcp_max_tw_buckets=0), which the capture cannot
    // show: the reconnections look premature.
    ("isn_clock", &[], &["premature_reuse_2msl"], "SF"),
    ("isn_predictable", &[], &["predictable_isn"], "RSTO"),
    // The second connection only marks the time; killing the listener resets it.
    (
        "retransmission_giveup",
        &[],
        &["retransmission_giveup", "rst_abort"],
        "S1",
    ),
    (
        "syn_giveup",
        &[],
        &[
            "connection_refused",
            "retransmission_giveup",
            "syn_retransmission",
        ],
        "S0",
    ),
    ("final_ack_lost", &[], &["final_ack_lost"], "SF"),
    // CE marks echoed through a router, and a segment with a data offset of 3.
    (
        "ecn_routed",
        &[],
        &["bad_data_offset", "ecn_congestion"],
        "SF",
    ),
    (
        "ecn_echo_cleared",
        &[],
        // The router wipes the echo: the sender never hears of the marks.
        &["ecn_congestion", "ecn_echo_missing", "half_close"],
        "SF",
    ),
    (
        "window_limited_noscale",
        &[],
        &["half_close", "receive_window_limited"],
        "SF",
    ),
    ("urgent_data", &[], &["half_close"], "SF"),
];

#[test]
fn recordings_raise_exactly_their_anomalies() {
    let mut failures = Vec::new();
    for (name, args, want, conn_state) in EXPECTED {
        let path = fixture(&format!("recordings/{name}.pcap"));
        let out = tcpaudit()
            .args(["analyze", "-f", "json"])
            .args(*args)
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        let recs = json_lines(&out.stdout);
        // Connection and listener anomalies; segment classes are checked separately.
        let got: BTreeSet<String> = summary(&recs)["anomalies"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !SEGMENT_KINDS.contains(&k.as_str()))
            .cloned()
            .collect();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        if got != want {
            failures.push(format!("{name} {args:?}: got {got:?}, want {want:?}"));
        }
        let first = &connections(&recs)[0];
        if first["conn_state"] != *conn_state {
            failures.push(format!(
                "{name}: conn_state {} want {conn_state}",
                first["conn_state"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Segment classes (Wireshark's), not part of the exact comparison above.
const SEGMENT_KINDS: &[&str] = &[
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "previous_segment_not_captured",
    "ack_unseen_segment",
    "duplicate_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "window_full",
    "window_update",
    "keepalive_ack",
];

#[test]
fn recordings_show_their_segment_classes() {
    for (name, want) in [
        (
            "retransmission",
            &["retransmission", "fast_retransmission", "duplicate_ack"][..],
        ),
        (
            "zero_window",
            &[
                "zero_window",
                "window_update",
                "zero_window_probe",
                "zero_window_probe_ack",
            ][..],
        ),
        ("keepalive", &["keepalive_ack"][..]),
        ("half_open", &["retransmission"][..]),
    ] {
        let (_, recs, _) = analyze_json(&[&fixture(&format!("recordings/{name}.pcap"))]);
        let s = summary(&recs);
        for k in want {
            assert!(
                s["anomalies"].get(*k).is_some(),
                "{name}: {k} missing from {}",
                s["anomalies"]
            );
        }
    }
}

#[test]
fn recorded_states_are_rfc_states() {
    let state = |name: &str| {
        let (_, recs, _) = analyze_json(&[&fixture(&format!("recordings/{name}.pcap"))]);
        let c = connections(&recs)[0].clone();
        (
            c["orig_state"].as_str().unwrap().to_string(),
            c["resp_state"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(state("normal_http"), ("TIME-WAIT".into(), "CLOSED".into()));
    assert_eq!(
        state("simultaneous_close"),
        ("TIME-WAIT".into(), "TIME-WAIT".into())
    );
    assert_eq!(
        state("close_wait_stuck"),
        ("FIN-WAIT-2".into(), "CLOSE-WAIT".into())
    );
    assert_eq!(
        state("half_open"),
        ("SYN-SENT".into(), "SYN-RECEIVED".into())
    );
    assert_eq!(state("refused"), ("CLOSED".into(), "CLOSED".into()));
}

#[test]
fn a_capture_of_one_direction_says_so() {
    // `tcpdump 'src host 10.99.0.1'`: only the client's segments. The record names the side it
    // shows, and no verdict that needs the server's segments is raised.
    let (code, recs, _) = analyze_json(&[&fixture("recordings/one_sided.pcap")]);
    assert_eq!(code, 0);
    let conn = recs
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("a connection");
    assert_eq!(conn["one_sided"], "orig");
    assert_eq!(conn["anomalies"].as_array().map(Vec::len), Some(0));
    let summary = recs.last().expect("a summary");
    assert_eq!(summary["one_sided"]["orig"], 1);
}

#[test]
fn keepalive_probes_and_their_interval_are_on_the_record() {
    // The client sets TCP_KEEPIDLE 1 s and TCP_KEEPINTVL 1 s: three probes about 1 s apart.
    let (code, recs, _) = analyze_json(&[&fixture("recordings/keepalive.pcap")]);
    assert_eq!(code, 0);
    let conn = recs
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("a connection");
    assert_eq!(conn["orig"]["keepalive_probes"], 3);
    let interval = conn["orig"]["keepalive_interval"].as_f64().unwrap();
    assert!((0.9..1.2).contains(&interval), "{interval}");
    assert_eq!(conn["resp"]["keepalive_probes"], 0);
}

#[test]
fn syn_cookies_for_clients_with_timestamps_are_seen_in_the_synack_tsval() {
    // Real clients with timestamps complete through cookies while listen(8) is flooded: their
    // SYN-ACKs keep window scaling and SACK, so no option is missing; the cookie shows as the
    // SYN-ACK's TSval lagging the server's clock (Linux rounds it down to 64 ms and adds the
    // options), which decides before any other evidence.
    let (code, recs, _) = analyze_json(&[&fixture("recordings/syn_cookies_timestamps.pcap")]);
    assert_eq!(code, 0);
    let cookies: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["type"] == "anomaly" && r["kind"] == "syncookies")
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let d = &cookies[0]["detail"];
    assert_eq!(d["timestamp_cookies"], 2, "{d}");
    assert_eq!(d["synacks_without_offered_options"], 0, "{d}");
    let lag = d["timestamp_cookie_max_lag_ms"].as_u64().unwrap();
    assert!((4..64).contains(&lag), "{lag}");
}

#[test]
fn the_half_open_peak_is_what_the_kernel_held_in_syn_recv() {
    // (capture, kernel's SYN-RECV count while it was recorded, tcpaudit's peak). listen(8)
    // holds 9 requests (the kernel admits one beyond the backlog): in the plain flood the
    // other SYNs are dropped unanswered; with cookies they are answered but never held, and
    // with tcp_syncookies=2 nothing is held at all. The timestamp recording's kernel view
    // (syn_cookies_timestamps.kernel.txt) shows SYN-RECV 9 throughout; tcpaudit counts one
    // more for the few milliseconds a real client's cookie handshake took.
    for (name, kernel, peak) in [
        ("syn_flood", 9, 9),
        ("syn_cookies_timestamps", 9, 10),
        ("syn_flood_syncookies", 0, 0),
    ] {
        let (code, recs, _) = analyze_json(&[&fixture(&format!("recordings/{name}.pcap"))]);
        assert_eq!(code, 0);
        let flood = recs
            .iter()
            .find(|r| r["type"] == "anomaly" && r["kind"] == "syn_flood")
            .unwrap_or_else(|| panic!("{name}: a syn_flood"));
        let d = &flood["detail"];
        assert_eq!(d["peak_basis"], "syn_received", "{name}: {d}");
        assert_eq!(d["peak_half_open"], peak, "{name} (kernel {kernel}): {d}");
        assert_eq!(
            d["peak_pending"],
            300 + u64::from(name == "syn_cookies_timestamps"),
            "{name}"
        );
        let backlog = recs
            .iter()
            .find(|r| r["type"] == "anomaly" && r["kind"] == "half_open_backlog")
            .unwrap_or_else(|| panic!("{name}: a half_open_backlog"));
        assert_eq!(backlog["detail"]["peak"], peak, "{name}");
    }
}

#[test]
fn a_syn_replayed_to_time_wait_is_answered_by_the_time_wait_socket() {
    // The replay record continues the old connection's TIME-WAIT socket: its re-sent ACK
    // acknowledges the old data (a duplicate ACK, as tshark says, not an ACK of unseen data),
    // the client's RST ends the TIME-WAIT 0.5 s after it began, and both ends finish CLOSED.
    let (code, recs, _) = analyze_json(&[&fixture("recordings/replayed_syn_timewait.pcap")]);
    assert_eq!(code, 0);
    let replay = recs
        .iter()
        .find(|r| r["type"] == "connection" && r["id"] == 2)
        .expect("the replay record");
    assert_eq!(replay["prev_id"], 1);
    assert_eq!(replay["orig_state"], "CLOSED");
    assert_eq!(replay["resp_state"], "CLOSED");
    let tw = recs
        .iter()
        .find(|r| r["type"] == "anomaly" && r["kind"] == "timewait_assassination")
        .expect("timewait_assassination");
    assert_eq!(
        (tw["conn_id"].as_u64(), tw["frame"].as_u64()),
        (Some(2), Some(13))
    );
    let held = tw["detail"]["held"].as_f64().unwrap();
    assert!((0.49..0.52).contains(&held), "{held}");
    let kinds: Vec<(&str, u64)> = recs
        .iter()
        .filter(|r| r["type"] == "anomaly" && r["conn_id"] == 2)
        .map(|r| (r["kind"].as_str().unwrap(), r["frame"].as_u64().unwrap()))
        .collect();
    assert!(kinds.contains(&("retransmission", 11)), "{kinds:?}");
    assert!(kinds.contains(&("duplicate_ack", 12)), "{kinds:?}");
}

#[test]
fn the_story_follows_the_seeds_sequences() {
    // `--transitions`: each endpoint's states in order, as the seeds draw them, and the
    // milestones of the connection. Without the option records carry no story.
    let path = fixture("recordings/normal_http.pcap");
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--transitions"])
        .arg(&path)
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    let story = &connections(&recs)[0]["story"];
    let states = |side: &str| -> Vec<String> {
        let t = story["transitions"].as_array().unwrap();
        let mut v: Vec<String> = t
            .iter()
            .filter(|t| t["side"] == side)
            .map(|t| t["from"].as_str().unwrap().to_string())
            .take(1)
            .collect();
        v.extend(
            t.iter()
                .filter(|t| t["side"] == side)
                .map(|t| t["to"].as_str().unwrap().to_string()),
        );
        v
    };
    assert_eq!(states("orig"), SEED_CLIENT);
    assert_eq!(states("resp"), SEED_SERVER);
    let m = &story["milestones"];
    let frame = |k: &str| m[k]["frame"].as_u64();
    assert_eq!(
        [frame("syn"), frame("synack"), frame("third_ack")],
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(
        [frame("first_data_orig"), frame("first_data_resp")],
        [Some(4), Some(6)]
    );
    assert_eq!(
        [frame("first_fin_orig"), frame("first_fin_resp")],
        [Some(10), Some(12)]
    );
    assert_eq!(m["rst"], serde_json::Value::Null);
    assert_eq!(
        (m["time_wait"]["side"].as_str(), frame("time_wait")),
        (Some("orig"), Some(13))
    );
    // TIME-WAIT lasts 2·MSL (60 s by default).
    let tw = m["time_wait"]["until"].as_f64().unwrap() - m["time_wait"]["ts"].as_f64().unwrap();
    assert!((tw - 60.0).abs() < 1e-3, "{tw}");
    assert_eq!(story["active_closer"], "orig");
    assert_eq!(
        (story["close"].as_str(), story["close_segments"].as_u64()),
        (Some("four_way"), Some(4))
    );
    let (_, plain, _) = analyze_json(&[&path]);
    assert!(connections(&plain)[0].get("story").is_none());
}

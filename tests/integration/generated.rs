//! Captures from shared/tools/gen-pcap.py with ground-truth labels (fixtures/generated): every
//! labelled connection incarnation is found with the right roles, packets, ISNs and closer.

use std::collections::HashMap;

use serde_json::Value;

use crate::util::*;

fn labels(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "conn")
        .collect()
}

fn us(v: &Value) -> i64 {
    // An f64 near 1.7e9 s resolves 0.24 µs, so rounding recovers the exact microsecond.
    (v.as_f64().unwrap() * 1e6).round() as i64
}

/// Compares every label with the connection that starts at the same time on the same tuple.
fn check(capture: &str, label_file: &str) -> (usize, Vec<String>) {
    let (code, recs, err) = analyze_json(&[&fixture(capture)]);
    assert_eq!(code, 0, "{err}");
    let conns = connections(&recs);
    // The generator keeps an old duplicate SYN and the answers it draws on the finished
    // connection it duplicates; tcpaudit gives them a record of their own, linked by prev_id
    // and raising stale_syn. Their packets are counted back to the connection they duplicate.
    let is_replay = |c: &Value| {
        !c["prev_id"].is_null()
            && c["anomalies"]
                .as_array()
                .is_some_and(|a| a.iter().any(|k| k == "stale_syn"))
    };
    let mut replayed: HashMap<u64, u64> = HashMap::new();
    for c in conns.iter().filter(|c| is_replay(c)) {
        let pkts = c["orig"]["packets"].as_u64().unwrap() + c["resp"]["packets"].as_u64().unwrap();
        *replayed.entry(c["prev_id"].as_u64().unwrap()).or_default() += pkts;
    }
    let mut by_start: HashMap<(String, u64, i64), &Value> = HashMap::new();
    for c in conns.iter().filter(|c| !is_replay(c)) {
        by_start.insert(
            (
                c["orig_addr"].as_str().unwrap().to_string(),
                c["orig_port"].as_u64().unwrap(),
                us(&c["first_ts"]),
            ),
            c,
        );
    }
    let labels = labels(label_file);
    let mut problems = Vec::new();
    for l in &labels {
        let key = (
            l["client"].as_str().unwrap().to_string(),
            l["client_port"].as_u64().unwrap(),
            l["start_us"].as_i64().unwrap(),
        );
        let Some(c) = by_start.get(&key) else {
            problems.push(format!(
                "label {} ({}) not found as a connection",
                l["id"], l["scenario"]
            ));
            continue;
        };
        let pkts = c["orig"]["packets"].as_u64().unwrap()
            + c["resp"]["packets"].as_u64().unwrap()
            + replayed
                .get(&c["id"].as_u64().unwrap())
                .copied()
                .unwrap_or(0);
        if pkts != l["packets"].as_u64().unwrap() {
            problems.push(format!(
                "label {} ({}): {} packets, label says {}",
                l["id"], l["scenario"], pkts, l["packets"]
            ));
        }
        if c["resp_addr"] != l["server"] || c["resp_port"] != l["server_port"] {
            problems.push(format!(
                "label {}: responder {}:{}",
                l["id"], c["resp_addr"], c["resp_port"]
            ));
        }
        if !l["client_isn"].is_null()
            && l["scenario"] != "invalid_flags"
            && c["orig"]["isn"] != l["client_isn"]
        {
            problems.push(format!(
                "label {}: client ISN {} vs {}",
                l["id"], c["orig"]["isn"], l["client_isn"]
            ));
        }
        if !l["server_isn"].is_null() && c["resp"]["isn"] != l["server_isn"] {
            problems.push(format!(
                "label {}: server ISN {} vs {}",
                l["id"], c["resp"]["isn"], l["server_isn"]
            ));
        }
        let closer = match (&c["first_fin"], &c["first_rst"]) {
            (Value::String(s), _) | (Value::Null, Value::String(s)) => s.clone(),
            _ => "none".into(),
        };
        let ok = match l["closer"].as_str() {
            Some("client") => closer == "orig",
            Some("server") => closer == "resp",
            Some("both") => closer != "none",
            _ => true,
        };
        if !ok {
            problems.push(format!(
                "label {} ({}): closer {} vs {}",
                l["id"], l["scenario"], closer, l["closer"]
            ));
        }
        let reused = !l["prev_id"].is_null();
        if reused == c["prev_id"].is_null() {
            problems.push(format!(
                "label {}: prev_id {} vs label {}",
                l["id"], c["prev_id"], l["prev_id"]
            ));
        }
    }
    assert_eq!(
        conns.len() - replayed.values().count(),
        labels.len(),
        "connection records (replays aside) vs labels"
    );
    (labels.len(), problems)
}

#[test]
fn generated_capture_agrees_with_its_labels() {
    let (n, problems) = check("generated/mixed.pcap", "generated/mixed.labels.jsonl");
    assert!(
        problems.is_empty(),
        "{} of {n} labels disagree:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn gzip_pcapng_generated_capture_agrees_with_its_labels() {
    let (n, problems) = check(
        "generated/mixed.pcapng.gz",
        "generated/mixed-ng.labels.jsonl",
    );
    assert!(
        problems.is_empty(),
        "{} of {n} labels disagree:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

//! Anomaly precision and recall against the generator's ground truth (shared/tools/gen-pcap.py
//! labels), and agreement of the final RFC states with the labelled ones.
//!
//! `TCPAUDIT_SCORE_CAPTURE=FILE TCPAUDIT_SCORE_LABELS=FILE.jsonl cargo test --release --test
//! integration score_external -- --ignored --nocapture` scores any generated capture.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// True positives, false positives, false negatives.
#[derive(Default, Debug, Clone, Copy)]
pub struct Score {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// Whether a label says the connection shows our anomaly `id` (None: the generator does not
/// label this id, so it is not scored).
fn expected(id: &str, l: &Value) -> Option<bool> {
    let has = |a: &str| l["anomalies"].as_array().unwrap().iter().any(|x| x == a);
    Some(match id {
        "connection_refused" => has("refused"),
        "half_open" => has("half_open"),
        "invalid_flags" => has("invalid_flags"),
        "simultaneous_open" => has("simultaneous_open"),
        // The generator's `missing_third_ack` leaves the pure third ACK out and lets data
        // complete the handshake with no sign of loss: the legitimate merged third segment,
        // third_ack_with_data. A third ACK that is missing for the responder (it repeats its
        // SYN-ACK) is labelled half_open with a retransmitted SYN-ACK: the flood's half-opens.
        "third_ack_with_data" => has("missing_third_ack"),
        "missing_third_ack" => has("half_open") && l["scenario"] == "syn_flood",
        "syn_retransmission" => has("retransmission") && l["details"]["retransmission"] == "syn",
        "synack_retransmission" => has("retransmission") && l["scenario"] == "syn_flood",
        "keepalive" => has("keepalive"),
        "rst_abort" => has("rst"),
        "simultaneous_close" => has("simultaneous_close"),
        "half_close" => has("half_close"),
        "premature_reuse_2msl" => has("premature_reuse_2msl"),
        "stale_syn" => has("stale_syn"),
        _ => return None,
    })
}

const SCORED: &[&str] = &[
    "connection_refused",
    "half_open",
    "invalid_flags",
    "simultaneous_open",
    "missing_third_ack",
    "syn_retransmission",
    "synack_retransmission",
    "keepalive",
    "rst_abort",
    "simultaneous_close",
    "half_close",
    "premature_reuse_2msl",
    "stale_syn",
    "syn_flood",
];

fn us(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 1e6).round() as i64
}

/// Scores a capture against its labels: per-id scores and (states compared, states equal).
pub fn score(capture: &Path, labels: &Path) -> (BTreeMap<&'static str, Score>, (u64, u64)) {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--max-half-open", "1000000000"])
        .arg(capture)
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    let conns = connections(&recs);
    // The generator labels an old duplicate SYN on the finished connection it duplicates;
    // tcpaudit raises stale_syn on the record the duplicate opens, linked by prev_id.
    let replayed: std::collections::HashSet<u64> = conns
        .iter()
        .filter(|c| {
            c["anomalies"]
                .as_array()
                .is_some_and(|a| a.iter().any(|k| k == "stale_syn"))
        })
        .filter_map(|c| c["prev_id"].as_u64())
        .collect();
    let mut by_start: HashMap<(String, u64, i64), &Value> = HashMap::new();
    for c in &conns {
        by_start.insert(
            (
                c["orig_addr"].as_str().unwrap().into(),
                c["orig_port"].as_u64().unwrap(),
                us(&c["first_ts"]),
            ),
            c,
        );
    }
    let text = std::fs::read_to_string(labels).unwrap();
    let all: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut scores: BTreeMap<&'static str, Score> =
        SCORED.iter().map(|id| (*id, Score::default())).collect();
    let (mut states, mut states_equal) = (0, 0);
    for l in all.iter().filter(|l| l["kind"] == "conn") {
        let key = (
            l["client"].as_str().unwrap().into(),
            l["client_port"].as_u64().unwrap(),
            l["start_us"].as_i64().unwrap(),
        );
        let Some(c) = by_start.get(&key) else {
            continue;
        };
        let ours: Vec<&str> = c["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        for id in SCORED {
            let Some(want) = expected(id, l) else {
                continue;
            };
            let got = ours.contains(id)
                || (*id == "stale_syn" && replayed.contains(&c["id"].as_u64().unwrap()));
            let s = scores.get_mut(id).unwrap();
            match (want, got) {
                (true, true) => s.tp += 1,
                (false, true) => s.fp += 1,
                (true, false) => s.fn_ += 1,
                _ => {}
            }
        }
        states += 1;
        let norm = |v: &Value| v.as_str().unwrap_or("").replace('_', "-");
        if norm(&l["client_state"]) == c["orig_state"].as_str().unwrap()
            && norm(&l["server_state"]) == c["resp_state"].as_str().unwrap()
        {
            states_equal += 1;
        }
    }
    // Floods are scored per burst: a syn_flood anomaly on the burst's listener overlapping it.
    let floods: Vec<&Value> = all.iter().filter(|l| l["kind"] == "flood").collect();
    let found: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "anomaly" && r["kind"] == "syn_flood")
        .collect();
    let s = scores.get_mut("syn_flood").unwrap();
    let overlaps = |f: &Value, a: &Value| {
        a["listener_addr"] == f["server"]
            && a["listener_port"] == f["server_port"]
            && us(&a["detail"]["start"]) <= f["last_syn_us"].as_i64().unwrap() + 1_000_000
            && us(&a["detail"]["end"]) >= f["first_syn_us"].as_i64().unwrap()
    };
    for f in &floods {
        if found.iter().any(|a| overlaps(f, a)) {
            s.tp += 1
        } else {
            s.fn_ += 1
        }
    }
    s.fp += found
        .iter()
        .filter(|a| !floods.iter().any(|f| overlaps(f, a)))
        .count() as u64;
    (scores, (states, states_equal))
}

fn table(scores: &BTreeMap<&'static str, Score>, states: (u64, u64)) -> String {
    let mut t = String::from(
        "| id | TP | FP | FN | precision | recall |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (id, s) in scores {
        t.push_str(&format!(
            "| {id} | {} | {} | {} | {:.3} | {:.3} |\n",
            s.tp,
            s.fp,
            s.fn_,
            s.precision(),
            s.recall()
        ));
    }
    t.push_str(&format!(
        "final states equal to the labels: {} of {}\n",
        states.1, states.0
    ));
    t
}

#[test]
fn anomalies_agree_with_generator_labels() {
    let mut total: BTreeMap<&'static str, Score> = BTreeMap::new();
    let mut states = (0, 0);
    for name in ["mixed", "flood"] {
        let (s, st) = score(
            &fixture(&format!("generated/{name}.pcap")),
            &fixture(&format!("generated/{name}.labels.jsonl")),
        );
        for (id, x) in s {
            let t = total.entry(id).or_default();
            t.tp += x.tp;
            t.fp += x.fp;
            t.fn_ += x.fn_;
        }
        states = (states.0 + st.0, states.1 + st.1);
    }
    eprintln!("{}", table(&total, states));
    for (id, s) in &total {
        assert!(s.tp > 0, "{id}: no labelled case in the fixtures");
    }
    assert_precise(&total);
    // The two deliberate differences: the generator keeps a TIME-WAIT that a RST kills on Linux
    // (tcp_rfc1337 = 0; tcpaudit reports timewait_assassination), and calls an unanswered
    // null/Xmas probe's target CLOSED where RFC 9293 §3.10.7.2 (LISTEN drops it) says LISTEN.
    assert!(
        states.0 - states.1 <= 2,
        "final states: {} of {}",
        states.1,
        states.0
    );
}

/// Every scored id reaches 95% precision and recall.
fn assert_precise(scores: &BTreeMap<&'static str, Score>) {
    for (id, s) in scores {
        assert!(s.precision() >= 0.95 && s.recall() >= 0.95, "{id}: {s:?}");
    }
}

/// The fixtures' precision and recall on any capture from shared/tools/gen-pcap.py (final states
/// are printed, not checked: the deliberate differences grow with the capture).
#[test]
#[ignore = "scores an external capture: TCPAUDIT_SCORE_CAPTURE=FILE \
            TCPAUDIT_SCORE_LABELS=FILE.jsonl cargo test --release --test integration \
            score_external -- --ignored --nocapture"]
fn score_external() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (see the module doc)"))
    };
    let (c, l) = (var("TCPAUDIT_SCORE_CAPTURE"), var("TCPAUDIT_SCORE_LABELS"));
    let (scores, states) = score(Path::new(&c), Path::new(&l));
    eprintln!("{}", table(&scores, states));
    assert_precise(&scores);
}

//! Listener statistics under real SYN floods (../shared/pcaps/stopddos) against tshark's figures:
//! per-listener attempts exact whatever the half-open caps, distinct sources within the stated
//! HyperLogLog error, top sources only with meaningful Space-Saving bounds, the episode's extent
//! and rate from its SYNs, and the backscatter RSTs of spoofed sources.
//!
//! The reference figures were derived once with tshark 4.0.17 (Debian 12):
//!
//! ```sh
//! tshark -r CAPTURE -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' \
//!     -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e tcp.seq_raw \
//!     -e frame.time_epoch > syn.tsv
//! wc -l < syn.tsv                                       # SYN segments
//! cut -f1-5 syn.tsv | sort -u | wc -l                   # attempts (four-tuple and ISN)
//! cut -f1-5 syn.tsv | sort -u | awk '{print $3":"$4}' | sort | uniq -c   # per listener
//! cut -f1 syn.tsv | sort -u | wc -l                     # distinct sources
//! cut -f1-5 syn.tsv | sort -u | cut -f1 | sort | uniq -c | sort -rn | head -1  # busiest source
//! head -1 syn.tsv; tail -1 syn.tsv                      # first and last SYN
//! tshark -r CAPTURE -Y 'tcp.flags.reset==1' -T fields -e frame.number -e ip.src \
//!     -e tcp.srcport -e ip.dst -e tcp.dstport -e frame.time_epoch > rst.tsv
//! # RSTs on the four-tuple of an earlier SYN, from its source:
//! awk -F'\t' 'NR==FNR{syn[$1" "$2" "$3" "$4]=$6; next}
//!     {k=$2" "$3" "$4" "$5; if (k in syn && syn[k] <= $6) n++} END{print n}' syn.tsv rst.tsv
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tcpaudit::analyzer::{Analyzer, AnalyzerConfig, ListenerCounts, Summary};
use tcpaudit::capture::CaptureSet;

use crate::oracle::shared_pcaps;
use crate::util::{json_lines, require, tcpaudit};

/// tshark's figures for one flood capture.
struct Reference {
    capture: &'static str,
    /// The flooded listener.
    listener: (&'static str, u16),
    /// SYN segments (retransmissions included).
    syns: u64,
    /// Attempts: distinct four-tuple and ISN.
    attempts: u64,
    /// Distinct source addresses of the SYNs.
    distinct_sources: u64,
    /// Attempts from the busiest source.
    busiest_source: u64,
    /// First and last SYN (`frame.time_epoch`, in microseconds).
    first_syn: i64,
    last_syn: i64,
    /// RSTs from a source on the four-tuple of its earlier SYN (backscatter: the capture holds
    /// the inbound direction only, so the SYN-ACKs they answer are not in it).
    source_resets: u64,
}

const SPOOFED: Reference = Reference {
    capture: "stopddos/pkt.TCP.synflood.spoofed.pcap",
    listener: ("10.10.10.10", 25565),
    syns: 37_841,
    attempts: 37_669,
    distinct_sources: 37_623,
    busiest_source: 2,
    first_syn: 1_619_605_821_099_510,
    last_syn: 1_619_605_844_783_363,
    source_resets: 0,
};

const DOMINATE: Reference = Reference {
    capture: "stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng",
    listener: ("10.10.10.10", 30120),
    syns: 9_639,
    attempts: 9_639,
    distinct_sources: 9_639,
    busiest_source: 1,
    first_syn: 1_617_292_579_614_914,
    last_syn: 1_617_292_580_057_107,
    source_resets: 173,
};

/// Per-listener attempts in stopddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng (the
/// same tshark pipeline): 326 attempts to 54 listeners, none answered by them (the SYN-ACKs in
/// it are sent to 10.10.10.10, not by it); the three busiest ports.
const MANY_LISTENERS: (&str, u64, usize, [(u16, u64); 3]) = (
    "stopddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng",
    326,
    54,
    [(9069, 164), (9070, 82), (22318, 11)],
);

/// The corpus root, or `None` when ../shared/pcaps is absent (reported through [`require`]).
fn root() -> Option<PathBuf> {
    let root = shared_pcaps();
    require(
        root.is_some(),
        "../shared/pcaps is absent (the corpus checks run in CI)",
    );
    root
}

/// The `syn_flood` details and the summary of `tcpaudit analyze -f json --max-half-open cap`.
fn flood(path: &Path, cap: u32) -> (Vec<Value>, Value) {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--max-half-open"])
        .arg(cap.to_string())
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    let floods = lines
        .iter()
        .filter(|l| l["kind"] == "syn_flood")
        .map(|l| l["detail"].clone())
        .collect();
    (floods, crate::util::summary(&lines))
}

/// The summary of a library run with `per_listener` and `total` half-open caps.
fn summary_with_caps(path: &Path, per_listener: u32, total: u32) -> Summary {
    let mut set = CaptureSet::open(&[path.to_string_lossy().into_owned()]);
    let mut cfg = AnalyzerConfig::default();
    cfg.listeners.max_half_open_per_listener = per_listener;
    cfg.listeners.max_half_open_total = total;
    let mut a = Analyzer::new(cfg);
    while let Some(p) = set.next_packet() {
        a.push(&p, &mut |_| {});
    }
    a.finish(&mut |_| {})
}

/// Every listener's counts, by "addr:port", with the overflow under "other".
fn counts(s: &Summary) -> BTreeMap<String, ListenerCounts> {
    let mut m: BTreeMap<String, ListenerCounts> = s
        .listeners
        .iter()
        .map(|(e, c)| (e.to_string(), *c))
        .collect();
    if s.other_listeners != ListenerCounts::default() {
        m.insert("other".into(), s.other_listeners);
    }
    m
}

/// The flood detail holds tshark's figures: attempts, extent and rate from the SYNs, distinct
/// sources within the stated error, no source named without a meaningful bound, the sources'
/// RSTs counted as backscatter; and the same at any half-open cap.
fn check_flood(root: &Path, r: &Reference) {
    let path = root.join(r.capture);
    let mut details = Vec::new();
    for cap in [64, 4096, 1_000_000] {
        let (floods, s) = flood(&path, cap);
        assert_eq!(floods.len(), 1, "{}: one flood at cap {cap}", r.capture);
        let d = floods[0].clone();
        let listener = &s["top_listeners"][0];
        assert_eq!(
            (listener["addr"].as_str(), listener["port"].as_u64()),
            (Some(r.listener.0), Some(r.listener.1 as u64))
        );
        // Every attempt, whatever was tracked; none answered (one-sided captures).
        assert_eq!(listener["attempts"], r.attempts, "{} cap {cap}", r.capture);
        assert_eq!(
            listener["unanswered"], r.attempts,
            "{} cap {cap}",
            r.capture
        );
        assert_eq!(listener["answered"], 0);
        assert_eq!(d["attempts"], r.attempts, "{} cap {cap}: {d}", r.capture);
        // The episode spans the SYNs (timestamps are printed to the microsecond).
        let us = |v: &Value| (v.as_f64().unwrap() * 1e6).round() as i64;
        assert_eq!(us(&d["start"]), r.first_syn, "{} start: {d}", r.capture);
        assert_eq!(us(&d["end"]), r.last_syn, "{} end: {d}", r.capture);
        let rate = r.attempts as f64 * 1e6 / (r.last_syn - r.first_syn) as f64;
        assert!(
            (d["rate_per_s"].as_f64().unwrap() - rate).abs() <= 0.1,
            "{} rate {rate:.1}: {d}",
            r.capture
        );
        // Distinct sources: within three of the stated standard errors (99.7%).
        let (est, err) = (
            d["distinct_sources"].as_u64().unwrap(),
            d["distinct_sources_error"].as_u64().unwrap(),
        );
        assert!(
            err > 0 && err <= r.distinct_sources / 50,
            "{}: {d}",
            r.capture
        );
        assert!(
            est.abs_diff(r.distinct_sources) <= 3 * err,
            "{}: {est} ± {err} against tshark's {}",
            r.capture,
            r.distinct_sources
        );
        // No source sent more than a couple of attempts: none has a meaningful lower bound.
        let bound = d["top_sources_max_overcount"].as_u64().unwrap();
        assert!(bound <= r.attempts / 64, "{}: {d}", r.capture);
        assert!(r.busiest_source <= bound);
        assert_eq!(d["top_sources"], Value::Array(vec![]), "{}", r.capture);
        assert_eq!(d["source_resets"], r.source_resets, "{}: {d}", r.capture);
        assert_eq!(
            d["synacks"], 0,
            "{}: the listener's answers are not captured",
            r.capture
        );
        // Without the listener's answers, what it held is unknown: the peak counts the
        // attempts pending.
        assert_eq!(d["peak_basis"], "pending", "{}", r.capture);
        assert_eq!(d["peak_half_open"], d["peak_pending"], "{}", r.capture);
        assert!(r.syns >= r.attempts);
        details.push(d);
    }
    // The same figures whatever the cap (only how many attempts were aggregated differs).
    let strip = |d: &Value| {
        let mut d = d.clone();
        for k in ["aggregated_attempts", "peak_half_open", "peak_pending"] {
            d.as_object_mut().unwrap().remove(k);
        }
        d
    };
    assert_eq!(strip(&details[0]), strip(&details[1]), "{}", r.capture);
    assert_eq!(strip(&details[1]), strip(&details[2]), "{}", r.capture);
}

#[test]
fn spoofed_flood_statistics_agree_with_tshark() {
    let Some(root) = root() else { return };
    check_flood(&root, &SPOOFED);
}

#[test]
fn dominate_flood_statistics_agree_with_tshark_and_count_backscatter() {
    let Some(root) = root() else { return };
    check_flood(&root, &DOMINATE);
}

/// Per-listener counts add up to every attempt and do not change with the caps, including the
/// listeners whose attempts were all aggregated.
#[test]
fn listener_counts_are_exact_whatever_the_caps() {
    let Some(root) = root() else { return };
    let (rel, attempts, listeners, busiest) = MANY_LISTENERS;
    let path = root.join(rel);
    let uncapped = counts(&summary_with_caps(&path, u32::MAX, u32::MAX));
    let tiny = counts(&summary_with_caps(&path, 2, 8));
    assert_eq!(uncapped, tiny, "counts depend on the caps");
    assert_eq!(uncapped.len(), listeners);
    assert_eq!(uncapped.values().map(|c| c.attempts).sum::<u64>(), attempts);
    for (port, n) in busiest {
        assert_eq!(uncapped[&format!("10.10.10.10:{port}")].attempts, n);
    }
    for c in uncapped.values() {
        assert_eq!(c.answered + c.refused + c.unanswered, c.attempts, "{c:?}");
    }
    let spoofed = root.join(SPOOFED.capture);
    let s = summary_with_caps(&spoofed, 16, 65_536);
    let total: u64 = counts(&s).values().map(|c| c.attempts).sum();
    assert_eq!(total, SPOOFED.attempts);
    assert_eq!(s.aggregated_forgotten, 0);
    // With room for only 1,024 aggregated attempts (16 times the total cap of 64), older ones
    // are forgotten early and their later retransmissions count again: the summary says how
    // many were forgotten, which bounds the excess.
    let s = summary_with_caps(&spoofed, 16, 64);
    let total: u64 = counts(&s).values().map(|c| c.attempts).sum();
    assert!(
        s.aggregated_forgotten > 30_000,
        "{}",
        s.aggregated_forgotten
    );
    assert!(total >= SPOOFED.attempts && total - SPOOFED.attempts <= s.aggregated_forgotten);
}

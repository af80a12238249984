//! `tcpaudit check`: every kind of expectation passing and failing, baselines, JUnit XML,
//! malformed expectation files, and the project's own fixtures held against theirs.

use std::path::{Path, PathBuf};

use crate::util::*;

/// Runs `tcpaudit check ARGS`; returns (exit code, stdout, stderr).
fn check(args: &[&str]) -> (i32, String, String) {
    let out = tcpaudit().arg("check").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rec(name: &str) -> String {
    fixture(&format!("recordings/{name}.pcap"))
        .to_string_lossy()
        .into_owned()
}

/// Writes `text` as an expectation file in `dir`; returns its path.
fn expect_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Checks `capture` against `text`: (exit code, stdout).
fn against(capture: &str, text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let x = expect_file(dir.path(), "x.toml", text);
    let (code, out, err) = check(&[capture, "--expect", &x]);
    assert!(code == 0 || code == 1, "exit {code}: {err}{out}");
    (code, out)
}

fn passes(capture: &str, text: &str) {
    let (code, out) = against(capture, text);
    assert_eq!(code, 0, "should pass:\n{text}\n{out}");
}

/// Fails, and the output mentions every one of `want`.
fn fails(capture: &str, text: &str, want: &[&str]) {
    let (code, out) = against(capture, text);
    assert_eq!(code, 1, "should fail:\n{text}\n{out}");
    for w in want {
        assert!(out.contains(w), "missing '{w}' in:\n{out}");
    }
}

#[test]
fn the_smallest_file_means_what_it_says() {
    let x = "[anomalies]\nrequire = [\"missing_third_ack\"]\nforbid = [\"syn_flood\", \"premature_reuse_2msl\"]\n";
    passes(&rec("missing_third_ack"), x);
    fails(
        &rec("normal_http"),
        x,
        &[
            "FAIL  ",
            "normal_http.pcap",
            "anomalies.require[missing_third_ack]: missing_third_ack is required but was never raised",
            "see: tcpaudit analyze",
        ],
    );
    fails(
        &rec("syn_flood"),
        x,
        &[
            "anomalies.forbid[syn_flood]: syn_flood is forbidden but was raised once",
            "listener 10.99.0.2:8080, from frame",
            "jq -c 'select(.kind == \"syn_flood\")'",
        ],
    );
}

#[test]
fn only_and_count_ranges_with_scopes() {
    let half_open = rec("half_open");
    passes(
        &half_open,
        "[anomalies]\nonly = [\"half_open\", \"missing_third_ack\", \"synack_retransmission\", \"retransmission\"]\n",
    );
    fails(
        &half_open,
        "[anomalies]\nonly = [\"half_open\"]\n",
        &[
            "kinds outside `only` were raised: synack_retransmission, missing_third_ack, retransmission",
        ],
    );
    let counted = |min: u64, max: u64, scope: &str| {
        format!(
            "[[anomalies.count]]\nkind = \"synack_retransmission\"\nmin = {min}\nmax = {max}\n{scope}\n"
        )
    };
    passes(&half_open, &counted(1, 1, ""));
    passes(&half_open, &counted(1, 1, "listener = \"10.99.0.2:8080\""));
    passes(
        &half_open,
        &counted(1, 1, "orig = \"10.99.0.1\"\nresp = \"*:8080\""),
    );
    passes(&half_open, &counted(0, 0, "listener = \"10.99.0.2:9999\""));
    fails(
        &half_open,
        &counted(2, 5, ""),
        &[
            "anomalies.count[synack_retransmission]: synack_retransmission: 1 occurrence, expected between 2 and 5",
            "connection 1 10.99.0.1:40004 -> 10.99.0.2:8080 (frames 1-4): 1 occurrence",
        ],
    );
    fails(
        &half_open,
        &counted(0, 0, "resp = \"10.99.0.2:8080\""),
        &["synack_retransmission to 10.99.0.2:8080: 1 occurrence, expected exactly 0"],
    );
    // Segment kinds count every occurrence; listener kinds count episodes.
    passes(
        &rec("syn_flood"),
        "[[anomalies.count]]\nkind = \"syn_flood\"\nmin = 1\nmax = 1\nlistener = \"10.99.0.2:8080\"\n",
    );
}

#[test]
fn connection_counts_by_state() {
    let normal = rec("normal_http");
    passes(
        &normal,
        r#"
[connections]
total = 1
conn_state = { SF = 1, REJ = 0 }
end_reason = { fin = 1, rst = { max = 0 } }
orig_state = { TIME-WAIT = 1 }
resp_state = { CLOSED = 1, CLOSE-WAIT = 0 }
"#,
    );
    fails(
        &normal,
        "[connections]\ntotal = { min = 2 }\n",
        &["connections.total: connections: 1, expected at least 2"],
    );
    fails(
        &normal,
        "[connections]\nconn_state = { REJ = 1 }\n",
        &[
            "connections in conn_state REJ: 0, expected exactly 1",
            "connection 1 10.99.0.1:40001 -> 10.99.0.2:80 (frames 1-13) is SF",
        ],
    );
    fails(
        &normal,
        "[connections]\nend_reason = { rst = 1 }\n",
        &["connections ended by rst: 0", "is ended by fin"],
    );
    fails(
        &normal,
        "[connections]\nresp_state = { CLOSED = 0 }\n",
        &[
            "responders left in CLOSED: 1, expected exactly 0",
            "connection 1 ",
        ],
    );
    fails(
        &rec("close_wait_stuck"),
        "[connections]\nresp_state = { CLOSE-WAIT = 0 }\n",
        &["responders left in CLOSE-WAIT: 1"],
    );
}

#[test]
fn budgets_and_handshake_percentiles() {
    let retx = rec("retransmission");
    passes(&retx, "[budgets]\nretransmitted_bytes = 2896\n");
    fails(
        &retx,
        "[budgets]\nretransmitted_bytes = 1000\nretransmitted_packets = 100\n",
        &[
            "budgets.retransmitted_bytes: 1 connection over the budget of 1000 retransmitted bytes",
            "connection 1 10.99.0.1:40015 -> 10.99.0.2:8080 (frames 1-69): 2896 retransmitted bytes",
            "jq -c 'select(.type == \"connection\" and .id == 1)'",
        ],
    );
    let normal = rec("normal_http");
    passes(
        &normal,
        "[budgets]\nhandshake_rtt_p50 = \"1ms\"\nhandshake_rtt_max = 0.001\n",
    );
    fails(
        &normal,
        "[budgets]\nhandshake_rtt_p95 = \"10us\"\n",
        &["handshake RTT p95 0.065 ms over 1 handshakes, budget 0.010 ms"],
    );
    fails(
        &rec("half_open"),
        "[budgets]\nhandshake_rtt_p99 = \"1s\"\n",
        &["no complete handshake in the capture to measure"],
    );
}

#[test]
fn named_connections() {
    let normal = rec("normal_http");
    passes(
        &normal,
        r#"
[[connection]]
name = "the upload"
orig = "10.99.0.1:40001"
resp = "10.99.0.2:80"
conn_state = "SF"
history = "ShADadFf"
end_reason = "fin"
orig_state = "TIME-WAIT"
resp_state = "CLOSED"
forbid = ["rst_abort"]
"#,
    );
    passes(
        &normal,
        "[[connection]]\nid = 1\nnth = 1\nconn_state = \"SF\"\n",
    );
    fails(
        &normal,
        "[[connection]]\nname = \"the upload\"\nid = 1\nconn_state = \"REJ\"\nresp_state = \"TIME-WAIT\"\nrequire = [\"half_close\"]\n",
        &[
            "connection[the upload]: the upload: conn_state SF (expected REJ), responder in CLOSED (expected TIME-WAIT), no half_close",
            "connection 1 10.99.0.1:40001 -> 10.99.0.2:80 (frames 1-13)",
        ],
    );
    fails(
        &normal,
        "[[connection]]\nresp = \"10.99.0.2:443\"\n",
        &["connection * -> 10.99.0.2:443: no connection matches"],
    );
    fails(
        &normal,
        "[[connection]]\nid = 1\nnth = 2\n",
        &["no connection matches"],
    );
}

#[test]
fn who_closed_first_and_how() {
    // The client closes first with four segments (seed 001's picture); in `keepalive` the
    // server's FIN rides on its ACK of the client's (three segments); in `retransmission` the
    // server closes first.
    passes(
        &rec("normal_http"),
        "[connections]\nactive_closer = { orig = 1, resp = 0 }\nclose = { four_way = 1 }\n\n[[connection]]\nid = 1\nactive_closer = \"orig\"\nclose = \"four_way\"\n",
    );
    passes(
        &rec("keepalive"),
        "[[connection]]\nid = 1\nclose = \"three_way\"\n",
    );
    passes(
        &rec("simultaneous_close"),
        "[[connection]]\nid = 1\nclose = \"simultaneous\"\n",
    );
    fails(
        &rec("retransmission"),
        "[[connection]]\nid = 1\nactive_closer = \"orig\"\n",
        &["active closer resp (expected orig)"],
    );
    fails(
        &rec("rst_abort"),
        "[connections]\nclose = { none = 0 }\n",
        &["connections with close none: 1, expected exactly 0"],
    );
    let dir = tempfile::tempdir().unwrap();
    let x = expect_file(
        dir.path(),
        "x.toml",
        "[connections]\nclose = { two_way = 1 }\n",
    );
    let (code, _, err) = check(&[&rec("normal_http"), "--expect", &x]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "x.toml:2:21: unknown close 'two_way' (four_way, three_way, simultaneous, none)"
        ),
        "{err}"
    );
}

#[test]
fn html_reports_for_each_capture() {
    // `check --html DIR`: one report per capture, named after its path, for CI artifacts.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let (code, _, err) = check(&[
        &rec("challenge_ack"),
        &rec("normal_http"),
        "--html",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("challenge_ack.pcap.html"), "{names:?}");
    let flagged = std::fs::read_to_string(out.join(&names[0])).unwrap();
    assert!(flagged.contains("id=\"ladder-1\""));
    let clean = std::fs::read_to_string(out.join(&names[1])).unwrap();
    assert!(clean.contains("No connection raised a warning or an error."));
}

#[test]
fn analysis_options_and_filters_apply() {
    let late = rec("close_wait_late_close");
    let x = "[anomalies]\nrequire = [\"close_wait_stuck\"]\n";
    fails(&late, x, &["close_wait_stuck is required"]);
    passes(&late, &format!("[analysis]\nclose_wait_timeout = 2\n{x}"));
    let (code, out) = against(&late, &format!("[analysis]\nclose_wait_timeout = 60\n{x}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tcpaudit analyze"), "{out}");
    if tcpaudit::capture::libpcap::libpcap().is_ok() {
        // Only the refused connection's port: no connection to 8080 is left.
        passes(
            &rec("refused"),
            "[analysis]\nfilter = \"tcp port 81\"\n[connections]\ntotal = 1\n",
        );
        passes(
            &rec("refused"),
            "[analysis]\nfilter = \"tcp port 82\"\n[connections]\ntotal = 0\n",
        );
    }
}

#[test]
fn expectation_files_beside_captures_and_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let copy = |name: &str, to: &Path| {
        let dst = to.join(format!("{name}.pcap"));
        std::fs::copy(rec(name), &dst).unwrap();
        dst
    };
    let refused = copy("refused", dir.path());
    copy("normal_http", dir.path());
    copy("missing_third_ack", &sub);
    expect_file(
        dir.path(),
        "refused.pcap.expect.toml",
        "[anomalies]\nrequire = [\"connection_refused\"]\n",
    );
    // The directory's file covers normal_http.pcap here and, below, missing_third_ack.pcap.
    expect_file(
        dir.path(),
        "expect.toml",
        "[anomalies]\nforbid = [\"syn_flood\"]\n",
    );
    let (code, out, err) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 captures"), "{out}");
    // A capture with no expectations at all is an error when named, skipped in a directory.
    std::fs::remove_file(dir.path().join("expect.toml")).unwrap();
    let (code, out, _) = check(&[dir.path().to_str().unwrap(), "-v"]);
    assert_eq!(code, 0);
    assert!(out.contains("2 skipped (no expectations:"), "{out}");
    assert!(
        out.contains("skipped ") && out.contains("normal_http.pcap"),
        "{out}"
    );
    // A directory where no capture has expectations checks nothing: an error, not a pass.
    let bare = tempfile::tempdir().unwrap();
    copy("normal_http", bare.path());
    let (code, _, err) = check(&[bare.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nothing to check: the capture found has no expectations"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = check(&[empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to check: no capture found"), "{err}");
    let lone = dir.path().join("normal_http.pcap");
    let (code, _, err) = check(&[lone.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no expectations: write"), "{err}");
    let (code, _, err) = check(&[refused.with_extension("nope").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(err.contains("no such file or directory"), "{err}");
}

#[test]
fn malformed_expectation_files_point_at_the_line_and_column() {
    let capture = rec("refused");
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "[anomalies]\nrequire = [\"missing_thrid_ack\"]\n",
            "x.toml:2:12: unknown anomaly id 'missing_thrid_ack'",
        ),
        ("[anomalies]\nrequire = [missing]\n", "x.toml:2:12: "),
        (
            "[anomalies]\nrequre = [\"x\"]\n",
            "x.toml:2:1: unknown field `requre`",
        ),
        ("[anomalys]\n", "x.toml:1:2: unknown field `anomalys`"),
        (
            "[analysis]\nmsl = -3\n",
            "x.toml:2:7: [analysis] msl: --msl must be a non-negative number",
        ),
        (
            "[analysis]\nmls = 3\n",
            "x.toml:2:1: [analysis] has no option 'mls'",
        ),
        (
            "[connections]\nconn_state = { XX = 1 }\n",
            "x.toml:2:21: unknown Zeek conn_state 'XX'",
        ),
        (
            "[connections]\nconn_state = { SF = { min = 3, max = 1 } }\n",
            "x.toml:2:21: min 3 is above max 1",
        ),
        (
            "[budgets]\nhandshake_rtt_p50 = \"5 sec\"\n",
            "x.toml:2:21: a duration is",
        ),
        (
            "[[anomalies.count]]\nkind = \"half_open\"\nlistener = \"10.0.0.300:80\"\n",
            "x.toml:3:12: '10.0.0.300:80' is not an address",
        ),
        (
            "[anomalies]\nrequire = [\"half_open\"]\nforbid = [\"half_open\"]\n",
            "x.toml:2:12: 'half_open' is both required and forbidden",
        ),
        (
            "[[connection]]\nconn_state = \"SF\"\n",
            "x.toml:1:1: a [[connection]] needs an id, an orig or a resp",
        ),
        (
            "[connections]\norig_state = { ESTABLISHED_ = 1 }\n",
            "x.toml:2:31: unknown TCP state 'ESTABLISHED_'",
        ),
    ] {
        let x = expect_file(dir.path(), "x.toml", text);
        let (code, out, err) = check(&[&capture, "--expect", &x]);
        assert_eq!(code, 2, "{text}: {out}{err}");
        assert!(err.contains(want), "{text}\nwant: {want}\ngot: {err}");
        assert!(
            out.is_empty(),
            "nothing is checked before the files are right: {out}"
        );
    }
}

#[test]
fn baselines_record_and_catch_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("service.pcap");
    let base = dir.path().join("baseline.json");
    let (c, b) = (capture.to_str().unwrap(), base.to_str().unwrap());
    std::fs::copy(rec("retransmission"), &capture).unwrap();
    // No baseline yet: an error that says how to make one.
    let (code, _, err) = check(&[c, "--baseline", b]);
    assert_eq!(code, 3);
    assert!(err.contains("write it with --update"), "{err}");
    let (code, out, err) = check(&[c, "--baseline", b, "--update"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("baseline written"), "{out}");
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    // Keyed by the path relative to the baseline file, not as it was given.
    let entry = &snapshot["captures"]["service.pcap"];
    assert_eq!(entry["connections"], 1);
    assert_eq!(entry["outcomes"][0]["conn_state"], "SF");
    let retx = entry["anomalies"]["retransmission"].as_u64().unwrap();
    assert!(retx >= 2);
    // The same capture again: nothing changed.
    let (code, out, _) = check(&[c, "--baseline", b]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok    ") && out.contains("3 expectations hold"),
        "{out}"
    );
    // The same capture named another way, from another directory: the same entry.
    let from_dir = tcpaudit()
        .current_dir(dir.path())
        .args(["check", "./service.pcap", "--baseline", "baseline.json"])
        .output()
        .unwrap();
    assert_eq!(from_dir.status.code(), Some(0), "{from_dir:?}");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let from_sub = tcpaudit()
        .current_dir(&sub)
        .args(["check", "../service.pcap", "--baseline", "../baseline.json"])
        .output()
        .unwrap();
    assert_eq!(from_sub.status.code(), Some(0), "{from_sub:?}");

    // Lower the baseline's count: growth within the tolerance passes, beyond it fails.
    let mut edited = snapshot.clone();
    edited["captures"]["service.pcap"]["anomalies"]["retransmission"] = (retx - 1).into();
    std::fs::write(&base, serde_json::to_string(&edited).unwrap()).unwrap();
    let (code, out, _) = check(&[c, "--baseline", b, "--tolerance", "1"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = check(&[c, "--baseline", b, "--tolerance", "0"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("retransmission: {} -> {retx}", retx - 1)),
        "{out}"
    );
    assert!(
        out.contains("--update   # if the change is intended"),
        "{out}"
    );

    // A different behaviour under the same name: new kinds, changed outcomes.
    std::fs::write(&base, serde_json::to_string(&snapshot).unwrap()).unwrap();
    std::fs::copy(rec("rst_abort"), &capture).unwrap();
    let (code, out, _) = check(&[c, "--baseline", b]);
    assert_eq!(code, 1, "{out}");
    for want in [
        "baseline.new_anomalies",
        "rst_abort (notice): 1 occurrence (none in the baseline)",
        "baseline.connection_outcomes",
        "new connection 10.99.0.1:40006 -> 10.99.0.2:80 (#1): RSTO, rst",
        "connection 10.99.0.1:40015 -> 10.99.0.2:8080 (#1) is gone (was SF, fin)",
    ] {
        assert!(out.contains(want), "missing '{want}' in:\n{out}");
    }
    // A capture the baseline does not know is an error.
    let other = dir.path().join("other.pcap");
    std::fs::copy(rec("refused"), &other).unwrap();
    let (code, _, _) = check(&[other.to_str().unwrap(), "--baseline", b]);
    assert_eq!(code, 3);
    // A baseline that is not one.
    std::fs::write(&base, "{not json").unwrap();
    let (code, _, err) = check(&[c, "--baseline", b]);
    assert_eq!(code, 3);
    assert!(err.contains("not a tcpaudit baseline"), "{err}");
}

/// The JUnit report: counts right, failures carrying the message and details, errors for
/// captures that could not be read, and (where xmllint is installed) valid against the schema
/// CI systems read (tests/integration/junit.xsd).
#[test]
fn junit_reports_validate_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let x = expect_file(
        dir.path(),
        "x.toml",
        "[anomalies]\nrequire = [\"connection_refused\"]\nforbid = [\"rst_abort\"]\n",
    );
    let truncated = dir.path().join("truncated.pcap");
    let bytes = std::fs::read(rec("refused")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let report = dir.path().join("report.xml");
    let (code, out, _) = check(&[
        &rec("refused"),
        &rec("rst_abort"),
        truncated.to_str().unwrap(),
        "--expect",
        &x,
        "--junit",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "an unreadable capture makes the run fail: {out}");
    assert!(out.contains("ERROR ") && out.contains("truncated"), "{out}");
    let xml = std::fs::read_to_string(&report).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites.len(), 3);
    // The truncated capture: an error, and the expectations on what could be read.
    assert_eq!(parsed.tests, 7);
    assert_eq!(parsed.failures, 3, "{xml}");
    assert_eq!(parsed.errors, 1, "{xml}");
    assert!(
        xml.contains("message=\"rst_abort is forbidden but was raised once\""),
        "{xml}"
    );
    assert!(
        xml.contains("connection 1 10.99.0.1:40006 -&gt; 10.99.0.2:80"),
        "{xml}"
    );
    let have_xmllint = std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok();
    if !require(
        have_xmllint,
        "xmllint not installed (apt-get install -y libxml2-utils): schema not checked",
    ) {
        return;
    }
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/junit.xsd");
    let v = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(&report)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    // The schema is not a rubber stamp: a report without test counts is rejected.
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, xml.replacen(" tests=\"", " tset=\"", 2)).unwrap();
    let v = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!v.status.success());
}

/// Every anomaly id has a real capture in fixtures/ whose expectation file requires it, and
/// `tcpaudit check fixtures/` holds: any change in what tcpaudit reports on them fails here.
#[test]
fn project_fixtures_hold_and_cover_the_whole_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let (code, out, err) = check(&[root.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut files: Vec<PathBuf> = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".expect.toml") {
                out.push(p);
            }
        }
    }
    walk(&root, &mut files);
    let mut required = std::collections::BTreeSet::new();
    for f in &files {
        let x = tcpaudit::check::expect::load(f).unwrap();
        required.extend(x.require.iter().map(|k| k.id()));
    }
    let missing: Vec<&str> = tcpaudit::detect::AnomalyKind::ALL
        .iter()
        .map(|k| k.id())
        .filter(|id| !required.contains(id))
        .collect();
    assert!(missing.is_empty(), "no fixture requires {missing:?}");
    assert!(out.contains(&format!("{} captures", files.len())), "{out}");
}

/// The expectation files README shows are valid ones.
#[test]
fn readme_expectation_examples_parse() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2, "README shows expectation files");
    for b in blocks {
        if let Err(e) = tcpaudit::check::expect::parse(Path::new("README.md"), b) {
            panic!("README example does not parse: {e}\n{b}");
        }
    }
}

/// `--threads`: with several captures analysed at once, `check` reports what it reports one
/// capture at a time, in the same order: standard output, exit status, the JUnit report (but
/// for the times) and the baseline written. The captures mix passing, failing and unreadable
/// ones and a slow one first, so that later captures finish before it and must wait.
#[test]
fn several_captures_at_once_report_what_one_at_a_time_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The largest recording first: the others overtake it.
    let mut sizes: Vec<(u64, String)> = std::fs::read_dir(fixture("recordings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .map(|p| {
            (
                p.metadata().unwrap().len(),
                p.to_string_lossy().into_owned(),
            )
        })
        .collect();
    sizes.sort();
    sizes.reverse();
    assert!(sizes.len() >= 12, "{} recordings", sizes.len());
    for (i, (_, src)) in sizes.iter().take(12).enumerate() {
        std::fs::copy(src, d.join(format!("c{i:02}.pcap"))).unwrap();
    }
    std::fs::write(d.join("c12.pcap"), b"not a capture at all").unwrap();
    // Every capture gets the directory's expectations; some hold, some do not.
    expect_file(d, "expect.toml", "[anomalies]\nforbid = [\"rst_abort\"]\n");
    let path = d.to_str().unwrap();
    // The same report and baseline files each time: their paths are printed.
    let run = |threads: &str| {
        let junit = d.join("junit.xml");
        let base = d.join("baseline.json");
        let _ = std::fs::remove_file(&base);
        let (code, out, err) = check(&[
            path,
            "--threads",
            threads,
            "--junit",
            junit.to_str().unwrap(),
        ]);
        let (ucode, uout, uerr) = check(&[
            path,
            "--threads",
            threads,
            "--baseline",
            base.to_str().unwrap(),
            "--update",
        ]);
        let junit = std::fs::read_to_string(junit).unwrap();
        let times = without_times(&junit);
        (
            (code, out, err, ucode, uout, uerr),
            times,
            std::fs::read_to_string(base).unwrap(),
        )
    };
    let (one, one_junit, one_base) = run("1");
    assert_eq!(one.0, 3, "an unreadable capture: {}{}", one.1, one.2);
    assert!(
        one.1.contains("FAIL  ") && one.1.contains("ok    "),
        "{}",
        one.1
    );
    for threads in ["2", "5"] {
        let (many, many_junit, many_base) = run(threads);
        assert_eq!(many, one, "--threads {threads}");
        assert_eq!(many_junit, one_junit, "--threads {threads}");
        assert_eq!(many_base, one_base, "--threads {threads}");
    }
}

/// `--threads` beyond the captures: each capture's connections are split among the threads
/// left over (two captures, seven threads: three each, two shards), and `check` reports what it
/// reports on one thread; the generated capture's expectations name Zeek's conn_state and
/// history, which the shards compute apart.
#[test]
fn a_captures_connections_split_among_threads_report_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["generated/mixed.pcap", "recordings/syn_flood.pcap"] {
        let src = fixture(name);
        let dst = d.join(src.file_name().unwrap());
        std::fs::copy(&src, &dst).unwrap();
        let expect = src.with_extension("pcap.expect.toml");
        if expect.exists() {
            std::fs::copy(&expect, d.join(expect.file_name().unwrap())).unwrap();
        }
    }
    expect_file(
        d,
        "mixed.pcap.expect.toml",
        "[anomalies]\nrequire = [\"syn_flood\", \"missing_third_ack\", \"premature_reuse_2msl\"]\n\n\
         [connections]\ntotal = 349\n",
    );
    let path = d.to_str().unwrap();
    let one = check(&[path, "--threads", "1", "-v"]);
    assert!(one.1.contains("expectations hold"), "{}{}", one.1, one.2);
    assert_eq!(check(&[path, "--threads", "7", "-v"]), one);
}

/// A JUnit report with its `time` attributes blanked (how long each capture took).
fn without_times(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("time=\"") {
        out.push_str(&rest[..at + 6]);
        rest = &rest[at + 6..];
        let end = rest.find('"').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

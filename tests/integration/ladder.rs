//! `tcpaudit ladder`: the diagrams of recorded connections against golden files
//! (tests/golden/ladder/NAME.txt, plain ASCII). `TCPAUDIT_BLESS=1` rewrites them after a
//! deliberate change; review the diff.

use std::path::PathBuf;

use crate::util::*;

/// (recording, extra arguments): a normal connection, simultaneous open and close, a
/// half-close, a RST abort, TIME-WAIT reuse (both incarnations), a missing third ACK, and a
/// long transfer with retransmissions folded.
const CASES: &[(&str, &[&str])] = &[
    ("normal_http", &[]),
    ("simultaneous_open", &[]),
    ("simultaneous_close", &[]),
    ("half_close", &[]),
    ("rst_abort", &[]),
    ("reuse_time_wait", &[]),
    ("missing_third_ack", &[]),
    ("retransmission", &[]),
];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/ladder/{name}.txt"))
}

fn ladder(args: &[&str]) -> (i32, String, String) {
    let out = tcpaudit().arg("ladder").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn ladders_match_their_golden_files() {
    let bless = std::env::var_os("TCPAUDIT_BLESS").is_some();
    let mut failed = Vec::new();
    for (name, extra) in CASES {
        let cap = fixture(&format!("recordings/{name}.pcap"));
        let mut args = vec!["--ascii", cap.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (code, text, err) = ladder(&args);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(text.is_ascii(), "{name}: --ascii output is ASCII");
        let width = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(width <= 80, "{name}: {width} columns");
        let path = golden(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            failed.push(format!("{name}: differs from {}:\n{text}", path.display()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn states_are_written_where_they_change_as_the_seeds_draw_them() {
    let cap = fixture("recordings/normal_http.pcap");
    let (_, text, _) = ladder(&["--ascii", cap.to_str().unwrap()]);
    // Each endpoint's states, read down its column, are the seeds' sequences.
    let column = |left: bool| -> Vec<String> {
        text.lines()
            .skip(2)
            .filter_map(|l| {
                let (a, b) = l.split_once('|')?;
                let s = if left {
                    a.split_whitespace().last()
                } else {
                    b.rsplit_once('|')?.1.split_whitespace().next()
                };
                s.filter(|s| {
                    s.chars()
                        .all(|c| c.is_ascii_uppercase() || c == '-' || c.is_ascii_digit())
                })
                .filter(|s| s.len() > 3)
                .map(str::to_string)
            })
            .collect()
    };
    assert_eq!(column(true), SEED_CLIENT);
    assert_eq!(column(false), SEED_SERVER);
}

#[test]
fn connections_are_picked_by_id_or_anomaly() {
    let cap = fixture("recordings/reuse_time_wait.pcap");
    let cap = cap.to_str().unwrap();
    let (_, text, _) = ladder(&["--ascii", "--conn", "2", cap]);
    assert!(text.starts_with("#2 "), "{text}");
    assert!(!text.contains("\n#1 "), "{text}");
    let (_, text, _) = ladder(&["--ascii", "--anomaly", "premature_reuse_2msl", cap]);
    assert!(
        text.starts_with("#2 ") && text.contains("premature_reuse_2msl"),
        "{text}"
    );
    let (code, _, err) = ladder(&["--conn", "9", cap]);
    assert_eq!(code, 1);
    assert!(err.contains("no connection matches"), "{err}");
    let (code, _, err) = ladder(&["--anomaly", "no_such_id", cap]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown anomaly id 'no_such_id'"), "{err}");
}

#[test]
fn long_transfers_are_folded() {
    let cap = fixture("recordings/retransmission.pcap");
    let (_, text, _) = ladder(&["--ascii", cap.to_str().unwrap()]);
    // 69 segments, but the uneventful middle is one line with what it holds.
    assert!(text.lines().count() < 50, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("... 45 segments (18 ->, 27 <-), 39.1 kB, 1 retransmission, 1 fast_retransmission, 1 duplicate_ack ..."),
        "{text}"
    );
}

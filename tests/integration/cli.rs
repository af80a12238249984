//! The command line: output formats, limits, standard input, merged files, and bad input.

use predicates::prelude::*;

use crate::util::*;

#[test]
fn table_report_shows_summary_listeners_and_connections() {
    tcpaudit()
        .args(["analyze"])
        .arg(fixture("corpus/miss_end_data.pcap"))
        .assert()
        .success()
        .stdout(predicate::str::contains("packets read"))
        .stdout(predicate::str::contains("Top listeners"))
        .stdout(predicate::str::contains("77.238.160.184:80"))
        .stdout(predicate::str::contains("5.55 + 0.17"));
}

#[test]
fn table_is_limited_and_all_lifts_the_limit() {
    let f = fixture("generated/mixed.pcap");
    tcpaudit()
        .args(["analyze", "--limit", "5"])
        .arg(&f)
        .assert()
        .success()
        // 348 labelled incarnations, and the record an old duplicate SYN opens.
        .stdout(predicate::str::contains("5 of 349 connections shown"));
    let out = tcpaudit()
        .args(["analyze", "--all"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("connections shown"));
    assert!(text.contains("│ 349 "), "last connection row present");
}

#[test]
fn json_lines_carry_a_type_on_every_object() {
    let (code, recs, _) = analyze_json(&[&fixture("generated/mixed.pcap")]);
    assert_eq!(code, 0);
    let types = ["connection", "summary", "anomaly"];
    assert!(recs.iter().all(|r| types.iter().any(|t| r["type"] == *t)));
    assert!(recs.iter().any(|r| r["type"] == "anomaly"));
    let s = summary(&recs);
    // 348 labelled incarnations, and the record an old duplicate SYN opens.
    assert_eq!(s["connections"], 349);
    assert_eq!(s["packets"], 7635);
    let ids: Vec<u64> = connections(&recs)
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=349).collect::<Vec<_>>(),
        "ids are 1-based and dense"
    );
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let bytes = std::fs::read(fixture("generated/mixed.pcapng.gz")).unwrap();
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = json_lines(&out.stdout);
    assert_eq!(summary(&recs)["files"][0]["compressed"], true);
    assert!(connections(&recs).len() > 10);
}

#[test]
fn html_and_write_refuse_standard_input() {
    // Both read the capture a second time, which standard input cannot give.
    let bytes = std::fs::read(fixture("generated/mixed.pcapng.gz")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for extra in [["--html", "r.html"], ["-w", "out.pcapng"]] {
        let out = tcpaudit()
            .current_dir(dir.path())
            .args(["analyze", "-"])
            .args(extra)
            .write_stdin(bytes.clone())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not standard input"), "{err}");
        assert!(!dir.path().join(extra[1]).exists());
    }
}

#[test]
fn several_files_are_one_capture_merged_by_time() {
    // Split a capture into two files by alternate packets; the merge must give the same records.
    let whole = fixture("corpus/gtp-iphone.pcap");
    let bytes = std::fs::read(&whole).unwrap();
    let (header, mut rest) = bytes.split_at(24);
    let mut parts = [header.to_vec(), header.to_vec()];
    let mut i = 0;
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        let (rec, tail) = rest.split_at(16 + caplen);
        parts[i % 2].extend_from_slice(rec);
        rest = tail;
        i += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pcap");
    let b = dir.path().join("b.pcap");
    std::fs::write(&a, &parts[0]).unwrap();
    std::fs::write(&b, &parts[1]).unwrap();
    let (_, one, _) = analyze_json(&[&whole]);
    let (code, two, _) = analyze_json(&[&b, &a]);
    assert_eq!(code, 0);
    assert_eq!(connections(&one), connections(&two));
    assert_eq!(summary(&two)["files"].as_array().unwrap().len(), 2);
}

#[test]
fn a_file_that_is_not_a_capture_is_named_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "hello, this is not a capture\n").unwrap();
    tcpaudit()
        .args(["analyze"])
        .arg(&f)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("notes.txt: not a capture file"))
        .stderr(predicate::str::contains("byte offset 0"));
}

#[test]
fn empty_and_missing_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty.pcap");
    std::fs::write(&f, "").unwrap();
    tcpaudit()
        .arg("analyze")
        .arg(&f)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("empty file"));
    tcpaudit()
        .arg("analyze")
        .arg(dir.path().join("nope.pcap"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("nope.pcap"));
}

#[test]
fn truncated_file_reports_offset_and_keeps_what_was_read() {
    let bytes = std::fs::read(fixture("corpus/miss_end_data.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cut.pcap");
    std::fs::write(&f, &bytes[..bytes.len() - 10]).unwrap();
    let out = tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.pcap: truncated packet record at byte offset"),
        "{err}"
    );
    let recs = json_lines(&out.stdout);
    let s = summary(&recs);
    assert_eq!(s["packets"], 8, "every complete packet was analysed");
    assert_eq!(s["errors"].as_array().unwrap().len(), 1);
    assert_eq!(connections(&recs).len(), 1);
}

#[test]
fn absurd_record_length_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("absurd.pcap");
    write_pcap(&f, 101, &[(1_000_000, handshake()[0].clone())]);
    let mut bytes = std::fs::read(&f).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(&[
        0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff,
    ]);
    std::fs::write(&f, &bytes).unwrap();
    tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(&f)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "absurd packet record length 4294967280 at byte offset {good_len}"
        )))
        .stdout(predicate::str::contains("\"tcp_segments\":1"));
}

#[test]
fn good_files_are_analysed_even_when_another_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, [0u8; 64]).unwrap();
    let (code, recs, err) = analyze_json(&[&bad, &fixture("corpus/miss_end_data.pcap")]);
    assert_eq!(code, 3);
    assert!(err.contains("bad.pcap"));
    assert_eq!(connections(&recs).len(), 1);
}

#[test]
fn unknown_link_types_are_counted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user0.pcap");
    write_pcap(&f, 147, &[(1, vec![1, 2, 3]), (2, vec![4, 5, 6])]);
    let (code, recs, _) = analyze_json(&[&f]);
    assert_eq!(code, 0);
    let s = summary(&recs);
    assert_eq!(s["unsupported_link_types"]["user (147)"], 2);
    assert_eq!(s["skipped"]["unsupported_link_type"], 2);
}

/// Wraps IP datagrams in a link layer and checks the handshake comes through.
fn through(link_type: u32, wrap: impl Fn(&[u8]) -> Vec<u8>) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.pcap");
    let frames: Vec<(u64, Vec<u8>)> = handshake()
        .iter()
        .enumerate()
        .map(|(i, d)| (1_000_000 + 1000 * i as u64, wrap(d)))
        .collect();
    write_pcap(&f, link_type, &frames);
    let (code, recs, err) = analyze_json(&[&f]);
    assert_eq!(code, 0, "{err}");
    let c = connections(&recs);
    assert_eq!(c.len(), 1, "{recs:?}");
    assert!(
        (c[0]["handshake"]["rtt"].as_f64().unwrap() - 0.002).abs() < 1e-9,
        "{}",
        c[0]["handshake"]
    );
    summary(&recs)
}

fn eth(ether_type: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(ether_type);
    f.extend_from_slice(inner);
    f
}

#[test]
fn encapsulations_are_peeled() {
    // 802.1ad + 802.1Q (QinQ)
    through(1, |ip| {
        eth(&[0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 0x08, 0], ip)
    });
    // MPLS, two labels
    through(1, |ip| {
        eth(&[0x88, 0x47, 0, 1, 0x00, 64, 0, 2, 0x01, 64], ip)
    });
    // PPPoE session
    through(1, |ip| {
        eth(&[0x88, 0x64, 0x11, 0, 0, 7, 0, 0, 0x00, 0x21], ip)
    });
    // Linux SLL and SLL2
    through(113, |ip| {
        [
            &[0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0][..],
            ip,
        ]
        .concat()
    });
    through(276, |ip| {
        [
            &[
                0x08u8, 0, 0, 0, 0, 0, 0, 2, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0,
            ][..],
            ip,
        ]
        .concat()
    });
    // BSD loopback (host order) and OpenBSD LOOP (network order)
    through(0, |ip| [&2u32.to_le_bytes()[..], ip].concat());
    through(108, |ip| [&2u32.to_be_bytes()[..], ip].concat());
    // Raw IPv4
    through(228, |ip| ip.to_vec());
    // GRE carrying IPv4, inside IPv4
    let s = through(101, |ip| {
        let mut gre = vec![0, 0, 0x08, 0];
        gre.extend_from_slice(ip);
        let mut outer = Vec::new();
        etherparse::PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .write(&mut outer, etherparse::IpNumber::GRE, &gre)
            .unwrap();
        outer
    });
    assert_eq!(s["tunnels"]["gre"], 3);
    // VXLAN over UDP 4789
    let s = through(101, |ip| {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(&eth(&[0x08, 0], ip));
        let mut outer = Vec::new();
        etherparse::PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(50000, 4789)
            .write(&mut outer, &vx)
            .unwrap();
        outer
    });
    assert_eq!(s["tunnels"]["vxlan"], 3);
}

#[test]
fn invalid_options_exit_two_with_a_message() {
    tcpaudit()
        .args(["analyze", "--msl=-1"])
        .arg(fixture("corpus/miss_end_data.pcap"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--msl"));
    tcpaudit().args(["analyze"]).assert().code(2);
}

#[test]
fn explain_lists_every_id_and_explains_one() {
    let out = tcpaudit().arg("explain").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in tcpaudit::detect::AnomalyKind::ALL.iter().map(|k| k.id()) {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} missing from explain"
        );
        tcpaudit()
            .args(["explain", id])
            .assert()
            .success()
            .stdout(predicate::str::contains("How it is decided"));
    }
    tcpaudit()
        .args(["explain", "no_such_id"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no_such_id"));
    // A mistyped id gets the one meant: another case, dashes, a letter wrong or missing.
    for (typo, meant) in [
        ("SYN_FLOOD", "syn_flood"),
        ("syn-flood", "syn_flood"),
        ("rst_abrt", "rst_abort"),
        ("missing_thrid_ack", "missing_third_ack"),
    ] {
        tcpaudit()
            .args(["explain", typo])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!("did you mean {meant}?")));
    }
    tcpaudit()
        .args(["explain", "xyz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean").not());
    // The other words a record prints.
    for (term, says) in [
        ("TIME-WAIT", "2*MSL"),
        ("close_wait", "close_wait_stuck"),
        ("SF", "Normal establishment and termination"),
        ("RSTOS0", "SYN followed by a RST"),
        ("d", "the responder's (D is the originator's)"),
        ("history", "a SYN-ACK"),
        ("states", "SYN-RECEIVED"),
        ("conn_state", "REJ"),
    ] {
        tcpaudit()
            .args(["explain", term])
            .assert()
            .success()
            .stdout(predicate::str::contains(says));
    }
}

#[test]
fn a_missing_input_prints_only_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    for format in ["table", "json"] {
        tcpaudit()
            .args(["analyze", "-f", format])
            .arg(&missing)
            .assert()
            .code(3)
            .stdout("")
            .stderr(predicate::str::contains("missing.pcap: No such file"));
    }
    // One readable file among them: the run goes on and the error is reported after it.
    tcpaudit()
        .args(["analyze"])
        .arg(&missing)
        .arg(fixture("generated/mixed.pcap"))
        .assert()
        .code(3)
        .stdout(predicate::str::contains("connections"))
        .stderr(predicate::str::contains("missing.pcap: No such file"));
}

#[test]
fn table_report_summarises_anomalies() {
    tcpaudit()
        .args(["analyze"])
        .arg(fixture("generated/flood.pcap"))
        .assert()
        .success()
        .stdout(predicate::str::contains("Anomalies"))
        .stdout(predicate::str::contains("syn_flood"))
        .stdout(predicate::str::contains("Anomalies by listener"))
        .stdout(predicate::str::contains("Worst connections"));
}

#[test]
fn tcpdump_habits_read_with_r_filter_as_words_and_stop_with_c() {
    let f = fixture("generated/mixed.pcap");
    let json = |args: &[&str]| {
        let out = tcpaudit().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        summary(&json_lines(&out.stdout))
    };
    let path = f.to_str().unwrap();
    // `tcpaudit -r FILE` is `tcpaudit analyze FILE`.
    let plain = json(&["analyze", "-f", "json", path]);
    let top = json(&["-r", path, "-f", "json"]);
    assert_eq!(top["connections"], plain["connections"]);
    assert_eq!(top["packets"], plain["packets"]);
    // -c stops after that many frames.
    assert_eq!(
        json(&["analyze", "-c", "100", "-f", "json", path])["packets"],
        100
    );
    // A filter as words after -r files, as tcpdump takes it.
    if require(
        tcpaudit::capture::libpcap::libpcap().is_ok(),
        "libpcap not installed: filter words not tested",
    ) {
        let words = json(&["analyze", "-r", path, "-f", "json", "tcp", "port", "80"]);
        let flag = json(&["analyze", "-f", "json", "--filter", "tcp port 80", path]);
        assert_eq!(words["filter"]["expr"], "tcp port 80");
        assert_eq!(words["filter"], flag["filter"]);
        assert_eq!(words["connections"], flag["connections"]);
    }
    // Without -r, filter words are taken for files: the error says where the filter goes.
    tcpaudit()
        .args(["analyze", path, "tcp", "port", "80"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "tcp: no such file; a filter goes after -r files (`tcpaudit analyze -r FILE tcp port 80`)",
        ));
    tcpaudit()
        .args(["analyze", "-r", path, "--filter", "tcp", "port", "80"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the filter is given twice"));
    // `tcpaudit -D` is `tcpaudit interfaces`.
    let d = tcpaudit().arg("-D").output().unwrap();
    let i = tcpaudit().arg("interfaces").output().unwrap();
    assert_eq!((d.status.code(), d.stdout), (i.status.code(), i.stdout));
}

#[test]
fn version_names_the_commit_and_the_libpcap_found() {
    let out = tcpaudit().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("tcpaudit {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        !first.contains("commit unknown"),
        "built from a git checkout: {text}"
    );
    if require(
        tcpaudit::capture::libpcap::libpcap().is_ok(),
        "libpcap not installed: its version line not tested",
    ) {
        assert!(text.contains("\nlibpcap: libpcap version "), "{text}");
    } else {
        assert!(text.contains("\nlibpcap: not available"), "{text}");
    }
    // -V is the short form: the release and commit only.
    let short = tcpaudit().arg("-V").output().unwrap();
    assert_eq!(String::from_utf8(short.stdout).unwrap().trim(), first);
}

#[test]
fn completions_load_in_bash_and_cover_the_subcommands() {
    let out = tcpaudit().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "analyze",
        "live",
        "check",
        "ladder",
        "explain",
        "interfaces",
    ] {
        assert!(
            script.contains(sub),
            "{sub} missing from the bash completions"
        );
    }
    if !require(
        std::process::Command::new("bash")
            .arg("--version")
            .output()
            .is_ok(),
        "bash is not installed",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tcpaudit.bash");
    std::fs::write(&file, &script).unwrap();
    // Parses, loads, and registers a completion for the command.
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "bash -n {0} && source {0} && complete -p tcpaudit",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains("tcpaudit"));
    for shell in ["zsh", "fish"] {
        tcpaudit()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("tcpaudit"));
    }
}

#[test]
fn severities_are_coloured_when_asked_and_never_into_a_pipe_by_default() {
    let f = fixture("generated/flood.pcap");
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = tcpaudit();
        cmd.arg("analyze").args(args).arg(&f);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let always = run(&["--color", "always"], false);
    // syn_flood is an error (bold red), missing_third_ack a warning (yellow).
    assert!(always.contains("\x1b[38;5;9m\x1b[1m syn_flood"), "{always}");
    assert!(
        always.contains("\x1b[38;5;11m missing_third_ack"),
        "{always}"
    );
    // Into a pipe `auto` is plain, and so is `never`; NO_COLOR does not override `always`.
    for (args, no_color) in [(&[][..], false), (&["--color", "never"][..], false)] {
        assert!(!run(args, no_color).contains('\x1b'), "{args:?}");
    }
    assert!(run(&["--color", "always"], true).contains('\x1b'));
    // The same tables either way, once the escapes are taken out.
    let plain = run(&["--color", "never"], false);
    let stripped = always
        .replace("\x1b[38;5;9m", "")
        .replace("\x1b[38;5;11m", "")
        .replace("\x1b[38;5;14m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[2m", "")
        .replace("\x1b[0m", "")
        .replace("\x1b[39m", "");
    assert!(
        !stripped.contains('\x1b'),
        "an escape the test does not know: {stripped}"
    );
    assert_eq!(stripped, plain);
    // On a terminal (a pseudo-terminal from script(1)) `auto` colours, unless NO_COLOR is set.
    if require(
        std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok(),
        "script(1) is not installed (apt-get install bsdutils): the terminal case not tested",
    ) {
        let on_tty = |no_color: bool| {
            let mut cmd = std::process::Command::new("script");
            cmd.args(["-qec"])
                .arg(format!(
                    "{} analyze {}",
                    env!("CARGO_BIN_EXE_tcpaudit"),
                    f.display()
                ))
                .arg("/dev/null");
            if no_color {
                cmd.env("NO_COLOR", "1");
            } else {
                cmd.env_remove("NO_COLOR");
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).contains("\x1b[38;5;9m")
        };
        assert!(on_tty(false), "auto on a terminal is coloured");
        assert!(!on_tty(true), "NO_COLOR turns auto off");
    }
}

#[test]
fn piped_tables_take_their_width_from_columns() {
    let f = fixture("generated/flood.pcap");
    let widest = |columns: Option<&str>| {
        let mut cmd = tcpaudit();
        cmd.arg("analyze").arg(&f);
        match columns {
            Some(c) => cmd.env("COLUMNS", c),
            None => cmd.env_remove("COLUMNS"),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    };
    // Without a terminal or COLUMNS a table is as wide as its longest cells...
    assert!(widest(None) > 120);
    // ...with COLUMNS every line fits.
    assert!(widest(Some("80")) <= 80, "{}", widest(Some("80")));
    assert!(widest(Some("100")) <= 100);
}

/// The JSON records of `analyze --max-memory BOUND PATH`, after checking that the run succeeded
/// and never charged more than the bound.
fn within_bound(path: &std::path::Path, bound: &str) -> Vec<serde_json::Value> {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--max-memory", bound])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = json_lines(&out.stdout);
    let t = &summary(&recs)["table"];
    let limit = tcpaudit::config::parse_size(bound).unwrap() as u64;
    assert!(t["peak_memory_bytes"].as_u64().unwrap() <= limit, "{t}");
    recs
}

/// `--max-memory` bounds what the analysis holds: a capture of 8,000 four-tuples of one ACK
/// each (no SYN) under a 4 MiB bound ends the connections due soonest with reason `evicted`,
/// counted in the summary, never charging more than the bound; every connection still gets
/// its record.
#[test]
fn the_memory_bound_evicts_instead_of_growing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tuples.pcap");
    let frames: Vec<(u64, Vec<u8>)> = (0..8_000u32)
        .map(|i| {
            let src = [10, 1, (i >> 8) as u8, i as u8];
            let f = ipv4_tcp(src, [10, 200, 0, 1], 40_000, 443, 1000 + i, 5000, "A", &[]);
            (1_700_000_000_000_000 + u64::from(i), f)
        })
        .collect();
    // Raw IPv4 frames (link type 101).
    write_pcap(&path, 101, &frames);
    for (bound, evicts) in [("4M", true), ("1G", false)] {
        let recs = within_bound(&path, bound);
        assert_eq!(connections(&recs).len(), 8_000);
        let t = &summary(&recs)["table"];
        assert_eq!(
            t["evicted_memory"].as_u64().unwrap() > 0,
            evicts,
            "{bound}: {t}"
        );
        assert_eq!(t["evicted"], t["evicted_memory"]);
        assert_eq!(summary(&recs)["end_reasons"]["evicted"], t["evicted"]);
    }
    let out = tcpaudit()
        .args(["analyze", "--max-memory", "lots"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size"));
}

/// Under `--max-memory`, closed connections are kept encoded before any is evicted: 8,000
/// connections picked up midstream and reset (closed, waiting out 2*MSL) under a 4 MiB bound,
/// where about 1,100 fit in full, are tracked by the thousands (3,499), counted as frozen in
/// the summary and its terminal line, and each still gets its whole record.
#[test]
fn the_memory_bound_freezes_closed_connections_before_evicting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.pcap");
    let frames: Vec<(u64, Vec<u8>)> = (0..8_000u32)
        .flat_map(|i| {
            let src = [10, 1, (i >> 8) as u8, i as u8];
            let t = 1_700_000_000_000_000 + 2 * u64::from(i);
            let ack = ipv4_tcp(src, [10, 200, 0, 1], 40_000, 443, 1000 + i, 5000, "A", &[]);
            let rst = ipv4_tcp(src, [10, 200, 0, 1], 40_000, 443, 1000 + i, 5000, "R", &[]);
            [(t, ack), (t + 1, rst)]
        })
        .collect();
    write_pcap(&path, 101, &frames);
    let recs = within_bound(&path, "4M");
    let t = &summary(&recs)["table"];
    let conns = connections(&recs);
    assert_eq!(conns.len(), 8_000);
    assert!(t["frozen"].as_u64().unwrap() > 2_000, "{t}");
    assert!(t["peak_tracked"].as_u64().unwrap() > 2_000, "{t}");
    assert!(t["evicted"].as_u64().unwrap() < 6_000, "{t}");
    // Frozen, evicted or not, each record is the connection as it closed.
    assert!(
        conns
            .iter()
            .all(|c| c["end_reason"] == "rst" && c["orig"]["packets"] == 2),
        "{t}"
    );
    let text = table_text(&["--max-memory", "4M"], &path);
    assert!(text.contains("frozen (memory bound)"), "{text}");
    let none = within_bound(&path, "1G");
    assert_eq!(summary(&none)["table"]["frozen"], 0);
}

/// Writes `syns` SYNs from spoofed sources, 10 µs apart, SYN `i` from source port, to
/// address and port `to(i)`.
fn write_syn_flood(path: &std::path::Path, syns: u32, to: impl Fn(u32) -> (u16, [u8; 4], u16)) {
    let frames: Vec<(u64, Vec<u8>)> = (0..syns)
        .map(|i| {
            let src = (0x0b00_0000 ^ i.wrapping_mul(2_654_435_761)).to_be_bytes();
            let (sport, dst, dport) = to(i);
            let f = ipv4_tcp(src, dst, sport, dport, i, 0, "S", &[]);
            (1_700_000_000_000_000 + u64::from(i) * 10, f)
        })
        .collect();
    write_pcap(path, 101, &frames);
}

/// A flood of spoofed SYNs to random ports under a small `--max-memory`: the attempts the bound
/// cannot hold as records are counted per listener (aggregated) instead of evicting tracked
/// ones, and the charged peak stays under the bound; with room, every attempt is a record.
#[test]
fn a_flood_to_random_ports_stays_within_the_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood-ports.pcap");
    let syns = 10_000u32;
    write_syn_flood(&path, syns, |i| {
        let sport = 1024 + (i % 60_000) as u16;
        // Over four hosts: fewer ports each than one host's listeners may take (below).
        let dst = [172, 16, 0, 10 + (i % 4) as u8];
        (sport, dst, 1 + (i.wrapping_mul(40_503) % 65_535) as u16)
    });
    for (bound, aggregates) in [("8M", true), ("1G", false)] {
        let recs = within_bound(&path, bound);
        let t = &summary(&recs)["table"];
        assert_eq!(t["evicted"], 0, "{bound}: {t}");
        let (tracked, aggregated) = (
            t["connections"].as_u64().unwrap(),
            t["aggregated_segments"].as_u64().unwrap(),
        );
        assert_eq!(tracked + aggregated, u64::from(syns), "{bound}: {t}");
        assert_eq!(aggregated > tracked, aggregates, "{bound}: {t}");
        assert_eq!(connections(&recs).len() as u64, tracked);
    }
}

/// A flood across the ports of one host takes at most 4,096 of the listeners tracked at once,
/// whatever the memory bound: attempts to its other ports are counted per listener
/// (aggregated, no record), and the summary says how many no listener rule judged.
#[test]
fn a_flood_across_one_hosts_ports_takes_at_most_4096_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood-one-host.pcap");
    write_syn_flood(&path, 6_000, |i| (40_000, [172, 16, 0, 10], 1 + i as u16));
    let recs = within_bound(&path, "1G");
    let s = summary(&recs);
    assert_eq!(s["table"]["connections"], 4_096, "{s}");
    assert_eq!(s["table"]["aggregated_segments"], 1_904, "{s}");
    assert_eq!(s["untracked_listener_attempts"], 1_904, "{s}");
    // Top listeners still counts every attempt (one each here).
    let top = s["top_listeners"].as_array().unwrap();
    assert!(top.iter().all(|l| l["attempts"] == 1), "{s}");
    let text = table_text(&[], &path);
    assert!(text.contains("listener cap hit"), "{text}");
    assert!(!text.contains("half-open cap hit"), "{text}");
    assert!(
        text.contains(
            "1904 attempts counted per listener, not tracked: their listeners were beyond"
        ),
        "{text}"
    );
}

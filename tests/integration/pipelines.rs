//! tcpaudit in pipelines: the exit status tells a damaged capture (3) from bad arguments (2)
//! and a failed write (4) whatever happens to standard output, a reader that stops early
//! (`| head -1`) is not an error, and standard input is read once.

use std::io::{BufRead, BufReader};
use std::process::{Command as Std, Stdio};

use crate::util::*;

/// Runs tcpaudit with `args`, reads one line of its output and closes the pipe, as
/// `| head -1` does; its exit status and standard error.
fn head_1(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Std::new(env!("CARGO_BIN_EXE_tcpaudit"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The reader is dropped here: the pipe is closed with output still to come.
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The mixed fixture cut 40 bytes before its end: a truncated last record, met after far more
/// output than a pipe holds.
fn truncated_capture(dir: &std::path::Path) -> String {
    let bytes = std::fs::read(fixture("generated/mixed.pcap")).unwrap();
    let path = dir.join("cut.pcap");
    std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_closed_output_still_reports_a_damaged_capture_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated_capture(dir.path());
    // On one thread, two, and three (the records written on the third).
    for threads in ["1", "2", "3"] {
        for format in ["json", "table", "eve", "zeek", "csv"] {
            let args = ["analyze", "--all", "--threads", threads, "-f", format];
            let (code, err) = head_1(&[&args[..], &[cut.as_str()]].concat());
            assert_eq!(code, Some(3), "{format} {threads}: {err}");
            assert!(err.contains("truncated"), "{format} {threads}: {err}");
            assert!(!err.contains("Broken pipe"), "{format} {threads}: {err}");
        }
        // An intact capture whose reader stops early: no error.
        let good = fixture("generated/mixed.pcap");
        for format in ["json", "table"] {
            let args = ["analyze", "--all", "--threads", threads, "-f", format];
            let (code, err) = head_1(&[&args[..], &[good.to_str().unwrap()]].concat());
            assert_eq!(code, Some(0), "{format} {threads}: {err}");
            assert!(err.is_empty(), "{format} {threads}: {err}");
        }
    }
}

#[test]
fn check_behind_a_closed_pipe_keeps_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("generated/mixed.pcap"),
        dir.path().join("mixed.pcap"),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    for (expect, want) in [
        ("[anomalies]\nforbid = [\"rst_injection_suspected\"]\n", 0),
        ("[anomalies]\nforbid = [\"half_open\"]\n", 1),
    ] {
        std::fs::write(dir.path().join("expect.toml"), expect).unwrap();
        let (code, err) = head_1(&["check", "-v", d]);
        assert_eq!(code, Some(want), "{expect}: {err}");
        assert!(!err.contains("Broken pipe"), "{err}");
    }
}

#[test]
fn standard_input_is_read_once() {
    for args in [&["analyze", "-", "-"][..], &["ladder", "-", "-"][..]] {
        let out = tcpaudit().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("standard input (-) is given more than once"),
            "{args:?}"
        );
    }
}

#[test]
fn a_failed_write_names_its_destination() {
    if !require(
        std::path::Path::new("/dev/full").exists(),
        "/dev/full is missing: no device to fail writes",
    ) {
        return;
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    // On one thread, two, and three (the records written on the third).
    for threads in ["1", "2", "3"] {
        let out = Std::new(env!("CARGO_BIN_EXE_tcpaudit"))
            .args(["analyze", "-f", "json", "--threads", threads])
            .arg(fixture("generated/mixed.pcap"))
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{threads}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("standard output: No space left on device"),
            "{threads}: {err}"
        );
    }
    // A file of -o on a full disk names the file.
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join("conn.log");
    std::os::unix::fs::symlink("/dev/full", &conn).unwrap();
    let out = tcpaudit()
        .args(["analyze", "-f", "zeek", "-o"])
        .arg(dir.path())
        .arg(fixture("generated/mixed.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conn.log: No space left on device"), "{err}");
}

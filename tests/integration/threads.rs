//! `--threads`: a run on two threads, and one on three (records written on the third), write
//! what a run on one writes, byte for byte, on every fixture, with the application layer and
//! stories on, with a frame count, and on a generated capture long enough for hundreds of
//! hand-overs between the threads.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use crate::util::*;

/// Every capture under fixtures/.
fn fixture_captures() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![fixture("")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.to_string_lossy();
            if p.is_dir() {
                dirs.push(p);
            } else if [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// Standard output, standard error and exit status of `tcpaudit analyze ARGS --threads N F`.
/// Session cookie hashes differ from run to run whatever the threads (they are keyed anew by
/// every run, so they cannot be matched across reports): they are masked. Everything else is
/// compared, the peak memory too (hash tables are charged from the most entries they held, so
/// the figure does not depend on the per-run seeded hasher).
fn run(args: &[&str], threads: u32, file: &Path) -> (String, String, i32) {
    let out = tcpaudit()
        .arg("analyze")
        .args(args)
        .arg("--threads")
        .arg(threads.to_string())
        .arg(file)
        .output()
        .unwrap();
    let masked = regex_free_mask(&String::from_utf8_lossy(&out.stdout));
    (
        masked,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The text with every `"value_hash":"…"` value blanked.
fn regex_free_mask(text: &str) -> String {
    let mut text = text.to_string();
    let keys = [("\"value_hash\":\"", &['"'][..])];
    for (key, end) in keys {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(i) = rest.find(key) {
            let (head, tail) = rest.split_at(i + key.len());
            out.push_str(head);
            rest = &tail[tail.find(end).unwrap_or(tail.len())..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// Two threads (intake and engine) and three (the records written on a third) write what one
/// writes.
fn assert_same(args: &[&str], file: &Path) {
    let one = run(args, 1, file);
    assert!(!one.0.is_empty(), "{}: no output", file.display());
    for threads in [2, 3] {
        let other = run(args, threads, file);
        if one == other {
            continue;
        }
        // The first line that differs, not megabytes of output.
        let (a, b) = (
            format!("{}{}{}", one.0, one.1, one.2),
            format!("{}{}{}", other.0, other.1, other.2),
        );
        let (n, (x, y)) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("(shorter)", "(longer)")));
        panic!(
            "{} {args:?}: --threads {threads} differs from --threads 1 at line {}:\n  {x}\n  {y}",
            file.display(),
            n + 1
        );
    }
}

#[test]
fn two_threads_write_what_one_writes_on_every_fixture() {
    let captures = fixture_captures();
    assert!(captures.len() > 50, "fixtures not found");
    for f in &captures {
        assert_same(&["-f", "json"], f);
    }
}

#[test]
fn two_threads_write_what_one_writes_with_payload_read() {
    // The application layer and stream reassembly read payload bytes, which then cross
    // between the threads; stories add state-change records.
    for f in fixture_captures() {
        assert_same(&["-f", "json", "--app", "--transitions"], &f);
    }
}

#[test]
fn two_threads_stop_at_the_same_frame() {
    let f = fixture("generated/mixed.pcap");
    for n in ["1", "777", "1025", "5000"] {
        assert_same(&["-f", "json", "-c", n], &f);
    }
    assert_same(&["-f", "json", "--filter", "tcp port 80"], &f);
}

#[test]
fn two_threads_write_what_one_writes_on_a_generated_capture() {
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/gen-pcap.py");
    let python = Process::new("python3").arg("--version").output().is_ok();
    if !require(
        python && generator.exists(),
        "needs python3 and ../shared/tools/gen-pcap.py",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("threads.pcap");
    let ok = Process::new("python3")
        .arg(&generator)
        .args([
            "-q",
            "--connections",
            "4000",
            "--seed",
            "11",
            "--duration",
            "60",
        ])
        .arg("-o")
        .arg(&capture)
        .status()
        .unwrap()
        .success();
    assert!(ok, "gen-pcap.py failed");
    // JSON, the table (with its summary), Zeek's conn.log, whose uids are per record, EVE and
    // CSV.
    for args in [
        &["-f", "json"][..],
        &["-f", "table"],
        &["-f", "zeek"],
        &["-f", "eve"],
        &["-f", "csv"],
    ] {
        assert_same(args, &capture);
    }
}

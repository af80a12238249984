//! `--threads`: a run on two threads, and runs on three and five (the connections split among
//! two and four shards), write what a run on one writes, byte for byte but for the resource
//! figures of the summary, on every fixture, with the application layer and stories on (not
//! split: the records written on a thread of their own), with a frame count, and on a generated
//! capture long enough for hundreds of hand-overs between the threads. Where a split run's
//! assumption is wrong (a flood past the caps, a one-sided capture, the memory bound), it says
//! so and writes the same.

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

/// The note a split run writes when it analysed the capture again on one table.
const UNDONE: &str = "tcpaudit: note: the connections could not be analysed apart";

/// Standard output, standard error (but for the note that a split run was undone) and exit
/// status of `tcpaudit analyze ARGS --threads N F`. Session cookie hashes differ from run to
/// run whatever the threads (they are keyed anew by every run, so they cannot be matched across
/// reports): they are masked; so are the summary's resource figures (peak memory, connections
/// tracked at once, reassembly's peak, connections frozen), which a split run gives as the sum
/// of its shards'. Everything else is compared.
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
    let err: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with(UNDONE))
        .map(|l| format!("{l}\n"))
        .collect();
    (masked, err, out.status.code().unwrap_or(-1))
}

/// The text with every `"value_hash":"…"` value blanked.
fn regex_free_mask(text: &str) -> String {
    let mut text = text.to_string();
    let figure = &[',', '}'][..];
    let keys = [
        ("\"value_hash\":\"", &['"'][..]),
        ("\"peak_memory_bytes\":", figure),
        ("\"peak_tracked\":", figure),
        ("\"reassembly_peak_bytes\":", figure),
        ("\"frozen\":", figure),
    ];
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

/// Two threads (intake and engine), three and five (two and four shards, or the records
/// written on a thread of their own) write what one writes.
fn assert_same(args: &[&str], file: &Path) {
    let one = run(args, 1, file);
    assert!(!one.0.is_empty(), "{}: no output", file.display());
    for threads in [2, 3, 5] {
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

/// A connection from 10.0.`host`.1:`port` to 10.0.0.2:80: handshake, a request and its answer,
/// both FINs, from `t` microseconds on.
fn exchange(host: u8, port: u16, t: u64) -> Vec<(u64, Vec<u8>)> {
    let (c, s) = ([10, 0, host, 1], [10, 0, 0, 2]);
    let segs = [
        ipv4_tcp(c, s, port, 80, 1000, 0, "S", &[]),
        ipv4_tcp(s, c, 80, port, 5000, 1001, "SA", &[]),
        ipv4_tcp(c, s, port, 80, 1001, 5001, "A", &[]),
        ipv4_tcp(c, s, port, 80, 1001, 5001, "PA", b"GET / HTTP/1.1\r\n\r\n"),
        ipv4_tcp(s, c, 80, port, 5001, 1019, "PA", b"HTTP/1.1 200 OK\r\n\r\n"),
        ipv4_tcp(c, s, port, 80, 1019, 5020, "FA", &[]),
        ipv4_tcp(s, c, 80, port, 5020, 1020, "FA", &[]),
        ipv4_tcp(c, s, port, 80, 1020, 5021, "A", &[]),
    ];
    segs.into_iter()
        .enumerate()
        .map(|(i, f)| (t + 1000 * i as u64, f))
        .collect()
}

/// Writes `frames` (IP datagrams, in time order) as a capture in `dir`.
fn capture(dir: &Path, name: &str, mut frames: Vec<(u64, Vec<u8>)>) -> PathBuf {
    frames.sort_by_key(|(t, _)| *t);
    let path = dir.join(name);
    write_pcap(&path, 101, &frames);
    path
}

/// Asserts that `--threads 3` and `--threads 5` write what `--threads 1` writes with `args`,
/// and that they analysed the capture again on one thread, saying why (`why`).
fn assert_undone(args: &[&str], file: &Path, why: &str) {
    let one = run(args, 1, file);
    for threads in ["3", "5"] {
        let out = tcpaudit()
            .arg("analyze")
            .args(args)
            .args(["--threads", threads])
            .arg(file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(UNDONE) && err.contains(why),
            "{threads}: {err}"
        );
    }
    assert_same(args, file);
    assert!(!one.1.contains(UNDONE), "{}", one.1);
}

/// Ordinary connections, then attempts past `--max-half-open`: the shards, which assume room
/// for every attempt, wrote the first connections; the run stops before the attempt that was
/// aggregated and writes the rest from one table's second reading, once each.
#[test]
fn a_flood_past_the_caps_is_analysed_again_on_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..40u16 {
        frames.extend(exchange(
            1 + (i % 7) as u8,
            40000 + i,
            1_000_000 + 20_000 * u64::from(i),
        ));
    }
    for i in 0..12u8 {
        let syn = ipv4_tcp([192, 0, 2, i], [10, 0, 0, 3], 5555, 443, 7, 0, "S", &[]);
        frames.push((2_000_000 + 1000 * u64::from(i), syn));
    }
    for i in 0..20u16 {
        frames.extend(exchange(9, 50000 + i, 3_000_000 + 20_000 * u64::from(i)));
    }
    let file = capture(dir.path(), "flood.pcap", frames);
    for format in ["json", "table", "zeek"] {
        assert_undone(
            &["-f", format, "--max-half-open", "4"],
            &file,
            "a listener's caps",
        );
    }
    // Without the cap the same capture is split, and says nothing.
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--threads", "3"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same(&["-f", "json"], &file);
}

/// Connections whose answers the capture does not show make it look one-sided, which decides
/// how every connection's one direction is judged: the shards assume it does not.
#[test]
fn a_one_sided_capture_is_analysed_again_on_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..8u16 {
        let own: Vec<_> = exchange(1 + i as u8, 40000 + i, 1_000_000 + 20_000 * u64::from(i))
            .into_iter()
            // The client's side only.
            .filter(|(_, f)| f[12] == 10 && f[14] != 0)
            .collect();
        frames.extend(own);
    }
    let file = capture(dir.path(), "one-sided.pcap", frames);
    let (json, _, code) = run(&["-f", "json"], 1, &file);
    assert_eq!(code, 0);
    assert!(json.contains("\"capture\":\"orig\""), "{json}");
    assert_undone(&["-f", "json"], &file, "one-sided");
}

/// A memory bound the shards' peaks come near: one table might have evicted or aggregated
/// where a shard did not.
#[test]
fn a_memory_bound_in_reach_is_analysed_again_on_one_thread() {
    let file = fixture("generated/mixed.pcap");
    assert_undone(&["-f", "json", "--max-memory", "2M"], &file, "memory");
}

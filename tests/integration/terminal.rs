//! tcpaudit in a real terminal: tmux panes of 80×24 and 200×50, read back with
//! `tmux capture-pane`. Wrapped lines are joined (`-J`), so a line the terminal had to wrap shows
//! up wider than the pane; cells are checked for addresses, state names and anomaly ids cut in
//! two; the progress bar must leave nothing behind; the live view (root, two network namespaces)
//! must start with its status line and fit the pane.
//!
//! tmux runs on a socket of its own per test, killed at the end. Without tmux (or root for the
//! live view) the tests skip with the reason, or fail under CI (see [`require`]).

use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::live_util::*;
use crate::util::*;

/// A tmux server of its own with one session running a command in a pane of a given size.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached `cols`×`rows` pane; when it ends,
    /// `__DONE__` is printed and the pane stays.
    fn start(tag: &str, cols: u16, rows: u16, command: &str) -> Tmux {
        // A socket per pane: a server just killed may still hold the previous one's name.
        static PANES: AtomicU32 = AtomicU32::new(0);
        let n = PANES.fetch_add(1, Ordering::Relaxed);
        let t = Tmux {
            socket: format!("tcpaudit-{tag}-{}-{n}", std::process::id()),
        };
        let conf = std::env::temp_dir().join(format!("{}.conf", t.socket));
        // Enough scrollback for a whole report; no status bar, so the pane is the window.
        std::fs::write(&conf, "set -g history-limit 100000\nset -g status off\n").unwrap();
        let line = format!("env -u COLUMNS -u LINES {command}; echo __DONE__; sleep 600");
        let out = Proc::new("tmux")
            .args(["-L", &t.socket, "-f"])
            .arg(&conf)
            .args(["new-session", "-d", "-s", "t", "-x", &cols.to_string()])
            .args(["-y", &rows.to_string(), &line])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    /// The pane's text with wrapped lines joined; `history`: from the start of the scrollback,
    /// else only what is on the screen.
    fn capture(&self, history: bool) -> String {
        let mut cmd = Proc::new("tmux");
        cmd.args(["-L", &self.socket, "capture-pane", "-p", "-J", "-t", "t"]);
        if history {
            cmd.args(["-S", "-"]);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys to the pane (`C-c`).
    fn keys(&self, keys: &str) {
        let _ = Proc::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t", keys])
            .status();
    }

    /// Waits up to `secs` for `cond` on the screen; the last screen seen, and whether it held.
    fn wait(&self, secs: u64, mut cond: impl FnMut(&str) -> bool) -> (String, bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.capture(false);
            if cond(&screen) {
                return (screen, true);
            }
            if Instant::now() > deadline {
                return (screen, false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Proc::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{}.conf", self.socket)));
        // tmux leaves its socket file behind.
        let dir = std::env::var("TMUX_TMPDIR").unwrap_or_else(|_| "/tmp".into());
        // SAFETY: no preconditions.
        let uid = unsafe { libc::geteuid() };
        let _ = std::fs::remove_file(format!("{dir}/tmux-{uid}/{}", self.socket));
    }
}

/// Every anomaly id, from `tcpaudit explain`.
fn anomaly_ids() -> Vec<String> {
    let out = tcpaudit().arg("explain").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains('_'))
        .map(str::to_string)
        .collect()
}

const STATES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN-SENT",
    "SYN-RECEIVED",
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "CLOSE-WAIT",
    "CLOSING",
    "LAST-ACK",
    "TIME-WAIT",
];

/// What is wrong with `text` drawn in `cols` columns: lines wider than the pane (the terminal
/// wrapped them), addresses, state names or anomaly ids cut in two.
fn problems(text: &str, cols: usize, ids: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    for line in text.lines() {
        let width = line.chars().count();
        if width > cols {
            bad.push(format!("{width} columns: {line}"));
        }
        for word in line
            .split(|c: char| c.is_whitespace() || "│┆,()".contains(c))
            .filter(|w| !w.is_empty())
        {
            let word = word.split('×').next().unwrap_or(word);
            let looks_like_address = word.starts_with('[')
                || (word.starts_with(|c: char| c.is_ascii_digit())
                    && word.matches('.').count() >= 3);
            if looks_like_address && word.parse::<std::net::SocketAddr>().is_err() {
                bad.push(format!("address cut: {word:?} in {line}"));
            }
            let state_piece = word.len() >= 4
                && !STATES.contains(&word)
                && STATES
                    .iter()
                    .any(|s| (s.starts_with(word) || s.ends_with(word)) && s.contains('-'));
            if state_piece && word.contains(|c: char| c.is_ascii_uppercase()) {
                bad.push(format!("state name cut: {word:?} in {line}"));
            }
            let id_piece = word.contains('_')
                && !ids.iter().any(|i| i == word)
                && ids.iter().any(|i| i.starts_with(word) || i.ends_with(word));
            if id_piece {
                bad.push(format!("anomaly id cut: {word:?} in {line}"));
            }
        }
    }
    bad
}

/// `fixtures/generated/mixed.pcap` repeated `copies` times one after the other (timestamps
/// moved on), so that reading it takes long enough for the progress bar to show.
fn repeated_capture(path: &Path, copies: u32) {
    let d = std::fs::read(fixture("generated/mixed.pcap")).unwrap();
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
    let u32_at = |i: usize| u32::from_le_bytes(d[i..i + 4].try_into().unwrap());
    let mut records = Vec::new();
    let mut i = 24;
    while i + 16 <= d.len() {
        let len = u32_at(i + 8) as usize;
        records.push((u32_at(i), i));
        i += 16 + len;
    }
    let span = records.last().unwrap().0 - records[0].0 + 300;
    let mut out = d[..24].to_vec();
    for k in 0..copies {
        for &(secs, at) in &records {
            let len = u32_at(at + 8) as usize;
            out.extend_from_slice(&(secs + k * span).to_le_bytes());
            out.extend_from_slice(&d[at + 4..at + 16 + len]);
        }
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn analyze_fits_80x24_and_200x50_and_the_progress_bar_leaves_nothing() {
    if !require(have("tmux"), "needs tmux (apt-get install -y tmux)") {
        return;
    }
    let ids = anomaly_ids();
    assert!(ids.len() > 40, "{ids:?}");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    repeated_capture(&big, 30);
    let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
    for (cols, rows) in [(80u16, 24u16), (200, 50)] {
        let started = Instant::now();
        let cmd = format!("{} analyze --limit 30 {}", bin.display(), big.display());
        let tmux = Tmux::start("analyze", cols, rows, &cmd);
        // The bar while reading (a run this long shows it), then the report.
        let mut bar_seen = false;
        let (screen, done) = tmux.wait(300, |s| {
            if s.contains(" left") && s.contains("packets,") {
                bar_seen = true;
            }
            s.contains("__DONE__")
        });
        assert!(done, "{cols}x{rows}: the run did not end:\n{screen}");
        let elapsed = started.elapsed();
        assert!(
            bar_seen || elapsed < Duration::from_millis(1500),
            "{cols}x{rows}: no progress bar in {elapsed:?}"
        );
        let text = tmux.capture(true);
        let bad = problems(&text, cols as usize, &ids);
        assert!(
            bad.is_empty(),
            "{cols}x{rows}:\n{}\n\n{text}",
            bad.join("\n")
        );
        assert!(
            !text.contains('━') && !text.contains(" left"),
            "{cols}x{rows}: the progress bar left a trace:\n{text}"
        );
        assert!(text.contains("\nConnections"), "{cols}x{rows}: {text}");
        assert!(text.contains("final states"), "{cols}x{rows}: {text}");
        for state in ["TIME-WAIT", "CLOSED", "SYN-RECEIVED"] {
            assert!(text.contains(state), "{cols}x{rows}: no {state}:\n{text}");
        }
        if cols >= 200 {
            // Wide enough for every column.
            assert!(
                text.contains("handshake ms") && text.contains("options"),
                "{text}"
            );
        } else {
            assert!(!text.contains("handshake ms"), "{text}");
            assert!(
                text.contains("Connections (fitted to 80 columns; --wide shows all)"),
                "{text}"
            );
        }
    }
}

#[test]
fn piped_tables_fit_columns_down_to_60() {
    let ids = anomaly_ids();
    for cols in [60, 72, 80, 100, 132] {
        let out = tcpaudit()
            .env("COLUMNS", cols.to_string())
            .args(["analyze", "--limit", "40"])
            .arg(fixture("generated/mixed.pcap"))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let section = |name: &str| {
            text.split(&format!("\n{name}"))
                .nth(1)
                .and_then(|s| s.split("\n\n").next())
                .unwrap_or_else(|| panic!("{cols}: no {name} table:\n{text}"))
                .to_string()
        };
        let conns = section("Connections");
        let bad = problems(&conns, cols, &ids);
        assert!(bad.is_empty(), "{cols}:\n{}\n\n{conns}", bad.join("\n"));
        // At 80 and wider every table fits; at 60 the connection table does.
        if cols >= 80 {
            let bad = problems(&text, cols, &ids);
            assert!(bad.is_empty(), "{cols}:\n{}\n\n{text}", bad.join("\n"));
        }
    }
    // --wide: every column, whatever the width.
    let out = tcpaudit()
        .env("COLUMNS", "80")
        .args(["analyze", "--wide", "--limit", "5"])
        .arg(fixture("generated/mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("handshake ms") && text.contains("options"),
        "{text}"
    );
}

#[test]
fn live_view_fits_80x24_and_200x50_with_the_status_line_first() {
    if !require(is_root(), "live capture needs root (CI runs as root)") {
        return;
    }
    if !require(
        have("ip") && have("tmux"),
        "needs iproute2 and tmux (apt-get install -y iproute2 tmux)",
    ) {
        return;
    }
    let ids = anomaly_ids();
    let ns = Netns::new("term");
    let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
    for (cols, rows) in [(80u16, 24u16), (200, 50)] {
        let cmd = format!(
            "ip netns exec {} {} live -i tcpa-s --refresh 0.3 -Z root",
            ns.server,
            bin.display()
        );
        let tmux = Tmux::start("live", cols, rows, &cmd);
        let (screen, up) = tmux.wait(20, |s| s.contains(" up 00:"));
        assert!(up, "{cols}x{rows}: no live view:\n{screen}");
        // Finished exchanges and refused attempts (nothing listens on 81): states, a listener,
        // anomalies with four-tuples.
        let srv = Netns::run(&ns.server, http_server(80, 6));
        std::thread::sleep(Duration::from_millis(100));
        Netns::run(&ns.client, || {
            for _ in 0..6 {
                http_exchange(80);
                let _ = std::net::TcpStream::connect((SERVER_IP, 81));
            }
        })
        .join()
        .unwrap();
        srv.join().unwrap();
        let tuple = format!("→ {SERVER_IP}:81");
        // At 80×24 the lists are cut; at 200×50 everything fits.
        let (screen, seen) = tmux.wait(20, |s| {
            s.contains(&tuple) && (rows > 24 || s.contains("more"))
        });
        assert!(
            seen,
            "{cols}x{rows}: no anomaly with its four-tuple:\n{screen}"
        );
        let lines: Vec<&str> = screen.lines().collect();
        assert!(
            lines[0].contains("drop")
                && (lines[0].contains("pkts") || lines[0].contains("packets")),
            "{cols}x{rows}: the status line is not first:\n{screen}"
        );
        assert!(lines.len() <= rows as usize, "{cols}x{rows}:\n{screen}");
        let bad = problems(&screen, cols as usize, &ids);
        assert!(
            bad.is_empty(),
            "{cols}x{rows}:\n{}\n\n{screen}",
            bad.join("\n")
        );
        assert!(!screen.contains("connection 1 "), "{screen}");
        // Ctrl-C: the final report, fitted too.
        tmux.keys("C-c");
        let (screen, done) = tmux.wait(20, |s| s.contains("__DONE__"));
        assert!(done, "{cols}x{rows}: live did not stop:\n{screen}");
        // The scrollback holds the views cleared before each redraw, then the report.
        let text = tmux.capture(true);
        let bad = problems(&text, cols as usize, &ids);
        assert!(
            bad.is_empty(),
            "{cols}x{rows}:\n{}\n\n{text}",
            bad.join("\n")
        );
        assert!(text.contains("final states"), "{cols}x{rows}: {text}");
    }
}

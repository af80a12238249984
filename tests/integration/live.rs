//! `tcpaudit live`, `interfaces` and `--filter`.
//!
//! The capture tests need root (CI runs as root) and iproute2 and nftables: they create two
//! network namespaces joined by a veth pair, make real TCP traffic between them from threads that
//! enter the namespaces, run `tcpaudit live` on the client's end of the veth and check what it
//! reports. Nothing leaves the namespaces, and both are deleted at the end. Elsewhere they skip
//! with the reason, or fail under CI (see [`require`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command as Proc, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn have(tool: &str) -> bool {
    Proc::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn libpcap_present() -> bool {
    tcpaudit::capture::libpcap::libpcap().is_ok()
}

fn sh(args: &[&str]) {
    let out = Proc::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair: client 10.231.0.1 (`tcpa-c`), server 10.231.0.2
/// (`tcpa-s`). Deleted when dropped.
struct Netns {
    client: String,
    server: String,
}

const CLIENT_IP: &str = "10.231.0.1";
const SERVER_IP: &str = "10.231.0.2";
const CLIENT_MAC: &str = "02:31:00:00:00:01";
const SERVER_MAC: &str = "02:31:00:00:00:02";

impl Netns {
    fn new(tag: &str) -> Netns {
        let id = std::process::id();
        let n = Netns {
            client: format!("tcpa-{tag}-{id}-c"),
            server: format!("tcpa-{tag}-{id}-s"),
        };
        for ns in [&n.client, &n.server] {
            let _ = Proc::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ]);
        }
        sh(&[
            "ip", "link", "add", "tcpa-c", "address", CLIENT_MAC, "netns", &n.client, "type",
            "veth", "peer", "name", "tcpa-s", "address", SERVER_MAC, "netns", &n.server,
        ]);
        sh(&[
            "ip",
            "-n",
            &n.client,
            "addr",
            "add",
            &format!("{CLIENT_IP}/24"),
            "dev",
            "tcpa-c",
        ]);
        sh(&[
            "ip",
            "-n",
            &n.server,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            "tcpa-s",
        ]);
        sh(&["ip", "-n", &n.client, "link", "set", "tcpa-c", "up"]);
        sh(&["ip", "-n", &n.server, "link", "set", "tcpa-s", "up"]);
        n
    }

    /// Runs `f` on a thread inside namespace `ns` (network namespaces are per thread).
    fn run<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap();
            // SAFETY: enters the namespace for this thread only.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.client, &self.server] {
            let _ = Proc::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A running `tcpaudit live` whose output lines are collected as they arrive.
struct Live {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    fn start(ns: &str, args: &[&str]) -> Live {
        let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
        let mut child = Proc::new("ip")
            .args(["netns", "exec", ns])
            .arg(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let l = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let e = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                e.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let live = Live {
            child,
            lines,
            stderr,
        };
        assert!(
            live.wait_for(|| live.stderr.lock().unwrap().contains("listening on")),
            "tcpaudit did not start: {}",
            live.stderr.lock().unwrap()
        );
        live
    }

    fn wait_for(&self, cond: impl Fn() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn has_line(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    /// Sends SIGTERM and waits for the final output; returns (exit code, stdout lines, stderr).
    fn stop(mut self) -> (i32, Vec<String>, String) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let lines = self.lines.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), lines, err)
    }
}

/// An HTTP-like exchange: request, response, both close.
fn http_exchange(port: u16) {
    let mut c = TcpStream::connect((SERVER_IP, port)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
}

/// Serves `n` connections on `port`: reads a request, answers, closes.
fn http_server(port: u16, n: usize) -> impl FnOnce() + Send + 'static {
    move || {
        let l = TcpListener::bind((SERVER_IP, port)).unwrap();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n")
                .unwrap();
            s.write_all(&[b'x'; 600]).unwrap();
        }
    }
}

fn json(lines: &[String]) -> Vec<Value> {
    json_lines(lines.join("\n").as_bytes())
}

fn conn_to(recs: &[Value], port: u16) -> Value {
    connections(recs)
        .into_iter()
        .find(|c| c["resp_port"] == port)
        .unwrap_or_else(|| panic!("no connection to port {port}"))
}

#[test]
fn live_capture_on_a_veth_streams_what_happens() {
    if !require(is_root(), "live capture needs root (CI runs as root)") {
        return;
    }
    if !require(
        have("ip") && have("nft"),
        "needs iproute2 and nftables (apt-get install -y iproute2 nftables)",
    ) {
        return;
    }
    let ns = Netns::new("live");
    // The client's kernel sends the third ACK of connections to port 8080, and nft drops it on
    // its way out (conntrack counts it as the 2nd packet of the original direction).
    sh(&[
        "ip",
        "netns",
        "exec",
        &ns.client,
        "sysctl",
        "-qw",
        "net.netfilter.nf_conntrack_acct=1",
    ]);
    let rules = "table inet tcpaudit { chain output { type filter hook output priority filter; \
                 policy accept; tcp dport 8080 tcp flags & (fin|syn|rst|psh|ack|urg) == ack \
                 ct original packets 2 counter drop; }; }";
    sh(&["ip", "netns", "exec", &ns.client, "nft", rules]);

    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("live.pcapng");
    let live = Live::start(
        &ns.client,
        &[
            "live",
            "-i",
            "tcpa-c",
            "-f",
            "json",
            "--refresh",
            "0.5",
            "-Z",
            "root",
            "-w",
            written.to_str().unwrap(),
            "tcp",
        ],
    );
    let srv = Netns::run(&ns.server, || {
        http_server(80, 1)();
        http_server(8080, 1)();
    });
    std::thread::sleep(Duration::from_millis(200));
    Netns::run(&ns.client, || {
        http_exchange(80);
        // Refused: nothing listens on 81.
        assert!(TcpStream::connect((SERVER_IP, 81)).is_err());
        // Missing third ACK: wait before sending so the server retransmits its SYN-ACK.
        let mut c = TcpStream::connect((SERVER_IP, 8080)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut buf = Vec::new();
        c.read_to_end(&mut buf).unwrap();
    })
    .join()
    .unwrap();
    srv.join().unwrap();

    // Anomalies stream as they are decided, before the run ends.
    assert!(
        live.wait_for(|| live.has_line("\"kind\":\"connection_refused\"")),
        "no streamed connection_refused: {:?}",
        live.lines.lock().unwrap()
    );
    assert!(live.wait_for(|| live.has_line("\"type\":\"status\"")));
    let (code, lines, err) = live.stop();
    assert_eq!(code, 0, "{err}");
    let recs = json(&lines);
    let http = conn_to(&recs, 80);
    assert_eq!(http["conn_state"], "SF", "{http}");
    assert_eq!(http["anomalies"], serde_json::json!([]), "{http}");
    assert_eq!(http["resp"]["stream_bytes"].as_u64().unwrap(), 600 + 40);
    let refused = conn_to(&recs, 81);
    assert_eq!(refused["conn_state"], "REJ");
    assert!(
        refused["anomalies"]
            .to_string()
            .contains("connection_refused")
    );
    let third = conn_to(&recs, 8080);
    assert!(
        third["anomalies"].to_string().contains("missing_third_ack"),
        "{third}"
    );
    let s = summary(&recs);
    let cap = &s["capture"];
    assert_eq!(cap["interface"], "tcpa-c");
    assert_eq!(cap["dropped"], 0);
    assert!(cap["received"].as_u64().unwrap() >= s["packets"].as_u64().unwrap());
    assert!(s["packets"].as_u64().unwrap() >= 20);
    assert!(err.contains("packets received by filter"), "{err}");

    // -w wrote every analysed frame; reading it back tells the same story.
    assert_eq!(cap["written"][1], s["packets"]);
    let (code, again, _) = analyze_json(&[&written]);
    assert_eq!(code, 0);
    for port in [80, 81, 8080] {
        let (a, b) = (conn_to(&recs, port), conn_to(&again, port));
        for k in ["conn_state", "history", "anomalies"] {
            assert_eq!(a[k], b[k], "port {port} {k}");
        }
    }
}

/// Sends `frames` out of `iface` through a packet socket (call from inside the namespace).
fn inject(iface: &str, frames: &[Vec<u8>]) {
    // SAFETY: a packet socket bound to one interface; every call checks its result.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let name = std::ffi::CString::new(iface).unwrap();
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        let rc = libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        for f in frames {
            let n = libc::send(fd, f.as_ptr().cast(), f.len(), 0);
            assert_eq!(n, f.len() as isize, "{}", std::io::Error::last_os_error());
        }
        libc::close(fd);
    }
}

fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

/// A SYN flood from spoofed sources: the live view's listener table shows the half-open
/// attempts and the flood while it happens, and the run reports `syn_flood`.
#[test]
fn live_sees_a_spoofed_syn_flood_while_it_happens() {
    if !require(is_root(), "live capture needs root (CI runs as root)") {
        return;
    }
    if !require(have("ip"), "needs iproute2 (apt-get install -y iproute2)") {
        return;
    }
    let ns = Netns::new("flood");
    // The server listens on 80 with a small backlog; spoofed sources are addresses nobody holds
    // on the link, so its SYN-ACKs never leave (no neighbour answers).
    let srv = Netns::run(&ns.server, || {
        let l = TcpListener::bind((SERVER_IP, 80)).unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(l);
    });
    let live = Live::start(
        &ns.client,
        &[
            "live",
            "-i",
            "tcpa-c",
            "-f",
            "json",
            "--refresh",
            "0.3",
            "tcp",
        ],
    );
    let frames: Vec<Vec<u8>> = (0..400u32)
        .map(|i| {
            let src = [10, 231, 0, 100 + (i % 100) as u8];
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2(mac(CLIENT_MAC), mac(SERVER_MAC))
                .ipv4(src, [10, 231, 0, 2], 64)
                .tcp(20_000 + i as u16, 80, 1_000_000 + i, 64240)
                .syn()
                .write(&mut v, &[])
                .unwrap();
            v
        })
        .collect();
    Netns::run(&ns.client, move || {
        for chunk in frames.chunks(40) {
            inject("tcpa-c", chunk);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .join()
    .unwrap();
    assert!(
        live.wait_for(|| live
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| { l.contains("\"type\":\"status\"") && l.contains("\"flood\":true") })),
        "no status record showed the flood under way"
    );
    let (code, lines, err) = live.stop();
    srv.join().unwrap();
    assert_eq!(code, 0, "{err}");
    let recs = json(&lines);
    let busiest = recs
        .iter()
        .filter(|r| r["type"] == "status")
        .flat_map(|r| r["listeners"].as_array().cloned().unwrap_or_default())
        .map(|l| l["half_open"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    assert!(busiest >= 100, "half-open peaked at {busiest}");
    let s = summary(&recs);
    assert_eq!(s["anomalies"]["syn_flood"], 1, "{}", s["anomalies"]);
}

#[test]
fn live_final_report_after_sigterm() {
    if !require(is_root(), "live capture needs root (CI runs as root)") {
        return;
    }
    if !require(have("ip"), "needs iproute2 (apt-get install -y iproute2)") {
        return;
    }
    let ns = Netns::new("report");
    // Table format into a pipe: anomalies one line each as they come, the report at the end;
    // running as nobody after the socket is open.
    let live = Live::start(&ns.client, &["live", "-i", "tcpa-c", "--refresh", "0.5"]);
    Netns::run(&ns.client, || {
        for _ in 0..3 {
            assert!(TcpStream::connect((SERVER_IP, 81)).is_err());
        }
    })
    .join()
    .unwrap();
    assert!(live.wait_for(|| live.has_line("connection_refused connection")));
    let (code, lines, err) = live.stop();
    assert_eq!(code, 0, "{err}");
    let text = lines.join("\n");
    for want in [
        "│ interface",
        "tcpa-c (afpacket, ethernet (1)",
        "0 dropped by kernel",
        "Top listeners",
        "10.231.0.2:81",
        "connection_refused",
        "Connections",
    ] {
        assert!(text.contains(want), "missing '{want}' in:\n{text}");
    }
}

#[test]
fn live_stops_on_count_and_duration() {
    if !require(is_root(), "live capture needs root (CI runs as root)") {
        return;
    }
    if !require(have("ip"), "needs iproute2 (apt-get install -y iproute2)") {
        return;
    }
    let ns = Netns::new("stop");
    let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
    let started = Instant::now();
    let out = Proc::new("ip")
        .args(["netns", "exec", &ns.client])
        .arg(&bin)
        .args(["live", "-i", "tcpa-c", "-f", "json", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(summary(&json_lines(&out.stdout))["type"], "summary");

    // Both backends (libpcap only where it is installed).
    let mut backends = vec!["afpacket"];
    if require(
        libpcap_present(),
        "libpcap not installed: the pcap backend is not tested",
    ) {
        backends.push("pcap");
    }
    for backend in backends {
        let mut child = Proc::new("ip")
            .args(["netns", "exec", &ns.client])
            .arg(&bin)
            .args([
                "live",
                "-i",
                "tcpa-c",
                "-f",
                "json",
                "-c",
                "4",
                "--backend",
                backend,
            ])
            .arg("tcp")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        Netns::run(&ns.client, || {
            for _ in 0..4 {
                let _ = TcpStream::connect((SERVER_IP, 81));
            }
        })
        .join()
        .unwrap();
        let t = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{backend}: -c 4 did not stop the run"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "{backend}");
        let mut stdout = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        let recs = json_lines(&stdout);
        let s = summary(&recs);
        assert_eq!(s["packets"], 4, "{backend}");
        assert_eq!(s["capture"]["backend"], backend);
        assert!(
            connections(&recs).iter().all(|c| c["resp_port"] == 81),
            "{backend}: the kernel filter let other traffic through"
        );
    }
}

#[test]
fn without_cap_net_raw_the_message_says_how_to_get_it() {
    let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
    let mut cmd = if is_root() {
        if !require(
            have("setpriv"),
            "needs setpriv (util-linux) to run without privileges",
        ) {
            return;
        }
        let mut c = Proc::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(&bin);
        c
    } else {
        Proc::new(&bin)
    };
    let out = cmd.args(["live", "-i", "lo"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if !require(
        !out.status.success(),
        "this process may capture (it has CAP_NET_RAW)",
    ) {
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "cannot capture on lo: permission denied",
        "CAP_NET_RAW",
        "setcap cap_net_raw=eip",
        "sudo",
    ] {
        assert!(err.contains(want), "missing '{want}' in: {err}");
    }
    assert!(!err.contains("os error"), "a raw errno: {err}");
}

#[test]
fn a_bad_filter_or_interface_fails_before_capturing() {
    if require(
        libpcap_present(),
        "libpcap not installed: filter compilation not tested",
    ) {
        let out = tcpaudit()
            .args(["live", "-i", "lo", "tcp", "port"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad filter 'tcp port'"), "{err}");
    }
    if require(
        is_root(),
        "opening an interface needs root: the unknown-interface check is not run",
    ) {
        let out = tcpaudit()
            .args(["live", "-i", "no-such-if0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no interface named 'no-such-if0'"), "{err}");
    }
}

#[test]
fn interfaces_are_listed_like_tcpdump_d() {
    let out = tcpaudit().arg("interfaces").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(".lo")),
        "{text}"
    );
}

#[test]
fn a_filter_on_files_keeps_exactly_the_matching_subset() {
    if !require(
        libpcap_present(),
        "libpcap not installed (apt-get install -y libpcap0.8)",
    ) {
        return;
    }
    let f = fixture("generated/mixed.pcap");
    let (_, all, _) = analyze_json(&[&f]);
    let run = |expr: &str| {
        let out = tcpaudit()
            .args(["analyze", "-f", "json", "--filter", expr])
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{expr}");
        json_lines(&out.stdout)
    };
    // One listener's port: the same connections as without the filter, with the same counts.
    let port = connections(&all)[0]["resp_port"].as_u64().unwrap();
    let some = run(&format!("tcp port {port}"));
    let key = |c: &Value| {
        (
            c["orig_addr"].to_string(),
            c["orig_port"].as_u64(),
            c["resp_addr"].to_string(),
            c["resp_port"].as_u64(),
            c["orig"]["packets"].as_u64(),
            c["resp"]["packets"].as_u64(),
            c["conn_state"].to_string(),
        )
    };
    let want: Vec<_> = connections(&all)
        .iter()
        // As in tcpdump, `tcp port N` does not look inside VLAN tags (`vlan and ...` does).
        .filter(|c| (c["resp_port"] == port || c["orig_port"] == port) && c["vlan"].is_null())
        .map(key)
        .collect();
    let got: Vec<_> = connections(&some).iter().map(key).collect();
    assert!(!want.is_empty() && want.len() < connections(&all).len());
    assert_eq!(got.len(), want.len());
    for g in &got {
        assert!(want.contains(g), "{g:?} not in the unfiltered run");
    }
    let s = summary(&some);
    assert_eq!(s["filter"]["expr"], format!("tcp port {port}"));
    let (passed, rejected) = (
        s["filter"]["passed"].as_u64().unwrap(),
        s["filter"]["rejected"].as_u64().unwrap(),
    );
    assert_eq!(passed, s["packets"].as_u64().unwrap());
    assert_eq!(
        passed + rejected,
        summary(&all)["packets"].as_u64().unwrap()
    );
    // Nothing passes: no connections at all.
    assert!(connections(&run("udp")).is_empty());
    // A typo fails before reading.
    let out = tcpaudit()
        .args(["analyze", "--filter", "tcp prt 80"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad filter"));
}

/// Frames of a capture file served as if they arrived live, then silence.
struct Replay {
    frames: Vec<(tcpaudit::time::Timestamp, Vec<u8>, u32)>,
    next: usize,
    info: tcpaudit::capture::live::SourceInfo,
}

impl tcpaudit::capture::live::LiveSource for Replay {
    fn next_packet(
        &mut self,
        wait: Duration,
    ) -> Result<Option<tcpaudit::capture::Packet<'_>>, tcpaudit::capture::live::LiveError> {
        let Some((ts, data, len)) = self.frames.get(self.next) else {
            std::thread::sleep(wait);
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(tcpaudit::capture::Packet {
            ts: *ts,
            link_type: self.info.link_type,
            data,
            orig_len: *len,
        }))
    }
    fn stats(&mut self) -> tcpaudit::capture::live::CaptureStats {
        tcpaudit::capture::live::CaptureStats {
            received: self.next as u64,
            ..Default::default()
        }
    }
    fn info(&self) -> &tcpaudit::capture::live::SourceInfo {
        &self.info
    }
}

/// The capture loop itself, without a network or privileges: records and status stream out,
/// quiet time moves the timers on the wall clock, a stop request ends the run with the summary.
#[test]
fn monitor_loop_streams_ticks_and_stops() {
    use tcpaudit::monitor::{MonitorConfig, View, run};
    let path = fixture("recordings/normal_http.pcap");
    let mut file = tcpaudit::capture::CaptureFile::open(path.to_str().unwrap(), false).unwrap();
    let mut frames = Vec::new();
    let mut link = tcpaudit::capture::LinkType::ETHERNET;
    while let Some(p) = file.next_packet().unwrap() {
        link = p.link_type;
        frames.push((p.ts, p.data.to_vec(), p.orig_len));
    }
    let n = frames.len() as u64;
    let mut source = Replay {
        frames,
        next: 0,
        info: tcpaudit::capture::live::SourceInfo {
            interface: "replay0".into(),
            backend: "replay",
            link_type: link,
            snaplen: 65535,
        },
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        s2.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mut out = Vec::new();
    let mut screen = Vec::new();
    let outcome = {
        let mut sink = tcpaudit::report::JsonSink::new(&mut out);
        let cfg = MonitorConfig {
            refresh: Duration::from_millis(100),
            count: None,
            duration: None,
            view: View::Json,
            writer: None,
            filter: None,
        };
        let analyzer = tcpaudit::analyzer::Analyzer::new(Default::default());
        let started = Instant::now();
        let o = run(&mut source, analyzer, cfg, &mut sink, &mut screen, &stop).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the stop request was not honoured"
        );
        use tcpaudit::report::Sink;
        sink.finish(&o.summary, &o.run).unwrap();
        o
    };
    let recs = json_lines(&out);
    // The recording's clock is long past: on the first quiet moment the connection's TIME-WAIT
    // (2*MSL after its last segment) is over, so it leaves the table during the run.
    let conns = connections(&recs);
    assert_eq!(conns.len(), 1);
    let status: Vec<&Value> = recs.iter().filter(|r| r["type"] == "status").collect();
    assert!(status.len() >= 3, "{} status records", status.len());
    assert_eq!(status.last().unwrap()["tracked"], 0);
    let first_status = recs.iter().position(|r| r["type"] == "status").unwrap();
    let conn_at = recs.iter().position(|r| r["type"] == "connection").unwrap();
    let summary_at = recs.iter().position(|r| r["type"] == "summary").unwrap();
    assert!(conn_at < summary_at && first_status < summary_at);
    let s = summary(&recs);
    assert_eq!(s["packets"], n);
    assert_eq!(s["capture"]["interface"], "replay0");
    assert_eq!(s["capture"]["received"], n);
    assert_eq!(outcome.summary.packets, n);
    assert!(screen.is_empty(), "JSON runs draw nothing");
}

/// Without libpcap at run time only filters fail, with the package to install; everything else
/// works. libpcap is hidden in a private mount namespace (root only).
#[test]
fn without_libpcap_only_filters_fail() {
    if !require(
        is_root() && have("unshare"),
        "hiding libpcap needs root and unshare (util-linux)",
    ) {
        return;
    }
    let libs = Proc::new("sh")
        .args([
            "-c",
            "ldconfig -p | awk '/libpcap\\.so/ {print $NF}' | sort -u",
        ])
        .output()
        .unwrap();
    let libs = String::from_utf8_lossy(&libs.stdout).to_string();
    if !require(
        !libs.trim().is_empty(),
        "libpcap is not installed here at all",
    ) {
        return;
    }
    let hide: String = libs
        .lines()
        .map(|l| format!("mount --bind /dev/null {l} && "))
        .collect();
    let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
    let fixture = fixture("recordings/refused.pcap");
    let run = |args: &str| {
        let script = format!("{hide}{} {args}", bin.display());
        Proc::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .output()
            .unwrap()
    };
    let out = run(&format!(
        "analyze --filter 'tcp port 81' {}",
        fixture.display()
    ));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--filter needs libpcap at run time")
            && err.contains("apt-get install libpcap0.8"),
        "{err}"
    );
    let out = run(&format!("analyze -f json {}", fixture.display()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("interfaces");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".lo"));
    let out = run("live -i lo --duration 0.3 -f json tcp");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("filter expressions need libpcap"));
    let out = run("live -i lo --duration 0.3 -f json");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

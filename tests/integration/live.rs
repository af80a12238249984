//! `tcpaudit live` on a real link: two network namespaces joined by a veth pair, real TCP
//! traffic between them from threads that enter the namespaces, and `tcpaudit live` running on
//! the client's end of the veth.
//!
//! These tests need root (CI runs as root) and iproute2 (and nftables for one). Nothing leaves
//! the namespaces, and both are deleted at the end. Elsewhere they skip with the reason, or fail
//! under CI (see [`require`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command as Proc, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::live_util::*;
use crate::util::*;

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
        // Both ports listen from the start (a thread keeps its creator's namespace): 8080 bound
        // only after port 80's exchange refused the client's connection on a loaded machine.
        let second = std::thread::spawn(http_server(8080, 1));
        http_server(80, 1)();
        second.join().unwrap();
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

/// A SYN flood from spoofed sources: the live view's listener table shows the half-open
/// attempts and the flood while it happens, and the run reports `syn_flood`.
#[test]
fn live_sees_a_spoofed_syn_flood_while_it_happens() {
    if !live_prerequisites() {
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
    if !live_prerequisites() {
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
    // Each line names the connection's four-tuple.
    assert!(live.wait_for(|| live.has_line("connection_refused 10.231.0.1:")));
    assert!(live.has_line("→ 10.231.0.2:81 (connection "));
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
    if !live_prerequisites() {
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

/// Started on a link already busy, the capture misses nothing, on one interface or on `any`:
/// the socket receives only once its ring exists. (Opened with ETH_P_ALL, it received at once
/// into its ordinary queue while the kernel set the ring up: 256 frames were left there unread
/// and the rest of those tens of milliseconds counted as dropped.)
#[test]
fn live_started_on_a_busy_link_drops_nothing() {
    if !live_prerequisites() {
        return;
    }
    let ns = Netns::new("busy");
    for iface in ["tcpa-s", "any"] {
        start_on_a_busy_link(&ns, iface);
    }
}

/// Runs `tcpaudit live -i iface` in the server's namespace, started while the client sends
/// about 50,000 frames a second, and checks that it dropped and left unread nothing.
fn start_on_a_busy_link(ns: &Netns, iface: &str) {
    // ACKs to an address nobody holds behind the server's MAC: the server's stack drops them
    // (no forwarding) and answers nothing, so the capture sees exactly what is sent.
    let frames: Vec<Vec<u8>> = (0..500u16)
        .map(|i| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2(mac(CLIENT_MAC), mac(SERVER_MAC))
                .ipv4([10, 231, 0, 1], [10, 231, 0, 99], 64)
                .tcp(30_000 + i, 443, 7_000, 64240)
                .ack(9_000)
                .write(&mut v, &[])
                .unwrap();
            v
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    // From before tcpaudit starts until after it is listening.
    let sender = Netns::run(&ns.client, move || {
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            inject("tcpa-c", &frames);
            sent += frames.len() as u64;
            std::thread::sleep(Duration::from_millis(10));
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(300));
    let live = Live::start(&ns.server, &["live", "-i", iface, "-f", "json"]);
    std::thread::sleep(Duration::from_millis(700));
    done.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    // Let the last frames reach the ring and be read.
    std::thread::sleep(Duration::from_millis(300));
    let (code, lines, err) = live.stop();
    assert_eq!(code, 0, "{iface}: {err}");
    let s = summary(&json(&lines));
    let c = &s["capture"];
    assert!(
        c["received"].as_u64().unwrap() > 10_000,
        "{iface}: the link was not busy ({sent} frames sent): {c}"
    );
    assert_eq!(c["dropped"], 0, "{iface}: {c}");
    assert_eq!(c["unread"], 0, "{iface}: {c}");
    assert_eq!(s["packets"], c["received"], "{iface}: {c}");
}

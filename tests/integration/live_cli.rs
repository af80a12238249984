//! `tcpaudit live`, `interfaces` and `--filter` from the command line, without a namespace:
//! the messages when a privilege, an interface, a filter or libpcap is missing, and `--filter`
//! on capture files. Some parts need root or libpcap; without them they skip with the reason, or
//! fail under CI (see [`require`]).

use std::process::Command as Proc;

use serde_json::Value;

use crate::live_util::{have, is_root, libpcap_present};
use crate::util::*;

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
    assert_eq!(out.status.code(), Some(3), "{err}");
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
        assert_eq!(out.status.code(), Some(3));
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
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("filter expressions need libpcap"));
    let out = run("live -i lo --duration 0.3 -f json");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

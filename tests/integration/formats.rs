//! What other tools join on: the Community ID of every connection record, against Wireshark's
//! own computation of it.

use std::collections::BTreeMap;
use std::process::Command as Std;

use crate::util::*;

/// Every connection record's `community_id` is the one tshark's Community ID dissector gives
/// its four-tuple, over IPv4 and IPv6; with another seed, the one tshark gives with that seed.
#[test]
fn community_ids_are_the_ones_wireshark_computes() {
    if !require(
        Std::new("tshark").arg("-v").output().is_ok(),
        "tshark is not installed (apt-get install tshark)",
    ) {
        return;
    }
    let capture = fixture("generated/mixed.pcap");
    for seed in ["0", "7"] {
        let out = tshark_ids(&capture, seed);
        let ours = tcpaudit()
            .args(["analyze", "-f", "json", "--community-id-seed", seed])
            .arg(&capture)
            .output()
            .unwrap();
        assert!(ours.status.success());
        let recs = json_lines(&ours.stdout);
        let conns = connections(&recs);
        assert!(conns.len() > 300, "{}", conns.len());
        let mut v6 = 0;
        for c in &conns {
            let (a, ap, b, bp) = (
                c["orig_addr"].as_str().unwrap(),
                c["orig_port"].as_u64().unwrap(),
                c["resp_addr"].as_str().unwrap(),
                c["resp_port"].as_u64().unwrap(),
            );
            v6 += usize::from(a.contains(':'));
            let key = format!("{a} {ap} {b} {bp}");
            let want = out
                .get(&key)
                .unwrap_or_else(|| panic!("tshark has no {key}"));
            assert_eq!(
                c["community_id"].as_str(),
                Some(want.as_str()),
                "{key}, seed {seed}"
            );
        }
        assert!(v6 > 0, "no IPv6 connection in the fixture");
    }
}

/// tshark's Community ID of every four-tuple (both directions as keys), with `seed`.
fn tshark_ids(capture: &std::path::Path, seed: &str) -> BTreeMap<String, String> {
    let o = Std::new("tshark")
        .args(["--enable-protocol", "communityid", "-o"])
        .arg(format!("communityid.seed:{seed}"))
        .arg("-r")
        .arg(capture)
        .args(["-Y", "tcp", "-T", "fields", "-E", "occurrence=f"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport"])
        .args([
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "communityid",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut ids = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 || f[6].is_empty() {
            continue;
        }
        let src = if f[0].is_empty() { f[1] } else { f[0] };
        let dst = if f[3].is_empty() { f[4] } else { f[3] };
        ids.insert(format!("{src} {} {dst} {}", f[2], f[5]), f[6].to_string());
        ids.insert(format!("{dst} {} {src} {}", f[5], f[2]), f[6].to_string());
    }
    ids
}

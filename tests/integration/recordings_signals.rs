//! Header fields and flags, ECN, windows, throughput and hops on real recordings
//! (fixtures/recordings, record_seeds.sh), held against what the kernels and tshark said about
//! the same captures (the figures in NAME.kernel.txt).

use serde_json::Value;

use crate::util::*;

/// The connection record and the anomalies of one recording.
fn record(name: &str) -> (Value, Vec<Value>) {
    let (code, recs, err) = analyze_json(&[&fixture(&format!("recordings/{name}.pcap"))]);
    assert_eq!(code, 0, "{err}");
    let conn = connections(&recs)[0].clone();
    let anomalies = recs
        .into_iter()
        .filter(|r| r["type"] == "anomaly")
        .collect();
    (conn, anomalies)
}

/// The anomaly of `kind` among `anomalies`.
fn anomaly<'a>(anomalies: &'a [Value], kind: &str) -> &'a Value {
    anomalies
        .iter()
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {anomalies:?}"))
}

/// NAME.kernel.txt: the kernels' view and tshark's figures.
fn kernel_view(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("recordings/{name}.kernel.txt"))).unwrap()
}

/// tshark's line for one direction (`10.99.0.1 -> 10.99.0.2`) in NAME.kernel.txt.
fn tshark_line<'a>(view: &'a str, dir: &str) -> &'a str {
    view.lines()
        .find(|l| l.trim_start().starts_with(&format!("{dir}:")))
        .unwrap_or_else(|| panic!("no tshark line for {dir}"))
}

/// The token after `key` in a tshark line (keys are written with their spaces: ` ce `).
fn after<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {line}"));
    line[at + key.len()..]
        .split([' ', ','])
        .find(|t| !t.is_empty())
        .unwrap()
}

/// The number after `key` in a tshark line.
fn num(line: &str, key: &str) -> f64 {
    after(line, key).parse().unwrap()
}

/// A `lo-hi` range after `key`.
fn range(line: &str, key: &str) -> (u64, u64) {
    let (a, b) = after(line, key).split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// The counter `name` of the namespace section starting at `section` (`counters at the end,
/// srv`) in a kernel view.
fn counter(view: &str, section: &str, name: &str) -> u64 {
    let at = view.find(section).unwrap_or_else(|| panic!("no {section}"));
    view[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(name)).then(|| w.next().unwrap().parse().unwrap())
        })
        .unwrap_or(0)
}

/// The `counter packets N` figures of nft rules after `section` in a kernel view, in order.
fn nft_counters(view: &str, section: &str) -> Vec<u64> {
    let at = view.find(section).unwrap_or_else(|| panic!("no {section}"));
    view[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split("counter packets ").nth(1))
        .map(|t| t.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

const C2S: &str = "10.99.0.1 -> 10.99.0.2";
const S2C: &str = "10.99.0.2 -> 10.99.0.1";

#[test]
fn flags_ecn_marks_and_offsets_agree_with_tshark_and_the_marking_router() {
    let (c, anomalies) = record("ecn_routed");
    let view = kernel_view("ecn_routed");
    let (cli, srv) = (tshark_line(&view, C2S), tshark_line(&view, S2C));
    let (o, r) = (&c["orig"], &c["resp"]);
    assert_eq!(c["negotiated"]["ecn"], true);
    for (h, t) in [(o, cli), (r, srv)] {
        // tshark counts the frame with the bad data offset; the record counts it apart.
        let bad = u(&h["bad_data_offsets"]);
        assert_eq!((u(&h["packets"]) + bad) as f64, num(t, "packets "));
        assert_eq!(u(&h["psh"]) as f64, num(t, " psh "));
        assert_eq!(u(&h["urg"]) as f64, num(t, " urg "));
        assert_eq!(u(&h["ae"]) as f64, num(t, " ae "));
        assert_eq!(u(&h["ip_ce"]) as f64, num(t, " ce "));
        assert_eq!(u(&h["ip_ect"]) as f64, num(t, " ect0 ") + num(t, " ect1 "));
        assert_eq!(u(&h["pure_acks"]) as f64, num(t, "pure acks "));
        // Every data segment here carries an ACK; tshark takes the 8 bytes after hping3's
        // 12-byte header for data.
        assert_eq!((u(&h["data_acks"]) + bad) as f64, num(t, "data segments "));
    }
    // tshark counts the SYN's ECE and CWR (ECN setup) too; the record keeps those in options.
    assert_eq!(u(&o["ece"]) as f64, num(cli, " ece ") - 1.0);
    assert_eq!(u(&o["cwr"]) as f64, num(cli, " cwr ") - 1.0);
    assert_eq!(u(&r["ece"]) as f64, num(srv, " ece ") - 1.0);
    assert_eq!(u(&r["cwr"]) as f64, num(srv, " cwr "));
    // The client's kernel counted the same ECT(0) and CE packets arriving.
    let cli_view = "counters at the end, cli";
    assert_eq!(counter(&view, cli_view, "IpExtInCEPkts"), u(&r["ip_ce"]));
    assert_eq!(counter(&view, cli_view, "IpExtInECT0Pkts"), u(&r["ip_ect"]));
    // The router's CE rule counted the marks it set: the client saw each of them.
    let marked = nft_counters(&view, "router: nft list ruleset");
    assert_eq!(marked, vec![u(&r["ip_ce"])]);
    assert_eq!(u(&r["ip_ce"]), 5);
    // The client echoed the marks until the server's CWR.
    assert!(u(&o["ece"]) > 0 && u(&r["cwr"]) > 0);
    let e = anomaly(&anomalies, "ecn_congestion");
    assert_eq!(e["detail"]["from"], "resp");
    assert_eq!(e["detail"]["ce_packets"], 5);
    assert_eq!(e["detail"]["negotiated"], true);
    assert!(anomalies.iter().all(|a| a["kind"] != "ecn_echo_missing"));
    // Data offsets: tshark's header lengths / 4, hping3's 12-byte header included.
    let lens: Vec<u64> = cli
        .split("header lengths")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|t| t.parse::<u64>().unwrap() / 4)
        .collect();
    let mut want = lens.clone();
    want.sort();
    let got: Vec<u64> = o["data_offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(u)
        .collect();
    assert_eq!(got, want);
    assert!(got.contains(&3), "{got:?}");
}

#[test]
fn a_bad_data_offset_is_tied_to_its_connection_and_frame() {
    let (c, anomalies) = record("ecn_routed");
    let view = kernel_view("ecn_routed");
    assert_eq!(c["orig"]["bad_data_offsets"], 1);
    assert_eq!(c["resp"]["bad_data_offsets"], 0);
    let a = anomaly(&anomalies, "bad_data_offset");
    assert_eq!(a["conn_id"], c["id"]);
    // tcpdump: frame 76, "bad hdr length 12 - too short, < 20".
    assert_eq!(a["frame"], 76);
    let d = &a["detail"];
    assert_eq!((u(&d["data_offset"]), u(&d["header_len"])), (3, 12));
    assert_eq!(d["reason"], "below_minimum");
    assert_eq!(d["from"], "orig");
    // The server's kernel dropped it as a bad segment, and nothing else.
    assert_eq!(counter(&view, "counters at the end, srv", "TcpInErrs"), 1);
    // It is still a skipped frame in the summary, and changed no state: the close is clean.
    assert_eq!(c["conn_state"], "SF");
    assert_eq!(c["unexpected_segments"], 0);
}

#[test]
fn hops_come_from_the_initial_ttl() {
    let (c, _) = record("ecn_routed");
    let view = kernel_view("ecn_routed");
    // The server's segments cross the router: TTL 63, initial 64, one hop.
    assert_eq!(range(tshark_line(&view, S2C), "ttl "), (63, 63));
    assert_eq!(
        (u(&c["resp"]["ttl_initial"]), u(&c["resp"]["hops"])),
        (64, 1)
    );
    assert_eq!(
        (u(&c["orig"]["ttl_initial"]), u(&c["orig"]["hops"])),
        (64, 0)
    );
    // The router forwarded every frame of the capture.
    let frames =
        u(&c["orig"]["packets"]) + u(&c["orig"]["bad_data_offsets"]) + u(&c["resp"]["packets"]);
    assert_eq!(
        counter(&view, "router: nstat -as", "IpForwDatagrams"),
        frames
    );
    // ttl_expired_syn: the second connection through the same kind of router.
    let (code, recs, _) = analyze_json(&[&fixture("recordings/ttl_expired_syn.pcap")]);
    assert_eq!(code, 0);
    let through = connections(&recs)
        .into_iter()
        .find(|c| c["conn_state"] == "SF")
        .unwrap();
    assert_eq!(through["resp"]["hops"], 1);
    assert_eq!(through["orig"]["hops"], 0);
}

#[test]
fn cleared_ecn_echoes_are_missing_echoes() {
    let (c, anomalies) = record("ecn_echo_cleared");
    let view = kernel_view("ecn_echo_cleared");
    let (cli, srv) = (tshark_line(&view, C2S), tshark_line(&view, S2C));
    let (o, r) = (&c["orig"], &c["resp"]);
    // The client's own postrouting rule set CE on 6 segments; the capture shows each.
    assert_eq!(nft_counters(&view, "client: nft list ruleset"), vec![6]);
    assert_eq!(u(&o["ip_ce"]) as f64, num(cli, " ce "));
    assert_eq!(u(&o["ip_ce"]), 6);
    // The server's kernel counted them arriving, and the ECT(0) ones.
    let srv_view = "counters at the end, srv";
    assert_eq!(counter(&view, srv_view, "IpExtInCEPkts"), 6);
    assert_eq!(counter(&view, srv_view, "IpExtInECT0Pkts"), u(&o["ip_ect"]));
    // The router wiped ECE from every segment the server echoed with; only the SYN-ACK's
    // ECE (ECN setup, before any mark) is left.
    let cleared: u64 = nft_counters(&view, "router: nft list ruleset").iter().sum();
    assert!(cleared > 0);
    assert_eq!(num(srv, " ece "), 1.0);
    assert_eq!(u(&r["ece"]), 0);
    assert_eq!(u(&o["cwr"]), 0, "the sender never learnt of the marks");
    let a = anomaly(&anomalies, "ecn_echo_missing");
    assert_eq!(a["detail"]["from"], "orig");
    assert_eq!(a["detail"]["ce_packets"], 6);
    assert_eq!(anomaly(&anomalies, "ecn_congestion")["frame"], a["frame"]);
}

#[test]
fn a_window_limited_upload_agrees_with_the_kernel_and_tshark() {
    let (c, anomalies) = record("window_limited_noscale");
    let view = kernel_view("window_limited_noscale");
    let (cli, srv) = (tshark_line(&view, C2S), tshark_line(&view, S2C));
    let (o, r) = (&c["orig"], &c["resp"]);
    assert_eq!(c["negotiated"]["window_scaling"], false);
    // Windows: raw fields, no shift, the server's at the 16-bit ceiling.
    for (h, t) in [(o, cli), (r, srv)] {
        let (lo, hi) = range(t, "tcp.window_size_value ");
        assert_eq!((u(&h["window_raw_min"]), u(&h["window_raw_max"])), (lo, hi));
        assert_eq!(u(&h["window_shift"]), 0);
        assert_eq!(u(&h["window_max"]), hi);
        assert_eq!(u(&h["psh"]) as f64, num(t, " psh "));
        assert_eq!(u(&h["pure_acks"]) as f64, num(t, "pure acks "));
    }
    assert_eq!(u(&r["window_raw_max"]), 65535);
    // The kernel's send window was the same 65,535 bytes.
    let snd_wnd: Vec<u64> = view
        .split("snd_wnd:")
        .skip(1)
        .map(|t| t.split(|c: char| !c.is_ascii_digit()).next().unwrap())
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(snd_wnd.contains(&65535), "{snd_wnd:?}");
    // Bytes in flight: 45 full segments, as tshark says.
    assert_eq!(
        u(&o["bytes_in_flight_max"]) as f64,
        num(cli, "bytes_in_flight max ")
    );
    assert_eq!(u(&o["bytes_in_flight_max"]), 45 * 1448);
    // Mean throughput: tshark's payload over the time from first to last data.
    let want = num(cli, "payload ") / num(cli, "bytes in ");
    let got = f(&o["throughput_avg"]);
    assert!((got - want).abs() / want < 0.001, "{got} vs {want}");
    // The kernel: the sender's minimum RTT, and its own account of being limited by the
    // receiver's window (rwnd_limited) while data waited unsent (notsent).
    let rtt_min = f(&o["rtt_min"]);
    assert!((0.050..0.052).contains(&rtt_min), "{rtt_min}");
    assert!(
        view.contains("rwnd_limited:"),
        "the kernel saw the window limit"
    );
    assert!(view.contains("notsent:"), "data waited unsent");
    // The kernel's bandwidth estimate (bbr bw, bits/s) and the best round trip agree.
    let bw = view
        .split("bbr:(bw:")
        .skip(1)
        .filter_map(|t| t.split("bps").next()?.parse::<f64>().ok())
        .fold(0.0, f64::max)
        / 8.0;
    let peak = f(&o["throughput_peak"]);
    assert!((peak - bw).abs() / bw < 0.25, "peak {peak} vs kernel {bw}");

    let a = anomaly(&anomalies, "receive_window_limited");
    let d = &a["detail"];
    assert_eq!(d["from"], "orig");
    assert_eq!(d["window"], 65535);
    assert_eq!(d["window_scaling"], false);
    assert!(u(&d["rounds"]) >= 3, "{d}");
    // 65,535 bytes per round trip of about 50 ms: about 1.3 MB/s, and the transfer got there.
    let per_rtt = f(&d["window_per_rtt"]);
    assert!((1.1e6..1.35e6).contains(&per_rtt), "{per_rtt}");
    assert!(f(&d["throughput_peak"]) >= per_rtt * 0.9, "{d}");
    // The path took bursts far faster: a window of several MB would have kept it busy.
    assert!(u(&d["bdp_needed"]) > 10 * 65535, "{d}");
    assert_eq!(u(&o["window_limited_rounds"]), u(&d["rounds"]));
}

#[test]
fn urgent_data_shows_as_urg_with_its_pointer() {
    let (c, _) = record("urgent_data");
    let view = kernel_view("urgent_data");
    for (h, t) in [
        (&c["orig"], tshark_line(&view, C2S)),
        (&c["resp"], tshark_line(&view, S2C)),
    ] {
        assert_eq!(u(&h["urg"]) as f64, num(t, " urg "));
        assert_eq!(u(&h["psh"]) as f64, num(t, " psh "));
        assert_eq!(u(&h["pure_acks"]) as f64, num(t, "pure acks "));
        assert_eq!(u(&h["data_acks"]) as f64, num(t, "data segments "));
    }
    // tcpdump: frame 6, `Flags [P.U], seq 201:202, urg 1`.
    assert_eq!(
        (u(&c["orig"]["urg"]), u(&c["orig"]["urgent_pointer"])),
        (1, 1)
    );
    // The urgent byte is still a stream byte on the wire (the server's socket took it out of
    // band): 200 + 1 + 100.
    assert_eq!(u(&c["orig"]["stream_bytes"]), 301);
}

#[test]
fn delayed_acks_are_timed_as_tshark_times_them() {
    // zero_window: the server, one veth away from the capture, delays its ACK of frame 7 by
    // Linux's 40 ms minimum (tshark: ack_rtt 0.040940 on frame 8); its other pure ACKs answer
    // at once (quick ACKs).
    let (c, _) = record("zero_window");
    assert_eq!(f(&c["resp"]["ack_delay_max"]), 0.04094);
    assert_eq!(u(&c["resp"]["ack_delay_samples"]), 12);
    // third_ack_with_data_clean: the client, at the capture point, delays its ACK of the
    // response by 42.781 ms (tshark: ack_rtt 0.042781 on frame 6).
    let (c, _) = record("third_ack_with_data_clean");
    assert_eq!(f(&c["orig"]["ack_delay_max"]), 0.042781);
    assert_eq!(u(&c["orig"]["pure_acks"]), 2);
    // window_limited_noscale: the receiver is a 50 ms round trip from the capture point, so
    // every delay there is the path's round trip plus the receiver's own.
    let (c, _) = record("window_limited_noscale");
    let min = f(&c["resp"]["ack_delay_min"]);
    assert!((0.050..0.052).contains(&min), "{min}");
}

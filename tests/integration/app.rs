//! `analyze --app`: DNS, HTTP and sessions on real captures of ../shared/pcaps, against what
//! tshark shows for the same frames.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::oracle::shared_pcaps;
use crate::util::{json_lines, require, tcpaudit};

fn corpus(rel: &str) -> Option<PathBuf> {
    let root = shared_pcaps();
    if !require(
        root.is_some(),
        "../shared/pcaps is absent (the corpus checks run in CI)",
    ) {
        return None;
    }
    Some(root?.join(rel))
}

fn app_records(path: &Path) -> Vec<Value> {
    let out = tcpaudit()
        .args(["analyze", "-f", "json", "--app"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

fn of_type<'a>(recs: &'a [Value], t: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["type"] == t).collect()
}

#[test]
fn a_stolen_session_cookie_is_seen_from_the_second_client() {
    let Some(path) = corpus("chrissanders-packets/sessionhijacking.pcapng") else {
        return;
    };
    let recs = app_records(&path);
    let hijack: Vec<&Value> = of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "session_hijack_suspected")
        .collect();
    assert_eq!(hijack.len(), 1, "{hijack:?}");
    let d = &hijack[0]["detail"];
    assert_eq!(d["cookie"], "PHPSESSID");
    assert_eq!(d["first_client"], "172.16.16.164");
    assert_eq!(d["new_client"], "172.16.16.154");
    assert_eq!(hijack[0]["frame"], 115);
    let sessions = of_type(&recs, "session");
    assert_eq!(sessions.len(), 2);
    let stolen = sessions.iter().find(|s| s["first"]["frame"] == 14).unwrap();
    assert_eq!(
        stolen["clients"],
        serde_json::json!(["172.16.16.164", "172.16.16.154"])
    );
    assert_eq!(stolen["requests"], 10);
    // Values never leave the tool: only their hashes.
    let text = recs.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("ncobrqrb7fj2a2sinddtk567q4"));
    assert_eq!(
        of_type(&recs, "anomaly")
            .iter()
            .filter(|a| a["kind"] == "session_cookie_cleartext")
            .count(),
        2
    );
}

#[test]
fn an_http_get_has_zeeks_fields_and_tsharks_times() {
    let Some(path) = corpus("zeek/http/get.pcap") else {
        return;
    };
    let recs = app_records(&path);
    let http = of_type(&recs, "http");
    assert_eq!(http.len(), 1);
    let h = http[0];
    assert_eq!(h["method"], "GET");
    assert_eq!(h["host"], "bro.org");
    assert_eq!(h["uri"], "/download/CHANGES.bro-aux.txt");
    assert_eq!(h["status_code"], 200);
    assert_eq!(h["response_body_len"], 4705);
    assert_eq!(h["user_agent"], "Wget/1.14 (darwin12.2.0)");
    // tshark: request in frame 4, response reassembled at frame 9, http.time 0.070248.
    assert_eq!(h["frame"], 4);
    assert_eq!(h["response_end"]["frame"], 9);
    let t = |k: &str| h[k]["ts"].as_f64().unwrap();
    assert!((t("response_end") - t("request_end") - 0.070248).abs() < 1e-6);
    assert_eq!(summary_app(&recs)["http"], 1);
}

fn summary_app(recs: &[Value]) -> Value {
    recs.iter().find(|r| r["type"] == "summary").unwrap()["app"].clone()
}

#[test]
fn dns_over_udp_and_tcp_match_tshark() {
    let Some(path) = corpus("chrissanders-packets/dns_tcp.pcapng") else {
        return;
    };
    let recs = app_records(&path);
    let dns = of_type(&recs, "dns");
    // tshark: id 0xdf22 frames 1 -> 2 (udp, truncated: TC), 0xb4c3 frames 6 -> 10 (tcp).
    let got: Vec<(u64, u64, &str, u64, bool)> = dns
        .iter()
        .map(|d| {
            (
                d["frame"].as_u64().unwrap(),
                d["response_frame"].as_u64().unwrap(),
                d["proto"].as_str().unwrap(),
                d["trans_id"].as_u64().unwrap(),
                d["TC"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(1, 2, "udp", 0xdf22, true), (6, 10, "tcp", 0xb4c3, false)]
    );
    for (d, rtt) in dns.iter().zip([0.016037, 0.051436]) {
        assert_eq!(d["query"], "ripe.net");
        assert_eq!(d["qtype_name"], "*");
        assert_eq!(d["rcode_name"], "NOERROR");
        assert!((d["rtt"].as_f64().unwrap() - rtt).abs() < 1e-6);
    }
    assert_eq!(dns[1]["conn_id"], 1);
}

#[test]
fn without_app_nothing_changes() {
    let Some(path) = corpus("chrissanders-packets/dns_isp_hijack.pcapng") else {
        return;
    };
    let out = tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let recs = json_lines(&out.stdout);
    assert!(
        recs.iter()
            .all(|r| ["connection", "anomaly", "summary"].contains(&r["type"].as_str().unwrap()))
    );
    assert!(
        recs.iter()
            .find(|r| r["type"] == "summary")
            .unwrap()
            .get("app")
            .is_none()
    );
}

/// The client's own clock for one phase of fixtures/recordings/page_load.pcap.
fn client_time(events: &[Value], phase: &str) -> f64 {
    events
        .iter()
        .find(|e| e["phase"] == phase)
        .unwrap_or_else(|| panic!("no phase {phase}"))["t"]
        .as_f64()
        .unwrap()
}

#[test]
fn the_page_load_recording_matches_what_the_client_measured() {
    // A client in a network namespace resolved two names, fetched three resources over one
    // keep-alive connection with the cookies the first response set, one over TLS, and a
    // second address replayed the session cookie (fixtures/recordings/README.md).
    let dir = crate::util::fixture("recordings");
    let recs = app_records(&dir.join("page_load.pcap"));
    let client: Value =
        serde_json::from_slice(&std::fs::read(dir.join("page_load.client.json")).unwrap()).unwrap();
    let ev = client["events"].as_array().unwrap();
    // The capture point sees a segment before the client's recv() returns, after its send()
    // was called: within 2 ms of the client's clock on this host.
    let near = |ours: f64, phase: &str| {
        let theirs = client_time(ev, phase);
        assert!((ours - theirs).abs() < 0.002, "{phase}: {ours} vs {theirs}");
    };
    let dns = of_type(&recs, "dns");
    let by_query = |q: &str, status: &str| {
        *dns.iter()
            .find(|d| d["query"] == q && d["status"] == status)
            .unwrap_or_else(|| panic!("{q} {status}: {dns:?}"))
    };
    let shop = by_query("shop.example", "answered");
    assert_eq!(shop["answers"], serde_json::json!(["10.99.0.2"]));
    let shop_answer = shop["ts"].as_f64().unwrap() + shop["rtt"].as_f64().unwrap();
    near(shop_answer, "dns.shop.response_received");
    assert_eq!(
        by_query("nothere.example", "answered")["rcode_name"],
        "NXDOMAIN"
    );
    assert_eq!(
        by_query("shop.example", "unanswered")["resp_addr"],
        "10.99.0.53"
    );

    let http = of_type(&recs, "http");
    let phases = [
        ("/", "http.get_root"),
        ("/app.js", "http.get_app_js"),
        ("/data", "http.get_data"),
    ];
    for (depth, (uri, phase)) in phases.iter().enumerate() {
        let h = http
            .iter()
            .find(|h| h["uri"] == *uri && h["orig_addr"] == "10.99.0.1")
            .unwrap();
        assert_eq!(
            h["trans_depth"],
            depth as u64 + 1,
            "one keep-alive connection"
        );
        assert_eq!(h["status_code"], 200);
        let ts = |k: &str| h[k]["ts"].as_f64().unwrap();
        near(ts("request_end"), &format!("{phase}.request_sent"));
        near(ts("response_start"), &format!("{phase}.first_byte"));
        near(ts("response_end"), &format!("{phase}.last_byte"));
    }
    let bodies: Vec<u64> = http
        .iter()
        .filter(|h| h["orig_addr"] == "10.99.0.1")
        .map(|h| h["response_body_len"].as_u64().unwrap())
        .collect();
    assert_eq!(bodies, [20_000, 50_000, 52], "the last one chunked");
    // The server thought 150 ms about app.js: the wait is that plus about one round trip.
    let js = http.iter().find(|h| h["uri"] == "/app.js").unwrap();
    let server = js["server_time"].as_f64().unwrap();
    assert!((0.150..0.160).contains(&server), "{server}");

    let tls = of_type(&recs, "tls");
    assert_eq!(tls.len(), 1);
    assert_eq!(tls[0]["server_name"], "static.example");
    assert_eq!(tls[0]["version"], "TLSv13");
    assert_eq!(tls[0]["client_alpn"], serde_json::json!(["http/1.1"]));
    assert_eq!(tls[0]["established"], true);
    near(tls[0]["ts"].as_f64().unwrap(), "tls.handshake_start");

    let kinds: Vec<&str> = of_type(&recs, "anomaly")
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    for k in [
        "session_cookie_cleartext",
        "session_cookie_insecure",
        "cookie_too_large",
        "session_hijack_suspected",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let stolen = of_type(&recs, "anomaly")
        .into_iter()
        .find(|a| a["kind"] == "session_hijack_suspected")
        .unwrap();
    assert_eq!(stolen["detail"]["new_client"], "10.99.0.3");
    let jsession = of_type(&recs, "session")
        .into_iter()
        .find(|s| s["cookie"] == "JSESSIONID")
        .unwrap();
    assert_eq!(jsession["requests"], 3);
    assert!(
        !recs.iter().any(|r| r
            .to_string()
            .contains(client["jsessionid"].as_str().unwrap())),
        "a session value was printed"
    );

    // The page loads: the lookup, then the connections to the address it gave.
    let pages = of_type(&recs, "page");
    let names: Vec<&str> = pages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "shop.example",
            "nothere.example",
            "shop.example",
            "static.example",
            "10.99.0.2"
        ]
    );
    let shop = pages[0];
    assert_eq!(shop["dns"]["answers"], serde_json::json!(["10.99.0.2"]));
    let conn = &shop["connections"][0];
    let uris: Vec<&str> = conn["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["/", "/app.js", "/data"]);
    near(conn["connect"].as_f64().unwrap(), "http.connect_start");
    assert_eq!(conn["closed_by"], "orig");
    // The client closed first: its TIME-WAIT ends 2 MSL (60 s) after its last ACK.
    let tw = conn["time_wait_end"].as_f64().unwrap() - conn["close"].as_f64().unwrap();
    assert!((tw - 60.0).abs() < 0.01, "{tw}");
    assert_eq!(pages[1]["dns"]["rcode_name"], "NXDOMAIN");
    assert_eq!(pages[2]["dns"]["rtt"], Value::Null);
    let tls = &pages[3]["connections"][0];
    assert_eq!(tls["server_name"], "static.example");
    near(tls["tls_start"].as_f64().unwrap(), "tls.handshake_start");
    assert_eq!(pages[4]["client"], "10.99.0.3");
    assert_eq!(pages[4]["dns"], Value::Null);

    // The same in the terminal, in 80 columns.
    let out = tcpaudit()
        .args(["analyze", "--app"])
        .arg(dir.join("page_load.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let pages_text = &text[text.find("Page loads (5)").expect("a page section")..];
    assert!(
        pages_text.lines().all(|l| l.chars().count() <= 80),
        "{pages_text}"
    );
    assert!(pages_text.contains("GET /app.js"), "{pages_text}");
}

#[test]
fn a_reset_or_a_zero_window_says_which_request_it_interrupted() {
    let Some(ssh) = corpus("zeek/http/get-to-ssh-server.pcap") else {
        return;
    };
    let recs = app_records(&ssh);
    let rst = of_type(&recs, "anomaly")
        .into_iter()
        .find(|a| a["kind"] == "rst_abort")
        .unwrap();
    assert_eq!(rst["detail"]["http_request"], "GET /");
    let Some(partial) = corpus("zeek/http/206_example_b.pcap") else {
        return;
    };
    let recs = app_records(&partial);
    let zw: Vec<&Value> = of_type(&recs, "anomaly")
        .into_iter()
        .filter(|a| a["kind"] == "zero_window")
        .collect();
    assert!(!zw.is_empty());
    assert!(zw.iter().all(|a| {
        a["detail"]["http_request"]
            .as_str()
            .is_some_and(|r| r.starts_with("GET /msdownload/"))
    }));
    // Without --app the details are as they always were.
    let out = tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(&ssh)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("http_request"));
}

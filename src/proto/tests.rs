//! The application layer on hand-built messages: DNS matching and bounds, TLS hellos; the
//! helpers the HTTP tests (http_tests.rs) share.

use std::net::{IpAddr, Ipv4Addr};

use simple_dns::rdata::{A, RData};
use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, ResourceRecord, TYPE};

use super::*;
use crate::time::Timestamp;
use crate::wire::{Datagram, Endpoint, Side};

pub(super) const CLIENT: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
const SERVER: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53);
pub(super) const WEB: Endpoint = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 80)), 80);

pub(super) fn on() -> AppLayer {
    AppLayer::new(AppConfig {
        enabled: true,
        ..AppConfig::default()
    })
}

pub(super) fn at(ms: i64, frame: u64) -> At {
    At {
        ts: Timestamp::from_millis(ms),
        frame,
    }
}

fn dgram(ms: i64, frame: u64, src: Endpoint, dst: Endpoint) -> Datagram {
    Datagram {
        ts: Timestamp::from_millis(ms),
        frame,
        src,
        dst,
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

pub(super) fn records(app: &mut AppLayer) -> Vec<AppRecord> {
    app.take().collect()
}

fn dns(r: &AppRecord) -> &DnsRecord {
    match r {
        AppRecord::Dns(d) => d,
        other => panic!("not DNS: {other:?}"),
    }
}

pub(super) fn http(r: &AppRecord) -> &HttpRecord {
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
    app.advance(Timestamp::from_secs_nanos(9, 0));
    assert!(!app.has_records());
    app.advance(Timestamp::from_secs_nanos(10, 0));
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

/// Queries still unanswered when the run ends come out in the order they came, even those of
/// one frame (several messages of one TCP segment share it): not in the order of the pending
/// map, which every run seeds anew (each table here gets its own seed).
#[test]
fn queries_left_at_the_end_come_out_in_the_order_they_came() {
    let ids: Vec<u16> = (0..40).map(|i| (i * 7_919 % 65_521) as u16).collect();
    for _ in 0..4 {
        let mut app = on();
        for (i, &id) in ids.iter().enumerate() {
            let frame = 1 + i as u64 / 10;
            app.udp(
                &dgram(0, frame, CLIENT, SERVER),
                &query(id, "pipelined.example"),
            );
        }
        app.finish();
        let out = records(&mut app);
        let got: Vec<u16> = out.iter().map(|r| dns(r).trans_id).collect();
        assert_eq!(got, ids);
    }
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

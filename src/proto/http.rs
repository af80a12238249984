//! HTTP/1.x over a connection's two byte streams: each request and its response, headers parsed
//! with httparse, bodies skipped by Content-Length or chunk by chunk (never kept), pipelined
//! requests answered in order, the connection reused for several requests. Cookies are read by
//! name and size; their values are secrets and only a keyed hash of each is kept.

use std::collections::VecDeque;

use super::body::{Body, Framing, skip_body};
use super::cookie::{Cookie, cookie_header, set_cookie};
use super::{AppConfig, AppRecord, AppStats, At, ConnRef};
use crate::time::{Duration, Timestamp};
use crate::wire::Endpoint;

/// Headers parsed per message at most.
const MAX_HEADERS: usize = 96;

/// An HTTP request and its response.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRecord {
    /// The request's first byte (the response's, without a request).
    pub ts: Timestamp,
    /// Its frame.
    pub frame: u64,
    /// The TCP connection.
    pub conn_id: u64,
    /// The client.
    pub orig: Endpoint,
    /// The server.
    pub resp: Endpoint,
    /// 1 for the connection's first request, 2 for the next (Zeek's `trans_depth`).
    pub trans_depth: u32,
    /// Method.
    pub method: Option<String>,
    /// Host header.
    pub host: Option<String>,
    /// Request target.
    pub uri: Option<String>,
    /// HTTP version of the request (`1.0`, `1.1`).
    pub version: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// Referer header.
    pub referrer: Option<String>,
    /// Request body bytes.
    pub request_body_len: u64,
    /// Response body bytes.
    pub response_body_len: u64,
    /// Status code.
    pub status_code: Option<u16>,
    /// Reason phrase.
    pub status_msg: Option<String>,
    /// The request's last byte.
    pub request_end: Option<At>,
    /// The response's first byte.
    pub response_start: Option<At>,
    /// The response's last byte.
    pub response_end: Option<At>,
    /// The connection's handshake round trip, to split the wait.
    pub rtt: Option<Duration>,
    /// Cookies the request carried.
    pub cookies: Vec<Cookie>,
    /// Cookies the response set.
    pub set_cookies: Vec<Cookie>,
}

impl HttpRecord {
    /// Request end to the response's first byte: the server's think time plus one round trip.
    pub fn ttfb(&self) -> Option<Duration> {
        Some(self.response_start?.ts.since(self.request_end?.ts))
    }

    /// The wait less the connection's round trip: the server's own time.
    pub fn server_time(&self) -> Option<Duration> {
        let t = self.ttfb()?;
        Some((t - self.rtt?).max(Duration::ZERO))
    }
}

/// One direction's parsing state.
#[derive(Debug, Default)]
pub(super) struct Dir {
    /// Bytes of a header block (or a chunk-size or trailer line) not complete yet.
    pub(super) buf: Vec<u8>,
    /// The body being skipped, if in one.
    pub(super) body: Option<Body>,
    /// Where the message being read began.
    start: Option<At>,
    /// Stopped: what follows cannot be framed.
    done: bool,
    /// The latest bytes' arrival.
    last: Option<At>,
    /// A hole broke the framing: bytes are skipped until a delivery begins a message.
    lost: bool,
}

/// One connection's HTTP.
#[derive(Debug)]
pub(super) struct HttpConn {
    c: ConnRef,
    req: Dir,
    resp: Dir,
    /// Requests read, awaiting their responses, oldest first.
    pending: VecDeque<HttpRecord>,
    /// The request whose body is being read.
    reading: Option<HttpRecord>,
    /// The transaction whose response is being read.
    answering: Option<HttpRecord>,
    depth: u32,
    key: u64,
    /// The connection's originator is the server.
    flipped: bool,
}

impl HttpConn {
    /// The HTTP of connection `c`; `flipped` when its originator is the server (a connection
    /// picked up midstream with the server's segment first): the client is then its responder.
    pub(super) fn new(c: ConnRef, key: u64, flipped: bool) -> Self {
        let c = if flipped {
            ConnRef {
                orig: c.resp,
                resp: c.orig,
                ..c
            }
        } else {
            c
        };
        HttpConn {
            flipped,
            c,
            req: Dir::default(),
            resp: Dir::default(),
            pending: VecDeque::new(),
            reading: None,
            answering: None,
            depth: 0,
            key,
        }
    }

    /// Whether `side` of the connection is the client.
    pub(super) fn is_client(&self, side: crate::wire::Side) -> bool {
        (side == crate::wire::Side::Orig) != self.flipped
    }

    /// Client bytes.
    pub(super) fn request_bytes(
        &mut self,
        mut b: &[u8],
        at: At,
        cfg: &AppConfig,
        stats: &mut AppStats,
    ) {
        self.req.last = Some(at);
        if self.req.lost {
            if !starts_request(b) {
                return;
            }
            self.req.lost = false;
            // What was being read is lost with the hole.
            self.reading = None;
        }
        while !b.is_empty() && !self.req.done {
            if self.req.body.is_some() {
                let (used, data, ended) = skip_body(&mut self.req, b, cfg, stats);
                if let Some(r) = self.reading.as_mut() {
                    r.request_body_len += data;
                }
                b = &b[used..];
                if ended {
                    self.request_done(at, cfg, stats);
                }
                continue;
            }
            let Some((head, used)) = header_block(&mut self.req, b, at, cfg, stats) else {
                return;
            };
            b = &b[used..];
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            let (line, fields): (RequestLine, &[httparse::Header<'_>]) =
                match lenient().parse_request(&mut req, &head) {
                    Ok(httparse::Status::Complete(_)) => (
                        (
                            req.method.map(str::to_owned),
                            req.path.map(str::to_owned),
                            req.version.map(|v| format!("1.{v}")),
                        ),
                        req.headers,
                    ),
                    // A request line httparse refuses (a space inside the target, as attack
                    // tools send) is read as tshark reads it; the headers as usual.
                    _ => match loose_request(&head, &mut headers) {
                        Some(x) => x,
                        None => {
                            give_up(&mut self.req, stats, false);
                            return;
                        }
                    },
                };
            stats.http_messages += 1;
            let start = self.req.start.take().unwrap_or(at);
            let mut rec = self.record(start);
            (rec.method, rec.uri, rec.version) = line;
            let mut framing = Framing::default();
            for h in fields.iter() {
                let v = String::from_utf8_lossy(h.value);
                match h.name.to_ascii_lowercase().as_str() {
                    "host" => rec.host = Some(v.into_owned()),
                    "user-agent" => rec.user_agent = Some(v.into_owned()),
                    "referer" => rec.referrer = Some(v.into_owned()),
                    "cookie" => rec.cookies.extend(cookie_header(&v, self.key)),
                    name => framing.header(name, &v),
                }
            }
            self.reading = Some(rec);
            match framing.body(false) {
                Some(body) => self.req.body = Some(body),
                None => self.request_done(at, cfg, stats),
            }
        }
    }

    /// The request being read ended at `at`.
    fn request_done(&mut self, at: At, cfg: &AppConfig, stats: &mut AppStats) {
        self.req.body = None;
        if let Some(mut r) = self.reading.take() {
            r.request_end = Some(at);
            if self.pending.len() >= cfg.max_pending_requests {
                give_up(&mut self.req, stats, true);
                return;
            }
            self.pending.push_back(r);
        }
    }

    /// Server bytes.
    pub(super) fn response_bytes(
        &mut self,
        mut b: &[u8],
        at: At,
        cfg: &AppConfig,
        stats: &mut AppStats,
        out: &mut Vec<AppRecord>,
    ) {
        self.resp.last = Some(at);
        if self.resp.lost {
            if !starts_response(b) {
                return;
            }
            self.resp.lost = false;
            // The response being read is cut; it is written out without its end.
            if let Some(r) = self.answering.take() {
                out.push(AppRecord::Http(r));
            }
        }
        while !b.is_empty() && !self.resp.done {
            if self.resp.body.is_some() {
                let (used, data, ended) = skip_body(&mut self.resp, b, cfg, stats);
                if let Some(r) = self.answering.as_mut() {
                    r.response_body_len += data;
                }
                b = &b[used..];
                if ended {
                    self.response_done(at, out);
                }
                continue;
            }
            let Some((head, used)) = header_block(&mut self.resp, b, at, cfg, stats) else {
                return;
            };
            b = &b[used..];
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match lenient().parse_response(&mut resp, &head) {
                Ok(httparse::Status::Complete(_)) => {}
                _ => {
                    give_up(&mut self.resp, stats, false);
                    return;
                }
            }
            stats.http_messages += 1;
            let start = self.resp.start.take().unwrap_or(at);
            let code = resp.code.unwrap_or(0);
            if (100..200).contains(&code) {
                if code == 101 {
                    // Switching protocols: what follows is not HTTP/1.
                    self.resp.done = true;
                    self.req.done = true;
                }
                continue;
            }
            let mut rec = self
                .pending
                .pop_front()
                .unwrap_or_else(|| self.record(start));
            rec.response_start = Some(start);
            rec.status_code = Some(code);
            rec.status_msg = resp.reason.map(str::to_owned);
            let mut framing = Framing::default();
            for h in resp.headers.iter() {
                let v = String::from_utf8_lossy(h.value);
                match h.name.to_ascii_lowercase().as_str() {
                    "set-cookie" => rec.set_cookies.extend(set_cookie(&v, self.key)),
                    name => framing.header(name, &v),
                }
            }
            let bodiless = rec.method.as_deref() == Some("HEAD")
                || code == 204
                || code == 304
                || (rec.method.as_deref() == Some("CONNECT") && (200..300).contains(&code));
            self.answering = Some(rec);
            match framing.body(true).filter(|_| !bodiless) {
                Some(body) => self.resp.body = Some(body),
                None => self.response_done(at, out),
            }
        }
    }

    /// A new transaction beginning at `start` (a request, or a response whose request the
    /// capture lacks), nothing known of it yet.
    fn record(&mut self, start: At) -> HttpRecord {
        self.depth += 1;
        HttpRecord {
            ts: start.ts,
            frame: start.frame,
            conn_id: self.c.id,
            orig: self.c.orig,
            resp: self.c.resp,
            trans_depth: self.depth,
            method: None,
            host: None,
            uri: None,
            version: None,
            user_agent: None,
            referrer: None,
            request_body_len: 0,
            response_body_len: 0,
            status_code: None,
            status_msg: None,
            request_end: None,
            response_start: None,
            response_end: None,
            rtt: self.c.rtt,
            cookies: Vec::new(),
            set_cookies: Vec::new(),
        }
    }

    fn response_done(&mut self, at: At, out: &mut Vec<AppRecord>) {
        self.resp.body = None;
        if let Some(mut r) = self.answering.take() {
            r.response_end = Some(at);
            out.push(AppRecord::Http(r));
        }
    }

    /// Bytes missing from `client`'s (else the server's) stream: a body of known length
    /// absorbs them (one that ends exactly there ends); anywhere else the direction waits for
    /// the next bytes that begin a message ([`Dir::lost`]).
    pub(super) fn gap(
        &mut self,
        client: bool,
        len: u64,
        stats: &mut AppStats,
        out: &mut Vec<AppRecord>,
    ) {
        let d = if client {
            &mut self.req
        } else {
            &mut self.resp
        };
        match d.body {
            Some(Body::Length(n)) if len < n => d.body = Some(Body::Length(n - len)),
            Some(Body::Length(n)) if len == n => {
                let at = d.last;
                if client {
                    self.req.body = None;
                    if let Some(mut r) = self.reading.take() {
                        r.request_end = at;
                        self.pending.push_back(r);
                    }
                } else if let Some(at) = at {
                    self.response_done(at, out);
                }
            }
            Some(Body::UntilClose) => {}
            _ if d.done => {}
            _ => {
                stats.given_up += 1;
                // A header block cut by the hole still names its request or status when its
                // first line arrived (a snaplen cut after the request line, as tshark shows it).
                let start = d.start;
                let partial = std::mem::take(&mut d.buf);
                if let Some(start) = start.filter(|_| !partial.is_empty()) {
                    self.partial_head(client, start, &partial, out);
                } else if !client
                    && start.is_some()
                    && self.answering.is_none()
                    && let Some(r) = self.pending.pop_front()
                {
                    // A response whose header block was under way belongs to the oldest
                    // request: that one's answer is lost, not the next one's.
                    out.push(AppRecord::Http(r));
                }
                let d = if client {
                    &mut self.req
                } else {
                    &mut self.resp
                };
                d.lost = true;
                d.buf.clear();
                d.body = None;
                d.start = None;
            }
        }
    }

    /// The first line (and any headers) of a header block that a hole cut, begun at `start`:
    /// a request joins the pending ones, a response answers the oldest and is written out
    /// without its end.
    fn partial_head(&mut self, client: bool, start: At, head: &[u8], out: &mut Vec<AppRecord>) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        if client {
            let mut req = httparse::Request::new(&mut headers);
            if lenient().parse_request(&mut req, head).is_err() || req.method.is_none() {
                return;
            }
            let mut rec = self.record(start);
            rec.method = req.method.map(str::to_owned);
            rec.uri = req.path.map(str::to_owned);
            rec.version = req.version.map(|v| format!("1.{v}"));
            self.pending.push_back(rec);
        } else {
            let mut resp = httparse::Response::new(&mut headers);
            if lenient().parse_response(&mut resp, head).is_err() || resp.code.is_none() {
                return;
            }
            let mut rec = self
                .pending
                .pop_front()
                .unwrap_or_else(|| self.record(start));
            rec.response_start = Some(start);
            rec.status_code = resp.code;
            rec.status_msg = resp.reason.map(str::to_owned);
            out.push(AppRecord::Http(rec));
        }
    }

    /// The request under way: the one being answered, else the oldest unanswered, else the
    /// one being sent.
    pub(super) fn in_flight(&self) -> Option<&HttpRecord> {
        self.answering
            .as_ref()
            .or(self.pending.front())
            .or(self.reading.as_ref())
    }

    /// The connection ended: a response read until the close ends with its last bytes; one cut
    /// short keeps no end; requests never answered are written out without a response.
    pub(super) fn close(&mut self, out: &mut Vec<AppRecord>) {
        if let Some(mut r) = self.answering.take() {
            if self.resp.body == Some(Body::UntilClose) {
                r.response_end = self.resp.last;
            }
            out.push(AppRecord::Http(r));
        }
        if let Some(r) = self.reading.take() {
            out.push(AppRecord::Http(r));
        }
        out.extend(self.pending.drain(..).map(AppRecord::Http));
    }
}

/// A request's method, target and version.
type RequestLine = (Option<String>, Option<String>, Option<String>);

/// A request line httparse refuses, read as tshark does: the method, the target up to the next
/// space, the version from the line's last word; then the header lines. `None` when it does
/// not look like a request at all.
fn loose_request<'h, 'b>(
    head: &'b [u8],
    headers: &'h mut [httparse::Header<'b>],
) -> Option<(RequestLine, &'h [httparse::Header<'b>])> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let method = words.next()?;
    let target = words.next()?;
    let version = line.rsplit(' ').next()?.strip_prefix("HTTP/")?;
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let n = match httparse::parse_headers(&head[end + 2..], headers) {
        Ok(httparse::Status::Complete((_, h))) => h.len(),
        _ => return None,
    };
    Some((
        (
            Some(method.to_owned()),
            Some(target.to_owned()),
            Some(version.to_owned()),
        ),
        &headers[..n],
    ))
}

/// httparse as tolerant as the servers and browsers that wrote what it reads: a space before
/// a header's colon, obsolete line folding and invalid header lines (skipped) in responses,
/// invalid header lines in requests, repeated spaces in the request and status lines.
fn lenient() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

/// Collects a header block into `d.buf` until its empty line; returns the block and how many of
/// `b`'s bytes it used, or `None` when more bytes are needed (or the block is too big).
fn header_block(
    d: &mut Dir,
    b: &[u8],
    at: At,
    cfg: &AppConfig,
    stats: &mut AppStats,
) -> Option<(Vec<u8>, usize)> {
    if d.buf.is_empty() {
        // Blank lines between messages are tolerated (RFC 9112 §2.2).
        let skip = b
            .iter()
            .take_while(|c| **c == b'\r' || **c == b'\n')
            .count();
        if skip == b.len() {
            return None;
        }
        d.start = Some(at);
        let b = &b[skip..];
        let (head, used) = collect(d, b, cfg, stats)?;
        return Some((head, used + skip));
    }
    collect(d, b, cfg, stats)
}

fn collect(
    d: &mut Dir,
    b: &[u8],
    cfg: &AppConfig,
    stats: &mut AppStats,
) -> Option<(Vec<u8>, usize)> {
    // Look for the end from 3 bytes before the new ones (it may straddle).
    let from = d.buf.len().saturating_sub(3);
    let old = d.buf.len();
    d.buf.extend_from_slice(b);
    match find(&d.buf[from..], b"\r\n\r\n") {
        Some(i) => {
            let end = from + i + 4;
            let used = end - old;
            d.buf.truncate(end);
            Some((std::mem::take(&mut d.buf), used))
        }
        None => {
            if d.buf.len() > cfg.max_message {
                give_up(d, stats, true);
            }
            None
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn give_up(d: &mut Dir, stats: &mut AppStats, oversized: bool) {
    if !d.done {
        stats.given_up += 1;
        stats.oversized += u64::from(oversized);
    }
    d.done = true;
    d.buf = Vec::new();
    d.body = None;
}

/// Whether `b` begins an HTTP/1 request line (a method and a space).
pub(super) fn starts_request(b: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"TRACE ",
    ];
    METHODS.iter().any(|m| b.starts_with(m) || m.starts_with(b))
}

/// Whether `b` begins an HTTP/1 status line.
pub(super) fn starts_response(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.") || b"HTTP/1.".starts_with(b)
}

//! The JSON forms of application-layer records: `{"type":"dns"}`, `{"type":"tls"}` and
//! `{"type":"http"}`, with Zeek's dns.log, ssl.log and http.log field names where Zeek has one.

use crate::report::community_id::{TCP, community_id};
use crate::report::iso_time::iso;
use serde::Serialize;

use super::secs::{opt_secs, secs};
use crate::analyzer::AppSummary;
use crate::proto::{
    AppRecord, At, Cookie, DnsRecord, HttpRecord, SessionRecord, TlsRecord, cipher_name,
    class_name, rcode_name, type_name, version_name,
};
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, Side};

/// Any application record.
#[derive(Serialize)]
#[serde(untagged)]
pub enum AppJson<'a> {
    /// DNS.
    Dns(DnsJson<'a>),
    /// TLS.
    Tls(TlsJson<'a>),
    /// HTTP.
    Http(HttpJson<'a>),
    /// A session.
    Session(SessionJson<'a>),
}

impl<'a> AppJson<'a> {
    /// The record, its flow's Community ID with `seed`.
    pub fn new(r: &'a AppRecord, seed: u16) -> Self {
        match r {
            AppRecord::Dns(d) => AppJson::Dns(DnsJson::new(d, seed)),
            AppRecord::Tls(t) => AppJson::Tls(TlsJson::new(t, seed)),
            AppRecord::Http(h) => AppJson::Http(HttpJson::new(h, seed)),
            AppRecord::Session(x) => AppJson::Session(SessionJson::from(x)),
        }
    }
}

impl<'a> From<&'a AppRecord> for AppJson<'a> {
    /// The record, its Community ID with seed 0.
    fn from(r: &'a AppRecord) -> Self {
        AppJson::new(r, 0)
    }
}

/// A record's client and server, as connection records write them, with the flow's Community
/// ID.
#[derive(Serialize)]
pub struct EndsJson {
    orig_addr: super::AddrText,
    orig_port: u16,
    resp_addr: super::AddrText,
    resp_port: u16,
    community_id: String,
}

impl EndsJson {
    /// The ends of a record carried over IP protocol `proto`, with the Community ID `seed`.
    fn new(orig: Endpoint, resp: Endpoint, proto: u8, seed: u16) -> Self {
        EndsJson {
            orig_addr: super::AddrText(orig.addr),
            orig_port: orig.port,
            resp_addr: super::AddrText(resp.addr),
            resp_port: resp.port,
            community_id: community_id(orig, resp, proto, seed),
        }
    }
}

/// A frame and its time.
#[derive(Serialize)]
pub struct AtJson {
    frame: u64,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
}

fn at(a: Option<At>) -> Option<AtJson> {
    a.map(|a| AtJson {
        frame: a.frame,
        ts: a.ts,
    })
}

/// `{"type":"dns"}`.
#[derive(Serialize)]
pub struct DnsJson<'a> {
    #[serde(rename = "type")]
    kind_type: &'static str,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
    #[serde(serialize_with = "iso")]
    time: Timestamp,
    frame: u64,
    conn_id: Option<u64>,
    #[serde(flatten)]
    ends: EndsJson,
    proto: &'static str,
    trans_id: u16,
    query: Option<&'a str>,
    qclass: Option<u16>,
    qclass_name: Option<&'static str>,
    qtype: Option<u16>,
    qtype_name: Option<&'static str>,
    rcode: Option<u8>,
    rcode_name: Option<&'static str>,
    #[serde(rename = "AA")]
    aa: bool,
    #[serde(rename = "TC")]
    tc: bool,
    #[serde(rename = "RD")]
    rd: bool,
    #[serde(rename = "RA")]
    ra: bool,
    answers: &'a [String],
    #[serde(rename = "TTLs")]
    ttls: &'a [u32],
    #[serde(serialize_with = "opt_secs")]
    rtt: Option<Duration>,
    response_frame: Option<u64>,
    queries: u32,
    responses: u32,
    status: &'static str,
}

impl<'a> DnsJson<'a> {
    fn new(d: &'a DnsRecord, seed: u16) -> Self {
        DnsJson {
            kind_type: "dns",
            ts: d.ts,
            time: d.ts,
            frame: d.frame,
            conn_id: d.conn_id,
            ends: EndsJson::new(d.orig, d.resp, d.transport.ip_proto(), seed),
            proto: d.transport.name(),
            trans_id: d.trans_id,
            query: d.query.as_deref(),
            qclass: d.qclass,
            qclass_name: d.qclass.map(class_name),
            qtype: d.qtype,
            qtype_name: d.qtype.map(|t| type_name(t).unwrap_or("unknown")),
            rcode: d.rcode,
            rcode_name: d.rcode.map(rcode_name),
            aa: d.flags.aa,
            tc: d.flags.tc,
            rd: d.flags.rd,
            ra: d.flags.ra,
            answers: &d.answers,
            ttls: &d.ttls,
            rtt: d.rtt,
            response_frame: d.response_frame,
            queries: d.queries,
            responses: d.responses,
            status: d.status(),
        }
    }
}

/// `{"type":"tls"}`.
#[derive(Serialize)]
pub struct TlsJson<'a> {
    #[serde(rename = "type")]
    kind_type: &'static str,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
    #[serde(serialize_with = "iso")]
    time: Timestamp,
    frame: u64,
    conn_id: u64,
    #[serde(flatten)]
    ends: EndsJson,
    server_name: Option<&'a str>,
    client_versions: Vec<String>,
    client_alpn: &'a [String],
    version: Option<String>,
    cipher: Option<String>,
    next_protocol: Option<&'a str>,
    established: bool,
    server_hello: Option<AtJson>,
    first_data_orig: Option<AtJson>,
    first_data_resp: Option<AtJson>,
    /// ClientHello to the first application data each way.
    #[serde(serialize_with = "opt_secs")]
    handshake_orig: Option<Duration>,
    #[serde(serialize_with = "opt_secs")]
    handshake_resp: Option<Duration>,
}

/// A version as Zeek names it, or its number in hex.
fn version_text(v: u16) -> String {
    version_name(v).map_or_else(|| format!("0x{v:04x}"), str::to_owned)
}

impl<'a> TlsJson<'a> {
    fn new(t: &'a TlsRecord, seed: u16) -> Self {
        TlsJson {
            kind_type: "tls",
            ts: t.ts,
            time: t.ts,
            frame: t.frame,
            conn_id: t.conn_id,
            ends: EndsJson::new(t.orig, t.resp, TCP, seed),
            server_name: t.server_name.as_deref(),
            client_versions: t.client_versions.iter().map(|v| version_text(*v)).collect(),
            client_alpn: &t.client_alpn,
            version: t.version.map(version_text),
            cipher: t
                .cipher
                .map(|c| cipher_name(c).map_or_else(|| format!("0x{c:04x}"), str::to_owned)),
            next_protocol: t.alpn.as_deref(),
            established: t.established(),
            server_hello: at(t.server_hello),
            first_data_orig: at(t.first_data[Side::Orig]),
            first_data_resp: at(t.first_data[Side::Resp]),
            handshake_orig: t.handshake_time(Side::Orig),
            handshake_resp: t.handshake_time(Side::Resp),
        }
    }
}

/// A cookie without its value.
#[derive(Serialize)]
pub struct CookieJson<'a> {
    name: &'a str,
    size: usize,
    /// Keyed hash of the value, hex (equal within one run only).
    value_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    secure: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    http_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    same_site: Option<&'a str>,
}

impl<'a> From<&'a Cookie> for CookieJson<'a> {
    fn from(c: &'a Cookie) -> Self {
        CookieJson {
            name: &c.name,
            size: c.size,
            value_hash: format!("{:016x}", c.value_hash),
            domain: c.attrs.domain.as_deref(),
            path: c.attrs.path.as_deref(),
            expires: c.attrs.expires.as_deref(),
            max_age: c.attrs.max_age.as_deref(),
            secure: c.attrs.secure,
            http_only: c.attrs.http_only,
            same_site: c.attrs.same_site.as_deref(),
        }
    }
}

/// `{"type":"http"}`.
#[derive(Serialize)]
pub struct HttpJson<'a> {
    #[serde(rename = "type")]
    kind_type: &'static str,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
    #[serde(serialize_with = "iso")]
    time: Timestamp,
    frame: u64,
    conn_id: u64,
    #[serde(flatten)]
    ends: EndsJson,
    trans_depth: u32,
    method: Option<&'a str>,
    host: Option<&'a str>,
    uri: Option<&'a str>,
    referrer: Option<&'a str>,
    version: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_body_len: u64,
    response_body_len: u64,
    status_code: Option<u16>,
    status_msg: Option<&'a str>,
    request_end: Option<AtJson>,
    response_start: Option<AtJson>,
    response_end: Option<AtJson>,
    /// Request end to the response's first byte.
    #[serde(serialize_with = "opt_secs")]
    ttfb: Option<Duration>,
    /// The connection's handshake round trip.
    #[serde(serialize_with = "opt_secs")]
    rtt: Option<Duration>,
    /// The wait less one round trip.
    #[serde(serialize_with = "opt_secs")]
    server_time: Option<Duration>,
    cookies: Vec<CookieJson<'a>>,
    set_cookies: Vec<CookieJson<'a>>,
}

impl<'a> HttpJson<'a> {
    fn new(h: &'a HttpRecord, seed: u16) -> Self {
        HttpJson {
            kind_type: "http",
            ts: h.ts,
            time: h.ts,
            frame: h.frame,
            conn_id: h.conn_id,
            ends: EndsJson::new(h.orig, h.resp, TCP, seed),
            trans_depth: h.trans_depth,
            method: h.method.as_deref(),
            host: h.host.as_deref(),
            uri: h.uri.as_deref(),
            referrer: h.referrer.as_deref(),
            version: h.version.as_deref(),
            user_agent: h.user_agent.as_deref(),
            request_body_len: h.request_body_len,
            response_body_len: h.response_body_len,
            status_code: h.status_code,
            status_msg: h.status_msg.as_deref(),
            request_end: at(h.request_end),
            response_start: at(h.response_start),
            response_end: at(h.response_end),
            ttfb: h.ttfb(),
            rtt: h.rtt,
            server_time: h.server_time(),
            cookies: h.cookies.iter().map(CookieJson::from).collect(),
            set_cookies: h.set_cookies.iter().map(CookieJson::from).collect(),
        }
    }
}

/// `{"type":"session"}`, written at the end of the run.
#[derive(Serialize)]
pub struct SessionJson<'a> {
    #[serde(rename = "type")]
    kind_type: &'static str,
    cookie: &'a str,
    /// Keyed hash of the value, hex (equal within one run only).
    value_hash: String,
    basis: &'static str,
    first: AtJson,
    last: AtJson,
    requests: u64,
    clients: Vec<String>,
    hosts: &'a [String],
    conn_ids: &'a [u64],
}

impl<'a> From<&'a SessionRecord> for SessionJson<'a> {
    fn from(s: &'a SessionRecord) -> Self {
        SessionJson {
            kind_type: "session",
            cookie: &s.cookie,
            value_hash: format!("{:016x}", s.value_hash),
            basis: s.basis,
            first: AtJson {
                frame: s.first.frame,
                ts: s.first.ts,
            },
            last: AtJson {
                frame: s.last.frame,
                ts: s.last.ts,
            },
            requests: s.requests,
            clients: s.clients.iter().map(ToString::to_string).collect(),
            hosts: &s.hosts,
            conn_ids: &s.conns,
        }
    }
}

/// The summary's `app` object.
#[derive(Serialize)]
pub struct AppSummaryJson {
    dns: u64,
    dns_unanswered: u64,
    tls: u64,
    http: u64,
    sessions: u64,
    dns_messages: u64,
    dns_malformed: u64,
    dns_evicted: u64,
    http_messages: u64,
    http2_connections: u64,
    quic_datagrams: u64,
    given_up: u64,
    oversized: u64,
    gap_bytes: u64,
}

impl From<AppSummary> for AppSummaryJson {
    fn from(a: AppSummary) -> Self {
        let s = a.stats;
        AppSummaryJson {
            dns: a.dns,
            dns_unanswered: a.dns_unanswered,
            tls: a.tls,
            http: a.http,
            sessions: a.sessions,
            dns_messages: s.dns_messages,
            dns_malformed: s.dns_malformed,
            dns_evicted: s.dns_evicted,
            http_messages: s.http_messages,
            http2_connections: s.http2,
            quic_datagrams: s.quic,
            given_up: s.given_up,
            oversized: s.oversized,
            gap_bytes: s.gap_bytes,
        }
    }
}

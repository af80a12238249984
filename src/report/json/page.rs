//! The JSON form of a page load: `{"type":"page"}`, written at the end of the run.

use serde::Serialize;

use super::secs::{opt_secs, secs};
use crate::report::page::{Page, PageConn, Request};
use crate::time::{Duration, Timestamp};

/// `{"type":"page"}`.
#[derive(Serialize)]
pub struct PageJson<'a> {
    #[serde(rename = "type")]
    kind_type: &'static str,
    client: String,
    name: &'a str,
    #[serde(serialize_with = "secs")]
    start: Timestamp,
    #[serde(serialize_with = "secs")]
    end: Timestamp,
    /// The lookup: query frame and time, rtt, rcode, addresses.
    dns: Option<LookupJson>,
    connections: Vec<ConnJson<'a>>,
}

/// A page's lookup.
#[derive(Serialize)]
pub struct LookupJson {
    frame: u64,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
    #[serde(serialize_with = "opt_secs")]
    rtt: Option<Duration>,
    rcode_name: Option<&'static str>,
    answers: Vec<String>,
}

/// A page's connection, with its phases.
#[derive(Serialize)]
pub struct ConnJson<'a> {
    conn_id: u64,
    server: String,
    #[serde(serialize_with = "secs")]
    connect: Timestamp,
    /// SYN to the third ACK.
    #[serde(serialize_with = "opt_secs")]
    connect_time: Option<Duration>,
    server_name: Option<&'a str>,
    #[serde(serialize_with = "opt_secs")]
    tls_start: Option<Timestamp>,
    /// ClientHello to both sides' first application data.
    #[serde(serialize_with = "opt_secs")]
    tls_time: Option<Duration>,
    requests: Vec<RequestJson<'a>>,
    #[serde(serialize_with = "secs")]
    close: Timestamp,
    end_reason: &'static str,
    closed_by: Option<&'static str>,
    #[serde(serialize_with = "opt_secs")]
    time_wait_end: Option<Timestamp>,
}

/// A request's phases.
#[derive(Serialize)]
pub struct RequestJson<'a> {
    method: Option<&'a str>,
    uri: Option<&'a str>,
    status_code: Option<u16>,
    response_body_len: u64,
    #[serde(serialize_with = "secs")]
    sent: Timestamp,
    /// First to last request byte.
    #[serde(serialize_with = "opt_secs")]
    send_time: Option<Duration>,
    /// Last request byte to first response byte.
    #[serde(serialize_with = "opt_secs")]
    wait: Option<Duration>,
    /// First to last response byte.
    #[serde(serialize_with = "opt_secs")]
    download: Option<Duration>,
}

fn between(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Duration> {
    Some(b?.since(a?))
}

impl<'a> From<&'a Request> for RequestJson<'a> {
    fn from(r: &'a Request) -> Self {
        RequestJson {
            method: r.method.as_deref(),
            uri: r.uri.as_deref(),
            status_code: r.status,
            response_body_len: r.body,
            sent: r.sent,
            send_time: between(Some(r.sent), r.request_end),
            wait: between(r.request_end, r.first_byte),
            download: between(r.first_byte, r.last_byte),
        }
    }
}

impl<'a> From<&'a PageConn> for ConnJson<'a> {
    fn from(c: &'a PageConn) -> Self {
        ConnJson {
            conn_id: c.id,
            server: c.server.to_string(),
            connect: c.start,
            connect_time: between(Some(c.start), c.connected),
            server_name: c.tls.as_ref().and_then(|t| t.server_name.as_deref()),
            tls_start: c.tls.as_ref().map(|t| t.start),
            tls_time: c.tls.as_ref().and_then(|t| between(Some(t.start), t.done)),
            requests: c.requests.iter().map(RequestJson::from).collect(),
            close: c.end,
            end_reason: c.end_reason,
            closed_by: c.closer.map(|s| s.name()),
            time_wait_end: c.time_wait_end,
        }
    }
}

impl<'a> From<&'a Page> for PageJson<'a> {
    fn from(p: &'a Page) -> Self {
        PageJson {
            kind_type: "page",
            client: p.client.to_string(),
            name: &p.name,
            start: p.start(),
            end: p.end(),
            dns: p.lookup.as_ref().map(|l| LookupJson {
                frame: l.query.frame,
                ts: l.query.ts,
                rtt: l.answer.map(|a| a.ts.since(l.query.ts)),
                rcode_name: l.rcode,
                answers: l.addrs.iter().map(ToString::to_string).collect(),
            }),
            connections: p.conns.iter().map(ConnJson::from).collect(),
        }
    }
}

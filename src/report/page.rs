//! Page loads: what a browser does between the URL and the page, rebuilt from the run's
//! records. A page is a client's DNS lookup and the connections it then opened to the addresses
//! the answer gave (within [`WINDOW`]), each with its handshake, TLS handshake and HTTP
//! requests (sent, waiting for the first byte, downloading), its close and its TIME-WAIT;
//! connections carrying HTTP or TLS that follow no lookup make pages of their own, named by the
//! server. Built only once the run produced application records (`--app`).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::event::{ConnRecord, Event};
use crate::proto::{AppRecord, At, DnsRecord, HttpRecord, TlsRecord};
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, Side};

/// How long after a DNS answer a connection to one of its addresses still belongs to it.
pub const WINDOW: Duration = Duration::from_secs(30);
/// Connections remembered at most (beyond: counted, left out of pages).
pub const MAX_CONNS: usize = 200_000;
/// Lookups remembered at most.
pub const MAX_LOOKUPS: usize = 100_000;

/// A DNS lookup as a page uses it.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The client.
    pub client: IpAddr,
    /// The name asked.
    pub name: String,
    /// The query.
    pub query: At,
    /// The answer, if one came.
    pub answer: Option<At>,
    /// Its response code's name.
    pub rcode: Option<&'static str>,
    /// The addresses it gave.
    pub addrs: Vec<IpAddr>,
}

/// One HTTP request of a page.
#[derive(Clone, Debug)]
pub struct Request {
    /// Method and target.
    pub method: Option<String>,
    /// Request target.
    pub uri: Option<String>,
    /// Status code.
    pub status: Option<u16>,
    /// Response body bytes.
    pub body: u64,
    /// Request sent: its first byte, its last byte.
    pub sent: Timestamp,
    /// The request's last byte.
    pub request_end: Option<Timestamp>,
    /// The response's first byte.
    pub first_byte: Option<Timestamp>,
    /// The response's last byte.
    pub last_byte: Option<Timestamp>,
}

/// A connection's TLS handshake.
#[derive(Clone, Debug)]
pub struct TlsPhase {
    /// The ClientHello.
    pub start: Timestamp,
    /// Both sides sent application data.
    pub done: Option<Timestamp>,
    /// The server name the client asked for.
    pub server_name: Option<String>,
}

/// What arrived for a connection before its record: its requests and TLS handshake.
type Early = (Vec<Request>, Option<TlsPhase>);

/// One connection of a page.
#[derive(Clone, Debug)]
pub struct PageConn {
    /// Connection id.
    pub id: u64,
    /// The client.
    pub client: IpAddr,
    /// The server.
    pub server: Endpoint,
    /// The first segment (the SYN).
    pub start: Timestamp,
    /// The handshake completed (the third ACK).
    pub connected: Option<Timestamp>,
    /// Its TLS handshake.
    pub tls: Option<TlsPhase>,
    /// HTTP requests in order.
    pub requests: Vec<Request>,
    /// The last segment.
    pub end: Timestamp,
    /// How it ended (`fin`, `rst`, ...).
    pub end_reason: &'static str,
    /// The side that closed first.
    pub closer: Option<Side>,
    /// TIME-WAIT's end, when a side entered it (with stories kept).
    pub time_wait_end: Option<Timestamp>,
}

/// One page load.
#[derive(Clone, Debug)]
pub struct Page {
    /// The client.
    pub client: IpAddr,
    /// The name looked up (or the server's address, without a lookup).
    pub name: String,
    /// The lookup.
    pub lookup: Option<Lookup>,
    /// The connections, by start.
    pub conns: Vec<PageConn>,
}

impl Page {
    /// The page's first moment.
    pub fn start(&self) -> Timestamp {
        let l = self.lookup.as_ref().map(|l| l.query.ts);
        let c = self.conns.iter().map(|c| c.start).min();
        l.into_iter().chain(c).min().unwrap_or_default()
    }

    /// Its last moment (TIME-WAIT left out: the client is done before it ends).
    pub fn end(&self) -> Timestamp {
        let l = self
            .lookup
            .as_ref()
            .map(|l| l.answer.map_or(l.query.ts, |a| a.ts));
        let c = self.conns.iter().map(|c| c.end).max();
        l.into_iter().chain(c).max().unwrap_or_default()
    }
}

/// Builds pages from a run's events.
#[derive(Debug, Default)]
pub struct PageBuilder {
    /// Collecting: an application record was seen.
    on: bool,
    lookups: Vec<Lookup>,
    conns: HashMap<u64, PageConn, foldhash::fast::RandomState>,
    /// HTTP and TLS records of connections not closed yet.
    pending: HashMap<u64, Early>,
    /// Connections or lookups beyond the caps.
    pub left_out: u64,
}

impl PageBuilder {
    /// Notes what `e` tells about page loads.
    pub fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::App(r) => {
                self.on = true;
                match r {
                    AppRecord::Dns(d) => self.lookup(d),
                    AppRecord::Http(h) => self.request(h),
                    AppRecord::Tls(t) => self.tls(t),
                    AppRecord::Session(_) => {}
                }
            }
            Event::Closed(c) if self.on => self.closed(c),
            _ => {}
        }
    }

    fn lookup(&mut self, d: &DnsRecord) {
        let Some(name) = &d.query else { return };
        if d.queries == 0 {
            return;
        }
        if self.lookups.len() >= MAX_LOOKUPS {
            self.left_out += 1;
            return;
        }
        self.lookups.push(Lookup {
            client: d.orig.addr,
            name: name.clone(),
            query: At {
                ts: d.ts,
                frame: d.frame,
            },
            answer: d.rtt.zip(d.response_frame).map(|(rtt, frame)| At {
                ts: d.ts.add(rtt),
                frame,
            }),
            rcode: d.rcode.map(crate::proto::rcode_name),
            addrs: d.answers.iter().filter_map(|a| a.parse().ok()).collect(),
        });
    }

    fn request(&mut self, h: &HttpRecord) {
        let r = Request {
            method: h.method.clone(),
            uri: h.uri.clone(),
            status: h.status_code,
            body: h.response_body_len,
            sent: h.ts,
            request_end: h.request_end.map(|a| a.ts),
            first_byte: h.response_start.map(|a| a.ts),
            last_byte: h.response_end.map(|a| a.ts),
        };
        match self.conns.get_mut(&h.conn_id) {
            Some(c) => c.requests.push(r),
            None => self.pending.entry(h.conn_id).or_default().0.push(r),
        }
    }

    fn tls(&mut self, t: &TlsRecord) {
        let done = t
            .first_data
            .iter()
            .map(|(_, a)| a.map(|a| a.ts))
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().max());
        let tls = Some(TlsPhase {
            start: t.ts,
            done,
            server_name: t.server_name.clone(),
        });
        match self.conns.get_mut(&t.conn_id) {
            Some(c) => c.tls = tls,
            None => self.pending.entry(t.conn_id).or_default().1 = tls,
        }
    }

    fn closed(&mut self, r: &ConnRecord) {
        if !r.saw_start() {
            return;
        }
        if self.conns.len() >= MAX_CONNS {
            self.left_out += 1;
            return;
        }
        let (requests, tls) = self.pending.remove(&r.id).unwrap_or_default();
        self.conns.insert(
            r.id,
            PageConn {
                id: r.id,
                client: r.orig.addr,
                server: r.resp,
                start: r.first_ts,
                connected: r.handshake.ack_ts,
                tls,
                requests,
                end: r.last_ts,
                end_reason: r.end_reason.map_or("open", |e| e.name()),
                closer: r.first_fin,
                time_wait_end: r
                    .story
                    .as_deref()
                    .and_then(|m| m.time_wait)
                    .map(|(_, _, until)| until),
            },
        );
    }

    /// The pages, in order of start.
    pub fn pages(&mut self) -> Vec<Page> {
        if !self.on {
            return Vec::new();
        }
        self.lookups.sort_by_key(|l| l.query.ts);
        let mut conns: Vec<PageConn> = self.conns.drain().map(|(_, c)| c).collect();
        conns.sort_by_key(|c| (c.start, c.id));
        let mut pages: Vec<Page> = self
            .lookups
            .iter()
            .map(|l| Page {
                client: l.client,
                name: l.name.clone(),
                lookup: Some(l.clone()),
                conns: Vec::new(),
            })
            .collect();
        // Lookups by client, for the search below.
        let mut by_client: HashMap<IpAddr, Vec<usize>> = HashMap::new();
        for (i, l) in self.lookups.iter().enumerate() {
            by_client.entry(l.client).or_default().push(i);
        }
        let mut alone: HashMap<(IpAddr, IpAddr), usize> = HashMap::new();
        for c in conns {
            let client = c.client;
            // The latest lookup of this client answered before the connection started whose
            // addresses include the server, within the window.
            let found = by_client.get(&client).and_then(|v| {
                v.iter().rev().copied().find(|&i| {
                    let l = &self.lookups[i];
                    l.answer
                        .is_some_and(|a| a.ts <= c.start && c.start.since(a.ts) <= WINDOW)
                        && l.addrs.contains(&c.server.addr)
                })
            });
            match found {
                Some(i) => pages[i].conns.push(c),
                None if !c.requests.is_empty() || c.tls.is_some() => {
                    let i = *alone.entry((client, c.server.addr)).or_insert_with(|| {
                        pages.push(Page {
                            client,
                            name: c
                                .tls
                                .as_ref()
                                .and_then(|t| t.server_name.clone())
                                .unwrap_or_else(|| c.server.addr.to_string()),
                            lookup: None,
                            conns: Vec::new(),
                        });
                        pages.len() - 1
                    });
                    pages[i].conns.push(c);
                }
                _ => {}
            }
        }
        // A lookup that led nowhere is still a page: a failed or unused resolution.
        pages.sort_by_key(Page::start);
        pages
    }
}

//! Which protocol a connection speaks, told from its first bytes, and the framing of each
//! direction's bytes into that protocol's messages (HTTP/1 headers and bodies, TLS records,
//! DNS messages after their two-byte length).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::dns::{self, DnsTable, DnsTransport, Where};
use super::http::{self, HttpConn};
use super::tls::{self, TlsConn};
use super::{AppConfig, AppRecord, AppStats, At, ConnRef};
use crate::wire::{Datagram, PerSide, Side};

/// Deliveries looked at before a connection that told nothing is left alone.
const MAX_TRIES: u8 = 8;

/// HTTP/2's connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";
/// Largest TLS record (2^14 plus the expansion TLS 1.2 allows).
const MAX_TLS_RECORD: usize = (1 << 14) + 2048;

/// Whether a datagram looks like a QUIC long-header packet on port 443 (counted, not parsed).
pub(super) fn looks_like_quic(d: &Datagram, p: &[u8]) -> bool {
    (d.src.port == 443 || d.dst.port == 443)
        && p.len() >= 1200.min(p.len().max(5))
        && p.first().is_some_and(|b| b & 0xc0 == 0xc0)
        && p.get(1..5).is_some_and(|v| v != [0, 0, 0, 0])
}

/// What a connection speaks, as far as it is parsed.
#[derive(Debug)]
enum ConnApp {
    Http(Box<HttpConn>),
    Tls(Box<TlsState>),
    Dns(Box<DnsTcp>),
    /// The first deliveries told nothing; later ones may (a server answering HTTP to a client
    /// speaking something else; a request after a keep-alive probe's byte on a connection
    /// picked up midstream). The count of deliveries tried.
    Undecided(u8),
    /// Not parsed (another protocol, HTTP/2, or given up).
    Ignored,
}

/// A TLS connection's records being framed.
#[derive(Debug)]
struct TlsState {
    conn: TlsConn,
    /// Each side's incomplete record.
    bufs: PerSide<Vec<u8>>,
    /// Each side's application-data bytes still to skip.
    skip: PerSide<usize>,
    /// The record was written out.
    written: bool,
}

/// DNS over TCP: each side's incomplete message.
#[derive(Debug)]
struct DnsTcp {
    c: ConnRef,
    bufs: PerSide<Vec<u8>>,
}

/// The application state of every connection that sent bytes.
#[derive(Debug)]
pub(super) struct ConnApps {
    conns: HashMap<u64, ConnApp, foldhash::fast::RandomState>,
    /// The most connections held at once, which the table is charged for (see
    /// [`crate::wire::table_bytes`]).
    most: usize,
    /// The run's key for cookie-value hashes.
    key: u64,
}

impl Default for ConnApps {
    fn default() -> Self {
        use std::hash::BuildHasher;
        ConnApps {
            conns: HashMap::default(),
            most: 0,
            key: std::collections::hash_map::RandomState::new().hash_one(0x7463_7061_7564_6974u64),
        }
    }
}

impl ConnApps {
    /// Bytes of the parsers' per-connection state (the table's slots; message bytes buffered
    /// inside them are not counted).
    pub(super) fn memory_bytes(&self) -> usize {
        crate::wire::table_bytes(self.most, std::mem::size_of::<(u64, ConnApp)>())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn data(
        &mut self,
        c: ConnRef,
        side: Side,
        at: At,
        b: &[u8],
        (cfg, dns): (&AppConfig, &mut DnsTable),
        stats: &mut AppStats,
        out: &mut Vec<AppRecord>,
    ) -> bool {
        let key = self.key;
        let held = self.conns.len();
        let app = match self.conns.entry(c.id) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                self.most = self.most.max(held + 1);
                v.insert(detect(c, side, at, b, key, stats))
            }
        };
        if let ConnApp::Undecided(tried) = *app {
            *app = match detect(c, side, at, b, key, stats) {
                ConnApp::Undecided(_) if tried >= MAX_TRIES => ConnApp::Ignored,
                ConnApp::Undecided(_) => ConnApp::Undecided(tried + 1),
                other => other,
            };
        }
        match app {
            ConnApp::Http(h) => {
                if h.is_client(side) {
                    h.request_bytes(b, at, cfg, stats);
                } else {
                    h.response_bytes(b, at, cfg, stats, out);
                }
            }
            ConnApp::Tls(t) => {
                if !tls_bytes(t, side, at, b, stats) {
                    *app = ConnApp::Ignored;
                } else if t.conn.rec.established() && !t.written {
                    t.written = true;
                    out.push(AppRecord::Tls(t.conn.rec.clone()));
                    *app = ConnApp::Ignored;
                }
            }
            ConnApp::Dns(d) => {
                if !dns_tcp_bytes(d, side, at, b, cfg, dns, stats, out) {
                    *app = ConnApp::Ignored;
                }
            }
            ConnApp::Undecided(_) | ConnApp::Ignored => {}
        }
        !matches!(app, ConnApp::Ignored)
    }

    pub(super) fn gap(
        &mut self,
        id: u64,
        side: Side,
        len: u64,
        stats: &mut AppStats,
        out: &mut Vec<AppRecord>,
    ) {
        let Some(app) = self.conns.get_mut(&id) else {
            return;
        };
        match app {
            ConnApp::Http(h) => {
                stats.gap_bytes += len;
                let client = h.is_client(side);
                h.gap(client, len, stats, out);
            }
            ConnApp::Tls(t) if t.skip[side] as u64 >= len => {
                // Inside application data: only bytes nobody reads are missing.
                t.skip[side] -= len as usize;
            }
            ConnApp::Dns(d) => {
                // The message under way is lost; framing resumes with the next delivery (a
                // segment usually begins a message).
                stats.gap_bytes += len;
                d.bufs[side].clear();
            }
            ConnApp::Tls(_) => {
                stats.gap_bytes += len;
                stats.given_up += 1;
                *app = ConnApp::Ignored;
            }
            ConnApp::Undecided(_) | ConnApp::Ignored => {}
        }
    }

    /// The HTTP request under way on connection `id`: method and target.
    pub(super) fn in_flight(&self, id: u64) -> Option<(Option<&str>, Option<&str>)> {
        match self.conns.get(&id)? {
            ConnApp::Http(h) => h
                .in_flight()
                .map(|r| (r.method.as_deref(), r.uri.as_deref())),
            _ => None,
        }
    }

    pub(super) fn close(&mut self, id: u64, out: &mut Vec<AppRecord>) {
        if let Some(app) = self.conns.remove(&id) {
            end(app, out);
        }
    }

    pub(super) fn finish(&mut self, out: &mut Vec<AppRecord>) {
        let mut left: Vec<(u64, ConnApp)> = self.conns.drain().collect();
        left.sort_by_key(|(id, _)| *id);
        for (_, app) in left {
            end(app, out);
        }
    }
}

/// What a connection leaves when it ends.
fn end(app: ConnApp, out: &mut Vec<AppRecord>) {
    match app {
        ConnApp::Http(mut h) => h.close(out),
        ConnApp::Tls(t) if !t.written => out.push(AppRecord::Tls(t.conn.rec)),
        _ => {}
    }
}

/// Tells the protocol from the first bytes a connection delivered.
fn detect(c: ConnRef, side: Side, at: At, b: &[u8], key: u64, stats: &mut AppStats) -> ConnApp {
    if c.resp.port == 53 || c.orig.port == 53 {
        return ConnApp::Dns(Box::new(DnsTcp {
            c,
            bufs: PerSide::default(),
        }));
    }
    match side {
        Side::Orig if b.starts_with(H2_PREFACE) => {
            stats.http2 += 1;
            ConnApp::Ignored
        }
        Side::Orig if http::starts_request(b) => http(c, key, false),
        Side::Resp if http::starts_response(b) => http(c, key, false),
        // The roles the other way round: a connection picked up midstream with the server's
        // segment first.
        Side::Orig if b.len() >= 8 && http::starts_response(b) => http(c, key, true),
        Side::Resp if b.len() >= 8 && http::starts_request(b) => http(c, key, true),
        _ if tls::starts_tls(b) => ConnApp::Tls(Box::new(TlsState {
            conn: TlsConn::new(c, at),
            bufs: PerSide::default(),
            skip: PerSide::default(),
            written: false,
        })),
        _ => ConnApp::Undecided(0),
    }
}

fn http(c: ConnRef, key: u64, flipped: bool) -> ConnApp {
    ConnApp::Http(Box::new(HttpConn::new(c, key, flipped)))
}

/// Frames `b` into TLS records; returns false when the direction cannot be framed.
fn tls_bytes(t: &mut TlsState, side: Side, at: At, mut b: &[u8], stats: &mut AppStats) -> bool {
    while !b.is_empty() {
        if t.skip[side] > 0 {
            let n = t.skip[side].min(b.len());
            t.skip[side] -= n;
            b = &b[n..];
            continue;
        }
        let buf = &mut t.bufs[side];
        // An SSL 2.0-format ClientHello (two-byte header with the high bit set) opening the
        // client's stream: old clients offering TLS this way; the server answers in TLS.
        let v2 = buf.first().or(b.first()).is_some_and(|h| h & 0x80 != 0)
            && side == Side::Orig
            && t.conn.rec.client_versions.is_empty();
        if v2 {
            if buf.len() < 2 {
                let need = (2 - buf.len()).min(b.len());
                buf.extend_from_slice(&b[..need]);
                b = &b[need..];
                if buf.len() < 2 {
                    return true;
                }
            }
            let len = usize::from(u16::from_be_bytes([buf[0] & 0x7f, buf[1]]));
            let need = (2 + len - buf.len()).min(b.len());
            buf.extend_from_slice(&b[..need]);
            b = &b[need..];
            if buf.len() == 2 + len {
                let record = std::mem::take(buf);
                if !t.conn.sslv2_hello(at, &record) {
                    stats.given_up += 1;
                    return false;
                }
            }
            continue;
        }
        // Complete the 5-byte header first.
        if buf.len() < 5 {
            let need = (5 - buf.len()).min(b.len());
            buf.extend_from_slice(&b[..need]);
            b = &b[need..];
            if buf.len() < 5 {
                return true;
            }
        }
        let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
        if !(20..=24).contains(&buf[0]) || buf[1] != 3 || len > MAX_TLS_RECORD {
            stats.given_up += 1;
            return false;
        }
        if buf[0] == 23 {
            // Application data: its header is all that matters; the bytes are skipped.
            t.conn.record(side, at, buf);
            buf.clear();
            t.skip[side] = len;
            continue;
        }
        let need = (5 + len - buf.len()).min(b.len());
        buf.extend_from_slice(&b[..need]);
        b = &b[need..];
        if buf.len() == 5 + len {
            let record = std::mem::take(buf);
            t.conn.record(side, at, &record);
        }
    }
    true
}

/// Frames `b` into DNS messages (two-byte length, then the message); returns false when the
/// direction cannot be framed.
#[allow(clippy::too_many_arguments)]
fn dns_tcp_bytes(
    d: &mut DnsTcp,
    side: Side,
    at: At,
    b: &[u8],
    cfg: &AppConfig,
    table: &mut DnsTable,
    stats: &mut AppStats,
    out: &mut Vec<AppRecord>,
) -> bool {
    let buf = &mut d.bufs[side];
    buf.extend_from_slice(b);
    loop {
        if buf.len() < 2 {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
        if buf.len() < 2 + len {
            return true;
        }
        let Some(m) = dns::parse(&buf[2..2 + len]) else {
            stats.dns_malformed += 1;
            stats.given_up += 1;
            return false;
        };
        stats.dns_messages += 1;
        let (src, dst) = match side {
            Side::Orig => (d.c.orig, d.c.resp),
            Side::Resp => (d.c.resp, d.c.orig),
        };
        let w = Where {
            src,
            dst,
            transport: DnsTransport::Tcp,
            conn_id: Some(d.c.id),
            at,
        };
        table.message(&m, w, cfg, stats, out);
        buf.drain(..2 + len);
    }
}

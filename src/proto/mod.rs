//! The application layer above TCP and UDP: DNS, TLS handshakes and HTTP/1.x, read from the
//! reassembled byte streams of connections and from UDP datagrams, with the times a person asks
//! about (query to answer, ClientHello to first application data, request to first response
//! byte). No decryption, no bodies kept: headers and framing only.
//!
//! This layer sits just above `wire`: it knows endpoints, sides and timestamps, not the
//! connection table. The table feeds it (`flow`) and its records travel as events (`event`).
//! Every buffer is bounded ([`AppConfig`]): a message that does not fit is counted and its
//! direction given up, never grown without bound.

mod body;
mod cookie;
mod dns;
mod http;
mod session;
mod stream;
mod tls;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod tests;

use crate::time::{Duration, Timestamp};
use crate::wire::{Datagram, Endpoint, Side};

pub use cookie::{Cookie, CookieAttrs};
pub use dns::{DnsFlags, DnsRecord, DnsTransport, class_name, rcode_name, type_name};
pub use http::HttpRecord;
pub use session::{MAX_CLIENTS, MAX_CONNS, MAX_HOSTS, SessionRecord, session_name};
pub use tls::{TlsRecord, cipher_name, version_name};

use self::dns::DnsTable;
use self::stream::ConnApps;

/// Limits of the application layer.
#[derive(Clone, Copy, Debug)]
pub struct AppConfig {
    /// Parse DNS, TLS and HTTP at all.
    pub enabled: bool,
    /// DNS queries awaiting an answer, at most (beyond: the oldest is given up).
    pub max_pending_dns: usize,
    /// How long a DNS query waits for its answer.
    pub dns_timeout: Duration,
    /// Largest HTTP header block or TLS handshake message buffered per direction.
    pub max_message: usize,
    /// HTTP requests awaiting their responses per connection, at most.
    pub max_pending_requests: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            enabled: false,
            max_pending_dns: 65_536,
            dns_timeout: Duration::from_secs(10),
            max_message: 64 << 10,
            max_pending_requests: 64,
        }
    }
}

/// Where something was seen: a capture time and frame number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// Capture time.
    pub ts: Timestamp,
    /// Frame number.
    pub frame: u64,
}

/// The connection a stream belongs to, as the application layer sees it.
#[derive(Clone, Copy, Debug)]
pub struct ConnRef {
    /// Connection id.
    pub id: u64,
    /// Its originator.
    pub orig: Endpoint,
    /// Its responder.
    pub resp: Endpoint,
    /// Its handshake round-trip time, when measured (splits an HTTP wait into network and
    /// server time).
    pub rtt: Option<Duration>,
}

/// One application-layer record.
#[derive(Clone, Debug)]
pub enum AppRecord {
    /// A DNS query and its answer (or its lack).
    Dns(DnsRecord),
    /// A TLS handshake as far as it was seen in the clear.
    Tls(TlsRecord),
    /// An HTTP/1.x request and its response.
    Http(HttpRecord),
    /// A session (the requests carrying one session cookie value), at the end of the run.
    Session(SessionRecord),
}

/// Counters of the application layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct AppStats {
    /// DNS messages parsed (queries and responses).
    pub dns_messages: u64,
    /// UDP datagrams on DNS ports that did not parse as DNS.
    pub dns_malformed: u64,
    /// DNS queries given up because too many were pending.
    pub dns_evicted: u64,
    /// HTTP requests and responses parsed.
    pub http_messages: u64,
    /// Connection directions recognised as HTTP/2 (the preface), counted, not parsed.
    pub http2: u64,
    /// UDP datagrams that look like QUIC long-header packets, counted, not parsed.
    pub quic: u64,
    /// Directions given up: a message over [`AppConfig::max_message`], a malformed header, a
    /// gap in the stream in the middle of a message.
    pub given_up: u64,
    /// Of those, over the size limit.
    pub oversized: u64,
    /// Bytes missed in streams being parsed (holes the capture did not fill).
    pub gap_bytes: u64,
}

/// The application layer of one run.
#[derive(Debug)]
pub struct AppLayer {
    cfg: AppConfig,
    dns: DnsTable,
    conns: ConnApps,
    out: Vec<AppRecord>,
    stats: AppStats,
}

impl AppLayer {
    /// An application layer with these limits.
    pub fn new(cfg: AppConfig) -> Self {
        AppLayer {
            cfg,
            dns: DnsTable::default(),
            conns: ConnApps::default(),
            out: Vec::new(),
            stats: AppStats::default(),
        }
    }

    /// Bytes of state held now: pending DNS queries and each connection's parser state (charged
    /// to `--max-memory`).
    pub fn memory_bytes(&self) -> usize {
        self.dns.memory_bytes() + self.conns.memory_bytes()
    }

    /// A UDP datagram and its payload.
    pub fn udp(&mut self, d: &Datagram, payload: &[u8]) {
        self.dns.expire(d.ts, &mut self.out);
        if dns::wanted_udp(d, payload) {
            match dns::parse(payload) {
                Some(m) => {
                    self.stats.dns_messages += 1;
                    self.dns.message(
                        &m,
                        dns::Where::udp(d),
                        &self.cfg,
                        &mut self.stats,
                        &mut self.out,
                    );
                }
                None if dns::well_known(d) => self.stats.dns_malformed += 1,
                None => {}
            }
        } else if stream::looks_like_quic(d, payload) {
            self.stats.quic += 1;
        }
    }

    /// `bytes` continue the stream `side` of connection `c` sent; `at` is the segment that
    /// delivered them. Returns false once the connection's bytes no longer matter (an unknown
    /// protocol, a finished TLS handshake, a direction given up): the caller may stop sending
    /// them, though its holes and end still count.
    pub fn data(&mut self, c: ConnRef, side: Side, at: At, bytes: &[u8]) -> bool {
        self.conns.data(
            c,
            side,
            at,
            bytes,
            (&self.cfg, &mut self.dns),
            &mut self.stats,
            &mut self.out,
        )
    }

    /// `len` bytes of the stream `side` of connection `id` sent are missing from the capture.
    pub fn gap(&mut self, id: u64, side: Side, len: u64) {
        self.conns
            .gap(id, side, len, &mut self.stats, &mut self.out);
    }

    /// The HTTP request under way on connection `id`, as `METHOD target`, if any (the context
    /// of a reset or a stalled window on it).
    pub fn in_flight(&self, id: u64) -> Option<String> {
        let (m, u) = self.conns.in_flight(id)?;
        Some(format!("{} {}", m.unwrap_or("?"), u.unwrap_or("?")))
    }

    /// Connection `id` ended: what it left unfinished is written out.
    pub fn close(&mut self, id: u64) {
        self.conns.close(id, &mut self.out);
    }

    /// The clock moved to `now`: unanswered DNS queries past their timeout are written out.
    pub fn advance(&mut self, now: Timestamp) {
        self.dns.expire(now, &mut self.out);
    }

    /// The run ended: everything still pending is written out.
    pub fn finish(&mut self) {
        self.conns.finish(&mut self.out);
        self.dns.finish(&mut self.out);
    }

    /// The records decided since the last call, in the order decided.
    pub fn take(&mut self) -> std::vec::Drain<'_, AppRecord> {
        self.out.drain(..)
    }

    /// Records are waiting.
    pub fn has_records(&self) -> bool {
        !self.out.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> AppStats {
        self.stats
    }
}

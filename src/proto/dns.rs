//! DNS over UDP and TCP: messages parsed with simple-dns, queries matched to responses by
//! client, server, transport and transaction id (as Zeek's dns.log and Wireshark's
//! `dns.response_to` do), repeated queries counted, unanswered ones written out after a timeout.

use std::collections::{HashMap, VecDeque};

use simple_dns::Packet;
use simple_dns::rdata::RData;

use super::{AppConfig, AppRecord, AppStats, At};
use crate::time::{Duration, Timestamp};
use crate::wire::{Datagram, Endpoint};

/// Ports where a datagram is DNS without looking: DNS, multicast DNS, LLMNR.
const PORTS: [u16; 3] = [53, 5353, 5355];

/// Answers kept per response.
const MAX_ANSWERS: usize = 32;

/// How a DNS message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsTransport {
    /// A UDP datagram.
    Udp,
    /// A TCP stream (each message after a two-byte length).
    Tcp,
}

impl DnsTransport {
    /// The IP protocol number (UDP 17, TCP 6).
    pub fn ip_proto(self) -> u8 {
        match self {
            DnsTransport::Udp => 17,
            DnsTransport::Tcp => 6,
        }
    }

    /// Zeek's `proto` field.
    pub const fn name(self) -> &'static str {
        match self {
            DnsTransport::Udp => "udp",
            DnsTransport::Tcp => "tcp",
        }
    }
}

/// Header flags of the response (of the query while unanswered).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
}

/// A DNS query and its answer, or its lack.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsRecord {
    /// The query's time (the response's when no query was seen).
    pub ts: Timestamp,
    /// The query's frame (the response's when no query was seen).
    pub frame: u64,
    /// The TCP connection, for DNS over TCP.
    pub conn_id: Option<u64>,
    /// The client.
    pub orig: Endpoint,
    /// The server.
    pub resp: Endpoint,
    /// How it travelled.
    pub transport: DnsTransport,
    /// Transaction id.
    pub trans_id: u16,
    /// The queried name (of the first question), without the trailing dot.
    pub query: Option<String>,
    /// Its class.
    pub qclass: Option<u16>,
    /// Its type.
    pub qtype: Option<u16>,
    /// The response code, if answered.
    pub rcode: Option<u8>,
    /// Header flags.
    pub flags: DnsFlags,
    /// Answer data in order (addresses, names; other types by name).
    pub answers: Vec<String>,
    /// Their TTLs.
    pub ttls: Vec<u32>,
    /// Query to response.
    pub rtt: Option<Duration>,
    /// The response's frame.
    pub response_frame: Option<u64>,
    /// Queries sent with this id (1, plus retransmissions).
    pub queries: u32,
    /// Responses received for it.
    pub responses: u32,
}

impl DnsRecord {
    /// `answered`, `unanswered` (no response by the timeout or the end of the capture) or
    /// `no_query` (a response whose query the capture lacks).
    pub fn status(&self) -> &'static str {
        match (self.queries, self.responses) {
            (0, _) => "no_query",
            (_, 0) => "unanswered",
            _ => "answered",
        }
    }
}

/// One parsed message.
#[derive(Debug)]
pub(super) struct Msg {
    id: u16,
    response: bool,
    flags: DnsFlags,
    rcode: u8,
    question: Option<(String, u16, u16)>,
    answers: Vec<(String, u32)>,
}

/// Whether a datagram is worth parsing as DNS: a DNS port, or a plausible header (one
/// question, a standard opcode) anywhere else.
pub(super) fn wanted_udp(d: &Datagram, payload: &[u8]) -> bool {
    if well_known(d) {
        return true;
    }
    payload.len() >= 17
        && u16::from_be_bytes([payload[4], payload[5]]) == 1
        && (payload[2] >> 3) & 0x0f <= 2
        && payload[3] & 0x40 == 0
}

/// On a DNS port.
pub(super) fn well_known(d: &Datagram) -> bool {
    PORTS.contains(&d.src.port) || PORTS.contains(&d.dst.port)
}

/// Parses one DNS message, or `None` if it is not one.
pub(super) fn parse(bytes: &[u8]) -> Option<Msg> {
    let p = Packet::parse(bytes).ok()?;
    let h = bytes.get(..4)?;
    let flags = DnsFlags {
        aa: h[2] & 0x04 != 0,
        tc: h[2] & 0x02 != 0,
        rd: h[2] & 0x01 != 0,
        ra: h[3] & 0x80 != 0,
    };
    let question = p.questions.first().map(|q| {
        (
            q.qname.to_string().trim_end_matches('.').to_string(),
            u16::from(q.qtype),
            u16::from(q.qclass),
        )
    });
    let answers = p
        .answers
        .iter()
        .take(MAX_ANSWERS)
        .map(|rr| (answer_text(&rr.rdata), rr.ttl))
        .collect();
    Some(Msg {
        id: p.id(),
        response: h[2] & 0x80 != 0,
        flags,
        rcode: h[3] & 0x0f,
        question,
        answers,
    })
}

/// An answer as Zeek's `answers` prints it: addresses and names, other types by name.
fn answer_text(r: &RData<'_>) -> String {
    match r {
        RData::A(a) => std::net::Ipv4Addr::from(a.address).to_string(),
        RData::AAAA(a) => std::net::Ipv6Addr::from(a.address).to_string(),
        RData::CNAME(n) => n.0.to_string().trim_end_matches('.').to_string(),
        RData::NS(n) => n.0.to_string().trim_end_matches('.').to_string(),
        RData::PTR(n) => n.0.to_string().trim_end_matches('.').to_string(),
        RData::MX(m) => m.exchange.to_string().trim_end_matches('.').to_string(),
        other => format!(
            "<{}>",
            type_name(u16::from(other.type_code())).unwrap_or("?")
        ),
    }
}

/// The mnemonic of a record type, for the common ones.
pub fn type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        64 => "SVCB",
        65 => "HTTPS",
        251 => "IXFR",
        252 => "AXFR",
        255 => "*",
        257 => "CAA",
        _ => return None,
    })
}

/// A response code's name, as Zeek's `rcode_name` writes it.
pub fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "unknown",
    }
}

/// A class's name (`C_INTERNET` as Zeek writes IN).
pub fn class_name(c: u16) -> &'static str {
    match c & 0x7fff {
        1 => "C_INTERNET",
        3 => "C_CHAOS",
        4 => "C_HESIOD",
        254 => "C_NONE",
        255 => "C_ANY",
        _ => "unknown",
    }
}

/// Where a message was seen: its sender and receiver, transport and connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct Where {
    pub(super) src: Endpoint,
    pub(super) dst: Endpoint,
    pub(super) transport: DnsTransport,
    pub(super) conn_id: Option<u64>,
    pub(super) at: At,
}

impl Where {
    /// A datagram's.
    pub(super) fn udp(d: &Datagram) -> Self {
        Where {
            src: d.src,
            dst: d.dst,
            transport: DnsTransport::Udp,
            conn_id: None,
            at: At {
                ts: d.ts,
                frame: d.frame,
            },
        }
    }
}

/// What identifies a query: client, server, transport, connection and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    client: Endpoint,
    server: Endpoint,
    transport: DnsTransport,
    conn_id: Option<u64>,
    id: u16,
}

/// Queries awaiting answers, by key, with their deadlines in order.
#[derive(Debug, Default)]
pub(super) struct DnsTable {
    pending: HashMap<Key, DnsRecord>,
    /// The most queries pending at once, which the table is charged for (see
    /// [`crate::wire::table_bytes`]).
    most: usize,
    /// (deadline, key), oldest first; entries whose query was answered are skipped.
    deadlines: VecDeque<(Timestamp, Key, u64)>,
}

impl DnsTable {
    /// Bytes of the pending queries and their deadlines.
    pub(super) fn memory_bytes(&self) -> usize {
        crate::wire::table_bytes(self.most, std::mem::size_of::<(Key, DnsRecord)>())
            + self.deadlines.capacity() * std::mem::size_of::<(Timestamp, Key, u64)>()
    }

    /// Notes message `m`, seen at `w`.
    pub(super) fn message(
        &mut self,
        m: &Msg,
        w: Where,
        cfg: &AppConfig,
        stats: &mut AppStats,
        out: &mut Vec<AppRecord>,
    ) {
        let (client, server) = if m.response {
            (w.dst, w.src)
        } else {
            (w.src, w.dst)
        };
        let key = Key {
            client,
            server,
            transport: w.transport,
            conn_id: w.conn_id,
            id: m.id,
        };
        if !m.response {
            if let Some(p) = self.pending.get_mut(&key)
                && p.query.as_deref() == m.question.as_ref().map(|q| q.0.as_str())
            {
                // The client asked again before an answer came: a retransmission.
                p.queries += 1;
                return;
            }
            if let Some(old) = self.pending.remove(&key) {
                // The same id reused for another question: the old one stays unanswered.
                out.push(AppRecord::Dns(old));
            }
            if self.pending.len() >= cfg.max_pending_dns {
                self.evict_oldest(stats, out);
            }
            let rec = new_record(m, key, w, 1, 0);
            if self.deadlines.len() > 2 * cfg.max_pending_dns {
                // Answered queries leave their deadlines behind; drop those so a busy resolver
                // cannot grow the queue past its bound.
                let pending = &self.pending;
                self.deadlines
                    .retain(|(_, k, f)| pending.get(k).is_some_and(|r| r.frame == *f));
            }
            self.deadlines
                .push_back((w.at.ts.add(cfg.dns_timeout), key, w.at.frame));
            self.pending.insert(key, rec);
            self.most = self.most.max(self.pending.len());
            return;
        }
        let mut rec = match self.pending.remove(&key) {
            Some(r) => r,
            None => new_record(m, key, w, 0, 0),
        };
        rec.responses += 1;
        if rec.queries > 0 {
            rec.rtt = Some(w.at.ts.since(rec.ts));
        }
        rec.response_frame = Some(w.at.frame);
        rec.rcode = Some(m.rcode);
        rec.flags = m.flags;
        rec.answers = m.answers.iter().map(|a| a.0.clone()).collect();
        rec.ttls = m.answers.iter().map(|a| a.1).collect();
        if rec.query.is_none()
            && let Some((name, qtype, qclass)) = &m.question
        {
            rec.query = Some(name.clone());
            rec.qtype = Some(*qtype);
            rec.qclass = Some(*qclass);
        }
        out.push(AppRecord::Dns(rec));
    }

    /// Writes out the queries whose deadline passed by `now`.
    pub(super) fn expire(&mut self, now: Timestamp, out: &mut Vec<AppRecord>) {
        while let Some(&(deadline, key, frame)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            self.give_up(key, frame, out);
        }
    }

    /// Gives up the oldest pending query to make room.
    fn evict_oldest(&mut self, stats: &mut AppStats, out: &mut Vec<AppRecord>) {
        while let Some((_, key, frame)) = self.deadlines.pop_front() {
            if self.give_up(key, frame, out) {
                stats.dns_evicted += 1;
                return;
            }
        }
    }

    /// Writes out the query `key` first seen at `frame`, if it is still pending; returns
    /// whether it was.
    fn give_up(&mut self, key: Key, frame: u64, out: &mut Vec<AppRecord>) -> bool {
        match self.pending.get(&key) {
            Some(r) if r.frame == frame => {
                if let Some(r) = self.pending.remove(&key) {
                    out.push(AppRecord::Dns(r));
                }
                true
            }
            _ => false,
        }
    }

    /// The run ended: every pending query is unanswered. They are written in the order they
    /// came, which their deadlines keep (every pending query has one), not in the map's order:
    /// that is seeded anew by every run, and queries delivered in one TCP segment share a frame.
    pub(super) fn finish(&mut self, out: &mut Vec<AppRecord>) {
        while let Some((_, key, frame)) = self.deadlines.pop_front() {
            self.give_up(key, frame, out);
        }
        debug_assert!(
            self.pending.is_empty(),
            "a pending query without a deadline"
        );
        // None is expected here; should one be, by frame, then by what identifies it.
        let mut left: Vec<DnsRecord> = self.pending.drain().map(|(_, r)| r).collect();
        left.sort_by_key(|r| (r.frame, r.conn_id, r.orig, r.resp, r.trans_id));
        out.extend(left.into_iter().map(AppRecord::Dns));
    }
}

fn new_record(m: &Msg, key: Key, w: Where, queries: u32, responses: u32) -> DnsRecord {
    let q = m.question.as_ref();
    DnsRecord {
        ts: w.at.ts,
        frame: w.at.frame,
        conn_id: key.conn_id,
        orig: key.client,
        resp: key.server,
        transport: key.transport,
        trans_id: m.id,
        query: q.map(|q| q.0.clone()),
        qclass: q.map(|q| q.2),
        qtype: q.map(|q| q.1),
        rcode: None,
        flags: m.flags,
        answers: Vec::new(),
        ttls: Vec::new(),
        rtt: None,
        response_frame: None,
        queries,
        responses,
    }
}

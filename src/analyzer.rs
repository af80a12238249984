//! The sans-IO core: packets in, finished connection records and a summary out.
//!
//! [`Analyzer::push`] takes one captured frame (with its timestamp), decodes it, accounts it to its
//! connection and hands every connection that ends meanwhile to the caller. Nothing here reads
//! files, sockets or clocks, so offline, live and CI runs share it unchanged.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use serde::Serialize;

use crate::capture::Packet;
use crate::flow::{Connection, EndReason, Endpoint, FlowConfig, FlowStats, FlowTable};
use crate::time::Timestamp;
use crate::wire::{DecodeStats, Decoder};

/// Listeners tracked for the "top listeners" summary; beyond this many, new ones are only
/// counted in `other_listeners` (a spoofed scan cannot grow memory).
pub const MAX_LISTENERS: usize = 65_536;

/// Connection attempts seen by one listening endpoint (the responder of connections whose SYN
/// was captured).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ListenerCounts {
    /// Connection attempts (SYN seen).
    pub attempts: u64,
    /// Attempts answered by a SYN-ACK.
    pub answered: u64,
    /// Attempts whose handshake completed (third ACK or data).
    pub established: u64,
    /// Attempts answered by RST without a SYN-ACK (refused).
    pub refused: u64,
    /// Attempts that got no answer at all.
    pub unanswered: u64,
}

/// Everything counted over a run, besides the connection records themselves.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Frames read from the capture.
    pub packets: u64,
    /// Bytes of frames on the wire.
    pub wire_bytes: u64,
    /// Timestamp of the first frame.
    pub first_ts: Option<Timestamp>,
    /// Timestamp of the last frame.
    pub last_ts: Option<Timestamp>,
    /// Decoder counters.
    pub decode: DecodeStats,
    /// Connection table counters.
    pub flows: FlowStats,
    /// Connections by end reason, indexed like [`EndReason::ALL`].
    pub end_reasons: [u64; EndReason::COUNT],
    /// Per-listener counts.
    pub listeners: HashMap<Endpoint, ListenerCounts, foldhash::fast::RandomState>,
    /// Attempts to listeners beyond [`MAX_LISTENERS`].
    pub other_listeners: ListenerCounts,
}

impl Summary {
    /// The busiest listeners by attempts, at most `n`.
    pub fn top_listeners(&self, n: usize) -> Vec<(Endpoint, ListenerCounts)> {
        let mut v: Vec<_> = self.listeners.iter().map(|(e, c)| (*e, *c)).collect();
        v.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Non-TCP frames by protocol name.
    pub fn non_tcp(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for (p, &n) in self.decode.ip_protocols.iter().enumerate() {
            if n > 0 {
                *m.entry(ip_proto_name(p as u8)).or_insert(0) += n;
            }
        }
        for (&et, &n) in &self.decode.ether_types {
            *m.entry(ether_type_name(et)).or_insert(0) += n;
        }
        for (&what, &n) in &self.decode.other {
            *m.entry(what.to_string()).or_insert(0) += n;
        }
        m
    }

    fn account(&mut self, c: &Connection) {
        if let Some(r) = c.end_reason {
            self.end_reasons[r as usize] += 1;
        }
        if !c.saw_start() {
            return;
        }
        let resp = c.half(crate::flow::Side::Resp);
        let answered = resp.sent_synack;
        let n = self.listeners.len();
        let counts = match self.listeners.get_mut(&c.resp) {
            Some(l) => l,
            None if n < MAX_LISTENERS => self.listeners.entry(c.resp).or_default(),
            None => &mut self.other_listeners,
        };
        counts.attempts += 1;
        counts.answered += answered as u64;
        counts.established += c.handshake.ack_ts.is_some() as u64;
        counts.refused += (!answered && resp.rsts > 0) as u64;
        counts.unanswered += (resp.packets == 0) as u64;
    }
}

/// Name of an IP protocol number for the non-TCP summary.
pub fn ip_proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        2 => "igmp".into(),
        4 => "ipip".into(),
        17 => "udp".into(),
        41 => "ipv6_in_ip".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        58 => "icmpv6".into(),
        59 => "ipv6_no_next".into(),
        89 => "ospf".into(),
        103 => "pim".into(),
        112 => "vrrp".into(),
        132 => "sctp".into(),
        _ => format!("ip_proto_{p}"),
    }
}

/// Name of a non-IP EtherType for the non-TCP summary.
pub fn ether_type_name(et: u16) -> String {
    match et {
        0x0806 => "arp".into(),
        0x8035 => "rarp".into(),
        0x88cc => "lldp".into(),
        0x8863 => "pppoe_discovery".into(),
        0x888e => "eapol".into(),
        0x8809 => "slow_protocols".into(),
        0x9000 => "loopback".into(),
        0x88e5 => "macsec".into(),
        0x8899 => "realtek".into(),
        0x88f7 => "ptp".into(),
        0x8906 => "fcoe".into(),
        _ => format!("ethertype_0x{et:04x}"),
    }
}

/// Decoder plus connection table plus summary.
pub struct Analyzer {
    decoder: Decoder,
    flows: FlowTable,
    summary: Summary,
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(cfg: FlowConfig) -> Self {
        Analyzer {
            decoder: Decoder::new(),
            flows: FlowTable::new(cfg),
            summary: Summary::default(),
        }
    }

    /// Accounts one frame; connections that end meanwhile go to `out`.
    pub fn push(&mut self, pkt: &Packet<'_>, out: &mut impl FnMut(&Connection)) {
        let s = &mut self.summary;
        s.packets += 1;
        s.wire_bytes += pkt.orig_len as u64;
        if s.first_ts.is_none() {
            s.first_ts = Some(pkt.ts);
        }
        s.last_ts = Some(s.last_ts.map_or(pkt.ts, |t| t.max(pkt.ts)));
        let frame = s.packets;
        if let Some(seg) = self.decoder.decode(pkt, frame) {
            let summary = &mut self.summary;
            self.flows.process(&seg, &mut |c| {
                summary.account(&c);
                out(&c);
            });
        }
    }

    /// Ends the run: every open connection is handed to `out`, and the summary returned.
    pub fn finish(mut self, out: &mut impl FnMut(&Connection)) -> Summary {
        let summary = &mut self.summary;
        self.flows.finish(&mut |c| {
            summary.account(&c);
            out(&c);
        });
        self.decoder.finish();
        self.summary.decode = self.decoder.stats.clone();
        self.summary.flows = self.flows.stats;
        self.summary
    }
}

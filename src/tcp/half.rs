//! What one side of a connection sent: counters, its SYN's options, its stream and transfer
//! metrics. A connection has two halves, one per direction.

use super::metrics::Metrics;
use super::signals::HeaderSignals;
use super::throughput::{FlowCtx, WindowFlow};
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Segment, SeqNum, Side, TcpFlags, Tfo};

/// What one side announced in its SYN (or SYN-ACK).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps option present.
    pub timestamps: bool,
    /// TCP Fast Open option.
    pub tfo: Option<Tfo>,
    /// ECN: a SYN with ECE and CWR (setup request), or a SYN-ACK with ECE and not CWR (accepted).
    pub ecn: bool,
    /// Payload bytes carried by the SYN itself (TFO or T/TCP).
    pub syn_data: u32,
    /// The SYN's timestamp value (RFC 7323), which tells a replayed SYN from a new one.
    pub tsval: Option<u32>,
}

crate::base::pack::pack_struct!(SynOptions {
    mss,
    wscale,
    sack_permitted,
    timestamps,
    tfo,
    ecn,
    syn_data,
    tsval,
});

impl SynOptions {
    /// The options a SYN or SYN-ACK announced.
    pub fn from_segment(seg: &Segment<'_>) -> Self {
        let o = &seg.options;
        let ecn = if seg.flags.ack() {
            seg.flags.has(TcpFlags::ECE) && !seg.flags.has(TcpFlags::CWR)
        } else {
            seg.flags.has(TcpFlags::ECE | TcpFlags::CWR)
        };
        SynOptions {
            mss: o.mss,
            wscale: o.wscale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps.is_some(),
            tfo: o.tfo,
            ecn,
            syn_data: seg.payload_len,
            tsval: o.timestamps.map(|t| t.0),
        }
    }
}

/// Per-direction counters and facts; `half[Side::Orig]` is what the originator sent.
#[derive(Clone, Debug, Default)]
pub struct Half {
    /// Segments sent.
    pub packets: u64,
    /// IP bytes sent (IP header lengths, as Zeek's `*_ip_bytes`).
    pub ip_bytes: u64,
    /// TCP payload bytes sent, retransmissions included.
    pub payload_bytes: u64,
    /// Frame bytes on the wire (as tshark's conversation table counts).
    pub frame_bytes: u64,
    /// SYN segments sent (SYN-ACKs included).
    pub syns: u32,
    /// FIN segments sent.
    pub fins: u32,
    /// RST segments sent.
    pub rsts: u32,
    /// Initial sequence number (from this side's SYN).
    pub isn: Option<SeqNum>,
    /// Sequence number of the first segment seen from this side.
    pub first_seq: Option<SeqNum>,
    /// Options of this side's first SYN or SYN-ACK.
    pub options: Option<SynOptions>,
    /// Time of this side's first FIN.
    pub fin_ts: Option<Timestamp>,
    /// Time of this side's first RST.
    pub rst_ts: Option<Timestamp>,
    /// Whether this side sent a SYN without ACK.
    pub sent_syn: bool,
    /// Whether this side sent a SYN-ACK.
    pub sent_synack: bool,
    /// The last TSval this side sent (RFC 7323 timestamps).
    pub last_tsval: Option<u32>,
    /// Distinct payload bytes of this direction's stream (each byte once, in order).
    pub stream_bytes: u64,
    /// What few connections show in this direction (retransmissions, holes, ICMP errors,
    /// keep-alives, truncated segments): allocated when the first of it is set, read through
    /// [`Half::rare`].
    pub rare: Option<Box<HalfRare>>,
    /// RTT, window and flight metrics of what this side sent.
    pub metrics: Metrics,
    /// TTL (IPv6 hop limit) of this side's first segment: the hops a segment travelled from
    /// it to the capture point are its initial TTL (64, 128 or 255) minus this.
    pub ttl_first: Option<u8>,
    /// Smallest TTL this side's segments arrived with.
    pub ttl_min: Option<u8>,
    /// Largest TTL this side's segments arrived with.
    pub ttl_max: Option<u8>,
    /// Header flags and fields this side sent, and how it acknowledged the peer's data.
    pub signals: HeaderSignals,
    /// This side's window fields, the throughput of its new data, and how often the peer's
    /// window held it back.
    pub flow: WindowFlow,
}

/// What few connections show in one direction, kept out of line: most connections set none
/// of it (on a generated capture of 47,000 connections and on the shared test captures, each
/// field is set in under 5% of the directions), so a half holds a null pointer instead of
/// some 90 bytes of zeros.
#[derive(Clone, Debug, Default)]
pub struct HalfRare {
    /// Segments whose payload the snaplen cut.
    pub truncated: u64,
    /// Stream bytes never seen: holes acknowledged by the peer or left at the end (Zeek's
    /// `missed_bytes`, per direction).
    pub missed_bytes: u64,
    /// Bytes waiting beyond a hole when the connection ended.
    pub pending_at_close: u64,
    /// Retransmissions whose bytes differed from the bytes first seen (with --check-overlaps).
    pub overlap_conflicts: u32,
    /// Segments reassembly could not hold (its bytes or its range: memory bounds).
    pub reassembly_cap_hits: u32,
    /// Segments Wireshark would flag as retransmissions (fast and spurious included).
    pub retransmitted_packets: u32,
    /// Payload bytes of those segments.
    pub retransmitted_bytes: u64,
    /// Segments Wireshark would flag as out of order.
    pub out_of_order_packets: u32,
    /// Duplicate ACKs this side sent.
    pub duplicate_acks: u32,
    /// ICMP or ICMPv6 errors (time exceeded, unreachable, packet too big) that quoted a segment
    /// this side sent.
    pub icmp_errors: u32,
    /// Keep-alive probes this side sent (filled when the record is finished).
    pub keepalive_probes: u32,
    /// Time between this side's last two keep-alive probes (Linux: tcp_keepalive_intvl, 75 s).
    pub keepalive_interval: Option<crate::time::Duration>,
    /// This side's longest series of copies of one data or FIN segment (filled when the record
    /// is finished; boxed: most connections retransmit nothing).
    pub backoff: Option<Box<super::backoff::Backoff>>,
    /// This side's series of SYN (or SYN-ACK) copies, when it repeated one.
    pub syn_backoff: Option<Box<super::backoff::Backoff>>,
}

crate::base::pack::pack_struct!(HalfRare {
    truncated,
    missed_bytes,
    pending_at_close,
    overlap_conflicts,
    reassembly_cap_hits,
    retransmitted_packets,
    retransmitted_bytes,
    out_of_order_packets,
    duplicate_acks,
    icmp_errors,
    keepalive_probes,
    keepalive_interval,
    backoff,
    syn_backoff,
});

/// What a half without any of [`HalfRare`] reads.
static NO_RARE: HalfRare = HalfRare {
    truncated: 0,
    missed_bytes: 0,
    pending_at_close: 0,
    overlap_conflicts: 0,
    reassembly_cap_hits: 0,
    retransmitted_packets: 0,
    retransmitted_bytes: 0,
    out_of_order_packets: 0,
    duplicate_acks: 0,
    icmp_errors: 0,
    keepalive_probes: 0,
    keepalive_interval: None,
    backoff: None,
    syn_backoff: None,
};

crate::base::pack::pack_struct!(Half {
    packets,
    ip_bytes,
    payload_bytes,
    frame_bytes,
    syns,
    fins,
    rsts,
    isn,
    first_seq,
    options,
    fin_ts,
    rst_ts,
    sent_syn,
    sent_synack,
    last_tsval,
    stream_bytes,
    rare,
    metrics,
    ttl_first,
    ttl_min,
    ttl_max,
    signals,
    flow,
});

/// What the connection's state says about a segment `side` sent, for [`account_sent`].
#[derive(Clone, Copy, Debug)]
pub struct SentCtx {
    /// The sender's SND.NXT before the segment.
    pub snd_nxt_before: Option<SeqNum>,
    /// The highest acknowledgment the peer sent.
    pub peer_ack: Option<SeqNum>,
    /// The window scale shift in force for the sender's windows.
    pub wscale: u8,
    /// The handshake's round-trip time, when it was seen.
    pub handshake_rtt: Option<Duration>,
}

/// Accounts the transfer side of one segment `side` sent: its metrics (RTT, windows,
/// flight), header signals, window and throughput figures, and what it tells about the peer
/// (the acknowledgment it carries, the peer's delayed-ACK clock).
#[inline]
pub fn account_sent(halves: &mut PerSide<Half>, side: Side, seg: &Segment<'_>, cx: SentCtx) {
    let peer = side.other();
    let peer_window = halves[peer].flow.last_window;
    let h = &mut halves[side];
    h.metrics
        .sent(seg, cx.snd_nxt_before, cx.peer_ack, cx.wscale);
    h.signals.sent(seg);
    let flow = FlowCtx {
        snd_nxt_before: cx.snd_nxt_before,
        peer_ack: cx.peer_ack,
        peer_window,
        // The sender's own samples time the data path; before the first, the handshake's.
        rtt: h.metrics.srtt.or(cx.handshake_rtt),
    };
    h.flow.sent(seg, cx.wscale, flow);
    let p = &mut halves[peer];
    p.signals.peer_sent(seg);
    if seg.flags.ack() {
        let tsecr = seg.options.timestamps.map(|t| t.1);
        p.metrics.acked(seg.ack, tsecr, seg.ts);
    }
}

impl Half {
    /// What few connections show in this direction; zeros and nothing for most.
    #[inline]
    pub fn rare(&self) -> &HalfRare {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    /// Whether anything of [`Half::rare`] was ever set (if not, it is all zeros and nothing).
    #[inline]
    pub fn has_rare(&self) -> bool {
        self.rare.is_some()
    }

    /// [`Half::rare`] to change, allocated on the first change.
    #[inline]
    pub fn rare_mut(&mut self) -> &mut HalfRare {
        self.rare.get_or_insert_default()
    }

    /// [`Half::rare`] to overwrite: allocated when `any` of the new values is set, and `None`
    /// when it is not and nothing was ever set (what it would overwrite reads as zeros and
    /// nothing already).
    #[inline]
    pub fn rare_to_set(&mut self, any: bool) -> Option<&mut HalfRare> {
        if any {
            Some(self.rare_mut())
        } else {
            self.rare.as_deref_mut()
        }
    }

    /// The initial TTL this side most likely used, the smallest of the usual ones (64: Linux,
    /// macOS, the BSDs; 128: Windows; 255: network gear, Solaris) not below the highest TTL
    /// seen, and so the hops its segments travelled to the capture point (each router
    /// decrements the TTL by one, RFC 791 §3.2; RFC 8200 §3 for the hop limit).
    pub fn initial_ttl(&self) -> Option<(u8, u8)> {
        let seen = self.ttl_max?;
        let initial = [64u8, 128, 255].into_iter().find(|&i| i >= seen)?;
        Some((initial, initial - seen))
    }

    /// Accounts one segment this side sent: counters, its ISN and SYN options, its first FIN
    /// and RST.
    #[inline]
    pub fn sent(&mut self, seg: &Segment<'_>) {
        let f = seg.flags;
        self.packets += 1;
        self.ip_bytes += seg.ip_len as u64;
        self.payload_bytes += seg.payload_len as u64;
        self.frame_bytes += seg.frame_len as u64;
        if seg.truncated {
            self.rare_mut().truncated += 1;
        }
        if self.first_seq.is_none() {
            self.first_seq = Some(seg.seq);
        }
        self.ttl_first.get_or_insert(seg.ttl);
        self.ttl_min = Some(self.ttl_min.map_or(seg.ttl, |t| t.min(seg.ttl)));
        self.ttl_max = Some(self.ttl_max.map_or(seg.ttl, |t| t.max(seg.ttl)));
        if let Some((tsval, _)) = seg.options.timestamps {
            self.last_tsval = Some(tsval);
        }
        if f.syn() {
            self.syns += 1;
            if self.isn.is_none() {
                self.isn = Some(seg.seq);
                self.options = Some(SynOptions::from_segment(seg));
            }
            if f.ack() {
                self.sent_synack = true;
            } else {
                self.sent_syn = true;
            }
        }
        if f.fin() {
            self.fins += 1;
            self.fin_ts.get_or_insert(seg.ts);
        }
        if f.rst() {
            self.rsts += 1;
            self.rst_ts.get_or_insert(seg.ts);
        }
    }
}

//! The JSON form of one side of a connection (the `orig` and `resp` objects) and of its
//! handshake timing. Field order here is the order in the output.

use serde::Serialize;

use super::backoff::BackoffJson;
use super::secs::opt_secs;
use crate::tcp::{Half, Handshake, SynOptions};
use crate::time::{Duration, Timestamp};
use crate::wire::Tfo;

/// What one side sent: counters, its SYN's options, its stream and transfer metrics.
#[derive(Serialize)]
pub struct HalfJson {
    /// Segments sent.
    pub packets: u64,
    /// IP bytes sent.
    pub ip_bytes: u64,
    /// TCP payload bytes sent, retransmissions included.
    pub payload_bytes: u64,
    /// Frame bytes on the wire.
    pub frame_bytes: u64,
    /// Segments whose payload the snaplen cut.
    pub truncated: u64,
    /// SYN segments sent (SYN-ACKs included).
    pub syns: u32,
    /// FIN segments sent.
    pub fins: u32,
    /// RST segments sent.
    pub rsts: u32,
    /// Initial sequence number.
    pub isn: Option<u32>,
    /// Options of this side's first SYN or SYN-ACK.
    pub options: Option<SynOptionsJson>,
    /// Distinct payload bytes of this direction's stream.
    pub stream_bytes: u64,
    /// Stream bytes never seen (Zeek's `missed_bytes`).
    pub missed_bytes: u64,
    /// Bytes waiting beyond a hole when the connection ended.
    pub pending_at_close: u64,
    /// Retransmissions whose bytes differed from the bytes first seen.
    pub overlap_conflicts: u32,
    /// Segments reassembly could not hold (its bytes or its range: memory bounds).
    pub reassembly_cap_hits: u32,
    /// Segments Wireshark would flag as retransmissions.
    pub retransmitted_packets: u32,
    /// Payload bytes of those segments.
    pub retransmitted_bytes: u64,
    /// Segments Wireshark would flag as out of order.
    pub out_of_order_packets: u32,
    /// Duplicate ACKs this side sent.
    pub duplicate_acks: u32,
    // The transfer metrics follow in the same object (they are a separate struct in the core).
    /// RTT samples taken.
    pub rtt_samples: u32,
    /// Smallest RTT sample, seconds.
    #[serde(serialize_with = "opt_secs")]
    pub rtt_min: Option<Duration>,
    /// Mean RTT sample.
    #[serde(serialize_with = "opt_secs")]
    pub rtt_avg: Option<Duration>,
    /// Largest RTT sample.
    #[serde(serialize_with = "opt_secs")]
    pub rtt_max: Option<Duration>,
    /// Smoothed RTT (RFC 6298 §2).
    #[serde(serialize_with = "opt_secs")]
    pub srtt: Option<Duration>,
    /// RTT variation (RFC 6298 §2).
    #[serde(serialize_with = "opt_secs")]
    pub rttvar: Option<Duration>,
    /// Retransmission timeout the samples imply.
    #[serde(serialize_with = "opt_secs")]
    pub rto: Option<Duration>,
    /// Smallest window advertised (scaled), outside SYNs.
    pub window_min: Option<u32>,
    /// Largest window advertised (scaled), outside SYNs.
    pub window_max: Option<u32>,
    /// Most bytes sent and not yet seen acknowledged.
    pub bytes_in_flight_max: u32,
    /// Segments advertising a zero window.
    pub zero_windows: u32,
    // Appended after the metrics so that consumers reading fields by position are unaffected.
    /// TTL (IPv6 hop limit) of this side's first segment.
    pub ttl_first: Option<u8>,
    /// Smallest TTL of this side's segments.
    pub ttl_min: Option<u8>,
    /// Largest TTL of this side's segments.
    pub ttl_max: Option<u8>,
    /// ICMP errors that quoted a segment this side sent.
    pub icmp_errors: u32,
    /// Keep-alive probes this side sent.
    pub keepalive_probes: u32,
    /// Seconds between this side's last two keep-alive probes.
    #[serde(serialize_with = "opt_secs")]
    pub keepalive_interval: Option<Duration>,
    /// This side's longest series of copies of one data or FIN segment.
    pub retransmission_backoff: Option<BackoffJson>,
    /// This side's SYN (or SYN-ACK) copies, when it repeated one.
    pub syn_backoff: Option<BackoffJson>,
    // Header fields and flags, ECN, windows, throughput and hops, appended in their turn.
    /// The initial TTL this side most likely used (64, 128 or 255).
    pub ttl_initial: Option<u8>,
    /// Hops from this side to the capture point: `ttl_initial - ttl_max`.
    pub hops: Option<u8>,
    /// Segments with PSH.
    pub psh: u32,
    /// Segments with URG.
    pub urg: u32,
    /// Segments with URG and a non-zero urgent pointer.
    pub urgent_pointer: u32,
    /// Segments other than SYNs with ECE (echoes of CE marks).
    pub ece: u32,
    /// Segments other than SYNs with CWR.
    pub cwr: u32,
    /// Segments with the AE (formerly NS) bit.
    pub ae: u32,
    /// Segments sent ECN-capable (IP ECT(0) or ECT(1)).
    pub ip_ect: u32,
    /// Segments that arrived marked Congestion Experienced (IP CE).
    pub ip_ce: u32,
    /// Data offsets seen (header length in 32-bit words), smallest first.
    pub data_offsets: Vec<u8>,
    /// Segments with an impossible data offset.
    pub bad_data_offsets: u32,
    /// Pure ACKs (no payload, SYN, FIN or RST).
    pub pure_acks: u32,
    /// ACKs carried by data.
    pub data_acks: u32,
    /// Pure ACKs timed from the peer's data they acknowledged (no data sent back meanwhile).
    pub ack_delay_samples: u32,
    /// Shortest such delay, seconds.
    #[serde(serialize_with = "opt_secs")]
    pub ack_delay_min: Option<Duration>,
    /// Mean delay.
    #[serde(serialize_with = "opt_secs")]
    pub ack_delay_avg: Option<Duration>,
    /// Longest delay.
    #[serde(serialize_with = "opt_secs")]
    pub ack_delay_max: Option<Duration>,
    /// Smallest raw 16-bit window field, outside SYNs.
    pub window_raw_min: Option<u16>,
    /// Largest raw 16-bit window field, outside SYNs.
    pub window_raw_max: Option<u16>,
    /// The shift applied to this side's window fields (0 without window scaling).
    pub window_shift: u8,
    /// Mean throughput of new data, bytes per second.
    pub throughput_avg: Option<u64>,
    /// Best interval's throughput, bytes per second.
    pub throughput_peak: Option<u64>,
    /// The interval `throughput_peak` is measured over, seconds.
    #[serde(serialize_with = "opt_secs")]
    pub throughput_interval: Option<Duration>,
    /// Fastest back-to-back burst, bytes per second.
    pub burst_rate: Option<u64>,
    /// Segments after which the peer's window had no room for another full segment.
    pub window_limited_segments: u32,
    /// Round trips in which that happened.
    pub window_limited_rounds: u32,
}

impl From<&Half> for HalfJson {
    fn from(h: &Half) -> Self {
        let (m, g, w, r) = (&h.metrics, &h.signals, &h.flow, h.rare());
        let gr = g.rare();
        HalfJson {
            packets: h.packets,
            ip_bytes: h.ip_bytes,
            payload_bytes: h.payload_bytes,
            frame_bytes: h.frame_bytes,
            truncated: r.truncated,
            syns: h.syns,
            fins: h.fins,
            rsts: h.rsts,
            isn: h.isn.map(|s| s.0),
            options: h.options.map(SynOptionsJson::from),
            stream_bytes: h.stream_bytes,
            missed_bytes: r.missed_bytes,
            pending_at_close: r.pending_at_close,
            overlap_conflicts: r.overlap_conflicts,
            reassembly_cap_hits: r.reassembly_cap_hits,
            retransmitted_packets: r.retransmitted_packets,
            retransmitted_bytes: r.retransmitted_bytes,
            out_of_order_packets: r.out_of_order_packets,
            duplicate_acks: r.duplicate_acks,
            rtt_samples: m.rtt_samples,
            rtt_min: m.rtt_min,
            rtt_avg: m.rtt_avg,
            rtt_max: m.rtt_max,
            srtt: m.srtt,
            rttvar: m.rttvar,
            rto: m.rto,
            window_min: m.window_min,
            window_max: m.window_max,
            bytes_in_flight_max: m.bytes_in_flight_max,
            zero_windows: m.zero_windows,
            ttl_first: h.ttl_first,
            ttl_min: h.ttl_min,
            ttl_max: h.ttl_max,
            icmp_errors: r.icmp_errors,
            keepalive_probes: r.keepalive_probes,
            keepalive_interval: r.keepalive_interval,
            retransmission_backoff: r.backoff.as_deref().map(BackoffJson::from),
            syn_backoff: r.syn_backoff.as_deref().map(BackoffJson::from),
            ttl_initial: h.initial_ttl().map(|t| t.0),
            hops: h.initial_ttl().map(|t| t.1),
            psh: g.psh,
            urg: gr.urg,
            urgent_pointer: gr.urgent_pointer,
            ece: gr.ece,
            cwr: gr.cwr,
            ae: gr.ae,
            ip_ect: gr.ip_ect,
            ip_ce: gr.ip_ce,
            data_offsets: g.data_offsets().collect(),
            bad_data_offsets: gr.bad_data_offsets,
            pure_acks: g.pure_acks,
            data_acks: g.data_acks,
            ack_delay_samples: g.ack_delay_samples,
            ack_delay_min: g.ack_delay_min,
            ack_delay_avg: g.ack_delay_avg,
            ack_delay_max: g.ack_delay_max,
            window_raw_min: w.raw_window_min,
            window_raw_max: w.raw_window_max,
            window_shift: w.window_shift,
            throughput_avg: w.throughput_avg(),
            throughput_peak: w.throughput_peak(),
            throughput_interval: w.throughput_avg().and(w.interval),
            burst_rate: w.burst_rate,
            window_limited_segments: w.limits().window_limited_segments,
            window_limited_rounds: w.limits().window_limited_rounds,
        }
    }
}

/// What one side announced in its SYN (or SYN-ACK).
#[derive(Serialize)]
pub struct SynOptionsJson {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps option present.
    pub timestamps: bool,
    /// TCP Fast Open option.
    pub tfo: Option<TfoJson>,
    /// ECN setup requested (SYN) or accepted (SYN-ACK).
    pub ecn: bool,
    /// Payload bytes carried by the SYN itself.
    pub syn_data: u32,
}

impl From<SynOptions> for SynOptionsJson {
    fn from(o: SynOptions) -> Self {
        SynOptionsJson {
            mss: o.mss,
            wscale: o.wscale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps,
            tfo: o.tfo.map(TfoJson::from),
            ecn: o.ecn,
            syn_data: o.syn_data,
        }
    }
}

/// A TCP Fast Open option.
#[derive(Serialize)]
pub struct TfoJson {
    /// Cookie length in bytes; 0 is a cookie request.
    pub cookie_len: u8,
    /// Carried in the experimental option 254 rather than kind 34.
    pub experimental: bool,
}

impl From<Tfo> for TfoJson {
    fn from(t: Tfo) -> Self {
        TfoJson {
            cookie_len: t.cookie_len,
            experimental: t.experimental,
        }
    }
}

/// Handshake timing at the capture point.
#[derive(Serialize)]
pub struct HandshakeJson {
    /// The SYN the SYN-ACK answered.
    #[serde(serialize_with = "opt_secs")]
    pub syn_ts: Option<Timestamp>,
    /// The SYN-ACK the third ACK answered.
    #[serde(serialize_with = "opt_secs")]
    pub synack_ts: Option<Timestamp>,
    /// The originator's first ACK of the SYN-ACK.
    #[serde(serialize_with = "opt_secs")]
    pub ack_ts: Option<Timestamp>,
    /// SYN to SYN-ACK, seconds.
    #[serde(serialize_with = "opt_secs")]
    pub syn_to_synack: Option<Duration>,
    /// SYN-ACK to ACK, seconds.
    #[serde(serialize_with = "opt_secs")]
    pub synack_to_ack: Option<Duration>,
    /// Sum of both legs.
    #[serde(serialize_with = "opt_secs")]
    pub rtt: Option<Duration>,
    /// The completing ACK carried data.
    pub ack_had_data: bool,
}

impl From<&Handshake> for HandshakeJson {
    fn from(h: &Handshake) -> Self {
        HandshakeJson {
            syn_ts: h.syn_ts,
            synack_ts: h.synack_ts,
            ack_ts: h.ack_ts,
            syn_to_synack: h.syn_to_synack,
            synack_to_ack: h.synack_to_ack,
            rtt: h.rtt,
            ack_had_data: h.ack_had_data,
        }
    }
}

//! One side of a connection and its handshake timing, field for field as
//! [`super::super::side::HalfJson`] and [`super::super::side::HandshakeJson`] serialize.

use super::{Out, k};
use crate::report::json::backoff::BackoffJson;
use crate::tcp::backoff::Backoff;
use crate::tcp::{Half, Handshake};

/// Appends the `orig` or `resp` object of a connection record.
pub(super) fn write_half(o: &mut Out<'_>, h: &Half) {
    let (m, g, w, r) = (&h.metrics, &h.signals, &h.flow, h.rare());
    let gr = g.rare();
    o.raw(b"{\"packets\":");
    o.u(h.packets);
    o.key_u(k!("ip_bytes"), h.ip_bytes);
    o.key_u(k!("payload_bytes"), h.payload_bytes);
    o.key_u(k!("frame_bytes"), h.frame_bytes);
    o.key_u(k!("truncated"), r.truncated);
    o.key_u(k!("syns"), h.syns);
    o.key_u(k!("fins"), h.fins);
    o.key_u(k!("rsts"), h.rsts);
    o.key_opt_u(k!("isn"), h.isn.map(|s| s.0));
    o.raw(k!("options"));
    match h.options {
        Some(s) => {
            o.raw(b"{\"mss\":");
            o.opt_u(s.mss);
            o.key_opt_u(k!("wscale"), s.wscale);
            o.key_bool(k!("sack_permitted"), s.sack_permitted);
            o.key_bool(k!("timestamps"), s.timestamps);
            o.raw(k!("tfo"));
            match s.tfo {
                Some(t) => {
                    o.raw(b"{\"cookie_len\":");
                    o.u(t.cookie_len);
                    o.key_bool(k!("experimental"), t.experimental);
                    o.raw(b"}");
                }
                None => o.null(),
            }
            o.key_bool(k!("ecn"), s.ecn);
            o.key_u(k!("syn_data"), s.syn_data);
            o.raw(b"}");
        }
        None => o.null(),
    }
    o.key_u(k!("stream_bytes"), h.stream_bytes);
    if h.has_rare() {
        o.key_u(k!("missed_bytes"), r.missed_bytes);
        o.key_u(k!("pending_at_close"), r.pending_at_close);
        o.key_u(k!("overlap_conflicts"), r.overlap_conflicts);
        o.key_u(k!("reassembly_cap_hits"), r.reassembly_cap_hits);
        o.key_u(k!("retransmitted_packets"), r.retransmitted_packets);
        o.key_u(k!("retransmitted_bytes"), r.retransmitted_bytes);
        o.key_u(k!("out_of_order_packets"), r.out_of_order_packets);
        o.key_u(k!("duplicate_acks"), r.duplicate_acks);
    } else {
        o.raw(NO_TROUBLE);
    }
    o.key_u(k!("rtt_samples"), m.rtt_samples);
    o.key_opt_secs(k!("rtt_min"), m.rtt_min);
    o.key_opt_secs(k!("rtt_avg"), m.rtt_avg);
    o.key_opt_secs(k!("rtt_max"), m.rtt_max);
    o.key_opt_secs(k!("srtt"), m.srtt);
    o.key_opt_secs(k!("rttvar"), m.rttvar);
    o.key_opt_secs(k!("rto"), m.rto);
    o.key_opt_u(k!("window_min"), m.window_min);
    o.key_opt_u(k!("window_max"), m.window_max);
    o.key_u(k!("bytes_in_flight_max"), m.bytes_in_flight_max);
    o.key_u(k!("zero_windows"), m.zero_windows);
    o.key_opt_u(k!("ttl_first"), h.ttl_first);
    o.key_opt_u(k!("ttl_min"), h.ttl_min);
    o.key_opt_u(k!("ttl_max"), h.ttl_max);
    if h.has_rare() {
        o.key_u(k!("icmp_errors"), r.icmp_errors);
        o.key_u(k!("keepalive_probes"), r.keepalive_probes);
        o.key_opt_secs(k!("keepalive_interval"), r.keepalive_interval);
        o.raw(k!("retransmission_backoff"));
        backoff(o, r.backoff.as_deref());
        o.raw(k!("syn_backoff"));
        backoff(o, r.syn_backoff.as_deref());
    } else {
        o.raw(NO_PROBES);
    }
    let ttl = h.initial_ttl();
    o.key_opt_u(k!("ttl_initial"), ttl.map(|t| t.0));
    o.key_opt_u(k!("hops"), ttl.map(|t| t.1));
    o.key_u(k!("psh"), g.psh);
    if g.has_rare() {
        o.key_u(k!("urg"), gr.urg);
        o.key_u(k!("urgent_pointer"), gr.urgent_pointer);
        o.key_u(k!("ece"), gr.ece);
        o.key_u(k!("cwr"), gr.cwr);
        o.key_u(k!("ae"), gr.ae);
        o.key_u(k!("ip_ect"), gr.ip_ect);
        o.key_u(k!("ip_ce"), gr.ip_ce);
    } else {
        o.raw(NO_RARE_SIGNALS);
    }
    o.raw(k!("data_offsets"));
    o.raw(b"[");
    for (i, off) in g.data_offsets().enumerate() {
        if i > 0 {
            o.raw(b",");
        }
        o.u(off);
    }
    o.raw(b"]");
    o.key_u(k!("bad_data_offsets"), gr.bad_data_offsets);
    o.key_u(k!("pure_acks"), g.pure_acks);
    o.key_u(k!("data_acks"), g.data_acks);
    o.key_u(k!("ack_delay_samples"), g.ack_delay_samples);
    o.key_opt_secs(k!("ack_delay_min"), g.ack_delay_min);
    o.key_opt_secs(k!("ack_delay_avg"), g.ack_delay_avg);
    o.key_opt_secs(k!("ack_delay_max"), g.ack_delay_max);
    o.key_opt_u(k!("window_raw_min"), w.raw_window_min);
    o.key_opt_u(k!("window_raw_max"), w.raw_window_max);
    o.key_u(k!("window_shift"), w.window_shift);
    let throughput = w.throughput_avg();
    o.key_opt_u(k!("throughput_avg"), throughput);
    o.key_opt_u(k!("throughput_peak"), w.throughput_peak());
    o.key_opt_secs(k!("throughput_interval"), throughput.and(w.interval));
    o.key_opt_u(k!("burst_rate"), w.burst_rate);
    if w.has_limits() {
        o.key_u(
            k!("window_limited_segments"),
            w.limits().window_limited_segments,
        );
        o.key_u(
            k!("window_limited_rounds"),
            w.limits().window_limited_rounds,
        );
        o.raw(b"}");
    } else {
        o.raw(NOT_WINDOW_LIMITED);
    }
}

// The runs of fields most halves have nothing in (their parts kept out of line, `Half::rare`,
// `HeaderSignals::rare`, `WindowFlow::limits`, were never allocated): written as they would be
// field by field, in one copy each (about 500 fewer instructions of the 3,400 a half took,
// callgrind). The tests write every record of the fixtures, with and without those parts,
// both ways and compare the bytes.

/// `missed_bytes` to `duplicate_acks` of a half without [`crate::tcp::HalfRare`].
const NO_TROUBLE: &[u8] = concat!(
    ",\"missed_bytes\":0,\"pending_at_close\":0,\"overlap_conflicts\":0,",
    "\"reassembly_cap_hits\":0,\"retransmitted_packets\":0,\"retransmitted_bytes\":0,",
    "\"out_of_order_packets\":0,\"duplicate_acks\":0"
)
.as_bytes();

/// `icmp_errors` to `syn_backoff` of a half without [`crate::tcp::HalfRare`].
const NO_PROBES: &[u8] = concat!(
    ",\"icmp_errors\":0,\"keepalive_probes\":0,\"keepalive_interval\":null,",
    "\"retransmission_backoff\":null,\"syn_backoff\":null"
)
.as_bytes();

/// `urg` to `ip_ce` of a half whose rare header signals were never set.
const NO_RARE_SIGNALS: &[u8] = concat!(
    ",\"urg\":0,\"urgent_pointer\":0,\"ece\":0,\"cwr\":0,\"ae\":0,\"ip_ect\":0,",
    "\"ip_ce\":0"
)
.as_bytes();

/// The last two fields of a half never held back by its peer's window, and its end.
const NOT_WINDOW_LIMITED: &[u8] = b",\"window_limited_segments\":0,\"window_limited_rounds\":0}";

/// A retransmission series (few records have one) through serde, or null.
fn backoff(o: &mut Out<'_>, b: Option<&Backoff>) {
    match b {
        Some(b) => o.serde(&BackoffJson::from(b)),
        None => o.null(),
    }
}

/// Appends the `handshake` object of a connection record.
pub(super) fn write_handshake(o: &mut Out<'_>, h: &Handshake) {
    o.raw(b"{\"syn_ts\":");
    o.opt_secs(h.syn_ts);
    o.key_opt_secs(k!("synack_ts"), h.synack_ts);
    o.key_opt_secs(k!("ack_ts"), h.ack_ts);
    o.key_opt_secs(k!("syn_to_synack"), h.syn_to_synack);
    o.key_opt_secs(k!("synack_to_ack"), h.synack_to_ack);
    o.key_opt_secs(k!("rtt"), h.rtt);
    o.key_bool(k!("ack_had_data"), h.ack_had_data);
    o.raw(b"}");
}

//! One side of a connection and its handshake timing, field for field as
//! [`super::super::side::HalfJson`] and [`super::super::side::HandshakeJson`] serialize.

use super::{Out, k};
use crate::report::json::backoff::BackoffJson;
use crate::tcp::backoff::Backoff;
use crate::tcp::{Half, Handshake};

/// Appends the `orig` or `resp` object of a connection record.
pub(super) fn write_half(o: &mut Out<'_>, h: &Half) {
    let (m, g, w) = (&h.metrics, &h.signals, &h.flow);
    o.raw(b"{\"packets\":");
    o.u(h.packets);
    o.raw(k!("ip_bytes"));
    o.u(h.ip_bytes);
    o.raw(k!("payload_bytes"));
    o.u(h.payload_bytes);
    o.raw(k!("frame_bytes"));
    o.u(h.frame_bytes);
    o.raw(k!("truncated"));
    o.u(h.truncated);
    o.raw(k!("syns"));
    o.u(h.syns);
    o.raw(k!("fins"));
    o.u(h.fins);
    o.raw(k!("rsts"));
    o.u(h.rsts);
    o.raw(k!("isn"));
    o.opt_u(h.isn.map(|s| s.0));
    o.raw(k!("options"));
    match h.options {
        Some(s) => {
            o.raw(b"{\"mss\":");
            o.opt_u(s.mss);
            o.raw(k!("wscale"));
            o.opt_u(s.wscale);
            o.raw(k!("sack_permitted"));
            o.bool(s.sack_permitted);
            o.raw(k!("timestamps"));
            o.bool(s.timestamps);
            o.raw(k!("tfo"));
            match s.tfo {
                Some(t) => {
                    o.raw(b"{\"cookie_len\":");
                    o.u(t.cookie_len);
                    o.raw(k!("experimental"));
                    o.bool(t.experimental);
                    o.raw(b"}");
                }
                None => o.null(),
            }
            o.raw(k!("ecn"));
            o.bool(s.ecn);
            o.raw(k!("syn_data"));
            o.u(s.syn_data);
            o.raw(b"}");
        }
        None => o.null(),
    }
    o.raw(k!("stream_bytes"));
    o.u(h.stream_bytes);
    o.raw(k!("missed_bytes"));
    o.u(h.missed_bytes);
    o.raw(k!("pending_at_close"));
    o.u(h.pending_at_close);
    o.raw(k!("overlap_conflicts"));
    o.u(h.overlap_conflicts);
    o.raw(k!("reassembly_cap_hits"));
    o.u(h.reassembly_cap_hits);
    o.raw(k!("retransmitted_packets"));
    o.u(h.retransmitted_packets);
    o.raw(k!("retransmitted_bytes"));
    o.u(h.retransmitted_bytes);
    o.raw(k!("out_of_order_packets"));
    o.u(h.out_of_order_packets);
    o.raw(k!("duplicate_acks"));
    o.u(h.duplicate_acks);
    o.raw(k!("rtt_samples"));
    o.u(m.rtt_samples);
    o.raw(k!("rtt_min"));
    o.opt_secs(m.rtt_min);
    o.raw(k!("rtt_avg"));
    o.opt_secs(m.rtt_avg);
    o.raw(k!("rtt_max"));
    o.opt_secs(m.rtt_max);
    o.raw(k!("srtt"));
    o.opt_secs(m.srtt);
    o.raw(k!("rttvar"));
    o.opt_secs(m.rttvar);
    o.raw(k!("rto"));
    o.opt_secs(m.rto);
    o.raw(k!("window_min"));
    o.opt_u(m.window_min);
    o.raw(k!("window_max"));
    o.opt_u(m.window_max);
    o.raw(k!("bytes_in_flight_max"));
    o.u(m.bytes_in_flight_max);
    o.raw(k!("zero_windows"));
    o.u(m.zero_windows);
    o.raw(k!("ttl_first"));
    o.opt_u(h.ttl_first);
    o.raw(k!("ttl_min"));
    o.opt_u(h.ttl_min);
    o.raw(k!("ttl_max"));
    o.opt_u(h.ttl_max);
    o.raw(k!("icmp_errors"));
    o.u(h.icmp_errors);
    o.raw(k!("keepalive_probes"));
    o.u(h.keepalive_probes);
    o.raw(k!("keepalive_interval"));
    o.opt_secs(h.keepalive_interval);
    o.raw(k!("retransmission_backoff"));
    backoff(o, h.backoff.as_deref());
    o.raw(k!("syn_backoff"));
    backoff(o, h.syn_backoff.as_deref());
    let ttl = h.initial_ttl();
    o.raw(k!("ttl_initial"));
    o.opt_u(ttl.map(|t| t.0));
    o.raw(k!("hops"));
    o.opt_u(ttl.map(|t| t.1));
    o.raw(k!("psh"));
    o.u(g.psh);
    o.raw(k!("urg"));
    o.u(g.urg);
    o.raw(k!("urgent_pointer"));
    o.u(g.urgent_pointer);
    o.raw(k!("ece"));
    o.u(g.ece);
    o.raw(k!("cwr"));
    o.u(g.cwr);
    o.raw(k!("ae"));
    o.u(g.ae);
    o.raw(k!("ip_ect"));
    o.u(g.ip_ect);
    o.raw(k!("ip_ce"));
    o.u(g.ip_ce);
    o.raw(k!("data_offsets"));
    o.raw(b"[");
    for (i, off) in g.data_offsets().enumerate() {
        if i > 0 {
            o.raw(b",");
        }
        o.u(off);
    }
    o.raw(b"]");
    o.raw(k!("bad_data_offsets"));
    o.u(g.bad_data_offsets);
    o.raw(k!("pure_acks"));
    o.u(g.pure_acks);
    o.raw(k!("data_acks"));
    o.u(g.data_acks);
    o.raw(k!("ack_delay_samples"));
    o.u(g.ack_delay_samples);
    o.raw(k!("ack_delay_min"));
    o.opt_secs(g.ack_delay_min);
    o.raw(k!("ack_delay_avg"));
    o.opt_secs(g.ack_delay_avg);
    o.raw(k!("ack_delay_max"));
    o.opt_secs(g.ack_delay_max);
    o.raw(k!("window_raw_min"));
    o.opt_u(w.raw_window_min);
    o.raw(k!("window_raw_max"));
    o.opt_u(w.raw_window_max);
    o.raw(k!("window_shift"));
    o.u(w.window_shift);
    let throughput = w.throughput_avg();
    o.raw(k!("throughput_avg"));
    o.opt_u(throughput);
    o.raw(k!("throughput_peak"));
    o.opt_u(w.throughput_peak());
    o.raw(k!("throughput_interval"));
    o.opt_secs(throughput.and(w.interval));
    o.raw(k!("burst_rate"));
    o.opt_u(w.burst_rate);
    o.raw(k!("window_limited_segments"));
    o.u(w.window_limited_segments);
    o.raw(k!("window_limited_rounds"));
    o.u(w.window_limited_rounds);
    o.raw(b"}");
}

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
    o.raw(k!("synack_ts"));
    o.opt_secs(h.synack_ts);
    o.raw(k!("ack_ts"));
    o.opt_secs(h.ack_ts);
    o.raw(k!("syn_to_synack"));
    o.opt_secs(h.syn_to_synack);
    o.raw(k!("synack_to_ack"));
    o.opt_secs(h.synack_to_ack);
    o.raw(k!("rtt"));
    o.opt_secs(h.rtt);
    o.raw(k!("ack_had_data"));
    o.bool(h.ack_had_data);
    o.raw(b"}");
}

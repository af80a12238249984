//! Per-direction transfer metrics: round-trip times (RFC 6298 with Karn's rule), advertised
//! window range, bytes in flight, zero windows.
//!
//! RTT is measured at the capture point, from a data segment to the first acknowledgment that
//! covers it, timing one segment per round trip as BSD and Linux stacks do. A timed segment that
//! is retransmitted gives no sample (Karn, RFC 6298 §3) unless the acknowledgment echoes its
//! timestamp (RFC 7323 §4.1), which identifies the transmission it answers.

use serde::Serialize;

use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, SeqNum};

/// RFC 6298 (2.4): an RTO below one second SHOULD be rounded up to one second.
const RTO_MIN: Duration = Duration::from_secs(1);
/// RFC 6298 (2.5): a maximum of at least 60 seconds may be placed on the RTO.
const RTO_MAX: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, Default)]
struct Timed {
    end: SeqNum,
    sent: Timestamp,
    tsval: Option<u32>,
    retransmitted: bool,
}

/// Transfer metrics of what one side sent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Metrics {
    /// RTT samples taken (data of this side to the peer's covering ACK).
    pub rtt_samples: u32,
    /// Smallest sample.
    pub rtt_min: Option<Duration>,
    /// Mean of the samples.
    pub rtt_avg: Option<Duration>,
    /// Largest sample.
    pub rtt_max: Option<Duration>,
    /// Smoothed RTT (RFC 6298 §2).
    pub srtt: Option<Duration>,
    /// RTT variation (RFC 6298 §2).
    pub rttvar: Option<Duration>,
    /// Retransmission timeout the samples imply (RFC 6298 §2, rounded up to 1 s, at most 60 s).
    pub rto: Option<Duration>,
    /// Smallest window this side advertised (scaled), outside SYNs.
    pub window_min: Option<u32>,
    /// Largest window this side advertised (scaled), outside SYNs.
    pub window_max: Option<u32>,
    /// Most bytes this side had sent and not yet seen acknowledged.
    pub bytes_in_flight_max: u32,
    /// Segments advertising a zero window (no SYN, FIN or RST).
    pub zero_windows: u32,
    #[serde(skip)]
    rtt_sum: i64,
    #[serde(skip)]
    timed: Option<Timed>,
}

impl Metrics {
    /// A segment this side sent. `snd_nxt_before` is its SND.NXT before the segment,
    /// `peer_ack` the highest acknowledgment the peer has sent, `wscale` this side's window
    /// scale in force.
    pub fn sent(
        &mut self,
        seg: &Segment<'_>,
        snd_nxt_before: Option<SeqNum>,
        peer_ack: Option<SeqNum>,
        wscale: u8,
    ) {
        let f = seg.flags;
        if !f.syn() {
            let w = (seg.window as u32) << wscale;
            self.window_min = Some(self.window_min.map_or(w, |m| m.min(w)));
            self.window_max = Some(self.window_max.map_or(w, |m| m.max(w)));
            if seg.window == 0 && !f.fin() && !f.rst() {
                self.zero_windows += 1;
            }
        }
        if seg.payload_len == 0 || f.rst() {
            return;
        }
        let end = seg.seq.add(seg.payload_len);
        let new_data = snd_nxt_before.is_none_or(|n| end > n);
        if let Some(t) = &mut self.timed {
            // Karn: a retransmission of the timed bytes makes the next ACK ambiguous.
            if seg.seq < t.end && !new_data {
                t.retransmitted = true;
            }
        }
        if new_data && self.timed.is_none() {
            self.timed = Some(Timed {
                end,
                sent: seg.ts,
                tsval: seg.options.timestamps.map(|t| t.0),
                retransmitted: false,
            });
        }
        if let (Some(n), Some(a)) = (
            snd_nxt_before.map(|n| if end > n { end } else { n }),
            peer_ack,
        ) {
            let flight = n.diff(a);
            if flight > 0 {
                self.bytes_in_flight_max = self.bytes_in_flight_max.max(flight as u32);
            }
        }
    }

    /// The peer acknowledged up to `ack` (with `tsecr` if it echoes a timestamp).
    pub fn acked(&mut self, ack: SeqNum, tsecr: Option<u32>, at: Timestamp) {
        let Some(t) = self.timed else { return };
        if ack < t.end {
            return;
        }
        self.timed = None;
        // RFC 7323 §4.1: the echoed timestamp identifies which transmission is acknowledged.
        let unambiguous = !t.retransmitted || (t.tsval.is_some() && tsecr == t.tsval);
        if unambiguous {
            self.sample(at.since(t.sent));
        }
    }

    fn sample(&mut self, r: Duration) {
        if r.0 < 0 {
            return;
        }
        self.rtt_samples += 1;
        self.rtt_sum += r.0;
        self.rtt_min = Some(self.rtt_min.map_or(r, |m| m.min(r)));
        self.rtt_max = Some(self.rtt_max.map_or(r, |m| m.max(r)));
        self.rtt_avg = Some(Duration(self.rtt_sum / self.rtt_samples as i64));
        // RFC 6298 §2.2 and §2.3 (alpha = 1/8, beta = 1/4, K = 4).
        let (srtt, rttvar) = match (self.srtt, self.rttvar) {
            (Some(s), Some(v)) => {
                let v = Duration((3 * v.0 + (s.0 - r.0).abs()) / 4);
                let s = Duration((7 * s.0 + r.0) / 8);
                (s, v)
            }
            _ => (r, Duration(r.0 / 2)),
        };
        self.srtt = Some(srtt);
        self.rttvar = Some(rttvar);
        // §2.4 with a 1 ms clock granularity; §2.4 and §2.5 bounds.
        let rto = Duration(srtt.0 + (4 * rttvar.0).max(1_000_000));
        self.rto = Some(rto.max(RTO_MIN).min(RTO_MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{c2s, s2c};

    #[test]
    fn samples_follow_karn_and_rfc_6298() {
        let mut m = Metrics::default();
        let d1 = c2s(0, "PA", 101, 501, 100);
        m.sent(&d1, Some(SeqNum(101)), Some(SeqNum(101)), 0);
        m.acked(SeqNum(201), None, s2c(50, "A", 501, 201, 0).ts);
        assert_eq!(m.rtt_samples, 1);
        assert_eq!(m.srtt, Some(Duration::from_millis(50)));
        assert_eq!(m.rttvar, Some(Duration::from_millis(25)));
        assert_eq!(m.rto, Some(Duration::from_secs(1)), "rounded up to 1 s");
        // A retransmitted timed segment gives no sample.
        let d2 = c2s(100, "PA", 201, 501, 100);
        m.sent(&d2, Some(SeqNum(201)), Some(SeqNum(201)), 0);
        let again = c2s(400, "PA", 201, 501, 100);
        m.sent(&again, Some(SeqNum(301)), Some(SeqNum(201)), 0);
        m.acked(SeqNum(301), None, s2c(450, "A", 501, 301, 0).ts);
        assert_eq!(m.rtt_samples, 1);
        assert_eq!(m.bytes_in_flight_max, 100);
    }
}

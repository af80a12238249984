//! Per-direction transfer metrics: round-trip times (RFC 6298 with Karn's rule), advertised
//! window range, bytes in flight, zero windows.
//!
//! RTT is measured at the capture point, from a data segment to the acknowledgment that ends
//! exactly at its last byte, which is what Wireshark reports as `tcp.analysis.ack_rtt` (an ACK
//! covering several segments times the newest of them). Data that was sent again gives no
//! sample (Karn, RFC 6298 §3) unless the acknowledgment echoes the timestamp of one
//! transmission (RFC 7323 §4.1), which identifies the transmission it answers.

use thin_vec::ThinVec;

use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, SeqNum};

/// RFC 6298 (2.4): an RTO below one second SHOULD be rounded up to one second.
const RTO_MIN: Duration = Duration::from_secs(1);
/// RFC 6298 (2.5): a maximum of at least 60 seconds may be placed on the RTO.
const RTO_MAX: Duration = Duration::from_secs(60);
/// Unacknowledged data segments timed per direction (6 KiB at most); segments sent while this
/// many wait give no sample, so a peer that never acknowledges cannot make memory grow.
const MAX_TIMED: usize = 256;

/// A data segment waiting for its acknowledgment.
#[derive(Clone, Copy, Debug)]
struct Timed {
    start: SeqNum,
    end: SeqNum,
    sent: Timestamp,
    tsval: Option<u32>,
    /// Some of its bytes were sent more than once.
    resent: bool,
}

crate::base::pack::pack_struct!(Timed {
    start,
    end,
    sent,
    tsval,
    resent,
});

/// Transfer metrics of what one side sent.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// RTT samples taken (data of this side to the peer's ACK ending at it).
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
    rtt_sum: Duration,
    /// Data segments sent and timed, oldest first, from `timed_head` on: those before it were
    /// acknowledged from the front and are dropped when the vector next needs room (a thin
    /// vector and an offset take 10 bytes where a deque took 32; see [`Metrics::waiting`]).
    timed: ThinVec<Timed>,
    /// Entries at the front of `timed` already acknowledged. The vector grows only while fewer
    /// than half of its entries are, and at most [`MAX_TIMED`] wait, so it never holds more
    /// than 2 × [`MAX_TIMED`] entries.
    timed_head: u16,
    /// Some timed segment ends before the one timed before it, or the ends span 2^30 bytes or
    /// more. Until then the ends rise from front to back within less than 2^30, and the
    /// segments an acknowledgment covers are the front ones (see [`Metrics::acked`]).
    timed_unordered: bool,
}

crate::base::pack::pack_struct!(Metrics {
    rtt_samples,
    rtt_min,
    rtt_avg,
    rtt_max,
    srtt,
    rttvar,
    rto,
    window_min,
    window_max,
    bytes_in_flight_max,
    zero_windows,
    rtt_sum,
    timed,
    timed_head,
    timed_unordered,
});

/// Ends of timed segments closer than this to the oldest one keep serial-number comparisons
/// consistent among them (RFC 1982 needs less than 2^31).
const IN_ORDER_SPAN: u32 = 1 << 30;

impl Metrics {
    /// The segments timed and not yet acknowledged, oldest first.
    fn waiting(&self) -> &[Timed] {
        &self.timed[usize::from(self.timed_head)..]
    }

    /// Times one more segment, dropping the acknowledged ones first when they are at least
    /// half of the vector and it has no room left (so each is moved at most once for every
    /// one dropped: the cost stays constant per segment).
    fn time(&mut self, t: Timed) {
        let head = usize::from(self.timed_head);
        if head > 0 && self.timed.len() == self.timed.capacity() && 2 * head >= self.timed.len() {
            self.timed.drain(..head);
            self.timed_head = 0;
        }
        self.timed.push(t);
    }

    /// Drops every timed segment (all acknowledged).
    fn forget_timed(&mut self) {
        self.timed.clear();
        self.timed_head = 0;
    }

    /// Entries the queue of timed segments has room for.
    #[cfg(test)]
    pub(crate) fn queue_capacity(&self) -> usize {
        self.timed.capacity()
    }

    /// Gives back the room of the timed segments once none is waiting for its acknowledgment
    /// (see [`crate::compat::wireshark::WsConv::release_spare`]).
    pub fn release_spare(&mut self) {
        crate::wire::give_back_room(&mut self.timed, 0);
    }

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
        let start = if f.syn() { seg.seq.add(1) } else { seg.seq };
        let end = start.add(seg.payload_len);
        // Bytes below SND.NXT were sent before: every timed segment holding some of them is
        // now ambiguous (Karn), and so is this copy. Not so when the peer had already
        // acknowledged all of them (a keep-alive byte, a spurious retransmission): only this
        // copy can draw the next acknowledgment.
        let resent = snd_nxt_before.is_some_and(|n| start < n) && peer_ack.is_none_or(|a| end > a);
        if resent {
            let head = usize::from(self.timed_head);
            for t in self.timed[head..]
                .iter_mut()
                .filter(|t| t.start < end && start < t.end)
            {
                t.resent = true;
            }
        }
        let waiting = self.waiting();
        if waiting.len() < MAX_TIMED {
            // A FIN sent with the data is acknowledged with it.
            let end = if f.fin() { end.add(1) } else { end };
            if let (Some(first), Some(last)) = (waiting.first(), waiting.last()) {
                self.timed_unordered |=
                    end < last.end || end.0.wrapping_sub(first.end.0) >= IN_ORDER_SPAN;
            }
            self.time(Timed {
                start,
                end,
                sent: seg.ts,
                tsval: seg.options.timestamps.map(|t| t.0),
                resent,
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

    /// The peer acknowledged up to `ack` (with `tsecr` if it echoes a timestamp) at `at`.
    pub fn acked(&mut self, ack: SeqNum, tsecr: Option<u32>, at: Timestamp) {
        // Segments ending exactly at the ACK, oldest first: Wireshark times the first of them
        // (the original transmission); with a retransmission among them only an echoed
        // timestamp says which copy is answered.
        let mut covered = 0;
        let mut first: Option<Timed> = None;
        let mut echoed: Option<Timed> = None;
        let mut ambiguous = false;
        // In order, the covered segments are the front ones: those whose end lies no further
        // past the oldest end than the acknowledgment does. (With the acknowledgment 2^31 bytes
        // or more past the oldest end, serial order would put it behind that end and some later
        // ends ahead of it.)
        let prefix = !self.timed_unordered
            && self
                .waiting()
                .first()
                .is_some_and(|t| ack.0.wrapping_sub(t.end.0) < 1 << 31);
        for t in self.waiting() {
            if t.end <= ack {
                covered += 1;
            } else if prefix {
                break;
            } else {
                continue;
            }
            if t.end != ack {
                continue;
            }
            first.get_or_insert(*t);
            ambiguous |= t.resent;
            if echoed.is_none() && t.tsval.is_some() && t.tsval == tsecr {
                echoed = Some(*t);
            }
        }
        if covered == 0 {
            return;
        }
        let timed = if ambiguous { echoed } else { first };
        if let Some(t) = timed {
            self.sample(at.since(t.sent));
        }
        if prefix {
            // At most 2 × MAX_TIMED entries in all: the offset stays within its 16 bits.
            self.timed_head += covered as u16;
        } else {
            self.timed.drain(..usize::from(self.timed_head));
            self.timed_head = 0;
            self.timed.retain(|t| t.end > ack);
        }
        if self.waiting().is_empty() {
            self.forget_timed();
            self.timed_unordered = false;
            // A burst's room goes back once it is acknowledged (as in `WsConv::analyze`).
            crate::wire::give_back_room(&mut self.timed, 8);
        }
    }

    fn sample(&mut self, r: Duration) {
        // Zero is below the capture clock's resolution (Wireshark shows no ack_rtt then);
        // negative means the capture's clock stepped back.
        if !r.is_positive() {
            return;
        }
        self.rtt_samples = self.rtt_samples.saturating_add(1);
        // Saturating: only samples adding up to 292 years could reach the bound.
        self.rtt_sum += r;
        self.rtt_min = Some(self.rtt_min.map_or(r, |m| m.min(r)));
        self.rtt_max = Some(self.rtt_max.map_or(r, |m| m.max(r)));
        self.rtt_avg = Some(self.rtt_sum.div(i64::from(self.rtt_samples)));
        // RFC 6298 §2.2 and §2.3 (alpha = 1/8, beta = 1/4, K = 4), as weighted means computed
        // without overflow whatever the sample.
        let (srtt, rttvar) = match (self.srtt, self.rttvar) {
            (Some(s), Some(v)) => (s.blend(7, r, 8), v.blend(3, (s - r).abs(), 4)),
            _ => (r, r.div(2)),
        };
        self.srtt = Some(srtt);
        self.rttvar = Some(rttvar);
        // §2.4 with a 1 ms clock granularity; §2.4 and §2.5 bounds.
        let rto = srtt + (rttvar * 4).max(Duration::from_millis(1));
        self.rto = Some(rto.clamp_to(RTO_MIN, RTO_MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, c2s, s2c};

    fn send(m: &mut Metrics, ms: i64, seq: u32, len: u32, snd_nxt: u32) {
        m.sent(
            &c2s(ms, "PA", seq, 501, len),
            Some(SeqNum(snd_nxt)),
            Some(SeqNum(101)),
            0,
        );
    }

    fn ack(m: &mut Metrics, ms: i64, ack: u32, tsecr: Option<u32>) {
        m.acked(SeqNum(ack), tsecr, s2c(ms, "A", 501, ack, 0).ts);
    }

    /// Segments acknowledged from the front are dropped once they are half of a full vector,
    /// before it would grow: a long transfer whose acknowledgments trail by a few segments
    /// keeps a vector of a few entries, and each acknowledgment still times its own segment.
    #[test]
    fn acknowledged_segments_make_room_for_new_ones() {
        let mut m = Metrics::default();
        let mut seq = 101;
        for i in 0..1_000i64 {
            send(&mut m, 10 * i, seq, 100, seq);
            seq += 100;
            if i >= 3 {
                // Acknowledges the segment sent 3 before, 30 ms ago.
                ack(&mut m, 10 * i, seq - 300, None);
            }
        }
        assert_eq!(m.rtt_samples, 997);
        assert_eq!(m.rtt_max, Some(Duration::from_millis(30)));
        assert_eq!(m.waiting().len(), 3);
        assert!(
            m.timed.capacity() <= 8,
            "{} entries of room",
            m.timed.capacity()
        );
        ack(&mut m, 10_000, seq, None);
        assert!(m.waiting().is_empty() && m.timed_head == 0);
    }

    #[test]
    fn samples_follow_karn_and_rfc_6298() {
        let mut m = Metrics::default();
        send(&mut m, 0, 101, 100, 101);
        ack(&mut m, 50, 201, None);
        assert_eq!(m.rtt_samples, 1);
        assert_eq!(m.srtt, Some(Duration::from_millis(50)));
        assert_eq!(m.rttvar, Some(Duration::from_millis(25)));
        assert_eq!(m.rto, Some(Duration::from_secs(1)), "rounded up to 1 s");
        // A retransmitted segment gives no sample.
        send(&mut m, 100, 201, 100, 201);
        send(&mut m, 400, 201, 100, 301);
        ack(&mut m, 450, 301, None);
        assert_eq!(m.rtt_samples, 1);
        assert!(m.waiting().is_empty());
        // In flight: SND.NXT (or the segment's end) minus the peer's highest ACK.
        let mut m = Metrics::default();
        m.sent(
            &c2s(0, "PA", 101, 501, 100),
            Some(SeqNum(101)),
            Some(SeqNum(101)),
            0,
        );
        m.sent(
            &c2s(1, "PA", 201, 501, 100),
            Some(SeqNum(201)),
            Some(SeqNum(101)),
            0,
        );
        m.sent(
            &c2s(9, "PA", 101, 501, 100),
            Some(SeqNum(301)),
            Some(SeqNum(201)),
            0,
        );
        assert_eq!(m.bytes_in_flight_max, 200);
    }

    #[test]
    fn an_ack_covering_two_segments_times_the_newest_as_wireshark_does() {
        let mut m = Metrics::default();
        send(&mut m, 0, 101, 100, 101);
        send(&mut m, 10, 201, 100, 201);
        ack(&mut m, 50, 301, None); // delayed ACK for both
        assert_eq!(m.rtt_samples, 1);
        assert_eq!(m.rtt_min, Some(Duration::from_millis(40)));
        // An ACK in the middle of a segment gives no sample; the one at its end does.
        send(&mut m, 100, 301, 100, 301);
        ack(&mut m, 120, 351, None);
        ack(&mut m, 130, 401, None);
        assert_eq!(m.rtt_samples, 2);
        assert_eq!(m.rtt_max, Some(Duration::from_millis(40)));
        assert_eq!(m.rtt_min, Some(Duration::from_millis(30)));
    }

    #[test]
    fn an_echoed_timestamp_says_which_copy_is_answered() {
        let with_ts = |ms: i64, tsval: u32| {
            let mut s = c2s(ms, "PA", 101, 501, 100);
            s.options.timestamps = Some((tsval, 0));
            s
        };
        let mut m = Metrics::default();
        m.sent(&with_ts(0, 1000), Some(SeqNum(101)), Some(SeqNum(101)), 0);
        m.sent(&with_ts(300, 1300), Some(SeqNum(201)), Some(SeqNum(101)), 0);
        // The ACK echoes the retransmission's TSval: 20 ms after it, not 320 ms.
        ack(&mut m, 320, 201, Some(1300));
        assert_eq!(m.rtt_samples, 1);
        assert_eq!(m.rtt_min, Some(Duration::from_millis(20)));
        // Echoing neither copy: ambiguous, no sample.
        let mut m = Metrics::default();
        m.sent(&with_ts(0, 1000), Some(SeqNum(101)), Some(SeqNum(101)), 0);
        m.sent(&with_ts(300, 1300), Some(SeqNum(201)), Some(SeqNum(101)), 0);
        ack(&mut m, 320, 201, Some(7));
        assert_eq!(m.rtt_samples, 0);
    }

    #[test]
    fn timing_is_bounded_when_nothing_is_acknowledged() {
        let mut m = Metrics::default();
        for i in 0..10_000u32 {
            send(&mut m, i as i64, 101 + i * 10, 10, 101 + i * 10);
        }
        assert_eq!(m.waiting().len(), MAX_TIMED);
        ack(&mut m, 20_000, 101 + 10_000 * 10, None);
        assert!(m.waiting().is_empty());
    }

    /// What acknowledgments leave behind: the samples and the segments still timed.
    fn outcome(m: &Metrics) -> String {
        let timed: Vec<_> = m
            .waiting()
            .iter()
            .map(|t| (t.start, t.end, t.resent))
            .collect();
        format!(
            "{} {:?} {:?} {:?} {:?} {:?} {timed:?}",
            m.rtt_samples, m.rtt_min, m.rtt_max, m.rtt_avg, m.srtt, m.rto
        )
    }

    /// Acknowledgments taken from the front of segments timed in order give what the full scan
    /// of every timed segment gives, whatever the order of sending, retransmissions, sequence
    /// wrap-around and acknowledgments far off (2^30 and 2^31 bytes away).
    #[test]
    fn in_order_acknowledgments_match_the_full_scan() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast_path_used = 0;
        for round in 0..300 {
            let (mut fast, mut scan) = (Metrics::default(), Metrics::default());
            let mut next = 0xffff_f000u32.wrapping_add(round * 7919);
            for step in 0..200i64 {
                let ms = step * 3;
                let r = rng.next();
                if !r.is_multiple_of(3) {
                    // Send: new data mostly, sometimes an earlier range again, rarely a jump.
                    let len = 1 + (r >> 8) as u32 % 1460;
                    let seq = match (r >> 20) % 16 {
                        0 => next.wrapping_sub(len.wrapping_mul(2)),
                        1 => next.wrapping_add(1 << 30),
                        _ => next,
                    };
                    let mut seg = c2s(ms, "PA", seq, 1, len);
                    seg.options.timestamps = Some((step as u32, 0));
                    for m in [&mut fast, &mut scan] {
                        m.sent(&seg, Some(SeqNum(next)), None, 0);
                    }
                    next = next.max_serial(seq.wrapping_add(len));
                } else {
                    // Acknowledge: a timed end, between ends, or far off.
                    let ack = match (r >> 8) % 8 {
                        0 => next.wrapping_add(1 << 31),
                        1 => next.wrapping_sub(1 << 30),
                        2 | 3 => next.wrapping_sub((r >> 16) as u32 % 3000),
                        _ => fast
                            .waiting()
                            .get((r >> 16) as usize % fast.waiting().len().max(1))
                            .map_or(next, |t| t.end.0),
                    };
                    let tsecr = Some((r >> 40) as u32 % 200);
                    fast_path_used += u32::from(!fast.timed_unordered);
                    scan.timed_unordered = true;
                    let at = s2c(ms, "A", 1, ack, 0).ts;
                    fast.acked(SeqNum(ack), tsecr, at);
                    scan.acked(SeqNum(ack), tsecr, at);
                }
                assert_eq!(outcome(&fast), outcome(&scan), "round {round} step {step}");
            }
        }
        assert!(fast_path_used > 5_000, "{fast_path_used}");
    }

    trait MaxSerial {
        fn max_serial(self, other: u32) -> u32;
    }

    impl MaxSerial for u32 {
        fn max_serial(self, other: u32) -> u32 {
            if SeqNum(other) > SeqNum(self) {
                other
            } else {
                self
            }
        }
    }
}

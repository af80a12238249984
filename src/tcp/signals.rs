//! What one side's headers said, field by field (the header picture of RFC 9293 §3.1): PSH,
//! URG and the urgent pointer, the ECN bits of TCP (ECE, CWR, AE) and of IP (ECT, CE), the
//! data offsets used, and how acknowledgments travelled: alone (pure ACKs) or riding on data,
//! with the delay before a pure ACK when no data went back (the delayed-ACK behaviour of
//! RFC 9293 §3.8.6.3 and RFC 1122 §4.2.3.2). A few counters per segment, no allocation.

use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, SeqNum, TcpFlags};

/// IP ECN codepoint Congestion Experienced (RFC 3168 §5).
const CE: u8 = 3;

/// Header flags and fields one side sent, and how it acknowledged the other side's data.
#[derive(Clone, Debug, Default)]
pub struct HeaderSignals {
    /// Segments with PSH.
    pub psh: u32,
    /// The rarely set fields (URG, ECN, impossible data offsets): allocated when the first
    /// is, read through [`HeaderSignals::rare`].
    pub rare: Option<Box<RareSignals>>,
    /// Data offsets seen, one bit per value (bit 5 = 20-byte header ... bit 15 = 60 bytes),
    /// impossible ones (below 5) included.
    pub data_offsets: u16,
    /// ACKs without payload, SYN, FIN or RST.
    pub pure_acks: u32,
    /// ACKs carried by a segment with payload (piggybacked).
    pub data_acks: u32,
    /// Pure ACKs that acknowledged new data of the peer while this side had sent none back.
    pub ack_delay_samples: u32,
    /// Shortest time from the peer's data to such an ACK.
    pub ack_delay_min: Option<Duration>,
    /// Mean of those times.
    pub ack_delay_avg: Option<Duration>,
    /// Longest of those times.
    pub ack_delay_max: Option<Duration>,
    ack_delay_sum: i64,
    /// The peer's oldest data segment not yet acknowledged by this side: its time and first
    /// byte.
    waiting: Option<(Timestamp, SeqNum)>,
    /// The highest acknowledgment this side sent.
    last_ack: Option<SeqNum>,
}

/// The header signals few connections show (under 0.2% of the directions of the shared test
/// captures and none of a generated capture of 47,000 connections), kept out of line.
#[derive(Clone, Debug, Default)]
pub struct RareSignals {
    /// Segments with URG.
    pub urg: u32,
    /// Segments with URG and a non-zero urgent pointer (the pointer in use).
    pub urgent_pointer: u32,
    /// Segments other than SYNs with ECE: echoes of a CE mark (RFC 3168 §6.1.3). The ECE of a
    /// SYN or SYN-ACK negotiates ECN and is in the side's SYN options instead.
    pub ece: u32,
    /// Segments other than SYNs with CWR: the sender reduced its congestion window.
    pub cwr: u32,
    /// Segments with the AE bit (RFC 9768 Accurate ECN; formerly the ECN nonce, RFC 3540).
    pub ae: u32,
    /// Segments whose IP header said ECT(0) or ECT(1): sent ECN-capable.
    pub ip_ect: u32,
    /// Segments whose IP header said CE: a router on the way to the capture point marked them.
    pub ip_ce: u32,
    /// Frame and time of the first CE-marked segment.
    pub first_ce: Option<(u64, Timestamp)>,
    /// Segments with an impossible data offset (below 5 words or beyond the segment), which
    /// yield no segment and are tied to the connection by their four-tuple.
    pub bad_data_offsets: u32,
}

impl RareSignals {
    /// The rare signals of a segment this side sent.
    fn sent(&mut self, seg: &Segment<'_>) {
        let f = seg.flags;
        if f.has(TcpFlags::URG) {
            self.urg += 1;
            self.urgent_pointer += (seg.urgent != 0) as u32;
        }
        if !f.syn() {
            self.ece += f.has(TcpFlags::ECE) as u32;
            self.cwr += f.has(TcpFlags::CWR) as u32;
        }
        self.ae += f.has(TcpFlags::NS) as u32;
        match seg.ip_ecn {
            1 | 2 => self.ip_ect += 1,
            CE => {
                self.ip_ce += 1;
                self.first_ce.get_or_insert((seg.frame, seg.ts));
            }
            _ => {}
        }
    }
}

crate::base::pack::pack_struct!(RareSignals {
    urg,
    urgent_pointer,
    ece,
    cwr,
    ae,
    ip_ect,
    ip_ce,
    first_ce,
    bad_data_offsets,
});

/// What signals without any of [`RareSignals`] read.
static NO_RARE: RareSignals = RareSignals {
    urg: 0,
    urgent_pointer: 0,
    ece: 0,
    cwr: 0,
    ae: 0,
    ip_ect: 0,
    ip_ce: 0,
    first_ce: None,
    bad_data_offsets: 0,
};

crate::base::pack::pack_struct!(HeaderSignals {
    psh,
    rare,
    data_offsets,
    pure_acks,
    data_acks,
    ack_delay_samples,
    ack_delay_min,
    ack_delay_avg,
    ack_delay_max,
    ack_delay_sum,
    waiting,
    last_ack,
});

impl HeaderSignals {
    /// The rarely set signals; zeros and nothing for most connections.
    #[inline]
    pub fn rare(&self) -> &RareSignals {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    /// Whether anything of [`HeaderSignals::rare`] was ever set (if not, it is all zeros).
    #[inline]
    pub fn has_rare(&self) -> bool {
        self.rare.is_some()
    }

    /// [`HeaderSignals::rare`] to change, allocated on the first change.
    #[inline]
    pub fn rare_mut(&mut self) -> &mut RareSignals {
        self.rare.get_or_insert_default()
    }

    /// A segment this side sent.
    #[inline]
    pub fn sent(&mut self, seg: &Segment<'_>) {
        let f = seg.flags;
        self.psh += f.has(TcpFlags::PSH) as u32;
        // Most segments carry none of these: their counters' room is allocated on the first.
        let ece_cwr = if f.syn() {
            0
        } else {
            TcpFlags::ECE | TcpFlags::CWR
        };
        if f.any(TcpFlags::URG | TcpFlags::NS | ece_cwr) || matches!(seg.ip_ecn, 1..=CE) {
            self.rare_mut().sent(seg);
        }
        self.data_offsets |= 1 << (seg.data_offset & 0xf);
        if !f.ack() || f.rst() {
            return;
        }
        let pure = seg.payload_len == 0 && !f.syn() && !f.fin();
        if pure {
            self.pure_acks += 1;
        } else if seg.payload_len > 0 {
            self.data_acks += 1;
        }
        let advanced = self.last_ack.is_none_or(|a| seg.ack > a);
        if advanced {
            self.last_ack = Some(seg.ack);
        }
        let Some((since, start)) = self.waiting else {
            return;
        };
        if !pure {
            // Data (or a FIN) went back: the acknowledgment rode on it, no delay to measure.
            self.waiting = None;
            return;
        }
        if advanced && seg.ack > start {
            self.sample(seg.ts.since(since));
            // Data beyond this ACK arrived after the oldest; its own time is not kept, so the
            // next sample waits for the peer's next segment.
            self.waiting = None;
        }
    }

    /// The peer sent a segment: data not yet acknowledged starts the delayed-ACK clock.
    #[inline]
    pub fn peer_sent(&mut self, seg: &Segment<'_>) {
        if seg.payload_len == 0 || seg.flags.syn() || seg.flags.rst() {
            return;
        }
        let end = seg.seq.add(seg.payload_len);
        if self.last_ack.is_some_and(|a| end <= a) {
            return; // a retransmission of acknowledged data: answered at once, not delayed
        }
        self.waiting.get_or_insert((seg.ts, seg.seq));
    }

    /// The data offsets seen, smallest first, in 32-bit words.
    pub fn data_offsets(&self) -> impl Iterator<Item = u8> + '_ {
        (0..16u8).filter(|o| self.data_offsets & (1 << o) != 0)
    }

    /// A segment with an impossible data offset this side sent (its frame and time are in the
    /// `bad_data_offset` anomaly it raises).
    pub fn bad_offset(&mut self, offset: u8) {
        self.rare_mut().bad_data_offsets += 1;
        self.data_offsets |= 1 << (offset & 0xf);
    }

    fn sample(&mut self, d: Duration) {
        if d.as_nanos() < 0 {
            return; // the capture clock stepped back
        }
        self.ack_delay_samples += 1;
        self.ack_delay_sum = self.ack_delay_sum.saturating_add(d.as_nanos());
        self.ack_delay_min = Some(self.ack_delay_min.map_or(d, |m| m.min(d)));
        self.ack_delay_max = Some(self.ack_delay_max.map_or(d, |m| m.max(d)));
        self.ack_delay_avg = Some(Duration::from_nanos(
            self.ack_delay_sum / self.ack_delay_samples as i64,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{c2s, s2c};

    #[test]
    fn a_pure_ack_after_data_is_timed_and_a_piggybacked_one_is_not() {
        let mut srv = HeaderSignals::default();
        srv.peer_sent(&c2s(0, "PA", 1, 1, 100));
        srv.sent(&s2c(40, "A", 1, 101, 0));
        assert_eq!(srv.ack_delay_samples, 1);
        assert_eq!(srv.ack_delay_max, Some(Duration::from_millis(40)));
        assert_eq!((srv.pure_acks, srv.data_acks), (1, 0));
        srv.peer_sent(&c2s(50, "PA", 101, 1, 100));
        srv.sent(&s2c(51, "PA", 1, 201, 10));
        assert_eq!(srv.ack_delay_samples, 1, "the ACK rode on data");
        assert_eq!((srv.pure_acks, srv.data_acks), (1, 1));
        // A duplicate ACK acknowledges nothing new.
        srv.peer_sent(&c2s(60, "PA", 301, 1, 100));
        srv.sent(&s2c(61, "A", 11, 201, 0));
        assert_eq!(srv.ack_delay_samples, 1);
    }

    #[test]
    fn flags_ecn_and_offsets_are_counted() {
        let mut h = HeaderSignals::default();
        let mut s = c2s(0, "SA", 1, 1, 0);
        s.flags = TcpFlags(s.flags.0 | TcpFlags::ECE);
        h.sent(&s);
        let mut d = c2s(1, "PA", 2, 1, 10);
        d.flags = TcpFlags(d.flags.0 | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::URG);
        d.urgent = 3;
        d.ip_ecn = 3;
        d.data_offset = 8;
        h.sent(&d);
        let r = h.rare();
        assert_eq!(
            (r.ece, r.cwr, r.urg, r.urgent_pointer, h.psh),
            (1, 1, 1, 1, 1)
        );
        assert_eq!((r.ip_ce, r.first_ce), (1, Some((1, d.ts))));
        assert_eq!(h.data_offsets().collect::<Vec<_>>(), vec![5, 8]);
    }
}

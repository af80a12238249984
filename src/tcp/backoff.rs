//! A retransmission series as it leaves the engine: the copies of one segment and the gaps
//! between them, which show the sender's retransmission timer backing off (RFC 6298 §5.5) and,
//! when the copies stop unanswered, giving up.

use crate::time::{Duration, Timestamp};
use crate::wire::SeqNum;

/// Gaps kept per series: Linux's default tcp_retries2 = 15 makes 16 copies of a segment.
pub const MAX_GAPS: usize = 16;

/// What the repeated segment carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resent {
    /// Payload.
    Data,
    /// A FIN without payload.
    Fin,
    /// The initiator's SYN.
    Syn,
    /// The responder's SYN-ACK.
    SynAck,
}

crate::base::pack::pack_enum!(Resent {
    Data,
    Fin,
    Syn,
    SynAck
});

impl Resent {
    /// `data`, `fin`, `syn` or `syn_ack`.
    pub const fn name(self) -> &'static str {
        match self {
            Resent::Data => "data",
            Resent::Fin => "fin",
            Resent::Syn => "syn",
            Resent::SynAck => "syn_ack",
        }
    }

    /// Whether it opens the connection (a SYN or SYN-ACK).
    pub const fn is_handshake(self) -> bool {
        matches!(self, Resent::Syn | Resent::SynAck)
    }
}

/// How a series ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesEnd {
    /// The peer acknowledged the segment after a copy.
    Acked,
    /// The sender stopped repeating it and sent nothing more for at least twice its last gap:
    /// its timer gave up.
    GaveUpSilent,
    /// The sender reset the connection after its copies.
    GaveUpRst,
    /// Still unacknowledged when the record ended, with too little time after the last copy to
    /// tell a give-up from the next timeout.
    Open,
}

crate::base::pack::pack_enum!(SeriesEnd {
    Acked,
    GaveUpSilent,
    GaveUpRst,
    Open
});

impl SeriesEnd {
    /// `acked`, `gave_up_silent`, `gave_up_rst` or `open`.
    pub const fn name(self) -> &'static str {
        match self {
            SeriesEnd::Acked => "acked",
            SeriesEnd::GaveUpSilent => "gave_up_silent",
            SeriesEnd::GaveUpRst => "gave_up_rst",
            SeriesEnd::Open => "open",
        }
    }
}

/// The copies of one segment (same sequence number) one side sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// What it carried.
    pub what: Resent,
    /// Its sequence number.
    pub seq: SeqNum,
    /// Frame and time of the original, when the capture shows which it was.
    pub original: Option<(u64, Timestamp)>,
    /// Frame of the first retransmitted copy.
    pub first_copy_frame: u64,
    /// Copies sent, the original included.
    pub copies: u32,
    /// Time between consecutive copies, the first from the original (when known); at most
    /// [`MAX_GAPS`] are kept.
    pub gaps: Vec<Duration>,
    /// Frame of the last copy.
    pub last_copy_frame: u64,
    /// Time of the last copy.
    pub last_copy: Timestamp,
    /// How it ended (set when the record ends).
    pub end: SeriesEnd,
}

crate::base::pack::pack_struct!(Backoff {
    what,
    seq,
    original,
    first_copy_frame,
    copies,
    gaps,
    last_copy_frame,
    last_copy,
    end,
});

impl Backoff {
    /// A series opened by the first retransmitted copy (frame `frame` at `ts`) of a segment
    /// whose original, if known, was `original`.
    pub fn new(
        what: Resent,
        seq: SeqNum,
        original: Option<(u64, Timestamp)>,
        (frame, ts): (u64, Timestamp),
    ) -> Self {
        let mut gaps = Vec::with_capacity(MAX_GAPS);
        if let Some((_, at)) = original {
            gaps.push(ts.since(at));
        }
        Backoff {
            what,
            seq,
            original,
            first_copy_frame: frame,
            copies: 2,
            gaps,
            last_copy_frame: frame,
            last_copy: ts,
            end: SeriesEnd::Open,
        }
    }

    /// Adds a copy sent in frame `frame` at `ts`.
    pub fn copy(&mut self, (frame, ts): (u64, Timestamp)) {
        if self.gaps.len() < MAX_GAPS {
            self.gaps.push(ts.since(self.last_copy));
        }
        self.copies += 1;
        self.last_copy_frame = frame;
        self.last_copy = ts;
    }

    /// The latest gap, if any is known.
    pub fn last_gap(&self) -> Option<Duration> {
        self.gaps.last().copied()
    }

    /// Time from the original (or the first copy) to the last copy.
    pub fn span(&self) -> Duration {
        let first = self.original.map(|o| o.1);
        let sum = self
            .gaps
            .iter()
            .fold(Duration::ZERO, |s, g| s.saturating_add(*g));
        first.map_or(sum, |f| self.last_copy.since(f))
    }

    /// Whether it ended with a give-up.
    pub fn gave_up(&self) -> bool {
        matches!(self.end, SeriesEnd::GaveUpSilent | SeriesEnd::GaveUpRst)
    }
}

/// Linux's time budget for `boundary` retransmissions of data (`tcp_model_timeout()` with the
/// 200 ms minimum RTO as its base: doubling up to 120 s, then 120 s each).
pub fn linux_retries_budget(boundary: u32) -> Duration {
    const BASE_MS: i64 = 200;
    const MAX_MS: i64 = 120_000;
    const THRESH: u32 = 9; // ilog2(120 s / 200 ms)
    let ms = if boundary <= THRESH {
        ((2i64 << boundary) - 1) * BASE_MS
    } else {
        ((2i64 << THRESH) - 1) * BASE_MS + i64::from(boundary - THRESH) * MAX_MS
    };
    Duration::from_millis(ms)
}

/// The tcp_retries2 values (1 to 15) under which Linux gives up at the timeout after the last
/// copy: more than `elapsed` (first retransmission to last copy) and at most `next` (first
/// retransmission to the next timeout) of budget.
pub fn linux_retries2_range(elapsed: Duration, next: Duration) -> Option<(u32, u32)> {
    let fits: Vec<u32> = (1..=15)
        .filter(|b| {
            let t = linux_retries_budget(*b);
            t > elapsed && t <= next
        })
        .collect();
    Some((*fits.first()?, *fits.last()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_default_budget_is_924_6_s() {
        assert_eq!(linux_retries_budget(15), Duration::from_millis(924_600));
        assert_eq!(linux_retries_budget(3), Duration::from_millis(3_000));
    }

    #[test]
    fn a_give_up_after_a_3_s_budget_fits_tcp_retries2_3_or_4() {
        // retransmission_giveup.pcap: first retransmission 1.232 s, last 4.156 s, last gap
        // 1.664 s: the next timeout at about 7.48 s.
        let r = linux_retries2_range(Duration::from_millis(2_924), Duration::from_millis(6_252));
        assert_eq!(r, Some((3, 4)));
    }

    #[test]
    fn copies_and_gaps() {
        let t = |ms: i64| Timestamp::from_nanos(ms * 1_000_000);
        let mut b = Backoff::new(Resent::Data, SeqNum(1), Some((4, t(1000))), (8, t(1200)));
        b.copy((9, t(1600)));
        b.copy((10, t(2400)));
        assert_eq!((b.copies, b.last_copy_frame), (4, 10));
        assert_eq!(b.gaps, [200, 400, 800].map(Duration::from_millis));
        assert_eq!(b.span(), Duration::from_millis(1400));
        assert_eq!(b.last_gap(), Some(Duration::from_millis(800)));
    }
}

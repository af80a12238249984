//! The retransmission timer as the wire shows it: the copies of one segment with the gaps
//! between them (each about twice the one before: RFC 6298 §5.5), and the moment a sender stops
//! repeating an unacknowledged segment: retransmission_giveup.
//!
//! Per side only the oldest unacknowledged segment's first transmission is remembered (a few
//! bytes); a series is allocated at the first retransmission of a side, so connections that
//! lose nothing pay nothing more.

use super::anomaly::secs;
use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind, Value};
use crate::tcp::SegClass;
use crate::tcp::backoff::{Backoff, Resent, SeriesEnd, linux_retries_budget, linux_retries2_range};
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, SeqNum, Side};

/// Copies (the original included) a series needs before its end can be a give-up: one
/// retransmission could be a fast retransmit or a tail-loss probe, two show a timer backing off.
pub const GIVEUP_MIN_COPIES: u32 = 3;

/// The longest a retransmission timer waits (Linux's TCP_RTO_MAX, RFC 6298 §2.5's "at least
/// 60 seconds" bound): silence beyond twice the last gap or this is a give-up.
const RTO_MAX: Duration = Duration::from_secs(120);

/// The first transmission of a side's oldest unacknowledged segment.
#[derive(Clone, Copy, Debug)]
struct Head {
    seq: SeqNum,
    frame: u64,
    ts: Timestamp,
}

crate::base::pack::pack_struct!(Head { seq, frame, ts });

/// One side's series.
#[derive(Clone, Debug, Default)]
struct Series {
    /// The SYN's (or SYN-ACK's) copies.
    syn: Option<Box<Backoff>>,
    /// The latest data or FIN series.
    current: Option<Box<Backoff>>,
    /// The longest earlier one, when the latest is not it.
    longest: Option<Box<Backoff>>,
    /// A RST followed the side's latest copy.
    rst_after: bool,
}

crate::base::pack::pack_struct!(Series {
    syn,
    current,
    longest,
    rst_after,
});

/// The back-off family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct BackoffRules {
    head: PerSide<Option<Head>>,
    /// The head before the latest acknowledgment moved it on: a copy of it means the
    /// acknowledgment seen at the capture point never reached the sender.
    acked_head: PerSide<Option<Head>>,
    series: PerSide<Series>,
}

crate::base::pack::pack_struct!(BackoffRules {
    head,
    acked_head,
    series,
});

impl BackoffRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.head.swap();
        self.acked_head.swap();
        self.series.swap();
    }

    /// Follows each side's oldest unacknowledged segment and its copies.
    #[inline]
    pub fn on_segment(&mut self, st: &Step<'_, '_>) {
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let f = seg.flags;
        // The peer's acknowledgment moves the oldest unacknowledged segment on: its copies
        // were answered.
        if f.ack() {
            let peer = side.other();
            if self.head[peer].is_some_and(|h| seg.ack > h.seq) {
                self.acked_head[peer] = self.head[peer].take();
            }
            let s = &mut self.series[peer];
            for b in [&mut s.syn, &mut s.current].into_iter().flatten() {
                if b.end == SeriesEnd::Open && seg.ack > b.seq {
                    b.end = SeriesEnd::Acked;
                }
            }
        }
        if f.rst() {
            self.series[side].rst_after = true;
            return;
        }
        if facts.seq_len == 0 {
            return;
        }
        let what = match facts.class {
            SegClass::Syn => Resent::Syn,
            SegClass::SynAck => Resent::SynAck,
            _ if seg.payload_len == 0 => Resent::Fin,
            _ => Resent::Data,
        };
        let resent = facts.snd_nxt_before.is_some_and(|n| seg.seq < n);
        if !resent {
            self.head[side].get_or_insert(Head {
                seq: seg.seq,
                frame: seg.frame,
                ts: seg.ts,
            });
            return;
        }
        let s = &mut self.series[side];
        s.rst_after = false;
        let slot = if what.is_handshake() {
            &mut s.syn
        } else {
            &mut s.current
        };
        if let Some(b) = slot.as_mut().filter(|b| b.seq == seg.seq) {
            b.copy((seg.frame, seg.ts));
            b.end = SeriesEnd::Open;
            return;
        }
        let original = [self.head[side], self.acked_head[side]]
            .into_iter()
            .flatten()
            .find(|h| h.seq == seg.seq)
            .map(|h| (h.frame, h.ts));
        let new = Box::new(Backoff::new(what, seg.seq, original, (seg.frame, seg.ts)));
        if let Some(old) = slot.replace(new)
            && !what.is_handshake()
            && s.longest.as_ref().is_none_or(|l| old.copies > l.copies)
        {
            s.longest = Some(old);
        }
    }

    /// retransmission_giveup, decided when the record ends at `now`: each side's latest series
    /// (data, FIN, or else its SYN) that was never acknowledged after its last copy.
    pub fn on_finish(&mut self, j: &mut Judge<'_>, now: Timestamp) {
        for side in [Side::Orig, Side::Resp] {
            let seen_last = j.conn.last_seen[side];
            let s = &mut self.series[side];
            let rst = s.rst_after;
            // A responder that stops repeating its SYN-ACK gave its half-open request up: that
            // is half_open's story (and a flood's hundreds of them), not this one.
            let b = match (&mut s.current, &mut s.syn) {
                (Some(b), _) if b.end == SeriesEnd::Open => b,
                (_, Some(b)) if b.end == SeriesEnd::Open && b.what == Resent::Syn => b,
                _ => continue,
            };
            // Anything but a RST after the last copy means the sender went on.
            let silent = seen_last <= b.last_copy;
            let Some(gap) = b.last_gap() else { continue };
            let wait = gap.saturating_mul(2).min(RTO_MAX);
            b.end = if b.copies < GIVEUP_MIN_COPIES {
                continue;
            } else if rst {
                SeriesEnd::GaveUpRst
            } else if silent && now.since(b.last_copy) >= wait {
                SeriesEnd::GaveUpSilent
            } else {
                continue;
            };
            let b = &**b;
            let k = AnomalyKind::RetransmissionGiveup;
            j.raise(k, || giveup(b, side, now, wait));
        }
    }

    /// Each side's series for the record: the longest data or FIN series (the latest of equals)
    /// and the SYN series.
    pub fn take(&mut self, side: Side) -> (Option<Box<Backoff>>, Option<Box<Backoff>>) {
        let s = &mut self.series[side];
        let data = match (s.current.take(), s.longest.take()) {
            (Some(c), Some(l)) if l.copies > c.copies => Some(l),
            (c, l) => c.or(l),
        };
        (data, s.syn.take())
    }
}

/// The retransmission_giveup anomaly of series `b` from `side`, the record ending at `now`.
fn giveup(b: &Backoff, side: Side, now: Timestamp, wait: Duration) -> Anomaly {
    let gaps: Vec<Value> = b.gaps.iter().map(|g| secs(*g)).collect();
    let ended_by = if b.end == SeriesEnd::GaveUpRst {
        "rst"
    } else {
        "silence"
    };
    // Shown by the last copy: nothing followed it.
    let mut a = Anomaly::new(
        AnomalyKind::RetransmissionGiveup,
        b.last_copy_frame,
        b.last_copy,
    )
    .with("from", side.name())
    .with("what", b.what.name())
    .with("seq", b.seq.0)
    .with("copies", b.copies)
    .with("first_copy_frame", b.first_copy_frame)
    .with("gaps", gaps)
    .with("first", b.original.map(|o| secs(o.1.since_epoch())))
    .with("last_copy", secs(b.last_copy.since_epoch()))
    .with("span", secs(b.span()))
    .with("silent_for", secs(now.since(b.last_copy)))
    .with("ended_by", ended_by);
    if b.what == Resent::Data || b.what == Resent::Fin {
        // Linux's budget runs from the first retransmission (tp->retrans_stamp).
        let first_copy = b.original.map(|o| o.1.add(b.gaps[0]));
        if let Some(first) = first_copy {
            let elapsed = b.last_copy.since(first);
            let range = linux_retries2_range(elapsed, elapsed.saturating_add(wait));
            let range = range.map(|(lo, hi)| Value::List(vec![lo.into(), hi.into()]));
            a = a.with("linux_tcp_retries2", range);
        }
        a = a.with("linux_default_giveup", secs(linux_retries_budget(15)));
    }
    a
}

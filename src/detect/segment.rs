//! Segment sanity rules with no Wireshark twin: bad checksums, segments above the MSS, capture
//! duplicates, window shrink, invalid ACKs, data beyond the receive window.

use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind, Severity};
use crate::tcp::TcpState;
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Segment, SeqNum, Side};

/// What makes two segments the same packet for capture-duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DupKey {
    seq: u32,
    len: u32,
    ack: u32,
    flags: u16,
    window: u16,
    /// TCP checksum field as captured.
    checksum: u16,
    /// IPv4 identification (None for IPv6).
    ip_id: Option<u16>,
}

crate::base::pack::pack_struct!(DupKey {
    seq,
    len,
    ack,
    flags,
    window,
    checksum,
    ip_id,
});

impl DupKey {
    fn of(seg: &Segment<'_>) -> Self {
        DupKey {
            seq: seg.seq.0,
            len: seg.payload_len,
            ack: seg.ack.0,
            flags: seg.flags.0,
            window: seg.window,
            checksum: seg.checksum,
            ip_id: seg.ip_id,
        }
    }
}

/// Sequence, ACK and right window edge of a side's last window-bearing segment.
#[derive(Debug, Clone, Copy)]
struct WindowRef {
    seq: SeqNum,
    ack: SeqNum,
    edge: SeqNum,
}

crate::base::pack::pack_struct!(WindowRef { seq, ack, edge });

/// The segment-sanity family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct SegmentRules {
    bad_checksums: PerSide<u32>,
    /// Each side's previous segment, for capture duplicates.
    last_seg: PerSide<Option<(DupKey, Timestamp)>>,
    window_ref: PerSide<Option<WindowRef>>,
    /// Highest ACK each side sent.
    highest_ack: PerSide<Option<SeqNum>>,
    /// Largest window each side advertised.
    max_window: PerSide<u32>,
}

crate::base::pack::pack_struct!(SegmentRules {
    bad_checksums,
    last_seg,
    window_ref,
    highest_ack,
    max_window,
});

impl SegmentRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.bad_checksums.swap();
        self.last_seg.swap();
        self.window_ref.swap();
        self.highest_ack.swap();
        self.max_window.swap();
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let seg = st.seg;
        self.bad_checksum(j, st);
        exceeds_mss(j, st);
        self.capture_duplicate(j, st);
        if seg.flags.syn() || seg.flags.rst() || !st.facts.sender_before.is_synchronized() {
            return;
        }
        if seg.flags.ack() {
            self.window_shrink(j, st);
            self.invalid_ack(j, st);
        }
        out_of_window(j, st);
    }

    fn bad_checksum(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side) = (st.seg, st.side);
        if seg.checksum_ok != Some(false) {
            return;
        }
        self.bad_checksums[side] += 1;
        // Offload shows as every segment of one direction being bad; corruption as a few.
        let whole_direction = self.bad_checksums[side] as u64 == c.half(side).packets;
        let k = AnomalyKind::BadChecksum;
        j.raise_segment(k, side, || {
            let mut a =
                Anomaly::new(k, seg.frame, seg.ts).with("offload_suspected", whole_direction);
            if whole_direction {
                a.severity = Severity::Notice;
            }
            a
        });
    }

    /// The very same packet again (SPAN and tap copies). A retransmission gets a fresh IPv4
    /// identification (or a new timestamp option, hence a new checksum); stacks sending ID 0
    /// and IPv6 have no usable ID, so there only an identical checksum within a millisecond
    /// counts.
    fn capture_duplicate(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let (seg, side) = (st.seg, st.side);
        let key = DupKey::of(seg);
        let limit = match seg.ip_id {
            Some(id) if id != 0 => Duration::from_millis(10),
            _ => Duration::from_millis(1),
        };
        if let Some((prev, at)) = self.last_seg[side]
            && prev == key
            && seg.ts.since(at) < limit
        {
            let k = AnomalyKind::CaptureDuplicate;
            j.raise_segment(k, side, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("seq", seg.seq.0)
                    .with("len", seg.payload_len)
            });
        }
        self.last_seg[side] = Some((key, seg.ts));
    }

    /// Zeek's window_recision: the right edge ACK + window moved left by at least one unit of
    /// the window scale. Only segments not older than the last accepted one (in both sequence
    /// and ACK) count, so reordered or duplicated old ACKs do not; once the sender has sent its
    /// FIN, shrinking is routine (the process is going away).
    fn window_shrink(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side) = (st.seg, st.side);
        let sent_fin = matches!(
            st.facts.sender_before,
            TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::TimeWait
        );
        if seg.flags.fin() || sent_fin {
            return;
        }
        let me = c.machine.end(side);
        let (window, unit) = (me.window, 1i32 << me.wscale);
        let edge = seg.ack.add(window);
        match self.window_ref[side] {
            Some(r) if seg.seq < r.seq || seg.ack < r.ack => return,
            Some(r) if r.edge.diff(edge) >= unit => {
                let k = AnomalyKind::WindowShrink;
                j.raise_segment(k, side, || {
                    Anomaly::new(k, seg.frame, seg.ts).with("by", r.edge.diff(edge))
                });
            }
            _ => {}
        }
        self.window_ref[side] = Some(WindowRef {
            seq: seg.seq,
            ack: seg.ack,
            edge,
        });
    }

    /// RFC 5961 §5: an ACK below SND.UNA - MAX.SND.WND of the side acknowledged, where
    /// MAX.SND.WND is the largest window the ACK's sender ever offered.
    fn invalid_ack(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side) = (st.seg, st.side);
        let max_wnd = self.max_window[side].max(c.machine.end(side).window);
        self.max_window[side] = max_wnd;
        if let Some(prev_ack) = self.highest_ack[side]
            && max_wnd > 0
            && seg.ack.add(max_wnd) < prev_ack
        {
            let k = AnomalyKind::InvalidAck;
            j.raise_segment(k, side, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("ack", seg.ack.0)
                    .with("highest_ack", prev_ack.0)
            });
        }
        if self.highest_ack[side].is_none_or(|p| seg.ack > p) {
            self.highest_ack[side] = Some(seg.ack);
        }
    }
}

fn exceeds_mss(j: &mut Judge<'_>, st: &Step<'_, '_>) {
    let c = j.conn;
    let (seg, side) = (st.seg, st.side);
    if let Some(mss) = c.half(side.other()).options.and_then(|o| o.mss)
        && seg.payload_len > mss as u32
        && !seg.flags.syn()
    {
        let k = AnomalyKind::SegmentExceedsMss;
        j.raise_segment(k, side, || {
            Anomaly::new(k, seg.frame, seg.ts)
                .with("len", seg.payload_len)
                .with("mss", mss)
        });
    }
}

/// Data beyond the receiver's right edge (one MSS of slack for window probes). Only when both
/// SYNs were seen (otherwise the window scale is unknown and every window looks far too small)
/// and while the capture has lost nothing of the exchange (the receiver's latest ACKs may be
/// among the losses).
fn out_of_window(j: &mut Judge<'_>, st: &Step<'_, '_>) {
    let c = j.conn;
    use AnomalyKind as K;
    let (seg, side) = (st.seg, st.side);
    let peer = side.other();
    let scale_known = c.half(Side::Orig).options.is_some() && c.half(Side::Resp).options.is_some();
    let them = c.machine.end(peer);
    let (Some(rcv), window) = (them.rcv_nxt, them.window) else {
        return;
    };
    if seg.payload_len == 0 || !scale_known || window == 0 || !them.state.is_synchronized() {
        return;
    }
    let lost = j.tally().segments(K::PreviousSegmentNotCaptured, side) > 0
        || j.tally().segments(K::AckUnseenSegment, peer) > 0;
    if lost {
        return;
    }
    let slack = c.half(side).options.and_then(|o| o.mss).unwrap_or(1460) as u32;
    let end = seg.seq.add(seg.payload_len);
    if end > rcv.add(window.saturating_add(slack)) {
        j.raise_segment(K::OutOfWindow, side, || {
            Anomaly::new(K::OutOfWindow, seg.frame, seg.ts)
                .with("beyond_by", end.diff(rcv.add(window)))
        });
    }
}

//! The shortcut of [`ZeekRow::on_segment`] for the segments most connections are made of.

use super::{HIST_ACK, HIST_DATA, ZeekRow};
use crate::compat::zeek::endpoint::ZState;
use crate::wire::Segment;

impl ZeekRow {
    /// Most segments: an acknowledgment, with or without data, and no SYN, FIN or RST, while
    /// both endpoints are established and neither has closed, with a window above zero and a
    /// history that already has this direction's `A` or `D`. Of [`Self::on_segment`]'s steps
    /// only the sequence bookkeeping and the reassembler's can change anything then (no letter
    /// but `T` or `G`, no state change, no flip), and only they are taken here, in the same
    /// order. Returns false, having changed nothing, for any other segment.
    #[inline]
    pub(super) fn on_plain_segment(&mut self, seg: &Segment<'_>, from_orig: bool) -> bool {
        let f = seg.flags;
        let i = self.index(from_orig);
        let (me, peer) = (&self.ep[i], &self.ep[1 - i]);
        let len = i64::from(seg.payload_len);
        let letter = if len > 0 { HIST_DATA } else { HIST_ACK };
        let mask = if me.is_orig { letter } else { letter << 16 };
        let plain = f.ack()
            && !(f.syn() || f.fin() || f.rst())
            && seg.window != 0
            && me.state == ZState::Established
            && peer.state == ZState::Established
            && !(me.did_close || peer.did_close)
            && self.hist_seen & mask != 0;
        if !plain {
            return false;
        }
        // The step skipped that could still apply, the flip on the second packet, needs a
        // history of exactly `H`; this direction's `A` or `D` is in it.
        debug_assert_ne!(self.history, "H");
        self.packets += 1;
        let seq = seg.seq.0;
        let rel_seq = self.ep[i].rel(seq);
        let rel_ack = self.ack_peer(1 - i, seg.ack.0, false);
        let seq_one_past = seq.wrapping_add(len as u32);
        if self.ep[i].update_last_seq(seq_one_past, false, false, len) {
            self.add(i, 'T');
        }
        self.last_time = seg.ts;
        self.gaps_on_ack(i, rel_ack);
        if len > 0 && !seg.truncated && rel_seq >= 0 {
            self.ep[i].data_sent(rel_seq, len);
        }
        true
    }
}

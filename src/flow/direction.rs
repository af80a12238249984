//! Which directions of a connection the capture shows: one-sided captures (asymmetric routing,
//! a tap or SPAN port on one direction only) show one side's segments and none of the other's,
//! although the segments seen prove the other side was talking.
//!
//! Evidence, from the one side seen while the other has sent nothing the capture saw:
//! - it sent a SYN, then acknowledged something or reset: it got a SYN-ACK the capture never
//!   showed (an endpoint in SYN-SENT sends RST only to answer an unacceptable SYN-ACK, RFC 9293
//!   §3.10.7.3; Linux `tcp_disconnect` sends none when an application abandons a connect);
//! - its acknowledgment number advanced: the other side sent data (or a FIN) that it
//!   acknowledged and the capture never showed (what Wireshark flags as
//!   `tcp.analysis.ack_lost_segment` on every ACK of a one-way capture).
//!
//! Zeek's conn.log shows such connections with only one direction's history letters (its
//! `one-sided-2745` test trace); Suricata needs `stream.async-oneside` to follow them.

use crate::wire::{PerSide, Segment, SeqNum, Side};

/// What a connection's segments say about the directions captured.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Directions {
    /// Each side's first acknowledgment number.
    first_ack: PerSide<Option<SeqNum>>,
    /// The side seen is proved to have a peer the capture does not show.
    pub(crate) proved: bool,
}

crate::base::pack::pack_struct!(Directions { first_ack, proved });

impl Directions {
    /// The roles were flipped.
    pub(crate) fn swap(&mut self) {
        self.first_ack.swap();
    }

    /// Accounts `seg` from `side`, whose SYN (without ACK) had ISN `syn_isn`; `peer_seen`
    /// says whether the other side has sent anything the capture saw. Returns whether this
    /// segment is the first proof of a missing direction.
    pub(crate) fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        side: Side,
        syn_isn: Option<SeqNum>,
        peer_seen: bool,
    ) -> bool {
        let f = seg.flags;
        if peer_seen {
            self.proved = false;
            return false;
        }
        // The RST answering a SYN-ACK carries that SYN-ACK's acknowledgment number, ISN + 1.
        let answered_unseen_synack =
            syn_isn.is_some_and(|isn| !f.syn() && (f.ack() || (f.rst() && seg.seq == isn.add(1))));
        let acked_unseen_data = f.ack() && seg.ack > *self.first_ack[side].get_or_insert(seg.ack);
        if self.proved || !(answered_unseen_synack || acked_unseen_data) {
            return false;
        }
        self.proved = true;
        true
    }
}

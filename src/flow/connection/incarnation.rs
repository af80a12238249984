//! What a connection knows about the incarnations of its four-tuple: an old duplicate of its
//! SYN arriving later, a new incarnation opened by a SYN of another sequence number, and the
//! TIME-WAIT a new incarnation ends.

use super::Connection;
use crate::event::{Cause, ConnRecord, Transition};
use crate::tcp::MachineEvent;
use crate::wire::{Segment, Side};

impl Connection {
    /// Whether `seg` (from `side`) is an old duplicate of this connection's SYN arriving after
    /// the connection was established and finished: the same ISN and, where both carry
    /// timestamps, the same TSval (the very same segment, RFC 9293 §3.4). A SYN repeated after
    /// a refusal (a retry, as Windows makes twice) is no replay: the connection never opened.
    pub fn is_replay(&self, seg: &Segment<'_>, side: Side) -> bool {
        let r = &self.rec;
        let orig = r.half(Side::Orig);
        let same_tsval = || match (seg.options.timestamps, orig.options.and_then(|o| o.tsval)) {
            (Some((tsval, _)), Some(first)) => tsval == first,
            _ => true,
        };
        seg.flags.is_syn_only()
            && side == Side::Orig
            && r.established()
            && r.closed_ts.is_some_and(|t| t < seg.ts)
            && orig.isn == Some(seg.seq)
            && same_tsval()
    }

    /// This record was opened by an old duplicate SYN of `prev` (see [`Connection::is_replay`]):
    /// the SYN proves nothing about its sender, and `stale_syn` is raised with the answers it
    /// draws.
    pub(crate) fn mark_replay(&mut self, syn: &Segment<'_>, prev: &ConnRecord) {
        self.replayed = true;
        let time_wait = prev
            .states
            .iter()
            .any(|(_, s)| *s == crate::tcp::TcpState::TimeWait);
        let after_close = prev.closed_ts.map(|t| syn.ts.since(t));
        self.rules
            .handshake
            .replayed((syn.frame, syn.ts), prev.id, after_close, time_wait);
    }

    /// This record was opened by an old duplicate of `old`'s SYN (see `mark_replay`): the
    /// sockets that answer it are `old`'s where they still exist. An endpoint in TIME-WAIT is
    /// the same socket, with the same sequence numbers (its re-sent ACK acknowledges `old`'s
    /// data, and a RST at that number ends its TIME-WAIT); and Wireshark, for which a SYN with
    /// the same ISN stays in the same conversation, classes the segments as `old`'s.
    pub(crate) fn continue_from(&mut self, old: &Connection) {
        self.ws = old.ws.clone();
        for side in [Side::Orig, Side::Resp] {
            let e = old.machine.end(side);
            if e.state == crate::tcp::TcpState::TimeWait {
                self.machine.ends[side] = *e;
                self.rec.states[side] = e.state;
            }
        }
    }

    /// Whether `seg` (from `side`) opens a new incarnation of this four-tuple: a SYN without
    /// ACK whose sequence number differs from that side's ISN (or first sequence number), as
    /// both Wireshark (`tcp.analysis.reused_ports`) and Zeek split connections. A SYN from a
    /// side that has sent nothing yet is a simultaneous open, not a new incarnation.
    pub fn is_new_incarnation(&self, seg: &Segment<'_>, side: Side) -> bool {
        if !seg.flags.is_syn_only() {
            return false;
        }
        let h = self.rec.half(side);
        h.isn.or(h.first_seq).is_some_and(|s| s != seg.seq)
    }

    /// A new incarnation (opened by `syn`, sent by `from` as this incarnation knew it) took
    /// the four-tuple over: a TIME-WAIT here ends (RFC 9293 §3.10.7.4, RFC 6191).
    pub fn supersede(
        &mut self,
        syn: &Segment<'_>,
        from: Side,
        keep: bool,
        changes: &mut Vec<Transition>,
    ) {
        let rec = &mut self.rec;
        let cause = Cause {
            from,
            flags: syn.flags,
            seq: syn.seq,
            ack: syn.ack,
            len: syn.payload_len,
        };
        self.machine.supersede(syn.ts, &mut |e| {
            if let MachineEvent::Transition { side, from, to } = e {
                let t = Transition {
                    side,
                    from,
                    to,
                    frame: syn.frame,
                    ts: syn.ts,
                    cause,
                };
                rec.transition(t, keep);
                changes.push(t);
            }
        });
    }
}

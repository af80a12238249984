//! One conn.log row in progress: Zeek's per-packet processing (`TCPSessionAdapter::Process` and
//! the static helpers beside it in `TCPSessionAdapter.cc`), its history letters
//! (`Session::CheckHistory`) and its endpoint state machine (`UpdateStateMachine`), with the
//! `conn_state` that conn/main.zeek derives from the two endpoint states.

mod plain;

use compact_str::CompactString;

use super::endpoint::{ZEndpoint, ZState};
use super::scaled::Counter;
use crate::time::{Duration, Timestamp};
use crate::wire::Segment;

/// `HIST_SYN_PKT`: the first of the history bits of `Session::CheckHistory`, one per letter
/// and direction (the responder's sit 16 bits higher).
const HIST_SYN: u32 = 0x1;
/// `HIST_FIN_PKT`.
const HIST_FIN: u32 = 0x2;
/// `HIST_RST_PKT`.
const HIST_RST: u32 = 0x4;
/// `HIST_FIN_RST_PKT`.
const HIST_FIN_RST: u32 = 0x8;
/// `HIST_DATA_PKT`.
const HIST_DATA: u32 = 0x10;
/// `HIST_ACK_PKT`.
const HIST_ACK: u32 = 0x20;
/// `HIST_MULTI_FLAG_PKT`.
const HIST_MULTI_FLAG: u32 = 0x40;

/// `tcp_attempt_delay`: an unanswered SYN's row is logged and removed this long after it.
const ATTEMPT_DELAY: Duration = Duration::from_secs(5);
/// `tcp_close_delay`: a row is removed this long after its connection closed completely.
const CLOSE_DELAY: Duration = Duration::from_secs(5);

/// The parts of one segment that Zeek's per-packet steps read (its `TCP_Flags`, `len`,
/// `base_seq`, `seg_len`, `seq_one_past_segment` and time), taken once per packet.
#[derive(Clone, Copy, Debug)]
struct SegFields {
    /// SYN flag.
    syn: bool,
    /// FIN flag.
    fin: bool,
    /// RST flag.
    rst: bool,
    /// ACK flag.
    ack: bool,
    /// Payload bytes (`len`).
    len: i64,
    /// Sequence space the segment takes (`get_segment_len`): its payload, plus one for a SYN
    /// and one for a FIN; a RST's payload does not count.
    seg_len: i64,
    /// `base_seq`.
    seq: u32,
    /// `seq_one_past_segment`.
    seq_one_past: u32,
    /// Capture time (ns).
    ts: Timestamp,
}

impl SegFields {
    /// The fields of `seg`.
    fn of(seg: &Segment<'_>) -> Self {
        let f = seg.flags;
        let (syn, fin, rst, ack) = (f.syn(), f.fin(), f.rst(), f.ack());
        let len = seg.payload_len as i64;
        let seg_len = len + syn as i64 + fin as i64 - if rst { len } else { 0 };
        SegFields {
            syn,
            fin,
            rst,
            ack,
            len,
            seg_len,
            seq: seg.seq.0,
            seq_one_past: seg.seq.0.wrapping_add(seg_len as u32),
            ts: seg.ts,
        }
    }
}

/// One Zeek conn.log row in progress: history and endpoint states.
#[derive(Clone, Debug)]
pub(super) struct ZeekRow {
    /// The `history` field, as built so far.
    pub(super) history: CompactString,
    /// `Session::hist_seen`: the [`HIST_SYN`]… bits already recorded.
    hist_seen: u32,
    /// Indexed by Zeek's orientation: 0 is Zeek's originator.
    ep: [ZEndpoint; 2],
    /// Zeek's originator is tcpaudit's responder.
    pub(super) reversed: bool,
    /// `is_partial`: the connection was picked up without its opening SYN.
    is_partial: bool,
    /// Zeek's `last_time`: stops advancing once both endpoints closed.
    last_time: Timestamp,
    /// The attempt timer (an unanswered SYN is logged and removed 5 s later).
    attempt_due: Option<Timestamp>,
    /// Removal after a complete close.
    close_due: Option<Timestamp>,
    /// Packets processed in this row.
    pub(super) packets: u32,
}

crate::base::pack::pack_struct!(ZeekRow {
    history,
    hist_seen,
    ep,
    reversed,
    is_partial,
    last_time,
    attempt_due,
    close_due,
    packets,
});

impl ZeekRow {
    /// A row opened by `seg`, sent by tcpaudit's `from_orig` side.
    pub(super) fn new(seg: &Segment<'_>, from_orig: bool, server_ports: &[u16]) -> Self {
        let flip = starts_flipped(seg, server_ports);
        // Zeek's originator is the first packet's sender unless flipped.
        let zeek_orig_is_sender = !flip;
        let reversed = zeek_orig_is_sender != from_orig;
        let mut z = ZeekRow {
            history: CompactString::const_new(""),
            hist_seen: 0,
            ep: [ZEndpoint::default(), ZEndpoint::default()],
            reversed,
            is_partial: !seg.flags.is_syn_only(),
            last_time: seg.ts,
            attempt_due: None,
            close_due: None,
            packets: 0,
        };
        z.ep[0].is_orig = true;
        for e in &mut z.ep {
            e.last_reassem = 1;
            e.trim = 1;
        }
        if flip {
            z.history.push('^');
        }
        z
    }

    /// The index, in Zeek's orientation, of the endpoint that is tcpaudit's `from_orig` side.
    fn index(&self, from_orig: bool) -> usize {
        if from_orig != self.reversed { 0 } else { 1 }
    }

    /// `TCPSessionAdapter::IsReuse`: a SYN that makes Zeek log this row and start a new one.
    pub(super) fn is_reuse(&self, seg: &Segment<'_>) -> bool {
        let f = seg.flags;
        if !f.syn() {
            return false;
        }
        let (o, r) = (&self.ep[0], &self.ep[1]);
        let mut conn_orig = o;
        if f.ack() {
            if o.state != ZState::Inactive {
                return false;
            }
            conn_orig = r;
        }
        if !(o.did_close || r.did_close) {
            if seg.seq.0 == conn_orig.start_seq {
                return false;
            }
            if !f.ack()
                && conn_orig.state == ZState::SynAckSent
                && r.state == ZState::Inactive
                && seg.seq.0 == r.start_seq
            {
                return false;
            }
        }
        true
    }

    /// Fires the attempt and close timers due at `now`; true if one of them ends the row.
    pub(super) fn timers_end_row(&mut self, now: Timestamp) -> bool {
        if self.attempt_due.is_some_and(|d| d <= now) {
            // `AttemptTimer`: only a still unanswered SYN (or SYN-ACK) is removed.
            self.attempt_due = None;
            let (o, r) = (self.ep[0].state, self.ep[1].state);
            if matches!(o, ZState::SynSent | ZState::SynAckSent) && r == ZState::Inactive {
                return true;
            }
        }
        self.close_due.is_some_and(|d| d <= now)
    }

    /// Zeek's `conn_state` (conn/main.zeek `conn_state`).
    pub(super) fn conn_state(&self) -> &'static str {
        use ZState::*;
        let (o, r) = (&self.ep[0], &self.ep[1]);
        let inactive = |s: ZState| matches!(s, Inactive | Partial);
        if r.state == Reset {
            if matches!(o.state, SynSent | SynAckSent)
                || (o.state == Reset && o.size() == 0 && r.size() == 0)
            {
                "REJ"
            } else if inactive(o.state) {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if o.state == Reset {
            if inactive(r.state) {
                if rstos0(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if r.state == Closed && o.state == Closed {
            "SF"
        } else if o.state == Closed {
            if inactive(r.state) { "SH" } else { "S2" }
        } else if r.state == Closed {
            if inactive(o.state) { "SHR" } else { "S3" }
        } else if o.state == SynSent && r.state == Inactive {
            "S0"
        } else if o.state == Established && r.state == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// A segment with a bad checksum from tcpaudit's `from_orig` side (TCP.cc
    /// `ValidateChecksum`): it counts as a packet and adds `C`/`c` (log scale), nothing else.
    pub(super) fn bad_checksum(&mut self, from_orig: bool) {
        self.packets += 1;
        let i = self.index(from_orig);
        if self.ep[i].scaled.hit(Counter::BadChecksum) {
            self.add(i, 'C');
        }
    }

    /// Processes one segment sent by tcpaudit's `from_orig` side, in the order of
    /// `TCPSessionAdapter::Process`; with `shortcut`, a plain one through
    /// [`Self::on_plain_segment`]. Returns whether it took that shortcut.
    pub(super) fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        from_orig: bool,
        shortcut: bool,
    ) -> bool {
        if shortcut && self.on_plain_segment(seg, from_orig) {
            return true;
        }
        self.packets += 1;
        let s = SegFields::of(seg);
        self.flip_on_second_packet(&s);
        let i = self.index(from_orig);
        self.ep[i].init(s.syn, s.seq, s.seq_one_past);
        let rel_seq = self.ep[i].rel(s.seq);
        self.update_history(i, &s, rel_seq);
        self.update_window(i, seg.window, s.rst);
        if s.syn {
            self.init_window(i, seg.options.wscale);
        }
        if s.fin {
            self.ep[i].sent_fin = true;
            self.ep[i].fin_seq = rel_seq + s.seg_len;
        }
        let rel_ack = s.ack.then(|| self.ack_peer(1 - i, seg.ack.0, s.rst));
        if self.ep[i].update_last_seq(s.seq_one_past, s.syn || s.rst, s.fin, s.len) {
            self.add(i, 'T');
        }
        if !(self.ep[0].did_close && self.ep[1].did_close) {
            self.last_time = s.ts;
        }
        self.state_machine(i, &s);

        // The state machine may have flipped the roles: find the sender again.
        let i = self.index(from_orig);
        // Gaps revealed by this acknowledgment (after the state machine, so that a gap at the
        // very end, in a FIN or RST, is judged by the final states), then this segment's data
        // enters its endpoint's reassembler.
        if let Some(rel_ack) = rel_ack {
            self.gaps_on_ack(i, rel_ack);
        }
        if s.len > 0 && !s.rst && !seg.truncated && rel_seq >= 0 {
            let start = self.ep[i].rel(s.seq) + s.syn as i64;
            self.ep[i].data_sent(start, s.len);
        }
        false
    }

    /// Flip on the second packet (zeek/zeek#2191): a row whose history is exactly a SYN-ACK from
    /// its originator turns round when an ACK or data follows, and the SYN-ACK's sender (now the
    /// responder) counts as established.
    fn flip_on_second_packet(&mut self, s: &SegFields) {
        if self.history == "H" && !s.syn && !s.fin && !s.rst && (s.ack || s.len > 0) {
            self.flip_roles();
            self.history = "^h".into();
            self.ep[1].set_state(ZState::Established);
        }
    }

    /// `update_history`: the flag letters (`S`, `H`, `F`, `R`, `I`, `Q`, `D`, `A`) of a segment
    /// from endpoint `i`, whose sequence number relative to that endpoint's start is `rel_seq`
    /// ([`ZEndpoint::rel`]: within ±2^31, so it keeps as the `i32` of the `hist_last_*`).
    fn update_history(&mut self, i: usize, s: &SegFields, rel_seq: i64) {
        let n = s.syn as u8 + s.fin as u8 + s.rst as u8;
        if n > 1 {
            if s.fin && s.rst {
                self.check(i, HIST_FIN_RST, 'I');
            } else {
                self.check(i, HIST_MULTI_FLAG, 'Q');
            }
        } else if n == 1 {
            // A repeated SYN, FIN or RST adds its letter again unless it repeats the sequence
            // number of the previous one (a plain retransmission).
            if s.syn {
                let code = if s.ack { 'H' } else { 'S' };
                if self.check(i, HIST_SYN, code) && rel_seq != i64::from(self.ep[i].hist_last_syn) {
                    self.add(i, code);
                }
                self.ep[i].hist_last_syn = rel_seq as i32;
            }
            if s.fin {
                // A FIN's sequence number is the one after its payload.
                let fin_seq = rel_seq + s.len;
                if self.check(i, HIST_FIN, 'F') && fin_seq != self.ep[i].hist_last_fin {
                    self.add(i, 'F');
                }
                self.ep[i].hist_last_fin = fin_seq;
            }
            if s.rst {
                if self.check(i, HIST_RST, 'R') && rel_seq != i64::from(self.ep[i].hist_last_rst) {
                    self.add(i, 'R');
                }
                self.ep[i].hist_last_rst = rel_seq as i32;
            }
        } else if s.len > 0 {
            self.check(i, HIST_DATA, 'D');
        } else if s.ack {
            self.check(i, HIST_ACK, 'A');
        }
    }

    /// `update_window`: a zero window from endpoint `i` (scaled by the shift in force before
    /// this packet) adds `W` (log scale), unless it comes with or after a RST or after the
    /// peer's FIN, when no window matters any more.
    fn update_window(&mut self, i: usize, window: u16, rst: bool) {
        let p = 1 - i;
        let window = (window as u32) << self.ep[i].window_scale;
        if window == 0
            && !rst
            && self.ep[p].state != ZState::Closed
            && self.ep[i].state != ZState::Reset
            && self.ep[i].scaled.hit(Counter::ZeroWindow)
        {
            self.add(i, 'W');
        }
    }

    /// Stands for `init_window` on a SYN from endpoint `i`: the window scales apply once both
    /// SYNs carried the option (each capped at 14, RFC 7323 §2.3).
    fn init_window(&mut self, i: usize, wscale: Option<u8>) {
        let p = 1 - i;
        self.ep[i].syn_wscale = wscale;
        if let (Some(a), Some(b)) = (self.ep[i].syn_wscale, self.ep[p].syn_wscale) {
            self.ep[i].window_scale = a.min(14);
            self.ep[p].window_scale = b.min(14);
        }
    }

    /// The acknowledgment number `ack` of a segment towards endpoint `p`: returns it relative to
    /// `p` (Zeek's `rel_ack`). A peer that has sent nothing yet starts its numbering from it
    /// (`init_peer`); otherwise, unless the segment is a RST, it advances `p`'s `ack_seq`
    /// (`update_ack_seq`). An ACK below `p`'s start counts as 0
    /// (`TCP_ack_underflow_or_misorder`).
    fn ack_peer(&mut self, p: usize, ack: u32, rst: bool) -> i64 {
        let pe = &mut self.ep[p];
        if pe.state == ZState::Inactive {
            pe.start_seq = ack.wrapping_sub(1);
            pe.ack_seq = ack.wrapping_sub(1);
            pe.last_seq = ack.wrapping_sub(1);
            return 1;
        }
        let rel_ack = pe.rel(ack);
        if rel_ack < 0 {
            return 0;
        }
        if !rst {
            pe.update_ack_seq(ack);
        }
        rel_ack
    }

    /// `TCP_Reassembler::AckReceived` for the peer of sender `i`: each hole the ACK reveals adds
    /// a `G` for the peer (log scale) while both endpoints are clean
    /// (`TCP_Reassembler::Gap`).
    fn gaps_on_ack(&mut self, i: usize, rel_ack: i64) {
        let p = 1 - i;
        let holes = self.ep[p].ack_received(rel_ack, self.is_partial);
        for _ in 0..holes {
            if self.ep[p].is_clean() && self.ep[i].is_clean() && self.ep[p].scaled.hit(Counter::Gap)
            {
                self.add(p, 'G');
            }
        }
    }

    /// `UpdateStateMachine`: the state change of sender `i` for this segment.
    fn state_machine(&mut self, i: usize, s: &SegFields) {
        use ZState::*;
        match self.ep[i].state {
            Inactive => self.update_inactive(i, s),
            // `UpdateSYN_SentState`: only FIN and RST change the state (the rest are weirds).
            SynSent | SynAckSent => self.fin_rst(i, s.fin, s.rst),
            Established | Partial => self.update_established(i, s),
            Closed => self.update_closed(i, s.rst),
            // `UpdateResetState` only reports weirds.
            Reset => {}
        }
    }

    /// `UpdateInactiveState`: the first segment from endpoint `i`.
    fn update_inactive(&mut self, i: usize, s: &SegFields) {
        use ZState::*;
        let p = 1 - i;
        let is_orig = self.ep[i].is_orig;
        if s.syn {
            if !is_orig {
                let i = self.syn_from_responder(i, s);
                return self.fin_rst(i, s.fin, s.rst);
            }
            self.ep[i].set_state(if s.ack { SynAckSent } else { SynSent });
            self.attempt_due = Some(s.ts + ATTEMPT_DELAY);
        }
        self.fin_rst(i, s.fin, s.rst);
        // Some stacks ACK an initial SYN before sending their SYN-ACK; that bare ACK from the
        // responder does not make the connection partial.
        let early_ack = !is_orig && s.len == 0 && self.ep[0].state == SynSent;
        if self.ep[i].state == Inactive && !early_ack {
            if s.ack && self.ep[p].state == Established {
                // The peer's SYN-ACK was seen but not the SYN: establish rather than call the
                // connection partial.
                self.ep[i].set_state(Established);
                self.is_partial = false;
            } else {
                self.ep[i].set_state(Partial);
            }
        }
    }

    /// A SYN from Zeek's inactive responder `i` (in `UpdateInactiveState`): a SYN-ACK answers
    /// the originator's SYN; a bare SYN with the start sequence number of an originator that
    /// sent a SYN-ACK is a SYN / SYN-ACK reversal, and the roles flip. Both endpoints end up
    /// established; returns the sender's index after any flip.
    fn syn_from_responder(&mut self, i: usize, s: &SegFields) -> usize {
        use ZState::*;
        let mut i = i;
        if !s.ack && self.ep[1 - i].state == SynAckSent && s.seq == self.ep[i].start_seq {
            self.flip_roles();
            i = 1 - i;
            self.ep[1 - i].set_state(Established);
        }
        let p = 1 - i;
        if self.ep[p].state == SynSent {
            self.ep[p].set_state(Established);
        }
        self.ep[i].set_state(Established);
        i
    }

    /// `UpdateEstablishedState` (also for a partial endpoint `i`).
    fn update_established(&mut self, i: usize, s: &SegFields) {
        use ZState::*;
        let p = 1 - i;
        if s.syn && self.ep[i].state == Partial && self.ep[p].state == Inactive && !s.ack {
            // `SYN_after_partial`: the connection starts over.
            self.ep[i].set_state(SynSent);
        }
        if s.fin && !s.rst {
            self.ep[i].set_state(Closed);
            if self.ep[p].state == Reset && self.ep[p].prev_state == Closed {
                // The peer's FIN then RST was a normal close after all.
                self.ep[p].set_state(Closed);
            }
            self.closed(i);
        }
        if s.rst {
            self.ep[i].set_state(Reset);
            self.closed(i);
        }
    }

    /// `UpdateClosedState`: a RST after endpoint `i`'s FIN resets it, unless both sides had
    /// already closed.
    fn update_closed(&mut self, i: usize, rst: bool) {
        if rst && self.ep[1 - i].state != ZState::Closed {
            self.ep[i].set_state(ZState::Reset);
            if !self.ep[i].did_close {
                self.closed(i);
            }
        }
    }

    /// The FIN and RST handling of `UpdateInactiveState` and `UpdateSYN_SentState`.
    fn fin_rst(&mut self, i: usize, fin: bool, rst: bool) {
        if fin {
            self.ep[i].set_state(ZState::Closed);
            self.closed(i);
        }
        if rst {
            self.ep[i].set_state(ZState::Reset);
            self.closed(i);
        }
    }

    /// `TCPSessionAdapter::ConnectionClosed` for endpoint `i`: once the close is complete, the
    /// row is removed [`CLOSE_DELAY`] after its last time.
    fn closed(&mut self, i: usize) {
        let p = 1 - i;
        self.ep[i].did_close = true;
        let complete = self.ep[i].state == ZState::Reset
            || self.ep[p].did_close
            || self.ep[p].state == ZState::Inactive;
        if complete && self.close_due.is_none() {
            self.attempt_due = None;
            self.close_due = Some(self.last_time + CLOSE_DELAY);
        }
    }

    /// `Session::CheckHistory`: records `code` once per direction; true if it was seen before.
    fn check(&mut self, i: usize, mask: u32, code: char) -> bool {
        let (mask, code) = if self.ep[i].is_orig {
            (mask, code)
        } else {
            (mask << 16, code.to_ascii_lowercase())
        };
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.history.push(code);
            false
        } else {
            true
        }
    }

    /// `Session::AddHistory` for endpoint `i`: the letter, lower-cased for the responder.
    fn add(&mut self, i: usize, code: char) {
        let c = if self.ep[i].is_orig {
            code
        } else {
            code.to_ascii_lowercase()
        };
        self.history.push(c);
    }

    /// `TCPSessionAdapter::FlipRoles` (`Connection::FlipRoles` adds the `^`).
    fn flip_roles(&mut self) {
        self.ep.swap(0, 1);
        self.ep[0].is_orig = true;
        self.ep[1].is_orig = false;
        self.reversed = !self.reversed;
        self.is_partial = false;
        self.history.push('^');
    }
}

/// Whether Zeek makes the receiver of a row's first segment its originator
/// (`TCPAnalyzer::WantConnection` / `IPBasedAnalyzer::NewConn`): never for a bare SYN;
/// otherwise when the sender's port is a likely server port and the receiver's is not (or both
/// are and the sender's is the lower, unless the segment is a SYN-ACK).
fn starts_flipped(seg: &Segment<'_>, server_ports: &[u16]) -> bool {
    let likely = |p: u16| server_ports.contains(&p);
    let f = seg.flags;
    if f.syn() && !f.ack() {
        false
    } else if likely(seg.sport) {
        if likely(seg.dport) {
            !f.syn() && seg.sport < seg.dport
        } else {
            true
        }
    } else {
        false
    }
}

/// `^\^?S[^HAFGIQ]*R.*$`, anchored over the whole history: the `RSTOS0` pattern of
/// conn/main.zeek.
fn rstos0(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstos0_pattern() {
        assert!(rstos0("SR"));
        assert!(rstos0("SaR"));
        assert!(rstos0("^SdR"));
        assert!(!rstos0("SaFR"));
        assert!(!rstos0("R"));
    }
}

//! Zeek's view of a TCP connection, reproduced so that `conn_state` and `history` read exactly
//! as in Zeek's conn.log. Zeek keeps its own endpoint states (INACTIVE, SYN_SENT, SYN_ACK_SENT,
//! PARTIAL, ESTABLISHED, CLOSED, RESET) and its own orientation, which can differ from tcpaudit's
//! RFC 9293 machine; the rules below follow `TCPSessionAdapter.cc`, `TCP_Endpoint.cc`,
//! `Session.cc` and `conn/main.zeek` (zeek/zeek).

use crate::wire::{Segment, SeqNum};

/// Zeek endpoint states (`TCP_ENDPOINT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ZState {
    /// Nothing seen.
    #[default]
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN-ACK as its first packet.
    SynAckSent,
    /// Picked up midstream.
    Partial,
    /// Established.
    Established,
    /// Sent FIN.
    Closed,
    /// Sent RST.
    Reset,
}

const SYN: u32 = 0x1;
const FIN: u32 = 0x2;
const RST: u32 = 0x4;
const FIN_RST: u32 = 0x8;
const DATA: u32 = 0x10;
const ACK: u32 = 0x20;
const MULTI_FLAG: u32 = 0x40;
/// Buffered out-of-order blocks per endpoint for gap detection.
const MAX_BLOCKS: usize = 64;

/// A log-scale counter: the letter is recorded at the 1st, 10th, 100th ... occurrence.
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u32,
    threshold: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count == self.threshold {
            let next = self.threshold.saturating_mul(10);
            if next <= self.threshold {
                self.count = 0;
            } else {
                self.threshold = next;
            }
            return true;
        }
        false
    }
}

#[derive(Clone, Debug, Default)]
struct ZEndpoint {
    state: ZState,
    prev_state: ZState,
    is_orig: bool,
    start_seq: u32,
    last_seq: u32,
    ack_seq: u32,
    fin_cnt: u32,
    fin_seq: i64,
    did_close: bool,
    hist_last_syn: i64,
    hist_last_fin: i64,
    hist_last_rst: i64,
    rxmt: Scaled,
    win0: Scaled,
    chk: Scaled,
    gap: Scaled,
    window_scale: u8,
    syn_wscale: Option<u8>,
    // Reassembly bookkeeping for content gaps (relative sequence numbers).
    last_reassem: i64,
    trim: i64,
    blocks: Vec<(i64, i64)>,
}

impl ZEndpoint {
    fn set_state(&mut self, s: ZState) {
        if self.state != s {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    fn rel(&self, seq: u32) -> i64 {
        seq.wrapping_sub(self.start_seq) as i32 as i64
    }

    /// Data from this endpoint (`TCP_Endpoint::DataSent` into the reassembler).
    fn data_sent(&mut self, rel_seq: i64, len: i64) {
        let acked = self.rel(self.ack_seq);
        let mut start = rel_seq;
        let end = rel_seq + len;
        if end <= self.trim.max(acked) || end <= self.last_reassem {
            return;
        }
        start = start.max(self.trim);
        if start <= self.last_reassem {
            self.last_reassem = end.max(self.last_reassem);
            self.absorb();
        } else if self.blocks.len() < MAX_BLOCKS {
            self.blocks.push((start, end));
            self.blocks.sort_unstable();
        }
    }

    /// Moves `last_reassem` over buffered blocks that became contiguous.
    fn absorb(&mut self) {
        while let Some(&(s, e)) = self.blocks.first() {
            if s > self.last_reassem {
                break;
            }
            self.last_reassem = self.last_reassem.max(e);
            self.blocks.remove(0);
        }
    }

    /// The peer acknowledged up to `rel_ack` of this endpoint's data; returns the holes found
    /// (`TCP_Reassembler::AckReceived` / `DataBlockList::Trim`).
    fn ack_received(&mut self, mut rel_ack: i64, partial: bool) -> u32 {
        if self.fin_cnt > 0 && rel_ack >= self.fin_seq {
            rel_ack = self.fin_seq - 1;
        }
        if rel_ack <= self.trim {
            return 0;
        }
        let mut gaps = 0;
        if rel_ack > self.last_reassem && !(rel_ack <= 2 && partial) {
            while let Some(&(s, e)) = self.blocks.first() {
                if s >= rel_ack {
                    break;
                }
                if s > self.last_reassem {
                    gaps += 1;
                }
                self.last_reassem = self.last_reassem.max(e);
                self.blocks.remove(0);
                self.absorb();
            }
            if rel_ack > self.last_reassem {
                gaps += 1;
            }
            self.last_reassem = self.last_reassem.max(rel_ack);
        }
        self.blocks.retain(|b| b.1 > rel_ack);
        self.trim = rel_ack;
        gaps
    }

    fn clean(&self) -> bool {
        self.state == ZState::Established
            || (self.state == ZState::Closed && self.prev_state == ZState::Established)
    }
}

/// TCP ports that Zeek's default scripts register as likely server ports (`likely_server_ports`),
/// used to orient connections that do not start with a SYN.
pub const LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 79, 80, 81, 88, 110, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614,
    631, 636, 989, 990, 992, 993, 995, 1080, 1434, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269,
    5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
];

/// Zeek's timers that can end a conn.log row while packets keep coming (TCPSessionAdapter.cc).
const ATTEMPT_DELAY: i64 = 5_000_000_000; // tcp_attempt_delay
const CLOSE_DELAY: i64 = 5_000_000_000; // tcp_close_delay

/// One Zeek conn.log row in progress: history and endpoint states.
#[derive(Clone, Debug)]
struct ZeekRow {
    history: String,
    hist_seen: u32,
    /// Indexed by Zeek's orientation: 0 is Zeek's originator.
    ep: [ZEndpoint; 2],
    /// Zeek's originator is tcpaudit's responder.
    reversed: bool,
    is_partial: bool,
    /// Zeek's `last_time`: stops advancing once both endpoints closed.
    last_time: i64,
    /// The attempt timer (an unanswered SYN is logged and removed 5 s later).
    attempt_due: Option<i64>,
    /// Removal after a complete close.
    close_due: Option<i64>,
    /// Packets processed in this row.
    packets: u32,
}

/// Zeek's view of a connection: the conn.log rows Zeek would write for its packets. Zeek ends a
/// row on its own timers or when a SYN reuses the four-tuple, and logs later packets of the same
/// connection as a new row; tcpaudit keeps them all in one record and lists the rows.
#[derive(Clone, Debug)]
pub struct ZeekConn {
    rows: Vec<(&'static str, String)>,
    cur: ZeekRow,
    ports: &'static [u16],
}

impl ZeekConn {
    /// Zeek's connection for a first segment sent by tcpaudit's `from_orig` side; `server_ports`
    /// is Zeek's `likely_server_ports` (see [`LIKELY_SERVER_PORTS`]).
    pub fn new(seg: &Segment<'_>, from_orig: bool, server_ports: &'static [u16]) -> Self {
        ZeekConn {
            rows: Vec::new(),
            cur: ZeekRow::new(seg, from_orig, server_ports),
            ports: server_ports,
        }
    }

    /// The current (last) row's history.
    pub fn history(&self) -> &str {
        &self.cur.history
    }

    /// The current (last) row's `conn_state`.
    pub fn conn_state(&self) -> &'static str {
        self.cur.conn_state()
    }

    /// Every row Zeek would log, in order, as (conn_state, history); the last is the current one.
    pub fn rows(&self) -> Vec<(&'static str, &str)> {
        let mut v: Vec<(&'static str, &str)> =
            self.rows.iter().map(|(s, h)| (*s, h.as_str())).collect();
        v.push((self.cur.conn_state(), &self.cur.history));
        v
    }

    /// Whether Zeek would log more than one row for this connection.
    pub fn split(&self) -> bool {
        !self.rows.is_empty()
    }

    /// Whether Zeek's originator (of the current row) is tcpaudit's responder.
    pub fn reversed(&self) -> bool {
        self.cur.reversed
    }

    /// tcpaudit swapped its own roles: Zeek's orientation relative to them flips.
    pub fn our_roles_swapped(&mut self) {
        self.cur.reversed = !self.cur.reversed;
    }

    /// Processes one segment sent by tcpaudit's `from_orig` side. Timers due by its time fire
    /// first (as the half-duplex SSH baselines show: the packet that crosses the attempt timer
    /// opens the next row), then the reuse check of a row that has seen packets.
    pub fn on_segment(&mut self, seg: &Segment<'_>, from_orig: bool) {
        if self.cur.packets > 0
            && (self.cur.timers_end_row(seg.ts.0) || self.cur.is_reuse(seg, from_orig))
        {
            let done = std::mem::replace(&mut self.cur, ZeekRow::new(seg, from_orig, self.ports));
            self.rows.push((done.conn_state(), done.history));
        }
        if seg.checksum_ok == Some(false) {
            // TCP.cc ValidateChecksum: a bad checksum adds `C`/`c` (log-scale) and nothing else.
            self.cur.packets += 1;
            let i = if from_orig != self.cur.reversed { 0 } else { 1 };
            if self.cur.ep[i].chk.hit() {
                self.cur.add(i, 'C');
            }
            return;
        }
        self.cur.on_segment(seg, from_orig);
    }
}

impl ZeekRow {
    fn new(seg: &Segment<'_>, from_orig: bool, server_ports: &[u16]) -> Self {
        let likely = |p: u16| server_ports.contains(&p);
        let f = seg.flags;
        // TCPAnalyzer::WantConnection / IPBasedAnalyzer::NewConn: a bare SYN is never flipped;
        // otherwise the likely server port decides.
        let flip = if f.syn() && !f.ack() {
            false
        } else if likely(seg.sport) {
            if likely(seg.dport) {
                !f.syn() && seg.sport < seg.dport
            } else {
                true
            }
        } else {
            false
        };
        // Zeek's originator is the first packet's sender unless flipped.
        let zeek_orig_is_sender = !flip;
        let reversed = zeek_orig_is_sender != from_orig;
        let mut z = ZeekRow {
            history: String::with_capacity(12),
            hist_seen: 0,
            ep: [ZEndpoint::default(), ZEndpoint::default()],
            reversed,
            is_partial: !f.is_syn_only(),
            last_time: seg.ts.0,
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

    /// `TCPSessionAdapter::IsReuse`: a SYN that makes Zeek log this row and start a new one.
    fn is_reuse(&self, seg: &Segment<'_>, from_orig: bool) -> bool {
        let f = seg.flags;
        if !f.syn() {
            return false;
        }
        let _ = from_orig;
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
    fn timers_end_row(&mut self, now: i64) -> bool {
        if self.attempt_due.is_some_and(|d| d <= now) {
            self.attempt_due = None;
            let (o, r) = (self.ep[0].state, self.ep[1].state);
            if matches!(o, ZState::SynSent | ZState::SynAckSent) && r == ZState::Inactive {
                return true;
            }
        }
        self.close_due.is_some_and(|d| d <= now)
    }

    /// `TCPSessionAdapter::ConnectionClosed` for endpoint `i`.
    fn closed(&mut self, i: usize) {
        let p = 1 - i;
        self.ep[i].did_close = true;
        let complete = self.ep[i].state == ZState::Reset
            || self.ep[p].did_close
            || self.ep[p].state == ZState::Inactive;
        if complete && self.close_due.is_none() {
            self.attempt_due = None;
            self.close_due = Some(self.last_time.saturating_add(CLOSE_DELAY));
        }
    }

    /// Zeek's `conn_state` (conn/main.zeek `conn_state`).
    fn conn_state(&self) -> &'static str {
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

    fn add(&mut self, i: usize, code: char) {
        let c = if self.ep[i].is_orig {
            code
        } else {
            code.to_ascii_lowercase()
        };
        self.history.push(c);
    }

    fn flip_roles(&mut self) {
        self.ep.swap(0, 1);
        self.ep[0].is_orig = true;
        self.ep[1].is_orig = false;
        self.reversed = !self.reversed;
        self.is_partial = false;
        self.history.push('^');
    }

    /// Processes one segment sent by tcpaudit's `from_orig` side.
    fn on_segment(&mut self, seg: &Segment<'_>, from_orig: bool) {
        self.packets += 1;
        let f = seg.flags;
        let (syn, fin, rst, ack) = (f.syn(), f.fin(), f.rst(), f.ack());
        // Flip on the second packet (zeek/zeek#2191): a connection whose history is exactly a
        // SYN-ACK from its originator turns round when an ACK or data follows.
        if self.history == "H" && !syn && !fin && !rst && (ack || seg.payload_len > 0) {
            self.ep.swap(0, 1);
            self.ep[0].is_orig = true;
            self.ep[1].is_orig = false;
            self.reversed = !self.reversed;
            self.is_partial = false;
            self.history = "^h".into();
            self.ep[1].set_state(ZState::Established);
        }
        let i = if from_orig != self.reversed { 0 } else { 1 };
        let p = 1 - i;
        let len = seg.payload_len as i64;
        let seg_len = len + syn as i64 + fin as i64 - if rst { len } else { 0 };
        let seq = seg.seq.0;
        let seq_one_past = seq.wrapping_add(seg_len as u32);

        // init_endpoint.
        {
            let e = &mut self.ep[i];
            match e.state {
                ZState::Inactive => {
                    if syn {
                        e.ack_seq = seq;
                        e.start_seq = seq;
                        e.last_seq = seq_one_past;
                    } else {
                        e.ack_seq = seq.wrapping_sub(1);
                        e.start_seq = seq.wrapping_sub(1);
                        e.last_seq = seq;
                    }
                }
                ZState::SynSent | ZState::SynAckSent => {
                    if syn && seq != e.start_seq {
                        e.start_seq = seq;
                        e.ack_seq = seq;
                        e.last_seq = seq_one_past;
                    }
                }
                ZState::Established | ZState::Partial => {
                    if syn {
                        e.start_seq = seq;
                        e.ack_seq = seq;
                        e.last_seq = seq_one_past;
                    }
                }
                ZState::Reset => {
                    if syn && e.prev_state == ZState::Inactive {
                        e.start_seq = seq;
                        e.ack_seq = seq;
                        e.last_seq = seq_one_past;
                    }
                }
                ZState::Closed => {}
            }
        }
        let rel_seq = self.ep[i].rel(seq);

        // update_history: flag letters.
        let n = syn as u8 + fin as u8 + rst as u8;
        if n > 1 {
            if fin && rst {
                self.check(i, FIN_RST, 'I');
            } else {
                self.check(i, MULTI_FLAG, 'Q');
            }
        } else if n == 1 {
            if syn {
                let code = if ack { 'H' } else { 'S' };
                if self.check(i, SYN, code) && rel_seq != self.ep[i].hist_last_syn {
                    self.add(i, code);
                }
                self.ep[i].hist_last_syn = rel_seq;
            }
            if fin {
                if self.check(i, FIN, 'F') && rel_seq + len != self.ep[i].hist_last_fin {
                    self.add(i, 'F');
                }
                self.ep[i].hist_last_fin = rel_seq + len;
            }
            if rst {
                if self.check(i, RST, 'R') && rel_seq != self.ep[i].hist_last_rst {
                    self.add(i, 'R');
                }
                self.ep[i].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check(i, DATA, 'D');
        } else if ack {
            self.check(i, ACK, 'A');
        }

        // update_window: zero windows (the scale in force before this packet).
        let window = (seg.window as u32) << self.ep[i].window_scale;
        if window == 0
            && !rst
            && self.ep[p].state != ZState::Closed
            && self.ep[i].state != ZState::Reset
            && self.ep[i].win0.hit()
        {
            self.add(i, 'W');
        }

        if syn {
            self.ep[i].syn_wscale = seg.options.wscale;
            if let (Some(a), Some(b)) = (self.ep[i].syn_wscale, self.ep[p].syn_wscale) {
                self.ep[i].window_scale = a.min(14);
                self.ep[p].window_scale = b.min(14);
            }
        }
        if fin {
            self.ep[i].fin_cnt += 1;
            self.ep[i].fin_seq = rel_seq + seg_len;
        }

        // ACK bookkeeping for the peer.
        let mut rel_ack = None;
        if ack {
            let ackn = seg.ack.0;
            if self.ep[p].state == ZState::Inactive {
                rel_ack = Some(1);
                let pe = &mut self.ep[p];
                pe.start_seq = ackn.wrapping_sub(1);
                pe.ack_seq = ackn.wrapping_sub(1);
                pe.last_seq = ackn.wrapping_sub(1);
            } else {
                let r = self.ep[p].rel(ackn);
                if r < 0 {
                    rel_ack = Some(0);
                } else {
                    rel_ack = Some(r);
                    if !rst {
                        let pe = &mut self.ep[p];
                        let d = SeqNum(ackn).diff(SeqNum(pe.ack_seq));
                        if !(ackn == 0 && d > 1_048_576) && d > 0 {
                            pe.ack_seq = ackn;
                        }
                    }
                }
            }
        }

        // update_last_seq: retransmissions.
        {
            let e = &mut self.ep[i];
            let d = SeqNum(seq_one_past).diff(SeqNum(e.last_seq));
            if (syn || rst) && !(-1_048_576..=1_048_576).contains(&d) {
            } else if fin && e.last_seq == e.start_seq.wrapping_add(1) {
                e.last_seq = seq_one_past;
            } else if e.state == ZState::Reset {
            } else if d > 0 {
                e.last_seq = seq_one_past;
            } else if len > 0 && e.rxmt.hit() {
                self.add(i, 'T');
            }
        }

        if !(self.ep[0].did_close && self.ep[1].did_close) {
            self.last_time = seg.ts.0;
        }
        self.state_machine(i, syn, fin, rst, ack, len, seq, seg);

        // Gaps revealed by this acknowledgment (after the state machine), then this segment's
        // data enters its endpoint's reassembler.
        let i = if from_orig != self.reversed { 0 } else { 1 };
        let p = 1 - i;
        if let Some(r) = rel_ack {
            let partial = self.is_partial;
            let holes = self.ep[p].ack_received(r, partial);
            for _ in 0..holes {
                if self.ep[p].clean() && self.ep[i].clean() && self.ep[p].gap.hit() {
                    self.add(p, 'G');
                }
            }
        }
        if len > 0 && !rst && !seg.truncated && rel_seq >= 0 {
            let start = self.ep[i].rel(seq) + syn as i64;
            self.ep[i].data_sent(start, len);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn state_machine(
        &mut self,
        i: usize,
        syn: bool,
        fin: bool,
        rst: bool,
        ack: bool,
        len: i64,
        seq: u32,
        _seg: &Segment<'_>,
    ) {
        use ZState::*;
        let p = 1 - i;
        let is_orig = self.ep[i].is_orig;
        match self.ep[i].state {
            Inactive => {
                if syn {
                    if is_orig {
                        self.ep[i].set_state(if ack { SynAckSent } else { SynSent });
                        self.attempt_due = Some(_seg.ts.0.saturating_add(ATTEMPT_DELAY));
                    } else {
                        let mut i = i;
                        if !ack && self.ep[p].state == SynAckSent && seq == self.ep[i].start_seq {
                            // SYN / SYN-ACK reversal: the SYN-ACK was seen first.
                            self.is_partial = false;
                            self.flip_roles();
                            i = 1 - i;
                            let p = 1 - i;
                            self.ep[p].set_state(Established);
                        }
                        let p = 1 - i;
                        if self.ep[p].state == SynSent {
                            self.ep[p].set_state(Established);
                        }
                        self.ep[i].set_state(Established);
                        return self.fin_rst(i, fin, rst);
                    }
                }
                self.fin_rst(i, fin, rst);
                if self.ep[i].state == Inactive {
                    if !is_orig && len == 0 && self.orig().state == SynSent {
                    } else if ack && self.ep[p].state == Established {
                        self.ep[i].set_state(Established);
                        self.is_partial = false;
                    } else {
                        self.ep[i].set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => self.fin_rst(i, fin, rst),
            Established | Partial => {
                if syn && self.ep[i].state == Partial && self.ep[p].state == Inactive && !ack {
                    self.ep[i].set_state(SynSent);
                }
                if fin && !rst {
                    self.ep[i].set_state(Closed);
                    if self.ep[p].state == Reset && self.ep[p].prev_state == Closed {
                        self.ep[p].set_state(Closed);
                    }
                    self.closed(i);
                }
                if rst {
                    self.ep[i].set_state(Reset);
                    self.closed(i);
                }
            }
            Closed => {
                if rst && self.ep[p].state != Closed {
                    self.ep[i].set_state(Reset);
                    if !self.ep[i].did_close {
                        self.closed(i);
                    }
                }
            }
            Reset => {}
        }
    }

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

    fn orig(&self) -> &ZEndpoint {
        &self.ep[0]
    }
}

impl ZEndpoint {
    /// `TCP_Endpoint::Size()`: payload bytes by sequence numbers.
    fn size(&self) -> i64 {
        if self.prev_state == ZState::SynSent && self.state == ZState::Reset {
            let acked = self.rel(self.ack_seq);
            if acked == 0 || acked == 1 {
                return 0;
            }
        }
        let last = self.rel(self.last_seq);
        let ackd = self.rel(self.ack_seq);
        let mut size = last.max(ackd);
        if size != 0 {
            size -= 1;
        }
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size
    }
}

/// `^\^?S[^HAFGIQ]*R.*$`, anchored over the whole history.
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

    #[test]
    fn scaled_letters_at_powers_of_ten() {
        let mut s = Scaled::default();
        let hits: Vec<u32> = (1..=1000).filter(|_| s.hit()).collect();
        assert_eq!(hits.len(), 4);
    }
}

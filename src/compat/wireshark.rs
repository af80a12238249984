//! Wireshark's TCP sequence analysis (`tcp_analyze_sequence_number` of packet-tcp.c in
//! Wireshark 4.0), reproduced per connection so that segment classes match `tcp.analysis.*`
//! flags frame for frame. The order of the checks, the state each one reads and when that state
//! is updated follow the C code, quirks included (see the comments); the names of the fields
//! are Wireshark's.

use thin_vec::ThinVec;

use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, SeqNum, Side, give_back_room};

/// Analysis flags of one segment (Wireshark's `TCP_A_*`).
pub mod flag {
    /// `tcp.analysis.retransmission`.
    pub const RETRANSMISSION: u16 = 1 << 0;
    /// `tcp.analysis.lost_segment` (previous segment not captured).
    pub const LOST_SEGMENT: u16 = 1 << 1;
    /// `tcp.analysis.ack_lost_segment` (ACKed unseen segment).
    pub const ACK_LOST_SEGMENT: u16 = 1 << 2;
    /// `tcp.analysis.keep_alive`.
    pub const KEEP_ALIVE: u16 = 1 << 3;
    /// `tcp.analysis.duplicate_ack`.
    pub const DUPLICATE_ACK: u16 = 1 << 4;
    /// `tcp.analysis.zero_window`.
    pub const ZERO_WINDOW: u16 = 1 << 5;
    /// `tcp.analysis.zero_window_probe`.
    pub const ZERO_WINDOW_PROBE: u16 = 1 << 6;
    /// `tcp.analysis.zero_window_probe_ack`.
    pub const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 7;
    /// `tcp.analysis.keep_alive_ack`.
    pub const KEEP_ALIVE_ACK: u16 = 1 << 8;
    /// `tcp.analysis.out_of_order`.
    pub const OUT_OF_ORDER: u16 = 1 << 9;
    /// `tcp.analysis.fast_retransmission`.
    pub const FAST_RETRANSMISSION: u16 = 1 << 10;
    /// `tcp.analysis.window_update`.
    pub const WINDOW_UPDATE: u16 = 1 << 11;
    /// `tcp.analysis.window_full`.
    pub const WINDOW_FULL: u16 = 1 << 12;
    /// `tcp.analysis.reused_ports`.
    pub const REUSED_PORTS: u16 = 1 << 13;
    /// `tcp.analysis.spurious_retransmission`.
    pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 14;
}
use flag::*;

/// Wireshark keeps at most this many unacknowledged segments per direction; past it SYN and
/// FIN no longer count one sequence number (a packet-tcp.c quirk kept for compatibility).
const MAX_UNACKED: usize = 10_000;
/// Fast retransmission: the last ACK came less than 20 ms earlier.
const FAST_RT_WINDOW_NS: i64 = 20_000_000;
/// Out of order: within the initial RTT, or 3 ms when it is unknown.
const OOO_DEFAULT_NS: i64 = 3_000_000;

/// The state of one direction, named after Wireshark's `tcp_flow_t` and its
/// `tcp_analyze_seq_info_t` (it is not one of tcpaudit's flows: hence the name).
#[derive(Clone, Debug)]
struct DirState {
    /// `base_seq`: the sequence number relative numbering starts from (the SYN's, or one below
    /// the first seen).
    base_seq: Option<u32>,
    /// `window`: the last advertised window, unscaled.
    window: u32,
    /// `win_scale`: -1 unknown, -2 no scaling, else the shift.
    win_scale: i8,
    /// `is_first_ack`: this direction has not yet sent an ACK after its SYN, so its window is
    /// still the unscaled SYN window.
    is_first_ack: bool,
    /// `lastsegmentflags`: the [`flag`] bits of this direction's previous segment.
    lastsegmentflags: u16,
    /// Ends of unacknowledged segments (only their number matters, for `MAX_UNACKED`): a thin
    /// vector, its length and room on the heap beside the entries, so that a direction with
    /// none takes one word rather than a deque's four.
    unacked: ThinVec<u32>,
    /// `lastack`: the last acknowledgment number sent.
    lastack: u32,
    /// `lastacktime`: when it was sent (ns).
    lastacktime: Timestamp,
    /// `lastnondupack`: the frame of the last ACK that was not a duplicate.
    lastnondupack: u64,
    /// `dupacknum`: duplicate ACKs in the current run. The ACK-of-unseen-segment check sets it to
    /// `u32::MAX` (so that it flags once); the next duplicate then counts as #1.
    dupacknum: u32,
    /// `nextseq`: the sequence number expected next.
    nextseq: u32,
    /// `maxseqtobeacked`: the highest sequence number the peer may acknowledge.
    maxseqtobeacked: u32,
    /// `nextseqtime`: when `nextseq` last advanced (ns).
    nextseqtime: Timestamp,
}

crate::base::pack::pack_struct!(DirState {
    base_seq,
    window,
    win_scale,
    is_first_ack,
    lastsegmentflags,
    unacked,
    lastack,
    lastacktime,
    lastnondupack,
    dupacknum,
    nextseq,
    maxseqtobeacked,
    nextseqtime,
});

impl Default for DirState {
    fn default() -> Self {
        DirState {
            base_seq: None,
            window: u32::MAX,
            win_scale: -1,
            is_first_ack: false,
            lastsegmentflags: 0,
            unacked: ThinVec::new(),
            lastack: 0,
            lastacktime: Timestamp::EPOCH,
            lastnondupack: 0,
            dupacknum: 0,
            nextseq: 0,
            maxseqtobeacked: 0,
            nextseqtime: Timestamp::EPOCH,
        }
    }
}

/// The classes Wireshark gives one segment, and its duplicate-ACK number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Classes {
    /// [`flag`] bits.
    pub flags: u16,
    /// For a duplicate ACK, its number in the run (`duplicate_ack#N`).
    pub dupack_num: u32,
    /// For a duplicate ACK, the frame of the ACK it duplicates.
    pub dupack_frame: u64,
}

crate::base::pack::pack_struct!(Classes {
    flags,
    dupack_num,
    dupack_frame,
});

impl Classes {
    /// Whether `f` is set.
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// Wireshark's analysis state for one connection.
#[derive(Clone, Debug, Default)]
pub struct WsConv {
    /// Per direction, indexed by [`Side::index`].
    dirs: [DirState; 2],
    /// `ts_mru_syn`: time of the most recent SYN (the epoch before any, as Wireshark's zero
    /// `nstime_t`).
    ts_mru_syn: Timestamp,
    /// `ts_first_rtt`: the initial RTT (zero while unknown).
    ts_first_rtt: Duration,
}

crate::base::pack::pack_struct!(WsConv {
    dirs,
    ts_mru_syn,
    ts_first_rtt,
});

// Sequence numbers are compared in `SeqNum`'s serial order. Its `<` and `<=` are exactly
// Wireshark's LT_SEQ and LE_SEQ. Its `>` is GT_SEQ except for two numbers exactly 2^31 apart,
// where GT_SEQ holds both ways and `>` neither; the emulation has always used `>`.
impl WsConv {
    /// Gives back the room of each direction's queue of unacknowledged segments once it is
    /// empty: a closed connection keeps none, and waits out 2*MSL with its queues empty.
    pub fn release_spare(&mut self) {
        for d in &mut self.dirs {
            give_back_room(&mut d.unacked, 0);
        }
    }

    /// Entries the queues of unacknowledged segments have room for.
    #[cfg(test)]
    pub(crate) fn queue_capacity(&self) -> usize {
        self.dirs.iter().map(|d| d.unacked.capacity()).sum()
    }

    /// Classifies one segment sent by side `from` (in tcpaudit's orientation; the analysis
    /// itself is symmetric).
    pub fn segment(&mut self, seg: &Segment<'_>, from: Side) -> Classes {
        let f = seg.flags;
        let (syn, ack) = (f.syn(), f.ack());
        let seq = seg.seq.0;
        let (fi, ri) = (from.index(), from.other().index());
        let mut ta = Classes::default();
        {
            let fwd = &mut self.dirs[fi];
            // A SYN repeating the base sequence number: its retransmission (the new-stream case
            // is a new incarnation, opened by the connection table).
            if syn && !ack && fwd.base_seq == Some(seq) {
                fwd.nextseq = fwd.maxseqtobeacked;
            }
            // A SYN-ACK with another sequence number restarts the direction (reused ports).
            if syn && ack && fwd.base_seq.is_some_and(|b| b != seq) {
                fwd.base_seq = Some(seq);
                ta.flags |= REUSED_PORTS;
            }
            if fwd.base_seq.is_none() {
                fwd.base_seq = Some(if syn { seq } else { seq.wrapping_sub(1) });
            }
        }
        if ack && self.dirs[ri].base_seq.is_none() {
            self.dirs[ri].base_seq = Some(seg.ack.0.wrapping_sub(1));
        }
        self.analyze(seg, from, &mut ta);

        let now = seg.ts;
        if syn {
            if !ack {
                self.ts_mru_syn = now;
            }
            self.dirs[fi].is_first_ack = true;
        }
        if ack && !syn {
            if self.ts_mru_syn != Timestamp::EPOCH && self.ts_first_rtt == Duration::ZERO {
                self.ts_first_rtt = now.since(self.ts_mru_syn);
            }
            self.dirs[fi].is_first_ack = false;
        }
        if let Some(ws) = seg.options.wscale {
            self.dirs[fi].win_scale = ws.min(14) as i8;
        }
        if syn {
            if self.dirs[fi].win_scale == -1 {
                self.dirs[fi].win_scale = -2;
                self.dirs[ri].win_scale = -2;
            } else if ack && self.dirs[ri].win_scale == -2 {
                self.dirs[fi].win_scale = -2;
            }
        }
        ta
    }

    /// `tcp_analyze_sequence_number` for a segment sent by side `from`.
    fn analyze(&mut self, seg: &Segment<'_>, from: Side, ta: &mut Classes) {
        let f = seg.flags;
        let (syn, fin, rst, ack) = (f.syn(), f.fin(), f.rst(), f.ack());
        let (seq, ackn, len) = (seg.seq.0, seg.ack.0, seg.payload_len);
        let window = seg.window as u32;
        let now = seg.ts;
        let ts_first_rtt = self.ts_first_rtt;
        let [orig, resp] = &mut self.dirs;
        let (fwd, rev) = match from {
            Side::Orig => (orig, resp),
            Side::Resp => (resp, orig),
        };
        let ctrl = syn || fin || rst;

        // Zero-window probe: one byte at the next expected sequence number into a zero window.
        // It skips the other forward checks (`goto finished_fwd`); so do the keep-alive ACK and
        // the zero-window-probe ACK below, which end the chain of checks.
        if len == 1 && seq == fwd.nextseq && rev.window == 0 {
            ta.flags |= ZERO_WINDOW_PROBE;
        } else {
            if window == 0 && !ctrl {
                ta.flags |= ZERO_WINDOW;
            }
            if fwd.nextseq != 0 && SeqNum(seq) > SeqNum(fwd.nextseq) && !rst {
                ta.flags |= LOST_SEGMENT;
            }
            if len <= 1 && seq == fwd.nextseq.wrapping_sub(1) && !ctrl {
                ta.flags |= KEEP_ALIVE;
            }
            if len == 0
                && window != 0
                && window != fwd.window
                && seq == fwd.nextseq
                && ackn == fwd.lastack
                && !ctrl
            {
                ta.flags |= WINDOW_UPDATE;
            }
            if len > 0 && rev.win_scale != -1 && !ctrl {
                // The reverse direction's window, scaled unless it is still its SYN window.
                let shift = if rev.is_first_ack || rev.win_scale == -2 {
                    0
                } else {
                    rev.win_scale as u32
                };
                let edge = rev.lastack.wrapping_add(rev.window.wrapping_shl(shift));
                if seq.wrapping_add(len) == edge {
                    ta.flags |= WINDOW_FULL;
                }
            }
            let same = len == 0 && seq == fwd.nextseq && ackn == fwd.lastack && !ctrl;
            if same && window != 0 && window == fwd.window && rev.lastsegmentflags & KEEP_ALIVE != 0
            {
                ta.flags |= KEEP_ALIVE_ACK;
            } else if same
                && window == 0
                && fwd.window == 0
                && rev.lastsegmentflags & ZERO_WINDOW_PROBE != 0
            {
                ta.flags |= ZERO_WINDOW_PROBE_ACK;
            } else if same && window != 0 && window == fwd.window {
                fwd.dupacknum = if fwd.dupacknum == u32::MAX {
                    1
                } else {
                    fwd.dupacknum.wrapping_add(1)
                };
                ta.flags |= DUPLICATE_ACK;
                ta.dupack_num = fwd.dupacknum;
                ta.dupack_frame = fwd.lastnondupack;
            }
        }
        // finished_fwd:
        if ackn != fwd.lastack {
            fwd.lastnondupack = seg.frame;
            fwd.dupacknum = 0;
        }
        // ACKed unseen segment.
        if rev.maxseqtobeacked != 0 && SeqNum(ackn) > SeqNum(rev.maxseqtobeacked) && ack {
            if SeqNum(rev.maxseqtobeacked) < SeqNum(rev.nextseq) {
                rev.maxseqtobeacked = rev.nextseq;
                ta.flags |= ACK_LOST_SEGMENT;
            } else {
                if rev.dupacknum == 0 {
                    ta.flags |= ACK_LOST_SEGMENT;
                }
                rev.dupacknum = u32::MAX;
            }
        }
        // Retransmission type, in Wireshark's precedence: keep-alive, spurious, fast
        // retransmission or out of order, retransmission.
        if len > 0 || syn || fin {
            'check: {
                let mut seq_not_advanced = fwd.nextseq != 0 && SeqNum(seq) < SeqNum(fwd.nextseq);
                if ta.flags & KEEP_ALIVE != 0 {
                    break 'check;
                }
                // A segment starting one byte below the next expected one after a
                // zero-window probe is not a retransmission.
                if len > 1 && fwd.nextseq.wrapping_sub(1) == seq {
                    seq_not_advanced = false;
                }
                if len > 0 && rev.lastack != 0 && SeqNum(seq).add(len) <= SeqNum(rev.lastack) {
                    ta.flags |= SPURIOUS_RETRANSMISSION;
                    break 'check;
                }
                // guint64 arithmetic in C: a timestamp going backwards makes the difference huge.
                let since = |t: Timestamp| now.wrapping_since_unsigned(t);
                let fast = seq_not_advanced
                    && rev.dupacknum >= 2
                    && rev.lastack == seq
                    && since(rev.lastacktime) < FAST_RT_WINDOW_NS as u64;
                if fast {
                    ta.flags |= FAST_RETRANSMISSION;
                    break 'check;
                }
                // A negative iRTT (the clock stepped back) is a huge unsigned threshold in C too.
                let threshold = if ts_first_rtt == Duration::ZERO {
                    OOO_DEFAULT_NS as u64
                } else {
                    ts_first_rtt.as_nanos() as u64
                };
                let adj = (syn || fin) as u32;
                if seq_not_advanced
                    && since(fwd.nextseqtime) < threshold
                    && fwd.nextseq != seq.wrapping_add(len).wrapping_add(adj)
                {
                    ta.flags |= OUT_OF_ORDER;
                    break 'check;
                }
                if seq_not_advanced {
                    ta.flags |= RETRANSMISSION;
                }
            }
        }
        // finished_checking_retransmission_type:
        let mut nextseq = seq.wrapping_add(len);
        if (len > 0 || syn || fin) && fwd.unacked.len() < MAX_UNACKED {
            if syn || fin {
                nextseq = nextseq.wrapping_add(1);
            }
            fwd.unacked.push(nextseq);
        }
        let zwp = ta.flags & ZERO_WINDOW_PROBE != 0;
        if (SeqNum(nextseq) > SeqNum(fwd.nextseq) || fwd.nextseq == 0) && !zwp {
            fwd.nextseq = nextseq;
            fwd.nextseqtime = now;
        }
        if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !zwp {
            fwd.maxseqtobeacked = fwd.nextseq;
        }
        fwd.window = window;
        fwd.lastack = ackn;
        fwd.lastacktime = now;
        fwd.lastsegmentflags = ta.flags;
        // Acknowledged segments leave the reverse direction's list.
        rev.unacked.retain(|&end| SeqNum(end) > SeqNum(ackn));
        // Once a burst is acknowledged its room goes back: the bound charges a connection a
        // fixed size, and an idle one would otherwise keep its largest burst's. (A queue
        // emptied and refilled each exchange reallocates beyond 16 entries: 0.1% more
        // instructions on a generated capture.)
        give_back_room(&mut rev.unacked, 16);
    }

    /// Swaps the two directions (the connection's roles were flipped).
    pub fn swap(&mut self) {
        self.dirs.swap(0, 1);
    }

    /// The initial RTT (Wireshark's iRTT: first pure ACK after the most recent SYN), once known.
    pub fn initial_rtt(&self) -> Option<Duration> {
        (self.ts_first_rtt != Duration::ZERO).then_some(self.ts_first_rtt)
    }
}

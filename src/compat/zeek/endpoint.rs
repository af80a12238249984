//! One endpoint of Zeek's TCP connection (`TCP_Endpoint.cc`): its state, its sequence-number
//! bookkeeping (with the helpers `init_endpoint`, `update_ack_seq` and `update_last_seq` of
//! `TCPSessionAdapter.cc`, which touch one endpoint only), and the slice of its reassembler
//! (`TCP_Reassembler.cc`) that finds the content gaps behind the `G`/`g` history letters.
//! Zeek's field names are kept, lower-cased.

use super::scaled::{Counter, Scaled};
use crate::wire::SeqNum;
use thin_vec::ThinVec;

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

crate::base::pack::pack_enum!(ZState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset
});

/// Buffered out-of-order blocks per endpoint for gap detection: a bound on memory, past which
/// further blocks are not kept.
const MAX_BLOCKS: usize = 64;

/// `TOO_LARGE_SEQ_DELTA` (TCPSessionAdapter.cc): a sequence or acknowledgment number that jumps
/// further than this is more likely broken than a fast connection, and is not trusted.
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

/// One endpoint (`TCP_Endpoint`). Sequence numbers are absolute unless named relative; relative
/// ones count from `start_seq`, so the first data byte after a SYN is 1.
#[derive(Clone, Debug, Default)]
pub(super) struct ZEndpoint {
    /// `state`.
    pub(super) state: ZState,
    /// `prev_state`: the state before the last change (`SetState`).
    pub(super) prev_state: ZState,
    /// `is_orig`: this is Zeek's originator (it moves with a role flip).
    pub(super) is_orig: bool,
    /// `StartSeq()`: the SYN's sequence number, or one below the first one seen midstream.
    pub(super) start_seq: u32,
    /// `LastSeq()`: one past the highest sequence number sent.
    pub(super) last_seq: u32,
    /// `AckSeq()`: the highest of this endpoint's sequence numbers the peer acknowledged.
    pub(super) ack_seq: u32,
    /// `FIN_cnt > 0`: a FIN was sent (Zeek reads its count of FINs only against zero).
    pub(super) sent_fin: bool,
    /// `FIN_seq`: relative sequence number one past the last FIN.
    pub(super) fin_seq: i64,
    /// `did_close`: `ConnectionClosed` ran for this endpoint.
    pub(super) did_close: bool,
    /// `hist_last_SYN`: relative sequence number of the last SYN, so that a SYN repeating it
    /// adds no second letter (relative numbers are within ±2^31: [`Self::rel`]).
    pub(super) hist_last_syn: i32,
    /// `hist_last_FIN`: as `hist_last_syn`, for the FIN (taken after the payload).
    pub(super) hist_last_fin: i64,
    /// `hist_last_RST`: as `hist_last_syn`, for the RST.
    pub(super) hist_last_rst: i32,
    /// Retransmissions, zero windows, bad checksums and content gaps, counted on a log scale
    /// for their letters (`T`, `W`, `C`, `G`).
    pub(super) scaled: Scaled,
    /// `window_scale`: the shift applied to this endpoint's advertised windows.
    pub(super) window_scale: u8,
    /// The window-scale option of this endpoint's SYN, if it carried one.
    pub(super) syn_wscale: Option<u8>,
    /// `TCP_Reassembler::last_reassem_seq`: relative sequence number up to which the data is
    /// contiguous.
    pub(super) last_reassem: i64,
    /// `TCP_Reassembler::trim_seq`: relative sequence number below which nothing is kept.
    pub(super) trim: i64,
    /// Data above a hole (the reassembler's `block_list`), as sorted relative `(start, end)`.
    blocks: ThinVec<(i64, i64)>,
}

crate::base::pack::pack_struct!(ZEndpoint {
    state,
    prev_state,
    is_orig,
    start_seq,
    last_seq,
    ack_seq,
    sent_fin,
    fin_seq,
    did_close,
    hist_last_syn,
    hist_last_fin,
    hist_last_rst,
    scaled,
    window_scale,
    syn_wscale,
    last_reassem,
    trim,
    blocks,
});

impl ZEndpoint {
    /// `SetState`: remembers the previous state on a change.
    pub(super) fn set_state(&mut self, s: ZState) {
        if self.state != s {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    /// `seq` relative to `start_seq`, within ±2^31 (Zeek's `get_relative_seq` before any
    /// 32-bit wrap has been counted).
    pub(super) fn rel(&self, seq: u32) -> i64 {
        seq.wrapping_sub(self.start_seq) as i32 as i64
    }

    /// `init_endpoint` (TCPSessionAdapter.cc): sets up the sequence numbers from this
    /// endpoint's first segment (`seq` up to `seq_one_past`), or again from a SYN that starts
    /// it over.
    pub(super) fn init(&mut self, syn: bool, seq: u32, seq_one_past: u32) {
        let restart = |e: &mut ZEndpoint| {
            e.start_seq = seq;
            e.ack_seq = seq;
            e.last_seq = seq_one_past;
        };
        match self.state {
            ZState::Inactive => {
                if syn {
                    restart(self);
                } else {
                    // Midstream: number as though a SYN had been seen, and do not count this
                    // first segment as a retransmission.
                    self.ack_seq = seq.wrapping_sub(1);
                    self.start_seq = seq.wrapping_sub(1);
                    self.last_seq = seq;
                }
            }
            // `SYN_seq_jump`.
            ZState::SynSent | ZState::SynAckSent if syn && seq != self.start_seq => restart(self),
            // A SYN inside the connection: guess that this SYN is the one that sets it up.
            ZState::Established | ZState::Partial if syn => restart(self),
            // Numbers taken from a RST that came first may have been spoofed: trust the SYN.
            ZState::Reset if syn && self.prev_state == ZState::Inactive => restart(self),
            _ => {}
        }
    }

    /// `update_ack_seq` (TCPSessionAdapter.cc): advances `ack_seq` to `ack`, unless it is 0
    /// after a very large jump (more likely a broken ACK than a connection landing on 0).
    pub(super) fn update_ack_seq(&mut self, ack: u32) {
        let delta_ack = SeqNum(ack).diff(SeqNum(self.ack_seq));
        let broken = ack == 0 && delta_ack > TOO_LARGE_SEQ_DELTA;
        if !broken && delta_ack > 0 {
            self.ack_seq = ack;
        }
    }

    /// `update_last_seq` (TCPSessionAdapter.cc) for a segment ending at `seq_one_past` with
    /// `len` payload bytes: moves `last_seq` past it, or counts a retransmission; true when the
    /// retransmission adds a `T` (log scale).
    pub(super) fn update_last_seq(
        &mut self,
        seq_one_past: u32,
        syn_or_rst: bool,
        fin: bool,
        len: i64,
    ) -> bool {
        let delta_last = SeqNum(seq_one_past).diff(SeqNum(self.last_seq));
        if syn_or_rst && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta_last) {
            // A SYN or RST far outside the sequence space seen so far is not trusted.
            false
        } else if fin && self.last_seq == self.start_seq.wrapping_add(1) {
            // A FIN after only the SYN moves `last_seq` even backwards: connections over 2 GB
            // of which only the SYN and the FIN were seen.
            self.last_seq = seq_one_past;
            false
        } else if self.state == ZState::Reset {
            // After a RST no sequence number is trusted.
            false
        } else if delta_last > 0 {
            self.last_seq = seq_one_past;
            false
        } else {
            len > 0 && self.scaled.hit(Counter::Retransmission)
        }
    }

    /// `TCP_Endpoint::Size()`: payload bytes by sequence numbers.
    pub(super) fn size(&self) -> i64 {
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
        if self.sent_fin && size != 0 {
            size -= 1;
        }
        size
    }

    /// `is_clean` (TCP_Reassembler.cc): established, or closed straight from established. Gaps
    /// count only while both endpoints are clean.
    pub(super) fn is_clean(&self) -> bool {
        self.state == ZState::Established
            || (self.state == ZState::Closed && self.prev_state == ZState::Established)
    }

    /// Data from this endpoint (`TCP_Endpoint::DataSent` into the reassembler).
    pub(super) fn data_sent(&mut self, rel_seq: i64, len: i64) {
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

    /// Moves `last_reassem` over buffered blocks that became contiguous
    /// (`TCP_Reassembler::BlockInserted`).
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
    /// (`TCP_Reassembler::AckReceived` / `DataBlockList::Trim`). In a `partial` connection an
    /// ACK of 1 or 2 reveals no hole: Zeek faked the initial sequence number there
    /// (`TCP_Reassembler::Undelivered`).
    pub(super) fn ack_received(&mut self, mut rel_ack: i64, partial: bool) -> u32 {
        if self.sent_fin && rel_ack >= self.fin_seq {
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
        // Nearly always empty: no call for it then.
        if !self.blocks.is_empty() {
            self.blocks.retain(|b| b.1 > rel_ack);
        }
        self.trim = rel_ack;
        gaps
    }
}

//! Zeek's view of a TCP connection, reproduced so that `conn_state` and `history` read exactly
//! as in Zeek's conn.log. Zeek keeps its own endpoint states (INACTIVE, SYN_SENT, SYN_ACK_SENT,
//! PARTIAL, ESTABLISHED, CLOSED, RESET) and its own orientation, which can differ from tcpaudit's
//! RFC 9293 machine; the rules below follow `TCPSessionAdapter.cc`, `TCP_Endpoint.cc`,
//! `Session.cc` and `conn/main.zeek` (zeek/zeek).
//!
//! - this file: [`ZeekConn`], the rows Zeek would log for one tcpaudit connection;
//! - `row.rs`: one row in progress, its history letters and the endpoint state machine;
//! - `row/plain.rs`: the shortcut for the plain acknowledgments and data of an established
//!   connection, most of its segments;
//! - `endpoint.rs`: one endpoint, its sequence numbers and its content-gap tracker;
//! - `scaled.rs`: the log-scale counter behind the repeated letters (`T`, `W`, `C`, `G`).

mod endpoint;
mod row;
mod scaled;

use crate::base::pack::{Pack, Reader, Writer};
use compact_str::CompactString;
pub use endpoint::ZState;
use row::ZeekRow;
use thin_vec::ThinVec;

use crate::wire::Segment;

/// TCP ports that Zeek's default scripts register as likely server ports (`likely_server_ports`),
/// used to orient connections that do not start with a SYN.
pub const LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 79, 80, 81, 88, 110, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614,
    631, 636, 989, 990, 992, 993, 995, 1080, 1434, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269,
    5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
];

/// Zeek's view of a connection: the conn.log rows Zeek would write for its packets. Zeek ends a
/// row on its own timers or when a SYN reuses the four-tuple, and logs later packets of the same
/// connection as a new row; tcpaudit keeps them all in one record and lists the rows.
///
/// Zeek's `likely_server_ports`, which orient each new row, are the run's setting: they are
/// passed with every segment rather than kept in every connection's view.
#[derive(Clone, Debug)]
pub struct ZeekConn {
    /// Finished rows, as (conn_state, history).
    rows: ThinVec<(&'static str, CompactString)>,
    /// The row in progress.
    cur: ZeekRow,
}

impl Pack for ZeekConn {
    fn pack(&self, w: &mut Writer) {
        let ZeekConn { rows, cur } = self;
        pack_rows(rows, w);
        cur.pack(w);
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        let rows = unpack_rows(r);
        ZeekConn {
            rows,
            cur: ZeekRow::unpack(r),
        }
    }
}

/// Writes rows of `(conn_state, history)`, each state as its index in [`CONN_STATES`].
pub fn pack_rows(rows: &[(&'static str, CompactString)], w: &mut Writer) {
    w.int(rows.len() as u64);
    for (state, history) in rows {
        // A state not in the list (a defect) reads back as the last, "OTH".
        let i = CONN_STATES.iter().position(|c| c == state);
        w.byte(i.unwrap_or(CONN_STATES.len() - 1) as u8);
        history.pack(w);
    }
}

/// Reads rows [`pack_rows`] wrote.
pub fn unpack_rows(r: &mut Reader<'_>) -> ThinVec<(&'static str, CompactString)> {
    Vec::<(u8, CompactString)>::unpack(r)
        .into_iter()
        .map(|(i, history)| {
            let state = CONN_STATES.get(usize::from(i)).copied().unwrap_or("OTH");
            (state, history)
        })
        .collect()
}

impl ZeekConn {
    /// Zeek's connection for a first segment sent by tcpaudit's `from_orig` side; `server_ports`
    /// is Zeek's `likely_server_ports` (see [`LIKELY_SERVER_PORTS`]).
    pub fn new(seg: &Segment<'_>, from_orig: bool, server_ports: &[u16]) -> Self {
        ZeekConn {
            rows: ThinVec::new(),
            cur: ZeekRow::new(seg, from_orig, server_ports),
        }
    }

    /// Follows a connection from its segments alone, in order, each with whether tcpaudit's
    /// originator sent it: the first creates the view in `view`, every one goes through
    /// [`Self::on_captured`]. What a report reading the capture again rebuilds this way is the
    /// view the analysis would have kept (its roles may flip meanwhile: Zeek's orientation is
    /// its own, so the final roles from the start give the same rows).
    pub fn follow(
        view: &mut Option<ZeekConn>,
        seg: &Segment<'_>,
        from_orig: bool,
        server_ports: &[u16],
    ) {
        view.get_or_insert_with(|| ZeekConn::new(seg, from_orig, server_ports))
            .on_captured(seg, from_orig, server_ports);
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
    pub fn rows(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.rows
            .iter()
            .map(|(s, h)| (*s, h.as_str()))
            .chain([(self.cur.conn_state(), self.cur.history.as_str())])
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

    /// Processes one captured segment sent by tcpaudit's `from_orig` side, as Zeek would see
    /// it: a segment whose header the snaplen cut is ignored (Zeek's `truncated_header` weird).
    /// This is all a connection's segments, in order, ever go through, so that a view rebuilt
    /// later from the same segments (a report reading the capture again) is the same view.
    /// `server_ports`: Zeek's `likely_server_ports`, for a row the segment opens.
    pub fn on_captured(&mut self, seg: &Segment<'_>, from_orig: bool, server_ports: &[u16]) {
        if !seg.header_cut {
            self.on_segment(seg, from_orig, server_ports, true);
        }
    }

    /// Processes one segment sent by tcpaudit's `from_orig` side. Timers due by its time fire
    /// first (as the half-duplex SSH baselines show: the packet that crosses the attempt timer
    /// opens the next row), then the reuse check of a row that has seen packets. `shortcut`:
    /// the most common segments take [`ZeekRow::on_segment`]'s shortcut (the tests compare the
    /// rows with and without it). Returns whether the shortcut was taken.
    #[inline]
    fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        from_orig: bool,
        server_ports: &[u16],
        shortcut: bool,
    ) -> bool {
        if self.cur.packets > 0 && (self.cur.timers_end_row(seg.ts) || self.cur.is_reuse(seg)) {
            let done = std::mem::replace(&mut self.cur, ZeekRow::new(seg, from_orig, server_ports));
            self.rows.push((done.conn_state(), done.history));
        }
        if seg.checksum_ok == Some(false) {
            self.cur.bad_checksum(from_orig);
            return false;
        }
        self.cur.on_segment(seg, from_orig, shortcut)
    }
}

/// Every `conn_state` Zeek writes (conn/main.zeek): an encoded row keeps its state as an index
/// into it (and a decoded one gets back the same static name), and expectation files are
/// checked against it.
pub const CONN_STATES: [&str; 13] = [
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, c2s, s2c};

    /// One random segment of a connection whose sides have sent up to `next` (client, server):
    /// mostly in order, some retransmitted, some past a hole; mostly plain acknowledgments,
    /// one in sixteen a SYN, FIN, RST or no ACK; now and then a zero window, a bad checksum, a
    /// payload cut short.
    fn segment(rng: &mut Rng, ms: &mut i64, next: &mut [u32; 2]) -> (Segment<'static>, bool) {
        const PLAIN: [&str; 2] = ["A", "PA"];
        const OTHER: [&str; 7] = ["S", "SA", "FA", "R", "RA", "FPA", "P"];
        let from_orig = rng.below(2) == 0;
        let (me, peer) = if from_orig { (0, 1) } else { (1, 0) };
        let flags = if rng.below(16) == 0 {
            OTHER[rng.below(OTHER.len() as u64) as usize]
        } else {
            PLAIN[rng.below(2) as usize]
        };
        let len = if flags.contains('P') {
            100 * (1 + rng.below(3) as u32)
        } else {
            0
        };
        let seq = match rng.below(8) {
            0 => next[me].wrapping_sub(len.max(100)),
            1 => next[me].wrapping_add(1000),
            _ => next[me],
        };
        let ack = match rng.below(8) {
            0 => next[peer].wrapping_sub(100),
            1 => next[peer].wrapping_add(500),
            _ => next[peer],
        };
        if seq == next[me] {
            next[me] =
                seq.wrapping_add(len + u32::from(flags.contains('S') || flags.contains('F')));
        }
        *ms += rng.below(2500) as i64;
        let mut s = if from_orig {
            c2s(*ms, flags, seq, ack, len)
        } else {
            s2c(*ms, flags, seq, ack, len)
        };
        match rng.below(40) {
            0 => s.window = 0,
            1 => s.checksum_ok = Some(false),
            2 => s.truncated = true,
            _ => {}
        }
        (s, from_orig)
    }

    /// The shortcut for plain segments changes nothing: over thousands of random connections
    /// (most opening with a handshake), the view that takes it and the view that takes every
    /// segment through the general steps are equal after every segment, field for field, and
    /// the shortcut is taken for a fifth of them or more (28%: the rest open, close, reset, or
    /// are the first of their letter).
    #[test]
    fn the_plain_segment_shortcut_is_the_general_path() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut segments, mut shortcuts) = (0usize, 0usize);
        for _ in 0..3_000 {
            let (mut ms, mut next) = (0, [1_000u32, 5_000_000]);
            let mut list: Vec<(Segment<'static>, bool)> = Vec::new();
            if rng.below(4) != 0 {
                list.push((c2s(0, "S", 999, 0, 0), true));
                list.push((s2c(1, "SA", 4_999_999, 1_000, 0), false));
                list.push((c2s(2, "A", 1_000, 5_000_000, 0), true));
            }
            for _ in 0..1 + rng.below(40) {
                list.push(segment(&mut rng, &mut ms, &mut next));
            }
            let (first, from_orig) = &list[0];
            let mut fast = ZeekConn::new(first, *from_orig, LIKELY_SERVER_PORTS);
            let mut general = fast.clone();
            for (s, from_orig) in &list {
                let ports = LIKELY_SERVER_PORTS;
                shortcuts += usize::from(fast.on_segment(s, *from_orig, ports, true));
                assert!(!general.on_segment(s, *from_orig, ports, false));
                segments += 1;
                assert_eq!(format!("{fast:?}"), format!("{general:?}"), "after {s:?}");
            }
        }
        assert!(
            shortcuts * 5 > segments,
            "{shortcuts} shortcuts in {segments} segments"
        );
    }
}

//! One connection incarnation inside the table: its record, and the engine state that builds
//! it (the state machine, both streams, the Zeek and Wireshark emulations, the rules' state).
//!
//! [`Connection::update`] is the whole per-segment pipeline, in a fixed order: counters and
//! handshake timing, Zeek's view, the reference machine, reassembly, Wireshark's classes,
//! transfer metrics, then the connection rules.

mod frozen;
mod incarnation;

use super::direction::Directions;
use super::streams::{ConnStreams, ReasmCtx, StreamOwner};
use crate::compat::ZeekConn;
use crate::compat::wireshark::{Classes, WsConv, flag as F};
use crate::detect::{self, Anomaly, ConnRules, ConnView, DetectConfig, Judge, Step};
use crate::event::{Cause, ConnRecord, EndReason, Opening, StoryStep, Transition, ZeekView};
use crate::proto::{At, ConnRef};
use crate::tcp::{Half, Machine, MachineEvent, SentCtx, account_sent};
use crate::time::Timestamp;
use crate::wire::{BadTcpHeader, Endpoint, IcmpError, Segment, SeqNum, Side};
use compact_str::CompactString;

/// What a run keeps on each record beyond the record itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep {
    /// Every segment's Wireshark classes (comparisons with tshark).
    pub segment_classes: bool,
    /// The state changes (stories, ladder diagrams).
    pub transitions: bool,
}

/// Where a segment's findings go: the anomalies it raised and the state changes it caused.
pub struct Found<'a> {
    /// Anomalies, in the order decided.
    pub anomalies: &'a mut Vec<Anomaly>,
    /// State changes, in the order made.
    pub changes: &'a mut Vec<Transition>,
}

/// One TCP connection incarnation being tracked.
#[derive(Clone, Debug)]
pub struct Connection {
    rec: ConnRecord,
    machine: Machine,
    streams: ConnStreams,
    ws: WsConv,
    /// Zeek's connection, when the run keeps Zeek's view ([`crate::flow::FlowConfig::zeek_view`]):
    /// boxed, so that a run without it (the terminal tables) does not carry its bytes in every
    /// connection.
    zeek: Option<Box<ZeekConn>>,
    rules: ConnRules,
    /// The connection counts as a half-open attempt of its listener until resolved.
    pub(crate) attempt_open: bool,
    /// When the table's timer for it is due: no later than its idle deadline in the phase it
    /// is in. Timer entries due at any other time are stale and are dropped when they surface.
    pub(crate) timer_at: Option<Timestamp>,
    /// The record was opened by an old duplicate SYN: that first segment proves nothing about
    /// its sender.
    replayed: bool,
    /// What its segments say about the directions the capture shows.
    directions: Directions,
    /// Most connections of the capture so far show one direction only (set by the table):
    /// a connection showing one direction is then taken as one-sided without proof of its own.
    pub(crate) capture_one_sided: bool,
}

/// A read-only view of a connection for the rules (a macro, not a method, so that the borrow
/// of the record's fields stays apart from the borrows of the rules' state and of the record's
/// tally, which the rules count into).
macro_rules! view {
    ($rec:expr, $machine:expr) => {
        ConnView {
            id: $rec.id,
            orig: $rec.orig,
            resp: $rec.resp,
            first: ($rec.first_frame, $rec.first_ts),
            last: ($rec.last_frame, $rec.last_ts),
            halves: &$rec.halves,
            handshake: &$rec.handshake,
            machine: &$machine,
            last_seen: &$rec.last_seen,
            closed_ts: $rec.closed_ts,
            first_fin: $rec.first_fin,
            first_rst: $rec.first_rst,
            established: $rec.established(),
            one_sided: $rec.one_sided,
        }
    };
}

impl Connection {
    /// Opens a record for the first segment of a four-tuple. The segment's sender is the
    /// originator unless the segment is a SYN-ACK (then its receiver is, as Zeek decides).
    /// Zeek's view is emulated when `zeek` asks for it.
    pub fn new(id: u64, seg: &Segment<'_>, cfg: &DetectConfig, zeek: bool) -> Self {
        let src = Endpoint::new(seg.src, seg.sport);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let flipped = seg.flags.is_syn_ack();
        let (orig, resp) = if flipped { (dst, src) } else { (src, dst) };
        let machine = Machine::new(seg);
        let rec = ConnRecord::opened(&Opening {
            id,
            orig,
            resp,
            ts: seg.ts,
            frame: seg.frame,
            flipped,
            vlan: seg.vlan,
            tunnel: seg.tunnel,
            states: machine.ends.map(|_, e| e.state),
        });
        Connection {
            rec,
            machine,
            streams: ConnStreams::default(),
            ws: WsConv::default(),
            zeek: zeek.then(|| Box::new(ZeekConn::new(seg, !flipped, cfg.zeek_server_ports))),
            rules: ConnRules::default(),
            attempt_open: false,
            timer_at: None,
            replayed: false,
            directions: Directions::default(),
            capture_one_sided: false,
        }
    }

    /// The record as built so far.
    pub fn record(&self) -> &ConnRecord {
        &self.rec
    }

    /// Gives back the room of the per-segment queues that are empty. The table calls it on
    /// closed connections: most connections it holds on ordinary traffic are closed ones
    /// waiting out 2*MSL, and the room an acknowledged burst leaves their queues (up to 640
    /// bytes a connection) would otherwise stay allocated, uncharged, until they end.
    pub(crate) fn release_spare(&mut self) {
        for (_, h) in self.rec.halves.iter_mut() {
            h.metrics.release_spare();
        }
        self.ws.release_spare();
    }

    /// Entries the per-segment queues have room for (see [`Connection::release_spare`]).
    #[cfg(test)]
    pub(crate) fn queue_capacity(&self) -> usize {
        let timed: usize = self
            .rec
            .halves
            .iter()
            .map(|(_, h)| h.metrics.queue_capacity())
            .sum();
        timed + self.ws.queue_capacity()
    }

    /// The record, to set what the table decides (`prev_id`).
    pub(crate) fn record_mut(&mut self) -> &mut ConnRecord {
        &mut self.rec
    }

    /// A read-only view for rules that judge this connection from outside (reuse).
    pub fn view(&self) -> ConnView<'_> {
        view!(self.rec, self.machine)
    }

    /// Judges this connection from outside its own segments (the reuse of its four-tuple):
    /// `rule` gets a [`Judge`] on it.
    pub(crate) fn judge(
        &mut self,
        cfg: &DetectConfig,
        out: &mut Vec<Anomaly>,
        rule: impl FnOnce(&mut Judge<'_>),
    ) {
        let v = view!(self.rec, self.machine);
        rule(&mut Judge::new(&v, cfg, &mut self.rec.tally, out));
    }

    /// The side that sent `seg`.
    #[inline]
    pub fn side_of(&self, seg: &Segment<'_>) -> Side {
        if seg.sport == self.rec.orig.port && seg.src == self.rec.orig.addr {
            Side::Orig
        } else {
            Side::Resp
        }
    }

    /// The timestamp-cookie lag (ms) the responder's first segment after the handshake showed,
    /// and whether the SYN's options could be read back from the SYN-ACK's TSval; once.
    pub(crate) fn take_cookie_lag(&mut self) -> Option<(u32, bool)> {
        self.rules.handshake.take_cookie_lag()
    }

    /// The copies of the responder's SYN-ACK seen so far (the original included).
    pub(crate) fn synack_copies(&self) -> u32 {
        self.rules.handshake.synacks.count
    }

    /// Swaps originator and responder: the record, the machine, the streams, both emulations
    /// and every rule family's per-side state.
    fn flip(&mut self) {
        self.rec.swap_sides();
        self.machine.swap();
        self.streams.swap();
        self.ws.swap();
        if let Some(z) = &mut self.zeek {
            z.our_roles_swapped();
        }
        self.rules.swap_sides(&mut self.rec.tally);
        self.directions.swap();
    }

    /// Whether both directions have been seen.
    pub(crate) fn two_sided(&self) -> bool {
        self.rec.halves[Side::Orig].packets > 0 && self.rec.halves[Side::Resp].packets > 0
    }

    /// Whether its own segments prove the capture misses one direction.
    pub(crate) fn proved_one_sided(&self) -> bool {
        self.directions.proved
    }

    /// Sets the record's `one_sided`: the side seen, when the other was never seen and either
    /// this connection proves it was talking or most of the capture shows one direction only.
    fn refresh_one_sided(&mut self) {
        let r = &mut self.rec;
        let seen = if r.halves[Side::Resp].packets == 0 {
            Side::Orig
        } else {
            Side::Resp
        };
        let one = !(r.halves[Side::Orig].packets > 0 && r.halves[Side::Resp].packets > 0)
            && (self.directions.proved || self.capture_one_sided);
        r.one_sided = one.then_some(seen);
    }

    /// Whether `seq` is a sequence number `side` has used (RFC 5927 §4.1: an ICMP error is
    /// acted on only when it quotes a segment the connection sent, as Linux `tcp_v4_err` checks
    /// against SND.UNA..SND.NXT).
    pub(crate) fn sent_seq(&self, side: Side, seq: SeqNum) -> bool {
        let h = &self.rec.halves[side];
        let Some(first) = h.isn.or(h.first_seq) else {
            return false;
        };
        let upto = self.machine.end(side).snd_nxt.unwrap_or(first);
        seq >= first && seq <= upto
    }

    /// Accounts an ICMP error that quoted a segment `side` sent: counts it on that side and
    /// raises `icmp_error` (Zeek's TCP state, which ignores ICMP, is left alone).
    pub(crate) fn icmp_error(
        &mut self,
        e: &IcmpError,
        side: Side,
        cfg: &DetectConfig,
        out: &mut Vec<Anomaly>,
    ) {
        self.rec.halves[side].rare_mut().icmp_errors += 1;
        let v = view!(self.rec, self.machine);
        let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
        detect::icmp_error(&mut j, e, side);
    }

    /// Accounts a header with an impossible data offset `side` sent: counts it on that side
    /// and raises `bad_data_offset`; the state machine never sees it.
    pub(crate) fn bad_header(
        &mut self,
        b: &BadTcpHeader,
        side: Side,
        cfg: &DetectConfig,
        out: &mut Vec<Anomaly>,
    ) {
        self.rec.halves[side].signals.bad_offset(b.data_offset);
        let v = view!(self.rec, self.machine);
        let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
        detect::bad_data_offset(&mut j, b, side);
    }

    /// Accounts one segment sent by `side`: counters, the state machine, then the connection
    /// rules; the anomalies it raised and the state changes it caused go to `found`.
    pub fn update(
        &mut self,
        seg: &Segment<'_>,
        mut side: Side,
        cfg: &DetectConfig,
        reasm: &mut ReasmCtx<'_>,
        keep: Keep,
        found: &mut Found<'_>,
    ) {
        let f = seg.flags;
        // A SYN-ACK from the originator before any SYN was seen means the roles are the other
        // way round (midstream start that later shows its handshake).
        if f.is_syn_ack()
            && side == Side::Orig
            && !self.rec.halves[Side::Orig].sent_syn
            && !self.rec.halves[Side::Resp].sent_syn
        {
            self.flip();
            side = Side::Resp;
        }
        let closed_before = self.rec.closed_ts.is_some();
        self.count(seg, side);
        let peer_seen = self.rec.halves[side.other()].packets > 0;
        let h = &self.rec.halves[side];
        let syn_isn = if h.sent_syn { h.isn } else { None };
        self.directions.on_segment(seg, side, syn_isn, peer_seen);
        self.refresh_one_sided();
        if let Some(z) = &mut self.zeek {
            z.on_captured(seg, side == Side::Orig, cfg.zeek_server_ports);
        }
        let changes_before = found.changes.len();
        let facts = self.apply_to_machine(seg, side, keep.transitions, found.changes);
        let transitioned = found.changes.len() > changes_before;
        let out = &mut *found.anomalies;

        let owner = self.stream_owner(At {
            ts: seg.ts,
            frame: seg.frame,
        });
        if let Some(conflict) = self.streams.segment(owner, seg, side, reasm) {
            let v = view!(self.rec, self.machine);
            let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
            detect::segment_classes::overlap_conflict(&mut j, seg, side, conflict, reasm.policy);
        }
        let classes = self.ws.segment(seg, side);
        if classes.flags != 0 {
            count_classes(&mut self.rec.halves[side], seg, classes);
            let v = view!(self.rec, self.machine);
            let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
            detect::segment_classes::on_classes(&mut j, seg, side, classes);
            if keep.segment_classes {
                self.rec.segment_classes.push((seg.frame, classes));
            }
        }
        let sent = SentCtx {
            snd_nxt_before: facts.snd_nxt_before,
            peer_ack: self.machine.end(side.other()).rcv_nxt,
            wscale: self.machine.end(side).wscale,
            handshake_rtt: self.rec.handshake.rtt,
        };
        account_sent(&mut self.rec.halves, side, seg, sent);

        // The originator's first acknowledgment of the responder's SYN completes the handshake.
        // An acknowledgment the responder cannot accept (RFC 9293 §3.10.7.4) completes nothing.
        let established_now = side == Side::Orig
            && facts.acks_syn
            && facts.handshake_ack != Some(false)
            && !f.syn()
            && !f.rst()
            && !self.rec.established();
        if established_now {
            self.rec.established_at = Some(seg.ts);
        }
        let step = Step {
            seg,
            side,
            facts: &facts,
            closed_before,
            established_now,
        };
        let v = view!(self.rec, self.machine);
        let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
        self.rules.on_segment(&mut j, &step);
        self.rec.last_seen[side] = seg.ts;
        if keep.transitions {
            self.tell_story(seg, side, &facts, (established_now, transitioned), cfg);
        }
    }

    /// Notes the segment's part in the connection's story (`established_now`: it completed the
    /// handshake; `transitioned`: it changed a state).
    fn tell_story(
        &mut self,
        seg: &Segment<'_>,
        side: Side,
        facts: &crate::tcp::SegFacts,
        (established_now, transitioned): (bool, bool),
        cfg: &DetectConfig,
    ) {
        let f = seg.flags;
        // Most segments of a transfer tell nothing new: no flag the story notes, not the
        // side's first data (its payload so far is this segment's), no state change
        // (TIME-WAIT is entered by one), nothing acknowledged that shapes the close. Decided
        // without touching the story, which lives apart from the record.
        let first_data = seg.payload_len > 0
            && self.rec.halves[side].payload_bytes == u64::from(seg.payload_len);
        if self.rec.story.is_some()
            && !transitioned
            && !established_now
            && !facts.acks_fin
            && !first_data
            && !f.syn()
            && !f.fin()
            && !f.rst()
        {
            return;
        }
        let time_wait = [Side::Orig, Side::Resp]
            .into_iter()
            .find(|s| self.machine.end(*s).state == crate::tcp::TcpState::TimeWait)
            .map(|s| (s, seg.ts.add(cfg.two_msl())));
        let step = StoryStep {
            completes_handshake: established_now,
            acks_fin: facts.acks_fin,
            time_wait,
        };
        self.rec
            .story
            .get_or_insert_with(Default::default)
            .on_segment(seg, side, step);
    }

    /// Counters, first FIN and RST, the close time and handshake timing.
    #[inline]
    fn count(&mut self, seg: &Segment<'_>, side: Side) {
        let f = seg.flags;
        let r = &mut self.rec;
        r.last_ts = r.last_ts.max(seg.ts);
        r.last_frame = seg.frame;
        r.halves[side].sent(seg);
        if f.fin() && r.first_fin.is_none() {
            r.first_fin = Some(side);
        }
        if f.rst() && r.first_rst.is_none() {
            r.first_rst = Some(side);
        }
        let both_fins =
            r.halves[Side::Orig].fin_ts.is_some() && r.halves[Side::Resp].fin_ts.is_some();
        if r.closed_ts.is_none() && (f.rst() || both_fins) {
            r.closed_ts = Some(seg.ts);
        }
        r.handshake.track(seg, side, &r.halves);
    }

    /// Runs the reference machine on `seg`, recording its transitions and unexpected segments.
    #[inline]
    fn apply_to_machine(
        &mut self,
        seg: &Segment<'_>,
        side: Side,
        keep: bool,
        changes: &mut Vec<Transition>,
    ) -> crate::tcp::SegFacts {
        let f = seg.flags;
        let rec = &mut self.rec;
        // The old duplicate SYN that opened a replay record is applied to its receiver only.
        let old_duplicate = std::mem::take(&mut self.replayed);
        let cause = Cause {
            from: side,
            flags: f,
            seq: seg.seq,
            ack: seg.ack,
            len: seg.payload_len,
        };
        let facts = self
            .machine
            .on_segment(seg, side, old_duplicate, &mut |e| match e {
                MachineEvent::Transition { side, from, to } => {
                    let t = Transition {
                        side,
                        from,
                        to,
                        frame: seg.frame,
                        ts: seg.ts,
                        cause,
                    };
                    rec.transition(t, keep);
                    changes.push(t);
                }
                MachineEvent::Unexpected { .. } => {
                    rec.unexpected += 1;
                    rec.first_unexpected.get_or_insert(seg.frame);
                }
            });
        if f.is_syn_ack() && side == Side::Resp {
            let o = rec.halves[Side::Orig].options.and_then(|o| o.wscale);
            let r = rec.halves[Side::Resp].options.and_then(|o| o.wscale);
            self.machine.set_window_scales(o, r);
        }
        facts
    }

    /// Runs the end-of-connection rules and sets the end reason from what was seen, for a
    /// record leaving the table for `fallback` at time `now`.
    pub fn finish(
        &mut self,
        fallback: EndReason,
        now: Timestamp,
        cfg: &DetectConfig,
        out: &mut Vec<Anomaly>,
    ) {
        self.refresh_one_sided();
        let now = now.max(self.rec.last_ts);
        let v = view!(self.rec, self.machine);
        let mut j = Judge::new(&v, cfg, &mut self.rec.tally, out);
        self.rules.on_finish(&mut j, now);
        let both_fins = self.rec.halves[Side::Orig].fin_ts.is_some()
            && self.rec.halves[Side::Resp].fin_ts.is_some();
        self.rec.end_reason = Some(if self.rec.first_rst.is_some() {
            EndReason::Rst
        } else if both_fins {
            EndReason::Fin
        } else {
            fallback
        });
    }

    /// This connection, as its streams name it to their receivers, at `at`.
    fn stream_owner(&self, at: At) -> StreamOwner {
        StreamOwner {
            conn: ConnRef {
                id: self.rec.id,
                orig: self.rec.orig,
                resp: self.rec.resp,
                rtt: self.rec.handshake.rtt,
            },
            at,
        }
    }

    /// Ends both streams (deliveries across remaining holes), returning their memory.
    pub fn finish_streams(&mut self, reasm: &mut ReasmCtx<'_>) {
        let owner = self.stream_owner(At {
            ts: self.rec.last_ts,
            frame: self.rec.last_frame,
        });
        self.streams.finish(owner, &mut self.rec.halves, reasm);
    }

    /// The finished record, with the keep-alive figures and Zeek's rows filled in.
    pub fn finish_record(&mut self) -> &ConnRecord {
        let rec = &mut self.rec;
        for (side, h) in rec.halves.iter_mut() {
            let (probes, interval) = self.rules.keepalive.probes(side);
            let (backoff, syn_backoff) = self.rules.backoff.take(side);
            let any =
                probes != 0 || interval.is_some() || backoff.is_some() || syn_backoff.is_some();
            if let Some(r) = h.rare_to_set(any) {
                (r.keepalive_probes, r.keepalive_interval) = (probes, interval);
                (r.backoff, r.syn_backoff) = (backoff, syn_backoff);
            }
        }
        rec.time_wait_until = self.rules.final_ack.time_wait_until();
        if let Some(z) = &self.zeek {
            rec.zeek = ZeekView {
                rows: z
                    .rows()
                    .map(|(state, history)| (state, CompactString::from(history)))
                    .collect(),
            };
        }
        rec
    }
}

/// Counts the retransmissions, out-of-order segments and duplicate ACKs Wireshark found.
fn count_classes(h: &mut Half, seg: &Segment<'_>, cls: Classes) {
    const RETRANSMITTED: u16 =
        F::RETRANSMISSION | F::FAST_RETRANSMISSION | F::SPURIOUS_RETRANSMISSION;
    // Most segments are none of these: the counters' room is allocated on the first.
    if !cls.has(RETRANSMITTED | F::OUT_OF_ORDER | F::DUPLICATE_ACK) {
        return;
    }
    let r = h.rare_mut();
    if cls.has(RETRANSMITTED) {
        r.retransmitted_packets += 1;
        r.retransmitted_bytes += seg.payload_len as u64;
    }
    r.out_of_order_packets += cls.has(F::OUT_OF_ORDER) as u32;
    r.duplicate_acks += cls.has(F::DUPLICATE_ACK) as u32;
}

//! One TCP connection incarnation: who opened it, what each side offered, how the handshake went,
//! how it ended, and per-direction counters.

use serde::Serialize;

use super::{Endpoint, Side};
use crate::compat::ZeekConn;
use crate::detect::{self, Anomaly, ConnDetect, DetectConfig};
use crate::tcp::reassembly::{Budget, OverlapPolicy, Stream, StreamSink};
use crate::tcp::{Machine, MachineEvent};
use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, SeqNum, TcpFlags, Tfo, TunnelKind};

/// How a connection record came to an end.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides sent FIN.
    Fin,
    /// A RST ended it.
    Rst,
    /// Still open when the capture ended.
    CaptureEnd,
    /// Idle longer than its timeout.
    Timeout,
    /// A new SYN with another ISN opened the next incarnation of the four-tuple while this one was
    /// still open.
    Reused,
    /// Dropped to respect `--max-connections`.
    Evicted,
}

impl EndReason {
    /// Number of reasons.
    pub const COUNT: usize = 6;
    /// All reasons in index order.
    pub const ALL: [EndReason; Self::COUNT] = [
        EndReason::Fin,
        EndReason::Rst,
        EndReason::CaptureEnd,
        EndReason::Timeout,
        EndReason::Reused,
        EndReason::Evicted,
    ];
    /// Stable name used in JSON and tables.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::CaptureEnd => "capture_end",
            EndReason::Timeout => "timeout",
            EndReason::Reused => "reused",
            EndReason::Evicted => "evicted",
        }
    }
}

/// What one side announced in its SYN (or SYN-ACK).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps option present.
    pub timestamps: bool,
    /// TCP Fast Open option.
    pub tfo: Option<Tfo>,
    /// ECN: a SYN with ECE and CWR (setup request), or a SYN-ACK with ECE and not CWR (accepted).
    pub ecn: bool,
    /// Payload bytes carried by the SYN itself (TFO or T/TCP).
    pub syn_data: u32,
}

impl SynOptions {
    fn from_segment(seg: &Segment<'_>) -> Self {
        let o = &seg.options;
        let ecn = if seg.flags.ack() {
            seg.flags.has(TcpFlags::ECE) && !seg.flags.has(TcpFlags::CWR)
        } else {
            seg.flags.has(TcpFlags::ECE | TcpFlags::CWR)
        };
        SynOptions {
            mss: o.mss,
            wscale: o.wscale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps.is_some(),
            tfo: o.tfo,
            ecn,
            syn_data: seg.payload_len,
        }
    }
}

/// Per-direction counters and facts; `half[Side::Orig]` is what the originator sent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Half {
    /// Segments sent.
    pub packets: u64,
    /// IP bytes sent (IP header lengths, as Zeek's `*_ip_bytes`).
    pub ip_bytes: u64,
    /// TCP payload bytes sent, retransmissions included.
    pub payload_bytes: u64,
    /// Frame bytes on the wire (as tshark's conversation table counts).
    pub frame_bytes: u64,
    /// Segments whose payload the snaplen cut.
    pub truncated: u64,
    /// SYN segments sent (SYN-ACKs included).
    pub syns: u32,
    /// FIN segments sent.
    pub fins: u32,
    /// RST segments sent.
    pub rsts: u32,
    /// Initial sequence number (from this side's SYN).
    pub isn: Option<SeqNum>,
    /// Sequence number of the first segment seen from this side.
    #[serde(skip)]
    pub first_seq: Option<SeqNum>,
    /// Options of this side's first SYN or SYN-ACK.
    pub options: Option<SynOptions>,
    /// Time of this side's first FIN.
    #[serde(skip)]
    pub fin_ts: Option<Timestamp>,
    /// Time of this side's first RST.
    #[serde(skip)]
    pub rst_ts: Option<Timestamp>,
    /// Whether this side sent a SYN without ACK.
    #[serde(skip)]
    pub sent_syn: bool,
    /// Whether this side sent a SYN-ACK.
    #[serde(skip)]
    pub sent_synack: bool,
    /// The last TSval this side sent (RFC 7323 timestamps).
    #[serde(skip)]
    pub last_tsval: Option<u32>,
    /// Distinct payload bytes of this direction's stream (each byte once, in order).
    pub stream_bytes: u64,
    /// Stream bytes never seen: holes acknowledged by the peer or left at the end (Zeek's
    /// `missed_bytes`, per direction).
    pub missed_bytes: u64,
    /// Bytes waiting beyond a hole when the connection ended.
    pub pending_at_close: u64,
    /// Retransmissions whose bytes differed from the bytes first seen (with --check-overlaps).
    pub overlap_conflicts: u32,
    /// Segments whose bytes reassembly could not hold (memory bounds).
    pub reassembly_cap_hits: u32,
    /// Segments Wireshark would flag as retransmissions (fast and spurious included).
    pub retransmitted_packets: u32,
    /// Payload bytes of those segments.
    pub retransmitted_bytes: u64,
    /// Segments Wireshark would flag as out of order.
    pub out_of_order_packets: u32,
    /// Duplicate ACKs this side sent.
    pub duplicate_acks: u32,
    /// RTT, window and flight metrics of what this side sent.
    #[serde(flatten)]
    pub metrics: crate::tcp::metrics::Metrics,
}

/// Handshake timing, measured at the capture point.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Handshake {
    /// The SYN the SYN-ACK answered (the most recent SYN before it).
    pub syn_ts: Option<Timestamp>,
    /// The SYN-ACK the third ACK answered (the most recent before it).
    pub synack_ts: Option<Timestamp>,
    /// The originator's first ACK of the SYN-ACK (pure or carrying data).
    pub ack_ts: Option<Timestamp>,
    /// SYN to SYN-ACK: the responder-side leg of the round trip.
    pub syn_to_synack: Option<Duration>,
    /// SYN-ACK to ACK: the originator-side leg.
    pub synack_to_ack: Option<Duration>,
    /// Sum of both legs: the handshake round-trip time (Wireshark's iRTT when the ACK is pure).
    pub rtt: Option<Duration>,
    /// Whether the completing ACK carried data (the pure third ACK was not seen first).
    pub ack_had_data: bool,
}

/// One TCP connection incarnation.
#[derive(Clone, Debug)]
pub struct Connection {
    /// 1-based id, in order of first segment.
    pub id: u64,
    /// Id of the previous incarnation of the same four-tuple, if this one reused it.
    pub prev_id: Option<u64>,
    /// The originator.
    pub orig: Endpoint,
    /// The responder.
    pub resp: Endpoint,
    /// First segment's timestamp.
    pub first_ts: Timestamp,
    /// Last segment's timestamp.
    pub last_ts: Timestamp,
    /// First segment's frame number.
    pub first_frame: u64,
    /// Last segment's frame number.
    pub last_frame: u64,
    /// Per-direction counters, indexed by [`Side::index`].
    pub half: [Half; 2],
    /// Roles were decided against the first segment's direction (its sender was the responder).
    pub flipped: bool,
    /// Outermost VLAN id of the first segment.
    pub vlan: Option<u16>,
    /// Tunnel the connection was carried in.
    pub tunnel: Option<TunnelKind>,
    /// Handshake timing.
    pub handshake: Handshake,
    /// The side that sent the first FIN.
    pub first_fin: Option<Side>,
    /// The side that sent the first RST.
    pub first_rst: Option<Side>,
    /// When the connection closed (both FINs, or the first RST).
    pub closed_ts: Option<Timestamp>,
    /// Why the record ended; set when it leaves the table.
    pub end_reason: Option<EndReason>,
    /// Both endpoints as the reference state machine sees them.
    pub tcp: Machine,
    /// Detector state and per-kind anomaly counts.
    pub detect: ConnDetect,
    /// Time of each side's last segment.
    pub last_seen: [Timestamp; 2],
    /// Segments the receiver's state could not accept (state machine "unexpected segment"
    /// events), and the first such frame.
    pub unexpected: (u32, Option<u64>),
    /// State transitions seen (each also changed [`Connection::tcp`]).
    pub transitions: u32,
    /// The connection counts as a half-open attempt of its listener until resolved.
    pub attempt_open: bool,
    /// Zeek's view: `conn_state` and `history` as Zeek's conn.log would print them.
    pub zeek: ZeekConn,
    /// Each direction's reassembled byte stream (indexed by [`Side::index`]).
    pub streams: [Stream; 2],
    /// Wireshark's sequence analysis.
    pub ws: crate::compat::wireshark::WsConv,
    /// Per-frame classes, kept only when segment events are asked for (tests, tools).
    pub segment_classes: Vec<(u64, crate::compat::wireshark::Classes)>,
}

/// What reassembly needs from the table: the shared memory budget, the overlap policy and
/// where delivered bytes go.
pub struct ReasmCtx<'a> {
    /// Memory shared by all streams.
    pub budget: &'a mut Budget,
    /// Which bytes win in a conflicting overlap.
    pub policy: OverlapPolicy,
    /// Keep bytes (overlap checks, stream output), not only ranges.
    pub keep: bool,
    /// Keep every segment's classes on the record (`segment_classes`).
    pub segment_events: bool,
    /// Receiver of delivered bytes, if any.
    pub sink: &'a mut Option<Box<dyn StreamSink>>,
}

/// Hands delivered bytes to the sink, if there is one.
fn send(
    sink: &mut Option<Box<dyn StreamSink>>,
    c: (u64, Endpoint, Endpoint),
    side: Side,
    bytes: &[u8],
) {
    if let Some(k) = sink.as_mut() {
        k.data(c.0, c.1, c.2, side, bytes);
    }
}

impl Connection {
    /// Opens a record for the first segment of a four-tuple. The segment's sender is the
    /// originator unless the segment is a SYN-ACK (then its receiver is, as Zeek decides).
    pub fn new(id: u64, seg: &Segment<'_>, cfg: &DetectConfig) -> Self {
        let src = Endpoint::new(seg.src, seg.sport);
        let dst = Endpoint::new(seg.dst, seg.dport);
        let flipped = seg.flags.is_syn_ack();
        let (orig, resp) = if flipped { (dst, src) } else { (src, dst) };
        Connection {
            id,
            prev_id: None,
            orig,
            resp,
            first_ts: seg.ts,
            last_ts: seg.ts,
            first_frame: seg.frame,
            last_frame: seg.frame,
            half: [Half::default(), Half::default()],
            flipped,
            vlan: seg.vlan,
            tunnel: seg.tunnel,
            handshake: Handshake::default(),
            first_fin: None,
            first_rst: None,
            closed_ts: None,
            end_reason: None,
            tcp: Machine::new(seg),
            detect: ConnDetect::default(),
            last_seen: [seg.ts; 2],
            unexpected: (0, None),
            transitions: 0,
            attempt_open: false,
            zeek: ZeekConn::new(seg, !flipped, cfg.zeek_server_ports),
            streams: [Stream::default(), Stream::default()],
            ws: Default::default(),
            segment_classes: Vec::new(),
        }
    }

    /// The side that sent `seg`.
    #[inline]
    pub fn side_of(&self, seg: &Segment<'_>) -> Side {
        if seg.sport == self.orig.port && seg.src == self.orig.addr {
            Side::Orig
        } else {
            Side::Resp
        }
    }

    /// The counters of one side.
    #[inline]
    pub fn half(&self, side: Side) -> &Half {
        &self.half[side.index()]
    }

    /// Whether the capture saw the connection open: a SYN from the originator.
    pub fn saw_start(&self) -> bool {
        self.half[0].sent_syn
    }

    /// Whether both sides have sent FIN or either sent RST.
    pub fn is_closed(&self) -> bool {
        self.closed_ts.is_some()
    }

    /// Duration from first to last segment.
    pub fn duration(&self) -> Duration {
        self.last_ts.since(self.first_ts)
    }

    /// Whether `seg` (from `side`) opens a new incarnation of this four-tuple: a SYN without ACK
    /// whose sequence number differs from that side's ISN (or first sequence number), as both
    /// Wireshark (`tcp.analysis.reused_ports`) and Zeek split connections. A SYN from a side that
    /// has sent nothing yet is a simultaneous open, not a new incarnation.
    pub fn is_new_incarnation(&self, seg: &Segment<'_>, side: Side) -> bool {
        if !seg.flags.is_syn_only() {
            return false;
        }
        let h = self.half(side);
        h.isn.or(h.first_seq).is_some_and(|s| s != seg.seq)
    }

    /// Swaps originator and responder.
    fn flip(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        self.half.swap(0, 1);
        self.tcp.swap();
        self.last_seen.swap(0, 1);
        self.streams.swap(0, 1);
        self.ws.swap();
        self.zeek.our_roles_swapped();
        self.flipped = !self.flipped;
        self.first_fin = self.first_fin.map(Side::other);
        self.first_rst = self.first_rst.map(Side::other);
    }

    /// Accounts one segment sent by `side`: counters, the state machine, then the connection
    /// rules; anomalies raised go to `out`.
    pub fn update(
        &mut self,
        seg: &Segment<'_>,
        mut side: Side,
        cfg: &DetectConfig,
        reasm: &mut ReasmCtx<'_>,
        out: &mut Vec<Anomaly>,
    ) {
        let f = seg.flags;
        // A SYN-ACK from the originator before any SYN was seen means the roles are the other
        // way round (midstream start that later shows its handshake).
        if f.is_syn_ack() && side == Side::Orig && !self.half[0].sent_syn && !self.half[1].sent_syn
        {
            self.flip();
            side = Side::Resp;
        }
        self.detect.closed_before = self.closed_ts.is_some();
        self.last_ts = self.last_ts.max(seg.ts);
        self.last_frame = seg.frame;
        let i = side.index();
        {
            let h = &mut self.half[i];
            h.packets += 1;
            h.ip_bytes += seg.ip_len as u64;
            h.payload_bytes += seg.payload_len as u64;
            h.frame_bytes += seg.frame_len as u64;
            h.truncated += seg.truncated as u64;
            if h.first_seq.is_none() {
                h.first_seq = Some(seg.seq);
            }
            if let Some((tsval, _)) = seg.options.timestamps {
                h.last_tsval = Some(tsval);
            }
            if f.syn() {
                h.syns += 1;
                if h.isn.is_none() {
                    h.isn = Some(seg.seq);
                    h.options = Some(SynOptions::from_segment(seg));
                }
                if f.ack() {
                    h.sent_synack = true;
                } else {
                    h.sent_syn = true;
                }
            }
            if f.fin() {
                h.fins += 1;
                if h.fin_ts.is_none() {
                    h.fin_ts = Some(seg.ts);
                }
            }
            if f.rst() {
                h.rsts += 1;
                if h.rst_ts.is_none() {
                    h.rst_ts = Some(seg.ts);
                }
            }
        }
        if f.fin() && self.first_fin.is_none() {
            self.first_fin = Some(side);
        }
        if f.rst() && self.first_rst.is_none() {
            self.first_rst = Some(side);
        }
        if self.closed_ts.is_none()
            && (f.rst() || (self.half[0].fin_ts.is_some() && self.half[1].fin_ts.is_some()))
        {
            self.closed_ts = Some(seg.ts);
        }
        self.track_handshake(seg, side);
        // Zeek ignores a segment whose header the snaplen cut (weird `truncated_header`).
        if !seg.header_cut {
            self.zeek.on_segment(seg, side == Side::Orig);
        }

        let (transitions, unexpected) = (&mut self.transitions, &mut self.unexpected);
        let old_duplicate = f.is_syn_only()
            && side == Side::Orig
            && self.half[0].syns > 1
            && self.closed_ts.is_some_and(|t| t < seg.ts)
            && self.half[0].isn == Some(seg.seq);
        let facts = self
            .tcp
            .on_segment(seg, side, old_duplicate, &mut |e| match e {
                MachineEvent::Transition { .. } => *transitions += 1,
                MachineEvent::Unexpected { .. } => {
                    unexpected.0 += 1;
                    unexpected.1.get_or_insert(seg.frame);
                }
            });
        if f.is_syn_ack() && side == Side::Resp {
            let o = self.half[0].options.and_then(|o| o.wscale);
            let r = self.half[1].options.and_then(|o| o.wscale);
            self.tcp.set_window_scales(o, r);
        }
        self.reassemble(seg, side, reasm, out);
        let classes = self.ws.segment(seg, side);
        if classes.flags != 0 {
            self.classify(seg, side, classes, out);
            if reasm.segment_events {
                self.segment_classes.push((seg.frame, classes));
            }
        }
        let peer = side.other();
        let peer_ack = self.tcp.end(peer).rcv_nxt;
        let wscale = self.tcp.end(side).wscale;
        self.half[side.index()]
            .metrics
            .sent(seg, facts.snd_nxt_before, peer_ack, wscale);
        if f.ack() {
            let tsecr = seg.options.timestamps.map(|t| t.1);
            self.half[peer.index()]
                .metrics
                .acked(seg.ack, tsecr, seg.ts);
        }
        detect::handshake::on_segment(self, seg, side, &facts, out);
        detect::teardown::on_segment(self, seg, side, &facts, cfg, out);
        detect::transfer::on_segment(self, seg, side, &facts, out);
        detect::transfer::on_segment_sanity(self, seg, side, &facts, out);
        detect::sanity::on_segment(self, seg, side, &facts, cfg, out);
        self.last_seen[side.index()] = seg.ts;
    }

    /// Feeds the segment to its direction's stream and its acknowledgment to the other's.
    fn reassemble(
        &mut self,
        seg: &Segment<'_>,
        side: Side,
        reasm: &mut ReasmCtx<'_>,
        out: &mut Vec<Anomaly>,
    ) {
        let f = seg.flags;
        let conn = (self.id, self.orig, self.resp);
        let i = side.index();
        if !f.rst() {
            let sink = &mut *reasm.sink;
            let o = self.streams[i].segment(
                seg.seq,
                f.syn(),
                f.fin(),
                seg.payload,
                seg.payload_len,
                reasm.keep,
                reasm.policy,
                reasm.budget,
                &mut |b: &[u8]| send(sink, conn, side, b),
            );
            if let Some((offset, len)) = o.conflict {
                let kept = match reasm.policy {
                    OverlapPolicy::First => "first",
                    OverlapPolicy::Last => "last",
                };
                let a = Anomaly::new(detect::AnomalyKind::OverlapConflict, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("stream_offset", offset)
                    .with("bytes", len)
                    .with("kept", kept);
                detect::raise(self, a, out);
            }
        }
        if f.ack() {
            let sink = &mut *reasm.sink;
            let peer = side.other();
            self.streams[peer.index()].ack(seg.ack, reasm.keep, reasm.budget, &mut |b: &[u8]| {
                send(sink, conn, peer, b)
            });
        }
    }

    /// Counts and reports the Wireshark classes of one segment.
    fn classify(
        &mut self,
        seg: &Segment<'_>,
        side: Side,
        cls: crate::compat::wireshark::Classes,
        out: &mut Vec<Anomaly>,
    ) {
        use crate::compat::wireshark::flag as F;
        use detect::AnomalyKind as K;
        let h = &mut self.half[side.index()];
        if cls.has(F::RETRANSMISSION | F::FAST_RETRANSMISSION | F::SPURIOUS_RETRANSMISSION) {
            h.retransmitted_packets += 1;
            h.retransmitted_bytes += seg.payload_len as u64;
        }
        h.out_of_order_packets += cls.has(F::OUT_OF_ORDER) as u32;
        h.duplicate_acks += cls.has(F::DUPLICATE_ACK) as u32;
        for (bit, kind) in [
            (
                F::RETRANSMISSION | F::FAST_RETRANSMISSION | F::SPURIOUS_RETRANSMISSION,
                K::Retransmission,
            ),
            (F::FAST_RETRANSMISSION, K::FastRetransmission),
            (F::SPURIOUS_RETRANSMISSION, K::SpuriousRetransmission),
            (F::OUT_OF_ORDER, K::OutOfOrder),
            (F::LOST_SEGMENT, K::PreviousSegmentNotCaptured),
            (F::ACK_LOST_SEGMENT, K::AckUnseenSegment),
            (F::DUPLICATE_ACK, K::DuplicateAck),
            (F::ZERO_WINDOW, K::ZeroWindow),
            (F::ZERO_WINDOW_PROBE, K::ZeroWindowProbe),
            (F::ZERO_WINDOW_PROBE_ACK, K::ZeroWindowProbeAck),
            (F::WINDOW_FULL, K::WindowFull),
            (F::WINDOW_UPDATE, K::WindowUpdate),
            (F::KEEP_ALIVE_ACK, K::KeepaliveAck),
        ] {
            if cls.has(bit) {
                let mut a = Anomaly::new(kind, seg.frame, seg.ts)
                    .with("seq", seg.seq.0)
                    .with("len", seg.payload_len);
                if kind == K::ZeroWindowProbe {
                    a = a.with("style", "one_byte");
                }
                if kind == K::DuplicateAck {
                    a = a
                        .with("dup_number", cls.dupack_num)
                        .with("of_frame", cls.dupack_frame);
                }
                detect::raise_segment(self, side, a, out);
            }
        }
    }

    /// Ends both streams (deliveries across remaining holes), returning their memory.
    pub fn finish_streams(&mut self, reasm: &mut ReasmCtx<'_>) {
        let conn = (self.id, self.orig, self.resp);
        for s in [Side::Orig, Side::Resp] {
            let sink = &mut *reasm.sink;
            let st = &mut self.streams[s.index()];
            let pending = st.pending();
            st.finish(reasm.keep, reasm.budget, &mut |b: &[u8]| {
                send(sink, conn, s, b)
            });
            let h = &mut self.half[s.index()];
            h.pending_at_close = pending;
            h.stream_bytes = st.delivered;
            h.missed_bytes = st.missed;
            h.overlap_conflicts = st.conflicts;
            h.reassembly_cap_hits = st.cap_hits;
        }
        if let Some(k) = reasm.sink.as_mut() {
            k.close(conn.0);
        }
    }

    fn track_handshake(&mut self, seg: &Segment<'_>, side: Side) {
        let f = seg.flags;
        let hs = &mut self.handshake;
        if hs.ack_ts.is_some() {
            return;
        }
        match side {
            Side::Orig if f.is_syn_only() && hs.synack_ts.is_none() => hs.syn_ts = Some(seg.ts),
            Side::Resp if f.is_syn_ack() => {
                let acks_syn = self.half[0].isn.is_some_and(|isn| seg.ack == isn.add(1));
                if acks_syn || self.half[0].isn.is_none() {
                    if hs.synack_ts.is_none() {
                        hs.syn_to_synack = hs.syn_ts.map(|s| seg.ts.since(s));
                    }
                    hs.synack_ts = Some(seg.ts);
                }
            }
            Side::Orig if f.ack() && !f.syn() && !f.rst() => {
                let Some(synack) = hs.synack_ts else { return };
                let Some(resp_isn) = self.half[1].isn else {
                    return;
                };
                if seg.ack == resp_isn.add(1) || seg.ack > resp_isn.add(1) {
                    hs.ack_ts = Some(seg.ts);
                    hs.ack_had_data = seg.payload_len > 0;
                    let leg = seg.ts.since(synack);
                    hs.synack_to_ack = Some(leg);
                    hs.rtt = hs
                        .syn_to_synack
                        .map(|a| Duration(a.0.saturating_add(leg.0)));
                }
            }
            _ => {}
        }
    }

    /// Runs the end-of-connection rules and sets the end reason from what was seen, for a record
    /// leaving the table for `fallback` at time `now`.
    pub fn finish(
        &mut self,
        fallback: EndReason,
        now: Timestamp,
        cfg: &DetectConfig,
        out: &mut Vec<Anomaly>,
    ) {
        detect::handshake::on_finish(self, cfg, out);
        detect::teardown::on_finish(self, now.max(self.last_ts), cfg, out);
        detect::transfer::on_finish(self, cfg, out);
        self.end_reason = Some(if self.first_rst.is_some() {
            EndReason::Rst
        } else if self.half[0].fin_ts.is_some() && self.half[1].fin_ts.is_some() {
            EndReason::Fin
        } else {
            fallback
        });
    }
}

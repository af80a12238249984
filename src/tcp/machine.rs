//! The reference state machine, replayed from the wire for both endpoints.
//!
//! A segment seen on the wire changes two endpoints: its sender (what the sender did proves its
//! state) and its receiver (what RFC 9293 §3.10.7 says a receiver does with it, assuming the
//! segment arrives). Both go through [`Machine::set_state`], which emits a transition event;
//! a segment the receiver's state cannot accept emits an "unexpected segment" event instead of
//! being dropped silently. RST acceptability follows RFC 5961 §3.2.

use super::TcpState;
use crate::time::Timestamp;
use crate::wire::{PerSide, Side};
use crate::wire::{Segment, SeqNum, TcpFlags};

/// What a segment is, for the transition match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegClass {
    /// SYN without ACK.
    Syn,
    /// SYN with ACK.
    SynAck,
    /// RST (with or without ACK), without SYN.
    Rst,
    /// FIN with ACK, without SYN or RST.
    Fin,
    /// ACK without SYN, FIN or RST (with or without data).
    Ack,
    /// Any other combination: SYN+FIN, SYN+RST, FIN without ACK, no flags at all...
    Invalid,
}

impl SegClass {
    /// Classifies a segment by its control bits.
    pub fn of(f: TcpFlags) -> SegClass {
        let syn = f.syn();
        let fin = f.fin();
        let rst = f.rst();
        match (syn, fin, rst, f.ack()) {
            (true, false, false, false) => SegClass::Syn,
            (true, false, false, true) => SegClass::SynAck,
            (false, false, true, _) => SegClass::Rst,
            (false, true, false, true) => SegClass::Fin,
            (false, false, false, true) => SegClass::Ack,
            _ => SegClass::Invalid,
        }
    }
}

/// Where a RST's sequence number falls in the receiver's window (RFC 5961 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RstFit {
    /// SEG.SEQ == RCV.NXT: the connection is reset.
    Exact,
    /// Inside the window but not exact: the receiver must send a challenge ACK.
    InWindow,
    /// Outside the window: the receiver drops it.
    OutOfWindow,
    /// The receiver's RCV.NXT is unknown (nothing seen from the sender yet).
    Unknown,
}

impl RstFit {
    /// Stable name used in anomaly details.
    pub const fn name(self) -> &'static str {
        match self {
            RstFit::Exact => "exact",
            RstFit::InWindow => "in_window",
            RstFit::OutOfWindow => "out_of_window",
            RstFit::Unknown => "unknown",
        }
    }
}

/// One endpoint as the wire shows it.
#[derive(Clone, Copy, Debug)]
pub struct EndState {
    /// Current state.
    pub state: TcpState,
    /// When it entered that state.
    pub since: Timestamp,
    /// Initial send sequence number.
    pub iss: Option<SeqNum>,
    /// Highest sequence number sent plus the segment's length (SYN and FIN count one).
    pub snd_nxt: Option<SeqNum>,
    /// Highest acknowledgment number this endpoint sent (the RCV.NXT it announced).
    pub rcv_nxt: Option<SeqNum>,
    /// Sequence number its FIN occupies.
    pub fin_seq: Option<SeqNum>,
    /// Last advertised receive window in bytes (scaled when scaling is in effect).
    pub window: u32,
    /// Window scale shift applied to this endpoint's windows (0 until both SYNs showed WS).
    pub wscale: u8,
    /// It opened passively (answered a SYN) rather than actively.
    pub passive: bool,
}

crate::base::pack::pack_struct!(EndState {
    state,
    since,
    iss,
    snd_nxt,
    rcv_nxt,
    fin_seq,
    window,
    wscale,
    passive,
});

impl EndState {
    fn new(state: TcpState, ts: Timestamp) -> Self {
        EndState {
            state,
            since: ts,
            iss: None,
            snd_nxt: None,
            rcv_nxt: None,
            fin_seq: None,
            window: 0,
            wscale: 0,
            passive: false,
        }
    }
}

/// Something the machine observed while applying a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEvent {
    /// An endpoint changed state.
    Transition {
        /// Which endpoint.
        side: Side,
        /// Previous state.
        from: TcpState,
        /// New state.
        to: TcpState,
    },
    /// The receiver's state cannot accept this segment (it would answer with RST, or drop it).
    Unexpected {
        /// The receiving endpoint.
        side: Side,
        /// Its state when the segment arrived.
        state: TcpState,
        /// The segment's class.
        class: SegClass,
    },
}

/// Facts about one segment that detectors use, computed while the machine applied it.
#[derive(Clone, Copy, Debug)]
pub struct SegFacts {
    /// The segment's class.
    pub class: SegClass,
    /// Sender's state before the segment.
    pub sender_before: TcpState,
    /// Receiver's state before the segment.
    pub receiver_before: TcpState,
    /// When the receiver entered that state.
    pub receiver_since: Timestamp,
    /// The segment acknowledges the receiver's SYN.
    pub acks_syn: bool,
    /// The segment acknowledges the receiver's FIN.
    pub acks_fin: bool,
    /// For a segment that would complete a handshake step (a SYN-ACK reaching SYN-SENT, or
    /// the first ACK reaching SYN-RECEIVED): whether its acknowledgment is acceptable,
    /// ISS < SEG.ACK =< SND.NXT of the receiver (RFC 9293 §3.10.7.3, §3.10.7.4 fifth check).
    /// `None` for every other segment.
    pub handshake_ack: Option<bool>,
    /// For a RST: where it falls in the receiver's window.
    pub rst_fit: Option<RstFit>,
    /// Sequence space the segment occupies (payload, plus one for SYN and FIN).
    pub seq_len: u32,
    /// The sender's SND.NXT before this segment.
    pub snd_nxt_before: Option<SeqNum>,
}

/// Both endpoints of one connection.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The two endpoints.
    pub ends: PerSide<EndState>,
}

crate::base::pack::pack_struct!(Machine { ends });

impl Machine {
    /// A machine for a connection whose first segment is `seg`, sent by the originator unless
    /// `flipped`. A connection seen from its SYN starts CLOSED/LISTEN; one picked up midstream
    /// starts with both endpoints ESTABLISHED (the only assumption that needs no evidence).
    pub fn new(seg: &Segment<'_>) -> Self {
        let ts = seg.ts;
        let (o, r) = match SegClass::of(seg.flags) {
            SegClass::Syn | SegClass::SynAck | SegClass::Invalid => {
                (TcpState::Closed, TcpState::Listen)
            }
            SegClass::Rst => (TcpState::Closed, TcpState::Closed),
            _ => (TcpState::Established, TcpState::Established),
        };
        Machine {
            ends: PerSide::new(EndState::new(o, ts), EndState::new(r, ts)),
        }
    }

    /// The endpoint on `side`.
    pub fn end(&self, side: Side) -> &EndState {
        &self.ends[side]
    }

    /// The one choke point for state changes: every change emits a transition event.
    fn set_state(
        &mut self,
        side: Side,
        to: TcpState,
        ts: Timestamp,
        ev: &mut impl FnMut(MachineEvent),
    ) {
        let e = &mut self.ends[side];
        if e.state != to {
            let from = e.state;
            e.state = to;
            e.since = ts;
            ev(MachineEvent::Transition { side, from, to });
        }
    }

    /// Swaps the endpoints (the connection's roles were flipped).
    pub fn swap(&mut self) {
        self.ends.swap();
    }

    /// A new incarnation took the four-tuple over: RFC 9293 §3.10.7.4 lets a TIME-WAIT endpoint
    /// accept a new SYN (with a greater ISN or timestamp, RFC 6191), which ends its TIME-WAIT.
    pub fn supersede(&mut self, ts: Timestamp, ev: &mut impl FnMut(MachineEvent)) {
        for side in [Side::Orig, Side::Resp] {
            if self.ends[side].state == TcpState::TimeWait {
                self.set_state(side, TcpState::Closed, ts, ev);
            }
        }
    }

    /// Applies one segment sent by `from`. An `old_duplicate` (a stale SYN of a finished
    /// connection) is applied to its receiver only.
    pub fn on_segment(
        &mut self,
        seg: &Segment<'_>,
        from: Side,
        old_duplicate: bool,
        ev: &mut impl FnMut(MachineEvent),
    ) -> SegFacts {
        let to = from.other();
        let f = seg.flags;
        let class = SegClass::of(f);
        let seq_len = seg.payload_len + f.syn() as u32 + f.fin() as u32;
        let sender = self.ends[from];
        let receiver = self.ends[to];
        let acks = |mark: Option<SeqNum>| f.ack() && mark.is_some_and(|m| seg.ack > m);
        let acks_syn = acks(receiver.iss);
        let acks_fin = acks(receiver.fin_seq);
        // A handshake step is acceptable only if it acknowledges what the receiver sent, its
        // SYN (and data riding on it), and nothing beyond: ISS < SEG.ACK =< SND.NXT.
        let ack_acceptable = acks_syn && receiver.snd_nxt.is_none_or(|n| seg.ack <= n);
        let handshake_step = f.ack()
            && !f.rst()
            && receiver.iss.is_some()
            && match (receiver.state, class) {
                (TcpState::SynSent, SegClass::SynAck) => true,
                (TcpState::SynReceived, SegClass::Ack | SegClass::Fin) => {
                    sender.state == TcpState::SynSent
                }
                _ => false,
            };
        let handshake_ack = handshake_step.then_some(ack_acceptable);
        let rst_fit = f.rst().then(|| rst_fit(seg.seq, &receiver, &sender));
        let facts = SegFacts {
            class,
            sender_before: sender.state,
            receiver_before: receiver.state,
            receiver_since: receiver.since,
            acks_syn,
            acks_fin,
            handshake_ack,
            rst_fit,
            seq_len,
            snd_nxt_before: sender.snd_nxt,
        };
        let ts = seg.ts;
        use TcpState::*;

        // What the sender's segment proves about the sender. An endpoint's state changes when it
        // acts: a passive observer cannot know a segment arrived until its receiver answers
        // (a spoofed client never answers the SYN-ACK; crossing FINs are each sent from
        // ESTABLISHED). An old duplicate (a stale SYN) proves nothing about its sender.
        if !old_duplicate {
            // The sender acknowledges the peer's FIN for the first time: it has received it.
            let acks_peer_fin = f.ack()
                && receiver.fin_seq.is_some_and(|fin| seg.ack > fin)
                && !sender
                    .rcv_nxt
                    .is_some_and(|n| receiver.fin_seq.is_some_and(|fin| n > fin));
            if acks_peer_fin {
                let own_fin_acked = sender
                    .fin_seq
                    .is_some_and(|fin| receiver.rcv_nxt.is_some_and(|n| n > fin));
                match sender.state {
                    // RFC 9293 §3.10.7.4 (eighth check): FIN received in ESTABLISHED (or
                    // SYN-RECEIVED) enters CLOSE-WAIT.
                    Established | SynReceived => self.set_state(from, CloseWait, ts, ev),
                    // Eighth check in FIN-WAIT-1: with its own FIN acknowledged it is TIME-WAIT,
                    // otherwise CLOSING (simultaneous close).
                    FinWait1 if own_fin_acked => self.set_state(from, TimeWait, ts, ev),
                    FinWait1 => self.set_state(from, Closing, ts, ev),
                    // Eighth check in FIN-WAIT-2: TIME-WAIT.
                    FinWait2 => self.set_state(from, TimeWait, ts, ev),
                    _ => {}
                }
            }
            let state = self.ends[from].state;
            match (state, class) {
                // RFC 9293 §3.10.1: an active OPEN sends SYN and enters SYN-SENT.
                (Closed | Listen, SegClass::Syn) => self.set_state(from, SynSent, ts, ev),
                // RFC 9293 §3.10.7.2: LISTEN answers a SYN with SYN,ACK and enters SYN-RECEIVED;
                // §3.10.7.3: a SYN-SENT endpoint that got a SYN does the same (simultaneous open).
                (Closed | Listen | SynSent, SegClass::SynAck) => {
                    self.ends[from].passive = state != SynSent;
                    self.set_state(from, SynReceived, ts, ev);
                    // Simultaneous open: if the peer's SYN-ACK already acknowledged this SYN, the
                    // endpoint is ESTABLISHED as soon as it answered (RFC 9293 figure 8).
                    let iss = self.ends[from].iss.or(f.syn().then_some(seg.seq));
                    if receiver.rcv_nxt.is_some_and(|n| iss.is_some_and(|i| n > i)) {
                        self.set_state(from, Established, ts, ev)
                    }
                }
                // RFC 9293 §3.10.7.3: SYN-SENT that received an acceptable SYN,ACK acknowledges
                // it and enters ESTABLISHED; its ACK (pure, with data, or with FIN) shows it.
                (SynSent, SegClass::Ack | SegClass::Fin)
                    if acks(receiver.iss) && handshake_ack != Some(false) =>
                {
                    self.set_state(from, Established, ts, ev);
                    if class == SegClass::Fin {
                        self.set_state(from, FinWait1, ts, ev)
                    }
                }
                // RFC 9293 §3.10.4: CLOSE in ESTABLISHED or SYN-RECEIVED sends FIN and enters
                // FIN-WAIT-1.
                (Established | SynReceived, SegClass::Fin) => {
                    self.set_state(from, FinWait1, ts, ev)
                }
                // RFC 9293 §3.10.4: CLOSE in CLOSE-WAIT sends FIN and enters LAST-ACK.
                (CloseWait, SegClass::Fin) => self.set_state(from, LastAck, ts, ev),
                // RFC 9293 §3.10.4 ABORT / §3.5.2: an endpoint sending RST holds no connection.
                (_, SegClass::Rst) => self.set_state(from, Closed, ts, ev),
                // Retransmissions, data and plain ACKs leave the sender where it is.
                _ => {}
            }
        }

        // What the receiver does with the segment when that draws no answer to observe
        // (RFC 9293 §3.10.7): final ACKs and acceptable RSTs. Transitions that make the receiver
        // answer wait for its answer (above).
        match (receiver.state, class) {
            // §3.10.7.2 / §3.10.7.3: LISTEN and SYN-SENT answer a SYN with SYN,ACK; the answer,
            // not the SYN, moves them (a full queue drops SYNs: the listener rules report that).
            (Listen | SynSent, SegClass::Syn) => {}
            // §3.10.7.3: SYN-SENT answers an acceptable SYN,ACK with ACK (seen above); one that
            // acknowledges anything but its SYN is answered with RST (unexpected).
            (SynSent, SegClass::SynAck) if acks_syn && handshake_ack != Some(false) => {}
            // §3.10.7.3: SYN-SENT receiving an acceptable RST (it ACKs our SYN): connection
            // refused, CLOSED. A RST without an acceptable ACK is dropped.
            (SynSent, SegClass::Rst) => {
                if acks_syn {
                    self.set_state(to, Closed, ts, ev)
                } else {
                    ev(MachineEvent::Unexpected {
                        side: to,
                        state: SynSent,
                        class,
                    })
                }
            }
            // §3.10.7.4 (first check): RST in SYN-RECEIVED returns a passive endpoint to LISTEN
            // and closes an active one.
            (SynReceived, SegClass::Rst) => {
                let back = if receiver.passive { Listen } else { Closed };
                self.set_state(to, back, ts, ev)
            }
            // §3.10.7.4 (fifth check): SYN-RECEIVED receiving an ACK of its SYN (with or without
            // data: implicit completion) enters ESTABLISHED, with no answer of its own.
            // An ACK beyond SND.NXT is not acceptable: SYN-RECEIVED stays and answers with RST.
            (SynReceived, SegClass::Ack | SegClass::Fin | SegClass::SynAck)
                if acks_syn && handshake_ack != Some(false) =>
            {
                self.set_state(to, Established, ts, ev)
            }
            // Retransmitted SYN or SYN-ACK while the handshake is still going on.
            (SynReceived, SegClass::Syn | SegClass::SynAck) => {}
            // §3.10.7.4 (first check) with RFC 5961 §3.2: only an exact RST resets a
            // synchronized connection (TIME-WAIT included: Linux's default, tcp_rfc1337 = 0);
            // an in-window RST draws a challenge ACK; an out-of-window one is dropped.
            (s, SegClass::Rst) if s.is_synchronized() => {
                if matches!(rst_fit, Some(RstFit::Exact | RstFit::Unknown)) {
                    self.set_state(to, Closed, ts, ev)
                }
            }
            // §3.10.7.4 (fifth check): FIN-WAIT-1 with its FIN acknowledged enters FIN-WAIT-2
            // (a FIN in the same segment is acknowledged later, and moves it on then).
            (FinWait1, SegClass::Ack | SegClass::Fin) if acks_fin => {
                self.set_state(to, FinWait2, ts, ev)
            }
            // §3.10.7.4 (fifth check): CLOSING with its FIN acknowledged enters TIME-WAIT.
            (Closing, SegClass::Ack | SegClass::Fin) if acks_fin => {
                self.set_state(to, TimeWait, ts, ev)
            }
            // §3.10.7.4 (fifth check): LAST-ACK with its FIN acknowledged enters CLOSED.
            (LastAck, SegClass::Ack | SegClass::Fin) if acks_fin => {
                self.set_state(to, Closed, ts, ev)
            }
            // §3.10.7.4 (eighth check): a retransmitted FIN in TIME-WAIT restarts the 2MSL
            // timeout; the endpoint stays.
            (TimeWait, SegClass::Fin) => self.ends[to].since = ts,
            // Data, ACKs and FINs in synchronized states change nothing until the receiver
            // answers.
            (
                Established | FinWait1 | FinWait2 | CloseWait | Closing | LastAck | TimeWait,
                SegClass::Ack | SegClass::Fin,
            ) => {}
            // RFC 5961 §4: a SYN in a synchronized state draws a challenge ACK; a new
            // incarnation is opened by the connection table, not here.
            (s, SegClass::Syn | SegClass::SynAck) if s.is_synchronized() => {}
            // A passive endpoint that closed answers a new SYN as its listener would.
            (Closed, SegClass::Syn) if receiver.passive => {}
            // Everything else cannot be accepted in the receiver's state: a CLOSED endpoint
            // answers with RST (§3.10.7.1), LISTEN rejects ACKs (§3.10.7.2), SYN-SENT drops
            // segments without SYN (§3.10.7.3), and no state accepts invalid flag combinations.
            (state, class) => ev(MachineEvent::Unexpected {
                side: to,
                state,
                class,
            }),
        }

        // Sequence bookkeeping for the next segment.
        if old_duplicate {
            return facts;
        }
        let s = &mut self.ends[from];
        if f.syn() && s.iss.is_none() {
            s.iss = Some(seg.seq);
        }
        let end = seg.seq.add(seq_len);
        if s.snd_nxt.is_none_or(|n| end > n) {
            s.snd_nxt = Some(end);
        }
        if f.fin() && s.fin_seq.is_none_or(|x| seg.seq.add(seg.payload_len) > x) {
            s.fin_seq = Some(seg.seq.add(seg.payload_len));
        }
        if f.ack() && s.rcv_nxt.is_none_or(|n| seg.ack > n) {
            s.rcv_nxt = Some(seg.ack);
        }
        s.window = if f.syn() {
            seg.window as u32
        } else {
            (seg.window as u32) << s.wscale
        };
        facts
    }

    /// Turns window scaling on once both SYNs carried the option (RFC 7323 §2.2).
    pub fn set_window_scales(&mut self, orig: Option<u8>, resp: Option<u8>) {
        if let (Some(o), Some(r)) = (orig, resp) {
            self.ends[Side::Orig].wscale = o.min(14);
            self.ends[Side::Resp].wscale = r.min(14);
        }
    }
}

/// RFC 5961 §3.2: where a RST's sequence number falls in the receiver's window.
///
/// RCV.NXT is what the receiver last acknowledged, or the sender's SND.NXT: the receiver's
/// acknowledgment of the sender's latest data may still be pending (delayed ACK), and a RST that
/// a stack generates carries exactly its SND.NXT.
fn rst_fit(seq: SeqNum, receiver: &EndState, sender: &EndState) -> RstFit {
    let Some(rcv_nxt) = receiver.rcv_nxt.or(sender.snd_nxt) else {
        return RstFit::Unknown;
    };
    if seq == rcv_nxt || sender.snd_nxt == Some(seq) {
        return RstFit::Exact;
    }
    let wnd = receiver.window.max(1);
    let d = seq.diff(rcv_nxt);
    if d > 0 && (d as u32) < wnd {
        RstFit::InWindow
    } else {
        RstFit::OutOfWindow
    }
}

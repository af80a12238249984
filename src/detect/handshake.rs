//! Handshake rules: retransmitted SYNs and SYN-ACKs, the missing third ACK, half-open and refused
//! attempts, simultaneous open, stale SYNs, SYNs with data, invalid flag combinations.

use super::anomaly::{Value, secs};
use super::judge::Judge;
use super::view::{ConnView, Step};
use super::{Anomaly, AnomalyKind, Severity};
use crate::tcp::{SegClass, TcpState};
use crate::time::{Duration, Timestamp};
use crate::wire::{Segment, Side, TcpFlags};
use thin_vec::ThinVec;

/// A repeated handshake segment: when it was first repeated and the gaps between repeats.
#[derive(Clone, Debug, Default)]
pub struct Repeats {
    /// Copies seen, the original included.
    pub count: u32,
    /// Time of the previous copy.
    last_ts: Option<Timestamp>,
    /// Frame and time of the first copy.
    pub first: Option<(u64, Timestamp)>,
    /// Frame and time of the first repeat.
    first_repeat: Option<(u64, Timestamp)>,
    /// Gaps between consecutive copies (at most 8 kept).
    gaps: ThinVec<Duration>,
    /// Already reported.
    reported: bool,
}

crate::base::pack::pack_struct!(Repeats {
    count,
    last_ts,
    first,
    first_repeat,
    gaps,
    reported,
});

impl Repeats {
    fn see(&mut self, frame: u64, ts: Timestamp) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((frame, ts));
        }
        if let Some(prev) = self.last_ts {
            if self.first_repeat.is_none() {
                self.first_repeat = Some((frame, ts));
            }
            if self.gaps.len() < 8 {
                self.gaps.push(ts.since(prev));
            }
        }
        self.last_ts = Some(ts);
    }
}

/// A SYN repeated after the connection finished, waiting for the answers that describe it.
#[derive(Clone, Debug)]
struct StaleSyn {
    frame: u64,
    ts: Timestamp,
    sender: Side,
    /// The first two segments after it, named.
    answers: Vec<String>,
    /// Time since the finished connection it duplicates closed.
    after_close: Option<Duration>,
    /// An endpoint of that connection was in TIME-WAIT.
    time_wait: bool,
    /// That connection's id.
    prev_id: u64,
}

crate::base::pack::pack_struct!(StaleSyn {
    frame,
    ts,
    sender,
    answers,
    after_close,
    time_wait,
    prev_id,
});

/// The handshake family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct HandshakeRules {
    /// Copies of the originator's SYN (same ISN).
    syns: Repeats,
    /// Copies of the responder's SYN-ACK (same ISN).
    pub synacks: Repeats,
    /// Boxed: only a record opened by an old duplicate SYN has one.
    stale: Option<Box<StaleSyn>>,
    /// The initiator's first acknowledgment of the SYN-ACK carried data or FIN.
    completed_by_data: bool,
    /// The responder answered that data with RST: it had given the connection up.
    abandoned: bool,
    /// The initiator's pure third ACK was seen (frame, time).
    pure_ack: Option<(u64, Timestamp)>,
    /// The responder repeated its SYN-ACK after that ACK: it did not take the connection.
    overflowed: bool,
    /// The initiator repeated its SYN after that ACK (a repeated SYN-ACK may answer it).
    syn_after_ack: bool,
    /// The responder's TSval on its first SYN-ACK, and when that was seen.
    synack_tsval: Option<(u32, Timestamp)>,
    /// The timestamp-cookie test was made (on the responder's first segment after the
    /// handshake).
    cookie_tested: bool,
    /// Its finding not yet collected: how far (ms) the SYN-ACK's TSval lagged the clock, and
    /// whether its low 6 bits are the SYN's options as a cookie encodes them.
    cookie_lag: Option<(u32, bool)>,
}

crate::base::pack::pack_struct!(HandshakeRules {
    syns,
    synacks,
    stale,
    completed_by_data,
    abandoned,
    pure_ack,
    overflowed,
    syn_after_ack,
    synack_tsval,
    cookie_tested,
    cookie_lag,
});

/// A SYN cookie for a client with timestamps hides the request's options in the low 6 bits
/// of the SYN-ACK's TSval: Linux rounds its millisecond clock down to a multiple of 64 and adds
/// them (syncookies.c cookie_init_timestamp). Its next segment carries the clock itself, so the
/// TSval jumps ahead of the time elapsed by 0 to 63 ms; a SYN-ACK from a request queue is
/// stamped with the clock and does not. The options cannot be read back (the per-connection
/// random TSval offset of RFC 7323 §5.4 covers them); the lag is the evidence.
const COOKIE_LAG_MS: std::ops::Range<i64> = 4..64;

/// Earliest a responder's SYN-ACK retransmission timer fires: Linux's initial timeout is 1 s
/// (RFC 6298 (2.1), TCP_TIMEOUT_INIT), less a margin for timer slack.
const SYNACK_RTO_MIN: Duration = Duration::from_millis(900);

/// The largest window-scale shift RFC 7323 §2.3 allows.
const MAX_WSCALE: u8 = 14;

/// How long an initiator may hold its third ACK back to send it with data: Linux delays it at
/// most one delayed-ACK period when data is pending (tcp_rcv_synsent_state_process, TCP_DELACK_MAX
/// = 200 ms). A completing segment later than this, and later than twice the SYN to SYN-ACK
/// leg, came after a pure ACK the initiator would have sent.
const THIRD_ACK_HOLD: Duration = Duration::from_millis(200);

impl HandshakeRules {
    /// How far (ms) the SYN-ACK's TSval lagged the responder's clock, read from `st`, its first
    /// segment after the handshake, when that lag is a timestamp cookie's (see
    /// [`COOKIE_LAG_MS`]). Only for a single SYN-ACK (a repeated one came from a request queue)
    /// followed within a second (so that a clock running at another rate cannot add up to it).
    /// The SYN's options read back from the SYN-ACK's TSval as Linux encodes them there (bits
    /// 0-3 window scale or 0xF without it, bit 4 SACK, bit 5 ECN): only a listener that adds
    /// no random offset to its timestamps (tcp_timestamps = 2, older kernels) lets them show.
    fn timestamp_cookie_lag(&self, c: &ConnView<'_>, st: &Step<'_, '_>) -> Option<(u32, bool)> {
        let (tsval0, at) = self.synack_tsval?;
        let (tsval, _) = st.seg.options.timestamps?;
        let elapsed = st.seg.ts.since(at);
        if self.synacks.count != 1 || elapsed.is_negative() || elapsed >= Duration::from_secs(1) {
            return None;
        }
        // Both terms are below 2^31 in magnitude: no overflow.
        let lag = i64::from(tsval.wrapping_sub(tsval0) as i32) - elapsed.whole_millis();
        if !COOKIE_LAG_MS.contains(&lag) {
            return None;
        }
        let decoded = c.half(Side::Orig).options.is_some_and(|syn| {
            let ecn = syn.ecn && c.half(Side::Resp).options.is_some_and(|sa| sa.ecn);
            let bits = u32::from(syn.wscale.map_or(0xF, |w| w.min(MAX_WSCALE)))
                | u32::from(syn.sack_permitted) << 4
                | u32::from(ecn) << 5;
            tsval0 & 0x3F == bits
        });
        Some((lag as u32, decoded))
    }

    /// The timestamp-cookie lag found on this connection, once (for its listener's evidence).
    pub fn take_cookie_lag(&mut self) -> Option<(u32, bool)> {
        self.cookie_lag.take()
    }

    /// The roles were flipped. SYN and SYN-ACK copies belong to roles, and a flip only happens
    /// before any SYN was seen, so copies counted under the old roles describe nothing.
    pub fn swap_sides(&mut self) {
        self.syns = Repeats::default();
        self.synacks = Repeats::default();
        if let Some(s) = &mut self.stale {
            s.sender = s.sender.other();
        }
    }

    /// stale_syn: this connection was opened by an old duplicate SYN (frame, time) of connection
    /// `prev_id`, which finished `after_close` before, with an endpoint in TIME-WAIT or not (RFC
    /// 9293 §3.4: the reason the handshake needs its third step). It is raised once the first
    /// two answers are seen, or when the record ends.
    pub fn replayed(
        &mut self,
        (frame, ts): (u64, Timestamp),
        prev_id: u64,
        after_close: Option<Duration>,
        time_wait: bool,
    ) {
        self.stale = Some(Box::new(StaleSyn {
            frame,
            ts,
            sender: Side::Orig,
            answers: Vec::new(),
            after_close,
            time_wait,
            prev_id,
        }));
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let f = seg.flags;
        match facts.class {
            SegClass::Syn => {
                let isn = c.half(side).isn;
                let same_isn = isn == Some(seg.seq);
                // The same SYN again: a retransmission, or a retry after a refusal (an old
                // duplicate after the connection finished opens a record of its own, see
                // `replayed`).
                if side == Side::Orig && same_isn {
                    self.syns.see(seg.frame, seg.ts);
                    self.syn_after_ack |= self.pure_ack.is_some();
                }
                // simultaneous_open: the receiver had itself sent a SYN and was waiting in
                // SYN-SENT (RFC 9293 §3.5, figure 7; Zeek weird `simultaneous_open`).
                if facts.receiver_before == TcpState::SynSent {
                    let k = AnomalyKind::SimultaneousOpen;
                    j.raise(k, || Anomaly::new(k, seg.frame, seg.ts));
                }
            }
            SegClass::SynAck if side == Side::Resp && c.half(Side::Resp).isn == Some(seg.seq) => {
                self.synacks.see(seg.frame, seg.ts);
                if self.synacks.count == 1 {
                    self.synack_tsval = seg.options.timestamps.map(|(tsval, _)| (tsval, seg.ts));
                }
                // accept_queue_overflow: the initiator's third ACK was on the wire, and the
                // responder still repeats its SYN-ACK: it ignored the ACK, as Linux does when the
                // listener's accept queue is full (tcp_check_req, ListenOverflows). The repeat
                // comes from the SYN-ACK retransmission timer (1 s at first); a SYN-ACK answering
                // a repeated SYN, or a copy sent sooner (a middlebox's), proves nothing.
                let by_timer = self
                    .synacks
                    .first
                    .is_some_and(|(_, first)| seg.ts.since(first) >= SYNACK_RTO_MIN);
                if let Some((ack_frame, ack_ts)) = self.pure_ack
                    && !self.syn_after_ack
                    && by_timer
                {
                    self.overflowed = true;
                    let k = AnomalyKind::AcceptQueueOverflow;
                    j.raise(k, || {
                        Anomaly::new(k, seg.frame, seg.ts)
                            .with("third_ack_frame", ack_frame)
                            .with("repeated_after", secs(seg.ts.since(ack_ts)))
                            .with("synacks", c.half(Side::Resp).syns)
                    });
                }
            }
            SegClass::Rst
                if side == Side::Resp && facts.receiver_before == TcpState::SynSent
                // connection_refused: SYN answered by an acceptable RST (RFC 9293 §3.10.7.3;
                // Zeek REJ). Linux answers a SYN to a closed port with RST+ACK, ack = ISN + 1.
                && facts.acks_syn =>
            {
                let k = AnomalyKind::ConnectionRefused;
                j.raise(k, || {
                    let waited = c.handshake.syn_ts.map(|t| seg.ts.since(t));
                    Anomaly::new(k, seg.frame, seg.ts)
                        .with("syns", c.half(Side::Orig).syns)
                        .with("answer_after", waited.map(secs))
                });
            }
            SegClass::Invalid => {
                // invalid_flags: combinations RFC 9293 gives no meaning (Zeek `Q`/`I` history,
                // `TCP_christmas`; Suricata `fin_syn`).
                let k = AnomalyKind::InvalidFlags;
                j.raise(k, || {
                    let (name, letters) = invalid_name(f);
                    Anomaly::new(k, seg.frame, seg.ts)
                        .with("combination", name)
                        .with("flags", letters)
                        .with("from", side.name())
                });
            }
            _ => {}
        }

        if f.syn() && seg.payload_len > 0 {
            // syn_with_data: payload in a SYN (RFC 7413 TCP Fast Open with a cookie is benign).
            let k = AnomalyKind::SynWithData;
            j.raise(k, || {
                let tfo = seg.options.tfo.filter(|t| t.cookie_len > 0).is_some();
                let mut a = Anomaly::new(k, seg.frame, seg.ts)
                    .with("bytes", seg.payload_len)
                    .with("tfo_cookie", tfo)
                    .with("from", side.name());
                if tfo {
                    a.severity = Severity::Info;
                }
                a
            });
        }

        // The originator's first acknowledgment of the responder's SYN completes the handshake;
        // if it carries data, the pure third ACK was never sent or was lost (implicit
        // completion).
        if st.established_now && (seg.payload_len > 0 || f.fin()) {
            self.completed_by_data = true;
            if c.half(Side::Resp).sent_synack {
                self.completed_without_pure_ack(j, st);
            }
        }
        if st.established_now {
            if seg.payload_len == 0 && !f.fin() {
                self.pure_ack = Some((seg.frame, seg.ts));
            }
            self.report_repeats(j);
        }
        if facts.handshake_ack == Some(false) {
            self.bad_ack(j, st);
        }
        if side == Side::Resp && c.established && !f.syn() && !self.cookie_tested {
            self.cookie_tested = true;
            self.cookie_lag = self.timestamp_cookie_lag(c, st);
        }
        if f.syn()
            && let Some(shift) = seg.options.wscale.filter(|w| *w > MAX_WSCALE)
        {
            // window_scale_invalid: RFC 7323 §2.3 caps the shift at 14 ("If a Window Scale
            // option is received with a shift.cnt value larger than 14, the TCP SHOULD log the
            // error but MUST use 14 instead").
            let k = AnomalyKind::WindowScaleInvalid;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("shift", shift)
                    .with("used", MAX_WSCALE)
            });
        }
        // The responder had given up its half-open connection: the data that completed the
        // handshake for the initiator is answered by RST, with nothing of it acknowledged
        // (Linux answers a segment for a connection it no longer holds with RST, seq = the
        // segment's ACK).
        if side == Side::Resp
            && facts.class == SegClass::Rst
            && (self.completed_by_data || self.overflowed)
            && !self.abandoned
            && c.responder_acked_only_syn()
        {
            self.abandoned = true;
            if self.overflowed {
                // The third ACK did arrive; the full accept queue ignored it and the request
                // expired.
                self.half_open(j, (seg.frame, seg.ts), "accept_queue_overflow");
            } else {
                let k = AnomalyKind::MissingThirdAck;
                j.raise(k, || {
                    Anomaly::new(k, seg.frame, seg.ts)
                        .with("completed_by", "data")
                        .with("synacks", c.half(Side::Resp).syns)
                        .with("evidence", "data_answered_by_rst")
                });
                self.half_open(j, (seg.frame, seg.ts), "data_answered_by_rst");
            }
        }

        // The peer's answers to a stale SYN (at most two segments are described).
        if let Some(stale) = &mut self.stale
            && seg.frame != stale.frame
            && stale.answers.len() < 2
        {
            let who = if side == stale.sender {
                "syn_sender"
            } else {
                "peer"
            };
            stale.answers.push(format!("{who}: {}", answer_name(seg)));
            if stale.answers.len() == 2 {
                self.emit_stale(j);
            }
        }
    }

    /// Rules evaluated when the connection leaves the table.
    pub fn on_finish(&mut self, j: &mut Judge<'_>) {
        let c = j.conn;
        self.report_repeats(j);
        self.emit_stale(j);
        // half_open: the responder sent SYN-ACK and never saw the handshake complete: it is
        // still in SYN-RECEIVED (Linux gives up after tcp_synack_retries = 5, 63 s).
        if c.half(Side::Resp).sent_synack
            && c.machine.end(Side::Resp).state == TcpState::SynReceived
        {
            // The responder repeated its SYN-ACK: it was waiting for a third ACK that never
            // reached the capture point (or was never sent).
            if self.synacks.count > 1 {
                let k = AnomalyKind::MissingThirdAck;
                let (frame, ts) = self.synacks.first.unwrap_or(c.first);
                j.raise(k, || {
                    Anomaly::new(k, frame, ts)
                        .with("completed_by", "nothing")
                        .with("synacks", c.half(Side::Resp).syns)
                        .with("evidence", "synack_retransmitted")
                });
            }
            let at = self.synacks.first.unwrap_or(c.first);
            self.half_open(j, at, "still_syn_received");
        }
    }

    /// half_open: the responder held the connection half-open (in SYN-RECEIVED) and it never
    /// completed for it.
    fn half_open(&mut self, j: &mut Judge<'_>, (frame, ts): (u64, Timestamp), how: &'static str) {
        let c = j.conn;
        let k = AnomalyKind::HalfOpen;
        j.raise(k, || {
            Anomaly::new(k, frame, ts)
                .with("synacks", c.half(Side::Resp).syns)
                .with("waited", secs(c.last.1.since(c.first.1)))
                .with("orig_state", c.machine.end(Side::Orig).state.name())
                .with("ended_by", how)
        });
    }

    /// The handshake was completed by a segment carrying data or FIN. Without a sign that a
    /// pure ACK was lost it is the legitimate merged third segment; with one (the responder
    /// repeated its SYN-ACK, or the segment came later than an initiator holds its ACK back for
    /// data) the pure third ACK never reached the capture point.
    fn completed_without_pure_ack(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, f) = (st.seg, st.seg.flags);
        let rtt_leg = c.handshake.syn_to_synack.unwrap_or_default();
        let allowed = THIRD_ACK_HOLD.max(rtt_leg.saturating_mul(2));
        let late = c
            .handshake
            .synack_ts
            .is_some_and(|t| seg.ts.since(t) > allowed);
        let lost = self.synacks.count > 1 || late;
        let k = if lost {
            AnomalyKind::MissingThirdAck
        } else {
            AnomalyKind::ThirdAckWithData
        };
        j.raise(k, || {
            let mut a = Anomaly::new(k, seg.frame, seg.ts)
                .with("completed_by", if f.fin() { "fin" } else { "data" })
                .with("data_bytes", seg.payload_len)
                .with("synacks", c.half(Side::Resp).syns);
            if lost {
                let evidence = if self.synacks.count > 1 {
                    "synack_retransmitted"
                } else {
                    "late"
                };
                a = a.with("evidence", evidence);
            }
            a
        });
    }

    /// handshake_bad_ack: a SYN-ACK, or the initiator's first ACK, acknowledges something other
    /// than what its receiver sent (RFC 9293 §3.10.7.3: SEG.ACK =< ISS or SEG.ACK > SND.NXT is
    /// answered by RST; Suricata's `3whs_synack_with_wrong_ack`, `3whs_wrong_seq_wrong_ack`).
    fn bad_ack(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side) = (st.seg, st.side);
        let receiver = c.machine.end(side.other());
        let step = if seg.flags.syn() {
            "syn_ack"
        } else {
            "third_ack"
        };
        let k = AnomalyKind::HandshakeBadAck;
        j.raise(k, || {
            Anomaly::new(k, seg.frame, seg.ts)
                .with("step", step)
                .with("from", side.name())
                .with("ack", seg.ack.0)
                .with("expected_above", receiver.iss.map(|i| i.0))
                .with("expected_at_most", receiver.snd_nxt.map(|n| n.0))
        });
    }

    /// Reports SYN and SYN-ACK retransmissions once, with the gaps between copies (RFC 6298
    /// §5.5 back-off from 1 s: Linux doubles SYN-ACK timeouts, 1, 2, 4 ... s, tcp_synack_retries;
    /// recent kernels keep the first SYN timeouts at 1 s, tcp_syn_linear_timeouts, before
    /// doubling; tcp_syn_retries).
    fn report_repeats(&mut self, j: &mut Judge<'_>) {
        for (kind, r) in [
            (AnomalyKind::SynRetransmission, &mut self.syns),
            (AnomalyKind::SynackRetransmission, &mut self.synacks),
        ] {
            if r.reported || r.count < 2 {
                continue;
            }
            r.reported = true;
            let Some((frame, ts)) = r.first_repeat else {
                continue;
            };
            let r = &*r;
            j.raise(kind, || {
                let gaps: Vec<Value> = r.gaps.iter().map(|g| secs(*g)).collect();
                Anomaly::new(kind, frame, ts)
                    .with("copies", r.count)
                    .with("gaps", gaps)
            });
        }
    }

    fn emit_stale(&mut self, j: &mut Judge<'_>) {
        let Some(StaleSyn {
            frame,
            ts,
            answers,
            after_close,
            time_wait,
            prev_id,
            ..
        }) = self.stale.take().map(|s| *s)
        else {
            return;
        };
        let k = AnomalyKind::StaleSyn;
        j.raise(k, || {
            let answers = if answers.is_empty() {
                vec![Value::Str("none")]
            } else {
                answers.into_iter().map(Value::Text).collect()
            };
            Anomaly::new(k, frame, ts)
                .with("after_close", after_close.map(secs))
                .with("answers", answers)
                .with("time_wait_side", if time_wait { "present" } else { "none" })
                .with("prev_id", prev_id)
        });
    }
}

/// What a segment answering a stale SYN was.
fn answer_name(seg: &Segment<'_>) -> &'static str {
    match SegClass::of(seg.flags) {
        SegClass::SynAck => "syn_ack",
        SegClass::Rst => "rst",
        SegClass::Ack if seg.payload_len == 0 => "ack",
        SegClass::Ack => "data",
        SegClass::Fin => "fin",
        SegClass::Syn => "syn",
        SegClass::Invalid => "invalid",
    }
}

/// The name and tcpdump letters of an invalid flag combination.
pub(crate) fn invalid_name(f: TcpFlags) -> (&'static str, String) {
    let name = if f.syn() && f.fin() {
        "syn_fin"
    } else if f.syn() && f.rst() {
        "syn_rst"
    } else if f.fin() && f.rst() {
        "fin_rst"
    } else if f.0 & 0x3f == 0 {
        "null"
    } else if f.has(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG) && !f.ack() {
        "xmas"
    } else if f.fin() && !f.ack() {
        "fin_without_ack"
    } else {
        "no_ack"
    };
    (name, f.to_string())
}

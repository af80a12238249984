//! Handshake timing at the capture point: SYN to SYN-ACK, SYN-ACK to the third ACK.

use super::Half;
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Segment, SeqNum, Side};

/// Handshake timing, measured at the capture point.
#[derive(Clone, Copy, Debug, Default)]
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

crate::base::pack::pack_struct!(Handshake {
    syn_ts,
    synack_ts,
    ack_ts,
    syn_to_synack,
    synack_to_ack,
    rtt,
    ack_had_data,
});

impl Handshake {
    /// Times one segment sent by `side`, given what both sides have sent so far (`halves`,
    /// already counting this segment).
    #[inline]
    pub fn track(&mut self, seg: &Segment<'_>, side: Side, halves: &PerSide<Half>) {
        let f = seg.flags;
        if self.ack_ts.is_some() {
            return;
        }
        match side {
            Side::Orig if f.is_syn_only() && self.synack_ts.is_none() => self.syn_ts = Some(seg.ts),
            Side::Resp if f.is_syn_ack() => {
                let orig_isn = halves[Side::Orig].isn;
                let acks_syn = orig_isn.is_some_and(|isn| acks_syn(seg, isn, &halves[Side::Orig]));
                if acks_syn || orig_isn.is_none() {
                    if self.synack_ts.is_none() {
                        self.syn_to_synack = self.syn_ts.map(|s| seg.ts.since(s));
                    }
                    self.synack_ts = Some(seg.ts);
                }
            }
            Side::Orig if f.ack() && !f.syn() && !f.rst() => {
                let Some(synack) = self.synack_ts else { return };
                let Some(resp_isn) = halves[Side::Resp].isn else {
                    return;
                };
                if acks_syn(seg, resp_isn, &halves[Side::Resp]) {
                    self.ack_ts = Some(seg.ts);
                    self.ack_had_data = seg.payload_len > 0;
                    let leg = seg.ts.since(synack);
                    self.synack_to_ack = Some(leg);
                    self.rtt = self.syn_to_synack.map(|a| a + leg);
                }
            }
            _ => {}
        }
    }
}

/// Whether `seg` acknowledges the SYN with sequence number `isn` that `sender` sent, as RFC
/// 9293 §3.10.7.3 accepts it: ISS < SEG.ACK =< ISS + 1 + the data the SYN carried (TCP Fast
/// Open data may or may not be acknowledged).
fn acks_syn(seg: &Segment<'_>, isn: SeqNum, sender: &Half) -> bool {
    let data = sender.options.map_or(0, |o| o.syn_data);
    seg.ack > isn && seg.ack <= isn.add(1 + data)
}

//! The connection table's calls on the listener tracker, as values: a table that holds only
//! some of a capture's connections (one shard of several) cannot ask the tracker, which must
//! see every listener's attempts in capture order, so it hands its calls on and the run makes
//! them on one tracker in that order. A table holding every connection makes them at once.

use std::net::IpAddr;

use super::{ListenerTracker, Resolution, Told};
use crate::detect::Anomaly;
use crate::time::Timestamp;
use crate::wire::{Endpoint, SeqNum, TcpFlags};

/// One call of the connection table on the [`ListenerTracker`].
#[derive(Clone, Copy, Debug)]
pub enum ListenerCall {
    /// A segment no connection record holds ([`ListenerTracker::untracked`]); answers whether
    /// it is an answer to an aggregated attempt, and so aggregated too.
    Untracked {
        /// Its sender.
        src: Endpoint,
        /// Its receiver.
        dst: Endpoint,
        /// Its sequence number.
        seq: SeqNum,
        /// Its acknowledgment number.
        ack: SeqNum,
        /// Its control bits.
        flags: TcpFlags,
        /// Its frame.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// Whether an attempt to `listener` may become a connection record
    /// ([`ListenerTracker::may_track`], tracking the listener if it is new).
    MayTrack {
        /// The listener.
        listener: Endpoint,
        /// The attempt's time.
        ts: Timestamp,
    },
    /// Whether a SYN retransmits an aggregated attempt ([`ListenerTracker::is_aggregated`]).
    IsAggregated {
        /// The listener.
        listener: Endpoint,
        /// The SYN's source address.
        src: IpAddr,
        /// Its source port.
        sport: u16,
        /// Its ISN.
        isn: SeqNum,
    },
    /// An attempt aggregated beyond the caps ([`ListenerTracker::aggregate`]).
    Aggregate {
        /// The listener.
        listener: Endpoint,
        /// The SYN's source address.
        src: IpAddr,
        /// Its source port.
        sport: u16,
        /// Its ISN.
        isn: SeqNum,
        /// Its frame.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// An attempt opening a connection record ([`ListenerTracker::attempt`]).
    Attempt {
        /// The listener.
        listener: Endpoint,
        /// The SYN's source address.
        src: IpAddr,
        /// Its frame.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// A copy of a tracked attempt's SYN-ACK ([`ListenerTracker::synack`]).
    Synack {
        /// The listener.
        listener: Endpoint,
        /// The attempt's connection record.
        conn: u64,
        /// Copies seen so far.
        copies: u32,
        /// Its frame.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// The listener answered a SYN ([`ListenerTracker::answered`]).
    Answered {
        /// The listener.
        listener: Endpoint,
        /// The SYN-ACK's time.
        ts: Timestamp,
        /// The SYN's time.
        syn_at: Timestamp,
    },
    /// A completed handshake showed a timestamp cookie ([`ListenerTracker::timestamp_cookie`]).
    TimestampCookie {
        /// The listener.
        listener: Endpoint,
        /// How far the SYN-ACK's TSval lagged the listener's clock, in milliseconds.
        lag_ms: u32,
        /// Its low bits held the SYN's options.
        decoded: bool,
        /// The frame that showed it.
        frame: u64,
        /// Its time.
        ts: Timestamp,
    },
    /// A tracked attempt is over ([`ListenerTracker::resolve`]).
    Resolve {
        /// The listener.
        listener: Endpoint,
        /// How it ended.
        r: Resolution,
        /// The frame that resolved it.
        frame: u64,
    },
}

impl ListenerCall {
    /// Makes the call on `t`, its anomalies to `out`; the answer of a call that has one
    /// ([`ListenerCall::Untracked`], [`ListenerCall::MayTrack`],
    /// [`ListenerCall::IsAggregated`]), false for the rest.
    pub fn apply(&self, t: &mut ListenerTracker, out: &mut Vec<Anomaly>) -> bool {
        match *self {
            ListenerCall::Untracked {
                src,
                dst,
                seq,
                ack,
                flags,
                frame,
                ts,
            } => {
                let told = t.untracked(src, dst, seq, ack, flags, frame, ts, out);
                !matches!(told, Told::Nothing | Told::Established)
                    || (told == Told::Nothing && flags.is_syn_ack() && t.aggregating(&src))
            }
            ListenerCall::MayTrack { listener, ts } => t
                .may_track(&listener)
                .unwrap_or_else(|| t.track(listener, ts)),
            ListenerCall::IsAggregated {
                listener,
                src,
                sport,
                isn,
            } => t.is_aggregated(&listener, src, sport, isn),
            ListenerCall::Aggregate {
                listener,
                src,
                sport,
                isn,
                frame,
                ts,
            } => {
                t.aggregate(listener, src, sport, isn, frame, ts, out);
                false
            }
            ListenerCall::Attempt {
                listener,
                src,
                frame,
                ts,
            } => {
                t.attempt(listener, src, frame, ts, out);
                false
            }
            ListenerCall::Synack {
                listener,
                conn,
                copies,
                frame,
                ts,
            } => {
                t.synack(listener, conn, copies, frame, ts);
                false
            }
            ListenerCall::Answered {
                listener,
                ts,
                syn_at,
            } => {
                t.answered(listener, ts, syn_at);
                false
            }
            ListenerCall::TimestampCookie {
                listener,
                lag_ms,
                decoded,
                frame,
                ts,
            } => {
                t.timestamp_cookie(listener, lag_ms, decoded, frame, ts, out);
                false
            }
            ListenerCall::Resolve { listener, r, frame } => {
                t.resolve(listener, r, frame, out);
                false
            }
        }
    }

    /// The answer a table holding only some of the connections assumes when it hands the call
    /// on: that of ordinary traffic (a listener has room for the attempt, nothing was
    /// aggregated). The run checks it against the real answer and, if they differ, analyses
    /// the capture again on one table.
    pub fn assumed(&self) -> bool {
        matches!(self, ListenerCall::MayTrack { .. })
    }

    /// Whether the call answers something ([`ListenerCall::apply`]).
    pub fn has_answer(&self) -> bool {
        matches!(
            self,
            ListenerCall::Untracked { .. }
                | ListenerCall::MayTrack { .. }
                | ListenerCall::IsAggregated { .. }
        )
    }

    /// The connection record the call names, for a run that numbers records anew.
    pub fn conn_mut(&mut self) -> Option<&mut u64> {
        match self {
            ListenerCall::Synack { conn, .. } => Some(conn),
            ListenerCall::Resolve { r, .. } => Some(&mut r.conn),
            _ => None,
        }
    }
}

//! A TCP header whose data offset cannot be right: below five 32-bit words (the fixed header is
//! 20 bytes, RFC 9293 §3.1) or pointing beyond the segment the IP header declares. Such a
//! segment yields no [`Segment`](super::Segment) (its options and payload cannot be told
//! apart), but its ports and sequence numbers are intact, so the connection it belongs to can
//! still be told: the decoder keeps it for the connection table, as it keeps ICMP errors.

use std::net::IpAddr;

use super::{SeqNum, TcpFlags};
use crate::time::Timestamp;

/// The fixed fields of a TCP header with an impossible data offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTcpHeader {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// 1-based frame number.
    pub frame: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// The data offset field as sent, in 32-bit words (0-15).
    pub data_offset: u8,
    /// TCP length (header and payload) the IP header declares.
    pub tcp_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

impl BadTcpHeader {
    /// The header length the offset claims, in bytes.
    pub const fn header_len(&self) -> u32 {
        self.data_offset as u32 * 4
    }

    /// Why the offset is wrong: `below_minimum` (under 20 bytes) or `beyond_segment`.
    pub const fn reason(&self) -> &'static str {
        if self.data_offset < 5 {
            "below_minimum"
        } else {
            "beyond_segment"
        }
    }
}

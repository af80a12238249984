//! The decoded view of one TCP segment, borrowing the frame's bytes.

use std::fmt;
use std::net::IpAddr;

use super::{SeqNum, TcpOptions};
use crate::time::Timestamp;

/// TCP control bits (RFC 9293 §3.1, plus ECE/CWR of RFC 3168 and the historic NS bit).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

crate::base::pack::pack_struct!(TcpFlags(s0));

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: u16 = 0x001;
    /// Synchronize sequence numbers.
    pub const SYN: u16 = 0x002;
    /// Reset the connection.
    pub const RST: u16 = 0x004;
    /// Push function.
    pub const PSH: u16 = 0x008;
    /// Acknowledgment field is significant.
    pub const ACK: u16 = 0x010;
    /// Urgent pointer field is significant.
    pub const URG: u16 = 0x020;
    /// ECN-Echo.
    pub const ECE: u16 = 0x040;
    /// Congestion Window Reduced.
    pub const CWR: u16 = 0x080;
    /// ECN nonce (RFC 3540, historic); the same bit is AE in Accurate ECN (RFC 9768).
    pub const NS: u16 = 0x100;

    /// Whether every bit of `mask` is set.
    #[inline]
    pub const fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
    /// Whether any bit of `mask` is set.
    #[inline]
    pub const fn any(self, mask: u16) -> bool {
        self.0 & mask != 0
    }
    /// SYN set.
    #[inline]
    pub const fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    /// ACK set.
    #[inline]
    pub const fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    /// FIN set.
    #[inline]
    pub const fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    /// RST set.
    #[inline]
    pub const fn rst(self) -> bool {
        self.has(Self::RST)
    }
    /// A connection request: SYN without ACK.
    #[inline]
    pub const fn is_syn_only(self) -> bool {
        self.0 & (Self::SYN | Self::ACK) == Self::SYN
    }
    /// A SYN-ACK.
    #[inline]
    pub const fn is_syn_ack(self) -> bool {
        self.has(Self::SYN | Self::ACK)
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump-like letters: `S`, `S.`, `F.`, `R`, `P.`, and `none` for a null segment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (bit, c) in [
            (Self::SYN, 'S'),
            (Self::FIN, 'F'),
            (Self::RST, 'R'),
            (Self::PSH, 'P'),
            (Self::URG, 'U'),
            (Self::ECE, 'E'),
            (Self::CWR, 'W'),
            (Self::ACK, '.'),
        ] {
            if self.has(bit) {
                write!(f, "{c}")?;
                any = true;
            }
        }
        if !any {
            write!(f, "none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

/// One TCP segment as seen on the wire.
#[derive(Clone, Debug)]
pub struct Segment<'a> {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// 1-based frame number in the (merged) capture.
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
    /// Acknowledgment number (meaningful only with ACK set).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Data offset field: the header length in 32-bit words (5-15).
    pub data_offset: u8,
    /// TCP checksum field as sent.
    pub checksum: u16,
    /// Parsed options.
    pub options: TcpOptions,
    /// The payload bytes that were captured (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    /// Payload length according to the IP header.
    pub payload_len: u32,
    /// IP datagram length according to the IP header (IPv4 total length, IPv6 40 + payload length).
    pub ip_len: u32,
    /// Frame length on the wire.
    pub frame_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (absent for IPv6).
    pub ip_id: Option<u16>,
    /// ECN codepoint of the IP header (0 = not ECT).
    pub ip_ecn: u8,
    /// The snaplen cut the segment: fewer payload bytes captured than the IP header says.
    pub truncated: bool,
    /// The snaplen cut into the TCP options (the fixed header is intact).
    pub header_cut: bool,
    /// TCP checksum verdict, when `--verify-checksums` is on and the whole segment was captured.
    pub checksum_ok: Option<bool>,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The segment was carried inside a tunnel (outermost kind).
    pub tunnel: Option<super::TunnelKind>,
}
impl Segment<'_> {
    /// The same segment with other payload bytes: a copy that can outlive the frame it was
    /// decoded from (with no bytes), or one lent the bytes again from where they were kept.
    /// Every field is named, so a field added to the segment cannot be forgotten here.
    pub fn with_payload<'b>(&self, payload: &'b [u8]) -> Segment<'b> {
        Segment {
            ts: self.ts,
            frame: self.frame,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: self.urgent,
            data_offset: self.data_offset,
            checksum: self.checksum,
            options: self.options,
            payload,
            payload_len: self.payload_len,
            ip_len: self.ip_len,
            frame_len: self.frame_len,
            ttl: self.ttl,
            ip_id: self.ip_id,
            ip_ecn: self.ip_ecn,
            truncated: self.truncated,
            header_cut: self.header_cut,
            checksum_ok: self.checksum_ok,
            vlan: self.vlan,
            tunnel: self.tunnel,
        }
    }
}

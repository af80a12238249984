//! ICMP and ICMPv6 error messages that quote a TCP segment: a router's time exceeded, a
//! destination unreachable (fragmentation needed included) or an IPv6 packet too big.
//!
//! An ICMP error carries the IP header of the datagram that caused it and at least the first
//! 8 bytes of its payload (RFC 792; RFC 1812 §4.3.2.3 lets routers quote more; RFC 4443 §2.4
//! quotes as much as fits in 1280 bytes): for TCP that is the ports and the sequence number,
//! enough to find the connection (RFC 5927 §4.1 asks stacks to check that sequence number
//! before acting on the error, as Linux `tcp_v4_err` does). Wireshark shows the same quote under
//! `icmp` → "Transmission Control Protocol" with the four-tuple reversed from the error's own
//! addresses.

use std::net::IpAddr;

use super::{SeqNum, TcpFlags};
use crate::time::Timestamp;

/// An ICMP or ICMPv6 error whose quoted datagram is a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Frame number.
    pub frame: u64,
    /// The router or host that reported the error (the ICMP message's source address).
    pub reporter: IpAddr,
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// ICMP type (3 destination unreachable, 11 time exceeded, 12 parameter problem) or ICMPv6
    /// type (1 destination unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem).
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// Next-hop MTU of a "fragmentation needed" (RFC 1191) or "packet too big" (RFC 8201).
    pub mtu: Option<u32>,
    /// Source address of the quoted segment (the TCP sender whose segment failed).
    pub src: IpAddr,
    /// Destination address of the quoted segment.
    pub dst: IpAddr,
    /// Source port of the quoted segment.
    pub sport: u16,
    /// Destination port of the quoted segment.
    pub dport: u16,
    /// Sequence number of the quoted segment.
    pub seq: SeqNum,
    /// Control bits of the quoted segment, when the router quoted 14 bytes or more of it.
    pub flags: Option<TcpFlags>,
}

impl IcmpError {
    /// A stable name for the type and code, as the JSON detail spells it.
    pub fn name(&self) -> &'static str {
        match (self.v6, self.icmp_type, self.code) {
            (false, 3, 0) => "net_unreachable",
            (false, 3, 1) => "host_unreachable",
            (false, 3, 2) => "protocol_unreachable",
            (false, 3, 3) => "port_unreachable",
            (false, 3, 4) => "fragmentation_needed",
            (false, 3, 9 | 10 | 13) => "administratively_prohibited",
            (false, 3, _) => "destination_unreachable",
            (false, 11, 0) => "ttl_exceeded",
            (false, 11, _) => "reassembly_time_exceeded",
            (false, 12, _) => "parameter_problem",
            (true, 1, 1) => "administratively_prohibited",
            (true, 1, 3) => "address_unreachable",
            (true, 1, 4) => "port_unreachable",
            (true, 1, _) => "destination_unreachable",
            (true, 2, _) => "packet_too_big",
            (true, 3, 0) => "hop_limit_exceeded",
            (true, 3, _) => "reassembly_time_exceeded",
            (true, 4, _) => "parameter_problem",
            _ => "other",
        }
    }

    /// Whether the error says the segment's hop count ran out on the way (a routing loop or a
    /// traceroute-style probe): the segment never reached its destination.
    pub fn is_time_exceeded(&self) -> bool {
        (!self.v6 && self.icmp_type == 11) || (self.v6 && self.icmp_type == 3)
    }
}

/// Decodes the body of an ICMP (`v6` false, IP protocol 1) or ICMPv6 (protocol 58) message.
/// Returns the error when it is one of the error types and quotes a TCP segment with at least
/// its ports and sequence number; `None` for anything else (echo, neighbour discovery, errors
/// about UDP, quotes cut short).
pub fn parse(
    v6: bool,
    body: &[u8],
    reporter: IpAddr,
    ts: Timestamp,
    frame: u64,
) -> Option<IcmpError> {
    let (&icmp_type, rest) = body.split_first()?;
    let code = *rest.first()?;
    let is_error = if v6 {
        matches!(icmp_type, 1..=4)
    } else {
        matches!(icmp_type, 3 | 11 | 12)
    };
    if !is_error {
        return None;
    }
    // 4 bytes type, code, checksum; 4 bytes type-specific (unused, MTU, pointer); the quote.
    let word = body.get(4..8)?;
    let quote = body.get(8..)?;
    let mtu = match (v6, icmp_type, code) {
        (false, 3, 4) => Some(u16::from_be_bytes([word[2], word[3]]) as u32),
        (true, 2, _) => Some(u32::from_be_bytes([word[0], word[1], word[2], word[3]])),
        _ => None,
    };
    let (src, dst, tcp) = quoted_tcp(quote)?;
    let t = tcp.get(..8)?;
    Some(IcmpError {
        ts,
        frame,
        reporter,
        v6,
        icmp_type,
        code,
        mtu,
        src,
        dst,
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: SeqNum(u32::from_be_bytes([t[4], t[5], t[6], t[7]])),
        flags: tcp
            .get(12..14)
            .map(|f| TcpFlags(u16::from_be_bytes([f[0], f[1]]) & 0x01ff)),
    })
}

/// The quoted datagram's addresses and its TCP bytes, when it is TCP (IPv4 with any header
/// length, first fragment only; IPv6 with TCP as the first next header or after hop-by-hop,
/// routing and destination-options headers).
fn quoted_tcp(q: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    match q.first()? >> 4 {
        4 => {
            let ihl = (q[0] & 0x0f) as usize * 4;
            let h = q.get(..ihl.max(20))?;
            let frag_offset = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
            if h[9] != 6 || frag_offset != 0 {
                return None;
            }
            let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
            let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
            Some((src, dst, q.get(ihl..)?))
        }
        6 => {
            let h = q.get(..40)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(&h[8..24]);
            let src = IpAddr::from(a);
            a.copy_from_slice(&h[24..40]);
            let dst = IpAddr::from(a);
            let (mut next, mut at) = (h[6], 40usize);
            // Extension headers a quoted TCP segment may carry (RFC 8200 §4): hop-by-hop,
            // routing, destination options; each gives its length in 8-byte units after the
            // first 8.
            for _ in 0..4 {
                if next == 6 {
                    return Some((src, dst, q.get(at..)?));
                }
                if !matches!(next, 0 | 43 | 60) {
                    return None;
                }
                let e = q.get(at..at + 2)?;
                next = e[0];
                at += (e[1] as usize + 1) * 8;
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICMP time exceeded (type 11 code 0) from 10.0.0.254 quoting a SYN 10.0.0.1:40000 →
    /// 192.0.2.7:80, seq 1000, as a Linux router sends it (IP header plus 8 bytes).
    fn time_exceeded_v4() -> Vec<u8> {
        let mut b = vec![11, 0, 0, 0, 0, 0, 0, 0];
        b.extend([0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 1, 6, 0, 0]);
        b.extend([10, 0, 0, 1, 192, 0, 2, 7]);
        b.extend(40000u16.to_be_bytes());
        b.extend(80u16.to_be_bytes());
        b.extend(1000u32.to_be_bytes());
        b
    }

    #[test]
    fn time_exceeded_quoting_a_syn_is_decoded() {
        let e = parse(
            false,
            &time_exceeded_v4(),
            "10.0.0.254".parse().unwrap(),
            Timestamp::EPOCH,
            7,
        )
        .expect("an error quoting TCP");
        assert_eq!(e.name(), "ttl_exceeded");
        assert!(e.is_time_exceeded());
        assert_eq!((e.sport, e.dport, e.seq), (40000, 80, SeqNum(1000)));
        assert_eq!(e.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(e.flags, None, "8 quoted bytes carry no flags");
    }

    #[test]
    fn echo_and_short_quotes_are_not_errors() {
        let r: IpAddr = "10.0.0.254".parse().unwrap();
        assert_eq!(
            parse(false, &[8, 0, 0, 0, 0, 1, 0, 1], r, Timestamp::EPOCH, 1),
            None
        );
        let b = time_exceeded_v4();
        assert_eq!(
            parse(false, &b[..b.len() - 1], r, Timestamp::EPOCH, 1),
            None
        );
    }

    #[test]
    fn packet_too_big_carries_the_mtu() {
        let mut b = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip6.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0; 11].iter())
                .chain([1].iter()),
        );
        ip6.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0; 11].iter())
                .chain([2].iter()),
        );
        b.extend(ip6);
        b.extend([0x01, 0xbb, 0xc0, 0x00, 0, 0, 0, 5, 0, 0, 0, 0, 0x50, 0x18]);
        let e = parse(
            true,
            &b,
            "2001:db8::fe".parse().unwrap(),
            Timestamp::EPOCH,
            1,
        )
        .unwrap();
        assert_eq!(e.name(), "packet_too_big");
        assert_eq!(e.mtu, Some(1280));
        assert_eq!((e.sport, e.dport), (443, 49152));
        assert_eq!(e.flags, Some(TcpFlags(TcpFlags::PSH | TcpFlags::ACK)));
    }
}

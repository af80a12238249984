//! The TCP header: the in-place fast path for TCP directly in plain IPv4/IPv6, the header reader
//! that turns bytes into a [`Segment`], and the checksum.

use std::net::IpAddr;

use super::decode::Ctx;
use super::{BadTcpHeader, DecodeStats, Segment, SeqNum, SkipReason, TcpFlags, TcpOptions};

/// IP-level facts of a segment.
pub(super) struct Ip {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) ip_len: u32,
    pub(super) ttl: u8,
    pub(super) ip_id: Option<u16>,
    pub(super) ecn: u8,
}

/// Reads an IPv4 header without options and not fragmented, or an IPv6 header without extension
/// headers, whose payload is TCP. Returns the IP facts, the TCP bytes and the TCP length the IP
/// header declares; `None` sends the datagram down the general path.
#[inline]
pub(super) fn plain_tcp(d: &[u8]) -> Option<(Ip, &[u8], usize)> {
    match *d.first()? {
        0x45 => {
            let h = d.get(..20)?;
            let total = u16::from_be_bytes([h[2], h[3]]) as usize;
            let frag = u16::from_be_bytes([h[6], h[7]]) & 0x3fff;
            if h[9] != 6 || frag != 0 || total < 20 {
                return None;
            }
            let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
            let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
            let ip = Ip {
                src,
                dst,
                ip_len: total as u32,
                ttl: h[8],
                ip_id: Some(u16::from_be_bytes([h[4], h[5]])),
                ecn: h[1] & 0x3,
            };
            Some((ip, &d[20..total.min(d.len())], total - 20))
        }
        b if b >> 4 == 6 => {
            let h = d.get(..40)?;
            let pl = u16::from_be_bytes([h[4], h[5]]) as usize;
            if h[6] != 6 || pl == 0 {
                return None;
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&h[8..24]);
            let src = IpAddr::from(a);
            a.copy_from_slice(&h[24..40]);
            let dst = IpAddr::from(a);
            let ip = Ip {
                src,
                dst,
                ip_len: 40 + pl as u32,
                ttl: h[7],
                ip_id: None,
                ecn: (h[1] >> 4) & 0x3,
            };
            Some((ip, &d[40..(40 + pl).min(d.len())], pl))
        }
        _ => None,
    }
}

/// Reads the TCP header from `t`; `declared` is the TCP length according to the IP header.
/// A header whose fixed 20 bytes were captured but whose options the snaplen cut still yields a
/// segment (options parsed as far as they go, marked truncated), as a 64-byte snaplen produces.
/// A header with an impossible data offset yields none; its fixed fields go to `bad`.
pub(super) fn parse_tcp<'s>(
    stats: &mut DecodeStats,
    bad: &mut Option<BadTcpHeader>,
    t: &'s [u8],
    declared: usize,
    ip: Ip,
    ctx: Ctx,
    verify: bool,
) -> Option<Segment<'s>> {
    let Some(h) = t.get(..20) else {
        stats.skipped[SkipReason::TcpTruncated as usize] += 1;
        return None;
    };
    let hlen = (h[12] >> 4) as usize * 4;
    let be16 = |o: usize| u16::from_be_bytes([h[o], h[o + 1]]);
    let be32 = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    if hlen < 20 || declared < hlen {
        stats.skipped[SkipReason::TcpBadHeader as usize] += 1;
        // Still counted as skipped above (the summary's figure is unchanged); the ports and
        // sequence number are intact, so the connection table can tie it to its connection.
        *bad = Some(BadTcpHeader {
            ts: ctx.ts,
            frame: ctx.frame,
            src: ip.src,
            dst: ip.dst,
            sport: be16(0),
            dport: be16(2),
            seq: SeqNum(be32(4)),
            flags: TcpFlags(be16(12) & 0x01ff),
            data_offset: h[12] >> 4,
            tcp_len: declared as u32,
            ttl: ip.ttl,
        });
        return None;
    }
    let options_cut = t.len() < hlen;
    let options = TcpOptions::parse(&t[20..hlen.min(t.len())]);
    let payload_len = (declared - hlen) as u32;
    let captured = t.get(hlen..).unwrap_or(&[]);
    let captured = &captured[..captured.len().min(payload_len as usize)];
    let truncated = options_cut || (captured.len() as u32) < payload_len;
    let checksum_ok = (verify && !truncated && t.len() >= declared)
        .then(|| tcp_checksum_ok(ip.src, ip.dst, &t[..declared]));
    stats.bad_checksums += (checksum_ok == Some(false)) as u64;
    stats.tcp_segments += 1;
    stats.truncated_segments += truncated as u64;
    stats.options_cut += options_cut as u64;
    stats.malformed_options += (options.malformed && !options_cut) as u64;
    if let Some(k) = ctx.tunnel {
        stats.tunnels[k as usize] += 1;
    }
    Some(Segment {
        ts: ctx.ts,
        frame: ctx.frame,
        src: ip.src,
        dst: ip.dst,
        sport: be16(0),
        dport: be16(2),
        seq: SeqNum(be32(4)),
        ack: SeqNum(be32(8)),
        flags: TcpFlags(be16(12) & 0x01ff),
        window: be16(14),
        checksum: be16(16),
        urgent: be16(18),
        data_offset: h[12] >> 4,
        options,
        payload: captured,
        payload_len,
        ip_len: ip.ip_len,
        frame_len: ctx.frame_len,
        ttl: ip.ttl,
        ip_id: ip.ip_id,
        ip_ecn: ip.ecn,
        truncated,
        header_cut: options_cut,
        checksum_ok,
        vlan: ctx.vlan,
        tunnel: ctx.tunnel,
    })
}

/// Whether the TCP checksum of `tcp` (header and payload) is right for these addresses: the
/// one's-complement sum over the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) and the segment,
/// checksum field included, is 0xffff.
fn tcp_checksum_ok(src: IpAddr, dst: IpAddr, tcp: &[u8]) -> bool {
    let mut sum: u64 = 6 + tcp.len() as u64;
    let mut add_addr = |a: IpAddr| match a {
        IpAddr::V4(v) => sum += u32::from_be_bytes(v.octets()) as u64,
        IpAddr::V6(v) => {
            for c in v.octets().chunks_exact(4) {
                sum += u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
            }
        }
    };
    add_addr(src);
    add_addr(dst);
    let mut words = tcp.chunks_exact(4);
    for c in &mut words {
        sum += u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum += u32::from_be_bytes(tail) as u64;
    // Fold 64 -> 16 bits.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

//! Frame → [`Segment`]: link layer, tunnels, IP (with fragment reassembly) and TCP, with every
//! frame that is not a usable TCP segment counted by reason or protocol.

use std::collections::BTreeMap;
use std::net::IpAddr;

use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{Ipv6ExtensionSlice, LaxIpSlice};
use serde::Serialize;

use super::frag::{FragKey, FragMeta, FragStats, FragTable};
use super::link::{self, LinkInfo, Net};
use super::{Segment, SeqNum, TcpFlags, TcpOptions};
use crate::time::Timestamp;
use crate::wire::Packet;

/// Why a frame did not yield a TCP segment although it may have been one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum SkipReason {
    /// The frame is shorter than its link-layer header.
    LinkTruncated,
    /// The link-layer type is not decoded (counted per type in `unsupported_link_types`).
    UnsupportedLinkType,
    /// The IP header is cut short.
    IpTruncated,
    /// The IP header is invalid (version, header length, total length).
    IpBadHeader,
    /// An IPv6 extension header could not be walked.
    Ipv6ExtensionError,
    /// Fewer than the 20 fixed bytes of the TCP header were captured.
    TcpTruncated,
    /// The TCP header is invalid (data offset below 5, or beyond the IP length).
    TcpBadHeader,
    /// An IP fragment whose bytes were cut by the snaplen.
    FragmentTruncated,
    /// A tunnel header (GRE, VXLAN, GTP-U, Teredo) is cut short or malformed.
    TunnelMalformed,
}

impl SkipReason {
    /// Number of reasons.
    pub const COUNT: usize = 9;
    /// All reasons, in index order.
    pub const ALL: [SkipReason; Self::COUNT] = [
        SkipReason::LinkTruncated,
        SkipReason::UnsupportedLinkType,
        SkipReason::IpTruncated,
        SkipReason::IpBadHeader,
        SkipReason::Ipv6ExtensionError,
        SkipReason::TcpTruncated,
        SkipReason::TcpBadHeader,
        SkipReason::FragmentTruncated,
        SkipReason::TunnelMalformed,
    ];

    /// Stable snake_case name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::LinkTruncated => "link_truncated",
            SkipReason::UnsupportedLinkType => "unsupported_link_type",
            SkipReason::IpTruncated => "ip_truncated",
            SkipReason::IpBadHeader => "ip_bad_header",
            SkipReason::Ipv6ExtensionError => "ipv6_extension_error",
            SkipReason::TcpTruncated => "tcp_header_truncated",
            SkipReason::TcpBadHeader => "tcp_bad_header",
            SkipReason::FragmentTruncated => "fragment_truncated",
            SkipReason::TunnelMalformed => "tunnel_malformed",
        }
    }
}

/// Encapsulations tcpaudit looks through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(usize)]
pub enum TunnelKind {
    /// IPv4 or IPv6 inside IP (protocols 4 and 41).
    IpInIp,
    /// GRE (including ERSPAN type II and transparent Ethernet bridging).
    Gre,
    /// VXLAN (UDP 4789).
    Vxlan,
    /// GTP-U (UDP 2152).
    GtpU,
    /// Teredo (UDP 3544).
    Teredo,
}

impl TunnelKind {
    /// Number of kinds.
    pub const COUNT: usize = 5;
    /// All kinds in index order.
    pub const ALL: [TunnelKind; Self::COUNT] = [
        TunnelKind::IpInIp,
        TunnelKind::Gre,
        TunnelKind::Vxlan,
        TunnelKind::GtpU,
        TunnelKind::Teredo,
    ];
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::IpInIp => "ip_in_ip",
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::GtpU => "gtp_u",
            TunnelKind::Teredo => "teredo",
        }
    }
}

/// What the decoder saw, for the summary.
#[derive(Clone, Debug)]
pub struct DecodeStats {
    /// Frames handed to the decoder.
    pub frames: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// TCP segments whose payload was cut by the snaplen (still analysed).
    pub truncated_segments: u64,
    /// TCP segments whose options could not be fully walked.
    pub malformed_options: u64,
    /// TCP segments whose options the snaplen cut (fixed header analysed; also in
    /// `truncated_segments`).
    pub options_cut: u64,
    /// IPv4 packets with total length 0 (TSO/BIG TCP captures): length taken from the capture.
    pub ip_len_zero: u64,
    /// TCP segments whose checksum is wrong (with `--verify-checksums`).
    pub bad_checksums: u64,
    /// Frames skipped, by [`SkipReason`] index.
    pub skipped: [u64; SkipReason::COUNT],
    /// Non-TCP IP packets by protocol number.
    pub ip_protocols: [u64; 256],
    /// Non-IP frames by EtherType.
    pub ether_types: BTreeMap<u16, u64>,
    /// Other non-IP frames by kind.
    pub other: BTreeMap<&'static str, u64>,
    /// Frames of link types that are not decoded, by link type number.
    pub unsupported_link_types: BTreeMap<u32, u64>,
    /// Segments found inside tunnels, by [`TunnelKind`] index.
    pub tunnels: [u64; TunnelKind::COUNT],
    /// IP fragment reassembly.
    pub fragments: FragStats,
}

impl Default for DecodeStats {
    fn default() -> Self {
        DecodeStats {
            frames: 0,
            tcp_segments: 0,
            truncated_segments: 0,
            malformed_options: 0,
            options_cut: 0,
            ip_len_zero: 0,
            bad_checksums: 0,
            skipped: [0; SkipReason::COUNT],
            ip_protocols: [0; 256],
            ether_types: BTreeMap::new(),
            other: BTreeMap::new(),
            unsupported_link_types: BTreeMap::new(),
            tunnels: [0; TunnelKind::COUNT],
            fragments: FragStats::default(),
        }
    }
}

impl DecodeStats {
    /// Frames skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Frames that were not TCP (counted by protocol).
    pub fn non_tcp_total(&self) -> u64 {
        self.ip_protocols.iter().sum::<u64>()
            + self.ether_types.values().sum::<u64>()
            + self.other.values().sum::<u64>()
    }
}

/// Per-frame context carried down through encapsulations.
#[derive(Clone, Copy)]
struct Ctx {
    ts: Timestamp,
    frame: u64,
    frame_len: u32,
    vlan: Option<u16>,
    tunnel: Option<TunnelKind>,
}

/// Decodes frames; owns the fragment table and the counters.
#[derive(Default)]
pub struct Decoder {
    /// Counters.
    pub stats: DecodeStats,
    frags: FragTable,
    verify_checksums: bool,
}

const MAX_TUNNEL_DEPTH: u8 = 4;

impl Decoder {
    /// A decoder with empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that verifies TCP checksums (RFC 9293 §3.1) of completely captured segments.
    pub fn with_checksums(verify: bool) -> Self {
        Decoder {
            verify_checksums: verify,
            ..Self::default()
        }
    }

    fn skip(&mut self, r: SkipReason) {
        self.stats.skipped[r as usize] += 1;
    }

    /// Decodes one frame. Returns the TCP segment it carries, if any; everything else is counted.
    pub fn decode<'s>(&'s mut self, pkt: &Packet<'s>, frame: u64) -> Option<Segment<'s>> {
        self.stats.frames += 1;
        let mut info = LinkInfo::default();
        match link::network(pkt.link_type, pkt.data, &mut info) {
            Net::Ip(d) => {
                let ctx = Ctx {
                    ts: pkt.ts,
                    frame,
                    frame_len: pkt.orig_len,
                    vlan: info.vlan,
                    tunnel: None,
                };
                self.ip(d, ctx, 0)
            }
            Net::OtherEther(et) => {
                *self.stats.ether_types.entry(et).or_insert(0) += 1;
                None
            }
            Net::Other(what) => {
                *self.stats.other.entry(what).or_insert(0) += 1;
                None
            }
            Net::Truncated => {
                self.skip(SkipReason::LinkTruncated);
                None
            }
            Net::Unsupported => {
                *self
                    .stats
                    .unsupported_link_types
                    .entry(pkt.link_type.0)
                    .or_insert(0) += 1;
                self.skip(SkipReason::UnsupportedLinkType);
                None
            }
        }
    }

    /// Counts fragments still pending at the end of the capture.
    pub fn finish(&mut self) {
        self.frags.finish();
        self.stats.fragments = self.frags.stats;
    }

    fn ip<'s>(&'s mut self, d: &'s [u8], ctx: Ctx, depth: u8) -> Option<Segment<'s>> {
        // The common case, TCP directly in IPv4 (no options, not fragmented) or IPv6 (no extension
        // headers), is read in place; everything else goes through etherparse's lax slicer.
        if let Some((ip, t, declared)) = plain_tcp(d) {
            return parse_tcp(&mut self.stats, t, declared, ip, ctx, self.verify_checksums);
        }
        let (ip, ext_err) = match LaxIpSlice::from_slice(d) {
            Ok(x) => x,
            Err(LaxHeaderSliceError::Len(_)) => {
                self.skip(SkipReason::IpTruncated);
                return None;
            }
            Err(LaxHeaderSliceError::Content(_)) => {
                self.skip(SkipReason::IpBadHeader);
                return None;
            }
        };
        if ext_err.is_some() {
            self.skip(SkipReason::Ipv6ExtensionError);
            return None;
        }
        let mut src = ip.source_addr();
        let mut dst = ip.destination_addr();
        if let LaxIpSlice::Ipv6(v6) = &ip {
            mobile_ipv6_addresses(v6.extensions(), &mut src, &mut dst);
        }
        let payload = ip.payload();
        let proto = payload.ip_number.0;
        let data = payload.payload;
        let payload_off = data.as_ptr() as usize - d.as_ptr() as usize;
        let (declared_total, ttl, ip_id, ecn, frag) = match &ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                let hlen = h.ihl() as usize * 4;
                let mut total = h.total_len() as usize;
                if total == 0 {
                    // TSO/BIG TCP: the stack left the length for the NIC to fill in.
                    self.stats.ip_len_zero += 1;
                    total = d.len();
                } else if total < hlen {
                    self.skip(SkipReason::IpBadHeader);
                    return None;
                }
                let frag = h.is_fragmenting_payload().then(|| {
                    (
                        h.identification() as u32,
                        h.fragments_offset().value() as u32 * 8,
                        h.more_fragments(),
                    )
                });
                (
                    total,
                    h.ttl(),
                    Some(h.identification()),
                    h.ecn().value(),
                    frag,
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                let h = v6.header();
                let pl = h.payload_length() as usize;
                let total = if pl == 0 { d.len() } else { 40 + pl };
                let mut frag = None;
                if v6.extensions().is_fragmenting_payload() {
                    for ext in v6.extensions().clone() {
                        if let Ipv6ExtensionSlice::Fragment(f) = ext {
                            frag = Some((
                                f.identification(),
                                f.fragment_offset().value() as u32 * 8,
                                f.more_fragments(),
                            ));
                        }
                    }
                }
                (total, h.hop_limit(), None, h.traffic_class() & 0x3, frag)
            }
        };
        let declared = declared_total.saturating_sub(payload_off);
        let ip_len = declared_total as u32;

        if let Some((id, offset, more)) = frag {
            if data.len() < declared {
                self.frags.stats.fragments += 1;
                self.frags.stats.truncated += 1;
                self.stats.fragments = self.frags.stats;
                self.skip(SkipReason::FragmentTruncated);
                return None;
            }
            let key = FragKey {
                src,
                dst,
                id,
                proto,
            };
            let meta = FragMeta {
                ttl,
                ip_id,
                ecn,
                header_len: payload_off as u32,
            };
            let done = self
                .frags
                .insert(key, ctx.ts, offset, more, &data[..declared], meta);
            self.stats.fragments = self.frags.stats;
            let meta = done?;
            if proto != 6 {
                self.stats.ip_protocols[proto as usize] += 1;
                return None;
            }
            let total = self.frags.out.len();
            let ip_len = meta.header_len + total as u32;
            return parse_tcp(
                &mut self.stats,
                &self.frags.out,
                total,
                Ip {
                    src,
                    dst,
                    ip_len,
                    ttl: meta.ttl,
                    ip_id: meta.ip_id,
                    ecn: meta.ecn,
                },
                ctx,
                self.verify_checksums,
            );
        }

        let ipf = Ip {
            src,
            dst,
            ip_len,
            ttl,
            ip_id,
            ecn,
        };
        match proto {
            6 => parse_tcp(
                &mut self.stats,
                data,
                declared,
                ipf,
                ctx,
                self.verify_checksums,
            ),
            4 | 41 if depth < MAX_TUNNEL_DEPTH => {
                self.ip(data, tunnel(ctx, TunnelKind::IpInIp), depth + 1)
            }
            47 if depth < MAX_TUNNEL_DEPTH => self.gre(data, ctx, depth),
            17 if depth < MAX_TUNNEL_DEPTH => self.udp(data, ctx, depth),
            _ => {
                self.stats.ip_protocols[proto as usize] += 1;
                None
            }
        }
    }

    /// GRE version 0 (RFC 2784/2890) and ERSPAN type II.
    fn gre<'s>(&'s mut self, d: &'s [u8], ctx: Ctx, depth: u8) -> Option<Segment<'s>> {
        let Some(h) = d.get(..4) else {
            self.skip(SkipReason::TunnelMalformed);
            return None;
        };
        let flags = u16::from_be_bytes([h[0], h[1]]);
        let proto = u16::from_be_bytes([h[2], h[3]]);
        if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
            // Enhanced GRE (PPTP) or source routing: not looked into.
            self.stats.ip_protocols[47] += 1;
            return None;
        }
        let mut len = 4;
        for bit in [0x8000u16, 0x2000, 0x1000] {
            if flags & bit != 0 {
                len += 4;
            }
        }
        let Some(mut inner) = d.get(len..) else {
            self.skip(SkipReason::TunnelMalformed);
            return None;
        };
        let mut et = proto;
        if proto == 0x88be {
            // ERSPAN type II: 8-byte header, then the mirrored Ethernet frame.
            let Some(rest) = inner.get(8..) else {
                self.skip(SkipReason::TunnelMalformed);
                return None;
            };
            inner = rest;
            et = 0x6558;
        }
        let mut info = LinkInfo::default();
        match link::ether_type(et, inner, &mut info, 1) {
            Net::Ip(ip) => {
                let mut c = tunnel(ctx, TunnelKind::Gre);
                c.vlan = c.vlan.or(info.vlan);
                self.ip(ip, c, depth + 1)
            }
            _ => {
                self.stats.ip_protocols[47] += 1;
                None
            }
        }
    }

    /// UDP: VXLAN, GTP-U and Teredo are looked into; anything else is counted as UDP.
    fn udp<'s>(&'s mut self, d: &'s [u8], ctx: Ctx, depth: u8) -> Option<Segment<'s>> {
        let Some(h) = d.get(..8) else {
            self.stats.ip_protocols[17] += 1;
            return None;
        };
        let sport = u16::from_be_bytes([h[0], h[1]]);
        let dport = u16::from_be_bytes([h[2], h[3]]);
        let body = &d[8..];
        let is = |p: u16| sport == p || dport == p;
        if is(4789) {
            // VXLAN: 8-byte header with the I flag, then Ethernet.
            if body.len() >= 8 && body[0] & 0x08 != 0 {
                let mut info = LinkInfo::default();
                if let Net::Ip(ip) = link::ethernet(&body[8..], &mut info, 1) {
                    let mut c = tunnel(ctx, TunnelKind::Vxlan);
                    c.vlan = c.vlan.or(info.vlan);
                    return self.ip(ip, c, depth + 1);
                }
            }
        } else if is(2152) {
            match gtpu_payload(body) {
                Some(ip) if matches!(ip.first().map(|b| b >> 4), Some(4 | 6)) => {
                    return self.ip(ip, tunnel(ctx, TunnelKind::GtpU), depth + 1);
                }
                Some(_) => {}
                None => {
                    self.skip(SkipReason::TunnelMalformed);
                    return None;
                }
            }
        } else if is(3544) && body.first().is_some_and(|b| b >> 4 == 6) && body.len() >= 40 {
            return self.ip(body, tunnel(ctx, TunnelKind::Teredo), depth + 1);
        }
        self.stats.ip_protocols[17] += 1;
        None
    }
}

/// The addresses the transport layer really uses (RFC 8200 §8.1 pseudo-header): the Home Address
/// option of a Destination Options header replaces the source (RFC 6275 §6.3), and a type 0
/// routing header with segments left names the final destination (as Wireshark and Zeek do).
fn mobile_ipv6_addresses(
    exts: &etherparse::Ipv6ExtensionsSlice<'_>,
    src: &mut IpAddr,
    dst: &mut IpAddr,
) {
    for ext in exts.clone() {
        match ext {
            Ipv6ExtensionSlice::DestinationOptions(h) => {
                let mut opts = h.payload();
                while let [kind, rest @ ..] = opts {
                    if *kind == 0 {
                        opts = rest; // Pad1
                        continue;
                    }
                    let Some((&len, body)) = rest.split_first() else {
                        break;
                    };
                    let Some(value) = body.get(..len as usize) else {
                        break;
                    };
                    if *kind == 0xc9 && value.len() == 16 {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(value);
                        *src = IpAddr::from(a);
                    }
                    opts = &body[len as usize..];
                }
            }
            Ipv6ExtensionSlice::Routing(h) => {
                let p = h.payload();
                if let [0, left, _, _, _, _, addrs @ ..] = p
                    && *left > 0
                    && addrs.len() >= 16
                {
                    let last = &addrs[(addrs.len() / 16 - 1) * 16..][..16];
                    let mut a = [0u8; 16];
                    a.copy_from_slice(last);
                    *dst = IpAddr::from(a);
                }
            }
            _ => {}
        }
    }
}

fn tunnel(mut ctx: Ctx, kind: TunnelKind) -> Ctx {
    ctx.tunnel = ctx.tunnel.or(Some(kind));
    ctx
}

/// The T-PDU of a GTPv1-U G-PDU message (3GPP TS 29.281), or `None` if malformed.
fn gtpu_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || b.get(1) != Some(&0xff) {
        return Some(&[]); // not a G-PDU: no user payload
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        off = 12;
        if flags & 0x04 != 0 {
            // Extension headers: length in 4-byte units, next type in the last byte.
            let mut next = *b.get(11)?;
            while next != 0 {
                let len = *b.get(off)? as usize * 4;
                if len == 0 {
                    return None;
                }
                next = *b.get(off + len - 1)?;
                off += len;
            }
        }
    }
    b.get(off..)
}

/// Reads an IPv4 header without options and not fragmented, or an IPv6 header without extension
/// headers, whose payload is TCP. Returns the IP facts, the TCP bytes and the TCP length the IP
/// header declares; `None` sends the datagram down the general path.
#[inline]
fn plain_tcp(d: &[u8]) -> Option<(Ip, &[u8], usize)> {
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

/// IP-level facts of a segment.
struct Ip {
    src: IpAddr,
    dst: IpAddr,
    ip_len: u32,
    ttl: u8,
    ip_id: Option<u16>,
    ecn: u8,
}

/// Reads the TCP header from `t`; `declared` is the TCP length according to the IP header.
/// A header whose fixed 20 bytes were captured but whose options the snaplen cut still yields a
/// segment (options parsed as far as they go, marked truncated), as a 64-byte snaplen produces.
fn parse_tcp<'s>(
    stats: &mut DecodeStats,
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
    if hlen < 20 || declared < hlen {
        stats.skipped[SkipReason::TcpBadHeader as usize] += 1;
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
    let be16 = |o: usize| u16::from_be_bytes([h[o], h[o + 1]]);
    let be32 = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::LinkType;
    use proptest::prelude::*;

    const LINK_TYPES: [u32; 14] = [0, 1, 9, 12, 14, 51, 101, 105, 108, 113, 127, 228, 239, 276];

    proptest! {
        /// Any bytes under any decoded link type give a segment or a counted reason, never a panic.
        #[test]
        fn arbitrary_frames_never_panic(lt in 0usize..LINK_TYPES.len(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut d = Decoder::new();
            let pkt = Packet { ts: Timestamp(0), link_type: LinkType(LINK_TYPES[lt]), data: &data, orig_len: data.len() as u32 };
            let got = d.decode(&pkt, 1).is_some();
            let s = &d.stats;
            let accounted = s.tcp_segments + s.skipped_total() + s.non_tcp_total()
                + s.fragments.fragments;
            prop_assert!(got || accounted >= 1 || s.fragments.fragments > 0 || s.frames == 1);
        }

        /// IPv4+TCP with random header bytes after a valid version nibble.
        #[test]
        fn arbitrary_ip_headers_never_panic(mut data in proptest::collection::vec(any::<u8>(), 20..120)) {
            data[0] = 0x45;
            data[9] = 6;
            let mut d = Decoder::new();
            let pkt = Packet { ts: Timestamp(0), link_type: LinkType::RAW, data: &data, orig_len: 1500 };
            let _ = d.decode(&pkt, 1);
        }
    }
}

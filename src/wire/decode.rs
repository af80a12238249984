//! Frame → [`Segment`]: the [`Decoder`] peels the link layer, then IP (with fragment reassembly),
//! and hands TCP to [`tcp_header`](super::tcp_header) and encapsulations to
//! [`tunnel`](super::tunnel). Every frame that is not a usable TCP segment is counted by reason or
//! protocol in [`DecodeStats`].

use std::net::IpAddr;

use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{Ipv6ExtensionSlice, LaxIpSlice};

use super::datagram::{Datagram, UdpKeep};
use super::frag::{FragKey, FragMeta, FragTable};
use super::icmp::{self, IcmpError};
use super::link::{self, LinkInfo, Net};
use super::tcp_header::{Ip, parse_tcp, plain_tcp};
use super::tunnel::{MAX_TUNNEL_DEPTH, TunnelKind, mobile_ipv6_addresses};
use super::{BadTcpHeader, DecodeStats, Endpoint, Segment, SkipReason};
use crate::time::Timestamp;
use crate::wire::Packet;

/// Per-frame context carried down through encapsulations.
#[derive(Clone, Copy)]
pub(super) struct Ctx {
    pub(super) ts: Timestamp,
    pub(super) frame: u64,
    pub(super) frame_len: u32,
    pub(super) vlan: Option<u16>,
    pub(super) tunnel: Option<TunnelKind>,
}

impl Ctx {
    /// The context one encapsulation further in. A segment is counted and reported under its
    /// outermost tunnel.
    pub(super) fn inside(mut self, kind: TunnelKind) -> Ctx {
        self.tunnel = self.tunnel.or(Some(kind));
        self
    }
}

/// Where a datagram sits in a fragment series (IPv4 header fields, or the IPv6 Fragment header).
#[derive(Clone, Copy)]
struct Fragment {
    /// Identification, shared by the fragments of one datagram.
    id: u32,
    /// Byte offset of this fragment's payload in the datagram's payload.
    offset: u32,
    /// More fragments follow.
    more: bool,
}

/// What the IP header says about its datagram, apart from the addresses and the protocol.
struct IpHeader {
    /// Datagram length the header declares (the captured length when it declares 0).
    total: usize,
    /// TTL or hop limit.
    ttl: u8,
    /// IPv4 identification (IPv6 has none outside fragments).
    ip_id: Option<u16>,
    /// ECN bits.
    ecn: u8,
    /// Set when the datagram is one fragment of a larger one.
    frag: Option<Fragment>,
}

/// Decodes frames; owns the fragment table and the counters.
#[derive(Default)]
pub struct Decoder {
    /// Counters.
    pub stats: DecodeStats,
    frags: FragTable,
    verify_checksums: bool,
    /// The ICMP error the last frame carried, until [`Decoder::take_icmp_error`].
    icmp: Option<IcmpError>,
    /// The TCP header with an impossible data offset the last frame carried, until
    /// [`Decoder::take_bad_header`].
    bad_header: Option<BadTcpHeader>,
    /// The UDP datagram the last frame carried, when asked for.
    pub(super) udp: UdpKeep,
}

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

    /// Counts a frame that yielded no segment, by reason.
    pub(super) fn skip(&mut self, r: SkipReason) {
        self.stats.skipped[r as usize] += 1;
    }

    /// The sending and receiving endpoints of a frame holding TCP directly in IPv4 (no options,
    /// not a fragment) or IPv6 (no extension headers), read without decoding the segment and
    /// without touching any decoder state; `None` for any other frame, which only
    /// [`decode`](Self::decode) can place. A second read of a capture looking for a few
    /// connections skips most frames with this.
    pub fn plain_endpoints(pkt: &Packet<'_>) -> Option<(Endpoint, Endpoint)> {
        let Net::Ip(d) = link::network(pkt.link_type, pkt.data, &mut LinkInfo::default()) else {
            return None;
        };
        let (ip, t, _) = plain_tcp(d)?;
        let port = |at: usize| Some(u16::from_be_bytes([*t.get(at)?, *t.get(at + 1)?]));
        Some((
            Endpoint::new(ip.src, port(0)?),
            Endpoint::new(ip.dst, port(2)?),
        ))
    }

    /// Decodes one frame. Returns the TCP segment it carries, if any; everything else is counted.
    pub fn decode<'s>(&'s mut self, pkt: &Packet<'s>, frame: u64) -> Option<Segment<'s>> {
        self.stats.frames += 1;
        self.icmp = None;
        self.bad_header = None;
        self.udp.last = None;
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

    /// Keeps every UDP datagram's payload for [`Decoder::take_udp`] (the application layer's
    /// DNS); off by default.
    pub fn keep_udp(&mut self, on: bool) {
        self.udp.on = on;
    }

    /// The UDP datagram the last decoded frame carried (it yielded no segment), with its
    /// payload, when [`Decoder::keep_udp`] is on. Tunnels (VXLAN, GTP-U, Teredo) are not
    /// datagrams: what they carry is decoded.
    pub fn take_udp(&mut self) -> Option<(Datagram, &[u8])> {
        let d = self.udp.last.take()?;
        Some((d, &self.udp.payload))
    }

    /// The ICMP or ICMPv6 error quoting a TCP segment that the last decoded frame carried (it
    /// yielded no segment), for the connection table to link to its connection.
    pub fn take_icmp_error(&mut self) -> Option<IcmpError> {
        self.icmp.take()
    }

    /// The TCP header with an impossible data offset that the last decoded frame carried (it
    /// yielded no segment), for the connection table to tie to its connection.
    pub fn take_bad_header(&mut self) -> Option<BadTcpHeader> {
        self.bad_header.take()
    }

    /// Keeps `body` (an ICMP message from `reporter`) when it is an error quoting TCP; returns
    /// whether it was.
    fn icmp_error(&mut self, v6: bool, body: &[u8], reporter: IpAddr, ctx: Ctx) -> bool {
        match icmp::parse(v6, body, reporter, ctx.ts, ctx.frame) {
            Some(e) => {
                self.stats.icmp_tcp_errors += 1;
                self.icmp = Some(e);
                true
            }
            None => false,
        }
    }

    /// Bytes of IP fragments held for reassembly (charged to `--max-memory`).
    pub fn memory_bytes(&self) -> usize {
        self.frags.memory_bytes()
    }

    /// Fragments taken so far (each IP fragment a frame carried, whole or cut).
    pub fn fragments_taken(&self) -> u64 {
        self.frags.stats.fragments
    }

    /// The frames of the fragments the segment just decoded from frame `frame` was reassembled
    /// from, `frame` last; empty when it was not reassembled.
    pub fn reassembled_from(&self, frame: u64) -> &[u64] {
        match self.frags.out_frames.last() {
            Some(&last) if last == frame => &self.frags.out_frames,
            _ => &[],
        }
    }

    /// The run ended: fragments still pending are counted incomplete.
    pub fn finish(&mut self) {
        self.frags.finish();
        self.stats.fragments = self.frags.stats;
    }

    /// One IP datagram (IPv4 or IPv6), `depth` encapsulations deep.
    pub(super) fn ip<'s>(&'s mut self, d: &'s [u8], ctx: Ctx, depth: u8) -> Option<Segment<'s>> {
        // The common case, TCP directly in IPv4 (no options, not fragmented) or IPv6 (no extension
        // headers), is read in place; everything else goes through etherparse's lax slicer.
        if let Some((ip, t, declared)) = plain_tcp(d) {
            return parse_tcp(
                &mut self.stats,
                &mut self.bad_header,
                t,
                declared,
                ip,
                ctx,
                self.verify_checksums,
            );
        }
        // Sliced here, not in a helper: returning the slice would copy it for every datagram.
        let ip = match LaxIpSlice::from_slice(d) {
            Ok((ip, None)) => ip,
            Ok((_, Some(_))) => {
                self.skip(SkipReason::Ipv6ExtensionError);
                return None;
            }
            Err(LaxHeaderSliceError::Len(_)) => {
                self.skip(SkipReason::IpTruncated);
                return None;
            }
            Err(LaxHeaderSliceError::Content(_)) => {
                self.skip(SkipReason::IpBadHeader);
                return None;
            }
        };
        let (src, dst) = transport_addresses(&ip);
        let payload = ip.payload();
        let proto = payload.ip_number.0;
        let data = payload.payload;
        let header_len = data.as_ptr() as usize - d.as_ptr() as usize;
        let header = self.ip_header(&ip, d.len())?;
        // The payload length the IP header declares: the captured bytes may be fewer (snaplen).
        let declared = header.total.saturating_sub(header_len);

        if let Some(frag) = header.frag {
            let key = FragKey {
                src,
                dst,
                id: frag.id,
                proto,
            };
            let meta = FragMeta {
                ttl: header.ttl,
                ip_id: header.ip_id,
                ecn: header.ecn,
                header_len: header_len as u32,
            };
            return self.reassemble(key, frag, meta, data, declared, ctx);
        }

        let ip = Ip {
            src,
            dst,
            ip_len: header.total as u32,
            ttl: header.ttl,
            ip_id: header.ip_id,
            ecn: header.ecn,
        };
        self.transport(proto, data, declared, ip, ctx, depth)
    }

    /// Reads length, TTL, identification, ECN and fragment position from the IP header;
    /// `captured` is the number of bytes of the datagram in the frame. `None` (counted) for an
    /// IPv4 total length shorter than its own header.
    #[inline]
    fn ip_header(&mut self, ip: &LaxIpSlice<'_>, captured: usize) -> Option<IpHeader> {
        match ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                let hlen = h.ihl() as usize * 4;
                let mut total = h.total_len() as usize;
                if total == 0 {
                    // TSO/BIG TCP: the stack left the length for the NIC to fill in.
                    self.stats.ip_len_zero += 1;
                    total = captured;
                } else if total < hlen {
                    self.skip(SkipReason::IpBadHeader);
                    return None;
                }
                let frag = h.is_fragmenting_payload().then(|| Fragment {
                    id: h.identification() as u32,
                    offset: h.fragments_offset().value() as u32 * 8,
                    more: h.more_fragments(),
                });
                Some(IpHeader {
                    total,
                    ttl: h.ttl(),
                    ip_id: Some(h.identification()),
                    ecn: h.ecn().value(),
                    frag,
                })
            }
            LaxIpSlice::Ipv6(v6) => {
                let h = v6.header();
                let pl = h.payload_length() as usize;
                // Payload length 0 marks a jumbogram (RFC 2675), as BIG TCP sends: take the
                // captured length.
                let total = if pl == 0 { captured } else { 40 + pl };
                let mut frag = None;
                if v6.extensions().is_fragmenting_payload() {
                    for ext in v6.extensions().clone() {
                        if let Ipv6ExtensionSlice::Fragment(f) = ext {
                            frag = Some(Fragment {
                                id: f.identification(),
                                offset: f.fragment_offset().value() as u32 * 8,
                                more: f.more_fragments(),
                            });
                        }
                    }
                }
                Some(IpHeader {
                    total,
                    ttl: h.hop_limit(),
                    ip_id: None,
                    ecn: h.traffic_class() & 0x3,
                    frag,
                })
            }
        }
    }

    /// Adds one fragment (`data`, of which `declared` bytes belong to it) to the table; when it
    /// completes a TCP datagram, decodes the reassembled segment.
    fn reassemble<'s>(
        &'s mut self,
        key: FragKey,
        frag: Fragment,
        meta: FragMeta,
        data: &[u8],
        declared: usize,
        ctx: Ctx,
    ) -> Option<Segment<'s>> {
        if data.len() < declared {
            // Cut by the snaplen: the missing bytes would leave a hole in the datagram.
            self.frags.stats.fragments += 1;
            self.frags.stats.truncated += 1;
            self.stats.fragments = self.frags.stats;
            self.skip(SkipReason::FragmentTruncated);
            return None;
        }
        let done = self.frags.insert(
            key,
            ctx.frame,
            ctx.ts,
            frag.offset,
            frag.more,
            &data[..declared],
            meta,
        );
        self.stats.fragments = self.frags.stats;
        let meta = done?;
        if key.proto != 6 {
            self.stats.ip_protocols[key.proto as usize] += 1;
            if key.proto == 17 {
                let out = &self.frags.out;
                self.udp.keep(out, (key.src, key.dst), ctx.ts, ctx.frame);
            }
            return None;
        }
        let total = self.frags.out.len();
        let ip_len = meta.header_len + total as u32;
        parse_tcp(
            &mut self.stats,
            &mut self.bad_header,
            &self.frags.out,
            total,
            Ip {
                src: key.src,
                dst: key.dst,
                ip_len,
                ttl: meta.ttl,
                ip_id: meta.ip_id,
                ecn: meta.ecn,
            },
            ctx,
            self.verify_checksums,
        )
    }

    /// The payload of an unfragmented datagram: TCP is decoded, tunnels are looked into, anything
    /// else is counted by protocol.
    #[inline]
    fn transport<'s>(
        &'s mut self,
        proto: u8,
        data: &'s [u8],
        declared: usize,
        ip: Ip,
        ctx: Ctx,
        depth: u8,
    ) -> Option<Segment<'s>> {
        match proto {
            6 => parse_tcp(
                &mut self.stats,
                &mut self.bad_header,
                data,
                declared,
                ip,
                ctx,
                self.verify_checksums,
            ),
            4 | 41 if depth < MAX_TUNNEL_DEPTH => {
                self.ip(data, ctx.inside(TunnelKind::IpInIp), depth + 1)
            }
            47 if depth < MAX_TUNNEL_DEPTH => self.gre(data, ctx, depth),
            17 if depth < MAX_TUNNEL_DEPTH => self.udp(data, (ip.src, ip.dst), ctx, depth),
            // An ICMP error about a TCP segment is kept for the connection table (and counted
            // apart from other ICMP); any other ICMP is counted by protocol below.
            1 | 58
                if self.icmp_error(proto == 58, &data[..declared.min(data.len())], ip.src, ctx) =>
            {
                None
            }
            _ => {
                self.stats.ip_protocols[proto as usize] += 1;
                None
            }
        }
    }
}

/// The source and destination TCP's pseudo-header uses: the IP header's, unless Mobile IPv6
/// headers name others.
#[inline]
fn transport_addresses(ip: &LaxIpSlice<'_>) -> (IpAddr, IpAddr) {
    let mut src = ip.source_addr();
    let mut dst = ip.destination_addr();
    if let LaxIpSlice::Ipv6(v6) = ip {
        mobile_ipv6_addresses(v6.extensions(), &mut src, &mut dst);
    }
    (src, dst)
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
            let pkt = Packet { ts: Timestamp::EPOCH, link_type: LinkType(LINK_TYPES[lt]), data: &data, orig_len: data.len() as u32 };
            let got = d.decode(&pkt, 1).is_some();
            let s = &d.stats;
            let accounted = s.tcp_segments + s.skipped_total() + s.non_tcp_total()
                + s.fragments.fragments;
            prop_assert!(got || accounted >= 1 || s.fragments.fragments > 0 || s.frames == 1);
        }

        /// A TCP header whose data offset cannot be right yields no segment but is kept, with
        /// its ports, for the table; every other frame leaves nothing kept.
        #[test]
        fn impossible_data_offsets_are_kept_for_the_table(offset in 0u8..16, extra in 0usize..8) {
            let mut data = vec![0u8; 40 + extra];
            data[0] = 0x45;
            data[2..4].copy_from_slice(&((40 + extra) as u16).to_be_bytes());
            data[8] = 64;
            data[9] = 6;
            data[20..22].copy_from_slice(&40001u16.to_be_bytes());
            data[22..24].copy_from_slice(&8080u16.to_be_bytes());
            data[32] = offset << 4;
            data[33] = 0x10;
            let mut d = Decoder::new();
            let pkt = Packet { ts: Timestamp::EPOCH, link_type: LinkType::RAW, data: &data, orig_len: data.len() as u32 };
            let seg = d.decode(&pkt, 7).map(|s| s.data_offset);
            let bad = d.take_bad_header();
            // The TCP part is 20 + extra bytes: offsets 5 up to that many words are fine.
            let fits = offset >= 5 && (offset as usize * 4) <= 20 + extra;
            prop_assert_eq!(seg, fits.then_some(offset));
            prop_assert_eq!(bad.is_some(), !fits);
            if let Some(b) = bad {
                prop_assert_eq!((b.frame, b.sport, b.dport, b.data_offset), (7, 40001, 8080, offset));
                prop_assert_eq!(b.reason(), if offset < 5 { "below_minimum" } else { "beyond_segment" });
                prop_assert_eq!(d.stats.skipped[SkipReason::TcpBadHeader as usize], 1);
            }
        }

        /// IPv4+TCP with random header bytes after a valid version nibble.
        #[test]
        fn arbitrary_ip_headers_never_panic(mut data in proptest::collection::vec(any::<u8>(), 20..120)) {
            data[0] = 0x45;
            data[9] = 6;
            let mut d = Decoder::new();
            let pkt = Packet { ts: Timestamp::EPOCH, link_type: LinkType::RAW, data: &data, orig_len: 1500 };
            let _ = d.decode(&pkt, 1);
        }
    }
}

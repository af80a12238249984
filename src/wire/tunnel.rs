//! Encapsulations the decoder looks through: GRE (with ERSPAN type II), VXLAN, GTP-U and Teredo
//! over UDP, and the Mobile IPv6 headers that change which addresses TCP really uses. IP in IP is
//! a plain recursion in [`Decoder`]'s IP step.

use std::net::IpAddr;

use etherparse::Ipv6ExtensionSlice;

use super::decode::{Ctx, Decoder};
use super::link::{self, LinkInfo, Net};
use super::{Segment, SkipReason};

/// How many encapsulations deep the decoder looks; crafted nesting beyond it is counted as the
/// outer protocol instead of recursing without bound.
pub(super) const MAX_TUNNEL_DEPTH: u8 = 4;

/// Encapsulations tcpaudit looks through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

crate::base::pack::pack_enum!(TunnelKind {
    IpInIp,
    Gre,
    Vxlan,
    GtpU,
    Teredo
});

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

impl Decoder {
    /// GRE version 0 (RFC 2784/2890) and ERSPAN type II.
    pub(super) fn gre<'s>(&'s mut self, d: &'s [u8], ctx: Ctx, depth: u8) -> Option<Segment<'s>> {
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
        // Checksum (with reserved), key and sequence number each add 4 bytes (RFC 2784 §2.1,
        // RFC 2890 §2).
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
                let mut c = ctx.inside(TunnelKind::Gre);
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
    pub(super) fn udp<'s>(
        &'s mut self,
        d: &'s [u8],
        addrs: (IpAddr, IpAddr),
        ctx: Ctx,
        depth: u8,
    ) -> Option<Segment<'s>> {
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
                    let mut c = ctx.inside(TunnelKind::Vxlan);
                    c.vlan = c.vlan.or(info.vlan);
                    return self.ip(ip, c, depth + 1);
                }
            }
        } else if is(2152) {
            match gtpu_payload(body) {
                Some(ip) if matches!(ip.first().map(|b| b >> 4), Some(4 | 6)) => {
                    return self.ip(ip, ctx.inside(TunnelKind::GtpU), depth + 1);
                }
                Some(_) => {}
                None => {
                    self.skip(SkipReason::TunnelMalformed);
                    return None;
                }
            }
        } else if is(3544) && body.first().is_some_and(|b| b >> 4 == 6) && body.len() >= 40 {
            return self.ip(body, ctx.inside(TunnelKind::Teredo), depth + 1);
        }
        self.stats.ip_protocols[17] += 1;
        self.udp.keep(d, addrs, ctx.ts, ctx.frame);
        None
    }
}

/// The addresses the transport layer really uses (RFC 8200 §8.1 pseudo-header): the Home Address
/// option of a Destination Options header replaces the source (RFC 6275 §6.3), and a type 0
/// routing header with segments left names the final destination (as Wireshark and Zeek do).
pub(super) fn mobile_ipv6_addresses(
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

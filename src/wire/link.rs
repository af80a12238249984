//! Link layers and encapsulations peeled by hand down to the IP header: Ethernet II with VLAN,
//! QinQ, MPLS, PPPoE, VN-Tag and FabricPath; Linux SLL and SLL2; BSD NULL/LOOP; raw IP; PPP;
//! NFLOG; 802.11 (with radiotap) data frames.

use crate::wire::LinkType;

/// Where the network layer starts, or why it cannot be reached.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Net<'a> {
    /// An IPv4 or IPv6 datagram (version nibble decides).
    Ip(&'a [u8]),
    /// A non-IP EtherType (ARP, LLDP, ...).
    OtherEther(u16),
    /// A non-IP payload of another link layer (PPP control, 802.11 management, ...).
    Other(&'static str),
    /// The frame is shorter than its link-layer header.
    Truncated,
    /// The link type is not decoded.
    Unsupported,
}

/// Per-frame link facts worth keeping.
#[derive(Debug, Default)]
pub(crate) struct LinkInfo {
    /// Outermost VLAN id.
    pub vlan: Option<u16>,
}

const MAX_DEPTH: usize = 8;

/// Peels the link layer of `link_type` from `d`.
#[inline]
pub(crate) fn network<'a>(link_type: LinkType, d: &'a [u8], info: &mut LinkInfo) -> Net<'a> {
    // Nearly every frame of most captures, checked inline: untagged Ethernet carrying IPv4 or
    // IPv6 (what `ethernet` and `ether_type` find for it too).
    if link_type == LinkType::ETHERNET
        && let Some(h) = d.get(..14)
        && matches!([h[12], h[13]], [0x08, 0x00] | [0x86, 0xdd])
    {
        return Net::Ip(&d[14..]);
    }
    network_any(link_type, d, info)
}

/// [`network`] for any link type and any frame.
fn network_any<'a>(link_type: LinkType, d: &'a [u8], info: &mut LinkInfo) -> Net<'a> {
    match link_type {
        LinkType::ETHERNET => ethernet(d, info, 0),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            Net::Ip(d)
        }
        LinkType::NULL | LinkType::LOOP => {
            let Some(h) = d.get(..4) else {
                return Net::Truncated;
            };
            // NULL stores the family in the capturing host's byte order; accept either.
            let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            let fam = if le < 256 { le } else { be };
            match fam {
                // AF_INET; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin), 10 (Linux).
                2 | 24 | 28 | 30 | 10 => Net::Ip(&d[4..]),
                _ => Net::Other("loopback non-IP"),
            }
        }
        LinkType::LINUX_SLL => {
            let Some(h) = d.get(..16) else {
                return Net::Truncated;
            };
            ether_type(u16::from_be_bytes([h[14], h[15]]), &d[16..], info, 0)
        }
        LinkType::LINUX_SLL2 => {
            let Some(h) = d.get(..20) else {
                return Net::Truncated;
            };
            ether_type(u16::from_be_bytes([h[0], h[1]]), &d[20..], info, 0)
        }
        LinkType::PPP | LinkType::PPP_HDLC => ppp(d),
        LinkType::PPP_ETHER => pppoe_session(d),
        LinkType::NFLOG => nflog(d),
        LinkType::IEEE802_11_RADIOTAP => {
            let Some(h) = d.get(..4) else {
                return Net::Truncated;
            };
            let len = u16::from_le_bytes([h[2], h[3]]) as usize;
            match d.get(len..) {
                Some(rest) => ieee802_11(rest, info),
                None => Net::Truncated,
            }
        }
        LinkType::IEEE802_11 => ieee802_11(d, info),
        LinkType::IPOIB => {
            // 20-byte destination and source hardware addresses, 2-byte protocol, 2 reserved.
            let Some(h) = d.get(..44) else {
                return Net::Truncated;
            };
            ether_type(u16::from_be_bytes([h[40], h[41]]), &d[44..], info, 0)
        }
        _ => Net::Unsupported,
    }
}

/// An Ethernet II (or 802.3 + SNAP) frame.
pub(crate) fn ethernet<'a>(d: &'a [u8], info: &mut LinkInfo, depth: usize) -> Net<'a> {
    let Some(h) = d.get(..14) else {
        return Net::Truncated;
    };
    let et = u16::from_be_bytes([h[12], h[13]]);
    if et < 0x0600 {
        return llc(&d[14..], info, depth);
    }
    ether_type(et, &d[14..], info, depth)
}

/// 802.2 LLC: only SNAP with an EtherType leads further.
fn llc<'a>(d: &'a [u8], info: &mut LinkInfo, depth: usize) -> Net<'a> {
    match d.get(..8) {
        Some([0xaa, 0xaa, 0x03, _, _, _, a, b]) => {
            ether_type(u16::from_be_bytes([*a, *b]), &d[8..], info, depth)
        }
        Some(_) => Net::Other("802.2 LLC"),
        None => Net::Truncated,
    }
}

/// Follows an EtherType through tags and encapsulations to IP.
pub(crate) fn ether_type<'a>(
    mut et: u16,
    mut d: &'a [u8],
    info: &mut LinkInfo,
    depth: usize,
) -> Net<'a> {
    if depth > MAX_DEPTH {
        return Net::Other("encapsulation too deep");
    }
    for _ in 0..MAX_DEPTH {
        match et {
            0x0800 | 0x86dd => return Net::Ip(d),
            // 802.1Q, 802.1ad (QinQ) and the pre-standard 0x9100/0x9200 double tags.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                let Some(h) = d.get(..4) else {
                    return Net::Truncated;
                };
                if info.vlan.is_none() {
                    info.vlan = Some(u16::from_be_bytes([h[0], h[1]]) & 0x0fff);
                }
                et = u16::from_be_bytes([h[2], h[3]]);
                d = &d[4..];
            }
            // VN-Tag: 4 bytes of tag then the EtherType.
            0x8926 => {
                let Some(h) = d.get(..6) else {
                    return Net::Truncated;
                };
                et = u16::from_be_bytes([h[4], h[5]]);
                d = &d[6..];
            }
            // Cisco FabricPath: FTag/TTL then the whole original Ethernet frame.
            0x8903 => {
                let Some(rest) = d.get(2..) else {
                    return Net::Truncated;
                };
                return ethernet(rest, info, depth + 1);
            }
            0x8847 | 0x8848 => return mpls(d, info, depth),
            0x8864 => return pppoe_session(d),
            // Transparent Ethernet bridging (GRE, NVGRE).
            0x6558 => return ethernet(d, info, depth + 1),
            _ => return Net::OtherEther(et),
        }
    }
    Net::Other("too many VLAN tags")
}

/// An MPLS label stack, then IP (by version nibble) or an Ethernet pseudowire.
fn mpls<'a>(mut d: &'a [u8], info: &mut LinkInfo, depth: usize) -> Net<'a> {
    for _ in 0..16 {
        let Some(h) = d.get(..4) else {
            return Net::Truncated;
        };
        let bottom = h[2] & 0x01 != 0;
        d = &d[4..];
        if bottom {
            return match d.first().map(|b| b >> 4) {
                Some(4 | 6) => Net::Ip(d),
                // Pseudowire control word (first nibble 0), then Ethernet.
                Some(0) => match d.get(4..) {
                    Some(rest) => ethernet(rest, info, depth + 1),
                    None => Net::Truncated,
                },
                Some(_) => Net::Other("MPLS payload"),
                None => Net::Truncated,
            };
        }
    }
    Net::Other("MPLS label stack too deep")
}

/// A PPP frame: optional HDLC address/control bytes, then a 1- or 2-byte protocol.
fn ppp(d: &[u8]) -> Net<'_> {
    let d = match d {
        [0xff, 0x03, rest @ ..] => rest,
        _ => d,
    };
    let (proto, rest) = match d {
        [a, rest @ ..] if a & 1 == 1 => (*a as u16, rest),
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return Net::Truncated,
    };
    match proto {
        0x0021 | 0x0057 => Net::Ip(rest),
        _ => Net::Other("PPP control"),
    }
}

/// A PPPoE session frame: 6-byte PPPoE header, then PPP.
fn pppoe_session(d: &[u8]) -> Net<'_> {
    match d.get(6..) {
        Some(rest) => ppp(rest),
        None => Net::Truncated,
    }
}

/// Linux NFLOG: 4-byte header then TLVs (host byte order); TLV type 9 carries the packet.
fn nflog(d: &[u8]) -> Net<'_> {
    let Some(mut rest) = d.get(4..) else {
        return Net::Truncated;
    };
    while rest.len() >= 4 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let typ = u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 || len > rest.len() {
            return Net::Truncated;
        }
        if typ == 9 {
            return Net::Ip(&rest[4..len]);
        }
        let padded = (len + 3) & !3;
        rest = rest.get(padded..).unwrap_or(&[]);
    }
    Net::Other("NFLOG without payload")
}

/// An 802.11 frame: data frames with an LLC/SNAP header lead to an EtherType.
fn ieee802_11<'a>(d: &'a [u8], info: &mut LinkInfo) -> Net<'a> {
    let Some(fc) = d.get(..2) else {
        return Net::Truncated;
    };
    let ftype = (fc[0] >> 2) & 0x3;
    let subtype = fc[0] >> 4;
    if ftype != 2 {
        return Net::Other("802.11 management/control");
    }
    if subtype & 0x4 != 0 {
        return Net::Other("802.11 null data");
    }
    if fc[1] & 0x40 != 0 {
        return Net::Other("802.11 protected");
    }
    let mut hdr = 24;
    if fc[1] & 0x03 == 0x03 {
        hdr += 6; // four-address (WDS) frame
    }
    if subtype & 0x8 != 0 {
        hdr += 2; // QoS control
        if fc[1] & 0x80 != 0 {
            hdr += 4; // HT control
        }
    }
    match d.get(hdr..) {
        Some(rest) => llc(rest, info, 1),
        None => Net::Truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_qinq_mpls_pppoe() {
        let mut info = LinkInfo::default();
        let ip = [0x45u8, 0, 0, 20];
        // QinQ: 88a8 tag 100, 8100 tag 200, IPv4
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 200, 0x08, 0x00]);
        f.extend_from_slice(&ip);
        assert_eq!(network(LinkType::ETHERNET, &f, &mut info), Net::Ip(&ip));
        assert_eq!(info.vlan, Some(100));
        // MPLS two labels then IPv4
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x47, 0, 0, 0x10, 64, 0, 0, 0x21, 64]);
        f.extend_from_slice(&ip);
        assert_eq!(
            network(LinkType::ETHERNET, &f, &mut LinkInfo::default()),
            Net::Ip(&ip)
        );
        // PPPoE session, PPP IPv4
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 22, 0x00, 0x21]);
        f.extend_from_slice(&ip);
        assert_eq!(
            network(LinkType::ETHERNET, &f, &mut LinkInfo::default()),
            Net::Ip(&ip)
        );
    }

    #[test]
    fn short_frames_are_truncated_not_panics() {
        for lt in [0, 1, 9, 51, 108, 113, 127, 239, 276, 105] {
            for n in 0..24 {
                let d = vec![0x81u8; n];
                let _ = network(LinkType(lt), &d, &mut LinkInfo::default());
            }
        }
    }
}

//! Link-layer header types (the `LINKTYPE_*` registry of tcpdump.org) and their names.

use std::fmt;

/// A link-layer header type as stored in pcap and pcapng files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (with optional VLAN tags, MPLS, PPPoE).
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP in HDLC-like framing (RFC 1662) or bare PPP protocol field.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (DLT_RAW on most systems).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (DLT_RAW on OpenBSD).
    pub const RAW_14: LinkType = LinkType(14);
    /// PPP in HDLC-like framing.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPPoE session frames without the Ethernet header.
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// Raw IPv4 or IPv6 (LINKTYPE_RAW).
    pub const RAW: LinkType = LinkType(101);
    /// Bare 802.11 frames, without a radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// 802.11 with radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Linux netfilter NFLOG.
    pub const NFLOG: LinkType = LinkType(239);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// IP over InfiniBand (RFC 4391) with a 44-byte pseudo-header.
    pub const IPOIB: LinkType = LinkType(242);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name without the `LINKTYPE_` prefix, lower-cased (`ethernet`, `linux_sll2`).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "null",
            1 => "ethernet",
            3 => "ax25",
            6 => "ieee802_5",
            7 => "arcnet_bsd",
            8 => "slip",
            9 => "ppp",
            10 => "fddi",
            12 | 14 | 101 => "raw",
            50 => "ppp_hdlc",
            51 => "ppp_ether",
            104 => "c_hdlc",
            105 => "ieee802_11",
            107 => "frelay",
            108 => "loop",
            113 => "linux_sll",
            114 => "ltalk",
            117 => "pflog",
            119 => "ieee802_11_prism",
            122 => "ip_over_fc",
            123 => "sunatm",
            127 => "ieee802_11_radiotap",
            129 => "arcnet_linux",
            138 => "apple_ip_over_ieee1394",
            139 => "mtp2_with_phdr",
            143 => "docsis",
            144 => "linux_irda",
            147..=162 => "user",
            163 => "ieee802_11_avs",
            165 => "bacnet_ms_tp",
            166 => "ppp_pppd",
            169 => "gprs_llc",
            177 => "linux_lapd",
            187 => "bluetooth_hci_h4",
            189 => "usb_linux",
            192 => "ppi",
            195 => "ieee802_15_4_withfcs",
            197 => "erf",
            201 => "bluetooth_hci_h4_with_phdr",
            209 => "ipmb_linux",
            215 => "ieee802_15_4_nonask_phy",
            220 => "usb_linux_mmapped",
            224 => "fc_2",
            227 => "can_socketcan",
            228 => "ipv4",
            229 => "ipv6",
            231 => "dbus",
            235 => "dvb_ci",
            239 => "nflog",
            240 => "netanalyzer",
            242 => "ipoib",
            249 => "usbpcap",
            251 => "bluetooth_le_ll",
            252 => "wireshark_upper_pdu",
            253 => "netlink",
            254 => "bluetooth_linux_monitor",
            264 => "ieee802_15_4_tap",
            274 => "nordic_ble",
            276 => "linux_sll2",
            _ => "unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

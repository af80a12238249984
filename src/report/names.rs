//! Display names of the non-TCP traffic the decoder counted, by IP protocol number or EtherType,
//! as the summary shows them (JSON `non_tcp` keys and the table's "non-TCP" rows).

use std::collections::BTreeMap;

use crate::wire::DecodeStats;

/// Non-TCP frames by protocol name.
pub fn non_tcp(d: &DecodeStats) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (p, &n) in d.ip_protocols.iter().enumerate() {
        if n > 0 {
            *m.entry(ip_proto_name(p as u8)).or_insert(0) += n;
        }
    }
    for (&et, &n) in &d.ether_types {
        *m.entry(ether_type_name(et)).or_insert(0) += n;
    }
    for (&what, &n) in &d.other {
        *m.entry(what.to_string()).or_insert(0) += n;
    }
    m
}

/// Name of an IP protocol number for the non-TCP summary.
pub fn ip_proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        2 => "igmp".into(),
        4 => "ipip".into(),
        17 => "udp".into(),
        41 => "ipv6_in_ip".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        58 => "icmpv6".into(),
        59 => "ipv6_no_next".into(),
        89 => "ospf".into(),
        103 => "pim".into(),
        112 => "vrrp".into(),
        132 => "sctp".into(),
        _ => format!("ip_proto_{p}"),
    }
}

/// Name of a non-IP EtherType for the non-TCP summary.
pub fn ether_type_name(et: u16) -> String {
    match et {
        0x0806 => "arp".into(),
        0x8035 => "rarp".into(),
        0x88cc => "lldp".into(),
        0x8863 => "pppoe_discovery".into(),
        0x888e => "eapol".into(),
        0x8809 => "slow_protocols".into(),
        0x9000 => "loopback".into(),
        0x88e5 => "macsec".into(),
        0x8899 => "realtek".into(),
        0x88f7 => "ptp".into(),
        0x8906 => "fcoe".into(),
        _ => format!("ethertype_0x{et:04x}"),
    }
}

//! The Community ID of a connection (version 1 of corelight/community-id-spec): one string
//! that Zeek, Suricata, Arkime, Wireshark and Elastic compute alike for the same five-tuple, so
//! that records of all of them join on it.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use crate::wire::Endpoint;

/// IP protocol number of TCP.
pub const TCP: u8 = 6;

/// The Community ID of the flow between `a` and `b` over IP protocol `proto`, with `seed`
/// (0 unless the sites comparing records agree on another): `1:` and the base64 SHA-1 of the
/// seed, both addresses, the protocol, a zero byte and both ports, in network byte order, the
/// smaller address (then port) first.
pub fn community_id(a: Endpoint, b: Endpoint, proto: u8, seed: u16) -> String {
    community_id_text(a, b, proto, seed, &mut [0; COMMUNITY_ID_LEN]).to_owned()
}

/// Length of a Community ID: `1:` and the base64 of a 20-byte SHA-1.
pub const COMMUNITY_ID_LEN: usize = 30;

/// [`community_id`], written into `buf`: the JSON lines write one per record, and need no
/// `String` for it.
pub fn community_id_text(
    a: Endpoint,
    b: Endpoint,
    proto: u8,
    seed: u16,
    buf: &mut [u8; COMMUNITY_ID_LEN],
) -> &str {
    // Network byte order: IPv4 in the first 4 bytes, IPv6 in all 16.
    let bytes = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            (b, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    };
    let ((a_addr, a_len), (b_addr, b_len)) = (bytes(a.addr), bytes(b.addr));
    let (ka, kb) = ((&a_addr[..a_len], a.port), (&b_addr[..b_len], b.port));
    let ((lo_addr, lo_port), (hi_addr, hi_port)) = if ka <= kb { (ka, kb) } else { (kb, ka) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(lo_addr);
    h.update(hi_addr);
    h.update([proto, 0]);
    h.update(lo_port.to_be_bytes());
    h.update(hi_port.to_be_bytes());
    buf[..2].copy_from_slice(b"1:");
    // 20 bytes make 28 base64 characters, which is the room left.
    let n = STANDARD
        .encode_slice(h.finalize(), &mut buf[2..])
        .unwrap_or_default();
    // Base64 is ASCII.
    std::str::from_utf8(&buf[..2 + n]).unwrap_or_default()
}

/// Record ids [`CommunityIds`] remembers at once (a power of two).
const REMEMBERED: usize = 4096;

/// The TCP Community IDs of recent connection records, by record id: a connection's anomalies
/// and its own record share one, which is worth computing once (a SHA-1 each). A record id
/// names one four-tuple for the whole run, and the ID does not depend on which end is the
/// originator, so a remembered ID is never stale.
pub struct CommunityIds {
    seed: u16,
    /// Slot `id % REMEMBERED`: the record id it holds (0: none; ids start at 1) and its ID.
    slots: Box<[(u64, [u8; COMMUNITY_ID_LEN])]>,
}

impl CommunityIds {
    /// An empty memory of IDs computed with `seed`.
    pub fn new(seed: u16) -> Self {
        CommunityIds {
            seed,
            slots: vec![(0, [0; COMMUNITY_ID_LEN]); REMEMBERED].into_boxed_slice(),
        }
    }

    /// The Community ID of record `id`, the connection between `a` and `b`.
    #[inline]
    pub fn get(&mut self, id: u64, a: Endpoint, b: Endpoint) -> &str {
        let slot = &mut self.slots[id as usize & (REMEMBERED - 1)];
        if slot.0 != id || id == 0 {
            let n = community_id_text(a, b, TCP, self.seed, &mut slot.1).len();
            // Always the whole buffer; a shorter text (impossible) is not remembered.
            slot.0 = if n == COMMUNITY_ID_LEN { id } else { 0 };
        }
        std::str::from_utf8(&slot.1).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(addr: &str, port: u16) -> Endpoint {
        Endpoint::new(addr.parse().unwrap(), port)
    }

    /// The TCP rows of the specification's reference data (baseline/baseline_deflt.json and
    /// baseline_seed1.json), both directions.
    #[test]
    fn remembered_ids_are_the_ids() {
        let (a, b, c) = (
            ep("10.0.0.1", 40000),
            ep("10.0.0.2", 80),
            ep("10.0.0.3", 443),
        );
        let mut ids = CommunityIds::new(7);
        for _ in 0..2 {
            assert_eq!(ids.get(1, a, b), community_id(a, b, TCP, 7));
            // Either end first: the same ID.
            assert_eq!(ids.get(1, b, a), community_id(a, b, TCP, 7));
            // Another record in the same slot takes it over.
            let other = 1 + REMEMBERED as u64;
            assert_eq!(ids.get(other, a, c), community_id(a, c, TCP, 7));
        }
    }

    #[test]
    fn matches_the_specification_baseline() {
        let cases = [
            (
                ep("128.232.110.120", 34855),
                ep("66.35.250.204", 80),
                0,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                ep("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943),
                ep("2607:f8b0:400c:c03::1a", 25),
                0,
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                ep("128.232.110.120", 34855),
                ep("66.35.250.204", 80),
                1,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                ep("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943),
                ep("2607:f8b0:400c:c03::1a", 25),
                1,
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
        ];
        for (a, b, seed, want) in cases {
            assert_eq!(community_id(a, b, TCP, seed), want, "{a} {b}");
            assert_eq!(community_id(b, a, TCP, seed), want, "{b} {a}");
        }
        // UDP, and equal addresses where the ports decide (the protocol is part of the hash).
        assert_eq!(
            community_id(ep("192.168.1.52", 54585), ep("8.8.8.8", 53), 17, 0),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
        );
        assert_eq!(
            community_id(ep("192.168.170.8", 7), ep("192.168.170.56", 7), 132, 0),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="
        );
    }
}

//! The decoder's counters: what it saw, and why frames yielded no TCP segment.

use std::collections::BTreeMap;

use super::frag::FragStats;
use super::tunnel::TunnelKind;

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
    /// ICMP and ICMPv6 errors quoting a TCP segment (not in `ip_protocols`: they are about TCP
    /// and go to the connection table).
    pub icmp_tcp_errors: u64,
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
            icmp_tcp_errors: 0,
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

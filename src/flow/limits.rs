//! What bounds the connection table (caps and per-phase idle timeouts) and what it counts.

use crate::tcp::reassembly::OverlapPolicy;
use crate::time::Duration;

/// What one tracked connection costs, as charged to `--max-memory`: its state (boxed) and
/// what comes with it: the allocator's header, its slab and map slots (with its 16 bytes in the
/// slots' array of timers) and its record's small vectors. Measured: 100,000 connections of an
/// ACK and its answer each, tracked at once, took
/// 2,538 bytes apiece in peak RSS beyond the run's base with the table output (2,885 with JSON,
/// which keeps Zeek's view: [`ZEEK_VIEW_BYTES`]), a 24-byte timer entry included
/// (`benches/tuples-gen.py --answered`, README "Memory"); timer entries are charged as they are
/// held instead (a connection may leave stale ones behind until they are dropped). A connection
/// held as the one segment it has shown ([`FlowConfig::compact_from`]) takes about 310 bytes but
/// is charged the same, so that what the bound decides does not depend on when connections are
/// held that way. The parts few connections use ([`RARE_BYTES`]) are charged as if each were
/// allocated, so that the bound holds whatever the traffic.
pub const CONNECTION_BYTES: usize = std::mem::size_of::<super::Connection>() + RARE_BYTES + 312;

/// The parts of a connection allocated only when first set, each with the allocator's header:
/// per direction, [`crate::tcp::HalfRare`] (retransmissions, holes, ICMP errors, keep-alives),
/// [`crate::tcp::signals::RareSignals`] (URG, ECN, bad data offsets) and
/// [`crate::tcp::throughput::WindowLimits`] (the peer's window holding the side back).
pub const RARE_BYTES: usize = 2
    * (std::mem::size_of::<crate::tcp::HalfRare>()
        + std::mem::size_of::<crate::tcp::signals::RareSignals>()
        + std::mem::size_of::<crate::tcp::throughput::WindowLimits>()
        + 3 * 16);

/// What Zeek's view adds to a connection when the run keeps it (boxed apart, with the
/// allocator's header).
pub const ZEEK_VIEW_BYTES: usize = std::mem::size_of::<crate::compat::ZeekConn>() + 16;

/// Limits and timeouts of the table. Defaults are documented in README and `tcpaudit --help`.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Idle time after which an established connection (or one seen midstream) is ended with
    /// reason `timeout`. Default 7,500 s: longer than Linux's keep-alive time
    /// (tcp_keepalive_time = 7,200 s), so a connection kept alive by probes stays one record.
    pub idle_timeout: Duration,
    /// Idle time after which an unanswered attempt is ended. Default 130 s, past Linux's last SYN
    /// retransmission (tcp_syn_retries 6: 1+2+4+8+16+32+64 s).
    pub attempt_timeout: Duration,
    /// Idle time after which an answered handshake that never completed (SYN-RECEIVED) is ended.
    /// Default 75 s, past Linux's last SYN-ACK retransmission (tcp_synack_retries 5: 63 s).
    pub handshake_timeout: Duration,
    /// Idle time after which a half-closed connection (one FIN seen: FIN-WAIT, CLOSE-WAIT) is
    /// ended. Default 10 minutes.
    pub half_closed_timeout: Duration,
    /// Connections tracked at once; beyond it the connection due soonest is evicted.
    pub max_connections: usize,
    /// Bytes for everything the analysis holds (connections at
    /// [`FlowConfig::connection_bytes`] each, reassembly, fragments, listener and application
    /// state); beyond it the connections due soonest are evicted. Default 1 GiB.
    pub max_memory: usize,
    /// Which bytes win when a retransmission disagrees with bytes already seen.
    pub overlap_policy: OverlapPolicy,
    /// Bytes held per direction (out of order, or delivered and not yet acknowledged), each
    /// separate range held out of order counting [`crate::tcp::reassembly::RANGE_COST`] more.
    pub max_stream_buffer: usize,
    /// Bytes held over all streams.
    pub max_reassembly_memory: usize,
    /// Keep stream bytes: compare retransmitted bytes (`overlap_conflict`) and feed the
    /// stream sink. Without it only ranges are tracked.
    pub keep_bytes: bool,
    /// Keep every segment's Wireshark classes on its connection record (for comparisons).
    pub segment_events: bool,
    /// Keep every connection's state changes on its record (stories, ladder diagrams); they
    /// are announced as events either way.
    pub keep_transitions: bool,
    /// Emulate Zeek's view of every connection (`conn_state` and `history`, filled into
    /// [`crate::event::ConnRecord::zeek`] when the record leaves the table). Outputs that do not
    /// show it (the terminal tables) turn it off: about 7% of the instructions per frame.
    pub zeek_view: bool,
    /// Hand out every segment with its connection ([`crate::event::Event::Segment`]), for
    /// outputs that draw connections (ladders, the HTML report).
    pub segment_stream: bool,
    /// Half-open attempts tracked at once from which an attempt that has shown only its SYN is
    /// kept as that SYN (about 310 bytes with its slot and timer) rather than in full (about
    /// 2.5 KiB), and rebuilt from it when it is next needed (about 1 µs), as it is meanwhile for
    /// a listener under a `syn_flood`, and once any attempt has been aggregated beyond a cap
    /// (half-open or listeners). Default 8,192: a flood to many listeners reaches it,
    /// ordinary traffic does not (a capture of 235,000 generated connections, whose unanswered
    /// attempts wait out their 130 s, holds more than 1,024 at times). 0 keeps every such
    /// attempt compact.
    pub compact_syns_from: u32,
    /// Whether connections that have shown one segment are held as it at all (the thresholds
    /// here and under a `syn_flood`); off, every connection is held in full.
    pub compact: bool,
    /// Connections tracked at once from which a connection opened by a segment other than a
    /// SYN (an ACK, a RST, a SYN-ACK), that has shown nothing else, is kept as that segment in
    /// the same way. Default 16,384: scans and backscatter open a record per probe, while
    /// ordinary connections, past the start of a capture, open with a SYN. 0 keeps every such
    /// connection compact.
    pub compact_from: u32,
    /// Connections tracked at once from which a connection whose ends have both closed, and
    /// whose streams hold no bytes, is kept encoded a second after it closed (about 1.1 KB
    /// against some 3-4 KiB in full) while it waits out 2*MSL, and decoded when it is next
    /// needed (a late segment, a new incarnation, its timer). Closed connections are also
    /// frozen, those that closed first first, when a connection would not fit under
    /// `max_memory`, before any is evicted. Default `u32::MAX`: only then, as freezing and
    /// thawing one costs about 5 µs (as much as some 10 of its segments). 0 freezes every
    /// closed connection once settled.
    pub freeze_from: u32,
}

impl FlowConfig {
    /// What one tracked connection costs under this configuration, as charged to
    /// `--max-memory` ([`CONNECTION_BYTES`], and [`ZEEK_VIEW_BYTES`] when it keeps Zeek's view).
    pub const fn connection_bytes(&self) -> usize {
        CONNECTION_BYTES + if self.zeek_view { ZEEK_VIEW_BYTES } else { 0 }
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout: Duration::from_secs(7500),
            attempt_timeout: Duration::from_secs(130),
            handshake_timeout: Duration::from_secs(75),
            half_closed_timeout: Duration::from_secs(600),
            max_connections: 1_000_000,
            max_memory: 1 << 30,
            overlap_policy: OverlapPolicy::First,
            max_stream_buffer: 1 << 20,
            max_reassembly_memory: 256 << 20,
            keep_bytes: false,
            segment_events: false,
            keep_transitions: false,
            zeek_view: true,
            segment_stream: false,
            compact_syns_from: 8192,
            compact: true,
            compact_from: 16_384,
            freeze_from: u32::MAX,
        }
    }
}

/// Table counters for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowStats {
    /// Connection records opened.
    pub connections: u64,
    /// Connections kept as the segment that opened them for a time (see
    /// [`FlowConfig::compact_syns_from`] and [`FlowConfig::compact_from`]).
    pub lone_kept: u64,
    /// Times a closed connection was encoded while it waited out its end (see
    /// [`FlowConfig::freeze_from`]).
    pub frozen: u64,
    /// Times a frozen connection was decoded while tracked, for a segment, an ICMP error or a
    /// new incarnation (not for its end); set when the table finishes.
    pub thawed: u64,
    /// Records opened because a four-tuple was reused by a new SYN.
    pub reused_tuples: u64,
    /// Records ended by idle timeout.
    pub timed_out: u64,
    /// Records evicted to respect the caps (`--max-connections`, `--max-memory`).
    pub evicted: u64,
    /// Of those, evicted to respect `--max-memory`.
    pub evicted_memory: u64,
    /// Most memory the analysis held at once, as charged to `--max-memory`.
    pub peak_memory_bytes: u64,
    /// Most connections tracked at once.
    pub peak_tracked: u64,
    /// Segments of attempts beyond the half-open caps, counted per listener instead of becoming
    /// connection records (a flood of spoofed SYNs cannot grow memory).
    pub aggregated_segments: u64,
    /// Segments reassembly could not hold (out of order or for overlap checks: a memory bound
    /// was reached).
    pub reassembly_cap_hits: u64,
    /// Most bytes reassembly held at once (kept bytes, and each range held out of order at
    /// [`crate::tcp::reassembly::RANGE_COST`]).
    pub reassembly_peak_bytes: u64,
    /// ICMP errors quoting a segment of a tracked connection.
    pub icmp_errors_linked: u64,
    /// ICMP errors quoting a TCP segment of no tracked connection (or a sequence number the
    /// connection never sent).
    pub icmp_errors_unlinked: u64,
    /// Connections whose segments proved a direction missing from the capture.
    pub proved_one_sided: u64,
    /// Connections in which both directions were seen.
    pub two_sided: u64,
}

impl FlowStats {
    /// Adds `o`'s counts to these (a run split among shards: each shard's peaks are added,
    /// which bounds the peak of one table holding every connection).
    pub fn add(&mut self, o: &FlowStats) {
        let FlowStats {
            connections,
            lone_kept,
            frozen,
            thawed,
            reused_tuples,
            timed_out,
            evicted,
            evicted_memory,
            peak_memory_bytes,
            peak_tracked,
            aggregated_segments,
            reassembly_cap_hits,
            reassembly_peak_bytes,
            icmp_errors_linked,
            icmp_errors_unlinked,
            proved_one_sided,
            two_sided,
        } = o;
        self.connections += connections;
        self.lone_kept += lone_kept;
        self.frozen += frozen;
        self.thawed += thawed;
        self.reused_tuples += reused_tuples;
        self.timed_out += timed_out;
        self.evicted += evicted;
        self.evicted_memory += evicted_memory;
        self.peak_memory_bytes += peak_memory_bytes;
        self.peak_tracked += peak_tracked;
        self.aggregated_segments += aggregated_segments;
        self.reassembly_cap_hits += reassembly_cap_hits;
        self.reassembly_peak_bytes += reassembly_peak_bytes;
        self.icmp_errors_linked += icmp_errors_linked;
        self.icmp_errors_unlinked += icmp_errors_unlinked;
        self.proved_one_sided += proved_one_sided;
        self.two_sided += two_sided;
    }

    /// Whether the capture so far looks one-sided: at least 3 connections prove a direction
    /// missing and they outnumber the connections that show both directions.
    pub fn capture_one_sided(&self) -> bool {
        self.proved_one_sided >= 3 && self.proved_one_sided > self.two_sided
    }
}

//! The summary record's counter groups in JSON: fragment reassembly, the connection table, one
//! listener, the `--filter`. Field order here is the order in the output.

use serde::Serialize;

use crate::analyzer::ListenerCounts;
use crate::capture::FilterStats;
use crate::flow::FlowStats;
use crate::wire::{Endpoint, FragStats};

/// IP fragment reassembly counters.
#[derive(Serialize)]
pub struct FragStatsJson {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete.
    pub incomplete: u64,
    /// Fragments whose bytes the snaplen cut.
    pub truncated: u64,
    /// Fragments with impossible offsets or lengths.
    pub invalid: u64,
}

impl From<FragStats> for FragStatsJson {
    fn from(f: FragStats) -> Self {
        FragStatsJson {
            fragments: f.fragments,
            reassembled: f.reassembled,
            incomplete: f.incomplete,
            truncated: f.truncated,
            invalid: f.invalid,
        }
    }
}

/// Connection table counters.
#[derive(Serialize)]
pub struct FlowStatsJson {
    /// Connection records opened.
    pub connections: u64,
    /// Records opened because a four-tuple was reused by a new SYN.
    pub reused_tuples: u64,
    /// Records ended by idle timeout.
    pub timed_out: u64,
    /// Records evicted to respect the caps (`--max-connections`, `--max-memory`).
    pub evicted: u64,
    /// Of those, evicted to respect `--max-memory`.
    pub evicted_memory: u64,
    /// Closed connections kept encoded while they waited out 2*MSL, to stay under
    /// `--max-memory` before evicting any.
    pub frozen: u64,
    /// Most bytes the analysis held at once, as charged to `--max-memory`.
    pub peak_memory_bytes: u64,
    /// Most connections tracked at once.
    pub peak_tracked: u64,
    /// Segments of attempts beyond the half-open caps, counted per listener.
    pub aggregated_segments: u64,
    /// Segments reassembly could not hold (its bytes or its range: memory bounds).
    pub reassembly_cap_hits: u64,
    /// Most bytes reassembly held at once (96 per range held out of order, besides kept
    /// bytes).
    pub reassembly_peak_bytes: u64,
}

impl From<FlowStats> for FlowStatsJson {
    fn from(f: FlowStats) -> Self {
        FlowStatsJson {
            connections: f.connections,
            reused_tuples: f.reused_tuples,
            timed_out: f.timed_out,
            evicted: f.evicted,
            evicted_memory: f.evicted_memory,
            frozen: f.frozen,
            peak_memory_bytes: f.peak_memory_bytes,
            peak_tracked: f.peak_tracked,
            aggregated_segments: f.aggregated_segments,
            reassembly_cap_hits: f.reassembly_cap_hits,
            reassembly_peak_bytes: f.reassembly_peak_bytes,
        }
    }
}

/// One listener in the summary: its endpoint, then its counts.
#[derive(Serialize)]
pub struct ListenerRecord {
    /// Listener address.
    pub addr: String,
    /// Listener port.
    pub port: u16,
    /// Connection attempts (SYN seen).
    pub attempts: u64,
    /// Attempts answered by a SYN-ACK.
    pub answered: u64,
    /// Attempts whose handshake completed.
    pub established: u64,
    /// Attempts answered by RST without a SYN-ACK.
    pub refused: u64,
    /// Attempts that got no answer at all.
    pub unanswered: u64,
}

impl ListenerRecord {
    /// The record of listener `e`.
    pub fn new(e: Endpoint, c: ListenerCounts) -> Self {
        ListenerRecord {
            addr: e.addr.to_string(),
            port: e.port,
            attempts: c.attempts,
            answered: c.answered,
            established: c.established,
            refused: c.refused,
            unanswered: c.unanswered,
        }
    }
}

/// The `--filter` applied to files and what it let through.
#[derive(Serialize)]
pub struct FilterJson<'a> {
    /// The expression.
    pub expr: &'a str,
    /// Frames that passed.
    pub passed: u64,
    /// Frames the filter rejected.
    pub rejected: u64,
    /// Frames of link types the expression cannot be compiled for.
    pub uncompilable: u64,
}

impl<'a> From<&'a FilterStats> for FilterJson<'a> {
    fn from(f: &'a FilterStats) -> Self {
        FilterJson {
            expr: &f.expr,
            passed: f.passed,
            rejected: f.rejected,
            uncompilable: f.uncompilable,
        }
    }
}

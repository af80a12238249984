//! The JSON forms of a retransmission series (`retransmission_backoff` and `syn_backoff` of a
//! side) and of a host's ISN sketch (`isn_hosts` of the summary).

use std::net::IpAddr;

use serde::Serialize;

use super::AddrText;
use super::secs::{opt_secs, secs};
use crate::detect::isn::HostIsn;
use crate::tcp::backoff::Backoff;
use crate::time::{Duration, Timestamp};

/// The copies of one segment a side sent, and the gaps between them.
#[derive(Serialize)]
pub struct BackoffJson {
    /// `data`, `fin`, `syn` or `syn_ack`.
    pub what: &'static str,
    /// Its sequence number.
    pub seq: u32,
    /// Frame of the original (null when the capture does not show which it was).
    pub original_frame: Option<u64>,
    /// Time of the original.
    #[serde(serialize_with = "opt_secs")]
    pub original_ts: Option<Timestamp>,
    /// Frame of the first retransmitted copy.
    pub first_copy_frame: u64,
    /// Copies, the original included.
    pub copies: u32,
    /// Seconds between consecutive copies, the first from the original (at most 16).
    pub gaps: Vec<f64>,
    /// Frame of the last copy.
    pub last_copy_frame: u64,
    /// Time of the last copy.
    #[serde(serialize_with = "secs")]
    pub last_copy: Timestamp,
    /// Original (or first copy) to last copy.
    #[serde(serialize_with = "secs")]
    pub span: Duration,
    /// `acked`, `gave_up_silent`, `gave_up_rst` or `open`.
    pub end: &'static str,
}

impl From<&Backoff> for BackoffJson {
    fn from(b: &Backoff) -> Self {
        BackoffJson {
            what: b.what.name(),
            seq: b.seq.0,
            original_frame: b.original.map(|o| o.0),
            original_ts: b.original.map(|o| o.1),
            first_copy_frame: b.first_copy_frame,
            copies: b.copies,
            gaps: b.gaps.iter().map(|g| crate::detect::secs_f64(*g)).collect(),
            last_copy_frame: b.last_copy_frame,
            last_copy: b.last_copy,
            span: b.span(),
            end: b.end.name(),
        }
    }
}

/// What one host's ISNs showed.
#[derive(Serialize)]
pub struct IsnHostJson {
    /// The sending host.
    pub addr: AddrText,
    /// ISNs seen (first copies of its SYNs and SYN-ACKs).
    pub isns: u32,
    /// Incarnations of one four-tuple that sampled its ISN clock.
    pub clock_samples: u32,
    /// The ISN clock's rate, ticks per second (total ISN step over total time; Linux
    /// 15,625,000).
    pub clock_rate_per_s: Option<f64>,
    /// Nanoseconds per tick (Linux 64).
    pub tick_ns: Option<f64>,
    /// Slowest and fastest single sample, ticks per second.
    pub clock_rate_range: Option<[f64; 2]>,
    /// Steps from one four-tuple's ISN to the next four-tuple's.
    pub steps: u32,
    /// Of those, predictable (0 to 2^20 - 1 up).
    pub predictable_steps: u32,
    /// Of those, zero.
    pub constant_steps: u32,
    /// ISNs equal to 0.
    pub zero_isns: u32,
    /// Whether predictable_isn was raised for it.
    pub predictable: bool,
}

impl IsnHostJson {
    /// The sketch of `addr`.
    pub fn new(addr: IpAddr, h: &HostIsn) -> Self {
        let rate = h.clock_rate().map(|r| r.round());
        IsnHostJson {
            addr: AddrText(addr),
            isns: h.isns,
            clock_samples: h.clock_samples,
            clock_rate_per_s: rate,
            tick_ns: rate.map(|r| (1e11 / r).round() / 100.0),
            clock_rate_range: h.clock_range().map(|(lo, hi)| [lo.round(), hi.round()]),
            steps: h.steps,
            predictable_steps: h.predictable_steps,
            constant_steps: h.constant_steps,
            zero_isns: h.zero_isns,
            predictable: h.predictable(),
        }
    }
}

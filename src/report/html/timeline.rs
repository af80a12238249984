//! Per-listener timelines for the HTML report, from the connection records: attempts per
//! bucket, completions, and the half-open count (attempts from their SYN until the handshake
//! completed or the record ended) sampled at each bucket's end, with the flood episodes.

use std::collections::HashMap;

use serde::Serialize;

use crate::wire::Endpoint;

/// Listeners drawn at most (the busiest by attempts).
const LISTENERS: usize = 6;
/// Buckets per timeline.
const BUCKETS: usize = 120;
/// Fewest attempts for a listener to get a timeline.
const MIN_ATTEMPTS: usize = 10;

/// A connection attempt (opened by a SYN), in seconds since the capture's first packet.
pub(super) struct Attempt {
    /// The responder: the listener it was made to.
    pub(super) listener: Endpoint,
    pub(super) start: f64,
    /// Its last segment.
    pub(super) end: f64,
    /// Its handshake completed.
    pub(super) hs: Option<f64>,
    /// How its record ended (`EndReason::name`, or `open`).
    pub(super) reason: &'static str,
}

/// One listener's timeline.
#[derive(Serialize)]
pub(super) struct ListenerTimeline {
    /// The listening endpoint.
    listener: String,
    /// Attempts in all (tracked as records).
    attempts: usize,
    /// Bucket width, seconds, and the first bucket's start.
    width: f64,
    start: f64,
    /// Attempts starting in each bucket.
    syns: Vec<u32>,
    /// Of those, completed handshakes.
    completed: Vec<u32>,
    /// Attempts half-open at each bucket's end.
    half_open: Vec<u32>,
    /// The backlog threshold of `half_open_backlog`.
    backlog: u32,
    /// Flood episodes (start, end).
    floods: Vec<(f64, f64)>,
}

/// The timelines of the busiest listeners; `floods` are (listener, start, end); `ends` are
/// the capture's end and how long an unanswered attempt stays in the table, which tell how
/// long an attempt that never completed was pending.
pub(super) fn timelines(
    attempts: &[Attempt],
    floods: &[(String, f64, f64)],
    backlog: u32,
    ends: (f64, f64),
) -> Vec<ListenerTimeline> {
    let mut by: HashMap<Endpoint, Vec<&Attempt>, foldhash::fast::RandomState> = HashMap::default();
    for a in attempts {
        by.entry(a.listener).or_default().push(a);
    }
    let mut busiest: Vec<(String, Vec<&Attempt>)> = by
        .into_iter()
        .filter(|(_, v)| v.len() >= MIN_ATTEMPTS)
        .map(|(ep, v)| (ep.to_string(), v))
        .collect();
    busiest.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    busiest.truncate(LISTENERS);
    busiest
        .into_iter()
        .map(|(ep, v)| {
            let start = v.iter().map(|c| c.start).fold(f64::INFINITY, f64::min);
            let end = v
                .iter()
                .map(|c| c.end)
                .fold(start, f64::max)
                .max(ends.0.min(start + 3600.0));
            let width = ((end - start) / BUCKETS as f64).max(0.001);
            let n = (((end - start) / width).ceil() as usize).clamp(1, BUCKETS);
            let slot = |t: f64| (((t - start) / width) as usize).min(n - 1);
            let (mut syns, mut completed, mut delta) = (vec![0; n], vec![0; n], vec![0i64; n + 1]);
            for c in &v {
                let b = slot(c.start);
                syns[b] += 1;
                completed[b] += c.hs.is_some() as u32;
                // Pending from the SYN to the completion, or until the record left the table
                // (its timeout after its last segment, or the end of the capture): counted at
                // the end of every bucket it lasts through.
                let (capture_end, timeout) = ends;
                let until = c.hs.unwrap_or(match c.reason {
                    "timeout" => c.end + timeout,
                    "capture_end" | "open" => capture_end,
                    _ => c.end,
                });
                let last = ((until - start) / width).floor() as i64 - 1;
                if last >= b as i64 {
                    delta[b] += 1;
                    delta[(last as usize + 1).min(n)] -= 1;
                }
            }
            let mut level = 0i64;
            let half_open = delta[..n]
                .iter()
                .map(|d| {
                    level += d;
                    level.max(0) as u32
                })
                .collect();
            ListenerTimeline {
                listener: ep.clone(),
                attempts: v.len(),
                width,
                start,
                syns,
                completed,
                half_open,
                backlog,
                floods: floods
                    .iter()
                    .filter(|(l, _, _)| *l == ep)
                    .map(|(_, a, b)| (*a, *b))
                    .collect(),
            }
        })
        .collect()
}

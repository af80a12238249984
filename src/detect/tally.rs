//! How many times each anomaly occurred on one connection, and which occurrences are reported.
//!
//! Connection anomalies are reported the first time they occur and counted after that; segment
//! classes are counted exactly per direction and reported at the 1st, 10th, 100th ...
//! occurrence (as Zeek scales its history letters and Suricata backs off its stream events).
//! The anomaly itself, with its details, is built only when it is reported: the builder is a
//! closure the tally calls or not.

use super::{Anomaly, AnomalyKind};
use crate::wire::{Endpoint, PerSide, Side};
use thin_vec::ThinVec;

/// Per-kind counts of one connection.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Occurrences of connection anomalies, kinds in first-seen order.
    pub counts: ThinVec<(AnomalyKind, u32)>,
    /// Segment classes counted per direction, kinds in first-seen order.
    pub seg_counts: ThinVec<(AnomalyKind, PerSide<u32>)>,
}

crate::base::pack::pack_struct!(Tally { counts, seg_counts });

/// Who an anomaly of a connection concerns: the connection and its responder (the listener).
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    /// The connection's id.
    pub conn_id: u64,
    /// Its responder.
    pub listener: Endpoint,
}

impl Tally {
    /// Counts one occurrence; true if it is the first of its kind on this connection.
    pub fn count(&mut self, kind: AnomalyKind) -> bool {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                false
            }
            None => {
                self.counts.push((kind, 1));
                true
            }
        }
    }

    /// Whether this connection raised `kind`.
    pub fn has(&self, kind: AnomalyKind) -> bool {
        self.counts.iter().any(|(k, _)| *k == kind)
    }

    /// Whether anything counted is a warning or an error (a connection worth a closer look).
    pub fn flagged(&self) -> bool {
        self.counts.iter().any(|(k, _)| k.flags_connection())
            || self.seg_counts.iter().any(|(k, _)| k.flags_connection())
    }

    /// Segments of class `kind` counted from `side`.
    pub fn segments(&self, kind: AnomalyKind, side: Side) -> u32 {
        self.seg_counts
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| n[side])
    }

    /// Exchanges the sides of the per-direction counts (the roles were flipped).
    pub fn swap_sides(&mut self) {
        for (_, n) in &mut self.seg_counts {
            n.swap();
        }
    }

    /// Counts an anomaly of kind `kind` and, if it is the first of its kind on the connection,
    /// builds it and sends it to `out`.
    pub fn raise(
        &mut self,
        kind: AnomalyKind,
        owner: Owner,
        build: impl FnOnce() -> Anomaly,
        out: &mut Vec<Anomaly>,
    ) {
        if self.count(kind) {
            report(kind, owner, None, build, out);
        }
    }

    /// Counts a segment of class `kind` sent by `side`; at the 1st, 10th, 100th ... occurrence
    /// on the connection the anomaly is built and sent to `out`, with its count and sender.
    pub fn raise_segment(
        &mut self,
        kind: AnomalyKind,
        side: Side,
        owner: Owner,
        build: impl FnOnce() -> Anomaly,
        out: &mut Vec<Anomaly>,
    ) {
        let n = match self.seg_counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                n[side] += 1;
                n[Side::Orig] + n[Side::Resp]
            }
            None => {
                let mut n = PerSide::default();
                n[side] = 1;
                self.seg_counts.push((kind, n));
                1
            }
        };
        if n == 1 || (n >= 10 && power_of_ten(n)) {
            report(kind, owner, Some((n, side)), build, out);
        }
    }
}

/// Builds and sends out an anomaly (with `count` and `from` for a segment class). Cold and out
/// of line: most segments report nothing, and the builders' code (details, formatting) kept
/// inside the rules would crowd the per-segment path out of the instruction cache.
#[cold]
#[inline(never)]
fn report(
    kind: AnomalyKind,
    owner: Owner,
    segment: Option<(u32, Side)>,
    build: impl FnOnce() -> Anomaly,
    out: &mut Vec<Anomaly>,
) {
    let mut a = build();
    debug_assert_eq!(a.kind, kind);
    a.conn_id = Some(owner.conn_id);
    a.listener = Some(owner.listener);
    if let Some((n, side)) = segment {
        a.detail.insert("count", n.into());
        a.detail.insert("from", side.name().into());
    }
    out.push(a);
}

fn power_of_ten(mut n: u32) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

//! What a rule works with: the connection it judges (read-only), the thresholds, and where its
//! findings go. Every rule of every family has this one shape.

use super::view::ConnView;
use super::{Anomaly, AnomalyKind, DetectConfig, Tally};
use crate::wire::Side;

/// A rule's context on one connection.
pub struct Judge<'a> {
    /// The connection being judged (a reference: rules copy it into their closures).
    pub conn: &'a ConnView<'a>,
    /// Thresholds.
    pub cfg: &'a DetectConfig,
    tally: &'a mut Tally,
    out: &'a mut Vec<Anomaly>,
}

impl<'a> Judge<'a> {
    /// A context judging `conn`, counting into `tally` and reporting to `out`.
    pub fn new(
        conn: &'a ConnView<'a>,
        cfg: &'a DetectConfig,
        tally: &'a mut Tally,
        out: &'a mut Vec<Anomaly>,
    ) -> Self {
        Judge {
            conn,
            cfg,
            tally,
            out,
        }
    }

    /// What has been counted on the connection so far.
    pub fn tally(&self) -> &Tally {
        self.tally
    }

    /// Counts a connection anomaly of kind `kind`; the first of its kind on the connection is
    /// built by `build` and reported. On a one-sided connection, verdicts that need the other
    /// direction's evidence are not raised at all.
    pub fn raise(&mut self, kind: AnomalyKind, build: impl FnOnce() -> Anomaly) {
        if self.conn.one_sided.is_some() && needs_both_directions(kind) {
            return;
        }
        let owner = self.conn.owner();
        self.tally.raise(kind, owner, build, self.out);
    }

    /// Counts a segment of class `kind` sent by `side`; at the 1st, 10th, 100th ... occurrence
    /// it is built by `build` and reported.
    pub fn raise_segment(
        &mut self,
        kind: AnomalyKind,
        side: Side,
        build: impl FnOnce() -> Anomaly,
    ) {
        let owner = self.conn.owner();
        self.tally.raise_segment(kind, side, owner, build, self.out);
    }
}

/// Verdicts that rest on what the other direction did not send (a third ACK, an answer to
/// probes or to a FIN) or on comparing both directions (an RST judged against its sender's
/// other segments and the receiver's reaction): on a connection whose other direction the
/// capture does not show, the silence they read is the capture's, not the peer's.
pub fn needs_both_directions(kind: AnomalyKind) -> bool {
    matches!(
        kind,
        AnomalyKind::HalfOpen
            | AnomalyKind::MissingThirdAck
            | AnomalyKind::RstAbort
            | AnomalyKind::RstInjectionSuspected
            | AnomalyKind::CloseWaitStuck
            | AnomalyKind::KeepaliveTimeout
    )
}

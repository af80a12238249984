//! Every connection rule family, with the state each one keeps, run in one fixed order.
//!
//! Each family owns its state, with per-side values in [`PerSide`](crate::wire::PerSide), so a
//! role flip is one [`ConnRules::swap_sides`] that reaches every family. A new family is a file
//! in this folder and one line in each method here.

use super::handshake::HandshakeRules;
use super::keepalive::KeepaliveRules;
use super::sanity::SanityRules;
use super::segment::SegmentRules;
use super::teardown::TeardownRules;
use super::view::{ConnView, Step};
use super::{Anomaly, DetectConfig, Tally};
use crate::time::Timestamp;

/// The rule families of one connection, and its anomaly tally.
#[derive(Clone, Debug, Default)]
pub struct ConnRules {
    /// Handshake rules.
    pub handshake: HandshakeRules,
    teardown: TeardownRules,
    keepalive: KeepaliveRules,
    segment: SegmentRules,
    sanity: SanityRules,
}

impl ConnRules {
    /// The roles were flipped: every family's per-side state changes sides.
    pub fn swap_sides(&mut self, tally: &mut Tally) {
        self.handshake.swap_sides();
        self.teardown.swap_sides();
        self.keepalive.swap_sides();
        self.segment.swap_sides();
        self.sanity.swap_sides();
        tally.swap_sides();
    }

    /// Runs every family on one segment, after the state machine applied it.
    pub fn on_segment(
        &mut self,
        c: &ConnView<'_>,
        st: &Step<'_, '_>,
        cfg: &DetectConfig,
        tally: &mut Tally,
        out: &mut Vec<Anomaly>,
    ) {
        self.handshake.on_segment(c, st, tally, out);
        self.teardown.on_segment(c, st, cfg, tally, out);
        self.keepalive.on_segment(c, st, tally, out);
        self.segment.on_segment(c, st, tally, out);
        self.sanity.on_segment(c, st, cfg, tally, out);
    }

    /// Runs the end-of-connection rules, for a record leaving the table at `now`.
    pub fn on_finish(
        &mut self,
        c: &ConnView<'_>,
        now: Timestamp,
        cfg: &DetectConfig,
        tally: &mut Tally,
        out: &mut Vec<Anomaly>,
    ) {
        self.handshake.on_finish(c, tally, out);
        self.teardown.on_finish(c, now, cfg, tally, out);
        self.keepalive.on_finish(c, cfg, tally, out);
    }
}

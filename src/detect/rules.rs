//! Every connection rule family, with the state each one keeps, run in one fixed order.
//!
//! Each family owns its state, with per-side values in [`PerSide`](crate::wire::PerSide), so a
//! role flip is one [`ConnRules::swap_sides`] that reaches every family. A new family is a file
//! in this folder and one line in each method here.

use super::Tally;
use super::backoff::BackoffRules;
use super::final_ack::FinalAckRules;
use super::handshake::HandshakeRules;
use super::judge::Judge;
use super::keepalive::KeepaliveRules;
use super::sanity::SanityRules;
use super::segment::SegmentRules;
use super::teardown::TeardownRules;
use super::view::Step;
use crate::time::Timestamp;

/// The rule families of one connection, and its anomaly tally.
#[derive(Clone, Debug, Default)]
pub struct ConnRules {
    /// Handshake rules.
    pub handshake: HandshakeRules,
    teardown: TeardownRules,
    /// Keep-alive rules.
    pub keepalive: KeepaliveRules,
    segment: SegmentRules,
    sanity: SanityRules,
    /// Retransmission back-off and give-up.
    pub backoff: BackoffRules,
    /// The lost final ACK and the end of TIME-WAIT.
    pub final_ack: FinalAckRules,
}

crate::base::pack::pack_struct!(ConnRules {
    handshake,
    teardown,
    keepalive,
    segment,
    sanity,
    backoff,
    final_ack,
});

impl ConnRules {
    /// The roles were flipped: every family's per-side state changes sides.
    pub fn swap_sides(&mut self, tally: &mut Tally) {
        self.handshake.swap_sides();
        self.teardown.swap_sides();
        self.keepalive.swap_sides();
        self.segment.swap_sides();
        self.sanity.swap_sides();
        self.backoff.swap_sides();
        self.final_ack.swap_sides();
        tally.swap_sides();
    }

    /// Runs every family on one segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        self.handshake.on_segment(j, st);
        self.teardown.on_segment(j, st);
        self.keepalive.on_segment(j, st);
        self.segment.on_segment(j, st);
        self.sanity.on_segment(j, st);
        self.backoff.on_segment(st);
        self.final_ack.on_segment(j, st);
    }

    /// Runs the end-of-connection rules, for a record leaving the table at `now`.
    pub fn on_finish(&mut self, j: &mut Judge<'_>, now: Timestamp) {
        self.handshake.on_finish(j);
        self.teardown.on_finish(j, now);
        self.keepalive.on_finish(j);
        self.backoff.on_finish(j, now);
        self.final_ack.on_finish(j);
        super::signals::on_finish(j);
    }
}

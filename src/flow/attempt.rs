//! What the listener rules learn from a connection attempt when its record ends.

use super::{Connection, Side};
use crate::detect::flood::Resolution;
use crate::time::Timestamp;

/// What the listener rules need to know about a finished attempt.
pub(super) fn resolution(c: &Connection, at: Timestamp, ended: Timestamp) -> Resolution {
    let r = c.record();
    let (o, s) = (r.half(Side::Orig).options, r.half(Side::Resp).options);
    let options_stripped = match (o, s) {
        (Some(o), Some(s)) => {
            !o.timestamps
                && (o.wscale.is_some() || o.sack_permitted)
                && s.wscale.is_none()
                && !s.sack_permitted
        }
        _ => false,
    };
    Resolution {
        completed: r.established(),
        // An attempt a router answered (time exceeded, unreachable) was answered, by the
        // network: the listener never had it to answer.
        responded: r.half(Side::Resp).sent_synack
            || r.half(Side::Resp).rsts > 0
            || r.half(Side::Orig).rare().icmp_errors > 0,
        answered: r.half(Side::Resp).sent_synack,
        reset_by_initiator: r.half(Side::Orig).rsts > 0,
        synack_repeated: c.synack_copies() > 1,
        options_stripped,
        started: r.first_ts,
        at,
        watched: ended.since(r.first_ts),
        syn_repeated: r.half(Side::Orig).syns > 1,
        conn: r.id,
        reset: r.first_rst.is_some(),
    }
}

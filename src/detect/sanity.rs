//! Header sanity rules: TTL changes within a direction, and RSTs that do not look like they came
//! from the peer's stack.

use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind};
use crate::tcp::{RstFit, SegClass};
use crate::wire::{PerSide, Side};

/// IPv4 IDs further than this from the direction's last ID do not fit a counter (Linux and
/// Windows increment per connection or per destination).
const IP_ID_JUMP: u16 = 2048;

/// A RST the receiver accepted: who sent it, in which frame.
#[derive(Clone, Copy, Debug)]
struct AcceptedRst {
    from: Side,
    frame: u64,
}

/// The header-sanity family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct SanityRules {
    /// Each direction's first TTL.
    ttl: PerSide<Option<u8>>,
    /// Each direction's last IPv4 ID.
    ip_id: PerSide<Option<u16>>,
    /// The first accepted RST.
    accepted_rst: Option<AcceptedRst>,
}

impl SanityRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.ttl.swap();
        self.ip_id.swap();
        if let Some(r) = &mut self.accepted_rst {
            r.from = r.from.other();
        }
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let base = *self.ttl[side].get_or_insert(seg.ttl);
        let ttl_off = seg.ttl.abs_diff(base) > j.cfg.ttl_tolerance;
        let last_id = self.ip_id[side];
        // An IPv4 ID far from the last one, when that direction uses a counter at all
        // (non-zero).
        let id_off = match (seg.ip_id, last_id) {
            (Some(id), Some(last)) if last != 0 && id != 0 => {
                let d = id.wrapping_sub(last);
                d > IP_ID_JUMP && d < u16::MAX - IP_ID_JUMP
            }
            _ => false,
        };

        if facts.class == SegClass::Rst && (ttl_off || id_off) && c.half(side).packets > 1 {
            // rst_injection_suspected: the RST's TTL or IP ID does not fit the sender's other
            // segments, as with middlebox resets (Suricata `suspected_rst_inject` is the
            // related after-the-fact rule).
            let k = AnomalyKind::RstInjectionSuspected;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("ttl", seg.ttl)
                    .with("expected_ttl", base)
                    .with("ip_id", seg.ip_id)
                    .with("last_ip_id", last_id)
                    .with("evidence", if ttl_off { "ttl" } else { "ip_id" })
            });
        } else if ttl_off {
            // ttl_anomaly: a segment's TTL/hop limit differs from its direction's first one by
            // more than --ttl-tolerance (a route change, a middlebox, or a forged segment).
            let k = AnomalyKind::TtlAnomaly;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("ttl", seg.ttl)
                    .with("expected_ttl", base)
            });
        }
        if let Some(id) = seg.ip_id {
            self.ip_id[side] = Some(id);
        }

        if facts.class == SegClass::Rst {
            let fit = facts.rst_fit.unwrap_or(RstFit::Unknown);
            if fit != RstFit::OutOfWindow && self.accepted_rst.is_none() {
                self.accepted_rst = Some(AcceptedRst {
                    from: side,
                    frame: seg.frame,
                });
            }
        }

        // rst_injection_suspected, after the fact: the side whose RST was accepted keeps
        // sending as if nothing happened, so the RST did not come from its stack.
        if let Some(rst) = self.accepted_rst
            && rst.from == side
            && facts.class != SegClass::Rst
            && seg.payload_len > 0
        {
            let k = AnomalyKind::RstInjectionSuspected;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("rst_frame", rst.frame)
                    .with("evidence", "traffic_after_rst")
            });
        }
    }
}

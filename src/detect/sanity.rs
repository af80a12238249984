//! Header sanity rules: TTL changes within a direction, and RSTs that do not look like they came
//! from the peer's stack.

use super::{Anomaly, AnomalyKind, DetectConfig};
use crate::flow::{Connection, Side};
use crate::tcp::{SegClass, SegFacts};
use crate::wire::Segment;

/// IPv4 IDs further than this from the direction's last ID do not fit a counter (Linux and
/// Windows increment per connection or per destination).
const IP_ID_JUMP: u16 = 2048;

/// Rules evaluated on each segment, after the state machine applied it.
pub(crate) fn on_segment(
    c: &mut Connection,
    seg: &Segment<'_>,
    side: Side,
    facts: &SegFacts,
    cfg: &DetectConfig,
    out: &mut Vec<Anomaly>,
) {
    let i = side.index();
    let base = *c.detect.ttl[i].get_or_insert(seg.ttl);
    let ttl_off = seg.ttl.abs_diff(base) > cfg.ttl_tolerance;
    let last_id = c.detect.ip_id[i];
    // An IPv4 ID far from the last one, when that direction uses a counter at all (non-zero).
    let id_off = match (seg.ip_id, last_id) {
        (Some(id), Some(last)) if last != 0 && id != 0 => {
            let d = id.wrapping_sub(last);
            d > IP_ID_JUMP && d < u16::MAX - IP_ID_JUMP
        }
        _ => false,
    };

    if facts.class == SegClass::Rst && (ttl_off || id_off) && c.half(side).packets > 1 {
        // rst_injection_suspected: the RST's TTL or IP ID does not fit the sender's other
        // segments, as with middlebox resets (Suricata `suspected_rst_inject` is the related
        // after-the-fact rule).
        let a = Anomaly::new(AnomalyKind::RstInjectionSuspected, seg.frame, seg.ts)
            .with("from", side.name())
            .with("ttl", seg.ttl)
            .with("expected_ttl", base)
            .with("ip_id", seg.ip_id)
            .with("last_ip_id", last_id)
            .with("evidence", if ttl_off { "ttl" } else { "ip_id" });
        super::raise(c, a, out);
    } else if ttl_off {
        // ttl_anomaly: a segment's TTL/hop limit differs from its direction's first one by more
        // than --ttl-tolerance (a route change, a middlebox, or a forged segment).
        let a = Anomaly::new(AnomalyKind::TtlAnomaly, seg.frame, seg.ts)
            .with("from", side.name())
            .with("ttl", seg.ttl)
            .with("expected_ttl", base);
        super::raise(c, a, out);
    }
    if let Some(id) = seg.ip_id {
        c.detect.ip_id[i] = Some(id);
    }

    // rst_injection_suspected, after the fact: the side whose RST was accepted keeps sending as
    // if nothing happened, so the RST did not come from its stack.
    if let Some((from, rst_frame)) = c.detect.rst_accepted_from
        && from == i
        && facts.class != SegClass::Rst
        && seg.payload_len > 0
    {
        let a = Anomaly::new(AnomalyKind::RstInjectionSuspected, seg.frame, seg.ts)
            .with("from", side.name())
            .with("rst_frame", rst_frame)
            .with("evidence", "traffic_after_rst");
        super::raise(c, a, out);
    }
}

//! An anomaly record, field for field as [`super::super::AnomalyRecord`] serializes.

use super::{Out, k};
use crate::detect::Anomaly;
use crate::report::community_id::CommunityIds;
use crate::report::flat::ConnRef;
use crate::report::json::DetailJson;

/// Writes the JSON object of `a` (no newline): the anomaly of connection `conn` (if it concerns
/// one), its Community ID from `ids`.
pub(in crate::report::json) fn write_anomaly(
    o: &mut Out<'_>,
    a: &Anomaly,
    conn: Option<ConnRef>,
    ids: &mut CommunityIds,
) {
    o.raw(b"{\"type\":\"anomaly\",\"kind\":");
    o.str(a.kind.id());
    o.raw(k!("severity"));
    o.str(a.severity.name());
    o.raw(k!("conn_id"));
    o.opt_u(a.conn_id);
    o.raw(k!("community_id"));
    match (conn, a.conn_id) {
        (Some(c), Some(id)) => o.str(ids.get(id, c.orig, c.resp)),
        _ => o.null(),
    }
    o.raw(k!("listener_addr"));
    match a.listener {
        Some(l) => o.addr(l.addr),
        None => o.null(),
    }
    o.raw(k!("listener_port"));
    o.opt_u(a.listener.map(|l| l.port));
    o.raw(k!("frame"));
    o.u(a.frame);
    o.raw(k!("ts"));
    o.secs(a.ts);
    o.raw(k!("time"));
    o.iso(a.ts);
    o.raw(k!("detail"));
    o.serde(&DetailJson(&a.detail));
    o.raw(b"}");
}

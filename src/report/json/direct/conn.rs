//! A connection record, field for field as [`super::super::ConnJson`] serializes.

use super::half::{write_half, write_handshake};
use super::{Out, k};
use crate::detect::AnomalyKind;
use crate::event::{ConnRecord, EndReason};
use crate::report::community_id::CommunityIds;
use crate::report::json::ById;
use crate::report::json::story::StoryJson;
use crate::wire::{PerSide, Side, TunnelKind};

/// Writes the JSON object of `c` (no newline), its Community ID from `ids`, its story (if it has
/// one) with `stories`.
pub(in crate::report::json) fn write_conn(
    o: &mut Out<'_>,
    c: &ConnRecord,
    ids: &mut CommunityIds,
    stories: bool,
) {
    o.raw(b"{\"type\":\"connection\",\"id\":");
    o.u(c.id);
    o.key_opt_u(k!("prev_id"), c.prev_id);
    o.raw(k!("orig_addr"));
    o.addr(c.orig.addr);
    o.key_u(k!("orig_port"), c.orig.port);
    o.raw(k!("resp_addr"));
    o.addr(c.resp.addr);
    o.key_u(k!("resp_port"), c.resp.port);
    o.raw(k!("community_id"));
    o.str(ids.get(c.id, c.orig, c.resp));
    o.key_opt_u(k!("vlan"), c.vlan);
    o.raw(k!("tunnel"));
    o.opt_str(c.tunnel.map(TunnelKind::name));
    o.key_secs(k!("first_ts"), c.first_ts);
    o.key_secs(k!("last_ts"), c.last_ts);
    o.raw(k!("first_time"));
    o.iso(c.first_ts);
    o.raw(k!("last_time"));
    o.iso(c.last_ts);
    o.key_secs(k!("duration"), c.duration());
    o.key_u(k!("first_frame"), c.first_frame);
    o.key_u(k!("last_frame"), c.last_frame);
    o.key_bool(k!("saw_start"), c.saw_start());
    o.key_bool(k!("flipped"), c.flipped);
    o.raw(k!("orig"));
    write_half(o, c.half(Side::Orig));
    o.raw(k!("resp"));
    write_half(o, c.half(Side::Resp));
    o.raw(k!("negotiated"));
    match (c.half(Side::Orig).options, c.half(Side::Resp).options) {
        (Some(a), Some(b)) => {
            o.raw(b"{\"window_scaling\":");
            o.bool(a.wscale.is_some() && b.wscale.is_some());
            o.key_bool(k!("sack"), a.sack_permitted && b.sack_permitted);
            o.key_bool(k!("timestamps"), a.timestamps && b.timestamps);
            o.key_bool(k!("ecn"), a.ecn && b.ecn);
            o.key_bool(k!("tfo"), a.tfo.is_some());
            o.raw(b"}");
        }
        _ => o.null(),
    }
    o.raw(k!("handshake"));
    write_handshake(o, &c.handshake);
    o.raw(k!("first_fin"));
    o.opt_str(c.first_fin.map(Side::name));
    o.raw(k!("first_rst"));
    o.opt_str(c.first_rst.map(Side::name));
    o.raw(k!("end_reason"));
    o.opt_str(c.end_reason.map(EndReason::name));
    o.raw(k!("orig_state"));
    o.str(c.states[Side::Orig].name());
    o.raw(k!("resp_state"));
    o.str(c.states[Side::Resp].name());
    o.raw(k!("conn_state"));
    o.str(c.zeek.conn_state());
    o.raw(k!("history"));
    o.str(c.zeek.history());
    if c.zeek.split() {
        o.raw(k!("zeek_rows"));
        o.raw(b"[");
        for (i, (conn_state, history)) in c.zeek.rows.iter().enumerate() {
            o.raw(if i == 0 {
                b"{\"conn_state\":"
            } else {
                b",{\"conn_state\":"
            });
            o.str(conn_state);
            o.raw(k!("history"));
            o.str(history);
            o.raw(b"}");
        }
        o.raw(b"]");
    }
    let tally = &c.tally.counts;
    o.raw(k!("anomalies"));
    o.raw(b"[");
    for (i, (kind, _)) in tally.iter().enumerate() {
        if i > 0 {
            o.raw(b",");
        }
        o.str(kind.id());
    }
    o.raw(b"]");
    o.raw(k!("anomaly_counts"));
    by_id(o, &ById(tally), |o, n| o.u(*n));
    o.raw(k!("segment_counts"));
    by_id(o, &ById(&c.tally.seg_counts), |o, n: &PerSide<u32>| {
        o.raw(b"{\"orig\":");
        o.u(n[Side::Orig]);
        o.key_u(k!("resp"), n[Side::Resp]);
        o.raw(b"}");
    });
    o.key_u(k!("unexpected_segments"), c.unexpected);
    o.raw(k!("one_sided"));
    o.opt_str(c.one_sided.map(Side::name));
    o.raw(k!("time_wait_side"));
    o.opt_str(c.time_wait_until.map(|t| t.0.name()));
    o.key_opt_secs(k!("time_wait_until"), c.time_wait_until.map(|t| t.1));
    // Not built at all when not written: a story kept for another output is left alone.
    if stories && let Some(story) = StoryJson::of(c) {
        o.raw(k!("story"));
        o.serde(&story);
    }
    o.raw(b"}");
}

/// A tally as an object keyed by id in id order, as [`ById`] serializes it, each value written
/// by `value`.
fn by_id<T>(o: &mut Out<'_>, tally: &ById<'_, T>, value: impl Fn(&mut Out<'_>, &T)) {
    let (order, n) = tally.order();
    o.raw(b"{");
    for (i, &at) in order[..n].iter().enumerate() {
        let (kind, v): &(AnomalyKind, T) = &tally.0[at as usize];
        if i > 0 {
            o.raw(b",");
        }
        o.str(kind.id());
        o.raw(b":");
        value(o, v);
    }
    o.raw(b"}");
}

//! Ladder diagrams as SVG, for the HTML report: the same rows as the terminal's (see
//! [`super::plan`]), drawn as lifelines and arrows, each endpoint's state in a box beside its
//! lifeline where it changes, anomalies as coloured marks whose tooltip is `explain`'s summary.

use std::fmt::Write as _;

use super::{LadderMark, LadderSegment, Row, first_seq, flag_names, human_bytes, plan};
use crate::event::ConnRecord;
use crate::tcp::TcpState;
use crate::wire::{PerSide, Side};

/// Drawing width, and where the lifelines stand.
const WIDTH: u32 = 820;
const LEFT: u32 = 200;
const RIGHT: u32 = 640;
/// Height of one row.
const ROW: u32 = 26;
/// Space above the first row (endpoint names and initial states).
const TOP: u32 = 58;

/// Text escaped for XML and HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG of `rec`'s ladder (an `<svg>` element, with `id="ladder-ID"`).
pub fn svg(rec: &ConnRecord, segs: &[LadderSegment], marks: &[LadderMark]) -> String {
    let rows = plan(rec, segs, marks);
    let isn = [Side::Orig, Side::Resp].map(|s| first_seq(segs, s));
    let extra: u32 = rows
        .iter()
        .map(|r| match r {
            Row::Segment(i) => marks.iter().filter(|m| m.frame == segs[*i].frame).count() as u32,
            Row::Fold(_) => 0,
        })
        .sum();
    let height = TOP + (rows.len() as u32 + extra + 1) * ROW + 10;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg id="ladder-{id}" class="ladder" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="ladder diagram of connection {id}">"#,
        id = rec.id
    );
    let _ = write!(
        o,
        r#"<defs><marker id="head-{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"/></marker></defs>"#,
        id = rec.id
    );
    let _ = write!(
        o,
        r#"<text class="end" x="{LEFT}" y="16" text-anchor="middle">{}</text><text class="end" x="{RIGHT}" y="16" text-anchor="middle">{}</text>"#,
        esc(&rec.orig.to_string()),
        esc(&rec.resp.to_string())
    );
    let _ = write!(
        o,
        r#"<line class="life" x1="{LEFT}" y1="24" x2="{LEFT}" y2="{b}"/><line class="life" x1="{RIGHT}" y1="24" x2="{RIGHT}" y2="{b}"/>"#,
        b = height - 6
    );
    let first = |side: Side| {
        rec.transitions
            .iter()
            .find(|t| t.side == side)
            .map_or(rec.states[side], |t| t.from)
    };
    state(&mut o, Side::Orig, first(Side::Orig), 40);
    state(&mut o, Side::Resp, first(Side::Resp), 40);
    let mut y = TOP;
    for row in rows {
        match row {
            Row::Segment(i) => {
                let s = &segs[i];
                arrow(&mut o, rec, s, isn, y);
                // A side may change twice on one segment (CLOSE-WAIT then LAST-ACK, when the
                // FIN it acknowledges is the one it answers with its own): stacked, not drawn
                // over each other.
                let mut stacked = PerSide::<u32>::default();
                for t in rec.transitions.iter().filter(|t| t.frame == s.frame) {
                    state(&mut o, t.side, t.to, y + 4 + 13 * stacked[t.side]);
                    stacked[t.side] += 1;
                }
                for m in marks.iter().filter(|m| m.frame == s.frame) {
                    y += ROW;
                    let _ = write!(
                        o,
                        r#"<g class="mark {sev}"><title>{id} ({sev}): {sum}</title><circle cx="{cx}" cy="{cy}" r="5"/><text x="{tx}" y="{ty}">{id}</text></g>"#,
                        sev = m.severity.name(),
                        id = m.kind.id(),
                        sum = esc(m.kind.summary()),
                        cx = (LEFT + RIGHT) / 2 - 120,
                        cy = y - 4,
                        tx = (LEFT + RIGHT) / 2 - 108,
                        ty = y,
                    );
                }
            }
            Row::Fold(r) => {
                let run = &segs[r];
                let bytes: u64 = run.iter().map(|s| s.len as u64).sum();
                let _ = write!(
                    o,
                    r#"<text class="fold" x="{x}" y="{y}" text-anchor="middle">… {n} segments, {b} …</text>"#,
                    x = (LEFT + RIGHT) / 2,
                    n = run.len(),
                    b = human_bytes(bytes)
                );
            }
        }
        y += ROW;
    }
    o.push_str("</svg>");
    o
}

/// A state box beside `side`'s lifeline at height `y`.
fn state(o: &mut String, side: Side, st: TcpState, y: u32) {
    let (x, anchor) = match side {
        Side::Orig => (LEFT - 10, "end"),
        Side::Resp => (RIGHT + 10, "start"),
    };
    let _ = write!(
        o,
        r#"<text class="state" data-side="{}" x="{x}" y="{y}" text-anchor="{anchor}">{}</text>"#,
        side.name(),
        st.name()
    );
}

/// One segment's arrow, with its label above it.
fn arrow(
    o: &mut String,
    rec: &ConnRecord,
    s: &LadderSegment,
    isn: [Option<crate::wire::SeqNum>; 2],
    y: u32,
) {
    let (x1, x2) = match s.side {
        Side::Orig => (LEFT, RIGHT),
        Side::Resp => (RIGHT, LEFT),
    };
    let (seq, ack) = s.relative(isn);
    let mut label = format!("#{} {} ", s.frame, flag_names(s.flags));
    if s.len > 0 {
        let _ = write!(label, "{seq}:{} ({} B)", seq.wrapping_add(s.len), s.len);
    } else {
        let _ = write!(label, "{seq}");
    }
    if s.flags.ack() {
        let _ = write!(label, " ack {ack}");
    }
    if let Some(opts) = &s.options {
        let _ = write!(label, " · {opts}");
    }
    let t = s.ts.since(rec.first_ts);
    let kind = if s.flags.rst() {
        "rst"
    } else if s.flags.syn() || s.flags.fin() {
        "ctl"
    } else if s.len > 0 {
        "data"
    } else {
        "ack"
    };
    let _ = write!(
        o,
        r#"<g class="seg {kind}"><text class="t" x="8" y="{ty}">{:.6}</text><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#head-{id})"/><text class="lbl" x="{lx}" y="{ly}" text-anchor="middle">{}</text></g>"#,
        t.as_secs_f64(),
        esc(&label),
        ty = y + 4,
        y1 = y - 4,
        y2 = y + 6,
        lx = (LEFT + RIGHT) / 2,
        ly = y - 7,
        id = rec.id,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ListenerConfig;
    use crate::flow::FlowConfig;
    use crate::flow::testkit::replay_configured;
    use crate::testutil::fin_closed;

    /// No two state labels of one side are drawn at the same height: in the four-way close the
    /// server's FIN+ACK takes it to CLOSE-WAIT and on to LAST-ACK at once.
    #[test]
    fn state_labels_of_one_segment_are_stacked() {
        let cfg = FlowConfig {
            keep_transitions: true,
            ..FlowConfig::default()
        };
        let segs = fin_closed();
        let recs = replay_configured(&segs, cfg, ListenerConfig::default()).records;
        let rec = &recs[0];
        let drawn: Vec<LadderSegment> = segs
            .iter()
            .map(|s| {
                let side = if s.src == segs[0].src {
                    Side::Orig
                } else {
                    Side::Resp
                };
                LadderSegment::of(s, side)
            })
            .collect();
        let out = svg(rec, &drawn, &[]);
        let mut at: Vec<(String, String)> = Vec::new();
        for l in out.split("<text class=\"state\" ").skip(1) {
            let attr = |name: &str| {
                let from = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                l[from..from + l[from..].find('"').unwrap()].to_string()
            };
            at.push((attr("data-side"), attr("y")));
        }
        assert!(at.len() >= 10, "{at:?}");
        let mut unique = at.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), at.len(), "{at:?}");
        assert!(out.contains(">CLOSE-WAIT<") && out.contains(">LAST-ACK<"));
    }
}

//! The connection table's columns: each a title and the function that fills its cell.

use comfy_table::Cell;

use super::{ms, right, secs};
use crate::event::{ConnRecord, EndReason};
use crate::time::Timestamp;
use crate::wire::Side;

/// One column of the connection table: its title and how a record fills its cell (`start` is
/// the capture's first timestamp). Titles and cells come from one list, so they cannot drift.
pub(super) struct Column {
    /// The column's title.
    pub title: &'static str,
    /// The cell of one connection.
    pub cell: fn(&ConnRecord, Timestamp) -> Cell,
}

/// The connection table's columns, in order.
pub(super) const CONN_COLUMNS: &[Column] = &[
    Column {
        title: "id",
        cell: |c, _| match c.prev_id {
            Some(p) => Cell::new(format!("{} (reuses {p})", c.id)),
            None => Cell::new(c.id),
        },
    },
    Column {
        title: "originator",
        cell: |c, _| Cell::new(c.orig),
    },
    Column {
        title: "responder",
        cell: |c, _| Cell::new(c.resp),
    },
    Column {
        title: "start",
        cell: |c, start| right(secs(c.first_ts.since(start))),
    },
    Column {
        title: "duration",
        cell: |c, _| right(secs(c.duration())),
    },
    Column {
        title: "pkts →/←",
        cell: |c, _| {
            let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
            right(format!("{}/{}", o.packets, r.packets))
        },
    },
    Column {
        title: "bytes →/←",
        cell: |c, _| {
            let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
            right(format!("{}/{}", o.payload_bytes, r.payload_bytes))
        },
    },
    Column {
        title: "handshake ms",
        cell: |c, _| {
            let hs = &c.handshake;
            Cell::new(match (hs.syn_to_synack, hs.synack_to_ack) {
                (None, None) => "-".to_string(),
                (a, b) => format!("{} + {}", ms(a), ms(b)),
            })
        },
    },
    Column {
        title: "options",
        cell: |c, _| Cell::new(options(c)),
    },
    Column {
        title: "path →/←",
        cell: |c, _| Cell::new(path(c)),
    },
    Column {
        title: "final states",
        cell: |c, _| {
            Cell::new(format!(
                "{}\n{}",
                c.states[Side::Orig],
                c.states[Side::Resp]
            ))
        },
    },
    Column {
        title: "end",
        cell: |c, _| {
            let mut end = c.end_reason.map_or("-", EndReason::name).to_string();
            if !c.saw_start() {
                end.push_str(", midstream");
            }
            Cell::new(end)
        },
    },
    Column {
        title: "anomalies",
        cell: |c, _| {
            let list: Vec<String> = c
                .tally
                .counts
                .iter()
                .map(|(k, n)| {
                    if *n > 1 {
                        format!("{k}×{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            Cell::new(list.join("\n"))
        },
    },
];

/// Compact option summary: `mss 1460/1448 ws 7/7 sack ts`.
fn options(c: &ConnRecord) -> String {
    let (Some(o), r) = (c.half(Side::Orig).options, c.half(Side::Resp).options) else {
        return c
            .half(Side::Resp)
            .options
            .map_or("-".into(), |r| format!("resp mss {}", opt(r.mss)));
    };
    let mut s = match r {
        Some(r) => format!("mss {}/{}", opt(o.mss), opt(r.mss)),
        None => format!("mss {}", opt(o.mss)),
    };
    let both = |f: fn(&crate::tcp::SynOptions) -> bool| f(&o) && r.as_ref().is_none_or(f);
    if let Some(w) = o.wscale {
        match r.and_then(|r| r.wscale) {
            Some(rw) => s.push_str(&format!(" ws {w}/{rw}")),
            None if r.is_none() => s.push_str(&format!(" ws {w}")),
            None => {}
        }
    }
    if both(|x| x.sack_permitted) {
        s.push_str(" sack");
    }
    if both(|x| x.timestamps) {
        s.push_str(" ts");
    }
    if both(|x| x.ecn) {
        s.push_str(" ecn");
    }
    if o.tfo.is_some() {
        s.push_str(" tfo");
    }
    s
}

/// What each direction's headers said about the path, one fact a line: hops from each side
/// to the capture point (from its TTL), CE marks and their echoes when there were any, and
/// each side's mean throughput when it sent data.
fn path(c: &ConnRecord) -> String {
    let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
    let hops = |h: &crate::tcp::Half| h.initial_ttl().map_or("-".into(), |t| t.1.to_string());
    let mut lines = vec![format!("hops {}/{}", hops(o), hops(r))];
    if o.signals.ip_ce + r.signals.ip_ce > 0 {
        lines.push(format!(
            "ce {}/{} ece {}/{}",
            o.signals.ip_ce, r.signals.ip_ce, o.signals.ece, r.signals.ece
        ));
    }
    let rate = |h: &crate::tcp::Half| h.flow.throughput_avg().map_or("-".into(), human_rate);
    if o.flow.throughput_avg().is_some() || r.flow.throughput_avg().is_some() {
        lines.push(format!("{} / {}", rate(o), rate(r)));
    }
    lines.join("\n")
}

/// Bytes per second with a unit: `830 B/s`, `1.03 MB/s`.
fn human_rate(bps: u64) -> String {
    match bps {
        0..1_000 => format!("{bps} B/s"),
        1_000..1_000_000 => format!("{:.1} kB/s", bps as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} MB/s", bps as f64 / 1e6),
        _ => format!("{:.2} GB/s", bps as f64 / 1e9),
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testkit::replay;
    use crate::report::terminal::table;

    /// A connection closed by the FIN exchange, as the table hands it out.
    fn closed_record() -> ConnRecord {
        let segs = crate::testutil::fin_closed();
        replay(&segs).records.remove(0)
    }

    #[test]
    fn connection_table_titles_and_cells_line_up() {
        let c = closed_record();
        let cell = |title: &str| {
            let col = CONN_COLUMNS
                .iter()
                .find(|col| col.title == title)
                .unwrap_or_else(|| panic!("no column {title}"));
            (col.cell)(&c, c.first_ts).content()
        };
        assert_eq!(cell("id"), "1");
        assert_eq!(cell("originator"), "10.0.0.1:40000");
        assert_eq!(cell("responder"), "10.0.0.2:80");
        assert_eq!(cell("pkts →/←"), "4/2");
        assert_eq!(cell("handshake ms"), "10.00 + 10.00");
        assert_eq!(cell("final states"), "TIME-WAIT\nCLOSED");
        assert_eq!(cell("end"), "fin");
        assert_eq!(cell("path →/←"), "hops 0/0");
        assert_eq!(human_rate(1_034_621), "1.03 MB/s");
        assert_eq!(cell("anomalies"), "");
        // The rendered table has as many titles as each row has cells.
        let titles: Vec<&str> = CONN_COLUMNS.iter().map(|c| c.title).collect();
        let mut t = table(&titles);
        t.add_row(CONN_COLUMNS.iter().map(|col| (col.cell)(&c, c.first_ts)));
        let header = t.header().expect("a header").cell_count();
        let row = t.row(0).expect("a row").cell_count();
        assert_eq!((header, row), (titles.len(), titles.len()));
    }
}

//! The connection table's columns: each a title, how its cells give way to a narrow screen,
//! and the function that fills its cell; and the layouts the table takes as the screen narrows.

use comfy_table::Cell;

use super::fit::{Give, framed, min_width};
use super::{ms, right, secs};
use crate::event::{ConnRecord, EndReason};
use crate::time::Timestamp;
use crate::wire::Side;

/// One column of the connection table: its title and how a record fills its cell (`start` is
/// the capture's first timestamp). Titles and cells come from one list, so they cannot drift.
pub(super) struct Column {
    /// The column's title.
    pub title: &'static str,
    /// Whether its cells may wrap between words, or stay whole.
    pub give: Give,
    /// The cell of one connection.
    pub cell: fn(&ConnRecord, Timestamp) -> Cell,
}

const ID: Column = Column {
    title: "id",
    give: Give::Wrap,
    cell: |c, _| match c.prev_id {
        Some(p) => Cell::new(format!("{} (reuses {p})", c.id)),
        None => Cell::new(c.id),
    },
};
const ORIG: Column = Column {
    title: "originator",
    give: Give::Keep,
    cell: |c, _| Cell::new(c.orig),
};
const RESP: Column = Column {
    title: "responder",
    give: Give::Keep,
    cell: |c, _| Cell::new(c.resp),
};
const START: Column = Column {
    title: "start",
    give: Give::Keep,
    cell: |c, start| right(secs(c.first_ts.since(start))),
};
const DURATION: Column = Column {
    title: "duration",
    give: Give::Keep,
    cell: |c, _| right(secs(c.duration())),
};
const PKTS: Column = Column {
    title: "pkts →/←",
    give: Give::Keep,
    cell: |c, _| {
        let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
        right(format!("{}/{}", o.packets, r.packets))
    },
};
const BYTES: Column = Column {
    title: "bytes →/←",
    give: Give::Keep,
    cell: |c, _| {
        let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
        right(format!("{}/{}", o.payload_bytes, r.payload_bytes))
    },
};
const HANDSHAKE: Column = Column {
    title: "handshake ms",
    give: Give::Keep,
    cell: |c, _| {
        let hs = &c.handshake;
        Cell::new(match (hs.syn_to_synack, hs.synack_to_ack) {
            (None, None) => "-".to_string(),
            (a, b) => format!("{} + {}", ms(a), ms(b)),
        })
    },
};
const OPTIONS: Column = Column {
    title: "options",
    give: Give::Wrap,
    cell: |c, _| Cell::new(options(c)),
};
const PATH: Column = Column {
    title: "path →/←",
    give: Give::Keep,
    cell: |c, _| Cell::new(path(c)),
};
const STATES: Column = Column {
    title: "final states",
    give: Give::Keep,
    cell: |c, _| {
        Cell::new(format!(
            "{}\n{}",
            c.states[Side::Orig],
            c.states[Side::Resp]
        ))
    },
};
const END: Column = Column {
    title: "end",
    give: Give::Wrap,
    cell: |c, _| Cell::new(end(c)),
};
const ANOMALIES: Column = Column {
    title: "anomalies",
    give: Give::Wrap,
    cell: |c, _| Cell::new(anomalies(c)),
};
/// Originator above responder, each beside its final state.
const ENDPOINTS: Column = Column {
    title: "originator\nresponder",
    give: Give::Keep,
    cell: |c, _| Cell::new(format!("{}\n{}", c.orig, c.resp)),
};
/// The end reason, the anomalies below it.
const END_ANOMALIES: Column = Column {
    title: "end, anomalies",
    give: Give::Wrap,
    cell: |c, _| {
        let list = anomalies(c);
        Cell::new(if list.is_empty() {
            end(c)
        } else {
            format!("{}\n{list}", end(c))
        })
    },
};
/// Both final states, the end reason and how many kinds of anomaly, one under the other.
const STATES_END: Column = Column {
    title: "final states, end",
    give: Give::Wrap,
    cell: |c, _| {
        let count = match c.tally.counts.len() {
            0 => String::new(),
            1 => ", 1 anomaly".to_string(),
            n => format!(", {n} anomalies"),
        };
        Cell::new(format!(
            "{}\n{}\n{}{count}",
            c.states[Side::Orig],
            c.states[Side::Resp],
            end(c)
        ))
    },
};

/// Every column, in order: the table at any width with `--wide`, and whenever it fits.
pub(super) const CONN_COLUMNS: &[&Column] = &[
    &ID, &ORIG, &RESP, &START, &DURATION, &PKTS, &BYTES, &HANDSHAKE, &OPTIONS, &PATH, &STATES,
    &END, &ANOMALIES,
];

/// The layouts the table takes as the screen narrows, widest first: path, options, handshake ms,
/// start, bytes, packets and duration are dropped in that order; then originator and
/// responder share a column (one above the other, beside their final states); then the end
/// reason moves above the anomalies; last, the final states, the end reason and the number of
/// kinds of anomaly share one column.
/// README.md and man/tcpaudit.1 give the same order.
const LAYOUTS: &[&[&Column]] = &[
    CONN_COLUMNS,
    &[
        &ID, &ORIG, &RESP, &START, &DURATION, &PKTS, &BYTES, &HANDSHAKE, &OPTIONS, &STATES, &END,
        &ANOMALIES,
    ],
    &[
        &ID, &ORIG, &RESP, &START, &DURATION, &PKTS, &BYTES, &HANDSHAKE, &STATES, &END, &ANOMALIES,
    ],
    &[
        &ID, &ORIG, &RESP, &START, &DURATION, &PKTS, &BYTES, &STATES, &END, &ANOMALIES,
    ],
    &[
        &ID, &ORIG, &RESP, &DURATION, &PKTS, &BYTES, &STATES, &END, &ANOMALIES,
    ],
    &[
        &ID, &ORIG, &RESP, &DURATION, &PKTS, &STATES, &END, &ANOMALIES,
    ],
    &[&ID, &ORIG, &RESP, &DURATION, &STATES, &END, &ANOMALIES],
    &[&ID, &ORIG, &RESP, &STATES, &END, &ANOMALIES],
    &[&ID, &ENDPOINTS, &STATES, &END, &ANOMALIES],
    &[&ID, &ENDPOINTS, &STATES, &END_ANOMALIES],
    &[&ID, &ENDPOINTS, &STATES_END],
];

/// The widest layout whose columns fit `width` without splitting a kept cell or a word (the
/// narrowest when none does); every column when there is no width.
pub(super) fn layout<'r>(
    width: Option<u16>,
    rows: impl Iterator<Item = &'r ConnRecord> + Clone,
    start: Timestamp,
) -> &'static [&'static Column] {
    let Some(width) = width else {
        return CONN_COLUMNS;
    };
    // Each column's narrowest width, measured once however many layouts hold it.
    let mut measured: Vec<(*const Column, usize)> = Vec::new();
    let mut min = |col: &Column| {
        if let Some(&(_, w)) = measured.iter().find(|(p, _)| std::ptr::eq(*p, col)) {
            return w;
        }
        let cells: Vec<String> = rows
            .clone()
            .map(|c| (col.cell)(c, start).content())
            .collect();
        let w = min_width(
            cells.iter().map(String::as_str).chain([col.title]),
            col.give,
        );
        measured.push((col, w));
        w
    };
    for l in LAYOUTS {
        if framed(l.iter().map(|c| min(c))) <= width as usize {
            return l;
        }
    }
    LAYOUTS[LAYOUTS.len() - 1]
}

/// How the connection ended, and whether its start was seen.
fn end(c: &ConnRecord) -> String {
    let mut end = c.end_reason.map_or("-", EndReason::name).to_string();
    if !c.saw_start() {
        end.push_str(", midstream");
    }
    end
}

/// The anomaly ids of a connection (`id×n` when raised more than once), comma-separated.
fn anomalies(c: &ConnRecord) -> String {
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
    list.join(", ")
}

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
    let (os, rs) = (o.signals.rare(), r.signals.rare());
    if os.ip_ce + rs.ip_ce > 0 {
        lines.push(format!(
            "ce {}/{} ece {}/{}",
            os.ip_ce, rs.ip_ce, os.ece, rs.ece
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
        assert_eq!(
            (ENDPOINTS.cell)(&c, c.first_ts).content(),
            "10.0.0.1:40000\n10.0.0.2:80"
        );
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

    #[test]
    fn columns_give_way_in_the_documented_order() {
        let c = closed_record();
        let titles = |w: Option<u16>| -> Vec<&str> {
            layout(w, std::iter::once(&c), c.first_ts)
                .iter()
                .map(|col| col.title)
                .collect()
        };
        assert_eq!(titles(None).len(), CONN_COLUMNS.len());
        assert_eq!(titles(Some(250)).len(), CONN_COLUMNS.len());
        let at80 = titles(Some(80));
        assert!(
            !at80.contains(&"options") && at80.contains(&"final states"),
            "{at80:?}"
        );
        assert_eq!(
            titles(Some(70)),
            [
                "id",
                "originator",
                "responder",
                "final states",
                "end",
                "anomalies"
            ]
        );
        assert_eq!(
            titles(Some(60)),
            [
                "id",
                "originator\nresponder",
                "final states",
                "end",
                "anomalies"
            ]
        );
    }
}

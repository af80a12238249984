//! The terminal view of `tcpaudit live`, redrawn every refresh: the status line (rate, packets,
//! drops) first, then connections by state, the busiest listeners and the newest anomalies,
//! never taller or wider than the terminal. Lists that do not fit are cut, with `… N more`.

use std::collections::VecDeque;

use comfy_table::{
    Cell, CellAlignment, ContentArrangement, ContentLineStyle, LineStyle, Table, TableStyle,
};

use super::live::{LiveStatus, clock, detail_words, whom};
use super::terminal::{Give, fit};
use crate::detect::Anomaly;
use crate::wire::Endpoint;

/// Tables without outer borders: a header, a rule under it, one line per row.
const COMPACT: TableStyle = TableStyle::new()
    .header_lines(ContentLineStyle::none().junction('│'))
    .header_separator(LineStyle::none().fill('─').junction('┼'))
    .content_lines(ContentLineStyle::none().junction('│'));

/// The size of the terminal on standard output: columns and rows.
pub fn screen_size() -> Option<(u16, u16)> {
    #[cfg(unix)]
    {
        // SAFETY: an all-zero winsize is a valid value of this plain C struct.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize into `ws`, which lives across the call; on a
        // descriptor that is no terminal it fails and writes nothing.
        let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
    }
    #[cfg(not(unix))]
    None
}

/// One of the newest anomalies, as the view shows it.
struct Row {
    time: String,
    id: &'static str,
    /// The connection's four-tuple (`orig → resp`), or the listener.
    whom: String,
    /// Its details in words, whole; cut to the room the view has when drawn.
    detail: String,
}

/// The newest anomalies, for the terminal view.
#[derive(Default)]
pub struct Newest {
    rows: VecDeque<Row>,
}

impl Newest {
    /// Rows kept (the view shows as many as fit).
    const KEEP: usize = 8;

    /// Remembers an anomaly with its connection's endpoints when known (and forgets the
    /// oldest beyond eight).
    pub fn push(&mut self, a: &Anomaly, tuple: Option<(Endpoint, Endpoint)>) {
        self.rows.push_front(Row {
            time: clock(a.ts),
            id: a.kind.id(),
            whom: whom(a, tuple, false),
            detail: detail_words(&a.detail, 200),
        });
        self.rows.truncate(Self::KEEP);
    }
}

/// One section of the view: a table of its first `n` rows (row `i` is `heights[i]` lines).
struct Section {
    build: Box<dyn Fn(usize) -> Table>,
    heights: Vec<usize>,
}

/// A table of the view, `cols` wide at most.
fn compact(header: &[&str], cols: u16) -> Table {
    let mut t = Table::new();
    t.load_style(COMPACT)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(cols)
        .set_header(header.iter().map(Cell::new));
    t
}

fn right(text: impl ToString) -> Cell {
    Cell::new(text.to_string()).set_alignment(CellAlignment::Right)
}

/// `s` cut to `max` characters, between words, with `...` when something was left out.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for w in s.split(' ') {
        if out.chars().count() + w.chars().count() + 5 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.push_str(if out.is_empty() { "..." } else { " ..." });
    out
}

/// The status line: the first form that fits `cols` (the drop counters in every form).
fn status_line(s: &LiveStatus, interface: &str, backend: &str, cols: usize) -> String {
    let up = s.uptime as u64;
    let up = format!("{:02}:{:02}:{:02}", up / 3600, up / 60 % 60, up % 60);
    let forms = [
        format!(
            "tcpaudit live on {interface} ({backend}) · up {up} · {} packets ({:.0}/s) · {} \
             dropped by kernel, {} by interface · {} connections tracked, {} ended",
            s.packets, s.packets_per_s, s.dropped, s.if_dropped, s.tracked, s.ended
        ),
        format!(
            "tcpaudit live · {interface} · up {up} · {} pkts {:.0}/s · dropped {} kernel, {} \
             iface · {} tracked, {} ended",
            s.packets, s.packets_per_s, s.dropped, s.if_dropped, s.tracked, s.ended
        ),
        format!(
            "{interface} · up {up} · {} pkts {:.0}/s · dropped {} kernel, {} iface · {} tracked",
            s.packets, s.packets_per_s, s.dropped, s.if_dropped, s.tracked
        ),
        format!(
            "{interface} {up} · {} pkts {:.0}/s · drops {}/{} · {} conns",
            s.packets, s.packets_per_s, s.dropped, s.if_dropped, s.tracked
        ),
        // The drops first: what is cut from a very narrow terminal is the rest.
        format!(
            "drops {}/{} · {} pkts {:.0}/s · {up}",
            s.dropped, s.if_dropped, s.packets, s.packets_per_s
        ),
    ];
    let last = forms[forms.len() - 1].clone();
    forms
        .into_iter()
        .find(|f| f.chars().count() <= cols)
        .unwrap_or_else(|| last.chars().take(cols).collect())
}

/// The view of `status` for a terminal of `cols` × `rows`: at most `rows - 1` lines (the last
/// line stays free, so printing the view never scrolls its first line away), none wider than
/// `cols`.
pub fn render(
    status: &LiveStatus,
    interface: &str,
    backend: &str,
    newest: &Newest,
    (cols, rows): (u16, u16),
) -> String {
    let width = cols as usize;
    let budget = (rows as usize).saturating_sub(1).max(1);
    let mut sections: Vec<Section> = Vec::new();

    // Busiest first, so that what a cut list leaves out matters least.
    let mut states: Vec<(&str, u64, u64)> = status
        .states
        .iter()
        .map(|(name, c)| (*name, c.orig, c.resp))
        .collect();
    states.sort_by_key(|(_, o, r)| std::cmp::Reverse(o + r));
    if !states.is_empty() {
        sections.push(Section {
            heights: vec![1; states.len()],
            build: Box::new(move |n| {
                let mut t = compact(&["state", "originators", "responders"], cols);
                for (name, o, r) in states.iter().take(n) {
                    t.add_row(vec![Cell::new(name), right(o), right(r)]);
                }
                fit(&mut t, &[Give::Keep; 3]);
                t
            }),
        });
    }
    let listeners: Vec<[String; 4]> = status
        .listeners
        .iter()
        .map(|l| {
            let mut episode = Vec::new();
            if l.flood {
                episode.push("syn_flood");
            }
            if l.backlog {
                episode.push("half_open_backlog");
            }
            let addr = if l.addr.contains(':') {
                format!("[{}]:{}", l.addr, l.port)
            } else {
                format!("{}:{}", l.addr, l.port)
            };
            [
                addr,
                l.half_open.to_string(),
                format!("{:.1}", l.syn_rate),
                episode.join(", "),
            ]
        })
        .collect();
    if !listeners.is_empty() {
        sections.push(Section {
            heights: vec![1; listeners.len()],
            build: Box::new(move |n| {
                let mut t = compact(&["listener", "half-open", "SYN/s", "under way"], cols);
                for [a, h, r, e] in listeners.iter().take(n) {
                    t.add_row(vec![Cell::new(a), right(h), right(r), Cell::new(e)]);
                }
                fit(&mut t, &[Give::Keep, Give::Keep, Give::Keep, Give::Wrap]);
                t
            }),
        });
    }
    if !newest.rows.is_empty() {
        sections.push(anomaly_section(newest, cols));
    }

    // The anomaly counts so far: one line, cut between whole entries.
    let mut counts: Vec<(&str, u64)> = status.anomalies.iter().map(|(k, n)| (*k, *n)).collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let so_far = (!counts.is_empty()).then(|| {
        let mut line = String::from("Anomalies so far: ");
        for (i, c) in counts.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let rest = counts.len() - i;
            let more = if rest > 1 {
                format!(", … {} more", rest - 1)
            } else {
                String::new()
            };
            if line.chars().count() + sep.len() + c.chars().count() + more.chars().count() > width {
                line.push_str(&format!("{sep}… {rest} more"));
                break;
            }
            line.push_str(sep);
            line.push_str(c);
        }
        line
    });

    // Lines: the status line, the counts (with a blank line), and per section a blank line, its
    // header and rule, its rows and `… N more` when some are left out. Sections are taken while
    // their header fits; then each in turn is given its next row while the total fits.
    let fixed = 1 + if so_far.is_some() { 2 } else { 0 };
    let cost = |s: &Section, shown: usize| {
        let more = usize::from(shown < s.heights.len());
        3 + s.heights[..shown].iter().sum::<usize>() + more
    };
    let mut used = fixed;
    let mut kept: Vec<(Section, usize)> = Vec::new();
    for s in sections {
        if used + cost(&s, 0) > budget {
            break;
        }
        used += cost(&s, 0);
        kept.push((s, 0));
    }
    loop {
        let mut grew = false;
        for (s, shown) in kept.iter_mut() {
            if *shown < s.heights.len() {
                let more = used - cost(s, *shown) + cost(s, *shown + 1);
                if more <= budget {
                    used = more;
                    *shown += 1;
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }

    let mut out = vec![status_line(status, interface, backend, width)];
    for (s, n) in &kept {
        out.push(String::new());
        out.extend((s.build)(*n).lines().map(|l| l.trim_end().to_string()));
        if *n < s.heights.len() {
            out.push(format!(" … {} more", s.heights.len() - n));
        }
    }
    if let Some(line) = so_far {
        out.push(String::new());
        out.push(line);
    }
    let hint = "Ctrl-C ends the capture and prints the final report.";
    if out.len() + 2 <= budget && hint.len() <= width {
        out.push(String::new());
        out.push(hint.to_string());
    }
    // Whatever a table could not fit is cut here rather than wrapped by the terminal.
    out.truncate(budget);
    let mut text = String::new();
    for l in out {
        text.extend(l.chars().take(width));
        text.push('\n');
    }
    text
}

/// The newest anomalies: time, id, four-tuple and details on one line when the terminal is wide
/// enough, else the details under the four-tuple.
fn anomaly_section(newest: &Newest, cols: u16) -> Section {
    let rows: Vec<(String, &'static str, String, String)> = newest
        .rows
        .iter()
        .map(|r| (r.time.clone(), r.id, r.whom.clone(), r.detail.clone()))
        .collect();
    let widest = |f: fn(&(String, &'static str, String, String)) -> usize| {
        rows.iter().map(f).max().unwrap_or(0)
    };
    let (time, id, whom) = (
        widest(|r| r.0.chars().count()),
        widest(|r| r.1.len()).max(7),
        widest(|r| r.2.chars().count()).max(10),
    );
    // Columns padded by a space each side and separated by one rule character.
    let fixed = time + id + whom + 3 * 3;
    let one_line = fixed + 3 + 24 <= cols as usize;
    let room = if one_line {
        cols as usize - fixed - 3
    } else {
        (cols as usize).saturating_sub(time + id + 3 * 2 + 2)
    };
    // A four-tuple wider than its room breaks after the arrow, never inside an address.
    let split = !one_line && fixed - 1 > cols as usize;
    let rows: Vec<_> = rows
        .into_iter()
        .map(|(t, i, w, d)| {
            let w = if split {
                w.replacen(" → ", " →\n", 1)
            } else {
                w
            };
            (t, i, w, d)
        })
        .collect();
    let heights = rows
        .iter()
        .map(|r| r.2.lines().count() + usize::from(!one_line && !r.3.is_empty()))
        .collect();
    Section {
        heights,
        build: Box::new(move |n| {
            let header: &[&str] = if one_line {
                &["time", "anomaly", "connection", "detail"]
            } else {
                &["time", "anomaly", "connection, detail"]
            };
            let mut t = compact(header, cols);
            for (time, id, whom, detail) in rows.iter().take(n) {
                let detail = cut(detail, room);
                let mut row = vec![Cell::new(time), Cell::new(id)];
                if one_line {
                    row.extend([Cell::new(whom), Cell::new(detail)]);
                } else if detail.is_empty() {
                    row.push(Cell::new(whom));
                } else {
                    row.push(Cell::new(format!("{whom}\n{detail}")));
                }
                t.add_row(row);
            }
            fit(&mut t, &[Give::Keep; 4]);
            t
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AnomalyKind;
    use crate::report::live::{ListenerStatus, StateCount};
    use crate::time::Timestamp;

    fn busy_status() -> LiveStatus {
        let mut states = std::collections::BTreeMap::new();
        for name in [
            "ESTABLISHED",
            "SYN-SENT",
            "SYN-RECEIVED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "CLOSE-WAIT",
            "TIME-WAIT",
            "LAST-ACK",
        ] {
            states.insert(name, StateCount { orig: 12, resp: 3 });
        }
        let listeners = (0..5)
            .map(|i| ListenerStatus {
                addr: format!("10.0.0.{i}"),
                port: 443,
                half_open: 120,
                syn_rate: 950.5,
                flood: true,
                backlog: i % 2 == 0,
            })
            .collect();
        let anomalies = AnomalyKind::ALL
            .iter()
            .take(12)
            .map(|k| (k.id(), 3))
            .collect();
        LiveStatus {
            kind: "status",
            ts: Timestamp::EPOCH,
            uptime: 3725.0,
            packets: 123_456_789,
            packets_per_s: 45_678.0,
            tcp_segments: 123_000_000,
            received: 123_456_789,
            dropped: 1234,
            if_dropped: 5,
            tracked: 5000,
            ended: 100_000,
            states,
            listeners,
            anomalies,
        }
    }

    fn newest() -> Newest {
        let mut n = Newest::default();
        let orig = Endpoint::new("2001:db8:1::31e7".parse().unwrap(), 39320);
        let resp = Endpoint::new("2001:db8:2::4e".parse().unwrap(), 5432);
        for i in 0..8u64 {
            let mut a = Anomaly::new(AnomalyKind::Retransmission, i, Timestamp::EPOCH)
                .with("count", 3u64)
                .with("bytes", 1460u64);
            a.conn_id = Some(77);
            n.push(&a, Some((orig, resp)));
        }
        n
    }

    #[test]
    fn the_view_fits_the_terminal_with_the_status_line_first() {
        for (cols, rows) in [(80, 24), (200, 50), (60, 15), (100, 10), (40, 6), (20, 2)] {
            let text = render(&busy_status(), "eth0", "afpacket", &newest(), (cols, rows));
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.len() < rows as usize, "{cols}x{rows}: {text}");
            assert!(
                lines.iter().all(|l| l.chars().count() <= cols as usize),
                "{cols}x{rows}: {text}"
            );
            assert!(
                lines[0].contains("1234") && lines[0].contains("drop"),
                "{text}"
            );
            if rows >= 24 {
                assert!(text.contains("more"), "{cols}x{rows}: lists cut: {text}");
                // Addresses whole; on one line when there is room.
                assert!(
                    text.contains("[2001:db8:1::31e7]:39320 →")
                        && text.contains("[2001:db8:2::4e]:5432"),
                    "{cols}x{rows}: {text}"
                );
            }
            if cols >= 200 {
                assert!(
                    text.contains("[2001:db8:1::31e7]:39320 → [2001:db8:2::4e]:5432"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn details_are_cut_between_words() {
        assert_eq!(cut("count=3 bytes=1460 side=resp", 20), "count=3 ...");
        assert_eq!(cut("count=3", 20), "count=3");
    }
}

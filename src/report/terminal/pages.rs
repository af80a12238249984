//! Page loads in the terminal (`analyze --app`): per page, its phases in time order with a
//! waterfall bar, as a browser's network panel draws them, in 80 columns.

use std::io::{self, Write};

use crate::report::page::Page;
use crate::time::{Duration, Timestamp};

/// Pages printed at most.
pub const MAX_PAGES: usize = 10;
/// Width of the waterfall bar.
const BAR: usize = 20;

/// One line of a page: label, start, end, detail.
struct Phase {
    label: String,
    start: Timestamp,
    end: Timestamp,
    /// The part drawn as waiting (request sent to first byte), before the filled part.
    wait_until: Option<Timestamp>,
    detail: String,
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else {
        format!("{ms:.1} ms")
    }
}

/// A byte count in kB or MB past a thousand.
fn size(n: u64) -> String {
    match n {
        0..1000 => format!("{n}B"),
        1000..1_000_000 => format!("{:.0}kB", n as f64 / 1e3),
        _ => format!("{:.1}MB", n as f64 / 1e6),
    }
}

/// The phases of `p`, in time order.
fn phases(p: &Page) -> Vec<Phase> {
    let mut v = Vec::new();
    if let Some(l) = &p.lookup {
        let end = l.answer.map_or(l.query.ts, |a| a.ts);
        let detail = match (l.answer, &l.addrs[..]) {
            (None, _) => "no answer".to_string(),
            (Some(_), []) => l.rcode.unwrap_or("-").to_string(),
            (Some(_), a) => format!(
                "{}{}",
                a[0],
                if a.len() > 1 {
                    format!(" +{}", a.len() - 1)
                } else {
                    String::new()
                }
            ),
        };
        v.push(Phase {
            label: "dns".into(),
            start: l.query.ts,
            end,
            wait_until: None,
            detail,
        });
    }
    for c in &p.conns {
        v.push(Phase {
            label: format!("connect #{}", c.id),
            start: c.start,
            end: c.connected.unwrap_or(c.start),
            wait_until: None,
            detail: c.server.to_string(),
        });
        if let Some(t) = &c.tls {
            v.push(Phase {
                label: "tls".into(),
                start: t.start,
                end: t.done.unwrap_or(t.start),
                wait_until: None,
                detail: t.server_name.clone().unwrap_or_default(),
            });
        }
        for r in &c.requests {
            let label = format!(
                "{} {}",
                r.method.as_deref().unwrap_or("?"),
                r.uri.as_deref().unwrap_or("?")
            );
            let end = r
                .last_byte
                .or(r.first_byte)
                .or(r.request_end)
                .unwrap_or(r.sent);
            let detail = match (r.status, r.first_byte, r.request_end) {
                (Some(s), Some(f), Some(e)) => {
                    format!(
                        "{s} wait {} {}",
                        ms(f.since(e)).replace(' ', ""),
                        size(r.body)
                    )
                }
                (Some(s), _, _) => format!("{s} {}", size(r.body)),
                _ => "no response".into(),
            };
            v.push(Phase {
                label,
                start: r.sent,
                end,
                wait_until: r.first_byte,
                detail,
            });
        }
        v.push(Phase {
            label: format!("close #{}", c.id),
            start: c.end,
            end: c.end,
            wait_until: None,
            detail: format!(
                "{}{}",
                c.end_reason,
                c.closer
                    .map_or(String::new(), |s| format!(", {} first", s.name()))
            ),
        });
    }
    v.sort_by_key(|p| p.start);
    v
}

/// The waterfall bar of `ph` within [`from`, `to`].
fn bar(ph: &Phase, from: Timestamp, to: Timestamp) -> String {
    let span = to.since(from).as_nanos().max(1) as f64;
    let col = |t: Timestamp| {
        (((t.since(from).as_nanos() as f64 / span) * BAR as f64) as usize).min(BAR - 1)
    };
    let (a, b) = (col(ph.start), col(ph.end));
    let w = ph.wait_until.map(col);
    (0..BAR)
        .map(|i| match w {
            Some(w) if i >= a && i < w => '-',
            _ if i >= a && i <= b => '#',
            _ => ' ',
        })
        .collect()
}

/// Writes the first [`MAX_PAGES`] pages.
pub fn write_pages(
    out: &mut impl Write,
    pages: &[Page],
    capture_start: Timestamp,
) -> io::Result<()> {
    if pages.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nPage loads ({}{}): dns, connect, tls, requests, close\n\
         (bars: - waiting for the first byte, # under way)",
        pages.len(),
        if pages.len() > MAX_PAGES {
            format!("; the first {MAX_PAGES}, --format json has all")
        } else {
            String::new()
        }
    )?;
    for p in pages.iter().take(MAX_PAGES) {
        let (start, end) = (p.start(), p.end());
        writeln!(
            out,
            "\n{} from {}  at +{:.3} s, {}",
            p.name,
            p.client,
            start.since(capture_start).as_secs_f64(),
            ms(end.since(start))
        )?;
        for ph in phases(p) {
            let mut label = ph.label.clone();
            if label.chars().count() > 14 {
                label = label.chars().take(13).collect::<String>() + "…";
            }
            let detail: String = ph.detail.chars().take(20).collect();
            writeln!(
                out,
                "  {label:<14} +{:>7.1}ms {:>8} |{}| {detail}",
                ph.start.since(start).as_secs_f64() * 1e3,
                ms(ph.end.since(ph.start)),
                bar(&ph, start, end),
            )?;
        }
    }
    Ok(())
}

//! `-f zeek`: Zeek's ASCII log format (TSV with the `#separator`/`#fields`/`#types` header)
//! that `zeek-cut` and Zeek log readers take. The connections are a `conn.log` with Zeek's
//! columns in Zeek's order, then three of tcpaudit's (`community_id`, as Zeek's community-id
//! package adds it, `tcpaudit_id` and `tcpaudit_anomalies`); anomalies are an `anomaly.log`
//! shaped like Zeek's `weird.log` (with `-o DIR`: standard output holds one log).
//!
//! One row per connection record: where Zeek's own timers would split a record into several
//! rows (`zeek_rows` in JSON), the row carries the last one's `conn_state` and `history`.

use std::io::{self, Write};

use super::community_id::{TCP, community_id};
use super::iso_time::IsoTime;
use super::json::Nanos;
use super::live::detail_words;
use super::tuples::{OpenConns, Uid};
use super::{RunInfo, Sink};
use crate::analyzer::Summary;
use crate::detect::Anomaly;
use crate::event::{ConnRecord, Event};
use crate::time::Timestamp;
use crate::wire::{Endpoint, Side};

/// The conn.log columns and their Zeek types.
const CONN_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("ip_proto", "count"),
    ("community_id", "string"),
    ("tcpaudit_id", "count"),
    ("tcpaudit_anomalies", "set[string]"),
];

/// The anomaly.log columns (weird.log's, then tcpaudit's).
const ANOMALY_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("name", "string"),
    ("addl", "string"),
    ("notice", "bool"),
    ("peer", "string"),
    ("source", "string"),
    ("severity", "string"),
    ("tcpaudit_id", "count"),
    ("frame", "count"),
    ("community_id", "string"),
];

/// One Zeek log being written.
pub struct ZeekLog<W: Write> {
    out: W,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    header_written: bool,
    line: Vec<u8>,
}

impl<W: Write> ZeekLog<W> {
    fn new(out: W, path: &'static str, fields: &'static [(&'static str, &'static str)]) -> Self {
        ZeekLog {
            out,
            path,
            fields,
            header_written: false,
            line: Vec::with_capacity(512),
        }
    }

    /// The header, stamped with the first record's time (Zeek stamps the wall clock; a
    /// capture's own time makes runs over one capture identical).
    fn header(&mut self, at: Timestamp) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let names: Vec<&str> = self.fields.iter().map(|f| f.0).collect();
        let types: Vec<&str> = self.fields.iter().map(|f| f.1).collect();
        write!(
            self.out,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
             #path\t{}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
            self.path,
            zeek_date(at),
            names.join("\t"),
            types.join("\t")
        )
    }

    fn close(&mut self, at: Option<Timestamp>) -> io::Result<()> {
        let at = at.unwrap_or(Timestamp::EPOCH);
        self.header(at)?;
        writeln!(self.out, "#close\t{}", zeek_date(at))?;
        self.out.flush()
    }

    fn field(&mut self) -> &mut Vec<u8> {
        if !self.line.is_empty() {
            self.line.push(b'\t');
        }
        &mut self.line
    }

    fn unset(&mut self) {
        self.field().push(b'-');
    }

    fn num(&mut self, v: impl std::fmt::Display) {
        let _ = write!(self.field(), "{v}");
    }

    /// Seconds with six decimals, as Zeek writes `time` and `interval`.
    fn secs(&mut self, ns: i64) {
        let (s, us) = (
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000) / 1000,
        );
        let _ = write!(self.field(), "{s}.{us:06}");
    }

    /// A string, escaped as Zeek escapes them: the separator, backslash and non-printable
    /// bytes as `\xHH`, a value equal to the unset or empty marker escaped so it is not one.
    fn text(&mut self, v: &str) {
        let f = self.field();
        escape(f, v, false);
    }

    /// A set of strings: the members joined by the set separator (a comma inside a member
    /// escaped), `(empty)` for none.
    fn set<'s>(&mut self, members: impl Iterator<Item = &'s str>) {
        let f = self.field();
        let start = f.len();
        for (i, m) in members.enumerate() {
            if i > 0 {
                f.push(b',');
            }
            escape(f, m, true);
        }
        if f.len() == start {
            f.extend_from_slice(b"(empty)");
        }
    }

    fn addr(&mut self, e: Endpoint) {
        self.num(e.addr);
    }

    fn row(&mut self, at: Timestamp) -> io::Result<()> {
        self.header(at)?;
        self.line.push(b'\n');
        let r = self.out.write_all(&self.line);
        self.line.clear();
        r
    }
}

/// Appends `v` escaped for a Zeek ASCII log (and for a set member, its commas).
fn escape(f: &mut Vec<u8>, v: &str, in_set: bool) {
    if v.is_empty() {
        f.extend_from_slice(b"(empty)");
        return;
    }
    if v == "-" || v == "(empty)" {
        let _ = write!(f, "\\x{:02x}{}", v.as_bytes()[0], &v[1..]);
        return;
    }
    for &b in v.as_bytes() {
        if b == b'\\' || b == b'\t' || (in_set && b == b',') || !(0x20..0x7f).contains(&b) {
            let _ = write!(f, "\\x{b:02x}");
        } else {
            f.push(b);
        }
    }
}

/// `#open`/`#close` stamps: `YYYY-MM-DD-HH-MM-SS`.
fn zeek_date(t: Timestamp) -> String {
    let iso = IsoTime::exact(t).to_string();
    let (date, time) = iso.split_at(10);
    format!("{date}-{}", time[1..9].replace(':', "-"))
}

/// Writes a conn.log (and, given a second writer, an anomaly.log).
pub struct ZeekSink<W: Write> {
    conn: ZeekLog<W>,
    anomalies: Option<ZeekLog<W>>,
    open: OpenConns,
    seed: u16,
    left_out: u64,
}

impl<W: Write> ZeekSink<W> {
    /// A sink writing conn.log to `conn` and anomaly.log to `anomalies`, if given.
    pub fn new(conn: W, anomalies: Option<W>, seed: u16) -> Self {
        ZeekSink {
            conn: ZeekLog::new(conn, "conn", CONN_FIELDS),
            anomalies: anomalies.map(|w| ZeekLog::new(w, "anomaly", ANOMALY_FIELDS)),
            open: OpenConns::default(),
            seed,
            left_out: 0,
        }
    }

    fn connection(&mut self, c: &ConnRecord) -> io::Result<()> {
        let l = &mut self.conn;
        let (o, r) = (c.half(Side::Orig), c.half(Side::Resp));
        l.secs(c.first_ts.nanos());
        l.text(Uid::of(c.id, c.first_ts, c.orig, c.resp).text(&mut [0; Uid::LEN]));
        l.addr(c.orig);
        l.num(c.orig.port);
        l.addr(c.resp);
        l.num(c.resp.port);
        l.text("tcp");
        l.unset();
        // Zeek logs the duration and the byte counts only when the duration is positive.
        let d = c.duration().nanos();
        if d > 0 {
            l.secs(d);
            l.num(o.stream_bytes);
            l.num(r.stream_bytes);
        } else {
            l.unset();
            l.unset();
            l.unset();
        }
        l.text(c.zeek.conn_state());
        l.unset();
        l.unset();
        l.num(o.rare().missed_bytes + r.rare().missed_bytes);
        l.text(c.zeek.history());
        l.num(o.packets);
        l.num(o.ip_bytes);
        l.num(r.packets);
        l.num(r.ip_bytes);
        l.unset();
        l.num(TCP);
        l.text(&community_id(c.orig, c.resp, TCP, self.seed));
        l.num(c.id);
        l.set(c.tally.counts.iter().map(|(k, _)| k.id()));
        l.row(c.first_ts)
    }

    fn anomaly(&mut self, a: &Anomaly) -> io::Result<()> {
        let conn = self.open.get(a.conn_id);
        let Some(l) = self.anomalies.as_mut() else {
            self.left_out += 1;
            return Ok(());
        };
        l.secs(a.ts.nanos());
        match (a.conn_id, conn) {
            (Some(id), Some(c)) => {
                l.text(Uid::of(id, c.first_ts, c.orig, c.resp).text(&mut [0; Uid::LEN]));
                l.addr(c.orig);
                l.num(c.orig.port);
                l.addr(c.resp);
                l.num(c.resp.port);
            }
            _ => {
                l.unset();
                match a.listener {
                    // A listener's anomaly: its address as the responder, as weird.log
                    // names the host of a non-connection weird.
                    Some(e) => {
                        l.unset();
                        l.unset();
                        l.addr(e);
                        l.num(e.port);
                    }
                    None => (0..4).for_each(|_| l.unset()),
                }
            }
        }
        l.text(a.kind.id());
        let words = detail_words(&a.detail, usize::MAX);
        if words.is_empty() {
            l.unset();
        } else {
            l.text(&words);
        }
        l.text("F");
        l.text("tcpaudit");
        l.text("TCP");
        l.text(a.severity.name());
        match a.conn_id {
            Some(id) => l.num(id),
            None => l.unset(),
        }
        l.num(a.frame);
        match conn {
            Some(c) => l.text(&community_id(c.orig, c.resp, TCP, self.seed)),
            None => l.unset(),
        }
        l.row(a.ts)
    }

    /// Every log it writes: conn.log, then anomaly.log when it has one.
    fn logs(&mut self) -> impl Iterator<Item = &mut ZeekLog<W>> {
        std::iter::once(&mut self.conn).chain(self.anomalies.as_mut())
    }
}

impl<W: Write> Sink for ZeekSink<W> {
    fn event(&mut self, e: &Event<'_>) -> io::Result<()> {
        self.open.event(e);
        match e {
            Event::Closed(c) => self.connection(c),
            Event::Anomaly(a) => self.anomaly(a),
            Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) | Event::App(_) => {
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.logs().try_for_each(|l| l.out.flush())
    }

    fn finish(&mut self, summary: &Summary, _run: &RunInfo) -> io::Result<()> {
        // Records exist only when packets did, so the summary has the capture's last time.
        let end = summary.last_ts;
        self.logs().try_for_each(|l| l.close(end))?;
        if self.left_out > 0 {
            eprintln!(
                "tcpaudit: note: {} anomalies are not in conn.log alone (its rows list their \
                 ids); -o DIR writes anomaly.log beside it",
                self.left_out
            );
        }
        Ok(())
    }
}

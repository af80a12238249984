//! Ladder diagrams for a terminal. Layout (80 columns): relative time and delta, the
//! originator's state, the arrow between the lifelines, the responder's state.

use std::fmt::Write as _;

use super::*;
use crate::detect::{AnomalyKind, Severity};
use crate::event::ConnRecord;
use crate::tcp::TcpState;
use crate::time::Timestamp;
use crate::wire::{SeqNum, Side};

/// The glyphs of one style.
struct Glyphs {
    bar: char,
    line: char,
    right: char,
    left: char,
    arrow: &'static str,
    mu: &'static str,
    fold: &'static str,
    cut: &'static str,
    two_msl: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    bar: '│',
    line: '─',
    right: '▶',
    left: '◀',
    arrow: "→",
    mu: "µs",
    fold: "…",
    cut: "…",
    two_msl: "2·MSL",
};

const ASCII: Glyphs = Glyphs {
    bar: '|',
    line: '-',
    right: '>',
    left: '<',
    arrow: "->",
    mu: "us",
    fold: "...",
    cut: "~",
    two_msl: "2*MSL",
};

/// ANSI colour of a severity.
fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[33m",
        Severity::Notice => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

const STATE_COLOR: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// Draws the ladder of `rec` from its segments (in frame order) and the anomalies raised on
/// them, appending to `out`.
pub fn render(
    rec: &ConnRecord,
    segs: &[LadderSegment],
    marks: &[LadderMark],
    style: LadderStyle,
    out: &mut String,
) {
    let g = if style.ascii { &ASCII } else { &UNICODE };
    let d = Drawer {
        rec,
        segs,
        marks,
        style,
        g,
        isn: [Side::Orig, Side::Resp].map(|s| first_seq(segs, s)),
    };
    d.header(out);
    d.rows(out);
    d.footer(out);
}

struct Drawer<'a> {
    rec: &'a ConnRecord,
    segs: &'a [LadderSegment],
    marks: &'a [LadderMark],
    style: LadderStyle,
    g: &'a Glyphs,
    isn: [Option<SeqNum>; 2],
}

impl Drawer<'_> {
    fn header(&self, out: &mut String) {
        let r = self.rec;
        let title = format!(
            "#{} {} {} {}  {}  {}  {} s, {} segments{}",
            r.id,
            r.orig,
            self.g.arrow,
            r.resp,
            r.zeek.conn_state(),
            r.zeek.history(),
            r.duration(),
            self.segs.len(),
            r.prev_id
                .map(|p| format!(", reuses #{p}"))
                .unwrap_or_default(),
        );
        for (i, l) in wrap(&title, 79).into_iter().enumerate() {
            let _ = writeln!(out, "{}{l}", if i == 0 { "" } else { "    " });
        }
        let left = trim(&r.orig.to_string(), STATE_W + 1 + ARROW_W / 2, self.g.cut);
        let right = trim(&r.resp.to_string(), ARROW_W / 2 + STATE_W, self.g.cut);
        let lead = TIME_W + 1 + DELTA_W + 1;
        let _ = writeln!(
            out,
            "{:>tw$} {:>dw$} {:<lw$}{:>rw$}",
            "time",
            "delta",
            left,
            right,
            tw = TIME_W,
            dw = DELTA_W,
            lw = STATE_W + 1 + ARROW_W / 2,
            rw = ARROW_W - ARROW_W / 2 + STATE_W,
        );
        // The states the endpoints start in.
        let first = |side: Side| {
            self.rec
                .transitions
                .iter()
                .find(|t| t.side == side)
                .map_or(self.rec.states[side], |t| t.from)
        };
        let mut line = " ".repeat(lead);
        self.states_and_bars(&mut line, Some(first(Side::Orig)), Some(first(Side::Resp)));
        out.push_str(line.trim_end());
        out.push('\n');
    }

    /// `line` + the left state, a blank arrow (two lifelines) and the right state.
    fn states_and_bars(&self, line: &mut String, l: Option<TcpState>, r: Option<TcpState>) {
        self.left_state(line, l);
        line.push(' ');
        line.push(self.g.bar);
        line.push_str(&" ".repeat(ARROW_W - 2));
        line.push(self.g.bar);
        self.right_state(line, r);
    }

    fn left_state(&self, line: &mut String, s: Option<TcpState>) {
        let name = s.map_or("", TcpState::name);
        let pad = STATE_W.saturating_sub(name.len());
        line.push_str(&" ".repeat(pad));
        self.paint(line, name, STATE_COLOR);
    }

    fn right_state(&self, line: &mut String, s: Option<TcpState>) {
        if let Some(s) = s {
            line.push(' ');
            self.paint(line, s.name(), STATE_COLOR);
        }
    }

    fn paint(&self, line: &mut String, text: &str, color: &str) {
        if self.style.color && !text.is_empty() {
            line.push_str(color);
            line.push_str(text);
            line.push_str(RESET);
        } else {
            line.push_str(text);
        }
    }

    fn rows(&self, out: &mut String) {
        let mut prev_ts = self.rec.first_ts;
        for row in plan(self.rec, self.segs, self.marks) {
            match row {
                Row::Segment(i) => self.segment(i, &mut prev_ts, out),
                Row::Fold(r) => self.fold(r, out),
            }
        }
        // Changes caused by another record's segment: a new incarnation's SYN ending this
        // one's TIME-WAIT.
        for t in self
            .rec
            .transitions
            .iter()
            .filter(|t| !self.segs.iter().any(|s| s.frame == t.frame))
        {
            let mut line = format!(
                "{:>tw$} {:>dw$} ",
                secs6(t.ts.since(self.rec.first_ts)),
                human_delta(t.ts.since(prev_ts), self.g.mu),
                tw = TIME_W,
                dw = DELTA_W,
            );
            let (l, r) = match t.side {
                Side::Orig => (Some(t.to), None),
                Side::Resp => (None, Some(t.to)),
            };
            self.left_state(&mut line, l);
            line.push(' ');
            let text = trim(
                &format!("#{} (another record's)", t.frame),
                ARROW_W - 4,
                self.g.cut,
            );
            let _ = write!(
                line,
                "{} {text:<w$} {}",
                self.g.bar,
                self.g.bar,
                w = ARROW_W - 4
            );
            self.right_state(&mut line, r);
            out.push_str(&line);
            out.push('\n');
        }
    }

    /// One folded run: how many segments each way, the bytes, and the anomalies inside.
    fn fold(&self, range: std::ops::Range<usize>, out: &mut String) {
        let run = &self.segs[range];
        let (mut n, mut bytes) = ([0u64; 2], 0u64);
        for s in run {
            n[s.side.index()] += 1;
            bytes += s.len as u64;
        }
        let (first, last) = (run[0].frame, run[run.len() - 1].frame);
        let mut kinds: Vec<(AnomalyKind, u32)> = Vec::new();
        for m in self
            .marks
            .iter()
            .filter(|m| (first..=last).contains(&m.frame))
        {
            match kinds.iter_mut().find(|(k, _)| *k == m.kind) {
                Some((_, c)) => *c += 1,
                None => kinds.push((m.kind, 1)),
            }
        }
        let mut text = format!(
            "{f} {} segments ({} {}, {} {}), {}",
            run.len(),
            n[0],
            if self.style.ascii { "->" } else { "→" },
            n[1],
            if self.style.ascii { "<-" } else { "←" },
            human_bytes(bytes),
            f = self.g.fold,
        );
        for (k, c) in kinds {
            let _ = write!(text, ", {c} {}", k.id());
        }
        let _ = write!(text, " {}", self.g.fold);
        let lead = " ".repeat(TIME_W + 1 + DELTA_W + 1 + STATE_W + 1);
        for line in wrap(&text, 79 - lead.len()) {
            let _ = writeln!(out, "{lead}{line}");
        }
    }

    fn segment(&self, i: usize, prev_ts: &mut Timestamp, out: &mut String) {
        let s = &self.segs[i];
        let rel = s.ts.since(self.rec.first_ts);
        let delta = s.ts.since(*prev_ts);
        *prev_ts = s.ts;
        // A segment can move an endpoint twice (a FIN acknowledging the peer's FIN: CLOSE-WAIT,
        // then LAST-ACK): the first change goes beside the arrow, the others below it.
        let states = |side: Side| -> Vec<TcpState> {
            self.rec
                .transitions
                .iter()
                .filter(|t| t.frame == s.frame && t.side == side)
                .map(|t| t.to)
                .collect()
        };
        let (l, r) = (states(Side::Orig), states(Side::Resp));
        let mut line = format!(
            "{:>tw$} {:>dw$} ",
            secs6(rel),
            if i == 0 {
                String::new()
            } else {
                human_delta(delta, self.g.mu)
            },
            tw = TIME_W,
            dw = DELTA_W,
        );
        self.left_state(&mut line, l.first().copied());
        line.push(' ');
        line.push_str(&self.arrow(s));
        self.right_state(&mut line, r.first().copied());
        out.push_str(&line);
        out.push('\n');
        for k in 1..l.len().max(r.len()) {
            let mut line = " ".repeat(TIME_W + 1 + DELTA_W + 1);
            self.states_and_bars(&mut line, l.get(k).copied(), r.get(k).copied());
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if let Some(o) = &s.options {
            for text in wrap(o, ARROW_W - 4) {
                self.note(&text, None, out);
            }
        }
        for m in self.marks.iter().filter(|m| m.frame == s.frame) {
            let sev = (m.severity.name(), severity_color(m.severity));
            self.note(m.kind.id(), Some(sev), out);
        }
    }

    /// One line between the lifelines under an arrow, and optionally a word beside the right
    /// lifeline (an anomaly's severity).
    fn note(&self, text: &str, right: Option<(&str, &str)>, out: &mut String) {
        let inner = ARROW_W - 2;
        let text = trim(text, inner - 2, self.g.cut);
        let pad = inner - 2 - text.chars().count();
        let mut line = " ".repeat(TIME_W + 1 + DELTA_W + 1 + STATE_W + 1);
        line.push(self.g.bar);
        line.push(' ');
        match right {
            Some((_, color)) => self.paint(&mut line, &text, color),
            None => line.push_str(&text),
        }
        line.push_str(&" ".repeat(pad + 1));
        line.push(self.g.bar);
        if let Some((word, color)) = right {
            line.push(' ');
            self.paint(&mut line, word, color);
        }
        out.push_str(&line);
        out.push('\n');
    }

    /// The arrow of segment `s`, lifelines included: `│─ SYN 0 win 64240 ──▶│`.
    fn arrow(&self, s: &LadderSegment) -> String {
        let label = self.label(s);
        let inner = ARROW_W - 2;
        // Two line characters and the head frame the label.
        let label = trim(&label, inner - 5, self.g.cut);
        let fill = inner - 4 - label.chars().count();
        let line = |n: usize| self.g.line.to_string().repeat(n);
        let mut a = String::new();
        a.push(self.g.bar);
        if s.side == Side::Orig {
            a.push(self.g.line);
            a.push(' ');
            a.push_str(&label);
            a.push(' ');
            a.push_str(&line(fill));
            a.push(self.g.right);
        } else {
            a.push(self.g.left);
            a.push(' ');
            a.push_str(&label);
            a.push(' ');
            a.push_str(&line(fill));
            a.push(self.g.line);
        }
        a.push(self.g.bar);
        a
    }

    /// `#12 PSH+ACK 1:323 ack 1`: frame, flags, relative sequence (range when it carries
    /// data), relative acknowledgment, and `win 0` when the window is closed.
    fn label(&self, s: &LadderSegment) -> String {
        let rel = |n: SeqNum, side: Side| {
            self.isn[side.index()].map_or(n.0, |isn| n.0.wrapping_sub(isn.0))
        };
        let seq = rel(s.seq, s.side);
        let mut t = format!("#{} {} ", s.frame, flag_names(s.flags));
        if s.len > 0 {
            let _ = write!(t, "{}:{}", seq, seq.wrapping_add(s.len));
        } else {
            let _ = write!(t, "{seq}");
        }
        if s.flags.ack() {
            let _ = write!(t, " ack {}", rel(s.ack, s.side.other()));
        }
        // The window is on the SYN's note; afterwards only a zero window is news enough
        // for the arrow.
        if s.window == 0 && !s.flags.rst() && !s.flags.syn() {
            t.push_str(" win 0");
        }
        t
    }

    fn footer(&self, out: &mut String) {
        let r = self.rec;
        let mut line = String::from("end:");
        for (i, side) in [Side::Orig, Side::Resp].into_iter().enumerate() {
            let _ = write!(
                line,
                "{}{} {}",
                if i > 0 { ", " } else { " " },
                if side == Side::Orig { "orig" } else { "resp" },
                r.states[side].name()
            );
            if let Some((s, _, until)) = r.story.as_deref().and_then(|m| m.time_wait)
                && s == side
                && r.states[side] == TcpState::TimeWait
            {
                let _ = write!(
                    line,
                    " until +{} ({})",
                    secs3(until.since(r.first_ts)),
                    self.g.two_msl
                );
            }
        }
        if let Some(reason) = r.end_reason {
            let _ = write!(line, " (record: {})", reason.name());
        }
        for (i, l) in wrap(&line, 76).into_iter().enumerate() {
            let _ = writeln!(out, "{}{l}", if i == 0 { "  " } else { "    " });
        }
        let mut facts: Vec<String> = Vec::new();
        if let Some(rtt) = r.handshake.rtt {
            let rtt = human_delta(rtt, self.g.mu);
            facts.push(format!("handshake rtt {}", rtt.trim_start_matches('+')));
        }
        if let Some(m) = r.story.as_deref() {
            if let Some(k) = m.close(r.tally.has(AnomalyKind::SimultaneousClose)) {
                let who = m.active_closer().map_or("", Side::name);
                facts.push(format!(
                    "close {} ({} segments, {} closed first)",
                    k.name(),
                    k.segments(),
                    who
                ));
            } else if let Some(s) = m.active_closer() {
                facts.push(format!("{} sent the only FIN", s.name()));
            }
        }
        // What the IP headers said about the path, when there is something to say: a side
        // behind routers, congestion marks.
        for side in [Side::Orig, Side::Resp] {
            let h = r.half(side);
            if let Some((initial, hops)) = h.initial_ttl().filter(|t| t.1 > 0) {
                let ttl = h.ttl_max.unwrap_or(initial);
                facts.push(format!(
                    "{} {hops} hop{} away (ttl {ttl}, initial {initial})",
                    side.name(),
                    if hops == 1 { "" } else { "s" }
                ));
            }
            let ce = h.signals.rare().ip_ce;
            if ce > 0 {
                let echoes = r.half(side.other()).signals.rare().ece;
                facts.push(format!(
                    "{} ce-marked {ce} (echoed by {echoes} ece)",
                    side.name()
                ));
            }
        }
        let kinds: Vec<&str> = r.tally.counts.iter().map(|(k, _)| k.id()).collect();
        facts.push(if kinds.is_empty() {
            "no connection anomaly".to_string()
        } else {
            format!("anomalies: {}", kinds.join(", "))
        });
        for line in wrap(&facts.join("; "), 76) {
            let _ = writeln!(out, "  {line}");
        }
        if r.transition_count as usize > r.transitions.len() {
            let _ = writeln!(
                out,
                "  ({} state changes, the first {} shown)",
                r.transition_count,
                r.transitions.len()
            );
        }
    }
}

//! Reference outputs from ../shared/pcaps: tshark conversation tables (and later Zeek conn.log),
//! parsed and compared with tcpaudit's connections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tcpaudit::analyzer::{Analyzer, AnalyzerConfig, Summary};
use tcpaudit::capture::CaptureSet;
use tcpaudit::event::ConnRecord;
use tcpaudit::event::Event;
use tcpaudit::wire::Side;

/// The shared reference corpus, if present beside the repository.
pub fn shared_pcaps() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps");
    p.join("index.tsv").exists().then_some(p)
}

/// Capture paths listed in index.tsv.
pub fn corpus(root: &Path) -> Vec<PathBuf> {
    let index = std::fs::read_to_string(root.join("index.tsv")).expect("index.tsv");
    index
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|p| !p.is_empty())
        .map(|p| root.join(p))
        .collect()
}

/// Analyses one capture with the library; returns its connections, summary and errors.
pub fn analyse(path: &Path) -> (Vec<ConnRecord>, Summary, Vec<String>) {
    analyse_with_ports(path, tcpaudit::compat::LIKELY_SERVER_PORTS)
}

/// As [`analyse`], with Zeek's likely server ports set to `ports`.
pub fn analyse_with_ports(
    path: &Path,
    ports: &'static [u16],
) -> (Vec<ConnRecord>, Summary, Vec<String>) {
    analyse_with(path, ports, false)
}

/// As [`analyse`], with Zeek's likely server ports and checksum verification set.
pub fn analyse_with(
    path: &Path,
    ports: &'static [u16],
    verify_checksums: bool,
) -> (Vec<ConnRecord>, Summary, Vec<String>) {
    let mut set = CaptureSet::open(&[path.to_string_lossy().into_owned()]);
    // Every attempt becomes a connection record (no half-open cap), so four-tuples can be
    // compared one by one; the cap itself is tested on its own.
    let mut cfg = AnalyzerConfig::default();
    cfg.listeners.max_half_open_per_listener = u32::MAX;
    cfg.listeners.max_half_open_total = u32::MAX;
    cfg.detect.zeek_server_ports = ports;
    cfg.flow.segment_events = true;
    cfg.verify_checksums = verify_checksums;
    let mut a = Analyzer::new(cfg);
    let mut conns = Vec::new();
    let mut keep = |e: Event<'_>| {
        if let Event::Closed(c) = e {
            conns.push(c.clone());
        }
    };
    while let Some(p) = set.next_packet() {
        a.push(&p, &mut keep);
    }
    let s = a.finish(&mut keep);
    conns.sort_by_key(|c| c.id);
    let errors = set.errors().iter().map(|e| e.to_string()).collect();
    (conns, s, errors)
}

/// An unordered pair of endpoints as text, `a:port` sorted.
pub type Pair = (String, String);

fn pair(a: String, b: String) -> Pair {
    if a <= b { (a, b) } else { (b, a) }
}

/// One row of `tshark -z conv,tcp`: the pair and the frames each way (keyed by sending endpoint).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConvRow {
    /// Frames sent by the lower endpoint of the pair.
    pub from_lo: u64,
    /// Frames sent by the higher endpoint.
    pub from_hi: u64,
}

/// Parses a `.tshark-conv.txt` file into rows per endpoint pair.
pub fn parse_tshark_conv(text: &str) -> BTreeMap<Pair, Vec<ConvRow>> {
    let mut m: BTreeMap<Pair, Vec<ConvRow>> = BTreeMap::new();
    for line in text.lines() {
        let Some((a, rest)) = line.split_once("<->") else {
            continue;
        };
        let a = a.trim().to_string();
        let mut it = rest.split_whitespace();
        let Some(b) = it.next() else { continue };
        let f: Vec<&str> = it.collect();
        // "<-" frames, bytes, unit, "->" frames, ...: "<-" is B to A, "->" is A to B.
        let (Some(back), Some(fwd)) = (f.first(), f.get(3)) else {
            continue;
        };
        let (Ok(back), Ok(fwd)) = (
            back.replace(',', "").parse::<u64>(),
            fwd.replace(',', "").parse::<u64>(),
        ) else {
            continue;
        };
        let a = normalise(&a);
        let b = normalise(b);
        let (lo_is_a, p) = (a <= b, pair(a.clone(), b.clone()));
        let row = if lo_is_a {
            ConvRow {
                from_lo: fwd,
                from_hi: back,
            }
        } else {
            ConvRow {
                from_lo: back,
                from_hi: fwd,
            }
        };
        m.entry(p).or_default().push(row);
    }
    m
}

/// tshark prints `addr:port` (IPv6 without brackets); tcpaudit's endpoint text is the same after
/// dropping brackets.
fn normalise(ep: &str) -> String {
    ep.replace(['[', ']'], "")
}

/// tcpaudit's connections as conversation rows.
pub fn our_rows(conns: &[ConnRecord]) -> BTreeMap<Pair, Vec<ConvRow>> {
    let mut m: BTreeMap<Pair, Vec<ConvRow>> = BTreeMap::new();
    for c in conns {
        let o = normalise(&c.orig.to_string());
        let r = normalise(&c.resp.to_string());
        let (op, rp) = (c.halves[Side::Orig].packets, c.halves[Side::Resp].packets);
        let row = if o <= r {
            ConvRow {
                from_lo: op,
                from_hi: rp,
            }
        } else {
            ConvRow {
                from_lo: rp,
                from_hi: op,
            }
        };
        m.entry(pair(o, r)).or_default().push(row);
    }
    m
}

/// Whether two conversation tables agree: same endpoint pairs, and per pair the same rows, or the
/// sum of ours equal to tshark's single row (tshark merges a reused four-tuple into one row).
pub fn conv_agree(
    theirs: &BTreeMap<Pair, Vec<ConvRow>>,
    ours: &BTreeMap<Pair, Vec<ConvRow>>,
) -> Result<(), String> {
    for (p, t) in theirs {
        let Some(o) = ours.get(p) else {
            return Err(format!("missing {p:?} {t:?}"));
        };
        let mut ts = t.clone();
        let mut os = o.clone();
        ts.sort();
        os.sort();
        if ts == os {
            continue;
        }
        let sum = |v: &[ConvRow]| {
            v.iter()
                .fold((0, 0), |acc, r| (acc.0 + r.from_lo, acc.1 + r.from_hi))
        };
        if sum(&ts) == sum(&os) && (ts.len() == 1 || os.len() == 1) {
            continue;
        }
        return Err(format!("{p:?}: tshark {ts:?}, tcpaudit {os:?}"));
    }
    for p in ours.keys() {
        if !theirs.contains_key(p) {
            return Err(format!("extra {p:?} {:?}", ours[p]));
        }
    }
    Ok(())
}

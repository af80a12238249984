//! Runs over the fixtures that compare configurations which must not change the findings.

use crate::analyzer::AnalyzerConfig;
use crate::event::Event;

/// Every event of a run over `file`, as text; Zeek's view cleared from the records.
fn events_without_zeek(file: &std::path::Path, zeek_view: bool) -> Vec<String> {
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.keep_transitions = true;
    cfg.flow.zeek_view = zeek_view;
    let mut out = Vec::new();
    crate::run::run_capture(file, cfg, |e| {
        out.push(match e {
            Event::Closed(c) => {
                let mut c = c.clone();
                assert_eq!(c.zeek.rows.is_empty(), !zeek_view, "{}", file.display());
                c.zeek = Default::default();
                format!("closed {c:?}")
            }
            e => format!("{e:?}"),
        });
    });
    out
}

/// Runs whose outputs do not show Zeek's view do not emulate it: that must change nothing
/// else, on any record, anomaly or state change of any fixture.
#[test]
fn leaving_out_zeeks_view_changes_nothing_else() {
    let mut events = 0;
    for file in crate::testutil::fixture_captures() {
        let with = events_without_zeek(&file, true);
        let without = events_without_zeek(&file, false);
        assert_eq!(with, without, "{}", file.display());
        events += with.len();
    }
    assert!(events > 10_000, "{events}");
}

/// Every event of a run over `file` as text, with every connection that has shown one segment
/// kept as that segment, or none; and how many were.
fn events_compacting(file: &std::path::Path, compact: bool) -> (Vec<String>, u64) {
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.keep_transitions = true;
    cfg.flow.compact = compact;
    cfg.flow.compact_syns_from = 0;
    cfg.flow.compact_from = 0;
    let mut out = Vec::new();
    let summary = crate::run::run_capture(file, cfg, |e| out.push(format!("{e:?}")));
    (out, summary.flows.lone_kept)
}

/// Keeping every connection that has shown only the segment that opened it as that segment,
/// and rebuilding it when it is next needed, changes no record, anomaly or state change of any
/// fixture (debug builds also compare each rebuilt connection with the one it replaced, field
/// for field).
#[test]
fn keeping_lone_segments_as_themselves_changes_nothing() {
    let (mut kept, mut events) = (0, 0);
    for file in crate::testutil::fixture_captures() {
        let (full, none_kept) = events_compacting(&file, false);
        let (compact, n) = events_compacting(&file, true);
        assert_eq!(none_kept, 0, "{}", file.display());
        assert_eq!(full, compact, "{}", file.display());
        kept += n;
        events += full.len();
    }
    assert!(
        kept > 1_000,
        "{kept} connections kept as their first segment"
    );
    assert!(events > 10_000, "{events}");
}

/// Every event of a run over `file` as text, with every closed connection kept encoded until
/// it is next needed, or none; and how many times one was.
fn events_freezing(file: &std::path::Path, freeze: bool) -> (Vec<String>, (u64, u64)) {
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.keep_transitions = true;
    cfg.flow.freeze_from = if freeze { 0 } else { u32::MAX };
    let mut out = Vec::new();
    let summary = crate::run::run_capture(file, cfg, |e| out.push(format!("{e:?}")));
    (out, (summary.flows.frozen, summary.flows.thawed))
}

/// Keeping every closed connection encoded while it waits out its end, and decoding it when
/// it is next needed, changes no record, anomaly or state change of any fixture (debug builds
/// also compare each decoded connection with the one encoded, field for field).
#[test]
fn keeping_closed_connections_encoded_changes_nothing() {
    let (mut frozen, mut thawed, mut events) = (0, 0, 0);
    for file in crate::testutil::fixture_captures() {
        let (full, none) = events_freezing(&file, false);
        let (encoded, (n, back)) = events_freezing(&file, true);
        assert_eq!(none, (0, 0), "{}", file.display());
        assert_eq!(full, encoded, "{}", file.display());
        frozen += n;
        thawed += back;
        events += full.len();
    }
    assert!(frozen > 200, "{frozen} connections encoded");
    assert!(thawed > 4, "{thawed} decoded for a segment");
    assert!(events > 10_000, "{events}");
}

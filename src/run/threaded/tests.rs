//! The runs on several threads give the one thread's events.

use crate::analyzer::{Analyzer, AnalyzerConfig};
use crate::capture::CaptureSet;
use crate::event::Event;
use crate::run::copied::Copied;
use crate::run::{RunOptions, run, run_offline};

/// Every event of a run over `file` on `threads` threads, as text, with Zeek's view and the
/// stories kept; only those a records-only emitter reads when `records_only`.
fn events(file: &std::path::Path, threads: usize, records_only: bool) -> Vec<String> {
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.keep_transitions = true;
    cfg.flow.zeek_view = true;
    let mut set = CaptureSet::open(&[file.display().to_string()]);
    let mut out = Vec::new();
    let mut emit = |e: Event<'_>| {
        if !records_only || Copied::written(&e) {
            out.push(format!("{e:?}"));
        }
        Ok(())
    };
    let opts = RunOptions {
        records_only,
        ..RunOptions::default()
    };
    let analyzer = Analyzer::new(cfg);
    if threads == 1 {
        run(&mut set, analyzer, &mut emit, opts).unwrap();
    } else {
        run_offline(&mut set, analyzer, &mut emit, opts, threads).unwrap();
    }
    out
}

/// On every fixture, the engine on a thread of its own with the records written on another
/// (the finished records handed over, the openings rebuilt: on a third thread, or with two on
/// the reading thread between its batches) gives the events one thread gives, in the same
/// order, field for field; and so does the two-thread run that writes every event on the
/// engine's thread.
#[test]
fn records_written_apart_are_the_one_threads() {
    let (mut n, mut opened, mut flipped) = (0, 0, 0);
    for file in crate::testutil::fixture_captures() {
        let one = events(&file, 1, true);
        assert_eq!(events(&file, 3, true), one, "{}", file.display());
        assert_eq!(events(&file, 2, true), one, "{}", file.display());
        assert_eq!(
            events(&file, 2, false),
            events(&file, 1, false),
            "{}",
            file.display()
        );
        n += one.len();
        opened += one.iter().filter(|e| e.starts_with("Opened")).count();
        flipped += one.iter().filter(|e| e.starts_with("StateChanged")).count();
    }
    assert!(
        n > 5_000 && opened > 1_000 && flipped > 0,
        "{n} {opened} {flipped}"
    );
}

/// Two threads read plain files in place, whichever thread writes the output; with one the
/// analysis runs beside a reading thread, and with three or more the cores are enough for one.
#[test]
fn plain_files_are_read_in_place_on_two_threads() {
    use crate::capture::ReadAhead;
    assert_eq!(crate::run::read_ahead(1), ReadAhead::All);
    assert_eq!(crate::run::read_ahead(2), ReadAhead::Compressed);
    assert_eq!(crate::run::read_ahead(3), ReadAhead::All);
}

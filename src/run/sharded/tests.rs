//! A run split among shards writes what one table writes.

use crate::analyzer::{Analyzer, AnalyzerConfig, Summary};
use crate::capture::CaptureSet;
use crate::event::Event;
use crate::run::copied::Copied;
use crate::run::{RunOptions, Split, run, run_offline};

/// The events a records-only emitter reads of a run over `file` on `threads` threads (one
/// table for 1), as text, with Zeek's view and the stories kept; the summary's figures that
/// do not depend on how the run was split; how it was split.
fn events(file: &std::path::Path, threads: usize) -> (Vec<String>, String, Split) {
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.keep_transitions = true;
    cfg.flow.zeek_view = true;
    let name = file.display().to_string();
    let mut set = CaptureSet::open(std::slice::from_ref(&name));
    let mut again = || CaptureSet::open(std::slice::from_ref(&name));
    let mut out = Vec::new();
    let mut emit = |e: Event<'_>| {
        if Copied::written(&e) {
            out.push(format!("{e:?}"));
        }
        Ok(())
    };
    let opts = RunOptions {
        records_only: true,
        again: Some(&mut again),
        ..RunOptions::default()
    };
    let analyzer = Analyzer::new(cfg);
    let done = if threads == 1 {
        run(&mut set, analyzer, &mut emit, opts).unwrap()
    } else {
        run_offline(&mut set, analyzer, &mut emit, opts, threads).unwrap()
    };
    (out, figures(&done.summary), done.split)
}

/// The summary without the resource figures (a split run's are the shards' sums) and with
/// the per-listener maps in order.
fn figures(s: &Summary) -> String {
    let mut flows = s.flows;
    (
        flows.peak_memory_bytes,
        flows.peak_tracked,
        flows.reassembly_peak_bytes,
    ) = (0, 0, 0);
    (flows.frozen, flows.thawed, flows.lone_kept) = (0, 0, 0);
    let mut by_listener: Vec<_> = s.anomalies_by_listener.iter().collect();
    by_listener.sort();
    format!(
        "{} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
        s.packets,
        s.wire_bytes,
        s.decode,
        flows,
        s.end_reasons,
        s.top_listeners(usize::MAX),
        s.other_listeners,
        s.anomaly_events,
        s.anomaly_occurrences,
        by_listener,
        s.one_sided,
        s.isn_hosts,
        s.aggregated_attempts,
    )
}

/// On every fixture, two and four shards give the events one table gives, in the same order,
/// field for field (records numbered as one table numbers them, listener anomalies where one
/// table raises them), and the same summary but for the resource figures. Most fixtures are
/// split; those that are not were analysed again on one table, and say why.
#[test]
fn shards_write_what_one_table_writes() {
    let (mut files, mut split, mut n) = (0, 0, 0);
    for file in crate::testutil::fixture_captures() {
        let one = events(&file, 1);
        for threads in [3, 5] {
            let (events, figures, how) = events(&file, threads);
            assert_eq!(events, one.0, "{} on {threads} threads", file.display());
            assert_eq!(figures, one.1, "{} on {threads} threads", file.display());
            match how.undone {
                None => {
                    assert_eq!(how.shards, threads - 1, "{}", file.display());
                    split += 1;
                }
                Some(why) => assert!(!why.is_empty()),
            }
        }
        files += 2;
        n += one.0.len();
    }
    assert!(split * 10 >= files * 9, "{split} of {files} runs split");
    assert!(n > 5_000, "{n}");
}

/// Both directions of a connection go to one shard, and connections spread evenly over the
/// shards, whether many clients talk to a few servers over IPv4 or IPv6.
#[test]
fn both_directions_go_to_one_shard_and_the_shards_share_the_load() {
    use super::shard_of;
    use crate::wire::Endpoint;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    for v6 in [false, true] {
        let mut counts = [0u32; 4];
        for i in 0..40_000u32 {
            let (client, server): (IpAddr, IpAddr) = if v6 {
                (
                    Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i % 500)).into(),
                    Ipv6Addr::from(0x2001_0db8_u128 << 96 | 0xffff_0000 | u128::from(i % 7)).into(),
                )
            } else {
                (
                    Ipv4Addr::from(0x0a00_0000 + i % 500).into(),
                    Ipv4Addr::new(172, 16, 0, (i % 7) as u8).into(),
                )
            };
            let a = Endpoint::new(client, 1024 + (i % 60_000) as u16);
            let b = Endpoint::new(server, 443);
            let k = shard_of((a, b), 4);
            assert_eq!(k, shard_of((b, a), 4));
            counts[k] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}

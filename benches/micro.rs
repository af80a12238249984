//! Micro-benchmarks of the three stages a packet goes through: decoding a frame into a TCP
//! segment, the reference state machine, and the whole connection table (every rule, both
//! emulations, reassembly, timers), and the same with every closed connection frozen.
//! `cargo bench --bench micro`; figures are per frame.
//!
//! The inputs are the generated fixture `fixtures/generated/mixed.pcap` (349 connections of
//! every scenario the generator knows, 7,635 frames), read into memory once, so that
//! nothing here waits on a file.

use divan::{Bencher, black_box, counter::ItemsCount};
use tcpaudit::analyzer::{Analyzer, AnalyzerConfig};
use tcpaudit::capture::CaptureSet;
use tcpaudit::tcp::Machine;
use tcpaudit::wire::{Decoder, OwnedPacket, Side};

fn main() {
    divan::main();
}

/// The fixture's frames.
fn frames() -> Vec<OwnedPacket> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/generated/mixed.pcap");
    let mut set = CaptureSet::open(&[path.to_string()]);
    let mut out = Vec::new();
    while let Some(p) = set.next_packet() {
        out.push(OwnedPacket::of(&p));
    }
    assert!(set.errors().is_empty(), "{path}: {:?}", set.errors());
    assert!(out.len() > 1000, "{path}: only {} frames", out.len());
    out
}

/// Link, IP and TCP headers and options, checksums included.
#[divan::bench]
fn decode(b: Bencher) {
    let frames = frames();
    let mut decoder = Decoder::new();
    b.counter(ItemsCount::new(frames.len())).bench_local(|| {
        let mut n = 0u32;
        for (i, f) in frames.iter().enumerate() {
            let pkt = f.packet();
            if let Some(seg) = decoder.decode(&pkt, i as u64 + 1) {
                n += seg.payload_len;
            }
        }
        black_box(n)
    });
}

/// The reference state machine over one connection's segments at a time: each segment
/// decoded, then applied (the decoding alone is the `decode` figure).
#[divan::bench]
fn state_machine(b: Bencher) {
    let frames = frames();
    let mut decoder = Decoder::new();
    b.counter(ItemsCount::new(frames.len())).bench_local(|| {
        // One machine per four-tuple, found by a linear search over a few recent ones,
        // so that the figure is the machine's and not a hash map's.
        let mut open: Vec<((u16, u16), u16, Machine)> = Vec::new();
        let mut changes = 0u32;
        for (i, f) in frames.iter().enumerate() {
            let pkt = f.packet();
            let Some(seg) = decoder.decode(&pkt, i as u64 + 1) else {
                continue;
            };
            let ports = (seg.sport.min(seg.dport), seg.sport.max(seg.dport));
            match open.iter_mut().find(|(p, _, _)| *p == ports) {
                Some((_, orig_port, m)) => {
                    let from = if seg.sport == *orig_port {
                        Side::Orig
                    } else {
                        Side::Resp
                    };
                    m.on_segment(&seg, from, false, &mut |_| changes += 1);
                }
                None => {
                    if open.len() == 64 {
                        open.remove(0);
                    }
                    open.push((ports, seg.sport, Machine::new(&seg)));
                }
            }
        }
        black_box(changes)
    });
}

/// Everything `tcpaudit analyze` does between reading a frame and writing a record.
#[divan::bench]
fn flow_table(b: Bencher) {
    let frames = frames();
    b.counter(ItemsCount::new(frames.len())).bench_local(|| {
        let mut analyzer = Analyzer::new(AnalyzerConfig::default());
        let mut events = 0u64;
        for f in &frames {
            analyzer.push(&f.packet(), &mut |_| events += 1);
        }
        let summary = analyzer.finish(&mut |_| events += 1);
        black_box((events, summary.packets))
    });
}

/// `flow_table` with every closed connection frozen a second after it closes and decoded when
/// next needed (`FlowConfig::freeze_from` 0; by default only when memory is short): the
/// difference is what freezing costs (an encoding and a decoding per connection).
#[divan::bench]
fn flow_table_freezing(b: Bencher) {
    let frames = frames();
    let mut cfg = AnalyzerConfig::default();
    cfg.flow.freeze_from = 0;
    b.counter(ItemsCount::new(frames.len())).bench_local(|| {
        let mut analyzer = Analyzer::new(cfg);
        let mut events = 0u64;
        for f in &frames {
            analyzer.push(&f.packet(), &mut |_| events += 1);
        }
        let summary = analyzer.finish(&mut |_| events += 1);
        black_box((events, summary.flows.frozen, summary.packets))
    });
}

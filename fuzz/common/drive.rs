//! Bytes in, a whole analysis out: the drivers the fuzz targets and the mutation test in
//! `tests/integration/mutation.rs` share. Each goes through the public library API the way
//! `tcpaudit analyze` does (reader, decoder, connection table, rules, application layer, the
//! JSON and table sinks) and must return for any input: a panic is the bug being looked for.
//!
//! A selector byte varies the configuration (tiny caps and timeouts, byte-keeping reassembly,
//! stories, checksums), so that the paths behind the limits are reached as often as the
//! defaults.

#![allow(dead_code)] // Each target uses one driver.

use std::io::{self, Cursor};
use std::net::{IpAddr, Ipv4Addr};

use tcpaudit::analyzer::{Analyzer, AnalyzerConfig};
use tcpaudit::capture::{CaptureFile, CaptureSet};
use tcpaudit::event::Event;
use tcpaudit::proto::{AppConfig, AppLayer, At, ConnRef};
use tcpaudit::report::{InputFile, JsonSink, RunInfo, Sink, TableSink};
use tcpaudit::time::{Duration, Timestamp};
use tcpaudit::wire::{Datagram, Endpoint, LinkType, Packet, Side};

/// The analysis configuration selector `sel` picks (bit by bit).
pub fn config(sel: u8) -> AnalyzerConfig {
    let mut cfg = AnalyzerConfig {
        app: AppConfig {
            enabled: sel & 1 == 0,
            ..AppConfig::default()
        },
        ..AnalyzerConfig::default()
    };
    if sel & 2 != 0 {
        // Every cap tiny: eviction, aggregation and given-up streams on a few packets.
        cfg.flow.max_connections = 4;
        cfg.flow.max_stream_buffer = 64;
        cfg.flow.max_reassembly_memory = 256;
        cfg.listeners.max_half_open_per_listener = 2;
        cfg.listeners.max_half_open_total = 3;
        cfg.app.max_message = 64;
        cfg.app.max_pending_dns = 2;
        cfg.app.max_pending_requests = 2;
    }
    if sel & 4 != 0 {
        // Timeouts of milliseconds: connections end and come back between frames.
        cfg.flow.idle_timeout = Duration::from_millis(50);
        cfg.flow.attempt_timeout = Duration::from_millis(20);
        cfg.flow.handshake_timeout = Duration::from_millis(20);
        cfg.flow.half_closed_timeout = Duration::from_millis(30);
        cfg.detect.msl = Duration::from_millis(5);
        cfg.app.dns_timeout = Duration::from_millis(10);
    }
    cfg.flow.keep_bytes = sel & 8 != 0;
    cfg.flow.keep_transitions = sel & 16 != 0;
    cfg.flow.segment_events = sel & 16 != 0;
    cfg.flow.segment_stream = sel & 32 != 0;
    cfg.verify_checksums = sel & 64 != 0;
    if sel & 128 != 0 {
        // Every connection held in its compact forms as soon as it may be: rebuilt from its
        // first segment, or decoded once closed, whenever it is next needed (debug builds
        // compare each with the connection it replaced).
        cfg.flow.compact_syns_from = 0;
        cfg.flow.compact_from = 0;
        cfg.flow.freeze_from = 0;
    }
    cfg
}

/// Both sinks the command line writes to, writing nowhere.
struct Sinks {
    json: JsonSink<io::Sink>,
    table: TableSink<io::Sink>,
}

impl Sinks {
    fn new() -> Self {
        Sinks {
            json: JsonSink::new(io::sink()),
            table: TableSink::new(io::sink(), Some(20)),
        }
    }

    fn event(&mut self, e: &Event<'_>) {
        // Writing to `io::sink` cannot fail; the formatting is what is exercised.
        let _ = self.json.event(e);
        let _ = self.table.event(e);
    }
}

/// Reads the capture file images in `files` as one capture merged by time (as `analyze A B`
/// does) and analyses it with configuration `sel`.
pub fn captures(files: &[&[u8]], sel: u8) {
    let mut set = CaptureSet::default();
    let mut errors = Vec::new();
    for (i, bytes) in files.iter().enumerate() {
        let reader = Box::new(Cursor::new(bytes.to_vec()));
        match CaptureFile::from_reader(&format!("input{i}"), reader, false) {
            Ok(f) => set.push(f),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut analyzer = Analyzer::new(config(sel));
    let mut sinks = Sinks::new();
    while let Some(pkt) = set.next_packet() {
        analyzer.push(&pkt, &mut |e| sinks.event(&e));
    }
    let summary = analyzer.finish(&mut |e| sinks.event(&e));
    let run = RunInfo {
        files: InputFile::all(&set),
        errors: set
            .errors()
            .iter()
            .map(|e| e.to_string())
            .chain(errors)
            .collect(),
        skipped_records: set.files().iter().map(|f| f.skipped_records()).sum(),
        ..RunInfo::default()
    };
    let _ = sinks.json.finish(&summary, &run);
    let _ = sinks.table.finish(&summary, &run);
}

/// Link types the decoder reads, for [`frames`].
const LINK_TYPES: [u32; 14] = [0, 1, 9, 12, 14, 51, 101, 105, 108, 113, 127, 228, 239, 276];

/// The capture's time before the first frame of [`frames`]: 2023-11-14.
const T0: Timestamp = Timestamp::from_secs_nanos(1_700_000_000, 0);

/// A frame sequence without a file around it, straight into the decoder and connection table:
/// byte 0 selects the configuration, byte 1 the link type; then each frame is a 2-byte
/// big-endian length, a time byte and the frame's bytes. Time bytes below 240 add that many
/// milliseconds; the others make the clock jump (to zero, to the ends of the range, a year
/// back or ahead, a second back), so absurd times keep being tried.
pub fn frames(data: &[u8]) {
    let [sel, lt, rest @ ..] = data else {
        return;
    };
    let link_type = LinkType(LINK_TYPES[*lt as usize % LINK_TYPES.len()]);
    let mut analyzer = Analyzer::new(config(*sel));
    let mut sinks = Sinks::new();
    let mut now = T0;
    let mut rest = rest;
    while let [hi, lo, dt, tail @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (frame, after) = tail.split_at(len);
        rest = after;
        let year = Duration::from_secs(365 * 86_400);
        now = match dt {
            0..240 => now + Duration::from_millis(i64::from(*dt)),
            240 => Timestamp::EPOCH,
            241 => Timestamp::MIN,
            242 => Timestamp::MAX,
            243 => now - year,
            244 => now + year,
            245 => now - Duration::from_secs(1),
            246 => Timestamp::from_nanos(-1),
            247 => Timestamp::from_secs_nanos(i64::from(u32::MAX), 0),
            _ => now,
        };
        let pkt = Packet {
            ts: now,
            link_type,
            data: frame,
            orig_len: (len as u32).saturating_add(u32::from(*dt & 3) * 100),
        };
        analyzer.push(&pkt, &mut |e| sinks.event(&e));
        if dt % 16 == 15 {
            analyzer.tick(now + Duration::from_secs(1), &mut |e| sinks.event(&e));
        }
    }
    let summary = analyzer.finish(&mut |e| sinks.event(&e));
    let _ = sinks.json.finish(&summary, &RunInfo::default());
    let _ = sinks.table.finish(&summary, &RunInfo::default());
}

/// Ports the application-layer driver picks from: DNS, HTTP, TLS and others.
const PORTS: [u16; 8] = [53, 80, 443, 8080, 5353, 853, 8443, 1234];

/// Application-layer parsers (DNS, TLS, HTTP framing, cookies, sessions) without TCP: byte 0
/// selects the limits; then each operation is an opcode byte, a 2-byte length and its bytes:
/// a UDP datagram either way, stream bytes from either side of one of four connections, a gap,
/// a close, or time moving on.
pub fn app_layer(data: &[u8]) {
    let [sel, rest @ ..] = data else {
        return;
    };
    let mut cfg = config(*sel).app;
    cfg.enabled = true;
    let mut app = AppLayer::new(cfg);
    let client = |i: u8| {
        Endpoint::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + i % 2)),
            40000 + u16::from(i),
        )
    };
    let server = |op: u8| {
        Endpoint::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            PORTS[usize::from(op >> 5)],
        )
    };
    let mut now = T0;
    let mut frame = 0u64;
    let mut rest = rest;
    while let [op, hi, lo, tail @ ..] = rest {
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        rest = after;
        frame += 1;
        now = now + Duration::from_millis(i64::from(*lo & 15));
        let conn = op >> 3 & 3;
        let c = ConnRef {
            id: u64::from(conn),
            orig: client(conn),
            resp: server(*op),
            rtt: (op & 4 != 0).then(|| Duration::from_millis(3)),
        };
        let at = At { ts: now, frame };
        match op & 7 {
            0 | 1 => {
                let (src, dst) = if op & 1 == 0 {
                    (c.orig, c.resp)
                } else {
                    (c.resp, c.orig)
                };
                app.udp(
                    &Datagram {
                        ts: now,
                        frame,
                        src,
                        dst,
                    },
                    bytes,
                );
            }
            2..=4 => {
                let side = if op & 7 == 3 { Side::Resp } else { Side::Orig };
                app.data(c, side, at, bytes);
            }
            5 => app.gap(
                c.id,
                if op & 8 == 0 { Side::Orig } else { Side::Resp },
                len as u64,
            ),
            6 => {
                let _ = app.in_flight(c.id);
                app.close(c.id);
            }
            _ => {
                now = now + Duration::from_secs(i64::from(*hi));
                app.advance(now);
            }
        }
        // Records are taken as the connection table takes them.
        app.take().for_each(drop);
    }
    app.finish();
    let _ = app.stats();
    app.take().for_each(drop);
}

/// A whole capture file analysed on one table, then on two threads (the records written on the
/// reading thread, `--threads 2`), then with its connections split among two and three shards
/// (`--threads 3` and `4`): the events a line-per-record output reads must come out the same, in
/// the same order, field for field, whether the split run kept its assumptions or went back to
/// one table. The selector varies the configuration as for [`captures`] (tiny caps and
/// millisecond timeouts make shards' assumptions fail and connections end at every other frame),
/// but for the application layer, which a split run leaves on one table.
pub fn split(bytes: &[u8], sel: u8) {
    use tcpaudit::run::{RunOptions, run_offline};
    let mut cfg = config(sel);
    cfg.app.enabled = false;
    let open = || {
        let mut set = CaptureSet::default();
        let reader = Box::new(Cursor::new(bytes.to_vec()));
        if let Ok(f) = CaptureFile::from_reader("input", reader, false) {
            set.push(f);
        }
        set
    };
    let events = |threads: usize| {
        let mut out = Vec::new();
        let mut emit = |e: Event<'_>| {
            let ignored = matches!(e, Event::Segment(..))
                || matches!(e, Event::StateChanged(r, _) if !r.flipped);
            if !ignored {
                out.push(format!("{e:?}"));
            }
            Ok(())
        };
        let mut again = open;
        let opts = RunOptions {
            records_only: true,
            again: Some(&mut again),
            ..RunOptions::default()
        };
        let _ = run_offline(&mut open(), Analyzer::new(cfg), &mut emit, opts, threads);
        out
    };
    let one = events(1);
    for threads in [2, 3, 4] {
        assert_eq!(events(threads), one, "{threads} threads");
    }
}

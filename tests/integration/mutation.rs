//! A deterministic mutation loop on the stable toolchain: the project's small capture fixtures,
//! truncated, bit-flipped, with record and IP length fields garbled, record times made absurd
//! and blocks spliced in from other fixtures, through the whole analysis in process (the same
//! drivers as the cargo-fuzz targets in fuzz/). This debug build checks integer overflow, so
//! an overflow is a panic here too. Any panic fails the test with the seed, the case number,
//! the fixture and the mutations, and the input is written out to replay.
//!
//! The fuzz targets' crash inputs kept in fuzz/regressions/ are replayed first.
//!
//! `TCPAUDIT_MUTATION_SEED` and `TCPAUDIT_MUTATIONS` (cases; default 1500) change the run;
//! the loop also stops after `TCPAUDIT_MUTATION_SECS` seconds (default 12) on a slow machine.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../../fuzz/common/drive.rs"]
mod drive;

/// The default seed: any fixed value makes every run try the same cases.
const SEED: u64 = 0x7cb1_a0d1_7000_0001;

/// SplitMix64: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// A field worth garbling: `width` bytes at `at`.
#[derive(Clone, Copy, Debug)]
struct Field {
    at: usize,
    width: usize,
    big_endian: bool,
    time: bool,
}

/// Where a capture image's records lie and which of their fields hold lengths and times.
#[derive(Default)]
struct Layout {
    /// Byte ranges of the records (pcap) or blocks (pcapng) after the file header.
    blocks: Vec<(usize, usize)>,
    fields: Vec<Field>,
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

/// The fields of an Ethernet/IPv4/TCP frame at `at`: IP header length, total length, TCP data
/// offset.
fn frame_fields(b: &[u8], at: usize, len: usize, f: &mut Vec<Field>) {
    let frame = b.get(at..).unwrap_or_default();
    let frame = &frame[..len.min(frame.len())];
    if frame.len() < 34 || frame[12..14] != [8, 0] {
        return;
    }
    let be = |off: usize, width| Field {
        at: at + off,
        width,
        big_endian: true,
        time: false,
    };
    f.push(be(14, 1));
    f.push(be(16, 2));
    let ihl = usize::from(frame[14] & 15) * 4;
    if frame[23] == 6 && frame.len() >= 14 + ihl + 13 {
        f.push(be(14 + ihl + 12, 1));
    }
}

/// Walks a classic pcap or a pcapng image (not gzip) as far as it holds together.
fn layout(b: &[u8]) -> Layout {
    let mut l = Layout::default();
    let magic = b.get(..4).unwrap_or_default();
    if [[0xd4, 0xc3, 0xb2, 0xa1], [0x4d, 0x3c, 0xb2, 0xa1]]
        .iter()
        .any(|m| magic == m)
        || [[0xa1, 0xb2, 0xc3, 0xd4], [0xa1, 0xb2, 0x3c, 0x4d]]
            .iter()
            .any(|m| magic == m)
    {
        let be = magic[0] == 0xa1;
        let mut at = 24;
        while let Some(cap) = u32_at(b, at + 8, be) {
            let end = at + 16 + cap as usize;
            for (off, time) in [(0, true), (4, false), (8, false), (12, false)] {
                l.fields.push(Field {
                    at: at + off,
                    width: 4,
                    big_endian: be,
                    time,
                });
            }
            frame_fields(b, at + 16, cap as usize, &mut l.fields);
            l.blocks.push((at, end.min(b.len())));
            at = end;
        }
    } else if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut at = 0;
        let mut be = false;
        while u32_at(b, at + 4, be).is_some() {
            if b.get(at..at + 4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
                be = b.get(at + 8..at + 12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
            }
            let Some(len) = u32_at(b, at + 4, be).filter(|&n| n >= 12) else {
                break;
            };
            let end = at + len as usize;
            l.fields.push(Field {
                at: at + 4,
                width: 4,
                big_endian: be,
                time: false,
            });
            l.fields.push(Field {
                at: end - 4,
                width: 4,
                big_endian: be,
                time: false,
            });
            if u32_at(b, at, be) == Some(6) {
                for (off, time) in [(12, true), (16, false), (20, false), (24, false)] {
                    l.fields.push(Field {
                        at: at + off,
                        width: 4,
                        big_endian: be,
                        time,
                    });
                }
                frame_fields(b, at + 28, (len as usize).saturating_sub(32), &mut l.fields);
            }
            l.blocks.push((at, end.min(b.len())));
            at = end;
        }
    }
    l.fields.retain(|f| f.at + f.width <= b.len());
    l
}

/// Applies one random mutation to `b` (with `other`, another fixture, to splice from) and says
/// what it did.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>, other: &[u8]) -> String {
    let l = layout(b);
    match rng.below(8) {
        0 if !b.is_empty() => {
            let at = rng.below(b.len());
            b.truncate(at);
            format!("truncate at {at}")
        }
        1 if !b.is_empty() => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let at = rng.below(b.len());
                b[at] ^= 1 << rng.below(8);
            }
            format!("flip {n} bits")
        }
        2 | 3 if !l.fields.is_empty() => {
            let f = l.fields[rng.below(l.fields.len())];
            let raw = &b[f.at..f.at + f.width];
            let read = |v: u64, &x: &u8| v << 8 | u64::from(x);
            let old = if f.big_endian {
                raw.iter().fold(0, read)
            } else {
                raw.iter().rev().fold(0, read)
            };
            let max = u64::MAX >> (64 - 8 * f.width);
            let new = match rng.below(8) {
                0 => 0,
                1 => max,
                2 => max / 2 + 1,
                3 => old.wrapping_add(1) & max,
                4 => old.wrapping_sub(1) & max,
                5 => old.wrapping_add(4 << rng.below(12)) & max,
                6 => old.wrapping_mul(2) & max,
                _ => rng.next() & max,
            };
            let mut field = new.to_be_bytes()[8 - f.width..].to_vec();
            if !f.big_endian {
                field.reverse();
            }
            b[f.at..f.at + f.width].copy_from_slice(&field);
            let what = if f.time { "time" } else { "length" };
            format!("{what} field at {}: {old:#x} -> {new:#x}", f.at)
        }
        4 if l.fields.iter().any(|f| f.time) => {
            // Records' times made absurd: the seconds (pcap) or high word (pcapng) zeroed,
            // maxed, given the sign bit, or moved by years.
            let times: Vec<Field> = l.fields.iter().copied().filter(|f| f.time).collect();
            let mut what = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let f = times[rng.below(times.len())];
                let raw: [u8; 4] = b[f.at..f.at + 4].try_into().unwrap_or_default();
                let old = if f.big_endian {
                    u32::from_be_bytes(raw)
                } else {
                    u32::from_le_bytes(raw)
                };
                let new = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x8000_0000 | old,
                    3 => old.wrapping_sub((2 * 31_536_000) >> rng.below(8)),
                    4 => old.wrapping_add((40 * 31_536_000) >> rng.below(8)),
                    _ => old ^ 1 << (16 + rng.below(16)),
                };
                let bytes = if f.big_endian {
                    new.to_be_bytes()
                } else {
                    new.to_le_bytes()
                };
                b[f.at..f.at + 4].copy_from_slice(&bytes);
                what.push(format!("time at {}: {old:#x} -> {new:#x}", f.at));
            }
            what.join(", ")
        }
        5 if !l.blocks.is_empty() => {
            let o = layout(other);
            let (s, e) = if o.blocks.is_empty() {
                let s = rng.below(other.len());
                (s, (s + rng.below(512)).min(other.len()))
            } else {
                o.blocks[rng.below(o.blocks.len())]
            };
            let (at, _) = l.blocks[rng.below(l.blocks.len())];
            b.splice(at..at, other[s..e].iter().copied());
            format!("splice {} bytes of another fixture at {at}", e - s)
        }
        6 if l.blocks.len() > 1 => {
            let (s, e) = l.blocks[rng.below(l.blocks.len())];
            let copy = b[s..e].to_vec();
            let (at, _) = l.blocks[rng.below(l.blocks.len())];
            b.splice(at..at, copy);
            format!("repeat block {s}..{e} at {at}")
        }
        _ if !b.is_empty() => {
            let at = rng.below(b.len());
            let n = (1 + rng.below(16)).min(b.len() - at);
            let v = [0u8, 0xff, 0x7f, 0x80][rng.below(4)];
            b[at..at + n].fill(v);
            format!("set {n} bytes at {at} to {v:#x}")
        }
        _ => "none".to_string(),
    }
}

/// The small capture fixtures, by path, in a fixed order.
fn fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = p.to_string_lossy();
            if p.is_dir() {
                dirs.push(p);
            } else if [".pcap", ".pcapng", ".gz"]
                .iter()
                .any(|x| name.ends_with(x))
                && e.metadata().is_ok_and(|m| m.len() <= 64 << 10)
            {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f`; the panic message if it panicked.
fn panics(f: impl FnOnce()) -> Option<String> {
    let e = panic::catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    )
}

#[test]
fn fuzz_regressions_replay_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut failures = Vec::new();
    let mut n = 0;
    for target in ["capture", "merged", "frames", "app", "split"] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for e in dir.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            n += 1;
            let run = || match target {
                "capture" => drive::captures(&[&data], data.last().copied().unwrap_or(0)),
                "merged" => {
                    let cut = data
                        .get(..2)
                        .map_or(0, |h| usize::from(h[0]) << 8 | usize::from(h[1]));
                    let rest = data.get(2..).unwrap_or_default();
                    let (a, b) = rest.split_at(cut.min(rest.len()));
                    drive::captures(&[a, b], data.last().copied().unwrap_or(0))
                }
                "frames" => drive::frames(&data),
                "split" => drive::split(&data, data.last().copied().unwrap_or(0)),
                _ => drive::app_layer(&data),
            };
            if let Some(msg) = panics(run) {
                failures.push(format!("{}: {msg}", e.path().display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{n} inputs, panics:\n{}",
        failures.join("\n")
    );
}

#[test]
fn mutated_fixtures_never_panic() {
    let seed = env_or("TCPAUDIT_MUTATION_SEED", SEED);
    let cases = env_or("TCPAUDIT_MUTATIONS", 1500u64);
    let budget = Duration::from_secs(env_or("TCPAUDIT_MUTATION_SECS", 12));
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "{} fixtures", fixtures.len());
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut done = 0;
    for case in 0..cases {
        if started.elapsed() > budget {
            break;
        }
        done += 1;
        let mut rng = Rng(seed ^ case.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let (path, original) = &fixtures[rng.below(fixtures.len())];
        let other = &fixtures[rng.below(fixtures.len())].1;
        let mut input = original.clone();
        let steps: Vec<String> = (0..1 + rng.below(4))
            .map(|_| mutate(&mut rng, &mut input, other))
            .collect();
        let sel = rng.next() as u8;
        // Most cases read one file; some merge it with another fixture, feed its bytes to the
        // frame-sequence and application-layer drivers, or compare one table with a run split
        // among shards (a panic there is a difference).
        let how = rng.below(8);
        let msg = panics(|| match how {
            0 => drive::captures(&[&input, other], sel),
            1 => drive::frames(&input),
            2 => drive::app_layer(&input),
            3 => drive::split(&input, sel),
            _ => drive::captures(&[&input], sel),
        });
        if let Some(msg) = msg {
            let out = std::env::temp_dir().join(format!("tcpaudit-mutation-{seed:x}-{case}"));
            let _ = std::fs::write(&out, &input);
            failures.push(format!(
                "seed {seed:#x} case {case} ({}, driver {how}, selector {sel:#x}): {}: {msg}\n  \
                 input: {}",
                path.display(),
                steps.join("; "),
                out.display()
            ));
            if failures.len() >= 10 {
                break;
            }
        }
    }
    eprintln!(
        "{done} mutated cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(done >= 200 || !failures.is_empty(), "only {done} cases ran");
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

//! Captures whose frames carry absurd timestamps: a zero time, a negative one (pcapng high
//! bits), `u32::MAX` seconds, a nanosecond pcapng time in 2500, a clock stepping back years.
//! Each once overflowed the RTT estimator or the Wireshark emulation (a panic in this debug
//! build, nonsense such as a 292-year RTT in a release build). Now the frame is counted as a
//! capture clock fault, analysed at the capture's time, and every RTT stays what the other
//! frames say.

use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// The capture's real time: 2023-11-14 22:13:20 UTC, in microseconds.
const T0_US: u64 = 1_700_000_000_000_000;

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

/// One connection over 2 s: handshake, two data segments each acknowledged 10 ms later, then
/// a FIN exchange; (microseconds after [`T0_US`], IP datagram).
fn connection() -> Vec<(u64, Vec<u8>)> {
    let c = |seq, ack, flags, payload: &[u8]| {
        ipv4_tcp(CLIENT, SERVER, 40000, 80, seq, ack, flags, payload)
    };
    let s = |seq, ack, flags| ipv4_tcp(SERVER, CLIENT, 80, 40000, seq, ack, flags, &[]);
    let data = [7u8; 100];
    vec![
        (0, c(1000, 0, "S", &[])),
        (10_000, s(5000, 1001, "SA")),
        (20_000, c(1001, 5001, "A", &[])),
        (30_000, c(1001, 5001, "PA", &data)),
        (40_000, s(5001, 1101, "A")),
        (1_000_000, c(1101, 5001, "PA", &data)),
        (1_010_000, s(5001, 1201, "A")),
        (2_000_000, c(1201, 5001, "FA", &[])),
        (2_010_000, s(5001, 1202, "FA")),
        (2_020_000, c(1202, 5002, "A", &[])),
    ]
}

/// The frames with absolute times in nanoseconds, frame `at` replaced by `ts_ns`.
fn with_time(at: usize, ts_ns: u64) -> Vec<(u64, Vec<u8>)> {
    let mut frames: Vec<(u64, Vec<u8>)> = connection()
        .into_iter()
        .map(|(us, f)| ((T0_US + us) * 1000, f))
        .collect();
    frames[at].0 = ts_ns;
    frames
}

/// A little-endian pcapng file with one raw-IP interface whose timestamps are nanoseconds
/// (`if_tsresol` 9), frames stamped with the given 64-bit unit counts.
fn write_pcapng_ns(path: &Path, frames: &[(u64, Vec<u8>)]) {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = 12 + body.len().next_multiple_of(4);
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + body.len().next_multiple_of(4) - body.len(), 0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    let mut b = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut b, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&101u16.to_le_bytes()); // LINKTYPE_RAW
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    // if_tsresol = 9 (nanoseconds), then opt_endofopt.
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    block(&mut b, 1, &idb);
    for (units, f) in frames {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*units as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut b, 6, &epb);
    }
    std::fs::write(path, b).unwrap();
}

/// Analyses `frames` (nanosecond times) written as a microsecond pcap, or as a nanosecond
/// pcapng with `pcapng`; returns the summary and the one connection record.
fn analyse(frames: &[(u64, Vec<u8>)], pcapng: bool) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(if pcapng { "t.pcapng" } else { "t.pcap" });
    if pcapng {
        write_pcapng_ns(&path, frames);
    } else {
        let us: Vec<(u64, Vec<u8>)> = frames
            .iter()
            .map(|(ns, f)| (ns / 1000, f.clone()))
            .collect();
        write_pcap(&path, 101, &us);
    }
    let (code, records, stderr) = analyze_json(&[&path]);
    assert_eq!(code, 0, "exit {code} (101 is a panic): {stderr}");
    let conns = connections(&records);
    assert_eq!(conns.len(), 1, "{records:?}");
    (summary(&records), conns[0].clone())
}

/// Seconds of a JSON time or duration field (null as 0).
fn secs(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// The RTTs are those the plausible frames give: every sample 10 ms (the handshake's legs
/// too), or up to `max_ms` for a frame analysed at the time of the capture before it; the
/// capture spans its 2.02 s.
fn assert_sane(summary: &Value, conn: &Value, faults: u64, max_ms: f64) {
    assert_eq!(summary["clock_faults"], faults, "{summary}");
    let t0 = (T0_US / 1_000_000) as f64;
    // The first frame's time, or the second's when the first was the fault.
    assert!((secs(&summary["first_ts"]) - t0).abs() < 0.011, "{summary}");
    assert!(
        (secs(&summary["last_ts"]) - t0 - 2.02).abs() < 1e-3,
        "{summary}"
    );
    for side in ["orig", "resp"] {
        let h = &conn[side];
        for f in ["rtt_min", "rtt_avg", "rtt_max", "srtt", "rttvar"] {
            let v = secs(&h[f]);
            assert!(
                (0.0..=max_ms / 1e3 + 1e-9).contains(&v),
                "{side}.{f} = {v}: {h}"
            );
        }
        let rto = secs(&h["rto"]);
        assert!(
            rto == 0.0 || (1.0..1.0 + 5.0 * max_ms / 1e3).contains(&rto),
            "{side}.rto = {rto}"
        );
    }
    let rtt = secs(&conn["handshake"]["rtt"]);
    assert!(
        (0.0..=max_ms / 1e3 + 0.010_000_001).contains(&rtt),
        "handshake rtt {rtt}"
    );
    let duration = secs(&conn["duration"]);
    assert!((0.0..=2.03).contains(&duration), "duration {duration}");
}

#[test]
fn clock_fault_zero_time_on_a_data_segment() {
    // The first data segment at the epoch: its ACK 53 years later was an RTT sample whose
    // 7/8 weighting overflowed with the next sample.
    let (s, c) = analyse(&with_time(3, 0), false);
    assert_sane(&s, &c, 1, 20.0);
}

#[test]
fn clock_fault_negative_time_from_pcapng_high_bits() {
    // Bit 63 of the 64-bit pcapng timestamp set: a time before 1970.
    let (s, c) = analyse(&with_time(3, 0xc000_0000_0000_0000), true);
    assert_sane(&s, &c, 1, 20.0);
    let (s, c) = analyse(&with_time(0, u64::MAX), true);
    assert_sane(&s, &c, 1, 20.0);
}

#[test]
fn clock_fault_u32_max_seconds_on_an_ack() {
    // 2106-02-07, the last second a classic pcap record can hold: the ACK's sample was 83 years.
    let (s, c) = analyse(&with_time(4, u64::from(u32::MAX) * 1_000_000_000), false);
    assert_sane(&s, &c, 1, 20.0);
    let (s, c) = analyse(&with_time(6, u64::from(u32::MAX) * 1_000_000_000), false);
    assert_sane(&s, &c, 1, 20.0);
}

#[test]
fn clock_fault_year_2500_in_a_nanosecond_pcapng() {
    // 2500-01-01 in nanoseconds is beyond i64: read as the latest time there is (2262), it made
    // a 239-year sample and saturated the sum of samples.
    let y2500 = 16_725_225_600u64 * 1_000_000_000;
    let (s, c) = analyse(&with_time(4, y2500), true);
    assert_sane(&s, &c, 1, 20.0);
    let (s, c) = analyse(&with_time(1, y2500), true);
    assert_sane(&s, &c, 1, 20.0);
}

#[test]
fn clock_fault_backward_jumps() {
    // Two years back, on the SYN-ACK and on a data segment: 63 million second samples before.
    let two_years_back = (T0_US - 2 * 365 * 86_400 * 1_000_000) * 1000;
    let (s, c) = analyse(&with_time(1, two_years_back), false);
    assert_sane(&s, &c, 1, 20.0);
    // The second data segment analysed at the first one's ACK time: its sample is 970 ms.
    let (s, c) = analyse(&with_time(5, two_years_back), false);
    assert_sane(&s, &c, 1, 970.0);
    // Steps back by seconds are a real clock being set: not faults.
    let (s, _) = analyse(&with_time(6, (T0_US - 5_000_000) * 1000), false);
    assert_eq!(s["clock_faults"], 0);
}

#[test]
fn clock_fault_lone_leap_ahead() {
    // One frame decades ahead (but before 2100) is a fault, not the capture's new time: the
    // frames after it are not faults.
    let ahead = (T0_US + 40 * 365 * 86_400 * 1_000_000) * 1000;
    let (s, c) = analyse(&with_time(4, ahead), false);
    assert_sane(&s, &c, 1, 20.0);
}

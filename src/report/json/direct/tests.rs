//! The hand-written records against the serde path, byte for byte, on every record of every
//! fixture capture (stories kept, so that their objects are written too).

use crate::analyzer::{Analyzer, AnalyzerConfig};
use crate::capture::CaptureSet;
use crate::event::Event;
use crate::report::json::line::to_buf;
use crate::report::json::{AnomalyRecord, ConnJson};
use crate::report::tuples::OpenConns;
use crate::run::{RunOptions, run};
use crate::testutil::fixture_captures;

use super::{Out, write_anomaly, write_conn};
use crate::report::community_id::CommunityIds;

/// Writes `serde_form` through the line serializer and `direct` by hand; panics with both on a
/// difference.
fn same(what: &str, serde_form: impl serde::Serialize, direct: impl FnOnce(&mut Out<'_>)) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    to_buf(&mut a, &serde_form).unwrap();
    // Scratch bytes that are not zeros, as a buffer holds after longer lines.
    b.resize(3, b'x');
    let mut aside = Vec::new();
    let mut o = Out::new(&mut b, &mut aside);
    direct(&mut o);
    let n = o.len();
    b.truncate(n);
    if a != b {
        let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        panic!(
            "{what}: differs at byte {at}\nserde:  {}\ndirect: {}",
            &a[at.saturating_sub(80)..],
            &b[at.saturating_sub(80)..]
        );
    }
}

#[test]
fn every_fixture_record_is_written_as_serde_writes_it() {
    let files = fixture_captures();
    let (mut conns, mut anomalies) = (0, 0);
    for file in &files {
        let name = file.display().to_string();
        let mut cfg = AnalyzerConfig::default();
        cfg.flow.keep_transitions = true;
        let mut set = CaptureSet::open(std::slice::from_ref(&name));
        let mut open = OpenConns::default();
        // Seeds other than 0 change the Community ID; both sides must use it.
        let seed = (conns % 3) as u16;
        let mut on_event = |e: Event<'_>| {
            open.event(&e);
            match &e {
                Event::Closed(c) => {
                    conns += 1;
                    same(&name, ConnJson::with_seed(c, seed), |o| {
                        write_conn(o, c, &mut CommunityIds::new(seed), true)
                    });
                }
                Event::Anomaly(a) => {
                    anomalies += 1;
                    let conn = open.get(a.conn_id);
                    same(&name, AnomalyRecord::new(a, conn, seed), |o| {
                        write_anomaly(o, a, conn, &mut CommunityIds::new(seed))
                    });
                }
                _ => {}
            }
            Ok(())
        };
        let analyzer = Analyzer::new(cfg);
        run(&mut set, analyzer, &mut on_event, RunOptions::default()).unwrap();
    }
    assert!(conns > 1000 && anomalies > 1000, "{conns} {anomalies}");
}

#[test]
fn seconds_and_addresses_match_their_text_forms() {
    use crate::time::{DECIMAL_SECS_MAX, Duration, decimal_secs};
    let cases = [
        0,
        1,
        -1,
        999,
        1_000,
        -1_500_000,
        1_700_000_000_123_456_000,
        1_700_000_000_123_456_789,
        i64::MAX,
        // The earliest a time or span can be (`i64::MIN` saturates to it).
        i64::MIN + 1,
    ];
    for ns in cases {
        let mut b = Vec::new();
        let mut aside = Vec::new();
        let mut o = Out::new(&mut b, &mut aside);
        o.secs(Duration::from_nanos(ns));
        let n = o.len();
        b.truncate(n);
        let want = decimal_secs(ns, &mut [0; DECIMAL_SECS_MAX]).to_owned();
        assert_eq!(String::from_utf8(b).unwrap(), want, "{ns}");
        // With its key, in the room checked once for both.
        let mut b = Vec::new();
        let mut o = Out::new(&mut b, &mut aside);
        o.key_opt_secs(b",\"t\":", Some(Duration::from_nanos(ns)));
        o.key_opt_secs(b",\"u\":", None::<Duration>);
        let n = o.len();
        b.truncate(n);
        let want = format!(",\"t\":{want},\"u\":null");
        assert_eq!(String::from_utf8(b).unwrap(), want, "{ns}");
    }
    for v in 0..=255u8 {
        let a = std::net::Ipv4Addr::new(v, 255 - v, v / 3, 7);
        let mut b = Vec::new();
        let mut aside = Vec::new();
        let mut o = Out::new(&mut b, &mut aside);
        o.addr(a.into());
        let n = o.len();
        b.truncate(n);
        let want = format!("\"{a}\"");
        assert_eq!(String::from_utf8(b).unwrap(), want);
    }
}

#[test]
fn integers_and_strings_match_serde_json() {
    let mut ints = vec![0, 9, 10, 99, 100, 101, 999, u64::MAX, u64::MAX / 10];
    ints.extend((0..20).map(|p| 10u64.pow(p)));
    ints.extend((1..20).map(|p| 10u64.pow(p) - 1));
    for v in ints {
        let mut b = vec![b'x'; 5];
        let mut aside = Vec::new();
        let mut o = Out::new(&mut b, &mut aside);
        o.u(v);
        o.key_u(b",\"k\":", v);
        o.key_opt_u(b",\"o\":", Some(v));
        o.key_opt_u(b",\"n\":", None::<u64>);
        o.key_bool(b",\"b\":", v % 2 == 0);
        let n = o.len();
        b.truncate(n);
        let want = format!("{v},\"k\":{v},\"o\":{v},\"n\":null,\"b\":{}", v % 2 == 0);
        assert_eq!(String::from_utf8(b).unwrap(), want);
    }
    for s in [
        "",
        "plain",
        "quote \" and \\ slash",
        "tab\tnew\nline\u{1}",
        "é ü 🙂",
    ] {
        let mut b = Vec::new();
        let mut aside = Vec::new();
        let mut o = Out::new(&mut b, &mut aside);
        o.raw(b"[");
        o.str(s);
        o.raw(b",1]");
        let n = o.len();
        b.truncate(n);
        let want = serde_json::to_string(&(s, 1)).unwrap();
        assert_eq!(String::from_utf8(b).unwrap(), want);
    }
}

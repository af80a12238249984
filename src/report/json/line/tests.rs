//! The serializer against serde_json, byte for byte.

use std::collections::BTreeMap;

use serde::Serialize;

use super::*;
use crate::report::json::secs::{opt_secs, secs};
use crate::time::{Duration, Timestamp};

#[derive(Serialize)]
enum Shape {
    Unit,
    New(u8),
    Tuple(u8, i16),
    Named { a: bool },
}

#[derive(Serialize)]
struct Inner {
    #[serde(rename = "type")]
    kind: &'static str,
    n: Option<u32>,
}

#[derive(Serialize)]
struct Probe<'a> {
    text: &'a str,
    chars: [char; 3],
    ints: (i8, i64, u64, i128, u128),
    floats: [f64; 5],
    single: f32,
    #[serde(serialize_with = "secs")]
    ts: Timestamp,
    #[serde(serialize_with = "opt_secs")]
    d: Option<Duration>,
    #[serde(serialize_with = "opt_secs")]
    none: Option<Duration>,
    shapes: Vec<Shape>,
    map: BTreeMap<&'a str, Inner>,
    int_keys: BTreeMap<u16, bool>,
    #[serde(flatten)]
    flat: Inner,
    empty: Vec<u8>,
    unit: (),
    bytes: &'a serde_bytes_probe::Bytes,
}

/// `serialize_bytes` without a dependency: a slice that serializes as bytes.
mod serde_bytes_probe {
    pub struct Bytes(pub [u8; 3]);
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

fn both<T: Serialize>(v: &T) -> (String, String) {
    let mut buf = Vec::new();
    to_buf(&mut buf, v).unwrap();
    (
        String::from_utf8(buf).unwrap(),
        serde_json::to_string(v).unwrap(),
    )
}

#[test]
fn writes_what_serde_json_writes() {
    let probe = Probe {
        text: "quote \" backslash \\ tab \t nl \n cr \r ff \u{c} bs \u{8} nul \0 us \u{1f} del \u{7f} é 😀",
        chars: ['"', '\n', 'x'],
        ints: (-128, i64::MIN, u64::MAX, i128::MIN, u128::MAX),
        floats: [0.0, -1.5, 1e300, f64::NAN, f64::INFINITY],
        single: 0.1,
        ts: Timestamp::from_nanos(1_700_000_000_029_710_000),
        d: Some(Duration::from_nanos(-1_500_001)),
        none: None,
        shapes: vec![
            Shape::Unit,
            Shape::New(7),
            Shape::Tuple(1, -2),
            Shape::Named { a: true },
        ],
        map: [
            (
                "k\"ey",
                Inner {
                    kind: "x",
                    n: Some(3),
                },
            ),
            ("b", Inner { kind: "y", n: None }),
        ]
        .into_iter()
        .collect(),
        int_keys: [(80, true), (443, false)].into_iter().collect(),
        flat: Inner {
            kind: "flat",
            n: Some(1),
        },
        empty: vec![],
        unit: (),
        bytes: &serde_bytes_probe::Bytes([1, 2, 255]),
    };
    let (ours, theirs) = both(&probe);
    assert_eq!(ours, theirs);
}

#[test]
fn a_record_line_ends_with_a_newline() {
    let mut out = Vec::new();
    write_line(&mut out, &mut Vec::new(), &Inner { kind: "k", n: None }).unwrap();
    assert_eq!(out, b"{\"type\":\"k\",\"n\":null}\n");
}

#[test]
fn unusable_map_keys_are_errors() {
    let mut m = BTreeMap::new();
    m.insert(vec![1u8], 1);
    assert!(to_buf(&mut Vec::new(), &m).is_err());
    assert!(serde_json::to_string(&m).is_err());
}

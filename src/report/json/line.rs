//! A compact JSON serializer for the JSON lines, writing the same bytes as `serde_json` does
//! with its compact formatter, faster on records of many fields.
//!
//! A connection record has some 150 fields. `serde_json` scans every field name for characters
//! to escape and writes each token to the output through its own call; here a struct's field
//! names, which are Rust identifiers or `rename`s of this crate, are written as they are, and
//! a whole record is built in one reused buffer that reaches the output in one write. Numbers
//! go through `serde_json`'s own formatter, strings are escaped as it escapes them, and
//! [`super::secs`]' raw numbers are honoured, so the output is byte for byte the same (the
//! tests compare the two).

use std::io::{self, Write};

use serde::ser::{self, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

use super::secs::RAW_JSON;

/// Appends `value` as one compact JSON text to `buf`.
pub(super) fn to_buf<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Line { buf })
}

/// Writes `value` as one JSON line (text and newline) to `out`, built in `buf` first.
pub(super) fn write_line<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    buf: &mut Vec<u8>,
    value: &T,
) -> io::Result<()> {
    buf.clear();
    to_buf(buf, value).map_err(io::Error::other)?;
    buf.push(b'\n');
    out.write_all(buf)
}

/// Why a value could not be written: only a map key that is no string, number, bool or char.
#[derive(Debug)]
pub(super) struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// The serializer: appends to its buffer.
struct Line<'b> {
    buf: &'b mut Vec<u8>,
}

/// What a byte becomes in a JSON string, as `serde_json` writes it: 0 for itself, else the
/// letter after the backslash (`u` for `\u00XX`).
const fn escape_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
}
static ESCAPE: [u8; 256] = escape_table();

/// `s` as a JSON string, quotes included.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let e = ESCAPE[b as usize];
        if e == 0 {
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            buf.extend_from_slice(&[b'\\', e]);
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// A struct field name: written as it is. Field names come from this crate's `derive`s (Rust
/// identifiers and `rename`s), none of which needs escaping; the debug build checks.
fn push_key(buf: &mut Vec<u8>, key: &'static str) {
    debug_assert!(key.bytes().all(|b| ESCAPE[b as usize] == 0), "{key}");
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// Writing to a `Vec` cannot fail.
fn fmt_num(
    buf: &mut Vec<u8>,
    f: impl FnOnce(&mut CompactFormatter, &mut Vec<u8>) -> io::Result<()>,
) {
    let _ = f(&mut CompactFormatter, buf);
}

/// An object or array under way: whether a member was written (a comma goes before the next).
struct Compound<'a, 'b> {
    line: &'a mut Line<'b>,
    first: bool,
    /// Closing bytes: `}`, `]`, or `]}` / `}}` for enum variants.
    close: &'static [u8],
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.line.buf.push(b',');
        }
    }
}

impl<'a, 'b> Line<'b> {
    fn open(&'a mut self, open: &[u8], close: &'static [u8]) -> Compound<'a, 'b> {
        self.buf.extend_from_slice(open);
        Compound {
            line: self,
            first: true,
            close,
        }
    }

    /// `{"variant":` before an enum variant's content.
    fn variant(&mut self, variant: &'static str) {
        self.buf.push(b'{');
        push_str(self.buf, variant);
        self.buf.push(b':');
    }
}

impl<'a, 'b> ser::Serializer for &'a mut Line<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = StructOut<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_i64(b, v));
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_i128(b, v));
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_u64(b, v));
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_u128(b, v));
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // serde_json writes what JSON cannot hold as null.
        if v.is_finite() {
            fmt_num(self.buf, |f, b| f.write_f32(b, v));
        } else {
            self.buf.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            fmt_num(self.buf, |f, b| f.write_f64(b, v));
        } else {
            self.buf.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        push_str(self.buf, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        push_str(self.buf, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.buf.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        push_str(self.buf, v);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.variant(variant);
        v.serialize(&mut *self)?;
        self.buf.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.open(b"[", b"]"))
    }
    fn serialize_tuple(self, n: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(n))
    }
    fn serialize_tuple_struct(self, _: &'static str, n: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(n))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.variant(variant);
        Ok(self.open(b"[", b"]}"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.open(b"{", b"}"))
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<StructOut<'a, 'b>, Error> {
        if name == RAW_JSON {
            return Ok(StructOut::Raw(self));
        }
        Ok(StructOut::Object(self.open(b"{", b"}")))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.variant(variant);
        Ok(self.open(b"{", b"}}"))
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.comma();
        v.serialize(&mut *self.line)
    }
    fn end(self) -> Result<(), Error> {
        self.line.buf.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.comma();
        k.serialize(MapKey {
            buf: &mut *self.line.buf,
        })?;
        self.line.buf.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.line)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.comma();
        push_key(self.line.buf, key);
        v.serialize(&mut *self.line)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

/// A struct under way: an object, or [`RAW_JSON`]'s text written as it is.
enum StructOut<'a, 'b> {
    /// An ordinary struct.
    Object(Compound<'a, 'b>),
    /// A raw JSON text (its one field is the text).
    Raw(&'a mut Line<'b>),
}

impl ser::SerializeStruct for StructOut<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        match self {
            StructOut::Object(c) => ser::SerializeStructVariant::serialize_field(c, key, v),
            StructOut::Raw(line) => v.serialize(RawText {
                buf: &mut *line.buf,
            }),
        }
    }
    fn end(self) -> Result<(), Error> {
        match self {
            StructOut::Object(c) => ser::SerializeSeq::end(c),
            StructOut::Raw(_) => Ok(()),
        }
    }
}

/// Refuses what a key or raw text cannot be.
fn refuse(what: &str) -> Error {
    Error(format!("{what} cannot be written here"))
}

/// Declares the methods of a serializer that accepts only a few kinds of value: the rest are
/// refused with [`refuse`].
macro_rules! refuse_rest {
    ($($method:ident ( $($arg:ty),* ) -> $ret:ty;)*) => {
        $(
            fn $method(self, $(_: $arg),*) -> Result<$ret, Error> {
                Err(refuse(stringify!($method)))
            }
        )*
    };
}

/// The text of a [`RAW_JSON`] struct: a string written without quotes or escapes.
struct RawText<'b> {
    buf: &'b mut Vec<u8>,
}

impl ser::Serializer for RawText<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.buf.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(refuse("an option"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(refuse("a newtype"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(refuse("a variant"))
    }
    refuse_rest! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> (); serialize_i16(i16) -> (); serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> (); serialize_u16(u16) -> (); serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> (); serialize_f64(f64) -> ();
        serialize_char(char) -> (); serialize_bytes(&[u8]) -> ();
        serialize_none() -> (); serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// A map key: strings as they are, numbers, bools and chars quoted, as `serde_json` does.
struct MapKey<'b> {
    buf: &'b mut Vec<u8>,
}

impl MapKey<'_> {
    fn quoted(self, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), Error> {
        self.buf.push(b'"');
        f(self.buf);
        self.buf.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        push_str(self.buf, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        push_str(self.buf, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.quoted(|b| b.extend_from_slice(if v { b"true" } else { b"false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.quoted(|b| fmt_num(b, |f, b| f.write_i64(b, v)))
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.quoted(|b| fmt_num(b, |f, b| f.write_u64(b, v)))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        push_str(self.buf, v);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(refuse("an optional key"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(refuse("a variant key"))
    }
    refuse_rest! {
        serialize_f32(f32) -> (); serialize_f64(f64) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> (); serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

#[cfg(test)]
mod tests {
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
            ts: Timestamp(1_700_000_000_029_710_000),
            d: Some(Duration(-1_500_001)),
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
}

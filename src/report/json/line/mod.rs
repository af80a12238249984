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
use narrow::{MapKey, RawText};

mod narrow;

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

/// The integer widths below 64 bits, each written as its 64-bit value is (the serializers'
/// `serialize_i64` and `serialize_u64` say how).
macro_rules! widen_integers {
    () => {
        fn serialize_i8(self, v: i8) -> Result<(), Error> {
            self.serialize_i64(v.into())
        }
        fn serialize_i16(self, v: i16) -> Result<(), Error> {
            self.serialize_i64(v.into())
        }
        fn serialize_i32(self, v: i32) -> Result<(), Error> {
            self.serialize_i64(v.into())
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
    };
}
pub(crate) use widen_integers;

/// A serde compound trait implemented for [`Compound`] by its `SerializeSeq` methods.
macro_rules! delegate_to_seq {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                ser::SerializeSeq::serialize_element(self, v)
            }
            fn end(self) -> Result<(), Error> {
                ser::SerializeSeq::end(self)
            }
        }
    };
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
pub(super) static ESCAPE: [u8; 256] = escape_table();

/// `s` as a JSON string, quotes included.
pub(super) fn push_str(buf: &mut Vec<u8>, s: &str) {
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
pub(super) fn fmt_num(
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
    widen_integers!();
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_i64(b, v));
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        fmt_num(self.buf, |f, b| f.write_i128(b, v));
        Ok(())
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

// Tuples of every kind are arrays, written as sequences are.
delegate_to_seq!(SerializeTuple, serialize_element);
delegate_to_seq!(SerializeTupleStruct, serialize_field);
delegate_to_seq!(SerializeTupleVariant, serialize_field);

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

#[cfg(test)]
mod tests;

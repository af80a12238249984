//! The serializers of what may only be a string or a number: map keys, and the text of a raw
//! JSON value.

use serde::ser::{self, Serialize};
use serde_json::ser::Formatter;

use super::{Error, fmt_num, push_str, widen_integers};

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

/// The associated types of a serializer of scalars: it writes no compound value.
macro_rules! scalar_only {
    () => {
        type Ok = ();
        type Error = Error;
        type SerializeSeq = ser::Impossible<(), Error>;
        type SerializeTuple = ser::Impossible<(), Error>;
        type SerializeTupleStruct = ser::Impossible<(), Error>;
        type SerializeTupleVariant = ser::Impossible<(), Error>;
        type SerializeMap = ser::Impossible<(), Error>;
        type SerializeStruct = ser::Impossible<(), Error>;
        type SerializeStructVariant = ser::Impossible<(), Error>;
    };
}

/// The text of a [`RAW_JSON`] struct: a string written without quotes or escapes.
pub(super) struct RawText<'b> {
    pub(super) buf: &'b mut Vec<u8>,
}

impl ser::Serializer for RawText<'_> {
    scalar_only!();

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
pub(super) struct MapKey<'b> {
    pub(super) buf: &'b mut Vec<u8>,
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
    scalar_only!();

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
    widen_integers!();
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.quoted(|b| fmt_num(b, |f, b| f.write_i64(b, v)))
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

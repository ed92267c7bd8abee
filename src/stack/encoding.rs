//! The canonical binary encoding that envelope authentication digests.
//!
//! **Responsibility.** Turn any payload (`Serialize`) into one sequence of
//! bytes, the same on sender and receiver, and stream it straight into a
//! hasher: no text, no buffer, no allocation. A tag over JSON text cost a
//! string per message and most of the stack's time; this encoding is what a
//! wire format would carry.
//!
//! **Format** (fixed, little-endian, in the spirit of bincode's fixed-int
//! layout): `bool` one byte; integers and floats their fixed width (`usize`
//! as `u64`, floats by their bits); `char` as `u32`; strings and byte slices
//! a `u64` length then the bytes; `None` a `0` byte, `Some(v)` a `1` then
//! `v`; enum variants their index (`u32`) then their fields; sequences and
//! maps a `u64` length then their items (in the value's own order:
//! `BTreeMap`s are sorted, so the encoding is canonical); structs and tuples
//! their fields in declaration order, without names (the type is known to
//! both ends). A [`Shared`](super::network::Shared) value, held by many
//! processes at once, is encoded as its own SHA-256 (as bytes): a
//! Merkle-style encoding whose digest is computed once per value.
//!
//! **Invariant.** Equal values give equal bytes; a sequence or map must know
//! its length up front (every derived `Serialize` of the stack does), so
//! that two different values cannot run together into the same bytes.

use serde::ser::{self, Serialize};

/// A sink for encoded bytes (a hasher).
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for sha2::Sha256 {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

/// Why a value has no canonical encoding (a programmer error: the payload
/// types of the stack all have one).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A sequence or map whose length is not known before its items.
    #[error("a sequence or map of unknown length has no canonical encoding")]
    UnknownLength,
    /// A `Serialize` implementation reported an error of its own.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for EncodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        EncodeError::Custom(msg.to_string())
    }
}

/// Streams the canonical encoding of `value` into `sink`.
pub fn encode_into<S: Sink, T: Serialize + ?Sized>(
    sink: &mut S,
    value: &T,
) -> Result<(), EncodeError> {
    value.serialize(&mut Encoder { sink })
}

struct Encoder<'a, S> {
    sink: &'a mut S,
}

impl<S: Sink> Encoder<'_, S> {
    #[inline]
    fn len(&mut self, len: Option<usize>) -> Result<(), EncodeError> {
        let n = len.ok_or(EncodeError::UnknownLength)?;
        self.sink.put(&(n as u64).to_le_bytes());
        Ok(())
    }
}

type R = Result<(), EncodeError>;

/// Integers: their fixed width, little-endian.
macro_rules! fixed_width {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method(self, v: $ty) -> R {
            self.sink.put(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<S: Sink> ser::Serializer for &mut Encoder<'_, S> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> R {
        self.sink.put(&[u8::from(v)]);
        Ok(())
    }
    fixed_width!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    );
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_u32(v.to_bits())
    }
    fn serialize_f64(self, v: f64) -> R {
        self.serialize_u64(v.to_bits())
    }
    fn serialize_char(self, v: char) -> R {
        self.serialize_u32(u32::from(v))
    }
    fn serialize_str(self, v: &str) -> R {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.len(Some(v.len()))?;
        self.sink.put(v);
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.sink.put(&[0]);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        self.sink.put(&[1]);
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> R {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> R {
        self.sink.put(&index.to_le_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.len(len)?;
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, EncodeError> {
        self.sink.put(&index.to_le_bytes());
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, EncodeError> {
        self.len(len)?;
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, EncodeError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, EncodeError> {
        // Like a tuple variant: the fields' names are not encoded.
        self.serialize_tuple_variant(name, index, variant, len)
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Compound forms sharing their item methods, each with an `end` that has
/// nothing to add (lengths were written up front).
macro_rules! compound {
    ($($form:ident),+ => $items:tt) => {
        $(compound!(@one $form $items);)+
    };
    (@one $form:ident { $($item:tt)* }) => {
        impl<S: Sink> ser::$form for &mut Encoder<'_, S> {
            type Ok = ();
            type Error = EncodeError;
            $($item)*
            fn end(self) -> R {
                Ok(())
            }
        }
    };
}

compound!(SerializeSeq, SerializeTuple => {
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        v.serialize(&mut **self)
    }
});

compound!(SerializeTupleStruct, SerializeTupleVariant => {
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        v.serialize(&mut **self)
    }
});

compound!(SerializeMap => {
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> R {
        k.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        v.serialize(&mut **self)
    }
});

// Field names are left out (the type is known to both ends); a skipped
// field still takes a place, so that a struct with a skipped field never
// encodes like one with that field set.
compound!(SerializeStruct, SerializeStructVariant => {
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, v: &T) -> R {
        v.serialize(&mut **self)
    }
    fn skip_field(&mut self, _: &'static str) -> R {
        self.sink.put(&[0xff]);
        Ok(())
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    impl Sink for Vec<u8> {
        fn put(&mut self, bytes: &[u8]) {
            self.extend_from_slice(bytes);
        }
    }

    fn bytes<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, v).expect("encodes");
        out
    }

    #[derive(serde::Serialize)]
    enum E {
        A,
        B(u32),
        C { s: String, o: Option<u8> },
    }

    #[test]
    fn layout_is_fixed_little_endian_with_length_prefixes() {
        assert_eq!(bytes(&7u32), [7, 0, 0, 0]);
        assert_eq!(bytes(&"ab"), [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(bytes(&E::A), [0, 0, 0, 0]);
        assert_eq!(bytes(&E::B(1)), [1, 0, 0, 0, 1, 0, 0, 0]);
        let c = E::C {
            s: String::new(),
            o: Some(9),
        };
        assert_eq!(bytes(&c), [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9]);
    }

    #[test]
    fn different_values_never_share_bytes() {
        // Length prefixes keep neighbours apart: ("a","bc") vs ("ab","c").
        assert_ne!(bytes(&("a", "bc")), bytes(&("ab", "c")));
        assert_ne!(bytes(&vec![1u8, 2]), bytes(&(vec![1u8], vec![2u8])));
        assert_ne!(bytes(&None::<u8>), bytes(&Some(0u8)));
        let m: BTreeMap<&str, u8> = [("b", 2), ("a", 1)].into_iter().collect();
        assert_eq!(bytes(&m), bytes(&[("a", 1u8), ("b", 2)].as_slice()));
    }
}
